//! The issuer's authentication side over real HTTP on 127.0.0.1: every case runs against an
//! SQLite file and against PostgreSQL (a fresh schema per case, through the store contract
//! tests' harness; PostgreSQL must be reachable — see `scripts/ensure-postgres`).
//!
//! - `accounts`: RFC 8265 usernames at login, the rehash's compare-and-set.
//! - `flow`: login → userinfo → refresh → logout, reuse detection, concurrent refreshes,
//!   disabled users, key rotation, the database going away.
//! - `oauth`: `/oauth2/token` grants, client authentication, revocation, introspection.
//! - `input`: malformed, misplaced and oversized input is a 4xx with an OAuth error body.
//! - `throttle`: login throttling and enumeration resistance.
//! - `oidc`: sign-in with an outside identity provider (`/login/oidc`, RFC 8693 token exchange).

mod accounts;
mod flow;
mod input;
mod oauth;
mod oidc;
mod throttle;

on_both_backends!(
    flow::whole_flow,
    flow::access_token_has_the_pinned_shape,
    flow::reuse_after_grace_revokes_the_family,
    flow::retry_within_grace_keeps_one_chain,
    flow::fifty_concurrent_refreshes_leave_one_chain,
    flow::fifty_concurrent_refreshes_without_grace_revoke,
    flow::disabled_users_cannot_log_in_or_refresh,
    flow::userinfo_follows_key_rotation,
    flow::database_gone_is_503,
    flow::rehash_on_login_when_parameters_change,
    flow::two_instances_share_tokens_and_detect_reuse,
    oauth::password_grant_without_client,
    oauth::password_grant_with_client_and_scopes,
    oauth::refresh_grant_is_bound_to_the_client,
    oauth::client_credentials,
    oauth::client_authentication_failures,
    oauth::revocation,
    oauth::introspection,
    oauth::introspection_of_a_deleted_clients_token_is_inactive,
    input::bad_json_bodies,
    input::bad_form_bodies,
    input::huge_bodies_are_413,
    input::tokens_in_the_wrong_place,
    throttle::login_is_throttled_per_account,
    throttle::login_is_throttled_per_address,
    throttle::unknown_user_and_wrong_password_answer_alike,
    throttle::a_stranger_cannot_lock_the_owner_out,
    throttle::instances_sharing_a_database_share_the_limits,
    throttle::forwarded_garbage_cannot_spend_the_proxy_bucket,
    oidc::oidc_login_creates_then_finds_the_user,
    oidc::oidc_login_refuses_bad_id_tokens,
    oidc::oidc_unverified_email_gets_its_own_account,
    oidc::new_users_get_usernames_in_normal_form,
    oidc::takeover_through_email_linking_is_refused,
    oidc::verified_email_links_a_bare_account,
    oidc::string_email_verified_never_links,
    oidc::domain_not_allowed_is_refused,
    oidc::google_needs_a_matching_hd,
    oidc::no_automatic_link_to_an_account_with_a_password,
    oidc::no_automatic_link_to_an_account_with_a_role,
    oidc::create_users_false_refuses_new_identities,
    oidc::azp_must_be_an_audience,
    oidc::access_tokens_are_not_id_tokens,
    oidc::old_id_tokens_are_refused,
    oidc::max_id_token_age_is_configurable,
    oidc::token_exchange_for_clients,
    oidc::oidc_without_providers_is_a_clear_error,
);

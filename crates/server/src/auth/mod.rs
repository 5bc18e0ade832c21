//! The issuer's authentication endpoints: password login, refresh token rotation, logout, the
//! OAuth 2.0 token, revocation and introspection endpoints, and `/userinfo`.
//!
//! | method, path | answers |
//! |---|---|
//! | `POST /login` `{"username","password"}` | 200 token pair · 400 bad body · 401 `invalid_grant` · 415 · 429 + `Retry-After` · 503 |
//! | `POST /token/refresh` `{"refresh_token"}` | 200 new pair · 400 bad body · 401 `invalid_grant` (reuse revokes the family) · 415 · 503 |
//! | `POST /logout` `{"refresh_token"}` | 204 (also for an unknown token) · 400 · 415 · 503 |
//! | `POST /oauth2/token` (form) | 200 · 400 `invalid_request`/`invalid_grant`/`invalid_scope`/`unauthorized_client`/`unsupported_grant_type` · 401 `invalid_client` + `WWW-Authenticate: Basic` · 415 · 429 · 503 |
//! | `POST /oauth2/revoke` (form, client auth) | 200 · 400 · 401 `invalid_client` · 415 · 503 |
//! | `POST /oauth2/introspect` (form, client auth) | 200 `{"active":…}` · 400 · 401 `invalid_client` · 415 · 503 |
//! | `GET /userinfo` (Bearer) | 200 `{"sub","preferred_username","roles"}` · 400/401 RFC 6750 challenge · 503 |
//! | `POST /login/oidc` `{"id_token","provider"?}` | as `/login`; 409 `account_conflict` when a new identity's name is taken |
//!
//! Token answers carry `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
//!
//! ## Decisions
//!
//! - **One answer for every bad login**: an unknown user, a wrong password, a user without a
//!   password and a **disabled** user all get 401 `invalid_grant` "the username or password is
//!   wrong", after the same argon2id work (a dummy hash for the unknown). Telling a disabled
//!   user apart would confirm to whoever guessed the password that it is right. Outcomes are
//!   told apart in the metrics and the log (without secrets).
//! - **Password grant (RFC 6749 §4.3)**: the client is optional. Without one, it is tessera's
//!   own login (as `/login`: no `client_id` or `scope` in the tokens, and requesting a scope is
//!   `invalid_scope`). With one, a confidential client must authenticate, a public client
//!   (registered without a secret) only names itself, and scopes must be among the client's
//!   (none asked: all of them). Refresh tokens are bound to the client they were issued to:
//!   a client's refresh token is refreshed only by that client at `/oauth2/token`, and
//!   tessera's own (clientless) ones only without a client.
//! - **`client_credentials`** needs a confidential client; the token's `sub` is the client id,
//!   `roles` is empty, there is no `sid` and no refresh token (RFC 6749 §4.4.3).
//! - **Revocation (RFC 7009)**: a refresh token revokes its whole family (the client must be
//!   the one it was issued to, else `unauthorized_client`); an access token is stateless, so
//!   revoking it answers 200 and changes nothing (it dies at `exp`; introspection reports it
//!   inactive once its family is revoked). Unknown tokens: 200.
//! - **Introspection (RFC 7662)**: an access token is active if tessera's keys verify it, it
//!   has not expired, its family (`sid`) is not revoked and its user is not disabled; a
//!   refresh token is active if it could be rotated now and was issued to the calling client.
//!   Anything else — including a token of another client — is `{"active":false}`.
//! - Client secrets: see [`client_secret`].
//! - Outside identity providers (`/login/oidc`, RFC 8693 token exchange): see [`federation`].

pub mod client_secret;
mod clients;
pub mod federation;
mod json_api;
mod oauth;
mod params;
pub(crate) mod provider_discovery;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use tessera_jwt::Clock;

use crate::config::Config;
use crate::password::{PasswordParams, Passwords};
use crate::state::AppState;
use crate::throttle::{LoginThrottle, Rule, ThrottleConfig};

pub use crate::issuance::own_tokens::{OwnKeys, OwnTokenVerifier};

/// What the authentication endpoints keep between requests: the password hasher (with its
/// concurrency bound), the login throttle and the verifier of tessera's own tokens.
#[derive(Debug)]
pub struct Auth {
    passwords: Passwords,
    federation: federation::Federation,
    throttle: Option<LoginThrottle>,
    own_tokens: Arc<OwnTokenVerifier>,
}

impl Auth {
    /// From the configuration (`[passwords]`, `[throttle]`, `issuer`, `audience`), judged by
    /// `clock`.
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            passwords: Passwords::new(&password_params(config)),
            federation: federation::Federation::new(&config.providers, clock.clone()),
            throttle: config.throttle.enabled.then(|| {
                LoginThrottle::new(
                    &ThrottleConfig {
                        per_account: Rule::per_window(
                            config.throttle.account_attempts,
                            config.throttle.account_window,
                        ),
                        per_address: Rule::per_window(
                            config.throttle.address_attempts,
                            config.throttle.address_window,
                        ),
                        max_delay: config.throttle.max_delay,
                    },
                    clock.clone(),
                )
            }),
            own_tokens: Arc::new(OwnTokenVerifier::new(
                &config.issuer,
                &config.audience,
                clock,
            )),
        }
    }

    /// The password hasher (also what the administration commands hash with).
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// The login throttle, when enabled.
    pub(crate) fn throttle(&self) -> Option<&LoginThrottle> {
        self.throttle.as_ref()
    }

    /// The verifier of tessera's own access tokens.
    pub fn own_tokens(&self) -> &Arc<OwnTokenVerifier> {
        &self.own_tokens
    }

    /// The outside identity providers.
    pub fn federation(&self) -> &federation::Federation {
        &self.federation
    }
}

/// The argon2id settings of a configuration.
pub fn password_params(config: &Config) -> PasswordParams {
    PasswordParams {
        m_cost_kib: config.passwords.memory_kib,
        t_cost: config.passwords.iterations,
        p_cost: config.passwords.parallelism,
        max_concurrent: config.passwords.max_concurrent_hashes,
        ..PasswordParams::default()
    }
}

/// The authentication routes (merged into [`app::router`](crate::app::router)).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", post(json_api::login))
        .route("/token/refresh", post(json_api::refresh))
        .route("/logout", post(json_api::logout))
        .route("/login/oidc", post(federation::login))
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route("/oauth2/introspect", post(oauth::introspect))
}

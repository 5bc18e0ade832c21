//! The issuer's own Bearer routes (`/userinfo`, the account page's APIs, the admin API) sit
//! behind `tessera-guard`'s [`GuardLayer`], which verifies with the keys the key manager holds
//! at the moment of the request (so a rotation needs no new router) and answers refusals per
//! RFC 6750. A handler behind it takes the [`VerifiedToken`](tessera_guard::VerifiedToken)
//! from the request; what the token is about (its user still existing, not disabled) is the
//! handler's to check.

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use axum::response::{IntoResponse, Response};
use tessera_guard::GuardLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::ApiError;
use crate::issuance::own_tokens::OwnKeys;
use crate::state::AppState;

/// The `realm` of the Bearer challenges.
pub(crate) const REALM: &str = "tessera";

/// `router`'s routes behind the guard, with `role` required in the token's `roles` if given.
/// Refusals: 401 (no token, or a rejected one), 400 (a malformed `Authorization`), 403 (the
/// role missing), each with its `WWW-Authenticate` challenge; 503 when no key can verify.
/// Every answer of these routes is `Cache-Control: no-store` unless it says otherwise.
pub(crate) fn protect(
    router: Router<AppState>,
    state: &AppState,
    role: Option<&str>,
) -> Router<AppState> {
    let keys = OwnKeys::new(state.auth.own_tokens().clone(), state.keys.clone());
    let mut guard = GuardLayer::from_source(keys).realm(REALM);
    if let Some(role) = role {
        guard = guard.require_role(role);
    }
    router
        .route_layer(guard)
        .route_layer(SetResponseHeaderLayer::if_not_present(
            CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// 401 `invalid_token` with its RFC 6750 challenge: what a token about no usable user gets
/// (a `client_credentials` token, a deleted or disabled user, a session that ended).
pub(crate) fn invalid_token() -> Response {
    challenge(
        ApiError::unauthorized("invalid_token", "the access token is invalid"),
        "invalid_token",
        "the access token is invalid",
    )
}

/// 403 `insufficient_scope` with its RFC 6750 challenge.
pub(crate) fn insufficient_scope(description: &'static str) -> Response {
    challenge(
        ApiError::refused("insufficient_scope", description),
        "insufficient_scope",
        description,
    )
}

fn challenge(error: ApiError, code: &str, description: &str) -> Response {
    let value =
        format!("Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{description}\"");
    let mut response = error.into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

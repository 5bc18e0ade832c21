//! `GET /userinfo` (and `POST`, as OpenID Connect Core §5.3.1 allows): who the bearer token
//! says you are, checked by `tessera-guard`'s [`GuardLayer`] against tessera's own current keys.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_guard::{GuardLayer, VerifiedToken};
use tower::{Layer, ServiceExt};

use crate::error::ApiError;
use crate::state::AppState;

/// The `realm` of the Bearer challenges.
pub(crate) const REALM: &str = "tessera";

/// Checks the request's Bearer token (see [`verify_bearer`]), then answers with [`userinfo`].
pub(super) async fn endpoint(State(state): State<AppState>, request: Request) -> Response {
    match verify_bearer(&state, request.headers(), None).await {
        Ok(token) => userinfo(&state, &token).await,
        Err(refusal) => refusal,
    }
}

/// The `Authorization: Bearer` token of a request, checked by a [`GuardLayer`] (realm
/// `tessera`) on the verifier of tessera's current keys, with `role` required in its `roles`
/// if given. `Err` is the answer to send instead: RFC 6750's 401/400/403 with its
/// `WWW-Authenticate` challenge, or 503 when no key can verify.
///
/// Only the `Authorization` headers are looked at; what the token is about (its user still
/// existing, not disabled) is the caller's to check.
pub(crate) async fn verify_bearer(
    state: &AppState,
    headers: &HeaderMap,
    role: Option<&str>,
) -> Result<VerifiedToken, Response> {
    let verifier = match state.auth.own_tokens().verifier(&state.keys) {
        Ok(verifier) => verifier,
        Err(e) => {
            tracing::warn!(error = %e, "bearer: no key to verify with");
            return Err(
                ApiError::unavailable("the issuer's keys are not available; retry later")
                    .into_response(),
            );
        }
    };
    let mut guard = GuardLayer::new(verifier).realm(REALM);
    if let Some(role) = role {
        guard = guard.require_role(role);
    }
    let mut probe = Request::new(Body::empty());
    for value in headers.get_all(AUTHORIZATION) {
        probe.headers_mut().append(AUTHORIZATION, value.clone());
    }
    // The guard answers refusals itself; a request it lets through reaches this service, which
    // hands the verified token back in the response's extensions.
    let inner = tower::service_fn(|request: Request| async move {
        let mut response = Response::new(Body::empty());
        if let Some(token) = request.extensions().get::<VerifiedToken>().cloned() {
            response.extensions_mut().insert(token);
        }
        Ok::<_, Infallible>(response)
    });
    let response = match guard.layer(inner).oneshot(probe).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    match response.extensions().get::<VerifiedToken>() {
        Some(token) => Ok(token.clone()),
        // The guard always sets the token before calling in: a success without one is not
        // a verified request.
        None if response.status().is_success() => Err(invalid_token()),
        None => Err(response),
    }
}

/// The claims and the user's current name. A token about no user of this issuer (a
/// `client_credentials` token, a deleted user) or a disabled user is `invalid_token`.
async fn userinfo(state: &AppState, token: &VerifiedToken) -> Response {
    let Some(sub) = token.subject() else {
        return invalid_token();
    };
    let user = match state.store.user_by_id(sub).await {
        Ok(user) => user,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match user {
        Some(user) if !user.disabled => (
            super::no_store(),
            axum::Json(json!({
                "sub": user.id,
                "preferred_username": user.username,
                "roles": token.roles(),
            })),
        )
            .into_response(),
        _ => invalid_token(),
    }
}

/// 401 `invalid_token` with its RFC 6750 challenge (what a token about no usable user gets).
pub(crate) fn invalid_token() -> Response {
    let challenge = format!(
        "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"the access token is invalid\""
    );
    let mut response =
        ApiError::unauthorized("invalid_token", "the access token is invalid").into_response();
    if let Ok(value) = challenge.parse() {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    response
}

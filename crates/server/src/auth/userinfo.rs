//! `GET /userinfo` (and `POST`, as OpenID Connect Core §5.3.1 allows): who the bearer token
//! says you are, checked by `tessera-guard`'s [`GuardLayer`] against tessera's own current keys.

use std::convert::Infallible;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_guard::{GuardLayer, VerifiedToken};
use tower::{Layer, ServiceExt};

use crate::error::ApiError;
use crate::state::AppState;

/// The `realm` of the Bearer challenges.
const REALM: &str = "tessera";

/// Runs the request through a [`GuardLayer`] on the verifier of the current keys, then
/// answers with [`userinfo`].
pub(super) async fn endpoint(State(state): State<AppState>, request: Request) -> Response {
    let verifier = match state.auth.own_tokens().verifier(&state.keys) {
        Ok(verifier) => verifier,
        Err(e) => {
            tracing::warn!(error = %e, "userinfo: no key to verify with");
            return ApiError::unavailable("the issuer's keys are not available; retry later")
                .into_response();
        }
    };
    let inner = tower::service_fn(move |request: Request| {
        let state = state.clone();
        async move {
            let token = request.extensions().get::<VerifiedToken>().cloned();
            Ok::<_, Infallible>(match token {
                Some(token) => userinfo(&state, &token).await,
                // The guard always sets it before calling in.
                None => invalid_token(),
            })
        }
    });
    match GuardLayer::new(verifier)
        .realm(REALM)
        .layer(inner)
        .oneshot(request)
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
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

fn invalid_token() -> Response {
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

//! `GET /userinfo` (and `POST`, as OpenID Connect Core §5.3.1 allows): who the bearer token
//! says you are, behind the [guard](super::bearer) of the issuer's Bearer routes.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tessera_guard::VerifiedToken;

use super::bearer::{self, invalid_token};
use crate::error::ApiError;
use crate::state::AppState;

/// `GET|POST /userinfo`.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    bearer::protect(
        Router::new().route("/userinfo", get(userinfo).post(userinfo)),
        state,
        None,
    )
}

/// The claims and the user's current name. A token about no user of this issuer (a
/// `client_credentials` token, a deleted user) or a disabled user is `invalid_token`.
async fn userinfo(State(state): State<AppState>, token: VerifiedToken) -> Response {
    let Some(sub) = token.subject() else {
        return invalid_token();
    };
    let user = match state.store.user_by_id(sub).await {
        Ok(user) => user,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match user {
        Some(user) if !user.disabled => (
            crate::http::no_store(),
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

//! The JSON endpoints of tessera's own clients: `POST /login`, `POST /token/refresh`,
//! `POST /logout`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_jwt::SecretString;

use crate::error::{ApiError, Json};
use crate::http::ClientAddr;
use crate::issuance::grants::{self, Issued};
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct LoginRequest {
    username: String,
    password: SecretString,
}

#[derive(Deserialize)]
pub(super) struct RefreshRequest {
    refresh_token: SecretString,
}

/// The answer of a successful login or refresh (RFC 6749 §5.1's shape).
#[derive(Serialize)]
pub(super) struct TokenPair<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// The token answer: JSON, never cached.
pub(super) fn token_response(issued: &Issued) -> Response {
    let body = TokenPair {
        access_token: &issued.access.token,
        token_type: "Bearer",
        expires_in: issued.access.expires_in,
        refresh_token: issued.refresh.as_ref().map(SecretString::expose),
        scope: (!issued.scopes.is_empty()).then(|| issued.scopes.join(" ")),
    };
    (crate::http::no_store(), axum::Json(body)).into_response()
}

/// `POST /login` `{"username", "password"}`.
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let origin = crate::http::origin(address, &headers);
    let issued = grants::password(
        &state.issuance(),
        &request.username,
        request.password,
        None,
        Vec::new(),
        &origin,
    )
    .await
    .map_err(grants::GrantError::for_json_api)?;
    Ok(token_response(&issued))
}

/// `POST /token/refresh` `{"refresh_token"}`.
pub(super) async fn refresh(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    let issued = grants::refresh(
        &state.issuance(),
        request.refresh_token.expose(),
        None,
        None,
    )
    .await
    .map_err(grants::GrantError::for_json_api)?;
    Ok(token_response(&issued))
}

/// `POST /logout` `{"refresh_token"}`: 204 whether or not the token was known (the answer
/// says nothing about the token).
pub(super) async fn logout(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> Result<Response, ApiError> {
    grants::revoke_refresh_token(
        &state.issuance(),
        request.refresh_token.expose(),
        None,
        false,
    )
    .await
    .map_err(grants::GrantError::for_json_api)?;
    Ok((StatusCode::NO_CONTENT, crate::http::no_store()).into_response())
}

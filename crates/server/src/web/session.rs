//! The browser session: the refresh token lives in the refresh cookie (`HttpOnly`,
//! `SameSite=Strict`, scoped to [`SESSION_PATH`]) and the access token only in the page's
//! memory.
//!
//! - `POST /browser/session` `{"username","password"}`: signs in (the same password check,
//!   throttle and metrics as `POST /login`);
//! - `POST /browser/session/refresh`: a new access token, the cookie rotated (the same reuse
//!   detection and grace as `POST /token/refresh`);
//! - `DELETE /browser/session`: signs out (the family is revoked, the cookie cleared).
//!
//! Each one passes [`csrf::check`] before anything else, and answers the access token without
//! the refresh token: script never sees it. The refresh token is never logged.

use axum::Router;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use tessera_jwt::SecretString;

use super::cookies::{self, SESSION_PATH};
use super::csrf;
use crate::error::{ApiError, Json};
use crate::http::ClientAddr;
use crate::issuance::grants::{self, GrantError, Issued};
use crate::state::AppState;

/// The browser session's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(SESSION_PATH, post(sign_in).delete(sign_out))
        .route(&format!("{SESSION_PATH}/refresh"), post(refresh))
}

/// The headers that hand a session started elsewhere (sign-in with an outside provider) to
/// the browser: the refresh cookie, for the family's remaining absolute lifetime, and
/// `Cache-Control: no-store`. Without a refresh token in `issued`, only the latter.
pub(crate) fn session_headers(state: &AppState, issued: &Issued) -> HeaderMap {
    let mut headers = crate::http::no_store();
    if let Some(refresh) = &issued.refresh {
        let max_age = match issued.refresh_expires_at {
            Some(expires_at) => expires_at.saturating_sub(state.clock.now()),
            None => grants::secs(state.config.tokens.refresh_ttl),
        };
        headers.append(
            SET_COOKIE,
            cookies::set_refresh(state, refresh.expose(), max_age),
        );
    }
    headers
}

#[derive(Deserialize)]
struct SignInRequest {
    username: String,
    password: SecretString,
}

/// The answer of a sign-in or refresh: the access token alone.
#[derive(Serialize)]
struct AccessTokenBody<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
}

fn session_response(state: &AppState, issued: &Issued) -> Response {
    let body = AccessTokenBody {
        access_token: &issued.access.token,
        token_type: "Bearer",
        expires_in: issued.access.expires_in,
    };
    (session_headers(state, issued), axum::Json(body)).into_response()
}

/// `POST /browser/session`.
async fn sign_in(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    request: Result<Json<SignInRequest>, ApiError>,
) -> Result<Response, ApiError> {
    // Before the body is even looked at: a forged request learns nothing.
    csrf::check(&state, &headers)?;
    let Json(request) = request?;
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
    .map_err(GrantError::for_browser)?;
    // A session this browser had before is replaced: end it rather than orphan it (its
    // cookie is overwritten, so nobody could use or end it any more).
    if let Some(previous) = cookies::get(&headers, cookies::refresh_name(&state))
        && let Err(e) = grants::revoke_refresh_token(&state.issuance(), previous, None, false).await
    {
        tracing::warn!(error = %e, "ending the browser's previous session failed");
    }
    Ok(session_response(&state, &issued))
}

/// `POST /browser/session/refresh` (no body): the cookie's refresh token rotated.
async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    csrf::check(&state, &headers)?;
    let refused = |why: &'static str| {
        ApiError::unauthorized("invalid_grant", why)
            .with_header(SET_COOKIE, cookies::clear_refresh(&state))
    };
    let Some(presented) =
        cookies::get(&headers, cookies::refresh_name(&state)).filter(|v| !v.is_empty())
    else {
        return Err(refused("no session: sign in"));
    };
    match grants::refresh(&state.issuance(), presented, None, None).await {
        Ok(issued) => Ok(session_response(&state, &issued)),
        Err(GrantError::InvalidGrant(why)) => Err(refused(why)),
        Err(GrantError::AccountDisabled) => Err(refused(grants::BAD_REFRESH_TOKEN)),
        // Transient (the database, the keys): the cookie stays for the next try.
        Err(other) => Err(other.for_json_api()),
    }
}

/// `DELETE /browser/session`: 204, the family revoked (if the cookie held a live token) and
/// the cookie cleared.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    csrf::check(&state, &headers)?;
    if let Some(presented) = cookies::get(&headers, cookies::refresh_name(&state)) {
        grants::revoke_refresh_token(&state.issuance(), presented, None, false)
            .await
            .map_err(GrantError::for_json_api)?;
    }
    let mut headers = crate::http::no_store();
    headers.insert(SET_COOKIE, cookies::clear_refresh(&state));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

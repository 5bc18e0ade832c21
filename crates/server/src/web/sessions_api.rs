//! The sessions API of the account page: a signed-in user lists their sessions (refresh
//! token families) and ends them. `Authorization: Bearer <access token>`, checked as
//! `/userinfo` checks it (RFC 6750 challenges).
//!
//! | method, path | answers |
//! |---|---|
//! | `GET /sessions` `?limit=&cursor=` | 200 `{"sessions":[{"id","created_at","last_used_at","expires_at","client_address","user_agent","client_id","current"}],"next_cursor"?}` · 400 bad `limit`/`cursor` |
//! | `DELETE /sessions/{id}` | 204 · 404 `not_found` when it is not an active session of this user |
//! | `DELETE /sessions` | 204, every session of the user revoked |
//!
//! Every answer: `Cache-Control: no-store`. No token: 401 with `WWW-Authenticate: Bearer
//! realm="tessera"`; a malformed header: 400 `invalid_request`; a rejected token, or one
//! about no user of this issuer (a `client_credentials` token, a deleted user) or about a
//! disabled user: 401 `invalid_token`.
//!
//! Times are UNIX seconds. A session's `expires_at` is when it dies if nothing refreshes it:
//! the earlier of its absolute and idle expiries. `current` marks the session whose id is the
//! token's `sid`. Only active sessions are listed, newest sign-in first (an order that using a
//! session does not change, so that pages never skip or repeat one), a page at a time
//! ([`paging`](super::paging): `limit` 50 by default, at most 200; `next_cursor` when there is
//! more).
//!
//! Another user's session id is answered exactly as an unknown one (404): ids are never
//! confirmed to someone who does not own them.

use axum::Router;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};
use tessera_guard::VerifiedToken;

use crate::error::ApiError;
use crate::http::bearer::{self, invalid_token};
use crate::state::AppState;
use crate::store::{PageAfter, RefreshFamily, StoreError, User, revocation_reason};
use crate::web::paging::PageRequest;

/// `GET /sessions`, `DELETE /sessions`, `DELETE /sessions/{id}`.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/sessions", get(list).delete(end_all))
        .route("/sessions/{id}", delete(end_one));
    bearer::protect(routes, state, None)
}

/// A request whose Bearer token verified and whose user exists and is not disabled.
pub(crate) struct SignedIn {
    /// The verified access token.
    pub(crate) token: VerifiedToken,
    /// Its user, as stored now.
    pub(crate) user: User,
}

impl SignedIn {
    /// The refresh family the token was issued in (`sid`), if any.
    pub(crate) fn sid(&self) -> Option<&str> {
        self.token.claims_json().get("sid").and_then(Value::as_str)
    }

    /// The session the token was issued in, if it is this user's and still active (signing
    /// out ends it at once, before the access token expires).
    pub(crate) async fn live_session(
        &self,
        state: &AppState,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        match self.sid().filter(|sid| plausible_id(sid)) {
            Some(sid) => {
                state
                    .store
                    .live_session(sid, &self.user.id, state.clock.now())
                    .await
            }
            None => Ok(None),
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The guard of the route verified the token (`bearer::protect`); a route without it
        // has nothing verified.
        let Some(token) = parts.extensions.get::<VerifiedToken>().cloned() else {
            return Err(no_store(invalid_token()));
        };
        signed_in(state, token).await
    }
}

/// The user of a verified token, who must exist and not be disabled. `Err` is the whole
/// answer (401 `invalid_token`, 503), never cached.
async fn signed_in(state: &AppState, token: VerifiedToken) -> Result<SignedIn, Response> {
    let Some(sub) = token.subject() else {
        return Err(no_store(invalid_token()));
    };
    let user = match state.store.user_by_id(sub).await {
        Ok(Some(user)) if !user.disabled => user,
        // No user of this issuer (a client_credentials token's `sub` is a client id, or the
        // user was deleted), or a disabled one.
        Ok(_) => return Err(no_store(invalid_token())),
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    Ok(SignedIn { token, user })
}

/// Adds `Cache-Control: no-store` unless the response has a `Cache-Control` already.
pub(crate) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A JSON answer, never cached.
pub(crate) fn json_no_store(status: StatusCode, body: Value) -> Response {
    no_store((status, axum::Json(body)).into_response())
}

/// 204, never cached.
pub(crate) fn no_content() -> Response {
    no_store(StatusCode::NO_CONTENT.into_response())
}

/// Whether `id` can be an id the store made (a UUID; some slack for other forms). Anything
/// else is unknown without asking the database (which may refuse some bytes, e.g. NUL).
pub(crate) fn plausible_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn session_json(family: &RefreshFamily, current: Option<&str>) -> Value {
    json!({
        "id": family.id,
        "created_at": family.created_at,
        "last_used_at": family.last_used_at,
        "expires_at": family.expires_at.min(family.idle_expires_at),
        "client_address": family.client_address,
        "user_agent": family.user_agent,
        "client_id": family.client_id,
        "current": current == Some(family.id.as_str()),
    })
}

/// `GET /sessions`: a page of the user's active sessions, newest sign-in first.
async fn list(
    State(state): State<AppState>,
    who: SignedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_query(query.as_deref())?;
    let after: Option<(i64, String)> = page.cursor()?;
    let now = state.clock.now();
    let families = state
        .store
        .active_refresh_families_page(
            &who.user.id,
            now,
            after.as_ref().map(|(created_at, id)| PageAfter::Session {
                created_at: *created_at,
                id,
            }),
            page.fetch(),
        )
        .await?;
    let (families, next) = page.finish(families, |f| (f.created_at, f.id.clone()));
    let sessions: Vec<Value> = families
        .iter()
        .map(|family| session_json(family, who.sid()))
        .collect();
    let mut body = json!({ "sessions": sessions });
    if let Some(next) = next {
        body["next_cursor"] = Value::String(next);
    }
    Ok(json_no_store(StatusCode::OK, body))
}

/// `DELETE /sessions/{id}`: ends one of the user's sessions.
async fn end_one(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    if !plausible_id(&id) {
        return Err(no_such_session());
    }
    let family = state.store.refresh_family(&id).await?;
    match family {
        Some(family) if family.user_id == who.user.id && family.is_active(now) => {
            state
                .store
                .revoke_refresh_family(&family.id, revocation_reason::LOGOUT, now)
                .await?;
            Ok(no_content())
        }
        _ => Err(no_such_session()),
    }
}

/// `DELETE /sessions`: ends every session of the user (this one included).
async fn end_all(State(state): State<AppState>, who: SignedIn) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let revoked = state
        .store
        .revoke_user_refresh_families(&who.user.id, revocation_reason::LOGOUT, now)
        .await?;
    tracing::info!(user = %who.user.id, revoked, "every session of a user ended by the user");
    Ok(no_content())
}

fn no_such_session() -> ApiError {
    ApiError::not_found_because("no active session of yours has this id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_ids_reach_the_store() {
        assert!(plausible_id("0b6f3c1e-8f1a-4c2b-9d0e-1a2b3c4d5e6f"));
        for bad in ["", "a\0b", "../x", "a b", "é", &"a".repeat(65)] {
            assert!(!plausible_id(bad), "{bad:?}");
        }
    }
}

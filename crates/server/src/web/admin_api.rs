//! The admin pages' JSON API: users, signing keys and OAuth clients, as the administration
//! commands (`tessera user …`, `tessera key …`, `tessera client …`) manage them.
//!
//! `Authorization: Bearer <access token>` whose `roles` contain `admin`, checked as
//! `/userinfo` checks a token (RFC 6750). Without the role: 403 `insufficient_scope` with
//! `WWW-Authenticate: Bearer realm="tessera", error="insufficient_scope", …`. The roles are
//! also checked against the store: a token issued before the user lost the `admin` role (or
//! was disabled, or deleted) is refused although its signature is good (403, resp. 401).
//! Unlike the stateless APIs, the admin API also checks the token's session (`sid`): once it
//! is signed out or revoked, its access tokens no longer administer (401 `invalid_token`),
//! and a token issued to an OAuth client (`client_id`) never does (403).
//!
//! | method, path | answers |
//! |---|---|
//! | `GET /admin/api/users` `?limit=&cursor=` | 200 `{"users":[{"id","username","roles","disabled","has_password","created_at","updated_at"}],"next_cursor"?}` · 400 bad `limit`/`cursor` |
//! | `POST /admin/api/users` `{"username","password","roles"?}` | 201 the user · 400 · 409 `conflict` |
//! | `PATCH /admin/api/users/{id}` `{"disabled"?,"roles"?}` | 200 the user · 400 · 404 |
//! | `DELETE /admin/api/users/{id}` | 200 `{"deleted","sessions","identities"}` · 400 your own account · 404 |
//! | `GET /admin/api/keys` | 200 `{"keys":[{"kid","alg","state","created_at","activated_at","retired_at","delete_after"}]}` |
//! | `POST /admin/api/keys/rotate` `{"now"?}` (body optional) | 200 `{"keys":[…],"rotation":{…}}` · 503 when another instance holds the rotation lock |
//! | `POST /admin/api/keys/{kid}/revoke` | 200 `{"keys":[…],"revoked","was","activated"}` (`tessera key revoke`) · 404 · 503 |
//! | `GET /admin/api/clients` `?limit=&cursor=` | 200 `{"clients":[{"client_id","name","scopes","confidential","created_at"}],"next_cursor"?}` · 400 |
//! | `POST /admin/api/clients` `{"name","scopes"?,"confidential"?}` | 201 the client, with `client_secret` (once) when confidential · 400 |
//!
//! Every answer: `Cache-Control: no-store`. The lists come a page at a time
//! ([`paging`](super::paging): `limit` 50 by default, at most 200; `next_cursor` when there
//! is more), users by username, clients by name.
//!
//! ## Rules (those of the CLI)
//!
//! - Usernames, passwords (at least 8 characters), roles, client names and scopes follow
//!   [`accounts`](crate::accounts), as the CLI does; passwords are hashed with the issuer's
//!   argon2id settings. A username is stored in its RFC 8265 form (the answer shows it), so
//!   `ＡＤＭＩＮ` is `admin` (409 if taken) and `"\u202eadmin"` is refused (400).
//! - Disabling a user revokes every session of the user (reason `user_disabled`), as
//!   `tessera user disable` does; enabling leaves the revoked sessions revoked. An admin can
//!   neither disable themselves nor drop their own `admin` role (400): the last admin could
//!   otherwise lock everyone out.
//! - Deleting a user is `tessera user delete` ([`accounts::delete_user`]): its sessions,
//!   their refresh tokens and its linked outside identities go with it, in one transaction.
//!   An admin cannot delete their own account (400).
//! - Rotation is `tessera key rotate` (`now: false`: make a `next` key, or promote it once it
//!   has been published long enough) or `tessera key rotate --now`; this server's JWKS shows
//!   the change at once, other instances within `keys.refresh_interval`.
//! - Clients: a confidential client (the default) gets a new 256-bit secret, shown
//!   in this answer only; the store keeps its salted hash. A public client has none.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tessera_jwt::SecretString;

use super::sessions_api::{SignedIn, json_no_store, no_store, plausible_id};
use crate::accounts::{self, ADMIN_ROLE, Actor};
use crate::auth::client_secret::NewClientSecret;
use crate::error::{ApiError, Json};
use crate::http::bearer::{self, insufficient_scope, invalid_token};
use crate::keys::{KeyInfo, RotateMode, RotationReport};
use crate::state::AppState;
use crate::store::{Client, NewClient, PageAfter, StoreError, User};
use crate::web::paging::PageRequest;

/// How often, and how far apart, a rotation is retried while another instance holds the lock.
const ROTATION_ATTEMPTS: u32 = 10;
const ROTATION_RETRY: Duration = Duration::from_millis(300);

/// The `/admin/api/…` routes.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/admin/api/users", get(list_users).post(add_user))
        .route(
            "/admin/api/users/{id}",
            patch(update_user).delete(delete_user),
        )
        .route("/admin/api/keys", get(list_keys))
        .route("/admin/api/keys/rotate", post(rotate_keys))
        .route("/admin/api/keys/{kid}/revoke", post(revoke_key))
        .route("/admin/api/clients", get(list_clients).post(add_client));
    // The guard refuses a token without the role; the extractor also wants it in the store.
    bearer::protect(routes, state, Some(ADMIN_ROLE))
}

/// A signed-in user whose token carries the `admin` role and who still has it in the store.
struct Admin(SignedIn);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = SignedIn::from_request_parts(parts, state).await?;
        if !who.user.roles.iter().any(|r| r == ADMIN_ROLE) {
            return Err(insufficient_scope("the user no longer has the admin role"));
        }
        // Administration is for tessera's own sign-in, not for a token issued to an OAuth
        // client acting for the user.
        if who.token.claims_json().get("client_id").is_some() {
            return Err(insufficient_scope(
                "tokens issued to an OAuth client cannot administer the issuer",
            ));
        }
        // The session the token belongs to must still be live: signing out (or out
        // everywhere) ends administration at once, not when the access token expires.
        match who.live_session(state).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(no_store(invalid_token())),
            Err(e) => return Err(ApiError::from(e).into_response()),
        }
        Ok(Self(who))
    }
}

// ---- users -------------------------------------------------------------------------------

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "roles": user.roles,
        "disabled": user.disabled,
        "has_password": user.password_hash.is_some(),
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    })
}

/// `GET /admin/api/users`: a page of the users, by username.
async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_query(query.as_deref())?;
    let after: Option<(String,)> = page.cursor()?;
    let users = state
        .store
        .users_page(
            after.as_ref().map(|(name,)| PageAfter::User(name)),
            page.fetch(),
        )
        .await?;
    let (users, next) = page.finish(users, |u| (u.username.clone(),));
    let users: Vec<Value> = users.iter().map(user_json).collect();
    Ok(json_no_store(
        StatusCode::OK,
        with_next(json!({ "users": users }), next),
    ))
}

/// A list answer with its `next_cursor` when there is a next page.
fn with_next(mut body: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        body["next_cursor"] = Value::String(next);
    }
    body
}

/// `DELETE /admin/api/users/{id}`: `tessera user delete`.
async fn delete_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !plausible_id(&id) {
        return Err(no_such_user());
    }
    let actor = Actor::Admin(&admin.user.id);
    let deleted = accounts::delete_user(&*state.store, &id, actor, state.clock.now()).await?;
    Ok(json_no_store(
        StatusCode::OK,
        json!({ "deleted": id, "sessions": deleted.sessions, "identities": deleted.identities }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserRequest {
    username: String,
    password: SecretString,
    #[serde(default)]
    roles: Vec<String>,
}

/// `POST /admin/api/users`: a user with a password and roles.
async fn add_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let request: NewUserRequest = from_object(body)?;
    let user = accounts::add_user(
        &*state.store,
        state.auth.passwords(),
        &request.username,
        request.password,
        &request.roles,
        Actor::Admin(&admin.user.id),
        state.clock.now(),
    )
    .await?;
    Ok(json_no_store(StatusCode::CREATED, user_json(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserChange {
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    roles: Option<Vec<String>>,
}

/// `PATCH /admin/api/users/{id}`: disable or enable a user, replace their roles.
async fn update_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(id): Path<String>,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let change: UserChange = from_object(body)?;
    if !plausible_id(&id) {
        return Err(no_such_user());
    }
    let Some(user) = state.store.user_by_id(&id).await? else {
        return Err(no_such_user());
    };
    let actor = Actor::Admin(&admin.user.id);
    let now = state.clock.now();
    // Both changes are checked before either is made.
    if let Some(roles) = &change.roles {
        accounts::check_roles(roles).map_err(refused)?;
    }
    if change.disabled == Some(true) && user.id == admin.user.id {
        return Err(accounts::AdminError::OwnAccount(
            "you cannot disable your own account; ask another administrator",
        )
        .into());
    }
    if let Some(roles) = &change.roles {
        accounts::set_roles(&*state.store, &user.id, roles, actor, now).await?;
    }
    if let Some(disabled) = change.disabled {
        accounts::set_disabled(&*state.store, &user.id, disabled, actor, now).await?;
    }
    let Some(user) = state.store.user_by_id(&user.id).await? else {
        // Deleted meanwhile.
        return Err(no_such_user());
    };
    Ok(json_no_store(StatusCode::OK, user_json(&user)))
}

fn no_such_user() -> ApiError {
    ApiError::not_found_because("no user has this id")
}

/// 400 `invalid_request` naming what is wrong with the input.
fn refused(e: accounts::InvalidInput) -> ApiError {
    ApiError::invalid_request(e.to_string())
}

// ---- keys --------------------------------------------------------------------------------

fn key_json(key: &KeyInfo) -> Value {
    json!({
        "kid": key.kid,
        "alg": key.alg,
        "state": key.state.as_str(),
        "created_at": key.created_at,
        "activated_at": key.activated_at,
        "retired_at": key.retired_at,
        "delete_after": key.delete_after,
    })
}

async fn keys_json(state: &AppState) -> Result<Vec<Value>, ApiError> {
    Ok(state.keys.list().await?.iter().map(key_json).collect())
}

/// `GET /admin/api/keys`: the signing keys as stored (`tessera key list`).
async fn list_keys(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let keys = keys_json(&state).await?;
    Ok(json_no_store(StatusCode::OK, json!({ "keys": keys })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateRequest {
    #[serde(default)]
    now: bool,
}

/// `POST /admin/api/keys/rotate` `{"now": bool}` (body optional): `tessera key rotate [--now]`.
async fn rotate_keys(
    State(state): State<AppState>,
    Admin(admin): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request = optional_json::<RotateRequest>(&headers, &body)?.unwrap_or_default();
    let mode = if request.now {
        RotateMode::Now
    } else {
        RotateMode::Advance
    };
    let mut report = state.keys.rotate(mode).await?;
    // Another instance is rotating: its lease is short (as `tessera key rotate`, wait a bit).
    for _ in 1..ROTATION_ATTEMPTS {
        if !report.skipped {
            break;
        }
        tokio::time::sleep(ROTATION_RETRY).await;
        report = state.keys.rotate(mode).await?;
    }
    if report.skipped {
        return Err(ApiError::unavailable(
            "another instance holds the key rotation lock; try again in a minute",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("60")));
    }
    // `rotate` reloads when it changed something; reload anyway so that this server's JWKS
    // shows the table as it is now even if another instance rotated meanwhile.
    state.keys.reload().await?;
    tracing::info!(
        admin = %admin.user.id,
        now = request.now,
        activated = report.activated.as_deref().unwrap_or("-"),
        "signing keys rotated by an administrator"
    );
    let keys = keys_json(&state).await?;
    Ok(json_no_store(
        StatusCode::OK,
        json!({ "keys": keys, "rotation": report_json(&report) }),
    ))
}

/// `POST /admin/api/keys/{kid}/revoke`: `tessera key revoke KID`. This server's JWKS and
/// verification keys drop the key before the answer; other instances within
/// `keys.refresh_interval`.
async fn revoke_key(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(kid): Path<String>,
) -> Result<Response, ApiError> {
    // A kid is a thumbprint; anything far longer names no key (and is not worth a query).
    if kid.is_empty() || kid.len() > 256 {
        return Err(StoreError::not_found("signing key", "(invalid kid)").into());
    }
    let revocation = state.keys.revoke(&kid).await?;
    tracing::warn!(
        admin = %admin.user.id,
        kid = %revocation.kid,
        was = %revocation.was,
        "signing key revoked by an administrator"
    );
    let keys = keys_json(&state).await?;
    Ok(json_no_store(
        StatusCode::OK,
        json!({
            "keys": keys,
            "revoked": revocation.kid,
            "was": revocation.was.as_str(),
            "activated": revocation.activated,
        }),
    ))
}

fn report_json(report: &RotationReport) -> Value {
    json!({
        "created": report.created.as_ref().map(|k| k.kid.as_str()),
        "activated": report.activated,
        "retired": report.retired,
        "deleted": report.deleted,
        "next_signs_at": report.next_signs_at,
    })
}

/// The request body's JSON object as a `T`. Serde would also take a JSON array for a struct
/// (its fields in order): only an object is a request here.
fn from_object<T: serde::de::DeserializeOwned>(object: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))
}

/// A JSON body that may be absent: `Ok(None)` for an empty (or all white space) body; else it
/// must be `application/json` and parse.
fn optional_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Option<T>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::unsupported_media_type(
            "expected a JSON body (Content-Type: application/json)",
        ));
    }
    let object: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}")))?;
    from_object(object).map(Some)
}

// ---- clients -----------------------------------------------------------------------------

fn client_json(client: &Client) -> Value {
    json!({
        "client_id": client.client_id,
        "name": client.name,
        "scopes": client.scopes,
        "confidential": client.secret_hash.is_some(),
        "created_at": client.created_at,
    })
}

/// `GET /admin/api/clients`: a page of the clients, by name (never a secret).
async fn list_clients(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let page = PageRequest::from_query(query.as_deref())?;
    let after: Option<(String, String)> = page.cursor()?;
    let clients = state
        .store
        .clients_page(
            after
                .as_ref()
                .map(|(name, client_id)| PageAfter::Client { name, client_id }),
            page.fetch(),
        )
        .await?;
    let (clients, next) = page.finish(clients, |c| (c.name.clone(), c.client_id.clone()));
    let clients: Vec<Value> = clients.iter().map(client_json).collect();
    Ok(json_no_store(
        StatusCode::OK,
        with_next(json!({ "clients": clients }), next),
    ))
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClientRequest {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default = "default_true")]
    confidential: bool,
}

/// `POST /admin/api/clients`: registers a client; a confidential one's secret is in this
/// answer and nowhere else.
async fn add_client(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let request: NewClientRequest = from_object(body)?;
    let name = accounts::check_client_name(&request.name).map_err(refused)?;
    let scopes = accounts::check_scopes(&request.scopes).map_err(refused)?;
    let secret = if request.confidential {
        Some(NewClientSecret::generate().map_err(|e| ApiError::internal(&e))?)
    } else {
        None
    };
    let client = state
        .store
        .create_client(
            NewClient {
                name,
                secret_hash: secret.as_ref().map(|s| s.hash.as_str()),
                scopes: &scopes,
            },
            state.clock.now(),
        )
        .await?;
    tracing::info!(admin = %admin.user.id, client = %client.client_id, "client registered by an administrator");
    let mut body = client_json(&client);
    if let (Some(secret), Some(object)) = (&secret, body.as_object_mut()) {
        object.insert(
            "client_secret".to_owned(),
            Value::String(secret.secret.expose().to_owned()),
        );
    }
    Ok(no_store(
        (StatusCode::CREATED, axum::Json(body)).into_response(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_rotation_body_is_optional() {
        let json = |ct: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            }
            h
        };
        let none = optional_json::<RotateRequest>(&json(None), &Bytes::from_static(b" \n"));
        assert!(none.unwrap().is_none());
        let now = optional_json::<RotateRequest>(
            &json(Some("application/json; charset=utf-8")),
            &Bytes::from_static(br#"{"now":true}"#),
        );
        assert!(now.unwrap().unwrap().now);
        let untyped =
            optional_json::<RotateRequest>(&json(None), &Bytes::from_static(br#"{"now":true}"#));
        assert_eq!(
            untyped.err().unwrap().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        for bad in [&b"{"[..], br#"{"now":"yes"}"#, br#"{"later":true}"#] {
            let e = optional_json::<RotateRequest>(
                &json(Some("application/json")),
                &Bytes::copy_from_slice(bad),
            );
            assert_eq!(e.err().unwrap().status(), StatusCode::BAD_REQUEST);
        }
    }
}

//! The OAuth 2.0 endpoints: `POST /oauth2/token` (RFC 6749 §4.3, §4.4, §6),
//! `POST /oauth2/revoke` (RFC 7009), `POST /oauth2/introspect` (RFC 7662).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tessera_jwt::SecretString;

use super::clients::{self, Caller};
use super::json_api::token_response;
use super::params::OAuthParams;
use crate::error::ApiError;
use crate::http::ClientAddr;
use crate::issuance::grants::{self, GrantError};
use crate::state::AppState;
use crate::store::Client;
use crate::tokens::presented_refresh_token;

/// The grant types of `/oauth2/token`.
pub(crate) const GRANT_TYPES: [&str; 4] = [
    "password",
    "refresh_token",
    "client_credentials",
    super::federation::TOKEN_EXCHANGE,
];

/// `POST /oauth2/token`.
pub(super) async fn token(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    params: OAuthParams,
) -> Result<Response, ApiError> {
    let grant_type = params.require("grant_type")?;
    if !GRANT_TYPES.contains(&grant_type) {
        return Err(ApiError::unsupported_grant_type(
            "grant_type must be password, refresh_token, client_credentials or \
             urn:ietf:params:oauth:grant-type:token-exchange",
        ));
    }
    let caller = clients::authenticate(&state, &headers, &params).await?;
    let requested = params.scopes()?;
    let issued = match grant_type {
        "password" => {
            let username = params.require("username")?;
            let password = SecretString::new(params.require("password")?.to_owned());
            let scopes = granted_scopes(caller.client(), requested)?;
            let origin = crate::http::origin(address, &headers);
            grants::password(
                &state.issuance(),
                username,
                password,
                caller.client(),
                scopes,
                &origin,
            )
            .await
        }
        "refresh_token" => {
            let token = params.require("refresh_token")?;
            grants::refresh(&state.issuance(), token, caller.client(), requested).await
        }
        super::federation::TOKEN_EXCHANGE => {
            // RFC 8693 §2.1: the client exchanging the token must be known.
            let Some(client) = caller.client() else {
                return Err(clients::invalid_client("client authentication is required"));
            };
            let scopes = granted_scopes(Some(client), requested)?;
            let origin = crate::http::origin(address, &headers);
            let issued = super::federation::token_exchange(
                &state,
                params.require("subject_token")?,
                params.require("subject_token_type")?,
                params.get("requested_token_type"),
                Some(client),
                scopes,
                &origin,
            )
            .await
            .map_err(GrantError::for_oauth)?;
            return Ok(super::federation::exchange_response(&issued));
        }
        _ => {
            let Caller::Confidential(client) = &caller else {
                return Err(match caller {
                    Caller::Anonymous => {
                        clients::invalid_client("client authentication is required")
                    }
                    _ => unauthorized_client("a public client cannot use client_credentials"),
                });
            };
            let scopes = granted_scopes(Some(client), requested)?;
            grants::client_token(&state.issuance(), client, scopes)
        }
    };
    let issued = issued.map_err(GrantError::for_oauth)?;
    Ok(token_response(&issued))
}

fn unauthorized_client(description: &'static str) -> ApiError {
    ApiError::unauthorized_client(description)
}

fn invalid_scope(description: &'static str) -> ApiError {
    ApiError::invalid_scope(description)
}

/// The scopes to grant: what was asked if the client may have it all, else `invalid_scope`;
/// nothing asked, every scope of the client. Without a client, no scope can be granted.
fn granted_scopes(
    client: Option<&Client>,
    requested: Option<Vec<String>>,
) -> Result<Vec<String>, ApiError> {
    match (client, requested) {
        (None, None) => Ok(Vec::new()),
        (None, Some(requested)) if requested.is_empty() => Ok(Vec::new()),
        (None, Some(_)) => Err(invalid_scope(
            "scopes are granted to clients: authenticate one",
        )),
        (Some(client), None) => Ok(client.scopes.clone()),
        (Some(client), Some(requested)) => {
            if requested.iter().all(|s| client.scopes.contains(s)) {
                Ok(requested)
            } else {
                Err(invalid_scope("the client may not have the requested scope"))
            }
        }
    }
}

/// The endpoints that need an authenticated (confidential) client.
async fn confidential_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &OAuthParams,
) -> Result<Client, ApiError> {
    match clients::authenticate(state, headers, params).await? {
        Caller::Confidential(client) => Ok(client),
        Caller::Anonymous | Caller::Public(_) => {
            Err(clients::invalid_client("client authentication is required"))
        }
    }
}

/// `POST /oauth2/revoke` `token`, `token_type_hint`: 200 (RFC 7009 §2.2), also for unknown
/// and access tokens.
pub(super) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: OAuthParams,
) -> Result<Response, ApiError> {
    let client = confidential_client(&state, &headers, &params).await?;
    let token = params.require("token")?;
    // The hint only orders the lookups; there is one kind of stateful token.
    grants::revoke_refresh_token(&state.issuance(), token, Some(&client), true)
        .await
        .map_err(GrantError::for_oauth)?;
    Ok((StatusCode::OK, crate::http::no_store()).into_response())
}

/// `POST /oauth2/introspect` `token`, `token_type_hint`.
pub(super) async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: OAuthParams,
) -> Result<Response, ApiError> {
    let client = confidential_client(&state, &headers, &params).await?;
    let token = params.require("token")?;
    let hint = params.get("token_type_hint");
    let answer = if hint == Some("refresh_token") {
        match refresh_token_info(&state, token, &client).await? {
            Some(info) => Some(info),
            None => access_token_info(&state, token).await?,
        }
    } else {
        match access_token_info(&state, token).await? {
            Some(info) => Some(info),
            None => refresh_token_info(&state, token, &client).await?,
        }
    };
    let body = answer.unwrap_or_else(|| json!({"active": false}));
    Ok((crate::http::no_store(), axum::Json(body)).into_response())
}

/// An active access token of this issuer: its claims (RFC 7662 §2.2), or `None`.
async fn access_token_info(state: &AppState, token: &str) -> Result<Option<Value>, ApiError> {
    let Ok(verifier) = state.auth.own_tokens().verifier(&state.keys) else {
        return Err(ApiError::unavailable(
            "the issuer's keys are not available; retry later",
        ));
    };
    let verified = match verifier.verify(token).await {
        Ok(verified) => verified,
        Err(e) => {
            tracing::debug!(error = %e, "introspection: not an active access token of ours");
            return Ok(None);
        }
    };
    let claims = verified.claims_json();
    // Revoked before it expired: its session ended, or its user was disabled.
    if let Some(Value::String(sid)) = claims.get("sid")
        && let Some(family) = state.store.refresh_family(sid).await?
        && family.revoked_at.is_some()
    {
        return Ok(None);
    }
    if claims.get("sid").is_some()
        && let Some(sub) = verified.subject()
    {
        match state.store.user_by_id(sub).await? {
            Some(user) if !user.disabled => {}
            _ => return Ok(None),
        }
    }
    // Issued to a client (client_credentials, or a grant made through one): the client must
    // still be registered, as the session must still be live above.
    if let Some(client_id) = claims.get("client_id") {
        let Value::String(client_id) = client_id else {
            return Ok(None);
        };
        if state.store.client(client_id).await?.is_none() {
            return Ok(None);
        }
    }
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    out.insert("token_type".into(), Value::from("access_token"));
    for name in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "nbf",
        "jti",
        "roles",
        "sid",
    ] {
        if let Some(value) = claims.get(name) {
            out.insert(name.into(), value.clone());
        }
    }
    Ok(Some(Value::Object(out)))
}

/// A refresh token that could be rotated now and was issued to `client`, or `None`.
async fn refresh_token_info(
    state: &AppState,
    token: &str,
    client: &Client,
) -> Result<Option<Value>, ApiError> {
    let Some(hash) = presented_refresh_token(token) else {
        return Ok(None);
    };
    let Some(record) = state.store.refresh_token(&hash).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    if !record.is_active(now) || record.family.client_id.as_deref() != Some(&client.client_id) {
        return Ok(None);
    }
    let mut out = json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": client.client_id,
        "sub": record.family.user_id,
        "iss": state.config.issuer,
        "exp": record.token.expires_at,
        "iat": record.token.created_at,
        "sid": record.family.id,
    });
    if !record.family.scopes.is_empty() {
        out["scope"] = Value::from(record.family.scopes.join(" "));
    }
    Ok(Some(out))
}

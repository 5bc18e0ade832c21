//! Talking to a provider: its endpoints (from the discovery documents the app state keeps,
//! [`ProviderDiscovery`](crate::auth::provider_discovery::ProviderDiscovery)), and redeeming a
//! code at its token endpoint.

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Url;
use serde::Deserialize;
use tessera_jwt::SecretString;
use zeroize::Zeroizing;

use super::Failure;
use crate::auth::provider_discovery::{Endpoints, MAX_ANSWER_BYTES};
use crate::config::ProviderSettings;
use crate::state::AppState;

// ---- talking to the provider ----------------------------------------------------------------------

/// Why a call to a provider failed (for the log; no secret in it).
#[derive(Debug, thiserror::Error)]
pub(super) enum CallError {
    /// Unreachable, timed out, a server error, an unusable document: try later.
    #[error("{0}")]
    Unavailable(String),
    /// The provider refused (a 4xx) or answered something that is not a token response.
    #[error("{0}")]
    Refused(String),
}

impl CallError {
    pub(super) fn failure(&self) -> Failure {
        match self {
            Self::Unavailable(_) => Failure::ProviderUnavailable,
            Self::Refused(_) => Failure::ProviderError,
        }
    }
}

/// The endpoints of `provider`, from the discovery documents `state` keeps (an hour each).
pub(super) async fn discover(
    state: &AppState,
    provider: &ProviderSettings,
) -> Result<Arc<Endpoints>, CallError> {
    state
        .auth
        .federation()
        .discovery()
        .endpoints(provider)
        .await
        .map_err(|e| CallError::Unavailable(e.to_string()))
}

/// A body of at most [`MAX_ANSWER_BYTES`].
pub(super) async fn read_limited(
    mut response: reqwest::Response,
) -> Result<Zeroizing<Vec<u8>>, String> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
    {
        return Err("the answer is too large".into());
    }
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("the answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Deserialize)]
pub(super) struct TokenAnswer {
    pub(super) id_token: Option<SecretString>,
}

#[derive(Deserialize)]
pub(super) struct TokenError {
    pub(super) error: Option<String>,
}

/// Redeems `code` at the token endpoint (RFC 6749 §4.1.3 + RFC 7636 §4.5): the ID token.
pub(super) async fn redeem_code(
    state: &AppState,
    provider: &ProviderSettings,
    client_id: &str,
    token_endpoint: &Url,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<SecretString, CallError> {
    let form = Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .append_pair("client_id", client_id)
            .finish(),
    );
    let client = state
        .auth
        .federation()
        .discovery()
        .client()
        .map_err(|e| CallError::Unavailable(e.to_string()))?;
    let mut request = client
        .post(token_endpoint.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(form.as_bytes().to_vec());
    if let Some(secret) = &provider.client_secret {
        request = request.header(
            AUTHORIZATION,
            client_secret_basic(client_id, secret.expose()),
        );
    }
    let response = request
        .send()
        .await
        .map_err(|e| CallError::Unavailable(format!("{token_endpoint}: {e}")))?;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if status.is_server_error() {
        return Err(CallError::Unavailable(format!(
            "{token_endpoint}: status {status}"
        )));
    }
    let body = read_limited(response)
        .await
        .map_err(|e| CallError::Unavailable(format!("{token_endpoint}: {e}")))?;
    if !status.is_success() {
        // RFC 6749 §5.2: its `error` code is safe to log (the description may echo input).
        let error = serde_json::from_slice::<TokenError>(&body)
            .ok()
            .and_then(|e| e.error)
            .map(|e| {
                e.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect::<String>()
            })
            .unwrap_or_default();
        return Err(CallError::Refused(format!(
            "{token_endpoint}: status {status} {error}"
        )));
    }
    if !is_json {
        return Err(CallError::Refused(format!(
            "{token_endpoint}: the answer is not JSON"
        )));
    }
    serde_json::from_slice::<TokenAnswer>(&body)
        .ok()
        .and_then(|answer| answer.id_token)
        .filter(|t| !t.expose().is_empty())
        .ok_or_else(|| CallError::Refused(format!("{token_endpoint}: the answer has no id_token")))
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
pub(super) fn client_secret_basic(client_id: &str, secret: &str) -> HeaderValue {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = Zeroizing::new(format!("{}:{}", enc(client_id), enc(secret)));
    let header = Zeroizing::new(format!("Basic {}", STANDARD.encode(credentials.as_bytes())));
    let mut value =
        HeaderValue::from_str(&header).unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

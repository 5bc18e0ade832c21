//! What the issuer publishes for verifiers: its public keys (`/.well-known/jwks.json`, with
//! `Cache-Control: max-age` and a strong `ETag`) and its OpenID Provider / OAuth 2.0
//! Authorization Server metadata (`/.well-known/openid-configuration`).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::http::json_bytes;
use crate::state::AppState;

/// Path of the JWKS.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Path of the discovery document.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The publishing routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(JWKS_PATH, get(jwks))
        .route(DISCOVERY_PATH, get(discovery))
}

fn cache_control(state: &AppState) -> HeaderValue {
    let max_age = state.config.keys.jwks_max_age.as_secs();
    // Only digits and ASCII: always a valid header value.
    HeaderValue::from_str(&format!("public, max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"))
}

/// Whether `If-None-Match` names this entity tag (weak comparison, RFC 9110 §13.1.2).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

async fn jwks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    state.metrics.jwks_request();
    let jwks = state.keys.jwks();
    let cache = cache_control(&state);
    let etag =
        HeaderValue::from_str(&jwks.etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    if matches(&headers, &jwks.etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let mut response = json_bytes(jwks.body.clone());
    let h = response.headers_mut();
    h.insert(header::ETAG, etag);
    h.insert(header::CACHE_CONTROL, cache);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn discovery(State(state): State<AppState>) -> Response {
    let config = &state.config;
    let mut algs: Vec<String> = state
        .keys
        .snapshot()
        .keys()
        .iter()
        .map(|k| k.alg.clone())
        .collect();
    algs.push(config.keys.algorithm.name().to_owned());
    algs.sort();
    algs.dedup();
    let client_auth = ["client_secret_basic", "client_secret_post"];
    let document = json!({
        "issuer": config.issuer,
        "jwks_uri": config.issuer_url(JWKS_PATH),
        "token_endpoint": config.issuer_url("/oauth2/token"),
        "revocation_endpoint": config.issuer_url("/oauth2/revoke"),
        "introspection_endpoint": config.issuer_url("/oauth2/introspect"),
        "userinfo_endpoint": config.issuer_url("/userinfo"),
        "grant_types_supported": [
            "password",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ],
        // No authorization endpoint (yet): no response type is served.
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_methods_supported": client_auth,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "jti", "roles", "sid", "client_id", "scope"],
    });
    let body = axum::body::Bytes::from(document.to_string());
    let mut response = json_bytes(body);
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, cache_control(&state));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_forms() {
        let etag = "\"abc\"";
        for (value, expected) in [
            ("\"abc\"", true),
            ("W/\"abc\"", true),
            ("\"x\", \"abc\"", true),
            ("*", true),
            ("\"abd\"", false),
            ("abc", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(value));
            assert_eq!(matches(&headers, etag), expected, "{value}");
        }
        assert!(!matches(&HeaderMap::new(), etag));
    }
}

//! The form body of the OAuth 2.0 endpoints (`application/x-www-form-urlencoded`, RFC 6749
//! Appendix B), read strictly: another content type is 415, a repeated parameter is
//! `invalid_request` (RFC 6749 §3.1), an empty value counts as absent (§3.1), unknown
//! parameters are ignored (§3.2). Values are zeroized when dropped (they include passwords
//! and client secrets).

use std::collections::HashMap;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// Parameters by name.
pub(crate) struct OAuthParams {
    values: HashMap<String, Zeroizing<String>>,
}

impl fmt::Debug for OAuthParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values may be secrets.
        let mut names: Vec<&str> = self.values.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("OAuthParams")
            .field("names", &names)
            .finish()
    }
}

impl OAuthParams {
    /// Parses a form body.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let mut values: HashMap<String, Zeroizing<String>> = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if values.contains_key(name.as_ref()) {
                return Err(ApiError::invalid_request(format!(
                    "the parameter {} is repeated",
                    printable(&name)
                )));
            }
            let value = Zeroizing::new(value.into_owned());
            if !value.is_empty() {
                values.insert(name.into_owned(), value);
            }
        }
        Ok(Self { values })
    }

    /// A parameter, if present and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.as_str())
    }

    /// A parameter that must be there.
    pub(crate) fn require(&self, name: &'static str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::invalid_request(format!("the parameter {name} is missing")))
    }

    /// `scope`, split on spaces (RFC 6749 §3.3), duplicates dropped, or `None`.
    pub(crate) fn scopes(&self) -> Result<Option<Vec<String>>, ApiError> {
        let Some(raw) = self.get("scope") else {
            return Ok(None);
        };
        let mut scopes: Vec<String> = Vec::new();
        for token in raw.split(' ') {
            if token.is_empty() {
                continue;
            }
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if !token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(ApiError::invalid_scope(
                    "a scope holds a character RFC 6749 §3.3 does not allow",
                ));
            }
            if !scopes.iter().any(|s| s == token) {
                scopes.push(token.to_owned());
            }
        }
        Ok(Some(scopes))
    }
}

/// A parameter name as it may be repeated in an error: printable ASCII, bounded.
fn printable(name: &str) -> String {
    name.chars()
        .take(40)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

impl<S: Send + Sync> FromRequest<S> for OAuthParams {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| {
                essence
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(ApiError::unsupported_media_type(
                "expected a form body (Content-Type: application/x-www-form-urlencoded)",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::from_status(status)
                } else {
                    ApiError::invalid_request("the request body cannot be read")
                }
            })?;
        Self::parse(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decodes_and_drops_empty_values() {
        let p = OAuthParams::parse(
            b"grant_type=password&username=al%20ice&password=p%2Bw+x&scope=&x=1",
        )
        .unwrap();
        assert_eq!(p.get("grant_type"), Some("password"));
        assert_eq!(p.get("username"), Some("al ice"));
        assert_eq!(p.get("password"), Some("p+w x"));
        assert_eq!(p.get("scope"), None);
        assert_eq!(p.scopes().unwrap(), None);
        assert_eq!(p.require("x").unwrap(), "1");
        let err = p.require("client_id").unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        assert!(err.description().contains("client_id"));
        assert!(!format!("{p:?}").contains("p+w"));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let err = OAuthParams::parse(b"a=1&a=2").unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.code(), "invalid_request");
        assert!(err.description().contains("a is repeated"));
    }

    #[test]
    fn scopes_split_dedupe_and_check_characters() {
        let p = OAuthParams::parse(b"scope=read+write++read").unwrap();
        assert_eq!(p.scopes().unwrap().unwrap(), ["read", "write"]);
        let p = OAuthParams::parse(b"scope=a%22b").unwrap();
        assert_eq!(p.scopes().unwrap_err().code(), "invalid_scope");
        let p = OAuthParams::parse(b"scope=+").unwrap();
        assert_eq!(p.scopes().unwrap(), Some(vec![]));
    }
}

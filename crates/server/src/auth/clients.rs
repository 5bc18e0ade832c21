//! Client authentication at the OAuth endpoints (RFC 6749 §2.3.1): HTTP Basic with the
//! form-encoded `client_id:client_secret`, or the `client_id` and `client_secret` form
//! parameters — one method per request.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use tessera_jwt::SecretString;

use super::client_secret::{self, StoredForm};
use super::params::OAuthParams;
use crate::error::ApiError;
use crate::password::Verification;
use crate::state::AppState;
use crate::store::Client;

/// Longest client id looked up (ours are UUIDs).
const MAX_CLIENT_ID_LEN: usize = 128;

/// Who is calling.
#[derive(Debug)]
pub(crate) enum Caller {
    /// No client named itself.
    Anonymous,
    /// A public client (registered without a secret) named itself: identified, not
    /// authenticated.
    Public(Client),
    /// A confidential client proved its secret.
    Confidential(Client),
}

impl Caller {
    pub(crate) fn client(&self) -> Option<&Client> {
        match self {
            Self::Anonymous => None,
            Self::Public(c) | Self::Confidential(c) => Some(c),
        }
    }
}

/// 401 `invalid_client` with the Basic challenge (RFC 6749 §5.2).
pub(crate) fn invalid_client(description: &'static str) -> ApiError {
    ApiError::invalid_client(description).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
    )
}

const BAD_CLIENT: &str = "client authentication failed";

/// The credentials a request presents.
struct Presented {
    client_id: String,
    secret: Option<SecretString>,
}

fn presented(headers: &HeaderMap, params: &OAuthParams) -> Result<Option<Presented>, ApiError> {
    let basic = basic_credentials(headers)?;
    let form_id = params.get("client_id");
    let form_secret = params.get("client_secret");
    match basic {
        Some(basic) => {
            if form_secret.is_some() {
                return Err(ApiError::invalid_request(
                    "use one client authentication method: HTTP Basic or client_secret, not both",
                ));
            }
            if form_id.is_some_and(|id| id != basic.client_id) {
                return Err(ApiError::invalid_request(
                    "client_id differs from the authenticated client",
                ));
            }
            Ok(Some(basic))
        }
        None => match (form_id, form_secret) {
            (Some(id), secret) => Ok(Some(Presented {
                client_id: id.to_owned(),
                secret: secret.map(|s| SecretString::new(s.to_owned())),
            })),
            (None, Some(_)) => Err(ApiError::invalid_request("client_secret without client_id")),
            (None, None) => Ok(None),
        },
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`, if the header uses
/// the Basic scheme. A malformed one is `invalid_client`.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<Presented>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let Ok(text) = value.to_str() else {
        return Err(invalid_client(BAD_CLIENT));
    };
    let Some((scheme, rest)) = text.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let encoded = rest.trim();
    let decoded = STANDARD
        .decode(encoded)
        .or_else(|_| STANDARD_NO_PAD.decode(encoded))
        .map_err(|_| invalid_client(BAD_CLIENT))?;
    let decoded = zeroize::Zeroizing::new(decoded);
    let text = std::str::from_utf8(&decoded).map_err(|_| invalid_client(BAD_CLIENT))?;
    let (id, secret) = text
        .split_once(':')
        .ok_or_else(|| invalid_client(BAD_CLIENT))?;
    let id = form_decode(id).ok_or_else(|| invalid_client(BAD_CLIENT))?;
    let secret = form_decode(secret).ok_or_else(|| invalid_client(BAD_CLIENT))?;
    Ok(Some(Presented {
        client_id: id,
        secret: Some(SecretString::new(secret)),
    }))
}

/// Undoes `application/x-www-form-urlencoded` on one value (RFC 6749 §2.3.1). A value with
/// nothing encoded is taken as it is (many clients do not encode).
fn form_decode(raw: &str) -> Option<String> {
    if !raw.contains(['%', '+']) {
        return Some(raw.to_owned());
    }
    if raw.contains(['&', '=']) {
        return None;
    }
    url::form_urlencoded::parse(raw.as_bytes())
        .next()
        .map(|(decoded, _)| decoded.into_owned())
}

/// Identifies and authenticates the calling client, if any. An unknown client, a wrong or
/// missing secret for a confidential client, or a secret for a public one are all
/// `invalid_client` (401), after the same work.
pub(crate) async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &OAuthParams,
) -> Result<Caller, ApiError> {
    let Some(presented) = presented(headers, params)? else {
        return Ok(Caller::Anonymous);
    };
    let client =
        if presented.client_id.len() <= MAX_CLIENT_ID_LEN && !presented.client_id.contains('\0') {
            state.store.client(&presented.client_id).await?
        } else {
            None
        };
    let Some(client) = client else {
        // The same (cheap) work as a known client, then the same answer.
        let _ = client_secret::verify(
            presented.secret.as_ref().map_or("", SecretString::expose),
            None,
        );
        return Err(invalid_client(BAD_CLIENT));
    };
    match (&client.secret_hash, presented.secret) {
        (None, None) => Ok(Caller::Public(client)),
        (None, Some(_)) | (Some(_), None) => Err(invalid_client(BAD_CLIENT)),
        (Some(stored), Some(secret)) => {
            let ok = match client_secret::stored_form(stored) {
                StoredForm::Sha256 => client_secret::verify(secret.expose(), Some(stored)),
                StoredForm::Argon2 => matches!(
                    state
                        .auth
                        .passwords
                        .verify(secret, Some(stored))
                        .await
                        .map_err(ApiError::from)?,
                    Verification::Match { .. }
                ),
                StoredForm::Unknown => {
                    tracing::warn!(client = %client.client_id, "a client's stored secret hash has an unknown form");
                    false
                }
            };
            if ok {
                Ok(Caller::Confidential(client))
            } else {
                tracing::info!(client = %client.client_id, "client authentication failed");
                Err(invalid_client(BAD_CLIENT))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn basic(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let p = basic_credentials(&basic(&format!("Basic {}", b64("my%20id:s%3Ac+r"))))
            .unwrap()
            .unwrap();
        assert_eq!(p.client_id, "my id");
        assert_eq!(p.secret.unwrap().expose(), "s:c r");
        // Unencoded values are taken as they are (a secret may hold '=').
        let p = basic_credentials(&basic(&format!("basic {}", b64("id:abc=="))))
            .unwrap()
            .unwrap();
        assert_eq!(p.secret.unwrap().expose(), "abc==");
        // Another scheme is not client authentication.
        assert!(basic_credentials(&basic("Bearer abc")).unwrap().is_none());
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        for value in [
            "Basic !!!".to_owned(),
            format!("Basic {}", b64("no-colon")),
            format!("Basic {}", STANDARD.encode([0xff, 0x3a, 0x61])),
        ] {
            let err = basic_credentials(&basic(&value)).err().unwrap();
            assert_eq!(err.code(), "invalid_client", "{value}");
            assert_eq!(err.status(), axum::http::StatusCode::UNAUTHORIZED);
        }
    }

    #[test]
    fn one_method_per_request() {
        let params = OAuthParams::parse(b"client_id=a&client_secret=b").unwrap();
        let err = presented(&basic(&format!("Basic {}", b64("a:b"))), &params)
            .err()
            .unwrap();
        assert_eq!(err.code(), "invalid_request");
        let params = OAuthParams::parse(b"client_id=other").unwrap();
        let err = presented(&basic(&format!("Basic {}", b64("a:b"))), &params)
            .err()
            .unwrap();
        assert_eq!(err.code(), "invalid_request");
        let params = OAuthParams::parse(b"client_secret=b").unwrap();
        assert!(presented(&HeaderMap::new(), &params).is_err());
        let params = OAuthParams::parse(b"client_id=a").unwrap();
        let p = presented(&HeaderMap::new(), &params).unwrap().unwrap();
        assert_eq!(p.client_id, "a");
        assert!(p.secret.is_none());
    }
}

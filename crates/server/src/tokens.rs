//! The tokens the issuer hands out: signed access tokens (RFC 9068 JWTs) and opaque refresh
//! tokens.
//!
//! An access token's header is `{"alg", "typ": "at+jwt", "kid"}` and its claims:
//!
//! | claim | value |
//! |---|---|
//! | `iss` | the configured issuer |
//! | `sub` | the user's stable id (never the username); for `client_credentials`, the client id |
//! | `aud` | the configured audience |
//! | `exp`, `iat` | issue time + `access_ttl`, issue time |
//! | `jti` | 128 random bits, base64url |
//! | `roles` | the user's roles (empty for a client acting for itself) |
//! | `sid` | the refresh family (absent for `client_credentials`, which has none) |
//! | `client_id`, `scope` | where a client is involved (`scope` space-separated, RFC 9068 §2.2.3) |
//!
//! A refresh token is 256 random bits (aws-lc-rs), base64url without padding (43
//! characters). The issuer keeps only its [`TokenHash`]; the value itself exists only in the
//! answer to the client.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use tessera_jwt::{Header, SecretString, SigningKey};

use crate::store::TokenHash;

/// The `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A refresh token longer than this is not one of ours (checked before hashing).
pub const MAX_REFRESH_TOKEN_LEN: usize = 512;

/// What can go wrong making a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The random generator failed.
    #[error("the random generator failed")]
    Random,
    /// Signing failed (a key problem, never the client's).
    #[error("signing the access token failed: {0}")]
    Sign(#[from] tessera_jwt::Error),
}

/// Who an access token is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// `sub`: the user's id, or the client id for a client acting for itself.
    pub sub: &'a str,
    /// `roles`.
    pub roles: &'a [String],
    /// `sid`: the refresh family, if there is one.
    pub sid: Option<&'a str>,
    /// `client_id`, where a client is involved.
    pub client_id: Option<&'a str>,
    /// Granted scopes (`scope`, space-separated; omitted when empty).
    pub scopes: &'a [String],
}

/// The fixed parts of every access token.
#[derive(Debug, Clone)]
pub struct AccessTokenSettings {
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Lifetime in seconds.
    pub ttl: i64,
}

/// A signed access token.
#[derive(Clone)]
pub struct AccessToken {
    /// The compact JWS.
    pub token: String,
    /// Seconds until it expires (`expires_in`).
    pub expires_in: i64,
    /// Its `jti`.
    pub jti: String,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("jti", &self.jti)
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    roles: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// Signs an access token for `subject` at `now` with `key` (the key manager's active key;
/// its `kid` goes in the header).
pub fn access_token(
    key: &SigningKey,
    settings: &AccessTokenSettings,
    subject: &Subject<'_>,
    now: i64,
) -> Result<AccessToken, TokenError> {
    let jti = random_b64::<16>()?;
    let ttl = settings.ttl.max(1);
    let claims = Claims {
        iss: &settings.issuer,
        sub: subject.sub,
        aud: &settings.audience,
        exp: now.saturating_add(ttl),
        iat: now,
        jti: &jti,
        roles: subject.roles,
        sid: subject.sid,
        client_id: subject.client_id,
        scope: (!subject.scopes.is_empty()).then(|| subject.scopes.join(" ")),
    };
    let header = Header::for_key(key).with_typ(ACCESS_TOKEN_TYP);
    let token = tessera_jwt::encode(key, &header, &claims)?;
    Ok(AccessToken {
        token,
        expires_in: ttl,
        jti,
    })
}

/// A new opaque refresh token: the value for the client, and the hash for the store.
pub struct NewRefreshToken {
    /// The value handed to the client.
    pub value: SecretString,
    /// What the store keeps.
    pub hash: TokenHash,
}

impl fmt::Debug for NewRefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRefreshToken")
            .field("value", &"[redacted]")
            .field("hash", &self.hash)
            .finish()
    }
}

impl NewRefreshToken {
    /// 256 random bits, base64url.
    pub fn generate() -> Result<Self, TokenError> {
        let value = SecretString::new(random_b64::<32>()?);
        let hash = TokenHash::of(value.expose());
        Ok(Self { value, hash })
    }
}

/// The hash of a presented refresh token, or `None` if it cannot be one of ours (empty, or
/// longer than [`MAX_REFRESH_TOKEN_LEN`]): such a value is simply not a live token.
pub fn presented_refresh_token(value: &str) -> Option<TokenHash> {
    (!value.is_empty() && value.len() <= MAX_REFRESH_TOKEN_LEN).then(|| TokenHash::of(value))
}

fn random_b64<const N: usize>() -> Result<String, TokenError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TokenError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};
    use tessera_jwt::{Algorithm, FixedClock, KeySet, Validation};

    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn settings() -> AccessTokenSettings {
        AccessTokenSettings {
            issuer: "https://auth.example.com".to_owned(),
            audience: "tessera".to_owned(),
            ttl: 900,
        }
    }

    fn verify(key: &SigningKey, token: &str) -> tessera_jwt::Verified<Value> {
        let keys = KeySet::new(vec![key.verifying_key().unwrap()]);
        let validation = Validation::new([key.algorithm()])
            .issuer("https://auth.example.com")
            .audience("tessera")
            .typ("at+jwt")
            .clock(Arc::new(FixedClock::new(NOW + 10)));
        tessera_jwt::verify(token, &keys, &validation).unwrap()
    }

    #[test]
    fn user_access_token_has_the_pinned_shape() {
        let key = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("k1");
        let roles = vec!["admin".to_owned(), "user".to_owned()];
        let token = access_token(
            &key,
            &settings(),
            &Subject {
                sub: "0b7c…-user-id",
                roles: &roles,
                sid: Some("family-1"),
                client_id: None,
                scopes: &[],
            },
            NOW,
        )
        .unwrap();
        assert_eq!(token.expires_in, 900);
        let verified = verify(&key, &token.token);
        let header = verified.header();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some("k1"));
        let claims = verified.claims();
        let jti = claims["jti"].as_str().unwrap().to_owned();
        assert_eq!(jti, token.jti);
        assert_eq!(jti.len(), 22); // 128 bits
        assert_eq!(
            claims,
            &json!({
                "iss": "https://auth.example.com", "sub": "0b7c…-user-id", "aud": "tessera",
                "exp": NOW + 900, "iat": NOW, "jti": jti, "roles": ["admin", "user"],
                "sid": "family-1",
            })
        );
    }

    #[test]
    fn client_access_token_names_client_and_scope() {
        let key = SigningKey::generate(Algorithm::EdDSA)
            .unwrap()
            .with_kid("k2");
        let scopes = vec!["read".to_owned(), "write".to_owned()];
        let token = access_token(
            &key,
            &settings(),
            &Subject {
                sub: "client-9",
                roles: &[],
                sid: None,
                client_id: Some("client-9"),
                scopes: &scopes,
            },
            NOW,
        )
        .unwrap();
        let verified = verify(&key, &token.token);
        let claims = verified.claims();
        assert_eq!(claims["client_id"], "client-9");
        assert_eq!(claims["scope"], "read write");
        assert_eq!(claims["roles"], json!([]));
        assert!(claims.get("sid").is_none());
    }

    #[test]
    fn jtis_are_unique() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let subject = Subject {
            sub: "u",
            roles: &[],
            sid: None,
            client_id: None,
            scopes: &[],
        };
        let a = access_token(&key, &settings(), &subject, NOW).unwrap();
        let b = access_token(&key, &settings(), &subject, NOW).unwrap();
        assert_ne!(a.jti, b.jti);
        assert!(!format!("{a:?}").contains(&a.token));
    }

    #[test]
    fn refresh_tokens_are_256_random_bits_known_by_hash() {
        let a = NewRefreshToken::generate().unwrap();
        let b = NewRefreshToken::generate().unwrap();
        assert_eq!(a.value.expose().len(), 43);
        let decoded = URL_SAFE_NO_PAD.decode(a.value.expose()).unwrap();
        assert_eq!(decoded.len(), 32);
        assert_ne!(a.value.expose(), b.value.expose());
        assert_eq!(a.hash, TokenHash::of(a.value.expose()));
        assert_eq!(presented_refresh_token(a.value.expose()), Some(a.hash));
        assert!(!format!("{a:?}").contains(a.value.expose()));
        assert_eq!(presented_refresh_token(""), None);
        assert_eq!(presented_refresh_token(&"a".repeat(513)), None);
    }
}

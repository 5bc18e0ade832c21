//! # tessera-jwt
//!
//! The JOSE core of tessera: compact JWS signing and verification (RFC 7515), JWT claims
//! validation (RFC 7519), JWK and JWK Sets (RFC 7517, RFC 7518 §6, RFC 8037) and thumbprints
//! (RFC 7638), on aws-lc-rs. No I/O, no async: the issuer, the verifier middleware and the CLI
//! build on it.
//!
//! Algorithms: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA (Ed25519).
//!
//! ```
//! use std::sync::Arc;
//! use serde_json::json;
//! use tessera_jwt::{Algorithm, FixedClock, Header, KeySet, SigningKey, Validation};
//!
//! # fn main() -> Result<(), tessera_jwt::Error> {
//! // The issuer's key, bound to ES256 when it is made.
//! let key = SigningKey::generate(Algorithm::ES256)?.with_kid("2026-11");
//! let token = tessera_jwt::encode(
//!     &key,
//!     &Header::for_key(&key).with_typ("at+jwt"),
//!     &json!({"iss": "https://auth.example.com", "sub": "u-42", "aud": "orders",
//!             "exp": 1_800_000_900, "iat": 1_800_000_000, "roles": ["admin"]}),
//! )?;
//!
//! // A service trusts the issuer's public keys (a JWKS) and says what it accepts.
//! let jwks = KeySet::new(vec![key.verifying_key()?]).to_public_jwks()?;
//! let keys = KeySet::from_jwks(&jwks, &[Algorithm::ES256]);
//! let validation = Validation::new([Algorithm::ES256])
//!     .issuer("https://auth.example.com")
//!     .audience("orders")
//!     .typ("at+jwt")
//!     .clock(Arc::new(FixedClock::new(1_800_000_100)));
//! let verified = tessera_jwt::verify::<serde_json::Value>(&token, &keys, &validation)?;
//! assert_eq!(verified.registered().sub.as_deref(), Some("u-42"));
//! assert_eq!(verified.claims()["roles"][0], "admin");
//!
//! // Fifteen minutes later the token has expired, and the error says when.
//! let late = validation.clone().leeway(0).clock(Arc::new(FixedClock::new(1_800_000_900)));
//! let err = tessera_jwt::verify::<serde_json::Value>(&token, &keys, &late).unwrap_err();
//! assert_eq!(err.to_string(), "token expired at 2027-01-15T08:15:00Z (now 2027-01-15T08:15:00Z)");
//! # Ok(())
//! # }
//! ```
//!
//! ## Threat model
//!
//! Tokens are attacker-controlled input. What this crate holds against them:
//!
//! - **The verifier decides the algorithm.** Every key is bound to one [`Algorithm`] when it is
//!   made; the header's `alg` must be that one and among those the [`Validation`] allows. The
//!   header's `kid` only chooses among keys the caller already trusts. `none` does not exist:
//!   there is no variant for it. An RSA or EC public key can never be used as an HMAC secret.
//! - **Headers never supply keys:** `jku`, `x5u`, `jwk`, `x5c` are ignored for key selection.
//!   An unknown `crit` extension rejects the token.
//! - **Strict parsing, bounded work:** a size limit is checked before anything is decoded;
//!   base64url is strict (no padding, no `+/`, canonical trailing bits); JSON is strict
//!   (duplicate member names rejected, nesting bounded); registered claims of the wrong type are
//!   errors, never skipped; dates must be numbers between 1970 and 9999; a token without `kid`
//!   is tried against at most [`MAX_CANDIDATES`] keys.
//! - **Signatures:** ECDSA signatures must be fixed-length `r‖s` (DER is rejected), RSA keys
//!   have at least 2048 bits, HMAC secrets are at least as long as the hash. A failed signature
//!   says only "invalid signature".
//! - **Secrets** are zeroized on drop, redacted in `Debug`, and HMAC tags are compared in
//!   constant time by aws-lc-rs.
//! - **Time is injected** through a [`Clock`], so expiry rules are testable without sleeping.
//!
//! Reading a token without verifying it is possible only through [`dangerous`]. A verifier that
//! must route a token by its `iss` before verifying it parses it once as an [`UnverifiedJwt`],
//! which shows the header and the `iss` under a name that says it is unverified, and nothing
//! else until it is verified.

pub mod algorithm;
mod b64;
pub mod claims;
mod clock;
pub mod dangerous;
mod error;
mod fast_path;
mod header;
pub mod json;
pub mod jwk;
mod key;
mod keyset;
mod token;
mod unverified;
mod validation;

pub use algorithm::{Algorithm, Curve, Family};
pub use claims::{Audience, NumericDate, RegisteredClaims};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{Error, Result, Untrusted};
pub use header::Header;
pub use jwk::{Jwk, JwkOrSet, JwkSet, SecretString};
pub use key::{MAX_RSA_BITS, MIN_RSA_BITS, SigningKey, VerifyingKey};
pub use keyset::{KeySet, KeySource, MAX_CANDIDATES};
pub use token::{UnverifiedToken, Verified, VerifiedJws, encode, sign_jws, verify, verify_jws};
pub use unverified::UnverifiedJwt;
pub use validation::{DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_LEN, Validation};

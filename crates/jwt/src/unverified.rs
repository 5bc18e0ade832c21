//! A JWT parsed once, before it is verified: for a verifier that must read the token's `iss`
//! to choose whose keys and rules verify it (tessera-guard), without parsing it a second time.
//!
//! [`UnverifiedJwt::parse`] does all the parsing: the size limit, the split, strict base64url,
//! the header and the claims set (strict JSON). What it lets a caller read before the
//! signature is checked is what routing needs, under names that say it is not trusted; only
//! [`UnverifiedJwt::verify`] gives the claims, as a [`Verified`] token.
//!
//! It answers every token as `verify::<Map<String, Value>>` does, with the same errors in the
//! same order: a payload that does not decode, or is not a claims set, is found while
//! parsing but reported only where `verify` reports it, after the signature holds.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::Result;
use crate::header::Header;
use crate::keyset::KeySource;
use crate::token::{UnverifiedToken, Verified, not_a_claims_set, payload_not_base64url};
use crate::validation::Validation;

/// A JWT whose header and claims set are parsed and whose signature is NOT checked.
///
/// The header is readable (it only selects among keys the verifier trusts), and so is the
/// `iss` claim through [`unverified_issuer`](Self::unverified_issuer), to route the token to
/// an issuer; every other claim is reachable only through [`verify`](Self::verify).
///
/// ```
/// use tessera_jwt::{Algorithm, Header, KeySet, SigningKey, UnverifiedJwt, Validation};
/// # fn main() -> Result<(), tessera_jwt::Error> {
/// let key = SigningKey::hmac(Algorithm::HS256, &[7u8; 32])?;
/// let claims = serde_json::json!({"iss": "https://auth.example.com", "exp": 4_000_000_000u64});
/// let token = tessera_jwt::encode(&key, &Header::new(Algorithm::HS256), &claims)?;
///
/// let parsed = UnverifiedJwt::parse(&token, 16 * 1024)?;
/// // Only to choose whose keys and rules apply: nothing read here is trusted.
/// assert_eq!(parsed.unverified_issuer()?, Some("https://auth.example.com"));
/// let keys = KeySet::new(vec![key.verifying_key()?]);
/// let validation = Validation::new([Algorithm::HS256]).issuer("https://auth.example.com");
/// let verified = parsed.verify(&keys, &validation)?;
/// assert_eq!(verified.claims()["exp"], 4_000_000_000u64);
/// # Ok(())
/// # }
/// ```
pub struct UnverifiedJwt<'a> {
    token: UnverifiedToken<'a>,
    claims: std::result::Result<Map<String, Value>, PayloadProblem>,
}

/// Why the payload is not a claims set: kept, not raised, until the signature is checked.
enum PayloadProblem {
    NotBase64url,
    NotClaimsSet(String),
}

impl PayloadProblem {
    fn error(&self) -> crate::Error {
        match self {
            PayloadProblem::NotBase64url => payload_not_base64url(),
            PayloadProblem::NotClaimsSet(reason) => not_a_claims_set(reason),
        }
    }
}

impl fmt::Debug for UnverifiedJwt<'_> {
    /// The header only: unverified claims are not written anywhere, logs included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedJwt")
            .field("header", self.token.header())
            .finish_non_exhaustive()
    }
}

impl<'a> UnverifiedJwt<'a> {
    /// Parses a compact JWS whose payload should be a JWT claims set, refusing tokens longer
    /// than `max_len` before decoding anything. Fails as [`UnverifiedToken::parse`] does (size,
    /// segments, base64url of the header and signature, header rules); a payload that is not a
    /// claims set is an error of [`verify`](Self::verify), as in [`crate::verify`].
    pub fn parse(token: &'a str, max_len: usize) -> Result<Self> {
        let token = UnverifiedToken::parse(token, max_len)?;
        let claims = match crate::b64::decode(token.payload_b64()) {
            None => Err(PayloadProblem::NotBase64url),
            Some(bytes) => crate::json::parse_object(&bytes).map_err(PayloadProblem::NotClaimsSet),
        };
        Ok(UnverifiedJwt { token, claims })
    }

    /// The header: safe to read, since it only selects among keys the verifier trusts.
    pub fn header(&self) -> &Header {
        self.token.header()
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.token.header().kid.as_deref()
    }

    /// The `iss` claim as the token states it, NOT verified: anyone can write any issuer. Use
    /// it only to choose which issuer's keys and [`Validation`] then verify the token (which
    /// checks `iss` again). `None` when `iss` is absent or not a string; the error `verify`
    /// would give when the payload is not a claims set.
    pub fn unverified_issuer(&self) -> Result<Option<&str>> {
        match &self.claims {
            Ok(claims) => Ok(claims.get("iss").and_then(Value::as_str)),
            Err(problem) => Err(problem.error()),
        }
    }

    /// Verifies the parsed token: header rules (`alg` allowed and bound to the selected key,
    /// `crit`, `typ`), the signature over the token's own `header.payload` bytes, then the
    /// claims against `validation`; the same checks, results and errors as
    /// [`crate::verify`]`::<Map<String, Value>>` on the same token, except the size limit,
    /// which was `parse`'s `max_len` rather than `validation`'s.
    ///
    /// It borrows the token, so a caller may try again with other keys (a refreshed JWKS)
    /// without parsing anything again.
    pub fn verify(
        &self,
        keys: &impl KeySource,
        validation: &Validation,
    ) -> Result<Verified<Map<String, Value>>> {
        self.token.check_signature(keys, validation)?;
        let claims = self.claims.as_ref().map_err(PayloadProblem::error)?;
        let header = self.token.header();
        let registered = validation.check_claims(header, claims)?;
        Ok(Verified::new(header.clone(), registered, claims.clone()))
    }
}

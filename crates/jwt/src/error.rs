//! The one error type of `tessera-jwt`.
//!
//! Messages are written for the person reading them: a rejected token says why, with the
//! values involved, except a signature failure, which says only "invalid signature" so that
//! nothing about the key or the computation leaks.

use crate::algorithm::Algorithm;
use crate::claims::NumericDate;

/// Everything that can go wrong when loading keys, signing or verifying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is not a well-formed compact JWS (segments, base64url, JSON).
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token is longer than the configured limit; nothing of it was decoded.
    #[error("token too large: {len} bytes, the limit is {max}")]
    TooLarge {
        /// Length of the token in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The header names an algorithm that the verifier does not accept (or `none`).
    #[error("algorithm not allowed: {0}")]
    AlgorithmNotAllowed(String),
    /// The signature does not verify. Deliberately carries no detail.
    #[error("invalid signature")]
    InvalidSignature,
    /// No trusted key matches the token's `kid` and algorithm.
    #[error("no matching key: {0}")]
    NoMatchingKey(String),
    /// The selected key may not be used to verify signatures (`use`/`key_ops`).
    #[error("key not usable for verification: {0}")]
    KeyNotUsable(String),
    /// A header parameter is invalid.
    #[error("invalid header: {0}")]
    InvalidHeader(String),
    /// The header lists a critical extension (`crit`) that this verifier does not understand.
    #[error("unsupported critical header parameter: {0}")]
    UnsupportedCritical(String),
    /// The payload is not a JSON claims set (use JWS-only verification for other payloads).
    #[error("invalid claims: {0}")]
    InvalidClaims(String),
    /// A registered claim has the wrong JSON type or an out-of-range value.
    #[error("invalid claim `{claim}`: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `exp` is in the past.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The token's `exp`.
        exp: NumericDate,
        /// The verifier's clock.
        now: NumericDate,
    },
    /// `nbf` is in the future.
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: NumericDate,
        /// The verifier's clock.
        now: NumericDate,
    },
    /// `iat` is in the future.
    #[error("token issued in the future at {iat} (now {now})")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: NumericDate,
        /// The verifier's clock.
        now: NumericDate,
    },
    /// `iat` is older than the configured maximum age.
    #[error("token too old: issued at {iat}, maximum age {max_age}s (now {now})")]
    TooOld {
        /// The token's `iat`.
        iat: NumericDate,
        /// The configured maximum age in seconds.
        max_age: u64,
        /// The verifier's clock.
        now: NumericDate,
    },
    /// A claim the verifier requires is absent.
    #[error("missing required claim `{0}`")]
    MissingClaim(String),
    /// `iss` is not the expected issuer.
    #[error("issuer mismatch: expected {expected}, got {got}")]
    IssuerMismatch {
        /// The accepted issuer(s).
        expected: String,
        /// The token's issuer.
        got: String,
    },
    /// `aud` names none of the accepted audiences.
    #[error("audience mismatch: expected {expected}, got {got}")]
    AudienceMismatch {
        /// The accepted audience(s).
        expected: String,
        /// The token's audience(s).
        got: String,
    },
    /// `sub` is not the expected subject.
    #[error("subject mismatch: expected {expected}, got {got}")]
    SubjectMismatch {
        /// The expected subject.
        expected: String,
        /// The token's subject.
        got: String,
    },
    /// The header `typ` is not the expected type.
    #[error("type mismatch: expected typ {expected}, got {got}")]
    TypeMismatch {
        /// The expected `typ`.
        expected: String,
        /// The token's `typ`.
        got: String,
    },
    /// A check supplied by the caller rejected the token.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The claims are valid JSON but do not fit the caller's claims type.
    #[error("claims do not match the expected shape: {0}")]
    ClaimsShape(String),
    /// Key material could not be loaded or is unacceptable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The key is bound to one algorithm and another was asked of it.
    #[error("key is for {key}, not {requested}")]
    KeyAlgorithmMismatch {
        /// The key's algorithm.
        key: Algorithm,
        /// The algorithm asked for.
        requested: Algorithm,
    },
    /// The key does not fix the algorithm and none was given.
    #[error("the key does not fix the algorithm; choose one of {0}")]
    AlgorithmRequired(String),
    /// Claims or header could not be serialized.
    #[error("could not serialize: {0}")]
    Serialize(String),
    /// The crypto library failed to sign, generate or export a key.
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

impl Error {
    /// True when the error is a verdict on a token (exit 1 in the CLI), false when it is a
    /// problem with keys, configuration or the caller's own data.
    pub fn is_token_rejection(&self) -> bool {
        !matches!(
            self,
            Error::InvalidKey(_)
                | Error::KeyAlgorithmMismatch { .. }
                | Error::AlgorithmRequired(_)
                | Error::Serialize(_)
                | Error::Crypto(_)
        )
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

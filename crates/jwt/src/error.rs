//! The one error type of `tessera-jwt`.
//!
//! Messages are written for the person reading them: a rejected token says why, with the
//! values involved, except a signature failure, which says only "invalid signature" so that
//! nothing about the key or the computation leaks.
//!
//! Many messages quote what the token said (`alg`, `kid`, `typ`, `crit` names, claims), and
//! messages are logged: every string is written through [`Untrusted`], so that a newline or
//! another control character in a token cannot forge a log line or hide text.

use std::fmt;

use crate::algorithm::Algorithm;
use crate::claims::NumericDate;

/// A string that came from outside (a token, a request), shown so that it cannot forge or
/// disguise a log line: control characters (newlines among them), Unicode format characters
/// (bidirectional overrides, zero-width characters) and the backslash are written as escapes
/// (`\n`, `\u{202e}`, `\\`), and past [`Untrusted::MAX_CHARS`] characters the rest is cut
/// (`…`). Ordinary text, quotes included, is shown as it is.
///
/// ```
/// use tessera_jwt::Untrusted;
/// assert_eq!(Untrusted("RS256\nINFO forged").to_string(), "RS256\\nINFO forged");
/// assert_eq!(Untrusted("kid-1").to_string(), "kid-1");
/// ```
#[derive(Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl Untrusted<'_> {
    /// Characters shown before the rest is cut.
    pub const MAX_CHARS: usize = 200;
}

/// Unicode format characters (category Cf) that change how text around them is shown:
/// bidirectional controls and zero-width characters.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        for (i, c) in self.0.chars().enumerate() {
            if i == Self::MAX_CHARS {
                return f.write_char('…');
            }
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() || is_format(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Everything that can go wrong when loading keys, signing or verifying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is not a well-formed compact JWS (segments, base64url, JSON).
    #[error("malformed token: {}", Untrusted(.0))]
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
    #[error("algorithm not allowed: {}", Untrusted(.0))]
    AlgorithmNotAllowed(String),
    /// The signature does not verify. Deliberately carries no detail.
    #[error("invalid signature")]
    InvalidSignature,
    /// No trusted key matches the token's `kid` and algorithm.
    #[error("no matching key: {}", Untrusted(.0))]
    NoMatchingKey(String),
    /// The selected key may not be used to verify signatures (`use`/`key_ops`).
    #[error("key not usable for verification: {}", Untrusted(.0))]
    KeyNotUsable(String),
    /// A header parameter is invalid.
    #[error("invalid header: {}", Untrusted(.0))]
    InvalidHeader(String),
    /// The header lists a critical extension (`crit`) that this verifier does not understand.
    #[error("unsupported critical header parameter: {}", Untrusted(.0))]
    UnsupportedCritical(String),
    /// The payload is not a JSON claims set (use JWS-only verification for other payloads).
    #[error("invalid claims: {}", Untrusted(.0))]
    InvalidClaims(String),
    /// A registered claim has the wrong JSON type or an out-of-range value.
    #[error("invalid claim `{claim}`: {}", Untrusted(reason))]
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
    #[error("missing required claim `{}`", Untrusted(.0))]
    MissingClaim(String),
    /// `iss` is not the expected issuer.
    #[error(
        "issuer mismatch: expected {}, got {}",
        Untrusted(expected),
        Untrusted(got)
    )]
    IssuerMismatch {
        /// The accepted issuer(s).
        expected: String,
        /// The token's issuer.
        got: String,
    },
    /// `aud` names none of the accepted audiences.
    #[error(
        "audience mismatch: expected {}, got {}",
        Untrusted(expected),
        Untrusted(got)
    )]
    AudienceMismatch {
        /// The accepted audience(s).
        expected: String,
        /// The token's audience(s).
        got: String,
    },
    /// `sub` is not the expected subject.
    #[error(
        "subject mismatch: expected {}, got {}",
        Untrusted(expected),
        Untrusted(got)
    )]
    SubjectMismatch {
        /// The expected subject.
        expected: String,
        /// The token's subject.
        got: String,
    },
    /// The header `typ` is not the expected type.
    #[error(
        "type mismatch: expected typ {}, got {}",
        Untrusted(expected),
        Untrusted(got)
    )]
    TypeMismatch {
        /// The expected `typ`.
        expected: String,
        /// The token's `typ`.
        got: String,
    },
    /// A check supplied by the caller rejected the token.
    #[error("rejected: {}", Untrusted(.0))]
    Rejected(String),
    /// The claims are valid JSON but do not fit the caller's claims type.
    #[error("claims do not match the expected shape: {}", Untrusted(.0))]
    ClaimsShape(String),
    /// Key material could not be loaded or is unacceptable.
    #[error("invalid key: {}", Untrusted(.0))]
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
    #[error("the key does not fix the algorithm; choose one of {}", Untrusted(.0))]
    AlgorithmRequired(String),
    /// Claims or header could not be serialized.
    #[error("could not serialize: {}", Untrusted(.0))]
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

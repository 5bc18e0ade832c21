//! The one error type of `tessera-guard`, with nested enums for configuration and key fetches.
//!
//! Strings that come from a token or a remote server are written through
//! [`Untrusted`](tessera_jwt::Untrusted): a control character in them cannot forge a log line.

use tessera_jwt::Untrusted;

/// Everything that can go wrong when configuring the verifier or verifying a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable; found when it is built, never per request.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The token's `iss` names no issuer this verifier trusts. No key was fetched for it.
    #[error("untrusted issuer {:?}", Untrusted(.0))]
    UnknownIssuer(String),
    /// The token carries no `iss` claim (or not a string), so no issuer can be chosen.
    #[error("the token names no issuer (`iss`)")]
    MissingIssuer,
    /// The token was rejected by `tessera-jwt` (signature, algorithm, expiry, audience…).
    #[error(transparent)]
    Token(#[from] tessera_jwt::Error),
    /// The issuer's keys have never been fetched successfully, so nothing can be verified.
    /// Not the token's fault: the answer is 503, not 401.
    #[error("the keys of issuer {issuer} are not available: {}", Untrusted(reason))]
    KeysUnavailable {
        /// The issuer.
        issuer: String,
        /// Why the last fetch failed.
        reason: String,
    },
}

impl Error {
    /// True when the error is a verdict on the token (answered with 401), false when it is a
    /// problem on the verifier's side (configuration, keys not available).
    pub fn is_token_rejection(&self) -> bool {
        match self {
            Error::UnknownIssuer(_) | Error::MissingIssuer => true,
            Error::Token(e) => e.is_token_rejection(),
            Error::Config(_) | Error::KeysUnavailable { .. } => false,
        }
    }
}

/// A configuration the verifier refuses to run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A URL that does not parse, has no host, carries credentials or has another scheme than
    /// `https`/`http`.
    #[error("invalid URL {:?}: {reason}", Untrusted(url))]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `http` URL to a host that is not loopback. Outbound URLs must be `https`, except on
    /// 127.0.0.0/8, ::1 and `localhost`.
    #[error(
        "{url} must use https (plain http is accepted only for loopback hosts: 127.0.0.0/8, ::1, localhost)"
    )]
    InsecureUrl {
        /// The URL as given.
        url: String,
    },
    /// Remote key sets run a background task, so they must be built inside a tokio runtime.
    #[error("no tokio runtime: build remote key sets from inside a tokio runtime")]
    NoRuntime,
    /// The verifier has no issuer at all.
    #[error("the verifier trusts no issuer")]
    NoIssuer,
    /// Two issuer configurations claim the same `iss` value.
    #[error("issuer {0:?} is configured twice")]
    DuplicateIssuer(String),
    /// An issuer without an accepted audience: any token of that issuer, meant for any
    /// service, would pass.
    #[error("issuer {0:?} has no accepted audience")]
    NoAudience(String),
    /// An issuer without an accepted algorithm.
    #[error("issuer {0:?} accepts no algorithm")]
    NoAlgorithm(String),
    /// An issuer without keys: neither a key set, a JWKS URL, discovery nor a remote key set.
    #[error("issuer {0:?} has no keys: give a key set, a JWKS URL or discovery")]
    NoKeys(String),
    /// An option out of range (a minimum above its maximum, a zero size…).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The HTTP client could not be built (TLS roots…).
    #[error("could not build the HTTP client: {0}")]
    HttpClient(String),
}

/// Why fetching a JWKS (or a discovery document) failed. The previous keys stay in place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The request could not be made or the connection failed.
    #[error("request to {url} failed: {}", Untrusted(reason))]
    Request {
        /// The URL fetched.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The request did not complete within the configured timeout.
    #[error("request to {url} timed out")]
    Timeout {
        /// The URL fetched.
        url: String,
    },
    /// The server redirected to a URL the outbound rule refuses (plain http, too many hops).
    #[error("request to {url} was redirected to a URL that is not allowed")]
    Redirect {
        /// The URL fetched.
        url: String,
    },
    /// The server answered with an unexpected status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL fetched.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The response body is larger than the configured limit; reading stopped there.
    #[error("the response from {url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL fetched.
        url: String,
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The body is not a JWK Set.
    #[error("invalid JWKS from {url}: {}", Untrusted(reason))]
    InvalidJwks {
        /// The URL fetched.
        url: String,
        /// The parse error.
        reason: String,
    },
    /// The JWK Set holds no key usable with the configured algorithms.
    #[error("the JWKS from {url} has no usable key{}", Untrusted(skipped))]
    NoUsableKey {
        /// The URL fetched.
        url: String,
        /// The keys that were skipped, and why (empty when the set was empty).
        skipped: String,
    },
    /// The discovery document is not a JSON object, lacks an `issuer` or `jwks_uri` string, or
    /// has an endpoint member that is not a string.
    #[error("invalid discovery document from {url}: {}", Untrusted(reason))]
    InvalidDiscovery {
        /// The URL fetched.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The discovery document names another issuer than the configured one.
    #[error(
        "the discovery document names issuer {:?}, expected {expected:?}",
        Untrusted(got)
    )]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        got: String,
    },
    /// The discovery document's `jwks_uri` breaks the outbound URL rule.
    #[error("the discovery document's jwks_uri is not allowed: {0}")]
    JwksUri(ConfigError),
    /// Another endpoint of the discovery document (`authorization_endpoint`,
    /// `token_endpoint`) breaks the outbound URL rule.
    #[error("the discovery document's {name} is not allowed: {error}")]
    Endpoint {
        /// The document's member.
        name: &'static str,
        /// Why its URL is refused.
        error: ConfigError,
    },
    /// The issuer given to [`fetch_metadata`](crate::discovery::fetch_metadata) (or its
    /// discovery document's URL) breaks the outbound URL rule; nothing was fetched.
    #[error("the issuer's discovery document cannot be fetched: {0}")]
    IssuerUrl(ConfigError),
}

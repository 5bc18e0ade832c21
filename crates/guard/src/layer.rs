//! The tower [`Layer`] and [`Service`] that check `Authorization: Bearer` on every request,
//! and the one place where a refusal becomes an HTTP answer (RFC 6750 §3).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Json;
use axum::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::{Layer, Service};

use crate::error::Error;
use crate::verifier::{VerifiedToken, Verifier};

/// The description of a rejected token when details are off.
pub(crate) const GENERIC_INVALID: &str = "the access token is invalid";
/// At most this many characters of a description go into a header.
const MAX_DESCRIPTION: usize = 200;

/// Why a request is refused, before it becomes a response.
#[derive(Debug)]
pub(crate) enum Denial {
    /// No `Authorization` header, or another scheme than Bearer.
    NoCredentials,
    /// A malformed `Authorization` header.
    InvalidRequest(&'static str),
    /// The token was rejected (or its claims do not fit the handler's type).
    InvalidToken(Error),
    /// The token lacks a required role or scope.
    InsufficientScope {
        roles: Vec<String>,
        scopes: Vec<String>,
    },
    /// The issuer's keys are not available: not the client's fault.
    Unavailable(Error),
}

/// How refusals are written: the realm and whether to say why a token was rejected.
#[derive(Clone, Debug, Default)]
pub(crate) struct Challenge {
    realm: Option<String>,
    detailed: bool,
}

impl Challenge {
    /// The answer to a refused request: status, `WWW-Authenticate` and a JSON body
    /// `{"error", "error_description"}`. Internal detail only when configured.
    pub(crate) fn respond(&self, denial: &Denial) -> Response {
        let (status, code, description, scope) = match denial {
            Denial::NoCredentials => (
                StatusCode::UNAUTHORIZED,
                None,
                "a Bearer access token is required".to_owned(),
                None,
            ),
            Denial::InvalidRequest(why) => (
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                (*why).to_owned(),
                None,
            ),
            Denial::InvalidToken(e) => (
                StatusCode::UNAUTHORIZED,
                Some("invalid_token"),
                if self.detailed {
                    e.to_string()
                } else {
                    GENERIC_INVALID.to_owned()
                },
                None,
            ),
            Denial::InsufficientScope { roles, scopes } => {
                let mut needs = Vec::new();
                if !roles.is_empty() {
                    needs.push(format!("role {}", roles.join(", ")));
                }
                if !scopes.is_empty() {
                    needs.push(format!("scope {}", scopes.join(" ")));
                }
                (
                    StatusCode::FORBIDDEN,
                    Some("insufficient_scope"),
                    format!(
                        "the access token lacks the required {}",
                        needs.join(" and ")
                    ),
                    (!scopes.is_empty()).then(|| scopes.join(" ")),
                )
            }
            Denial::Unavailable(e) => {
                // Fetch failures are already logged (at warn) where they happen, once per attempt.
                tracing::debug!(error = %e, "token not verifiable: issuer keys unavailable");
                let body = json!({
                    "error": "temporarily_unavailable",
                    "error_description": "the access token cannot be verified right now; try again later",
                });
                return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            }
        };
        let description = sanitize(&description);
        let mut challenge = String::from("Bearer");
        let mut params = Vec::new();
        if let Some(realm) = &self.realm {
            params.push(format!("realm=\"{}\"", sanitize(realm)));
        }
        if let Some(code) = code {
            params.push(format!("error=\"{code}\""));
            params.push(format!("error_description=\"{description}\""));
        }
        if let Some(scope) = scope {
            params.push(format!("scope=\"{}\"", sanitize(&scope)));
        }
        if !params.is_empty() {
            challenge.push(' ');
            challenge.push_str(&params.join(", "));
        }
        let body = json!({
            "error": code.unwrap_or("unauthorized"),
            "error_description": description,
        });
        let mut response = (status, Json(body)).into_response();
        // The value is built from printable ASCII only (sanitized), so it always converts.
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Text safe inside a quoted string of `WWW-Authenticate` (RFC 6750 §3: `%x20-21 / %x23-5B /
/// %x5D-7E`): anything else becomes `'` (for `"` and `\`) or `?`, and long text is cut.
fn sanitize(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_DESCRIPTION)
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect();
    if text.chars().count() > MAX_DESCRIPTION {
        out.push_str("...");
    }
    out
}

/// The bearer token of a request: `Ok(None)` when there is none (no header, or another
/// scheme), `Err` when the header is malformed.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one Authorization header");
    }
    let Ok(value) = value.to_str() else {
        return Err("the Authorization header is not visible ASCII");
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err("the Bearer scheme needs a token");
    }
    if token.contains(' ') {
        return Err("expected exactly one Bearer token");
    }
    if !is_b64token(token) {
        return Err("the Bearer token has characters a token cannot have");
    }
    Ok(Some(token))
}

/// RFC 6750 §2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Where a [`GuardLayer`] takes the [`Verifier`] for each request, when the keys change while
/// the layer lives: an issuer checking its own tokens across key rotations builds a verifier
/// for each new key set and hands out the current one here.
///
/// An `Err` is not the client's fault: it is answered 503 `temporarily_unavailable`, as when
/// a remote issuer's keys were never fetched.
pub trait VerifierSource: Send + Sync + 'static {
    /// The verifier to check this request's token with.
    fn verifier(&self) -> Result<Arc<Verifier>, Error>;
}

/// A verifier fixed when the layer is built, or one asked for per request.
#[derive(Clone)]
enum Source {
    Fixed(Arc<Verifier>),
    PerRequest(Arc<dyn VerifierSource>),
}

struct GuardConfig {
    source: Source,
    challenge: Arc<Challenge>,
    roles: Vec<String>,
    scopes: Vec<String>,
}

impl GuardConfig {
    async fn authenticate(&self, headers: &HeaderMap) -> Result<VerifiedToken, Denial> {
        let token = match bearer_token(headers) {
            Ok(Some(token)) => token,
            Ok(None) => return Err(Denial::NoCredentials),
            Err(why) => return Err(Denial::InvalidRequest(why)),
        };
        let per_request;
        let verifier = match &self.source {
            Source::Fixed(verifier) => verifier,
            Source::PerRequest(source) => {
                per_request = source.verifier().map_err(Denial::Unavailable)?;
                &per_request
            }
        };
        let verified = verifier.verify(token).await.map_err(|e| {
            if matches!(e, Error::KeysUnavailable { .. }) {
                Denial::Unavailable(e)
            } else {
                tracing::debug!(error = %e, "bearer token rejected");
                Denial::InvalidToken(e)
            }
        })?;
        let missing_role = self.roles.iter().any(|r| !verified.has_role(r));
        let missing_scope = self.scopes.iter().any(|s| !verified.has_scope(s));
        if missing_role || missing_scope {
            return Err(Denial::InsufficientScope {
                roles: self.roles.clone(),
                scopes: self.scopes.clone(),
            });
        }
        Ok(verified)
    }
}

/// A tower [`Layer`] that verifies `Authorization: Bearer` on every request.
///
/// A request with a valid token (and the required roles and scopes) goes on with the
/// [`VerifiedToken`] in its extensions; any other is answered here, per RFC 6750:
///
/// | request | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no `Authorization`, or another scheme | 401 | `Bearer` (with `realm` if set) |
/// | malformed header (`Bearer` alone, two tokens, two headers) | 400 | `Bearer error="invalid_request", …` |
/// | token rejected (signature, expiry, audience, issuer…) | 401 | `Bearer error="invalid_token", error_description="…"` |
/// | required role or scope missing | 403 | `Bearer error="insufficient_scope", …` |
/// | issuer keys never fetched | 503 | (none) |
///
/// The body is always JSON `{"error": CODE, "error_description": TEXT}` (`unauthorized` as
/// the code when there was no token). A rejected token is described only as "the access
/// token is invalid" unless [`detailed_errors`](Self::detailed_errors) is on.
#[derive(Clone)]
pub struct GuardLayer {
    source: Source,
    challenge: Challenge,
    roles: Vec<String>,
    scopes: Vec<String>,
}

impl fmt::Debug for GuardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardLayer")
            .field("challenge", &self.challenge)
            .field("roles", &self.roles)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl GuardLayer {
    /// Verifies with this verifier; no realm, generic descriptions, no role or scope needed.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Self::with_source(Source::Fixed(verifier))
    }

    /// Verifies with the verifier `source` gives for each request (see [`VerifierSource`]);
    /// no realm, generic descriptions, no role or scope needed.
    pub fn from_source(source: impl VerifierSource) -> Self {
        Self::with_source(Source::PerRequest(Arc::new(source)))
    }

    fn with_source(source: Source) -> Self {
        GuardLayer {
            source,
            challenge: Challenge::default(),
            roles: Vec::new(),
            scopes: Vec::new(),
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenges.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.challenge.realm = Some(realm.into());
        self
    }

    /// Says why a token was rejected ("token expired at …") instead of the generic "the
    /// access token is invalid". Tells an attacker which check failed: for development.
    #[must_use]
    pub fn detailed_errors(mut self, on: bool) -> Self {
        self.challenge.detailed = on;
        self
    }

    /// Requires this role in the token's `roles` array (every required role must be there).
    #[must_use]
    pub fn require_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Requires this scope in `scope` (space-separated) or `scp` (array); every required
    /// scope must be there.
    #[must_use]
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            config: Arc::new(GuardConfig {
                source: self.source.clone(),
                challenge: Arc::new(self.challenge.clone()),
                roles: self.roles.clone(),
                scopes: self.scopes.clone(),
            }),
        }
    }
}

/// The [`Service`] made by [`GuardLayer`].
#[derive(Clone)]
pub struct GuardService<S> {
    inner: S,
    config: Arc<GuardConfig>,
}

impl<S: fmt::Debug> fmt::Debug for GuardService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for GuardService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            match config.authenticate(request.headers()).await {
                Ok(verified) => {
                    request.extensions_mut().insert(verified);
                    request.extensions_mut().insert(config.challenge.clone());
                    inner.call(request).await
                }
                Err(denial) => Ok(config.challenge.respond(&denial)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&HeaderMap::new()), Ok(None));
        assert_eq!(
            bearer_token(&auth(&[b"Bearer abc.def.ghi"])),
            Ok(Some("abc.def.ghi"))
        );
        assert_eq!(bearer_token(&auth(&[b"bearer  abc"])), Ok(Some("abc")));
        assert_eq!(bearer_token(&auth(&[b"Basic dXNlcjpwdw=="])), Ok(None));
        assert_eq!(bearer_token(&auth(&[b"Bearerabc"])), Ok(None));
        assert!(bearer_token(&auth(&[b"Bearer"])).is_err());
        assert!(bearer_token(&auth(&[b"Bearer   "])).is_err());
        assert!(bearer_token(&auth(&[b"Bearer a b"])).is_err());
        assert!(bearer_token(&auth(&[b"Bearer a,b"])).is_err());
        assert!(bearer_token(&auth(&[b"Bearer ==="])).is_err());
        assert!(bearer_token(&auth(&[b"Bearer a", b"Bearer b"])).is_err());
        assert!(bearer_token(&auth(&[b"Bearer \xe9t\xe9"])).is_err());
        assert_eq!(bearer_token(&auth(&[b"Bearer a+/b=="])), Ok(Some("a+/b==")));
    }

    #[test]
    fn descriptions_are_safe_quoted_strings() {
        assert_eq!(sanitize("a \"b\" \\c\n\u{e9}"), "a 'b' 'c??");
        let long = "x".repeat(500);
        assert_eq!(sanitize(&long).len(), MAX_DESCRIPTION + 3);
    }
}

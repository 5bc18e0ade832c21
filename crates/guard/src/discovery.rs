//! OpenID Connect Discovery: an issuer's provider metadata, read from
//! `{issuer}/.well-known/openid-configuration` and checked. [`RemoteKeySet::from_discovery`]
//! finds its `jwks_uri` this way; an application that runs a sign-in flow (it needs the
//! authorization and token endpoints too) calls [`fetch_metadata`] itself and keeps the answer
//! as long as it sees fit.
//!
//! [`RemoteKeySet::from_discovery`]: crate::RemoteKeySet::from_discovery

use std::time::Duration;

use reqwest::Url;
use reqwest::header;
use serde_json::{Map, Value};

use crate::error::{ConfigError, FetchError};
use crate::http::{read_limited, transport};
use crate::outbound::parse_outbound_url;

/// Limits of one discovery fetch.
///
/// ```
/// use std::time::Duration;
/// use tessera_guard::discovery::DiscoveryOptions;
/// let options = DiscoveryOptions::default()
///     .timeout(Duration::from_secs(5))
///     .max_response_bytes(64 * 1024);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct DiscoveryOptions {
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
}

impl Default for DiscoveryOptions {
    /// A 10-second timeout (5 to connect) and documents of at most 256 KiB, as
    /// [`RemoteOptions`](crate::RemoteOptions).
    fn default() -> Self {
        DiscoveryOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 256 * 1024,
        }
    }
}

impl DiscoveryOptions {
    /// Limit on the whole fetch, from connecting to the end of the body. Applied to each
    /// request, whatever the client's own timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit on establishing the connection. A setting of the client: it applies to clients
    /// built by [`client`](Self::client).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Limit on the document; reading stops as soon as it is passed.
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// An HTTP client for [`fetch_metadata`] with these timeouts, following only the
    /// redirects the outbound URL rule allows (never from `https` down to `http`, `http` only
    /// between loopback hosts, at most 5 hops).
    pub fn client(&self) -> Result<reqwest::Client, ConfigError> {
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(ConfigError::InvalidOption("a timeout is zero".into()));
        }
        if self.max_response_bytes == 0 {
            return Err(ConfigError::InvalidOption(
                "the response size limit is zero".into(),
            ));
        }
        crate::http::client(self.timeout, self.connect_timeout)
    }
}

/// An issuer's provider metadata (OpenID Connect Discovery §3), as far as tessera uses it.
/// Every URL in it passed [`check_outbound_url`](crate::check_outbound_url).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The document's `issuer`: always equal to the one asked for, byte for byte.
    pub issuer: String,
    /// Where the issuer's signing keys are (required).
    pub jwks_uri: Url,
    /// The OAuth 2.0 authorization endpoint, when the document names one.
    pub authorization_endpoint: Option<Url>,
    /// The OAuth 2.0 token endpoint, when the document names one.
    pub token_endpoint: Option<Url>,
}

/// The URL of `issuer`'s discovery document, `{issuer}/.well-known/openid-configuration`
/// (a terminating `/` of the issuer removed first, OpenID Connect Discovery §4). The issuer
/// and the document's URL must pass the outbound URL rule.
///
/// ```
/// use tessera_guard::discovery::discovery_url;
/// assert_eq!(
///     discovery_url("https://accounts.example.com/tenant/").unwrap().as_str(),
///     "https://accounts.example.com/tenant/.well-known/openid-configuration"
/// );
/// assert!(discovery_url("http://accounts.example.com").is_err());
/// ```
pub fn discovery_url(issuer: &str) -> Result<Url, ConfigError> {
    parse_outbound_url(issuer)?;
    parse_outbound_url(&format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
}

/// Fetches and checks `issuer`'s provider metadata with `client`.
///
/// - The issuer, the document's URL, and every URL the document names (`jwks_uri`,
///   `authorization_endpoint`, `token_endpoint`) must pass the outbound URL rule
///   ([`check_outbound_url`](crate::check_outbound_url): `https`, or `http` on loopback). A
///   member that is present but not a string, or breaks the rule, fails the fetch.
/// - The document's `issuer` must equal `issuer` exactly (OpenID Connect Discovery §4.3).
/// - The answer must be a 2xx within [`DiscoveryOptions::timeout`], and its body a strict
///   JSON object of at most [`DiscoveryOptions::max_response_bytes`] (reading stops there).
/// - Redirects are the client's policy: a client built by [`DiscoveryOptions::client`]
///   follows only those the outbound URL rule allows, one built with
///   `redirect::Policy::none()` none (a 3xx then fails as a status). Whatever the client,
///   a document reached at a URL that breaks the rule is refused.
///
/// Nothing is cached here.
///
/// ```no_run
/// use tessera_guard::discovery::{DiscoveryOptions, fetch_metadata};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = DiscoveryOptions::default();
/// let client = options.client()?;
/// let metadata = fetch_metadata(&client, "https://accounts.google.com", &options).await?;
/// println!("keys at {}", metadata.jwks_uri);
/// if let Some(token) = &metadata.token_endpoint {
///     println!("codes are redeemed at {token}");
/// }
/// # Ok(())
/// # }
/// ```
pub async fn fetch_metadata(
    client: &reqwest::Client,
    issuer: &str,
    options: &DiscoveryOptions,
) -> Result<ProviderMetadata, FetchError> {
    let document = discovery_url(issuer).map_err(FetchError::IssuerUrl)?;
    fetch_document(client, issuer, &document, options).await
}

/// [`fetch_metadata`] with the document's URL already made from `issuer`.
pub(crate) async fn fetch_document(
    client: &reqwest::Client,
    issuer: &str,
    document: &Url,
    options: &DiscoveryOptions,
) -> Result<ProviderMetadata, FetchError> {
    let response = client
        .get(document.clone())
        .header(header::ACCEPT, "application/json")
        .timeout(options.timeout)
        .send()
        .await
        .map_err(|e| transport(document, &e))?;
    if parse_outbound_url(response.url().as_str()).is_err() {
        return Err(FetchError::Redirect {
            url: document.to_string(),
        });
    }
    if !response.status().is_success() {
        return Err(FetchError::Status {
            url: document.to_string(),
            status: response.status().as_u16(),
        });
    }
    let body = read_limited(response, document, options.max_response_bytes).await?;
    let doc =
        tessera_jwt::json::parse_object(&body).map_err(|reason| FetchError::InvalidDiscovery {
            url: document.to_string(),
            reason,
        })?;
    metadata(issuer, document, &doc)
}

/// Checks a parsed document.
fn metadata(
    issuer: &str,
    document: &Url,
    doc: &Map<String, Value>,
) -> Result<ProviderMetadata, FetchError> {
    let invalid = |reason: String| FetchError::InvalidDiscovery {
        url: document.to_string(),
        reason,
    };
    match doc.get("issuer") {
        Some(Value::String(got)) if got == issuer => {}
        Some(Value::String(got)) => {
            return Err(FetchError::IssuerMismatch {
                expected: issuer.to_owned(),
                got: got.clone(),
            });
        }
        _ => return Err(invalid("no `issuer` string".into())),
    }
    let Some(Value::String(jwks_uri)) = doc.get("jwks_uri") else {
        return Err(invalid("no `jwks_uri` string".into()));
    };
    let jwks_uri = parse_outbound_url(jwks_uri).map_err(FetchError::JwksUri)?;
    let endpoint = |name: &'static str| match doc.get(name) {
        None => Ok(None),
        Some(Value::String(url)) => parse_outbound_url(url)
            .map(Some)
            .map_err(|error| FetchError::Endpoint { name, error }),
        Some(_) => Err(invalid(format!("`{name}` is not a string"))),
    };
    Ok(ProviderMetadata {
        issuer: issuer.to_owned(),
        jwks_uri,
        authorization_endpoint: endpoint("authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://auth.example.com";

    fn check(doc: Value) -> Result<ProviderMetadata, FetchError> {
        let document = discovery_url(ISSUER).unwrap();
        let Value::Object(doc) = doc else {
            panic!("not an object")
        };
        metadata(ISSUER, &document, &doc)
    }

    fn full() -> Value {
        serde_json::json!({
            "issuer": ISSUER,
            "jwks_uri": "https://auth.example.com/jwks",
            "authorization_endpoint": "https://auth.example.com/authorize",
            "token_endpoint": "http://127.0.0.1:9/token",
        })
    }

    #[test]
    fn a_full_document_gives_every_endpoint() {
        let m = check(full()).unwrap();
        assert_eq!(m.issuer, ISSUER);
        assert_eq!(m.jwks_uri.as_str(), "https://auth.example.com/jwks");
        assert_eq!(
            m.authorization_endpoint.unwrap().as_str(),
            "https://auth.example.com/authorize"
        );
        assert_eq!(
            m.token_endpoint.unwrap().as_str(),
            "http://127.0.0.1:9/token"
        );
    }

    #[test]
    fn endpoints_a_verifier_does_not_need_may_be_absent() {
        let m = check(serde_json::json!({
            "issuer": ISSUER,
            "jwks_uri": "https://auth.example.com/jwks",
        }))
        .unwrap();
        assert!(m.authorization_endpoint.is_none() && m.token_endpoint.is_none());
    }

    #[test]
    fn the_issuer_must_be_the_one_asked_for_exactly() {
        for other in ["https://auth.example.com/", "https://AUTH.example.com", "x"] {
            let mut doc = full();
            doc["issuer"] = other.into();
            assert_eq!(
                check(doc).unwrap_err(),
                FetchError::IssuerMismatch {
                    expected: ISSUER.into(),
                    got: other.into()
                }
            );
        }
        let mut doc = full();
        doc["issuer"] = 1.into();
        assert!(matches!(
            check(doc),
            Err(FetchError::InvalidDiscovery { .. })
        ));
    }

    #[test]
    fn every_url_must_pass_the_outbound_rule() {
        let mut doc = full();
        doc["jwks_uri"] = "http://auth.example.com/jwks".into();
        assert!(matches!(
            check(doc),
            Err(FetchError::JwksUri(ConfigError::InsecureUrl { .. }))
        ));
        let mut doc = full();
        doc.as_object_mut().unwrap().remove("jwks_uri");
        assert!(matches!(
            check(doc),
            Err(FetchError::InvalidDiscovery { .. })
        ));
        for (name, bad) in [
            ("token_endpoint", "http://auth.example.com/token"),
            ("authorization_endpoint", "ftp://127.0.0.1/authorize"),
            (
                "authorization_endpoint",
                "https://user:pw@auth.example.com/a",
            ),
        ] {
            let mut doc = full();
            doc[name] = bad.into();
            match check(doc) {
                Err(FetchError::Endpoint { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name} = {bad}: {other:?}"),
            }
        }
        let mut doc = full();
        doc["token_endpoint"] = 42.into();
        assert!(matches!(
            check(doc),
            Err(FetchError::InvalidDiscovery { .. })
        ));
    }

    #[test]
    fn the_issuer_itself_must_pass_the_outbound_rule() {
        assert!(matches!(
            discovery_url("http://auth.example.com"),
            Err(ConfigError::InsecureUrl { .. })
        ));
        assert_eq!(
            discovery_url("http://127.0.0.1:8080/").unwrap().as_str(),
            "http://127.0.0.1:8080/.well-known/openid-configuration"
        );
    }

    #[test]
    fn zero_limits_are_refused() {
        let zero = DiscoveryOptions::default().max_response_bytes(0);
        assert!(matches!(zero.client(), Err(ConfigError::InvalidOption(_))));
        let zero = DiscoveryOptions::default().timeout(Duration::ZERO);
        assert!(matches!(zero.client(), Err(ConfigError::InvalidOption(_))));
    }
}

//! The verifier over several issuers: the token's `iss` picks the issuer, whose keys and rules
//! then verify it in full.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tessera_jwt::{
    Algorithm, Clock, DEFAULT_MAX_TOKEN_LEN, Header, KeySet, RegisteredClaims, SystemClock,
    UnverifiedJwt, Validation,
};

use crate::cache::{CacheStats, TokenCache};
use crate::error::{ConfigError, Error};
use crate::outbound::parse_outbound_url;
use crate::remote::{RemoteKeySet, RemoteOptions};

/// Google's issuer, as its ID tokens write it (they also use [`GOOGLE_ISSUER_SHORT`]).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The other spelling of Google's issuer found in ID tokens.
pub const GOOGLE_ISSUER_SHORT: &str = "accounts.google.com";
/// Google's JWKS.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// At most this many characters of an untrusted `iss` are kept in an error.
const MAX_ISS_IN_ERROR: usize = 100;

enum KeysConfig {
    Unset,
    Static(Arc<KeySet>),
    JwksUrl(String),
    Discovery,
    Remote(RemoteKeySet),
}

/// What the verifier accepts from one issuer: its `iss` value(s), keys, audiences,
/// algorithms, required claims and optional `typ`.
///
/// ```
/// use tessera_guard::IssuerConfig;
/// use tessera_jwt::Algorithm;
/// let tessera = IssuerConfig::new("https://auth.example.com")
///     .discovery()
///     .audience("orders")
///     .algorithms([Algorithm::ES256])
///     .typ("at+jwt")
///     .require("sub");
/// let google = IssuerConfig::google("1234.apps.googleusercontent.com");
/// # let _ = (tessera, google);
/// ```
pub struct IssuerConfig {
    issuer: String,
    aliases: Vec<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    required: Vec<String>,
    typ: Option<String>,
    leeway: Option<u64>,
    keys: KeysConfig,
    remote_options: RemoteOptions,
}

impl fmt::Debug for IssuerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            KeysConfig::Unset => "unset".to_owned(),
            KeysConfig::Static(k) => format!("{} static keys", k.keys().len()),
            KeysConfig::JwksUrl(u) => format!("JWKS {u}"),
            KeysConfig::Discovery => "discovery".to_owned(),
            KeysConfig::Remote(r) => format!("remote {}", r.label()),
        };
        f.debug_struct("IssuerConfig")
            .field("issuer", &self.issuer)
            .field("aliases", &self.aliases)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("required", &self.required)
            .field("typ", &self.typ)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

impl IssuerConfig {
    /// An issuer, by the exact `iss` value its tokens carry. Give it keys
    /// ([`keys`](Self::keys), [`jwks_url`](Self::jwks_url), [`discovery`](Self::discovery) or
    /// [`remote`](Self::remote)), at least one audience and the algorithms it signs with.
    /// By default `exp` is required (as in [`Validation`]).
    pub fn new(issuer: impl Into<String>) -> Self {
        IssuerConfig {
            issuer: issuer.into(),
            aliases: Vec::new(),
            audiences: Vec::new(),
            algorithms: Vec::new(),
            required: Vec::new(),
            typ: None,
            leeway: None,
            keys: KeysConfig::Unset,
            remote_options: RemoteOptions::default(),
        }
    }

    /// Google's ID tokens for the app with this OAuth client id: issuers
    /// `https://accounts.google.com` and `accounts.google.com`, keys from
    /// [`GOOGLE_JWKS_URL`], audience the client id, RS256, `sub` required.
    pub fn google(client_id: impl Into<String>) -> Self {
        IssuerConfig::new(GOOGLE_ISSUER)
            .alias(GOOGLE_ISSUER_SHORT)
            .jwks_url(GOOGLE_JWKS_URL)
            .audience(client_id)
            .algorithms([Algorithm::RS256])
            .require("sub")
    }

    /// Another `iss` value that means the same issuer (same keys and rules).
    #[must_use]
    pub fn alias(mut self, issuer: impl Into<String>) -> Self {
        self.aliases.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` contains this (may be called more than once).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The algorithms this issuer signs with; keys from its JWKS are bound to these.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Requires a claim to be present (`exp` always is).
    #[must_use]
    pub fn require(mut self, claim: impl Into<String>) -> Self {
        self.required.push(claim.into());
        self
    }

    /// Requires the header `typ` (compared as a media type: `at+jwt` = `application/at+jwt`).
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Clock leeway in seconds for `exp`, `nbf`, `iat` (default: `tessera_jwt`'s 30 s).
    #[must_use]
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = Some(secs);
        self
    }

    /// Keys held locally, for services that have the issuer's keys.
    #[must_use]
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys = KeysConfig::Static(Arc::new(keys));
        self
    }

    /// Keys fetched from this JWKS URL (`https`, or `http` on a loopback host).
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.keys = KeysConfig::JwksUrl(url.into());
        self
    }

    /// Keys fetched from the `jwks_uri` of the issuer's discovery document,
    /// `{issuer}/.well-known/openid-configuration`.
    #[must_use]
    pub fn discovery(mut self) -> Self {
        self.keys = KeysConfig::Discovery;
        self
    }

    /// Keys from a remote key set built beforehand (to share it or read its counters).
    #[must_use]
    pub fn remote(mut self, keys: RemoteKeySet) -> Self {
        self.keys = KeysConfig::Remote(keys);
        self
    }

    /// Fetch and refresh options for [`jwks_url`](Self::jwks_url) and
    /// [`discovery`](Self::discovery).
    #[must_use]
    pub fn remote_options(mut self, options: RemoteOptions) -> Self {
        self.remote_options = options;
        self
    }

    fn build(self, clock: &Arc<dyn Clock>, max_token_len: usize) -> Result<Issuer, ConfigError> {
        if self.audiences.is_empty() {
            return Err(ConfigError::NoAudience(self.issuer));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm(self.issuer));
        }
        let keys = match self.keys {
            KeysConfig::Unset => return Err(ConfigError::NoKeys(self.issuer)),
            KeysConfig::Static(keys) => IssuerKeys::Static(keys),
            KeysConfig::Remote(remote) => IssuerKeys::Remote(remote),
            KeysConfig::JwksUrl(url) => IssuerKeys::Remote(RemoteKeySet::from_jwks_url(
                &url,
                &self.algorithms,
                self.remote_options,
            )?),
            KeysConfig::Discovery => {
                parse_outbound_url(&self.issuer)?;
                IssuerKeys::Remote(RemoteKeySet::from_discovery(
                    &self.issuer,
                    &self.algorithms,
                    self.remote_options,
                )?)
            }
        };
        let mut validation = Validation::new(self.algorithms)
            .issuer(self.issuer.clone())
            .clock(clock.clone())
            .max_token_len(max_token_len);
        for alias in &self.aliases {
            validation = validation.issuer(alias.clone());
        }
        for audience in self.audiences {
            validation = validation.audience(audience);
        }
        for claim in self.required {
            validation = validation.require(claim);
        }
        if let Some(typ) = self.typ {
            validation = validation.typ(typ);
        }
        if let Some(leeway) = self.leeway {
            validation = validation.leeway(leeway);
        }
        Ok(Issuer {
            name: Arc::from(self.issuer.as_str()),
            names: std::iter::once(self.issuer).chain(self.aliases).collect(),
            keys,
            validation,
        })
    }
}

#[derive(Debug)]
enum IssuerKeys {
    Static(Arc<KeySet>),
    Remote(RemoteKeySet),
}

#[derive(Debug)]
struct Issuer {
    name: Arc<str>,
    names: Vec<String>,
    keys: IssuerKeys,
    validation: Validation,
}

type Claims = Map<String, Value>;

impl Issuer {
    /// Verifies the token, parsed once by the caller, with this issuer's keys and rules. A
    /// refetched JWKS is tried on the same parsed token.
    async fn verify(
        &self,
        token: &UnverifiedJwt<'_>,
    ) -> Result<tessera_jwt::Verified<Claims>, Error> {
        let remote = match &self.keys {
            IssuerKeys::Static(keys) => return Ok(token.verify(&**keys, &self.validation)?),
            IssuerKeys::Remote(remote) => remote,
        };
        let seen = remote.keys();
        let first_error = match &seen {
            Some(keys) => match token.verify(&**keys, &self.validation) {
                // The only error a refetch can cure: the key is not (yet) in the set.
                Err(e @ tessera_jwt::Error::NoMatchingKey(_)) => Some(e),
                other => return Ok(other?),
            },
            None => None,
        };
        match remote.refresh_for_unknown_kid(seen.as_ref()).await {
            Some(keys) => Ok(token.verify(&*keys, &self.validation)?),
            None => match first_error {
                Some(e) => Err(e.into()),
                None => Err(Error::KeysUnavailable {
                    issuer: self.name.to_string(),
                    reason: remote
                        .last_error()
                        .unwrap_or_else(|| "no JWKS fetched yet".to_owned()),
                }),
            },
        }
    }
}

struct VerifiedInner {
    issuer: Arc<str>,
    header: Header,
    registered: RegisteredClaims,
    claims: Claims,
}

/// A token whose signature and claims have been verified, with the issuer it was verified
/// for. Cheap to clone (shared). The [`GuardLayer`](crate::GuardLayer) puts one in the
/// request's extensions; handlers take it as an extractor, or take
/// [`Claims<T>`](crate::Claims).
#[derive(Clone)]
pub struct VerifiedToken(Arc<VerifiedInner>);

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("issuer", &self.0.issuer)
            .field("header", &self.0.header)
            .field("registered", &self.0.registered)
            .finish_non_exhaustive()
    }
}

impl VerifiedToken {
    fn new(issuer: Arc<str>, verified: tessera_jwt::Verified<Claims>) -> Self {
        let header = verified.header().clone();
        let registered = verified.registered().clone();
        VerifiedToken(Arc::new(VerifiedInner {
            issuer,
            header,
            registered,
            claims: verified.into_claims(),
        }))
    }

    /// The issuer the token was verified for, as configured in [`IssuerConfig::new`] (the
    /// token's own `iss` may be an alias: see [`registered`](Self::registered)).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.0.header
    }

    /// The registered claims (`iss`, `sub`, `aud`, `exp`…), typed.
    pub fn registered(&self) -> &RegisteredClaims {
        &self.0.registered
    }

    /// `sub`, if present.
    pub fn subject(&self) -> Option<&str> {
        self.0.registered.sub.as_deref()
    }

    /// Every claim, as JSON.
    pub fn claims_json(&self) -> &Map<String, Value> {
        &self.0.claims
    }

    /// The claims in the caller's type.
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(Value::Object(self.0.claims.clone()))
            .map_err(|e| Error::Token(tessera_jwt::Error::ClaimsShape(e.to_string())))
    }

    /// The `roles` claim (an array of strings; anything else counts as no role).
    pub fn roles(&self) -> Vec<&str> {
        match self.0.claims.get("roles") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The scopes: `scope` (a space-separated string, RFC 8693/9068) and `scp` (an array of
    /// strings, or a space-separated string).
    pub fn scopes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for name in ["scope", "scp"] {
            match self.0.claims.get(name) {
                Some(Value::String(s)) => out.extend(s.split(' ').filter(|s| !s.is_empty())),
                Some(Value::Array(items)) if name == "scp" => {
                    out.extend(items.iter().filter_map(Value::as_str));
                }
                _ => {}
            }
        }
        out
    }

    /// Whether `roles` contains this role.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().contains(&role)
    }

    /// Whether the scopes contain this scope.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().contains(&scope)
    }
}

/// Builds a [`Verifier`].
pub struct VerifierBuilder {
    issuers: Vec<IssuerConfig>,
    clock: Arc<dyn Clock>,
    cache: Option<(usize, Duration)>,
    max_token_len: usize,
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("issuers", &self.issuers)
            .field("clock", &self.clock)
            .field("cache", &self.cache)
            .field("max_token_len", &self.max_token_len)
            .finish()
    }
}

impl VerifierBuilder {
    /// Trusts this issuer.
    #[must_use]
    pub fn issuer(mut self, issuer: IssuerConfig) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// The clock by which every time is judged: `exp`/`nbf`/`iat` and cache expiry.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Turns on the verified-token cache: at most `max_entries` tokens, each kept until its
    /// `exp` or for `ttl` (whole seconds, at least one), whichever is sooner. A token whose
    /// key is withdrawn from the JWKS stays accepted until its entry dies: keep `ttl` short.
    #[must_use]
    pub fn cache(mut self, max_entries: usize, ttl: Duration) -> Self {
        self.cache = Some((max_entries, ttl));
        self
    }

    /// Limit on token length, checked before anything is decoded (default 16 KiB).
    #[must_use]
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Checks the configuration and starts the remote key sets' background fetches (so it
    /// must run inside a tokio runtime when an issuer has remote keys).
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        let cache = match self.cache {
            None => None,
            Some((0, _)) => {
                return Err(ConfigError::InvalidOption(
                    "the token cache needs at least one entry".into(),
                ));
            }
            Some((entries, ttl)) => {
                let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
                if secs == 0 {
                    return Err(ConfigError::InvalidOption(
                        "the token cache TTL must be at least one second".into(),
                    ));
                }
                Some(TokenCache::new(entries, secs))
            }
        };
        let mut names: Vec<String> = Vec::new();
        for config in &self.issuers {
            for name in std::iter::once(&config.issuer).chain(&config.aliases) {
                if names.contains(name) {
                    return Err(ConfigError::DuplicateIssuer(name.clone()));
                }
                names.push(name.clone());
            }
        }
        let mut issuers = Vec::with_capacity(self.issuers.len());
        let mut by_iss = HashMap::new();
        for config in self.issuers {
            let issuer = config.build(&self.clock, self.max_token_len)?;
            for name in &issuer.names {
                by_iss.insert(name.clone(), issuers.len());
            }
            issuers.push(issuer);
        }
        Ok(Verifier {
            issuers,
            by_iss,
            cache,
            clock: self.clock,
            max_token_len: self.max_token_len,
        })
    }
}

/// Parses a token, once per verification: a test counts the calls.
fn parse(token: &str, max_len: usize) -> Result<UnverifiedJwt<'_>, tessera_jwt::Error> {
    #[cfg(test)]
    tests::PARSES.with(|n| n.set(n.get() + 1));
    UnverifiedJwt::parse(token, max_len)
}

/// Verifies bearer tokens from several issuers, without calling anyone per token.
///
/// The token's `iss` (read unverified, only to route) picks the issuer; an unknown issuer is
/// rejected at once, without any fetch. The token is then verified in full with that
/// issuer's keys and a [`Validation`] that pins `iss`, its audiences, algorithms, required
/// claims and `typ`, judged by the injected clock.
pub struct Verifier {
    issuers: Vec<Issuer>,
    by_iss: HashMap<String, usize>,
    cache: Option<TokenCache>,
    clock: Arc<dyn Clock>,
    max_token_len: usize,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers)
            .field("cache", &self.cache)
            .field("clock", &self.clock)
            .field("max_token_len", &self.max_token_len)
            .finish()
    }
}

impl Verifier {
    /// A builder: the system clock, no cache, a 16 KiB token limit, no issuer yet.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder {
            issuers: Vec::new(),
            clock: Arc::new(SystemClock),
            cache: None,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Verifies a token. Waits only when the token's `kid` is unknown and a JWKS fetch is
    /// allowed or in flight.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, Error> {
        // The limit comes before the token is hashed for the cache (parsing checks it too).
        if token.len() > self.max_token_len {
            return Err(tessera_jwt::Error::TooLarge {
                len: token.len(),
                max: self.max_token_len,
            }
            .into());
        }
        let cache_key = match &self.cache {
            Some(cache) => {
                let key = TokenCache::key(token);
                if let Some(hit) = cache.get(&key, self.clock.now()) {
                    return Ok(hit);
                }
                Some((cache, key))
            }
            None => None,
        };
        // The one parse: routing and verifying both read this.
        let parsed = parse(token, self.max_token_len)?;
        let issuer = self.route(&parsed)?;
        let verified = VerifiedToken::new(issuer.name.clone(), issuer.verify(&parsed).await?);
        if let Some((cache, key)) = cache_key {
            cache.insert(key, &verified, self.clock.now());
        }
        Ok(verified)
    }

    /// The issuer whose `iss` the token names. The `iss` is read before the signature is
    /// checked, and only to choose; nothing read here is trusted.
    fn route(&self, token: &UnverifiedJwt<'_>) -> Result<&Issuer, Error> {
        let Some(iss) = token.unverified_issuer()? else {
            return Err(Error::MissingIssuer);
        };
        match self.by_iss.get(iss) {
            Some(&i) => self.issuers.get(i).ok_or(Error::MissingIssuer),
            None => Err(Error::UnknownIssuer(
                iss.chars().take(MAX_ISS_IN_ERROR).collect(),
            )),
        }
    }

    /// The remote key set of an issuer (by any of its `iss` values), to read its counters.
    pub fn remote_key_set(&self, issuer: &str) -> Option<&RemoteKeySet> {
        let issuer = self.issuers.get(*self.by_iss.get(issuer)?)?;
        match &issuer.keys {
            IssuerKeys::Remote(remote) => Some(remote),
            IssuerKeys::Static(_) => None,
        }
    }

    /// Every issuer with remote keys, by its configured name: for metrics.
    pub fn remote_key_sets(&self) -> impl Iterator<Item = (&str, &RemoteKeySet)> {
        self.issuers.iter().filter_map(|i| match &i.keys {
            IssuerKeys::Remote(remote) => Some((&*i.name, remote)),
            IssuerKeys::Static(_) => None,
        })
    }

    /// The verified-token cache's counters, when the cache is on.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(TokenCache::stats)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::cell::Cell;
    use std::sync::Mutex;

    use serde_json::json;
    use tessera_jwt::{FixedClock, SigningKey};

    use super::*;

    thread_local! {
        /// Tokens parsed on this thread (tokio's test runtime runs everything on one).
        pub(super) static PARSES: Cell<usize> = const { Cell::new(0) };
    }

    const ISS: &str = "http://127.0.0.1/issuer";
    const NOW: i64 = 1_800_000_000;

    fn sign(key: &SigningKey, claims: &Value) -> String {
        let header = tessera_jwt::Header::for_key(key).with_typ("at+jwt");
        tessera_jwt::encode(key, &header, claims).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": ISS, "sub": "u-1", "aud": "orders", "exp": NOW + 600})
    }

    /// How many times `verify` parsed the token.
    async fn parses(verifier: &Verifier, token: &str) -> (usize, Result<VerifiedToken, Error>) {
        let before = PARSES.with(Cell::get);
        let result = verifier.verify(token).await;
        (PARSES.with(Cell::get) - before, result)
    }

    fn config() -> IssuerConfig {
        IssuerConfig::new(ISS)
            .audience("orders")
            .algorithms([Algorithm::ES256])
            .typ("at+jwt")
    }

    #[tokio::test]
    async fn a_token_is_parsed_once_whatever_the_verdict() {
        let key = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("k1");
        let verifier = Verifier::builder()
            .issuer(config().keys(KeySet::new(vec![key.verifying_key().unwrap()])))
            .clock(Arc::new(FixedClock::new(NOW)))
            .build()
            .unwrap();
        let good = sign(&key, &claims());
        let (n, verified) = parses(&verifier, &good).await;
        assert_eq!(n, 1);
        assert_eq!(verified.unwrap().subject(), Some("u-1"));

        let mut forged = good.clone();
        forged.replace_range(good.len() - 4.., "AAAA");
        let (n, rejected) = parses(&verifier, &forged).await;
        assert_eq!(n, 1);
        assert!(matches!(
            rejected,
            Err(Error::Token(tessera_jwt::Error::InvalidSignature))
        ));

        let other = sign(&key, &json!({"iss": "https://elsewhere.example"}));
        let (n, rejected) = parses(&verifier, &other).await;
        assert_eq!(n, 1);
        assert!(matches!(rejected, Err(Error::UnknownIssuer(_))));

        let (n, rejected) = parses(&verifier, &"a".repeat(20_000)).await;
        assert_eq!(n, 0, "the size limit comes before any parsing");
        assert!(matches!(
            rejected,
            Err(Error::Token(tessera_jwt::Error::TooLarge { .. }))
        ));
    }

    /// A JWKS server on 127.0.0.1 whose key set the test replaces.
    async fn jwks_server(jwks: Arc<Mutex<String>>) -> String {
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let body = jwks.lock().unwrap().clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn a_token_with_a_new_kid_is_not_parsed_again_after_the_refetch() {
        let old = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("old");
        let new = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("new");
        let jwks = |keys: &[&SigningKey]| {
            let keys = keys.iter().map(|k| k.verifying_key().unwrap()).collect();
            serde_json::to_string(&KeySet::new(keys).to_public_jwks().unwrap()).unwrap()
        };
        let served = Arc::new(Mutex::new(jwks(&[&old])));
        let url = jwks_server(served.clone()).await;
        let options = RemoteOptions::default()
            .refresh_bounds(Duration::from_secs(3600), Duration::from_secs(3600))
            .unknown_kid_cooldown(Duration::from_secs(0))
            .timeout(Duration::from_secs(3));
        let verifier = Verifier::builder()
            .issuer(config().jwks_url(url).remote_options(options))
            .clock(Arc::new(FixedClock::new(NOW)))
            .build()
            .unwrap();
        let remote = verifier.remote_key_set(ISS).unwrap().clone();
        for _ in 0..1000 {
            if remote.keys().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(remote.keys().is_some(), "the first fetch");

        *served.lock().unwrap() = jwks(&[&old, &new]);
        let (n, verified) = parses(&verifier, &sign(&new, &claims())).await;
        assert!(verified.is_ok(), "{verified:?}");
        assert_eq!(remote.stats().unknown_kid_refreshes(), 1, "it did refetch");
        assert_eq!(n, 1);
    }
}

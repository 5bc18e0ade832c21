//! A remote JWK Set for one issuer: fetched over HTTP, kept as an atomically swapped snapshot
//! that readers load without a lock, refreshed in the background, and refetched (rate-limited)
//! when a token names a key it does not hold.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use reqwest::Url;
use reqwest::header::{self, HeaderMap};
use tessera_jwt::{Algorithm, Family, JwkSet, KeySet};
use tokio::sync::Mutex;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::discovery::{DiscoveryOptions, discovery_url, fetch_document};
use crate::error::{ConfigError, FetchError};
use crate::http::{read_limited, transport};
use crate::outbound::parse_outbound_url;

/// How a [`RemoteKeySet`] fetches and refreshes. Every duration is measured on tokio's
/// monotonic timer (token times are judged by the verifier's injected clock instead).
///
/// ```
/// use std::time::Duration;
/// use tessera_guard::RemoteOptions;
/// let options = RemoteOptions::default()
///     .refresh_bounds(Duration::from_secs(60), Duration::from_secs(6 * 3600))
///     .unknown_kid_cooldown(Duration::from_secs(30))
///     .timeout(Duration::from_secs(5));
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    min_refresh: Duration,
    max_refresh: Duration,
    default_refresh: Duration,
    unknown_kid_cooldown: Duration,
    retry_min: Duration,
    retry_max: Duration,
    timeout: Duration,
    connect_timeout: Duration,
    max_response_bytes: usize,
}

impl Default for RemoteOptions {
    /// Refresh between 1 minute and 1 day after a fetch (as `Cache-Control: max-age` says;
    /// 5 minutes when it says nothing), at most one unknown-`kid` fetch per 30 seconds, retry
    /// failures from 5 seconds doubling up to 5 minutes, a 10-second timeout (5 to connect)
    /// and responses of at most 256 KiB.
    fn default() -> Self {
        RemoteOptions {
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(24 * 3600),
            default_refresh: Duration::from_secs(300),
            unknown_kid_cooldown: Duration::from_secs(30),
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 256 * 1024,
        }
    }
}

impl RemoteOptions {
    /// Bounds on the freshness lifetime taken from `Cache-Control: max-age`: a smaller one is
    /// raised to `min`, a larger one lowered to `max`. Keys are refetched when 90% of the
    /// lifetime has passed, never sooner than `min`.
    #[must_use]
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_refresh = min;
        self.max_refresh = max;
        self
    }

    /// The freshness lifetime when the response has no `max-age` (then bounded as above).
    #[must_use]
    pub fn default_refresh(mut self, lifetime: Duration) -> Self {
        self.default_refresh = lifetime;
        self
    }

    /// At most one fetch per this period is caused by tokens with an unknown `kid`, however
    /// many arrive.
    #[must_use]
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = cooldown;
        self
    }

    /// After a failed fetch, retry after `min`, doubling after each further failure up to
    /// `max`.
    #[must_use]
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.retry_min = min;
        self.retry_max = max;
        self
    }

    /// Limit on a whole fetch, from connecting to the end of the body.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit on establishing the connection.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Limit on a response body; reading stops as soon as it is passed.
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |s: &str| Err(ConfigError::InvalidOption(s.to_owned()));
        if self.min_refresh > self.max_refresh {
            return bad("the minimum refresh interval is above the maximum");
        }
        if self.max_refresh.is_zero() {
            return bad("the maximum refresh interval is zero");
        }
        if self.retry_min.is_zero() || self.retry_min > self.retry_max {
            return bad("the retry backoff needs 0 < min <= max");
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("a timeout is zero");
        }
        if self.max_response_bytes == 0 {
            return bad("the response size limit is zero");
        }
        Ok(())
    }

    /// The limits of a discovery fetch: this fetch's timeouts and size limit.
    fn discovery(&self) -> DiscoveryOptions {
        DiscoveryOptions::default()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .max_response_bytes(self.max_response_bytes)
    }

    /// The freshness lifetime a response's headers give, within the bounds.
    fn lifetime(&self, headers: &HeaderMap) -> Duration {
        max_age(headers)
            .unwrap_or(self.default_refresh)
            .clamp(self.min_refresh, self.max_refresh)
    }

    /// When to refetch after a response that is fresh for `lifetime`.
    fn refresh_delay(&self, lifetime: Duration) -> Duration {
        (lifetime * 9 / 10).max(self.min_refresh)
    }

    /// When to retry after `failures` failures in a row (at least 1).
    fn retry_delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.retry_min
            .checked_mul(factor)
            .unwrap_or(self.retry_max)
            .min(self.retry_max)
    }
}

/// The freshness lifetime in `Cache-Control` (`max-age`, less `Age`; `no-cache`/`no-store`
/// count as zero), if it says.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut secs: Option<u64> = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Some(n) = arg.and_then(|a| a.parse::<u64>().ok())
            {
                secs = Some(secs.map_or(n, |s| s.min(n)));
            }
        }
    }
    let age = headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    secs.map(|s| Duration::from_secs(s.saturating_sub(age)))
}

/// Counters of a [`RemoteKeySet`], for metrics. Plain atomics: reading them never blocks.
#[derive(Debug, Default)]
pub struct RemoteStats {
    fetches: AtomicU64,
    failures: AtomicU64,
    not_modified: AtomicU64,
    unknown_kid_refreshes: AtomicU64,
}

impl RemoteStats {
    /// Fetch attempts (scheduled, unknown-`kid` and explicit), successful or not.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches that failed (transport, status, size, parse, no usable key); the previous keys
    /// stayed in place.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Fetches answered `304 Not Modified` (the keys were kept).
    pub fn not_modified(&self) -> u64 {
        self.not_modified.load(Ordering::Relaxed)
    }

    /// Fetches caused by a token whose `kid` was not in the key set.
    pub fn unknown_kid_refreshes(&self) -> u64 {
        self.unknown_kid_refreshes.load(Ordering::Relaxed)
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Where the JWKS URL comes from.
#[derive(Debug)]
enum Source {
    Jwks(Url),
    Discovery { issuer: String, document: Url },
}

/// What a fetch ended with, when it did not fail.
enum Fetched {
    Updated { lifetime: Duration },
    NotModified { lifetime: Duration },
}

/// State only the fetcher touches; the mutex around it is what makes fetches one at a time.
#[derive(Default)]
struct FetchState {
    etag: Option<String>,
    /// The `jwks_uri` found by discovery, until a fetch fails.
    jwks_uri: Option<Url>,
    last_unknown_kid_fetch: Option<Instant>,
}

struct Inner {
    label: String,
    source: Source,
    algorithms: Vec<Algorithm>,
    options: RemoteOptions,
    client: reqwest::Client,
    keys: ArcSwapOption<KeySet>,
    last_error: ArcSwapOption<String>,
    fetch: Mutex<FetchState>,
    stats: RemoteStats,
    task: OnceLock<AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

/// The keys of one issuer, fetched from its JWKS URL (given, or found through its OpenID
/// discovery document) and kept fresh in the background.
///
/// - Readers load the current [`KeySet`] snapshot without waiting on any lock.
/// - A background task refetches when 90% of the `Cache-Control: max-age` lifetime has passed
///   (bounded by [`RemoteOptions::refresh_bounds`]), sending `If-None-Match` with the last
///   `ETag`; `304 Not Modified` keeps the keys.
/// - A failed fetch (issuer down, error status, timeout, oversized or unparsable body, no
///   usable key) never replaces good keys: it is logged, counted, and retried with backoff.
/// - Keys are bound to algorithms with [`KeySet::from_jwks`] and the configured list. Keys
///   that could never verify here are left out: secret (`oct`) keys, keys whose `use` is not
///   `sig` or whose `key_ops` lack `verify`, keys of an algorithm not configured. A JWKS left
///   with no key counts as a failed fetch.
///
/// Cloning is cheap and shares the keys; the background task stops when the last clone is
/// dropped. Must be built inside a tokio runtime.
#[derive(Clone)]
pub struct RemoteKeySet {
    inner: Arc<Inner>,
}

impl fmt::Debug for RemoteKeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteKeySet")
            .field("source", &self.inner.source)
            .field("algorithms", &self.inner.algorithms)
            .field(
                "keys",
                &self.inner.keys.load().as_ref().map(|k| k.keys().len()),
            )
            .field("stats", &self.inner.stats)
            .finish_non_exhaustive()
    }
}

impl RemoteKeySet {
    /// Keys from a JWKS URL, bound to `algorithms`. The URL must be `https` (or `http` on a
    /// loopback host). The first fetch starts at once, in the background.
    pub fn from_jwks_url(
        url: &str,
        algorithms: &[Algorithm],
        options: RemoteOptions,
    ) -> Result<Self, ConfigError> {
        let url = parse_outbound_url(url)?;
        Self::start(url.to_string(), Source::Jwks(url), algorithms, options)
    }

    /// Keys from the JWKS named by the issuer's discovery document,
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal `issuer`
    /// exactly. The issuer and the `jwks_uri` must both pass the outbound URL rule. The
    /// document is read and checked by [`discovery::fetch_metadata`](crate::discovery::fetch_metadata)'s
    /// code, so its other endpoints must pass the rule too when it names them.
    pub fn from_discovery(
        issuer: &str,
        algorithms: &[Algorithm],
        options: RemoteOptions,
    ) -> Result<Self, ConfigError> {
        let document = discovery_url(issuer)?;
        Self::start(
            issuer.to_owned(),
            Source::Discovery {
                issuer: issuer.to_owned(),
                document,
            },
            algorithms,
            options,
        )
    }

    fn start(
        label: String,
        source: Source,
        algorithms: &[Algorithm],
        options: RemoteOptions,
    ) -> Result<Self, ConfigError> {
        options.check()?;
        if algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm(label));
        }
        if let Some(hmac) = algorithms.iter().find(|a| a.family() == Family::Hmac) {
            return Err(ConfigError::InvalidOption(format!(
                "{hmac} keys are secrets and never come from a JWKS"
            )));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let client = crate::http::client(options.timeout, options.connect_timeout)?;
        let inner = Arc::new(Inner {
            label,
            source,
            algorithms: algorithms.to_vec(),
            options,
            client,
            keys: ArcSwapOption::empty(),
            last_error: ArcSwapOption::empty(),
            fetch: Mutex::new(FetchState::default()),
            stats: RemoteStats::default(),
            task: OnceLock::new(),
        });
        let task = runtime.spawn(refresh_loop(Arc::downgrade(&inner)));
        // Set once, right here; the cell cannot be full already.
        let _ = inner.task.set(task.abort_handle());
        Ok(RemoteKeySet { inner })
    }

    /// The current keys, or `None` before the first successful fetch. Never waits.
    pub fn keys(&self) -> Option<Arc<KeySet>> {
        self.inner.keys.load_full()
    }

    /// The counters.
    pub fn stats(&self) -> &RemoteStats {
        &self.inner.stats
    }

    /// What the last failed fetch said, if the last fetch failed (for logs and readiness
    /// checks).
    pub fn last_error(&self) -> Option<String> {
        self.inner.last_error.load_full().map(|e| e.to_string())
    }

    /// The issuer (discovery) or JWKS URL this set is fetched for.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Fetches now (after any fetch in progress), whatever the schedule and the cooldown
    /// say. For start-up checks; tokens never need it.
    pub async fn refresh(&self) -> Result<(), FetchError> {
        let mut state = self.inner.fetch.lock().await;
        self.inner.fetch_locked(&mut state).await.map(|_| ())
    }

    /// Called when a token's `kid` is not among the keys `seen` (the snapshot the token was
    /// checked against; `None` when there were no keys yet). Returns newer keys to retry
    /// with, or `None` when there are none: either no fetch was allowed (one is already
    /// done within the cooldown) or it brought nothing new.
    ///
    /// Fetches are one at a time (the fetch mutex): a burst of such tokens waits for the one
    /// fetch in flight and then retries with its result, instead of fetching again.
    pub(crate) async fn refresh_for_unknown_kid(
        &self,
        seen: Option<&Arc<KeySet>>,
    ) -> Option<Arc<KeySet>> {
        let inner = &self.inner;
        let newer = || {
            let current = inner.keys.load_full();
            match (&current, seen) {
                (Some(cur), Some(old)) if Arc::ptr_eq(cur, old) => None,
                (Some(_), _) => current,
                (None, _) => None,
            }
        };
        let mut state = inner.fetch.lock().await;
        if let Some(keys) = newer() {
            return Some(keys);
        }
        let now = Instant::now();
        if let Some(last) = state.last_unknown_kid_fetch
            && now.duration_since(last) < inner.options.unknown_kid_cooldown
        {
            return None;
        }
        state.last_unknown_kid_fetch = Some(now);
        bump(&inner.stats.unknown_kid_refreshes);
        tracing::debug!(issuer = %inner.label, "unknown kid: fetching the JWKS");
        let _ = inner.fetch_locked(&mut state).await;
        newer()
    }
}

impl Inner {
    /// One fetch, with the fetch mutex held: counts it, logs it, and installs new keys only
    /// when they parse and at least one is usable.
    async fn fetch_locked(&self, state: &mut FetchState) -> Result<Fetched, FetchError> {
        bump(&self.stats.fetches);
        let result = self.fetch_once(state).await;
        match &result {
            Ok(Fetched::Updated { lifetime }) => {
                self.last_error.store(None);
                let count = self.keys.load().as_ref().map_or(0, |k| k.keys().len());
                tracing::info!(
                    issuer = %self.label,
                    keys = count,
                    fresh_for_secs = lifetime.as_secs(),
                    "JWKS fetched"
                );
            }
            Ok(Fetched::NotModified { .. }) => {
                self.last_error.store(None);
                bump(&self.stats.not_modified);
                tracing::debug!(issuer = %self.label, "JWKS not modified");
            }
            Err(e) => {
                bump(&self.stats.failures);
                self.last_error.store(Some(Arc::new(e.to_string())));
                // A discovered jwks_uri may have moved: look it up again next time.
                state.jwks_uri = None;
                tracing::warn!(
                    issuer = %self.label,
                    error = %e,
                    "JWKS fetch failed; keeping the previous keys"
                );
            }
        }
        result
    }

    async fn fetch_once(&self, state: &mut FetchState) -> Result<Fetched, FetchError> {
        let url = match &self.source {
            Source::Jwks(url) => url.clone(),
            Source::Discovery { issuer, document } => match &state.jwks_uri {
                Some(url) => url.clone(),
                None => {
                    let url = self.discover(issuer, document).await?;
                    state.jwks_uri = Some(url.clone());
                    url
                }
            },
        };
        let have_keys = self.keys.load().is_some();
        let mut request = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json");
        if have_keys && let Some(etag) = &state.etag {
            request = request.header(header::IF_NONE_MATCH, etag.as_str());
        }
        let response = request.send().await.map_err(|e| transport(&url, &e))?;
        let status = response.status();
        let lifetime = self.options.lifetime(response.headers());
        if status == reqwest::StatusCode::NOT_MODIFIED && have_keys {
            return Ok(Fetched::NotModified { lifetime });
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let etag = response
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_limited(response, &url, self.options.max_response_bytes).await?;
        let set = JwkSet::from_json(&body).map_err(|e| FetchError::InvalidJwks {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let (keys, skipped) = bind_keys(set, &self.algorithms);
        for (kid, why) in &skipped {
            tracing::debug!(issuer = %self.label, kid = ?kid, reason = %why, "JWKS key skipped");
        }
        if keys.is_empty() {
            let skipped: Vec<String> = skipped
                .iter()
                .map(|(kid, why)| format!("{}: {why}", kid.as_deref().unwrap_or("(no kid)")))
                .collect();
            return Err(FetchError::NoUsableKey {
                url: url.to_string(),
                skipped: if skipped.is_empty() {
                    String::new()
                } else {
                    format!(" (skipped: {})", skipped.join("; "))
                },
            });
        }
        self.keys.store(Some(Arc::new(keys)));
        state.etag = etag;
        Ok(Fetched::Updated { lifetime })
    }

    /// Reads the discovery document and returns its `jwks_uri`, checked (the one discovery
    /// code path of the crate: [`crate::discovery`]).
    async fn discover(&self, issuer: &str, document: &Url) -> Result<Url, FetchError> {
        let options = self.options.discovery();
        fetch_document(&self.client, issuer, document, &options)
            .await
            .map(|metadata| metadata.jwks_uri)
    }
}

/// Binds the keys of a fetched JWKS to `algorithms`, leaving out (with the reason) those that
/// could never verify here: secret (`oct`) keys, which a public document cannot hold safely,
/// keys whose `use` is not `sig` or whose `key_ops` lack `verify`, and keys
/// [`KeySet::from_jwks`] skips. A set of such keys alone must not replace usable ones.
fn bind_keys(set: JwkSet, algorithms: &[Algorithm]) -> (KeySet, Vec<(Option<String>, String)>) {
    let mut skipped: Vec<(Option<String>, String)> = set.skipped().to_vec();
    let mut usable = Vec::new();
    for jwk in set.keys {
        let refused = if jwk.kty == "oct" {
            Some("a secret (oct) key in a JWKS is never trusted".to_owned())
        } else if let Some(use_) = jwk.use_.as_deref().filter(|u| *u != "sig") {
            Some(format!("its `use` is \"{use_}\", not \"sig\""))
        } else if jwk
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
        {
            Some("its `key_ops` lack \"verify\"".to_owned())
        } else {
            None
        };
        match refused {
            Some(why) => skipped.push((jwk.kid.clone(), why)),
            None => usable.push(jwk),
        }
    }
    let bound = KeySet::from_jwks(&JwkSet::new(usable), algorithms);
    skipped.extend(bound.skipped().iter().cloned());
    // A JWK whose `alg` or curve fixes its algorithm is bound to that one even when it is not
    // among `algorithms`; such a key could never verify here, so it is not counted as usable.
    let mut keys = KeySet::default();
    for key in bound.keys() {
        if algorithms.contains(&key.algorithm()) {
            keys.push(key.clone());
        } else {
            skipped.push((
                key.kid().map(str::to_owned),
                format!(
                    "it is an {} key, not for {}",
                    key.algorithm(),
                    list(algorithms)
                ),
            ));
        }
    }
    (keys, skipped)
}

fn list(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The background refresher. Holds only a weak reference between fetches, so dropping the
/// last [`RemoteKeySet`] ends it (its `Drop` also aborts the task).
async fn refresh_loop(weak: Weak<Inner>) {
    let mut delay = Duration::ZERO;
    let mut failures: u32 = 0;
    loop {
        tokio::time::sleep(delay).await;
        let Some(inner) = weak.upgrade() else { return };
        let result = {
            let mut state = inner.fetch.lock().await;
            inner.fetch_locked(&mut state).await
        };
        delay = match result {
            Ok(Fetched::Updated { lifetime } | Fetched::NotModified { lifetime }) => {
                failures = 0;
                inner.options.refresh_delay(lifetime)
            }
            Err(_) => {
                failures = failures.saturating_add(1);
                inner.options.retry_delay(failures)
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    #[test]
    fn cache_control_max_age_within_bounds() {
        let o = RemoteOptions::default()
            .refresh_bounds(Duration::from_secs(60), Duration::from_secs(3600))
            .default_refresh(Duration::from_secs(300));
        let cc = |v: &str| o.lifetime(&headers(&[(header::CACHE_CONTROL, v)]));
        assert_eq!(cc("public, max-age=600"), Duration::from_secs(600));
        assert_eq!(cc("max-age=5"), Duration::from_secs(60));
        assert_eq!(cc("max-age=999999"), Duration::from_secs(3600));
        assert_eq!(cc("no-store"), Duration::from_secs(60));
        assert_eq!(cc("public"), Duration::from_secs(300));
        assert_eq!(cc("max-age=\"120\""), Duration::from_secs(120));
        assert_eq!(cc("max-age=junk"), Duration::from_secs(300));
        let with_age = headers(&[
            (header::CACHE_CONTROL, "max-age=1000"),
            (header::AGE, "400"),
        ]);
        assert_eq!(o.lifetime(&with_age), Duration::from_secs(600));
        assert_eq!(o.lifetime(&HeaderMap::new()), Duration::from_secs(300));
    }

    #[test]
    fn refresh_before_stale_and_backoff() {
        let o = RemoteOptions::default()
            .refresh_bounds(Duration::from_secs(60), Duration::from_secs(3600))
            .retry_backoff(Duration::from_secs(5), Duration::from_secs(60));
        assert_eq!(
            o.refresh_delay(Duration::from_secs(1000)),
            Duration::from_secs(900)
        );
        assert_eq!(
            o.refresh_delay(Duration::from_secs(60)),
            Duration::from_secs(60)
        );
        assert_eq!(o.retry_delay(1), Duration::from_secs(5));
        assert_eq!(o.retry_delay(2), Duration::from_secs(10));
        assert_eq!(o.retry_delay(4), Duration::from_secs(40));
        assert_eq!(o.retry_delay(5), Duration::from_secs(60));
        assert_eq!(o.retry_delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn options_are_checked() {
        let o = RemoteOptions::default()
            .refresh_bounds(Duration::from_secs(10), Duration::from_secs(1));
        assert!(matches!(o.check(), Err(ConfigError::InvalidOption(_))));
        let o = RemoteOptions::default().max_response_bytes(0);
        assert!(matches!(o.check(), Err(ConfigError::InvalidOption(_))));
        let o = RemoteOptions::default().retry_backoff(Duration::ZERO, Duration::from_secs(1));
        assert!(matches!(o.check(), Err(ConfigError::InvalidOption(_))));
        assert!(RemoteOptions::default().check().is_ok());
    }

    #[test]
    fn keys_that_cannot_verify_here_are_left_out() {
        let set = JwkSet::from_json(
            br#"{"keys":[
                {"kty":"oct","kid":"secret","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"},
                {"kty":"EC","kid":"enc","use":"enc","crv":"P-256",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                {"kty":"EC","kid":"ops","key_ops":["encrypt"],"crv":"P-256",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
                {"kty":"EC","kid":"p384","crv":"P-384",
                 "x":"YU4rRUzdmVqmRtWOs2OpDE_T5fsNIodcG8G5FWPrTPMyxpzsSOGaQLpe2FpxBmu2",
                 "y":"A8-yxCHxkfBz3hKZfI1jUYMjUhsEveZ9THuwFjH2sCNdtksRJU7D5-SkgaFL1ETP"},
                {"kty":"EC","kid":"good","crv":"P-256",
                 "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                 "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
            ]}"#,
        )
        .unwrap();
        let (keys, skipped) = bind_keys(set, &[Algorithm::ES256, Algorithm::HS256]);
        let kids: Vec<_> = keys.keys().iter().map(|k| k.kid().unwrap()).collect();
        assert_eq!(kids, ["good"]);
        let reasons: Vec<_> = skipped.iter().map(|(k, _)| k.as_deref().unwrap()).collect();
        assert_eq!(reasons, ["secret", "enc", "ops", "p384"]);
        assert!(skipped[3].1.contains("ES384"), "{skipped:?}");
    }

    #[test]
    fn hmac_algorithms_are_refused_for_remote_keys() {
        let err = RemoteKeySet::from_jwks_url(
            "https://auth.example.com/jwks",
            &[Algorithm::HS256],
            RemoteOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidOption(_)), "{err:?}");
    }

    #[test]
    fn no_runtime_is_a_config_error() {
        let err = RemoteKeySet::from_jwks_url(
            "http://127.0.0.1:9/jwks",
            &[Algorithm::ES256],
            RemoteOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err, ConfigError::NoRuntime);
    }
}

//! Integration tests of tessera-guard against real HTTP servers on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod http;
mod issuer;
mod remote;
mod verifier;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_guard::{IssuerConfig, RemoteKeySet, RemoteOptions, Verifier};
use tessera_jwt::{Algorithm, FixedClock};

use issuer::{AUD, NOW, TestIssuer};

/// Options for tests: no scheduled refresh during a test unless it asks, a long unknown-kid
/// cooldown, short timeouts, a 64 KiB body limit.
pub(crate) fn test_options() -> RemoteOptions {
    RemoteOptions::default()
        .refresh_bounds(Duration::from_secs(3600), Duration::from_secs(3600))
        .unknown_kid_cooldown(Duration::from_secs(60))
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_secs(2))
        .max_response_bytes(64 * 1024)
}

/// The issuer's rules: its own base URL as `iss`, audience "orders", ES256, `at+jwt`.
pub(crate) fn issuer_config(issuer: &TestIssuer, options: RemoteOptions) -> IssuerConfig {
    IssuerConfig::new(issuer.base())
        .jwks_url(issuer.jwks_url())
        .remote_options(options)
        .audience(AUD)
        .algorithms([Algorithm::ES256])
        .typ("at+jwt")
        .require("sub")
}

/// A verifier of this issuer, judged at [`NOW`], once its first fetch has landed.
pub(crate) async fn verifier(
    issuer: &TestIssuer,
    options: RemoteOptions,
) -> (Arc<Verifier>, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(NOW));
    let verifier = Verifier::builder()
        .issuer(issuer_config(issuer, options))
        .clock(clock.clone())
        .build()
        .unwrap();
    let remote = verifier.remote_key_set(&issuer.base()).unwrap().clone();
    wait_for_keys(&remote).await;
    (Arc::new(verifier), clock)
}

pub(crate) async fn wait_for_keys(remote: &RemoteKeySet) {
    wait_until("the first JWKS fetch", || remote.keys().is_some()).await;
}

/// Polls `cond` every 10 ms for at most 10 s.
pub(crate) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The kids of the current snapshot.
pub(crate) fn kids(remote: &RemoteKeySet) -> Vec<String> {
    remote
        .keys()
        .map(|k| {
            k.keys()
                .iter()
                .filter_map(|k| k.kid().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

//! The remote key set: rotation, unknown-kid bursts, outages, bad responses, caching headers,
//! discovery, the https-only rule.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tessera_guard::{ConfigError, Error, FetchError, IssuerConfig, RemoteKeySet, Verifier};
use tessera_jwt::Algorithm;
use tokio::task::JoinSet;

use crate::issuer::{Mode, TestIssuer, new_key, sign};
use crate::{kids, test_options, verifier, wait_for_keys, wait_until};

#[tokio::test]
async fn rotated_key_verifies_without_restart() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let remote = verifier.remote_key_set(&issuer.base()).unwrap();
    assert!(
        verifier
            .verify(&issuer.token("k1", json!({})))
            .await
            .is_ok()
    );
    assert_eq!(issuer.jwks_requests(), 1);

    issuer.add_key(new_key("k2"));
    issuer.retire_old_keys();
    let token = issuer.token("k2", json!({"sub": "bob"}));
    let verified = verifier.verify(&token).await.unwrap();
    assert_eq!(verified.subject(), Some("bob"));
    assert_eq!(issuer.jwks_requests(), 2);
    assert_eq!(remote.stats().unknown_kid_refreshes(), 1);
    assert_eq!(kids(remote), vec!["k2".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_unknown_kid_tokens_fetches_once() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    assert_eq!(issuer.jwks_requests(), 1);

    // The issuer rotates, and answers slowly, so the burst piles up on the fetch in flight.
    issuer.add_key(new_key("k2"));
    issuer.set_delay(Duration::from_millis(300));
    let token = Arc::new(issuer.token("k2", json!({})));
    let mut tasks = JoinSet::new();
    for _ in 0..1000 {
        let (v, t) = (verifier.clone(), token.clone());
        tasks.spawn(async move { v.verify(&t).await.is_ok() });
    }
    let results = tokio::time::timeout(Duration::from_secs(30), tasks.join_all())
        .await
        .expect("the burst did not finish in time");
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1000);
    assert_eq!(issuer.jwks_requests(), 2, "one fetch for the whole burst");

    // Forged kids, within the cooldown: no fetch at all, every token refused.
    let forged = Arc::new(sign(&new_key("forged"), &issuer.base(), json!({})));
    let mut tasks = JoinSet::new();
    for _ in 0..1000 {
        let (v, t) = (verifier.clone(), forged.clone());
        tasks.spawn(async move { v.verify(&t).await });
    }
    let results = tokio::time::timeout(Duration::from_secs(30), tasks.join_all())
        .await
        .expect("the burst did not finish in time");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(Error::Token(tessera_jwt::Error::NoMatchingKey(_)))))
    );
    assert_eq!(issuer.jwks_requests(), 2, "no fetch within the cooldown");
    let stats = verifier.remote_key_set(&issuer.base()).unwrap().stats();
    assert_eq!(stats.unknown_kid_refreshes(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_forged_kids_fetches_at_most_once_per_cooldown() {
    let issuer = TestIssuer::start().await;
    let options = test_options().unknown_kid_cooldown(Duration::from_millis(500));
    let (verifier, _) = verifier(&issuer, options).await;
    let forged = Arc::new(sign(&new_key("forged"), &issuer.base(), json!({})));
    let burst = || async {
        let mut tasks = JoinSet::new();
        for _ in 0..1000 {
            let (v, t) = (verifier.clone(), forged.clone());
            tasks.spawn(async move { v.verify(&t).await.is_err() });
        }
        let refused = tokio::time::timeout(Duration::from_secs(30), tasks.join_all())
            .await
            .expect("the burst did not finish in time");
        assert!(refused.into_iter().all(|r| r));
    };
    burst().await;
    assert_eq!(issuer.jwks_requests(), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    burst().await;
    assert_eq!(
        issuer.jwks_requests(),
        3,
        "one more fetch after the cooldown"
    );
}

#[tokio::test]
async fn issuer_down_keeps_keys_and_refresh_resumes_when_back() {
    let issuer = TestIssuer::start().await;
    let options = test_options()
        .refresh_bounds(Duration::from_millis(100), Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(50), Duration::from_millis(100));
    let (verifier, _) = verifier(&issuer, options).await;
    let remote = verifier.remote_key_set(&issuer.base()).unwrap().clone();
    let token = issuer.token("k1", json!({}));

    issuer.stop().await;
    let failures = remote.stats().failures();
    wait_until("failed refreshes", || {
        remote.stats().failures() >= failures + 2
    })
    .await;
    assert!(
        verifier.verify(&token).await.is_ok(),
        "cached keys keep verifying"
    );
    assert!(remote.last_error().is_some());
    assert_eq!(kids(&remote), vec!["k1".to_owned()]);

    // Back, with a new key: the background refresh picks it up.
    issuer.add_key(new_key("k2"));
    issuer.restart().await;
    wait_until("the refresh after the outage", || {
        kids(&remote).contains(&"k2".to_owned())
    })
    .await;
    assert!(remote.last_error().is_none());
    assert!(
        verifier
            .verify(&issuer.token("k2", json!({})))
            .await
            .is_ok()
    );
    assert_eq!(remote.stats().unknown_kid_refreshes(), 0);
}

/// A bad response must leave the previous snapshot in place, and count as a failure.
async fn bad_response_keeps_keys(mode: Mode, expect: impl Fn(&FetchError) -> bool) {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let remote = verifier.remote_key_set(&issuer.base()).unwrap();
    let before = remote.keys().unwrap();
    issuer.set_mode(mode.clone());
    let err = remote.refresh().await.unwrap_err();
    assert!(expect(&err), "{mode:?}: unexpected {err:?}");
    assert!(
        Arc::ptr_eq(&before, &remote.keys().unwrap()),
        "{mode:?} replaced the keys"
    );
    assert_eq!(remote.stats().failures(), 1);
    assert!(
        verifier
            .verify(&issuer.token("k1", json!({})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn garbage_jwks_leaves_keys_in_place() {
    bad_response_keeps_keys(Mode::Garbage, |e| {
        matches!(e, FetchError::InvalidJwks { .. })
    })
    .await;
}

#[tokio::test]
async fn jwks_without_usable_key_leaves_keys_in_place() {
    bad_response_keeps_keys(
        Mode::NoUsableKey,
        |e| matches!(e, FetchError::NoUsableKey { skipped, .. } if skipped.contains("enc")),
    )
    .await;
}

#[tokio::test]
async fn oversized_jwks_leaves_keys_in_place() {
    // Streamed (no Content-Length): reading stops past the limit, long before the 16 MiB end.
    bad_response_keeps_keys(
        Mode::OversizedStream(16 << 20),
        |e| matches!(e, FetchError::TooLarge { limit, .. } if *limit == 64 * 1024),
    )
    .await;
    bad_response_keeps_keys(Mode::OversizedLength(64 * 1024), |e| {
        matches!(e, FetchError::TooLarge { .. })
    })
    .await;
}

#[tokio::test]
async fn error_status_leaves_keys_in_place() {
    bad_response_keeps_keys(Mode::Status(503), |e| {
        matches!(e, FetchError::Status { status: 503, .. })
    })
    .await;
}

#[tokio::test]
async fn slow_issuer_times_out() {
    let issuer = TestIssuer::start().await;
    let options = test_options().timeout(Duration::from_millis(300));
    let (verifier, _) = verifier(&issuer, options).await;
    let remote = verifier.remote_key_set(&issuer.base()).unwrap();
    issuer.set_delay(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let err = remote.refresh().await.unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(remote.keys().is_some());
}

#[tokio::test]
async fn etag_gives_not_modified_and_keeps_the_snapshot() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let remote = verifier.remote_key_set(&issuer.base()).unwrap();
    let before = remote.keys().unwrap();
    remote.refresh().await.unwrap();
    assert_eq!(issuer.not_modified(), 1);
    assert_eq!(remote.stats().not_modified(), 1);
    assert!(Arc::ptr_eq(&before, &remote.keys().unwrap()));
    // A changed JWKS has another ETag: a full answer.
    issuer.add_key(new_key("k2"));
    remote.refresh().await.unwrap();
    assert_eq!(issuer.not_modified(), 1);
    assert_eq!(kids(remote), vec!["k1".to_owned(), "k2".to_owned()]);
}

#[tokio::test]
async fn max_age_is_honoured_within_bounds() {
    // max-age=0 but a 400 ms minimum: a handful of fetches in a second, not hundreds.
    let issuer = TestIssuer::start().await;
    issuer.set_cache_control(Some("max-age=0"));
    let options =
        test_options().refresh_bounds(Duration::from_millis(400), Duration::from_secs(60));
    let remote =
        RemoteKeySet::from_jwks_url(&issuer.jwks_url(), &[Algorithm::ES256], options).unwrap();
    wait_for_keys(&remote).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let n = issuer.jwks_requests();
    assert!((2..=4).contains(&n), "{n} fetches");

    // max-age of an hour, but at most 100 ms: refreshed again and again.
    let issuer = TestIssuer::start().await;
    let options =
        test_options().refresh_bounds(Duration::from_millis(10), Duration::from_millis(100));
    let remote =
        RemoteKeySet::from_jwks_url(&issuer.jwks_url(), &[Algorithm::ES256], options).unwrap();
    wait_until("refreshes", || issuer.jwks_requests() >= 4).await;
    assert!(
        remote.stats().not_modified() >= 2,
        "refreshes send If-None-Match"
    );

    // max-age of an hour within wide bounds: no refresh soon.
    let issuer = TestIssuer::start().await;
    let options =
        test_options().refresh_bounds(Duration::from_millis(10), Duration::from_secs(7200));
    let remote =
        RemoteKeySet::from_jwks_url(&issuer.jwks_url(), &[Algorithm::ES256], options).unwrap();
    wait_for_keys(&remote).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn dropping_the_key_set_stops_its_refresh() {
    let issuer = TestIssuer::start().await;
    let options =
        test_options().refresh_bounds(Duration::from_millis(20), Duration::from_millis(20));
    let remote =
        RemoteKeySet::from_jwks_url(&issuer.jwks_url(), &[Algorithm::ES256], options).unwrap();
    wait_until("refreshes", || issuer.jwks_requests() >= 3).await;
    drop(remote);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let n = issuer.jwks_requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(issuer.jwks_requests(), n);
}

#[tokio::test]
async fn discovery_finds_the_jwks() {
    let issuer = TestIssuer::start().await;
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(issuer.base())
                .discovery()
                .remote_options(test_options())
                .audience(crate::issuer::AUD)
                .algorithms([Algorithm::ES256]),
        )
        .clock(Arc::new(tessera_jwt::FixedClock::new(crate::issuer::NOW)))
        .build()
        .unwrap();
    let remote = verifier.remote_key_set(&issuer.base()).unwrap();
    wait_for_keys(remote).await;
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(issuer.jwks_requests(), 1);
    assert!(
        verifier
            .verify(&issuer.token("k1", json!({})))
            .await
            .is_ok()
    );
    // The jwks_uri is remembered: a refresh does not read the document again.
    remote.refresh().await.unwrap();
    assert_eq!(issuer.discovery_requests(), 1);
    assert_eq!(issuer.jwks_requests(), 2);
}

#[tokio::test]
async fn discovery_with_trailing_slash_issuer() {
    let issuer = TestIssuer::start().await;
    let iss = format!("{}/", issuer.base());
    issuer.set_discovery_issuer(&iss);
    let remote = RemoteKeySet::from_discovery(&iss, &[Algorithm::ES256], test_options()).unwrap();
    remote.refresh().await.unwrap();
    assert_eq!(kids(&remote), vec!["k1".to_owned()]);
}

#[tokio::test]
async fn discovery_of_another_issuer_is_refused() {
    let issuer = TestIssuer::start().await;
    issuer.set_discovery_issuer("https://evil.example");
    let remote =
        RemoteKeySet::from_discovery(&issuer.base(), &[Algorithm::ES256], test_options()).unwrap();
    let err = remote.refresh().await.unwrap_err();
    assert_eq!(
        err,
        FetchError::IssuerMismatch {
            expected: issuer.base(),
            got: "https://evil.example".into()
        }
    );
    assert!(remote.keys().is_none());
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn discovery_jwks_uri_must_pass_the_outbound_rule() {
    let issuer = TestIssuer::start().await;
    issuer.set_discovery_jwks_uri("http://keys.example.com/jwks");
    let remote =
        RemoteKeySet::from_discovery(&issuer.base(), &[Algorithm::ES256], test_options()).unwrap();
    let err = remote.refresh().await.unwrap_err();
    assert!(
        matches!(err, FetchError::JwksUri(ConfigError::InsecureUrl { .. })),
        "{err:?}"
    );
    assert!(remote.keys().is_none());
}

#[tokio::test]
async fn https_only_except_loopback() {
    for url in ["http://auth.example.com/jwks", "http://192.168.1.1/jwks"] {
        let err =
            RemoteKeySet::from_jwks_url(url, &[Algorithm::ES256], test_options()).unwrap_err();
        assert!(
            matches!(err, ConfigError::InsecureUrl { .. }),
            "{url}: {err:?}"
        );
    }
    let err = RemoteKeySet::from_discovery(
        "http://auth.example.com",
        &[Algorithm::ES256],
        test_options(),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }));
    let err = Verifier::builder()
        .issuer(
            IssuerConfig::new("https://auth.example.com")
                .jwks_url("http://auth.example.com/jwks")
                .audience("a")
                .algorithms([Algorithm::ES256]),
        )
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }));
    for url in [
        "http://localhost:1/jwks",
        "http://[::1]:1/jwks",
        "http://127.0.0.2:1/jwks",
    ] {
        assert!(RemoteKeySet::from_jwks_url(url, &[Algorithm::ES256], test_options()).is_ok());
    }
}

#[tokio::test]
async fn redirects_to_plain_http_are_not_followed() {
    let issuer = TestIssuer::start().await;
    let url = format!("{}/redirect", issuer.base());
    // Loopback to loopback, plain http: followed.
    let remote = RemoteKeySet::from_jwks_url(&url, &[Algorithm::ES256], test_options()).unwrap();
    remote.refresh().await.unwrap();
    assert_eq!(kids(&remote), vec!["k1".to_owned()]);
    // To a plain-http host elsewhere: refused without being fetched.
    issuer.set_redirect("http://keys.example.com/jwks");
    let remote = RemoteKeySet::from_jwks_url(&url, &[Algorithm::ES256], test_options()).unwrap();
    let err = remote.refresh().await.unwrap_err();
    assert!(matches!(err, FetchError::Redirect { .. }), "{err:?}");
}

#[tokio::test]
async fn keys_are_bound_to_the_configured_algorithms() {
    // The issuer publishes ES256 keys; a key set for RS256 only has no usable key.
    let issuer = TestIssuer::start().await;
    let remote =
        RemoteKeySet::from_jwks_url(&issuer.jwks_url(), &[Algorithm::RS256], test_options())
            .unwrap();
    let err = remote.refresh().await.unwrap_err();
    assert!(matches!(err, FetchError::NoUsableKey { .. }), "{err:?}");
    assert!(remote.keys().is_none());
}

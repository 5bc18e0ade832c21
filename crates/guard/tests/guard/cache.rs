//! The verified-token cache, judged by an injected clock.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tessera_guard::{Error, IssuerConfig, Verifier};
use tessera_jwt::{Algorithm, FixedClock, KeySet, SigningKey};

use crate::issuer::{AUD, NOW, new_key, sign};

const ISS: &str = "https://auth.example.com";

fn cached_verifier(key: &SigningKey, entries: usize, ttl_secs: u64) -> (Verifier, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(NOW));
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(ISS)
                .keys(KeySet::new(vec![key.verifying_key().unwrap()]))
                .algorithms([Algorithm::ES256])
                .audience(AUD)
                .leeway(0),
        )
        .clock(clock.clone())
        .cache(entries, Duration::from_secs(ttl_secs))
        .build()
        .unwrap();
    (verifier, clock)
}

fn hits_misses(v: &Verifier) -> (u64, u64) {
    let s = v.cache_stats().unwrap();
    (s.hits, s.misses)
}

#[tokio::test]
async fn hot_token_is_served_from_the_cache() {
    let key = new_key("k1");
    let (verifier, _) = cached_verifier(&key, 100, 60);
    let token = sign(&key, ISS, json!({}));
    let first = verifier.verify(&token).await.unwrap();
    assert_eq!(hits_misses(&verifier), (0, 1));
    let second = verifier.verify(&token).await.unwrap();
    assert_eq!(hits_misses(&verifier), (1, 1));
    assert_eq!(first.subject(), second.subject());
    assert_eq!(verifier.cache_stats().unwrap().entries, 1);
}

#[tokio::test]
async fn another_token_never_hits_an_entry() {
    let key = new_key("k1");
    let (verifier, _) = cached_verifier(&key, 100, 60);
    let token = sign(&key, ISS, json!({}));
    verifier.verify(&token).await.unwrap();
    // The same token with one character of its signature changed.
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.ends_with('A') { 'Q' } else { 'A' };
    let tampered = format!("{rest}.{}{flipped}", &sig[..sig.len() - 1]);
    assert!(matches!(
        verifier.verify(&tampered).await,
        Err(Error::Token(_))
    ));
    // Rejections are not cached: the same bad token is refused again.
    assert!(verifier.verify(&tampered).await.is_err());
    assert_eq!(hits_misses(&verifier), (0, 3));
}

#[tokio::test]
async fn entries_die_after_the_ttl() {
    let key = new_key("k1");
    let (verifier, clock) = cached_verifier(&key, 100, 60);
    let token = sign(&key, ISS, json!({"exp": NOW + 3600}));
    verifier.verify(&token).await.unwrap();
    clock.advance(59);
    verifier.verify(&token).await.unwrap();
    assert_eq!(hits_misses(&verifier), (1, 1));
    clock.advance(1);
    verifier.verify(&token).await.unwrap();
    assert_eq!(
        hits_misses(&verifier),
        (1, 2),
        "verified again after the TTL"
    );
}

#[tokio::test]
async fn entries_die_at_the_tokens_exp() {
    let key = new_key("k1");
    let (verifier, clock) = cached_verifier(&key, 100, 3600);
    let token = sign(&key, ISS, json!({"exp": NOW + 100}));
    verifier.verify(&token).await.unwrap();
    clock.advance(99);
    verifier.verify(&token).await.unwrap();
    assert_eq!(hits_misses(&verifier), (1, 1));
    clock.advance(1);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(Error::Token(tessera_jwt::Error::Expired { .. }))
    ));
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let key = new_key("k1");
    let (verifier, _) = cached_verifier(&key, 16, 60);
    for i in 0..200 {
        let token = sign(&key, ISS, json!({"jti": format!("t{i}")}));
        verifier.verify(&token).await.unwrap();
    }
    let entries = verifier.cache_stats().unwrap().entries;
    assert!(entries <= 16, "{entries} entries");
}

#[tokio::test]
async fn no_cache_unless_asked() {
    let key = new_key("k1");
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(ISS)
                .keys(KeySet::new(vec![key.verifying_key().unwrap()]))
                .algorithms([Algorithm::ES256])
                .audience(AUD),
        )
        .clock(Arc::new(FixedClock::new(NOW)))
        .build()
        .unwrap();
    assert!(verifier.cache_stats().is_none());
    assert!(verifier.verify(&sign(&key, ISS, json!({}))).await.is_ok());
}

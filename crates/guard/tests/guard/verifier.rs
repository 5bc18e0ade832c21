//! The verifier over several issuers: routing by `iss`, pinned rules, static keys, the Google
//! preset, configuration errors.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use tessera_guard::{
    ConfigError, Error, GOOGLE_ISSUER, GOOGLE_ISSUER_SHORT, GOOGLE_JWKS_URL, IssuerConfig, Verifier,
};
use tessera_jwt::{Algorithm, FixedClock, Header, KeySet, SigningKey};

use crate::issuer::{AUD, NOW, TestIssuer, new_key, sign};
use crate::{issuer_config, test_options, verifier, wait_for_keys};

fn rejection(result: Result<tessera_guard::VerifiedToken, Error>) -> tessera_jwt::Error {
    match result {
        Err(Error::Token(e)) => e,
        other => panic!("expected a token rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_token_and_its_claims() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let verified = verifier
        .verify(&issuer.token("k1", json!({})))
        .await
        .unwrap();
    assert_eq!(verified.issuer(), issuer.base());
    assert_eq!(verified.subject(), Some("alice"));
    assert_eq!(verified.header().kid.as_deref(), Some("k1"));
    assert_eq!(verified.roles(), vec!["reader"]);
    assert_eq!(verified.scopes(), vec!["orders:read", "profile"]);
    #[derive(Deserialize)]
    struct Mine {
        sub: String,
        roles: Vec<String>,
    }
    let mine: Mine = verified.claims().unwrap();
    assert_eq!((mine.sub.as_str(), mine.roles.len()), ("alice", 1));
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct NeedsEmail {
        email: String,
    }
    assert!(matches!(
        verified.claims::<NeedsEmail>(),
        Err(Error::Token(tessera_jwt::Error::ClaimsShape(_)))
    ));
}

#[tokio::test]
async fn rejections_name_the_reason() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let t = |extra| issuer.token("k1", extra);
    assert!(matches!(
        rejection(verifier.verify(&t(json!({"exp": NOW - 3600}))).await),
        tessera_jwt::Error::Expired { .. }
    ));
    assert!(matches!(
        rejection(verifier.verify(&t(json!({"aud": "billing"}))).await),
        tessera_jwt::Error::AudienceMismatch { .. }
    ));
    assert!(matches!(
        rejection(verifier.verify(&t(json!({"sub": null}))).await),
        tessera_jwt::Error::MissingClaim(c) if c == "sub"
    ));
    assert!(matches!(
        rejection(verifier.verify(&t(json!({"exp": null}))).await),
        tessera_jwt::Error::MissingClaim(c) if c == "exp"
    ));
    // Tampered payload: the signature no longer holds.
    let token = t(json!({}));
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_payload = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
        claims["roles"] = json!(["admin"]);
        engine.encode(serde_json::to_vec(&claims).unwrap())
    };
    parts[1] = &forged_payload;
    assert!(matches!(
        rejection(verifier.verify(&parts.join(".")).await),
        tessera_jwt::Error::InvalidSignature
    ));
    // Wrong typ.
    let key = new_key("k1");
    let id_token = tessera_jwt::encode(
        &key,
        &Header::for_key(&key),
        &json!({"iss": issuer.base(), "sub": "a", "aud": AUD, "exp": NOW + 60}),
    )
    .unwrap();
    assert!(matches!(
        rejection(verifier.verify(&id_token).await),
        tessera_jwt::Error::TypeMismatch { .. } | tessera_jwt::Error::InvalidSignature
    ));
    // Garbage and oversized tokens, before anything is fetched.
    let before = issuer.jwks_requests();
    assert!(matches!(
        rejection(verifier.verify("not.a.token").await),
        tessera_jwt::Error::Malformed(_)
    ));
    assert!(matches!(
        rejection(verifier.verify(&"a".repeat(20_000)).await),
        tessera_jwt::Error::TooLarge { .. }
    ));
    assert_eq!(issuer.jwks_requests(), before);
}

#[tokio::test]
async fn unknown_issuer_is_rejected_without_fetching() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let before = issuer.jwks_requests();
    let other = sign(&new_key("k9"), "https://elsewhere.example", json!({}));
    assert!(matches!(
        verifier.verify(&other).await,
        Err(Error::UnknownIssuer(iss)) if iss == "https://elsewhere.example"
    ));
    let no_iss = issuer.token("k1", json!({"iss": null}));
    assert!(matches!(
        verifier.verify(&no_iss).await,
        Err(Error::MissingIssuer)
    ));
    let numeric_iss = issuer.token("k1", json!({"iss": 7}));
    assert!(matches!(
        verifier.verify(&numeric_iss).await,
        Err(Error::MissingIssuer)
    ));
    assert_eq!(issuer.jwks_requests(), before);
}

#[tokio::test]
async fn each_issuer_verifies_only_with_its_own_keys() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let clock = Arc::new(FixedClock::new(NOW));
    let verifier = Verifier::builder()
        .issuer(issuer_config(&a, test_options()))
        .issuer(issuer_config(&b, test_options()))
        .clock(clock)
        .build()
        .unwrap();
    wait_for_keys(verifier.remote_key_set(&a.base()).unwrap()).await;
    wait_for_keys(verifier.remote_key_set(&b.base()).unwrap()).await;
    assert_eq!(verifier.remote_key_sets().count(), 2);
    assert!(verifier.verify(&a.token("k1", json!({}))).await.is_ok());
    assert!(verifier.verify(&b.token("k1", json!({}))).await.is_ok());
    // Signed by A's key (same kid) but claiming to come from B: B's keys refuse it.
    let wrong_issuer = a.token("k1", json!({"iss": b.base()}));
    assert!(matches!(
        rejection(verifier.verify(&wrong_issuer).await),
        tessera_jwt::Error::InvalidSignature
    ));
}

#[tokio::test]
async fn static_keys_and_aliases() {
    let key = new_key("local");
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new("https://auth.example.com")
                .alias("auth.example.com")
                .keys(KeySet::new(vec![key.verifying_key().unwrap()]))
                .algorithms([Algorithm::ES256])
                .audience(AUD),
        )
        .clock(Arc::new(FixedClock::new(NOW)))
        .build()
        .unwrap();
    for iss in ["https://auth.example.com", "auth.example.com"] {
        let verified = verifier.verify(&sign(&key, iss, json!({}))).await.unwrap();
        assert_eq!(verified.issuer(), "https://auth.example.com");
        assert_eq!(verified.registered().iss.as_deref(), Some(iss));
    }
    assert!(
        verifier
            .remote_key_set("https://auth.example.com")
            .is_none()
    );
    // An unknown kid with static keys: refused, nothing to fetch.
    let other = sign(&new_key("other"), "https://auth.example.com", json!({}));
    assert!(matches!(
        rejection(verifier.verify(&other).await),
        tessera_jwt::Error::NoMatchingKey(_)
    ));
}

#[tokio::test]
async fn google_preset() {
    let preset = format!(
        "{:?}",
        IssuerConfig::google("app.apps.googleusercontent.com")
    );
    assert!(preset.contains(GOOGLE_JWKS_URL), "{preset}");
    assert!(
        preset.contains(GOOGLE_ISSUER_SHORT) && preset.contains("RS256"),
        "{preset}"
    );

    // The preset, pointed at a local stand-in for Google's JWKS.
    let google = SigningKey::generate(Algorithm::RS256)
        .unwrap()
        .with_kid("g1");
    let issuer = TestIssuer::start_with(vec![google]).await;
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::google("app.apps.googleusercontent.com")
                .jwks_url(issuer.jwks_url())
                .remote_options(test_options()),
        )
        .clock(Arc::new(FixedClock::new(NOW)))
        .build()
        .unwrap();
    wait_for_keys(verifier.remote_key_set(GOOGLE_ISSUER).unwrap()).await;
    assert!(verifier.remote_key_set(GOOGLE_ISSUER_SHORT).is_some());
    let aud = json!({"aud": "app.apps.googleusercontent.com"});
    for iss in [GOOGLE_ISSUER, GOOGLE_ISSUER_SHORT] {
        let mut claims = aud.clone();
        claims["iss"] = json!(iss);
        let verified = verifier.verify(&issuer.token("g1", claims)).await.unwrap();
        assert_eq!(verified.issuer(), GOOGLE_ISSUER);
    }
    let mut other_app = json!({"aud": "other.apps.googleusercontent.com"});
    other_app["iss"] = json!(GOOGLE_ISSUER);
    assert!(matches!(
        rejection(verifier.verify(&issuer.token("g1", other_app)).await),
        tessera_jwt::Error::AudienceMismatch { .. }
    ));
    // An ES256 token claiming to be Google's: the algorithm is not Google's.
    let es = sign(
        &new_key("g1"),
        GOOGLE_ISSUER,
        json!({"aud": "app.apps.googleusercontent.com"}),
    );
    assert!(matches!(
        rejection(verifier.verify(&es).await),
        tessera_jwt::Error::AlgorithmNotAllowed(_)
    ));
}

#[tokio::test]
async fn configuration_errors() {
    let key = new_key("k");
    let keys = || KeySet::new(vec![key.verifying_key().unwrap()]);
    let ok = || {
        IssuerConfig::new("https://a.example")
            .keys(keys())
            .audience("x")
            .algorithms([Algorithm::ES256])
    };
    assert!(Verifier::builder().issuer(ok()).build().is_ok());
    assert_eq!(
        Verifier::builder().build().unwrap_err(),
        ConfigError::NoIssuer
    );
    let err = Verifier::builder()
        .issuer(
            IssuerConfig::new("https://a.example")
                .keys(keys())
                .algorithms([Algorithm::ES256]),
        )
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::NoAudience("https://a.example".into()));
    let err = Verifier::builder()
        .issuer(
            IssuerConfig::new("https://a.example")
                .keys(keys())
                .audience("x"),
        )
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::NoAlgorithm("https://a.example".into()));
    let err = Verifier::builder()
        .issuer(
            IssuerConfig::new("https://a.example")
                .audience("x")
                .algorithms([Algorithm::ES256]),
        )
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::NoKeys("https://a.example".into()));
    let err = Verifier::builder()
        .issuer(ok())
        .issuer(
            IssuerConfig::new("https://b.example")
                .alias("https://a.example")
                .keys(keys())
                .audience("x")
                .algorithms([Algorithm::ES256]),
        )
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::DuplicateIssuer("https://a.example".into())
    );
    let err = Verifier::builder()
        .issuer(ok())
        .cache(0, std::time::Duration::from_secs(60))
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidOption(_)));
    let err = Verifier::builder()
        .issuer(ok())
        .cache(10, std::time::Duration::from_millis(500))
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidOption(_)));
    let err = Verifier::builder()
        .issuer(
            IssuerConfig::new("https://a.example")
                .jwks_url("https://a.example/jwks")
                .audience("x")
                .algorithms([Algorithm::HS256]),
        )
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidOption(_)), "{err:?}");
}

#[test]
fn remote_keys_need_a_runtime() {
    let err = Verifier::builder()
        .issuer(IssuerConfig::google("app"))
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::NoRuntime);
}

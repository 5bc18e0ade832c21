//! Login throttling (429 + `Retry-After`) and answers that do not tell accounts apart.

use std::time::{Duration, Instant};

use crate::harness::Ctx;
use crate::support::{Issuer, PASSWORD};

pub(crate) async fn login_is_throttled_per_account(ctx: Ctx) {
    // The defaults: 5 failures per account per 15 minutes.
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    for _ in 0..5 {
        issuer
            .login("alice", "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    let throttled = issuer.login("alice", "guess").await;
    throttled.assert_error(429, "too_many_requests");
    // One attempt comes back every 15 min / 5 = 180 s.
    assert_eq!(throttled.header("retry-after"), Some("180"));
    // Even the right password waits: the throttle answers before any check.
    issuer
        .login("alice", PASSWORD)
        .await
        .assert_error(429, "too_many_requests");
    // The same over the OAuth endpoint.
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
            None,
        )
        .await
        .assert_error(429, "too_many_requests");
    // Other accounts are not affected, and unknown accounts are throttled alike.
    issuer.user("bob", PASSWORD, &[]).await;
    issuer.login("bob", PASSWORD).await.pair();
    for _ in 0..5 {
        issuer
            .login("nobody", "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    issuer
        .login("nobody", "guess")
        .await
        .assert_error(429, "too_many_requests");

    // Time passes: one attempt is back, and it succeeds.
    issuer.clock.advance(180);
    issuer.login("alice", PASSWORD).await.pair();
    // A success gives back only its own attempt: the failures still count (the attempt
    // earned back by time is left, then the account is throttled again).
    issuer
        .login("alice", "guess")
        .await
        .assert_error(401, "invalid_grant");
    issuer
        .login("alice", "guess")
        .await
        .assert_error(429, "too_many_requests");
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_logins_total{outcome=\"throttled\"} 5"),
        "{metrics}"
    );
    issuer.stop().await;
}

pub(crate) async fn login_is_throttled_per_address(ctx: Ctx) {
    let issuer = Issuer::start(
        ctx.store,
        &[
            ("TESSERA_THROTTLE__ADDRESS_ATTEMPTS", "3"),
            ("TESSERA_THROTTLE__ADDRESS_WINDOW", "1m"),
        ],
    )
    .await;
    issuer.user("alice", PASSWORD, &[]).await;
    // Successes do not use up the address.
    for _ in 0..5 {
        issuer.login("alice", PASSWORD).await.pair();
    }
    // Failures on different accounts from one address do.
    for name in ["u1", "u2", "u3"] {
        issuer
            .login(name, "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    let throttled = issuer.login("u4", "guess").await;
    throttled.assert_error(429, "too_many_requests");
    assert_eq!(throttled.header("retry-after"), Some("20"));
    issuer.stop().await;
}

pub(crate) async fn unknown_user_and_wrong_password_answer_alike(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[("TESSERA_THROTTLE__ENABLED", "false")]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    // A user without a password (signs in only through an outside provider).
    issuer
        .state
        .store
        .create_user(
            tessera_server::store::NewUser {
                username: "carol",
                password_hash: None,
                roles: &[],
            },
            crate::support::NOW,
        )
        .await
        .unwrap();
    let wrong = issuer.login("alice", "wrong").await;
    let unknown = issuer.login("nobody", "wrong").await;
    let no_password = issuer.login("carol", "wrong").await;
    wrong.assert_error(401, "invalid_grant");
    for other in [&unknown, &no_password] {
        assert_eq!(other.status, wrong.status);
        assert_eq!(other.text, wrong.text);
        assert_eq!(
            other.header("www-authenticate"),
            wrong.header("www-authenticate")
        );
    }

    // And alike in cost: both do one argon2id computation. With heavier parameters than the
    // other tests, an unknown user takes no less than a third of a wrong password's time
    // (bounded runs, medians, generous margin: timing on a shared machine is noisy).
    let slow = Issuer::start(
        issuer.state.store.clone(),
        &[
            ("TESSERA_THROTTLE__ENABLED", "false"),
            ("TESSERA_PASSWORDS__MEMORY_KIB", "8192"),
            ("TESSERA_PASSWORDS__ITERATIONS", "2"),
        ],
    )
    .await;
    slow.user("dave", PASSWORD, &[]).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        slow.login("dave", "wrong")
            .await
            .assert_error(401, "invalid_grant");
        known.push(start.elapsed());
        let start = Instant::now();
        slow.login("nobody", "wrong")
            .await
            .assert_error(401, "invalid_grant");
        unknown.push(start.elapsed());
    }
    known.sort();
    unknown.sort();
    let (known, unknown) = (known[2], unknown[2]);
    assert!(
        unknown * 3 >= known && known > Duration::from_millis(1),
        "unknown user {unknown:?} vs wrong password {known:?}"
    );
    slow.stop().await;
    issuer.stop().await;
}

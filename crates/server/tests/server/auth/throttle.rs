//! Login throttling (429 + `Retry-After`) and answers that do not tell accounts apart.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::Ctx;
use crate::harness::issuer::{Answer, Issuer, PASSWORD};

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
    // From the address that failed, even the right password waits: the throttle answers
    // before any check (another address gets in: see `a_stranger_cannot_lock_the_owner_out`).
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
            crate::harness::issuer::NOW,
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

// ---- finding 3: nobody locks a named account out; instances share the counts ------------------

/// The issuer behind a trusted proxy (the test client, on 127.0.0.1), so that
/// `X-Forwarded-For` picks the client's address; delays capped small (they are real timers).
const BEHIND_PROXY: &str = "[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";
const SMALL_DELAYS: (&str, &str) = ("TESSERA_THROTTLE__MAX_DELAY", "10ms");

async fn login_from(
    issuer: &Issuer,
    forwarded_for: &str,
    username: &str,
    password: &str,
) -> Answer {
    let response = issuer
        .http
        .post(issuer.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

async fn password_grant_from(issuer: &Issuer, forwarded_for: &str, password: &str) -> Answer {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", password),
        ])
        .finish();
    let response = issuer
        .http
        .post(issuer.url("/oauth2/token"))
        .header("x-forwarded-for", forwarded_for)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    Answer::read(response).await
}

/// The review's repro: five wrong passwords from anywhere made the owner's right password
/// answer 429. Now the address that failed is refused, the owner's address is not.
pub(crate) async fn a_stranger_cannot_lock_the_owner_out(ctx: Ctx) {
    let issuer = Issuer::start_with_toml(ctx.store, BEHIND_PROXY, &[SMALL_DELAYS]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    const A: &str = "198.51.100.1";
    const B: &str = "203.0.113.2";
    for _ in 0..5 {
        login_from(&issuer, A, "alice", "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    let refused = login_from(&issuer, A, "alice", "guess").await;
    refused.assert_error(429, "too_many_requests");
    assert_eq!(refused.header("retry-after"), Some("180"));
    // The owner, from B, with the right password: in (after a short wait, the account
    // having failed five times).
    login_from(&issuer, B, "alice", PASSWORD).await.pair();
    // From A, even the right password: 429.
    login_from(&issuer, A, "alice", PASSWORD)
        .await
        .assert_error(429, "too_many_requests");
    // The OAuth password grant goes through the same throttle.
    password_grant_from(&issuer, A, PASSWORD)
        .await
        .assert_error(429, "too_many_requests");
    let answer = password_grant_from(&issuer, B, PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // A botnet: every new address meets the account's delay, never a refusal, and the owner
    // still gets in.
    for i in 0..8 {
        login_from(&issuer, &format!("192.0.2.{i}"), "alice", "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    login_from(&issuer, B, "alice", PASSWORD).await.pair();
    issuer.stop().await;
}

/// Two instances on one database: failures at one count at the other (each used to count
/// alone, so N instances gave an attacker N times the budget).
pub(crate) async fn instances_sharing_a_database_share_the_limits(ctx: Ctx) {
    let a = Issuer::start_with_toml(ctx.store, BEHIND_PROXY, &[SMALL_DELAYS]).await;
    let store_b = tessera_server::store::connect(&ctx.url).await.unwrap();
    let b = Issuer::start_with_toml(store_b, BEHIND_PROXY, &[SMALL_DELAYS]).await;
    a.user("alice", PASSWORD, &[]).await;
    const A: &str = "198.51.100.1";
    for i in 0..5 {
        let instance = if i % 2 == 0 { &a } else { &b };
        login_from(instance, A, "alice", "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    for instance in [&a, &b] {
        login_from(instance, A, "alice", PASSWORD)
            .await
            .assert_error(429, "too_many_requests");
    }
    b.stop().await;
    a.stop().await;
}

// ---- finding 6: a forwarded garbage hop cannot move failures into the proxy's bucket --------

pub(crate) async fn forwarded_garbage_cannot_spend_the_proxy_bucket(ctx: Ctx) {
    let issuer = Issuer::start_with_toml(
        ctx.store,
        BEHIND_PROXY,
        &[
            ("TESSERA_THROTTLE__ADDRESS_ATTEMPTS", "3"),
            ("TESSERA_THROTTLE__ADDRESS_WINDOW", "1m"),
            SMALL_DELAYS,
        ],
    )
    .await;
    // The attacker writes a garbage hop; the proxy appends his real address.
    let attacker = "garbage, 198.51.100.66";
    for name in ["u1", "u2", "u3"] {
        login_from(&issuer, attacker, name, "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    // His own address is spent…
    login_from(&issuer, attacker, "u4", "guess")
        .await
        .assert_error(429, "too_many_requests");
    login_from(&issuer, "198.51.100.66", "u4", "guess")
        .await
        .assert_error(429, "too_many_requests");
    // …not the proxy's: a request the proxy makes itself (no header) is still answered.
    issuer
        .login("u5", "guess")
        .await
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

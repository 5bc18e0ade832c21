//! Login, userinfo, refresh, logout; reuse detection and the grace window; concurrency;
//! disabled users; key rotation; the database going away.

use std::collections::HashSet;

use serde_json::json;
use tessera_server::keys::RotateMode;
use tessera_server::store::TokenHash;

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, NOW, PASSWORD, claims, header};

pub(crate) async fn whole_flow(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &["admin", "user"]).await;

    let login = issuer.login("alice", PASSWORD).await;
    let (access, refresh) = login.pair();
    assert_eq!(login.header("pragma"), Some("no-cache"));
    assert_eq!(login.json()["expires_in"], 900);

    let me = issuer.userinfo(&access).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        me.json(),
        json!({"sub": alice.id, "preferred_username": "alice", "roles": ["admin", "user"]})
    );

    let refreshed = issuer.refresh(&refresh).await;
    let (access2, refresh2) = refreshed.pair();
    assert_ne!(refresh2, refresh);
    assert_ne!(access2, access);
    assert_eq!(
        claims(&access2)["sid"],
        claims(&access)["sid"],
        "same family"
    );
    assert_eq!(issuer.userinfo(&access2).await.status, 200);

    let logout = issuer
        .post_json("/logout", &json!({"refresh_token": refresh2}))
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    assert!(logout.text.is_empty());
    issuer
        .refresh(&refresh2)
        .await
        .assert_error(401, "invalid_grant");
    // Logging out again, or with a token never issued: still 204.
    for token in [refresh2.as_str(), "never-issued"] {
        let again = issuer
            .post_json("/logout", &json!({"refresh_token": token}))
            .await;
        assert_eq!(again.status, 204, "{}", again.text);
    }

    let metrics = issuer.metrics().await;
    for line in [
        "tessera_logins_total{outcome=\"success\"} 1",
        "tessera_refreshes_total{outcome=\"success\"} 1",
        "tessera_refreshes_total{outcome=\"revoked\"} 1",
        "tessera_tokens_issued_total{kind=\"access\"} 2",
        "tessera_tokens_issued_total{kind=\"refresh\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
    issuer.stop().await;
}

pub(crate) async fn access_token_has_the_pinned_shape(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[("TESSERA_AUDIENCE", "orders")]).await;
    let alice = issuer.user("alice", PASSWORD, &["user"]).await;
    let (access, refresh) = issuer.login("alice", PASSWORD).await.pair();

    let h = header(&access);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["typ"], "at+jwt");
    let kid = h["kid"].as_str().unwrap();
    let active = issuer.state.keys.signer().unwrap();
    assert_eq!(Some(kid), active.kid());

    let c = claims(&access);
    assert_eq!(c["iss"], "http://127.0.0.1:7070");
    assert_eq!(c["sub"], alice.id.as_str());
    assert_ne!(
        c["sub"], "alice",
        "sub is the stable id, never the username"
    );
    assert_eq!(c["aud"], "orders");
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["exp"], NOW + 900);
    assert_eq!(c["roles"], json!(["user"]));
    assert!(c["jti"].as_str().unwrap().len() >= 16);
    let sid = c["sid"].as_str().unwrap();
    assert!(c.get("client_id").is_none() && c.get("scope").is_none());

    // The refresh token is 256 random bits, and only its hash is stored.
    assert_eq!(refresh.len(), 43);
    let record = issuer
        .state
        .store
        .refresh_token(&TokenHash::of(&refresh))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.family.id, sid);
    assert_eq!(record.family.client_address.as_deref(), Some("127.0.0.1"));

    // The issuer's published JWKS verifies it.
    let jwks = issuer
        .http
        .get(issuer.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys = tessera_jwt::KeySet::from_jwks(
        &tessera_jwt::JwkSet::from_json(jwks.as_bytes()).unwrap(),
        &[tessera_jwt::Algorithm::ES256],
    );
    let validation = tessera_jwt::Validation::new([tessera_jwt::Algorithm::ES256])
        .issuer("http://127.0.0.1:7070")
        .audience("orders")
        .typ("at+jwt")
        .clock(issuer.clock.clone());
    tessera_jwt::verify::<serde_json::Value>(&access, &keys, &validation).unwrap();
    issuer.stop().await;
}

pub(crate) async fn reuse_after_grace_revokes_the_family(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (_, first) = issuer.login("alice", PASSWORD).await.pair();
    let (_, second) = issuer.refresh(&first).await.pair();

    // Past the 5 s grace window, the used token comes back: theft.
    issuer.clock.advance(6);
    issuer
        .refresh(&first)
        .await
        .assert_error(401, "invalid_grant");
    // The whole family is revoked: the newest token is dead too.
    issuer
        .refresh(&second)
        .await
        .assert_error(401, "invalid_grant");
    let record = issuer
        .state
        .store
        .refresh_token(&TokenHash::of(&second))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.family.revoked_reason.as_deref(),
        Some("reuse_detected")
    );
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_refresh_reuse_detections_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tessera_refreshes_total{outcome=\"reuse_detected\"} 1"));
    issuer.stop().await;
}

pub(crate) async fn retry_within_grace_keeps_one_chain(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (_, first) = issuer.login("alice", PASSWORD).await.pair();
    let (_, lost) = issuer.refresh(&first).await.pair();
    // The answer was lost; the client retries with the same token within the grace window.
    issuer.clock.advance(2);
    let (_, retried) = issuer.refresh(&first).await.pair();
    assert_ne!(retried, lost);
    // The latest answer wins: the token handed out first is dead (and, past the window,
    // presenting it is reuse).
    issuer.clock.advance(10);
    let (_, next) = issuer.refresh(&retried).await.pair();
    issuer
        .refresh(&lost)
        .await
        .assert_error(401, "invalid_grant");
    issuer
        .refresh(&next)
        .await
        .assert_error(401, "invalid_grant");
    assert!(
        issuer
            .metrics()
            .await
            .contains("tessera_refreshes_total{outcome=\"grace\"} 1")
    );
    issuer.stop().await;
}

/// Live (unused) tokens among `tokens`, as the store sees them.
async fn live(issuer: &Issuer, tokens: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tokens {
        if let Some(record) = issuer
            .state
            .store
            .refresh_token(&TokenHash::of(t))
            .await
            .unwrap()
            && record.token.used_at.is_none()
        {
            out.push(t.clone());
        }
    }
    out
}

async fn fifty_refreshes(issuer: &Issuer, token: &str) -> Vec<(u16, Option<String>)> {
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let http = issuer.http.clone();
        let url = issuer.url("/token/refresh");
        let body = json!({"refresh_token": token});
        tasks.push(tokio::spawn(async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            let json: serde_json::Value = response.json().await.unwrap();
            let refresh = json["refresh_token"].as_str().map(str::to_owned);
            (status, refresh)
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

pub(crate) async fn fifty_concurrent_refreshes_leave_one_chain(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (_, first) = issuer.login("alice", PASSWORD).await.pair();

    let answers = fifty_refreshes(&issuer, &first).await;
    // Within the grace window every racing request is a retry: each gets an answer…
    for (status, _) in &answers {
        assert_eq!(*status, 200);
    }
    let handed_out: Vec<String> = answers.into_iter().filter_map(|(_, t)| t).collect();
    assert_eq!(handed_out.iter().collect::<HashSet<_>>().len(), 50);
    // …but exactly one of the handed-out tokens is live: one chain.
    let live_now = live(&issuer, &handed_out).await;
    assert_eq!(live_now.len(), 1, "live chains: {}", live_now.len());
    assert!(live(&issuer, std::slice::from_ref(&first)).await.is_empty());

    // After the window the survivor rotates; presenting any other one is reuse.
    issuer.clock.advance(6);
    let (_, next) = issuer.refresh(&live_now[0]).await.pair();
    let dead = handed_out.iter().find(|t| **t != live_now[0]).unwrap();
    issuer
        .refresh(dead)
        .await
        .assert_error(401, "invalid_grant");
    issuer
        .refresh(&next)
        .await
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

pub(crate) async fn fifty_concurrent_refreshes_without_grace_revoke(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[("TESSERA_TOKENS__REFRESH_REUSE_GRACE", "0s")]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (_, first) = issuer.login("alice", PASSWORD).await.pair();

    let answers = fifty_refreshes(&issuer, &first).await;
    let winners: Vec<String> = answers
        .iter()
        .filter(|(status, _)| *status == 200)
        .filter_map(|(_, t)| t.clone())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    assert_eq!(answers.iter().filter(|(s, _)| *s == 401).count(), 49);
    // The losers presented a used token: reuse, so the family is revoked and even the
    // winner's token is dead. Never two live chains.
    issuer
        .refresh(&winners[0])
        .await
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

pub(crate) async fn disabled_users_cannot_log_in_or_refresh(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let bob = issuer.user("bob", PASSWORD, &[]).await;
    let (access, refresh) = issuer.login("bob", PASSWORD).await.pair();

    issuer
        .state
        .store
        .set_user_disabled(&bob.id, true, NOW)
        .await
        .unwrap();
    let refused = issuer.login("bob", PASSWORD).await;
    refused.assert_error(401, "invalid_grant");
    // The same answer as a wrong password: the account's state is not revealed.
    let wrong = issuer.login("bob", "wrong password").await;
    assert_eq!(refused.text, wrong.text);
    issuer
        .refresh(&refresh)
        .await
        .assert_error(401, "invalid_grant");
    // The family was revoked on the way, and userinfo refuses the user.
    let record = issuer
        .state
        .store
        .refresh_token(&TokenHash::of(&refresh))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.family.revoked_reason.as_deref(),
        Some("user_disabled")
    );
    issuer
        .userinfo(&access)
        .await
        .assert_error(401, "invalid_token");

    // Enabled again: a new login works, the old session stays dead.
    issuer
        .state
        .store
        .set_user_disabled(&bob.id, false, NOW)
        .await
        .unwrap();
    issuer.login("bob", PASSWORD).await.pair();
    issuer
        .refresh(&refresh)
        .await
        .assert_error(401, "invalid_grant");
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_logins_total{outcome=\"disabled\"} 1"),
        "{metrics}"
    );
    issuer.stop().await;
}

pub(crate) async fn userinfo_follows_key_rotation(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (old_access, refresh) = issuer.login("alice", PASSWORD).await.pair();
    let old_kid = header(&old_access)["kid"].clone();
    assert_eq!(issuer.userinfo(&old_access).await.status, 200);

    issuer.state.keys.rotate(RotateMode::Now).await.unwrap();
    let (new_access, _) = issuer.refresh(&refresh).await.pair();
    assert_ne!(header(&new_access)["kid"], old_kid, "signed by the new key");
    // Both verify: the new key is picked up, the retired one stays published.
    assert_eq!(issuer.userinfo(&new_access).await.status, 200);
    assert_eq!(issuer.userinfo(&old_access).await.status, 200);

    // An expired token is refused with a Bearer challenge.
    issuer.clock.advance(900 + 31);
    let expired = issuer.userinfo(&new_access).await;
    expired.assert_error(401, "invalid_token");
    assert!(
        expired
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer realm=\"tessera\""),
        "{:?}",
        expired.headers
    );
    issuer.stop().await;
}

pub(crate) async fn database_gone_is_503(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let client = issuer.client("svc", &["read"]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (access, refresh) = issuer.login("alice", PASSWORD).await.pair();

    issuer.state.store.close().await;
    let login = issuer.login("alice", PASSWORD).await;
    login.assert_error(503, "temporarily_unavailable");
    issuer
        .refresh(&refresh)
        .await
        .assert_error(503, "temporarily_unavailable");
    issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            Some((&client.0, &client.1)),
        )
        .await
        .assert_error(503, "temporarily_unavailable");
    issuer
        .post_json("/logout", &json!({"refresh_token": refresh}))
        .await
        .assert_error(503, "temporarily_unavailable");
    issuer
        .userinfo(&access)
        .await
        .assert_error(503, "temporarily_unavailable");
    // /readyz says so too.
    let ready = issuer.http.get(issuer.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    issuer.stop().await;
}

pub(crate) async fn rehash_on_login_when_parameters_change(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store.clone(), &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    issuer.stop().await;
    let old_hash = alice.password_hash.unwrap();
    assert!(old_hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));

    // The same database, served with stronger parameters.
    let issuer = Issuer::start(
        ctx.store,
        &[
            ("TESSERA_PASSWORDS__MEMORY_KIB", "128"),
            ("TESSERA_PASSWORDS__ITERATIONS", "2"),
        ],
    )
    .await;
    issuer.login("alice", PASSWORD).await.pair();
    // The rehash runs after the answer: wait for it (bounded).
    let mut rehashed = None;
    for _ in 0..200 {
        let user = issuer
            .state
            .store
            .user_by_id(&alice.id)
            .await
            .unwrap()
            .unwrap();
        if user.password_hash.as_deref() != Some(old_hash.as_str()) {
            rehashed = user.password_hash;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let rehashed = rehashed.expect("the password was rehashed within 2 s");
    assert!(
        rehashed.starts_with("$argon2id$v=19$m=128,t=2,p=1$"),
        "{rehashed}"
    );
    issuer.login("alice", PASSWORD).await.pair();
    issuer.stop().await;
}

/// Two instances on one database (each with its own connection pool, key manager and
/// clock): a token issued by A verifies at B, and a refresh token rotated at A and then
/// reused at B (past the grace window) is detected and revokes the family everywhere.
pub(crate) async fn two_instances_share_tokens_and_detect_reuse(ctx: Ctx) {
    let a = Issuer::start(ctx.store, &[]).await;
    let store_b = tessera_server::store::connect(&ctx.url).await.unwrap();
    let b = Issuer::start(store_b, &[]).await;
    a.user("alice", PASSWORD, &["user"]).await;

    // B loaded the signing key A created: A's tokens verify at B, and the other way round.
    let (access_a, first) = a.login("alice", PASSWORD).await.pair();
    assert_eq!(b.userinfo(&access_a).await.status, 200);
    let (access_b, second) = b.refresh(&first).await.pair();
    assert_eq!(a.userinfo(&access_b).await.status, 200);
    assert_eq!(claims(&access_a)["sid"], claims(&access_b)["sid"]);

    // The token rotated at B comes back at A after the grace window: theft, whichever
    // instance sees it.
    a.clock.advance(6);
    b.clock.advance(6);
    a.refresh(&first).await.assert_error(401, "invalid_grant");
    b.refresh(&second).await.assert_error(401, "invalid_grant");
    a.refresh(&second).await.assert_error(401, "invalid_grant");
    b.stop().await;
    a.stop().await;
}

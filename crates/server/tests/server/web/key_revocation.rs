//! A compromised signing key, revoked through `POST /admin/api/keys/{kid}/revoke`: out of the
//! JWKS at once, tokens signed with it (also ones forged with the stolen private key) refused
//! by `/userinfo`, introspection and the admin API, a new key signing in its place; another
//! instance on the same database drops it at its next key reload.

use std::str::FromStr;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tessera_jwt::{Algorithm, Header, Jwk, SigningKey};
use tessera_server::keys::{MasterKey, MasterKeyRing};
use tessera_server::store::{self, KeyState};

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, PASSWORD, claims, header};
use crate::web::sessions_api::call;

on_both_backends!(
    tokens_signed_with_a_stolen_key_are_refused_once_it_is_revoked,
    revoking_is_for_admins_idempotent_and_404_for_unknown_keys,
);

/// The private key of `kid` as an attacker who stole it would hold it (the tests' master key).
async fn steal(issuer: &Issuer, kid: &str) -> SigningKey {
    let records = issuer.state.store.signing_keys().await.unwrap();
    let record = records.iter().find(|r| r.kid == kid).unwrap();
    let ring = MasterKeyRing::new(MasterKey::from_bytes(&[7u8; 32]).unwrap(), vec![]);
    let plaintext = ring
        .open(&record.kid, &record.alg, &record.private_key)
        .unwrap();
    let jwk = Jwk::from_json(&plaintext).unwrap();
    SigningKey::from_jwk(&jwk, Some(Algorithm::from_str(&record.alg).unwrap()))
        .unwrap()
        .with_kid(kid.to_owned())
}

async fn jwks_kids(issuer: &Issuer) -> Vec<String> {
    let jwks: Value = issuer
        .http
        .get(issuer.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn introspect(issuer: &Issuer, creds: (&str, &str), token: &str) -> Value {
    let answer = issuer
        .post_form("/oauth2/introspect", &[("token", token)], Some(creds))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

pub(crate) async fn tokens_signed_with_a_stolen_key_are_refused_once_it_is_revoked(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let second_store = store::connect(&ctx.url).await.unwrap();
    let other = Issuer::start(second_store, &[]).await;
    issuer.user("root", PASSWORD, &["admin"]).await;
    issuer.user("alice", PASSWORD, &["user"]).await;
    let (client_id, client_secret) = issuer.client("api", &["read"]).await;
    let creds = (client_id.as_str(), client_secret.as_str());
    let (root, _) = issuer.login("root", PASSWORD).await.pair();
    let (alice, alice_refresh) = issuer.login("alice", PASSWORD).await.pair();
    let kid = header(&alice)["kid"].as_str().unwrap().to_owned();

    // The attacker signs an admin token of his own with the stolen key.
    let stolen = steal(&issuer, &kid).await;
    let mut forged_claims = claims(&root);
    forged_claims["jti"] = json!("forged");
    let forged = tessera_jwt::encode(
        &stolen,
        &Header::for_key(&stolen).with_typ("at+jwt"),
        &forged_claims,
    )
    .unwrap();
    for token in [&alice, &forged] {
        assert_eq!(issuer.userinfo(token).await.status, 200);
        assert_eq!(other.userinfo(token).await.status, 200);
        assert_eq!(introspect(&issuer, creds, token).await["active"], true);
    }
    let forged_admin = call(
        &issuer,
        Method::GET,
        "/admin/api/users",
        Some(&forged),
        None,
    )
    .await;
    assert_eq!(forged_admin.status, 200, "{}", forged_admin.text);
    assert!(jwks_kids(&issuer).await.contains(&kid));

    let answer = call(
        &issuer,
        Method::POST,
        &format!("/admin/api/keys/{kid}/revoke"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let body = answer.json();
    assert_eq!(body["revoked"], kid.as_str());
    assert_eq!(body["was"], "active");
    let successor = body["activated"].as_str().unwrap().to_owned();
    assert_ne!(successor, kid);
    let states: Vec<(String, String)> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&(kid.clone(), "revoked".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&(successor.clone(), "active".into())),
        "{states:?}"
    );

    // At once, on this instance: out of the JWKS, its tokens refused everywhere.
    let kids = jwks_kids(&issuer).await;
    assert!(!kids.contains(&kid), "{kids:?}");
    assert!(kids.contains(&successor), "{kids:?}");
    for token in [&alice, &forged, &root] {
        issuer
            .userinfo(token)
            .await
            .assert_error(401, "invalid_token");
        assert_eq!(
            introspect(&issuer, creds, token).await,
            json!({"active": false})
        );
    }
    call(
        &issuer,
        Method::GET,
        "/admin/api/users",
        Some(&forged),
        None,
    )
    .await
    .assert_error(401, "invalid_token");

    // The other instance accepts it until its next key reload (keys.refresh_interval), then
    // not.
    assert_eq!(other.userinfo(&forged).await.status, 200);
    other.state.keys.reload().await.unwrap();
    other
        .userinfo(&forged)
        .await
        .assert_error(401, "invalid_token");
    assert!(!jwks_kids(&other).await.contains(&kid));

    // The issuer goes on signing, with the successor; refresh tokens are opaque (bound to
    // no signing key), so sessions survive and get tokens under the new key.
    let (fresh, _) = issuer.refresh(&alice_refresh).await.pair();
    assert_eq!(header(&fresh)["kid"], successor.as_str());
    assert_eq!(issuer.userinfo(&fresh).await.status, 200);
    assert_eq!(other.userinfo(&fresh).await.status, 200);
    let (root, _) = issuer.login("root", PASSWORD).await.pair();
    assert_eq!(header(&root)["kid"], successor.as_str());

    // Stored: revoked, the private key erased; a restart does not bring it back.
    let record = issuer
        .state
        .store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kid == kid)
        .unwrap();
    assert_eq!(record.state, KeyState::Revoked);
    assert!(record.private_key.ciphertext.is_empty());
    let third = Issuer::start(store::connect(&ctx.url).await.unwrap(), &[]).await;
    assert!(!jwks_kids(&third).await.contains(&kid));
    third
        .userinfo(&forged)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(third.userinfo(&fresh).await.status, 200);

    third.stop().await;
    let other_store = Arc::clone(&other.state.store);
    other.stop().await;
    other_store.close().await;
    issuer.stop().await;
}

pub(crate) async fn revoking_is_for_admins_idempotent_and_404_for_unknown_keys(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("root", PASSWORD, &["admin"]).await;
    issuer.user("bob", PASSWORD, &["user"]).await;
    // A `next` key, so that revoking a key that is not active is tried too.
    issuer
        .state
        .keys
        .rotate(tessera_server::keys::RotateMode::Advance)
        .await
        .unwrap();
    let keys = issuer.state.keys.list().await.unwrap();
    let next = keys.iter().find(|k| k.state == KeyState::Next).unwrap();
    let active = keys.iter().find(|k| k.state == KeyState::Active).unwrap();
    let (bob, _) = issuer.login("bob", PASSWORD).await.pair();
    let path = format!("/admin/api/keys/{}/revoke", next.kid);

    let refused = call(&issuer, Method::POST, &path, Some(&bob), None).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(
        call(&issuer, Method::POST, &path, None, None).await.status,
        401
    );
    assert_eq!(issuer.state.keys.list().await.unwrap(), keys);

    let (root, _) = issuer.login("root", PASSWORD).await.pair();
    let answer = call(&issuer, Method::POST, &path, Some(&root), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["was"], "next");
    assert_eq!(answer.json()["activated"], Value::Null);
    assert!(!jwks_kids(&issuer).await.contains(&next.kid));
    // The active key signs on.
    assert_eq!(
        issuer.state.keys.signer().unwrap().kid(),
        Some(active.kid.as_str())
    );

    let again = call(&issuer, Method::POST, &path, Some(&root), None).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["was"], "revoked");

    call(
        &issuer,
        Method::POST,
        "/admin/api/keys/no-such-kid/revoke",
        Some(&root),
        None,
    )
    .await
    .assert_error(404, "not_found");
    let long = format!("/admin/api/keys/{}/revoke", "k".repeat(300));
    call(&issuer, Method::POST, &long, Some(&root), None)
        .await
        .assert_error(404, "not_found");
    // A later rotation makes a new `next`: the revoked one is never promoted.
    let report = issuer
        .state
        .keys
        .rotate(tessera_server::keys::RotateMode::Now)
        .await
        .unwrap();
    assert_ne!(report.activated.as_deref(), Some(next.kid.as_str()));
    issuer.stop().await;
}

//! The example API against an issuer on 127.0.0.1 that serves a real JWKS.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tessera_guard::Verifier;
use tessera_jwt::{Algorithm, Header, JwkSet, KeySet, SigningKey};

const ISSUER: &str = "https://issuer.example";

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn token(key: &SigningKey, sub: &str, roles: &[&str], aud: &str) -> String {
    tessera_jwt::encode(
        key,
        &Header::for_key(key).with_typ("at+jwt"),
        &json!({"iss": ISSUER, "sub": sub, "aud": aud, "roles": roles,
                "iat": 1_700_000_000, "exp": 4_102_444_800_i64}),
    )
    .unwrap()
}

#[tokio::test]
async fn public_signed_in_and_admin_routes() {
    let key = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("k1");
    let jwks: JwkSet = KeySet::new(vec![key.verifying_key().unwrap()])
        .to_public_jwks()
        .unwrap();
    let jwks = serde_json::to_value(&jwks).unwrap();
    let issuer = serve(Router::new().route(
        "/jwks.json",
        get(move || {
            let jwks = jwks.clone();
            async move { Json(jwks) }
        }),
    ))
    .await;

    let verifier = Verifier::builder()
        .issuer(protected_api::issuer(
            ISSUER,
            "tessera",
            Some(&format!("{issuer}/jwks.json")),
        ))
        .build()
        .unwrap();
    let api = serve(protected_api::app(Arc::new(verifier))).await;
    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut request = http.get(format!("{api}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let response = get("/public", None).await.unwrap();
    assert_eq!(response.status(), 200);

    let response = get("/me", None).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="protected-api""#
    );

    let alice = token(&key, "alice", &["user"], "tessera");
    let response = get("/me", Some(&alice)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["roles"], json!(["user"]));

    let response = get("/admin", Some(&alice)).await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="insufficient_scope""#)
    );

    let root = token(&key, "root", &["admin"], "tessera");
    let response = get("/admin", Some(&root)).await.unwrap();
    assert_eq!(response.status(), 200);

    // A token for another audience, or signed by a key the issuer never published.
    let elsewhere = token(&key, "alice", &["admin"], "billing");
    assert_eq!(get("/me", Some(&elsewhere)).await.unwrap().status(), 401);
    let stranger = SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid("k1");
    let forged = token(&stranger, "mallory", &["admin"], "tessera");
    let response = get("/admin", Some(&forged)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
}

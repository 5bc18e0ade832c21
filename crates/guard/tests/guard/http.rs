//! The tower layer and the axum extractors: RFC 6750 answers for every kind of request.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_guard::{Claims, GuardLayer, IssuerConfig, VerifiedToken, Verifier};
use tessera_jwt::Algorithm;
use tower::ServiceExt;

use crate::issuer::{NOW, TestIssuer, new_key, sign};
use crate::{test_options, verifier};

#[derive(Deserialize)]
struct User {
    sub: String,
}

async fn me(Claims(user): Claims<User>) -> String {
    format!("hello {}", user.sub)
}

async fn token_info(token: VerifiedToken) -> String {
    format!("{} via {}", token.subject().unwrap_or("?"), token.issuer())
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct NeedsEmail {
    email: String,
}

async fn needs_email(Claims(_): Claims<NeedsEmail>) -> &'static str {
    "ok"
}

fn app(verifier: Arc<Verifier>) -> Router {
    let guard = GuardLayer::new(verifier.clone()).realm("orders");
    Router::new()
        .route("/me", get(me))
        .route("/info", get(token_info))
        .route("/email", get(needs_email))
        .route_layer(guard.clone())
        .merge(
            Router::new()
                .route("/admin", get(me))
                .route_layer(guard.clone().require_role("admin")),
        )
        .merge(
            Router::new()
                .route("/write", get(me))
                .route_layer(guard.require_scope("orders:write")),
        )
        .merge(
            Router::new()
                .route("/detailed", get(me))
                .route_layer(GuardLayer::new(verifier).detailed_errors(true)),
        )
        .route("/unguarded", get(me))
}

async fn call(app: &Router, path: &str, authorization: &[&str]) -> (StatusCode, String, Value) {
    let mut request = Request::get(path);
    for value in authorization {
        request = request.header("authorization", *value);
    }
    let response: Response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, challenge, body)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

const INVALID: &str = r#"Bearer realm="orders", error="invalid_token", error_description="the access token is invalid""#;

#[tokio::test]
async fn valid_token_reaches_the_handler() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    let token = issuer.token("k1", json!({}));
    let (status, challenge, body) = call(&app, "/me", &[&bearer(&token)]).await;
    assert_eq!((status, challenge.as_str()), (StatusCode::OK, ""));
    assert_eq!(body, "hello alice");
    let (status, _, body) = call(&app, "/info", &[&bearer(&token)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, Value::String(format!("alice via {}", issuer.base())));
    // The scheme is case-insensitive.
    let (status, _, _) = call(&app, "/me", &[&format!("bearer {token}")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_tokens_get_401_invalid_token() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    let tampered = {
        let t = issuer.token("k1", json!({}));
        let (rest, sig) = t.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        format!("{rest}.{flipped}{}", &sig[1..])
    };
    let cases = [
        ("expired", issuer.token("k1", json!({"exp": NOW - 3600}))),
        (
            "wrong audience",
            issuer.token("k1", json!({"aud": "billing"})),
        ),
        (
            "wrong issuer",
            issuer.token("k1", json!({"iss": "https://elsewhere.example"})),
        ),
        (
            "unknown issuer",
            sign(&new_key("x"), "https://unknown.example", json!({})),
        ),
        ("tampered", tampered),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ];
    for (what, token) in cases {
        let (status, challenge, body) = call(&app, "/me", &[&bearer(&token)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(challenge, INVALID, "{what}");
        assert_eq!(
            body,
            json!({"error": "invalid_token", "error_description": "the access token is invalid"}),
            "{what}"
        );
    }
    assert_eq!(issuer.jwks_requests(), 1, "no fetch for any of these");
}

#[tokio::test]
async fn detailed_errors_say_why() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    let expired = issuer.token("k1", json!({"exp": NOW - 3600}));
    let (status, challenge, body) = call(&app, "/detailed", &[&bearer(&expired)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with("token expired at 2027-01-15T07:00:00Z"),
        "{description}"
    );
    assert!(
        challenge
            .starts_with(r#"Bearer error="invalid_token", error_description="token expired at"#),
        "{challenge}"
    );
    // An attacker's issuer string is reflected only as safe header text: escaped by
    // tessera_jwt::Untrusted (the newline as \\n), then quotes and backslashes made `'`.
    let evil = sign(&new_key("x"), "https://x\"\\\n", json!({}));
    let (_, challenge, _) = call(&app, "/detailed", &[&bearer(&evil)]).await;
    assert!(
        challenge.contains(r#"untrusted issuer 'https://x''''n'"#),
        "{challenge}"
    );
}

#[tokio::test]
async fn missing_or_other_scheme_gets_a_bare_challenge() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    for auth in [&[][..], &["Basic dXNlcjpwYXNz"][..], &["Token abc"][..]] {
        let (status, challenge, body) = call(&app, "/me", auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(challenge, r#"Bearer realm="orders""#, "{auth:?}");
        assert_eq!(body["error"], "unauthorized");
    }
    // Without a realm: `Bearer` alone.
    let (status, challenge, _) = call(&app, "/detailed", &[]).await;
    assert_eq!(
        (status, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, "Bearer")
    );
}

#[tokio::test]
async fn malformed_authorization_gets_400_invalid_request() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    let token = issuer.token("k1", json!({}));
    let two_tokens = format!("Bearer {token} {token}");
    let bad_chars = "Bearer a,b";
    let two_headers = [bearer(&token), bearer(&token)];
    let cases: [&[&str]; 4] = [
        &["Bearer"],
        &[&two_tokens],
        &[bad_chars],
        &[&two_headers[0], &two_headers[1]],
    ];
    for auth in cases {
        let (status, challenge, body) = call(&app, "/me", auth).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{auth:?}");
        assert!(
            challenge.starts_with(
                r#"Bearer realm="orders", error="invalid_request", error_description=""#
            ),
            "{challenge}"
        );
        assert_eq!(body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn roles_and_scopes_give_403_insufficient_scope() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    let reader = issuer.token("k1", json!({}));
    let (status, challenge, body) = call(&app, "/admin", &[&bearer(&reader)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge,
        r#"Bearer realm="orders", error="insufficient_scope", error_description="the access token lacks the required role admin""#
    );
    assert_eq!(body["error"], "insufficient_scope");
    let admin = issuer.token("k1", json!({"roles": ["reader", "admin"]}));
    assert_eq!(
        call(&app, "/admin", &[&bearer(&admin)]).await.0,
        StatusCode::OK
    );

    let (status, challenge, _) = call(&app, "/write", &[&bearer(&reader)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        challenge.ends_with(r#"scope="orders:write""#),
        "{challenge}"
    );
    let writer = issuer.token("k1", json!({"scope": "orders:read orders:write"}));
    assert_eq!(
        call(&app, "/write", &[&bearer(&writer)]).await.0,
        StatusCode::OK
    );
    let scp = issuer.token("k1", json!({"scope": null, "scp": ["orders:write"]}));
    assert_eq!(
        call(&app, "/write", &[&bearer(&scp)]).await.0,
        StatusCode::OK
    );
    // A role claim that is not an array of strings grants nothing.
    let odd = issuer.token("k1", json!({"roles": "admin"}));
    assert_eq!(
        call(&app, "/admin", &[&bearer(&odd)]).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn claims_that_do_not_fit_the_handler_get_401() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    let token = issuer.token("k1", json!({}));
    let (status, challenge, _) = call(&app, "/email", &[&bearer(&token)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge, INVALID);
    let with_email = issuer.token("k1", json!({"email": "a@example.com"}));
    assert_eq!(
        call(&app, "/email", &[&bearer(&with_email)]).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn extractor_without_the_layer_is_a_server_error() {
    let issuer = TestIssuer::start().await;
    let (verifier, _) = verifier(&issuer, test_options()).await;
    let app = app(verifier);
    let token = issuer.token("k1", json!({}));
    let (status, _, body) = call(&app, "/unguarded", &[&bearer(&token)]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "server_error");
}

#[tokio::test]
async fn issuer_never_reached_gives_503_then_recovers() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token("k1", json!({}));
    issuer.stop().await;
    let options = test_options().unknown_kid_cooldown(std::time::Duration::from_millis(50));
    let verifier = Verifier::builder()
        .issuer(
            IssuerConfig::new(issuer.base())
                .jwks_url(issuer.jwks_url())
                .remote_options(options)
                .audience(crate::issuer::AUD)
                .algorithms([Algorithm::ES256]),
        )
        .clock(Arc::new(tessera_jwt::FixedClock::new(NOW)))
        .build()
        .unwrap();
    let app = app(Arc::new(verifier));
    let (status, challenge, body) = call(&app, "/me", &[&bearer(&token)]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(challenge, "");
    assert_eq!(body["error"], "temporarily_unavailable");

    issuer.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    let (status, _, _) = call(&app, "/me", &[&bearer(&token)]).await;
    assert_eq!(status, StatusCode::OK);
}

/// Keys that change while the layer lives, as an issuer's own do when it rotates them.
#[derive(Clone)]
struct Rotating(Arc<std::sync::Mutex<Option<Arc<Verifier>>>>);

impl tessera_guard::VerifierSource for Rotating {
    fn verifier(&self) -> Result<Arc<Verifier>, tessera_guard::Error> {
        self.0
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| tessera_guard::Error::KeysUnavailable {
                issuer: "https://auth.example.com".into(),
                reason: "no key yet".into(),
            })
    }
}

fn local_verifier(key: &tessera_jwt::SigningKey) -> Arc<Verifier> {
    Arc::new(
        Verifier::builder()
            .issuer(
                IssuerConfig::new("https://auth.example.com")
                    .keys(tessera_jwt::KeySet::new(vec![key.verifying_key().unwrap()]))
                    .algorithms([Algorithm::ES256])
                    .audience(crate::issuer::AUD),
            )
            .clock(Arc::new(tessera_jwt::FixedClock::new(NOW)))
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn a_verifier_source_is_asked_on_every_request() {
    let source = Rotating(Arc::default());
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(GuardLayer::from_source(source.clone()).realm("orders"));
    let (old, new) = (new_key("old"), new_key("new"));
    let token_of = |key| sign(key, "https://auth.example.com", json!({}));

    // No verifier yet: not the client's fault.
    let (status, challenge, body) = call(&app, "/me", &[&bearer(&token_of(&old))]).await;
    assert_eq!(
        (status, challenge.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "")
    );
    assert_eq!(body["error"], "temporarily_unavailable");
    // Without a token, still the bare challenge.
    let (status, _, _) = call(&app, "/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    *source.0.lock().unwrap() = Some(local_verifier(&old));
    let (status, _, body) = call(&app, "/me", &[&bearer(&token_of(&old))]).await;
    assert_eq!((status, body), (StatusCode::OK, json!("hello alice")));
    let (status, challenge, _) = call(&app, "/me", &[&bearer(&token_of(&new))]).await;
    assert_eq!(
        (status, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, INVALID)
    );

    // The keys change: the same layer now takes the new key and refuses the old one.
    *source.0.lock().unwrap() = Some(local_verifier(&new));
    let (status, _, _) = call(&app, "/me", &[&bearer(&token_of(&new))]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&app, "/me", &[&bearer(&token_of(&old))]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

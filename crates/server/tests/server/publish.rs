//! What the issuer publishes, over real HTTP on 127.0.0.1 (a real SQLite file behind it): the
//! JWKS with `Cache-Control` and `ETag`/304, the discovery document (and tessera-guard
//! verifying our tokens through it), error responses in the JSON format (404, 405, 413),
//! security headers, CORS and the metrics.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_jwt::{Clock, Header, JwkSet, SystemClock};
use tessera_server::keys::{MasterKey, RotateMode};
use tessera_server::store;

use crate::harness::issuer::Issuer;

struct Running {
    issuer: Issuer,
    _dir: tempfile::TempDir,
}

/// A server on a free port of 127.0.0.1 whose issuer is its own address, on a new SQLite file.
async fn start(extra_toml: &str) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let db = dir.path().join("tessera.db");
    let database_url = format!("sqlite://{}", db.display());
    let toml = format!(
        "issuer = \"{base}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase_url = \"{database_url}\"\n{extra_toml}"
    );
    let store = store::connect(&database_url).await.unwrap();
    let issuer = Issuer::builder(store)
        .only_toml(&toml)
        .master_key(MasterKey::generate().unwrap().0)
        .system_clock()
        .listen(format!("127.0.0.1:{port}").parse().unwrap())
        .start()
        .await;
    assert_eq!(issuer.local_addr().port(), port);
    Running { issuer, _dir: dir }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn json_error(
    response: reqwest::Response,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{status}: {headers:?}"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].is_string() && body["error_description"].is_string(),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    (status, headers, body)
}

#[tokio::test]
async fn jwks_has_cache_control_and_a_strong_etag_with_304() {
    let run = start("[keys]\nalgorithm = \"ES256\"\njwks_max_age = \"20m\"").await;
    let http = client();
    let url = format!("{}/.well-known/jwks.json", run.issuer.base);

    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=1200");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    let body: Value = response.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let active = run.issuer.state.keys.signer().unwrap();
    assert_eq!(keys[0]["kid"], active.kid().unwrap());
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0].get("d").is_none(), "no private member: {body}");
    // It is a JWKS tessera-jwt reads.
    JwkSet::from_json(body.to_string().as_bytes()).unwrap();

    // The same ETag: 304, no body, the same caching headers.
    let response = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()["etag"], etag.as_str());
    assert_eq!(response.headers()["cache-control"], "public, max-age=1200");
    assert!(response.bytes().await.unwrap().is_empty());
    // Another ETag: the document.
    let response = http
        .get(&url)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // A new key is published: a new ETag, and the old one gets the document again.
    run.issuer
        .state
        .keys
        .rotate(RotateMode::Advance)
        .await
        .unwrap();
    let response = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(response.headers()["etag"], etag.as_str());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["keys"].as_array().unwrap().len(), 2);
    run.issuer.stop().await;
}

#[tokio::test]
async fn discovery_document_and_a_guard_verifying_through_it() {
    let run = start("").await;
    let http = client();
    let response = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            run.issuer.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    let doc: Value = response.json().await.unwrap();
    let base = &run.issuer.base;
    assert_eq!(doc["issuer"], *base);
    assert_eq!(doc["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    assert_eq!(doc["token_endpoint"], format!("{base}/oauth2/token"));
    assert_eq!(doc["revocation_endpoint"], format!("{base}/oauth2/revoke"));
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{base}/oauth2/introspect")
    );
    assert_eq!(doc["userinfo_endpoint"], format!("{base}/userinfo"));
    assert_eq!(doc["response_types_supported"], json!([]));
    assert!(doc.get("authorization_endpoint").is_none());
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    for grant in [
        "password",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ] {
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&json!(grant)),
            "{grant}"
        );
    }
    assert!(
        doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("client_secret_basic"))
    );

    // A resource server finds the keys through discovery and accepts an access token signed
    // with the active key.
    let verifier = tessera_guard::Verifier::builder()
        .issuer(
            tessera_guard::IssuerConfig::new(base.clone())
                .discovery()
                .algorithms([tessera_jwt::Algorithm::RS256])
                .audience("tessera")
                .typ("at+jwt"),
        )
        .build()
        .unwrap();
    let key = run.issuer.state.keys.signer().unwrap();
    let now = SystemClock.now();
    let token = tessera_jwt::encode(
        &key,
        &Header::for_key(&key).with_typ("at+jwt"),
        &json!({"iss": base, "sub": "u1", "aud": "tessera", "iat": now, "exp": now + 60}),
    )
    .unwrap();
    let verified = verifier.verify(&token).await.unwrap();
    assert_eq!(verified.subject(), Some("u1"));
    run.issuer.stop().await;
}

#[tokio::test]
async fn errors_are_json_with_the_right_status() {
    let run = start("[http]\nbody_limit = 1024").await;
    let http = client();

    // Unknown path: 404.
    let (status, _, body) = json_error(
        http.get(format!("{}/nope", run.issuer.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");

    // Wrong method: 405 with Allow.
    let (status, headers, _) = json_error(
        http.post(format!("{}/.well-known/jwks.json", run.issuer.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        headers["allow"].to_str().unwrap().contains("GET"),
        "{headers:?}"
    );

    // A body over the limit: 413, whatever the path.
    for path in ["/login", "/.well-known/jwks.json", "/nope"] {
        let response = http
            .post(format!("{}{path}", run.issuer.base))
            .header("content-type", "application/json")
            .body(vec![b' '; 2048])
            .send()
            .await
            .unwrap();
        let (status, _, body) = json_error(response).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert_eq!(body["error"], "payload_too_large");
    }
    run.issuer.stop().await;
}

#[tokio::test]
async fn security_headers_cors_and_metrics() {
    let run = start("[http]\ncors_allowed_origins = [\"https://app.example.com\"]").await;
    let http = client();

    let response = http
        .get(format!("{}/healthz", run.issuer.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let h = response.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h.get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
    // Error responses too.
    let response = http
        .get(format!("{}/nope", run.issuer.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");

    // CORS: the configured origin is allowed, another is not.
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/.well-known/openid-configuration", run.issuer.base),
        )
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .send()
    };
    let response = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let response = preflight("https://evil.example.com").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // The public documents are readable from any origin, with one header.
    for origin in ["https://app.example.com", "https://evil.example.com"] {
        let response = http
            .get(format!("{}/.well-known/jwks.json", run.issuer.base))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        let values: Vec<_> = response
            .headers()
            .get_all("access-control-allow-origin")
            .iter()
            .collect();
        assert_eq!(values.len(), 1, "{origin}: {values:?}");
    }

    // Ready, and the metrics count what happened.
    let response = http
        .get(format!("{}/readyz", run.issuer.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for _ in 0..2 {
        http.get(format!("{}/.well-known/jwks.json", run.issuer.base))
            .send()
            .await
            .unwrap();
    }
    let response = http
        .get(format!("{}/metrics", run.issuer.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("tessera_jwks_requests_total 4"), "{text}");
    assert!(
        text.contains("tessera_key_rotations_total{kind=\"created\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "tessera_http_request_duration_seconds_count{method=\"GET\",route=\"/.well-known/jwks.json\",status=\"200\"} 4"
        ),
        "{text}"
    );
    // An unknown path is not a label of its own (a client cannot grow the series).
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(!text.contains("/nope"), "{text}");
    run.issuer.stop().await;
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let run = start("").await;
    let http = client();
    let url = format!("{}/healthz", run.issuer.base);
    assert_eq!(
        http.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    run.issuer.stop().await;
    assert!(
        client().get(&url).send().await.is_err(),
        "nothing listens after shutdown"
    );
}

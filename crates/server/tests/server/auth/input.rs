//! Bad input is a 4xx with the OAuth error body, never a 500.

use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::harness::Ctx;
use crate::harness::issuer::{Answer, Issuer, PASSWORD};

async fn raw(issuer: &Issuer, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Answer {
    let mut request = issuer.http.post(issuer.url(path)).body(body);
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    Answer::read(request.send().await.unwrap()).await
}

pub(crate) async fn bad_json_bodies(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let json_ct = Some("application/json");
    for path in ["/login", "/token/refresh", "/logout"] {
        for (content_type, body, status) in [
            // Malformed JSON.
            (json_ct, &b"{\"username\": \"alice\", "[..], 400),
            (json_ct, b"not json", 400),
            (json_ct, b"", 400),
            // Not an object, wrong types, missing fields, duplicate members.
            (json_ct, b"[]", 400),
            (json_ct, b"{}", 400),
            (json_ct, b"{\"username\": 1, \"password\": 2, \"refresh_token\": 3}", 400),
            (
                json_ct,
                b"{\"refresh_token\": \"a\", \"refresh_token\": \"b\", \"username\": \"a\", \"password\": \"b\", \"username\": \"c\"}",
                400,
            ),
            // Wrong or missing content type.
            (Some("text/plain"), b"{}", 415),
            (Some("application/x-www-form-urlencoded"), b"username=alice", 415),
            (None, b"{}", 415),
        ] {
            let answer = raw(&issuer, path, content_type, body.to_vec()).await;
            answer.assert_error(status, "invalid_request");
        }
    }
    // A NUL or a huge username is just a wrong login, on either database.
    for username in ["al\u{0}ice", &"a".repeat(10_000)] {
        issuer
            .login(username, PASSWORD)
            .await
            .assert_error(401, "invalid_grant");
    }
    // The wrong method (GET /login is the hosted login page).
    let get = issuer
        .http
        .get(issuer.url("/token/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 405);
    issuer.stop().await;
}

pub(crate) async fn bad_form_bodies(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (id, secret) = issuer.client("web", &["read"]).await;
    let creds = Some((id.as_str(), secret.as_str()));

    // Unknown or missing grant type.
    issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "authorization_code")],
            creds,
        )
        .await
        .assert_error(400, "unsupported_grant_type");
    issuer
        .post_form("/oauth2/token", &[("username", "alice")], creds)
        .await
        .assert_error(400, "invalid_request");
    // Missing parameters of each grant.
    for params in [
        &[("grant_type", "password"), ("username", "alice")][..],
        &[("grant_type", "password"), ("password", PASSWORD)][..],
        &[("grant_type", "refresh_token")][..],
    ] {
        issuer
            .post_form("/oauth2/token", params, None)
            .await
            .assert_error(400, "invalid_request");
    }
    // A repeated parameter.
    let answer = raw(
        &issuer,
        "/oauth2/token",
        Some("application/x-www-form-urlencoded"),
        b"grant_type=password&grant_type=client_credentials".to_vec(),
    )
    .await;
    answer.assert_error(400, "invalid_request");
    // A scope with a character RFC 6749 forbids.
    issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "client_credentials"), ("scope", "a\"b")],
            creds,
        )
        .await
        .assert_error(400, "invalid_scope");
    // JSON where a form is expected, or no content type, at every OAuth endpoint.
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
        for content_type in [Some("application/json"), None] {
            let answer = raw(
                &issuer,
                path,
                content_type,
                json!({"grant_type": "password"}).to_string().into_bytes(),
            )
            .await;
            answer.assert_error(415, "invalid_request");
        }
        // Bytes that are not UTF-8 are decoded lossily, never a 500.
        let answer = raw(
            &issuer,
            path,
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"grant_type=%ff%fe&token=%80".to_vec(),
        )
        .await;
        assert!(
            (400..500).contains(&answer.status),
            "{path}: {}",
            answer.text
        );
        answer.error();
    }
    issuer.stop().await;
}

/// Sends raw bytes over HTTP/1.1 and returns the status code and the body. The server may
/// answer (413) and close before reading the whole request, so write errors are ignored.
async fn raw_http(issuer: &Issuer, request: Vec<u8>) -> (u16, String) {
    let addr = issuer.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let _ = stream.write_all(&request);
        let mut response = Vec::new();
        // Bounded by the read timeout and the server closing the connection.
        let _ = stream.take(1 << 20).read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .unwrap()
}

pub(crate) async fn huge_bodies_are_413(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let big = format!(
        "{{\"username\": \"alice\", \"password\": \"{}\"}}",
        "x".repeat(70 * 1024)
    );
    for (path, content_type) in [
        ("/login", "application/json"),
        ("/token/refresh", "application/json"),
        ("/oauth2/token", "application/x-www-form-urlencoded"),
        ("/oauth2/introspect", "application/x-www-form-urlencoded"),
    ] {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            big.len()
        )
        .into_bytes();
        request.extend_from_slice(big.as_bytes());
        let (status, body) = raw_http(&issuer, request).await;
        assert_eq!(status, 413, "{path}: {body}");
        assert!(body.contains("\"error\""), "{path}: {body}");
    }
    // Chunked (no Content-Length) is limited too: 80 chunks of 1 KiB.
    let mut request = b"POST /login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for _ in 0..80 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b'x'; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, body) = raw_http(&issuer, request).await;
    assert_eq!(status, 413, "{body}");
    issuer.stop().await;
}

pub(crate) async fn tokens_in_the_wrong_place(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (access, refresh) = issuer.login("alice", PASSWORD).await.pair();

    // A refresh token as a Bearer token, an access token as a refresh token.
    issuer
        .userinfo(&refresh)
        .await
        .assert_error(401, "invalid_token");
    issuer
        .refresh(&access)
        .await
        .assert_error(401, "invalid_grant");
    // The access token in the query string or the body: not where RFC 6750 §2.1 puts it.
    let query = issuer
        .http
        .get(issuer.url(&format!("/userinfo?access_token={access}")))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status().as_u16(), 401);
    assert_eq!(
        query.headers()["www-authenticate"],
        "Bearer realm=\"tessera\""
    );
    // Basic credentials at /userinfo, a malformed Bearer header.
    for value in [
        "Basic YWxpY2U6cHc=".to_owned(),
        "Bearer".to_owned(),
        format!("Bearer {access} extra"),
    ] {
        let answer = Answer::read(
            issuer
                .http
                .get(issuer.url("/userinfo"))
                .header("authorization", value.clone())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(
            answer.status == 401 || answer.status == 400,
            "{value}: {}",
            answer.text
        );
        assert!(answer.header("www-authenticate").is_some(), "{value}");
    }
    // A client_credentials token names no user: userinfo refuses it.
    let (id, secret) = issuer.client("svc", &[]).await;
    let json = issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await
        .json();
    issuer
        .userinfo(json["access_token"].as_str().unwrap())
        .await
        .assert_error(401, "invalid_token");
    // The userinfo answer is not cached, and it still works for the right token.
    let me = issuer.userinfo(&access).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.header("cache-control"), Some("no-store"));
    issuer.stop().await;
}

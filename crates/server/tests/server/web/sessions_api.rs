//! `GET /sessions`, `DELETE /sessions/{id}`, `DELETE /sessions`: a user sees and ends their
//! own sessions, and only theirs, with a Bearer access token checked as `/userinfo` checks it.

use serde_json::{Value, json};

use crate::harness::Ctx;
use crate::harness::issuer::{Answer, Issuer, PASSWORD, claims};

on_both_backends!(
    sessions_are_listed_with_the_current_one_marked,
    ending_one_session_leaves_the_others,
    other_users_sessions_are_not_found,
    ending_every_session,
    bearer_failures_are_rfc_6750,
);

/// `POST /login` from a browser with this `User-Agent`: (access, refresh).
pub(crate) async fn login_with_agent(
    issuer: &Issuer,
    username: &str,
    agent: &str,
) -> (String, String) {
    let response = issuer
        .http
        .post(issuer.url("/login"))
        .header("user-agent", agent)
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    Answer::read(response).await.pair()
}

/// `METHOD path` with a Bearer token (none if `token` is `None`).
pub(crate) async fn call(
    issuer: &Issuer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut request = issuer.http.request(method, issuer.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    Answer::read(request.send().await.unwrap()).await
}

async fn sessions(issuer: &Issuer, access: &str) -> Vec<Value> {
    let answer = call(
        issuer,
        reqwest::Method::GET,
        "/sessions",
        Some(access),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.json()["sessions"].as_array().unwrap().clone()
}

fn sid(access: &str) -> String {
    claims(access)["sid"].as_str().unwrap().to_owned()
}

async fn delete_session(issuer: &Issuer, access: &str, id: &str) -> Answer {
    call(
        issuer,
        reqwest::Method::DELETE,
        &format!("/sessions/{id}"),
        Some(access),
        None,
    )
    .await
}

pub(crate) async fn sessions_are_listed_with_the_current_one_marked(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (access1, refresh1) = login_with_agent(&issuer, "alice", "Browser One/1.0").await;
    issuer.clock.advance(5);
    let (access2, _) = login_with_agent(&issuer, "alice", "Browser Two/2.0").await;

    let listed = sessions(&issuer, &access1).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    // Newest sign-in first: the second login.
    assert_eq!(listed[0]["id"], sid(&access2));
    assert_eq!(listed[1]["id"], sid(&access1));
    let one = &listed[1];
    assert_eq!(one["current"], true);
    assert_eq!(listed[0]["current"], false);
    assert_eq!(one["user_agent"], "Browser One/1.0");
    assert_eq!(listed[0]["user_agent"], "Browser Two/2.0");
    assert_eq!(one["client_address"], "127.0.0.1");
    assert_eq!(one["client_id"], Value::Null);
    assert_eq!(one["created_at"], crate::harness::issuer::NOW);
    assert_eq!(one["last_used_at"], crate::harness::issuer::NOW);
    let expires_at = one["expires_at"].as_i64().unwrap();
    assert!(expires_at > crate::harness::issuer::NOW, "{one}");
    assert_eq!(
        one.as_object().unwrap().len(),
        8,
        "exactly the fields of the contract: {one}"
    );

    // Through the other session's token, the other one is current.
    let listed = sessions(&issuer, &access2).await;
    let current: Vec<_> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], sid(&access2));

    // Using the first session updates its last use, not its place: the order is the one
    // that pages follow, and it must not move under a reader.
    issuer.clock.advance(5);
    issuer.refresh(&refresh1).await.pair();
    let listed = sessions(&issuer, &access2).await;
    assert_eq!(listed[1]["id"], sid(&access1), "{listed:?}");
    assert_eq!(listed[1]["last_used_at"], crate::harness::issuer::NOW + 10);
    assert_eq!(listed[0]["id"], sid(&access2));
    issuer.stop().await;
}

pub(crate) async fn ending_one_session_leaves_the_others(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (access1, refresh1) = login_with_agent(&issuer, "alice", "one").await;
    let (access2, refresh2) = login_with_agent(&issuer, "alice", "two").await;

    let answer = delete_session(&issuer, &access1, &sid(&access2)).await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert!(answer.text.is_empty());

    // The ended session's refresh token is dead; the other one lives on.
    issuer
        .refresh(&refresh2)
        .await
        .assert_error(401, "invalid_grant");
    let (_, refresh1) = issuer.refresh(&refresh1).await.pair();
    let listed = sessions(&issuer, &access1).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], sid(&access1));
    let family = issuer
        .state
        .store
        .refresh_family(&sid(&access2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(family.revoked_reason.as_deref(), Some("logout"));

    // Ending it again, or an id that never was: 404, and nothing else changes.
    delete_session(&issuer, &access1, &sid(&access2))
        .await
        .assert_error(404, "not_found");
    for id in [
        "00000000-0000-0000-0000-000000000000",
        "not-a-session",
        "%00",
        "a%20b",
    ] {
        let answer = delete_session(&issuer, &access1, id).await;
        assert_eq!(answer.status, 404, "{id}: {}", answer.text);
    }
    // A session can end itself: its token still verifies until it expires, but the refresh
    // token is dead.
    assert_eq!(
        delete_session(&issuer, &access1, &sid(&access1))
            .await
            .status,
        204
    );
    issuer
        .refresh(&refresh1)
        .await
        .assert_error(401, "invalid_grant");
    assert!(sessions(&issuer, &access1).await.is_empty());
    issuer.stop().await;
}

pub(crate) async fn other_users_sessions_are_not_found(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    issuer.user("bob", PASSWORD, &[]).await;
    let (alice, _) = login_with_agent(&issuer, "alice", "a").await;
    let (bob, bob_refresh) = login_with_agent(&issuer, "bob", "b").await;

    // Alice cannot see Bob's session, nor end it: the answer is the one of an unknown id.
    assert_eq!(sessions(&issuer, &alice).await.len(), 1);
    let answer = delete_session(&issuer, &alice, &sid(&bob)).await;
    answer.assert_error(404, "not_found");
    let unknown = delete_session(&issuer, &alice, "00000000-0000-0000-0000-000000000000").await;
    assert_eq!(answer.json(), unknown.json(), "no difference to learn from");

    // Bob's session is untouched.
    let family = issuer
        .state
        .store
        .refresh_family(&sid(&bob))
        .await
        .unwrap()
        .unwrap();
    assert!(family.revoked_at.is_none());
    let (bob, _) = issuer.refresh(&bob_refresh).await.pair();
    assert_eq!(sessions(&issuer, &bob).await.len(), 1);

    // Ending all of Alice's sessions leaves Bob's alone.
    let answer = call(
        &issuer,
        reqwest::Method::DELETE,
        "/sessions",
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(answer.status, 204);
    assert_eq!(sessions(&issuer, &bob).await.len(), 1);
    issuer.stop().await;
}

pub(crate) async fn ending_every_session(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let mut refreshes = Vec::new();
    let mut access = String::new();
    for agent in ["one", "two", "three"] {
        let (a, r) = login_with_agent(&issuer, "alice", agent).await;
        access = a;
        refreshes.push(r);
    }
    assert_eq!(sessions(&issuer, &access).await.len(), 3);

    let answer = call(
        &issuer,
        reqwest::Method::DELETE,
        "/sessions",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    for refresh in &refreshes {
        issuer
            .refresh(refresh)
            .await
            .assert_error(401, "invalid_grant");
    }
    assert!(sessions(&issuer, &access).await.is_empty());
    // Nothing left to end: still 204.
    let again = call(
        &issuer,
        reqwest::Method::DELETE,
        "/sessions",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(again.status, 204);
    issuer.stop().await;
}

pub(crate) async fn bearer_failures_are_rfc_6750(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    let (access, refresh) = login_with_agent(&issuer, "alice", "a").await;
    let target = format!("/sessions/{}", sid(&access));
    let routes = [
        (reqwest::Method::GET, "/sessions"),
        (reqwest::Method::DELETE, target.as_str()),
        (reqwest::Method::DELETE, "/sessions"),
    ];

    for (method, path) in &routes {
        // No token: 401 and the bare challenge.
        let answer = call(&issuer, method.clone(), path, None, None).await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.text);
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer realm=\"tessera\"")
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        answer.error();

        // A token that is not one of ours, a refresh token as a Bearer token.
        for bad in ["abc.def.ghi", refresh.as_str()] {
            let answer = call(&issuer, method.clone(), path, Some(bad), None).await;
            answer.assert_error(401, "invalid_token");
            let challenge = answer.header("www-authenticate").unwrap();
            assert!(
                challenge.starts_with("Bearer realm=\"tessera\", error=\"invalid_token\""),
                "{challenge}"
            );
        }

        // A malformed Authorization header: 400 invalid_request, with the challenge.
        let answer = Answer::read(
            issuer
                .http
                .request(method.clone(), issuer.url(path))
                .header("authorization", "Bearer")
                .send()
                .await
                .unwrap(),
        )
        .await;
        answer.assert_error(400, "invalid_request");
        assert!(answer.header("www-authenticate").is_some());
    }

    // A client_credentials token names no user.
    let (id, secret) = issuer.client("svc", &[]).await;
    let json = issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            Some((&id, &secret)),
        )
        .await
        .json();
    let client_token = json["access_token"].as_str().unwrap();
    call(
        &issuer,
        reqwest::Method::GET,
        "/sessions",
        Some(client_token),
        None,
    )
    .await
    .assert_error(401, "invalid_token");

    // None of the refusals ended the session.
    assert_eq!(sessions(&issuer, &access).await.len(), 1);

    // A disabled user's token is refused, though its signature is good.
    issuer
        .state
        .store
        .set_user_disabled(&alice.id, true, crate::harness::issuer::NOW)
        .await
        .unwrap();
    for (method, path) in &routes {
        call(&issuer, method.clone(), path, Some(&access), None)
            .await
            .assert_error(401, "invalid_token");
    }
    let family = issuer
        .state
        .store
        .refresh_family(&sid(&access))
        .await
        .unwrap()
        .unwrap();
    assert!(
        family.revoked_at.is_none(),
        "refused requests change nothing"
    );
    issuer.stop().await;
}

//! Storage stays bounded, over HTTP (issue 9, finding 5): the session cap at login, pages of
//! `GET /sessions` and of the admin lists, and `DELETE /admin/api/users/{id}`.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, PASSWORD, claims};
use crate::web::sessions_api::call;

on_both_backends!(
    logins_beyond_the_session_cap_revoke_the_oldest_session,
    sessions_come_a_page_at_a_time,
    bad_limits_and_cursors_are_400,
    admin_lists_come_a_page_at_a_time,
    admin_deletes_a_user_with_sessions_and_identities,
);

/// Every item of a paged list, following `next_cursor` (`limit` per page), and the number of
/// pages it took.
async fn walk(
    issuer: &Issuer,
    token: &str,
    path: &str,
    key: &str,
    limit: u32,
) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            None => format!("{path}?limit={limit}"),
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
        };
        let answer = call(issuer, Method::GET, &url, Some(token), None).await;
        assert_eq!(answer.status, 200, "{url}: {}", answer.text);
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        let body = answer.json();
        let page = body[key].as_array().unwrap();
        assert!(page.len() <= limit as usize, "{body}");
        items.extend(page.iter().cloned());
        pages += 1;
        match body.get("next_cursor") {
            Some(Value::String(next)) => {
                assert!(!page.is_empty());
                cursor = Some(next.clone());
            }
            None => break,
            Some(other) => panic!("next_cursor {other}"),
        }
        assert!(pages < 100, "the pages end");
    }
    (items, pages)
}

pub(crate) async fn logins_beyond_the_session_cap_revoke_the_oldest_session(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[("TESSERA_SESSIONS__MAX_PER_USER", "3")]).await;
    let ann = issuer.user("ann", PASSWORD, &[]).await;
    issuer.user("bob", PASSWORD, &[]).await;
    let (_, bob_refresh) = issuer.login("bob", PASSWORD).await.pair();
    let mut pairs = Vec::new();
    for _ in 0..3 {
        pairs.push(issuer.login("ann", PASSWORD).await.pair());
        issuer.clock.advance(1);
    }
    let live = issuer
        .state
        .store
        .active_refresh_families(&ann.id, issuer.state.clock.now())
        .await
        .unwrap();
    assert_eq!(live.len(), 3);

    // A fourth sign-in: the first session (the least recently used) ends.
    let (fourth_access, fourth_refresh) = issuer.login("ann", PASSWORD).await.pair();
    let first_sid = claims(&pairs[0].0)["sid"].as_str().unwrap().to_owned();
    let first = issuer
        .state
        .store
        .refresh_family(&first_sid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.revoked_reason.as_deref(), Some("session_limit"));
    issuer
        .refresh(&pairs[0].1)
        .await
        .assert_error(401, "invalid_grant");
    let live = issuer
        .state
        .store
        .active_refresh_families(&ann.id, issuer.state.clock.now())
        .await
        .unwrap();
    assert_eq!(live.len(), 3);
    // The others, the new one and another user's session live on.
    issuer.refresh(&pairs[1].1).await.pair();
    issuer.refresh(&pairs[2].1).await.pair();
    issuer.refresh(&fourth_refresh).await.pair();
    issuer.refresh(&bob_refresh).await.pair();
    assert!(claims(&fourth_access)["sid"].is_string());
    issuer.stop().await;
}

pub(crate) async fn sessions_come_a_page_at_a_time(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("cleo", PASSWORD, &[]).await;
    let mut sids = HashSet::new();
    let mut access = String::new();
    for _ in 0..5 {
        let (a, _) = issuer.login("cleo", PASSWORD).await.pair();
        sids.insert(claims(&a)["sid"].as_str().unwrap().to_owned());
        access = a;
        issuer.clock.advance(1);
    }
    let (items, pages) = walk(&issuer, &access, "/sessions", "sessions", 2).await;
    assert_eq!(pages, 3);
    let listed: HashSet<String> = items
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, sids, "every session once");
    assert_eq!(items.len(), 5);
    // Newest sign-in first; the fields are those of the unpaged answer.
    assert_eq!(items[0]["current"], true);
    let created: Vec<i64> = items
        .iter()
        .map(|s| s["created_at"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    assert_eq!(items[0].as_object().unwrap().len(), 8, "{}", items[0]);
    // Without `limit`: one page of up to 50, no cursor.
    let answer = call(&issuer, Method::GET, "/sessions", Some(&access), None).await;
    assert_eq!(answer.json()["sessions"].as_array().unwrap().len(), 5);
    assert!(
        answer.json().get("next_cursor").is_none(),
        "{}",
        answer.text
    );
    issuer.stop().await;
}

pub(crate) async fn bad_limits_and_cursors_are_400(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("root", PASSWORD, &["admin"]).await;
    let (access, _) = issuer.login("root", PASSWORD).await.pair();
    // A users cursor, valid there, is not a sessions cursor.
    issuer.user("zed", PASSWORD, &[]).await;
    let users = call(
        &issuer,
        Method::GET,
        "/admin/api/users?limit=1",
        Some(&access),
        None,
    )
    .await;
    let users_cursor = users.json()["next_cursor"].as_str().unwrap().to_owned();
    for path in ["/sessions", "/admin/api/users", "/admin/api/clients"] {
        for query in [
            "limit=0".to_owned(),
            "limit=201".to_owned(),
            "limit=ten".to_owned(),
            "limit=1&limit=2".to_owned(),
            "cursor=%00".to_owned(),
            "cursor=not-base64!".to_owned(),
            format!("cursor={}", "A".repeat(5000)),
        ] {
            let answer = call(
                &issuer,
                Method::GET,
                &format!("{path}?{query}"),
                Some(&access),
                None,
            )
            .await;
            answer.assert_error(400, "invalid_request");
            let description = answer.json()["error_description"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                description.contains("limit") || description.contains("cursor"),
                "{path}?{query}: {description}"
            );
        }
    }
    for path in ["/sessions", "/admin/api/clients"] {
        let answer = call(
            &issuer,
            Method::GET,
            &format!("{path}?cursor={users_cursor}"),
            Some(&access),
            None,
        )
        .await;
        answer.assert_error(400, "invalid_request");
    }
    let answer = call(
        &issuer,
        Method::GET,
        "/admin/api/users?limit=200",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    issuer.stop().await;
}

pub(crate) async fn admin_lists_come_a_page_at_a_time(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("root", PASSWORD, &["admin"]).await;
    let (access, _) = issuer.login("root", PASSWORD).await.pair();
    for i in 0..6 {
        issuer.user(&format!("user-{i}"), PASSWORD, &[]).await;
    }
    for name in ["web", "web", "api", "cli", "web"] {
        issuer.client(name, &[]).await;
    }
    let (users, pages) = walk(&issuer, &access, "/admin/api/users", "users", 3).await;
    assert_eq!(pages, 3);
    let names: Vec<&str> = users
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "root", "user-0", "user-1", "user-2", "user-3", "user-4", "user-5"
        ]
    );
    assert_eq!(
        users[0].as_object().unwrap().len(),
        7,
        "the fields as before: {}",
        users[0]
    );

    let (clients, _) = walk(&issuer, &access, "/admin/api/clients", "clients", 2).await;
    let names: Vec<&str> = clients
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "cli", "web", "web", "web"]);
    let ids: HashSet<&str> = clients
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5, "every client once");
    assert!(clients.iter().all(|c| c.get("client_secret").is_none()));
    issuer.stop().await;
}

pub(crate) async fn admin_deletes_a_user_with_sessions_and_identities(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let root = issuer.user("root", PASSWORD, &["admin"]).await;
    let (access, _) = issuer.login("root", PASSWORD).await.pair();
    let dora = issuer.user("dora", PASSWORD, &["admin"]).await;
    let (dora_access, dora_refresh) = issuer.login("dora", PASSWORD).await.pair();
    let (_, dora_refresh2) = issuer.login("dora", PASSWORD).await.pair();
    let path = format!("/admin/api/users/{}", dora.id);

    // Not as a non-admin.
    issuer.user("eve", PASSWORD, &[]).await;
    let (eve_access, _) = issuer.login("eve", PASSWORD).await.pair();
    let answer = call(&issuer, Method::DELETE, &path, Some(&eve_access), None).await;
    answer.assert_error(403, "insufficient_scope");
    // Not one's own account.
    let own = format!("/admin/api/users/{}", root.id);
    let answer = call(&issuer, Method::DELETE, &own, Some(&access), None).await;
    answer.assert_error(400, "invalid_request");
    assert!(
        answer.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("your own account")
    );
    assert!(
        issuer
            .state
            .store
            .user_by_id(&root.id)
            .await
            .unwrap()
            .is_some()
    );

    let answer = call(&issuer, Method::DELETE, &path, Some(&access), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(
        answer.json(),
        json!({"deleted": dora.id, "sessions": 2, "identities": 0})
    );

    // Her refresh tokens are refused, her access token administers nothing, her sessions
    // list is closed, her password no longer logs in.
    for refresh in [&dora_refresh, &dora_refresh2] {
        issuer
            .refresh(refresh)
            .await
            .assert_error(401, "invalid_grant");
    }
    call(
        &issuer,
        Method::GET,
        "/admin/api/users",
        Some(&dora_access),
        None,
    )
    .await
    .assert_error(401, "invalid_token");
    call(&issuer, Method::GET, "/sessions", Some(&dora_access), None)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(issuer.login("dora", PASSWORD).await.status, 401);
    // Again, or an id that never was: 404.
    call(&issuer, Method::DELETE, &path, Some(&access), None)
        .await
        .assert_error(404, "not_found");
    call(
        &issuer,
        Method::DELETE,
        "/admin/api/users/no%20such",
        Some(&access),
        None,
    )
    .await
    .assert_error(404, "not_found");
    issuer.stop().await;
}

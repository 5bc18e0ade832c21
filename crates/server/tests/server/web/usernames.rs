//! `POST /admin/api/users` under RFC 8265: the review's three look-alikes of `admin` (a
//! right-to-left override, a zero-width space, full-width letters) are not new users.

use reqwest::Method;
use serde_json::json;

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, PASSWORD};
use crate::web::sessions_api::call;

on_both_backends!(admin_api_refuses_look_alike_usernames);

/// Regression (issue 9): each was accepted as a user distinct from `admin`.
pub(crate) async fn admin_api_refuses_look_alike_usernames(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("admin", PASSWORD, &["admin"]).await;
    let (token, _) = issuer.login("admin", PASSWORD).await.pair();
    let add = |name: &str| {
        let body = json!({"username": name, "password": PASSWORD});
        let issuer = &issuer;
        let token = token.clone();
        async move {
            call(
                issuer,
                Method::POST,
                "/admin/api/users",
                Some(&token),
                Some(&body),
            )
            .await
        }
    };
    for bad in ["\u{202e}admin", "admin\u{200b}"] {
        let answer = add(bad).await;
        answer.assert_error(400, "invalid_request");
        assert!(
            !answer.text.contains(bad),
            "not echoed raw: {}",
            answer.text
        );
    }
    // Full-width (or upper-case) admin is admin: taken.
    for same in ["ａｄｍｉｎ", "ADMIN"] {
        add(same).await.assert_error(409, "conflict");
    }
    // A new name is stored in its normal form.
    let answer = add("Ｂｏｂ@Example.COM").await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.json()["username"], "bob@example.com");
    issuer.login("BOB@example.com", PASSWORD).await.pair();
    let users = call(&issuer, Method::GET, "/admin/api/users", Some(&token), None)
        .await
        .json();
    assert_eq!(users["users"].as_array().unwrap().len(), 2, "{users}");
    issuer.stop().await;
}

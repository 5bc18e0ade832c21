//! `/admin/api/…`: users, signing keys and clients, for a Bearer token whose user has the
//! `admin` role — in the token and still in the store.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::Ctx;
use crate::harness::issuer::{Answer, Issuer, NOW, PASSWORD, claims, header};
use crate::web::sessions_api::call;

on_both_backends!(
    non_admins_are_refused,
    admin_adds_users_who_can_log_in,
    bad_user_input_is_400,
    admin_disables_enables_and_sets_roles,
    admins_cannot_lock_themselves_out,
    roles_are_checked_against_the_store,
    only_live_own_sessions_administer,
    admin_lists_and_rotates_keys,
    admin_registers_clients,
);

/// Every route of the admin API, with a body that would be accepted.
fn routes(some_user_id: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/admin/api/users".into(), None),
        (
            Method::POST,
            "/admin/api/users".into(),
            Some(json!({"username": "mallory", "password": PASSWORD, "roles": ["admin"]})),
        ),
        (
            Method::PATCH,
            format!("/admin/api/users/{some_user_id}"),
            Some(json!({"roles": ["admin"]})),
        ),
        (Method::GET, "/admin/api/keys".into(), None),
        (Method::POST, "/admin/api/keys/rotate".into(), None),
        (Method::POST, "/admin/api/keys/some-kid/revoke".into(), None),
        (Method::GET, "/admin/api/clients".into(), None),
        (
            Method::POST,
            "/admin/api/clients".into(),
            Some(json!({"name": "evil", "scopes": []})),
        ),
    ]
}

/// An issuer with the admin `root` logged in: (issuer, root's access token).
async fn with_admin(ctx: Ctx) -> (Issuer, String) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("root", PASSWORD, &["admin"]).await;
    let (access, _) = issuer.login("root", PASSWORD).await.pair();
    (issuer, access)
}

async fn admin(
    issuer: &Issuer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Answer {
    let answer = call(issuer, method, path, Some(token), body).await;
    assert_eq!(
        answer.header("cache-control"),
        Some("no-store"),
        "{path}: {}",
        answer.text
    );
    answer
}

fn assert_insufficient_scope(answer: &Answer) {
    answer.assert_error(403, "insufficient_scope");
    let challenge = answer.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"tessera\", error=\"insufficient_scope\""),
        "{challenge}"
    );
}

async fn user_named(issuer: &Issuer, token: &str, name: &str) -> Value {
    let users = admin(issuer, token, Method::GET, "/admin/api/users", None)
        .await
        .json();
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no user {name}: {users}"))
}

pub(crate) async fn non_admins_are_refused(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let bob = issuer.user("bob", PASSWORD, &["user"]).await;
    let (token, _) = issuer.login("bob", PASSWORD).await.pair();
    let keys_before = issuer.state.keys.list().await.unwrap();

    for (method, path, body) in routes(&bob.id) {
        let answer = admin(&issuer, &token, method.clone(), &path, body.as_ref()).await;
        assert_insufficient_scope(&answer);

        // Without a token: 401 with the bare challenge.
        let answer = call(&issuer, method.clone(), &path, None, body.as_ref()).await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.text);
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Bearer realm=\"tessera\"")
        );
        // A bad token: 401 invalid_token.
        call(&issuer, method, &path, Some("abc.def.ghi"), body.as_ref())
            .await
            .assert_error(401, "invalid_token");
    }
    // Nothing happened.
    let store = &issuer.state.store;
    assert!(store.user_by_username("mallory").await.unwrap().is_none());
    assert_eq!(
        store.user_by_id(&bob.id).await.unwrap().unwrap().roles,
        ["user"]
    );
    assert!(store.list_clients().await.unwrap().is_empty());
    assert_eq!(issuer.state.keys.list().await.unwrap(), keys_before);
    issuer.stop().await;
}

pub(crate) async fn admin_adds_users_who_can_log_in(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;

    let listed = user_named(&issuer, &root, "root").await;
    assert_eq!(listed["roles"], json!(["admin"]));
    assert_eq!(listed["disabled"], false);
    assert_eq!(listed["has_password"], true);
    assert_eq!(listed["created_at"], NOW);
    assert!(listed["id"].is_string());

    let answer = admin(
        &issuer,
        &root,
        Method::POST,
        "/admin/api/users",
        Some(&json!({"username": "carol", "password": "a long enough one", "roles": ["editor", "editor", "viewer"]})),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let carol = answer.json();
    assert_eq!(carol["username"], "carol");
    assert_eq!(carol["roles"], json!(["editor", "viewer"]));
    assert_eq!(carol["disabled"], false);
    assert_eq!(carol["has_password"], true);
    assert!(
        !answer.text.contains("argon2") && !answer.text.contains("a long enough one"),
        "no password nor hash in the answer: {}",
        answer.text
    );
    assert_eq!(user_named(&issuer, &root, "carol").await["id"], carol["id"]);

    // Carol logs in with that password; her token carries her id and roles.
    let (access, _) = issuer.login("carol", "a long enough one").await.pair();
    assert_eq!(claims(&access)["sub"], carol["id"]);
    assert_eq!(claims(&access)["roles"], json!(["editor", "viewer"]));

    // Roles may be left out; the same name again is a conflict, and changes nothing.
    let answer = admin(
        &issuer,
        &root,
        Method::POST,
        "/admin/api/users",
        Some(&json!({"username": "dave", "password": PASSWORD})),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(answer.json()["roles"], json!([]));
    let answer = admin(
        &issuer,
        &root,
        Method::POST,
        "/admin/api/users",
        Some(&json!({"username": "carol", "password": "another password", "roles": ["admin"]})),
    )
    .await;
    answer.assert_error(409, "conflict");
    issuer.login("carol", "a long enough one").await.pair();
    assert_eq!(
        user_named(&issuer, &root, "carol").await["roles"],
        json!(["editor", "viewer"])
    );

    // A row made before the RFC 8265 rules ("Erin", not yet in normal form) is taken in
    // every spelling, as `tessera user add` has it (one service behind both).
    issuer
        .state
        .store
        .create_user(
            tessera_server::store::NewUser {
                username: "Erin",
                password_hash: None,
                roles: &[],
            },
            crate::harness::issuer::NOW,
        )
        .await
        .unwrap();
    for spelling in ["erin", "ＥＲＩＮ"] {
        let answer = admin(
            &issuer,
            &root,
            Method::POST,
            "/admin/api/users",
            Some(&json!({"username": spelling, "password": PASSWORD})),
        )
        .await;
        answer.assert_error(409, "conflict");
    }
    issuer.stop().await;
}

pub(crate) async fn bad_user_input_is_400(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;
    let carol = issuer.user("carol", PASSWORD, &[]).await;
    let bad_new_users = [
        json!({"username": "", "password": PASSWORD}),
        json!({"username": " padded", "password": PASSWORD}),
        json!({"username": "tab\there", "password": PASSWORD}),
        json!({"username": "nul\u{0}", "password": PASSWORD}),
        json!({"username": "x".repeat(257), "password": PASSWORD}),
        json!({"username": "erin", "password": "short"}),
        json!({"username": "erin", "password": ""}),
        json!({"username": "erin", "password": "x".repeat(1025)}),
        json!({"username": "erin"}),
        json!({"password": PASSWORD}),
        json!({"username": "erin", "password": PASSWORD, "roles": ["two words"]}),
        json!({"username": "erin", "password": PASSWORD, "roles": [""]}),
        json!({"username": "erin", "password": PASSWORD, "roles": "admin"}),
        json!({"username": "erin", "password": PASSWORD, "role": ["admin"]}),
        json!({"username": 42, "password": PASSWORD}),
        json!(["erin", PASSWORD]),
    ];
    for body in &bad_new_users {
        let answer = admin(&issuer, &root, Method::POST, "/admin/api/users", Some(body)).await;
        answer.assert_error(400, "invalid_request");
    }
    let carol_path = format!("/admin/api/users/{}", carol.id);
    for body in [
        json!({"disabled": "yes"}),
        json!({"roles": ["a b"]}),
        json!({"roles": "admin"}),
        json!({"disable": true}),
    ] {
        let answer = admin(&issuer, &root, Method::PATCH, &carol_path, Some(&body)).await;
        answer.assert_error(400, "invalid_request");
    }
    // Not JSON at all.
    let answer = Answer::read(
        issuer
            .http
            .post(issuer.url("/admin/api/users"))
            .bearer_auth(&root)
            .header("content-type", "application/json")
            .body("{\"username\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_error(400, "invalid_request");
    let answer = Answer::read(
        issuer
            .http
            .post(issuer.url("/admin/api/users"))
            .bearer_auth(&root)
            .header("content-type", "text/plain")
            .body("username=erin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_error(415, "invalid_request");
    // Unknown and impossible ids are 404.
    for id in ["00000000-0000-0000-0000-000000000000", "%00", "a%20b"] {
        let answer = admin(
            &issuer,
            &root,
            Method::PATCH,
            &format!("/admin/api/users/{id}"),
            Some(&json!({"disabled": true})),
        )
        .await;
        answer.assert_error(404, "not_found");
    }
    // Nobody was added, Carol is unchanged.
    let users = issuer.state.store.list_users().await.unwrap();
    assert_eq!(users.len(), 2, "{users:?}");
    let stored = issuer
        .state
        .store
        .user_by_id(&carol.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.disabled);
    assert!(stored.roles.is_empty());
    issuer.stop().await;
}

pub(crate) async fn admin_disables_enables_and_sets_roles(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;
    let carol = issuer.user("carol", PASSWORD, &["viewer"]).await;
    let path = format!("/admin/api/users/{}", carol.id);
    let (carol_access, carol_refresh) = issuer.login("carol", PASSWORD).await.pair();
    let (_, carol_refresh2) = issuer.login("carol", PASSWORD).await.pair();

    // Roles: replaced; the next token carries them.
    let answer = admin(
        &issuer,
        &root,
        Method::PATCH,
        &path,
        Some(&json!({"roles": ["editor", "viewer"]})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["roles"], json!(["editor", "viewer"]));
    assert_eq!(answer.json()["id"], carol.id.as_str());
    let (access, carol_refresh) = issuer.refresh(&carol_refresh).await.pair();
    assert_eq!(claims(&access)["roles"], json!(["editor", "viewer"]));

    // Disable: every session revoked, login refused, her token no longer accepted.
    let answer = admin(
        &issuer,
        &root,
        Method::PATCH,
        &path,
        Some(&json!({"disabled": true})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["disabled"], true);
    assert!(
        issuer
            .state
            .store
            .active_refresh_families(&carol.id, NOW)
            .await
            .unwrap()
            .is_empty()
    );
    for refresh in [&carol_refresh, &carol_refresh2] {
        issuer
            .refresh(refresh)
            .await
            .assert_error(401, "invalid_grant");
    }
    issuer
        .login("carol", PASSWORD)
        .await
        .assert_error(401, "invalid_grant");
    call(&issuer, Method::GET, "/sessions", Some(&carol_access), None)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(user_named(&issuer, &root, "carol").await["disabled"], true);

    // Enable: she logs in again (the revoked sessions stay revoked).
    let answer = admin(
        &issuer,
        &root,
        Method::PATCH,
        &path,
        Some(&json!({"disabled": false})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["disabled"], false);
    issuer.login("carol", PASSWORD).await.pair();
    issuer
        .refresh(&carol_refresh2)
        .await
        .assert_error(401, "invalid_grant");

    // Both at once, and an empty change (which changes nothing).
    let answer = admin(
        &issuer,
        &root,
        Method::PATCH,
        &path,
        Some(&json!({"roles": [], "disabled": false})),
    )
    .await;
    assert_eq!(answer.json()["roles"], json!([]));
    let answer = admin(&issuer, &root, Method::PATCH, &path, Some(&json!({}))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["roles"], json!([]));
    assert_eq!(answer.json()["disabled"], false);

    // Another admin may be made, and may then act.
    admin(
        &issuer,
        &root,
        Method::PATCH,
        &path,
        Some(&json!({"roles": ["admin"]})),
    )
    .await;
    let (carol_admin, _) = issuer.login("carol", PASSWORD).await.pair();
    let answer = admin(&issuer, &carol_admin, Method::GET, "/admin/api/users", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    issuer.stop().await;
}

pub(crate) async fn admins_cannot_lock_themselves_out(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;
    let me = claims(&root)["sub"].as_str().unwrap().to_owned();
    let path = format!("/admin/api/users/{me}");
    for body in [
        json!({"disabled": true}),
        json!({"roles": []}),
        json!({"roles": ["user"]}),
        json!({"roles": ["user"], "disabled": false}),
    ] {
        let answer = admin(&issuer, &root, Method::PATCH, &path, Some(&body)).await;
        answer.assert_error(400, "invalid_request");
        let description = answer.json()["error_description"].clone();
        assert!(
            description.as_str().unwrap().contains("your own"),
            "{description}"
        );
    }
    let stored = issuer.state.store.user_by_id(&me).await.unwrap().unwrap();
    assert_eq!(stored.roles, ["admin"]);
    assert!(!stored.disabled);
    // Adding a role to oneself, or enabling oneself, is fine.
    let answer = admin(
        &issuer,
        &root,
        Method::PATCH,
        &path,
        Some(&json!({"roles": ["admin", "user"], "disabled": false})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["roles"], json!(["admin", "user"]));
    issuer.stop().await;
}

pub(crate) async fn roles_are_checked_against_the_store(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;
    let me = claims(&root)["sub"].as_str().unwrap().to_owned();
    assert_eq!(
        admin(&issuer, &root, Method::GET, "/admin/api/users", None)
            .await
            .status,
        200
    );

    // The role is removed in the store (another admin, the CLI): the token still says
    // `admin`, and is refused.
    issuer
        .state
        .store
        .set_user_roles(&me, &[], NOW)
        .await
        .unwrap();
    assert_eq!(claims(&root)["roles"], json!(["admin"]));
    for (method, path, body) in routes(&me) {
        let answer = admin(&issuer, &root, method, &path, body.as_ref()).await;
        assert_insufficient_scope(&answer);
    }
    assert!(
        issuer
            .state
            .store
            .user_by_username("mallory")
            .await
            .unwrap()
            .is_none()
    );

    // Given back: accepted again. Disabled: the token is refused as invalid.
    issuer
        .state
        .store
        .set_user_roles(&me, &["admin".to_owned()], NOW)
        .await
        .unwrap();
    assert_eq!(
        admin(&issuer, &root, Method::GET, "/admin/api/keys", None)
            .await
            .status,
        200
    );
    issuer
        .state
        .store
        .set_user_disabled(&me, true, NOW)
        .await
        .unwrap();
    admin(&issuer, &root, Method::GET, "/admin/api/keys", None)
        .await
        .assert_error(401, "invalid_token");
    issuer.stop().await;
}

pub(crate) async fn only_live_own_sessions_administer(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;
    let me = claims(&root)["sub"].as_str().unwrap().to_owned();

    // A token issued to an OAuth client for the same admin user (password grant): refused on
    // every route, nothing done.
    let (id, secret) = issuer.client("dashboard", &["read"]).await;
    let answer = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "root"),
                ("password", PASSWORD),
            ],
            Some((id.as_str(), secret.as_str())),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let client_token = answer.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&client_token)["client_id"], json!(id));
    for (method, path, body) in routes(&me) {
        let answer = admin(&issuer, &client_token, method, &path, body.as_ref()).await;
        assert_insufficient_scope(&answer);
    }
    assert!(
        issuer
            .state
            .store
            .user_by_username("mallory")
            .await
            .unwrap()
            .is_none()
    );

    // The admin's own session works until it is signed out; then its access token, still
    // unexpired and well signed, administers no more.
    assert_eq!(
        admin(&issuer, &root, Method::GET, "/admin/api/keys", None)
            .await
            .status,
        200
    );
    let ended = call(&issuer, Method::DELETE, "/sessions", Some(&root), None).await;
    assert_eq!(ended.status, 204, "{}", ended.text);
    for (method, path, body) in routes(&me) {
        admin(&issuer, &root, method, &path, body.as_ref())
            .await
            .assert_error(401, "invalid_token");
    }
    // A new sign-in administers again.
    let (fresh, _) = issuer.login("root", PASSWORD).await.pair();
    assert_eq!(
        admin(&issuer, &fresh, Method::GET, "/admin/api/keys", None)
            .await
            .status,
        200
    );
    issuer.stop().await;
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

fn kid_in(keys: &Value, state: &str) -> Option<String> {
    keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == state)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
}

pub(crate) async fn admin_lists_and_rotates_keys(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;
    let keys = admin(&issuer, &root, Method::GET, "/admin/api/keys", None)
        .await
        .json();
    let list = keys["keys"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{keys}");
    let first = &list[0];
    assert_eq!(first["state"], "active");
    assert_eq!(first["alg"], "ES256");
    assert_eq!(first["created_at"], NOW);
    assert_eq!(first["activated_at"], NOW);
    assert_eq!(first["retired_at"], Value::Null);
    let first_kid = first["kid"].as_str().unwrap().to_owned();
    assert_eq!(header(&root)["kid"], first_kid.as_str());
    assert_eq!(jwks_kids(&issuer).await, std::slice::from_ref(&first_kid));

    // Rotate (no body): a `next` key, published at once, not signing yet.
    let answer = admin(&issuer, &root, Method::POST, "/admin/api/keys/rotate", None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let keys = answer.json();
    let next = kid_in(&keys, "next").unwrap_or_else(|| panic!("no next key: {keys}"));
    assert_eq!(kid_in(&keys, "active"), Some(first_kid.clone()));
    assert_eq!(keys["rotation"]["created"], next.as_str());
    assert!(
        jwks_kids(&issuer).await.contains(&next),
        "the JWKS shows it"
    );
    let (access, _) = issuer.login("root", PASSWORD).await.pair();
    assert_eq!(
        header(&access)["kid"],
        first_kid.as_str(),
        "next does not sign"
    );

    // Rotating again before the publish lead changes nothing (the same body as JSON too).
    let answer = admin(
        &issuer,
        &root,
        Method::POST,
        "/admin/api/keys/rotate",
        Some(&json!({"now": false})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(kid_in(&answer.json(), "active"), Some(first_kid.clone()));

    // Rotate now: the next key signs, the old one is retired but still published.
    let answer = admin(
        &issuer,
        &root,
        Method::POST,
        "/admin/api/keys/rotate",
        Some(&json!({"now": true})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let keys = answer.json();
    assert_eq!(kid_in(&keys, "active"), Some(next.clone()), "{keys}");
    assert_eq!(kid_in(&keys, "retired"), Some(first_kid.clone()), "{keys}");
    assert_eq!(keys["rotation"]["activated"], next.as_str());
    let published = jwks_kids(&issuer).await;
    assert!(
        published.contains(&next) && published.contains(&first_kid),
        "{published:?}"
    );
    let (access, _) = issuer.login("root", PASSWORD).await.pair();
    assert_eq!(header(&access)["kid"], next.as_str(), "the new key signs");
    // The old token (signed by the retired key) still works.
    let listed = admin(&issuer, &root, Method::GET, "/admin/api/keys", None)
        .await
        .json();
    assert_eq!(kid_in(&listed, "active"), Some(next));

    // A bad body is 400 and rotates nothing.
    for body in [json!({"now": "yes"}), json!({"later": true}), json!([true])] {
        admin(
            &issuer,
            &root,
            Method::POST,
            "/admin/api/keys/rotate",
            Some(&body),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    assert_eq!(issuer.state.keys.list().await.unwrap().len(), 2);
    issuer.stop().await;
}

pub(crate) async fn admin_registers_clients(ctx: Ctx) {
    let (issuer, root) = with_admin(ctx).await;
    let answer = admin(
        &issuer,
        &root,
        Method::POST,
        "/admin/api/clients",
        Some(&json!({"name": " reports ", "scopes": ["reports:read", "reports:read"]})),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let created = answer.json();
    assert_eq!(created["name"], "reports");
    assert_eq!(created["scopes"], json!(["reports:read"]));
    assert_eq!(created["confidential"], true);
    assert_eq!(created["created_at"], NOW);
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43, "256 bits, base64url");

    // The secret works (client_credentials), and is never shown again.
    let token = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "reports:read"),
            ],
            Some((&client_id, &secret)),
        )
        .await;
    assert_eq!(token.status, 200, "{}", token.text);
    let answer = admin(&issuer, &root, Method::GET, "/admin/api/clients", None).await;
    assert_eq!(answer.status, 200);
    assert!(!answer.text.contains(&secret));
    assert!(!answer.text.contains("client_secret"));
    let clients = answer.json()["clients"].as_array().unwrap().clone();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0]["client_id"], client_id.as_str());
    assert_eq!(clients[0]["confidential"], true);
    assert_eq!(clients[0]["scopes"], json!(["reports:read"]));

    // A public client has no secret.
    let answer = admin(
        &issuer,
        &root,
        Method::POST,
        "/admin/api/clients",
        Some(&json!({"name": "spa", "confidential": false})),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert!(
        answer.json().get("client_secret").is_none(),
        "{}",
        answer.text
    );
    assert_eq!(answer.json()["confidential"], false);

    // Bad input: 400, nothing registered.
    for body in [
        json!({"name": "", "scopes": []}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(257)}),
        json!({"name": "ctl\u{7}"}),
        json!({"name": "ok", "scopes": ["two words"]}),
        json!({"name": "ok", "scopes": ["quo\"te"]}),
        json!({"name": "ok", "scopes": "read"}),
        json!({"name": "ok", "confidential": "yes"}),
        json!({"scopes": []}),
    ] {
        admin(
            &issuer,
            &root,
            Method::POST,
            "/admin/api/clients",
            Some(&body),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    assert_eq!(issuer.state.store.list_clients().await.unwrap().len(), 2);
    issuer.stop().await;
}

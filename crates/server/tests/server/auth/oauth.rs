//! `/oauth2/token` (password, refresh_token, client_credentials), client authentication,
//! `/oauth2/revoke` and `/oauth2/introspect`.

use serde_json::json;

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, NOW, PASSWORD, claims};

pub(crate) async fn password_grant_without_client(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &["user"]).await;
    let answer = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
            None,
        )
        .await;
    let (access, refresh) = answer.pair();
    assert_eq!(answer.header("pragma"), Some("no-cache"));
    let c = claims(&access);
    assert_eq!(c["sub"], alice.id.as_str());
    assert!(c.get("client_id").is_none());
    assert!(answer.json().get("scope").is_none());

    // Tessera's own refresh token works at both refresh endpoints.
    let (_, refresh) = issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            None,
        )
        .await
        .pair();
    issuer.refresh(&refresh).await.pair();

    // Wrong password: 400 invalid_grant (RFC 6749 §5.2), not 401.
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "nope"),
            ],
            None,
        )
        .await
        .assert_error(400, "invalid_grant");
    // A scope needs a client.
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", "read"),
            ],
            None,
        )
        .await
        .assert_error(400, "invalid_scope");
    issuer.stop().await;
}

pub(crate) async fn password_grant_with_client_and_scopes(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &["user"]).await;
    let (id, secret) = issuer.client("web", &["read", "write"]).await;

    // HTTP Basic, asking for part of the client's scopes.
    let answer = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", "read"),
            ],
            Some((&id, &secret)),
        )
        .await;
    let (access, _) = answer.pair();
    assert_eq!(answer.json()["scope"], "read");
    let c = claims(&access);
    assert_eq!(c["client_id"], id.as_str());
    assert_eq!(c["scope"], "read");
    assert_eq!(c["roles"], json!(["user"]));

    // Form credentials, no scope asked: every scope of the client.
    let answer = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
            None,
        )
        .await;
    answer.pair();
    assert_eq!(answer.json()["scope"], "read write");

    // A scope the client does not have.
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", "read admin"),
            ],
            Some((&id, &secret)),
        )
        .await
        .assert_error(400, "invalid_scope");
    issuer.stop().await;
}

pub(crate) async fn refresh_grant_is_bound_to_the_client(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (id, secret) = issuer.client("web", &["read", "write"]).await;
    let (other_id, other_secret) = issuer.client("other", &["read", "write"]).await;
    let (_, refresh) = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
            Some((&id, &secret)),
        )
        .await
        .pair();

    // Another client, no client, or the JSON endpoint: refused, and the token is not used up.
    issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&other_id, &other_secret)),
        )
        .await
        .assert_error(400, "invalid_grant");
    issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            None,
        )
        .await
        .assert_error(400, "invalid_grant");
    issuer
        .refresh(&refresh)
        .await
        .assert_error(401, "invalid_grant");

    // A scope beyond the grant: invalid_scope; a narrower one narrows the access token only.
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "admin"),
            ],
            Some((&id, &secret)),
        )
        .await
        .assert_error(400, "invalid_scope");
    let answer = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "write"),
            ],
            Some((&id, &secret)),
        )
        .await;
    let (access, refresh2) = answer.pair();
    assert_eq!(claims(&access)["scope"], "write");
    let (access, _) = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh2),
            ],
            Some((&id, &secret)),
        )
        .await
        .pair();
    assert_eq!(claims(&access)["scope"], "read write");
    issuer.stop().await;
}

pub(crate) async fn client_credentials(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let (id, secret) = issuer
        .client("batch", &["reports:read", "reports:write"])
        .await;
    let answer = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("scope", "reports:read"),
            ],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let json = answer.json();
    assert!(
        json.get("refresh_token").is_none(),
        "no refresh token (RFC 6749 §4.4.3)"
    );
    assert_eq!(json["scope"], "reports:read");
    assert_eq!(json["token_type"], "Bearer");
    let c = claims(json["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["client_id"], id.as_str());
    assert_eq!(c["scope"], "reports:read");
    assert_eq!(c["roles"], json!([]));
    assert!(c.get("sid").is_none());
    assert_eq!(c["exp"], NOW + 900);

    // Without authentication: invalid_client.
    let anonymous = issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            None,
        )
        .await;
    anonymous.assert_error(401, "invalid_client");
    assert!(
        anonymous
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    // A public client (no secret) may not.
    let public = issuer
        .state
        .store
        .create_client(
            tessera_server::store::NewClient {
                name: "spa",
                secret_hash: None,
                scopes: &[],
            },
            NOW,
        )
        .await
        .unwrap();
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &public.client_id),
            ],
            None,
        )
        .await
        .assert_error(400, "unauthorized_client");
    issuer.stop().await;
}

pub(crate) async fn client_authentication_failures(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let (id, secret) = issuer.client("web", &["read"]).await;
    let grant = [("grant_type", "client_credentials")];
    let mut answers = Vec::new();
    for creds in [
        (id.as_str(), "wrong-secret"),
        (id.as_str(), ""),
        ("00000000-0000-0000-0000-000000000000", secret.as_str()),
        ("", secret.as_str()),
    ] {
        let answer = issuer.post_form("/oauth2/token", &grant, Some(creds)).await;
        answer.assert_error(401, "invalid_client");
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"tessera\", charset=\"UTF-8\"")
        );
        answers.push(answer.text);
    }
    // One answer for every failure.
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // The same through form parameters.
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "wrong"),
            ],
            None,
        )
        .await
        .assert_error(401, "invalid_client");
    // Two methods at once.
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &secret),
            ],
            Some((&id, &secret)),
        )
        .await
        .assert_error(400, "invalid_request");
    issuer.stop().await;
}

pub(crate) async fn revocation(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let (id, secret) = issuer.client("web", &["read"]).await;
    let (other_id, other_secret) = issuer.client("other", &["read"]).await;
    let login = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let (access, refresh) = issuer
        .post_form("/oauth2/token", &login, Some((&id, &secret)))
        .await
        .pair();

    // Client authentication is required.
    issuer
        .post_form("/oauth2/revoke", &[("token", &refresh)], None)
        .await
        .assert_error(401, "invalid_client");
    // Another client's token: refused, and nothing revoked.
    issuer
        .post_form(
            "/oauth2/revoke",
            &[("token", &refresh)],
            Some((&other_id, &other_secret)),
        )
        .await
        .assert_error(400, "unauthorized_client");
    // Access tokens are stateless (200, nothing changes); unknown tokens: 200.
    for token in [access.as_str(), "never-issued"] {
        let answer = issuer
            .post_form(
                "/oauth2/revoke",
                &[("token", token), ("token_type_hint", "access_token")],
                Some((&id, &secret)),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    // The refresh token: its family is revoked.
    let answer = issuer
        .post_form(
            "/oauth2/revoke",
            &[("token", &refresh), ("token_type_hint", "refresh_token")],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            Some((&id, &secret)),
        )
        .await
        .assert_error(400, "invalid_grant");
    // Revoking again is fine.
    let again = issuer
        .post_form(
            "/oauth2/revoke",
            &[("token", &refresh)],
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(again.status, 200);
    // The token parameter is required.
    issuer
        .post_form("/oauth2/revoke", &[], Some((&id, &secret)))
        .await
        .assert_error(400, "invalid_request");
    issuer.stop().await;
}

pub(crate) async fn introspection(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &["user"]).await;
    let (id, secret) = issuer.client("api", &["read"]).await;
    let (other_id, other_secret) = issuer.client("other", &["read"]).await;
    let creds = Some((id.as_str(), secret.as_str()));
    let (access, refresh) = issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
            creds,
        )
        .await
        .pair();

    // Client authentication is required.
    issuer
        .post_form("/oauth2/introspect", &[("token", &access)], None)
        .await
        .assert_error(401, "invalid_client");
    issuer
        .post_form(
            "/oauth2/introspect",
            &[("token", &access)],
            Some((&id, "wrong")),
        )
        .await
        .assert_error(401, "invalid_client");

    let info = issuer
        .post_form("/oauth2/introspect", &[("token", &access)], creds)
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    let json = info.json();
    assert_eq!(json["active"], true);
    assert_eq!(json["token_type"], "access_token");
    assert_eq!(json["sub"], alice.id.as_str());
    assert_eq!(json["client_id"], id.as_str());
    assert_eq!(json["scope"], "read");
    assert_eq!(json["exp"], NOW + 900);
    assert_eq!(json["iss"], "http://127.0.0.1:7070");

    let info = issuer
        .post_form(
            "/oauth2/introspect",
            &[("token", &refresh), ("token_type_hint", "refresh_token")],
            creds,
        )
        .await
        .json();
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "refresh_token");
    assert_eq!(info["sub"], alice.id.as_str());
    // Another client learns nothing about this client's refresh token.
    let info = issuer
        .post_form(
            "/oauth2/introspect",
            &[("token", &refresh)],
            Some((&other_id, &other_secret)),
        )
        .await
        .json();
    assert_eq!(info, json!({"active": false}));

    // Garbage, an expired token, a revoked session: inactive.
    for token in ["garbage", "a.b.c", ""] {
        let info = issuer
            .post_form("/oauth2/introspect", &[("token", token)], creds)
            .await;
        if token.is_empty() {
            info.assert_error(400, "invalid_request");
        } else {
            assert_eq!(info.json(), json!({"active": false}), "{token}");
        }
    }
    issuer
        .post_form("/oauth2/revoke", &[("token", &refresh)], creds)
        .await;
    for token in [&access, &refresh] {
        let info = issuer
            .post_form("/oauth2/introspect", &[("token", token)], creds)
            .await
            .json();
        assert_eq!(info, json!({"active": false}));
    }
    let (access, _) = issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            creds,
        )
        .await
        .json()
        .get("access_token")
        .map(|t| (t.as_str().unwrap().to_owned(), ()))
        .unwrap();
    let info = issuer
        .post_form("/oauth2/introspect", &[("token", &access)], creds)
        .await
        .json();
    assert_eq!(info["active"], true);
    issuer.clock.advance(900 + 31);
    let info = issuer
        .post_form("/oauth2/introspect", &[("token", &access)], creds)
        .await
        .json();
    assert_eq!(info, json!({"active": false}));
    issuer.stop().await;
}

/// Regression (review finding 8): a `client_credentials` token of a client that was deleted
/// stayed `"active": true` at introspection until it expired. The client is checked as the
/// session of a user's token is.
pub(crate) async fn introspection_of_a_deleted_clients_token_is_inactive(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let (batch, batch_secret) = issuer.client("batch", &["reports:read"]).await;
    let (api, api_secret) = issuer.client("api", &["read"]).await;
    let answer = issuer
        .post_form(
            "/oauth2/token",
            &[("grant_type", "client_credentials")],
            Some((&batch, &batch_secret)),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let access = answer.json()["access_token"].as_str().unwrap().to_owned();
    let form = [("token", access.as_str())];
    let introspect = || {
        issuer.post_form(
            "/oauth2/introspect",
            &form,
            Some((api.as_str(), api_secret.as_str())),
        )
    };
    let info = introspect().await.json();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["client_id"], batch.as_str());

    issuer.state.store.delete_client(&batch).await.unwrap();
    assert_eq!(introspect().await.json(), json!({"active": false}));
    issuer.stop().await;
}

//! Sign-in with an outside identity provider: a fake "Google" on 127.0.0.1 publishes a JWKS
//! and signs ID tokens; `POST /login/oidc` and the RFC 8693 token exchange turn them into
//! tessera's own pair.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tessera_jwt::{Algorithm, Header, KeySet, SigningKey};

use crate::harness::Ctx;
use crate::support::{Issuer, NOW, PASSWORD, claims};

const CLIENT_ID: &str = "tessera-app.apps.example.com";

/// An identity provider on 127.0.0.1: its JWKS, and ID tokens signed with its key.
struct Provider {
    issuer: String,
    key: SigningKey,
}

impl Provider {
    async fn start() -> Self {
        let key = SigningKey::generate(Algorithm::RS256)
            .unwrap()
            .with_kid("google-1");
        let jwks = serde_json::to_value(
            KeySet::new(vec![key.verifying_key().unwrap()])
                .to_public_jwks()
                .unwrap(),
        )
        .unwrap();
        let app = Router::new().route(
            "/oauth2/v3/certs",
            get(move || {
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { issuer, key }
    }

    fn toml(&self, name: &str) -> String {
        format!(
            "[[providers]]\nname = \"{name}\"\nissuer = \"{0}\"\njwks_uri = \"{0}/oauth2/v3/certs\"\naudience = \"{CLIENT_ID}\"\n",
            self.issuer
        )
    }

    /// An ID token for `sub`, valid for an hour from NOW; `extra` adds or overrides claims.
    fn id_token(&self, sub: &str, extra: Value) -> String {
        self.id_token_signed_by(&self.key, sub, extra)
    }

    fn id_token_signed_by(&self, key: &SigningKey, sub: &str, extra: Value) -> String {
        let mut claims = json!({
            "iss": self.issuer, "sub": sub, "aud": CLIENT_ID, "azp": CLIENT_ID,
            "iat": NOW - 10, "exp": NOW + 3600,
        });
        if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            claims.extend(extra);
        }
        tessera_jwt::encode(key, &Header::for_key(key), &claims).unwrap()
    }
}

async fn login_oidc(issuer: &Issuer, body: Value) -> crate::support::Answer {
    issuer.post_json("/login/oidc", &body).await
}

/// The user id an access token speaks for (checked through `/userinfo`).
async fn user_of(issuer: &Issuer, access: &str) -> Value {
    let me = issuer.userinfo(access).await;
    assert_eq!(me.status, 200, "{}", me.text);
    me.json()
}

pub(crate) async fn oidc_login_creates_then_finds_the_user(ctx: Ctx) {
    let google = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &google.toml("google"), &[]).await;

    let token = google.id_token(
        "108000000000000000001",
        json!({"email": "bob@example.com", "email_verified": true}),
    );
    let first = login_oidc(&issuer, json!({"id_token": token, "provider": "google"})).await;
    let (access, refresh) = first.pair();
    let me = user_of(&issuer, &access).await;
    assert_eq!(me["preferred_username"], "bob@example.com");
    assert_ne!(
        me["sub"], "108000000000000000001",
        "tessera's own stable id, not Google's"
    );
    assert_eq!(claims(&access)["iss"], issuer.state.config.issuer.as_str());

    // A second sign-in (a new ID token, no provider named) maps to the same user.
    let again = google.id_token("108000000000000000001", json!({"email": "bob@example.com"}));
    let (access2, _) = login_oidc(&issuer, json!({"id_token": again})).await.pair();
    assert_eq!(user_of(&issuer, &access2).await["sub"], me["sub"]);
    // The pair is tessera's own: its refresh token rotates like any other.
    let (access3, _) = issuer.refresh(&refresh).await.pair();
    assert_eq!(user_of(&issuer, &access3).await["sub"], me["sub"]);
    issuer.stop().await;
}

pub(crate) async fn oidc_login_refuses_bad_id_tokens(ctx: Ctx) {
    let google = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &google.toml("google"), &[]).await;
    let sub = "108000000000000000002";

    let wrong_audience = google.id_token(sub, json!({"aud": "someone-else"}));
    login_oidc(&issuer, json!({"id_token": wrong_audience}))
        .await
        .assert_error(401, "invalid_grant");

    let expired = google.id_token(sub, json!({"iat": NOW - 7200, "exp": NOW - 3600}));
    login_oidc(&issuer, json!({"id_token": expired}))
        .await
        .assert_error(401, "invalid_grant");

    let stranger = SigningKey::generate(Algorithm::RS256)
        .unwrap()
        .with_kid("google-1");
    let forged = google.id_token_signed_by(&stranger, sub, json!({}));
    login_oidc(&issuer, json!({"id_token": forged}))
        .await
        .assert_error(401, "invalid_grant");

    let other_issuer = google.id_token(sub, json!({"iss": "https://accounts.example.org"}));
    login_oidc(&issuer, json!({"id_token": other_issuer}))
        .await
        .assert_error(401, "invalid_grant");

    login_oidc(&issuer, json!({"id_token": "not.a.token"}))
        .await
        .assert_error(401, "invalid_grant");
    login_oidc(
        &issuer,
        json!({"id_token": google.id_token(sub, json!({})), "provider": "github"}),
    )
    .await
    .assert_error(400, "invalid_request");
    login_oidc(&issuer, json!({"provider": "google"}))
        .await
        .assert_error(400, "invalid_request");
    issuer.stop().await;
}

pub(crate) async fn oidc_links_only_verified_emails(ctx: Ctx) {
    let google = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &google.toml("google"), &[]).await;
    let carol = issuer.user("carol@example.com", PASSWORD, &["admin"]).await;

    // Someone whose Google account claims carol's address without Google having verified it
    // gets an account of their own, never carol's.
    let unverified = google.id_token(
        "108000000000000000003",
        json!({"email": "carol@example.com", "email_verified": false}),
    );
    let (access, _) = login_oidc(&issuer, json!({"id_token": unverified}))
        .await
        .pair();
    let me = user_of(&issuer, &access).await;
    assert_ne!(me["sub"], carol.id.as_str());
    assert_eq!(me["preferred_username"], "google:108000000000000000003");
    assert_eq!(me["roles"], json!([]));

    // Carol herself, with the address verified by Google: linked to her account.
    let verified = google.id_token(
        "108000000000000000004",
        json!({"email": "carol@example.com", "email_verified": true}),
    );
    let (access, _) = login_oidc(&issuer, json!({"id_token": verified}))
        .await
        .pair();
    let me = user_of(&issuer, &access).await;
    assert_eq!(me["sub"], carol.id.as_str());
    assert_eq!(me["roles"], json!(["admin"]));

    // A disabled account cannot sign in through its provider either.
    issuer
        .state
        .store
        .set_user_disabled(&carol.id, true, NOW)
        .await
        .unwrap();
    let again = google.id_token("108000000000000000004", json!({}));
    login_oidc(&issuer, json!({"id_token": again}))
        .await
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

/// `POST /oauth2/token` with the RFC 8693 token exchange grant.
async fn exchange(
    issuer: &Issuer,
    subject_token: &str,
    subject_token_type: &str,
    client: Option<(&str, &str)>,
) -> crate::support::Answer {
    let params = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", subject_token),
        ("subject_token_type", subject_token_type),
    ];
    issuer.post_form("/oauth2/token", &params, client).await
}

pub(crate) async fn token_exchange_for_clients(ctx: Ctx) {
    const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    let google = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &google.toml("google"), &[]).await;
    let (client_id, secret) = issuer.client("mobile", &["orders"]).await;
    let client = Some((client_id.as_str(), secret.as_str()));
    let id_token = google.id_token(
        "108000000000000000005",
        json!({"email": "dan@example.com", "email_verified": true}),
    );

    let answer = exchange(&issuer, &id_token, ID_TOKEN, client).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let json = answer.json();
    assert_eq!(
        json["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(json["token_type"], "Bearer");
    let access = json["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["client_id"], client_id.as_str());
    assert_eq!(claims(access)["scope"], "orders");
    assert_eq!(
        user_of(&issuer, access).await["preferred_username"],
        "dan@example.com"
    );

    // Without client authentication: invalid_client.
    exchange(&issuer, &id_token, ID_TOKEN, None)
        .await
        .assert_error(401, "invalid_client");
    // A subject token type tessera does not take, and an expired subject token.
    exchange(
        &issuer,
        &id_token,
        "urn:ietf:params:oauth:token-type:saml2",
        client,
    )
    .await
    .assert_error(400, "invalid_request");
    let expired = google.id_token(
        "108000000000000000005",
        json!({"iat": NOW - 7200, "exp": NOW - 3600}),
    );
    exchange(&issuer, &expired, ID_TOKEN, client)
        .await
        .assert_error(400, "invalid_grant");
    issuer.stop().await;
}

pub(crate) async fn oidc_without_providers_is_a_clear_error(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    login_oidc(&issuer, json!({"id_token": "a.b.c"}))
        .await
        .assert_error(400, "invalid_request");
    issuer.stop().await;
}

//! Sign-in with an outside identity provider: a fake "Google" on 127.0.0.1 publishes a JWKS
//! and signs ID tokens; `POST /login/oidc` and the RFC 8693 token exchange turn them into
//! tessera's own pair.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tessera_jwt::{Algorithm, Header, KeySet, SigningKey};

use tessera_server::store::{NewUser, User};

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, NOW, PASSWORD, claims};

const CLIENT_ID: &str = "tessera-app.apps.example.com";

/// An identity provider on 127.0.0.1: its JWKS, and ID tokens signed with its key.
struct Provider {
    /// Where it listens (its JWKS is at `{base}/oauth2/v3/certs`).
    base: String,
    /// The `iss` of its tokens (its `base`, or Google's issuer for [`Provider::start_as`]).
    issuer: String,
    key: SigningKey,
}

impl Provider {
    async fn start() -> Self {
        Self::start_with_issuer(None).await
    }

    /// A provider whose tokens say `iss: issuer` (Google's, say) while it serves its JWKS here.
    async fn start_as(issuer: &str) -> Self {
        Self::start_with_issuer(Some(issuer)).await
    }

    async fn start_with_issuer(issuer: Option<&str>) -> Self {
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
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let issuer = issuer.map_or_else(|| base.clone(), str::to_owned);
        Self { base, issuer, key }
    }

    fn toml(&self, name: &str) -> String {
        self.toml_with(name, "")
    }

    /// The `[[providers]]` entry, with more keys (`link_existing = …`).
    fn toml_with(&self, name: &str, extra: &str) -> String {
        format!(
            "[[providers]]\nname = \"{name}\"\nissuer = \"{0}\"\njwks_uri = \"{1}/oauth2/v3/certs\"\naudience = \"{CLIENT_ID}\"\n{extra}\n",
            self.issuer, self.base
        )
    }

    /// An ID token with this header `typ`.
    fn id_token_typed(&self, typ: &str, sub: &str, extra: Value) -> String {
        let mut claims = json!({
            "iss": self.issuer, "sub": sub, "aud": CLIENT_ID,
            "iat": NOW - 10, "exp": NOW + 3600,
        });
        if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            claims.extend(extra);
        }
        let mut header = Header::for_key(&self.key);
        header.typ = Some(typ.to_owned());
        tessera_jwt::encode(&self.key, &header, &claims).unwrap()
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

async fn login_oidc(issuer: &Issuer, body: Value) -> crate::harness::issuer::Answer {
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

pub(crate) async fn oidc_unverified_email_gets_its_own_account(ctx: Ctx) {
    let google = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &google.toml("google"), &[]).await;
    let carol = issuer.user("carol@example.com", PASSWORD, &["admin"]).await;

    // Someone whose provider account claims carol's address without the provider having
    // verified it gets an account of their own, never carol's.
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

    // An identity linked to an account that is then disabled cannot sign in either.
    let dave = google.id_token(
        "108000000000000000004",
        json!({"email": "dave@example.com", "email_verified": true}),
    );
    let (access, _) = login_oidc(&issuer, json!({"id_token": dave})).await.pair();
    let dave_id = user_of(&issuer, &access).await["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    issuer
        .state
        .store
        .set_user_disabled(&dave_id, true, NOW)
        .await
        .unwrap();
    let again = google.id_token("108000000000000000004", json!({}));
    login_oidc(&issuer, json!({"id_token": again}))
        .await
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

/// Accounts made by an outside sign-in are named as every username is (RFC 8265 normal form):
/// no look-alike of an existing name, and nothing a username may not hold.
pub(crate) async fn new_users_get_usernames_in_normal_form(ctx: Ctx) {
    let google = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &google.toml("google"), &[]).await;
    let name_of = |sub: &'static str, email: &'static str| {
        let token = google.id_token(sub, json!({"email": email, "email_verified": true}));
        let issuer = &issuer;
        async move {
            let (access, _) = login_oidc(issuer, json!({"id_token": token})).await.pair();
            user_of(issuer, &access).await["preferred_username"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    // Case and width are folded, as for every username.
    assert_eq!(
        name_of("1", "Jane.Doe@Example.COM").await,
        "jane.doe@example.com"
    );
    // A look-alike of that name (full width) is that name: taken, so `provider:sub`.
    assert_eq!(name_of("2", "ｊａｎｅ.doe@example.com").await, "google:2");
    // An address usernames cannot hold (a zero-width space): `provider:sub`.
    assert_eq!(name_of("3", "x\u{200b}y@example.com").await, "google:3");
    // A subject usernames cannot hold either: the provider and a hash of the subject.
    let odd = name_of("a\u{202e}b", "bad\u{202e}@example.com").await;
    assert!(odd.starts_with("google:"), "{odd}");
    assert_eq!(odd.len(), "google:".len() + 32, "{odd}");
    assert!(
        odd["google:".len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit()),
        "{odd}"
    );
    // Every stored name is in normal form.
    for user in issuer.state.store.list_users().await.unwrap() {
        assert_eq!(
            tessera_server::accounts::normalize_username(&user.username).unwrap(),
            user.username
        );
    }
    issuer.stop().await;
}

// ---- issue 9, finding 1: account takeover through automatic e-mail linking ----------------

/// A user with no password (one that only signs in through a provider), with these roles.
async fn passwordless_user(issuer: &Issuer, name: &str, roles: &[&str]) -> User {
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    issuer
        .state
        .store
        .create_user(
            NewUser {
                username: name,
                password_hash: None,
                roles: &roles,
            },
            NOW,
        )
        .await
        .unwrap()
}

/// `GET /admin/api/users` with this access token: its status.
async fn admin_users_status(issuer: &Issuer, access: &str) -> u16 {
    issuer
        .http
        .get(issuer.url("/admin/api/users"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Signs in with `id_token` at `/login/oidc`: the user it got, or the refusal's answer.
async fn signed_in_user(
    issuer: &Issuer,
    id_token: &str,
) -> Result<Value, crate::harness::issuer::Answer> {
    let answer = login_oidc(issuer, json!({"id_token": id_token})).await;
    if answer.status != 200 {
        return Err(answer);
    }
    let (access, _) = answer.pair();
    let mut me = user_of(issuer, &access).await;
    me["admin_api_status"] = json!(admin_users_status(issuer, &access).await);
    Ok(me)
}

/// The repro of the review: an admin `ops@corp.example`, and a provider that lets anyone
/// assert `email_verified` (as a string, or as a boolean) for that address.
pub(crate) async fn takeover_through_email_linking_is_refused(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml("corp"), &[]).await;
    let ops = issuer.user("ops@corp.example", PASSWORD, &["admin"]).await;

    for (sub, verified) in [("evil", json!("true")), ("evil2", json!(true))] {
        let token = idp.id_token(
            sub,
            json!({"email": "ops@corp.example", "email_verified": verified}),
        );
        // Through /login/oidc and through the token exchange.
        let me = signed_in_user(&issuer, &token).await.unwrap();
        assert_ne!(me["sub"], ops.id.as_str(), "{sub}: linked to the admin");
        assert_eq!(me["roles"], json!([]));
        assert_ne!(me["admin_api_status"], 200);
        assert_eq!(me["preferred_username"], format!("corp:{sub}").as_str());
        let (client_id, secret) = issuer.client(&format!("app-{sub}"), &[]).await;
        let answer = exchange(
            &issuer,
            &token,
            "urn:ietf:params:oauth:token-type:id_token",
            Some((&client_id, &secret)),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let access = answer.json()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(user_of(&issuer, &access).await["sub"], me["sub"]);
        assert_ne!(admin_users_status(&issuer, &access).await, 200);
    }
    assert!(
        issuer
            .state
            .store
            .external_identities_of(&ops.id)
            .await
            .unwrap()
            .is_empty()
    );
    issuer.stop().await;
}

const LINKING: &str = "link_existing = \"verified_email\"\nallowed_domains = [\"Corp.Example\"]";

pub(crate) async fn verified_email_links_a_bare_account(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml_with("corp", LINKING), &[]).await;
    let pat = passwordless_user(&issuer, "pat@corp.example", &[]).await;
    // The domain is compared case-insensitively, the address itself exactly.
    let token = idp.id_token(
        "pat-1",
        json!({"email": "pat@CORP.example", "email_verified": true}),
    );
    let me = signed_in_user(&issuer, &token).await.unwrap();
    assert_ne!(me["sub"], pat.id.as_str(), "PAT@… is not pat@…");
    let token = idp.id_token(
        "pat-2",
        json!({"email": "pat@corp.example", "email_verified": true}),
    );
    let me = signed_in_user(&issuer, &token).await.unwrap();
    assert_eq!(me["sub"], pat.id.as_str());
    issuer.stop().await;
}

pub(crate) async fn string_email_verified_never_links(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml_with("corp", LINKING), &[]).await;
    let pat = passwordless_user(&issuer, "pat@corp.example", &[]).await;
    // allowed_domains also needs a (boolean) verified address to sign in at all.
    let token = idp.id_token(
        "evil",
        json!({"email": "pat@corp.example", "email_verified": "true"}),
    );
    let refused = signed_in_user(&issuer, &token).await.unwrap_err();
    refused.assert_error(401, "invalid_grant");
    assert!(refused.text.contains("verified e-mail"), "{}", refused.text);
    assert!(
        issuer
            .state
            .store
            .external_identities_of(&pat.id)
            .await
            .unwrap()
            .is_empty()
    );
    issuer.stop().await;
}

pub(crate) async fn domain_not_allowed_is_refused(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml_with("corp", LINKING), &[]).await;
    passwordless_user(&issuer, "pat@other.example", &[]).await;
    for email in [
        "pat@other.example",
        "pat@corp.example.evil",
        "corp.example",
        "@corp.example",
    ] {
        let token = idp.id_token("evil", json!({"email": email, "email_verified": true}));
        let refused = signed_in_user(&issuer, &token).await.unwrap_err();
        refused.assert_error(401, "invalid_grant");
        assert!(refused.text.contains("allowed domains"), "{}", refused.text);
    }
    // Without an e-mail at all.
    let token = idp.id_token("evil", json!({}));
    signed_in_user(&issuer, &token)
        .await
        .unwrap_err()
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

pub(crate) async fn google_needs_a_matching_hd(ctx: Ctx) {
    let google = Provider::start_as("https://accounts.google.com").await;
    let toml = google.toml_with(
        "google",
        "link_existing = \"verified_email\"\nallowed_domains = [\"corp.example\", \"corp2.example\"]",
    );
    let issuer = Issuer::start_with_toml(ctx.store, &toml, &[]).await;
    let pat = passwordless_user(&issuer, "pat@corp.example", &[]).await;
    let email = json!({"email": "pat@corp.example", "email_verified": true});
    let with = |hd: Option<&str>| {
        let mut claims = email.clone();
        if let Some(hd) = hd {
            claims["hd"] = json!(hd);
        }
        claims
    };
    // No hd, or one not allowed: no sign-in at all.
    for hd in [None, Some("other.example")] {
        let token = google.id_token("g-1", with(hd));
        let refused = signed_in_user(&issuer, &token).await.unwrap_err();
        refused.assert_error(401, "invalid_grant");
    }
    // An allowed hd that is not the e-mail's domain: a sign-in, but never pat's account.
    let token = google.id_token("g-2", with(Some("corp2.example")));
    let me = signed_in_user(&issuer, &token).await.unwrap();
    assert_ne!(me["sub"], pat.id.as_str());
    // Both: linked.
    let token = google.id_token("g-3", with(Some("CORP.example")));
    let me = signed_in_user(&issuer, &token).await.unwrap();
    assert_eq!(me["sub"], pat.id.as_str());
    issuer.stop().await;
}

pub(crate) async fn no_automatic_link_to_an_account_with_a_password(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml_with("corp", LINKING), &[]).await;
    let pat = issuer.user("pat@corp.example", PASSWORD, &[]).await;
    let token = idp.id_token(
        "evil",
        json!({"email": "pat@corp.example", "email_verified": true}),
    );
    let me = signed_in_user(&issuer, &token).await.unwrap();
    assert_ne!(me["sub"], pat.id.as_str());
    assert_eq!(me["preferred_username"], "corp:evil");
    issuer.stop().await;
}

pub(crate) async fn no_automatic_link_to_an_account_with_a_role(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml_with("corp", LINKING), &[]).await;
    let ops = passwordless_user(&issuer, "ops@corp.example", &["admin"]).await;
    let token = idp.id_token(
        "evil",
        json!({"email": "ops@corp.example", "email_verified": true}),
    );
    let me = signed_in_user(&issuer, &token).await.unwrap();
    assert_ne!(me["sub"], ops.id.as_str());
    assert_ne!(me["admin_api_status"], 200);
    issuer.stop().await;
}

pub(crate) async fn create_users_false_refuses_new_identities(ctx: Ctx) {
    let idp = Provider::start().await;
    let toml = idp.toml_with("corp", &format!("{LINKING}\ncreate_users = false"));
    let issuer = Issuer::start_with_toml(ctx.store, &toml, &[]).await;
    let pat = passwordless_user(&issuer, "pat@corp.example", &[]).await;
    let stranger = idp.id_token(
        "new-1",
        json!({"email": "new@corp.example", "email_verified": true}),
    );
    let refused = signed_in_user(&issuer, &stranger).await.unwrap_err();
    refused.assert_error(401, "invalid_grant");
    assert!(
        refused.text.contains("does not create accounts"),
        "{}",
        refused.text
    );
    assert!(
        issuer
            .state
            .store
            .user_by_username("new@corp.example")
            .await
            .unwrap()
            .is_none()
    );
    // An identity that joins an existing account is not a new user: it signs in, again too.
    let token = idp.id_token(
        "pat-1",
        json!({"email": "pat@corp.example", "email_verified": true}),
    );
    assert_eq!(
        signed_in_user(&issuer, &token).await.unwrap()["sub"],
        pat.id.as_str()
    );
    let again = idp.id_token(
        "pat-1",
        json!({"email": "pat@corp.example", "email_verified": true}),
    );
    assert_eq!(
        signed_in_user(&issuer, &again).await.unwrap()["sub"],
        pat.id.as_str()
    );
    issuer.stop().await;
}

pub(crate) async fn azp_must_be_an_audience(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml("corp"), &[]).await;
    for azp in [json!("another-app"), json!(7)] {
        let token = idp.id_token("s-1", json!({"azp": azp}));
        let refused = signed_in_user(&issuer, &token).await.unwrap_err();
        refused.assert_error(401, "invalid_grant");
        assert!(refused.text.contains("azp"), "{}", refused.text);
    }
    // Without azp, or with ours: fine.
    let token = idp.id_token_typed("JWT", "s-1", json!({}));
    signed_in_user(&issuer, &token).await.unwrap();
    let token = idp.id_token("s-1", json!({"azp": CLIENT_ID}));
    signed_in_user(&issuer, &token).await.unwrap();
    issuer.stop().await;
}

pub(crate) async fn access_tokens_are_not_id_tokens(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml("corp"), &[]).await;
    let (client_id, secret) = issuer.client("app", &[]).await;
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let token = idp.id_token_typed(typ, "s-1", json!({}));
        let refused = signed_in_user(&issuer, &token).await.unwrap_err();
        refused.assert_error(401, "invalid_grant");
        assert!(refused.text.contains("access token"), "{}", refused.text);
        exchange(
            &issuer,
            &token,
            "urn:ietf:params:oauth:token-type:id_token",
            Some((&client_id, &secret)),
        )
        .await
        .assert_error(400, "invalid_grant");
    }
    issuer.stop().await;
}

pub(crate) async fn old_id_tokens_are_refused(ctx: Ctx) {
    let idp = Provider::start().await;
    let issuer = Issuer::start_with_toml(ctx.store, &idp.toml("corp"), &[]).await;
    // Default 10 minutes: 601 s is too old, 600 s is not.
    let old = idp.id_token("s-1", json!({"iat": NOW - 601}));
    let refused = signed_in_user(&issuer, &old).await.unwrap_err();
    refused.assert_error(401, "invalid_grant");
    assert!(refused.text.contains("too old"), "{}", refused.text);
    let fresh = idp.id_token("s-1", json!({"iat": NOW - 600}));
    signed_in_user(&issuer, &fresh).await.unwrap();
    // From the future.
    let future = idp.id_token("s-1", json!({"iat": NOW + 3000}));
    signed_in_user(&issuer, &future)
        .await
        .unwrap_err()
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

pub(crate) async fn max_id_token_age_is_configurable(ctx: Ctx) {
    let idp = Provider::start().await;
    let toml = idp.toml_with("corp", "max_id_token_age = \"1h\"");
    let issuer = Issuer::start_with_toml(ctx.store, &toml, &[]).await;
    let older = idp.id_token("s-1", json!({"iat": NOW - 3000}));
    signed_in_user(&issuer, &older).await.unwrap();
    let too_old = idp.id_token("s-1", json!({"iat": NOW - 3601}));
    signed_in_user(&issuer, &too_old)
        .await
        .unwrap_err()
        .assert_error(401, "invalid_grant");
    issuer.stop().await;
}

/// `POST /oauth2/token` with the RFC 8693 token exchange grant.
async fn exchange(
    issuer: &Issuer,
    subject_token: &str,
    subject_token_type: &str,
    client: Option<(&str, &str)>,
) -> crate::harness::issuer::Answer {
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

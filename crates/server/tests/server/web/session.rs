//! The browser session over real HTTP: `POST /browser/session` (sign in), `POST
//! /browser/session/refresh` (silent refresh, rotation), `DELETE /browser/session` (sign out),
//! the refresh cookie's attributes, and the CSRF defence in front of all three.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_jwt::Clock as _;
use tessera_server::store::TokenHash;

use crate::harness::Ctx;
use crate::harness::issuer::{Answer, Issuer, NOW, PASSWORD, claims};

on_both_backends!(
    login_sets_the_cookie,
    refresh_rotates_the_cookie,
    reuse_after_the_grace_revokes_the_family,
    refresh_without_a_usable_cookie_is_401_and_clears_it,
    sign_out_revokes,
    signing_in_again_ends_the_previous_session,
    every_csrf_failure_is_403_and_changes_nothing,
    wrong_password_and_disabled_accounts,
    bad_bodies_are_400,
    throttled_sign_in_names_the_wait,
    https_issuer_sets_secure_cookies,
    https_issuer_reads_only_prefixed_cookies,
    cors_does_not_open_the_session_to_other_origins,
);

const SESSION: &str = "/browser/session";
const REFRESH: &str = "/browser/session/refresh";
/// The issuer of the test configuration (the server listens elsewhere, on a free port).
const ISSUER_ORIGIN: &str = "http://127.0.0.1:7070";
/// Defaults: 30 days of absolute lifetime, 5 s of grace.
const REFRESH_TTL: i64 = 30 * 24 * 3600;

/// A new CSRF token as the pages make them: 32 random bytes, base64url.
fn csrf_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a browser keeps for the issuer's origin, and how its page script calls the session
/// endpoints (same-origin fetch, the CSRF cookie echoed in `X-CSRF-Token`).
struct Browser<'a> {
    issuer: &'a Issuer,
    origin: String,
    csrf: String,
    refresh: Option<String>,
    /// The cookie names the issuer uses: prefixed (`__Host-`, `__Secure-`) on https.
    names: CookieNames,
}

/// The names of the refresh and CSRF cookies.
#[derive(Debug, Clone, Copy)]
struct CookieNames {
    refresh: &'static str,
    csrf: &'static str,
}

/// The names on a loopback http issuer.
const PLAIN: CookieNames = CookieNames {
    refresh: "tessera_refresh",
    csrf: "tessera_csrf",
};
/// The names everywhere else.
const PREFIXED: CookieNames = CookieNames {
    refresh: "__Secure-tessera_refresh",
    csrf: "__Host-tessera_csrf",
};

/// One way of breaking a request's CSRF defence.
#[derive(Debug, Clone, Copy)]
enum Forgery {
    NoHeader,
    WrongHeader,
    NoCookie,
    /// A short value planted as the cookie and echoed in the header.
    PlantedWeakCookie,
    ForeignOrigin,
    CrossSite,
}

const FORGERIES: [Forgery; 6] = [
    Forgery::NoHeader,
    Forgery::WrongHeader,
    Forgery::NoCookie,
    Forgery::PlantedWeakCookie,
    Forgery::ForeignOrigin,
    Forgery::CrossSite,
];

impl<'a> Browser<'a> {
    fn new(issuer: &'a Issuer) -> Self {
        Self::with_origin(issuer, ISSUER_ORIGIN)
    }

    fn with_origin(issuer: &'a Issuer, origin: &str) -> Self {
        Self {
            issuer,
            origin: origin.to_owned(),
            csrf: csrf_token(),
            refresh: None,
            names: if origin.starts_with("https://") {
                PREFIXED
            } else {
                PLAIN
            },
        }
    }

    /// A request as the page's script sends it, or forged in one way.
    fn request(
        &self,
        method: Method,
        path: &str,
        forgery: Option<Forgery>,
    ) -> reqwest::RequestBuilder {
        let mut cookies = Vec::new();
        let mut header = Some(self.csrf.clone());
        match forgery {
            Some(Forgery::NoCookie) => {}
            Some(Forgery::PlantedWeakCookie) => {
                cookies.push(format!("{}=1234", self.names.csrf));
                header = Some("1234".to_owned());
            }
            _ => cookies.push(format!("{}={}", self.names.csrf, self.csrf)),
        }
        match forgery {
            Some(Forgery::NoHeader) => header = None,
            Some(Forgery::WrongHeader) => header = Some(csrf_token()),
            _ => {}
        }
        if let Some(refresh) = &self.refresh {
            cookies.push(format!("{}={refresh}", self.names.refresh));
        }
        let origin = match forgery {
            Some(Forgery::ForeignOrigin) => "http://evil.example",
            _ => &self.origin,
        };
        let site = match forgery {
            Some(Forgery::CrossSite) => "cross-site",
            _ => "same-origin",
        };
        let mut request = self
            .issuer
            .http
            .request(method, self.issuer.url(path))
            .header("origin", origin)
            .header("sec-fetch-site", site);
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        if let Some(header) = header {
            request = request.header("x-csrf-token", header);
        }
        request
    }

    /// Sends a request and keeps the refresh cookie it sets or clears.
    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let answer = Answer::read(request.send().await.unwrap()).await;
        if let Some(cookie) = refresh_cookie_named(&answer, self.names.refresh) {
            let max_age = cookie.max_age().map(|d| d.whole_seconds());
            self.refresh = (max_age != Some(0)).then(|| cookie.value().to_owned());
        }
        answer
    }

    async fn sign_in(&mut self, username: &str, password: &str) -> Answer {
        let request = self
            .request(Method::POST, SESSION, None)
            .json(&json!({"username": username, "password": password}));
        self.send(request).await
    }

    async fn refresh(&mut self) -> Answer {
        let request = self.request(Method::POST, REFRESH, None);
        self.send(request).await
    }

    async fn sign_out(&mut self) -> Answer {
        let request = self.request(Method::DELETE, SESSION, None);
        self.send(request).await
    }
}

/// The one `Set-Cookie` of an answer, if it sets the refresh cookie `name` (anything else set
/// is a failure).
fn refresh_cookie_named(answer: &Answer, name: &str) -> Option<cookie::Cookie<'static>> {
    let set: Vec<&str> = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(set.len() <= 1, "one Set-Cookie at most: {set:?}");
    let raw = set.first()?;
    let cookie = cookie::Cookie::parse(raw.to_string()).unwrap();
    assert_eq!(cookie.name(), name, "{raw}");
    Some(cookie)
}

/// The attributes of the one `Set-Cookie` (everything after `name=value`), sorted.
fn attributes(answer: &Answer) -> (String, Vec<String>) {
    let set: Vec<&str> = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set.len(), 1, "exactly one Set-Cookie: {set:?}");
    let mut parts = set[0].split(';').map(str::trim);
    let pair = parts.next().unwrap().to_owned();
    let mut attributes: Vec<String> = parts.map(str::to_owned).collect();
    attributes.sort();
    (pair, attributes)
}

fn sorted(attributes: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = attributes.iter().map(|a| (*a).to_owned()).collect();
    v.sort();
    v
}

/// A 200 of the session endpoints: the access token alone, never cached. Returns it.
#[track_caller]
fn access_token(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let json = answer.json();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["access_token", "expires_in", "token_type"],
        "no refresh token in the body: {json}"
    );
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 900);
    json["access_token"].as_str().unwrap().to_owned()
}

/// The revocation reason of the family of a refresh token (`None`: still alive).
async fn revoked_reason(issuer: &Issuer, refresh: &str) -> Option<String> {
    issuer
        .state
        .store
        .refresh_token(&TokenHash::of(refresh))
        .await
        .unwrap()
        .expect("a refresh token of ours")
        .family
        .revoked_reason
}

async fn active_sessions(issuer: &Issuer, user_id: &str) -> usize {
    issuer
        .state
        .store
        .active_refresh_families(user_id, issuer.state.clock.now())
        .await
        .unwrap()
        .len()
}

pub(crate) async fn login_sets_the_cookie(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &["user"]).await;
    let mut browser = Browser::new(&issuer);

    let answer = browser.sign_in("alice", PASSWORD).await;
    let access = access_token(&answer);
    let (pair, attrs) = attributes(&answer);
    let refresh = browser.refresh.clone().unwrap();
    assert_eq!(pair, format!("tessera_refresh={refresh}"));
    assert_eq!(refresh.len(), 43, "256 random bits, base64url");
    // No `Secure` on an http issuer on loopback (browsers would drop the cookie).
    assert_eq!(
        attrs,
        sorted(&[
            "HttpOnly",
            "SameSite=Strict",
            "Path=/browser/session",
            &format!("Max-Age={REFRESH_TTL}"),
        ])
    );
    assert!(!answer.text.contains(&refresh));

    // The access token is the issuer's, for alice, in the cookie's family.
    let me = issuer.userinfo(&access).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["preferred_username"], "alice");
    let record = issuer
        .state
        .store
        .refresh_token(&TokenHash::of(&refresh))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        claims(&access)["sid"],
        Value::String(record.family.id.clone())
    );
    assert_eq!(record.family.user_id, alice.id);
    assert_eq!(record.family.expires_at, NOW + REFRESH_TTL);
    assert_eq!(active_sessions(&issuer, &alice.id).await, 1);
    // Counted as a login, like POST /login.
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_logins_total{outcome=\"success\"} 1"),
        "{metrics}"
    );
    issuer.stop().await;
}

pub(crate) async fn refresh_rotates_the_cookie(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);
    let first_access = access_token(&browser.sign_in("alice", PASSWORD).await);
    let first = browser.refresh.clone().unwrap();

    // Later: the cookie's Max-Age is what is left of the family's absolute lifetime.
    issuer.clock.advance(1000);
    let answer = browser.refresh().await;
    let access = access_token(&answer);
    assert_ne!(access, first_access);
    assert_eq!(claims(&access)["sid"], claims(&first_access)["sid"]);
    let (_, attrs) = attributes(&answer);
    assert!(
        attrs.contains(&format!("Max-Age={}", REFRESH_TTL - 1000)),
        "{attrs:?}"
    );
    assert!(attrs.contains(&"HttpOnly".to_owned()), "{attrs:?}");
    let second = browser.refresh.clone().unwrap();
    assert_ne!(second, first, "rotated");
    assert!(!answer.text.contains(&second));
    let me = issuer.userinfo(&access).await;
    assert_eq!(me.status, 200, "{}", me.text);

    // Another refresh, from the rotated cookie.
    issuer.clock.advance(10);
    access_token(&browser.refresh().await);
    assert_ne!(browser.refresh.as_deref(), Some(second.as_str()));
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_refreshes_total{outcome=\"success\"} 2"),
        "{metrics}"
    );
    issuer.stop().await;
}

pub(crate) async fn reuse_after_the_grace_revokes_the_family(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);
    access_token(&browser.sign_in("alice", PASSWORD).await);
    let old = browser.refresh.clone().unwrap();
    access_token(&browser.refresh().await);
    let current = browser.refresh.clone().unwrap();

    // Within the grace window a retry of the old cookie (another tab, a lost answer) is
    // answered, as at /token/refresh.
    let mut retry = Browser::new(&issuer);
    retry.csrf = browser.csrf.clone();
    retry.refresh = Some(old.clone());
    issuer.clock.advance(2);
    access_token(&retry.refresh().await);

    // After the grace, the old value is refused, the cookie cleared, and the whole family
    // revoked: the current cookie dies too.
    issuer.clock.advance(10);
    retry.refresh = Some(old.clone());
    let refused = retry.refresh().await;
    refused.assert_error(401, "invalid_grant");
    let (pair, attrs) = attributes(&refused);
    assert_eq!(pair, "tessera_refresh=");
    assert!(attrs.contains(&"Max-Age=0".to_owned()), "{attrs:?}");
    assert_eq!(retry.refresh, None);
    assert_eq!(
        revoked_reason(&issuer, &current).await.as_deref(),
        Some("reuse_detected")
    );
    browser.refresh().await.assert_error(401, "invalid_grant");
    assert_eq!(active_sessions(&issuer, &alice.id).await, 0);
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_refreshes_total{outcome=\"reuse_detected\"} 1"),
        "{metrics}"
    );
    issuer.stop().await;
}

pub(crate) async fn refresh_without_a_usable_cookie_is_401_and_clears_it(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let bob = issuer.user("bob", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);

    // No cookie at all.
    let answer = browser.refresh().await;
    answer.assert_error(401, "invalid_grant");
    let (pair, attrs) = attributes(&answer);
    assert_eq!(pair, "tessera_refresh=");
    assert_eq!(
        attrs,
        sorted(&[
            "HttpOnly",
            "SameSite=Strict",
            "Path=/browser/session",
            "Max-Age=0"
        ])
    );

    // Garbage, empty, and a huge value.
    for value in ["garbage", "", &"x".repeat(5000)] {
        browser.refresh = Some(value.to_owned());
        let answer = browser.refresh().await;
        answer.assert_error(401, "invalid_grant");
        assert_eq!(attributes(&answer).0, "tessera_refresh=");
    }

    // A disabled user's cookie is refused (and the family revoked).
    access_token(&browser.sign_in("bob", PASSWORD).await);
    let refresh = browser.refresh.clone().unwrap();
    issuer
        .state
        .store
        .set_user_disabled(&bob.id, true, NOW)
        .await
        .unwrap();
    let answer = browser.refresh().await;
    answer.assert_error(401, "invalid_grant");
    assert_eq!(attributes(&answer).0, "tessera_refresh=");
    assert_eq!(
        revoked_reason(&issuer, &refresh).await.as_deref(),
        Some("user_disabled")
    );

    // An expired family: the cookie's lifetime is over.
    issuer
        .state
        .store
        .set_user_disabled(&bob.id, false, NOW)
        .await
        .unwrap();
    access_token(&browser.sign_in("bob", PASSWORD).await);
    issuer.clock.advance(REFRESH_TTL + 1);
    browser.refresh().await.assert_error(401, "invalid_grant");
    assert_eq!(browser.refresh, None);
    issuer.stop().await;
}

pub(crate) async fn sign_out_revokes(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);
    access_token(&browser.sign_in("alice", PASSWORD).await);
    let refresh = browser.refresh.clone().unwrap();

    let answer = browser.sign_out().await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let (pair, attrs) = attributes(&answer);
    assert_eq!(pair, "tessera_refresh=");
    assert!(attrs.contains(&"Max-Age=0".to_owned()), "{attrs:?}");
    assert!(
        attrs.contains(&"Path=/browser/session".to_owned()),
        "{attrs:?}"
    );
    assert_eq!(browser.refresh, None);
    assert_eq!(
        revoked_reason(&issuer, &refresh).await.as_deref(),
        Some("logout")
    );
    assert_eq!(active_sessions(&issuer, &alice.id).await, 0);

    // The old cookie, sent again, no longer refreshes.
    browser.refresh = Some(refresh.clone());
    browser.refresh().await.assert_error(401, "invalid_grant");

    // Signing out without a session (or with garbage) is still 204 and clears the cookie.
    let answer = browser.sign_out().await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(attributes(&answer).0, "tessera_refresh=");
    browser.refresh = Some("garbage".to_owned());
    assert_eq!(browser.sign_out().await.status, 204);
    issuer.stop().await;
}

pub(crate) async fn signing_in_again_ends_the_previous_session(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    issuer.user("bob", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);
    access_token(&browser.sign_in("alice", PASSWORD).await);
    let first = browser.refresh.clone().unwrap();

    // The same browser signs in as bob: alice's session in it ends (its cookie is replaced).
    access_token(&browser.sign_in("bob", PASSWORD).await);
    assert_ne!(browser.refresh.as_deref(), Some(first.as_str()));
    assert_eq!(
        revoked_reason(&issuer, &first).await.as_deref(),
        Some("logout")
    );
    assert_eq!(active_sessions(&issuer, &alice.id).await, 0);
    // A failed sign-in leaves the current session alone.
    let current = browser.refresh.clone().unwrap();
    browser
        .sign_in("bob", "wrong password")
        .await
        .assert_error(401, "invalid_grant");
    assert_eq!(revoked_reason(&issuer, &current).await, None);
    issuer.stop().await;
}

pub(crate) async fn every_csrf_failure_is_403_and_changes_nothing(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);
    let logins = |metrics: String| -> Vec<String> {
        metrics
            .lines()
            .filter(|l| l.starts_with("tessera_logins_total"))
            .map(str::to_owned)
            .collect()
    };
    let logins_before = logins(issuer.metrics().await);

    // Sign-in: refused before the password is even looked at (no login counted, no throttle
    // attempt used, no session started), with the right and a wrong password alike.
    for forgery in FORGERIES {
        for password in [PASSWORD, "wrong password"] {
            let request = browser
                .request(Method::POST, SESSION, Some(forgery))
                .json(&json!({"username": "alice", "password": password}));
            let answer = browser.send(request).await;
            answer.assert_error(403, "csrf_failed");
            assert!(
                answer.json()["error_description"]
                    .as_str()
                    .unwrap()
                    .starts_with("CSRF check failed: "),
                "{forgery:?}: {}",
                answer.text
            );
            assert!(answer.headers.get("set-cookie").is_none(), "{forgery:?}");
        }
    }
    // Even a body that is not JSON: the CSRF check comes first.
    let request = browser
        .request(Method::POST, SESSION, Some(Forgery::NoHeader))
        .header("content-type", "application/json")
        .body("{not json");
    browser.send(request).await.assert_error(403, "csrf_failed");
    assert_eq!(active_sessions(&issuer, &alice.id).await, 0);
    assert_eq!(logins(issuer.metrics().await), logins_before);

    // A real session, then forged refreshes and sign-outs: the cookie is neither rotated nor
    // revoked.
    access_token(&browser.sign_in("alice", PASSWORD).await);
    let refresh = browser.refresh.clone().unwrap();
    for forgery in FORGERIES {
        for (method, path) in [(Method::POST, REFRESH), (Method::DELETE, SESSION)] {
            let request = browser.request(method.clone(), path, Some(forgery));
            let answer = browser.send(request).await;
            answer.assert_error(403, "csrf_failed");
            assert!(
                answer.headers.get("set-cookie").is_none(),
                "{method} {path} {forgery:?}"
            );
        }
    }
    assert_eq!(browser.refresh.as_deref(), Some(refresh.as_str()));
    assert_eq!(revoked_reason(&issuer, &refresh).await, None);
    // Past the grace window: had a forged refresh used the token, this would be reuse.
    issuer.clock.advance(60);
    access_token(&browser.refresh().await);
    assert_eq!(active_sessions(&issuer, &alice.id).await, 1);
    // Nothing forged reached the throttle: five wrong passwords are still answered 401.
    for _ in 0..5 {
        browser
            .sign_in("alice", "wrong password")
            .await
            .assert_error(401, "invalid_grant");
    }
    issuer.stop().await;
}

pub(crate) async fn wrong_password_and_disabled_accounts(ctx: Ctx) {
    // More failures than the default throttle lets through: this is about the answers.
    let issuer = Issuer::start(ctx.store, &[("TESSERA_THROTTLE__ACCOUNT_ATTEMPTS", "50")]).await;
    let carol = issuer.user("carol", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);

    for (user, password) in [("carol", "wrong password"), ("nobody", PASSWORD)] {
        let answer = browser.sign_in(user, password).await;
        answer.assert_error(401, "invalid_grant");
        assert_eq!(
            answer.json()["error_description"],
            "the username or password is wrong"
        );
        assert!(answer.headers.get("set-cookie").is_none());
    }

    issuer
        .state
        .store
        .set_user_disabled(&carol.id, true, NOW)
        .await
        .unwrap();
    // The right password of a disabled account: the browser tells the person.
    let answer = browser.sign_in("carol", PASSWORD).await;
    answer.assert_error(403, "account_disabled");
    assert_eq!(
        answer.json()["error_description"],
        "this account is disabled"
    );
    assert!(answer.headers.get("set-cookie").is_none());
    assert_eq!(active_sessions(&issuer, &carol.id).await, 0);
    // A wrong password says nothing about the account's state.
    browser
        .sign_in("carol", "wrong password")
        .await
        .assert_error(401, "invalid_grant");
    // The pinned JSON endpoints keep answering as before: 401 / 400 invalid_grant, the same
    // text as a wrong password.
    let pinned = issuer.login("carol", PASSWORD).await;
    pinned.assert_error(401, "invalid_grant");
    assert_eq!(
        pinned.text,
        issuer.login("carol", "wrong password").await.text
    );
    issuer
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "password"),
                ("username", "carol"),
                ("password", PASSWORD),
            ],
            None,
        )
        .await
        .assert_error(400, "invalid_grant");
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_logins_total{outcome=\"disabled\"} 3"),
        "{metrics}"
    );
    issuer.stop().await;
}

pub(crate) async fn bad_bodies_are_400(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let mut browser = Browser::new(&issuer);
    for body in [
        "{not json",
        "{}",
        r#"{"username":"alice"}"#,
        r#"{"username":1,"password":"x"}"#,
        "[]",
    ] {
        let request = browser
            .request(Method::POST, SESSION, None)
            .header("content-type", "application/json")
            .body(body);
        browser
            .send(request)
            .await
            .assert_error(400, "invalid_request");
    }
    // Not JSON at all.
    let request = browser
        .request(Method::POST, SESSION, None)
        .header("content-type", "text/plain")
        .body("username=alice");
    let answer = browser.send(request).await;
    assert_eq!(answer.status, 415, "{}", answer.text);
    // GET is not a way in.
    let answer = browser
        .send(browser.request(Method::GET, SESSION, None))
        .await;
    assert_eq!(answer.status, 405, "{}", answer.text);
    issuer.stop().await;
}

pub(crate) async fn throttled_sign_in_names_the_wait(ctx: Ctx) {
    // The defaults: 5 failures per account per 15 minutes, one attempt back every 180 s.
    let issuer = Issuer::start(ctx.store, &[]).await;
    issuer.user("alice", PASSWORD, &[]).await;
    let mut browser = Browser::new(&issuer);
    // The same throttle as POST /login: failures there count here.
    for _ in 0..3 {
        issuer
            .login("alice", "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    for _ in 0..2 {
        browser
            .sign_in("alice", "guess")
            .await
            .assert_error(401, "invalid_grant");
    }
    // Even the right password waits.
    let answer = browser.sign_in("alice", PASSWORD).await;
    answer.assert_error(429, "too_many_requests");
    assert_eq!(answer.header("retry-after"), Some("180"));
    assert_eq!(
        answer.json()["error_description"],
        "too many attempts; try again in 180 seconds"
    );
    assert!(answer.headers.get("set-cookie").is_none());
    // And POST /login is throttled too, in its own words.
    issuer
        .login("alice", PASSWORD)
        .await
        .assert_error(429, "too_many_requests");

    issuer.clock.advance(60);
    let answer = browser.sign_in("alice", PASSWORD).await;
    assert_eq!(answer.header("retry-after"), Some("120"));
    assert_eq!(
        answer.json()["error_description"],
        "too many attempts; try again in 120 seconds"
    );
    issuer.clock.advance(120);
    access_token(&browser.sign_in("alice", PASSWORD).await);
    let metrics = issuer.metrics().await;
    assert!(
        metrics.contains("tessera_logins_total{outcome=\"throttled\"} 3"),
        "{metrics}"
    );
    issuer.stop().await;
}

pub(crate) async fn https_issuer_sets_secure_cookies(ctx: Ctx) {
    // The issuer's public URL is https (TLS ends at a proxy in front); the test talks http.
    let issuer = Issuer::start(
        ctx.store,
        &[("TESSERA_ISSUER", "https://auth.example.test")],
    )
    .await;
    issuer.user("alice", PASSWORD, &[]).await;
    let mut browser = Browser::with_origin(&issuer, "https://auth.example.test");

    let answer = browser.sign_in("alice", PASSWORD).await;
    access_token(&answer);
    let (pair, attrs) = attributes(&answer);
    assert!(pair.starts_with("__Secure-tessera_refresh="), "{pair}");
    assert_eq!(
        attrs,
        sorted(&[
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/browser/session",
            &format!("Max-Age={REFRESH_TTL}"),
        ])
    );
    let answer = browser.refresh().await;
    assert!(attributes(&answer).1.contains(&"Secure".to_owned()));
    let answer = browser.sign_out().await;
    assert_eq!(answer.status, 204);
    let (pair, attrs) = attributes(&answer);
    assert_eq!(pair, "__Secure-tessera_refresh=");
    assert!(attrs.contains(&"Secure".to_owned()), "{attrs:?}");

    // The Origin that passes is the https one: the plain-http origin is another origin.
    let mut downgraded = Browser::with_origin(&issuer, "http://auth.example.test");
    downgraded
        .sign_in("alice", PASSWORD)
        .await
        .assert_error(403, "csrf_failed");
    issuer.stop().await;
}

pub(crate) async fn cors_does_not_open_the_session_to_other_origins(ctx: Ctx) {
    const APP: &str = "https://app.example.test";
    let issuer = Issuer::start_with_toml(
        ctx.store,
        &format!("[http]\ncors_allowed_origins = [\"{APP}\"]\n"),
        &[],
    )
    .await;
    issuer.user("alice", PASSWORD, &[]).await;

    // The preflight a cross-origin fetch with the CSRF header needs: the header is not
    // allowed, DELETE is not allowed, and credentials are never allowed.
    for (method, path) in [("POST", SESSION), ("POST", REFRESH), ("DELETE", SESSION)] {
        let preflight = issuer
            .http
            .request(Method::OPTIONS, issuer.url(path))
            .header("origin", APP)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "content-type,x-csrf-token",
            )
            .send()
            .await
            .unwrap();
        let answer = Answer::read(preflight).await;
        assert!(
            answer
                .headers
                .get("access-control-allow-credentials")
                .is_none(),
            "{method} {path}: {:?}",
            answer.headers
        );
        let allowed_headers = answer
            .header("access-control-allow-headers")
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(
            !allowed_headers.contains("x-csrf-token"),
            "{allowed_headers}"
        );
        if method == "DELETE" {
            let allowed_methods = answer.header("access-control-allow-methods").unwrap_or("");
            assert!(!allowed_methods.contains("DELETE"), "{allowed_methods}");
        }
    }

    // Even a request that got through with a valid cookie pair (a non-browser client, or a
    // browser bug) from the allowed CORS origin is refused: it is not the issuer's origin.
    let mut app = Browser::with_origin(&issuer, APP);
    let answer = app.sign_in("alice", PASSWORD).await;
    answer.assert_error(403, "csrf_failed");
    assert!(
        answer
            .headers
            .get("access-control-allow-credentials")
            .is_none(),
        "{:?}",
        answer.headers
    );
    // The issuer's own pages still work.
    access_token(&Browser::new(&issuer).sign_in("alice", PASSWORD).await);
    issuer.stop().await;
}

/// Regression (review finding 9): on an https issuer the session's cookies carry the
/// `__Secure-` / `__Host-` prefixes, and only the prefixed names are read, so a sibling
/// subdomain that plants `tessera_csrf` or `tessera_refresh` (a cookie it may set for the
/// parent domain) gets nowhere.
pub(crate) async fn https_issuer_reads_only_prefixed_cookies(ctx: Ctx) {
    let issuer = Issuer::start(
        ctx.store,
        &[("TESSERA_ISSUER", "https://auth.example.test")],
    )
    .await;
    issuer.user("alice", PASSWORD, &[]).await;

    // A page sets the CSRF cookie as __Host-: Secure, Path=/, no Domain.
    let page = Answer::read(issuer.http.get(issuer.url("/login")).send().await.unwrap()).await;
    let set = page.header("set-cookie").unwrap().to_owned();
    let csrf = cookie::Cookie::parse(set.clone()).unwrap();
    assert_eq!(csrf.name(), "__Host-tessera_csrf", "{set}");
    assert_eq!(csrf.secure(), Some(true), "{set}");
    assert_eq!(csrf.path(), Some("/"), "{set}");
    assert_eq!(csrf.domain(), None, "{set}");
    // A request that carries the prefixed cookie gets no new one.
    let again = Answer::read(
        issuer
            .http
            .get(issuer.url("/login"))
            .header("cookie", format!("__Host-tessera_csrf={}", csrf.value()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(again.header("set-cookie").is_none());

    // A browser whose cookies were planted without the prefixes: refused.
    let mut planted = Browser::with_origin(&issuer, "https://auth.example.test");
    planted.names = PLAIN;
    planted
        .sign_in("alice", PASSWORD)
        .await
        .assert_error(403, "csrf_failed");

    // A real session, then its refresh token replayed under the unprefixed name: no session.
    let mut browser = Browser::with_origin(&issuer, "https://auth.example.test");
    access_token(&browser.sign_in("alice", PASSWORD).await);
    let refresh = browser.refresh.clone().unwrap();
    let forged = browser
        .issuer
        .http
        .post(issuer.url(REFRESH))
        .header("origin", "https://auth.example.test")
        .header("sec-fetch-site", "same-origin")
        .header(
            "cookie",
            format!(
                "__Host-tessera_csrf={0}; tessera_refresh={refresh}",
                browser.csrf
            ),
        )
        .header("x-csrf-token", browser.csrf.clone());
    let answer = Answer::read(forged.send().await.unwrap()).await;
    answer.assert_error(401, "invalid_grant");
    // The real cookie still works.
    access_token(&browser.refresh().await);
    issuer.stop().await;
}

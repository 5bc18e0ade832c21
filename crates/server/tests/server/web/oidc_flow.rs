//! "Sign in with <provider>" over real HTTP: a fake OpenID provider served by axum on
//! 127.0.0.1 (discovery, an authorization endpoint that records the request and sends the
//! browser back with a code, a token endpoint that checks the client and the PKCE verifier
//! and signs an ID token with the nonce it was given, JWKS), and a "browser" that follows the
//! redirects by hand, carrying the cookies itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tessera_jwt::{Algorithm, Clock as _, Header, KeySet, SigningKey};

use crate::harness::Ctx;
use crate::harness::issuer::{Answer, Issuer, NOW, basic_header};

on_both_backends!(
    whole_flow_with_a_confidential_client,
    public_client_uses_pkce_alone,
    state_must_match,
    tampered_expired_or_foreign_cookies_are_state_mismatch,
    a_flow_started_on_one_instance_finishes_on_another,
    each_instance_keeps_its_own_discovery_documents,
    nonce_must_be_the_one_sent,
    provider_refusals_are_provider_error,
    provider_down_is_provider_unavailable,
    return_to_is_only_a_path_of_this_origin,
    account_conflict,
    providers_list_only_those_with_a_client_id,
    browser_sign_in_never_takes_over_an_existing_account,
    a_signed_in_user_connects_and_disconnects_a_provider,
    the_last_way_to_sign_in_cannot_be_disconnected,
    connecting_needs_a_recent_sign_in_of_a_live_session,
    a_link_ends_on_the_account_page_whatever_happens,
    the_flow_cookie_is_prefixed_on_https,
);

const CLIENT_ID: &str = "tessera-web.apps.example.com";
const CLIENT_SECRET: &str = "provider secret: &=+%/ é";
/// The configured issuer (the test server listens elsewhere; the browser is sent there).
const ISSUER_ORIGIN: &str = "http://127.0.0.1:7070";
const REFRESH_TTL: i64 = 30 * 24 * 3600;

/// What the provider puts in the ID token's `nonce`.
#[derive(Clone, Debug)]
enum NonceMode {
    Echo,
    Fixed(&'static str),
    Absent,
}

/// A grant the authorization endpoint handed out, until its code is redeemed.
#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    method: String,
    nonce: String,
}

/// What the fake provider saw and how it behaves.
#[derive(Debug)]
struct Record {
    authorize_requests: Vec<HashMap<String, String>>,
    token_requests: Vec<(HashMap<String, String>, Option<String>)>,
    grants: HashMap<String, Grant>,
    secret: Option<String>,
    deny: bool,
    discovery_status: StatusCode,
    /// Members that replace those of the discovery document (`null`: removed).
    discovery_override: Value,
    /// Discovery documents fetched by tessera's sign-in (not by the guard's key fetching).
    discovery_hits: usize,
    token_status: Option<StatusCode>,
    /// A 200 answer of the token endpoint in place of the token response: (type, body).
    token_answer: Option<(&'static str, String)>,
    nonce: NonceMode,
    sub: String,
    claims: Value,
}

struct Provider {
    issuer: String,
    record: Arc<Mutex<Record>>,
}

#[derive(Clone)]
struct Fake {
    issuer: String,
    key: Arc<SigningKey>,
    jwks: Value,
    record: Arc<Mutex<Record>>,
    codes: Arc<AtomicU64>,
}

impl Provider {
    /// A provider on 127.0.0.1 that expects `secret` (a confidential client) or none.
    async fn start(secret: Option<&str>) -> Self {
        let key = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("fake-1");
        let jwks = serde_json::to_value(
            KeySet::new(vec![key.verifying_key().unwrap()])
                .to_public_jwks()
                .unwrap(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let record = Arc::new(Mutex::new(Record {
            authorize_requests: Vec::new(),
            token_requests: Vec::new(),
            grants: HashMap::new(),
            secret: secret.map(str::to_owned),
            deny: false,
            discovery_status: StatusCode::OK,
            discovery_override: json!({}),
            discovery_hits: 0,
            token_status: None,
            token_answer: None,
            nonce: NonceMode::Echo,
            sub: "248289761001".into(),
            claims: json!({"email": "jane@example.com", "email_verified": true}),
        }));
        let fake = Fake {
            issuer: issuer.clone(),
            key: Arc::new(key),
            jwks,
            record: Arc::clone(&record),
            codes: Arc::new(AtomicU64::new(0)),
        };
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks_endpoint))
            .with_state(fake);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { issuer, record }
    }

    fn toml(&self, name: &str) -> String {
        let secret = match &self.record.lock().unwrap().secret {
            Some(s) => format!("client_secret = {}\n", toml_string(s)),
            None => String::new(),
        };
        format!(
            "[[providers]]\nname = \"{name}\"\nissuer = \"{}\"\naudience = \"{CLIENT_ID}\"\nalgorithms = [\"ES256\"]\n{secret}",
            self.issuer
        )
    }

    fn with<T>(&self, f: impl FnOnce(&mut Record) -> T) -> T {
        f(&mut self.record.lock().unwrap())
    }
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

async fn discovery(State(fake): State<Fake>, headers: HeaderMap) -> Response {
    let mut record = fake.record.lock().unwrap();
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if agent.starts_with("tessera/") {
        record.discovery_hits += 1;
    }
    if record.discovery_status != StatusCode::OK {
        return record.discovery_status.into_response();
    }
    let mut document = json!({
        "issuer": fake.issuer,
        "authorization_endpoint": format!("{}/authorize", fake.issuer),
        "token_endpoint": format!("{}/token", fake.issuer),
        "jwks_uri": format!("{}/jwks", fake.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    if let Value::Object(changes) = &record.discovery_override {
        for (name, value) in changes {
            if value.is_null() {
                document.as_object_mut().unwrap().remove(name);
            } else {
                document[name] = value.clone();
            }
        }
    }
    axum::Json(document).into_response()
}

async fn jwks_endpoint(State(fake): State<Fake>) -> Response {
    axum::Json(fake.jwks.clone()).into_response()
}

/// Records the request and sends the browser back with a code (or the refusal) and the state.
async fn authorize(
    State(fake): State<Fake>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut record = fake.record.lock().unwrap();
    record.authorize_requests.push(query.clone());
    let redirect_uri = query.get("redirect_uri").cloned().unwrap_or_default();
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    {
        let mut pairs = back.query_pairs_mut();
        if record.deny {
            pairs.append_pair("error", "access_denied");
            pairs.append_pair("error_description", "The user said no");
        } else {
            let code = format!("code-{}", fake.codes.fetch_add(1, Ordering::SeqCst));
            record.grants.insert(
                code.clone(),
                Grant {
                    client_id: query.get("client_id").cloned().unwrap_or_default(),
                    redirect_uri: redirect_uri.clone(),
                    challenge: query.get("code_challenge").cloned().unwrap_or_default(),
                    method: query
                        .get("code_challenge_method")
                        .cloned()
                        .unwrap_or_default(),
                    nonce: query.get("nonce").cloned().unwrap_or_default(),
                },
            );
            pairs.append_pair("code", &code);
        }
        if let Some(state) = query.get("state") {
            pairs.append_pair("state", state);
        }
        pairs.append_pair("iss", &fake.issuer);
    }
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, back.to_string())],
    )
        .into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({"error": error}))).into_response()
}

/// Checks the client and the verifier, and answers an ID token with the grant's nonce.
async fn token(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let mut record = fake.record.lock().unwrap();
    record
        .token_requests
        .push((form.clone(), authorization.clone()));
    if let Some(status) = record.token_status {
        return oauth_error(status, "temporarily_unavailable");
    }
    if let Some((content_type, body)) = record.token_answer.clone() {
        return ([(header::CONTENT_TYPE, content_type)], body).into_response();
    }
    if headers.get(header::CONTENT_TYPE).unwrap() != "application/x-www-form-urlencoded" {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let expected_auth = record
        .secret
        .as_deref()
        .map(|secret| basic_header(CLIENT_ID, secret));
    if authorization != expected_auth
        || form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // A code is good once.
    let Some(grant) = form.get("code").and_then(|c| record.grants.remove(c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    if grant.method != "S256"
        || challenge != grant.challenge
        || !(43..=128).contains(&verifier.len())
        || form.get("redirect_uri") != Some(&grant.redirect_uri)
        || grant.client_id != CLIENT_ID
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let mut claims = json!({
        "iss": fake.issuer, "sub": record.sub, "aud": CLIENT_ID, "azp": CLIENT_ID,
        "iat": NOW - 10, "exp": NOW + 3600,
    });
    match &record.nonce {
        NonceMode::Echo => claims["nonce"] = Value::from(grant.nonce.clone()),
        NonceMode::Fixed(n) => claims["nonce"] = Value::from(*n),
        NonceMode::Absent => {}
    }
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), record.claims.clone()) {
        claims.extend(extra);
    }
    let id_token = tessera_jwt::encode(&fake.key, &Header::for_key(&fake.key), &claims).unwrap();
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "access_token": "provider-access-token",
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
        })),
    )
        .into_response()
}

// ---- the browser ------------------------------------------------------------------------------

/// A client that follows no redirect (the test follows them, carrying cookies by hand).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The cookies an answer sets, by name.
fn set_cookies(answer: &Answer) -> HashMap<String, cookie::Cookie<'static>> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| cookie::Cookie::parse(v.to_str().unwrap().to_owned()).unwrap())
        .map(|c| (c.name().to_owned(), c))
        .collect()
}

/// A started sign-in: the sealed cookie and where the browser is sent.
struct Started {
    cookie: String,
    authorize_url: url::Url,
}

/// `GET /login/oidc/{name}/start[?return_to=…]`, which must send the browser to the provider.
async fn start(issuer: &Issuer, name: &str, return_to: Option<&str>) -> Started {
    let mut url = url::Url::parse(&issuer.url(&format!("/login/oidc/{name}/start"))).unwrap();
    if let Some(return_to) = return_to {
        url.query_pairs_mut().append_pair("return_to", return_to);
    }
    let answer = Answer::read(browser().get(url).send().await.unwrap()).await;
    assert_eq!(answer.status, 303, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let cookies = set_cookies(&answer);
    let oidc = &cookies["tessera_oidc"];
    assert_eq!(oidc.http_only(), Some(true));
    assert_eq!(oidc.same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(oidc.path(), Some("/login/oidc"));
    assert_eq!(oidc.max_age().map(|d| d.whole_seconds()), Some(600));
    assert_eq!(oidc.secure(), None, "http on loopback: no Secure");
    Started {
        cookie: oidc.value().to_owned(),
        authorize_url: url::Url::parse(answer.header("location").unwrap()).unwrap(),
    }
}

/// The browser at the provider: where it is sent back (the callback URL, as a path of the
/// test server).
async fn at_provider(started: &Started) -> String {
    let answer = Answer::read(
        browser()
            .get(started.authorize_url.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.text);
    let back = url::Url::parse(answer.header("location").unwrap()).unwrap();
    assert_eq!(
        back.origin().ascii_serialization(),
        ISSUER_ORIGIN,
        "the registered redirect_uri"
    );
    format!("{}?{}", back.path(), back.query().unwrap_or_default())
}

/// The parameter `name` of a path's query.
fn param(path_and_query: &str, name: &str) -> Option<String> {
    url::Url::parse(&format!("http://x{path_and_query}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The path with the parameter `name` set to `value` (replaced, or added).
fn with_param(path_and_query: &str, name: &str, value: &str) -> String {
    let mut url = url::Url::parse(&format!("http://x{path_and_query}")).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != name)
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair(name, value);
    format!("{}?{}", url.path(), url.query().unwrap())
}

/// `GET` a callback path with the flow cookie (if any).
async fn callback(issuer: &Issuer, path_and_query: &str, cookie: Option<&str>) -> Answer {
    let mut request = browser().get(issuer.url(path_and_query));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("tessera_oidc={cookie}; other=1"));
    }
    Answer::read(request.send().await.unwrap()).await
}

/// A flow that ends without a new session: 303 to `location`, the flow cookie cleared.
#[track_caller]
fn assert_ended_without_session(answer: &Answer, location: &str) {
    assert_eq!(answer.status, 303, "{}", answer.text);
    assert_eq!(answer.header("location"), Some(location));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let cookies = set_cookies(answer);
    assert!(!cookies.contains_key("tessera_refresh"), "no session");
    let oidc = &cookies["tessera_oidc"];
    assert_eq!(oidc.value(), "");
    assert_eq!(oidc.max_age().map(|d| d.whole_seconds()), Some(0));
    assert_eq!(oidc.path(), Some("/login/oidc"));
}

/// A failed sign-in: 303 to `/login?error=CODE`, the flow cookie cleared, no session.
#[track_caller]
fn assert_failure(answer: &Answer, code: &str) {
    assert_ended_without_session(answer, &format!("/login?error={code}"));
}

/// A successful sign-in: 303 to `return_to`, the refresh cookie set, the flow cookie
/// cleared. Returns the refresh token.
#[track_caller]
fn assert_signed_in(answer: &Answer, return_to: &str) -> String {
    assert_eq!(answer.status, 303, "{}", answer.text);
    assert_eq!(answer.header("location"), Some(return_to));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let cookies = set_cookies(answer);
    let oidc = &cookies["tessera_oidc"];
    assert_eq!(oidc.max_age().map(|d| d.whole_seconds()), Some(0));
    let refresh = &cookies["tessera_refresh"];
    assert_eq!(refresh.http_only(), Some(true));
    assert_eq!(refresh.same_site(), Some(cookie::SameSite::Strict));
    assert_eq!(refresh.path(), Some("/browser/session"));
    assert!(!refresh.value().is_empty());
    refresh.value().to_owned()
}

/// The whole flow for provider `name`: start, the provider, the callback.
async fn sign_in(issuer: &Issuer, name: &str, return_to: Option<&str>) -> Answer {
    let started = start(issuer, name, return_to).await;
    let back = at_provider(&started).await;
    callback(issuer, &back, Some(&started.cookie)).await
}

/// `POST /browser/session/refresh` with the refresh cookie (and the CSRF double submit): the
/// access token.
async fn refresh_with_cookie(issuer: &Issuer, refresh: &str) -> String {
    let mut csrf = [0u8; 32];
    aws_lc_rs::rand::fill(&mut csrf).unwrap();
    let csrf = URL_SAFE_NO_PAD.encode(csrf);
    let answer = Answer::read(
        issuer
            .http
            .post(issuer.url("/browser/session/refresh"))
            .header(
                "cookie",
                format!("tessera_refresh={refresh}; tessera_csrf={csrf}"),
            )
            .header("x-csrf-token", &csrf)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["access_token"].as_str().unwrap().to_owned()
}

async fn sessions_of(issuer: &Issuer, username: &str) -> usize {
    let Some(user) = issuer.state.store.user_by_username(username).await.unwrap() else {
        return 0;
    };
    issuer
        .state
        .store
        .active_refresh_families(&user.id, issuer.state.clock.now())
        .await
        .unwrap()
        .len()
}

// ---- the cases ------------------------------------------------------------------------------------

pub(crate) async fn whole_flow_with_a_confidential_client(ctx: Ctx) {
    let provider = Provider::start(Some(CLIENT_SECRET)).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;

    let started = start(&issuer, "acme", Some("/inspect?tab=claims")).await;
    // The authorization request (OpenID Connect Core §3.1.2.1, RFC 7636 §4.3).
    let authorize = &started.authorize_url;
    assert_eq!(
        format!(
            "{}{}",
            authorize.origin().ascii_serialization(),
            authorize.path()
        ),
        format!("{}/authorize", provider.issuer)
    );
    let query: HashMap<String, String> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(
        query["redirect_uri"],
        format!("{ISSUER_ORIGIN}/login/oidc/acme/callback")
    );
    assert_eq!(query["scope"], "openid email profile");
    assert_eq!(query["code_challenge_method"], "S256");
    for name in ["state", "nonce", "code_challenge"] {
        assert_eq!(query[name].len(), 43, "{name}: 32 bytes, base64url");
        assert!(
            !started.cookie.contains(&query[name]),
            "the cookie does not show {name}"
        );
    }
    assert_ne!(query["state"], query["nonce"]);
    assert_eq!(query.len(), 8, "{query:?}");

    let back = at_provider(&started).await;
    assert!(
        back.starts_with("/login/oidc/acme/callback?code="),
        "{back}"
    );
    let answer = callback(&issuer, &back, Some(&started.cookie)).await;
    let refresh = assert_signed_in(&answer, "/inspect?tab=claims");
    let max_age = set_cookies(&answer)["tessera_refresh"]
        .max_age()
        .unwrap()
        .whole_seconds();
    assert_eq!(max_age, REFRESH_TTL, "the new family's whole lifetime");

    // The token request: the code with its verifier, the client by HTTP Basic.
    let (form, authorization) = provider.with(|r| r.token_requests[0].clone());
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(
        form["redirect_uri"],
        format!("{ISSUER_ORIGIN}/login/oidc/acme/callback")
    );
    assert_eq!(form["code_verifier"].len(), 43);
    assert!(
        !form.contains_key("client_secret"),
        "the secret is in Basic only"
    );
    assert_eq!(
        authorization.as_deref(),
        Some(basic_header(CLIENT_ID, CLIENT_SECRET).as_str())
    );

    // The session is a real one: it refreshes, and speaks for the user the identity made.
    let access = refresh_with_cookie(&issuer, &refresh).await;
    let me = issuer.userinfo(&access).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["preferred_username"], "jane@example.com");
    let jane = me.json()["sub"].clone();
    assert_eq!(sessions_of(&issuer, "jane@example.com").await, 1);

    // The same cookie and callback again (a replay): the provider refuses the used code.
    let replay = callback(&issuer, &back, Some(&started.cookie)).await;
    assert_failure(&replay, "provider_error");

    // Signing in again maps to the same user.
    let again = sign_in(&issuer, "acme", None).await;
    let refresh = assert_signed_in(&again, "/account");
    let access = refresh_with_cookie(&issuer, &refresh).await;
    assert_eq!(issuer.userinfo(&access).await.json()["sub"], jane);
    assert_eq!(sessions_of(&issuer, "jane@example.com").await, 2);

    // A disabled account: account_disabled, and no new session.
    let user = issuer
        .state
        .store
        .user_by_username("jane@example.com")
        .await
        .unwrap()
        .unwrap();
    issuer
        .state
        .store
        .set_user_disabled(&user.id, true, NOW)
        .await
        .unwrap();
    assert_failure(&sign_in(&issuer, "acme", None).await, "account_disabled");
    // Three sign-ins and a replay: the discovery document was fetched once.
    assert_eq!(provider.with(|r| r.discovery_hits), 1);
    issuer.stop().await;
}

pub(crate) async fn public_client_uses_pkce_alone(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let toml = format!(
        "{}scopes = [\"openid\", \"email\"]\n",
        provider.toml("acme")
    );
    let issuer = Issuer::start_with_toml(ctx.store, &toml, &[]).await;
    provider.with(|r| {
        r.claims = json!({"email": "pat@example.com", "email_verified": false});
        r.sub = "pat-1".into();
    });
    let started = start(&issuer, "acme", Some("/")).await;
    let query: HashMap<String, String> = started.authorize_url.query_pairs().into_owned().collect();
    assert_eq!(query["scope"], "openid email");
    let back = at_provider(&started).await;
    let answer = callback(&issuer, &back, Some(&started.cookie)).await;
    let refresh = assert_signed_in(&answer, "/");
    let (form, authorization) = provider.with(|r| r.token_requests[0].clone());
    assert_eq!(authorization, None, "a public client sends no credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    // An unverified e-mail is not a name: the user is `provider:sub`.
    let access = refresh_with_cookie(&issuer, &refresh).await;
    assert_eq!(
        issuer.userinfo(&access).await.json()["preferred_username"],
        "acme:pat-1"
    );
    issuer.stop().await;
}

pub(crate) async fn state_must_match(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    let started = start(&issuer, "acme", None).await;
    let back = at_provider(&started).await;
    let code = param(&back, "code").unwrap();

    let other_state = URL_SAFE_NO_PAD.encode([1u8; 32]);
    for (query, cookie) in [
        // Another state (an attacker's callback URL in the victim's browser).
        (
            format!("code={code}&state={other_state}"),
            Some(started.cookie.as_str()),
        ),
        // No state.
        (format!("code={code}"), Some(started.cookie.as_str())),
        // The right URL, but no flow cookie (another browser).
        (back.split_once('?').unwrap().1.to_owned(), None),
        // The state twice.
        (
            format!("{}&state={other_state}", back.split_once('?').unwrap().1),
            Some(started.cookie.as_str()),
        ),
    ] {
        let answer = callback(
            &issuer,
            &format!("/login/oidc/acme/callback?{query}"),
            cookie,
        )
        .await;
        assert_failure(&answer, "state_mismatch");
    }
    assert!(
        provider.with(|r| r.token_requests.is_empty()),
        "the code is never redeemed without the state"
    );
    assert_eq!(sessions_of(&issuer, "jane@example.com").await, 0);
    // A callback whose iss (RFC 9207) names another issuer.
    let answer = callback(
        &issuer,
        &with_param(&back, "iss", "https://evil.example"),
        Some(&started.cookie),
    )
    .await;
    assert_failure(&answer, "provider_error");
    // The untouched callback still works (nothing above spent the code).
    let answer = callback(&issuer, &back, Some(&started.cookie)).await;
    assert_signed_in(&answer, "/account");
    issuer.stop().await;
}

/// Two instances on one database with one master key (behind a load balancer): the flow
/// cookie sealed by one opens on the other.
pub(crate) async fn a_flow_started_on_one_instance_finishes_on_another(ctx: Ctx) {
    let acme = Provider::start(None).await;
    let toml = acme.toml("acme");
    let first = Issuer::start_with_toml(ctx.store.clone(), &toml, &[]).await;
    let second = Issuer::start_with_toml(ctx.store, &toml, &[]).await;
    let started = start(&first, "acme", Some("/inspect")).await;
    // Sealed under the key both derive from the master key (not one of the process): the
    // second instance's derived key opens it.
    let secret = second
        .state
        .keys
        .derived_secret("tessera oidc flow cookie v1")
        .unwrap();
    let key =
        aws_lc_rs::aead::RandomizedNonceKey::new(&aws_lc_rs::aead::AES_256_GCM, &*secret).unwrap();
    let sealed = URL_SAFE_NO_PAD.decode(&started.cookie).unwrap();
    let (nonce, ciphertext) = sealed.split_at(aws_lc_rs::aead::NONCE_LEN);
    let mut in_out = ciphertext.to_vec();
    let plain = key
        .open_in_place(
            aws_lc_rs::aead::Nonce::try_assume_unique_for_key(nonce).unwrap(),
            aws_lc_rs::aead::Aad::from(&b"tessera_oidc v1"[..]),
            &mut in_out,
        )
        .expect("the flow cookie opens with the master key's derived secret");
    let flow: serde_json::Value = serde_json::from_slice(plain).unwrap();
    assert_eq!(flow["r"], "/inspect");
    let back = at_provider(&started).await;
    let refresh = assert_signed_in(
        &callback(&second, &back, Some(&started.cookie)).await,
        "/inspect",
    );
    // The session is one of the shared database: the first instance refreshes it.
    refresh_with_cookie(&first, &refresh).await;
    first.stop().await;
    second.stop().await;
}

/// The discovery documents are kept by the app state, not by the process: two instances in
/// one process fetch their own, and each keeps it (an hour) for its later sign-ins.
pub(crate) async fn each_instance_keeps_its_own_discovery_documents(ctx: Ctx) {
    let acme = Provider::start(None).await;
    let toml = acme.toml("acme");
    let first = Issuer::start_with_toml(ctx.store.clone(), &toml, &[]).await;
    let second = Issuer::start_with_toml(ctx.store, &toml, &[]).await;
    assert_signed_in(&sign_in(&first, "acme", None).await, "/account");
    assert_eq!(acme.with(|r| r.discovery_hits), 1);
    assert_signed_in(&sign_in(&second, "acme", None).await, "/account");
    assert_eq!(acme.with(|r| r.discovery_hits), 2);
    assert_signed_in(&sign_in(&first, "acme", None).await, "/account");
    assert_signed_in(&sign_in(&second, "acme", None).await, "/account");
    assert_eq!(acme.with(|r| r.discovery_hits), 2);
    // While the provider's discovery answers 503, an instance still signs in with the
    // document it keeps.
    acme.with(|r| r.discovery_status = StatusCode::SERVICE_UNAVAILABLE);
    assert_signed_in(&sign_in(&first, "acme", None).await, "/account");
    first.stop().await;
    second.stop().await;
}

pub(crate) async fn tampered_expired_or_foreign_cookies_are_state_mismatch(ctx: Ctx) {
    let acme = Provider::start(None).await;
    let beta = Provider::start(None).await;
    // The fake stamps its ID tokens at NOW while this test moves the clock 20 minutes on: the
    // ID token age limit is not what is tested here.
    let toml = format!(
        "{}max_id_token_age = \"1h\"\n{}",
        acme.toml("acme"),
        beta.toml("beta")
    );
    let issuer = Issuer::start_with_toml(ctx.store, &toml, &[]).await;

    // Tampered: one bit flipped anywhere.
    let started = start(&issuer, "acme", None).await;
    let back = at_provider(&started).await;
    let mut bytes = URL_SAFE_NO_PAD.decode(&started.cookie).unwrap();
    for i in [0, 20, bytes.len() - 1] {
        bytes[i] ^= 0x40;
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        bytes[i] ^= 0x40;
        assert_failure(
            &callback(&issuer, &back, Some(&tampered)).await,
            "state_mismatch",
        );
    }
    // Not a sealed value at all.
    for forged in ["", "garbage", "eyJwIjoiYWNtZSJ9"] {
        assert_failure(
            &callback(&issuer, &back, Some(forged)).await,
            "state_mismatch",
        );
    }
    // Another provider's flow, at this provider's callback.
    let at_beta = start(&issuer, "beta", None).await;
    let beta_back = at_provider(&at_beta).await;
    let crossed = beta_back.replace("/login/oidc/beta/", "/login/oidc/acme/");
    assert_failure(
        &callback(&issuer, &crossed, Some(&at_beta.cookie)).await,
        "state_mismatch",
    );

    // Expired: 10 minutes is the limit.
    issuer.clock.advance(601);
    assert_failure(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "state_mismatch",
    );
    let started = start(&issuer, "acme", None).await;
    let back = at_provider(&started).await;
    issuer.clock.advance(600);
    assert_signed_in(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "/account",
    );
    // Made more than a minute "in the future" (the clock stepped back): refused too.
    let started = start(&issuer, "acme", None).await;
    let back = at_provider(&started).await;
    issuer.clock.advance(-61);
    assert_failure(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "state_mismatch",
    );
    assert_eq!(acme.with(|r| r.token_requests.len()), 1);
    assert!(beta.with(|r| r.token_requests.is_empty()));
    issuer.stop().await;
}

pub(crate) async fn nonce_must_be_the_one_sent(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    for mode in [
        NonceMode::Fixed("a-nonce-from-another-sign-in-aaaaaaaaaaaaaaa"),
        NonceMode::Fixed(""),
        NonceMode::Absent,
    ] {
        provider.with(|r| r.nonce = mode.clone());
        assert_failure(&sign_in(&issuer, "acme", None).await, "invalid_id_token");
    }
    assert_eq!(provider.with(|r| r.token_requests.len()), 3);
    assert_eq!(sessions_of(&issuer, "jane@example.com").await, 0);
    // An ID token that fails /login/oidc's checks (here: its audience) is refused the same way.
    provider.with(|r| {
        r.nonce = NonceMode::Echo;
        r.claims = json!({"aud": "someone-else"});
    });
    assert_failure(&sign_in(&issuer, "acme", None).await, "invalid_id_token");
    issuer.stop().await;
}

pub(crate) async fn provider_refusals_are_provider_error(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    // The person said no at the provider.
    provider.with(|r| r.deny = true);
    let started = start(&issuer, "acme", None).await;
    let back = at_provider(&started).await;
    assert!(back.contains("error=access_denied"), "{back}");
    assert_failure(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "provider_error",
    );
    // The provider's refusal is reported as such even when the flow cookie is gone (a
    // refusal is never acted on, so there is nothing to protect).
    assert_failure(&callback(&issuer, &back, None).await, "provider_error");
    // A refusal with a code as well: the code is not redeemed.
    let with_code = with_param(&back, "code", "code-0");
    assert_failure(
        &callback(&issuer, &with_code, Some(&started.cookie)).await,
        "provider_error",
    );
    assert!(provider.with(|r| r.token_requests.is_empty()));
    provider.with(|r| r.deny = false);
    // A callback without a code.
    let started = start(&issuer, "acme", None).await;
    let back = at_provider(&started).await;
    let state = param(&back, "state").unwrap();
    assert_failure(
        &callback(
            &issuer,
            &format!("/login/oidc/acme/callback?state={state}"),
            Some(&started.cookie),
        )
        .await,
        "provider_error",
    );
    // Token endpoint answers that are not a JSON token response with an ID token.
    for answer in [
        ("text/html", "<html>hello</html>".to_owned()),
        (
            "application/json",
            json!({"access_token": "x", "token_type": "Bearer"}).to_string(),
        ),
        ("application/json", json!({"id_token": ""}).to_string()),
        ("application/json", "[]".to_owned()),
        ("text/plain", json!({"id_token": "a.b.c"}).to_string()),
    ] {
        provider.with(|r| r.token_answer = Some(answer.clone()));
        assert_failure(&sign_in(&issuer, "acme", None).await, "provider_error");
    }
    provider.with(|r| r.token_answer = None);
    // The token endpoint refuses the client (4xx).
    provider.with(|r| r.secret = Some("expected-but-not-configured".into()));
    assert_failure(&sign_in(&issuer, "acme", None).await, "provider_error");
    issuer.stop().await;
}

pub(crate) async fn provider_down_is_provider_unavailable(ctx: Ctx) {
    let provider = Provider::start(None).await;
    // A provider whose port has nothing listening.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let toml = format!(
        "{}[[providers]]\nname = \"gone\"\nissuer = \"{closed_issuer}\"\naudience = \"x\"\n",
        provider.toml("acme")
    );
    let issuer = Issuer::start_with_toml(ctx.store, &toml, &[]).await;

    // Discovery answers 503: the start cannot go anywhere.
    provider.with(|r| r.discovery_status = StatusCode::SERVICE_UNAVAILABLE);
    let answer = Answer::read(
        browser()
            .get(issuer.url("/login/oidc/acme/start?return_to=/inspect"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_failure(&answer, "provider_unavailable");
    let answer = Answer::read(
        browser()
            .get(issuer.url("/login/oidc/gone/start"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_failure(&answer, "provider_unavailable");

    // Discovery documents that cannot be used.
    provider.with(|r| r.discovery_status = StatusCode::OK);
    for change in [
        json!({"issuer": "https://someone-else.example"}),
        json!({"token_endpoint": "http://provider.example/token"}),
        json!({"authorization_endpoint": "ftp://127.0.0.1/authorize"}),
        json!({"authorization_endpoint": null}),
        json!({"token_endpoint": 42}),
    ] {
        provider.with(|r| r.discovery_override = change.clone());
        let answer = Answer::read(
            browser()
                .get(issuer.url("/login/oidc/acme/start"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_failure(&answer, "provider_unavailable");
    }
    provider.with(|r| r.discovery_override = json!({}));

    // Discovery back (and not kept while it failed); the token endpoint then fails (5xx).
    provider.with(|r| {
        r.discovery_status = StatusCode::OK;
        r.token_status = Some(StatusCode::SERVICE_UNAVAILABLE);
    });
    assert_failure(
        &sign_in(&issuer, "acme", None).await,
        "provider_unavailable",
    );
    provider.with(|r| r.token_status = None);
    assert_signed_in(&sign_in(&issuer, "acme", None).await, "/account");
    issuer.stop().await;
}

pub(crate) async fn return_to_is_only_a_path_of_this_origin(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil",
        "/\\/evil.example",
        "/\t/evil.example",
        "evil",
        "",
    ] {
        let answer = sign_in(&issuer, "acme", Some(evil)).await;
        assert_signed_in(&answer, "/account");
    }
    let answer = sign_in(&issuer, "acme", Some("/admin#keys")).await;
    assert_signed_in(&answer, "/admin#keys");
    issuer.stop().await;
}

pub(crate) async fn account_conflict(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    // A new identity without a verified e-mail is named `acme:sub`, which is taken.
    issuer
        .user("acme:taken", "a password of some length", &[])
        .await;
    provider.with(|r| {
        r.sub = "taken".into();
        r.claims = json!({});
    });
    assert_failure(&sign_in(&issuer, "acme", None).await, "account_conflict");
    issuer.stop().await;
}

pub(crate) async fn providers_list_only_those_with_a_client_id(ctx: Ctx) {
    let toml = r#"
[[providers]]
name = "acme"
issuer = "https://acme.example"
audience = "one-client"

[[providers]]
name = "api-only"
issuer = "https://api.example"
audience = ["a", "b"]

[[providers]]
name = "My IdP"
issuer = "https://idp.example"
audience = ["a", "b"]
client_id = "b"
"#;
    let issuer = Issuer::start_with_toml(ctx.store.clone(), toml, &[]).await;
    let answer = list(&issuer).await;
    assert_eq!(
        answer.json(),
        json!({"providers": [
            {"name": "acme", "start_url": "/login/oidc/acme/start"},
            {"name": "My IdP", "start_url": "/login/oidc/My%20IdP/start"},
        ]})
    );
    // A provider without a client id, or no provider: nothing to start.
    for path in ["/login/oidc/api-only/start", "/login/oidc/nobody/start"] {
        let answer = Answer::read(browser().get(issuer.url(path)).send().await.unwrap()).await;
        assert_failure(&answer, "provider_unavailable");
    }
    issuer.stop().await;
    // Without providers: an empty list.
    let issuer = Issuer::start(ctx.store, &[]).await;
    assert_eq!(list(&issuer).await.json(), json!({"providers": []}));
    issuer.stop().await;
}

async fn list(issuer: &Issuer) -> Answer {
    let answer = Answer::read(
        issuer
            .http
            .get(issuer.url("/browser/providers"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    answer
}

// ---- connecting a provider from the account page --------------------------------------------

/// `POST /account/identities {"provider": name}` with this access token.
async fn connect(issuer: &Issuer, access: &str, name: &str) -> Answer {
    Answer::read(
        issuer
            .http
            .post(issuer.url("/account/identities"))
            .bearer_auth(access)
            .json(&json!({ "provider": name }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A started link: `POST /account/identities` must answer the provider's URL and the flow cookie.
async fn start_link(issuer: &Issuer, access: &str, name: &str) -> Started {
    let answer = connect(issuer, access, name).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let cookies = set_cookies(&answer);
    let oidc = &cookies["tessera_oidc"];
    assert_eq!(oidc.http_only(), Some(true));
    assert_eq!(oidc.same_site(), Some(cookie::SameSite::Lax));
    assert_eq!(oidc.path(), Some("/login/oidc"));
    Started {
        cookie: oidc.value().to_owned(),
        authorize_url: url::Url::parse(answer.json()["authorization_url"].as_str().unwrap())
            .unwrap(),
    }
}

/// The whole link: start, the provider, the callback (its answer).
async fn link(issuer: &Issuer, access: &str, name: &str) -> Answer {
    let started = start_link(issuer, access, name).await;
    let back = at_provider(&started).await;
    callback(issuer, &back, Some(&started.cookie)).await
}

/// A link's end: 303 to `/account?link=CODE`, the flow cookie cleared, no new session.
#[track_caller]
fn assert_link_end(answer: &Answer, code: &str) {
    assert_ended_without_session(answer, &format!("/account?link={code}"));
}

/// `GET /account/identities` with this access token (must be 200).
async fn identities(issuer: &Issuer, access: &str) -> Value {
    let answer = Answer::read(
        issuer
            .http
            .get(issuer.url("/account/identities"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.json()
}

/// `DELETE /account/identities/{id}` with this access token.
async fn disconnect(issuer: &Issuer, access: &str, id: &str) -> Answer {
    Answer::read(
        issuer
            .http
            .delete(issuer.url(&format!("/account/identities/{id}")))
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A password sign-in: the access token.
async fn password_access(issuer: &Issuer, name: &str) -> String {
    let answer = issuer.login(name, crate::harness::issuer::PASSWORD).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.pair().0
}

/// A sign-in through the provider: the access token of the session it started.
async fn provider_access(issuer: &Issuer, name: &str) -> String {
    let answer = sign_in(issuer, name, None).await;
    let refresh = assert_signed_in(&answer, "/account");
    refresh_with_cookie(issuer, &refresh).await
}

fn sub_of(access: &str) -> String {
    crate::harness::issuer::claims(access)["sub"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The review's repro (issue 9, finding 1) through the browser's code flow: a provider that
/// vouches for `ops@corp.example` (as a string or a boolean) signs the stranger in as a new
/// account, never as the administrator of that name; and the administrator cannot then take
/// the stranger's identity either.
pub(crate) async fn browser_sign_in_never_takes_over_an_existing_account(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    let ops = issuer
        .user(
            "ops@corp.example",
            crate::harness::issuer::PASSWORD,
            &["admin"],
        )
        .await;
    for (sub, verified) in [("evil-1", json!("true")), ("evil-2", json!(true))] {
        provider.with(|r| {
            r.sub = sub.into();
            r.claims = json!({"email": "ops@corp.example", "email_verified": verified});
        });
        let access = provider_access(&issuer, "acme").await;
        assert_ne!(
            sub_of(&access),
            ops.id,
            "{verified}: signed in as the admin"
        );
        let roles = crate::harness::issuer::claims(&access)["roles"].clone();
        assert!(roles.is_null() || roles == json!([]), "{roles}");
        let admin = Answer::read(
            issuer
                .http
                .get(issuer.url("/admin/api/users"))
                .bearer_auth(&access)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(admin.status, 403, "{}", admin.text);
    }
    let ops_store = &issuer.state.store;
    assert!(
        ops_store
            .external_identities_of(&ops.id)
            .await
            .unwrap()
            .is_empty()
    );

    // The administrator connecting the provider while the stranger's identity comes back:
    // refused, and the identity stays where it is.
    let ops_access = password_access(&issuer, "ops@corp.example").await;
    assert_link_end(&link(&issuer, &ops_access, "acme").await, "identity_in_use");
    let evil = ops_store
        .external_identity(&provider.issuer, "evil-2")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(evil.user_id, ops.id);
    assert!(
        ops_store
            .external_identities_of(&ops.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        identities(&issuer, &ops_access).await["identities"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    issuer.stop().await;
}

pub(crate) async fn a_signed_in_user_connects_and_disconnects_a_provider(ctx: Ctx) {
    let provider = Provider::start(Some(CLIENT_SECRET)).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    let jane = issuer
        .user("jane", crate::harness::issuer::PASSWORD, &[])
        .await;
    let access = password_access(&issuer, "jane").await;

    let listed = identities(&issuer, &access).await;
    assert_eq!(
        listed,
        json!({"identities": [], "providers": [{"name": "acme"}]})
    );

    // Connect: the provider's page, then back to the account page; no second session.
    let started = start_link(&issuer, &access, "acme").await;
    let authorize = started.authorize_url.clone();
    assert_eq!(
        format!(
            "{}{}",
            authorize.origin().ascii_serialization(),
            authorize.path()
        ),
        format!("{}/authorize", provider.issuer)
    );
    let back = at_provider(&started).await;
    let asked = provider.with(|r| r.authorize_requests.last().cloned().unwrap());
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(
        asked["redirect_uri"],
        format!("{ISSUER_ORIGIN}/login/oidc/acme/callback"),
        "the same registered callback as sign-in"
    );
    assert_link_end(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "linked",
    );
    assert_eq!(sessions_of(&issuer, "jane").await, 1);

    let listed = identities(&issuer, &access).await;
    let list = listed["identities"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{listed}");
    assert_eq!(list[0]["provider"], "acme");
    assert_eq!(list[0]["issuer"], provider.issuer);
    assert_eq!(list[0]["email"], "jane@example.com");
    assert_eq!(list[0]["created_at"], NOW);
    assert_eq!(list[0]["removable"], true, "jane has a password");
    assert!(list[0].get("subject").is_none(), "{listed}");
    let id = list[0]["id"].as_str().unwrap().to_owned();

    // Connecting the same identity again changes nothing.
    assert_link_end(&link(&issuer, &access, "acme").await, "linked");
    assert_eq!(
        identities(&issuer, &access).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // "Sign in with acme" is now jane.
    let via_provider = provider_access(&issuer, "acme").await;
    assert_eq!(sub_of(&via_provider), jane.id);
    assert_eq!(
        issuer.state.store.list_users().await.unwrap().len(),
        1,
        "no account was created"
    );

    // Disconnect: gone from the list, and the provider no longer signs jane in.
    let answer = disconnect(&issuer, &access, &id).await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert!(
        identities(&issuer, &access).await["identities"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    disconnect(&issuer, &access, &id)
        .await
        .assert_error(404, "not_found");
    let stranger = provider_access(&issuer, "acme").await;
    assert_ne!(sub_of(&stranger), jane.id);
    issuer.stop().await;
}

pub(crate) async fn the_last_way_to_sign_in_cannot_be_disconnected(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    // An account made by signing in with the provider: no password.
    let access = provider_access(&issuer, "acme").await;
    let listed = identities(&issuer, &access).await;
    let list = listed["identities"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{listed}");
    assert_eq!(list[0]["removable"], false);
    let id = list[0]["id"].as_str().unwrap().to_owned();
    disconnect(&issuer, &access, &id)
        .await
        .assert_error(409, "last_sign_in_method");
    assert_eq!(
        identities(&issuer, &access).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Someone else's identity is unknown to another user; so is anything that is no id.
    issuer
        .user("jane", crate::harness::issuer::PASSWORD, &[])
        .await;
    let jane = password_access(&issuer, "jane").await;
    for other in [id.as_str(), "AAAAAAAAAAAAAAAAAAAAAA", "..%2Fx", "a%00b"] {
        disconnect(&issuer, &jane, other)
            .await
            .assert_error(404, "not_found");
    }
    assert_eq!(
        identities(&issuer, &access).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Without a token: the RFC 6750 challenge.
    let answer = Answer::read(
        issuer
            .http
            .delete(issuer.url(&format!("/account/identities/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    issuer.stop().await;
}

pub(crate) async fn connecting_needs_a_recent_sign_in_of_a_live_session(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let toml = format!(
        "{}\n[[providers]]\nname = \"api-only\"\nissuer = \"https://api-only.example\"\naudience = [\"a\", \"b\"]\njwks_uri = \"https://api-only.example/jwks\"\n",
        provider.toml("acme")
    );
    let issuer = Issuer::start_with_toml(ctx.store, &toml, &[]).await;
    let jane = issuer
        .user("jane", crate::harness::issuer::PASSWORD, &[])
        .await;
    let access = password_access(&issuer, "jane").await;

    // No token, or a token that is not a user's sign-in.
    let answer = Answer::read(
        issuer
            .http
            .post(issuer.url("/account/identities"))
            .json(&json!({"provider": "acme"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert!(!set_cookies(&answer).contains_key("tessera_oidc"));

    // Providers that cannot be connected.
    for name in ["nope", "api-only", ""] {
        let answer = connect(&issuer, &access, name).await;
        answer.assert_error(400, "invalid_request");
        assert!(!set_cookies(&answer).contains_key("tessera_oidc"));
    }

    // A sign-in older than ten minutes: sign in again.
    issuer.clock.advance(601);
    let answer = connect(&issuer, &access, "acme").await;
    answer.assert_error(403, "reauthentication_required");
    assert!(!set_cookies(&answer).contains_key("tessera_oidc"));
    let fresh = password_access(&issuer, "jane").await;
    assert_eq!(connect(&issuer, &fresh, "acme").await.status, 200);

    // A signed-out session's token (still unexpired) cannot start a link.
    let family = crate::harness::issuer::claims(&fresh)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    issuer
        .state
        .store
        .revoke_refresh_family(&family, "logout", NOW + 601)
        .await
        .unwrap();
    connect(&issuer, &fresh, "acme")
        .await
        .assert_error(403, "reauthentication_required");

    // At most MAX identities per account.
    let fresh = password_access(&issuer, "jane").await;
    for i in 0..20 {
        issuer
            .state
            .store
            .find_or_link_external_identity(
                tessera_server::store::NewExternalIdentity {
                    issuer: &provider.issuer,
                    subject: &format!("other-{i}"),
                    email: None,
                    email_verified: false,
                },
                tessera_server::store::LinkTarget::User(&jane.id),
                NOW,
            )
            .await
            .unwrap();
    }
    connect(&issuer, &fresh, "acme")
        .await
        .assert_error(409, "too_many_identities");
    issuer.stop().await;
}

pub(crate) async fn a_link_ends_on_the_account_page_whatever_happens(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(ctx.store, &provider.toml("acme"), &[]).await;
    let jane = issuer
        .user("jane", crate::harness::issuer::PASSWORD, &[])
        .await;
    let store = &issuer.state.store;

    // The person says no at the provider.
    let access = password_access(&issuer, "jane").await;
    provider.with(|r| r.deny = true);
    assert_link_end(&link(&issuer, &access, "acme").await, "provider_error");
    provider.with(|r| r.deny = false);

    // A state that is not the flow's.
    let started = start_link(&issuer, &access, "acme").await;
    let back = with_param(&at_provider(&started).await, "state", "forged");
    assert_link_end(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "state_mismatch",
    );

    // A nonce that is not the one sent.
    provider.with(|r| r.nonce = NonceMode::Fixed("another"));
    assert_link_end(&link(&issuer, &access, "acme").await, "invalid_id_token");
    provider.with(|r| r.nonce = NonceMode::Echo);

    // Signed out between the start and the provider's answer: nothing is linked.
    let started = start_link(&issuer, &access, "acme").await;
    let back = at_provider(&started).await;
    let ended = Answer::read(
        issuer
            .http
            .delete(issuer.url("/sessions"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ended.status, 204, "{}", ended.text);
    assert_link_end(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "session_ended",
    );

    // Disabled meanwhile: nothing is linked.
    let access = password_access(&issuer, "jane").await;
    let started = start_link(&issuer, &access, "acme").await;
    let back = at_provider(&started).await;
    store.set_user_disabled(&jane.id, true, NOW).await.unwrap();
    assert_link_end(
        &callback(&issuer, &back, Some(&started.cookie)).await,
        "account_disabled",
    );
    assert!(
        store
            .external_identities_of(&jane.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .external_identity(&provider.issuer, "248289761001")
            .await
            .unwrap()
            .is_none()
    );
    issuer.stop().await;
}

/// On an https issuer the flow cookie is `__Secure-tessera_oidc` (a sibling subdomain cannot
/// plant one), and the unprefixed name is not read.
pub(crate) async fn the_flow_cookie_is_prefixed_on_https(ctx: Ctx) {
    let provider = Provider::start(None).await;
    let issuer = Issuer::start_with_toml(
        ctx.store,
        &provider.toml("acme"),
        &[("TESSERA_ISSUER", "https://auth.example.test")],
    )
    .await;
    let answer = Answer::read(
        browser()
            .get(issuer.url("/login/oidc/acme/start"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 303, "{}", answer.text);
    let cookies = set_cookies(&answer);
    assert!(!cookies.contains_key("tessera_oidc"));
    let oidc = &cookies["__Secure-tessera_oidc"];
    assert_eq!(oidc.secure(), Some(true));
    assert_eq!(oidc.path(), Some("/login/oidc"));
    let sealed = oidc.value().to_owned();
    let authorize = url::Url::parse(answer.header("location").unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let back = format!("/login/oidc/acme/callback?code=code-x&state={state}");

    // The planted, unprefixed name: not read.
    let planted = Answer::read(
        browser()
            .get(issuer.url(&back))
            .header("cookie", format!("tessera_oidc={sealed}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(planted.status, 303);
    assert_eq!(
        planted.header("location"),
        Some("/login?error=state_mismatch")
    );
    // The prefixed one is (the code is unknown to the provider: its refusal, not a mismatch).
    let prefixed = Answer::read(
        browser()
            .get(issuer.url(&back))
            .header("cookie", format!("__Secure-tessera_oidc={sealed}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        prefixed.header("location"),
        Some("/login?error=provider_error"),
        "{}",
        prefixed.text
    );
    issuer.stop().await;
}

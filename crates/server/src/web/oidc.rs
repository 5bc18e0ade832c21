//! "Sign in with `<provider>`" on the hosted login page: the OpenID Connect authorization code
//! flow (OpenID Connect Core §3.1) with PKCE (RFC 7636, `S256`), `state` and `nonce`, for the
//! `[[providers]]` that have a `client_id`.
//!
//! | method, path | answers |
//! |---|---|
//! | `GET /browser/providers` | 200 `{"providers":[{"name","start_url"}]}`: the providers with a `client_id` |
//! | `GET /login/oidc/{provider}/start?return_to=/path` | 303 to the provider's authorization endpoint + the `tessera_oidc` cookie |
//! | `GET /login/oidc/{provider}/callback?code&state` | 303 to `return_to` (default `/account`) + the refresh cookie; or 303 to `/login?error=CODE`; a link: 303 to `/account?link=linked` or `/account?link=CODE` |
//!
//! The same flow links a provider to a signed-in user's account: `POST /account/identities`
//! ([`identities_api`](super::identities_api)) calls [`begin_link`], whose sealed cookie also
//! names the user and the session that asked; the callback then hands the ID token to
//! [`federation::link_with_code_flow`] instead of signing in, starts no session, and ends on
//! the account page, with the codes below plus `identity_in_use` (linked to another account),
//! `session_ended` (the session that asked has ended) and `too_many_identities`. A link flow
//! whose cookie cannot be opened ends as a sign-in does (`/login?error=state_mismatch`).
//!
//! The failure codes of `/login?error=`: `provider_error` (the provider answered `error=…`, a
//! response without a code, or its token endpoint refused the code), `state_mismatch` (no,
//! a forged, a tampered, an expired or another provider's `tessera_oidc` cookie, or a `state`
//! that is not the cookie's), `provider_unavailable` (unknown provider or one without
//! `client_id`, the discovery document or the token endpoint unreachable or unusable, the
//! provider's keys unavailable — and, so that the page can say "try again later", tessera's
//! own database failing meanwhile), `invalid_id_token` (the ID token fails the checks of
//! `POST /login/oidc`, or its `nonce` is not the one sent), `account_disabled`,
//! `account_conflict` (as `/login/oidc`'s 409), `not_permitted` (the provider's settings refuse
//! it: `create_users = false` and no account has this identity). Every failure clears the `tessera_oidc` cookie.
//!
//! ## How
//!
//! - **Endpoints** come from the provider's discovery document
//!   (`{issuer}/.well-known/openid-configuration`), whose `issuer` must be the configured one
//!   (OpenID Connect Discovery §4.3); it and both endpoints follow the outbound URL rule of
//!   [`tessera_guard::check_outbound_url`] (`https`, or `http` on loopback). No redirect is
//!   followed; each call has a 5 s connect and 10 s overall timeout and a 256 KiB answer
//!   limit. A document is kept for an hour (per issuer, in this process); a failed fetch is
//!   not kept, so the next sign-in tries again.
//! - **`start`** makes `state`, `nonce` and the PKCE verifier (32 random bytes each,
//!   base64url: 43 characters; the challenge is base64url(SHA-256(verifier))), and keeps them
//!   with the provider's name, `return_to` and the time in the `tessera_oidc` cookie:
//!   `HttpOnly`, `SameSite=Lax` (the callback is a cross-site top-level navigation),
//!   `Path=/login/oidc`, `Max-Age=600`, `Secure` unless the issuer is `http` on loopback — and
//!   then named `__Secure-tessera_oidc` (only that name is read), so that a sibling subdomain
//!   cannot plant a flow of its own. Its
//!   value is sealed with AES-256-GCM under a key derived from the master key (HKDF), so the
//!   browser can neither read nor forge it; the callback refuses it after
//!   10 minutes (by the injected clock). A second sign-in started in the same browser
//!   replaces the first one's cookie (the first then ends in `state_mismatch`).
//! - **`callback`** compares `state` with the cookie's in constant time, checks RFC 9207's
//!   `iss` when the provider sends it, redeems the code at the token endpoint
//!   (`grant_type=authorization_code`, `code`, `redirect_uri`, `code_verifier`, `client_id`;
//!   with a `client_secret`, `client_secret_basic`: HTTP Basic of the form-urlencoded id and
//!   secret, RFC 6749 §2.3.1), accepts only a JSON answer with an `id_token`, and hands it to
//!   [`federation::sign_in_with_code_flow`]: the verification, user linking and session
//!   start of `POST /login/oidc`, plus the `nonce` check. The provider's access token is not
//!   kept.
//! - **`return_to`** is used only when it is a path of this origin: it starts with a single
//!   `/` (not `//` nor `/\`), and holds printable ASCII without `\`; anything else is
//!   ignored (`/account`).
//! - Codes, tokens, the verifier, `state` and `nonce` are never logged; the answers carry
//!   `Cache-Control: no-store`, and the global `Referrer-Policy: no-referrer` keeps the
//!   callback's query out of the next page's `Referer`.
//!
//! Every instance that shares the master key derives the same sealing key: behind a load
//! balancer, the callback may reach another instance than the one that started the flow.
//! A flow started before the master key was replaced ends in `state_mismatch`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::digest::{SHA256, digest};
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cookie::{Cookie, SameSite};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use tessera_jwt::SecretString;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::cookies;
use crate::app::ClientAddr;
use crate::auth::federation::{self, Refusal};
use crate::auth::no_store;
use crate::config::ProviderSettings;
use crate::state::AppState;

/// Name of the cookie that carries a sign-in in progress, on an issuer that is `http` on
/// loopback (see [`cookies`]).
const OIDC_COOKIE: &str = "tessera_oidc";
/// Its name everywhere else: `__Secure-` (it needs a narrower path than `__Host-` allows), so
/// that a sibling subdomain cannot plant a flow of its own.
const SECURE_OIDC_COOKIE: &str = "__Secure-tessera_oidc";
/// The path it is sent to: the start and callback of every provider.
const OIDC_COOKIE_PATH: &str = "/login/oidc";
/// How long a started sign-in may take, in seconds.
const FLOW_LIFETIME: i64 = 600;
/// A cookie made up to this many seconds "in the future" is still accepted (the wall clock
/// may step back a little between start and callback).
const CLOCK_SKEW: i64 = 60;
/// Where a person goes after signing in when `return_to` is absent or unusable.
const DEFAULT_RETURN_TO: &str = "/account";
/// Where a person goes after linking (`?link=linked`, or `?link=CODE`).
const ACCOUNT_PAGE: &str = "/account";
/// Longest `return_to` kept (it travels in the cookie).
const MAX_RETURN_TO: usize = 1024;
/// Longest sealed cookie value opened.
const MAX_SEALED_LEN: usize = 4096;
/// Longest authorization code sent on.
const MAX_CODE_LEN: usize = 4096;
/// Random bytes of `state`, `nonce` and the PKCE verifier.
const RANDOM_BYTES: usize = 32;
/// Associated data of the sealed cookie: what it is, and its format version.
const SEAL_AAD: &[u8] = b"tessera_oidc v1";
/// How long a discovery document is kept.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Timeouts and size limit of the calls to a provider.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// The sign-in routes (merged into [`web::routes`](super::routes)).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/browser/providers", get(list_providers))
        .route("/login/oidc/{provider}/start", get(start))
        .route("/login/oidc/{provider}/callback", get(callback))
}

// ---- the outcome codes --------------------------------------------------------------------------

/// Why a sign-in failed: the `error` of `/login?error=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    ProviderError,
    StateMismatch,
    ProviderUnavailable,
    InvalidIdToken,
    AccountDisabled,
    AccountConflict,
    NotPermitted,
    IdentityInUse,
    SessionEnded,
    TooManyIdentities,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Self::ProviderError => "provider_error",
            Self::StateMismatch => "state_mismatch",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::InvalidIdToken => "invalid_id_token",
            Self::AccountDisabled => "account_disabled",
            Self::AccountConflict => "account_conflict",
            Self::NotPermitted => "not_permitted",
            Self::IdentityInUse => "identity_in_use",
            Self::SessionEnded => "session_ended",
            Self::TooManyIdentities => "too_many_identities",
        }
    }

    fn of(refusal: Refusal, provider: &str) -> Self {
        match refusal {
            Refusal::InvalidToken(_) => Self::InvalidIdToken,
            Refusal::Unavailable(_) => Self::ProviderUnavailable,
            Refusal::Disabled => Self::AccountDisabled,
            Refusal::Conflict(_) => Self::AccountConflict,
            Refusal::NotPermitted(_) => Self::NotPermitted,
            Refusal::IdentityInUse => Self::IdentityInUse,
            Refusal::TooManyIdentities => Self::TooManyIdentities,
            Refusal::SessionEnded => Self::SessionEnded,
            Refusal::Other(e) => {
                tracing::warn!(provider = %provider, error = ?e, "sign-in with a provider failed");
                Self::ProviderUnavailable
            }
        }
    }
}

/// Where a flow ends: the login page (signing in) or the account page (linking).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Login,
    Account,
}

impl Ending {
    fn of(flow: Option<&Flow>) -> Self {
        match flow {
            Some(flow) if flow.link.is_some() => Self::Account,
            _ => Self::Login,
        }
    }
}

/// 303 to `/login?error=CODE`, the flow's cookie cleared.
fn fail(state: &AppState, failure: Failure) -> Response {
    fail_to(state, Ending::Login, failure)
}

/// 303 to `/login?error=CODE` or `/account?link=CODE`, the flow's cookie cleared.
fn fail_to(state: &AppState, ending: Ending, failure: Failure) -> Response {
    let mut headers = no_store();
    headers.append(SET_COOKIE, flow_cookie(state, "", 0));
    let location = match ending {
        Ending::Login => format!("/login?error={}", failure.code()),
        Ending::Account => format!("{ACCOUNT_PAGE}?link={}", failure.code()),
    };
    see_other(&location, headers)
}

fn see_other(location: &str, mut headers: HeaderMap) -> Response {
    let location = HeaderValue::from_str(location)
        .unwrap_or_else(|_| HeaderValue::from_static("/login?error=provider_error"));
    headers.insert(LOCATION, location);
    (StatusCode::SEE_OTHER, headers).into_response()
}

// ---- GET /browser/providers ---------------------------------------------------------------------

#[derive(Serialize)]
struct ProviderList<'a> {
    providers: Vec<ProviderLink<'a>>,
}

#[derive(Serialize)]
struct ProviderLink<'a> {
    name: &'a str,
    start_url: String,
}

/// `GET /browser/providers`: the providers a person can sign in with from the login page.
async fn list_providers(State(state): State<AppState>) -> Response {
    let providers = state
        .config
        .providers
        .iter()
        .filter(|p| p.client_id.is_some())
        .map(|p| ProviderLink {
            name: &p.name,
            start_url: flow_path(&p.name, "start"),
        })
        .collect();
    (no_store(), axum::Json(ProviderList { providers })).into_response()
}

/// `/login/oidc/{name}/{leaf}`, the name percent-encoded as a path segment.
fn flow_path(name: &str, leaf: &str) -> String {
    let mut path = String::from("/login/oidc/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path.push('/');
    path.push_str(leaf);
    path
}

/// The provider of this name, if it can be used for browser sign-in: (settings, client id).
fn browser_provider<'s>(
    state: &'s AppState,
    name: &str,
) -> Option<(&'s ProviderSettings, &'s str)> {
    let provider = state.config.providers.iter().find(|p| p.name == name)?;
    let client_id = provider.client_id.as_deref()?;
    Some((provider, client_id))
}

// ---- GET /login/oidc/{provider}/start -------------------------------------------------------------

/// `GET /login/oidc/{provider}/start?return_to=/path`.
async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((provider, client_id)) = browser_provider(&state, &name) else {
        tracing::info!(provider = ?name, "sign-in with an unknown provider (or one without client_id)");
        return fail(&state, Failure::ProviderUnavailable);
    };
    let endpoints = match discover(provider).await {
        Ok(endpoints) => endpoints,
        Err(e) => {
            tracing::warn!(provider = %provider.name, error = %e, "the provider's discovery document is not available");
            return fail(&state, Failure::ProviderUnavailable);
        }
    };
    let return_to = query
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "return_to")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|r| is_safe_return_to(&state.config.issuer, r))
        .unwrap_or_else(|| DEFAULT_RETURN_TO.to_owned());
    let (authorize, cookie) = match begin(&state, provider, client_id, &endpoints, return_to, None)
    {
        Ok(begun) => begun,
        Err(failure) => return fail(&state, failure),
    };
    let mut headers = no_store();
    headers.append(SET_COOKIE, cookie);
    tracing::info!(provider = %provider.name, "sign-in with a provider started");
    see_other(authorize.as_str(), headers)
}

/// Why linking could not start (`POST /account/identities`).
#[derive(Debug)]
pub(crate) enum LinkStartError {
    /// No provider of this name can be used in the browser (unknown, or without `client_id`).
    UnknownProvider,
    /// The provider's discovery document cannot be had, or the flow cannot be sealed.
    Unavailable,
}

/// The start of the account page's "Connect <provider>": the URL of the provider's
/// authorization endpoint to send the browser to, and the `Set-Cookie` of the flow, which
/// names `user_id` and the session `sid` that asked. The callback then links the identity
/// to that user instead of signing in ([`federation::link_with_code_flow`]).
pub(crate) async fn begin_link(
    state: &AppState,
    provider: &str,
    user_id: &str,
    sid: &str,
) -> Result<(Url, HeaderValue), LinkStartError> {
    let (provider, client_id) =
        browser_provider(state, provider).ok_or(LinkStartError::UnknownProvider)?;
    let endpoints = discover(provider).await.map_err(|e| {
        tracing::warn!(provider = %provider.name, error = %e, "the provider's discovery document is not available");
        LinkStartError::Unavailable
    })?;
    let link = FlowLink {
        user_id: user_id.to_owned(),
        sid: sid.to_owned(),
    };
    let begun = begin(
        state,
        provider,
        client_id,
        &endpoints,
        ACCOUNT_PAGE.to_owned(),
        Some(link),
    )
    .map_err(|_| LinkStartError::Unavailable)?;
    tracing::info!(provider = %provider.name, user = %user_id, "linking a provider started");
    Ok(begun)
}

/// Makes a flow (`state`, `nonce`, PKCE verifier) and seals it: the authorization URL and the
/// flow cookie.
fn begin(
    state: &AppState,
    provider: &ProviderSettings,
    client_id: &str,
    endpoints: &Endpoints,
    return_to: String,
    link: Option<FlowLink>,
) -> Result<(Url, HeaderValue), Failure> {
    let (flow_state, nonce, verifier) = match (random_token(), random_token(), random_token()) {
        (Ok(s), Ok(n), Ok(v)) => (s, n, v),
        _ => {
            tracing::error!("the system's random generator failed");
            return Err(Failure::ProviderUnavailable);
        }
    };
    let flow = Flow {
        provider: provider.name.clone(),
        state: flow_state,
        nonce,
        verifier,
        return_to,
        created_at: state.clock.now(),
        link,
    };
    let Ok(sealed) = sealing_key(state).and_then(|key| seal(&key, &flow)) else {
        tracing::error!("sealing the sign-in cookie failed");
        return Err(Failure::ProviderUnavailable);
    };

    let challenge = pkce_challenge(&flow.verifier);
    let scope = provider.scopes.join(" ");
    let redirect_uri = redirect_uri(state, &provider.name);
    let mut authorize = endpoints.authorization.clone();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &scope)
        .append_pair("state", &flow.state)
        .append_pair("nonce", &flow.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    Ok((authorize, flow_cookie(state, &sealed, FLOW_LIFETIME)))
}

/// The callback URL registered at the provider: `{issuer}/login/oidc/{provider}/callback`.
fn redirect_uri(state: &AppState, provider: &str) -> String {
    state.config.issuer_url(&flow_path(provider, "callback"))
}

/// Whether `return_to` is a path of this origin: it has the shape of a local path, and
/// resolved against the issuer it stays on the issuer's origin (either alone would do; both
/// are checked, so that a mistake in one is caught by the other).
fn is_safe_return_to(issuer: &str, candidate: &str) -> bool {
    is_local_path(candidate) && stays_on_origin(issuer, candidate)
}

/// A single leading `/` (not `//`, which is another host), printable ASCII (browsers drop
/// tabs and newlines from URLs, so `/\t/host` would be `//host`), no backslash (browsers
/// read `/\host` as `//host`), not too long.
fn is_local_path(candidate: &str) -> bool {
    candidate.len() <= MAX_RETURN_TO
        && candidate.starts_with('/')
        && !candidate[1..].starts_with('/')
        && candidate
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
}

/// Whether `candidate`, resolved against the issuer, has the issuer's origin.
fn stays_on_origin(issuer: &str, candidate: &str) -> bool {
    Url::parse(issuer)
        .ok()
        .and_then(|base| Some((base.join(candidate).ok()?.origin(), base.origin())))
        .is_some_and(|(target, base)| target == base)
}

/// 32 random bytes, base64url without padding (43 characters).
fn random_token() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = Zeroizing::new([0u8; RANDOM_BYTES]);
    aws_lc_rs::rand::fill(&mut *bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(*bytes))
}

/// RFC 7636 §4.2: `S256` challenge of a verifier.
fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

// ---- the sealed cookie ------------------------------------------------------------------------------

/// A sign-in in progress, as sealed in the `tessera_oidc` cookie.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct Flow {
    #[serde(rename = "p")]
    provider: String,
    #[serde(rename = "s")]
    state: String,
    #[serde(rename = "n")]
    nonce: String,
    #[serde(rename = "v")]
    verifier: String,
    #[serde(rename = "r")]
    return_to: String,
    #[serde(rename = "t")]
    created_at: i64,
    /// Set when a signed-in user links the provider from the account page.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    link: Option<FlowLink>,
}

/// Whom a linking flow links to: the user, and the session that started it.
#[derive(Serialize, Deserialize, Zeroize)]
struct FlowLink {
    #[serde(rename = "u")]
    user_id: String,
    #[serde(rename = "s")]
    sid: String,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .field("links", &self.link.as_ref().map(|l| &l.user_id))
            .finish_non_exhaustive()
    }
}

/// The label of the cookie key derived from the master key.
const SEALING_KEY_LABEL: &str = "tessera oidc flow cookie v1";

/// The key of the flow cookie: derived from the master key, so that every instance sharing
/// the master key opens what another sealed (a callback may reach another instance).
fn sealing_key(state: &AppState) -> Result<RandomizedNonceKey, aws_lc_rs::error::Unspecified> {
    let secret = state
        .keys
        .derived_secret(SEALING_KEY_LABEL)
        .map_err(|_| aws_lc_rs::error::Unspecified)?;
    RandomizedNonceKey::new(&AES_256_GCM, &*secret)
}

/// base64url(nonce ‖ AES-256-GCM(flow as JSON) ‖ tag).
fn seal(key: &RandomizedNonceKey, flow: &Flow) -> Result<String, aws_lc_rs::error::Unspecified> {
    let json = Zeroizing::new(serde_json::to_vec(flow).map_err(|_| aws_lc_rs::error::Unspecified)?);
    let mut in_out = Zeroizing::new(Vec::with_capacity(json.len() + AES_256_GCM.tag_len()));
    in_out.extend_from_slice(&json);
    let nonce = key.seal_in_place_append_tag(Aad::from(SEAL_AAD), &mut *in_out)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
    sealed.extend_from_slice(nonce.as_ref());
    sealed.extend_from_slice(&in_out);
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// The flow of a sealed cookie value, if it was sealed under `key` and nobody changed it.
fn open(key: &RandomizedNonceKey, value: &str) -> Option<Flow> {
    if value.len() > MAX_SEALED_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let plain = key
        .open_in_place(nonce, Aad::from(SEAL_AAD), &mut in_out)
        .ok()?;
    serde_json::from_slice(plain).ok()
}

/// The flow cookie's name for this issuer: only this name is read.
fn flow_cookie_name(state: &AppState) -> &'static str {
    if cookies::secure(state) {
        SECURE_OIDC_COOKIE
    } else {
        OIDC_COOKIE
    }
}

/// The `Set-Cookie` value of the flow cookie (`max_age` 0 and an empty value: deleted).
fn flow_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let cookie = Cookie::build((flow_cookie_name(state), value))
        .http_only(true)
        .secure(cookies::secure(state))
        .same_site(SameSite::Lax)
        .path(OIDC_COOKIE_PATH)
        .max_age(cookie::time::Duration::seconds(max_age.max(0)))
        .build();
    cookies::header_value(&cookie)
}

// ---- GET /login/oidc/{provider}/callback --------------------------------------------------------------

/// What the provider sent back to the callback.
#[derive(Default)]
struct CallbackParams {
    code: Option<SecretString>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
    /// A parameter of the response came twice (RFC 6749 §3.1: never).
    repeated: bool,
}

impl CallbackParams {
    fn parse(query: Option<&str>) -> Self {
        let mut params = Self::default();
        let Some(query) = query else {
            return params;
        };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*name {
                "code" => {
                    params.repeated |= params.code.is_some();
                    params.code = Some(SecretString::new(value.into_owned()));
                    continue;
                }
                "state" => &mut params.state,
                "error" => &mut params.error,
                "iss" => &mut params.iss,
                _ => continue,
            };
            params.repeated |= slot.is_some();
            *slot = Some(value.into_owned());
        }
        params
    }
}

/// `GET /login/oidc/{provider}/callback?code&state` (or `?error&state`).
async fn callback(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = CallbackParams::parse(query.as_deref());
    let Some((provider, client_id)) = browser_provider(&state, &name) else {
        return fail(&state, Failure::ProviderUnavailable);
    };
    let now = state.clock.now();
    let key = sealing_key(&state).ok();
    let flow = cookies::get(&headers, flow_cookie_name(&state))
        .zip(key.as_ref())
        .and_then(|(value, key)| open(key, value))
        .filter(|flow| flow.provider == provider.name)
        .filter(|flow| {
            flow.created_at <= now + CLOCK_SKEW && now - flow.created_at <= FLOW_LIFETIME
        });
    let ending = Ending::of(flow.as_ref());
    if let Some(error) = &params.error {
        // The provider's own code (access_denied, login_required…) is safe to log; only its
        // registered characters are kept, so a forged one cannot forge a log line.
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        tracing::info!(provider = %provider.name, error = %error, "the provider refused the sign-in");
        return fail_to(&state, ending, Failure::ProviderError);
    }
    let Some(flow) = flow else {
        tracing::info!(provider = %provider.name, "sign-in callback without a valid flow cookie (absent, forged, expired or another provider's)");
        return fail(&state, Failure::StateMismatch);
    };
    let state_matches = params.state.as_deref().is_some_and(|sent| {
        aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), flow.state.as_bytes())
            .is_ok()
    });
    if !state_matches || params.repeated {
        tracing::info!(provider = %provider.name, "sign-in callback whose state is not the flow's");
        return fail_to(&state, ending, Failure::StateMismatch);
    }
    // RFC 9207: a provider that names itself must be the one the flow went to.
    if params
        .iss
        .as_deref()
        .is_some_and(|iss| iss != provider.issuer)
    {
        tracing::info!(provider = %provider.name, "sign-in callback from another issuer (iss)");
        return fail_to(&state, ending, Failure::ProviderError);
    }
    let Some(code) = params
        .code
        .filter(|c| !c.expose().is_empty() && c.expose().len() <= MAX_CODE_LEN)
    else {
        tracing::info!(provider = %provider.name, "sign-in callback without a usable code");
        return fail_to(&state, ending, Failure::ProviderError);
    };

    let endpoints = match discover(provider).await {
        Ok(endpoints) => endpoints,
        Err(e) => {
            tracing::warn!(provider = %provider.name, error = %e, "the provider's discovery document is not available");
            return fail_to(&state, ending, Failure::ProviderUnavailable);
        }
    };
    let redirect_uri = redirect_uri(&state, &provider.name);
    let id_token = match redeem_code(
        provider,
        client_id,
        &endpoints.token,
        code.expose(),
        &flow.verifier,
        &redirect_uri,
    )
    .await
    {
        Ok(id_token) => id_token,
        Err(e) => {
            tracing::warn!(provider = %provider.name, error = %e, "the code could not be redeemed");
            return fail_to(&state, ending, e.failure());
        }
    };

    if let Some(link) = &flow.link {
        let request = federation::LinkRequest {
            user_id: &link.user_id,
            sid: &link.sid,
        };
        let linked = federation::link_with_code_flow(
            &state,
            id_token.expose(),
            &provider.name,
            &flow.nonce,
            request,
        )
        .await;
        return match linked {
            Ok(_) => {
                let mut answer = no_store();
                answer.append(SET_COOKIE, flow_cookie(&state, "", 0));
                see_other(&format!("{ACCOUNT_PAGE}?link=linked"), answer)
            }
            Err(refusal) => fail_to(&state, ending, Failure::of(refusal, &provider.name)),
        };
    }

    let issued = match federation::sign_in_with_code_flow(
        &state,
        id_token.expose(),
        &provider.name,
        &flow.nonce,
        address,
        &headers,
    )
    .await
    {
        Ok(issued) => issued,
        Err(refusal) => return fail(&state, Failure::of(refusal, &provider.name)),
    };

    let mut answer = super::session::session_headers(&state, &issued);
    answer.append(SET_COOKIE, flow_cookie(&state, "", 0));
    let return_to = if is_safe_return_to(&state.config.issuer, &flow.return_to) {
        flow.return_to.as_str()
    } else {
        DEFAULT_RETURN_TO
    };
    see_other(return_to, answer)
}

// ---- talking to the provider ----------------------------------------------------------------------

/// Why a call to a provider failed (for the log; no secret in it).
#[derive(Debug, thiserror::Error)]
enum CallError {
    /// Unreachable, timed out, a server error, an unusable document: try later.
    #[error("{0}")]
    Unavailable(String),
    /// The provider refused (a 4xx) or answered something that is not a token response.
    #[error("{0}")]
    Refused(String),
}

impl CallError {
    fn failure(&self) -> Failure {
        match self {
            Self::Unavailable(_) => Failure::ProviderUnavailable,
            Self::Refused(_) => Failure::ProviderError,
        }
    }
}

/// The HTTP client of the calls to providers: no redirects, timeouts, rustls. Connections are
/// not pooled (sign-ins are rare, and a pooled connection would outlive the runtime it was
/// made on when several runtimes share this process, as tests do).
fn http_client() -> Result<&'static reqwest::Client, CallError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CallError::Unavailable(format!("the HTTP client cannot be built: {e}")))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// A provider's endpoints, from its discovery document.
#[derive(Debug)]
struct Endpoints {
    authorization: Url,
    token: Url,
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

type DiscoveryCache = Mutex<HashMap<String, (Instant, Arc<Endpoints>)>>;

/// The endpoints of `provider`: kept for [`DISCOVERY_TTL`], else fetched.
async fn discover(provider: &ProviderSettings) -> Result<Arc<Endpoints>, CallError> {
    static CACHE: OnceLock<DiscoveryCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some((fetched, endpoints)) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&provider.issuer)
        && fetched.elapsed() < DISCOVERY_TTL
    {
        return Ok(Arc::clone(endpoints));
    }
    let endpoints = Arc::new(fetch_discovery(&provider.issuer).await?);
    cache.lock().unwrap_or_else(PoisonError::into_inner).insert(
        provider.issuer.clone(),
        (Instant::now(), Arc::clone(&endpoints)),
    );
    Ok(endpoints)
}

async fn fetch_discovery(issuer: &str) -> Result<Endpoints, CallError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let outbound = |what: &str, url: &str| {
        tessera_guard::check_outbound_url(url)
            .map_err(|e| CallError::Unavailable(format!("{what}: {e}")))
            .and_then(|()| {
                Url::parse(url).map_err(|e| CallError::Unavailable(format!("{what}: {e}")))
            })
    };
    let url = outbound("discovery document", &url)?;
    let response = http_client()?
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| CallError::Unavailable(format!("{url}: {e}")))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(CallError::Unavailable(format!("{url}: status {status}")));
    }
    let body = read_limited(response)
        .await
        .map_err(|e| CallError::Unavailable(format!("{url}: {e}")))?;
    let document: DiscoveryDocument = serde_json::from_slice(&body)
        .map_err(|e| CallError::Unavailable(format!("{url}: not a discovery document: {e}")))?;
    if document.issuer != issuer {
        return Err(CallError::Unavailable(format!(
            "{url}: the document's issuer {:?} is not the configured one",
            document.issuer
        )));
    }
    Ok(Endpoints {
        authorization: outbound("authorization_endpoint", &document.authorization_endpoint)?,
        token: outbound("token_endpoint", &document.token_endpoint)?,
    })
}

/// A body of at most [`MAX_ANSWER_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Zeroizing<Vec<u8>>, String> {
    if response
        .content_length()
        .is_some_and(|len| len > MAX_ANSWER_BYTES as u64)
    {
        return Err("the answer is too large".into());
    }
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("the answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<SecretString>,
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
}

/// Redeems `code` at the token endpoint (RFC 6749 §4.1.3 + RFC 7636 §4.5): the ID token.
async fn redeem_code(
    provider: &ProviderSettings,
    client_id: &str,
    token_endpoint: &Url,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<SecretString, CallError> {
    let form = Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .append_pair("client_id", client_id)
            .finish(),
    );
    let mut request = http_client()?
        .post(token_endpoint.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json")
        .body(form.as_bytes().to_vec());
    if let Some(secret) = &provider.client_secret {
        request = request.header(
            AUTHORIZATION,
            client_secret_basic(client_id, secret.expose()),
        );
    }
    let response = request
        .send()
        .await
        .map_err(|e| CallError::Unavailable(format!("{token_endpoint}: {e}")))?;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if status.is_server_error() {
        return Err(CallError::Unavailable(format!(
            "{token_endpoint}: status {status}"
        )));
    }
    let body = read_limited(response)
        .await
        .map_err(|e| CallError::Unavailable(format!("{token_endpoint}: {e}")))?;
    if !status.is_success() {
        // RFC 6749 §5.2: its `error` code is safe to log (the description may echo input).
        let error = serde_json::from_slice::<TokenError>(&body)
            .ok()
            .and_then(|e| e.error)
            .map(|e| {
                e.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(64)
                    .collect::<String>()
            })
            .unwrap_or_default();
        return Err(CallError::Refused(format!(
            "{token_endpoint}: status {status} {error}"
        )));
    }
    if !is_json {
        return Err(CallError::Refused(format!(
            "{token_endpoint}: the answer is not JSON"
        )));
    }
    serde_json::from_slice::<TokenAnswer>(&body)
        .ok()
        .and_then(|answer| answer.id_token)
        .filter(|t| !t.expose().is_empty())
        .ok_or_else(|| CallError::Refused(format!("{token_endpoint}: the answer has no id_token")))
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`, marked sensitive.
fn client_secret_basic(client_id: &str, secret: &str) -> HeaderValue {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = Zeroizing::new(format!("{}:{}", enc(client_id), enc(secret)));
    let header = Zeroizing::new(format!("Basic {}", STANDARD.encode(credentials.as_bytes())));
    let mut value =
        HeaderValue::from_str(&header).unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_43_base64url_characters_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    fn flow() -> Flow {
        Flow {
            provider: "google".into(),
            state: "s".repeat(43),
            nonce: "n".repeat(43),
            verifier: "v".repeat(43),
            return_to: "/inspect?x=1".into(),
            created_at: 1_800_000_000,
            link: None,
        }
    }

    #[test]
    fn link_flows_keep_whom_they_link_and_sign_in_flows_stay_short() {
        let key = test_key();
        let plain = open(&key, &seal(&key, &flow()).unwrap()).unwrap();
        assert!(plain.link.is_none());
        assert_eq!(Ending::of(Some(&plain)), Ending::Login);
        assert_eq!(Ending::of(None), Ending::Login);
        let mut linking = flow();
        linking.link = Some(FlowLink {
            user_id: "user-1".into(),
            sid: "family-1".into(),
        });
        let opened = open(&key, &seal(&key, &linking).unwrap()).unwrap();
        let link = opened.link.as_ref().unwrap();
        assert_eq!(
            (link.user_id.as_str(), link.sid.as_str()),
            ("user-1", "family-1")
        );
        assert_eq!(Ending::of(Some(&opened)), Ending::Account);
        // A sign-in flow's JSON has no link member at all.
        let json = serde_json::to_string(&flow()).unwrap();
        assert!(!json.contains("\"l\""), "{json}");
    }

    fn test_key() -> RandomizedNonceKey {
        RandomizedNonceKey::new(&AES_256_GCM, &[3u8; 32]).unwrap()
    }

    #[test]
    fn sealed_flows_open_and_hide_their_content() {
        let key = test_key();
        let sealed = seal(&key, &flow()).unwrap();
        assert!(!sealed.contains("inspect") && !sealed.contains("google"));
        let opened = open(&key, &sealed).unwrap();
        assert_eq!(opened.provider, "google");
        assert_eq!(opened.state, "s".repeat(43));
        assert_eq!(opened.nonce, "n".repeat(43));
        assert_eq!(opened.verifier, "v".repeat(43));
        assert_eq!(opened.return_to, "/inspect?x=1");
        assert_eq!(opened.created_at, 1_800_000_000);
        // Two seals of one flow differ (random nonce).
        assert_ne!(sealed, seal(&key, &flow()).unwrap());
        // Debug shows no secret.
        let debug = format!("{opened:?}");
        assert!(!debug.contains("sss") && !debug.contains("nnn") && !debug.contains("vvv"));
    }

    #[test]
    fn tampered_or_foreign_cookies_do_not_open() {
        let key = test_key();
        let sealed = seal(&key, &flow()).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert!(
                open(&key, &URL_SAFE_NO_PAD.encode(&bytes)).is_none(),
                "byte {i}"
            );
            bytes[i] ^= 1;
        }
        assert!(open(&key, &URL_SAFE_NO_PAD.encode(&bytes)).is_some());
        assert!(open(&key, &sealed[..sealed.len() - 2]).is_none());
        assert!(open(&key, "").is_none());
        assert!(open(&key, "not base64!").is_none());
        assert!(open(&key, &"A".repeat(MAX_SEALED_LEN + 1)).is_none());
        // Sealed under another key (another process): refused.
        let other = RandomizedNonceKey::new(&AES_256_GCM, &[9u8; 32]).unwrap();
        let mut in_out = serde_json::to_vec(&flow()).unwrap();
        let nonce = other
            .seal_in_place_append_tag(Aad::from(SEAL_AAD), &mut in_out)
            .unwrap();
        let mut foreign = nonce.as_ref().to_vec();
        foreign.extend_from_slice(&in_out);
        assert!(open(&key, &URL_SAFE_NO_PAD.encode(foreign)).is_none());
    }

    #[test]
    fn provider_names_are_encoded_in_paths() {
        assert_eq!(flow_path("google", "start"), "/login/oidc/google/start");
        assert_eq!(
            flow_path("my idp/é", "callback"),
            "/login/oidc/my%20idp%2F%C3%A9/callback"
        );
    }

    #[test]
    fn callback_parameters_and_repeats() {
        let p = CallbackParams::parse(Some("code=a%2Bb&state=s&iss=https%3A%2F%2Fi&x=1"));
        assert_eq!(p.code.as_ref().map(SecretString::expose), Some("a+b"));
        assert_eq!(p.state.as_deref(), Some("s"));
        assert_eq!(p.iss.as_deref(), Some("https://i"));
        assert!(p.error.is_none() && !p.repeated);
        assert!(CallbackParams::parse(Some("state=a&state=b")).repeated);
        assert!(CallbackParams::parse(Some("code=a&code=b")).repeated);
        let none = CallbackParams::parse(None);
        assert!(none.code.is_none() && none.state.is_none() && !none.repeated);
    }

    #[test]
    fn only_paths_of_this_origin_are_returned_to() {
        let good = ["/", "/account", "/inspect?t=1#x", "/a/b//c", "/%2F%2Fevil"];
        let bad = [
            "",
            "account",
            "//evil.example",
            "///evil.example",
            "/\\evil",
            "/\\/evil.example",
            "https://evil.example",
            "http://127.0.0.1:7070/account",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            "/a b",
            "/\r\nSet-Cookie: x=1",
            "/é",
        ];
        for issuer in ["http://127.0.0.1:7070", "https://auth.example.com/base"] {
            for ok in good {
                assert!(is_safe_return_to(issuer, ok), "{ok}");
            }
            for bad in bad {
                assert!(!is_safe_return_to(issuer, bad), "{bad:?}");
            }
            let long = format!("/{}", "a".repeat(MAX_RETURN_TO));
            assert!(!is_safe_return_to(issuer, &long));
        }
        // Each check holds on its own.
        for ok in good {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in bad {
            assert!(!is_local_path(bad), "{bad:?}");
        }
        for escape in [
            "//evil.example",
            "/\\evil",
            "/\\/evil.example",
            "https://evil.example",
            "/\t/evil.example",
        ] {
            assert!(
                !stays_on_origin("http://127.0.0.1:7070", escape),
                "{escape:?}"
            );
        }
        assert!(stays_on_origin("http://127.0.0.1:7070", "/account"));
        assert!(!stays_on_origin("not a url", "/account"));
    }

    #[test]
    fn basic_credentials_are_form_urlencoded() {
        let value = client_secret_basic("id:1", "s e/c+r%t");
        assert!(value.is_sensitive());
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1:s+e%2Fc%2Br%25t");
    }
}

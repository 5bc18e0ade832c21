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
//!   limit. A document is kept for an hour per issuer by the app state (two instances in one
//!   process keep their own); a failed fetch is not kept, so the next sign-in tries again.
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

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reqwest::Url;
use serde::Serialize;
use tessera_jwt::SecretString;

use super::cookies;
use crate::auth::federation::{self, Refusal};
use crate::auth::provider_discovery::Endpoints;
use crate::config::ProviderSettings;
use crate::http::ClientAddr;
use crate::http::no_store;
use crate::state::AppState;

mod flow;
mod provider;
#[cfg(test)]
mod tests;

use flow::*;
use provider::*;

/// Where a person goes after signing in when `return_to` is absent or unusable.
const DEFAULT_RETURN_TO: &str = "/account";
/// Where a person goes after linking (`?link=linked`, or `?link=CODE`).
const ACCOUNT_PAGE: &str = "/account";
/// Longest authorization code sent on.
const MAX_CODE_LEN: usize = 4096;

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
    let providers = browser_providers(&state)
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

/// The providers that can be used in the browser (sign-in and linking): those with a
/// `client_id`.
pub(crate) fn browser_providers(state: &AppState) -> impl Iterator<Item = &ProviderSettings> {
    state
        .config
        .providers
        .iter()
        .filter(|p| p.client_id.is_some())
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
    let endpoints = match discover(&state, provider).await {
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
    let endpoints = discover(state, provider).await.map_err(|e| {
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

    let endpoints = match discover(&state, provider).await {
        Ok(endpoints) => endpoints,
        Err(e) => {
            tracing::warn!(provider = %provider.name, error = %e, "the provider's discovery document is not available");
            return fail_to(&state, ending, Failure::ProviderUnavailable);
        }
    };
    let redirect_uri = redirect_uri(&state, &provider.name);
    let id_token = match redeem_code(
        &state,
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

//! Sign-in with an outside identity provider ("Sign in with Google"): an ID token from one of
//! the configured `[[providers]]` is verified with `tessera-guard` against that provider's
//! JWKS, the user is found or created by (`iss`, `sub`), and tessera's own pair is returned —
//! at `POST /login/oidc` (the same answer as `/login`) and, for OAuth clients, through the
//! RFC 8693 token exchange grant of `/oauth2/token`.
//!
//! Linking (issue 9, finding 1: an outside provider is as trusted as its weakest
//! `email_verified`): an identity seen before maps to its user. A new identity never joins an
//! existing local account by itself unless its provider says `link_existing =
//! "verified_email"`, and then only with a JSON boolean `email_verified: true`, an e-mail whose
//! domain is in the provider's `allowed_domains` (Google: and an `hd` claim naming that same
//! domain), the e-mail equal byte for byte to the username, and an account with no password,
//! no role and no second factor ([`may_link_automatically`]). Otherwise a new identity gets a
//! user of its own — named after its verified e-mail when no account has that name, else
//! `provider:sub` — or, with `create_users = false`, a refusal. A signed-in user links an
//! identity to their own account from `/account` ([`link_with_code_flow`]).
//!
//! Every ID token, at every entry, must also: not say `typ: at+jwt` (an access token is not an
//! ID token), carry an `azp` that is one of the provider's `audience` values when it has one,
//! be younger than the provider's `max_id_token_age` by its `iat`, and — when the provider has
//! `allowed_domains` — carry a verified e-mail of one of them (Google: and an `hd` of one).
//!
//! The hosted login page's "Sign in with …" (the authorization code flow, `web::oidc`) ends in
//! `sign_in_with_code_flow`: the same verification, linking and session start, plus the check
//! of the ID token's `nonce`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tessera_guard::{GOOGLE_ISSUER, GOOGLE_ISSUER_SHORT, IssuerConfig, VerifiedToken, Verifier};
use tessera_jwt::{Clock, SecretString};
use tokio::sync::OnceCell;

use super::json_api::token_response;
use super::provider_discovery::ProviderDiscovery;
use crate::accounts::normalize_username;
use crate::config::{LinkExisting, ProviderKeys, ProviderSettings};
use crate::error::{ApiError, Json};
use crate::http::ClientAddr;
use crate::issuance::grants::{self, GrantError, Issued, Origin};
use crate::state::AppState;
use crate::store::{Client, LinkOutcome, LinkTarget, NewExternalIdentity, NewUser, User};

/// RFC 8693 §2.1: the grant type of a token exchange.
pub(crate) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3: the token types tessera accepts as the subject token (an OpenID Connect ID
/// token; `jwt` is what some clients send for the same thing).
const SUBJECT_TOKEN_TYPES: [&str; 2] = [
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:jwt",
];
/// RFC 8693 §3: what is issued.
pub(crate) const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The outside identity providers, the verifier of their ID tokens, and their endpoints for
/// the browser sign-in flow. The verifier is built on first use (it starts the providers' key
/// fetching, which needs the runtime); `serve` builds it at startup so that a
/// misconfiguration shows at once.
pub struct Federation {
    providers: Vec<ProviderSettings>,
    clock: Arc<dyn Clock>,
    verifier: OnceCell<Arc<Verifier>>,
    discovery: ProviderDiscovery,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field(
                "providers",
                &self.providers.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Federation {
    /// The providers of `[[providers]]`, judged by `clock`.
    pub fn new(providers: &[ProviderSettings], clock: Arc<dyn Clock>) -> Self {
        Self {
            providers: providers.to_vec(),
            clock,
            verifier: OnceCell::new(),
            discovery: ProviderDiscovery::new(providers),
        }
    }

    /// Whether any provider is configured.
    pub fn is_enabled(&self) -> bool {
        !self.providers.is_empty()
    }

    /// The verifier of the providers' ID tokens (built on first use).
    pub async fn verifier(&self) -> Result<&Arc<Verifier>, tessera_guard::ConfigError> {
        self.verifier
            .get_or_try_init(|| async {
                let mut builder = Verifier::builder().clock(self.clock.clone());
                for provider in &self.providers {
                    builder = builder.issuer(issuer_config(provider));
                }
                builder.build().map(Arc::new)
            })
            .await
    }

    /// The providers' discovery documents (kept an hour each) and the client of the calls to
    /// them, for the browser sign-in flow.
    pub(crate) fn discovery(&self) -> &ProviderDiscovery {
        &self.discovery
    }

    /// The provider of this name.
    pub(crate) fn provider(&self, name: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.name == name)
    }

    fn provider_of(&self, issuer: &str) -> Option<&ProviderSettings> {
        self.providers.iter().find(|p| p.issuer == issuer)
    }
}

fn issuer_config(provider: &ProviderSettings) -> IssuerConfig {
    let mut config = IssuerConfig::new(&provider.issuer)
        .algorithms(provider.algorithms.iter().copied())
        .require("sub")
        .require("iat");
    for audience in &provider.audience {
        config = config.audience(audience);
    }
    // Google writes its issuer both ways (OpenID Connect Core §3.1.3.7 lets it).
    if provider.issuer == GOOGLE_ISSUER {
        config = config.alias(GOOGLE_ISSUER_SHORT);
    }
    match &provider.keys {
        ProviderKeys::JwksUri(url) => config.jwks_url(url),
        ProviderKeys::Discovery => config.discovery(),
    }
}

#[derive(Deserialize)]
pub(super) struct OidcLoginRequest {
    id_token: SecretString,
    #[serde(default)]
    provider: Option<String>,
}

/// `POST /login/oidc` `{"id_token", "provider"?}`: the same answer as `/login`.
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Json(request): Json<OidcLoginRequest>,
) -> Result<Response, ApiError> {
    let origin = crate::http::origin(address, &headers);
    let issued = exchange(
        &state,
        request.id_token.expose(),
        request.provider.as_deref(),
        None,
        Vec::new(),
        &origin,
    )
    .await
    .map_err(GrantError::for_json_api)?;
    Ok(token_response(&issued))
}

/// The RFC 8693 token exchange grant: `subject_token` (an ID token of a configured provider)
/// and `subject_token_type`; the client is authenticated by the caller.
pub(super) async fn token_exchange(
    state: &AppState,
    subject_token: &str,
    subject_token_type: &str,
    requested_token_type: Option<&str>,
    client: Option<&Client>,
    scopes: Vec<String>,
    origin: &Origin,
) -> Result<Issued, GrantError> {
    if !SUBJECT_TOKEN_TYPES.contains(&subject_token_type) {
        return Err(GrantError::InvalidRequest(
            "subject_token_type must be urn:ietf:params:oauth:token-type:id_token".into(),
        ));
    }
    if let Some(requested) = requested_token_type
        && requested != ACCESS_TOKEN_TYPE
    {
        return Err(GrantError::InvalidRequest(
            "requested_token_type must be urn:ietf:params:oauth:token-type:access_token".into(),
        ));
    }
    exchange(state, subject_token, None, client, scopes, origin).await
}

/// Why an outside sign-in was refused, before the endpoint words it: `/login/oidc` and the
/// token exchange as a [`GrantError`] (their pinned answers), the browser flow as a code for
/// the login page.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The ID token is not valid: signature, claims, issuer, not from the provider named, or
    /// (browser flow) not the `nonce` sent.
    InvalidToken(&'static str),
    /// The providers' keys cannot be had (or their verifier cannot be built): try later.
    Unavailable(&'static str),
    /// The user the identity maps to is disabled.
    Disabled,
    /// A new identity's name is taken by an account it cannot be linked to (409).
    Conflict(&'static str),
    /// The provider's settings refuse this sign-in (`create_users = false`).
    NotPermitted(&'static str),
    /// Linking: the identity is linked to another account already.
    IdentityInUse,
    /// Linking: the account has [`MAX_IDENTITIES_PER_USER`] identities already.
    TooManyIdentities,
    /// Linking: the session that started it has ended (signed out, revoked, expired).
    SessionEnded,
    /// Anything else, already an answer (a bad request, the database failing).
    Other(GrantError),
}

impl From<Refusal> for GrantError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InvalidToken(why) | Refusal::NotPermitted(why) => {
                GrantError::InvalidGrant(why)
            }
            Refusal::Unavailable(why) => GrantError::Unavailable(why),
            Refusal::Conflict(why) => GrantError::AccountConflict(why),
            Refusal::Disabled => GrantError::InvalidGrant("the account cannot sign in"),
            // Only the account page's linking refuses these; no grant does.
            Refusal::IdentityInUse => {
                GrantError::InvalidGrant("the identity is linked to another account")
            }
            Refusal::TooManyIdentities => {
                GrantError::InvalidGrant("the account has too many linked identities")
            }
            Refusal::SessionEnded => GrantError::InvalidGrant("the session has ended"),
            Refusal::Other(e) => e,
        }
    }
}

impl From<GrantError> for Refusal {
    fn from(e: GrantError) -> Self {
        Self::Other(e)
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Other(e.into())
    }
}

/// Verifies an outside ID token, finds or creates its user, and starts a session.
async fn exchange(
    state: &AppState,
    id_token: &str,
    provider: Option<&str>,
    client: Option<&Client>,
    scopes: Vec<String>,
    origin: &Origin,
) -> Result<Issued, GrantError> {
    let (provider, token) = verify(state, id_token, provider).await?;
    Ok(sign_in(state, provider, &token, client, scopes, origin).await?)
}

/// The end of the browser's authorization code flow: `id_token` (from `provider`'s token
/// endpoint) is verified exactly as at `/login/oidc`, its `nonce` claim must equal `nonce`
/// (the one sent in the authorization request; compared in constant time), then the user is
/// found or created and a session started as at `/login/oidc` (tessera's own, no client).
pub(crate) async fn sign_in_with_code_flow(
    state: &AppState,
    id_token: &str,
    provider: &str,
    nonce: &str,
    address: IpAddr,
    headers: &HeaderMap,
) -> Result<Issued, Refusal> {
    let (provider, token) = verify_with_nonce(state, id_token, provider, nonce).await?;
    let origin = crate::http::origin(address, headers);
    sign_in(state, provider, &token, None, Vec::new(), &origin).await
}

/// Verifies an ID token of the code flow: as at `/login/oidc`, and its `nonce` claim must
/// equal `nonce` (compared in constant time).
async fn verify_with_nonce<'s>(
    state: &'s AppState,
    id_token: &str,
    provider: &str,
    nonce: &str,
) -> Result<(&'s ProviderSettings, VerifiedToken), Refusal> {
    let (provider, token) = verify(state, id_token, Some(provider)).await?;
    let sent = token.claims_json().get("nonce").and_then(Value::as_str);
    let matches = sent.is_some_and(|sent| {
        aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), nonce.as_bytes()).is_ok()
    });
    if !matches {
        state.metrics.login("invalid_credentials");
        tracing::info!(
            provider = %provider.name,
            reason = if sent.is_some() { "nonce mismatch" } else { "no nonce" },
            "outside ID token refused"
        );
        return Err(Refusal::InvalidToken("the ID token is not valid"));
    }
    Ok((provider, token))
}

/// Most outside identities one account may have linked (linking is the only way a user adds
/// rows of their own choosing here; the cap keeps that bounded).
pub(crate) const MAX_IDENTITIES_PER_USER: usize = 20;

/// Who links an identity from the account page: the user, and the session (`sid`) whose
/// access token started the link, which must still be active when the provider sends the
/// browser back.
pub(crate) struct LinkRequest<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) sid: &'a str,
}

/// What linking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Linked {
    /// The identity is now linked to the user.
    New,
    /// It was linked to this user already.
    Already,
}

/// The end of the account page's "Connect <provider>" (the authorization code flow started
/// by a signed-in user): `id_token` is verified as in [`sign_in_with_code_flow`] (nonce
/// included), and its identity is linked to `request.user_id` — never to anyone else, and
/// never taken from another account ([`Refusal::IdentityInUse`]). The user must exist, not be
/// disabled, and still be signed in by `request.sid`. No session is started: the browser
/// keeps the one it has. The e-mail rules of automatic linking do not apply (the user proved
/// both accounts), the provider's `allowed_domains` do (as at every entry).
pub(crate) async fn link_with_code_flow(
    state: &AppState,
    id_token: &str,
    provider: &str,
    nonce: &str,
    request: LinkRequest<'_>,
) -> Result<Linked, Refusal> {
    let (provider, token) = verify_with_nonce(state, id_token, provider, nonce).await?;
    let subject = token
        .subject()
        .ok_or(Refusal::InvalidToken("the ID token has no subject"))?;
    let now = state.clock.now();
    match state.store.user_by_id(request.user_id).await? {
        Some(user) if !user.disabled => {}
        _ => {
            tracing::info!(user = %request.user_id, provider = %provider.name, "linking refused: the user is disabled or gone");
            return Err(Refusal::Disabled);
        }
    }
    let session = state
        .store
        .live_session(request.sid, request.user_id, now)
        .await?;
    if session.is_none() {
        tracing::info!(user = %request.user_id, provider = %provider.name, "linking refused: the session that started it has ended");
        return Err(Refusal::SessionEnded);
    }
    if let Some(linked) = state
        .store
        .external_identity(&provider.issuer, subject)
        .await?
    {
        if linked.user_id == request.user_id {
            return Ok(Linked::Already);
        }
        tracing::info!(user = %request.user_id, provider = %provider.name, "linking refused: the identity is linked to another account");
        return Err(Refusal::IdentityInUse);
    }
    if state
        .store
        .external_identities_of(request.user_id)
        .await?
        .len()
        >= MAX_IDENTITIES_PER_USER
    {
        return Err(Refusal::TooManyIdentities);
    }
    let claims = Claims::of(&token);
    let identity = NewExternalIdentity {
        issuer: &provider.issuer,
        subject,
        email: claims.email,
        email_verified: claims.email_verified,
    };
    let login = state
        .store
        .find_or_link_external_identity(identity, LinkTarget::User(request.user_id), now)
        .await?;
    // Linked by someone else between the look and the transaction: theirs stays.
    if login.user.id != request.user_id {
        tracing::info!(user = %request.user_id, provider = %provider.name, "linking refused: the identity is linked to another account");
        return Err(Refusal::IdentityInUse);
    }
    tracing::info!(user = %request.user_id, provider = %provider.name, "outside identity linked by its user");
    Ok(if login.outcome == LinkOutcome::Linked {
        Linked::New
    } else {
        Linked::Already
    })
}

/// Verifies an outside ID token (from the provider named, if one is): the provider it is from
/// and the token.
async fn verify<'s>(
    state: &'s AppState,
    id_token: &str,
    provider: Option<&str>,
) -> Result<(&'s ProviderSettings, VerifiedToken), Refusal> {
    let federation = &state.auth.federation;
    if !federation.is_enabled() {
        return Err(Refusal::Other(GrantError::InvalidRequest(
            "no outside identity provider is configured".into(),
        )));
    }
    let wanted = match provider {
        Some(name) => Some(federation.provider(name).ok_or_else(|| {
            Refusal::Other(GrantError::InvalidRequest(
                format!("no identity provider is named {name:?}").into(),
            ))
        })?),
        None => None,
    };
    let verifier = federation.verifier().await.map_err(|e| {
        tracing::error!(error = %e, "the identity providers' verifier cannot be built");
        Refusal::Unavailable("outside sign-in is not available")
    })?;
    let token = match verifier.verify(id_token).await {
        Ok(token) => token,
        Err(e) if e.is_token_rejection() => {
            state.metrics.login("invalid_credentials");
            tracing::info!(reason = %e, "outside ID token refused");
            return Err(Refusal::InvalidToken("the ID token is not valid"));
        }
        Err(e) => {
            state.metrics.login("error");
            tracing::warn!(error = %e, "outside ID token could not be checked");
            return Err(Refusal::Unavailable(
                "the identity provider's keys are not available; try again later",
            ));
        }
    };
    let Some(provider) = federation.provider_of(token.issuer()) else {
        return Err(Refusal::InvalidToken("the ID token is not valid"));
    };
    if let Some(wanted) = wanted
        && wanted.name != provider.name
    {
        state.metrics.login("invalid_credentials");
        return Err(Refusal::InvalidToken(
            "the ID token is not from the provider named",
        ));
    }
    if let Err(why) = check_id_token(provider, &token, state.clock.now()) {
        state.metrics.login("invalid_credentials");
        tracing::info!(provider = %provider.name, reason = why, "outside ID token refused");
        return Err(Refusal::InvalidToken(why));
    }
    Ok((provider, token))
}

/// How far in the future an `iat` may be (clocks differ a little).
const IAT_LEEWAY_SECS: i64 = 60;

/// The rules of an outside ID token beyond its signature and registered claims (which the
/// verifier checked): the same at `/login/oidc`, the token exchange and the browser flow.
/// `Err` is the `error_description`.
fn check_id_token(
    provider: &ProviderSettings,
    token: &VerifiedToken,
    now: i64,
) -> Result<(), &'static str> {
    // RFC 9068 §2.1: an access token says `at+jwt`; accepting it as an ID token would let a
    // token meant for an API stand in for a sign-in.
    if token.header().typ.as_deref().is_some_and(|typ| {
        typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err("the token is an access token (typ at+jwt), not an ID token");
    }
    // OpenID Connect Core §2: `azp` is the party the token was issued to.
    match token.claims_json().get("azp") {
        None => {}
        Some(Value::String(azp)) if provider.audience.iter().any(|a| a == azp) => {}
        Some(_) => return Err("the ID token was issued to another party (azp)"),
    }
    let Some(iat) = token.registered().iat.map(|iat| iat.as_secs()) else {
        return Err("the ID token has no iat");
    };
    let max_age = i64::try_from(provider.max_id_token_age.as_secs()).unwrap_or(i64::MAX);
    if iat > now.saturating_add(IAT_LEEWAY_SECS) {
        return Err("the ID token was issued in the future (iat)");
    }
    if now.saturating_sub(iat) > max_age {
        return Err("the ID token is too old (iat): sign in at the provider again");
    }
    if !provider.allowed_domains.is_empty() {
        let claims = Claims::of(token);
        let domain = claims.verified_email_domain();
        if !domain.is_some_and(|d| is_allowed_domain(provider, d)) {
            return Err(
                "this provider accepts only verified e-mail addresses of its allowed domains",
            );
        }
        if is_google(provider) && !claims.hd.is_some_and(|hd| is_allowed_domain(provider, hd)) {
            return Err("this provider accepts only accounts of its allowed domains (hd)");
        }
    }
    Ok(())
}

fn is_google(provider: &ProviderSettings) -> bool {
    provider.issuer == GOOGLE_ISSUER
}

/// Whether `domain` is one of the provider's `allowed_domains` (stored lowercase; DNS names
/// are case-insensitive).
fn is_allowed_domain(provider: &ProviderSettings, domain: &str) -> bool {
    provider
        .allowed_domains
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(domain))
}

/// The claims of an ID token that linking looks at.
struct Claims<'t> {
    email: Option<&'t str>,
    /// Only a JSON boolean `true` counts: the string `"true"` is what some providers send for
    /// addresses they did not verify the way Google does, and never counted since issue 9.
    email_verified: bool,
    hd: Option<&'t str>,
}

impl<'t> Claims<'t> {
    fn of(token: &'t VerifiedToken) -> Self {
        let claims = token.claims_json();
        Self {
            email: claims.get("email").and_then(Value::as_str),
            email_verified: claims.get("email_verified") == Some(&Value::Bool(true)),
            hd: claims.get("hd").and_then(Value::as_str),
        }
    }

    /// The e-mail, if the provider says (boolean) it verified it.
    fn verified_email(&self) -> Option<&'t str> {
        self.email.filter(|_| self.email_verified)
    }

    /// The domain of the verified e-mail (after the last `@`; both sides non-empty).
    fn verified_email_domain(&self) -> Option<&'t str> {
        let (local, domain) = self.verified_email()?.rsplit_once('@')?;
        (!local.is_empty() && !domain.is_empty()).then_some(domain)
    }
}

/// Whether an outside identity may be joined to this existing account without its owner
/// signing in first: never to an account that has a password (its owner proves themselves
/// with it, and would lose nothing to a stranger's identity otherwise), a role, or a second
/// factor. Second factors do not exist yet: when they do, their presence is passed here.
pub(crate) fn may_link_automatically(user: &User, has_second_factor: bool) -> bool {
    user.password_hash.is_none() && user.roles.is_empty() && !has_second_factor
}

/// Whether a new identity of this token may join `existing` by itself (the rules of
/// `link_existing = "verified_email"`).
fn may_join_existing(
    provider: &ProviderSettings,
    claims: &Claims<'_>,
    existing: Option<&User>,
) -> bool {
    let Some(user) = existing else {
        return false;
    };
    let (Some(email), Some(domain)) = (claims.verified_email(), claims.verified_email_domain())
    else {
        return false;
    };
    provider.link_existing == LinkExisting::VerifiedEmail
        // Exactly as sent: no case or width folding may make another account's name match.
        && user.username == email
        && is_allowed_domain(provider, domain)
        && (!is_google(provider) || claims.hd.is_some_and(|hd| hd.eq_ignore_ascii_case(domain)))
        // No second factors exist yet.
        && may_link_automatically(user, false)
}

/// Finds or creates the user of a verified ID token and starts a session.
async fn sign_in(
    state: &AppState,
    provider: &ProviderSettings,
    token: &VerifiedToken,
    client: Option<&Client>,
    scopes: Vec<String>,
    origin: &Origin,
) -> Result<Issued, Refusal> {
    let user = find_or_create_user(state, provider, token).await?;
    if user.disabled {
        state.metrics.login("disabled");
        tracing::info!(user = %user.id, "outside sign-in refused: the user is disabled");
        return Err(Refusal::Disabled);
    }
    let issued = grants::start_family(&state.issuance(), &user, client, scopes, origin)
        .await
        .inspect_err(|_| state.metrics.login("error"))?;
    state.metrics.login("success");
    tracing::info!(user = %user.id, provider = %provider.name, "outside sign-in");
    Ok(issued)
}

async fn find_or_create_user(
    state: &AppState,
    provider: &ProviderSettings,
    token: &VerifiedToken,
) -> Result<User, Refusal> {
    let subject = token
        .subject()
        .ok_or(Refusal::InvalidToken("the ID token has no subject"))?;
    let claims = Claims::of(token);
    let identity = NewExternalIdentity {
        issuer: &provider.issuer,
        subject,
        email: claims.email,
        email_verified: claims.email_verified,
    };
    let now = state.clock.now();
    let linked = state
        .store
        .external_identity(&provider.issuer, subject)
        .await?;
    let fallback_name = fallback_username(provider, subject);
    let existing = match (&linked, claims.verified_email()) {
        (None, Some(email)) => state
            .store
            .user_by_username(email)
            .await?
            // The store may compare names loosely; linking compares them exactly.
            .filter(|user| user.username == email),
        _ => None,
    };
    let new_name: String;
    let target = match (&linked, &existing) {
        (Some(identity), _) => LinkTarget::User(&identity.user_id),
        (None, Some(user)) if may_join_existing(provider, &claims, Some(user)) => {
            // Checked again in the linking transaction: a password or role set meanwhile wins.
            LinkTarget::BareUser(&user.id)
        }
        (None, _) if !provider.create_users => {
            state.metrics.login("invalid_credentials");
            tracing::info!(provider = %provider.name, "outside sign-in refused: new identity and create_users = false");
            return Err(Refusal::NotPermitted(
                "this provider does not create accounts: sign in with your account and connect the provider from /account",
            ));
        }
        (None, existing) => {
            // Named after the verified e-mail in its RFC 8265 normal form, as every username
            // is, when no account has that name (or one that looks the same); else
            // `provider:sub`.
            let by_email = match (existing, claims.verified_email()) {
                (None, Some(email)) => match normalize_username(email) {
                    Ok(normal) if state.store.user_by_username(&normal).await?.is_none() => {
                        Some(normal)
                    }
                    _ => None,
                },
                _ => None,
            };
            new_name = by_email.unwrap_or(fallback_name);
            LinkTarget::NewUser(NewUser {
                username: &new_name,
                password_hash: None,
                roles: &[],
            })
        }
    };
    let login = state
        .store
        .find_or_link_external_identity(identity, target, now)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict { .. } => {
                Refusal::Conflict("an account of that name exists already and cannot be linked")
            }
            other => other.into(),
        })?;
    if login.outcome == LinkOutcome::Linked {
        tracing::info!(user = %login.user.id, provider = %provider.name, "outside identity linked to an existing account (link_existing = verified_email)");
    }
    Ok(login.user)
}

/// The name of a new user who has no usable e-mail: `provider:sub` in its RFC 8265 normal
/// form, or — when the subject holds characters usernames may not (a provider's ids are its
/// own business) — `provider:` and the first 16 bytes of SHA-256(sub) in hex.
fn fallback_username(provider: &ProviderSettings, subject: &str) -> String {
    normalize_username(&format!("{}:{subject}", provider.name)).unwrap_or_else(|_| {
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
        let hex: String = hash.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("{}:{hex}", provider.name);
        normalize_username(&name).unwrap_or(name)
    })
}

/// The RFC 8693 §2.2.1 answer: the token pair with `issued_token_type`.
pub(super) fn exchange_response(issued: &Issued) -> Response {
    let mut body = serde_json::json!({
        "access_token": issued.access.token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": issued.access.expires_in,
    });
    if let Some(refresh) = &issued.refresh {
        body["refresh_token"] = Value::from(refresh.expose());
    }
    if !issued.scopes.is_empty() {
        body["scope"] = Value::from(issued.scopes.join(" "));
    }
    (crate::http::no_store(), axum::Json(body)).into_response()
}

//! Sign-in with an outside identity provider ("Sign in with Google"): an ID token from one of
//! the configured `[[providers]]` is verified with `tessera-guard` against that provider's
//! JWKS, the user is found or created by (`iss`, `sub`), and tessera's own pair is returned —
//! at `POST /login/oidc` (the same answer as `/login`) and, for OAuth clients, through the
//! RFC 8693 token exchange grant of `/oauth2/token`.
//!
//! Linking: an identity seen before maps to its user. A new identity whose `email` is verified
//! by the provider (`email_verified: true`) is linked to the existing user of that name, or
//! creates a user named after the e-mail; an unverified e-mail is never used for linking (anyone
//! can claim an address), and the new user is named `provider:sub`.
//!
//! The hosted login page's "Sign in with …" (the authorization code flow, `web::oidc`) ends in
//! `sign_in_with_code_flow`: the same verification, linking and session start, plus the check
//! of the ID token's `nonce`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tessera_guard::{GOOGLE_ISSUER, GOOGLE_ISSUER_SHORT, IssuerConfig, VerifiedToken, Verifier};
use tessera_jwt::{Clock, SecretString};
use tokio::sync::OnceCell;

use super::grants::{self, GrantError, Issued, Origin};
use super::json_api::token_response;
use crate::app::ClientAddr;
use crate::config::{ProviderKeys, ProviderSettings};
use crate::error::{ApiError, Json};
use crate::state::AppState;
use crate::store::{Client, LinkTarget, NewExternalIdentity, NewUser};

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

/// The outside identity providers, and the verifier of their ID tokens. The verifier is built
/// on first use (it starts the providers' key fetching, which needs the runtime); `serve`
/// builds it at startup so that a misconfiguration shows at once.
pub struct Federation {
    providers: Vec<ProviderSettings>,
    clock: Arc<dyn Clock>,
    verifier: OnceCell<Arc<Verifier>>,
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
    let origin = Origin::new(address, &headers);
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
        return Err(ApiError::invalid_request(
            "subject_token_type must be urn:ietf:params:oauth:token-type:id_token",
        )
        .into());
    }
    if let Some(requested) = requested_token_type
        && requested != ACCESS_TOKEN_TYPE
    {
        return Err(ApiError::invalid_request(
            "requested_token_type must be urn:ietf:params:oauth:token-type:access_token",
        )
        .into());
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
    Unavailable(ApiError),
    /// The user the identity maps to is disabled.
    Disabled,
    /// A new identity's name is taken by an account it cannot be linked to (409).
    Conflict(ApiError),
    /// Anything else, already an answer (a bad request, the database failing).
    Other(GrantError),
}

impl From<Refusal> for GrantError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InvalidToken(why) => GrantError::InvalidGrant(why),
            Refusal::Unavailable(e) | Refusal::Conflict(e) => GrantError::Api(e),
            Refusal::Disabled => GrantError::InvalidGrant("the account cannot sign in"),
            Refusal::Other(e) => e,
        }
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Self::Other(e.into())
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
    let origin = Origin::new(address, headers);
    sign_in(state, provider, &token, None, Vec::new(), &origin).await
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
        return Err(ApiError::invalid_request("no outside identity provider is configured").into());
    }
    let wanted = match provider {
        Some(name) => Some(federation.provider(name).ok_or_else(|| {
            ApiError::invalid_request(format!("no identity provider is named {name:?}"))
        })?),
        None => None,
    };
    let verifier = federation.verifier().await.map_err(|e| {
        tracing::error!(error = %e, "the identity providers' verifier cannot be built");
        Refusal::Unavailable(ApiError::unavailable("outside sign-in is not available"))
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
            return Err(Refusal::Unavailable(ApiError::unavailable(
                "the identity provider's keys are not available; try again later",
            )));
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
    Ok((provider, token))
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
    let issued = grants::start_family(state, &user, client, scopes, origin)
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
) -> Result<crate::store::User, Refusal> {
    let subject = token
        .subject()
        .ok_or(Refusal::InvalidToken("the ID token has no subject"))?;
    let claims = token.claims_json();
    let email = claims.get("email").and_then(Value::as_str);
    // Google sends a boolean; some providers send the string "true".
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let now = state.clock.now();
    let verified_email = email.filter(|_| email_verified);
    let existing = match verified_email {
        Some(email) => state.store.user_by_username(email).await?,
        None => None,
    };
    let fallback_name = format!("{}:{subject}", provider.name);
    let target = match &existing {
        Some(user) => LinkTarget::User(&user.id),
        None => LinkTarget::NewUser(NewUser {
            username: verified_email.unwrap_or(&fallback_name),
            password_hash: None,
            roles: &[],
        }),
    };
    let login = state
        .store
        .find_or_link_external_identity(
            NewExternalIdentity {
                issuer: &provider.issuer,
                subject,
                email,
                email_verified,
            },
            target,
            now,
        )
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict { .. } => Refusal::Conflict(ApiError::new(
                StatusCode::CONFLICT,
                "account_conflict",
                "an account of that name exists already and cannot be linked",
            )),
            other => other.into(),
        })?;
    Ok(login.user)
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
    (super::no_store(), axum::Json(body)).into_response()
}

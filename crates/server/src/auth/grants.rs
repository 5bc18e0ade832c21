//! What `/login`, `/token/refresh` and `/oauth2/token` share: checking a password and starting
//! a refresh family, rotating a refresh token, issuing the tokens. The endpoints differ only
//! in how they read the request and word the refusal ([`GrantError`]).

use std::net::IpAddr;

use axum::http::{HeaderValue, header};
use tessera_jwt::SecretString;

use crate::error::ApiError;
use crate::password::{PasswordError, Verification};
use crate::state::AppState;
use crate::store::{Client, NewRefreshFamily, RefreshFamily, Rotation, User, revocation_reason};
use crate::throttle::AttemptError;
use crate::tokens::{
    self, AccessToken, AccessTokenSettings, NewRefreshToken, Subject, TokenError,
    presented_refresh_token,
};

/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT_LEN: usize = 256;

/// Why a grant was refused, before the endpoint words it.
#[derive(Debug)]
pub(crate) enum GrantError {
    /// Bad credentials, or a refresh token that cannot be used (`invalid_grant`: 401 at the
    /// JSON endpoints, 400 at `/oauth2/token`).
    InvalidGrant(&'static str),
    /// The right password of a disabled account. Worded like [`GrantError::InvalidGrant`]
    /// ([`BAD_CREDENTIALS`]) everywhere except the browser session, which tells the person.
    AccountDisabled,
    /// A scope beyond what may be granted (`invalid_scope`, 400).
    InvalidScope(&'static str),
    /// Anything else, already an HTTP answer (429, 503, 500).
    Api(ApiError),
}

impl From<ApiError> for GrantError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<crate::store::StoreError> for GrantError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Api(e.into())
    }
}

impl From<crate::keys::KeyError> for GrantError {
    fn from(e: crate::keys::KeyError) -> Self {
        Self::Api(e.into())
    }
}

impl From<TokenError> for GrantError {
    fn from(e: TokenError) -> Self {
        Self::Api(ApiError::internal(&e))
    }
}

impl From<PasswordError> for GrantError {
    fn from(e: PasswordError) -> Self {
        Self::Api(password_error(e))
    }
}

/// A password hashing failure as an answer: busy is 503 with `Retry-After`.
pub(crate) fn password_error(e: PasswordError) -> ApiError {
    match e {
        PasswordError::Busy => ApiError::unavailable("too many logins at once; retry in a moment")
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")),
        other => ApiError::internal(&other),
    }
}

impl GrantError {
    /// The answer of `/login` and `/token/refresh`: a refused grant is 401.
    pub(crate) fn for_json_api(self) -> ApiError {
        match self {
            Self::InvalidGrant(why) => ApiError::unauthorized("invalid_grant", why),
            Self::AccountDisabled => ApiError::unauthorized("invalid_grant", BAD_CREDENTIALS),
            Self::InvalidScope(why) => {
                ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_scope", why)
            }
            Self::Api(e) => e,
        }
    }

    /// The answer of `/oauth2/token` (RFC 6749 §5.2): a refused grant is 400.
    pub(crate) fn for_oauth(self) -> ApiError {
        match self {
            Self::InvalidGrant(why) => ApiError::invalid_grant(why),
            Self::AccountDisabled => ApiError::invalid_grant(BAD_CREDENTIALS),
            other => other.for_json_api(),
        }
    }
}

/// The one description of every refused password login.
pub(crate) const BAD_CREDENTIALS: &str = "the username or password is wrong";
/// The one description of every refused refresh token.
pub(crate) const BAD_REFRESH_TOKEN: &str = "the refresh token is invalid, expired or revoked";

/// Where a login comes from, kept with the session.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) address: IpAddr,
    pub(crate) user_agent: Option<String>,
}

impl Origin {
    pub(crate) fn new(address: IpAddr, headers: &axum::http::HeaderMap) -> Self {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT_LEN).collect());
        Self {
            address,
            user_agent,
        }
    }

    /// The address for throttling: none when unknown (`0.0.0.0` without connection info).
    fn throttle_address(&self) -> Option<IpAddr> {
        (!self.address.is_unspecified()).then_some(self.address)
    }
}

/// Tokens issued by a grant.
pub(crate) struct Issued {
    pub(crate) access: AccessToken,
    pub(crate) refresh: Option<SecretString>,
    /// When the refresh token's family ends (UNIX seconds; its absolute lifetime), if there is
    /// a refresh token.
    pub(crate) refresh_expires_at: Option<i64>,
    /// Scopes granted (to echo in the OAuth answer).
    pub(crate) scopes: Vec<String>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("access", &self.access)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

pub(crate) fn access_settings(state: &AppState) -> AccessTokenSettings {
    AccessTokenSettings {
        issuer: state.config.issuer.clone(),
        audience: state.config.audience.clone(),
        ttl: secs(state.config.tokens.access_ttl),
    }
}

pub(crate) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Checks a username and password; on success starts a refresh family (for `client`, with
/// `scopes`) and issues the pair.
pub(crate) async fn password(
    state: &AppState,
    username: &str,
    password: SecretString,
    client: Option<&Client>,
    scopes: Vec<String>,
    origin: &Origin,
) -> Result<Issued, GrantError> {
    // What was typed, in its RFC 8265 normal form (what is stored: "ALICE" is alice), also for
    // the throttle's key, so that variants share one bucket. A name without a normal form
    // cannot exist: the lookup is skipped, not the work.
    let normal = crate::accounts::normalize_username(username).ok();
    let attempt = match &state.auth.throttle {
        Some(throttle) => {
            match throttle
                .attempt(
                    &state.store,
                    normal.as_deref().unwrap_or(username),
                    origin.throttle_address(),
                )
                .await
            {
                Ok(attempt) => Some(attempt),
                Err(AttemptError::Throttled(throttled)) => {
                    state.metrics.login("throttled");
                    tracing::info!(address = %origin.address, "login throttled");
                    return Err(ApiError::too_many_requests(std::time::Duration::from_secs(
                        throttled.retry_after,
                    ))
                    .into());
                }
                Err(AttemptError::Store(e)) => {
                    state.metrics.login("error");
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    // An account that failed too often: wait before checking (a timer, no thread blocked, no
    // connection held), at most half the request timeout so that the answer still arrives.
    if let Some(attempt) = &attempt
        && !attempt.delay().is_zero()
    {
        let delay = attempt.delay().min(state.config.http.request_timeout / 2);
        tracing::info!(
            address = %origin.address,
            delay_secs = delay.as_secs_f32(),
            "login delayed: the account failed too often"
        );
        tokio::time::sleep(delay).await;
    }

    let user = match &normal {
        Some(name) => state.store.user_by_username(name).await.inspect_err(|_| {
            state.metrics.login("error");
        })?,
        None => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let rehash_password = stored.is_some().then(|| password.clone());
    let verdict = state
        .auth
        .passwords
        .verify(password, stored)
        .await
        .inspect_err(|e| {
            state.metrics.login(match e {
                PasswordError::Busy => "busy",
                _ => "error",
            });
        })?;

    let (user, needs_rehash) = match (user, verdict) {
        (Some(user), Verification::Match { needs_rehash }) if !user.disabled => {
            (user, needs_rehash)
        }
        (Some(user), Verification::Match { .. }) => {
            state.metrics.login("disabled");
            tracing::info!(user = %user.id, "login refused: the user is disabled");
            return Err(GrantError::AccountDisabled);
        }
        _ => {
            state.metrics.login("invalid_credentials");
            return Err(GrantError::InvalidGrant(BAD_CREDENTIALS));
        }
    };
    if let (Some(throttle), Some(attempt)) = (&state.auth.throttle, attempt)
        && let Err(e) = throttle.succeeded(&*state.store, attempt).await
    {
        // The login stands; its attempts stay counted until their buckets refill.
        tracing::warn!(error = %e, "giving back a successful login's attempts failed");
    }
    if needs_rehash && let Some(password) = rehash_password {
        spawn_rehash(state, &user, password);
    }

    let issued = start_family(state, &user, client, scopes, origin)
        .await
        .inspect_err(|_| state.metrics.login("error"))?;
    state.metrics.login("success");
    tracing::info!(user = %user.id, client = ?client.map(|c| &c.client_id), "login");
    Ok(issued)
}

/// Stores a hash with the current parameters, in the background (the login does not wait).
/// The hash is written only if the stored one is still the one that was verified, in one
/// compare-and-set ([`Store::set_password_hash_if`](crate::store::Store::set_password_hash_if)),
/// so a password changed meanwhile (`tessera user passwd`) is never overwritten.
fn spawn_rehash(state: &AppState, user: &User, password: SecretString) {
    let state = state.clone();
    let id = user.id.clone();
    let Some(verified) = user.password_hash.clone() else {
        return;
    };
    tokio::spawn(async move {
        let hash = match state.auth.passwords.hash(password).await {
            Ok(hash) => hash,
            Err(e) => {
                tracing::warn!(user = %id, error = %e, "rehashing a password failed");
                return;
            }
        };
        let now = state.clock.now();
        match state
            .store
            .set_password_hash_if(&id, &verified, &hash, now)
            .await
        {
            Ok(true) => tracing::info!(user = %id, "password rehashed with the current parameters"),
            Ok(false) => {
                tracing::info!(user = %id, "rehash skipped: the password changed meanwhile")
            }
            Err(e) => tracing::warn!(user = %id, error = %e, "storing a rehashed password failed"),
        }
    });
}

/// A new refresh family for `user` and its first pair.
pub(crate) async fn start_family(
    state: &AppState,
    user: &User,
    client: Option<&Client>,
    scopes: Vec<String>,
    origin: &Origin,
) -> Result<Issued, GrantError> {
    let now = state.clock.now();
    let refresh = NewRefreshToken::generate()?;
    let tokens_config = &state.config.tokens;
    let address = origin.address.to_string();
    let (family, _) = state
        .store
        .create_refresh_family(
            NewRefreshFamily {
                user_id: &user.id,
                client_id: client.map(|c| c.client_id.as_str()),
                scopes: &scopes,
                expires_at: now.saturating_add(secs(tokens_config.refresh_ttl).max(1)),
                idle_ttl: secs(tokens_config.refresh_idle_ttl).max(1),
                user_agent: origin.user_agent.as_deref(),
                client_address: Some(&address),
            },
            &refresh.hash,
            now,
        )
        .await?;
    // Sessions per user are capped (issue 9): the least recently used ones beyond the cap go.
    let capped = state
        .store
        .revoke_families_beyond(
            &user.id,
            &family.id,
            state.config.sessions.max_per_user,
            revocation_reason::SESSION_LIMIT,
            now,
        )
        .await?;
    if capped > 0 {
        tracing::info!(user = %user.id, revoked = capped, "session limit reached: oldest sessions revoked");
    }
    issue(state, user, &family, &scopes, refresh.value, now)
}

/// Signs the access token of a pair (scopes may be narrower than the family's).
fn issue(
    state: &AppState,
    user: &User,
    family: &RefreshFamily,
    scopes: &[String],
    refresh: SecretString,
    now: i64,
) -> Result<Issued, GrantError> {
    let signer = state.keys.signer()?;
    let access = tokens::access_token(
        &signer,
        &access_settings(state),
        &Subject {
            sub: &user.id,
            roles: &user.roles,
            sid: Some(&family.id),
            client_id: family.client_id.as_deref(),
            scopes,
        },
        now,
    )?;
    state.metrics.token_issued("access");
    state.metrics.token_issued("refresh");
    Ok(Issued {
        access,
        refresh: Some(refresh),
        refresh_expires_at: Some(family.expires_at),
        scopes: scopes.to_vec(),
    })
}

/// Rotates a refresh token presented by `client` (`None`: tessera's own clients, at
/// `/token/refresh` or `/oauth2/token` without client authentication). `requested` narrows
/// the access token's scopes (RFC 6749 §6); the family keeps its own.
pub(crate) async fn refresh(
    state: &AppState,
    presented: &str,
    client: Option<&Client>,
    requested: Option<Vec<String>>,
) -> Result<Issued, GrantError> {
    let refused = |outcome: &str| {
        state.metrics.refresh(outcome);
        GrantError::InvalidGrant(BAD_REFRESH_TOKEN)
    };
    let Some(hash) = presented_refresh_token(presented) else {
        return Err(refused("unknown"));
    };
    // The client binding is checked before anything changes: a token presented by the wrong
    // client is refused without being used up.
    let record = state
        .store
        .refresh_token(&hash)
        .await
        .inspect_err(|_| state.metrics.refresh("error"))?;
    let Some(record) = record else {
        return Err(refused("unknown"));
    };
    if record.family.client_id.as_deref() != client.map(|c| c.client_id.as_str()) {
        tracing::info!(family = %record.family.id, "refresh refused: presented by another client");
        return Err(refused("wrong_client"));
    }
    let scopes = match requested {
        None => record.family.scopes.clone(),
        Some(requested) => {
            if !requested.iter().all(|s| record.family.scopes.contains(s)) {
                state.metrics.refresh("invalid_scope");
                return Err(GrantError::InvalidScope(
                    "the requested scope exceeds what was granted",
                ));
            }
            requested
        }
    };

    let successor = NewRefreshToken::generate()?;
    let now = state.clock.now();
    let grace = secs(state.config.tokens.refresh_reuse_grace);
    let rotation = state
        .store
        .rotate_refresh_token(&hash, &successor.hash, now, grace)
        .await
        .inspect_err(|_| state.metrics.refresh("error"))?;
    match rotation {
        Rotation::Rotated { family, user, .. } => {
            let issued = issue(state, &user, &family, &scopes, successor.value, now)?;
            state.metrics.refresh("success");
            Ok(issued)
        }
        Rotation::Grace { family, user, .. } => {
            let issued = issue(state, &user, &family, &scopes, successor.value, now)?;
            state.metrics.refresh("grace");
            tracing::info!(family = %family.id, "refresh retried within the grace window");
            Ok(issued)
        }
        Rotation::ReuseDetected { family_id, user_id } => {
            state.metrics.reuse_detected();
            tracing::warn!(
                family = %family_id, user = %user_id,
                "a used refresh token was presented again: the session is revoked"
            );
            Err(refused("reuse_detected"))
        }
        Rotation::Revoked { .. } => Err(refused("revoked")),
        Rotation::Expired { .. } => Err(refused("expired")),
        Rotation::UserDisabled { family_id, .. } => {
            if let Err(e) = state
                .store
                .revoke_refresh_family(&family_id, revocation_reason::USER_DISABLED, now)
                .await
            {
                tracing::warn!(family = %family_id, error = %e, "revoking a disabled user's session failed");
            }
            Err(refused("disabled"))
        }
        Rotation::Unknown => Err(refused("unknown")),
    }
}

/// Revokes the family of a refresh token, if it is one (logout, RFC 7009). `Ok(None)`: not a
/// refresh token of ours. `Ok(Some(family))`: its family (now revoked).
pub(crate) async fn revoke_refresh_token(
    state: &AppState,
    presented: &str,
    client: Option<&Client>,
    check_client: bool,
) -> Result<Option<RefreshFamily>, ApiError> {
    let Some(hash) = presented_refresh_token(presented) else {
        return Ok(None);
    };
    let Some(record) = state.store.refresh_token(&hash).await? else {
        return Ok(None);
    };
    if check_client && record.family.client_id.as_deref() != client.map(|c| c.client_id.as_str()) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the token was not issued to this client",
        ));
    }
    let now = state.clock.now();
    if state
        .store
        .revoke_refresh_family(&record.family.id, revocation_reason::LOGOUT, now)
        .await?
    {
        tracing::info!(family = %record.family.id, "session revoked");
    }
    Ok(Some(record.family))
}

/// An access token for a client acting for itself (`client_credentials`).
pub(crate) fn client_token(
    state: &AppState,
    client: &Client,
    scopes: Vec<String>,
) -> Result<Issued, GrantError> {
    let now = state.clock.now();
    let signer = state.keys.signer()?;
    let access = tokens::access_token(
        &signer,
        &access_settings(state),
        &Subject {
            sub: &client.client_id,
            roles: &[],
            sid: None,
            client_id: Some(&client.client_id),
            scopes: &scopes,
        },
        now,
    )?;
    state.metrics.token_issued("access");
    Ok(Issued {
        access,
        refresh: None,
        refresh_expires_at: None,
        scopes,
    })
}

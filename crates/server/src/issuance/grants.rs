//! What `/login`, `/token/refresh`, `/oauth2/token`, the browser session and outside sign-ins
//! share: checking a password and starting a refresh family, rotating a refresh token,
//! issuing the tokens, revoking a family. The endpoints differ only in how they read the
//! request and word the refusal ([`GrantError`], worded in [`error`](crate::error)).

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tessera_jwt::SecretString;

use super::Issuance;
use crate::keys::KeyError;
use crate::password::{PasswordError, Verification};
use crate::store::{
    Client, NewRefreshFamily, RefreshFamily, Rotation, StoreError, User, revocation_reason,
};
use crate::throttle::AttemptError;
use crate::tokens::{
    self, AccessToken, AccessTokenSettings, NewRefreshToken, Subject, TokenError,
    presented_refresh_token,
};

/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT_LEN: usize = 256;

/// Why a grant was refused or failed, before the endpoint words it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GrantError {
    /// Bad credentials, or a refresh token that cannot be used (`invalid_grant`: 401 at the
    /// JSON endpoints, 400 at `/oauth2/token`).
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// The right password of a disabled account. Worded like [`GrantError::InvalidGrant`]
    /// ([`BAD_CREDENTIALS`]) everywhere except the browser session, which tells the person.
    #[error("the account is disabled")]
    AccountDisabled,
    /// A scope beyond what may be granted (`invalid_scope`).
    #[error("{0}")]
    InvalidScope(&'static str),
    /// The request names something that does not exist or is not set up (`invalid_request`).
    #[error("{0}")]
    InvalidRequest(Cow<'static, str>),
    /// A token presented by a client it was not issued to (`unauthorized_client`).
    #[error("the token was not issued to this client")]
    WrongClient,
    /// Too many attempts for this account or address: wait this long.
    #[error("too many attempts")]
    Throttled(Duration),
    /// Too many password hashes at once: retry in a moment.
    #[error("too many logins at once")]
    PasswordsBusy,
    /// Something outside is not available now (an identity provider's keys): retry later.
    #[error("{0}")]
    Unavailable(&'static str),
    /// A new account's name is taken by one it cannot be linked to (`account_conflict`).
    #[error("{0}")]
    AccountConflict(&'static str),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing keys.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Minting a token failed (a bug or the system's randomness).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Hashing a password failed (other than being busy).
    #[error(transparent)]
    Password(PasswordError),
}

impl From<PasswordError> for GrantError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => Self::PasswordsBusy,
            other => Self::Password(other),
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
    /// A login from `address` with this `User-Agent` (kept to its first 256 characters).
    pub(crate) fn new(address: IpAddr, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_LEN).collect());
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

pub(crate) fn access_settings(deps: &Issuance<'_>) -> AccessTokenSettings {
    AccessTokenSettings {
        issuer: deps.config.issuer.clone(),
        audience: deps.config.audience.clone(),
        ttl: secs(deps.config.tokens.access_ttl),
    }
}

pub(crate) fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Checks a username and password; on success starts a refresh family (for `client`, with
/// `scopes`) and issues the pair.
pub(crate) async fn password(
    deps: &Issuance<'_>,
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
    let attempt = match deps.throttle {
        Some(throttle) => {
            match throttle
                .attempt(
                    deps.store,
                    normal.as_deref().unwrap_or(username),
                    origin.throttle_address(),
                )
                .await
            {
                Ok(attempt) => Some(attempt),
                Err(AttemptError::Throttled(throttled)) => {
                    deps.metrics.login("throttled");
                    tracing::info!(address = %origin.address, "login throttled");
                    return Err(GrantError::Throttled(Duration::from_secs(
                        throttled.retry_after,
                    )));
                }
                Err(AttemptError::Store(e)) => {
                    deps.metrics.login("error");
                    return Err(GrantError::Store(e));
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
        let delay = attempt.delay().min(deps.config.http.request_timeout / 2);
        tracing::info!(
            address = %origin.address,
            delay_secs = delay.as_secs_f32(),
            "login delayed: the account failed too often"
        );
        tokio::time::sleep(delay).await;
    }

    let user = match &normal {
        Some(name) => deps.store.user_by_username(name).await.inspect_err(|_| {
            deps.metrics.login("error");
        })?,
        None => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let rehash_password = stored.is_some().then(|| password.clone());
    let verdict = deps
        .passwords
        .verify(password, stored)
        .await
        .inspect_err(|e| {
            deps.metrics.login(match e {
                PasswordError::Busy => "busy",
                _ => "error",
            });
        })?;

    let (user, needs_rehash) = match (user, verdict) {
        (Some(user), Verification::Match { needs_rehash }) if !user.disabled => {
            (user, needs_rehash)
        }
        (Some(user), Verification::Match { .. }) => {
            deps.metrics.login("disabled");
            tracing::info!(user = %user.id, "login refused: the user is disabled");
            return Err(GrantError::AccountDisabled);
        }
        _ => {
            deps.metrics.login("invalid_credentials");
            return Err(GrantError::InvalidGrant(BAD_CREDENTIALS));
        }
    };
    if let (Some(throttle), Some(attempt)) = (deps.throttle, attempt)
        && let Err(e) = throttle.succeeded(&**deps.store, attempt).await
    {
        // The login stands; its attempts stay counted until their buckets refill.
        tracing::warn!(error = %e, "giving back a successful login's attempts failed");
    }
    if needs_rehash && let Some(password) = rehash_password {
        spawn_rehash(deps, &user, password);
    }

    let issued = start_family(deps, &user, client, scopes, origin)
        .await
        .inspect_err(|_| deps.metrics.login("error"))?;
    deps.metrics.login("success");
    tracing::info!(user = %user.id, client = ?client.map(|c| &c.client_id), "login");
    Ok(issued)
}

/// Stores a hash with the current parameters, in the background (the login does not wait).
/// The hash is written only if the stored one is still the one that was verified, in one
/// compare-and-set ([`Store::set_password_hash_if`](crate::store::Store::set_password_hash_if)),
/// so a password changed meanwhile (`tessera user passwd`) is never overwritten.
fn spawn_rehash(deps: &Issuance<'_>, user: &User, password: SecretString) {
    let (store, clock, passwords) = (
        Arc::clone(deps.store),
        Arc::clone(deps.clock),
        deps.passwords.clone(),
    );
    let id = user.id.clone();
    let Some(verified) = user.password_hash.clone() else {
        return;
    };
    tokio::spawn(async move {
        let hash = match passwords.hash(password).await {
            Ok(hash) => hash,
            Err(e) => {
                tracing::warn!(user = %id, error = %e, "rehashing a password failed");
                return;
            }
        };
        let now = clock.now();
        match store.set_password_hash_if(&id, &verified, &hash, now).await {
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
    deps: &Issuance<'_>,
    user: &User,
    client: Option<&Client>,
    scopes: Vec<String>,
    origin: &Origin,
) -> Result<Issued, GrantError> {
    let now = deps.clock.now();
    let refresh = NewRefreshToken::generate()?;
    let tokens_config = &deps.config.tokens;
    let address = origin.address.to_string();
    let (family, _) = deps
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
    let capped = deps
        .store
        .revoke_families_beyond(
            &user.id,
            &family.id,
            deps.config.sessions.max_per_user,
            revocation_reason::SESSION_LIMIT,
            now,
        )
        .await?;
    if capped > 0 {
        tracing::info!(user = %user.id, revoked = capped, "session limit reached: oldest sessions revoked");
    }
    issue(deps, user, &family, &scopes, refresh.value, now)
}

/// Signs the access token of a pair (scopes may be narrower than the family's).
fn issue(
    deps: &Issuance<'_>,
    user: &User,
    family: &RefreshFamily,
    scopes: &[String],
    refresh: SecretString,
    now: i64,
) -> Result<Issued, GrantError> {
    let signer = deps.keys.signer()?;
    let access = tokens::access_token(
        &signer,
        &access_settings(deps),
        &Subject {
            sub: &user.id,
            roles: &user.roles,
            sid: Some(&family.id),
            client_id: family.client_id.as_deref(),
            scopes,
        },
        now,
    )?;
    deps.metrics.token_issued("access");
    deps.metrics.token_issued("refresh");
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
    deps: &Issuance<'_>,
    presented: &str,
    client: Option<&Client>,
    requested: Option<Vec<String>>,
) -> Result<Issued, GrantError> {
    let refused = |outcome: &str| {
        deps.metrics.refresh(outcome);
        GrantError::InvalidGrant(BAD_REFRESH_TOKEN)
    };
    let Some(hash) = presented_refresh_token(presented) else {
        return Err(refused("unknown"));
    };
    // The client binding is checked before anything changes: a token presented by the wrong
    // client is refused without being used up.
    let record = deps
        .store
        .refresh_token(&hash)
        .await
        .inspect_err(|_| deps.metrics.refresh("error"))?;
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
                deps.metrics.refresh("invalid_scope");
                return Err(GrantError::InvalidScope(
                    "the requested scope exceeds what was granted",
                ));
            }
            requested
        }
    };

    let successor = NewRefreshToken::generate()?;
    let now = deps.clock.now();
    let grace = secs(deps.config.tokens.refresh_reuse_grace);
    let rotation = deps
        .store
        .rotate_refresh_token(&hash, &successor.hash, now, grace)
        .await
        .inspect_err(|_| deps.metrics.refresh("error"))?;
    match rotation {
        Rotation::Rotated { family, user, .. } => {
            let issued = issue(deps, &user, &family, &scopes, successor.value, now)?;
            deps.metrics.refresh("success");
            Ok(issued)
        }
        Rotation::Grace { family, user, .. } => {
            let issued = issue(deps, &user, &family, &scopes, successor.value, now)?;
            deps.metrics.refresh("grace");
            tracing::info!(family = %family.id, "refresh retried within the grace window");
            Ok(issued)
        }
        Rotation::ReuseDetected { family_id, user_id } => {
            deps.metrics.reuse_detected();
            tracing::warn!(
                family = %family_id, user = %user_id,
                "a used refresh token was presented again: the session is revoked"
            );
            Err(refused("reuse_detected"))
        }
        Rotation::Revoked { .. } => Err(refused("revoked")),
        Rotation::Expired { .. } => Err(refused("expired")),
        Rotation::UserDisabled { family_id, .. } => {
            if let Err(e) = deps
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
    deps: &Issuance<'_>,
    presented: &str,
    client: Option<&Client>,
    check_client: bool,
) -> Result<Option<RefreshFamily>, GrantError> {
    let Some(hash) = presented_refresh_token(presented) else {
        return Ok(None);
    };
    let Some(record) = deps.store.refresh_token(&hash).await? else {
        return Ok(None);
    };
    if check_client && record.family.client_id.as_deref() != client.map(|c| c.client_id.as_str()) {
        return Err(GrantError::WrongClient);
    }
    let now = deps.clock.now();
    if deps
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
    deps: &Issuance<'_>,
    client: &Client,
    scopes: Vec<String>,
) -> Result<Issued, GrantError> {
    let now = deps.clock.now();
    let signer = deps.keys.signer()?;
    let access = tokens::access_token(
        &signer,
        &access_settings(deps),
        &Subject {
            sub: &client.client_id,
            roles: &[],
            sid: None,
            client_id: Some(&client.client_id),
            scopes: &scopes,
        },
        now,
    )?;
    deps.metrics.token_issued("access");
    Ok(Issued {
        access,
        refresh: None,
        refresh_expires_at: None,
        scopes,
    })
}

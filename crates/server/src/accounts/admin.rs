//! The administration of users: the one service behind the administration commands
//! (`tessera user add|disable|enable|set-roles|passwd|delete`) and the admin API
//! (`/admin/api/users…`), so that both accept the same input and do the same thing — the same
//! checks, the same sessions ended, the same log lines.
//!
//! Each operation takes the user by id (the CLI finds it by name first, with
//! [`find_user`](super::find_user)), and who asks ([`Actor`]): an administrator through the API
//! may not disable or delete their own account nor drop their own `admin` role (the last
//! administrator could otherwise lock everyone out), and a password they set must be at least
//! [`MIN_PASSWORD_CHARS`](super::MIN_PASSWORD_CHARS) characters; an operator at the CLI (who
//! holds the database already) may do all of it.

use tessera_jwt::SecretString;

use super::input::{InvalidInput, check_new_password, check_password, check_roles};
use super::{normalize_username, username_taken};
use crate::password::{PasswordError, Passwords};
use crate::store::{NewUser, Store, StoreError, User, UserDeletion, revocation_reason};

/// The role whose holders administer the issuer.
pub const ADMIN_ROLE: &str = "admin";

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// An operator at the command line.
    Cli,
    /// An administrator through the admin API, by user id.
    Admin(&'a str),
}

impl Actor<'_> {
    fn is(&self, user_id: &str) -> bool {
        matches!(self, Self::Admin(id) if *id == user_id)
    }

    /// For log lines.
    fn label(&self) -> &str {
        match self {
            Self::Cli => "(cli)",
            Self::Admin(id) => id,
        }
    }

    /// The password rule of this actor.
    fn check_password(&self, password: &str) -> Result<(), InvalidInput> {
        match self {
            Self::Cli => check_password(password),
            Self::Admin(_) => check_new_password(password),
        }
    }
}

/// Why an administration step was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The input breaks a rule (a username, a role, a password).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// No user has this id.
    #[error("no user has this id")]
    NoSuchUser,
    /// The username (in its normal form) belongs to someone already.
    #[error("a user named {0:?} exists")]
    Taken(String),
    /// An administrator asked to do to their own account what only another may do.
    #[error("{0}")]
    OwnAccount(&'static str),
    /// The password could not be hashed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what: "user", .. } => Self::NoSuchUser,
            other => Self::Store(other),
        }
    }
}

/// A new user with a password and roles. The username is stored in its RFC 8265 normal form
/// and must be free in any spelling (rows made before those rules included).
pub async fn add_user(
    store: &dyn Store,
    passwords: &Passwords,
    username: &str,
    password: SecretString,
    roles: &[String],
    actor: Actor<'_>,
    now: i64,
) -> Result<User, AdminError> {
    let username = normalize_username(username)?;
    let roles = check_roles(roles)?;
    actor.check_password(password.expose())?;
    if username_taken(store, &username, None).await? {
        return Err(AdminError::Taken(username));
    }
    let hash = passwords.hash(password).await?;
    let created = store
        .create_user(
            NewUser {
                username: &username,
                password_hash: Some(&hash),
                roles: &roles,
            },
            now,
        )
        .await;
    let user = match created {
        Err(StoreError::Conflict { .. }) => return Err(AdminError::Taken(username)),
        other => other?,
    };
    tracing::info!(admin = actor.label(), user = %user.id, "user added");
    Ok(user)
}

/// Disables (and then ends every session of) or enables a user: how many sessions ended.
/// Enabling does not bring ended sessions back.
pub async fn set_disabled(
    store: &dyn Store,
    user_id: &str,
    disabled: bool,
    actor: Actor<'_>,
    now: i64,
) -> Result<u64, AdminError> {
    if disabled && actor.is(user_id) {
        return Err(AdminError::OwnAccount(
            "you cannot disable your own account; ask another administrator",
        ));
    }
    store.set_user_disabled(user_id, disabled, now).await?;
    if !disabled {
        tracing::info!(admin = actor.label(), user = %user_id, "user enabled");
        return Ok(0);
    }
    let revoked = store
        .revoke_user_refresh_families(user_id, revocation_reason::USER_DISABLED, now)
        .await?;
    tracing::info!(admin = actor.label(), user = %user_id, revoked, "user disabled");
    Ok(revoked)
}

/// Replaces a user's roles (checked, duplicates dropped): the roles stored. Tokens carry the
/// roles of their issue: the change shows at the next refresh.
pub async fn set_roles(
    store: &dyn Store,
    user_id: &str,
    roles: &[String],
    actor: Actor<'_>,
    now: i64,
) -> Result<Vec<String>, AdminError> {
    let roles = check_roles(roles)?;
    if actor.is(user_id) && !roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(AdminError::OwnAccount(
            "you cannot remove your own admin role; ask another administrator",
        ));
    }
    store.set_user_roles(user_id, &roles, now).await?;
    tracing::info!(admin = actor.label(), user = %user_id, roles = ?roles, "user roles set");
    Ok(roles)
}

/// Sets a user's password and ends every session of the user: how many ended.
pub async fn set_password(
    store: &dyn Store,
    passwords: &Passwords,
    user_id: &str,
    password: SecretString,
    actor: Actor<'_>,
    now: i64,
) -> Result<u64, AdminError> {
    actor.check_password(password.expose())?;
    let hash = passwords.hash(password).await?;
    store
        .set_user_password_hash(user_id, Some(&hash), now)
        .await?;
    let revoked = store
        .revoke_user_refresh_families(user_id, revocation_reason::PASSWORD_CHANGED, now)
        .await?;
    tracing::info!(admin = actor.label(), user = %user_id, revoked, "user password set");
    Ok(revoked)
}

/// Deletes a user in one transaction: its sessions (refresh families and their tokens, which
/// are refused from then on), its linked outside identities, the user. Access tokens already
/// issued to the user stay valid until they expire (minutes), except where the session or
/// the user is checked (`/sessions`, the admin API).
pub async fn delete_user(
    store: &dyn Store,
    user_id: &str,
    actor: Actor<'_>,
    now: i64,
) -> Result<UserDeletion, AdminError> {
    if actor.is(user_id) {
        return Err(AdminError::OwnAccount(
            "you cannot delete your own account; ask another administrator",
        ));
    }
    let deleted = store.delete_user(user_id, now).await?;
    tracing::info!(
        user = %user_id,
        admin = actor.label(),
        sessions = deleted.sessions,
        identities = deleted.identities,
        "user deleted"
    );
    Ok(deleted)
}

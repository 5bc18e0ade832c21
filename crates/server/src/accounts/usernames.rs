//! Usernames in the store (RFC 8265): the startup check that brings every stored name to its
//! normal form, the lookup an operator uses, and renaming.

use std::collections::BTreeMap;

use super::input::{InvalidInput, normalize_username};
use crate::store::{Store, StoreError, User};

/// Why usernames cannot be reconciled, or a user cannot be renamed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsernameError {
    /// Stored usernames that are one name once normalised: nothing is merged or deleted; the
    /// operator renames all but one. Each group is the stored names (escaped) and their ids.
    #[error(
        "usernames that are the same name under RFC 8265 (case, width, Unicode normalisation): \
         {}; rename all but one of each group with `tessera user rename OLD NEW`, then start again",
        show_groups(.0)
    )]
    Collisions(Vec<Vec<(String, String)>>),
    /// No user has this name.
    #[error("no user named {0:?}")]
    NotFound(String),
    /// The new name belongs to another user (perhaps in another case or width).
    #[error("the username {0:?} is taken")]
    Taken(String),
    /// The new name is not a valid username.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn show_groups(groups: &[Vec<(String, String)>]) -> String {
    groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|(id, name)| format!("{name:?} (id {id})"))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What [`reconcile_usernames`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsernameReport {
    /// Rows rewritten to their normal form: `(id, old name, new name)`.
    pub rewritten: Vec<(String, String, String)>,
    /// Rows whose name has no normal form (made before these rules): `(id, name)`. Left as
    /// they are; nobody can sign in with a password under such a name until it is renamed.
    pub unusable: Vec<(String, String)>,
}

/// Brings every stored username to its normal form ([`normalize_username`]), so that a login
/// (which normalises what was typed) finds it and the unique index on usernames keeps out
/// look-alikes. Run by `tessera serve` before it listens (a SQL migration cannot run PRECIS).
///
/// - Names that collide once normalised: nothing is changed, [`UsernameError::Collisions`]
///   lists them all.
/// - A name not yet in normal form that collides with nobody is rewritten (the id, the `sub`
///   of tokens, stays), with a log line.
/// - A name with no normal form is left alone, with a warning.
pub async fn reconcile_usernames(
    store: &dyn Store,
    now: i64,
) -> Result<UsernameReport, UsernameError> {
    let mut report = UsernameReport::default();
    let mut by_normal: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (id, name) in store.usernames().await? {
        match normalize_username(&name) {
            Ok(normal) => by_normal.entry(normal).or_default().push((id, name)),
            Err(_) => report.unusable.push((id, name)),
        }
    }
    let collisions: Vec<_> = by_normal
        .values()
        .filter(|group| group.len() > 1)
        .cloned()
        .collect();
    if !collisions.is_empty() {
        return Err(UsernameError::Collisions(collisions));
    }
    for (normal, group) in by_normal {
        for (id, name) in group {
            if name != normal {
                store.rename_user(&id, &normal, now).await?;
                tracing::info!(user = %id, from = ?name, to = ?normal,
                    "username rewritten to its RFC 8265 normal form");
                report.rewritten.push((id, name, normal.clone()));
            }
        }
    }
    for (id, name) in &report.unusable {
        tracing::warn!(user = %id, username = ?name,
            "this username is not valid under RFC 8265: password sign-in cannot reach it; \
             rename it with `tessera user rename OLD NEW`");
    }
    Ok(report)
}

/// The user an operator names: the stored name exactly (so that a name made before these
/// rules can still be addressed), else its normal form.
pub async fn find_user(store: &dyn Store, name: &str) -> Result<Option<User>, StoreError> {
    if let Some(user) = store.user_by_username(name).await? {
        return Ok(Some(user));
    }
    match normalize_username(name) {
        Ok(normal) if normal != name => store.user_by_username(&normal).await,
        _ => Ok(None),
    }
}

/// Whether a user other than `except` has the name `normal` (a normal form), or a stored
/// name not yet in normal form (before the first start with these rules) that normalises
/// to it. Reads every name: for the administration commands, not for logins.
pub async fn username_taken(
    store: &dyn Store,
    normal: &str,
    except: Option<&str>,
) -> Result<bool, StoreError> {
    Ok(store.usernames().await?.into_iter().any(|(id, name)| {
        except != Some(id.as_str())
            && (name == normal || normalize_username(&name).is_ok_and(|n| n == normal))
    }))
}

/// `tessera user rename OLD NEW`: `new` is normalised and must be free (no other user's name
/// normalises to it either); the id, the `sub` of tokens, does not change.
pub async fn rename_user(
    store: &dyn Store,
    old: &str,
    new: &str,
    now: i64,
) -> Result<User, UsernameError> {
    let user = find_user(store, old)
        .await?
        .ok_or_else(|| UsernameError::NotFound(old.to_owned()))?;
    let new = normalize_username(new)?;
    if username_taken(store, &new, Some(&user.id)).await? {
        return Err(UsernameError::Taken(new));
    }
    match store.rename_user(&user.id, &new, now).await {
        Err(StoreError::Conflict { .. }) => return Err(UsernameError::Taken(new)),
        other => other?,
    }
    tracing::info!(user = %user.id, from = ?user.username, to = ?new, "user renamed");
    store
        .user_by_id(&user.id)
        .await?
        .ok_or(UsernameError::NotFound(new))
}

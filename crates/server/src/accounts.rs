//! The rules for what an administrator enters — usernames, roles, passwords, OAuth client
//! names and scopes — in one place, so that the admin API (`/admin/api/…`) and the
//! administration commands (`tessera user …`, `tessera client add`) accept exactly the same.
//!
//! Usernames follow RFC 8265 (PRECIS, the UsernameCaseMapped profile): one normal form per
//! name, so that one person has one account and look-alikes cannot be created — see
//! [`normalize_username`]. Existing rows are brought to that form at startup
//! ([`reconcile_usernames`]), never merged: names that collide stop the start until an
//! operator runs `tessera user rename OLD NEW` ([`rename_user`]).
//!
//! ```
//! use tessera_server::accounts;
//! assert!(accounts::check_username("alice").is_ok());
//! assert!(accounts::check_username(" alice").is_err());
//! assert_eq!(accounts::normalize_username("ＡＬＩＣＥ").unwrap(), "alice");
//! assert_eq!(accounts::check_roles(&["admin".into(), "admin".into()]).unwrap(), ["admin"]);
//! assert!(accounts::check_password("short").is_ok());
//! assert!(accounts::check_new_password("short").is_err());
//! ```

use std::collections::BTreeMap;

use precis_profiles::UsernameCaseMapped;
use precis_profiles::precis_core::profile::PrecisFastInvocation as _;
use precis_profiles::precis_core::{DerivedPropertyValue, Error as PrecisError};

use crate::password::MAX_PASSWORD_LEN;
use crate::store::{Store, StoreError, User};

/// Longest username, in bytes.
pub const MAX_USERNAME_LEN: usize = 256;
/// Longest role, in bytes.
pub const MAX_ROLE_LEN: usize = 128;
/// Shortest password set through the admin API, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest client name, in bytes.
pub const MAX_CLIENT_NAME_LEN: usize = 256;

/// Why an input is refused: a sentence for the person who typed it. It never repeats a
/// password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(String);

fn invalid(why: impl Into<String>) -> InvalidInput {
    InvalidInput(why.into())
}

/// At most the first `n` characters of `s`, for an error message.
fn shown(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Whether [`normalize_username`] accepts `name` (the name stored is its normal form).
pub fn check_username(name: &str) -> Result<(), InvalidInput> {
    normalize_username(name).map(drop)
}

/// The longest username accepted as typed, before normalisation (bytes): bounds the work a
/// login does on what a client sends (a full-width character is 3 bytes, 1 once mapped).
const MAX_TYPED_USERNAME_LEN: usize = 4 * MAX_USERNAME_LEN;

/// The normal form of a username, as stored and as looked up at login: RFC 8265
/// UsernameCaseMapped (width mapping, so `ａｄｍｉｎ` is `admin`; case folding; NFC; the bidi
/// rule) applied to each space-separated userpart (RFC 8265 §3.5, so `Jean Dupont` stays a
/// name). Refused: control and format characters (`U+202E`, `U+200B`…), other spaces, symbols
/// and punctuation outside ASCII, empty userparts (a leading, trailing or doubled space), and
/// more than [`MAX_USERNAME_LEN`] bytes once normalised. E-mail addresses are usernames like
/// any other (`Alice@Example.com` is `alice@example.com`). Idempotent.
pub fn normalize_username(name: &str) -> Result<String, InvalidInput> {
    if name.is_empty() {
        return Err(invalid("the username is empty"));
    }
    if name.len() > MAX_TYPED_USERNAME_LEN {
        return Err(invalid(format!(
            "the username is longer than {MAX_USERNAME_LEN} bytes"
        )));
    }
    let mut out = String::with_capacity(name.len());
    for part in name.split(' ') {
        if part.is_empty() {
            return Err(invalid(
                "the username starts or ends with a space, or has two in a row",
            ));
        }
        let part = UsernameCaseMapped::enforce(part).map_err(refused_username)?;
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&part);
    }
    if out.len() > MAX_USERNAME_LEN {
        return Err(invalid(format!(
            "the username is longer than {MAX_USERNAME_LEN} bytes"
        )));
    }
    Ok(out)
}

/// Why PRECIS refused a userpart, naming the character as `U+XXXX` (never raw: it may be a
/// bidi override or an invisible one).
fn refused_username(err: PrecisError) -> InvalidInput {
    match err {
        PrecisError::BadCodepoint(info) => {
            let what = match info.property {
                DerivedPropertyValue::Unassigned => "an unassigned code point",
                _ => "a character that usernames may not hold",
            };
            invalid(format!(
                "the username holds U+{:04X}, {what} (RFC 8265: no control, format or space \
                 characters, no symbols or punctuation outside ASCII)",
                info.cp
            ))
        }
        PrecisError::Invalid => invalid(
            "the username mixes right-to-left and left-to-right characters in a way RFC 8265 \
             forbids (bidi rule), or is empty once normalised",
        ),
        PrecisError::Unexpected(_) => invalid("the username is not a valid RFC 8265 username"),
    }
}

/// Roles are 1 to [`MAX_ROLE_LEN`] bytes without white space or control characters; the
/// answer keeps their order and drops duplicates.
pub fn check_roles(roles: &[String]) -> Result<Vec<String>, InvalidInput> {
    let mut out: Vec<String> = Vec::new();
    for role in roles {
        if role.is_empty()
            || role.len() > MAX_ROLE_LEN
            || role.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(invalid(format!(
                "invalid role {:?}: 1 to {MAX_ROLE_LEN} characters, no white space",
                shown(role, MAX_ROLE_LEN)
            )));
        }
        if !out.contains(role) {
            out.push(role.clone());
        }
    }
    Ok(out)
}

/// A password the hasher accepts: not empty, at most [`MAX_PASSWORD_LEN`] bytes. What the
/// administration commands require (DESIGN.md pins them; their operator already holds the
/// database).
pub fn check_password(password: &str) -> Result<(), InvalidInput> {
    if password.is_empty() {
        Err(invalid("the password is empty"))
    } else if password.len() > MAX_PASSWORD_LEN {
        Err(invalid(format!(
            "the password is longer than {MAX_PASSWORD_LEN} bytes"
        )))
    } else {
        Ok(())
    }
}

/// A password set through the admin API: [`check_password`], and at least
/// [`MIN_PASSWORD_CHARS`] characters.
pub fn check_new_password(password: &str) -> Result<(), InvalidInput> {
    check_password(password)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(format!(
            "the password is shorter than {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// A client name, trimmed: 1 to [`MAX_CLIENT_NAME_LEN`] bytes, no control character.
pub fn check_client_name(name: &str) -> Result<&str, InvalidInput> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_CLIENT_NAME_LEN || name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "the client name must be 1 to {MAX_CLIENT_NAME_LEN} printable characters"
        )));
    }
    Ok(name)
}

/// Scopes are RFC 6749 §3.3 scope tokens (`1*( %x21 / %x23-5B / %x5D-7E )`: printable ASCII
/// without spaces, quotes or backslashes); the answer keeps their order and drops duplicates.
pub fn check_scopes(scopes: &[String]) -> Result<Vec<String>, InvalidInput> {
    let mut out: Vec<String> = Vec::new();
    for scope in scopes {
        let ok = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !ok {
            return Err(invalid(format!(
                "invalid scope {:?}: printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)",
                shown(scope, 128)
            )));
        }
        if !out.contains(scope) {
            out.push(scope.clone());
        }
    }
    Ok(out)
}

// ---- deleting a user (issue 9): the one service behind `tessera user delete` and
// `DELETE /admin/api/users/{id}` ----------------------------------------------------------------

/// Why a user was not deleted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeleteUserError {
    /// An administrator asked to delete their own account (the last administrator could
    /// otherwise lock everyone out).
    #[error("you cannot delete your own account; ask another administrator")]
    OwnAccount,
    /// The store refused or failed: [`StoreError::NotFound`] when there is no such user.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Deletes the user `user_id` in one transaction: its sessions (refresh families and their
/// tokens, which are refused from then on), its linked outside identities, the user. `acting`
/// is the administrator asking through the admin API (who may not delete themself), `None`
/// from the CLI. Access tokens already issued to the user stay valid until they expire
/// (minutes), except where the session or the user is checked (`/sessions`, the admin API).
pub async fn delete_user(
    store: &dyn crate::store::Store,
    user_id: &str,
    acting: Option<&str>,
    now: i64,
) -> Result<crate::store::UserDeletion, DeleteUserError> {
    if acting == Some(user_id) {
        return Err(DeleteUserError::OwnAccount);
    }
    let deleted = store.delete_user(user_id, now).await?;
    tracing::info!(
        user = %user_id,
        admin = acting.unwrap_or("(cli)"),
        sessions = deleted.sessions,
        identities = deleted.identities,
        "user deleted"
    );
    Ok(deleted)
}

// ---- usernames in the store (RFC 8265): startup check, lookup, rename ----------------------

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usernames() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("Jean Dupont").is_ok());
        assert!(check_username(&"x".repeat(MAX_USERNAME_LEN)).is_ok());
        for bad in ["", " alice", "alice\n", "a\u{0}b", &"x".repeat(257)] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    /// RFC 8265 UsernameCaseMapped: one normal form per name.
    #[test]
    fn usernames_have_one_normal_form() {
        for (typed, normal) in [
            ("alice", "alice"),
            ("ALICE", "alice"),
            ("ａｄｍｉｎ", "admin"),
            ("ＡＤＭＩＮ", "admin"),
            ("Alice@Example.COM", "alice@example.com"),
            ("ops+tessera@corp.example", "ops+tessera@corp.example"),
            ("Jean Dupont", "jean dupont"),
            ("o'brien_2-x.y", "o'brien_2-x.y"),
            // NFC: e + combining acute is é.
            ("Rene\u{301}", "ren\u{e9}"),
            ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
            ("google:1234567890", "google:1234567890"),
        ] {
            let got = normalize_username(typed).unwrap();
            assert_eq!(got, normal, "{typed:?}");
            // Idempotent: the stored form is its own normal form.
            assert_eq!(normalize_username(&got).unwrap(), got, "{typed:?}");
        }
        assert_eq!(
            normalize_username(&"Ｘ".repeat(MAX_USERNAME_LEN)).unwrap(),
            "x".repeat(MAX_USERNAME_LEN)
        );
    }

    /// The look-alikes of the review: a right-to-left override, a zero-width space; and
    /// other characters that would make a name read as another.
    #[test]
    fn look_alike_usernames_are_refused() {
        for bad in [
            "\u{202e}admin",
            "admin\u{200b}",
            "ad\u{200d}min",
            "admin\u{feff}",
            "\u{2066}admin",
            "admin\u{3000}",
            "admin\u{a0}x",
            "two  spaces",
            "tab\there",
            "snow\u{2603}man",
            "\u{5d0}abc",
            &"x".repeat(MAX_USERNAME_LEN + 1),
            &"x".repeat(10_000),
        ] {
            let err = normalize_username(bad).unwrap_err().to_string();
            // The message names the character by its code point, never raw.
            assert!(
                !err.contains('\u{202e}') && !err.contains('\u{200b}'),
                "{err}"
            );
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
        let err = normalize_username("\u{202e}admin").unwrap_err().to_string();
        assert!(err.contains("U+202E"), "{err}");
        let err = normalize_username("admin\u{200b}").unwrap_err().to_string();
        assert!(err.contains("U+200B"), "{err}");
    }

    #[test]
    fn roles() {
        assert_eq!(
            check_roles(&["a".into(), "b".into(), "a".into()]).unwrap(),
            ["a", "b"]
        );
        assert!(check_roles(&[]).unwrap().is_empty());
        assert!(check_roles(&["x".repeat(128)]).is_ok());
        for bad in ["two words", "", "a\u{0}", &"x".repeat(129)] {
            assert!(check_roles(&[bad.into()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords() {
        assert!(check_password("").is_err());
        assert!(check_password("pw").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD_LEN)).is_ok());
        let long = check_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).unwrap_err();
        assert!(long.to_string().contains("longer than"), "{long}");
        // Through the admin API: at least eight characters (not bytes).
        assert!(check_new_password("").is_err());
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password("ééééééé").is_err());
        assert!(check_new_password("éééééééé").is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
        // The message never repeats the password.
        let short = check_new_password("hunter2").unwrap_err();
        assert!(!short.to_string().contains("hunter2"));
    }

    #[test]
    fn client_names_and_scopes() {
        assert_eq!(check_client_name("  web app ").unwrap(), "web app");
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(257)] {
            assert!(check_client_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_scopes(&["read".into(), "a:b/c".into(), "read".into()]).unwrap(),
            ["read", "a:b/c"]
        );
        for bad in ["", "two words", "quo\"te", "back\\slash", "é"] {
            assert!(check_scopes(&[bad.into()]).is_err(), "{bad:?}");
        }
    }
}

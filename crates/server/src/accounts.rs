//! The rules for what an administrator enters — usernames, roles, passwords, OAuth client
//! names and scopes — in one place, so that the admin API (`/admin/api/…`) and the
//! administration commands (`tessera user …`, `tessera client add`) accept exactly the same.
//!
//! ```
//! use tessera_server::accounts;
//! assert!(accounts::check_username("alice").is_ok());
//! assert!(accounts::check_username(" alice").is_err());
//! assert_eq!(accounts::check_roles(&["admin".into(), "admin".into()]).unwrap(), ["admin"]);
//! assert!(accounts::check_password("short").is_ok());
//! assert!(accounts::check_new_password("short").is_err());
//! ```

use crate::password::MAX_PASSWORD_LEN;

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

/// A username can be typed back and shown safely: 1 to [`MAX_USERNAME_LEN`] bytes, no control
/// character, no leading or trailing white space. It is taken exactly (case and inner spaces
/// count).
pub fn check_username(name: &str) -> Result<(), InvalidInput> {
    if name.is_empty() {
        Err(invalid("the username is empty"))
    } else if name.len() > MAX_USERNAME_LEN {
        Err(invalid(format!(
            "the username is longer than {MAX_USERNAME_LEN} bytes"
        )))
    } else if name.chars().any(char::is_control) {
        Err(invalid("the username holds a control character"))
    } else if name.trim() != name {
        Err(invalid("the username starts or ends with white space"))
    } else {
        Ok(())
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

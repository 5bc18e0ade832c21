//! What an administrator enters — usernames (RFC 8265), roles, passwords, OAuth client names
//! and scopes — checked in one place.

use precis_profiles::UsernameCaseMapped;
use precis_profiles::precis_core::profile::PrecisFastInvocation as _;
use precis_profiles::precis_core::{DerivedPropertyValue, Error as PrecisError};

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

pub(super) fn invalid(why: impl Into<String>) -> InvalidInput {
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

//! OAuth client secrets: 256 random bits, given to the administrator once, stored only as a
//! salted SHA-256 and compared in constant time.
//!
//! Why not argon2 as for passwords: a password is guessable, so its hash must be slow; a
//! client secret has 256 bits of entropy, so no hash speed makes guessing it feasible, while
//! an argon2 computation (19 MiB, tens of milliseconds) on every `client_credentials`,
//! introspection or revocation request would make those endpoints a cheap way to exhaust the
//! server. The salt keeps equal secrets from having equal hashes. A stored argon2 PHC string
//! is still accepted (verified through [`Passwords`](crate::password::Passwords)), so that
//! secrets set elsewhere can be slow-hashed if wanted.
//!
//! Stored form: `$tessera-sha256$<salt, base64url>$<SHA-256(salt ‖ secret), base64url>`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_jwt::SecretString;

/// The prefix of the stored form.
const PREFIX: &str = "$tessera-sha256$";
const SALT_LEN: usize = 16;
/// Longest secret considered (longer ones are not ours).
const MAX_SECRET_LEN: usize = 512;

/// A freshly made secret and its stored form.
pub struct NewClientSecret {
    /// The secret, to show once.
    pub secret: SecretString,
    /// What the store keeps.
    pub hash: String,
}

impl std::fmt::Debug for NewClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewClientSecret([redacted])")
    }
}

/// The random generator failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the random generator failed")]
pub struct RandomError;

impl NewClientSecret {
    /// 256 random bits, base64url (43 characters), and their salted hash.
    pub fn generate() -> Result<Self, RandomError> {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut bytes[..]).map_err(|_| RandomError)?;
        let secret = SecretString::new(URL_SAFE_NO_PAD.encode(&bytes[..]));
        let hash = hash(secret.expose())?;
        Ok(Self { secret, hash })
    }
}

/// The stored form of a secret, with a fresh salt.
pub fn hash(secret: &str) -> Result<String, RandomError> {
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| RandomError)?;
    Ok(format!(
        "{PREFIX}{}${}",
        URL_SAFE_NO_PAD.encode(salt),
        URL_SAFE_NO_PAD.encode(digest(&salt, secret))
    ))
}

fn digest(salt: &[u8], secret: &str) -> aws_lc_rs::digest::Digest {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(salt);
    ctx.update(secret.as_bytes());
    ctx.finish()
}

/// How a stored client secret hash is to be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredForm {
    /// Ours: checked here, fast.
    Sha256,
    /// An argon2 PHC string: check it with [`Passwords::verify`](crate::password::Passwords::verify).
    Argon2,
    /// Anything else: matches nothing.
    Unknown,
}

/// Which form a stored hash is in.
pub fn stored_form(stored: &str) -> StoredForm {
    if stored.starts_with(PREFIX) {
        StoredForm::Sha256
    } else if stored.starts_with("$argon2") {
        StoredForm::Argon2
    } else {
        StoredForm::Unknown
    }
}

/// Whether `secret` matches a stored [`StoredForm::Sha256`] hash, in constant time. A
/// malformed stored value, or `None` (an unknown client: the same work is done against a
/// dummy), matches nothing.
pub fn verify(secret: &str, stored: Option<&str>) -> bool {
    const DUMMY: &str =
        "$tessera-sha256$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let known = stored.is_some();
    let Some((salt, expected)) = parse(stored.unwrap_or(DUMMY)) else {
        return false;
    };
    if secret.len() > MAX_SECRET_LEN {
        return false;
    }
    let actual = digest(&salt, secret);
    let equal =
        aws_lc_rs::constant_time::verify_slices_are_equal(actual.as_ref(), &expected).is_ok();
    equal && known
}

fn parse(stored: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let rest = stored.strip_prefix(PREFIX)?;
    let (salt, hash) = rest.split_once('$')?;
    let salt = URL_SAFE_NO_PAD.decode(salt).ok()?;
    let hash = URL_SAFE_NO_PAD.decode(hash).ok()?;
    (salt.len() == SALT_LEN && hash.len() == 32).then_some((salt, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_verify_and_differ() {
        let a = NewClientSecret::generate().unwrap();
        let b = NewClientSecret::generate().unwrap();
        assert_eq!(a.secret.expose().len(), 43);
        assert_ne!(a.secret.expose(), b.secret.expose());
        assert_eq!(stored_form(&a.hash), StoredForm::Sha256);
        assert!(verify(a.secret.expose(), Some(&a.hash)));
        assert!(!verify(b.secret.expose(), Some(&a.hash)));
        assert!(!format!("{a:?}").contains(a.secret.expose()));
        assert!(!a.hash.contains(a.secret.expose()));
    }

    #[test]
    fn the_same_secret_hashes_differently() {
        let h1 = hash("s3cret").unwrap();
        let h2 = hash("s3cret").unwrap();
        assert_ne!(h1, h2);
        assert!(verify("s3cret", Some(&h1)) && verify("s3cret", Some(&h2)));
    }

    #[test]
    fn a_known_vector_verifies() {
        // salt = 16 zero bytes; SHA-256(salt ‖ "abc") computed independently (Python hashlib).
        let stored = "$tessera-sha256$AAAAAAAAAAAAAAAAAAAAAA$\
                      J35_9tIyuXY_Smbo0F0hDaMtrJxtvOECatTMmKy1_v4";
        assert!(verify("abc", Some(stored)));
        assert!(!verify("abd", Some(stored)));
    }

    #[test]
    fn malformed_or_missing_hashes_match_nothing() {
        for stored in [
            "",
            "plain",
            "$tessera-sha256$",
            "$tessera-sha256$AAAA$AAAA",
            "$tessera-sha256$AAAAAAAAAAAAAAAAAAAAAA$!!",
        ] {
            assert!(!verify("abc", Some(stored)), "{stored}");
        }
        assert!(!verify("", None));
        assert!(!verify("anything", None));
        assert_eq!(stored_form("$argon2id$v=19$..."), StoredForm::Argon2);
        assert_eq!(stored_form("bcrypt"), StoredForm::Unknown);
    }
}

//! The master key, which encrypts private signing keys at rest (AES-256-GCM, aws-lc-rs).
//!
//! 32 random bytes, written as base64url (no padding) in a file of mode 0600 or given inline.
//! Its id is a short SHA-256 fingerprint, stored beside each encrypted key, so that a master
//! key can be replaced: the old ones stay in the [`MasterKeyRing`] to read what they
//! encrypted, the current one encrypts everything new.
//!
//! Each private key is sealed with a random 96-bit nonce, and its `kid` and `alg` as
//! associated data: a ciphertext moved to another row, or relabelled with another algorithm,
//! does not open.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use aws_lc_rs::hkdf;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::keys::KeyError;
use crate::store::EncryptedPrivateKey;

/// Length of a master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// One master key. `Debug` shows its id only.
pub struct MasterKey {
    id: String,
    key: RandomizedNonceKey,
    /// HKDF pseudorandom key for [`derive`](Self::derive).
    derivation: hkdf::Prk,
}

/// The HKDF salt of [`MasterKey::derive`].
const DERIVATION_SALT: &[u8] = b"tessera master key derivation v1";

/// 32 bytes, as an HKDF output length.
struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl MasterKey {
    /// A master key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != MASTER_KEY_LEN {
            return Err(KeyError::MasterKey(format!(
                "a master key is {MASTER_KEY_LEN} bytes, this one is {}",
                bytes.len()
            )));
        }
        let mut fingerprint_input = Zeroizing::new(b"tessera master key id\0".to_vec());
        fingerprint_input.extend_from_slice(bytes);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &fingerprint_input);
        let id = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..9]);
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KeyError::MasterKey("AES-256-GCM refused the key".into()))?;
        let derivation = hkdf::Salt::new(hkdf::HKDF_SHA256, DERIVATION_SALT).extract(bytes);
        Ok(Self {
            id,
            key,
            derivation,
        })
    }

    /// A master key from its base64url text (surrounding whitespace ignored).
    pub fn from_base64url(text: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| {
            KeyError::MasterKey("not base64url (RFC 4648 §5, without padding)".into())
        })?);
        Self::from_bytes(&bytes)
    }

    /// Generates a new master key; returns it with its base64url text (a secret).
    pub fn generate() -> Result<(Self, Zeroizing<String>), KeyError> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        aws_lc_rs::rand::fill(&mut bytes[..])
            .map_err(|_| KeyError::MasterKey("the system's random generator failed".into()))?;
        let text = Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..]));
        Ok((Self::from_bytes(&bytes[..])?, text))
    }

    /// Reads a master key file. A file that others may read is used, with a warning.
    pub fn load_file(path: &Path) -> Result<Self, KeyError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            KeyError::MasterKey(format!(
                "cannot read master key file {}: {e}",
                path.display()
            ))
        })?);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    file = %path.display(),
                    "the master key file can be read by other users: chmod 600 it"
                );
            }
        }
        Self::from_base64url(&text).map_err(|e| match e {
            KeyError::MasterKey(why) => {
                KeyError::MasterKey(format!("master key file {}: {why}", path.display()))
            }
            other => other,
        })
    }

    /// Generates a master key and writes it to a new file of mode 0600 (an existing file is
    /// never overwritten).
    pub fn create_file(path: &Path) -> Result<Self, KeyError> {
        let (key, text) = Self::generate()?;
        let fail = |e: std::io::Error| {
            KeyError::MasterKey(format!(
                "cannot create master key file {}: {e}",
                path.display()
            ))
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(fail)?;
        file.write_all(text.as_bytes()).map_err(fail)?;
        file.write_all(b"\n").map_err(fail)?;
        file.sync_all().map_err(fail)?;
        Ok(key)
    }

    /// The key's id (a fingerprint; says nothing about the key).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A 32-byte secret for one purpose, named by `label`, derived from this master key with
    /// HKDF-SHA256 (RFC 5869). Instances that share the master key derive the same secret;
    /// it tells nothing about the master key or about the secret of another label.
    pub fn derive(&self, label: &str) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let mut out = Zeroizing::new([0u8; 32]);
        let info = [label.as_bytes()];
        self.derivation
            .expand(&info, Len32)
            .and_then(|okm| okm.fill(&mut *out))
            .map_err(|_| KeyError::MasterKey("HKDF refused the derivation".into()))?;
        Ok(out)
    }
}

/// The current master key and earlier ones.
#[derive(Debug)]
pub struct MasterKeyRing {
    current: MasterKey,
    old: Vec<MasterKey>,
}

impl MasterKeyRing {
    /// A ring that encrypts with `current` and also reads what `old` keys encrypted.
    pub fn new(current: MasterKey, old: Vec<MasterKey>) -> Self {
        Self { current, old }
    }

    /// The key that encrypts.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// Whether a key with this id is in the ring.
    pub fn knows(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
    }

    /// Encrypts a private key's bytes under the current master key, bound to `kid` and `alg`.
    pub fn seal(
        &self,
        kid: &str,
        alg: &str,
        plaintext: &[u8],
    ) -> Result<EncryptedPrivateKey, KeyError> {
        let mut in_out = plaintext.to_vec();
        let nonce = self
            .current
            .key
            .seal_in_place_append_tag(Aad::from(associated_data(kid, alg)), &mut in_out)
            .map_err(|_| KeyError::MasterKey("encryption failed".into()))?;
        Ok(EncryptedPrivateKey {
            ciphertext: in_out,
            nonce: AsRef::<[u8; 12]>::as_ref(&nonce).to_vec(),
            master_key_id: self.current.id.clone(),
        })
    }

    /// Decrypts a stored private key; fails if the master key is not in the ring, or if the
    /// ciphertext, nonce, `kid` or `alg` were altered.
    pub fn open(
        &self,
        kid: &str,
        alg: &str,
        sealed: &EncryptedPrivateKey,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key = self.find(&sealed.master_key_id).ok_or_else(|| {
            KeyError::MasterKey(format!(
                "signing key {kid} is encrypted under master key {}, which is not configured \
                 (add its file to previous_master_keys)",
                sealed.master_key_id
            ))
        })?;
        let nonce = Nonce::try_assume_unique_for_key(&sealed.nonce)
            .map_err(|_| KeyError::Corrupt(format!("signing key {kid}: bad nonce length")))?;
        let mut in_out = Zeroizing::new(sealed.ciphertext.clone());
        let len = key
            .key
            .open_in_place(nonce, Aad::from(associated_data(kid, alg)), &mut in_out)
            .map_err(|_| {
                KeyError::Corrupt(format!(
                    "signing key {kid} does not decrypt under master key {} (altered, or stored \
                     under another kid or algorithm)",
                    key.id
                ))
            })?
            .len();
        in_out.truncate(len);
        Ok(in_out)
    }
}

fn associated_data(kid: &str, alg: &str) -> Vec<u8> {
    // Length-prefixed, so that no (kid, alg) pair can be read as another.
    let mut aad = b"tessera signing key v1".to_vec();
    for part in [kid, alg] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn derived_secrets_are_hkdf_sha256_per_label_and_key() {
        let key = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let secret = key.derive("tessera oidc flow cookie v1").unwrap();
        // HKDF-SHA256 (RFC 5869) computed independently: PRK = HMAC(salt, master key),
        // OKM = HMAC(PRK, label || 0x01).
        assert_eq!(
            hex(&*secret),
            "edba9b2f667b4a14ebfa883c50ba31181011c9e53b560d9e6b943df7f7870fe3"
        );
        let again = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(
            *again.derive("tessera oidc flow cookie v1").unwrap(),
            *secret
        );
        assert_ne!(*key.derive("another purpose").unwrap(), *secret);
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert_ne!(
            *other.derive("tessera oidc flow cookie v1").unwrap(),
            *secret
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn seal_and_open_round_trip_and_bind_kid_and_alg() {
        let (key, _) = MasterKey::generate().unwrap();
        let ring = MasterKeyRing::new(key, vec![]);
        let sealed = ring.seal("k1", "RS256", b"private key bytes").unwrap();
        assert_eq!(sealed.nonce.len(), 12);
        assert_eq!(sealed.ciphertext.len(), b"private key bytes".len() + 16);
        assert_eq!(
            &ring.open("k1", "RS256", &sealed).unwrap()[..],
            b"private key bytes"
        );
        assert!(ring.open("k2", "RS256", &sealed).is_err());
        assert!(ring.open("k1", "ES256", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(ring.open("k1", "RS256", &tampered).is_err());
        let mut tampered = sealed.clone();
        tampered.nonce[0] ^= 1;
        assert!(ring.open("k1", "RS256", &tampered).is_err());
        // Two seals of one plaintext differ (random nonce).
        assert_ne!(
            ring.seal("k1", "RS256", b"x").unwrap(),
            ring.seal("k1", "RS256", b"x").unwrap()
        );
    }

    #[test]
    fn old_master_keys_still_open() {
        let (old, old_text) = MasterKey::generate().unwrap();
        let sealed = MasterKeyRing::new(old, vec![])
            .seal("k", "ES256", b"secret")
            .unwrap();
        let (new, _) = MasterKey::generate().unwrap();
        let without_old = MasterKeyRing::new(new, vec![]);
        let err = without_old.open("k", "ES256", &sealed).unwrap_err();
        assert!(err.to_string().contains(&sealed.master_key_id), "{err}");
        let (new, _) = MasterKey::generate().unwrap();
        let ring = MasterKeyRing::new(new, vec![MasterKey::from_base64url(&old_text).unwrap()]);
        assert_eq!(&ring.open("k", "ES256", &sealed).unwrap()[..], b"secret");
        assert_ne!(
            ring.seal("k", "ES256", b"x").unwrap().master_key_id,
            sealed.master_key_id
        );
    }

    #[test]
    fn ids_are_stable_fingerprints() {
        let (key, text) = MasterKey::generate().unwrap();
        assert_eq!(MasterKey::from_base64url(&text).unwrap().id(), key.id());
        assert_eq!(key.id().len(), 12);
        assert!(!format!("{key:?}").contains(text.as_str()));
    }

    #[test]
    fn bad_master_keys_are_refused() {
        assert!(MasterKey::from_base64url("c2hvcnQ").is_err());
        assert!(MasterKey::from_base64url("not base64!").is_err());
        assert!(MasterKey::from_bytes(&[0u8; 31]).is_err());
    }

    #[test]
    fn files_are_created_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let key = MasterKey::create_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(MasterKey::load_file(&path).unwrap().id(), key.id());
        assert!(MasterKey::create_file(&path).is_err());
        assert_eq!(MasterKey::load_file(&path).unwrap().id(), key.id());
    }
}

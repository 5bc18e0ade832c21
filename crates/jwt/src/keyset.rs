//! A set of trusted verifying keys, and how a token's header picks among them.

use crate::algorithm::Algorithm;
use crate::error::{Error, Result};
use crate::header::Header;
use crate::jwk::{Jwk, JwkSet};
use crate::key::VerifyingKey;

/// At most this many keys are tried for one token (a token without `kid`, or several keys
/// sharing a `kid`), so a large key set cannot multiply the cost of a bad token.
pub const MAX_CANDIDATES: usize = 4;

/// Where a verifier finds the keys it trusts.
pub trait KeySource {
    /// The keys to try for a token with this header, at most [`MAX_CANDIDATES`].
    fn candidates(&self, header: &Header) -> Result<Vec<&VerifyingKey>>;
}

impl KeySource for VerifyingKey {
    fn candidates(&self, header: &Header) -> Result<Vec<&VerifyingKey>> {
        select(std::slice::from_ref(self), header)
    }
}

/// Trusted keys. The token's `kid` selects among them; its `alg` must be the one the selected
/// key is bound to. A token without `kid` is tried against the keys of its algorithm, at most
/// [`MAX_CANDIDATES`] of them.
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    skipped: Vec<(Option<String>, String)>,
}

impl KeySet {
    /// A set of these keys.
    pub fn new(keys: Vec<VerifyingKey>) -> Self {
        KeySet {
            keys,
            skipped: Vec::new(),
        }
    }

    /// Adds a key.
    pub fn push(&mut self, key: VerifyingKey) {
        self.keys.push(key);
    }

    /// The keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys of a JWKS that could not be used, with the reason (`kid`, why).
    pub fn skipped(&self) -> &[(Option<String>, String)] {
        &self.skipped
    }

    /// One JWK. A key that fixes its algorithm (JWK `alg`, EC curve, Ed25519) gets that one;
    /// an RSA or `oct` key without `alg` is bound to each of `algorithms` of its family.
    pub fn from_jwk(jwk: &Jwk, algorithms: &[Algorithm]) -> Result<Self> {
        Ok(KeySet::new(VerifyingKey::from_jwk_for(jwk, algorithms)?))
    }

    /// A JWKS. Keys that cannot verify any of `algorithms` (unknown `kty`, an encryption
    /// algorithm, a weak key), and those the set itself could not read, are skipped and listed
    /// in [`skipped`](Self::skipped), so one odd key does not take the others down.
    pub fn from_jwks(set: &JwkSet, algorithms: &[Algorithm]) -> Self {
        let mut out = KeySet::default();
        out.skipped.extend(set.skipped().iter().cloned());
        for jwk in &set.keys {
            match VerifyingKey::from_jwk_for(jwk, algorithms) {
                Ok(keys) => {
                    for key in keys {
                        // A JWK whose `alg` or curve fixes its algorithm is bound to that one even
                        // when the caller does not accept it: such a key could never verify here.
                        if algorithms.is_empty() || algorithms.contains(&key.algorithm()) {
                            out.keys.push(key);
                        } else {
                            out.skipped.push((
                                jwk.kid.clone(),
                                format!("{} is not an accepted algorithm", key.algorithm()),
                            ));
                        }
                    }
                }
                Err(e) => out.skipped.push((jwk.kid.clone(), e.to_string())),
            }
        }
        out
    }

    /// A PEM key (public or private), bound as in [`from_jwk`](Self::from_jwk).
    pub fn from_pem(pem: &str, algorithms: &[Algorithm]) -> Result<Self> {
        Ok(KeySet::new(VerifyingKey::from_pem_for(pem, algorithms)?))
    }

    /// A DER key (public or private), bound as in [`from_jwk`](Self::from_jwk).
    pub fn from_der(der: &[u8], algorithms: &[Algorithm]) -> Result<Self> {
        Ok(KeySet::new(VerifyingKey::from_der_for(der, algorithms)?))
    }

    /// An HMAC secret, bound to each HMAC algorithm in `algorithms`.
    pub fn from_secret(secret: &[u8], algorithms: &[Algorithm]) -> Result<Self> {
        Ok(KeySet::new(VerifyingKey::from_secret_for(
            secret, algorithms,
        )?))
    }

    /// The public JWKS of the set (HMAC keys are left out).
    pub fn to_public_jwks(&self) -> Result<JwkSet> {
        let mut keys = Vec::new();
        for key in self.keys.iter().filter(|k| !k.is_symmetric()) {
            keys.push(key.to_jwk()?);
        }
        Ok(JwkSet::new(keys))
    }
}

impl KeySource for KeySet {
    fn candidates(&self, header: &Header) -> Result<Vec<&VerifyingKey>> {
        select(&self.keys, header)
    }
}

fn select<'k>(keys: &'k [VerifyingKey], header: &Header) -> Result<Vec<&'k VerifyingKey>> {
    let alg = header.alg;
    let mut exact = Vec::new();
    let mut loose = Vec::new();
    // A key the token would have picked, but bound to another algorithm.
    let mut other_alg: Option<Algorithm> = None;
    for key in keys {
        let by_kid = match (header.kid.as_deref(), key.kid()) {
            (Some(want), Some(have)) if want == have => true,
            (Some(_), Some(_)) => continue,
            // A key without a kid matches any token, and a token without a kid any key.
            _ => false,
        };
        if key.algorithm() != alg {
            other_alg = other_alg.or(Some(key.algorithm()));
        } else if by_kid {
            exact.push(key);
        } else {
            loose.push(key);
        }
    }
    let mut chosen = if exact.is_empty() { loose } else { exact };
    chosen.truncate(MAX_CANDIDATES);
    if chosen.is_empty() {
        return Err(match (other_alg, &header.kid) {
            (Some(bound), _) => {
                Error::AlgorithmNotAllowed(format!("{alg} (the key is for {bound})"))
            }
            (None, Some(kid)) => Error::NoMatchingKey(format!("no {alg} key with kid \"{kid}\"")),
            (None, None) => Error::NoMatchingKey(format!("no {alg} key")),
        });
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    #[test]
    fn jwks_keys_of_algorithms_not_accepted_are_skipped() {
        let es = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .with_kid("es");
        let ed = SigningKey::generate(Algorithm::EdDSA)
            .unwrap()
            .with_kid("ed");
        let set = JwkSet::new(vec![es.public_jwk().unwrap(), ed.public_jwk().unwrap()]);
        let keys = KeySet::from_jwks(&set, &[Algorithm::EdDSA]);
        assert_eq!(keys.keys().len(), 1);
        assert_eq!(keys.keys()[0].kid(), Some("ed"));
        assert_eq!(keys.skipped().len(), 1);
        assert_eq!(keys.skipped()[0].0.as_deref(), Some("es"));
        // No list: every key keeps the algorithm it is bound to.
        assert_eq!(KeySet::from_jwks(&set, &[]).keys().len(), 2);
    }
}

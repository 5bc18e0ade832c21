//! Verifying tessera's own access tokens (for `/userinfo` and introspection) with
//! `tessera-guard`, against the keys the [`KeyManager`] publishes right now.
//!
//! The key manager swaps in a new `Arc<KeySet>` whenever the keys change (rotation, or
//! another instance's rotation seen on reload). A [`Verifier`] holds static keys, so one is
//! built per key snapshot and kept until the snapshot changes: the common path is an `Arc`
//! pointer comparison.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tessera_guard::{IssuerConfig, Verifier, VerifierSource};
use tessera_jwt::{Algorithm, Clock, KeySet};

use crate::keys::KeyManager;
use crate::tokens::ACCESS_TOKEN_TYP;

/// The verifier of tessera's own tokens for the key manager's keys of the moment: what the
/// guard layer of the issuer's Bearer routes asks on every request.
#[derive(Debug, Clone)]
pub struct OwnKeys {
    verifier: Arc<OwnTokenVerifier>,
    keys: Arc<KeyManager>,
}

impl OwnKeys {
    /// `verifier`, following `keys`.
    pub fn new(verifier: Arc<OwnTokenVerifier>, keys: Arc<KeyManager>) -> Self {
        Self { verifier, keys }
    }
}

impl VerifierSource for OwnKeys {
    fn verifier(&self) -> Result<Arc<Verifier>, tessera_guard::Error> {
        self.verifier.verifier(&self.keys).map_err(|e| {
            tracing::warn!(error = %e, "bearer: no key to verify with");
            tessera_guard::Error::KeysUnavailable {
                issuer: self.verifier.issuer.clone(),
                reason: e.0,
            }
        })
    }
}

struct Built {
    keys: Arc<KeySet>,
    verifier: Arc<Verifier>,
}

/// A [`Verifier`] of tessera's access tokens (`iss` = the issuer, `aud` = the audience,
/// `typ` = `at+jwt`, `sub` required) that follows the key manager's snapshots.
pub struct OwnTokenVerifier {
    issuer: String,
    audience: String,
    clock: Arc<dyn Clock>,
    current: ArcSwapOption<Built>,
}

impl fmt::Debug for OwnTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnTokenVerifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// No key is published, so nothing tessera signed can be verified (the key manager has not
/// loaded its keys).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the issuer's keys are not available: {0}")]
pub struct NoKeys(String);

impl OwnTokenVerifier {
    /// Tokens of this issuer for this audience, judged by `clock`.
    pub fn new(issuer: &str, audience: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            clock,
            current: ArcSwapOption::empty(),
        }
    }

    /// The verifier for the key manager's current keys.
    pub fn verifier(&self, keys: &KeyManager) -> Result<Arc<Verifier>, NoKeys> {
        let snapshot = keys.verification_keys();
        if let Some(built) = &*self.current.load()
            && Arc::ptr_eq(&built.keys, &snapshot)
        {
            return Ok(built.verifier.clone());
        }
        let verifier = Arc::new(self.build(&snapshot)?);
        self.current.store(Some(Arc::new(Built {
            keys: snapshot,
            verifier: verifier.clone(),
        })));
        Ok(verifier)
    }

    fn build(&self, keys: &KeySet) -> Result<Verifier, NoKeys> {
        // Each key is bound to its algorithm; accept exactly those.
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for key in keys.keys() {
            if !algorithms.contains(&key.algorithm()) {
                algorithms.push(key.algorithm());
            }
        }
        Verifier::builder()
            .clock(self.clock.clone())
            .issuer(
                IssuerConfig::new(self.issuer.clone())
                    .keys(keys.clone())
                    .algorithms(algorithms)
                    .audience(self.audience.clone())
                    .typ(ACCESS_TOKEN_TYP)
                    .require("sub"),
            )
            .build()
            .map_err(|e| NoKeys(e.to_string()))
    }
}

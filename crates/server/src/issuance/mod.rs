//! The issuance core (DESIGN.md, "Server layout"): signing in with a password, starting and
//! rotating refresh families, minting tokens, revoking. It takes its dependencies explicitly
//! ([`Issuance`]) and returns domain results ([`GrantError`]); it knows nothing of HTTP. The
//! endpoints read requests, call in here, and have [`error`](crate::error) word the refusals.
//!
//! Moved here so far: the grants ([`grants`]) and the verifier of tessera's own tokens
//! ([`own_tokens`]). Outside sign-in, clients and the throttle
//! follow.

pub(crate) mod grants;
pub(crate) mod own_tokens;

use std::sync::Arc;

use tessera_jwt::Clock;

use crate::config::Config;
use crate::keys::KeyManager;
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::store::Store;
use crate::throttle::LoginThrottle;

pub(crate) use grants::GrantError;

/// What issuing tokens needs, borrowed for one request.
#[derive(Clone, Copy)]
pub(crate) struct Issuance<'a> {
    /// Token lifetimes, issuer and audience, session limits.
    pub(crate) config: &'a Config,
    /// Users and refresh families.
    pub(crate) store: &'a Arc<dyn Store>,
    /// The time.
    pub(crate) clock: &'a Arc<dyn Clock>,
    /// The signing key.
    pub(crate) keys: &'a KeyManager,
    /// What is counted.
    pub(crate) metrics: &'a Metrics,
    /// Password hashing (bounded).
    pub(crate) passwords: &'a Passwords,
    /// The login throttle, when enabled.
    pub(crate) throttle: Option<&'a LoginThrottle>,
}

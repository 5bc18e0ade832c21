//! The issuer's signing keys: encrypted at rest under a [master key](master), loaded into an
//! atomically swapped [`KeySnapshot`], and rotated `next → active → retired → deleted`.
//!
//! [`KeyManager`] is what the rest of the server uses:
//! - [`signer`](KeyManager::signer): the active key, to sign access tokens (an error that
//!   maps to 503 when there is none);
//! - [`verification_keys`](KeyManager::verification_keys): every published key, to verify
//!   tokens tessera signed (userinfo, introspection, revocation);
//! - [`jwks`](KeyManager::jwks): the JWKS document and its ETag.
//!
//! ## Rotation
//!
//! Times come from the injected [`Clock`]; `R` is [`KeySettings::refresh_interval`], how often
//! every instance re-reads the key table.
//!
//! 1. When the active key has signed for `rotation_period − publish_lead − R`, a `next` key is
//!    created and published.
//! 2. It may sign once it has been in the table for `publish_lead + R` (every instance has
//!    published it for at least `publish_lead ≥ 2 × jwks_max_age`, so every verifier's cached
//!    JWKS has it) and the active key has signed for `rotation_period`: then
//!    `[active → retired, next → active]` in one compare-and-set step.
//! 3. A retired key stays published until `retired_at + access_ttl + 2R + retire_leeway`: an
//!    instance that has not seen the promotion yet signs with it for at most `2R` (after that
//!    its [`signer`](KeyManager::signer) refuses, see below), and its tokens live
//!    `access_ttl`. Then it is deleted.
//!
//! Every step runs under the store's rotation lock, so instances sharing a database do it
//! once; the steps are compare-and-set, so a late or duplicate attempt changes nothing.
//! Once [`spawn_refresh`](KeyManager::spawn_refresh) runs, a snapshot older than `2R` (the
//! database unreachable for that long) stops signing rather than sign with a key that may have
//! been retired meanwhile.
//!
//! ## Revocation
//!
//! [`revoke`](KeyManager::revoke) withdraws a compromised key at once: `revoked` in the table
//! (its private key erased), out of this instance's snapshot, so out of the JWKS and of the
//! keys that verify `/userinfo` and introspection. Revoking the active key makes another
//! active in the same step (the `next` key, or a new one): the issuer is never without a
//! signing key. Other instances drop it at their next reload (within `R`).
//!
//! ## Master key rotation
//!
//! [`reseal_all`](KeyManager::reseal_all) re-encrypts every stored private key under the
//! current master key, one compare-and-set per row ([`Store::reseal_signing_key`]): keys
//! sealed under a previous master key (still in the [`MasterKeyRing`]) are opened, sealed
//! again and written only if the row is unchanged. Running it twice changes nothing.

pub mod master;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_jwt::{Algorithm, Clock, Jwk, JwkSet, KeySet, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::config::{Config, KeySettings};
use crate::metrics::Metrics;
use crate::store::{
    self, KeyState, KeyTransition, NewSigningKey, RotationLock, SigningKeyRecord, Store, StoreError,
};

pub use master::{MasterKey, MasterKeyRing};

/// What can go wrong with signing keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No key is active: nothing can be signed (HTTP 503).
    #[error("no active signing key is loaded")]
    NoActiveKey,
    /// The keys have not been re-read from the database for too long; signing stops rather
    /// than use a key that may have been retired (HTTP 503).
    #[error("signing keys not refreshed for {seconds} s (database unreachable?)")]
    Stale {
        /// Seconds since the last successful load.
        seconds: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The master key is missing, unreadable or does not fit.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A stored key cannot be read back.
    #[error("stored signing key is unusable: {0}")]
    Corrupt(String),
    /// Generating or encoding a key failed.
    #[error("signing key: {0}")]
    Jwt(#[from] tessera_jwt::Error),
    /// The rotation lock's lease lapsed while working: the rest was left to the next holder.
    #[error("the key rotation lock lapsed while rotating")]
    LockLapsed,
    /// Another instance kept the rotation lock and no key appeared in time.
    #[error("another instance holds the key rotation lock; no active key appeared")]
    Busy,
    /// A background task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl KeyError {
    /// Retrying later may succeed (no key yet, database away): HTTP 503.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::NoActiveKey | Self::Stale { .. } | Self::Busy => true,
            Self::Store(e) => e.is_unavailable(),
            _ => false,
        }
    }
}

/// The rotation schedule, in seconds, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationPolicy {
    /// Algorithm of new keys.
    pub algorithm: Algorithm,
    /// RSA modulus size of new RSA keys.
    pub rsa_bits: usize,
    /// How long a key signs.
    pub rotation_period: i64,
    /// How long a `next` key is published before it signs.
    pub publish_lead: i64,
    /// How often instances re-read the keys.
    pub refresh_interval: i64,
    /// Lifetime of access tokens.
    pub access_ttl: i64,
    /// Extra time a retired key stays published.
    pub retire_leeway: i64,
    /// Lease of the rotation lock.
    pub lock_ttl: i64,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

impl RotationPolicy {
    /// The policy of a configuration.
    pub fn from_config(config: &Config) -> Self {
        Self::new(&config.keys, config.tokens.access_ttl)
    }

    /// The policy of `[keys]` and the access token lifetime.
    pub fn new(keys: &KeySettings, access_ttl: Duration) -> Self {
        Self {
            algorithm: keys.algorithm,
            rsa_bits: keys.rsa_bits,
            rotation_period: secs(keys.rotation_period),
            publish_lead: secs(keys.publish_lead),
            refresh_interval: secs(keys.refresh_interval).max(1),
            access_ttl: secs(access_ttl),
            retire_leeway: secs(keys.retire_leeway),
            lock_ttl: secs(keys.lock_ttl).max(1),
        }
    }

    /// When the active key (active since `since`) should get a `next` successor.
    pub fn next_due_at(&self, since: i64) -> i64 {
        since + self.rotation_period - self.publish_lead - self.refresh_interval
    }

    /// When the active key (active since `since`) should be replaced.
    pub fn rotation_due_at(&self, since: i64) -> i64 {
        since + self.rotation_period
    }

    /// When a `next` key created at `created_at` has been published long enough to sign.
    pub fn promotable_at(&self, created_at: i64) -> i64 {
        created_at + self.publish_lead + self.refresh_interval
    }

    /// When a key retired at `retired_at` may be deleted.
    pub fn delete_after(&self, retired_at: i64) -> i64 {
        retired_at + self.access_ttl + 2 * self.refresh_interval + self.retire_leeway
    }

    /// Longest a snapshot may go without a successful reload and still sign.
    pub fn max_staleness(&self) -> Duration {
        Duration::from_secs(u64::try_from(2 * self.refresh_interval).unwrap_or(u64::MAX))
    }
}

/// A signing key as listed (no private part).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Algorithm name.
    pub alg: String,
    /// State.
    pub state: KeyState,
    /// When it was made.
    pub created_at: i64,
    /// When it became active.
    pub activated_at: Option<i64>,
    /// When it was retired.
    pub retired_at: Option<i64>,
    /// When it may be deleted (retired keys).
    pub delete_after: Option<i64>,
}

impl From<&SigningKeyRecord> for KeyInfo {
    fn from(r: &SigningKeyRecord) -> Self {
        Self {
            kid: r.kid.clone(),
            alg: r.alg.clone(),
            state: r.state,
            created_at: r.created_at,
            activated_at: r.activated_at,
            retired_at: r.retired_at,
            delete_after: r.delete_after,
        }
    }
}

/// The JWKS document as served: its bytes and strong ETag.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Jwks {
    /// `{"keys":[…]}`, public keys only.
    pub body: Bytes,
    /// Strong ETag, quoted (`"…"`): a hash of the body.
    pub etag: String,
}

impl Jwks {
    fn of(keys: Vec<Jwk>) -> Result<Self, KeyError> {
        let body = JwkSet::new(keys).to_json()?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body.as_bytes());
        let etag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest.as_ref()[..18]));
        Ok(Self {
            body: Bytes::from(body),
            etag,
        })
    }
}

/// What the keys were at the last load.
#[derive(Debug)]
pub struct KeySnapshot {
    active: Option<Arc<SigningKey>>,
    verification: Arc<KeySet>,
    jwks: Arc<Jwks>,
    keys: Vec<KeyInfo>,
    loaded: Option<Instant>,
    problem: Option<String>,
}

impl KeySnapshot {
    fn empty() -> Self {
        Self {
            active: None,
            verification: Arc::new(KeySet::default()),
            jwks: Arc::new(Jwks {
                body: Bytes::from_static(b"{\"keys\":[]}"),
                etag: "\"empty\"".into(),
            }),
            keys: Vec::new(),
            loaded: None,
            problem: Some("signing keys not loaded yet".into()),
        }
    }

    /// The key that signs.
    pub fn active(&self) -> Option<&Arc<SigningKey>> {
        self.active.as_ref()
    }

    /// The published keys (next, active, retired).
    pub fn keys(&self) -> &[KeyInfo] {
        &self.keys
    }
}

/// Which rotation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateMode {
    /// The schedule: create `next` when due, promote it when due and published long enough,
    /// delete retired keys whose tokens have expired. Creates the first key if there is none.
    Scheduled,
    /// `tessera key rotate`: create `next` now if there is none; else promote it as soon as it
    /// has been published long enough.
    Advance,
    /// `tessera key rotate --now`: promote `next` (creating it first if needed) now, even if
    /// caches may not have it yet.
    Now,
}

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationReport {
    /// Another instance held the rotation lock: nothing was done here.
    pub skipped: bool,
    /// The key created (state `next`, or `active` for the very first one).
    pub created: Option<KeyInfo>,
    /// The kid that became active.
    pub activated: Option<String>,
    /// The kid that was retired.
    pub retired: Option<String>,
    /// Keys deleted (their tokens had all expired).
    pub deleted: Vec<String>,
    /// A `next` key waits: it may sign from this time on.
    pub next_signs_at: Option<i64>,
}

impl RotationReport {
    /// Whether the key table changed.
    pub fn changed(&self) -> bool {
        self.created.is_some()
            || self.activated.is_some()
            || self.retired.is_some()
            || !self.deleted.is_empty()
    }
}

/// How often [`KeyManager::revoke`] tries for the rotation lock, and how far apart.
const REVOKE_ATTEMPTS: u32 = 40;
const REVOKE_RETRY: Duration = Duration::from_millis(250);
/// Passes of [`KeyManager::reseal_all`] over rows that changed under it.
const RESEAL_PASSES: u32 = 5;

/// What [`KeyManager::revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revocation {
    /// The revoked key.
    pub kid: String,
    /// Its state before (`Revoked`: it already was, nothing changed).
    pub was: KeyState,
    /// The key that became active in its place (when the revoked key was the active one).
    pub activated: Option<String>,
}

/// What [`KeyManager::reseal_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResealReport {
    /// The id of the master key everything is now sealed under.
    pub master_key_id: String,
    /// Keys resealed by this run.
    pub resealed: Vec<String>,
    /// Keys whose master key is not configured (kid, why): left as they were.
    pub unreadable: Vec<(String, String)>,
    /// Keys still sealed under another master key at the end (empty: done).
    pub remaining: Vec<String>,
}

/// Loads, serves and rotates the issuer's signing keys. Share it behind an `Arc`.
#[derive(Debug)]
pub struct KeyManager {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    master: Arc<MasterKeyRing>,
    policy: RotationPolicy,
    metrics: Metrics,
    holder: String,
    current: ArcSwap<KeySnapshot>,
    reloading: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

impl KeyManager {
    /// A manager with nothing loaded yet: call [`init`](Self::init).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master: Arc<MasterKeyRing>,
        policy: RotationPolicy,
        metrics: Metrics,
    ) -> Self {
        let mut suffix = [0u8; 6];
        // An all-zero suffix is still a usable holder name.
        let _ = aws_lc_rs::rand::fill(&mut suffix);
        let holder = format!(
            "pid {} #{}",
            std::process::id(),
            URL_SAFE_NO_PAD.encode(suffix)
        );
        Self {
            store,
            clock,
            master,
            policy,
            metrics,
            holder,
            current: ArcSwap::from_pointee(KeySnapshot::empty()),
            reloading: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }

    /// The rotation policy.
    pub fn policy(&self) -> &RotationPolicy {
        &self.policy
    }

    /// A 32-byte secret for one purpose (`label`), derived from the current master key
    /// ([`MasterKey::derive`]): the same on every instance that shares the master key.
    pub fn derived_secret(&self, label: &str) -> Result<zeroize::Zeroizing<[u8; 32]>, KeyError> {
        self.master.current().derive(label)
    }

    /// Loads the keys and, if none is active, makes one (the first run) — or waits for the
    /// instance that holds the rotation lock to make it. Returns what was done.
    pub async fn init(&self) -> Result<RotationReport, KeyError> {
        self.reload().await?;
        let mut report = RotationReport::default();
        for attempt in 0..40 {
            if self.current.load().active.is_some() {
                return Ok(report);
            }
            report = self.rotate(RotateMode::Scheduled).await?;
            if !report.skipped {
                if self.current.load().active.is_none() {
                    // The table has an active key this instance cannot use (wrong master key,
                    // damaged row): say why rather than wait.
                    let problem = self.current.load().problem.clone();
                    return Err(KeyError::Corrupt(
                        problem.unwrap_or_else(|| "the active key cannot be loaded".into()),
                    ));
                }
                continue;
            }
            // Another instance is creating it: give it time.
            tokio::time::sleep(Duration::from_millis(250 * (attempt % 4 + 1))).await;
            self.reload().await?;
        }
        Err(KeyError::Busy)
    }

    /// The key that signs new tokens (its `kid` is set).
    pub fn signer(&self) -> Result<Arc<SigningKey>, KeyError> {
        let snapshot = self.current.load();
        if self.refreshing.load(Ordering::Relaxed)
            && let Some(loaded) = snapshot.loaded
        {
            let age = loaded.elapsed();
            if age > self.policy.max_staleness() {
                return Err(KeyError::Stale {
                    seconds: age.as_secs(),
                });
            }
        }
        snapshot.active.clone().ok_or(KeyError::NoActiveKey)
    }

    /// Every published key (next, active, retired), to verify tokens tessera signed.
    pub fn verification_keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.current.load().verification)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Arc<Jwks> {
        Arc::clone(&self.current.load().jwks)
    }

    /// The whole snapshot.
    pub fn snapshot(&self) -> Arc<KeySnapshot> {
        self.current.load_full()
    }

    /// `Ok` if a key can sign; else why not (for `/readyz`).
    pub fn readiness(&self) -> Result<(), String> {
        match self.signer() {
            Ok(_) => Ok(()),
            Err(e) => Err(match &self.current.load().problem {
                Some(problem) => format!("{e}: {problem}"),
                None => e.to_string(),
            }),
        }
    }

    /// The keys as stored now (not the snapshot).
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        Ok(self
            .store
            .signing_keys()
            .await?
            .iter()
            .map(KeyInfo::from)
            .collect())
    }

    /// Re-reads the key table and swaps in a new snapshot. On failure the previous snapshot
    /// stays (and goes on signing until it is stale).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let _one_at_a_time = self.reloading.lock().await;
        let records = self.store.signing_keys().await?;
        let previous = self.current.load_full();
        let mut active = None;
        let mut problem = None;
        let mut verifying = Vec::new();
        let mut published = Vec::new();
        let mut infos = Vec::new();
        for record in records.iter().filter(|r| r.state != KeyState::Revoked) {
            let (public, key) = match public_key(record) {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::error!(kid = %record.kid, error = %e, "a stored signing key is unusable; not published");
                    problem = Some(e.to_string());
                    continue;
                }
            };
            if record.state == KeyState::Active {
                match previous
                    .active
                    .as_ref()
                    .filter(|k| k.kid() == Some(record.kid.as_str()))
                {
                    Some(same) => active = Some(Arc::clone(same)),
                    None => match self.open(record, &public) {
                        Ok(signing) => active = Some(Arc::new(signing)),
                        Err(e) => {
                            tracing::error!(kid = %record.kid, error = %e, "the active signing key cannot be loaded");
                            problem = Some(e.to_string());
                        }
                    },
                }
            }
            verifying.push(key);
            published.push(public);
            infos.push(KeyInfo::from(record));
        }
        let jwks = Jwks::of(published)?;
        if active.is_none() && problem.is_none() {
            problem = Some("the key table has no active key".into());
        }
        let changed = previous.jwks.etag != jwks.etag
            || previous
                .active
                .as_ref()
                .and_then(|k| k.kid().map(str::to_owned))
                != active.as_ref().and_then(|k| k.kid().map(str::to_owned));
        if changed {
            tracing::info!(
                active = active.as_ref().and_then(|k| k.kid()).unwrap_or("none"),
                published = infos.len(),
                "signing keys loaded"
            );
        }
        self.current.store(Arc::new(KeySnapshot {
            active,
            verification: Arc::new(KeySet::new(verifying)),
            jwks: Arc::new(jwks),
            keys: infos,
            loaded: Some(Instant::now()),
            problem,
        }));
        Ok(())
    }

    /// Decrypts a stored key and checks it matches its public JWK.
    fn open(&self, record: &SigningKeyRecord, public: &Jwk) -> Result<SigningKey, KeyError> {
        let alg = parse_alg(record)?;
        let plaintext = self
            .master
            .open(&record.kid, &record.alg, &record.private_key)?;
        let jwk = Jwk::from_json(&plaintext)
            .map_err(|e| KeyError::Corrupt(format!("signing key {}: {e}", record.kid)))?;
        let key = SigningKey::from_jwk(&jwk, Some(alg))
            .map_err(|e| KeyError::Corrupt(format!("signing key {}: {e}", record.kid)))?
            .with_kid(record.kid.clone());
        if key.thumbprint()? != public.thumbprint()? {
            return Err(KeyError::Corrupt(format!(
                "signing key {}: the private key does not match the published public key",
                record.kid
            )));
        }
        Ok(key)
    }

    /// Runs a rotation step under the rotation lock (see the [module docs](self)), then
    /// reloads if anything changed. `skipped` in the report when another instance holds the
    /// lock.
    pub async fn rotate(&self, mode: RotateMode) -> Result<RotationReport, KeyError> {
        let now = self.clock.now();
        let outcome = store::with_rotation_lock(
            &*self.store,
            &self.holder,
            now,
            self.policy.lock_ttl,
            |lock| self.rotate_locked(mode, lock),
        )
        .await?;
        let Some(report) = outcome else {
            return Ok(RotationReport {
                skipped: true,
                ..RotationReport::default()
            });
        };
        if report.changed() {
            self.reload().await?;
        }
        Ok(report)
    }

    async fn rotate_locked(
        &self,
        mode: RotateMode,
        lock: RotationLock,
    ) -> Result<RotationReport, KeyError> {
        let policy = self.policy;
        let mut report = RotationReport::default();
        let records = self.store.signing_keys().await?;
        let now = self.clock.now();

        for retired in records.iter().filter(|r| r.state == KeyState::Retired) {
            if retired.delete_after.is_some_and(|at| at <= now) {
                self.check_lease(&lock)?;
                match self.store.delete_signing_key(&retired.kid).await {
                    Ok(()) => {
                        tracing::info!(kid = %retired.kid, "deleted a retired signing key: every token it signed has expired");
                        self.metrics.key_rotation("deleted");
                        report.deleted.push(retired.kid.clone());
                    }
                    // Someone else did it.
                    Err(StoreError::NotFound { .. } | StoreError::KeyStateMismatch { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }

        let active = records.iter().find(|r| r.state == KeyState::Active);
        let next = records.iter().find(|r| r.state == KeyState::Next);
        match (active, next) {
            (None, None) => {
                let created = self.create(KeyState::Active, &lock).await?;
                tracing::info!(kid = %created.kid, alg = %created.alg, "created the first signing key");
                report.activated = Some(created.kid.clone());
                report.created = Some(created);
            }
            (None, Some(next)) => {
                // Nothing signs: better a key some caches may lack than no key at all.
                self.check_lease(&lock)?;
                tracing::warn!(kid = %next.kid, "no active signing key: activating the next one early");
                self.store
                    .transition_signing_keys(
                        &[KeyTransition {
                            kid: &next.kid,
                            from: KeyState::Next,
                            to: KeyState::Active,
                            delete_after: None,
                        }],
                        self.clock.now(),
                    )
                    .await?;
                self.metrics.key_rotation("activated");
                report.activated = Some(next.kid.clone());
            }
            (Some(active), None) => {
                let since = active.activated_at.unwrap_or(active.created_at);
                let due = match mode {
                    RotateMode::Scheduled => now >= policy.next_due_at(since),
                    RotateMode::Advance | RotateMode::Now => true,
                };
                if due {
                    let created = self.create(KeyState::Next, &lock).await?;
                    tracing::info!(
                        kid = %created.kid,
                        alg = %created.alg,
                        signs_from = policy.promotable_at(created.created_at),
                        "created the next signing key; it is published now and signs later"
                    );
                    let next_kid = created.kid.clone();
                    let created_at = created.created_at;
                    report.created = Some(created);
                    if mode == RotateMode::Now {
                        self.promote(&active.kid, &next_kid, &lock, &mut report)
                            .await?;
                    } else {
                        report.next_signs_at =
                            Some(policy.promotable_at(created_at).max(match mode {
                                RotateMode::Scheduled => policy.rotation_due_at(since),
                                _ => i64::MIN,
                            }));
                    }
                }
            }
            (Some(active), Some(next)) => {
                let since = active.activated_at.unwrap_or(active.created_at);
                let signs_at = match mode {
                    RotateMode::Scheduled => policy
                        .promotable_at(next.created_at)
                        .max(policy.rotation_due_at(since)),
                    RotateMode::Advance => policy.promotable_at(next.created_at),
                    RotateMode::Now => i64::MIN,
                };
                if now >= signs_at {
                    self.promote(&active.kid, &next.kid, &lock, &mut report)
                        .await?;
                } else {
                    report.next_signs_at = Some(signs_at);
                }
            }
        }
        Ok(report)
    }

    async fn promote(
        &self,
        active: &str,
        next: &str,
        lock: &RotationLock,
        report: &mut RotationReport,
    ) -> Result<(), KeyError> {
        self.check_lease(lock)?;
        let now = self.clock.now();
        self.store
            .transition_signing_keys(
                &[
                    KeyTransition {
                        kid: active,
                        from: KeyState::Active,
                        to: KeyState::Retired,
                        delete_after: Some(self.policy.delete_after(now)),
                    },
                    KeyTransition {
                        kid: next,
                        from: KeyState::Next,
                        to: KeyState::Active,
                        delete_after: None,
                    },
                ],
                now,
            )
            .await?;
        tracing::info!(activated = %next, retired = %active, "rotated the signing key");
        self.metrics.key_rotation("activated");
        self.metrics.key_rotation("retired");
        report.activated = Some(next.to_owned());
        report.retired = Some(active.to_owned());
        Ok(())
    }

    /// Withdraws a (compromised) key at once, under the rotation lock (waiting a few seconds
    /// for another instance's lease): see the [module docs](self#revocation). Revoking a
    /// revoked key again changes nothing; an unknown kid is [`StoreError::NotFound`]. This
    /// instance's snapshot, JWKS and verification keys no longer hold the key when it returns.
    pub async fn revoke(&self, kid: &str) -> Result<Revocation, KeyError> {
        for _ in 0..REVOKE_ATTEMPTS {
            let outcome = store::with_rotation_lock(
                &*self.store,
                &self.holder,
                self.clock.now(),
                self.policy.lock_ttl,
                |lock| self.revoke_locked(kid, lock),
            )
            .await?;
            if let Some(revocation) = outcome {
                self.reload().await?;
                return Ok(revocation);
            }
            tokio::time::sleep(REVOKE_RETRY).await;
        }
        Err(KeyError::Busy)
    }

    async fn revoke_locked(&self, kid: &str, lock: RotationLock) -> Result<Revocation, KeyError> {
        let records = self.store.signing_keys().await?;
        let Some(target) = records.iter().find(|r| r.kid == kid) else {
            return Err(StoreError::not_found("signing key", kid).into());
        };
        let mut revocation = Revocation {
            kid: kid.to_owned(),
            was: target.state,
            activated: None,
        };
        if target.state == KeyState::Revoked {
            return Ok(revocation);
        }
        let revoke = KeyTransition {
            kid,
            from: target.state,
            to: KeyState::Revoked,
            delete_after: None,
        };
        if target.state != KeyState::Active {
            self.check_lease(&lock)?;
            self.store
                .transition_signing_keys(&[revoke], self.clock.now())
                .await?;
        } else {
            // The successor is the `next` key (published already, if not for long) or a new
            // one: verifiers whose cached JWKS lacks it refuse its tokens until they refetch,
            // which is better than signing on with a compromised key.
            let successor = match records.iter().find(|r| r.state == KeyState::Next) {
                Some(next) => next.kid.clone(),
                None => self.create(KeyState::Next, &lock).await?.kid,
            };
            self.check_lease(&lock)?;
            self.store
                .transition_signing_keys(
                    &[
                        revoke,
                        KeyTransition {
                            kid: &successor,
                            from: KeyState::Next,
                            to: KeyState::Active,
                            delete_after: None,
                        },
                    ],
                    self.clock.now(),
                )
                .await?;
            self.metrics.key_rotation("activated");
            revocation.activated = Some(successor);
        }
        self.metrics.key_rotation("revoked");
        tracing::warn!(kid = %kid, was = %target.state, activated = revocation.activated.as_deref().unwrap_or("-"), "revoked a signing key: out of the JWKS, its tokens no longer verify here");
        Ok(revocation)
    }

    /// Re-encrypts every stored private key that is not under the current master key (see the
    /// [module docs](self#master-key-rotation)). Each row is a compare-and-set: a row changed
    /// meanwhile is read again, never overwritten. A key that cannot be opened (its master key
    /// is not in the ring) is listed in [`ResealReport::unreadable`] and left as it is.
    pub async fn reseal_all(&self) -> Result<ResealReport, KeyError> {
        let current = self.master.current().id().to_owned();
        let mut report = ResealReport {
            master_key_id: current.clone(),
            ..ResealReport::default()
        };
        for _ in 0..RESEAL_PASSES {
            let pending: Vec<SigningKeyRecord> = self
                .store
                .signing_keys()
                .await?
                .into_iter()
                .filter(|r| r.state != KeyState::Revoked && r.private_key.master_key_id != current)
                .filter(|r| !report.unreadable.iter().any(|(kid, _)| *kid == r.kid))
                .collect();
            if pending.is_empty() {
                break;
            }
            for record in pending {
                let plaintext =
                    match self
                        .master
                        .open(&record.kid, &record.alg, &record.private_key)
                    {
                        Ok(plaintext) => plaintext,
                        Err(e) => {
                            report.unreadable.push((record.kid.clone(), e.to_string()));
                            continue;
                        }
                    };
                let resealed = self.master.seal(&record.kid, &record.alg, &plaintext)?;
                // Nothing is written that this ring cannot read back.
                self.master.open(&record.kid, &record.alg, &resealed)?;
                if self
                    .store
                    .reseal_signing_key(&record.kid, &record.private_key, &resealed)
                    .await?
                {
                    tracing::info!(kid = %record.kid, from = %record.private_key.master_key_id, to = %current, "resealed a signing key under the current master key");
                    report.resealed.push(record.kid.clone());
                }
                // Else the row changed meanwhile (another run resealed it, it was revoked or
                // deleted): the next pass reads it again.
            }
        }
        report.remaining = self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .filter(|r| r.state != KeyState::Revoked && r.private_key.master_key_id != current)
            .map(|r| r.kid)
            .collect();
        Ok(report)
    }

    /// Generates a key (off the async runtime: RSA takes time), encrypts and stores it.
    async fn create(&self, state: KeyState, lock: &RotationLock) -> Result<KeyInfo, KeyError> {
        let alg = self.policy.algorithm;
        let bits = self.policy.rsa_bits;
        let key =
            tokio::task::spawn_blocking(move || SigningKey::generate_with_rsa_bits(alg, bits))
                .await
                .map_err(|e| KeyError::Internal(format!("key generation task: {e}")))??;
        let kid = key.thumbprint()?;
        let key = key.with_kid(kid.clone());
        let private = Zeroizing::new(key.to_jwk()?.to_json()?);
        let sealed = self.master.seal(&kid, alg.name(), private.as_bytes())?;
        let public = key.public_jwk()?.to_json()?;
        self.check_lease(lock)?;
        let record = self
            .store
            .insert_signing_key(
                &NewSigningKey {
                    kid: &kid,
                    alg: alg.name(),
                    state,
                    private_key: &sealed,
                    public_jwk: &public,
                },
                self.clock.now(),
            )
            .await?;
        self.metrics.key_rotation("created");
        if state == KeyState::Active {
            self.metrics.key_rotation("activated");
        }
        Ok(KeyInfo::from(&record))
    }

    fn check_lease(&self, lock: &RotationLock) -> Result<(), KeyError> {
        if self.clock.now() >= lock.expires_at {
            return Err(KeyError::LockLapsed);
        }
        Ok(())
    }

    /// Runs one tick of the background work: the scheduled rotation, then a reload (so that a
    /// rotation made by another instance is picked up).
    pub async fn tick(&self) -> Result<RotationReport, KeyError> {
        let report = self.rotate(RotateMode::Scheduled).await;
        let reloaded = self.reload().await;
        let report = report?;
        reloaded?;
        Ok(report)
    }

    /// Starts the background task: every `refresh_interval`, [`tick`](Self::tick). From now
    /// on a snapshot older than `2 × refresh_interval` stops signing. Abort the handle to
    /// stop it.
    pub fn spawn_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        self.spawn_refresh_every(Duration::from_secs(
            u64::try_from(self.policy.refresh_interval).unwrap_or(10),
        ))
    }

    /// [`spawn_refresh`](Self::spawn_refresh) with another period (tests).
    pub fn spawn_refresh_every(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        self.refreshing.store(true, Ordering::Relaxed);
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                if let Err(e) = this.tick().await {
                    tracing::warn!(error = %e, "signing key refresh failed; keeping the keys loaded before");
                }
            }
        })
    }
}

fn parse_alg(record: &SigningKeyRecord) -> Result<Algorithm, KeyError> {
    Algorithm::from_str(&record.alg).map_err(|_| {
        KeyError::Corrupt(format!(
            "signing key {}: unknown algorithm {:?}",
            record.kid, record.alg
        ))
    })
}

/// The public JWK to publish (only public members, with `kid`, `alg`, `use`) and the
/// verifying key of a stored record.
fn public_key(record: &SigningKeyRecord) -> Result<(Jwk, VerifyingKey), KeyError> {
    let alg = parse_alg(record)?;
    let corrupt =
        |e: tessera_jwt::Error| KeyError::Corrupt(format!("signing key {}: {e}", record.kid));
    let stored = Jwk::from_json(record.public_jwk.as_bytes()).map_err(corrupt)?;
    let mut public = stored
        .to_public()
        .ok_or_else(|| KeyError::Corrupt(format!("signing key {}: no public key", record.kid)))?;
    public.kid = Some(record.kid.clone());
    public.alg = Some(alg.name().to_owned());
    public.use_ = Some("sig".to_owned());
    let key = VerifyingKey::from_jwk(&public, Some(alg)).map_err(corrupt)?;
    Ok((public, key))
}

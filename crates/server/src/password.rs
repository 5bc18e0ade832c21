//! Password hashing: argon2id in PHC strings, computed off the async runtime with a bounded
//! number at once.
//!
//! - **Bounded work.** Each hash or verification takes a permit of a semaphore (by default
//!   one per CPU) and runs on tokio's blocking pool, so a burst of logins queues here instead
//!   of starving the runtime's workers or the memory (argon2id takes `m_cost` KiB each). A
//!   request that waits longer than the queue timeout gets [`PasswordError::Busy`] (HTTP 503
//!   with `Retry-After`), never an unbounded queue.
//! - **No user enumeration by timing.** An unknown user, or one without a password, is
//!   verified against a dummy hash with the same parameters, so every failed login costs one
//!   argon2id computation, like a wrong password.
//! - **Rehash on login.** [`Verification::Match`] says whether the stored hash was made with
//!   other parameters than the configured ones; the caller then stores a fresh hash.
//! - **Secrets** travel as [`SecretString`] (zeroized on drop, redacted in `Debug`) and are
//!   never logged. argon2's own memory blocks are zeroized (its `zeroize` feature).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as URL_SAFE_NO_PAD_STD;
use tessera_jwt::SecretString;
use tokio::sync::Semaphore;

/// The longest password accepted when one is set (bytes). Verification accepts any length
/// (argon2 pre-hashes the input, and the request body is limited anyway).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// argon2id parameters and the concurrency bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB (OWASP: 19456 = 19 MiB).
    pub m_cost_kib: u32,
    /// Iterations (OWASP: 2).
    pub t_cost: u32,
    /// Lanes (OWASP: 1).
    pub p_cost: u32,
    /// Most hashes computed at once (at least 1).
    pub max_concurrent: usize,
    /// How long a request waits for a free slot before [`PasswordError::Busy`].
    pub queue_timeout: Duration,
}

impl Default for PasswordParams {
    /// OWASP's argon2id recommendation (m=19456 KiB, t=2, p=1), one slot per CPU, 5 s queue.
    fn default() -> Self {
        Self {
            m_cost_kib: Params::DEFAULT_M_COST,
            t_cost: Params::DEFAULT_T_COST,
            p_cost: Params::DEFAULT_P_COST,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue_timeout: Duration::from_secs(5),
        }
    }
}

/// What can go wrong hashing or verifying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Every slot stayed taken for the whole queue timeout: try again later (503).
    #[error("too many password checks at once; try again later")]
    Busy,
    /// The argon2 parameters are out of range.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// The password cannot be used (empty, too long).
    #[error("{0}")]
    Unacceptable(&'static str),
    /// Hashing failed, or the blocking task did not finish (a bug, not the client's fault).
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// The outcome of [`Passwords::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The password is right.
    Match {
        /// The stored hash was made with other parameters (or another variant) than the
        /// configured ones: store a fresh [`Passwords::hash`].
        needs_rehash: bool,
    },
    /// Wrong password, unknown user, or no password set: the caller cannot tell which, and
    /// neither can the client.
    Mismatch,
}

/// Hashes and verifies passwords (argon2id, PHC strings). Cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    /// A PHC string with the configured parameters that no password matches: what unknown
    /// users are verified against.
    dummy: String,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("m_cost_kib", &self.inner.params.m_cost())
            .field("t_cost", &self.inner.params.t_cost())
            .field("p_cost", &self.inner.params.p_cost())
            .field("available_slots", &self.inner.permits.available_permits())
            .field("queue_timeout", &self.inner.queue_timeout)
            .finish_non_exhaustive()
    }
}

impl Passwords {
    /// A hasher with these parameters. Parameters argon2 refuses (which a validated
    /// configuration never holds) are replaced by OWASP's, with an error in the log: the
    /// server still starts, hashing at least as hard.
    pub fn new(config: &PasswordParams) -> Self {
        let params = Params::new(config.m_cost_kib, config.t_cost, config.p_cost, None)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "invalid argon2 parameters; using OWASP's");
                Params::DEFAULT
            });
        Self::with_params(params, config)
    }

    /// Like [`new`](Self::new), but refuses parameters argon2 does not accept.
    pub fn try_new(config: &PasswordParams) -> Result<Self, PasswordError> {
        let params = Params::new(config.m_cost_kib, config.t_cost, config.p_cost, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Self::with_params(params, config))
    }

    fn with_params(params: Params, config: &PasswordParams) -> Self {
        let slots = config.max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(Inner {
                dummy: dummy_hash(&params),
                params,
                permits: Arc::new(Semaphore::new(slots)),
                queue_timeout: config.queue_timeout,
            }),
        }
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) of a new password, with a fresh
    /// 128-bit salt.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        check_acceptable(password.expose())?;
        let params = self.inner.params.clone();
        self.run(move || hash_blocking(&params, password.expose().as_bytes()))
            .await?
    }

    /// Verifies a password against a stored PHC string, or — for `None` (unknown user, no
    /// password set) — against the dummy hash, so that each case costs the same. A stored
    /// value that does not parse as an argon2 PHC string counts as a mismatch (and is logged,
    /// without the value).
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<&str>,
    ) -> Result<Verification, PasswordError> {
        let real = stored.is_some();
        let stored = stored.unwrap_or(&self.inner.dummy).to_owned();
        let params = self.inner.params.clone();
        self.run(move || {
            let parsed = match PasswordHash::new(&stored) {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::warn!(error = %e, "a stored password hash is not a PHC string");
                    // Spend the same time as a real check, then refuse.
                    let _ = hash_blocking(&params, password.expose().as_bytes());
                    return Verification::Mismatch;
                }
            };
            let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            match argon.verify_password(password.expose().as_bytes(), &parsed) {
                Ok(()) if real => Verification::Match {
                    needs_rehash: needs_rehash(&parsed, &params),
                },
                _ => Verification::Mismatch,
            }
        })
        .await
    }

    /// Runs `work` on the blocking pool once a slot is free, or fails with
    /// [`PasswordError::Busy`] after the queue timeout. The slot is held until `work` ends,
    /// even if the caller stops waiting (a dropped request cannot free a slot early).
    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let acquire = self.inner.permits.clone().acquire_owned();
        let permit = match tokio::time::timeout(self.inner.queue_timeout, acquire).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(PasswordError::Busy),
            Err(_elapsed) => return Err(PasswordError::Busy),
        };
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| PasswordError::Internal(format!("the hashing task failed: {e}")))
    }
}

/// A PHC string with these parameters whose hash is 32 bytes no password is known to produce
/// (finding one is a preimage attack on argon2id): verifying against it costs exactly what
/// verifying a real hash costs, and never succeeds. Nothing needs computing at startup.
fn dummy_hash(params: &Params) -> String {
    let salt = URL_SAFE_NO_PAD_STD.encode(b"tessera-dummy-salt");
    let hash = URL_SAFE_NO_PAD_STD.encode([0x5a; 32]);
    format!(
        "$argon2id$v=19$m={},t={},p={}${salt}${hash}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost()
    )
}

fn check_acceptable(password: &str) -> Result<(), PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Unacceptable("the password is empty"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::Unacceptable(
            "the password is longer than 1024 bytes",
        ));
    }
    Ok(())
}

fn fill_random(out: &mut [u8]) -> Result<(), PasswordError> {
    aws_lc_rs::rand::fill(out)
        .map_err(|_| PasswordError::Internal("the random generator failed".to_owned()))
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, PasswordError> {
    let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
    fill_random(&mut salt)?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_with_salt(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Internal(e.to_string()))
}

/// Whether a hash that verified was made with another variant, version or parameters than
/// the configured ones.
fn needs_rehash(hash: &PasswordHash, configured: &Params) -> bool {
    if hash.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str()
        || hash.version != Some(Version::V0x13.into())
    {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => {
            p.m_cost() != configured.m_cost()
                || p.t_cost() != configured.t_cost()
                || p.p_cost() != configured.p_cost()
                || p.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)
                    != configured
                        .output_len()
                        .unwrap_or(Params::DEFAULT_OUTPUT_LEN)
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PasswordParams {
        PasswordParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
            max_concurrent: 2,
            queue_timeout: Duration::from_secs(5),
        }
    }

    fn secret(s: &str) -> SecretString {
        SecretString::new(s.to_owned())
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let pw = Passwords::new(&small());
        let hash = pw.hash(secret("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert_eq!(
            pw.verify(secret("correct horse"), Some(&hash))
                .await
                .unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            pw.verify(secret("correct horsE"), Some(&hash))
                .await
                .unwrap(),
            Verification::Mismatch
        );
        // Two hashes of one password differ (fresh salt).
        assert_ne!(hash, pw.hash(secret("correct horse")).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_user_and_garbage_hashes_are_mismatches() {
        let pw = Passwords::new(&small());
        assert_eq!(
            pw.verify(secret("anything"), None).await.unwrap(),
            Verification::Mismatch
        );
        // The dummy has the configured parameters (so it costs the same) and parses.
        let dummy = pw.inner.dummy.clone();
        assert!(dummy.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{dummy}");
        let parsed = PasswordHash::new(&dummy).unwrap();
        assert!(!needs_rehash(&parsed, &pw.inner.params));
        for garbage in ["", "plain", "$argon2id$v=19$m=64$", "$2b$12$abcdefghijkl"] {
            assert_eq!(
                pw.verify(secret("x"), Some(garbage)).await.unwrap(),
                Verification::Mismatch,
                "{garbage}"
            );
        }
    }

    #[tokio::test]
    async fn changed_parameters_ask_for_a_rehash() {
        let old = Passwords::new(&small());
        let hash = old.hash(secret("pw")).await.unwrap();
        let new = Passwords::new(&PasswordParams {
            m_cost_kib: 128,
            ..small()
        });
        assert_eq!(
            new.verify(secret("pw"), Some(&hash)).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
        // argon2i hashes verify (the PHC string names the variant) but ask for argon2id.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"pw", b"saltsaltsalt")
        .unwrap()
        .to_string();
        assert_eq!(
            old.verify(secret("pw"), Some(&argon2i)).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn unacceptable_passwords_are_refused() {
        let pw = Passwords::new(&small());
        assert!(matches!(
            pw.hash(secret("")).await,
            Err(PasswordError::Unacceptable(_))
        ));
        assert!(matches!(
            pw.hash(secret(&"x".repeat(MAX_PASSWORD_LEN + 1))).await,
            Err(PasswordError::Unacceptable(_))
        ));
        assert!(pw.hash(secret(&"x".repeat(MAX_PASSWORD_LEN))).await.is_ok());
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        for bad in [
            PasswordParams {
                m_cost_kib: 1,
                ..small()
            },
            PasswordParams {
                t_cost: 0,
                ..small()
            },
            PasswordParams {
                p_cost: 0,
                ..small()
            },
        ] {
            assert!(matches!(
                Passwords::try_new(&bad),
                Err(PasswordError::Params(_))
            ));
            // The lenient constructor falls back to OWASP's parameters.
            let lenient = Passwords::new(&bad);
            assert_eq!(lenient.inner.params.m_cost(), 19_456);
            assert!(
                lenient
                    .inner
                    .dummy
                    .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_after_the_timeout() {
        let pw = Passwords::new(&PasswordParams {
            max_concurrent: 1,
            queue_timeout: Duration::from_millis(50),
            ..small()
        });
        // Hold the only slot with a blocking task that waits for a signal.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let holder = {
            let pw = pw.clone();
            tokio::spawn(async move {
                pw.run(move || {
                    let _ = wait.recv_timeout(Duration::from_secs(10));
                })
                .await
            })
        };
        // Wait (bounded) until the holder has the slot.
        for _ in 0..500 {
            if pw.inner.permits.available_permits() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(pw.inner.permits.available_permits(), 0);
        let started = std::time::Instant::now();
        let busy = pw.verify(secret("x"), None).await;
        assert!(matches!(busy, Err(PasswordError::Busy)), "{busy:?}");
        assert!(started.elapsed() >= Duration::from_millis(50));
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        // The slot is back.
        assert_eq!(
            pw.verify(secret("x"), None).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let pw = Passwords::new(&small());
        let debug = format!("{pw:?}");
        assert!(!debug.contains("$argon2id"), "{debug}");
        assert!(debug.contains("m_cost_kib: 64"), "{debug}");
    }
}

//! Login throttling: what a password attempt costs, per account, per client address and per
//! (account, address) pair, kept in the store so that every instance on one database counts
//! the same attempts.
//!
//! ## The rule: a stranger can slow brute force down, never lock the owner out
//!
//! Each bucket is a GCRA bucket (`burst` attempts at once, then one more every `period`); an
//! attempt takes from three of them, in this order, before any password is checked:
//!
//! 1. **Per address** (hard): 50 failures per 15 minutes from one address, whatever the
//!    accounts (password spraying). Refused: 429 with `Retry-After`.
//! 2. **Per (account, address)** (hard): 5 failures per 15 minutes against one account from
//!    one address. Refused: 429 with `Retry-After`. This is what a single client guessing one
//!    password meets, and it only ever refuses the address that failed.
//! 3. **Per account** (soft): past the same 5 failures per 15 minutes, counted from every
//!    address, each further attempt **waits** before its password is checked: 1 s, 2 s, 4 s…
//!    up to `max_delay` (20 s by default), then answers as usual (200 or 401). It is never a
//!    refusal: the owner, from an address that has not failed, always gets in with the right
//!    password, at worst `max_delay` later.
//!
//! Why not a hard per-account limit (as before)? It was spent before the password was
//! checked, so five wrong passwords from anywhere made the owner's right password answer 429
//! — anyone could lock a named account out. Why not OWASP's device cookie (browsers that
//! signed in before skip the account limit)? It protects only browsers that kept a cookie,
//! not the `/login` API, scripts or `/oauth2/token`; the delay protects every way in alike.
//!
//! What an attacker still gets: from one address, 5 guesses per account per 15 minutes and 50
//! in all; from many addresses (a botnet), 5 per address per account, each waiting
//! `max_delay` once the account is under attack. The delay is a cost per guess (a held
//! connection), not a rate cap: the rate is bounded by the hard limits times the number of
//! addresses. The delay is also limited to half the request timeout, so that a delayed owner
//! gets an answer, not a 503.
//!
//! - The wait is a `tokio` timer: no thread is blocked, and no database connection is held
//!   (each bucket operation is one statement that returns its connection at once).
//! - A **successful** login gives back the attempts it took from its three buckets, so the
//!   limits count failures in effect; it does not clear failures made before.
//! - Accounts are keyed by the username as typed, lowercased, **whether or not it exists**,
//!   so throttling says nothing about which accounts exist. Addresses are keyed by IPv4
//!   address or IPv6 /64 prefix (one host usually owns a whole /64). An unknown address (a
//!   trusted proxy that did not say, see `config::HttpSettings::client_address`) has no
//!   address or pair bucket — one shared "unknown" bucket would let one such client lock out
//!   all the others — and meets the per-account delay alone.
//!
//! ## Where the counters live
//!
//! In the store, for both backends (the `throttle_buckets` table, migration 0002): instances
//! sharing PostgreSQL share the limits (N instances behind a balancer give an attacker the
//! budget of one), and SQLite keeps one code path, tested on both. Each take is one atomic
//! statement (`INSERT … ON CONFLICT DO UPDATE … WHERE`). Rows are keyed by the SHA-256 of the
//! bucket's name (bounded size, whatever a client typed); a row whose bucket is full again
//! holds nothing and is purged (each instance deletes a bounded batch at most once a minute).
//! The row count is bounded by the attempts the hard limits let through in one window.
//! A refusal is also remembered in memory (a bounded cache) until it lapses, so that a flood
//! from a refused address costs no database round trip.
//!
//! Time comes from the injected [`Clock`] (whole seconds), so tests never sleep.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_jwt::Clock;

use crate::store::{BucketKey, BucketOutcome, BucketTake, Store, StoreError};

/// One limit: `burst` attempts at once, then one more each `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Attempts allowed at once (at least 1).
    pub burst: u32,
    /// How long it takes to earn one attempt back (whole seconds, at least 1).
    pub period: Duration,
}

/// The limits of a [`LoginThrottle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Per (account, address) pair: a hard limit. Per account: the failures allowed before
    /// each attempt is delayed.
    pub per_account: Rule,
    /// Per client address: a hard limit.
    pub per_address: Rule,
    /// The longest an attempt on an account under attack waits (zero: no delay).
    pub max_delay: Duration,
}

impl Default for ThrottleConfig {
    /// 5 failures per account (and address) per 15 minutes, 50 per address per 15 minutes,
    /// delays up to 20 s (the configuration's defaults).
    fn default() -> Self {
        Self {
            per_account: Rule::per_window(5, Duration::from_secs(15 * 60)),
            per_address: Rule::per_window(50, Duration::from_secs(15 * 60)),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl Rule {
    /// `attempts` per `window`: a burst of `attempts`, then one more every
    /// `window / attempts` (at least a second).
    pub fn per_window(attempts: u32, window: Duration) -> Self {
        let attempts = attempts.max(1);
        Self {
            burst: attempts,
            period: (window / attempts).max(Duration::from_secs(1)),
        }
    }
}

/// An attempt was refused: retry after this many seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Seconds until the next attempt would be allowed.
    pub retry_after: u64,
}

/// Why an attempt may not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptError {
    /// Refused by a hard limit.
    #[error("too many attempts; retry in {} s", .0.retry_after)]
    Throttled(Throttled),
    /// The counters could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An allowed attempt: wait [`Attempt::delay`] before checking the password, and report a
/// success with [`LoginThrottle::succeeded`].
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    /// Buckets taken from, with their period, to give back on success.
    taken: Vec<(BucketKey, i64)>,
    delay: Duration,
}

impl Attempt {
    /// How long to wait before the password is checked (zero unless the account is under
    /// attack).
    pub fn delay(&self) -> Duration {
        self.delay
    }
}

/// A bucket's arithmetic, from a [`Rule`].
#[derive(Debug, Clone, Copy)]
struct Bucket {
    period: i64,
    /// `burst * period`: how far ahead of now the arrival time may run.
    tolerance: i64,
}

impl Bucket {
    fn new(rule: Rule) -> Self {
        let period = i64::try_from(rule.period.as_secs())
            .unwrap_or(i64::MAX)
            .max(1);
        Self {
            period,
            tolerance: i64::from(rule.burst.max(1)).saturating_mul(period),
        }
    }

    fn hard(self) -> BucketTake {
        BucketTake {
            period: self.period,
            limit: self.tolerance,
            ceiling: self.tolerance,
        }
    }

    /// Seconds until a refused bucket whose arrival time is `tat` takes again.
    fn retry_after(self, tat: i64, now: i64) -> u64 {
        let wait = tat
            .saturating_add(self.period)
            .saturating_sub(self.tolerance)
            .saturating_sub(now);
        u64::try_from(wait).unwrap_or(1).max(1)
    }
}

/// Refusals remembered locally.
const REFUSALS_KEPT: usize = 10_000;
/// How often an instance purges full buckets, and how many rows at most each time.
const PURGE_EVERY: i64 = 60;
const PURGE_BATCH: i64 = 1_000;

/// Per-address and per-(account, address) login limits, and per-account delays.
pub struct LoginThrottle {
    account: Bucket,
    address: Bucket,
    max_delay: Duration,
    /// Excess failures on an account at which the delay reaches `max_delay`.
    delay_steps: i64,
    clock: Arc<dyn Clock>,
    /// Keys refused until a time (UNIX seconds): refused again without asking the store.
    refused: Mutex<quick_cache::unsync::Cache<BucketKey, i64>>,
    last_purge: AtomicI64,
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("account", &self.account)
            .field("address", &self.address)
            .field("max_delay", &self.max_delay)
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    /// Limits judged by `clock`.
    pub fn new(config: &ThrottleConfig, clock: Arc<dyn Clock>) -> Self {
        let max_secs = config.max_delay.as_secs().max(1);
        // 2^(steps-1) >= max_secs: the delay doubles from 1 s until it reaches the cap.
        let delay_steps = i64::from(u64::BITS - (max_secs - 1).leading_zeros()) + 1;
        Self {
            account: Bucket::new(config.per_account),
            address: Bucket::new(config.per_address),
            max_delay: config.max_delay,
            delay_steps,
            clock,
            refused: Mutex::new(quick_cache::unsync::Cache::new(REFUSALS_KEPT)),
            last_purge: AtomicI64::new(i64::MIN),
        }
    }

    /// Takes one attempt for this username from this address (`None`: unknown address, only
    /// the per-account delay applies), in `store`.
    pub async fn attempt(
        &self,
        store: &Arc<dyn Store>,
        username: &str,
        address: Option<IpAddr>,
    ) -> Result<Attempt, AttemptError> {
        let now = self.clock.now();
        self.purge_now_and_then(store, now);
        let account = account_name(username);
        let mut taken = Vec::with_capacity(3);
        if let Some(address) = address.map(address_name) {
            let address_key = BucketKey::of("address", &[&address]);
            self.take_hard(store, address_key, self.address, now)
                .await?;
            taken.push((address_key, self.address.period));
            let pair_key = BucketKey::of("pair", &[account.as_bytes(), &address]);
            self.take_hard(store, pair_key, self.account, now).await?;
            taken.push((pair_key, self.account.period));
        }
        let account_key = BucketKey::of("account", &[account.as_bytes()]);
        let take = BucketTake {
            period: self.account.period,
            // Never refused: beyond its tolerance, the account delays.
            limit: i64::MAX / 4,
            ceiling: self
                .account
                .tolerance
                .saturating_add(self.delay_steps.saturating_mul(self.account.period)),
        };
        let delay = match store.take_from_bucket(&account_key, take, now).await? {
            BucketOutcome::Taken { tat } | BucketOutcome::Refused { tat } => {
                self.delay_at(tat - now)
            }
        };
        taken.push((account_key, self.account.period));
        Ok(Attempt { taken, delay })
    }

    /// The attempt succeeded: give back what it took.
    pub async fn succeeded(&self, store: &dyn Store, attempt: Attempt) -> Result<(), StoreError> {
        let now = self.clock.now();
        for (key, period) in &attempt.taken {
            store.give_back_to_bucket(key, *period, now).await?;
        }
        Ok(())
    }

    /// The delay of an account whose arrival time runs `ahead` seconds ahead of now.
    fn delay_at(&self, ahead: i64) -> Duration {
        if self.max_delay.is_zero() || ahead <= self.account.tolerance {
            return Duration::ZERO;
        }
        let period = self.account.period;
        // The 1st attempt beyond the free ones waits 1 s, the 2nd 2 s, the 3rd 4 s…
        let excess = (ahead - self.account.tolerance + period - 1) / period;
        let doublings = u32::try_from(excess.clamp(1, 32) - 1).unwrap_or(31);
        Duration::from_secs(1u64 << doublings).min(self.max_delay)
    }

    async fn take_hard(
        &self,
        store: &Arc<dyn Store>,
        key: BucketKey,
        bucket: Bucket,
        now: i64,
    ) -> Result<(), AttemptError> {
        if let Some(until) = self.lock_refused().get(&key).copied()
            && until > now
        {
            return Err(AttemptError::Throttled(Throttled {
                retry_after: u64::try_from(until - now).unwrap_or(1).max(1),
            }));
        }
        match store.take_from_bucket(&key, bucket.hard(), now).await? {
            BucketOutcome::Taken { .. } => Ok(()),
            BucketOutcome::Refused { tat } => {
                let retry_after = bucket.retry_after(tat, now);
                self.lock_refused().insert(
                    key,
                    now.saturating_add(i64::try_from(retry_after).unwrap_or(i64::MAX)),
                );
                Err(AttemptError::Throttled(Throttled { retry_after }))
            }
        }
    }

    fn lock_refused(
        &self,
    ) -> std::sync::MutexGuard<'_, quick_cache::unsync::Cache<BucketKey, i64>> {
        // A panic while holding this lock cannot leave a half-written entry: keep going.
        self.refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// At most once a minute per instance, deletes a batch of full buckets in the background.
    fn purge_now_and_then(&self, store: &Arc<dyn Store>, now: i64) {
        let last = self.last_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PURGE_EVERY
            || self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            match store.purge_full_buckets(now, PURGE_BATCH).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "purged full login-throttle buckets"),
                Err(e) => tracing::warn!(error = %e, "purging login-throttle buckets failed"),
            }
        });
    }
}

/// An account's name in its keys: the username as typed, lowercased, at most 256 characters
/// (longer ones cannot exist).
fn account_name(username: &str) -> String {
    username
        .chars()
        .take(256)
        .flat_map(char::to_lowercase)
        .collect()
}

/// An address's name in its keys: the IPv4 address (also when IPv4-mapped), or the IPv6 /64.
fn address_name(address: IpAddr) -> Vec<u8> {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_jwt::FixedClock;

    const NOW: i64 = 1_800_000_000;

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            per_account: Rule {
                burst: 3,
                period: Duration::from_secs(60),
            },
            per_address: Rule {
                burst: 5,
                period: Duration::from_secs(10),
            },
            max_delay: Duration::from_secs(20),
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    async fn setup(config: &ThrottleConfig) -> (Arc<FixedClock>, LoginThrottle, Arc<dyn Store>) {
        let clock = Arc::new(FixedClock::new(NOW));
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        (clock.clone(), LoginThrottle::new(config, clock), store)
    }

    fn throttled(r: Result<Attempt, AttemptError>) -> u64 {
        match r {
            Err(AttemptError::Throttled(t)) => t.retry_after,
            other => panic!("not throttled: {other:?}"),
        }
    }

    #[tokio::test]
    async fn pair_is_hard_account_only_delays() {
        let (clock, t, s) = setup(&config()).await;
        for _ in 0..3 {
            let a = t.attempt(&s, "alice", ip("10.0.0.1")).await.unwrap();
            assert_eq!(a.delay(), Duration::ZERO);
        }
        // The failing address is refused for this account (case does not make another)…
        assert_eq!(throttled(t.attempt(&s, "ALICE", ip("10.0.0.1")).await), 60);
        // …but another address is not: it waits, longer and longer, up to the cap.
        let mut delays = Vec::new();
        for i in 0..8 {
            let a = t
                .attempt(&s, "alice", ip(&format!("10.0.1.{i}")))
                .await
                .unwrap();
            delays.push(a.delay().as_secs());
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 20, 20, 20]);
        // The stored arrival time is capped: once the attack stops, delays shrink by one step
        // a period and end.
        clock.advance(60 * 5);
        let a = t.attempt(&s, "alice", ip("10.0.2.1")).await.unwrap();
        assert_eq!(a.delay().as_secs(), 2);
        clock.advance(60 * 10);
        let a = t.attempt(&s, "alice", None).await.unwrap();
        assert_eq!(a.delay(), Duration::ZERO);
        // Another account is not affected.
        let a = t.attempt(&s, "bob", ip("10.0.0.1")).await.unwrap();
        assert_eq!(a.delay(), Duration::ZERO);
    }

    #[tokio::test]
    async fn address_limit_applies_across_accounts() {
        let (clock, t, s) = setup(&config()).await;
        for i in 0..5 {
            let _ = t
                .attempt(&s, &format!("user{i}"), ip("192.0.2.1"))
                .await
                .unwrap();
        }
        assert_eq!(throttled(t.attempt(&s, "user9", ip("192.0.2.1")).await), 10);
        // Remembered locally until it lapses, then asked again.
        clock.advance(9);
        assert_eq!(throttled(t.attempt(&s, "user9", ip("192.0.2.1")).await), 1);
        clock.advance(1);
        let _ = t.attempt(&s, "user9", ip("192.0.2.1")).await.unwrap();
        // The same /64 is the same address; an IPv4-mapped address is the IPv4 address.
        for i in 0..5 {
            let _ = t
                .attempt(&s, &format!("y{i}"), ip(&format!("2001:db8::{i}")))
                .await
                .unwrap();
        }
        let _ = throttled(t.attempt(&s, "z", ip("2001:db8::ffff:2")).await);
        let _ = t.attempt(&s, "z", ip("2001:db8:0:1::2")).await.unwrap();
        let _ = throttled(t.attempt(&s, "w", ip("::ffff:192.0.2.1")).await);
    }

    #[tokio::test]
    async fn success_gives_back_only_its_own_attempt() {
        let (_clock, t, s) = setup(&config()).await;
        // An attacker fails twice from elsewhere.
        for _ in 0..2 {
            let _ = t.attempt(&s, "alice", ip("203.0.113.9")).await.unwrap();
        }
        // Alice logs in successfully, many times: her own successes never delay her.
        for _ in 0..10 {
            let a = t.attempt(&s, "alice", ip("198.51.100.1")).await.unwrap();
            assert_eq!(a.delay(), Duration::ZERO);
            t.succeeded(&*s, a).await.unwrap();
        }
        // But the attacker's two failures still count: one more, then refused.
        let _ = t.attempt(&s, "alice", ip("203.0.113.9")).await.unwrap();
        let _ = throttled(t.attempt(&s, "alice", ip("203.0.113.9")).await);
    }

    #[tokio::test]
    async fn no_delay_when_disabled_and_full_buckets_are_purged() {
        let (clock, t, s) = setup(&ThrottleConfig {
            max_delay: Duration::ZERO,
            ..config()
        })
        .await;
        for i in 0..10 {
            let a = t
                .attempt(&s, "alice", ip(&format!("10.9.0.{i}")))
                .await
                .unwrap();
            assert_eq!(a.delay(), Duration::ZERO);
        }
        // 10 addresses, 10 pairs, 1 account; all full again after the longest window.
        clock.advance(3600);
        assert_eq!(s.purge_full_buckets(clock.now(), 5).await.unwrap(), 5);
        assert_eq!(s.purge_full_buckets(clock.now(), 100).await.unwrap(), 16);
    }

    #[test]
    fn rules_per_window() {
        assert_eq!(
            Rule::per_window(5, Duration::from_secs(900)),
            Rule {
                burst: 5,
                period: Duration::from_secs(180)
            }
        );
        assert_eq!(Rule::per_window(0, Duration::ZERO).burst, 1);
        assert_eq!(
            Rule::per_window(100, Duration::from_secs(10)).period,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn huge_usernames_make_bounded_names() {
        assert_eq!(account_name(&"É".repeat(10_000)).chars().count(), 256);
        assert_eq!(account_name("Alice"), "alice");
    }
}

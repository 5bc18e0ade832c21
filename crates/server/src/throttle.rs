//! Login throttling: a cap on password attempts per account and per client address.
//!
//! Each key (a username, an address) has a GCRA bucket: `burst` attempts at once, then one
//! more every `period`. An attempt takes one from the address's bucket, then one from the
//! account's; if either is empty the attempt is refused before any password is checked, with
//! the number of seconds until it would be allowed (`Retry-After`).
//!
//! - A **successful** login gives back only the one attempt it took (from the account and the
//!   address), so the limits count failures in effect and a user who logs in often is never
//!   throttled by their own successes; it does not clear failures made before, from that
//!   address or from any other.
//! - Accounts are keyed by the username as typed, lowercased, **whether or not it exists**,
//!   so throttling says nothing about which accounts exist.
//! - Addresses are keyed by IPv4 address, or by IPv6 /64 prefix (one host usually owns a
//!   whole /64).
//! - **Bounded memory:** each limiter keeps at most `max_entries` keys in a
//!   [`quick_cache`] (S3-FIFO eviction); a key whose bucket is full again holds no state worth
//!   keeping. Someone cycling through more keys than that may push out a key's history; the
//!   address limit bounds how fast one address can do that.
//! - Time comes from the injected [`Clock`] (whole seconds), so tests never sleep.
//!
//! `governor` was considered: its keyed limiters have no memory bound (only a manual
//! `retain_recent`) and their own clock type; the GCRA arithmetic here is a few lines.

use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_jwt::Clock;

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
    /// Per account.
    pub per_account: Rule,
    /// Per client address.
    pub per_address: Rule,
    /// Most keys each limiter remembers.
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    /// 5 failures per account per 15 minutes, 50 per address per 15 minutes, 100 000 keys
    /// each (the configuration's defaults).
    fn default() -> Self {
        Self {
            per_account: Rule::per_window(5, Duration::from_secs(15 * 60)),
            per_address: Rule::per_window(50, Duration::from_secs(15 * 60)),
            max_entries: 100_000,
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

/// An allowed attempt, to report its success with [`LoginThrottle::succeeded`].
#[derive(Debug)]
#[must_use]
pub struct Attempt {
    account: String,
    address: Option<IpAddr>,
}

/// Per-account and per-address login limits.
pub struct LoginThrottle {
    accounts: Limiter<String>,
    addresses: Limiter<IpAddr>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("accounts", &self.accounts)
            .field("addresses", &self.addresses)
            .finish_non_exhaustive()
    }
}

impl LoginThrottle {
    /// Limits judged by `clock`.
    pub fn new(config: &ThrottleConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            accounts: Limiter::new(config.per_account, config.max_entries),
            addresses: Limiter::new(config.per_address, config.max_entries),
            clock,
        }
    }

    /// Takes one attempt for this username from this address (`None`: unknown address, only
    /// the account is limited).
    pub fn attempt(&self, username: &str, address: Option<IpAddr>) -> Result<Attempt, Throttled> {
        let now = self.clock.now();
        let address = address.map(address_key);
        if let Some(address) = address {
            self.addresses.take(address, now)?;
        }
        let account = account_key(username);
        self.accounts.take(account.clone(), now)?;
        Ok(Attempt { account, address })
    }

    /// The attempt succeeded: give back the one attempt it took.
    pub fn succeeded(&self, attempt: Attempt) {
        let now = self.clock.now();
        self.accounts.give_back(&attempt.account, now);
        if let Some(address) = attempt.address {
            self.addresses.give_back(&address, now);
        }
    }
}

fn account_key(username: &str) -> String {
    // Bounded, so that a huge username cannot make a huge key.
    username
        .chars()
        .take(256)
        .flat_map(char::to_lowercase)
        .collect()
}

fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

/// GCRA buckets by key: each key's "theoretical arrival time" (UNIX seconds), in a bounded
/// cache.
struct Limiter<K: Eq + Hash> {
    period: i64,
    /// `burst * period`: how far ahead of now the arrival time may run.
    tolerance: i64,
    tats: Mutex<quick_cache::unsync::Cache<K, i64>>,
}

impl<K: Eq + Hash> fmt::Debug for Limiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.tats.lock().map(|c| c.len()).unwrap_or(0);
        f.debug_struct("Limiter")
            .field("period", &self.period)
            .field("tolerance", &self.tolerance)
            .field("keys", &len)
            .finish()
    }
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    fn new(rule: Rule, max_entries: usize) -> Self {
        let period = i64::try_from(rule.period.as_secs())
            .unwrap_or(i64::MAX)
            .max(1);
        let burst = i64::from(rule.burst.max(1));
        Self {
            period,
            tolerance: burst.saturating_mul(period),
            tats: Mutex::new(quick_cache::unsync::Cache::new(max_entries.max(1))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, quick_cache::unsync::Cache<K, i64>> {
        // A panic while holding this lock cannot leave a half-written i64: keep going.
        self.tats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self, key: K, now: i64) -> Result<(), Throttled> {
        let mut tats = self.lock();
        let tat = tats.get(&key).copied().unwrap_or(now).max(now);
        let next = tat.saturating_add(self.period);
        if next - now > self.tolerance {
            let wait = next - self.tolerance - now;
            return Err(Throttled {
                retry_after: u64::try_from(wait).unwrap_or(1).max(1),
            });
        }
        tats.insert(key, next);
        Ok(())
    }

    fn give_back(&self, key: &K, now: i64) {
        let mut tats = self.lock();
        if let Some(mut tat) = tats.get_mut(key) {
            *tat = (*tat - self.period).max(now);
        }
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
            max_entries: 1000,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn account_burst_then_one_per_period() {
        let clock = Arc::new(FixedClock::new(NOW));
        let t = LoginThrottle::new(&config(), clock.clone());
        for i in 0..3 {
            // Different addresses: the account limit alone applies.
            let _ = t
                .attempt("alice", ip(&format!("10.0.0.{i}")))
                .expect("within burst");
        }
        assert_eq!(
            t.attempt("alice", ip("10.0.0.9")).unwrap_err(),
            Throttled { retry_after: 60 }
        );
        // Case does not make another account.
        assert!(t.attempt("ALICE", ip("10.0.0.9")).is_err());
        clock.advance(59);
        assert_eq!(
            t.attempt("alice", None).unwrap_err(),
            Throttled { retry_after: 1 }
        );
        clock.advance(1);
        let _ = t.attempt("alice", None).expect("one earned back");
        assert!(t.attempt("alice", None).is_err());
        // Another account is not affected.
        let _ = t.attempt("bob", None).expect("bob is fine");
    }

    #[test]
    fn address_limit_applies_across_accounts() {
        let clock = Arc::new(FixedClock::new(NOW));
        let t = LoginThrottle::new(&config(), clock.clone());
        for i in 0..5 {
            let _ = t.attempt(&format!("user{i}"), ip("192.0.2.1")).unwrap();
        }
        assert_eq!(
            t.attempt("user9", ip("192.0.2.1")).unwrap_err(),
            Throttled { retry_after: 10 }
        );
        // A refused attempt by address does not count against the account.
        for _ in 0..3 {
            let _ = t.attempt("user9", ip("192.0.2.2")).unwrap();
        }
        // Another address is fine; the same /64 is the same address.
        let _ = t.attempt("x", ip("2001:db8::1")).unwrap();
        for i in 0..4 {
            let _ = t.attempt(&format!("y{i}"), ip("2001:db8::ffff:1")).unwrap();
        }
        assert!(t.attempt("z", ip("2001:db8::2")).is_err());
        let _ = t.attempt("z", ip("2001:db8:0:1::2")).unwrap();
        // An IPv4-mapped IPv6 address is the IPv4 address.
        assert!(t.attempt("w", ip("::ffff:192.0.2.1")).is_err());
    }

    #[test]
    fn success_gives_back_only_its_own_attempt() {
        let clock = Arc::new(FixedClock::new(NOW));
        let t = LoginThrottle::new(&config(), clock.clone());
        // An attacker fails twice from elsewhere.
        let _ = t.attempt("alice", ip("203.0.113.9")).unwrap();
        let _ = t.attempt("alice", ip("203.0.113.9")).unwrap();
        // Alice logs in successfully, many times: her own successes never lock her out.
        for i in 0..10 {
            let attempt = t.attempt("alice", ip(&format!("198.51.100.{i}"))).unwrap();
            t.succeeded(attempt);
        }
        // Successes give back the address's attempts too: one address, many logins.
        for _ in 0..10 {
            let attempt = t.attempt("alice", ip("198.51.100.200")).unwrap();
            t.succeeded(attempt);
        }
        // But the attacker's two failures still count: one more failure, then refused.
        let _ = t.attempt("alice", ip("203.0.113.9")).unwrap();
        assert!(t.attempt("alice", ip("203.0.113.9")).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let clock = Arc::new(FixedClock::new(NOW));
        let t = LoginThrottle::new(
            &ThrottleConfig {
                max_entries: 100,
                ..config()
            },
            clock,
        );
        for i in 0..10_000 {
            let _ = t.attempt(&format!("user{i}"), None);
        }
        let len = t.accounts.lock().len();
        assert!(len <= 100, "{len} keys kept");
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
    fn huge_usernames_make_bounded_keys() {
        assert_eq!(account_key(&"É".repeat(10_000)).chars().count(), 256);
        assert_eq!(account_key("Alice"), "alice");
    }
}

//! The verified-token cache: a hot token is not verified again (RSA, ECDSA) on every request.
//!
//! Keyed by the SHA-256 of the whole token string, so a different token (one flipped bit of
//! signature) can never hit another's entry. Bounded in entries; an entry dies at the token's
//! `exp` at the latest, and after the configured TTL, both judged by the verifier's clock.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest;
use quick_cache::sync::Cache;

use crate::verifier::VerifiedToken;

type Key = [u8; 32];

#[derive(Clone)]
struct Entry {
    token: VerifiedToken,
    /// Clock second from which the entry is dead.
    expires_at: i64,
}

/// Counters of the verified-token cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Tokens answered from the cache.
    pub hits: u64,
    /// Tokens not in the cache (or found dead there), verified in full.
    pub misses: u64,
    /// Entries held now (dead ones are dropped when looked up or evicted).
    pub entries: usize,
}

pub(crate) struct TokenCache {
    entries: Cache<Key, Entry>,
    ttl_secs: i64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("capacity", &self.entries.capacity())
            .field("ttl_secs", &self.ttl_secs)
            .field("stats", &self.stats())
            .finish()
    }
}

impl TokenCache {
    pub(crate) fn new(max_entries: usize, ttl_secs: i64) -> Self {
        TokenCache {
            entries: Cache::new(max_entries),
            ttl_secs,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn key(token: &str) -> Key {
        let hash = digest::digest(&digest::SHA256, token.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(hash.as_ref());
        key
    }

    /// The cached verification of the token with this key, if alive at `now`.
    pub(crate) fn get(&self, key: &Key, now: i64) -> Option<VerifiedToken> {
        if let Some(entry) = self.entries.get(key) {
            if now < entry.expires_at {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Some(entry.token);
            }
            self.entries.remove(key);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Remembers a verified token until its `exp` or `now + ttl`, whichever comes first.
    pub(crate) fn insert(&self, key: Key, token: &VerifiedToken, now: i64) {
        let mut expires_at = now.saturating_add(self.ttl_secs);
        if let Some(exp) = token.registered().exp {
            // Rounded down: a fractional exp dies at the whole second before it.
            expires_at = expires_at.min(exp.as_secs());
        }
        if expires_at > now {
            self.entries.insert(
                key,
                Entry {
                    token: token.clone(),
                    expires_at,
                },
            );
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.entries.len(),
        }
    }
}

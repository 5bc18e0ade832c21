//! The types of the login-throttle buckets kept in the store ([`Store::take_from_bucket`] and
//! its siblings): GCRA buckets shared by every instance on one database. What the buckets mean
//! (which key, which limit) is the `throttle` module's business; the store only does the
//! arithmetic atomically.
//!
//! [`Store::take_from_bucket`]: crate::store::Store::take_from_bucket

use std::fmt;

/// The name of a bucket: the SHA-256 of what it counts (a username, an address…), so that
/// every row has the same small size whatever a client typed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BucketKey([u8; 32]);

impl BucketKey {
    /// The key of `parts`, each prefixed by its length (so that `("ab", "c")` and `("a", "bc")`
    /// differ); `kind` separates the kinds of bucket.
    pub fn of(kind: &str, parts: &[&[u8]]) -> Self {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in std::iter::once(kind.as_bytes()).chain(parts.iter().copied()) {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        Self(key)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for BucketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BucketKey(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// One take from a bucket whose state is a "theoretical arrival time" `tat` (UNIX seconds):
/// the take moves it to `max(tat, now) + period`, if that is at most `now + limit`
/// (otherwise nothing changes and the take is refused); the new value is then lowered to
/// `now + ceiling` if it is beyond, so that a bucket that never refuses does not grow forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketTake {
    /// Seconds one take costs (at least 1).
    pub period: i64,
    /// How far ahead of now `tat` may run: a take that would go beyond is refused.
    pub limit: i64,
    /// How far ahead of now `tat` is ever stored (`>= period`).
    pub ceiling: i64,
}

/// The result of a [`BucketTake`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketOutcome {
    /// Taken; the bucket's new `tat`.
    Taken {
        /// The new theoretical arrival time.
        tat: i64,
    },
    /// Refused; the bucket's `tat` (unchanged).
    Refused {
        /// The current theoretical arrival time.
        tat: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_kinds_and_parts() {
        let a = BucketKey::of("pair", &[b"ab", b"c"]);
        assert_ne!(a, BucketKey::of("pair", &[b"a", b"bc"]));
        assert_ne!(a, BucketKey::of("account", &[b"ab", b"c"]));
        assert_eq!(a, BucketKey::of("pair", &[b"ab", b"c"]));
        assert_eq!(format!("{a:?}").len(), "BucketKey(01234567…)".len());
    }
}

//! Storage of the issuer: users, outside identities, OAuth clients, refresh token families and
//! signing keys, behind one [`Store`] trait with two implementations — SQLite (the embedded
//! default, one file) and PostgreSQL (shared by several instances).
//!
//! [`connect`] picks the implementation from the URL scheme, applies the embedded migrations and
//! returns an `Arc<dyn Store>`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera_server::store::StoreError> {
//! use tessera_server::store::{self, NewUser};
//! let store = store::connect("sqlite://tessera.db").await?; // created if missing
//! let now = 1_800_000_000; // the caller's clock, always
//! let user = store
//!     .create_user(NewUser { username: "alice", password_hash: Some("$argon2id$…"), roles: &[] }, now)
//!     .await?;
//! assert_eq!(store.user_by_username("alice").await?.map(|u| u.id), Some(user.id));
//! # Ok(())
//! # }
//! ```
//!
//! Conventions of every operation:
//! - Time is an argument (`now`, UNIX seconds): the store never reads a clock.
//! - Lookups return `Ok(None)` when nothing matches; operations that change a given record
//!   return [`StoreError::NotFound`] when it does not exist.
//! - Each operation is one transaction.
//!
//! ## Refresh token rotation
//!
//! [`Store::rotate_refresh_token`] is the heart of refresh: one write transaction that reads the
//! presented token and its family under a lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the
//! family row `FOR UPDATE`) and returns a [`Rotation`]. A partial unique index allows at most
//! one unused token per family, so whatever the concurrency there is never more than one live
//! chain. See [`Rotation`] for each outcome.
//!
//! ## The key-rotation lock
//!
//! A lease stored in the `locks` table, the same on both backends: no connection is held while
//! the key-rotation code works (generating an RSA key takes time), and a holder that dies
//! loses the lock when its lease lapses. The protocol:
//!
//! 1. [`Store::try_rotation_lock`]`(holder, now, ttl)` → `Some(lock)` if nobody holds an
//!    unexpired lease, else `None` (another instance is rotating: skip this round).
//! 2. Do the work — read [`Store::signing_keys`], [`Store::insert_signing_key`],
//!    [`Store::transition_signing_keys`], [`Store::delete_signing_key`] — checking
//!    `now < lock.expires_at` before each step (or [`Store::renew_rotation_lock`], which fails
//!    once the lease has lapsed).
//! 3. [`Store::release_rotation_lock`]. [`with_rotation_lock`] does 1 and 3 around a closure.
//!
//! The lock keeps instances from doing the work twice; the invariants do not depend on it:
//! key transitions are compare-and-set on the current state, and unique indexes allow at most
//! one `active` and one `next` key, so even a holder whose lease lapsed mid-way (a long pause)
//! cannot corrupt the key set — its late writes fail with [`StoreError::KeyStateMismatch`] or
//! [`StoreError::Conflict`].

mod buckets;
mod error;
mod postgres;
mod sql;
mod sqlite;
mod types;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use buckets::{BucketKey, BucketOutcome, BucketTake};
pub use error::StoreError;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use types::{
    Client, EncryptedPrivateKey, ExternalIdentity, ExternalLogin, KeyState, KeyTransition,
    LinkOutcome, LinkTarget, NewClient, NewExternalIdentity, NewRefreshFamily, NewSigningKey,
    NewUser, PurgeReport, RefreshFamily, RefreshToken, RefreshTokenRecord, Rotation, RotationLock,
    SigningKeyRecord, TokenHash, User,
};
pub use types::{PageAfter, Unlink, UserDeletion};

/// Reasons recorded when a refresh family is revoked. Free text is allowed; these are the ones
/// tessera writes.
pub mod revocation_reason {
    /// The user logged out (or the client revoked the token, RFC 7009).
    pub const LOGOUT: &str = "logout";
    /// A used refresh token was presented again after the grace window (written by the store).
    pub const REUSE_DETECTED: &str = "reuse_detected";
    /// An administrator ended the session(s).
    pub const ADMIN: &str = "admin";
    /// The user's password changed.
    pub const PASSWORD_CHANGED: &str = "password_changed";
    /// The user was disabled.
    pub const USER_DISABLED: &str = "user_disabled";
    /// The user signed in again with `sessions.max_per_user` sessions live: the least recently
    /// used one was revoked.
    pub const SESSION_LIMIT: &str = "session_limit";
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (or in-memory database).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Connection pool settings for [`connect_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Most connections open at once (default: 10).
    pub max_connections: u32,
    /// How long an operation waits for a free connection before failing with
    /// [`StoreError::Unavailable`] (default: 5 s).
    pub acquire_timeout: Duration,
    /// SQLite only: how long a writer waits for another writer's transaction (default: 10 s).
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

impl StoreOptions {
    /// Sets [`max_connections`](Self::max_connections).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets [`acquire_timeout`](Self::acquire_timeout).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets [`busy_timeout`](Self::busy_timeout).
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

/// Opens the store at `database_url` with default [`StoreOptions`] and applies the embedded
/// migrations.
///
/// - `sqlite://tessera.db`, `sqlite:tessera.db`, `sqlite:///abs/path.db`: an SQLite file,
///   created if missing, in WAL mode with foreign keys on and a busy timeout.
///   `sqlite::memory:` is an in-memory database (for tests; gone when the store is dropped).
/// - `postgres://user:password@host/db`, `postgresql://…`: PostgreSQL (`sslmode` and the other
///   libpq parameters are understood).
pub async fn connect(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    connect_with(database_url, &StoreOptions::default()).await
}

/// [`connect`] with pool settings.
pub async fn connect_with(
    database_url: &str,
    options: &StoreOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    match backend_of(database_url)? {
        Backend::Sqlite => Ok(Arc::new(SqliteStore::connect(database_url, options).await?)),
        Backend::Postgres => Ok(Arc::new(
            PostgresStore::connect(database_url, options).await?,
        )),
    }
}

/// The backend a database URL names, from its scheme.
pub fn backend_of(database_url: &str) -> Result<Backend, StoreError> {
    let scheme = database_url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .ok_or_else(|| {
            StoreError::InvalidUrl(
                "no scheme; expected sqlite://FILE or postgres://HOST/DB".to_owned(),
            )
        })?;
    match scheme.as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        // Only the scheme is repeated: the rest may hold a password.
        other => Err(StoreError::InvalidUrl(format!(
            "unsupported scheme {:?}; expected sqlite or postgres",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// Everything the issuer keeps. Object-safe: the server holds an `Arc<dyn Store>`.
///
/// See the [module documentation](self) for the conventions (time as an argument, `Option` for
/// lookups, one transaction per call), the refresh rotation and the key-rotation lock.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Checks the database answers (readiness): `Err(Unavailable)` if it does not.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connections; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);

    // ---- users -------------------------------------------------------------------------

    /// Creates a user with a new random id. [`StoreError::Conflict`] if the username is taken.
    async fn create_user(&self, user: NewUser<'_>, now: i64) -> Result<User, StoreError>;

    /// The user with this id.
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// The user with this username (exact match).
    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// Every user, by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// Replaces a user's roles.
    async fn set_user_roles(&self, id: &str, roles: &[String], now: i64) -> Result<(), StoreError>;

    /// Disables or enables a user. Disabling does not revoke the user's refresh families by
    /// itself (see [`Store::revoke_user_refresh_families`]), but rotation refuses them
    /// ([`Rotation::UserDisabled`]).
    async fn set_user_disabled(&self, id: &str, disabled: bool, now: i64)
    -> Result<(), StoreError>;

    /// Replaces a user's password hash (`None`: no password login).
    async fn set_user_password_hash(
        &self,
        id: &str,
        password_hash: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError>;

    // ---- usernames and password compare-and-set (issue 9) ------------------------------

    /// Every user's `(id, username)`, by username: the startup check of usernames reads them
    /// all (two short columns each).
    async fn usernames(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Renames a user; the id (the `sub` of tokens) stays. [`StoreError::Conflict`] if the
    /// username is taken, [`StoreError::NotFound`] if there is no such user.
    async fn rename_user(&self, id: &str, username: &str, now: i64) -> Result<(), StoreError>;

    /// Replaces a user's password hash with `new` only if the stored one is still
    /// `expected` (compare-and-set, in one statement): `Ok(true)` if replaced, `Ok(false)` if
    /// the stored hash is another (changed meanwhile: it is kept). [`StoreError::NotFound`]
    /// if there is no such user. What the background rehash after a login uses, so that it
    /// never overwrites a concurrent `tessera user passwd`.
    async fn set_password_hash_if(
        &self,
        id: &str,
        expected: &str,
        new: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    // ---- outside identities -------------------------------------------------------------

    /// The link of an outside identity (`iss`, `sub`), if any.
    async fn external_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<ExternalIdentity>, StoreError>;

    /// Every outside identity linked to a user.
    async fn external_identities_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<ExternalIdentity>, StoreError>;

    /// Sign-in with an outside identity, in one transaction: if (`issuer`, `subject`) is
    /// linked, updates its e-mail and last login and returns its user
    /// ([`LinkOutcome::Existing`] — the user may differ from `target`); otherwise links it to
    /// `target`, creating that user if asked. Two concurrent first sign-ins of one identity
    /// end with one link. Errors: [`StoreError::NotFound`] (target user missing),
    /// [`StoreError::Conflict`] (the new user's username is taken).
    async fn find_or_link_external_identity(
        &self,
        identity: NewExternalIdentity<'_>,
        target: LinkTarget<'_>,
        now: i64,
    ) -> Result<ExternalLogin, StoreError>;

    /// Removes the link of an outside identity.
    async fn unlink_external_identity(&self, issuer: &str, subject: &str)
    -> Result<(), StoreError>;

    /// A user removes one of their own outside identities, in one transaction that holds the
    /// user's row (PostgreSQL: `FOR UPDATE`; SQLite: the write transaction), so that two
    /// concurrent removals cannot leave an account without a password with no identity
    /// either: [`Unlink::LastSignInMethod`] then, and nothing removed.
    async fn unlink_identity_of(
        &self,
        user_id: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<Unlink, StoreError>;

    // ---- OAuth clients ----------------------------------------------------------------

    /// Registers a client with a new random `client_id`.
    async fn create_client(&self, client: NewClient<'_>, now: i64) -> Result<Client, StoreError>;

    /// The client with this id.
    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError>;

    /// Every client, by name.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;

    /// Deletes a client and, with it, every refresh family issued to it.
    async fn delete_client(&self, client_id: &str) -> Result<(), StoreError>;

    // ---- refresh tokens -------------------------------------------------------------------

    /// Starts a family at login, with its first token (known by its hash). The token expires
    /// at `min(now + idle_ttl, expires_at)`. [`StoreError::NotFound`] if the user or client
    /// does not exist; [`StoreError::Invalid`] if `expires_at <= now` or `idle_ttl <= 0`.
    async fn create_refresh_family(
        &self,
        family: NewRefreshFamily<'_>,
        first_token: &TokenHash,
        now: i64,
    ) -> Result<(RefreshFamily, RefreshToken), StoreError>;

    /// Rotates a refresh token atomically: `presented` is the hash of the token the client
    /// sent, `successor` the hash of the new one the caller will hand out if the outcome says
    /// so, `reuse_grace` the window in seconds (0: none) during which presenting an already
    /// used token is a retry rather than theft. See [`Rotation`] for the outcomes.
    ///
    /// Errors are kept for failures ([`StoreError::Unavailable`]…); every rejection of the
    /// token is an `Ok` outcome. [`StoreError::Invalid`] if `successor == presented`.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        successor: &TokenHash,
        now: i64,
        reuse_grace: i64,
    ) -> Result<Rotation, StoreError>;

    /// A refresh token and its family, by hash (introspection, revocation).
    async fn refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError>;

    /// A family by id.
    async fn refresh_family(&self, id: &str) -> Result<Option<RefreshFamily>, StoreError>;

    /// The family `sid` if it belongs to `user_id` and is active at `now`: the sign-in
    /// session an access token names (its `sid`), still live.
    async fn live_session(
        &self,
        sid: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<RefreshFamily>, StoreError> {
        Ok(self
            .refresh_family(sid)
            .await?
            .filter(|f| f.user_id == user_id && f.is_active(now)))
    }

    /// Revokes a family (logout). `Ok(true)` if it was revoked now, `Ok(false)` if it already
    /// was (the first reason stays).
    async fn revoke_refresh_family(
        &self,
        id: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Revokes every unrevoked family of a user; returns how many.
    async fn revoke_user_refresh_families(
        &self,
        user_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// A user's active families (sessions) at `now`, most recently used first.
    async fn active_refresh_families(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<RefreshFamily>, StoreError>;

    /// Deletes what is dead at `before` (pass `now`, or `now` minus a retention period):
    /// families whose absolute or idle expiry is `<= before` or that were revoked at or before
    /// it (with their tokens), and used tokens of other families that expired by then.
    /// A purged token presented later is [`Rotation::Unknown`], no longer reuse: keep a
    /// retention period if reuse of old tokens should still revoke their families.
    async fn purge_expired(&self, before: i64) -> Result<PurgeReport, StoreError>;

    // ---- signing keys -----------------------------------------------------------------------

    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Stores a new key in state `next` or `active` (`activated_at = now` then).
    /// [`StoreError::Conflict`] if the kid exists, or if there is already a key in that state
    /// (at most one `next` and one `active`).
    async fn insert_signing_key(
        &self,
        key: &NewSigningKey<'_>,
        now: i64,
    ) -> Result<SigningKeyRecord, StoreError>;

    /// Applies compare-and-set state changes atomically: each key must be in `from`, or
    /// nothing changes and the call fails with [`StoreError::KeyStateMismatch`] (or
    /// [`StoreError::NotFound`]). Retirements are applied before activations, so
    /// `[active→retired, next→active]` is one step with never two active keys. Sets
    /// `activated_at`/`retired_at` to `now`. Returns the changed keys.
    async fn transition_signing_keys(
        &self,
        transitions: &[KeyTransition<'_>],
        now: i64,
    ) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Deletes a retired key ([`StoreError::KeyStateMismatch`] if it is not retired).
    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError>;

    /// Replaces a key's encrypted private key (`tessera master-key rotate`), compare-and-set:
    /// only if the row still holds `current` (the same master key id and nonce) and the key is
    /// not revoked. `false` when it does not (resealed by another run meanwhile, revoked,
    /// deleted): nothing changed.
    async fn reseal_signing_key(
        &self,
        kid: &str,
        current: &EncryptedPrivateKey,
        resealed: &EncryptedPrivateKey,
    ) -> Result<bool, StoreError>;

    /// Takes the key-rotation lock for `ttl` seconds if nobody holds an unexpired lease:
    /// `Some(lease)`, else `None`. Not reentrant: a second call by the same holder gets `None`
    /// while its lease is valid.
    async fn try_rotation_lock(
        &self,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<Option<RotationLock>, StoreError>;

    /// Extends a held lease to `now + ttl`; `None` if it had lapsed or was taken over.
    async fn renew_rotation_lock(
        &self,
        lock: &RotationLock,
        now: i64,
        ttl: i64,
    ) -> Result<Option<RotationLock>, StoreError>;

    /// Releases a lease; `false` if it was no longer held (lapsed and taken over).
    async fn release_rotation_lock(&self, lock: &RotationLock) -> Result<bool, StoreError>;

    // ---- login-throttle buckets (shared by every instance; see `crate::throttle`) ----------

    /// One atomic [`BucketTake`] from the bucket `key` (a missing row is a full bucket).
    async fn take_from_bucket(
        &self,
        key: &BucketKey,
        take: BucketTake,
        now: i64,
    ) -> Result<BucketOutcome, StoreError>;

    /// Gives one take back: the bucket's `tat` goes back `period` seconds, not before `now`.
    /// Nothing happens if the row is gone.
    async fn give_back_to_bucket(
        &self,
        key: &BucketKey,
        period: i64,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Deletes up to `max_rows` buckets that are full again (`tat <= now`); returns how many.
    async fn purge_full_buckets(&self, now: i64, max_rows: i64) -> Result<u64, StoreError>;

    // ---- storage upkeep (issue 9): pages, the session cap, user deletion, the purge lock ----

    /// Up to `limit` users by username, after `after` (a [`PageAfter::User`]; `None`: from
    /// the first). Another kind of [`PageAfter`] is [`StoreError::Invalid`].
    async fn users_page(
        &self,
        after: Option<PageAfter<'_>>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;

    /// Up to `limit` clients by name then `client_id`, after `after` (a
    /// [`PageAfter::Client`]).
    async fn clients_page(
        &self,
        after: Option<PageAfter<'_>>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError>;

    /// Up to `limit` of a user's active families at `now`, newest sign-in first (`created_at`
    /// then `id`, descending: an order that refreshing does not change), after `after` (a
    /// [`PageAfter::Session`]).
    async fn active_refresh_families_page(
        &self,
        user_id: &str,
        now: i64,
        after: Option<PageAfter<'_>>,
        limit: u32,
    ) -> Result<Vec<RefreshFamily>, StoreError>;

    /// Caps a user's live sessions at `max_live` (at least 1): revokes, with `reason`, the
    /// least recently used live families beyond it, never `keep` (the family just created).
    /// Returns how many. Logins of one user are serialised on the user's row (PostgreSQL:
    /// `FOR UPDATE`; SQLite: the write transaction), so concurrent logins cannot leave more
    /// than `max_live` live once each has capped.
    async fn revoke_families_beyond(
        &self,
        user_id: &str,
        keep: &str,
        max_live: u32,
        reason: &str,
        now: i64,
    ) -> Result<u64, StoreError>;

    /// Deletes a user in one transaction, with its refresh families and tokens (so its refresh
    /// tokens are unknown from now on) and its linked outside identities.
    /// [`StoreError::NotFound`] if there is no such user.
    async fn delete_user(&self, id: &str, now: i64) -> Result<UserDeletion, StoreError>;

    /// Takes the purge lock (a lease in the `locks` table under its own name, with the
    /// protocol of the key-rotation lock): `None` if another instance holds it.
    async fn try_purge_lock(
        &self,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<Option<RotationLock>, StoreError>;

    /// Releases a purge lease; `false` if it was no longer held.
    async fn release_purge_lock(&self, lock: &RotationLock) -> Result<bool, StoreError>;
}

/// Runs `work` while holding the key-rotation lock: `Ok(None)` if another instance holds it,
/// else `Ok(Some(result))`. The lock is released afterwards whatever `work` returned; if `work`
/// panics or the process dies, the lease lapses at `now + ttl`. An error from `work` wins over
/// an error releasing the lock.
pub async fn with_rotation_lock<T, E, F, Fut>(
    store: &dyn Store,
    holder: &str,
    now: i64,
    ttl: i64,
    work: F,
) -> Result<Option<T>, E>
where
    E: From<StoreError>,
    F: FnOnce(RotationLock) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let Some(lock) = store.try_rotation_lock(holder, now, ttl).await? else {
        return Ok(None);
    };
    let outcome = work(lock.clone()).await;
    let released = store.release_rotation_lock(&lock).await;
    let value = outcome?;
    released?;
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        for (url, backend) in [
            ("sqlite://tessera.db", Backend::Sqlite),
            ("sqlite:tessera.db", Backend::Sqlite),
            ("sqlite::memory:", Backend::Sqlite),
            ("SQLite:///var/lib/tessera/tessera.db", Backend::Sqlite),
            ("postgres://tessera@db/tessera", Backend::Postgres),
            ("postgresql://tessera@db/tessera", Backend::Postgres),
        ] {
            assert_eq!(backend_of(url).unwrap(), backend, "{url}");
        }
    }

    #[test]
    fn other_urls_are_refused_without_echoing_them() {
        for url in [
            "mysql://root:hunter2@db/x",
            "hunter2",
            "",
            "http://u:hunter2@x",
        ] {
            let err = backend_of(url).unwrap_err();
            assert!(matches!(err, StoreError::InvalidUrl(_)), "{err:?}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[tokio::test]
    async fn connect_refuses_unknown_schemes() {
        let err = connect("redis://127.0.0.1/0").await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{err:?}");
    }
}

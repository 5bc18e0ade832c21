//! The store's one error type.
//!
//! Callers match on the kind: [`NotFound`](StoreError::NotFound) and
//! [`Conflict`](StoreError::Conflict) answer a request, [`Unavailable`](StoreError::Unavailable)
//! is the database being away (the server answers 503), the rest are bugs or a damaged
//! database. Messages name the record, never a secret or a connection password.

use crate::store::KeyState;

/// A boxed error source.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record the operation targets does not exist.
    #[error("{what} not found: {id}")]
    NotFound {
        /// What kind of record (`user`, `client`, `refresh family`, `signing key`…).
        what: &'static str,
        /// Its id, as given.
        id: String,
    },
    /// A unique value is taken (username, kid, second `active` or `next` key…).
    #[error("{what} already exists: {detail}")]
    Conflict {
        /// What kind of record.
        what: &'static str,
        /// Which value collided.
        detail: String,
    },
    /// A compare-and-set on a signing key's state failed: another instance moved it first.
    #[error("signing key {kid} is {actual}, expected {expected}")]
    KeyStateMismatch {
        /// The key.
        kid: String,
        /// The state the caller expected.
        expected: KeyState,
        /// The state it is in.
        actual: KeyState,
    },
    /// An argument is out of range (a bad key transition, an expiry in the past…).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The database URL cannot be used. The message never repeats the URL (it may hold a
    /// password).
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database cannot be reached, or is too busy: retry later (HTTP 503).
    #[error("database unavailable: {source}")]
    Unavailable {
        /// What the driver said.
        #[source]
        source: BoxError,
    },
    /// Applying the embedded migrations failed (e.g. the database was made by a newer
    /// version).
    #[error("database migration failed: {source}")]
    Migration {
        /// What the migrator said.
        #[source]
        source: BoxError,
    },
    /// A stored value cannot be read back (e.g. a roles column that is not a JSON list).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {source}")]
    Database {
        /// What the driver said.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// The database is away or overloaded: worth retrying later, and a 503 rather than a 500.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            id: id.into(),
        }
    }

    pub(crate) fn conflict(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            what,
            detail: detail.into(),
        }
    }
}

/// How a driver error is classified before an operation adds its context.
pub(crate) enum DbFailure {
    /// A unique or primary key constraint.
    Unique,
    /// A foreign key constraint (a referenced row is missing).
    ForeignKey,
    /// Anything else, already mapped.
    Other(StoreError),
}

/// Classifies a driver error; `is_unavailable` says which database errors mean "away or busy"
/// for the backend at hand.
pub(crate) fn classify(
    err: sqlx::Error,
    is_unavailable: fn(&dyn sqlx::error::DatabaseError) -> bool,
) -> DbFailure {
    use sqlx::error::ErrorKind;
    let source = |e: sqlx::Error| -> BoxError { Box::new(e) };
    match &err {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => DbFailure::Unique,
            ErrorKind::ForeignKeyViolation => DbFailure::ForeignKey,
            _ if is_unavailable(&**db) => DbFailure::Other(StoreError::Unavailable {
                source: source(err),
            }),
            _ => DbFailure::Other(StoreError::Database {
                source: source(err),
            }),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => DbFailure::Other(StoreError::Unavailable {
            source: source(err),
        }),
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            DbFailure::Other(StoreError::Corrupt(err.to_string()))
        }
        _ => DbFailure::Other(StoreError::Database {
            source: source(err),
        }),
    }
}

//! The SQLite store: one file (created on first run), WAL mode, foreign keys on, a busy
//! timeout, and `BEGIN IMMEDIATE` for every transaction that writes, so that writers queue
//! on SQLite's lock instead of failing halfway.

use std::str::FromStr;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::store::StoreOptions;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The [`Store`](crate::store::Store) on an SQLite database.
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at an `sqlite:` URL and applies the
    /// migrations. Prefer [`connect`](crate::store::connect), which returns an
    /// `Arc<dyn Store>`.
    pub async fn connect(database_url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(database_url)
            .map_err(|e| StoreError::InvalidUrl(format!("SQLite URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            // Every commit reaches the disk before it is acknowledged: a rotated refresh
            // token must not come back to life after a power cut.
            .synchronous(SqliteSynchronous::Full);
        let in_memory = database_url.contains(":memory:") || database_url.contains("mode=memory");

        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout);
        let pool = if in_memory {
            // The database lives as long as one connection to it: keep one, forever.
            pool.min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(connect)
                .await
        } else {
            create_private(connect.get_filename())?;
            // Switching to WAL needs an exclusive lock that the busy timeout does not wait
            // for, so it is done once, alone; the mode then persists in the file.
            let first = connect
                .clone()
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await
                .map_err(Self::fail)?;
            first.close().await.map_err(Self::fail)?;
            pool.connect_with(connect).await
        }
        .map_err(Self::fail)?;

        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration {
                source: Box::new(e),
            })?;
        Ok(Self { pool })
    }
}

/// Creates the database file, if it does not exist yet, readable and writable by its owner
/// only (0600 on Unix): it holds password hashes, e-mail addresses and session addresses, and
/// the umask would often leave it 0644. SQLite gives the `-wal` and `-shm` files it creates
/// beside it the database file's own mode. An existing file is left as it is (its owner chose
/// its mode), with a warning when others may read it.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    use std::fs::OpenOptions;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o077 != 0
            {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{:o}", meta.permissions().mode() & 0o777),
                    "the SQLite database can be read by other local users; chmod 600 it (and its -wal and -shm files)"
                );
            }
            Ok(())
        }
        Err(e) => Err(StoreError::Unavailable {
            source: format!("cannot create the SQLite database file: {e}").into(),
        }),
    }
}

/// Busy or locked (another writer outlasted the busy timeout), I/O error, disk full, cannot
/// open: the database is away for now, not the request at fault.
fn is_unavailable(err: &dyn sqlx::error::DatabaseError) -> bool {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const IOERR: i64 = 10;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    // The driver reports the extended result code; its low byte is the primary code.
    err.code()
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| matches!(code & 0xff, BUSY | LOCKED | IOERR | FULL | CANTOPEN))
}

type This = SqliteStore;
type Db = sqlx::Sqlite;
const BACKEND: crate::store::Backend = crate::store::Backend::Sqlite;
const BEGIN: &str = "BEGIN IMMEDIATE";
macro_rules! for_update {
    () => {
        ""
    };
}

include!("sql_impl.rs");

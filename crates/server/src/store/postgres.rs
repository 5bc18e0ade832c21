//! The PostgreSQL store, for several instances sharing one database. Write transactions lock
//! the rows they decide on (`SELECT … FOR UPDATE`), so concurrent rotations of one refresh
//! family queue behind each other.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::store::StoreOptions;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The [`Store`](crate::store::Store) on a PostgreSQL database.
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to a `postgres://` URL and applies the migrations (which take PostgreSQL's
    /// migration lock, so several instances may start at once). Prefer
    /// [`connect`](crate::store::connect), which returns an `Arc<dyn Store>`.
    pub async fn connect(database_url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        // The parser's messages name the faulty part, not the URL (which may hold a password).
        let mut connect = PgConnectOptions::from_str(database_url)
            .map_err(|e| StoreError::InvalidUrl(format!("PostgreSQL URL: {e}")))?;
        if connect.get_application_name().is_none() {
            connect = connect.application_name("tessera");
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
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

/// SQLSTATE classes and codes that mean the server is away, overloaded or shutting down, or
/// that the transaction may simply be retried.
fn is_unavailable(err: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = err.code() else {
        return false;
    };
    code.starts_with("08") // connection exception
        || code.starts_with("53") // insufficient resources
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || matches!(&*code, "40001" | "40P01" | "55P03" | "57014")
}

type This = PostgresStore;
type Db = sqlx::Postgres;
const BACKEND: crate::store::Backend = crate::store::Backend::Postgres;
const BEGIN: &str = "BEGIN";
macro_rules! for_update {
    () => {
        " FOR UPDATE"
    };
}

include!("sql_impl.rs");

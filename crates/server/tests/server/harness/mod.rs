//! The tests' harness: where a database case runs (a fresh SQLite file, or a fresh PostgreSQL
//! schema), and in `issuer`, an issuer running on a store and a client to talk to it.

use std::future::Future;
use std::sync::Arc;

use sqlx::Connection;
use tessera_server::store::{self, Store};

/// Instantiates every case for both backends, in the module that invokes it: for a case at
/// `path::to::case`, the tests `sqlite::case` and `postgres::case`, each running `case(ctx)` on
/// a fresh database. Paths are relative to the invoking module (or start with `crate`); a case
/// is an `async fn(Ctx)`.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    (@case $backend:ident [super] crate $($rest:ident)+) => {
        on_both_backends!(@case $backend [crate] $($rest)+);
    };
    (@case $backend:ident [$($prefix:ident)+] $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $case() {
            crate::harness::$backend($($prefix::)+ $case).await;
        }
    };
    (@case $backend:ident [$($prefix:ident)+] $head:ident $($rest:ident)+) => {
        on_both_backends!(@case $backend [$($prefix)+ $head] $($rest)+);
    };
    ($($($segment:ident)::+),* $(,)?) => {
        mod sqlite {
            $(on_both_backends!(@case sqlite [super] $($segment)+);)*
        }
        mod postgres {
            $(on_both_backends!(@case postgres [super] $($segment)+);)*
        }
    };
}

pub(crate) mod issuer;

/// What a case gets: the store, and the URL of its database (to open a second instance).
pub(crate) struct Ctx {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) url: String,
}

/// Runs a case on a new SQLite database file in a temporary directory.
pub(crate) async fn sqlite<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tessera.db");
    let url = format!("sqlite://{}", path.display());
    let store = store::connect(&url).await.unwrap();
    assert!(path.exists(), "the database file is created on first run");
    let outcome = tokio::spawn(case(Ctx {
        store: Arc::clone(&store),
        url,
    }))
    .await;
    store.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs a case on PostgreSQL in a schema of its own, dropped afterwards (also when the case
/// fails), so that tests run in parallel and again.
pub(crate) async fn postgres<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let mut admin = match sqlx::PgConnection::connect(&base).await {
        Ok(conn) => conn,
        Err(e) => panic!(
            "PostgreSQL is not reachable at {} ({e}). The store contract tests need it: run \
             scripts/ensure-postgres (installs and starts it), or point \
             TESSERA_TEST_DATABASE_URL at a server with trust authentication.",
            redact(&base)
        ),
    };
    let schema = format!("tessera_test_{}", random_suffix());
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");

    let outcome = match store::connect(&url).await {
        Ok(store) => {
            let outcome = tokio::spawn(case(Ctx {
                store: Arc::clone(&store),
                url,
            }))
            .await;
            store.close().await;
            outcome.map_err(|e| e.into_panic())
        }
        Err(e) => Err(Box::new(format!("connecting the store failed: {e}")) as _),
    };
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// 64 random bits, as hex.
fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

//! Logs: a request's log lines name its method and path, never a token, password or cookie,
//! even at the most verbose level. Alone in its test binary: tracing caches, per process,
//! which call sites have a subscriber, and other tests running without one would hide them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_jwt::{Clock, FixedClock};
use tessera_server::config::Config;
use tessera_server::keys::{KeyManager, MasterKey, MasterKeyRing, RotationPolicy};
use tessera_server::metrics::Metrics;
use tessera_server::state::AppState;
use tessera_server::store;

const NO_ENV: [(&str, &str); 0] = [];

/// Log lines of everything, at the most verbose level, collected in memory.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn request_logs_hold_no_token_or_credentials() {
    use tower::ServiceExt;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let store = store::connect(&url).await.unwrap();
    let config = Config::from_toml_and_env("", NO_ENV).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_800_000_000));
    let keys = Arc::new(KeyManager::new(
        store.clone(),
        clock.clone(),
        Arc::new(MasterKeyRing::new(MasterKey::generate().unwrap().0, vec![])),
        RotationPolicy::from_config(&config),
        Metrics::new(),
    ));
    keys.init().await.unwrap();
    let state = AppState::new(Arc::new(config), store, clock, keys, Metrics::new());
    let app = tessera_server::app::router(state);
    for uri in [
        "/userinfo?access_token=SECRET-TOKEN-1",
        "/nope?password=SECRET-PASSWORD-2",
    ] {
        let request = axum::http::Request::get(uri)
            .header("authorization", "Bearer SECRET-TOKEN-3")
            .header("cookie", "session=SECRET-COOKIE-4")
            .body(axum::body::Body::empty())
            .unwrap();
        app.clone().oneshot(request).await.unwrap();
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("/nope"), "the requests were logged: {logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
}

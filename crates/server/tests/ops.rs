//! Operations: `/healthz`, and `/readyz` answering 503 with the reason when the database is
//! gone (PostgreSQL behind a TCP relay on 127.0.0.1 that the test cuts and restores; an
//! SQLite store closed) or no signing key is loaded, and 200 again after recovery.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::Ctx;
use reqwest::StatusCode;
use serde_json::Value;
use tessera_jwt::{Clock, FixedClock};
use tessera_server::config::Config;
use tessera_server::keys::{KeyManager, MasterKey, MasterKeyRing, RotationPolicy};
use tessera_server::metrics::Metrics;
use tessera_server::serve::Server;
use tessera_server::state::AppState;
use tessera_server::store::{self, Store, StoreOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const NO_ENV: [(&str, &str); 0] = [];

async fn serve(store: Arc<dyn Store>, init_keys: bool) -> (Server, AppState) {
    let config = Config::from_toml_and_env("listen = \"127.0.0.1:0\"", NO_ENV).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_800_000_000));
    let metrics = Metrics::new();
    let keys = Arc::new(KeyManager::new(
        store.clone(),
        clock.clone(),
        Arc::new(MasterKeyRing::new(MasterKey::generate().unwrap().0, vec![])),
        RotationPolicy::from_config(&config),
        metrics.clone(),
    ));
    if init_keys {
        keys.init().await.unwrap();
    }
    let listen = config.listen;
    let state = AppState::new(Arc::new(config), store, clock, keys, metrics);
    (Server::start(state.clone(), listen).await.unwrap(), state)
}

async fn get(server: &Server, path: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{}{path}", server.local_addr()))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A TCP relay to `target` that can be cut (every connection dropped, new ones refused at
/// once) and restored.
struct Relay {
    addr: SocketAddr,
    up: watch::Sender<bool>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, watch) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*watch.borrow() {
                    continue; // dropped: the client sees the connection closed
                }
                let mut down = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { addr, up }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_postgres_gone_and_back() {
    harness::postgres(|ctx: Ctx| async move {
        let mut url = url::Url::parse(&ctx.url).unwrap();
        let target: SocketAddr =
            format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432))
                .parse()
                .unwrap();
        let relay = Relay::start(target).await;
        url.set_port(Some(relay.addr.port())).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        let options = StoreOptions::default().acquire_timeout(Duration::from_secs(1));
        let relayed = store::connect_with(url.as_str(), &options).await.unwrap();
        let (server, _state) = serve(relayed.clone(), true).await;

        assert_eq!(get(&server, "/readyz").await.0, StatusCode::OK);
        relay.set(false);
        let (status, body) = get(&server, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "not_ready");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("database"),
            "{body}"
        );
        // Alive all the same.
        assert_eq!(get(&server, "/healthz").await.0, StatusCode::OK);
        // The JWKS does not need the database.
        let (status, body) = get(&server, "/.well-known/jwks.json").await;
        assert_eq!(
            (status, body["keys"].as_array().unwrap().len()),
            (StatusCode::OK, 1)
        );

        relay.set(true);
        let start = Instant::now();
        loop {
            let (status, body) = get(&server, "/readyz").await;
            if status == StatusCode::OK {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "not ready again: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.shutdown().await.unwrap();
        relayed.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_sqlite_store_closed() {
    harness::sqlite(|ctx: Ctx| async move {
        let (server, _state) = serve(ctx.store.clone(), true).await;
        assert_eq!(get(&server, "/readyz").await.0, StatusCode::OK);
        ctx.store.close().await;
        let (status, body) = get(&server, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("database unreachable"),
            "{body}"
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_without_a_signing_key() {
    harness::sqlite(|ctx: Ctx| async move {
        let (server, state) = serve(ctx.store.clone(), false).await;
        let (status, body) = get(&server, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("no active signing key"),
            "{body}"
        );
        assert_eq!(
            get(&server, "/healthz").await,
            (StatusCode::OK, serde_json::json!({"status": "ok"}))
        );
        state.keys.init().await.unwrap();
        assert_eq!(get(&server, "/readyz").await.0, StatusCode::OK);
        server.shutdown().await.unwrap();
    })
    .await;
}

/// Regression (review finding 8): `/readyz` told anonymous callers the signing key ids and the
/// master key's id when a key could not be opened. It answers a terse reason now; the details
/// go to the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_tells_anonymous_callers_no_key_ids() {
    harness::sqlite(|ctx: Ctx| async move {
        let (server, state) = serve(ctx.store.clone(), true).await;
        let kid = state.keys.list().await.unwrap()[0].kid.clone();
        server.shutdown().await.unwrap();

        // The same database under another master key: the active key cannot be opened.
        let config = Config::from_toml_and_env("listen = \"127.0.0.1:0\"", NO_ENV).unwrap();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_800_000_000));
        let other = MasterKey::generate().unwrap().0;
        let other_id = other.id().to_owned();
        let metrics = Metrics::new();
        let keys = Arc::new(KeyManager::new(
            ctx.store.clone(),
            clock.clone(),
            Arc::new(MasterKeyRing::new(other, vec![])),
            RotationPolicy::from_config(&config),
            metrics.clone(),
        ));
        let _ = keys.reload().await;
        let listen = config.listen;
        let state = AppState::new(Arc::new(config), ctx.store.clone(), clock, keys, metrics);
        let server = Server::start(state, listen).await.unwrap();

        let (status, body) = get(&server, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let text = body.to_string();
        assert!(text.contains("no active signing key"), "{text}");
        assert!(!text.contains(&kid), "/readyz names a key id: {text}");
        assert!(
            !text.contains(&other_id),
            "/readyz names the master key id: {text}"
        );
        server.shutdown().await.unwrap();
    })
    .await;
}

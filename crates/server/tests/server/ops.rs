//! Operations: `/healthz`, and `/readyz` answering 503 with the reason when the database is
//! gone (PostgreSQL behind a TCP relay on 127.0.0.1 that the test cuts and restores; an
//! SQLite store closed) or no signing key is loaded, and 200 again after recovery.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tessera_server::keys::MasterKey;
use tessera_server::store::{self, Store, StoreOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, StartKeys};

/// An issuer on `store` with the default configuration (keys initialised or not).
async fn serve(store: Arc<dyn Store>, init_keys: bool) -> Issuer {
    let keys = if init_keys {
        StartKeys::Init
    } else {
        StartKeys::None
    };
    Issuer::builder(store)
        .only_toml("")
        .keys(keys)
        .start()
        .await
}

async fn get(server: &Issuer, path: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(server.url(path))
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
    crate::harness::postgres(|ctx: Ctx| async move {
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
        let server = serve(relayed.clone(), true).await;

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
        server.stop().await;
        relayed.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_sqlite_store_closed() {
    crate::harness::sqlite(|ctx: Ctx| async move {
        let server = serve(ctx.store.clone(), true).await;
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
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_without_a_signing_key() {
    crate::harness::sqlite(|ctx: Ctx| async move {
        let server = serve(ctx.store.clone(), false).await;
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
        server.state.keys.init().await.unwrap();
        assert_eq!(get(&server, "/readyz").await.0, StatusCode::OK);
        server.stop().await;
    })
    .await;
}

/// Regression (review finding 8): `/readyz` told anonymous callers the signing key ids and the
/// master key's id when a key could not be opened. It answers a terse reason now; the details
/// go to the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readyz_tells_anonymous_callers_no_key_ids() {
    crate::harness::sqlite(|ctx: Ctx| async move {
        let server = serve(ctx.store.clone(), true).await;
        let kid = server.state.keys.list().await.unwrap()[0].kid.clone();
        server.stop().await;

        // The same database under another master key: the active key cannot be opened.
        let other = MasterKey::generate().unwrap().0;
        let other_id = other.id().to_owned();
        let server = Issuer::builder(ctx.store.clone())
            .only_toml("")
            .master_key(other)
            .keys(StartKeys::Reload)
            .start()
            .await;

        let (status, body) = get(&server, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        let text = body.to_string();
        assert!(text.contains("no active signing key"), "{text}");
        assert!(!text.contains(&kid), "/readyz names a key id: {text}");
        assert!(
            !text.contains(&other_id),
            "/readyz names the master key id: {text}"
        );
        server.stop().await;
    })
    .await;
}

//! Starting the issuer: the configuration from a file and the environment, the first run
//! (SQLite database, master key file of mode 0600, first signing key) and the next ones,
//! and `serve::run` end to end with a shutdown signal.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tessera_jwt::SystemClock;
use tessera_server::admin::{Context, MasterKeyOrigin, StartupError};
use tessera_server::config::{Config, MasterKeySource};
use tessera_server::serve::{self, Startup};

const NO_ENV: [(&str, &str); 0] = [];

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn configuration_from_a_file_with_environment_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.toml");
    write(
        &file,
        r#"
        issuer = "https://auth.example.com"
        listen = "0.0.0.0:8080"
        audience = "orders"
        master_key_file = "/etc/tessera/master.key"
        [tokens]
        access_ttl = "10m"
        refresh_ttl = "14d"
        [keys]
        algorithm = "ES256"
        [http]
        trusted_proxies = ["10.0.0.0/8"]
        "#,
    );
    let config = Config::load_with_env(
        Some(&file),
        [
            ("TESSERA_TOKENS__ACCESS_TTL", "5m"),
            ("TESSERA_LISTEN", "127.0.0.1:9999"),
            ("TESSERA_KEYS__ROTATION_PERIOD", "7d"),
            ("HOME", "/root"),
        ],
    )
    .unwrap();
    assert_eq!(config.issuer, "https://auth.example.com");
    assert_eq!(config.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(config.audience, "orders");
    assert_eq!(config.tokens.access_ttl, Duration::from_secs(300));
    assert_eq!(config.tokens.refresh_ttl, Duration::from_secs(14 * 86_400));
    assert_eq!(config.keys.rotation_period, Duration::from_secs(7 * 86_400));
    assert_eq!(config.keys.algorithm.name(), "ES256");
    assert_eq!(
        config.master_key,
        MasterKeySource::File("/etc/tessera/master.key".into())
    );
    assert_eq!(config.http.trusted_proxies.len(), 1);

    // An unknown key in the file is an error that names it (and the file).
    write(
        &file,
        "issuer = \"https://a.example\"\n[tokens]\naccess_tl = \"5m\"\n",
    );
    let err = Config::load_with_env(Some(&file), NO_ENV)
        .unwrap_err()
        .to_string();
    assert!(err.contains("access_tl"), "{err}");
    assert!(err.contains("tessera.toml"), "{err}");
    // A wrong type too, with where it came from.
    write(&file, "[http]\nbody_limit = \"lots\"\n");
    let err = Config::load_with_env(Some(&file), NO_ENV)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("body_limit") && err.contains("tessera.toml"),
        "{err}"
    );
    // A file that does not exist.
    let err = Config::load_with_env(Some(&dir.path().join("missing.toml")), NO_ENV).unwrap_err();
    assert!(err.to_string().contains("missing.toml"), "{err}");
    // An unknown environment variable with the prefix.
    let err = Config::load_with_env(None, [("TESSERA_AUDIANCE", "x")]).unwrap_err();
    assert!(err.to_string().contains("TESSERA_AUDIANCE"), "{err}");
}

fn sqlite_config(dir: &Path) -> Config {
    let url = format!("sqlite://{}", dir.join("tessera.db").display());
    Config::load_with_env(
        None,
        [
            ("TESSERA_DATABASE_URL", url.as_str()),
            ("TESSERA_LISTEN", "127.0.0.1:0"),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn first_run_creates_the_master_key_file_0600_and_later_runs_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = Context::from_config(sqlite_config(dir.path()), Arc::new(SystemClock))
        .await
        .unwrap();
    let path = dir.path().join("tessera.db.master-key");
    assert_eq!(ctx.master_origin, MasterKeyOrigin::Created(path.clone()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let id = ctx.master.current().id().to_owned();
    let (_, report) = ctx.app_state().await.unwrap();
    assert!(report.created.is_some());
    ctx.store.close().await;

    let ctx = Context::from_config(sqlite_config(dir.path()), Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(ctx.master_origin, MasterKeyOrigin::File(path.clone()));
    assert_eq!(ctx.master.current().id(), id);
    let (state, report) = ctx.app_state().await.unwrap();
    assert!(report.created.is_none(), "the first key is reused");
    state.keys.signer().unwrap();
    ctx.store.close().await;

    // The master key file lost while the database holds keys: refused, nothing created over it.
    std::fs::remove_file(&path).unwrap();
    let err = Context::from_config(sqlite_config(dir.path()), Arc::new(SystemClock))
        .await
        .unwrap_err();
    assert!(matches!(err, StartupError::Keys(_)), "{err:?}");
    assert!(err.to_string().contains("master key file"), "{err}");
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_needs_a_configured_master_key() {
    crate::harness::postgres(|ctx: crate::harness::Ctx| async move {
        let config =
            Config::load_with_env(None, [("TESSERA_DATABASE_URL", ctx.url.as_str())]).unwrap();
        let err = Context::from_config(config, Arc::new(SystemClock))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("master_key_file"), "{err}");
        assert!(
            err.to_string().contains("tessera master-key generate"),
            "{err}"
        );
        let _ = &ctx.store;
    })
    .await;
}

#[tokio::test]
async fn run_serves_until_the_signal_and_says_what_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let run_once = |dir: std::path::PathBuf| async move {
        let seen: Arc<Mutex<Option<Startup>>> = Arc::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = tokio::sync::oneshot::channel::<std::net::SocketAddr>();
        let record = seen.clone();
        let task = tokio::spawn(serve::run(
            sqlite_config(&dir),
            async move {
                let _ = stopped.await;
            },
            move |startup| {
                *record.lock().unwrap() = Some(startup.clone());
                let _ = ready.send(startup.local_addr);
            },
        ));
        let addr = is_ready.await.unwrap();
        let body: serde_json::Value = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(format!("http://{addr}/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["keys"].as_array().unwrap().len(), 1);
        stop.send(()).unwrap();
        task.await.unwrap().unwrap();
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "stopped listening"
        );
        seen.lock().unwrap().take().unwrap()
    };
    let first = run_once(dir.path().to_owned()).await;
    assert_eq!(first.created_database, Some(dir.path().join("tessera.db")));
    assert_eq!(
        first.created_master_key,
        Some(dir.path().join("tessera.db.master-key"))
    );
    assert!(first.created_signing_key.is_some());
    assert!(!first.tls);
    let second = run_once(dir.path().to_owned()).await;
    assert_eq!(second.created_database, None);
    assert_eq!(second.created_master_key, None);
    assert_eq!(second.created_signing_key, None);
}

#[tokio::test]
async fn native_tls_with_rustls_and_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = cert.cert.pem();
    write(&dir.path().join("cert.pem"), &cert_pem);
    write(
        &dir.path().join("key.pem"),
        &cert.signing_key.serialize_pem(),
    );
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let cert_file = dir.path().join("cert.pem").display().to_string();
    let key_file = dir.path().join("key.pem").display().to_string();
    let config = Config::load_with_env(
        None,
        [
            ("TESSERA_DATABASE_URL", url.as_str()),
            ("TESSERA_LISTEN", "127.0.0.1:0"),
            ("TESSERA_HTTP__TLS_CERT", cert_file.as_str()),
            ("TESSERA_HTTP__TLS_KEY", key_file.as_str()),
        ],
    )
    .unwrap();
    let ctx = Context::from_config(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let (state, _) = ctx.app_state().await.unwrap();
    let server = serve::Server::start(state, ctx.config.listen)
        .await
        .unwrap();
    let addr = server.local_addr();

    let client = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let response = client
        .get(format!("https://{addr}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["keys"].as_array().unwrap().len(), 1);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    assert!(
        plain
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err()
    );
    server.shutdown().await.unwrap();
    ctx.store.close().await;
}

#[tokio::test]
async fn unreadable_tls_files_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let missing = dir.path().join("missing.pem").display().to_string();
    let config = Config::load_with_env(
        None,
        [
            ("TESSERA_DATABASE_URL", url.as_str()),
            ("TESSERA_LISTEN", "127.0.0.1:0"),
            ("TESSERA_HTTP__TLS_CERT", missing.as_str()),
            ("TESSERA_HTTP__TLS_KEY", missing.as_str()),
        ],
    )
    .unwrap();
    let ctx = Context::from_config(config, Arc::new(SystemClock))
        .await
        .unwrap();
    let (state, _) = ctx.app_state().await.unwrap();
    let err = serve::Server::start(state, ctx.config.listen)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
    ctx.store.close().await;
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let ctx = Context::from_config(sqlite_config(dir.path()), Arc::new(SystemClock))
        .await
        .unwrap();
    let (state, _) = ctx.app_state().await.unwrap();
    let server = serve::Server::start(state, ctx.config.listen)
        .await
        .unwrap();
    let addr = server.local_addr();

    // A request whose handler is running: its head is sent, its body not yet.
    let body = br#"{"username":"nobody","password":"wrong password"}"#;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New connections are refused while the old one is served.
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the request in flight"
    );

    conn.write_all(body).await.unwrap();
    let mut response = Vec::new();
    conn.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("\"error\""), "{response}");
    stopping.await.unwrap().unwrap();
    ctx.store.close().await;
}

//! Running the issuer: bind, serve (plain HTTP behind a proxy, or native TLS with rustls),
//! refresh the signing keys and purge dead sessions in the background, and shut down gracefully — in-flight requests
//! finish — on SIGTERM or Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app;
use crate::config::{Config, LogFormat};
use crate::keys::RotationReport;
use crate::state::{AdminContext, AppState, MasterKeyOrigin, StartupError};

/// How long in-flight requests get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// A running server.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    serving: JoinHandle<std::io::Result<()>>,
    refresh: JoinHandle<()>,
    purge: JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0: any free port), starts serving `state` and refreshing its keys.
    pub async fn start(state: AppState, addr: SocketAddr) -> Result<Self, StartupError> {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| StartupError::Other(format!("cannot listen on {addr}: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| StartupError::Other(format!("listener: {e}")))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| StartupError::Other(format!("listener: {e}")))?;
        let (shutdown, mut signal) = watch::channel(false);
        let app = app::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();

        let serving = match &state.config.http.tls {
            Some(tls) => {
                let config =
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                        .await
                        .map_err(|e| {
                            StartupError::Other(format!(
                                "TLS certificate {} or key {}: {e}",
                                tls.cert.display(),
                                tls.key.display()
                            ))
                        })?;
                let handle = axum_server::Handle::new();
                let server = axum_server::from_tcp_rustls(listener, config)
                    .map_err(|e| StartupError::Other(format!("listener: {e}")))?
                    .handle(handle.clone());
                tokio::spawn(async move {
                    let _ = signal.wait_for(|stop| *stop).await;
                    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
                });
                tokio::spawn(async move { server.serve(app).await })
            }
            None => {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .map_err(|e| StartupError::Other(format!("listener: {e}")))?;
                tokio::spawn(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = signal.wait_for(|stop| *stop).await;
                        })
                        .await
                })
            }
        };
        // Last: nothing can fail after this, so the task never outlives a failed start.
        let refresh = state.keys.spawn_refresh();
        let purge = crate::purge::spawn(
            state.store.clone(),
            state.clock.clone(),
            state.metrics.clone(),
            state.config.storage.purge_interval,
            state.config.storage.purge_retention,
        );
        Ok(Self {
            local_addr,
            shutdown,
            serving,
            refresh,
            purge,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets in-flight requests finish, stops the key refresh and
    /// the purge.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.refresh.abort();
        self.purge.abort();
        match self.serving.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Serves until `signal` completes, then [`shutdown`](Self::shutdown). Returns early if
    /// the server stops by itself (an error).
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        let stopped = tokio::select! {
            () = signal => None,
            result = &mut self.serving => Some(result),
        };
        match stopped {
            None => {
                tracing::info!("shutting down: finishing the requests in flight");
                self.shutdown().await
            }
            Some(result) => {
                self.refresh.abort();
                self.purge.abort();
                result.map_err(std::io::Error::other)?
            }
        }
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// What `tessera serve` tells its operator at startup (printed by the CLI).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Startup {
    /// The address served.
    pub local_addr: SocketAddr,
    /// Whether it is HTTPS.
    pub tls: bool,
    /// The SQLite database file, if one was created now.
    pub created_database: Option<std::path::PathBuf>,
    /// The master key file, if one was created now.
    pub created_master_key: Option<std::path::PathBuf>,
    /// The first signing key, if it was created now (kid).
    pub created_signing_key: Option<String>,
}

/// `tessera serve`: sets everything up from `config`, calls `started` once listening, and
/// serves until `signal`.
pub async fn run(
    config: Config,
    signal: impl Future<Output = ()>,
    started: impl FnOnce(&Startup),
) -> Result<(), StartupError> {
    let new_database = config.sqlite_path().filter(|p| !p.exists());
    let ctx =
        AdminContext::from_config(config, std::sync::Arc::new(tessera_jwt::SystemClock)).await?;
    if let Some(db) = &new_database {
        tracing::info!(file = %db.display(), "created the SQLite database");
    }
    // Usernames in their RFC 8265 form before the first login (a migration cannot run PRECIS).
    crate::accounts::reconcile_usernames(&*ctx.store, ctx.clock.now()).await?;
    let (state, report): (AppState, RotationReport) = ctx.app_state().await?;
    // The outside identity providers' verifier starts fetching their keys now, and a
    // provider it cannot use stops the start rather than the first sign-in.
    if state.auth.federation().is_enabled() {
        state
            .auth
            .federation()
            .verifier()
            .await
            .map_err(|e| StartupError::Other(format!("identity providers: {e}")))?;
    }
    let server = Server::start(state, ctx.config.listen).await?;
    let startup = Startup {
        local_addr: server.local_addr(),
        tls: ctx.config.http.tls.is_some(),
        created_database: new_database,
        created_master_key: match &ctx.master_origin {
            MasterKeyOrigin::Created(path) => Some(path.clone()),
            _ => None,
        },
        created_signing_key: report
            .created
            .filter(|_| report.activated.is_some())
            .map(|k| k.kid),
    };
    tracing::info!(
        address = %startup.local_addr,
        issuer = %ctx.config.issuer,
        tls = startup.tls,
        "tessera is listening"
    );
    started(&startup);
    server
        .run_until(signal)
        .await
        .map_err(|e| StartupError::Other(format!("server: {e}")))?;
    ctx.store.close().await;
    Ok(())
}

/// Installs the log subscriber: `RUST_LOG` filters (default `info`), text or JSON lines on
/// standard error. Call once, in the binary.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

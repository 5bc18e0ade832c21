//! `tessera serve`: run the issuer. Also the `--config` option that every command touching
//! the issuer's database shares (`serve`, `key list|rotate`, `user …`, `client …`).

use std::future::Future;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use tessera_server::config::Config;

use crate::output;

/// `--config FILE`, shared by the commands that use the issuer's configuration.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConfigArgs {
    /// The configuration file (TOML). Without it: the defaults, then the TESSERA_*
    /// environment variables (which always win). `tessera serve --help` lists every key.
    #[arg(long, value_name = "FILE", env = "TESSERA_CONFIG")]
    pub(crate) config: Option<PathBuf>,
}

impl ConfigArgs {
    /// The validated configuration.
    pub(crate) fn load(&self) -> Result<Config> {
        Ok(Config::load(self.config.as_deref())?)
    }

    /// The administration context (configuration, store, master keys).
    pub(crate) async fn context(&self) -> Result<tessera_server::admin::Context> {
        let config = self.load()?;
        tessera_server::admin::Context::from_config(
            config,
            std::sync::Arc::new(tessera_jwt::SystemClock),
        )
        .await
        .context("opening the issuer's database")
    }
}

/// Runs `future` on a new multi-threaded tokio runtime.
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(future)
}

pub(crate) const ABOUT: &str = "Run the issuer: login, refresh, JWKS, discovery, key rotation";

fn long_help() -> String {
    format!(
        "Run the issuer over HTTP (or HTTPS with http.tls_cert and http.tls_key).\n\n\
         Without a configuration, the first run creates the SQLite database tessera.db in the \
         current directory, a master key file beside it (mode 0600: back it up, it encrypts \
         the signing keys) and the first signing key, and says so. The listen address is \
         printed on standard output; logs go to standard error (RUST_LOG filters them).\n\n\
         SIGTERM or Ctrl-C stops accepting connections and lets the requests in flight finish.\n\n\
         Configuration keys (TOML file, or the environment variable in parentheses, which \
         wins; durations are written like 15m, 30d, 1h 30m):\n{}",
        tessera_server::config::keys_help()
    )
}

#[derive(Debug, Args)]
#[command(
    about = ABOUT,
    long_about = long_help(),
    after_help = "Examples:\n  \
        tessera serve\n  \
        tessera serve --config /etc/tessera/tessera.toml\n  \
        TESSERA_LISTEN=0.0.0.0:7070 TESSERA_TOKENS__ACCESS_TTL=5m tessera serve"
)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let config = args.config.load()?;
    tessera_server::serve::init_logging(config.log_format);
    block_on(async move {
        tessera_server::serve::run(config, tessera_server::serve::shutdown_signal(), |startup| {
            if let Some(db) = &startup.created_database {
                output::note(&format!("created the SQLite database {}", db.display()));
            }
            if let Some(path) = &startup.created_master_key {
                output::warning(&format!(
                    "created the master key {} (mode 0600); it encrypts the signing keys: back it \
                     up and keep it secret",
                    path.display()
                ));
            }
            if let Some(kid) = &startup.created_signing_key {
                output::note(&format!("created the first signing key {kid}"));
            }
            let scheme = if startup.tls { "https" } else { "http" };
            // The address goes to stdout: scripts read it (port 0 picks a free one).
            let _ = output::line(&format!("listening on {scheme}://{}", startup.local_addr));
        })
        .await?;
        Ok(())
    })
}

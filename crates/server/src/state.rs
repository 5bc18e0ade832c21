//! What every handler shares ([`AppState`]), and how it is put together from a [`Config`]:
//! the store connected, the master key found (or created on first run), the signing keys
//! loaded (or the first one created). The CLI's administration commands use the same path
//! through [`AdminContext`] (re-exported as `tessera_server::admin::Context`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_jwt::{Clock, SystemClock};

use crate::auth::Auth;
use crate::config::{Config, ConfigError, MasterKeySource};
use crate::keys::{KeyError, KeyManager, MasterKey, MasterKeyRing, RotationPolicy, RotationReport};
use crate::metrics::Metrics;
use crate::store::{self, Store, StoreError};

/// The state of the issuer's HTTP handlers. Cheap to clone (everything is shared).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// The time (a `FixedClock` in tests).
    pub clock: Arc<dyn Clock>,
    /// The signing keys.
    pub keys: Arc<KeyManager>,
    /// Counters and histograms.
    pub metrics: Metrics,
    /// Password hashing, login throttling, verification of tessera's own tokens.
    pub auth: Arc<Auth>,
}

impl AppState {
    /// What the issuance core needs, borrowed from this state.
    pub(crate) fn issuance(&self) -> crate::issuance::Issuance<'_> {
        crate::issuance::Issuance {
            config: &self.config,
            store: &self.store,
            clock: &self.clock,
            keys: &self.keys,
            metrics: &self.metrics,
            passwords: self.auth.passwords(),
            throttle: self.auth.throttle(),
        }
    }

    /// A state from its parts (tests build their own; [`AdminContext::app_state`] and
    /// [`serve`](crate::serve) use the configured ones).
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: Arc<KeyManager>,
        metrics: Metrics,
    ) -> Self {
        Self {
            auth: Arc::new(Auth::new(&config, clock.clone())),
            config,
            store,
            clock,
            keys,
            metrics,
        }
    }
}

/// Why the issuer cannot start (or an administration command cannot run).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The master key or the signing keys cannot be used.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Stored usernames collide under RFC 8265 (or could not be checked).
    #[error(transparent)]
    Usernames(#[from] crate::accounts::UsernameError),
    /// Anything else at startup (binding the address, reading TLS files…).
    #[error("{0}")]
    Other(String),
}

/// What happened while finding the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MasterKeyOrigin {
    /// Given inline in the configuration.
    Inline,
    /// Read from this file.
    File(PathBuf),
    /// Created now, in this file (first run): back it up.
    Created(PathBuf),
}

/// The configuration, the store and the master keys, ready for the administration commands
/// (`tessera user …`, `tessera key …`) and for `tessera serve`.
///
/// ```no_run
/// # async fn demo() -> Result<(), tessera_server::state::StartupError> {
/// let ctx = tessera_server::admin::Context::load(None).await?; // defaults + TESSERA_* env
/// let users = ctx.store.list_users().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct AdminContext {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database, migrated.
    pub store: Arc<dyn Store>,
    /// The master keys.
    pub master: Arc<MasterKeyRing>,
    /// Where the master key came from.
    pub master_origin: MasterKeyOrigin,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
}

impl AdminContext {
    /// Loads the configuration (`config_file` if given, then `TESSERA_*` variables),
    /// connects the store and finds the master key (creating it, on first run with SQLite).
    pub async fn load(config_file: Option<&Path>) -> Result<Self, StartupError> {
        let config = Config::load(config_file)?;
        Self::from_config(config, Arc::new(SystemClock)).await
    }

    /// [`load`](Self::load) from a configuration already read, with a clock.
    pub async fn from_config(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartupError> {
        // Said before connecting: the fix does not depend on the database.
        if config.master_key == MasterKeySource::Default && config.sqlite_path().is_none() {
            return Err(missing_master_key());
        }
        let store = store::connect(config.database_url.expose()).await?;
        let (master, master_origin) = master_keys(&config, &*store).await?;
        if let MasterKeyOrigin::Created(path) = &master_origin {
            tracing::warn!(
                file = %path.display(),
                "created a new master key, which encrypts the signing keys in the database: \
                 back it up and keep it secret (without it the keys cannot be read)"
            );
        }
        Ok(Self {
            config: Arc::new(config),
            store,
            master: Arc::new(master),
            master_origin,
            clock,
        })
    }

    /// A key manager on this store (nothing loaded yet: call `init` or `list`).
    pub fn key_manager(&self, metrics: Metrics) -> KeyManager {
        KeyManager::new(
            Arc::clone(&self.store),
            Arc::clone(&self.clock),
            Arc::clone(&self.master),
            RotationPolicy::from_config(&self.config),
            metrics,
        )
    }

    /// The full state of the HTTP server: keys loaded, the first one created if there is none.
    pub async fn app_state(&self) -> Result<(AppState, RotationReport), StartupError> {
        let metrics = Metrics::new();
        let keys = Arc::new(self.key_manager(metrics.clone()));
        let report = keys.init().await?;
        Ok((
            AppState::new(
                Arc::clone(&self.config),
                Arc::clone(&self.store),
                Arc::clone(&self.clock),
                keys,
                metrics,
            ),
            report,
        ))
    }
}

/// A database without a default master key file (PostgreSQL, SQLite in memory) and none
/// configured: the error names the command that makes one.
fn missing_master_key() -> StartupError {
    StartupError::Config(ConfigError::Invalid {
        key: "master_key_file".into(),
        reason:
            "required with this database (instances sharing PostgreSQL must share the master key): \
                 make one with `tessera master-key generate --out FILE` and set master_key_file \
                 (or TESSERA_MASTER_KEY_FILE) to it"
                .into(),
    })
}

/// The default master key file of an SQLite database: `FILE.master-key` beside it.
pub fn default_master_key_path(database: &Path) -> PathBuf {
    let mut name = database
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "tessera.db".into());
    name.push(".master-key");
    database.with_file_name(name)
}

/// Finds the master keys of a configuration. Without one configured, the SQLite database's
/// default file is read, or created if the database holds no key yet (a master key created
/// for a database whose keys were encrypted under another would lock them out).
pub async fn master_keys(
    config: &Config,
    store: &dyn Store,
) -> Result<(MasterKeyRing, MasterKeyOrigin), StartupError> {
    let (current, origin) = match &config.master_key {
        MasterKeySource::Inline(text) => (
            MasterKey::from_base64url(text.expose())?,
            MasterKeyOrigin::Inline,
        ),
        MasterKeySource::File(path) => (
            MasterKey::load_file(path)?,
            MasterKeyOrigin::File(path.clone()),
        ),
        MasterKeySource::Default => {
            let Some(db) = config.sqlite_path() else {
                return Err(missing_master_key());
            };
            let path = default_master_key_path(&db);
            if path.exists() {
                (MasterKey::load_file(&path)?, MasterKeyOrigin::File(path))
            } else {
                if !store.signing_keys().await?.is_empty() {
                    return Err(StartupError::Keys(KeyError::MasterKey(format!(
                        "the database holds signing keys but the master key file {} is missing; \
                         restore it, or set master_key_file",
                        path.display()
                    ))));
                }
                (
                    MasterKey::create_file(&path)?,
                    MasterKeyOrigin::Created(path),
                )
            }
        }
    };
    let mut old = Vec::new();
    for path in config
        .old_master_key_files
        .iter()
        .chain(&config.previous_master_keys)
    {
        old.push(MasterKey::load_file(path)?);
    }
    for text in &config.old_master_keys {
        old.push(MasterKey::from_base64url(text.expose())?);
    }
    Ok((MasterKeyRing::new(current, old), origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tessera serve` prints an error with its sources (`{:#}`): no message may appear twice.
    #[test]
    fn startup_errors_do_not_repeat_their_cause() {
        let errors = [
            StartupError::from(KeyError::MasterKey("cannot read master key file x".into())),
            StartupError::from(StoreError::Invalid("bad".into())),
        ];
        for error in errors {
            let mut messages = vec![error.to_string()];
            let mut source = std::error::Error::source(&error);
            while let Some(e) = source {
                messages.push(e.to_string());
                source = e.source();
            }
            for pair in messages.windows(2) {
                assert!(!pair[0].contains(&pair[1]), "{messages:?}");
            }
        }
    }
}

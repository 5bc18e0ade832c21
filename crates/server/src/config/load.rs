//! Loading: the file and the environment merged (the environment wins), then every value
//! validated into the typed [`Config`].

use super::env::*;
use super::providers::validate_provider;
use super::raw::*;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};
use ipnet::IpNet;
use tessera_jwt::{Algorithm, Family};

use super::{
    Config, ConfigError, ForwardedHeader, HttpSettings, KeySettings, LogFormat, MasterKeySource,
    PasswordSettings, Secret, SessionSettings, StorageSettings, ThrottleSettings, TlsFiles,
    TokenSettings, invalid, positive,
};
use crate::store::{self, Backend};

// ---- loading -----------------------------------------------------------------------------------

impl Config {
    /// Loads the configuration: the defaults, then `file` (if given; it must exist), then the
    /// process's `TESSERA_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// [`load`](Self::load) with the environment given (tests, embedding).
    pub fn load_with_env<K, V>(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Parse(format!(
                    "configuration file {} does not exist or is not a file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Self::extract(figment.merge(EnvVars::new(env)?))
    }

    /// The configuration from TOML text and the given environment (tests, embedding).
    pub fn from_toml_and_env<K, V>(
        toml: &str,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::extract(
            Figment::new()
                .merge(Toml::string(toml))
                .merge(EnvVars::new(env)?),
        )
    }

    /// The defaults alone (first run without a configuration file).
    pub fn defaults() -> Self {
        // The defaults are valid by construction (a unit test holds this).
        match Self::validate(RawConfig::default()) {
            Ok(config) => config,
            Err(e) => unreachable!("the default configuration is invalid: {e}"),
        }
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        let raw: RawConfig = figment.extract().map_err(|e| {
            ConfigError::Parse(
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        Self::validate(raw)
    }

    fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let issuer = validate_issuer(&raw.issuer)?;
        let listen = raw.listen.trim().parse::<SocketAddr>().map_err(|_| {
            invalid(
                "listen",
                format!(
                    "{:?} is not an address and port such as 127.0.0.1:7070",
                    raw.listen
                ),
            )
        })?;
        store::backend_of(&raw.database_url).map_err(|e| invalid("database_url", e.to_string()))?;
        if raw.audience.trim().is_empty() {
            return Err(invalid("audience", "must not be empty"));
        }
        let master_key = match (raw.master_key, raw.master_key_file) {
            (Some(key), _) if !key.trim().is_empty() => {
                MasterKeySource::Inline(Secret::new(key.trim()))
            }
            (_, Some(path)) if !path.as_os_str().is_empty() => MasterKeySource::File(path),
            _ => MasterKeySource::Default,
        };
        let log_format = match raw.log_format.trim().to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log_format",
                    format!("{other:?}: expected text or json"),
                ));
            }
        };
        let tokens = validate_tokens(&raw.tokens)?;
        let keys = validate_keys(&raw.keys)?;
        let mut providers = Vec::with_capacity(raw.providers.len());
        let mut names = BTreeSet::new();
        for (i, p) in raw.providers.into_iter().enumerate() {
            let provider = validate_provider(i, p)?;
            if !names.insert(provider.name.clone()) {
                return Err(invalid(
                    &format!("providers[{i}].name"),
                    format!("{:?} is used twice", provider.name),
                ));
            }
            providers.push(provider);
        }
        let passwords = validate_passwords(&raw.passwords)?;
        let throttle = validate_throttle(&raw.throttle)?;
        let http = validate_http(raw.http)?;
        let (sessions, storage) = validate_upkeep(&raw.sessions, &raw.storage)?;
        Ok(Self {
            issuer,
            listen,
            database_url: Secret::new(raw.database_url.trim()),
            audience: raw.audience.trim().to_owned(),
            master_key,
            old_master_key_files: raw.old_master_key_files,
            old_master_keys: raw.old_master_keys.into_iter().map(Secret::new).collect(),
            previous_master_keys: match raw.previous_master_keys {
                None => Vec::new(),
                Some(OneOrMany::One(path)) => vec![PathBuf::from(path)],
                Some(OneOrMany::Many(paths)) => paths.into_iter().map(PathBuf::from).collect(),
            }
            .into_iter()
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
            log_format,
            tokens,
            keys,
            providers,
            passwords,
            throttle,
            http,
            sessions,
            storage,
        })
    }

    /// The database backend.
    pub fn backend(&self) -> Backend {
        // Checked in validation.
        store::backend_of(self.database_url.expose()).unwrap_or(Backend::Sqlite)
    }

    /// The SQLite database file, when the database is an SQLite file (not in memory).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        sqlite_file(self.database_url.expose())
    }

    /// A URL under the issuer (`path` starts with `/`).
    pub fn issuer_url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }
}

/// The file of an `sqlite:` URL: `sqlite://tessera.db`, `sqlite:tessera.db`,
/// `sqlite:///abs/path.db`, without `?options`; `None` in memory.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let (scheme, rest) = url.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sqlite") {
        return None;
    }
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

pub(super) fn validate_issuer(issuer: &str) -> Result<String, ConfigError> {
    let issuer = issuer.trim();
    let url = url::Url::parse(issuer)
        .map_err(|e| invalid("issuer", format!("{issuer:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(
            "issuer",
            format!("{issuer:?} must be an http(s) URL with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid(
            "issuer",
            "must not have a query, fragment or credentials (OpenID Discovery §3)",
        ));
    }
    // `iss` is compared as a string: keep it as written, without the trailing slash that would
    // make `{issuer}/.well-known/…` ambiguous.
    Ok(issuer.trim_end_matches('/').to_owned())
}

pub(super) fn validate_tokens(raw: &RawTokens) -> Result<TokenSettings, ConfigError> {
    let access_ttl = positive("tokens.access_ttl", raw.access_ttl)?;
    let refresh_ttl = positive("tokens.refresh_ttl", raw.refresh_ttl)?;
    let refresh_idle_ttl = positive("tokens.refresh_idle_ttl", raw.refresh_idle_ttl)?;
    let grace = raw.refresh_reuse_grace.0;
    if access_ttl.as_secs() == 0 {
        return Err(invalid("tokens.access_ttl", "must be at least one second"));
    }
    if refresh_idle_ttl > refresh_ttl {
        return Err(invalid(
            "tokens.refresh_idle_ttl",
            "must not exceed tokens.refresh_ttl",
        ));
    }
    if grace >= refresh_idle_ttl {
        return Err(invalid(
            "tokens.refresh_reuse_grace",
            "must be shorter than tokens.refresh_idle_ttl",
        ));
    }
    Ok(TokenSettings {
        access_ttl,
        refresh_ttl,
        refresh_idle_ttl: refresh_idle_ttl.min(refresh_ttl),
        refresh_reuse_grace: grace,
    })
}

pub(super) fn validate_keys(raw: &RawKeys) -> Result<KeySettings, ConfigError> {
    let algorithm = Algorithm::from_str(raw.algorithm.trim()).map_err(|_| {
        invalid(
            "keys.algorithm",
            format!(
                "{:?} is not a JWS algorithm tessera signs with",
                raw.algorithm
            ),
        )
    })?;
    if algorithm.family() == Family::Hmac {
        return Err(invalid(
            "keys.algorithm",
            "an HMAC algorithm cannot be published in a JWKS; use RS256, ES256, EdDSA…",
        ));
    }
    let rsa_bits = match raw.rsa_bits {
        2048 | 3072 | 4096 => raw.rsa_bits as usize,
        other => {
            return Err(invalid(
                "keys.rsa_bits",
                format!("{other}: expected 2048, 3072 or 4096"),
            ));
        }
    };
    let rotation_period = positive("keys.rotation_period", raw.rotation_period)?;
    let jwks_max_age = positive("keys.jwks_max_age", raw.jwks_max_age)?;
    let publish_lead = match raw.publish_lead {
        Some(d) => positive("keys.publish_lead", d)?,
        None => jwks_max_age * 2,
    };
    if publish_lead < jwks_max_age * 2 {
        return Err(invalid(
            "keys.publish_lead",
            "must be at least 2 × keys.jwks_max_age, so that every cached JWKS has a new key before it signs",
        ));
    }
    let refresh_interval = positive("keys.refresh_interval", raw.refresh_interval)?;
    if refresh_interval.as_secs() == 0 {
        return Err(invalid(
            "keys.refresh_interval",
            "must be at least one second",
        ));
    }
    if rotation_period <= publish_lead + refresh_interval {
        return Err(invalid(
            "keys.rotation_period",
            "must be longer than keys.publish_lead + keys.refresh_interval",
        ));
    }
    Ok(KeySettings {
        algorithm,
        rsa_bits,
        rotation_period,
        jwks_max_age,
        publish_lead,
        retire_leeway: raw.retire_leeway.0,
        refresh_interval,
        lock_ttl: positive("keys.lock_ttl", raw.lock_ttl)?,
    })
}

pub(super) fn validate_passwords(raw: &RawPasswords) -> Result<PasswordSettings, ConfigError> {
    let small = |key: &str, v: u64, min: u64, max: u64| -> Result<u32, ConfigError> {
        if v < min || v > max {
            return Err(invalid(key, format!("{v} is out of range {min}..={max}")));
        }
        u32::try_from(v).map_err(|_| invalid(key, "too large"))
    };
    let parallelism = small("passwords.parallelism", raw.parallelism, 1, 64)?;
    let memory_kib = small(
        "passwords.memory_kib",
        raw.memory_kib,
        8 * u64::from(parallelism),
        4 * 1024 * 1024,
    )?;
    let iterations = small("passwords.iterations", raw.iterations, 1, 100)?;
    let max_concurrent_hashes = match raw.max_concurrent_hashes {
        Some(n) => small("passwords.max_concurrent_hashes", n, 1, 1024)? as usize,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    Ok(PasswordSettings {
        memory_kib,
        iterations,
        parallelism,
        max_concurrent_hashes,
    })
}

pub(super) fn validate_throttle(raw: &RawThrottle) -> Result<ThrottleSettings, ConfigError> {
    let count = |key: &str, v: u64| -> Result<u32, ConfigError> {
        match u32::try_from(v) {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(invalid(key, format!("{v}: expected 1 to {}", u32::MAX))),
        }
    };
    Ok(ThrottleSettings {
        enabled: raw.enabled,
        account_attempts: count("throttle.account_attempts", raw.account_attempts)?,
        account_window: positive("throttle.account_window", raw.account_window)?,
        address_attempts: count("throttle.address_attempts", raw.address_attempts)?,
        address_window: positive("throttle.address_window", raw.address_window)?,
        max_delay: match raw.max_delay.0 {
            d if d <= Duration::from_secs(300) => d,
            _ => return Err(invalid("throttle.max_delay", "must be at most 5m")),
        },
    })
}

pub(super) fn validate_http(raw: RawHttp) -> Result<HttpSettings, ConfigError> {
    let body_limit = match usize::try_from(raw.body_limit) {
        Ok(n) if (1..=64 * 1024 * 1024).contains(&n) => n,
        _ => {
            return Err(invalid(
                "http.body_limit",
                format!("{}: expected 1 to 67108864 bytes", raw.body_limit),
            ));
        }
    };
    let request_timeout = positive("http.request_timeout", raw.request_timeout)?;
    for origin in &raw.cors_allowed_origins {
        if origin == "*" {
            continue;
        }
        let ok = url::Url::parse(origin).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.path() == "/"
                && u.query().is_none()
                && !origin.ends_with('/')
        });
        if !ok || axum::http::HeaderValue::from_str(origin).is_err() {
            return Err(invalid(
                "http.cors_allowed_origins",
                format!("{origin:?} is not an origin such as https://app.example.com"),
            ));
        }
    }
    if raw.cors_allowed_origins.len() > 1 && raw.cors_allowed_origins.iter().any(|o| o == "*") {
        return Err(invalid("http.cors_allowed_origins", "`*` stands alone"));
    }
    let tls = match (raw.tls_cert, raw.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        (Some(_), None) => return Err(invalid("http.tls_key", "required with http.tls_cert")),
        (None, Some(_)) => return Err(invalid("http.tls_cert", "required with http.tls_key")),
    };
    let trusted_proxies = raw
        .trusted_proxies
        .iter()
        .map(|p| {
            let p = p.trim();
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        "http.trusted_proxies",
                        format!("{p:?} is not an address or CIDR range"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let forwarded_header = match raw.forwarded_header.trim().to_ascii_lowercase().as_str() {
        "x-forwarded-for" => ForwardedHeader::XForwardedFor,
        "forwarded" => ForwardedHeader::Forwarded,
        "x-real-ip" => ForwardedHeader::XRealIp,
        other => {
            return Err(invalid(
                "http.forwarded_header",
                format!("{other:?}: expected x-forwarded-for, forwarded or x-real-ip"),
            ));
        }
    };
    Ok(HttpSettings {
        body_limit,
        request_timeout,
        cors_allowed_origins: raw.cors_allowed_origins,
        tls,
        trusted_proxies,
        forwarded_header,
    })
}

pub(super) fn validate_upkeep(
    sessions: &RawSessions,
    storage: &RawStorage,
) -> Result<(SessionSettings, StorageSettings), ConfigError> {
    let max_per_user = match u32::try_from(sessions.max_per_user) {
        Ok(n) if (1..=100_000).contains(&n) => n,
        _ => {
            return Err(invalid(
                "sessions.max_per_user",
                format!("{}: expected 1 to 100000", sessions.max_per_user),
            ));
        }
    };
    let purge_interval = positive("storage.purge_interval", storage.purge_interval)?;
    if purge_interval < Duration::from_secs(1) {
        return Err(invalid(
            "storage.purge_interval",
            "must be at least one second",
        ));
    }
    // Zero is allowed: purge what is dead at once.
    let purge_retention = storage.purge_retention.0;
    if purge_retention.as_secs() > 100 * 365 * 86_400 {
        return Err(invalid(
            "storage.purge_retention",
            "must be under 100 years",
        ));
    }
    Ok((
        SessionSettings { max_per_user },
        StorageSettings {
            purge_interval,
            purge_retention,
        },
    ))
}

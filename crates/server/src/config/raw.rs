//! The raw form of the configuration: what serde reads from the file and the environment,
//! before validation.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::Secret;

// ---- raw form (what serde reads) -------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
    pub(super) issuer: String,
    pub(super) listen: String,
    pub(super) database_url: String,
    pub(super) audience: String,
    pub(super) master_key_file: Option<PathBuf>,
    pub(super) master_key: Option<String>,
    pub(super) old_master_key_files: Vec<PathBuf>,
    pub(super) old_master_keys: Vec<String>,
    pub(super) previous_master_keys: Option<OneOrMany>,
    pub(super) log_format: String,
    pub(super) tokens: RawTokens,
    pub(super) keys: RawKeys,
    pub(super) providers: Vec<RawProvider>,
    pub(super) passwords: RawPasswords,
    pub(super) throttle: RawThrottle,
    pub(super) http: RawHttp,
    pub(super) sessions: RawSessions,
    pub(super) storage: RawStorage,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:7070".into(),
            listen: "127.0.0.1:7070".into(),
            database_url: "sqlite://tessera.db".into(),
            audience: "tessera".into(),
            master_key_file: None,
            master_key: None,
            old_master_key_files: Vec::new(),
            old_master_keys: Vec::new(),
            previous_master_keys: None,
            log_format: "text".into(),
            tokens: RawTokens::default(),
            keys: RawKeys::default(),
            providers: Vec::new(),
            passwords: RawPasswords::default(),
            throttle: RawThrottle::default(),
            http: RawHttp::default(),
            sessions: RawSessions::default(),
            storage: RawStorage::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSessions {
    pub(super) max_per_user: u64,
}

impl Default for RawSessions {
    fn default() -> Self {
        Self { max_per_user: 100 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStorage {
    pub(super) purge_interval: Dur,
    pub(super) purge_retention: Dur,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self {
            purge_interval: Dur::mins(60),
            purge_retention: Dur::days(1),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTokens {
    pub(super) access_ttl: Dur,
    pub(super) refresh_ttl: Dur,
    pub(super) refresh_idle_ttl: Dur,
    pub(super) refresh_reuse_grace: Dur,
}

impl Default for RawTokens {
    fn default() -> Self {
        Self {
            access_ttl: Dur::mins(15),
            refresh_ttl: Dur::days(30),
            refresh_idle_ttl: Dur::days(7),
            refresh_reuse_grace: Dur::secs(5),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawKeys {
    pub(super) algorithm: String,
    pub(super) rsa_bits: u64,
    pub(super) rotation_period: Dur,
    pub(super) jwks_max_age: Dur,
    pub(super) publish_lead: Option<Dur>,
    pub(super) retire_leeway: Dur,
    pub(super) refresh_interval: Dur,
    pub(super) lock_ttl: Dur,
}

impl Default for RawKeys {
    fn default() -> Self {
        Self {
            algorithm: "RS256".into(),
            rsa_bits: 2048,
            rotation_period: Dur::days(30),
            jwks_max_age: Dur::mins(60),
            publish_lead: None,
            retire_leeway: Dur::mins(5),
            refresh_interval: Dur::secs(10),
            lock_ttl: Dur::secs(60),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    pub(super) name: String,
    pub(super) issuer: String,
    #[serde(default)]
    pub(super) jwks_uri: Option<String>,
    #[serde(default)]
    pub(super) discovery: Option<bool>,
    pub(super) audience: OneOrMany,
    #[serde(default)]
    pub(super) algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub(super) client_id: Option<String>,
    #[serde(default, deserialize_with = "optional_secret")]
    pub(super) client_secret: Option<Secret>,
    #[serde(default)]
    pub(super) scopes: Option<Vec<String>>,
    #[serde(default)]
    pub(super) link_existing: Option<String>,
    #[serde(default)]
    pub(super) create_users: Option<bool>,
    #[serde(default)]
    pub(super) allowed_domains: Option<Vec<String>>,
    #[serde(default)]
    pub(super) max_id_token_age: Option<Dur>,
}

/// A secret read straight into [`Secret`] (zeroized, redacted), never held as a plain `String`.
pub(super) fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(Secret::new))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPasswords {
    pub(super) memory_kib: u64,
    pub(super) iterations: u64,
    pub(super) parallelism: u64,
    pub(super) max_concurrent_hashes: Option<u64>,
}

impl Default for RawPasswords {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent_hashes: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawThrottle {
    pub(super) enabled: bool,
    pub(super) account_attempts: u64,
    pub(super) account_window: Dur,
    pub(super) address_attempts: u64,
    pub(super) address_window: Dur,
    pub(super) max_delay: Dur,
}

impl Default for RawThrottle {
    fn default() -> Self {
        Self {
            enabled: true,
            account_attempts: 5,
            account_window: Dur::mins(15),
            address_attempts: 50,
            address_window: Dur::mins(15),
            max_delay: Dur::secs(20),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHttp {
    pub(super) body_limit: u64,
    pub(super) request_timeout: Dur,
    pub(super) cors_allowed_origins: Vec<String>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) trusted_proxies: Vec<String>,
    pub(super) forwarded_header: String,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            body_limit: 64 * 1024,
            request_timeout: Dur::secs(30),
            cors_allowed_origins: Vec::new(),
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            forwarded_header: "x-forwarded-for".into(),
        }
    }
}

/// A duration written as text (`15m`, `30d`, `1h 30m`, humantime syntax) or whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dur(pub(super) Duration);

impl Dur {
    pub(super) const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
    pub(super) const fn mins(m: u64) -> Self {
        Self::secs(m * 60)
    }
    pub(super) const fn days(d: u64) -> Self {
        Self::secs(d * 86_400)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"15m\", \"30d\", \"1h 30m\", or whole seconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|v| Dur(Duration::from_secs(v)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                let v = v.trim();
                if let Ok(secs) = v.parse::<u64>() {
                    return Ok(Dur(Duration::from_secs(secs)));
                }
                humantime::parse_duration(v)
                    .map(Dur)
                    .map_err(|e| E::custom(format!("invalid duration {v:?}: {e}")))
            }
        }
        d.deserialize_any(V)
    }
}

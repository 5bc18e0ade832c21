//! The issuer's configuration: one TOML file and `TESSERA_*` environment variables (which win),
//! parsed strictly (an unknown key is an error that names it) and validated into typed
//! [`Config`] before anything runs.
//!
//! Every key is listed, with its environment variable, default and meaning, in [`KEYS`]
//! (`tessera serve --help` prints it through [`keys_help`]). Nested keys join with `__` in the
//! environment: `[tokens] access_ttl` is `TESSERA_TOKENS__ACCESS_TTL`.
//!
//! ```
//! use tessera_server::config::Config;
//! let config = Config::from_toml_and_env(
//!     r#"issuer = "https://auth.example.com"
//!        [tokens]
//!        access_ttl = "10m""#,
//!     [("TESSERA_TOKENS__ACCESS_TTL", "5m")],
//! ).unwrap();
//! assert_eq!(config.tokens.access_ttl.as_secs(), 300); // the environment wins
//! ```

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use tessera_jwt::Algorithm;
use zeroize::Zeroizing;

mod docs;
mod env;
mod load;
mod providers;
mod raw;
#[cfg(test)]
mod tests;

pub use docs::{ENV_PREFIX, KEYS, KeyDoc, KeyKind, env_name, keys_help};
pub use load::sqlite_file;

// ---- errors --------------------------------------------------------------------------------

/// A configuration that cannot be used. The message names the key (and the file or
/// environment variable it came from) and never repeats a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read or parsed, a key is unknown, or a value has the wrong type.
    #[error("configuration: {0}")]
    Parse(String),
    /// A value is out of range or inconsistent with another.
    #[error("configuration key `{key}`: {reason}")]
    Invalid {
        /// The dotted key.
        key: String,
        /// Why.
        reason: String,
    },
}

fn invalid(key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// A duration that must be more than zero (and, as times are i64 seconds in the store, far
/// inside that range).
fn positive(key: &str, d: raw::Dur) -> Result<Duration, ConfigError> {
    if d.0.is_zero() {
        return Err(invalid(key, "must be more than zero"));
    }
    if d.0.as_secs() > 100 * 365 * 86_400 {
        return Err(invalid(key, "must be under 100 years"));
    }
    Ok(d.0)
}

// ---- the typed settings ----------------------------------------------------------------------

/// A secret string (a master key, a database URL with a password): redacted in `Debug`,
/// zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The validated configuration of the issuer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The `iss` of every token (no trailing slash).
    pub issuer: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The database (may hold a password: redacted in `Debug`).
    pub database_url: Secret,
    /// The `aud` of access tokens.
    pub audience: String,
    /// Where the master key comes from.
    pub master_key: MasterKeySource,
    /// Earlier master keys (files), to read keys encrypted under them.
    pub old_master_key_files: Vec<PathBuf>,
    /// Earlier master keys (base64url).
    pub old_master_keys: Vec<Secret>,
    /// Files of the master keys before the last switch (`previous_master_keys`): what they
    /// sealed stays readable until `tessera master-key rotate` has resealed it.
    pub previous_master_keys: Vec<PathBuf>,
    /// Log format.
    pub log_format: LogFormat,
    /// Token lifetimes.
    pub tokens: TokenSettings,
    /// Signing keys and rotation.
    pub keys: KeySettings,
    /// Outside identity providers.
    pub providers: Vec<ProviderSettings>,
    /// Password hashing.
    pub passwords: PasswordSettings,
    /// Login throttling.
    pub throttle: ThrottleSettings,
    /// HTTP server.
    pub http: HttpSettings,
    /// `[sessions]`: the cap of live sessions per user.
    pub sessions: SessionSettings,
    /// `[storage]`: the scheduled purge.
    pub storage: StorageSettings,
}

/// `[sessions]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionSettings {
    /// Live refresh families per user (at least 1); a new sign-in beyond it revokes the least
    /// recently used one.
    pub max_per_user: u32,
}

/// `[storage]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StorageSettings {
    /// How often the purge runs.
    pub purge_interval: Duration,
    /// How long dead families and used tokens are kept before the purge deletes them.
    pub purge_retention: Duration,
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MasterKeySource {
    /// Given inline (`master_key`, base64url).
    Inline(Secret),
    /// A file (`master_key_file`).
    File(PathBuf),
    /// Not configured: with SQLite, a file next to the database, created on first run.
    Default,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[tokens]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenSettings {
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Absolute lifetime of a refresh family.
    pub refresh_ttl: Duration,
    /// Idle lifetime of a refresh family (≤ `refresh_ttl`).
    pub refresh_idle_ttl: Duration,
    /// Reuse inside this window is a retry, not theft.
    pub refresh_reuse_grace: Duration,
}

/// `[keys]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeySettings {
    /// Algorithm of new keys (never HMAC: the keys are published).
    pub algorithm: Algorithm,
    /// RSA modulus size of new RSA keys.
    pub rsa_bits: usize,
    /// How long a key signs.
    pub rotation_period: Duration,
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: Duration,
    /// How long a `next` key is published before it signs (≥ 2 × `jwks_max_age`).
    pub publish_lead: Duration,
    /// Extra time a retired key stays published after its last token expired.
    pub retire_leeway: Duration,
    /// How often each instance re-reads the keys.
    pub refresh_interval: Duration,
    /// Lease of the rotation lock.
    pub lock_ttl: Duration,
}

/// One `[[providers]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderSettings {
    /// Name (what `/login/oidc` `provider` selects).
    pub name: String,
    /// The provider's `iss`.
    pub issuer: String,
    /// Where its keys are: a JWKS URL, or found through OpenID discovery from the issuer.
    pub keys: ProviderKeys,
    /// Accepted `aud` values (the client ids tessera has at the provider).
    pub audience: Vec<String>,
    /// Accepted algorithms (default RS256).
    pub algorithms: Vec<Algorithm>,
    /// tessera's client id at the provider, for the browser sign-in (authorization code
    /// flow): `client_id`, or the only `audience` when there is exactly one. `None`: the
    /// provider is not offered on the login page (its ID tokens are still accepted at
    /// `/login/oidc`).
    pub client_id: Option<String>,
    /// The client secret at the provider (a confidential client, authenticated with HTTP
    /// Basic at the token endpoint); `None`: a public client (PKCE alone).
    pub client_secret: Option<Secret>,
    /// The scopes asked for (always with `openid`); default `openid email profile`.
    pub scopes: Vec<String>,
    /// Whether a first sign-in may join an existing local account (default: never).
    pub link_existing: LinkExisting,
    /// Whether a first sign-in may create a user (default true).
    pub create_users: bool,
    /// E-mail domains (lowercase; for Google also `hd`) that may sign in; empty: any.
    pub allowed_domains: Vec<String>,
    /// ID tokens older than this (by `iat`) are refused (default 10 minutes).
    pub max_id_token_age: Duration,
}

/// `link_existing` of a `[[providers]]` entry: whether the first sign-in of an outside
/// identity may join the local account whose username is its e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LinkExisting {
    /// Never: a new identity gets a user of its own (or a refusal); linking is done by the
    /// signed-in user from `/account`.
    #[default]
    Never,
    /// Only with a boolean `email_verified: true`, an e-mail of `allowed_domains` (Google:
    /// and a matching `hd`), to an account without password, role or second factor.
    VerifiedEmail,
}

/// Where a provider's keys are published.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderKeys {
    /// This JWKS URL.
    JwksUri(String),
    /// `{issuer}/.well-known/openid-configuration`'s `jwks_uri`.
    Discovery,
}

/// `[passwords]`: argon2id parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordSettings {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Time cost.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hashes computed at once.
    pub max_concurrent_hashes: usize,
}

/// `[throttle]`: failed-login limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThrottleSettings {
    /// Whether logins are throttled at all.
    pub enabled: bool,
    /// Failures allowed per account in `account_window`.
    pub account_attempts: u32,
    /// Window of the per-account limit.
    pub account_window: Duration,
    /// Failures allowed per client address in `address_window`.
    pub address_attempts: u32,
    /// Window of the per-address limit.
    pub address_window: Duration,
    /// Longest wait of an attempt on an account that failed too often (zero: none).
    pub max_delay: Duration,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpSettings {
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// CORS origins (`*` alone: any).
    pub cors_allowed_origins: Vec<String>,
    /// Native TLS: certificate chain and key (PEM files).
    pub tls: Option<TlsFiles>,
    /// Proxies whose forwarded header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Which header names the client behind a trusted proxy.
    pub forwarded_header: ForwardedHeader,
}

/// PEM files for native TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// The header a trusted proxy names the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1`.
    Forwarded,
    /// `X-Real-IP: client` (set by the proxy alone).
    XRealIp,
}

impl HttpSettings {
    /// The address of the client: the peer, unless the peer is a trusted proxy; then the
    /// forwarded header is walked **from the right**, skipping the addresses of trusted
    /// proxies, and the first other hop is the client. Everything to its left was written by
    /// the client or by proxies nobody trusts, and is ignored, whatever it holds.
    ///
    /// That first other hop was written by a trusted proxy (as the address it saw), so a
    /// client cannot choose it. If it cannot be read as an address (RFC 7239's `unknown` or
    /// an obfuscated `_name`, an element without `for=`, garbage), the client's address is
    /// **unknown**: `0.0.0.0`, the same as a connection without peer information. It is
    /// never the proxy's own address (that would pour every such client's failed logins into
    /// the one bucket of the proxy, which every client behind it shares), and the login
    /// throttle gives unknown addresses no address bucket at all (one shared "unknown" bucket
    /// would be the same flaw), only its per-account delay. An attacker in front of a proxy
    /// cannot reach this case: he writes only to the left of the hop his proxy appends.
    ///
    /// With `X-Real-IP` (one hop, set by the proxy alone; the last one counts if there are
    /// several), an unreadable value is likewise unknown. Without the header, the trusted
    /// peer itself is the client (with every hop trusted: the leftmost of them).
    pub fn client_address(&self, peer: IpAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        const UNKNOWN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        if !self.is_trusted(peer) {
            return peer;
        }
        let (name, element_address): (&str, fn(&str) -> Option<IpAddr>) =
            match self.forwarded_header {
                ForwardedHeader::XRealIp => {
                    return match headers.get_all("x-real-ip").iter().next_back() {
                        None => peer,
                        Some(value) => read_hop(value.as_bytes(), parse_hop)
                            .flatten()
                            .filter(|ip| !ip.is_unspecified())
                            .unwrap_or(UNKNOWN),
                    };
                }
                ForwardedHeader::XForwardedFor => ("x-forwarded-for", parse_hop),
                ForwardedHeader::Forwarded => ("forwarded", forwarded_for),
            };
        let mut client = peer;
        // Bytes, not text: one line that is not UTF-8 (a client's part of it, say) must not
        // hide the hops a proxy appended to it.
        let hops = headers
            .get_all(name)
            .iter()
            .rev()
            .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','));
        for hop in hops {
            match read_hop(hop, element_address) {
                // Blank: no hop (", 1.2.3.4" from an empty header a proxy appended to).
                None => {}
                Some(Some(ip)) if self.is_trusted(ip) => client = ip,
                Some(Some(ip)) if !ip.is_unspecified() => return ip,
                Some(_) => return UNKNOWN,
            }
        }
        client
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// One hop: `None` if blank, `Some(None)` if it cannot be read (not UTF-8, or not what
/// `parse` accepts), else its address.
fn read_hop(bytes: &[u8], parse: fn(&str) -> Option<IpAddr>) -> Option<Option<IpAddr>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Some(None);
    };
    let text = text.trim();
    (!text.is_empty()).then(|| parse(text))
}

/// The address in one RFC 7239 element's `for=` parameter (`for=192.0.2.60`,
/// `for="[2001:db8::1]:4711"`); `None` without one, or for `unknown` and `_obfuscated` names.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value)
    })?;
    parse_hop(value.trim().trim_matches('"'))
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]`, `[::1]:5678`, `::1`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    s.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

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

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use tessera_jwt::{Algorithm, Family};
use zeroize::Zeroizing;

use crate::store::{self, Backend};

/// Prefix of the environment variables.
pub const ENV_PREFIX: &str = "TESSERA_";

/// What a configuration key holds, so that an environment variable's text is read as the
/// right type (a `TESSERA_AUDIENCE=123` stays the string `"123"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// Text (also URLs, paths, durations such as `15m`).
    Text,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A list: `["a", "b"]` in the environment.
    List,
}

/// One configuration key, for `--help` and the environment.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct KeyDoc {
    /// The dotted key (`tokens.access_ttl`).
    pub key: &'static str,
    /// Its type.
    pub kind: KeyKind,
    /// Its default, as written in the file (empty: none).
    pub default: &'static str,
    /// What it does.
    pub about: &'static str,
}

impl KeyDoc {
    /// The environment variable (`TESSERA_TOKENS__ACCESS_TTL`).
    pub fn env(&self) -> String {
        env_name(self.key)
    }
}

const fn doc(
    key: &'static str,
    kind: KeyKind,
    default: &'static str,
    about: &'static str,
) -> KeyDoc {
    KeyDoc {
        key,
        kind,
        default,
        about,
    }
}

use KeyKind::{Boolean, Integer, List, Text};

/// Every configuration key. `providers` is a list of tables (`[[providers]]`), each with the
/// keys `name`, `issuer`, `jwks_uri`, `discovery`, `audience`, `algorithms`, and for the
/// hosted login page's "Sign in with …" button `client_id`, `client_secret`, `scopes`; in the
/// environment, `TESSERA_PROVIDERS='[{name="google", issuer="https://accounts.google.com",
/// audience="ID", client_secret="SECRET"}]'`.
pub const KEYS: &[KeyDoc] = &[
    doc(
        "issuer",
        Text,
        "http://127.0.0.1:7070",
        "the `iss` of every token, and the base URL of the published documents",
    ),
    doc(
        "listen",
        Text,
        "127.0.0.1:7070",
        "address and port to listen on",
    ),
    doc(
        "database_url",
        Text,
        "sqlite://tessera.db",
        "sqlite://FILE (created on first run) or postgres://USER@HOST/DB",
    ),
    doc("audience", Text, "tessera", "the `aud` of access tokens"),
    doc(
        "master_key_file",
        Text,
        "",
        "file holding the master key that encrypts private keys at rest (default with SQLite: created next to the database)",
    ),
    doc(
        "master_key",
        Text,
        "",
        "the master key itself, base64url (32 bytes); wins over master_key_file",
    ),
    doc(
        "old_master_key_files",
        List,
        "[]",
        "files of earlier master keys, to read keys encrypted before a master key rotation",
    ),
    doc(
        "old_master_keys",
        List,
        "[]",
        "earlier master keys, base64url",
    ),
    doc(
        "previous_master_keys",
        List,
        "[]",
        "files of the master keys used before `tessera master-key rotate` (one path, or a list): keys sealed under them stay readable during the rollover",
    ),
    doc("log_format", Text, "text", "`text` or `json`"),
    doc(
        "tokens.access_ttl",
        Text,
        "15m",
        "lifetime of access tokens",
    ),
    doc(
        "tokens.refresh_ttl",
        Text,
        "30d",
        "absolute lifetime of a login (refresh family)",
    ),
    doc(
        "tokens.refresh_idle_ttl",
        Text,
        "7d",
        "a login dies when not refreshed for this long (at most refresh_ttl)",
    ),
    doc(
        "tokens.refresh_reuse_grace",
        Text,
        "5s",
        "a retried refresh inside this window is not treated as theft",
    ),
    doc(
        "keys.algorithm",
        Text,
        "RS256",
        "algorithm of new signing keys: RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA",
    ),
    doc(
        "keys.rsa_bits",
        Integer,
        "2048",
        "size of new RSA keys: 2048, 3072 or 4096",
    ),
    doc(
        "keys.rotation_period",
        Text,
        "30d",
        "how long a key signs before the next one takes over",
    ),
    doc(
        "keys.jwks_max_age",
        Text,
        "1h",
        "Cache-Control max-age of the JWKS (how long verifiers may cache it)",
    ),
    doc(
        "keys.publish_lead",
        Text,
        "2h",
        "how long a new key is published before it signs (at least 2 × jwks_max_age)",
    ),
    doc(
        "keys.retire_leeway",
        Text,
        "5m",
        "a retired key stays published this long after its last token expired (clock skew)",
    ),
    doc(
        "keys.refresh_interval",
        Text,
        "10s",
        "how often each instance re-reads the key table and checks whether a rotation is due",
    ),
    doc(
        "keys.lock_ttl",
        Text,
        "60s",
        "lease of the rotation lock: an instance that dies while rotating delays the next rotation this long",
    ),
    doc(
        "providers",
        List,
        "[]",
        "outside identity providers for /login/oidc: [[providers]] name, issuer, jwks_uri (or discovery = true), audience, algorithms; \
         for \"Sign in with <name>\" on the login page also client_id (default: the only audience), \
         client_secret (confidential client: sent with HTTP Basic; keep it in TESSERA_PROVIDERS rather than the file), \
         scopes (default [\"openid\", \"email\", \"profile\"]); \
         link_existing (\"never\" (default) or \"verified_email\": a first sign-in joins the local account named by its e-mail only with boolean email_verified, \
         an allowed domain (Google: also hd) and an account with no password and no role), \
         create_users (default true: may a first sign-in create a user), \
         allowed_domains (e-mail domains, Google: also hd, that may sign in; required by verified_email; default [] = any), \
         max_id_token_age (default \"10m\": ID tokens older than this by iat are refused)",
    ),
    doc(
        "passwords.memory_kib",
        Integer,
        "19456",
        "argon2id memory cost, KiB (OWASP: 19456)",
    ),
    doc(
        "passwords.iterations",
        Integer,
        "2",
        "argon2id time cost (OWASP: 2)",
    ),
    doc(
        "passwords.parallelism",
        Integer,
        "1",
        "argon2id lanes (OWASP: 1)",
    ),
    doc(
        "passwords.max_concurrent_hashes",
        Integer,
        "(CPUs)",
        "password hashes computed at once; more wait",
    ),
    doc("throttle.enabled", Boolean, "true", "limit failed logins"),
    doc(
        "throttle.account_attempts",
        Integer,
        "5",
        "failed logins allowed per account from one address within account_window (then 429); \
         from all addresses together, the failures after which each attempt waits (never 429)",
    ),
    doc(
        "throttle.account_window",
        Text,
        "15m",
        "window of the per-account limit",
    ),
    doc(
        "throttle.address_attempts",
        Integer,
        "50",
        "failed logins allowed per client address within address_window",
    ),
    doc(
        "throttle.address_window",
        Text,
        "15m",
        "window of the per-address limit",
    ),
    doc(
        "throttle.max_delay",
        Text,
        "20s",
        "longest wait of an attempt on an account under attack (1 s, 2 s, 4 s… up to this; at most half of http.request_timeout; 0s: no wait)",
    ),
    doc(
        "http.body_limit",
        Integer,
        "65536",
        "largest request body in bytes (larger: 413)",
    ),
    doc(
        "http.request_timeout",
        Text,
        "30s",
        "a request taking longer is answered 503",
    ),
    doc(
        "http.cors_allowed_origins",
        List,
        "[]",
        "origins allowed by CORS (`*` for any); empty: no CORS headers",
    ),
    doc(
        "http.tls_cert",
        Text,
        "",
        "PEM certificate chain: serve HTTPS natively (with tls_key)",
    ),
    doc("http.tls_key", Text, "", "PEM private key of tls_cert"),
    doc(
        "http.trusted_proxies",
        List,
        "[]",
        "addresses or CIDR ranges of proxies whose forwarded_header is believed",
    ),
    doc(
        "http.forwarded_header",
        Text,
        "x-forwarded-for",
        "header naming the client behind a trusted proxy: x-forwarded-for, forwarded or x-real-ip",
    ),
    // Storage stays bounded (issue 9).
    doc(
        "sessions.max_per_user",
        Integer,
        "100",
        "live sessions (refresh families) per user; a new sign-in beyond it revokes the least recently used one",
    ),
    doc(
        "storage.purge_interval",
        Text,
        "1h",
        "how often dead refresh families and used refresh tokens are deleted (one instance at a time, under a database lock)",
    ),
    doc(
        "storage.purge_retention",
        Text,
        "1d",
        "how long dead sessions and used tokens are kept first (a used token presented within it still revokes its session)",
    ),
];

/// The environment variable of a dotted key.
pub fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

/// Every key with its environment variable, default and meaning, one per line (for `--help`).
pub fn keys_help() -> String {
    let mut out = String::new();
    for k in KEYS {
        let default = if k.default.is_empty() {
            String::new()
        } else {
            format!(" [default: {}]", k.default)
        };
        out.push_str(&format!(
            "  {}  ({})\n      {}{}\n",
            k.key,
            k.env(),
            k.about,
            default
        ));
    }
    out
}

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

// ---- raw form (what serde reads) -------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    issuer: String,
    listen: String,
    database_url: String,
    audience: String,
    master_key_file: Option<PathBuf>,
    master_key: Option<String>,
    old_master_key_files: Vec<PathBuf>,
    old_master_keys: Vec<String>,
    previous_master_keys: Option<OneOrMany>,
    log_format: String,
    tokens: RawTokens,
    keys: RawKeys,
    providers: Vec<RawProvider>,
    passwords: RawPasswords,
    throttle: RawThrottle,
    http: RawHttp,
    sessions: RawSessions,
    storage: RawStorage,
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
struct RawSessions {
    max_per_user: u64,
}

impl Default for RawSessions {
    fn default() -> Self {
        Self { max_per_user: 100 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStorage {
    purge_interval: Dur,
    purge_retention: Dur,
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
struct RawTokens {
    access_ttl: Dur,
    refresh_ttl: Dur,
    refresh_idle_ttl: Dur,
    refresh_reuse_grace: Dur,
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
struct RawKeys {
    algorithm: String,
    rsa_bits: u64,
    rotation_period: Dur,
    jwks_max_age: Dur,
    publish_lead: Option<Dur>,
    retire_leeway: Dur,
    refresh_interval: Dur,
    lock_ttl: Dur,
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
struct RawProvider {
    name: String,
    issuer: String,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    discovery: Option<bool>,
    audience: OneOrMany,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "optional_secret")]
    client_secret: Option<Secret>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    link_existing: Option<String>,
    #[serde(default)]
    create_users: Option<bool>,
    #[serde(default)]
    allowed_domains: Option<Vec<String>>,
    #[serde(default)]
    max_id_token_age: Option<Dur>,
}

/// A secret read straight into [`Secret`] (zeroized, redacted), never held as a plain `String`.
fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(Secret::new))
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPasswords {
    memory_kib: u64,
    iterations: u64,
    parallelism: u64,
    max_concurrent_hashes: Option<u64>,
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
struct RawThrottle {
    enabled: bool,
    account_attempts: u64,
    account_window: Dur,
    address_attempts: u64,
    address_window: Dur,
    max_delay: Dur,
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
struct RawHttp {
    body_limit: u64,
    request_timeout: Dur,
    cors_allowed_origins: Vec<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    trusted_proxies: Vec<String>,
    forwarded_header: String,
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
struct Dur(Duration);

impl Dur {
    const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
    const fn mins(m: u64) -> Self {
        Self::secs(m * 60)
    }
    const fn days(d: u64) -> Self {
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

fn validate_issuer(issuer: &str) -> Result<String, ConfigError> {
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

fn positive(key: &str, d: Dur) -> Result<Duration, ConfigError> {
    if d.0.is_zero() {
        return Err(invalid(key, "must be more than zero"));
    }
    // Times are i64 seconds in the store: keep every duration far inside that range.
    if d.0.as_secs() > 100 * 365 * 86_400 {
        return Err(invalid(key, "must be under 100 years"));
    }
    Ok(d.0)
}

fn validate_tokens(raw: &RawTokens) -> Result<TokenSettings, ConfigError> {
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

fn validate_keys(raw: &RawKeys) -> Result<KeySettings, ConfigError> {
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

fn validate_provider(i: usize, raw: RawProvider) -> Result<ProviderSettings, ConfigError> {
    let key = |k: &str| format!("providers[{i}].{k}");
    let raw_linking = RawProviderLinking {
        link_existing: raw.link_existing.clone(),
        create_users: raw.create_users,
        allowed_domains: raw.allowed_domains.clone(),
        max_id_token_age: raw.max_id_token_age,
    };
    let name = raw.name.trim().to_owned();
    if name.is_empty() {
        return Err(invalid(&key("name"), "must not be empty"));
    }
    let issuer = raw.issuer.trim().to_owned();
    tessera_guard::check_outbound_url(&issuer)
        .map_err(|e| invalid(&key("issuer"), e.to_string()))?;
    let keys = match (raw.jwks_uri, raw.discovery) {
        (Some(_), Some(true)) => {
            return Err(invalid(
                &key("jwks_uri"),
                "give jwks_uri or discovery = true, not both",
            ));
        }
        (Some(uri), _) => {
            tessera_guard::check_outbound_url(uri.trim())
                .map_err(|e| invalid(&key("jwks_uri"), e.to_string()))?;
            ProviderKeys::JwksUri(uri.trim().to_owned())
        }
        (None, Some(false)) => {
            return Err(invalid(&key("jwks_uri"), "required when discovery = false"));
        }
        (None, _) => ProviderKeys::Discovery,
    };
    let audience = match raw.audience {
        OneOrMany::One(a) => vec![a],
        OneOrMany::Many(list) => list,
    };
    let audience: Vec<String> = audience.into_iter().map(|a| a.trim().to_owned()).collect();
    if audience.is_empty() || audience.iter().any(String::is_empty) {
        return Err(invalid(
            &key("audience"),
            "at least one non-empty audience (your client id at the provider)",
        ));
    }
    let algorithms = match raw.algorithms {
        None => vec![Algorithm::RS256],
        Some(list) if list.is_empty() => {
            return Err(invalid(&key("algorithms"), "must not be empty"));
        }
        Some(list) => list
            .iter()
            .map(|a| {
                Algorithm::from_str(a.trim())
                    .ok()
                    .filter(|alg| alg.family() != Family::Hmac)
                    .ok_or_else(|| {
                        invalid(
                            &key("algorithms"),
                            format!("{a:?} is not an asymmetric JWS algorithm"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let client_id = match raw.client_id {
        Some(id) => {
            let id = id.trim().to_owned();
            if id.is_empty() {
                return Err(invalid(&key("client_id"), "must not be empty"));
            }
            // The ID token of the code flow is issued to the client id: its `aud` must be
            // one that `audience` accepts.
            if !audience.contains(&id) {
                return Err(invalid(
                    &key("client_id"),
                    format!("{id:?} must be one of `audience` (the ID tokens are issued to it)"),
                ));
            }
            Some(id)
        }
        None if audience.len() == 1 => Some(audience[0].clone()),
        None => None,
    };
    let client_secret = match raw.client_secret {
        Some(secret) if secret.expose().trim().is_empty() => {
            return Err(invalid(&key("client_secret"), "must not be empty"));
        }
        Some(_) if client_id.is_none() => {
            return Err(invalid(
                &key("client_secret"),
                "needs client_id (there are several audiences to choose from)",
            ));
        }
        Some(secret) => Some(Secret::new(secret.expose().trim())),
        None => None,
    };
    let scopes = match raw.scopes {
        None => DEFAULT_PROVIDER_SCOPES.map(str::to_owned).to_vec(),
        Some(list) => {
            let list: Vec<String> = list.iter().map(|s| s.trim().to_owned()).collect();
            if let Some(bad) = list.iter().find(|s| !is_scope_token(s)) {
                return Err(invalid(
                    &key("scopes"),
                    format!(
                        "{bad:?} is not a scope (RFC 6749 §3.3: printable ASCII, no space, quote or backslash)"
                    ),
                ));
            }
            if !list.iter().any(|s| s == "openid") {
                return Err(invalid(
                    &key("scopes"),
                    "must include \"openid\" (without it the provider issues no ID token)",
                ));
            }
            let mut unique = Vec::with_capacity(list.len());
            for scope in list {
                if !unique.contains(&scope) {
                    unique.push(scope);
                }
            }
            unique
        }
    };
    let linking = validate_provider_linking(i, &raw_linking)?;
    Ok(ProviderSettings {
        name,
        issuer,
        keys,
        audience,
        algorithms,
        client_id,
        client_secret,
        scopes,
        link_existing: linking.0,
        create_users: linking.1,
        allowed_domains: linking.2,
        max_id_token_age: linking.3,
    })
}

/// The linking keys of a `[[providers]]` entry, as given.
struct RawProviderLinking {
    link_existing: Option<String>,
    create_users: Option<bool>,
    allowed_domains: Option<Vec<String>>,
    max_id_token_age: Option<Dur>,
}

/// `link_existing`, `create_users`, `allowed_domains` (lowercased), `max_id_token_age`.
fn validate_provider_linking(
    i: usize,
    raw: &RawProviderLinking,
) -> Result<(LinkExisting, bool, Vec<String>, Duration), ConfigError> {
    let key = |k: &str| format!("providers[{i}].{k}");
    let link_existing = match raw.link_existing.as_deref().map(str::trim) {
        None | Some("never") => LinkExisting::Never,
        Some("verified_email") => LinkExisting::VerifiedEmail,
        Some(other) => {
            return Err(invalid(
                &key("link_existing"),
                format!("{other:?} is not \"never\" or \"verified_email\""),
            ));
        }
    };
    let mut allowed_domains = Vec::new();
    for domain in raw.allowed_domains.iter().flatten() {
        let domain = domain.trim().to_ascii_lowercase();
        if domain.is_empty() || domain.contains('@') || domain.contains(char::is_whitespace) {
            return Err(invalid(
                &key("allowed_domains"),
                format!("{domain:?} is not an e-mail domain (like \"example.com\")"),
            ));
        }
        if !allowed_domains.contains(&domain) {
            allowed_domains.push(domain);
        }
    }
    if link_existing == LinkExisting::VerifiedEmail && allowed_domains.is_empty() {
        return Err(invalid(
            &key("allowed_domains"),
            "link_existing = \"verified_email\" needs allowed_domains: the e-mail domains whose addresses this provider really verifies",
        ));
    }
    let max_id_token_age = positive(
        &key("max_id_token_age"),
        raw.max_id_token_age.unwrap_or(Dur::mins(10)),
    )?;
    Ok((
        link_existing,
        raw.create_users.unwrap_or(true),
        allowed_domains,
        max_id_token_age,
    ))
}

/// The scopes asked of a provider when `scopes` is not set.
const DEFAULT_PROVIDER_SCOPES: [&str; 3] = ["openid", "email", "profile"];

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

fn validate_passwords(raw: &RawPasswords) -> Result<PasswordSettings, ConfigError> {
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

fn validate_throttle(raw: &RawThrottle) -> Result<ThrottleSettings, ConfigError> {
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

fn validate_http(raw: RawHttp) -> Result<HttpSettings, ConfigError> {
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

fn validate_upkeep(
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

// ---- the environment as a figment provider ------------------------------------------------------

/// `TESSERA_*` variables as configuration: each known key's variable, read as its
/// [`KeyKind`]. Variables with the prefix that name no key are refused too (a typo in
/// `TESSERA_TOKENS__ACESS_TTL` must not pass silently), except `TESSERA_CONFIG`,
/// `TESSERA_LOG`, `TESSERA_TEST_*` and `TESSERA_BENCH_*`, which belong to the CLI, tests and
/// benchmarks.
struct EnvVars {
    vars: Vec<(&'static KeyDoc, String)>,
}

/// Prefixed variables that are not configuration keys.
const NOT_KEYS: &[&str] = &["TESSERA_CONFIG", "TESSERA_LOG"];

/// Prefixed namespaces of the project's tools, never configuration (`TESSERA_TEST_*` of the
/// test suites, `TESSERA_BENCH_*` of the benchmarks).
const NOT_KEY_PREFIXES: &[&str] = &["TEST_", "BENCH_"];

impl EnvVars {
    fn new<K: AsRef<str>, V: AsRef<str>>(
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ConfigError> {
        let mut vars = Vec::new();
        for (name, value) in env {
            let name = name.as_ref();
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if NOT_KEYS.contains(&name) || NOT_KEY_PREFIXES.iter().any(|p| rest.starts_with(p)) {
                continue;
            }
            let key = rest.replace("__", ".").to_ascii_lowercase();
            match KEYS.iter().find(|k| k.key == key) {
                Some(doc) => vars.push((doc, value.as_ref().to_owned())),
                None => {
                    return Err(ConfigError::Parse(format!(
                        "unknown environment variable {name}: no configuration key `{key}` (see `tessera serve --help`)"
                    )));
                }
            }
        }
        Ok(Self { vars })
    }
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_profile: &Profile, keys: &[&str]| env_name(&keys.join(".")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (doc, text) in &self.vars {
            let value = match doc.kind {
                KeyKind::Text => Value::from(text.clone()),
                KeyKind::Integer | KeyKind::Boolean | KeyKind::List => {
                    Value::from_str(text.trim()).unwrap_or_else(|_| Value::from(text.clone()))
                }
            };
            let nested = figment::util::nest(doc.key, value);
            if let Value::Dict(_, d) = nested {
                dict = merge_dicts(dict, d);
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn merge_dicts(mut a: Dict, b: Dict) -> Dict {
    for (k, v) in b {
        match (a.remove(&k), v) {
            (Some(Value::Dict(tag, inner_a)), Value::Dict(_, inner_b)) => {
                a.insert(k, Value::Dict(tag, merge_dicts(inner_a, inner_b)));
            }
            (_, v) => {
                a.insert(k, v);
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const NO_ENV: [(&str, &str); 0] = [];

    #[test]
    fn defaults_are_valid_and_match_the_key_table() {
        let config = Config::defaults();
        assert_eq!(config.issuer, "http://127.0.0.1:7070");
        assert_eq!(config.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(config.keys.algorithm, Algorithm::RS256);
        assert_eq!(config.keys.publish_lead, config.keys.jwks_max_age * 2);
        assert_eq!(config.passwords.memory_kib, 19_456);
        assert_eq!(config.http.body_limit, 65_536);
        assert_eq!(config.master_key, MasterKeySource::Default);
        // Every documented default is what an empty file gives.
        for k in KEYS {
            if k.default.is_empty() || k.default.starts_with('(') || k.default == "[]" {
                continue;
            }
            let toml = match k.kind {
                KeyKind::Text => format!("\"{}\"", k.default),
                _ => k.default.to_owned(),
            };
            let (table, leaf) = match k.key.split_once('.') {
                Some((t, l)) => (format!("[{t}]\n"), l),
                None => (String::new(), k.key),
            };
            let explicit = Config::from_toml_and_env(&format!("{table}{leaf} = {toml}"), NO_ENV)
                .unwrap_or_else(|e| panic!("{}: {e}", k.key));
            assert_eq!(format!("{explicit:?}"), format!("{config:?}"), "{}", k.key);
        }
    }

    #[test]
    fn every_key_of_the_table_is_accepted_from_the_environment() {
        for k in KEYS {
            let value = match (k.key, k.kind) {
                ("providers", _) => "[]".to_owned(),
                (_, KeyKind::Text) if k.default.is_empty() => continue,
                (_, _) if k.default.starts_with('(') => "3".to_owned(),
                _ => k.default.to_owned(),
            };
            Config::from_toml_and_env("", [(k.env(), value)])
                .unwrap_or_else(|e| panic!("{}: {e}", k.env()));
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::from_toml_and_env("[tokens]\nacess_ttl = \"5m\"", NO_ENV).unwrap_err();
        assert!(err.to_string().contains("acess_ttl"), "{err}");
        let err = Config::from_toml_and_env("colour = 1", NO_ENV).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = Config::from_toml_and_env("", [("TESSERA_TOKENS__ACESS_TTL", "5m")]).unwrap_err();
        assert!(
            err.to_string().contains("TESSERA_TOKENS__ACESS_TTL"),
            "{err}"
        );
        // Test and CLI variables are not configuration.
        Config::from_toml_and_env(
            "",
            [
                ("TESSERA_TEST_DATABASE_URL", "x"),
                ("TESSERA_CONFIG", "y"),
                ("TESSERA_BENCH_LOOP", "z"),
            ],
        )
        .unwrap();
    }

    #[test]
    fn environment_wins_and_keeps_text_as_text() {
        let config = Config::from_toml_and_env(
            "audience = \"from-file\"\n[tokens]\naccess_ttl = \"10m\"",
            [
                ("TESSERA_AUDIENCE", "123"),
                ("TESSERA_TOKENS__ACCESS_TTL", "5m"),
                ("TESSERA_HTTP__BODY_LIMIT", "1024"),
                (
                    "TESSERA_HTTP__CORS_ALLOWED_ORIGINS",
                    "[\"https://app.example.com\"]",
                ),
                ("TESSERA_THROTTLE__ENABLED", "false"),
                ("PATH", "/bin"),
            ],
        )
        .unwrap();
        assert_eq!(config.audience, "123");
        assert_eq!(config.tokens.access_ttl, Duration::from_secs(300));
        assert_eq!(config.http.body_limit, 1024);
        assert_eq!(
            config.http.cors_allowed_origins,
            ["https://app.example.com"]
        );
        assert!(!config.throttle.enabled);
    }

    #[test]
    fn wrong_values_name_their_key_or_variable() {
        for (toml, env, needle) in [
            ("[tokens]\naccess_ttl = \"soon\"", None, "access_ttl"),
            (
                "",
                Some(("TESSERA_TOKENS__ACCESS_TTL", "soon")),
                "TESSERA_TOKENS__ACCESS_TTL",
            ),
            ("[keys]\nalgorithm = \"HS256\"", None, "keys.algorithm"),
            ("[keys]\nalgorithm = \"none\"", None, "keys.algorithm"),
            (
                "[keys]\njwks_max_age = \"2h\"\npublish_lead = \"3h\"",
                None,
                "keys.publish_lead",
            ),
            (
                "[keys]\nrotation_period = \"1h\"",
                None,
                "keys.rotation_period",
            ),
            (
                "[tokens]\nrefresh_idle_ttl = \"60d\"",
                None,
                "tokens.refresh_idle_ttl",
            ),
            ("[tokens]\naccess_ttl = 0", None, "tokens.access_ttl"),
            ("listen = \"localhost\"", None, "listen"),
            ("issuer = \"not a url\"", None, "issuer"),
            ("issuer = \"https://a.example/?x=1\"", None, "issuer"),
            (
                "database_url = \"mysql://root:hunter2@db/x\"",
                None,
                "database_url",
            ),
            ("log_format = \"xml\"", None, "log_format"),
            ("[http]\ntls_cert = \"c.pem\"", None, "http.tls_key"),
            (
                "[http]\ntrusted_proxies = [\"10.0.0.0/33\"]",
                None,
                "http.trusted_proxies",
            ),
            (
                "[http]\ncors_allowed_origins = [\"https://a.example/path\"]",
                None,
                "cors_allowed_origins",
            ),
            ("[http]\nbody_limit = 0", None, "http.body_limit"),
            ("[passwords]\nmemory_kib = 1", None, "passwords.memory_kib"),
            (
                "[[providers]]\nname = \"g\"\nissuer = \"http://accounts.example.com\"\naudience = \"x\"",
                None,
                "providers[0].issuer",
            ),
            (
                "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\njwks_uri = \"http://a.example/jwks\"\naudience = \"x\"",
                None,
                "providers[0].jwks_uri",
            ),
            (
                "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = []",
                None,
                "providers[0].audience",
            ),
            (
                "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"x\"\ncolour = 1",
                None,
                "colour",
            ),
        ] {
            let err = Config::from_toml_and_env(toml, env).unwrap_err();
            assert!(err.to_string().contains(needle), "{toml:?}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn providers_parse() {
        let config = Config::from_toml_and_env(
            r#"
            [[providers]]
            name = "google"
            issuer = "https://accounts.google.com"
            jwks_uri = "https://www.googleapis.com/oauth2/v3/certs"
            audience = "client.apps.googleusercontent.com"

            [[providers]]
            name = "local"
            issuer = "http://127.0.0.1:9000"
            audience = ["a", "b"]
            algorithms = ["ES256", "RS256"]
            "#,
            NO_ENV,
        )
        .unwrap();
        assert_eq!(config.providers.len(), 2);
        assert_eq!(
            config.providers[0].keys,
            ProviderKeys::JwksUri("https://www.googleapis.com/oauth2/v3/certs".into())
        );
        assert_eq!(config.providers[0].algorithms, [Algorithm::RS256]);
        assert_eq!(config.providers[1].keys, ProviderKeys::Discovery);
        assert_eq!(config.providers[1].audience, ["a", "b"]);
        assert_eq!(
            config.providers[1].algorithms,
            [Algorithm::ES256, Algorithm::RS256]
        );
        let err = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"x\"\n[[providers]]\nname = \"g\"\nissuer = \"https://b.example\"\naudience = \"x\"",
            NO_ENV,
        )
        .unwrap_err();
        assert!(err.to_string().contains("providers[1].name"), "{err}");
    }

    #[test]
    fn provider_linking_settings() {
        let base =
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"x\"\n";
        let config = Config::from_toml_and_env(base, NO_ENV).unwrap();
        let p = &config.providers[0];
        assert_eq!(p.link_existing, LinkExisting::Never);
        assert!(p.create_users);
        assert!(p.allowed_domains.is_empty());
        assert_eq!(p.max_id_token_age, Duration::from_secs(600));
        let config = Config::from_toml_and_env(
            &format!("{base}link_existing = \"verified_email\"\nallowed_domains = [\" Corp.Example \"]\ncreate_users = false\nmax_id_token_age = \"1h\""),
            NO_ENV,
        )
        .unwrap();
        let p = &config.providers[0];
        assert_eq!(p.link_existing, LinkExisting::VerifiedEmail);
        assert!(!p.create_users);
        assert_eq!(p.allowed_domains, ["corp.example"]);
        assert_eq!(p.max_id_token_age, Duration::from_secs(3600));
        for (extra, key) in [
            // verified_email with no domain to trust is the takeover of issue 9 again.
            (
                "link_existing = \"verified_email\"",
                "providers[0].allowed_domains",
            ),
            (
                "link_existing = \"verified_email\"\nallowed_domains = []",
                "providers[0].allowed_domains",
            ),
            ("link_existing = \"always\"", "providers[0].link_existing"),
            (
                "allowed_domains = [\"a@b.example\"]",
                "providers[0].allowed_domains",
            ),
            ("allowed_domains = [\"\"]", "providers[0].allowed_domains"),
            ("max_id_token_age = 0", "providers[0].max_id_token_age"),
        ] {
            let err = Config::from_toml_and_env(&format!("{base}{extra}"), NO_ENV).unwrap_err();
            assert!(err.to_string().contains(key), "{extra}: {err}");
        }
    }

    #[test]
    fn provider_client_settings() {
        // Defaults: the only audience is the client id; a public client; openid email profile.
        let config = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"app\"",
            NO_ENV,
        )
        .unwrap();
        let p = &config.providers[0];
        assert_eq!(p.client_id.as_deref(), Some("app"));
        assert_eq!(p.client_secret, None);
        assert_eq!(p.scopes, ["openid", "email", "profile"]);

        // Several audiences and no client_id: not offered for browser sign-in.
        let config = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = [\"a\", \"b\"]",
            NO_ENV,
        )
        .unwrap();
        assert_eq!(config.providers[0].client_id, None);

        // Everything given, the secret from the environment (which wins over the file).
        let config = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = [\"a\", \"b\"]\nclient_id = \"b\"",
            [(
                "TESSERA_PROVIDERS",
                r#"[{name="g", issuer="https://a.example", audience=["a", "b"], client_id=" b ", client_secret=" s3cr3t-value ", scopes=["openid", "email", "openid"]}]"#,
            )],
        )
        .unwrap();
        let p = &config.providers[0];
        assert_eq!(p.client_id.as_deref(), Some("b"));
        assert_eq!(
            p.client_secret.as_ref().map(Secret::expose),
            Some("s3cr3t-value")
        );
        assert_eq!(p.scopes, ["openid", "email"], "trimmed, duplicates dropped");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");

        for (extra, needle) in [
            ("client_id = \"\"", "providers[0].client_id"),
            ("client_id = \"other\"", "providers[0].client_id"),
            ("client_secret = \" \"", "providers[0].client_secret"),
            ("scopes = [\"email\"]", "providers[0].scopes"),
            ("scopes = []", "providers[0].scopes"),
            (
                "scopes = [\"openid\", \"two words\"]",
                "providers[0].scopes",
            ),
            ("scopes = [\"openid\", \"\"]", "providers[0].scopes"),
            ("scopes = [\"openid\", \"q\\\"\"]", "providers[0].scopes"),
        ] {
            let toml = format!(
                "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"app\"\n{extra}"
            );
            let err = Config::from_toml_and_env(&toml, NO_ENV).unwrap_err();
            assert!(err.to_string().contains(needle), "{extra}: {err}");
        }
        // A secret without a client id to go with it.
        let err = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = [\"a\", \"b\"]\nclient_secret = \"hunter2\"",
            NO_ENV,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("providers[0].client_secret"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
        // A secret of the wrong type is named without being repeated.
        let err = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"a\"\nclient_secret = 12345678",
            NO_ENV,
        )
        .unwrap_err();
        assert!(err.to_string().contains("client_secret"), "{err}");
    }

    #[test]
    fn secrets_are_redacted() {
        let config = Config::from_toml_and_env(
            "database_url = \"postgres://u:hunter2@db/x\"\nmaster_key = \"c2VjcmV0LW1hc3Rlci1rZXk\"",
            NO_ENV,
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("c2VjcmV0"),
            "{debug}"
        );
    }

    #[test]
    fn client_address_behind_trusted_proxies() {
        use axum::http::{HeaderMap, HeaderValue};
        let http = Config::from_toml_and_env(
            "[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]",
            NO_ENV,
        )
        .unwrap()
        .http;
        let peer: IpAddr = "10.1.2.3".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.9"),
        );
        // The rightmost untrusted hop is the client; what it claimed before is ignored.
        assert_eq!(
            http.client_address(peer, &headers),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // An untrusted peer is the client, whatever it says.
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(http.client_address(stranger, &headers), stranger);
        // A garbled client hop: unknown, never the proxy.
        headers.insert("x-forwarded-for", HeaderValue::from_static("nonsense"));
        assert_eq!(
            http.client_address(peer, &headers),
            IpAddr::from([0, 0, 0, 0])
        );

        let http = Config::from_toml_and_env(
            "[http]\ntrusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"forwarded\"",
            NO_ENV,
        )
        .unwrap()
        .http;
        let mut headers = HeaderMap::new();
        headers.insert(
            "forwarded",
            HeaderValue::from_static("for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\""),
        );
        assert_eq!(
            http.client_address(peer, &headers),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    // ---- finding 6: forwarded headers walked from the right --------------------------------

    fn proxied(header: &str, trusted: &str) -> HttpSettings {
        Config::from_toml_and_env(
            &format!("[http]\ntrusted_proxies = {trusted}\nforwarded_header = \"{header}\""),
            NO_ENV,
        )
        .unwrap()
        .http
    }

    fn resolve(http: &HttpSettings, name: &str, values: &[&[u8]]) -> IpAddr {
        let mut headers = axum::http::HeaderMap::new();
        for v in values {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                axum::http::HeaderValue::from_bytes(v).unwrap(),
            );
        }
        http.client_address("10.0.0.1".parse().unwrap(), &headers)
    }

    fn addr(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn x_forwarded_for_unparsable_hop_does_not_make_the_proxy_the_client() {
        let http = proxied("x-forwarded-for", "[\"10.0.0.0/8\"]");
        let xff = |values: &[&[u8]]| resolve(&http, "x-forwarded-for", values);
        let client = addr("203.0.113.7");
        // The attack: a garbage hop written by the client, left of what the proxy appended.
        assert_eq!(xff(&[b"garbage, 203.0.113.7"]), client);
        assert_eq!(xff(&[b"1.2.3.4, ??, 203.0.113.7, 10.0.0.9"]), client);
        assert_eq!(xff(&[b"garbage", b"203.0.113.7"]), client);
        // Bytes that are not UTF-8 on the line the proxy appended to.
        assert_eq!(xff(&[b"\xff\xfe, 203.0.113.7"]), client);
        // Blank hops are no hops.
        assert_eq!(xff(&[b", 203.0.113.7 ,"]), client);
        // Unparsable where the client should be (only a trusted proxy writes there):
        // unknown, never the proxy.
        for bad in [&b"unknown"[..], b"203.0.113.7, _hidden, 10.0.0.9", b"\xff"] {
            assert_eq!(xff(&[bad]), addr("0.0.0.0"), "{bad:?}");
        }
        // Every hop trusted: the leftmost; no header: the peer.
        assert_eq!(xff(&[b"10.9.9.9, 10.0.0.9"]), addr("10.9.9.9"));
        assert_eq!(xff(&[]), addr("10.0.0.1"));
        // An unspecified address is unknown too (no bucket to hide in).
        assert_eq!(xff(&[b"0.0.0.0"]), addr("0.0.0.0"));
    }

    #[test]
    fn forwarded_unparsable_element_does_not_make_the_proxy_the_client() {
        let http = proxied("forwarded", "[\"10.0.0.0/8\"]");
        let fwd = |values: &[&[u8]]| resolve(&http, "forwarded", values);
        let client = addr("2001:db8::1");
        for value in [
            &b"for=unknown, for=\"[2001:db8::1]:4711\""[..],
            b"proto=https, for=\"[2001:db8::1]\";proto=http",
            b"for=\"unterminated, for=\"[2001:db8::1]\", for=10.0.0.9",
            b"for=\xff, for=\"[2001:db8::1]\"",
        ] {
            assert_eq!(fwd(&[value]), client, "{value:?}");
        }
        for value in [
            &b"for=_hidden"[..],
            b"proto=https",
            b"for=192.0.2.1, for=unknown",
        ] {
            assert_eq!(fwd(&[value]), addr("0.0.0.0"), "{value:?}");
        }
    }

    #[test]
    fn x_real_ip_unparsable_does_not_make_the_proxy_the_client() {
        let http = proxied("x-real-ip", "[\"10.0.0.0/8\"]");
        let real = |values: &[&[u8]]| resolve(&http, "x-real-ip", values);
        assert_eq!(real(&[b"garbage"]), addr("0.0.0.0"));
        assert_eq!(real(&[b"\xff"]), addr("0.0.0.0"));
        assert_eq!(real(&[b" 203.0.113.7 "]), addr("203.0.113.7"));
        // Two: the proxy's (the last) counts.
        assert_eq!(real(&[b"6.6.6.6", b"203.0.113.7"]), addr("203.0.113.7"));
        assert_eq!(real(&[]), addr("10.0.0.1"));
    }

    #[test]
    fn throttle_max_delay() {
        let config = Config::from_toml_and_env("", NO_ENV).unwrap();
        assert_eq!(config.throttle.max_delay, Duration::from_secs(20));
        let config =
            Config::from_toml_and_env("", [("TESSERA_THROTTLE__MAX_DELAY", "0s")]).unwrap();
        assert_eq!(config.throttle.max_delay, Duration::ZERO);
        let err = Config::from_toml_and_env("[throttle]\nmax_delay = \"6m\"", NO_ENV).unwrap_err();
        assert!(err.to_string().contains("throttle.max_delay"), "{err}");
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_file("sqlite://tessera.db"),
            Some(PathBuf::from("tessera.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:data/t.db?mode=rwc"),
            Some(PathBuf::from("data/t.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/t.db"),
            Some(PathBuf::from("/var/lib/t.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/x"), None);
    }

    #[test]
    fn help_lists_every_key_and_variable() {
        let help = keys_help();
        for k in KEYS {
            assert!(help.contains(k.key) && help.contains(&k.env()), "{}", k.key);
        }
        assert!(help.contains("TESSERA_TOKENS__ACCESS_TTL"));
    }

    #[test]
    fn session_cap_and_purge_settings() {
        let config = Config::defaults();
        assert_eq!(config.sessions.max_per_user, 100);
        assert_eq!(config.storage.purge_interval, Duration::from_secs(3600));
        assert_eq!(config.storage.purge_retention, Duration::from_secs(86_400));
        let config = Config::from_toml_and_env(
            "[sessions]\nmax_per_user = 3\n[storage]\npurge_retention = 0",
            [("TESSERA_STORAGE__PURGE_INTERVAL", "5m")],
        )
        .unwrap();
        assert_eq!(config.sessions.max_per_user, 3);
        assert_eq!(config.storage.purge_interval, Duration::from_secs(300));
        assert_eq!(config.storage.purge_retention, Duration::ZERO);
        for (toml, key) in [
            ("[sessions]\nmax_per_user = 0", "sessions.max_per_user"),
            ("[sessions]\nmax_per_user = 100001", "sessions.max_per_user"),
            ("[storage]\npurge_interval = 0", "storage.purge_interval"),
            (
                "[storage]\npurge_interval = \"1ms\"",
                "storage.purge_interval",
            ),
        ] {
            let err = Config::from_toml_and_env(toml, NO_ENV).unwrap_err();
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
    }
}

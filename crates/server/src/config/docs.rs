//! The table of every configuration key: its environment variable, default and meaning
//! (`tessera serve --help` prints it).

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

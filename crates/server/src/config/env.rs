//! The `TESSERA_*` environment variables as a figment provider.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use std::str::FromStr;

use super::ConfigError;
use super::docs::{ENV_PREFIX, KEYS, KeyDoc, KeyKind, env_name};

// ---- the environment as a figment provider ------------------------------------------------------

/// `TESSERA_*` variables as configuration: each known key's variable, read as its
/// [`KeyKind`]. Variables with the prefix that name no key are refused too (a typo in
/// `TESSERA_TOKENS__ACESS_TTL` must not pass silently), except `TESSERA_CONFIG`,
/// `TESSERA_LOG`, `TESSERA_TEST_*` and `TESSERA_BENCH_*`, which belong to the CLI, tests and
/// benchmarks.
pub(super) struct EnvVars {
    pub(super) vars: Vec<(&'static KeyDoc, String)>,
}

/// Prefixed variables that are not configuration keys.
pub(super) const NOT_KEYS: &[&str] = &["TESSERA_CONFIG", "TESSERA_LOG"];

/// Prefixed namespaces of the project's tools, never configuration (`TESSERA_TEST_*` of the
/// test suites, `TESSERA_BENCH_*` of the benchmarks).
pub(super) const NOT_KEY_PREFIXES: &[&str] = &["TEST_", "BENCH_"];

impl EnvVars {
    pub(super) fn new<K: AsRef<str>, V: AsRef<str>>(
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

pub(super) fn merge_dicts(mut a: Dict, b: Dict) -> Dict {
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

//! Keys as the command line takes them: `--key FILE` (a JWK, a JWK Set, PEM or DER, told
//! apart by their content), `--secret-file FILE` or `--secret STRING` (HMAC), and `--alg`.
//!
//! Where the key does not fix the algorithm (an RSA key or an HMAC secret without a JWK
//! `alg`), `--alg` must: the token header never chooses it.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use tessera_jwt::{Algorithm, Error, Family, Jwk, JwkOrSet, JwkSet, KeySet, SigningKey};
use zeroize::Zeroizing;

use crate::input;

/// `--alg` values: the exact RFC 7518 names. `none` is not one of them.
pub(crate) fn parse_alg(s: &str) -> Result<Algorithm, String> {
    s.parse::<Algorithm>().map_err(|_| {
        let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        format!(
            "unknown algorithm `{s}`; expected one of {}",
            names.join(", ")
        )
    })
}

/// The key options shared by `token sign` and `token verify`: exactly one is required.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub(crate) struct KeyOptions {
    /// Key file: a JWK (public or private), a JWK Set (to verify, the token's `kid` picks the
    /// key; to sign, --kid does), or PEM (PKCS#8, SPKI, PKCS#1, SEC1) or DER. An HMAC secret is
    /// a JWK with "kty":"oct".
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// HMAC secret: all the bytes of FILE, as they are (a trailing newline is part of it).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// HMAC secret given inline (visible to other local users in the process list; prefer
    /// --secret-file).
    #[arg(long, value_name = "STRING")]
    secret: Option<String>,
}

impl fmt::Debug for KeyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyOptions")
            .field("key", &self.key)
            .field("secret_file", &self.secret_file)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A loaded key: a parsed key file, or an HMAC secret.
pub(crate) enum KeyInput {
    File {
        path: PathBuf,
        contents: KeyFile,
    },
    Secret {
        origin: String,
        secret: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for KeyInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl KeyOptions {
    /// Reads the key file or the secret.
    pub(crate) fn load(self) -> Result<KeyInput> {
        match (self.key, self.secret_file, self.secret) {
            (Some(path), _, _) => Ok(KeyInput::File {
                contents: KeyFile::read(&path)?,
                path,
            }),
            (None, Some(path), _) => {
                let secret = Zeroizing::new(input::read_file(&path).context("--secret-file")?);
                if secret.is_empty() {
                    bail!("--secret-file {}: the file is empty", path.display());
                }
                Ok(KeyInput::Secret {
                    origin: format!("--secret-file {}", path.display()),
                    secret,
                })
            }
            (None, None, Some(secret)) => {
                if secret.is_empty() {
                    bail!("--secret: the secret is empty");
                }
                Ok(KeyInput::Secret {
                    origin: "--secret".into(),
                    secret: Zeroizing::new(secret.into_bytes()),
                })
            }
            // clap's argument group requires one of them.
            (None, None, None) => bail!("give --key, --secret-file or --secret"),
        }
    }
}

impl KeyInput {
    /// Names the key in messages.
    pub(crate) fn label(&self) -> String {
        match self {
            KeyInput::File { path, .. } => format!("key file {}", path.display()),
            KeyInput::Secret { origin, .. } => origin.clone(),
        }
    }

    /// The trusted keys for verification, each bound to one algorithm: the one the key fixes
    /// (JWK `alg`, EC curve, Ed25519), or else each of `algs` of the key's family.
    pub(crate) fn verifying_keys(&self, algs: &[Algorithm]) -> Result<KeySet> {
        let set = match self {
            KeyInput::File { contents, .. } => match contents {
                KeyFile::Jwk(jwk) => KeySet::from_jwk(jwk, algs),
                KeyFile::Set(set) => {
                    let keys = KeySet::from_jwks(set, algs);
                    if keys.is_empty() {
                        bail!(
                            "{}: no usable key in the JWK Set{}{}",
                            self.label(),
                            skipped_list(&keys),
                            if algs.is_empty() {
                                "; an RSA key or HMAC secret without `alg` needs --alg"
                            } else {
                                ""
                            }
                        );
                    }
                    Ok(keys)
                }
                KeyFile::Pem(pem) => KeySet::from_pem(pem, algs),
                KeyFile::Der(der) => KeySet::from_der(der, algs),
            },
            KeyInput::Secret { secret, .. } => KeySet::from_secret(secret, algs),
        };
        set.map_err(|e| self.key_error(e))
    }

    /// The signing key. From a JWK Set, `kid` picks the key (needed unless the set holds
    /// exactly one).
    pub(crate) fn signing_key(
        &self,
        alg: Option<Algorithm>,
        kid: Option<&str>,
    ) -> Result<SigningKey> {
        let key = match self {
            KeyInput::File { contents, .. } => match contents {
                KeyFile::Jwk(jwk) => SigningKey::from_jwk(jwk, alg),
                KeyFile::Set(set) => SigningKey::from_jwk(self.pick(set, kid)?, alg),
                KeyFile::Pem(pem) => SigningKey::from_pem(pem, alg),
                KeyFile::Der(der) => SigningKey::from_der(der, alg),
            },
            KeyInput::Secret { secret, .. } => match alg {
                Some(alg) => SigningKey::hmac(alg, secret),
                None => Err(Error::AlgorithmRequired(
                    names(Algorithm::of_family(Family::Hmac)).join(", "),
                )),
            },
        };
        let key = key.map_err(|e| self.key_error(e))?;
        Ok(match kid {
            Some(kid) => key.with_kid(kid),
            None => key,
        })
    }

    fn pick<'s>(&self, set: &'s JwkSet, kid: Option<&str>) -> Result<&'s Jwk> {
        match (kid, set.keys.as_slice()) {
            (Some(kid), keys) => keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or_else(|| anyhow!("{}: no key with kid \"{kid}\"", self.label())),
            (None, [only]) => Ok(only),
            (None, keys) => bail!(
                "{}: the JWK Set holds {} keys; choose one with --kid",
                self.label(),
                keys.len()
            ),
        }
    }

    fn key_error(&self, e: Error) -> anyhow::Error {
        match e {
            Error::AlgorithmRequired(choices) => anyhow!(
                "{}: the key does not fix the algorithm; pass --alg (one of {choices}); the \
                 token header never chooses it",
                self.label()
            ),
            other => anyhow!("{}: {other}", self.label()),
        }
    }
}

/// The keys of a JWK Set that could not be used, for a one-line message.
pub(crate) fn skipped_list(keys: &KeySet) -> String {
    let skipped: Vec<String> = keys
        .skipped()
        .iter()
        .map(|(kid, why)| match kid {
            Some(kid) => format!("kid \"{kid}\": {why}"),
            None => format!("a key without kid: {why}"),
        })
        .collect();
    if skipped.is_empty() {
        String::new()
    } else {
        format!(" (skipped {})", skipped.join("; "))
    }
}

fn names(algs: impl Iterator<Item = Algorithm>) -> Vec<&'static str> {
    algs.map(Algorithm::name).collect()
}

/// What a key file holds.
pub(crate) enum KeyFile {
    Jwk(Box<Jwk>),
    Set(JwkSet),
    Pem(Zeroizing<String>),
    Der(Zeroizing<Vec<u8>>),
}

impl KeyFile {
    /// Reads a key file: JSON (a JWK or a JWK Set) if it starts with `{`, PEM if it holds a
    /// `-----BEGIN` line, DER otherwise.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let bytes = Zeroizing::new(input::read_file(path)?);
        Self::parse(bytes).with_context(|| format!("key file {}", path.display()))
    }

    fn parse(bytes: Zeroizing<Vec<u8>>) -> Result<Self> {
        if bytes.trim_ascii().is_empty() {
            bail!("the file is empty");
        }
        if bytes.trim_ascii_start().starts_with(b"{") {
            return Ok(match JwkOrSet::from_json(&bytes)? {
                JwkOrSet::Key(jwk) => KeyFile::Jwk(jwk),
                JwkOrSet::Set(set) => KeyFile::Set(set),
                other => bail!("unsupported key file content: {other:?}"),
            });
        }
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            let text = std::str::from_utf8(&bytes).context("PEM that is not text")?;
            return Ok(KeyFile::Pem(Zeroizing::new(text.to_owned())));
        }
        Ok(KeyFile::Der(bytes))
    }

    /// The JWK of the key (public or private), its key material validated. A JWK Set has no
    /// single one.
    pub(crate) fn jwk(&self) -> Result<Jwk> {
        match self {
            KeyFile::Jwk(jwk) => {
                jwk.validate()?;
                Ok((**jwk).clone())
            }
            KeyFile::Set(_) => {
                bail!(
                    "the file holds a JWK Set, not one key (`tessera jwks FILE` prints its public keys)"
                )
            }
            KeyFile::Pem(pem) => Ok(Jwk::from_pem(pem)?),
            KeyFile::Der(der) => Ok(Jwk::from_der(der)?),
        }
    }

    /// The public JWKs of the file: one key, or every key of a JWK Set.
    pub(crate) fn public_jwks(&self) -> Result<Vec<Jwk>> {
        let keys = match self {
            KeyFile::Set(set) => set.keys.clone(),
            single => vec![single.jwk()?],
        };
        keys.iter()
            .map(|jwk| {
                jwk.validate()?;
                public_half(jwk)
            })
            .collect()
    }
}

/// The public half of a JWK; an HMAC secret has none.
pub(crate) fn public_half(jwk: &Jwk) -> Result<Jwk> {
    jwk.to_public().ok_or_else(|| {
        anyhow!(
            "{} is an HMAC secret (kty \"oct\"), which has no public half",
            jwk.kid
                .as_deref()
                .map_or_else(|| "the key".to_owned(), |kid| format!("the key \"{kid}\""))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<KeyFile> {
        KeyFile::parse(Zeroizing::new(bytes.to_vec()))
    }

    #[test]
    fn content_decides_the_format() {
        assert!(matches!(
            parse(b" \n{\"kty\":\"oct\",\"k\":\"AAAA\"}\n").unwrap(),
            KeyFile::Jwk(_)
        ));
        assert!(matches!(parse(b"{\"keys\":[]}").unwrap(), KeyFile::Set(_)));
        assert!(matches!(
            parse(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").unwrap(),
            KeyFile::Pem(_)
        ));
        assert!(matches!(
            parse(b"\x30\x03\x02\x01\x00").unwrap(),
            KeyFile::Der(_)
        ));
        assert!(parse(b"").is_err());
        assert!(parse(b"  \n").is_err());
        assert!(parse(b"{\"kty\":\"oct\",\"kty\":\"oct\"}").is_err());
    }

    #[test]
    fn algorithm_names_are_exact() {
        assert_eq!(parse_alg("ES256").unwrap(), Algorithm::ES256);
        for bad in ["none", "es256", "HS1"] {
            assert!(
                parse_alg(bad)
                    .unwrap_err()
                    .contains("expected one of HS256")
            );
        }
    }
}

//! `tessera token sign`: signs a claims set as a JWT.

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Map, Value};
use tessera_jwt::{Algorithm, Clock, Header, RegisteredClaims, SigningKey, SystemClock};

use crate::dates::TimeSpec;
use crate::input;
use crate::keyfile::{self, KeyOptions};
use crate::output;

#[derive(Debug, Args)]
#[command(
    about = "Sign claims as a JWT and print the token",
    long_about = "Sign a claims set as a JWT (compact JWS) and print the token and a newline.\n\n\
        Claims start from --claims (a JSON object, inline or @FILE), then --sub, --iss, --aud, \
        --exp, --nbf and --jti set or override theirs. `iat` is the current time unless \
        --no-iat or --claims gives one. The header is {\"alg\", \"typ\": \"JWT\", \"kid\"}: \
        `typ` from --typ, `kid` from --kid or else the key's own.\n\n\
        The algorithm is the key's (a JWK's `alg`, an EC curve, Ed25519); an RSA key or an HMAC \
        secret without `alg` needs --alg. With a JWK Set, --kid picks the signing key.\n\n\
        Exit codes: 0 signed; 2 usage error, or a key or claims that cannot be used.",
    after_help = "Examples:\n  \
        tessera token sign --key issuer.jwk --sub alice --aud orders --exp 15m\n  \
        tessera token sign --key rsa.pem --alg PS256 --claims @claims.json --exp 1h30m --jti\n  \
        tessera token sign --secret-file hmac.key --alg HS256 --claims '{\"roles\":[\"a\"]}' --exp 1d"
)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    key: KeyOptions,
    /// The algorithm. Required when the key does not fix one (an RSA key or an HMAC secret
    /// without a JWK `alg`); otherwise it must be the key's. One of HS256, HS384, HS512,
    /// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA.
    #[arg(long, value_name = "ALG", value_parser = keyfile::parse_alg)]
    alg: Option<Algorithm>,
    /// The header `kid` (default: the key's). With a JWK Set, also picks the key.
    #[arg(long, value_name = "KID")]
    kid: Option<String>,
    /// The claims: a JSON object, or @FILE to read one from a file (@- for standard input).
    #[arg(long, value_name = "JSON|@FILE")]
    claims: Option<String>,
    /// Sets `sub`.
    #[arg(long, value_name = "S")]
    sub: Option<String>,
    /// Sets `iss`.
    #[arg(long, value_name = "I")]
    iss: Option<String>,
    /// Sets `aud` (repeat for several: `aud` becomes an array).
    #[arg(long, value_name = "A")]
    aud: Vec<String>,
    /// Sets `exp`: a duration from now (90s, 15m, 1h, 30d, 1h30m) or a UNIX time (digits
    /// only).
    #[arg(long, value_name = "DURATION|UNIX", value_parser = TimeSpec::parse)]
    exp: Option<TimeSpec>,
    /// Sets `nbf`, as --exp.
    #[arg(long, value_name = "DURATION|UNIX", value_parser = TimeSpec::parse)]
    nbf: Option<TimeSpec>,
    /// Does not add `iat` (one given in --claims is kept).
    #[arg(long)]
    no_iat: bool,
    /// Sets `jti` to a random UUID (version 4).
    #[arg(long)]
    jti: bool,
    /// The header `typ` (default: JWT).
    #[arg(long, value_name = "T")]
    typ: Option<String>,
    /// Use this UNIX time as the current time (for `iat` and relative --exp/--nbf).
    #[arg(long, value_name = "UNIX")]
    now: Option<i64>,
}

/// Validated settings: the key loaded, the header and claims complete.
struct Settings {
    key: SigningKey,
    header: Header,
    claims: Map<String, Value>,
}

impl SignArgs {
    fn into_settings(self) -> Result<Settings> {
        let now = self.now.unwrap_or_else(|| SystemClock.now());
        let key = self
            .key
            .load()?
            .signing_key(self.alg, self.kid.as_deref())?;
        let mut claims = match &self.claims {
            Some(arg) => input::claims(arg)?,
            None => Map::new(),
        };
        if let Some(sub) = self.sub {
            claims.insert("sub".into(), sub.into());
        }
        if let Some(iss) = self.iss {
            claims.insert("iss".into(), iss.into());
        }
        match self.aud.as_slice() {
            [] => {}
            [one] => {
                claims.insert("aud".into(), one.clone().into());
            }
            many => {
                claims.insert("aud".into(), many.to_vec().into());
            }
        }
        for (name, spec) in [("exp", self.exp), ("nbf", self.nbf)] {
            if let Some(spec) = spec {
                let at = spec
                    .resolve(now)
                    .map_err(|e| anyhow::anyhow!("--{name}: {e}"))?;
                claims.insert(name.into(), at.into());
            }
        }
        if !self.no_iat && !claims.contains_key("iat") {
            claims.insert("iat".into(), now.into());
        }
        if self.jti {
            claims.insert("jti".into(), random_uuid()?.into());
        }
        let registered = RegisteredClaims::from_map(&claims).context("claims")?;
        match registered.exp {
            None => output::warning(
                "the token has no `exp`: it never expires, and verifiers that require `exp` \
                 (tessera's default) reject it",
            ),
            Some(exp) if exp.as_secs() <= now => {
                output::warning(&format!("the token is already expired (exp {exp})"));
            }
            Some(_) => {}
        }
        let mut header = Header::for_key(&key);
        if let Some(typ) = self.typ {
            if typ.is_empty() {
                bail!("--typ: empty");
            }
            header = header.with_typ(typ);
        }
        Ok(Settings {
            key,
            header,
            claims,
        })
    }
}

pub(crate) fn run(args: SignArgs) -> Result<()> {
    let settings = args.into_settings()?;
    let token = tessera_jwt::encode(&settings.key, &settings.header, &settings.claims)
        .context("signing")?;
    output::line(&token)
}

/// A random (version 4) UUID, its randomness from aws-lc-rs.
fn random_uuid() -> Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random generator failed"))?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jti_is_a_fresh_v4_uuid() {
        let a = random_uuid().unwrap();
        let b = random_uuid().unwrap();
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version(), Some(uuid::Version::Random));
    }
}

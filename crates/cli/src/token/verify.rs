//! `tessera token verify`: checks a token's signature and claims against trusted keys.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Map, Value};
use tessera_jwt::{Algorithm, DEFAULT_MAX_TOKEN_LEN, Error, FixedClock, KeySet, Validation};

use crate::exit::Rejected;
use crate::input::{self, TokenError, TokenSource};
use crate::keyfile::{self, KeyInput, KeyOptions};
use crate::output;

#[derive(Debug, Args)]
#[command(
    about = "Verify a token's signature and claims",
    long_about = "Verify a token's signature and claims against trusted keys, and print the \
        verified payload.\n\n\
        The algorithm is decided here, never by the token: it is the one the key is bound to (a \
        JWK's `alg`, an EC curve, Ed25519), or else --alg, which is then required (an RSA key or \
        an HMAC secret without `alg`). The token's `kid` only picks among the keys of a JWK Set. \
        A JWK whose `use` is not \"sig\", or whose `key_ops` lack \"verify\", never verifies. \
        `none` is never accepted.\n\n\
        Claims: `exp` is required and checked, `nbf` and `iat` are checked when present, with no \
        clock leeway unless --leeway (exact, for a debugging tool). `aud` is NOT checked unless \
        --aud is given. --iss, --sub, --typ and --require add checks.\n\n\
        Exit codes: 0 valid (the verified payload is printed as JSON on standard output); 1 the \
        token is rejected (one line on standard error says why: expired, invalid signature, \
        algorithm not allowed, issuer mismatch, …); 2 usage error, or a key that cannot be used.",
    after_help = "Examples:\n  \
        tessera token verify --key issuer.jwk --iss https://auth.example.com --aud orders TOKEN\n  \
        tessera token verify --key jwks.json --alg RS256 - < token.txt\n  \
        tessera token verify --secret-file hmac.key --alg HS256 --now 1800000000 TOKEN\n  \
        tessera token verify --key rsa.pem --alg PS256 --jws-only TOKEN > payload.bin"
)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    key: KeyOptions,
    /// Accept this algorithm (repeat, or separate with commas, for several). Required when the
    /// key does not fix one; otherwise it narrows what is accepted. One of HS256, HS384, HS512,
    /// RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA.
    #[arg(long = "alg", value_name = "ALG", value_parser = keyfile::parse_alg, value_delimiter = ',')]
    algs: Vec<Algorithm>,
    /// Require `iss` to be I.
    #[arg(long, value_name = "I")]
    iss: Option<String>,
    /// Require `aud` to contain A (repeat to accept any of several). Without --aud the audience
    /// is NOT checked at all.
    #[arg(long, value_name = "A")]
    aud: Vec<String>,
    /// Require `sub` to be S.
    #[arg(long, value_name = "S")]
    sub: Option<String>,
    /// Require the header `typ` to be T (as a media type: `at+jwt` = `application/at+jwt`).
    #[arg(long, value_name = "T")]
    typ: Option<String>,
    /// Clock leeway in seconds for `exp`, `nbf` and `iat`. The default is 0 (exact), unlike
    /// the library's 30 s: this is a tool for looking at tokens precisely.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    leeway: u64,
    /// Judge time as of this UNIX time instead of the current time.
    #[arg(long, value_name = "UNIX")]
    now: Option<i64>,
    /// Require this claim to be present (repeat for several).
    #[arg(long = "require", value_name = "CLAIM")]
    require: Vec<String>,
    /// Neither require nor check `exp`: an expired token passes.
    #[arg(long)]
    ignore_exp: bool,
    /// Check only the signature and the header rules, accept any payload bytes (not only a
    /// JSON claims set) and print the payload exactly as it is. No claim is checked.
    #[arg(long, conflicts_with_all = ["iss", "aud", "sub", "require"])]
    jws_only: bool,
    /// The token; `-` or nothing reads it from standard input.
    #[arg(value_name = "TOKEN|-")]
    token: Option<String>,
}

/// Validated settings: keys loaded, rules built, before the token is read.
struct Settings {
    verifier: Verifier,
    token: TokenSource,
}

/// The trusted keys and the rules a token must meet.
struct Verifier {
    key: KeyInput,
    keys: KeySet,
    validation: Validation,
    jws_only: bool,
}

impl VerifyArgs {
    fn into_settings(mut self) -> Result<Settings> {
        self.algs.sort();
        self.algs.dedup();
        let key = self.key.load()?;
        let keys = key.verifying_keys(&self.algs)?;
        let mut validation = Validation::new(self.algs).leeway(self.leeway);
        if let Some(now) = self.now {
            validation = validation.clock(Arc::new(FixedClock::new(now)));
        }
        if let Some(iss) = self.iss {
            validation = validation.issuer(iss);
        }
        if self.aud.is_empty() {
            // A tool that inspects tokens checks the audience only when asked.
            validation = validation.insecure_any_audience();
        }
        for aud in self.aud {
            validation = validation.audience(aud);
        }
        if let Some(sub) = self.sub {
            validation = validation.subject(sub);
        }
        if let Some(typ) = self.typ {
            validation = validation.typ(typ);
        }
        if self.ignore_exp {
            validation = validation.insecure_ignore_exp();
        }
        // After --ignore-exp, so that an explicit `--require exp` still holds.
        for claim in self.require {
            validation = validation.require(claim);
        }
        Ok(Settings {
            verifier: Verifier {
                key,
                keys,
                validation,
                jws_only: self.jws_only,
            },
            token: input::token_source(self.token),
        })
    }
}

pub(crate) fn run(args: VerifyArgs) -> Result<()> {
    let Settings { verifier, token } = args.into_settings()?;
    let token = match token.read(DEFAULT_MAX_TOKEN_LEN) {
        Ok(token) => token,
        Err(TokenError::Invalid(why)) => return Err(rejected(&why)),
        Err(TokenError::Io(e)) => {
            return Err(anyhow::Error::new(e).context("reading the token from standard input"));
        }
    };
    verifier.verify(&token)
}

impl Verifier {
    /// Verifies, and prints the verified payload.
    fn verify(&self, token: &str) -> Result<()> {
        if self.jws_only {
            let verified = tessera_jwt::verify_jws(token, &self.keys, &self.validation)
                .map_err(|e| self.verdict(e))?;
            output::stdout(verified.payload())
        } else {
            let verified =
                tessera_jwt::verify::<Map<String, Value>>(token, &self.keys, &self.validation)
                    .map_err(|e| self.verdict(e))?;
            output::json(verified.claims()).context("printing the verified payload")
        }
    }

    /// A library error as the CLI reports it: a rejection (exit 1) or not (exit 2).
    fn verdict(&self, e: Error) -> anyhow::Error {
        if !e.is_token_rejection() {
            return anyhow::anyhow!("{}: {e}", self.key.label());
        }
        let hint = match &e {
            // Say why a key the token asked for is not there, when the JWK Set had it.
            Error::NoMatchingKey(_) => keyfile::skipped_list(&self.keys),
            Error::InvalidClaims(_) if !self.jws_only => {
                " (--jws-only accepts a payload that is not a JSON claims set)".into()
            }
            _ => String::new(),
        };
        rejected(&format!("{e}{hint}"))
    }
}

fn rejected(why: &str) -> anyhow::Error {
    Rejected::new(format!("token rejected: {why}")).into()
}

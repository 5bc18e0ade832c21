//! `tessera key …`: generate a signing key, show a key's public half or its thumbprint, and
//! list or rotate the issuer's own signing keys (`key list|rotate`, in its database).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use tessera_jwt::{Algorithm, Family, MIN_RSA_BITS, SigningKey};
use zeroize::Zeroizing;

use tessera_server::keys::RotateMode;
use tessera_server::metrics::Metrics;
use tessera_server::store::KeyState;

use crate::keyfile::{self, KeyFile};
use crate::output;
use crate::serve::{ConfigArgs, block_on};

pub(crate) const ABOUT: &str =
    "Generate keys, show public keys and thumbprints; list and rotate the issuer's keys";
pub(crate) const LONG_ABOUT: &str = "Generate signing keys, and show a key's public half or its \
    RFC 7638 thumbprint. Key files may be a JWK, PEM (PKCS#8, SPKI, PKCS#1, SEC1) or DER.";

// The `tessera key` subcommands (their help is on each argument struct).
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    Generate(GenerateArgs),
    Public(PublicArgs),
    Thumbprint(ThumbprintArgs),
    List(ListArgs),
    Rotate(RotateArgs),
    Revoke(RevokeArgs),
}

pub(crate) fn run(command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::Generate(args) => generate(args),
        KeyCommand::Public(args) => public(args),
        KeyCommand::Thumbprint(args) => thumbprint(args),
        KeyCommand::List(args) => list(args),
        KeyCommand::Rotate(args) => rotate(args),
        KeyCommand::Revoke(args) => revoke(args),
    }
}

#[derive(Debug, Args)]
#[command(
    about = "Generate a private signing key",
    long_about = "Generate a private signing key for one algorithm.\n\n\
        As a JWK (the default) it carries `alg`, `use: sig` and a `kid`, which is the key's RFC \
        7638 thumbprint unless --kid is given (HMAC secrets get no kid unless given). As PEM it \
        is PKCS#8 (not for HMAC secrets, which have no PEM form). With --out the file is created \
        with mode 0600 and an existing file is never overwritten; without it the key is printed.\n\n\
        Exit codes: 0 generated; 2 usage error, or the file exists or cannot be written.",
    after_help = "Examples:\n  \
        tessera key generate --alg ES256 --out issuer.jwk\n  \
        tessera key generate --alg RS256 --rsa-bits 3072 --format pem --out issuer.pem\n  \
        tessera key generate --alg HS256 --kid shared-2026 --out hmac.jwk"
)]
pub(crate) struct GenerateArgs {
    /// The algorithm the key is for: HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384,
    /// PS512, ES256, ES384, ES512 or EdDSA.
    #[arg(long, value_name = "ALG", value_parser = keyfile::parse_alg)]
    alg: Algorithm,
    /// The key id (default: the RFC 7638 thumbprint, for asymmetric keys).
    #[arg(long, value_name = "KID")]
    kid: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jwk)]
    format: Format,
    /// Write the key to this new file (mode 0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// RSA modulus size in bits (RS* and PS* only).
    #[arg(long, value_name = "BITS", value_parser = ["2048", "3072", "4096"])]
    rsa_bits: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A private JWK (JSON).
    Jwk,
    /// PKCS#8 PEM.
    Pem,
}

struct GenerateSettings {
    alg: Algorithm,
    kid: Option<String>,
    format: Format,
    out: Option<PathBuf>,
    rsa_bits: usize,
}

impl GenerateArgs {
    fn into_settings(self) -> Result<GenerateSettings> {
        let family = self.alg.family();
        if self.format == Format::Pem && family == Family::Hmac {
            bail!(
                "an HMAC secret ({}) has no PEM form; use --format jwk",
                self.alg
            );
        }
        if self.format == Format::Pem && self.kid.is_some() {
            bail!("a PEM key cannot carry a kid; use --format jwk to keep --kid");
        }
        if self.kid.as_deref() == Some("") {
            bail!("--kid: empty");
        }
        let rsa_bits = match (self.rsa_bits, family) {
            (None, _) => MIN_RSA_BITS,
            (Some(bits), Family::Rsa) => bits.parse().context("--rsa-bits")?,
            (Some(_), _) => bail!("--rsa-bits is only for RSA algorithms, not {}", self.alg),
        };
        Ok(GenerateSettings {
            alg: self.alg,
            kid: self.kid,
            format: self.format,
            out: self.out,
            rsa_bits,
        })
    }
}

fn generate(args: GenerateArgs) -> Result<()> {
    let settings = args.into_settings()?;
    // Create the file first, so that an existing one is refused before any work.
    let file = match &settings.out {
        Some(path) => Some((output::create_private_file(path)?, path.as_path())),
        None => None,
    };
    let written = generated_key(&settings).and_then(|text| match &file {
        Some((file, path)) => write_key(file, path, text.as_bytes()),
        None => output::stdout(text.as_bytes()),
    });
    if let (Err(_), Some((_, path))) = (&written, &file) {
        // Do not leave an empty or partial key file behind.
        let _ = std::fs::remove_file(path);
    }
    written?;
    if let Some((_, path)) = file {
        output::note(&format!(
            "wrote a private {} key to {} (mode 0600)",
            settings.alg,
            path.display()
        ));
    }
    Ok(())
}

fn generated_key(settings: &GenerateSettings) -> Result<Zeroizing<String>> {
    let key = SigningKey::generate_with_rsa_bits(settings.alg, settings.rsa_bits)?;
    let kid = match &settings.kid {
        Some(kid) => Some(kid.clone()),
        None if settings.alg.family() != Family::Hmac => Some(key.thumbprint()?),
        None => None,
    };
    let key = match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    };
    Ok(match settings.format {
        Format::Jwk => {
            let mut text = Zeroizing::new(
                serde_json::to_string_pretty(&key.to_jwk()?).context("serializing the JWK")?,
            );
            text.push('\n');
            text
        }
        Format::Pem => key.to_pem()?,
    })
}

fn write_key(mut file: &std::fs::File, path: &Path, bytes: &[u8]) -> Result<()> {
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[derive(Debug, Args)]
#[command(
    about = "Print the public JWK of a key file",
    long_about = "Print the public JWK of a key file: a JWK (private or public), or PEM/DER \
        (PKCS#8, SPKI, PKCS#1, SEC1). Private members are removed; `kid`, `alg` and `use` are \
        kept as they are. An HMAC secret has no public half (exit 2).",
    after_help = "Examples:\n  \
        tessera key public issuer.jwk\n  \
        tessera key public issuer.pem > issuer.pub.jwk"
)]
pub(crate) struct PublicArgs {
    /// The key file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn public(args: PublicArgs) -> Result<()> {
    let jwk = KeyFile::read(&args.file)
        .and_then(|key| keyfile::public_half(&key.jwk()?))
        .with_context(|| format!("key file {}", args.file.display()))?;
    output::json(&jwk)
}

#[derive(Debug, Args)]
#[command(
    about = "Print the RFC 7638 thumbprint of a key",
    long_about = "Print the RFC 7638 thumbprint of a key file: the base64url SHA-256 of the \
        key's required members (a JWK, or PEM/DER). `kid`, `alg` and private members do not \
        change it, so a private key and its public half have the same thumbprint.",
    after_help = "Examples:\n  tessera key thumbprint issuer.jwk"
)]
pub(crate) struct ThumbprintArgs {
    /// The key file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn thumbprint(args: ThumbprintArgs) -> Result<()> {
    let thumbprint = KeyFile::read(&args.file)
        .and_then(|key| Ok(key.jwk()?.thumbprint()?))
        .with_context(|| format!("key file {}", args.file.display()))?;
    output::line(&thumbprint)
}

// ---- the issuer's keys -----------------------------------------------------------------------

#[derive(Debug, Args)]
#[command(
    about = "List the issuer's signing keys and their states",
    long_about = "List the issuer's signing keys (in its database): kid, algorithm, state \
        (next: published, not signing yet; active: signs; retired: published until the tokens \
        it signed have expired; revoked: withdrawn, never published) and dates. Uses the same --config and TESSERA_* variables as \
        `tessera serve`.",
    after_help = "Examples:\n  tessera key list\n  tessera key list --json --config tessera.toml"
)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

fn date(secs: Option<i64>) -> String {
    secs.and_then(|s| crate::dates::rfc3339(s as f64))
        .unwrap_or_else(|| "-".to_owned())
}

fn list(args: ListArgs) -> Result<()> {
    let keys = block_on(async {
        let ctx = args.config.context().await?;
        let keys = ctx.key_manager(Metrics::new()).list().await?;
        ctx.store.close().await;
        Ok(keys)
    })?;
    if args.json {
        let rows: Vec<_> = keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kid": k.kid, "alg": k.alg, "state": k.state.as_str(),
                    "created_at": k.created_at, "activated_at": k.activated_at,
                    "retired_at": k.retired_at, "delete_after": k.delete_after,
                })
            })
            .collect();
        return output::json(&rows);
    }
    let mut text = format!(
        "{:<43}  {:<5}  {:<7}  {:<20}  {:<20}  {:<20}  {}\n",
        "KID", "ALG", "STATE", "CREATED", "ACTIVATED", "RETIRED", "DELETE AFTER"
    );
    for k in &keys {
        text.push_str(&format!(
            "{:<43}  {:<5}  {:<7}  {:<20}  {:<20}  {:<20}  {}\n",
            k.kid,
            k.alg,
            k.state.as_str(),
            date(Some(k.created_at)),
            date(k.activated_at),
            date(k.retired_at),
            date(k.delete_after),
        ));
    }
    output::stdout(text.as_bytes())
}

#[derive(Debug, Args)]
#[command(
    about = "Rotate the issuer's signing key",
    long_about = "Rotate the issuer's signing key, in its database (running instances pick the \
        change up within keys.refresh_interval).\n\n\
        Without --now, the safe way in two steps: the first call makes a `next` key, which is \
        published in the JWKS at once but signs nothing yet; a later call, once it has been \
        published for keys.publish_lead (at least two JWKS cache lifetimes), makes it the \
        active key. The scheduled rotation (keys.rotation_period) does the same by itself.\n\n\
        With --now, the next key (made first if there is none) signs immediately: verifiers \
        whose cached JWKS predates it reject its tokens until they fetch the JWKS again. For \
        a compromised key.\n\n\
        The previous key is retired: it stays published until every token it signed has \
        expired, then it is deleted.",
    after_help = "Examples:\n  tessera key rotate\n  tessera key rotate --now --config tessera.toml"
)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Make the next key sign now, even if caches may not have it yet.
    #[arg(long)]
    now: bool,
}

fn rotate(args: RotateArgs) -> Result<()> {
    let mode = if args.now {
        RotateMode::Now
    } else {
        RotateMode::Advance
    };
    let (report, max_age) = block_on(async {
        let ctx = args.config.context().await?;
        let keys = ctx.key_manager(Metrics::new());
        let mut report = keys.rotate(mode).await?;
        // Another instance is rotating: wait for its lease (a few seconds at most, usually).
        for _ in 0..20 {
            if !report.skipped {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            report = keys.rotate(mode).await?;
        }
        ctx.store.close().await;
        Ok((report, ctx.config.keys.jwks_max_age))
    })?;
    if report.skipped {
        bail!("another instance holds the key rotation lock; try again in a minute");
    }
    for kid in &report.deleted {
        output::note(&format!(
            "deleted retired key {kid} (every token it signed has expired)"
        ));
    }
    if let Some(created) = &report.created {
        output::note(&format!(
            "created {} key {} ({})",
            created.state.as_str(),
            created.kid,
            created.alg
        ));
    }
    if let Some(retired) = &report.retired {
        output::note(&format!(
            "retired key {retired}: it stays published until the tokens it signed have expired"
        ));
    }
    if let Some(active) = &report.activated {
        output::line(&format!("active key: {active}"))?;
        if args.now {
            output::warning(&format!(
                "the new key signs now: verifiers that cached the JWKS before it was published \
                 reject its tokens until they fetch it again (at most {} later)",
                crate::dates::span(max_age.as_secs())
            ));
        }
    } else if let Some(at) = report.next_signs_at {
        output::line(&format!(
            "next key published; run `tessera key rotate` again from {} to make it sign",
            date(Some(at))
        ))?;
    }
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    about = "Revoke a compromised signing key: out of the JWKS at once",
    long_about = "Revoke one of the issuer's signing keys (a compromised one), in its database. \
        It leaves the JWKS at once, its private key is erased, and tokens it signed are refused \
        by /userinfo, introspection and the admin API; this cannot be undone. If it was the \
        active key, another one becomes active in the same step (the next key, or a new one), \
        so the issuer never stops signing.\n\n\
        Running instances drop the key within keys.refresh_interval. Verifiers that cached the \
        JWKS (tessera-guard, other JWKS caches) may accept its tokens until their cache \
        expires (keys.jwks_max_age at most): restart them or make them refetch to stop sooner.\n\n\
        Exit codes: 0 revoked (or already revoked); 2 no such key, or the database is \
        unreachable.",
    after_help = "Examples:\n  tessera key list\n  tessera key revoke KID --config tessera.toml"
)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The key id (`tessera key list` shows them).
    #[arg(value_name = "KID")]
    kid: String,
}

fn revoke(args: RevokeArgs) -> Result<()> {
    let (revocation, max_age) = block_on(async {
        let ctx = args.config.context().await?;
        let revocation = ctx.key_manager(Metrics::new()).revoke(&args.kid).await;
        ctx.store.close().await;
        Ok((revocation?, ctx.config.keys.jwks_max_age))
    })?;
    if revocation.was == KeyState::Revoked {
        return output::line(&format!("key {} was already revoked", revocation.kid));
    }
    output::line(&format!(
        "revoked key {} (was {})",
        revocation.kid, revocation.was
    ))?;
    if let Some(active) = &revocation.activated {
        output::line(&format!("active key: {active}"))?;
    }
    output::warning(&format!(
        "running instances drop it within keys.refresh_interval; verifiers that cached the JWKS \
         may accept its tokens for up to {} more",
        crate::dates::span(max_age.as_secs())
    ));
    Ok(())
}

//! `tessera master-key …`: make a master key (the key that encrypts the issuer's private
//! signing keys at rest), and reseal every stored signing key under the configured one.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use tessera_server::keys::MasterKey;
use tessera_server::metrics::Metrics;

use crate::output;
use crate::serve::{ConfigArgs, block_on};

pub(crate) const ABOUT: &str =
    "Make a master key; reseal the issuer's signing keys under a new one";

// The `tessera master-key` subcommands (their help is on each argument struct).
#[derive(Debug, Subcommand)]
pub(crate) enum MasterKeyCommand {
    Generate(GenerateArgs),
    Rotate(RotateArgs),
}

pub(crate) fn run(command: MasterKeyCommand) -> Result<()> {
    match command {
        MasterKeyCommand::Generate(args) => generate(args),
        MasterKeyCommand::Rotate(args) => rotate(args),
    }
}

#[derive(Debug, Args)]
#[command(
    about = "Make a new master key (32 random bytes, base64url)",
    long_about = "Make a new master key: 32 bytes from the system's secure random generator, \
        written as base64url without padding. It encrypts the issuer's private signing keys in \
        the database (master_key_file, or TESSERA_MASTER_KEY); instances sharing one PostgreSQL \
        database must share it.\n\n\
        With --out the file is created with mode 0600 and an existing file is never \
        overwritten; without it the key is printed on standard output.\n\n\
        Exit codes: 0 made; 2 the file exists or cannot be written.",
    after_help = "Examples:\n  \
        tessera master-key generate --out /etc/tessera/master.key\n  \
        TESSERA_MASTER_KEY_FILE=/etc/tessera/master.key tessera serve"
)]
pub(crate) struct GenerateArgs {
    /// Write the key to this new file (mode 0600) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn generate(args: GenerateArgs) -> Result<()> {
    // Create the file first, so that an existing one is refused before anything else.
    let file = match &args.out {
        Some(path) => Some((output::create_private_file(path)?, path)),
        None => None,
    };
    let (key, text) = MasterKey::generate()?;
    let Some((mut file, path)) = file else {
        return output::line(&text);
    };
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()));
    if written.is_err() {
        // Do not leave an empty or partial key file behind.
        let _ = std::fs::remove_file(path);
    }
    written?;
    output::note(&format!(
        "wrote master key {} to {} (mode 0600): back it up and keep it secret",
        key.id(),
        path.display()
    ));
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    about = "Reseal every stored signing key under the configured master key",
    long_about = "Re-encrypt every private signing key in the issuer's database under the \
        master key the configuration names now (master_key_file or TESSERA_MASTER_KEY), while \
        instances keep serving. Keys sealed under an earlier master key are read with the \
        files listed in previous_master_keys (TESSERA_PREVIOUS_MASTER_KEYS).\n\n\
        Each key is one compare-and-set on its row: a key changed meanwhile (resealed by \
        another run, revoked) is read again, never overwritten, and a failure leaves every key \
        readable with the previous master key. Running it again changes nothing.\n\n\
        Steps with several instances:\n  \
        1. tessera master-key generate --out new.key\n  \
        2. on every instance: master_key_file = new.key, previous_master_keys = [old.key];\n     \
           restart them one at a time (each reads keys sealed under either)\n  \
        3. tessera master-key rotate (with that configuration)\n  \
        4. remove previous_master_keys everywhere, restart, and destroy old.key\n\n\
        Exit codes: 0 every key is sealed under the configured master key; 2 some are not \
        (listed; their master key is not configured) or the database is unreachable.",
    after_help = "Examples:\n  \
        tessera master-key rotate --config tessera.toml\n  \
        TESSERA_MASTER_KEY_FILE=new.key TESSERA_PREVIOUS_MASTER_KEYS=old.key tessera master-key rotate"
)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

fn rotate(args: RotateArgs) -> Result<()> {
    let report = block_on(async {
        let ctx = args.config.context().await?;
        let report = ctx.key_manager(Metrics::new()).reseal_all().await;
        ctx.store.close().await;
        Ok(report?)
    })?;
    for kid in &report.resealed {
        output::note(&format!("resealed signing key {kid}"));
    }
    for (kid, why) in &report.unreadable {
        output::warning(&format!("signing key {kid} left as it is: {why}"));
    }
    if !report.remaining.is_empty() {
        bail!(
            "{} signing key(s) are not sealed under master key {}: {} (add the master key \
             they need to previous_master_keys and run this again)",
            report.remaining.len(),
            report.master_key_id,
            report.remaining.join(", ")
        );
    }
    output::line(&format!(
        "every signing key is sealed under master key {} ({} resealed now)",
        report.master_key_id,
        report.resealed.len()
    ))
}

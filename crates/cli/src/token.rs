//! `tessera token …`: decode, sign and verify compact JWTs.

mod decode;
mod sign;
mod verify;

use anyhow::Result;
use clap::Subcommand;

pub(crate) const ABOUT: &str = "Decode, sign and verify JWTs";
pub(crate) const LONG_ABOUT: &str = "Decode, sign and verify JWTs (compact JWS).\n\n\
    A token is given as an argument, or read from standard input when the argument is `-` or \
    absent; from standard input exactly one trailing newline (`\\n` or `\\r\\n`) is dropped and \
    nothing else is trimmed.";

// The `tessera token` subcommands (their help is on each argument struct).
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    Decode(decode::DecodeArgs),
    Sign(sign::SignArgs),
    Verify(verify::VerifyArgs),
}

pub(crate) fn run(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Decode(args) => decode::run(args),
        TokenCommand::Sign(args) => sign::run(args),
        TokenCommand::Verify(args) => verify::run(args),
    }
}

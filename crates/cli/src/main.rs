//! `tessera`: the command-line tool of tessera (JWT authentication for services).
//!
//! This file only parses the command line and turns the outcome into an exit code. Each
//! command lives in its own module, and each turns its raw flags into validated settings
//! before it does anything.

mod client;
mod dates;
mod exit;
mod input;
mod jwks;
mod key;
mod keyfile;
mod master_key;
mod output;
mod serve;
mod token;
mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "JWT authentication for services: sign, verify and inspect tokens, manage keys, run the issuer",
    long_about = "JWT authentication for services: sign, verify and inspect tokens, manage keys.\n\n\
        Exit codes: 0 success; 1 the token was rejected (or could not be decoded); \
        2 a usage error, or a key or file that could not be used.",
    after_help = "Examples:\n  \
        tessera key generate --alg ES256 --out issuer.jwk\n  \
        tessera token sign --key issuer.jwk --sub alice --aud orders --exp 15m\n  \
        tessera token verify --key issuer.jwk --aud orders TOKEN\n  \
        tessera jwks issuer.jwk > jwks.json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(subcommand, about = token::ABOUT, long_about = token::LONG_ABOUT)]
    Token(token::TokenCommand),
    #[command(subcommand, about = key::ABOUT, long_about = key::LONG_ABOUT)]
    Key(key::KeyCommand),
    Jwks(jwks::JwksArgs),
    #[command(about = serve::ABOUT)]
    Serve(serve::ServeArgs),
    #[command(subcommand, about = user::ABOUT)]
    User(user::UserCommand),
    #[command(subcommand, about = client::ABOUT)]
    Client(client::ClientCommand),
    #[command(subcommand, about = master_key::ABOUT)]
    MasterKey(master_key::MasterKeyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Token(command) => token::run(command),
        Command::Key(command) => key::run(command),
        Command::Jwks(args) => jwks::run(args),
        Command::Serve(args) => serve::run(args),
        Command::User(command) => user::run(command),
        Command::Client(command) => client::run(command),
        Command::MasterKey(command) => master_key::run(command),
    };
    exit::code(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

//! `tessera client …`: the OAuth 2.0 clients of the issuer, in its database (same `--config`
//! and `TESSERA_*` environment as `tessera serve`).

use anyhow::Result;
use clap::{Args, Subcommand};
use tessera_server::accounts;
use tessera_server::auth::client_secret::NewClientSecret;
use tessera_server::store::NewClient;

use crate::output;
use crate::serve::{ConfigArgs, block_on};

pub(crate) const ABOUT: &str =
    "Manage the issuer's OAuth clients: add (prints the secret once), list";

// The `tessera client` subcommands (their help is on each argument struct).
#[derive(Debug, Subcommand)]
pub(crate) enum ClientCommand {
    Add(AddArgs),
    List(ListArgs),
}

pub(crate) fn run(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Add(args) => add(args),
        ClientCommand::List(args) => list(args),
    }
}

#[derive(Debug, Args)]
#[command(
    about = "Register a client; prints its client_id and secret, once",
    long_about = "Register a confidential OAuth 2.0 client allowed the given scopes. Its \
        client_id and a new secret (256 random bits) are printed on standard output, once: \
        the issuer keeps only a salted hash of the secret. Clients authenticate at \
        /oauth2/token, /oauth2/revoke and /oauth2/introspect with HTTP Basic or the \
        client_id/client_secret form parameters.\n\n\
        Exit codes: 0 registered; 2 usage error, or the database cannot be used.",
    after_help = "Examples:\n  \
        tessera client add reports --scope reports:read --scope reports:write\n  \
        tessera client add web --json"
)]
pub(crate) struct AddArgs {
    /// A display name.
    name: String,
    /// A scope the client may request (repeat for several).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Print JSON ({"client_id", "client_secret", "name", "scopes"}) instead of two lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

fn add(args: AddArgs) -> Result<()> {
    let name = accounts::check_client_name(&args.name)?;
    let scopes = accounts::check_scopes(&args.scopes)?;
    let secret = NewClientSecret::generate()?;
    let client = block_on(async {
        let ctx = args.config.context().await?;
        let created = ctx
            .store
            .create_client(
                NewClient {
                    name,
                    secret_hash: Some(&secret.hash),
                    scopes: &scopes,
                },
                ctx.clock.now(),
            )
            .await;
        ctx.store.close().await;
        Ok(created?)
    })?;
    if args.json {
        output::json(&serde_json::json!({
            "client_id": client.client_id,
            "client_secret": secret.secret.expose(),
            "name": client.name,
            "scopes": client.scopes,
        }))?;
    } else {
        output::line(&format!(
            "client_id: {}\nclient_secret: {}",
            client.client_id,
            secret.secret.expose()
        ))?;
    }
    output::note("the secret is shown only this once: store it now");
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    about = "List the clients (never their secrets)",
    long_about = "List the registered clients: client_id, name, scopes, whether confidential.\n\n\
        Exit codes: 0 listed; 2 the database cannot be used."
)]
pub(crate) struct ListArgs {
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

fn list(args: ListArgs) -> Result<()> {
    let clients = block_on(async {
        let ctx = args.config.context().await?;
        let clients = ctx.store.list_clients().await;
        ctx.store.close().await;
        Ok(clients?)
    })?;
    if args.json {
        let rows: Vec<_> = clients
            .iter()
            .map(|c| {
                serde_json::json!({
                    "client_id": c.client_id, "name": c.name, "scopes": c.scopes,
                    "confidential": c.secret_hash.is_some(), "created_at": c.created_at,
                })
            })
            .collect();
        return output::json(&rows);
    }
    let mut text = format!("{:<36}  {:<24}  SCOPES\n", "CLIENT_ID", "NAME");
    for c in &clients {
        text.push_str(&format!(
            "{:<36}  {:<24}  {}\n",
            c.client_id,
            c.name,
            c.scopes.join(" ")
        ));
    }
    output::stdout(text.as_bytes())
}

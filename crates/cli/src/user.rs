//! `tessera user …`: the issuer's user accounts, in its database (same `--config` and
//! `TESSERA_*` environment as `tessera serve`).

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use tessera_jwt::SecretString;
use tessera_server::accounts::{self, Actor};
use tessera_server::admin;
use tessera_server::auth::password_params;
use tessera_server::password::{MAX_PASSWORD_LEN, Passwords};
use tessera_server::store::User;
use zeroize::Zeroizing;

use crate::output;
use crate::serve::{ConfigArgs, block_on};

pub(crate) const ABOUT: &str =
    "Manage the issuer's users: add, list, disable, enable, roles, password, rename, delete";

/// Longest username (bytes).

// The `tessera user` subcommands (their help is on each argument struct).
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    Add(AddArgs),
    List(ListArgs),
    Disable(NameArgs),
    Enable(NameArgs),
    SetRoles(SetRolesArgs),
    Passwd(PasswdArgs),
    Delete(DeleteArgs),
    Rename(RenameArgs),
}

pub(crate) fn run(command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add(args) => add(args),
        UserCommand::List(args) => list(args),
        UserCommand::Disable(args) => set_disabled(args, true),
        UserCommand::Enable(args) => set_disabled(args, false),
        UserCommand::SetRoles(args) => set_roles(args),
        UserCommand::Passwd(args) => passwd(args),
        UserCommand::Delete(args) => delete(args),
        UserCommand::Rename(args) => rename(args),
    }
}

/// Where the password comes from.
#[derive(Debug, Clone, Args)]
pub(crate) struct PasswordSource {
    /// Read the password from standard input (one trailing newline is dropped). Without it,
    /// the password is asked on the terminal, twice; a standard input that is not a terminal
    /// is refused.
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordSource {
    fn read(&self) -> Result<SecretString> {
        let password = if self.password_stdin {
            let mut raw = Zeroizing::new(Vec::new());
            std::io::stdin()
                .take(MAX_PASSWORD_LEN as u64 + 3)
                .read_to_end(&mut raw)
                .context("reading the password from standard input")?;
            let mut text = Zeroizing::new(
                String::from_utf8(std::mem::take(&mut *raw))
                    .map_err(|_| anyhow::anyhow!("the password on standard input is not UTF-8"))?,
            );
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            SecretString::new(std::mem::take(&mut *text))
        } else {
            if !std::io::stdin().is_terminal() {
                bail!(
                    "standard input is not a terminal: pass --password-stdin to read the password from it"
                );
            }
            let first = Zeroizing::new(
                rpassword::prompt_password("password: ").context("reading the password")?,
            );
            let second = Zeroizing::new(
                rpassword::prompt_password("password again: ").context("reading the password")?,
            );
            if *first != *second {
                bail!("the passwords differ");
            }
            SecretString::new(first.to_string())
        };
        accounts::check_password(password.expose())?;
        Ok(password)
    }
}

async fn hasher(ctx: &admin::Context) -> Result<Passwords> {
    Passwords::try_new(&password_params(&ctx.config)).context("the [passwords] settings")
}

async fn find(ctx: &admin::Context, name: &str) -> Result<User> {
    accounts::find_user(&*ctx.store, name)
        .await?
        .with_context(|| format!("no user named {name:?}"))
}

#[derive(Debug, Args)]
#[command(
    about = "Add a user",
    long_about = "Add a user with a password (hashed with argon2id, as configured in \
        [passwords]) and roles. The password is read from standard input with \
        --password-stdin, else asked on the terminal.\n\n\
        The username is stored in its RFC 8265 form (UsernameCaseMapped: lower case, \
        full-width letters as ASCII, Unicode NFC); control, format and invisible characters, \
        symbols outside ASCII and leading, trailing or doubled spaces are refused.\n\n\
        Exit codes: 0 added; 2 usage error (a refused name), the name is taken (in any case \
        or width), or the database cannot be used.",
    after_help = "Examples:\n  \
        tessera user add alice --role admin --role user\n  \
        printf '%s' \"$PASSWORD\" | tessera user add bob --password-stdin"
)]
pub(crate) struct AddArgs {
    /// The username (RFC 8265: `Alice` and `ＡＬＩＣＥ` are both stored as `alice`).
    name: String,
    /// A role (repeat for several).
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    #[command(flatten)]
    password: PasswordSource,
    #[command(flatten)]
    config: ConfigArgs,
}

fn add(args: AddArgs) -> Result<()> {
    // Checked before the password is asked for.
    let name = accounts::normalize_username(&args.name)
        .with_context(|| format!("invalid username {:?}", args.name))?;
    accounts::check_roles(&args.roles)?;
    let password = args.password.read()?;
    let user = block_on(async {
        let ctx = args.config.context().await?;
        let passwords = hasher(&ctx).await?;
        let created = accounts::add_user(
            &*ctx.store,
            &passwords,
            &name,
            password,
            &args.roles,
            Actor::Cli,
            ctx.clock.now(),
        )
        .await;
        ctx.store.close().await;
        Ok::<_, anyhow::Error>(created?)
    })?;
    output::note(&format!("added user {} ({})", user.username, user.id));
    output::line(&user.id)
}

#[derive(Debug, Args)]
#[command(
    about = "List the users",
    long_about = "List the users: username, id (the `sub` of their tokens), roles, whether \
        disabled, and when created.\n\nExit codes: 0 listed; 2 the database cannot be used."
)]
pub(crate) struct ListArgs {
    /// Print JSON (an array of objects) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

fn list(args: ListArgs) -> Result<()> {
    let users = block_on(async {
        let ctx = args.config.context().await?;
        let users = ctx.store.list_users().await;
        ctx.store.close().await;
        Ok(users?)
    })?;
    if args.json {
        let rows: Vec<_> = users
            .iter()
            .map(|u| {
                serde_json::json!({
                    "username": u.username, "id": u.id, "roles": u.roles,
                    "disabled": u.disabled, "has_password": u.password_hash.is_some(),
                    "created_at": u.created_at, "updated_at": u.updated_at,
                })
            })
            .collect();
        return output::json(&rows);
    }
    let width = users
        .iter()
        .map(|u| u.username.chars().count())
        .max()
        .unwrap_or(0)
        .max("USERNAME".len());
    let mut text = format!(
        "{:<width$}  {:<36}  {:<8}  {:<20}  ROLES\n",
        "USERNAME", "ID", "STATUS", "CREATED"
    );
    for u in &users {
        text.push_str(&format!(
            "{:<width$}  {:<36}  {:<8}  {:<20}  {}\n",
            u.username,
            u.id,
            if u.disabled { "disabled" } else { "active" },
            crate::dates::rfc3339(u.created_at as f64).unwrap_or_else(|| "-".to_owned()),
            u.roles.join(","),
        ));
    }
    output::stdout(text.as_bytes())
}

#[derive(Debug, Args)]
#[command(
    about = "Disable or enable a user (disabling also ends the user's sessions)",
    long_about = "Disable a user: no login, no refresh, and every session (refresh token \
        family) is revoked now; access tokens already issued expire on their own (minutes). \
        Enable lets the user log in again (the revoked sessions stay revoked).\n\n\
        Exit codes: 0 done; 2 no such user, or the database cannot be used."
)]
pub(crate) struct NameArgs {
    /// The username.
    name: String,
    #[command(flatten)]
    config: ConfigArgs,
}

fn set_disabled(args: NameArgs, disabled: bool) -> Result<()> {
    let revoked = block_on(async {
        let ctx = args.config.context().await?;
        let outcome = async {
            let user = find(&ctx, &args.name).await?;
            let now = ctx.clock.now();
            Ok::<_, anyhow::Error>(
                accounts::set_disabled(&*ctx.store, &user.id, disabled, Actor::Cli, now).await?,
            )
        }
        .await;
        ctx.store.close().await;
        outcome
    })?;
    if disabled {
        output::note(&format!(
            "disabled user {}; {revoked} session(s) revoked",
            args.name
        ));
    } else {
        output::note(&format!("enabled user {}", args.name));
    }
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    about = "Replace a user's roles",
    long_about = "Replace a user's roles with those given (none: no role). Access tokens carry \
        the roles of the moment they were issued: the change shows in the next refresh.\n\n\
        Exit codes: 0 done; 2 no such user, or the database cannot be used.",
    after_help = "Example:\n  tessera user set-roles alice admin user"
)]
pub(crate) struct SetRolesArgs {
    /// The username.
    name: String,
    /// The new roles.
    #[arg(value_name = "ROLE")]
    roles: Vec<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

fn set_roles(args: SetRolesArgs) -> Result<()> {
    let roles = accounts::check_roles(&args.roles)?;
    block_on(async {
        let ctx = args.config.context().await?;
        let outcome = async {
            let user = find(&ctx, &args.name).await?;
            accounts::set_roles(&*ctx.store, &user.id, &roles, Actor::Cli, ctx.clock.now()).await?;
            Ok::<_, anyhow::Error>(())
        }
        .await;
        ctx.store.close().await;
        outcome
    })?;
    output::note(&format!(
        "roles of {}: {}",
        args.name,
        if roles.is_empty() {
            "(none)".to_owned()
        } else {
            roles.join(", ")
        }
    ));
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    about = "Set a user's password (ends the user's sessions)",
    long_about = "Set a user's password, read from standard input with --password-stdin or \
        asked on the terminal. Every session of the user is revoked.\n\n\
        Exit codes: 0 done; 2 no such user, or the database cannot be used."
)]
pub(crate) struct PasswdArgs {
    /// The username.
    name: String,
    #[command(flatten)]
    password: PasswordSource,
    #[command(flatten)]
    config: ConfigArgs,
}

fn passwd(args: PasswdArgs) -> Result<()> {
    let password = args.password.read()?;
    let revoked = block_on(async {
        let ctx = args.config.context().await?;
        let outcome = async {
            let user = find(&ctx, &args.name).await?;
            let passwords = hasher(&ctx).await?;
            let now = ctx.clock.now();
            Ok::<_, anyhow::Error>(
                accounts::set_password(
                    &*ctx.store,
                    &passwords,
                    &user.id,
                    password,
                    Actor::Cli,
                    now,
                )
                .await?,
            )
        }
        .await;
        ctx.store.close().await;
        outcome
    })?;
    output::note(&format!(
        "password of {} changed; {revoked} session(s) revoked",
        args.name
    ));
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    about = "Delete a user, with their sessions and linked sign-ins",
    long_about = "Delete a user for good, in one transaction: every session (refresh token \
        family) of the user ends and its refresh tokens are refused from now on, the outside \
        identities linked to the user (\"Sign in with …\") are removed, then the user. Access \
        tokens already issued expire on their own (minutes). To keep the account but stop its \
        use, see `tessera user disable`.\n\n\
        Exit codes: 0 deleted; 2 no such user, or the database cannot be used.",
    after_help = "Example:\n  tessera user delete alice"
)]
pub(crate) struct DeleteArgs {
    /// The username.
    name: String,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, Args)]
#[command(
    about = "Rename a user (the id, the `sub` of tokens, stays)",
    long_about = "Rename a user. OLD is the stored name exactly, or any spelling of it (case, \
        width); NEW is normalised as `tessera user add` does (RFC 8265) and must be free. The \
        user's id, the `sub` of every token, does not change, nor do the sessions.\n\n\
        `tessera serve` refuses to start while two stored usernames are one name under \
        RFC 8265 (say `admin` and `ＡＤＭＩＮ`, made before these rules) and lists them: rename \
        all but one of each group, then start again.\n\n\
        Exit codes: 0 renamed; 2 no such user, an invalid or taken new name, or the database \
        cannot be used.",
    after_help = "Example:\n  tessera user rename ＡＤＭＩＮ admin-old"
)]
pub(crate) struct RenameArgs {
    /// The user's current name (as stored, or any spelling of it).
    old: String,
    /// The new name.
    new: String,
    #[command(flatten)]
    config: ConfigArgs,
}

fn delete(args: DeleteArgs) -> Result<()> {
    let deleted = block_on(async {
        let ctx = args.config.context().await?;
        let outcome = async {
            let user = find(&ctx, &args.name).await?;
            let deleted =
                accounts::delete_user(&*ctx.store, &user.id, Actor::Cli, ctx.clock.now()).await?;
            Ok::<_, anyhow::Error>(deleted)
        }
        .await;
        ctx.store.close().await;
        outcome
    })?;
    output::note(&format!(
        "deleted user {}; {} session(s) ended, {} linked identity(ies) removed",
        args.name, deleted.sessions, deleted.identities
    ));
    Ok(())
}

fn rename(args: RenameArgs) -> Result<()> {
    let user = block_on(async {
        let ctx = args.config.context().await?;
        let renamed =
            accounts::rename_user(&*ctx.store, &args.old, &args.new, ctx.clock.now()).await;
        ctx.store.close().await;
        Ok(renamed?)
    })?;
    output::note(&format!(
        "renamed user {:?} to {:?} (id {})",
        args.old, user.username, user.id
    ));
    Ok(())
}

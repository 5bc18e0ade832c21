//! `tessera user …` and `tessera client …`, the built binary against a temporary SQLite
//! configuration, checked end to end through `tessera serve` (a child process on 127.0.0.1,
//! spoken to over raw HTTP/1.1).

// Test code: a failed expectation is a panic, in the helpers as in the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use tempfile::TempDir;

/// A temporary issuer configuration: an SQLite file, small argon2 parameters, ES256 keys.
struct Setup {
    dir: TempDir,
    config: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tessera.db");
        let config = dir.path().join("tessera.toml");
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndatabase_url = \"sqlite://{}\"\n\
                 [keys]\nalgorithm = \"ES256\"\n\
                 [passwords]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
                db.display()
            ),
        )
        .unwrap();
        Self { dir, config }
    }

    /// `tessera ARGS --config FILE`, with no TESSERA_* variable from the environment.
    fn tessera(&self, args: &[&str]) -> Command {
        let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("tessera");
        for (name, _) in std::env::vars() {
            if name.starts_with("TESSERA_") {
                cmd.env_remove(name);
            }
        }
        cmd.args(args).arg("--config").arg(&self.config);
        cmd
    }

    /// `tessera serve` in the background; stopped when dropped.
    fn serve(&self) -> Server {
        let mut child = StdCommand::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("TESSERA_CONFIG")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            addr: String::new(),
        };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("tessera serve printed its address within 60 s");
        server.addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        server
    }
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// POSTs a body; returns the status and the body as JSON (Null when empty).
    fn post(&self, path: &str, content_type: &str, body: &str, auth: Option<&str>) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n{auth}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).unwrap().parse().unwrap();
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
        };
        (status, json)
    }

    fn login(&self, username: &str, password: &str) -> (u16, Value) {
        let body = json!({"username": username, "password": password}).to_string();
        self.post("/login", "application/json", &body, None)
    }

    fn refresh(&self, token: &str) -> u16 {
        let body = json!({"refresh_token": token}).to_string();
        self.post("/token/refresh", "application/json", &body, None)
            .0
    }
}

fn basic(id: &str, secret: &str) -> String {
    // Our ids (UUIDs) and secrets (base64url) need no form-encoding.
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{id}:{secret}");
    let mut out = String::new();
    for chunk in raw.as_bytes().chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

#[test]
fn users_end_to_end() {
    let setup = Setup::new();
    let added = setup
        .tessera(&[
            "user",
            "add",
            "alice",
            "--role",
            "admin",
            "--role",
            "user",
            "--password-stdin",
        ])
        .write_stdin("first password\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("added user alice"));
    let id = String::from_utf8(added.get_output().stdout.clone()).unwrap();
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    // The name is taken.
    setup
        .tessera(&["user", "add", "alice", "--password-stdin"])
        .write_stdin("another password")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a user named \"alice\" exists"));

    let listed = setup
        .tessera(&["user", "list", "--json"])
        .assert()
        .success();
    let users: Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    assert_eq!(users[0]["username"], "alice");
    assert_eq!(users[0]["id"], id.as_str());
    assert_eq!(users[0]["roles"], json!(["admin", "user"]));
    assert_eq!(users[0]["disabled"], false);
    setup
        .tessera(&["user", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("alice").and(predicate::str::contains("admin,user")));

    let server = setup.serve();
    let (status, pair) = server.login("alice", "first password");
    assert_eq!(status, 200, "{pair}");
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(server.login("alice", "wrong").0, 401);

    // New roles show in the next refresh's access token.
    setup
        .tessera(&["user", "set-roles", "alice", "auditor"])
        .assert()
        .success();
    let body = json!({"refresh_token": refresh}).to_string();
    let (status, pair) = server.post("/token/refresh", "application/json", &body, None);
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().unwrap();
    let claims = assert_cmd::cargo::cargo_bin_cmd!("tessera")
        .args(["token", "decode", access])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let claims: Value = serde_json::from_slice(&claims).unwrap();
    assert_eq!(claims["payload"]["roles"], json!(["auditor"]), "{claims}");
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();

    // Disable: no login, and the session is over.
    setup
        .tessera(&["user", "disable", "alice"])
        .assert()
        .success()
        .stderr(predicate::str::contains("1 session(s) revoked"));
    assert_eq!(server.login("alice", "first password").0, 401);
    assert_eq!(server.refresh(&refresh), 401);
    setup
        .tessera(&["user", "enable", "alice"])
        .assert()
        .success();
    let (status, pair) = server.login("alice", "first password");
    assert_eq!(status, 200);
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();

    // A new password: the old one stops working and the sessions end.
    setup
        .tessera(&["user", "passwd", "alice", "--password-stdin"])
        .write_stdin("second password\r\n")
        .assert()
        .success()
        .stderr(predicate::str::contains("1 session(s) revoked"));
    assert_eq!(server.login("alice", "first password").0, 401);
    assert_eq!(server.refresh(&refresh), 401);
    assert_eq!(server.login("alice", "second password").0, 200);

    // Unknown users.
    for args in [
        &["user", "disable", "nobody"][..],
        &["user", "enable", "nobody"][..],
        &["user", "set-roles", "nobody", "x"][..],
    ] {
        setup
            .tessera(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("no user named \"nobody\""));
    }
    setup
        .tessera(&["user", "passwd", "nobody", "--password-stdin"])
        .write_stdin("a long password")
        .assert()
        .code(2);
}

#[test]
fn passwords_come_from_stdin_or_a_terminal() {
    let setup = Setup::new();
    // Without --password-stdin, a standard input that is not a terminal is refused.
    setup
        .tessera(&["user", "add", "bob"])
        .write_stdin("secret\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--password-stdin"));
    // Empty, too long, or a bad name: usage errors, nothing created.
    setup
        .tessera(&["user", "add", "bob", "--password-stdin"])
        .write_stdin("\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty"));
    setup
        .tessera(&["user", "add", "bob", "--password-stdin"])
        .write_stdin("x".repeat(2000))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("longer than 1024"));
    setup
        .tessera(&["user", "add", " bob", "--password-stdin"])
        .write_stdin("a long password")
        .assert()
        .code(2);
    setup
        .tessera(&[
            "user",
            "add",
            "bob",
            "--role",
            "two words",
            "--password-stdin",
        ])
        .write_stdin("a long password")
        .assert()
        .code(2);
    let listed = setup
        .tessera(&["user", "list", "--json"])
        .assert()
        .success();
    let users: Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    assert_eq!(users, json!([]));
    // Only one trailing newline is dropped: the rest of the password is kept.
    setup
        .tessera(&["user", "add", "bob", "--password-stdin"])
        .write_stdin(" spaced password \n")
        .assert()
        .success();
    let server = setup.serve();
    assert_eq!(server.login("bob", " spaced password ").0, 200);
    assert_eq!(server.login("bob", "spaced password").0, 401);
}

#[test]
fn clients_end_to_end() {
    let setup = Setup::new();
    let added = setup
        .tessera(&[
            "client",
            "add",
            "reports",
            "--scope",
            "reports:read",
            "--scope",
            "reports:write",
            "--json",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("shown only this once"));
    let client: Value = serde_json::from_slice(&added.get_output().stdout).unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);
    assert_eq!(client["scopes"], json!(["reports:read", "reports:write"]));

    // The plain form: two lines.
    let plain = setup
        .tessera(&["client", "add", "web"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plain = String::from_utf8(plain).unwrap();
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines.len(), 2, "{plain}");
    assert!(lines[0].starts_with("client_id: ") && lines[1].starts_with("client_secret: "));

    // The secret is never listed, and not stored in clear.
    let listed = setup
        .tessera(&["client", "list", "--json"])
        .assert()
        .success();
    let text = String::from_utf8(listed.get_output().stdout.clone()).unwrap();
    assert!(text.contains(&id) && !text.contains(&secret));
    let db = std::fs::read(setup.dir.path().join("tessera.db")).unwrap_or_default();
    let wal = std::fs::read(setup.dir.path().join("tessera.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }

    setup
        .tessera(&["client", "add", "bad", "--scope", "two words"])
        .assert()
        .code(2);

    let server = setup.serve();
    let form = "grant_type=client_credentials&scope=reports%3Aread";
    let (status, token) = server.post(
        "/oauth2/token",
        "application/x-www-form-urlencoded",
        form,
        Some(&basic(&id, &secret)),
    );
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["scope"], "reports:read");
    let (status, error) = server.post(
        "/oauth2/token",
        "application/x-www-form-urlencoded",
        form,
        Some(&basic(&id, "wrong")),
    );
    assert_eq!(status, 401);
    assert_eq!(error["error"], "invalid_client");
}

#[test]
fn basic_header_encoding() {
    // RFC 7617 §2's example.
    assert_eq!(
        basic("Aladdin", "open sesame"),
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
}

// ---- tessera user delete (issue 9), on SQLite and PostgreSQL ----------------------------------

impl Setup {
    /// A configuration on this database (`master_key` required with PostgreSQL).
    fn on(database_url: &str, master_key: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("tessera.toml");
        let master = master_key.map_or(String::new(), |k| format!("master_key = \"{k}\"\n"));
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndatabase_url = \"{database_url}\"\n{master}\
                 [keys]\nalgorithm = \"ES256\"\n\
                 [passwords]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n"
            ),
        )
        .unwrap();
        Self { dir, config }
    }
}

/// `tessera user delete`: the user's sessions end (its refresh token is refused), it can no
/// longer log in, and its name is free again.
fn user_delete_ends_sessions_and_frees_the_name(setup: &Setup) {
    for name in ["dora", "eve"] {
        setup
            .tessera(&["user", "add", name, "--password-stdin"])
            .write_stdin("dora's password")
            .assert()
            .success();
    }
    let server = setup.serve();
    let (status, pair) = server.login("dora", "dora's password");
    assert_eq!(status, 200, "{pair}");
    let refresh = pair["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = server.login("eve", "dora's password");
    assert_eq!(status, 200);

    setup
        .tessera(&["user", "delete", "dora"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "deleted user dora; 1 session(s) ended, 0 linked identity(ies) removed",
        ));
    assert_eq!(
        server.refresh(&refresh),
        401,
        "the deleted user's refresh token"
    );
    assert_eq!(server.login("dora", "dora's password").0, 401);
    setup
        .tessera(&["user", "delete", "dora"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no user named \"dora\""));
    // Eve is untouched; the name is free again.
    let listed = setup
        .tessera(&["user", "list", "--json"])
        .assert()
        .success();
    let users: Value = serde_json::from_slice(&listed.get_output().stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["username"], "eve");
    setup
        .tessera(&["user", "add", "dora", "--password-stdin"])
        .write_stdin("a new dora")
        .assert()
        .success();
}

#[test]
fn user_delete_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    user_delete_ends_sessions_and_frees_the_name(&Setup::on(&url, None));
}

#[test]
fn user_delete_on_postgres() {
    use sqlx::Connection;
    let base = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix).unwrap();
    let schema = format!(
        "tessera_cli_{}",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut admin = rt
        .block_on(sqlx::PgConnection::connect(&base))
        .unwrap_or_else(|e| {
            panic!("PostgreSQL is not reachable ({e}): run scripts/ensure-postgres")
        });
    rt.block_on(sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut admin))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let master = tessera_server::keys::MasterKey::generate().unwrap().1;
    let outcome = std::panic::catch_unwind(|| {
        user_delete_ends_sessions_and_frees_the_name(&Setup::on(&url, Some(&master)))
    });
    rt.block_on(sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin))
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn user_delete_help_says_what_goes() {
    let out = assert_cmd::cargo::cargo_bin_cmd!("tessera")
        .args(["user", "delete", "--help"])
        .assert()
        .success();
    let help = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for needle in [
        "session",
        "refresh tokens",
        "identities",
        "tessera user delete alice",
    ] {
        assert!(help.contains(needle), "{needle} missing from\n{help}");
    }
}

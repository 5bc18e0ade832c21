//! `tessera user add` and `tessera user rename` under RFC 8265, and `tessera serve` refusing
//! to start while stored usernames collide — the built binary on a temporary SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use predicates::prelude::*;
use sqlx::Connection;
use tempfile::TempDir;

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

    fn tessera(&self, args: &[&str]) -> Command {
        let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("tessera");
        for (name, _) in std::env::vars() {
            if name.starts_with("TESSERA_") {
                cmd.env_remove(name);
            }
        }
        cmd.args(args)
            .arg("--config")
            .arg(&self.config)
            .current_dir(self.dir.path());
        cmd
    }

    fn add(&self, name: &str) -> assert_cmd::assert::Assert {
        self.tessera(&["user", "add", name, "--password-stdin"])
            .write_stdin("pw")
            .assert()
    }

    /// A row as an older tessera stored it, with no rule applied.
    fn insert_raw(&self, name: &str) {
        let url = format!("sqlite://{}", self.dir.path().join("tessera.db").display());
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, roles, disabled, created_at, \
                 updated_at) VALUES ($1, $2, NULL, '[]', FALSE, 0, 0)",
            )
            .bind(format!("raw-{}", name.len()))
            .bind(name)
            .execute(&mut conn)
            .await
            .unwrap();
        });
    }

    /// Whether `tessera serve` gets as far as listening (then it is stopped).
    fn serve_starts(&self) -> Result<(), String> {
        let mut child = StdCommand::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("TESSERA_CONFIG")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let first = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .next()
            .and_then(Result::ok);
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        match first {
            Some(line) if line.starts_with("listening on ") => Ok(()),
            _ => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        }
    }
}

/// Regression (issue 9): the review's look-alikes of `admin` are refused (exit 2, a clear
/// message naming the character) or found taken; ordinary names keep working.
#[test]
fn user_add_refuses_look_alikes() {
    let setup = Setup::new();
    setup
        .add("admin")
        .success()
        .stderr(predicate::str::contains("added user admin"));
    for (bad, shown) in [("\u{202e}admin", "U+202E"), ("admin\u{200b}", "U+200B")] {
        setup
            .add(bad)
            .code(2)
            .stderr(
                predicate::str::contains("invalid username").and(predicate::str::contains(shown)),
            )
            .stderr(predicate::str::contains(bad).not());
    }
    setup
        .add("ａｄｍｉｎ")
        .code(2)
        .stderr(predicate::str::contains("a user named \"admin\" exists"));
    // Ordinary and e-mail-shaped names, stored in their normal form.
    setup.add("bob").success();
    setup
        .add("Carol@Example.com")
        .success()
        .stderr(predicate::str::contains("added user carol@example.com"));
    // Other commands find a user by any spelling.
    setup
        .tessera(&["user", "disable", "BOB"])
        .assert()
        .success();
}

/// Names stored before the rules that collide once normalised stop `tessera serve`, which
/// lists them; `tessera user rename` resolves it, the id staying.
#[test]
fn serve_stops_on_collisions_until_user_rename() {
    let setup = Setup::new();
    setup.add("admin").success();
    setup.insert_raw("ＡＤＭＩＮ");
    let err = setup.serve_starts().unwrap_err();
    assert!(
        err.contains("\"admin\"") && err.contains("\"ＡＤＭＩＮ\""),
        "{err}"
    );
    assert!(err.contains("tessera user rename OLD NEW"), "{err}");

    setup
        .tessera(&["user", "rename", "ＡＤＭＩＮ", "admin"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("taken"));
    setup
        .tessera(&["user", "rename", "ＡＤＭＩＮ", "Admin-Old"])
        .assert()
        .success()
        .stderr(predicate::str::contains("\"admin-old\"").and(predicate::str::contains("raw-")));
    setup.serve_starts().unwrap();
    setup
        .tessera(&["user", "rename", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("RFC 8265"));
}

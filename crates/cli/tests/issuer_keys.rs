//! `tessera master-key generate|rotate` and `tessera key revoke`, the built binary against a
//! temporary SQLite configuration; revocation checked through a running `tessera serve` (a
//! child process on 127.0.0.1, spoken to over raw HTTP/1.1).

// Test code: a failed expectation is a panic, in the helpers as in the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use tempfile::TempDir;

/// A temporary issuer configuration: an SQLite file, small argon2 parameters, ES256 keys,
/// keys re-read every second.
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
                 [keys]\nalgorithm = \"ES256\"\nrefresh_interval = \"1s\"\n\
                 [passwords]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n",
                db.display()
            ),
        )
        .unwrap();
        Self { dir, config }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `tessera ARGS --config FILE`, with no TESSERA_* variable from the environment.
    fn tessera(&self, args: &[&str]) -> Command {
        let mut cmd = bare();
        cmd.args(args).arg("--config").arg(&self.config);
        cmd
    }

    fn keys(&self) -> Vec<Value> {
        let out = self.tessera(&["key", "list", "--json"]).assert().success();
        let keys: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        keys.as_array().unwrap().clone()
    }

    fn kid_in(&self, state: &str) -> String {
        let keys = self.keys();
        let key = keys.iter().find(|k| k["state"] == state);
        key.unwrap_or_else(|| panic!("no {state} key: {keys:?}"))["kid"]
            .as_str()
            .unwrap()
            .to_owned()
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
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("tessera serve printed its address within 60 s");
        let addr = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server { child, addr }
    }
}

/// `tessera` with no TESSERA_* variable from the environment.
fn bare() -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("tessera");
    for (name, _) in std::env::vars() {
        if name.starts_with("TESSERA_") {
            cmd.env_remove(name);
        }
    }
    cmd
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
    /// One request; the status and the body.
    fn request(&self, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let auth = auth.map_or(String::new(), |a| format!("Authorization: Bearer {a}\r\n"));
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{auth}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).unwrap().parse().unwrap();
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        (status, body.to_owned())
    }

    fn jwks_kids(&self) -> Vec<String> {
        let (status, body) = self.request("GET", "/.well-known/jwks.json", None, "");
        assert_eq!(status, 200, "{body}");
        let jwks: Value = serde_json::from_str(&body).unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn is_master_key(text: &str) -> bool {
    let text = text.trim_end_matches('\n');
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn master_key_generate_writes_a_new_0600_file_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    bare()
        .args(["master-key", "generate", "--out"])
        .arg(&path)
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("mode 0600"));
    let key = std::fs::read_to_string(&path).unwrap();
    assert!(is_master_key(&key), "{key:?}");
    assert_eq!(mode(&path), 0o600);
    // Never overwritten.
    bare()
        .args(["master-key", "generate", "--out"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key);
    // On stdout: a different key each time.
    let printed = |_: ()| {
        let out = bare().args(["master-key", "generate"]).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let (one, two) = (printed(()), printed(()));
    assert!(is_master_key(&one) && is_master_key(&two), "{one:?}");
    assert_ne!(one, two);
    assert_ne!(one, key);
    bare()
        .args(["master-key", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("generate").and(predicate::str::contains("rotate")));
}

#[test]
fn postgres_without_a_master_key_names_the_generate_command() {
    bare()
        .args(["key", "list"])
        .env("TESSERA_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tessera master-key generate --out FILE",
        ));
}

#[test]
fn master_key_rotate_reseals_every_key_and_is_idempotent() {
    let setup = Setup::new();
    // A first key (and the default master key file beside the database), and a next one.
    setup.tessera(&["key", "rotate"]).assert().success();
    setup.tessera(&["key", "rotate"]).assert().success();
    assert_eq!(setup.keys().len(), 2);
    let old = setup.path("tessera.db.master-key");
    let new = setup.path("new.key");
    bare()
        .args(["master-key", "generate", "--out"])
        .arg(&new)
        .assert()
        .success();
    let rotate = |previous: Option<&Path>| {
        let mut cmd = setup.tessera(&["master-key", "rotate"]);
        cmd.env("TESSERA_MASTER_KEY_FILE", &new);
        if let Some(previous) = previous {
            cmd.env("TESSERA_PREVIOUS_MASTER_KEYS", previous);
        }
        cmd
    };
    // Without the previous master key nothing can be read: exit 2, the keys listed, nothing
    // changed.
    rotate(None)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("2 signing key(s) are not sealed"));
    rotate(Some(&old))
        .assert()
        .success()
        .stdout(predicate::str::contains("(2 resealed now)"));
    rotate(Some(&old))
        .assert()
        .success()
        .stdout(predicate::str::contains("(0 resealed now)"));
    // The previous key dropped: everything is readable with the new one alone.
    rotate(None)
        .assert()
        .success()
        .stdout(predicate::str::contains("(0 resealed now)"));
}

#[test]
fn key_revoke_withdraws_a_key_from_a_running_issuer() {
    let setup = Setup::new();
    setup
        .tessera(&["user", "add", "alice", "--password-stdin"])
        .write_stdin("correct horse battery staple\n")
        .assert()
        .success();
    let server = setup.serve();
    let (status, body) = server.request(
        "POST",
        "/login",
        None,
        &json!({"username": "alice", "password": "correct horse battery staple"}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let login: Value = serde_json::from_str(&body).unwrap();
    let access = login["access_token"].as_str().unwrap();
    let kid = setup.kid_in("active");
    assert_eq!(server.request("GET", "/userinfo", Some(access), "").0, 200);
    assert!(server.jwks_kids().contains(&kid));

    setup
        .tessera(&["key", "revoke", &kid])
        .assert()
        .success()
        .stdout(
            predicate::str::contains(format!("revoked key {kid} (was active)"))
                .and(predicate::str::contains("active key: ")),
        )
        .stderr(predicate::str::contains("verifiers that cached the JWKS"));
    let successor = setup.kid_in("active");
    assert_ne!(successor, kid);
    assert_eq!(setup.kid_in("revoked"), kid);

    // The running issuer drops it within its key refresh interval (1 s here).
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.jwks_kids().contains(&kid) {
        assert!(Instant::now() < deadline, "the key stayed in the JWKS");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(server.jwks_kids().contains(&successor));
    assert_eq!(server.request("GET", "/userinfo", Some(access), "").0, 401);
    // And signs with the successor.
    let refresh = login["refresh_token"].as_str().unwrap();
    let (status, body) = server.request(
        "POST",
        "/token/refresh",
        None,
        &json!({ "refresh_token": refresh }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let fresh: Value = serde_json::from_str(&body).unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(server.request("GET", "/userinfo", Some(fresh), "").0, 200);

    setup
        .tessera(&["key", "revoke", &kid])
        .assert()
        .success()
        .stdout(predicate::str::contains("already revoked"));
    setup
        .tessera(&["key", "revoke", "no-such-kid"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not found"));
    setup
        .tessera(&["key", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("revoked"));
}

//! `tessera serve` as a real process: the first run, and crash safety — the process is killed
//! with SIGKILL at random moments while it rotates its keys every few seconds (4096-bit RSA,
//! so that key generation takes a while), then restarted: no key is lost, there is always one
//! active key that decrypts, and the JWKS it serves matches the key table. On SQLite (a file,
//! with the master key file made on first run) and PostgreSQL (a schema of its own).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection;
use tessera_jwt::Clock;

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// Environment of a fast-rotating issuer on `database_url`.
fn env(database_url: &str, master_key: Option<&str>) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("TESSERA_DATABASE_URL", database_url),
        ("TESSERA_LISTEN", "127.0.0.1:0"),
        ("TESSERA_KEYS__ALGORITHM", "RS256"),
        ("TESSERA_KEYS__RSA_BITS", "4096"),
        ("TESSERA_KEYS__JWKS_MAX_AGE", "1s"),
        ("TESSERA_KEYS__PUBLISH_LEAD", "2s"),
        ("TESSERA_KEYS__REFRESH_INTERVAL", "1s"),
        ("TESSERA_KEYS__ROTATION_PERIOD", "4s"),
        ("TESSERA_KEYS__RETIRE_LEEWAY", "0s"),
        // Longer than a 4096-bit key generation takes on a busy 2-core machine (it can take
        // several seconds): a holder whose work outlasts its lease is fenced and its step
        // discarded, so a short lease would stall rotation under load, not test it.
        ("TESSERA_KEYS__LOCK_TTL", "15s"),
        ("TESSERA_TOKENS__ACCESS_TTL", "2s"),
        ("RUST_LOG", "info"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(key) = master_key {
        vars.push(("TESSERA_MASTER_KEY".into(), key.into()));
    }
    vars
}

struct Issuer {
    child: Child,
    addr: String,
}

fn start(dir: &Path, vars: &[(String, String)], run: usize) -> Issuer {
    let log = std::fs::File::create(dir.join(format!("serve-{run}.log"))).unwrap();
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .envs(vars.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "run {run}: no listen address; log:\n{}",
                std::fs::read_to_string(dir.join(format!("serve-{run}.log"))).unwrap_or_default()
            )
        });
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    Issuer { child, addr }
}

/// `tessera key list --json`, with the same environment.
fn key_list(dir: &Path, vars: &[(String, String)]) -> Vec<Value> {
    let out = Command::new(BIN)
        .args(["key", "list", "--json"])
        .current_dir(dir)
        .envs(vars.iter().cloned())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn kids(list: &[Value]) -> BTreeMap<String, Value> {
    list.iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), k.clone()))
        .collect()
}

fn count(list: &[Value], state: &str) -> usize {
    list.iter().filter(|k| k["state"] == state).count()
}

fn now() -> i64 {
    tessera_jwt::SystemClock.now()
}

fn random_below(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes) % n
}

fn http_get(url: &str) -> Option<(u16, Value)> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let response = reqwest::Client::builder()
                .no_proxy()
                .build()
                .ok()?
                .get(url)
                .send()
                .await
                .ok()?;
            let status = response.status().as_u16();
            Some((status, response.json().await.ok()?))
        })
}

/// The key table's invariants, and its agreement with the JWKS the issuer serves.
fn check_consistent(dir: &Path, vars: &[(String, String)], issuer: &Issuer, run: usize) {
    let list = key_list(dir, vars);
    assert_eq!(count(&list, "active"), 1, "run {run}: {list:?}");
    assert!(count(&list, "next") <= 1, "run {run}: {list:?}");
    let (status, _) = http_get(&format!("{}/readyz", issuer.addr)).unwrap();
    assert_eq!(status, 200, "run {run}: not ready");
    // The JWKS equals the key table once the issuer has re-read it (every second).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, jwks) = http_get(&format!("{}/.well-known/jwks.json", issuer.addr)).unwrap();
        assert_eq!(status, 200);
        let published: BTreeSet<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        let stored: BTreeSet<String> = kids(&key_list(dir, vars)).into_keys().collect();
        if published == stored {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "run {run}: JWKS {published:?} vs table {stored:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn crash_and_restart(dir: &Path, vars: &[(String, String)]) {
    let mut issuer = start(dir, vars, 0);
    check_consistent(dir, vars, &issuer, 0);
    let mut seen = BTreeSet::new();
    let mut activated = BTreeSet::new();
    for run in 1..=6 {
        std::thread::sleep(Duration::from_millis(1_000 + random_below(3_000)));
        let before = key_list(dir, vars);
        issuer.child.kill().unwrap(); // SIGKILL
        issuer.child.wait().unwrap();
        let after = key_list(dir, vars);
        // No key lost: every key there before the kill is still there, unless it was retired
        // and past its deletion time (the issuer may have deleted it before dying).
        let after_kids = kids(&after);
        for (kid, key) in kids(&before) {
            let deletable = key["state"] == "retired"
                && key["delete_after"].as_i64().is_some_and(|t| t <= now());
            assert!(
                after_kids.contains_key(&kid) || deletable,
                "run {run}: key {kid} lost: {before:?} → {after:?}"
            );
        }
        assert_eq!(count(&after, "active"), 1, "run {run}: {after:?}");
        assert!(count(&after, "next") <= 1, "run {run}: {after:?}");
        for key in &after {
            seen.insert(key["kid"].as_str().unwrap().to_owned());
            if key["activated_at"].is_i64() {
                activated.insert(key["kid"].as_str().unwrap().to_owned());
            }
        }
        // Restarted: it decrypts its active key, is ready, and serves the table's keys.
        issuer = start(dir, vars, run);
        check_consistent(dir, vars, &issuer, run);
    }
    // Rotation goes on after the crashes (a lease left by a killed holder lapses, within the
    // lock TTL).
    let deadline = Instant::now() + Duration::from_secs(90);
    while activated.len() < 3 {
        assert!(
            Instant::now() < deadline,
            "keys rotated during the test: {activated:?} (seen {seen:?})"
        );
        std::thread::sleep(Duration::from_millis(500));
        for key in key_list(dir, vars) {
            if key["activated_at"].is_i64() {
                activated.insert(key["kid"].as_str().unwrap().to_owned());
            }
        }
    }
    check_consistent(dir, vars, &issuer, 7);
    issuer.child.kill().unwrap();
    issuer.child.wait().unwrap();
}

#[test]
fn sqlite_survives_sigkill_during_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let vars = env(&url, None);
    crash_and_restart(dir.path(), &vars);
    assert!(dir.path().join("tessera.db.master-key").exists());
}

#[test]
fn postgres_survives_sigkill_during_rotation() {
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
    let vars = env(&url, Some(&master));
    let dir = tempfile::tempdir().unwrap();
    let outcome = std::panic::catch_unwind(|| crash_and_restart(dir.path(), &vars));
    rt.block_on(sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut admin))
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn serve_help_lists_every_key_and_variable() {
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for key in tessera_server::config::KEYS {
        assert!(help.contains(key.key), "{} missing from --help", key.key);
        assert!(
            help.contains(&key.env()),
            "{} missing from --help",
            key.env()
        );
    }
}

#[test]
fn first_run_without_configuration_then_key_rotation_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![("TESSERA_LISTEN".to_owned(), "127.0.0.1:0".to_owned())];
    let log = dir.path().join("serve-0.log");
    let issuer = start(dir.path(), &vars, 0);
    assert!(
        issuer.addr.starts_with("http://127.0.0.1:"),
        "{}",
        issuer.addr
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("created the SQLite database tessera.db"),
        "{stderr}"
    );
    assert!(
        stderr.contains("created the master key tessera.db.master-key"),
        "{stderr}"
    );
    assert!(stderr.contains("back it up"), "{stderr}");
    assert!(stderr.contains("created the first signing key"), "{stderr}");
    assert!(dir.path().join("tessera.db").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tessera.db.master-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (status, jwks) = http_get(&format!("{}/.well-known/jwks.json", issuer.addr)).unwrap();
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);

    // `key rotate`: a next key, published by the running issuer within its refresh interval.
    let rotate = |now: bool| {
        let mut args = vec!["key", "rotate"];
        if now {
            args.push("--now");
        }
        let out = Command::new(BIN)
            .args(&args)
            .current_dir(dir.path())
            .envs(vars.iter().cloned())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (stdout, stderr) = rotate(false);
    assert!(stdout.contains("next key published"), "{stdout}");
    assert!(stderr.contains("created next key"), "{stderr}");
    let list = key_list(dir.path(), &vars);
    assert_eq!((count(&list, "active"), count(&list, "next")), (1, 1));
    let deadline = Instant::now() + Duration::from_secs(15);
    while http_get(&format!("{}/.well-known/jwks.json", issuer.addr))
        .unwrap()
        .1["keys"]
        .as_array()
        .unwrap()
        .len()
        != 2
    {
        assert!(
            Instant::now() < deadline,
            "the running issuer did not publish the next key"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `--now`: it signs at once, with a warning about caches.
    let (stdout, stderr) = rotate(true);
    assert!(stdout.starts_with("active key: "), "{stdout}");
    assert!(
        stderr.contains("verifiers that cached the JWKS"),
        "{stderr}"
    );
    let list = key_list(dir.path(), &vars);
    assert_eq!(
        (
            count(&list, "active"),
            count(&list, "next"),
            count(&list, "retired")
        ),
        (1, 0, 1)
    );

    // SIGTERM: a clean exit.
    let mut child = issuer.child;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "{exit:?}: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("shutting down")
    );
}

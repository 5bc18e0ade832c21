//! Logs: a request's log lines name its method and path, never a token, password or cookie,
//! even at the most verbose level; what a token says is escaped, so it cannot forge a line.
//!
//! Alone in its test binary, not a module of `tests/server`: these tests read the logs through
//! a subscriber of their own (`set_default`, at TRACE), and tracing caches, per process and
//! for all subscribers together, which call sites are enabled. Other tests running meanwhile
//! without a subscriber, or under the harness's global one at `warn`, could leave the call
//! sites these tests look for disabled, and their lines unwritten. It shares the harness's
//! issuer builder.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use tessera_server::keys::MasterKey;
use tessera_server::store;

#[path = "server/harness/mod.rs"]
#[allow(dead_code)]
mod harness;

use harness::issuer::{Issuer, StartKeys};

/// Log lines of everything, at the most verbose level, collected in memory.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The issuer's router on a fresh SQLite file in `dir` (kept by the caller while it runs).
async fn app(dir: &tempfile::TempDir) -> axum::Router {
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let store = store::connect(&url).await.unwrap();
    let (state, _clock) = Issuer::builder(store)
        .only_toml("")
        .master_key(MasterKey::generate().unwrap().0)
        .keys(StartKeys::Init)
        .state()
        .await;
    tessera_server::app::router(state)
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(flavor = "current_thread")]
async fn request_logs_hold_no_token_or_credentials() {
    use tower::ServiceExt;
    let (captured, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    for uri in [
        "/userinfo?access_token=SECRET-TOKEN-1",
        "/nope?password=SECRET-PASSWORD-2",
    ] {
        let request = axum::http::Request::get(uri)
            .header("authorization", "Bearer SECRET-TOKEN-3")
            .header("cookie", "session=SECRET-COOKIE-4")
            .body(axum::body::Body::empty())
            .unwrap();
        app.clone().oneshot(request).await.unwrap();
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("/nope"), "the requests were logged: {logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
}

/// Regression (review finding 4): the token header's `alg` (like `kid`, `typ`, `crit` names)
/// was copied raw into the rejection that is logged, so a newline in it forged a log line.
#[tokio::test(flavor = "current_thread")]
async fn a_newline_in_a_token_header_cannot_forge_a_log_line() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use tower::ServiceExt;
    let (captured, _guard) = capture();
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let header = serde_json::json!({
        "alg": "RS256\n2026-01-01T00:00:00Z  INFO forged: admin signed in\r\u{202e}",
        "typ": "at+jwt",
        "kid": "k\n1",
    });
    let token = format!(
        "{}.{}.AAAA",
        B64.encode(header.to_string()),
        B64.encode(r#"{"iss":"http://127.0.0.1:7070","sub":"x"}"#)
    );
    let request = axum::http::Request::get("/userinfo")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = app.oneshot(request).await.unwrap();
    assert_eq!(answer.status(), 401);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("RS256\\n2026-01-01T00:00:00Z  INFO forged"),
        "the rejection, escaped, is logged: {logs}"
    );
    for line in logs.lines() {
        assert!(
            !line.starts_with("2026-01-01"),
            "a forged log line: {line:?}\n{logs}"
        );
        assert!(
            !line.contains('\r') && !line.contains('\u{202e}'),
            "{line:?}"
        );
    }
}

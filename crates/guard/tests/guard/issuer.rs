//! A real issuer on 127.0.0.1 under the test's control: it serves a JWKS (and a discovery
//! document), rotates keys, goes down and comes back, serves garbage or oversized bodies, and
//! counts its requests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tessera_jwt::{Algorithm, Header, JwkSet, SigningKey};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The verifier's clock in these tests: every token is judged at this time.
pub(crate) const NOW: i64 = 1_800_000_000;
/// The audience of the test tokens.
pub(crate) const AUD: &str = "orders";

/// What the JWKS endpoint answers.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    /// The public JWKS of the current keys.
    Normal,
    /// Bytes that are not JSON.
    Garbage,
    /// Valid JSON, but a JWKS whose only key cannot verify (an encryption key).
    NoUsableKey,
    /// A body of this many bytes, streamed without Content-Length.
    OversizedStream(usize),
    /// A body of this many bytes, with Content-Length.
    OversizedLength(usize),
    /// This status, empty body.
    Status(u16),
}

#[derive(Debug)]
struct Shared {
    base: String,
    keys: Mutex<Vec<SigningKey>>,
    mode: Mutex<Mode>,
    delay: Mutex<Duration>,
    cache_control: Mutex<Option<String>>,
    discovery_issuer: Mutex<Option<String>>,
    discovery_jwks_uri: Mutex<Option<String>>,
    redirect_to: Mutex<String>,
    jwks_requests: AtomicUsize,
    not_modified: AtomicUsize,
    discovery_requests: AtomicUsize,
}

/// The issuer. `base` is `http://127.0.0.1:PORT`, also its `iss`.
#[derive(Debug)]
pub(crate) struct TestIssuer {
    pub(crate) addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TestIssuer {
    /// An issuer with one ES256 key, kid "k1", listening.
    pub(crate) async fn start() -> TestIssuer {
        Self::start_with(vec![new_key("k1")]).await
    }

    pub(crate) async fn start_with(keys: Vec<SigningKey>) -> TestIssuer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let shared = Arc::new(Shared {
            redirect_to: Mutex::new(format!("{base}/jwks")),
            base,
            keys: Mutex::new(keys),
            mode: Mutex::new(Mode::Normal),
            delay: Mutex::new(Duration::ZERO),
            cache_control: Mutex::new(Some("public, max-age=3600".into())),
            discovery_issuer: Mutex::new(None),
            discovery_jwks_uri: Mutex::new(None),
            jwks_requests: AtomicUsize::new(0),
            not_modified: AtomicUsize::new(0),
            discovery_requests: AtomicUsize::new(0),
        });
        let issuer = TestIssuer {
            addr,
            shared,
            server: Mutex::new(None),
        };
        issuer.serve(listener);
        issuer
    }

    fn serve(&self, listener: TcpListener) {
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/redirect", get(redirect))
            .with_state(self.shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        *lock(&self.server) = Some((tx, task));
    }

    /// Stops listening (and closes its connections).
    pub(crate) async fn stop(&self) {
        let server = lock(&self.server).take();
        if let Some((tx, task)) = server {
            let _ = tx.send(());
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Listens again on the same address.
    pub(crate) async fn restart(&self) {
        let mut listener = None;
        // The port may linger briefly after the stop; bounded retries.
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        self.serve(listener.expect("could not listen again on the issuer's port"));
    }

    pub(crate) fn base(&self) -> String {
        self.shared.base.clone()
    }

    pub(crate) fn jwks_url(&self) -> String {
        format!("{}/jwks", self.shared.base)
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *lock(&self.shared.mode) = mode;
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        *lock(&self.shared.delay) = delay;
    }

    pub(crate) fn set_cache_control(&self, value: Option<&str>) {
        *lock(&self.shared.cache_control) = value.map(str::to_owned);
    }

    pub(crate) fn set_discovery_issuer(&self, issuer: &str) {
        *lock(&self.shared.discovery_issuer) = Some(issuer.to_owned());
    }

    pub(crate) fn set_discovery_jwks_uri(&self, uri: &str) {
        *lock(&self.shared.discovery_jwks_uri) = Some(uri.to_owned());
    }

    pub(crate) fn set_redirect(&self, location: &str) {
        *lock(&self.shared.redirect_to) = location.to_owned();
    }

    /// Publishes another key (a rotation's `next` key).
    pub(crate) fn add_key(&self, key: SigningKey) {
        lock(&self.shared.keys).push(key);
    }

    /// Withdraws every key but the newest.
    pub(crate) fn retire_old_keys(&self) {
        let mut keys = lock(&self.shared.keys);
        let n = keys.len();
        keys.drain(..n.saturating_sub(1));
    }

    pub(crate) fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(Ordering::SeqCst)
    }

    pub(crate) fn not_modified(&self) -> usize {
        self.shared.not_modified.load(Ordering::SeqCst)
    }

    pub(crate) fn discovery_requests(&self) -> usize {
        self.shared.discovery_requests.load(Ordering::SeqCst)
    }

    /// A token signed with the key of this `kid`, with standard claims (iss = base, aud,
    /// exp = NOW + 600) and `extra` merged over them (a `null` removes a claim).
    pub(crate) fn token(&self, kid: &str, extra: Value) -> String {
        let keys = lock(&self.shared.keys);
        let key = keys
            .iter()
            .find(|k| k.kid() == Some(kid))
            .unwrap_or_else(|| panic!("no key {kid}"));
        sign(key, &self.shared.base, extra)
    }
}

/// A fresh ES256 key.
pub(crate) fn new_key(kid: &str) -> SigningKey {
    SigningKey::generate(Algorithm::ES256)
        .unwrap()
        .with_kid(kid)
}

/// Signs the standard claims for `iss`, with `extra` merged over them.
pub(crate) fn sign(key: &SigningKey, iss: &str, extra: Value) -> String {
    let mut claims = json!({
        "iss": iss, "sub": "alice", "aud": AUD,
        "exp": NOW + 600, "iat": NOW - 10, "roles": ["reader"], "scope": "orders:read profile",
    });
    if let (Some(c), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(&k);
            } else {
                c.insert(k, v);
            }
        }
    }
    tessera_jwt::encode(key, &Header::for_key(key).with_typ("at+jwt"), &claims).unwrap()
}

fn public_jwks(keys: &[SigningKey]) -> String {
    JwkSet::new(keys.iter().map(|k| k.public_jwk().unwrap()).collect())
        .to_json()
        .unwrap()
}

async fn jwks(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.jwks_requests.fetch_add(1, Ordering::SeqCst);
    let delay = *lock(&s.delay);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mode = lock(&s.mode).clone();
    let cache_control = lock(&s.cache_control).clone();
    let mut response = match mode {
        Mode::Normal => {
            let body = public_jwks(&lock(&s.keys));
            let etag = format!("\"{:x}\"", fnv(body.as_bytes()));
            let matches = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v == etag);
            if matches {
                s.not_modified.fetch_add(1, Ordering::SeqCst);
                let mut r = StatusCode::NOT_MODIFIED.into_response();
                r.headers_mut().insert(header::ETAG, etag.parse().unwrap());
                r
            } else {
                let mut r =
                    ([(header::CONTENT_TYPE, "application/jwk-set+json")], body).into_response();
                r.headers_mut().insert(header::ETAG, etag.parse().unwrap());
                r
            }
        }
        Mode::Garbage => "<html>this is not a JWKS</html>".into_response(),
        Mode::NoUsableKey => {
            let mut jwk = new_key("enc").public_jwk().unwrap();
            jwk.use_ = Some("enc".into());
            jwk.alg = None;
            JwkSet::new(vec![jwk]).to_json().unwrap().into_response()
        }
        Mode::OversizedStream(n) => {
            let chunk = Bytes::from(vec![b' '; 8192]);
            let chunks = n.div_ceil(8192);
            let stream = futures_util::stream::iter(
                (0..chunks).map(move |_| Ok::<_, Infallible>(chunk.clone())),
            );
            Body::from_stream(stream).into_response()
        }
        Mode::OversizedLength(n) => {
            let mut body = String::from("{\"keys\":[]");
            body.push_str(&" ".repeat(n));
            body.push('}');
            body.into_response()
        }
        Mode::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
    };
    if let Some(cc) = cache_control {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, cc.parse().unwrap());
    }
    response
}

async fn discovery(State(s): State<Arc<Shared>>) -> Response {
    s.discovery_requests.fetch_add(1, Ordering::SeqCst);
    let issuer = lock(&s.discovery_issuer)
        .clone()
        .unwrap_or_else(|| s.base.clone());
    let jwks_uri = lock(&s.discovery_jwks_uri)
        .clone()
        .unwrap_or_else(|| format!("{}/jwks", s.base));
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

async fn redirect(State(s): State<Arc<Shared>>) -> Response {
    let to = lock(&s.redirect_to).clone();
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// FNV-1a: a stable ETag of the body (not security relevant).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

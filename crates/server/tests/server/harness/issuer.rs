//! An issuer served on 127.0.0.1 (port 0) over a real store, with a fixed clock, small
//! argon2 parameters and an ES256 key, and a client to talk to it; [`IssuerBuilder`] for the
//! tests that need another configuration, clock, master key or address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;
use tessera_jwt::{Clock, FixedClock, SystemClock};
use tessera_server::auth::client_secret::NewClientSecret;
use tessera_server::config::Config;
use tessera_server::keys::{KeyManager, MasterKey, MasterKeyRing, RotationPolicy};
use tessera_server::metrics::Metrics;
use tessera_server::serve::Server;
use tessera_server::state::AppState;
use tessera_server::store::{NewClient, NewUser, Store, User};

pub(crate) const NOW: i64 = 1_800_000_000;
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Small argon2 parameters (speed) and an ES256 key (fast to make).
pub(crate) const BASE_TOML: &str = r#"
[keys]
algorithm = "ES256"
[passwords]
memory_kib = 64
iterations = 1
parallelism = 1
"#;

pub(crate) struct Issuer {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) state: AppState,
    pub(crate) clock: Arc<FixedClock>,
    server: Option<Server>,
}

/// The keys an issuer has when it starts.
#[derive(Clone, Copy)]
pub(crate) enum StartKeys {
    /// `KeyManager::init`: the first signing key is made if there is none (the default).
    Init,
    /// `KeyManager::reload`, its outcome ignored: whatever the store holds and the master key
    /// opens.
    Reload,
    /// None loaded.
    None,
}

/// How to build an [`Issuer`]: by default the base configuration, a fixed clock at [`NOW`],
/// the tests' master key, keys initialised, served on a free port of 127.0.0.1.
pub(crate) struct IssuerBuilder {
    store: Arc<dyn Store>,
    toml: String,
    env: Vec<(String, String)>,
    master: Option<MasterKey>,
    system_clock: bool,
    keys: StartKeys,
    listen: SocketAddr,
}

impl IssuerBuilder {
    /// More TOML after the configuration so far.
    pub(crate) fn toml(mut self, extra_toml: &str) -> Self {
        self.toml = format!("{}\n{extra_toml}", self.toml);
        self
    }

    /// This TOML instead of the base configuration (and of any added so far).
    pub(crate) fn only_toml(mut self, toml: &str) -> Self {
        self.toml = toml.to_owned();
        self
    }

    /// These `TESSERA_*` variables, which win over the file, as in production.
    pub(crate) fn env(mut self, env: &[(&str, &str)]) -> Self {
        self.env = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self
    }

    /// This master key instead of the tests' one.
    pub(crate) fn master_key(mut self, master: MasterKey) -> Self {
        self.master = Some(master);
        self
    }

    /// The system clock instead of the fixed one ([`Issuer::clock`] then drives nothing).
    pub(crate) fn system_clock(mut self) -> Self {
        self.system_clock = true;
        self
    }

    pub(crate) fn keys(mut self, keys: StartKeys) -> Self {
        self.keys = keys;
        self
    }

    /// Serves on this address instead of a free port of 127.0.0.1.
    pub(crate) fn listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// The issuer's state, not served, and its fixed clock.
    pub(crate) async fn state(self) -> (AppState, Arc<FixedClock>) {
        let config = Config::from_toml_and_env(
            &self.toml,
            self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .expect("test configuration");
        let clock = Arc::new(FixedClock::new(NOW));
        let dyn_clock: Arc<dyn Clock> = if self.system_clock {
            Arc::new(SystemClock)
        } else {
            clock.clone()
        };
        let metrics = Metrics::new();
        // One master key for every test by default, so that a second issuer on the same
        // database reads the keys the first one made.
        let master = match self.master {
            Some(master) => master,
            None => MasterKey::from_bytes(&[7u8; 32]).unwrap(),
        };
        let keys = Arc::new(KeyManager::new(
            self.store.clone(),
            dyn_clock.clone(),
            Arc::new(MasterKeyRing::new(master, Vec::new())),
            RotationPolicy::from_config(&config),
            metrics.clone(),
        ));
        match self.keys {
            StartKeys::Init => {
                keys.init().await.unwrap();
            }
            StartKeys::Reload => {
                let _ = keys.reload().await;
            }
            StartKeys::None => {}
        }
        let state = AppState::new(Arc::new(config), self.store, dyn_clock, keys, metrics);
        (state, clock)
    }

    /// The issuer, served.
    pub(crate) async fn start(self) -> Issuer {
        let listen = self.listen;
        let (state, clock) = self.state().await;
        let server = Server::start(state.clone(), listen).await.unwrap();
        let base = format!("http://{}", server.local_addr());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Issuer {
            base,
            http,
            state,
            clock,
            server: Some(server),
        }
    }
}

impl Issuer {
    /// How to build an issuer on `store`; see [`IssuerBuilder`].
    pub(crate) fn builder(store: Arc<dyn Store>) -> IssuerBuilder {
        IssuerBuilder {
            store,
            toml: BASE_TOML.to_owned(),
            env: Vec::new(),
            master: None,
            system_clock: false,
            keys: StartKeys::Init,
            listen: "127.0.0.1:0".parse().unwrap(),
        }
    }

    /// An issuer on `store` with the base configuration, overridden by these
    /// `TESSERA_*` variables (which win over the file, as in production).
    pub(crate) async fn start(store: Arc<dyn Store>, env: &[(&str, &str)]) -> Self {
        Self::builder(store).env(env).start().await
    }

    /// As [`Issuer::start`], with more TOML after the base configuration.
    pub(crate) async fn start_with_toml(
        store: Arc<dyn Store>,
        extra_toml: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::builder(store).toml(extra_toml).env(env).start().await
    }

    /// The address it serves on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").local_addr()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }

    /// A user with this password and roles.
    pub(crate) async fn user(&self, name: &str, password: &str, roles: &[&str]) -> User {
        let hash = self
            .state
            .auth
            .passwords()
            .hash(tessera_jwt::SecretString::new(password.to_owned()))
            .await
            .unwrap();
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        self.state
            .store
            .create_user(
                NewUser {
                    username: name,
                    password_hash: Some(&hash),
                    roles: &roles,
                },
                NOW,
            )
            .await
            .unwrap()
    }

    /// A confidential client with these scopes: (client_id, secret).
    pub(crate) async fn client(&self, name: &str, scopes: &[&str]) -> (String, String) {
        let secret = NewClientSecret::generate().unwrap();
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let client = self
            .state
            .store
            .create_client(
                NewClient {
                    name,
                    secret_hash: Some(&secret.hash),
                    scopes: &scopes,
                },
                NOW,
            )
            .await
            .unwrap();
        (client.client_id, secret.secret.expose().to_owned())
    }

    /// `POST path` with a JSON body.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Answer {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        Answer::read(response).await
    }

    /// `POST path` with a form body and optional Basic credentials.
    pub(crate) async fn post_form(
        &self,
        path: &str,
        params: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let mut request = self
            .http
            .post(self.url(path))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if let Some((id, secret)) = basic {
            request = request.header(AUTHORIZATION, basic_header(id, secret));
        }
        Answer::read(request.send().await.unwrap()).await
    }

    /// `POST /login`.
    pub(crate) async fn login(&self, username: &str, password: &str) -> Answer {
        self.post_json(
            "/login",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// `POST /token/refresh`.
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Answer {
        self.post_json(
            "/token/refresh",
            &serde_json::json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// `GET /userinfo` with a Bearer token.
    pub(crate) async fn userinfo(&self, access_token: &str) -> Answer {
        let response = self
            .http
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        Answer::read(response).await
    }

    pub(crate) async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
pub(crate) fn basic_header(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A response, read.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Self {
            status,
            headers,
            text,
        }
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error` code of an error answer, checking its shape.
    pub(crate) fn error(&self) -> String {
        let json = self.json();
        assert!(
            json["error_description"].is_string(),
            "no error_description: {}",
            self.text
        );
        json["error"].as_str().expect("an error code").to_owned()
    }

    /// Asserts the status and the `error` code.
    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.error(), code, "{}", self.text);
    }

    /// The token pair of a 200.
    #[track_caller]
    pub(crate) fn pair(&self) -> (String, String) {
        assert_eq!(self.status, 200, "{}", self.text);
        assert_eq!(self.header("cache-control"), Some("no-store"));
        let json = self.json();
        assert_eq!(json["token_type"], "Bearer");
        (
            json["access_token"].as_str().unwrap().to_owned(),
            json["refresh_token"].as_str().unwrap().to_owned(),
        )
    }
}

/// The claims of a token (not verified: the tests verify through the issuer).
pub(crate) fn claims(token: &str) -> Value {
    let parts = tessera_jwt::dangerous::decode_without_verifying(token, 16 * 1024).unwrap();
    parts.payload_json().unwrap()
}

/// The header of a token, as JSON.
pub(crate) fn header(token: &str) -> Value {
    let parts = tessera_jwt::dangerous::decode_without_verifying(token, 16 * 1024).unwrap();
    Value::Object(parts.header)
}

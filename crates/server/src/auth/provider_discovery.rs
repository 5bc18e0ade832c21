//! The outside providers' endpoints for the browser sign-in flow (`web::oidc`): their
//! discovery documents, read with [`tessera_guard::discovery`] (the checks the key fetching
//! makes: exact `issuer`, the outbound URL rule for every endpoint, a size limit, timeouts)
//! and kept an hour per issuer, and the HTTP client of the calls to them.
//!
//! One [`ProviderDiscovery`] belongs to each [`Federation`](super::federation::Federation),
//! so to each app state: two instances in one process share neither documents nor
//! connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Url;
use tessera_guard::FetchError;
use tessera_guard::discovery::{DiscoveryOptions, fetch_metadata};

use crate::config::ProviderSettings;

/// How long a discovery document is kept.
pub(crate) const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Timeouts and size limit of the calls to a provider.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A provider's endpoints for the authorization code flow, from its discovery document.
#[derive(Debug)]
pub(crate) struct Endpoints {
    pub(crate) authorization: Url,
    pub(crate) token: Url,
}

/// Why a provider's endpoints cannot be had (for the log; no secret in it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoveryError {
    /// The HTTP client cannot be built (TLS roots…).
    #[error("the HTTP client cannot be built: {0}")]
    Client(String),
    /// The document cannot be fetched or is refused.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The document names no endpoint of this kind.
    #[error("the discovery document of {issuer} has no {name}")]
    Missing { issuer: String, name: &'static str },
    /// Not the issuer of a configured provider (nothing is fetched for it).
    #[error("{0} is not the issuer of a configured provider")]
    NotConfigured(String),
}

/// The discovery documents of the configured providers and the client that fetches them.
#[derive(Debug)]
pub(crate) struct ProviderDiscovery {
    /// The configured providers' issuers: the only keys the cache ever holds.
    issuers: Vec<String>,
    client: OnceLock<reqwest::Client>,
    /// Issuer → (fetched at, endpoints). Bounded by the configuration: only the issuers in
    /// `issuers` are ever inserted (checked in [`endpoints`](Self::endpoints)), one entry
    /// each, replaced when stale; nothing a request sends can add a key.
    cache: Mutex<HashMap<String, (Instant, Arc<Endpoints>)>>,
}

impl ProviderDiscovery {
    /// For these providers.
    pub(crate) fn new(providers: &[ProviderSettings]) -> Self {
        Self {
            issuers: providers.iter().map(|p| p.issuer.clone()).collect(),
            client: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client of the calls to providers (built on first use): no redirects,
    /// timeouts, rustls. Connections are not pooled: sign-ins are rare, and a pooled
    /// connection would outlive the runtime it was made on when several runtimes use this
    /// state, as tests do.
    pub(crate) fn client(&self) -> Result<&reqwest::Client, DiscoveryError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DiscoveryError::Client(e.to_string()))?;
        Ok(self.client.get_or_init(|| client))
    }

    /// The endpoints of `provider`: kept for [`DISCOVERY_TTL`], else fetched. A failed fetch
    /// is not kept, so the next sign-in tries again.
    pub(crate) async fn endpoints(
        &self,
        provider: &ProviderSettings,
    ) -> Result<Arc<Endpoints>, DiscoveryError> {
        let issuer = &provider.issuer;
        if !self.issuers.contains(issuer) {
            return Err(DiscoveryError::NotConfigured(issuer.clone()));
        }
        if let Some((fetched, endpoints)) = self.lock().get(issuer)
            && fetched.elapsed() < DISCOVERY_TTL
        {
            return Ok(Arc::clone(endpoints));
        }
        let endpoints = Arc::new(self.fetch(issuer).await?);
        self.lock()
            .insert(issuer.clone(), (Instant::now(), Arc::clone(&endpoints)));
        Ok(endpoints)
    }

    async fn fetch(&self, issuer: &str) -> Result<Endpoints, DiscoveryError> {
        let options = DiscoveryOptions::default()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .max_response_bytes(MAX_ANSWER_BYTES);
        let metadata = fetch_metadata(self.client()?, issuer, &options).await?;
        let missing = |name| DiscoveryError::Missing {
            issuer: issuer.to_owned(),
            name,
        };
        Ok(Endpoints {
            authorization: metadata
                .authorization_endpoint
                .ok_or_else(|| missing("authorization_endpoint"))?,
            token: metadata
                .token_endpoint
                .ok_or_else(|| missing("token_endpoint"))?,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<Endpoints>)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

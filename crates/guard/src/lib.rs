//! # tessera-guard
//!
//! The resource-server side of tessera: every API runs it to check `Authorization: Bearer
//! <token>` on each request **without calling anyone**, using keys fetched once (and then kept
//! fresh) from the issuer's JWKS — tessera's own, or Google's, Auth0's, Keycloak's.
//!
//! - [`RemoteKeySet`]: one issuer's JWKS, by URL or through OpenID discovery; a lock-free
//!   snapshot, refreshed in the background (`Cache-Control: max-age`, `ETag`), refetched at
//!   most once per cooldown for tokens with an unknown `kid`, and never replaced by a bad
//!   response.
//! - [`Verifier`]: several issuers ([`IssuerConfig`], a [`Google`](IssuerConfig::google)
//!   preset, local [`KeySet`](tessera_jwt::KeySet)s too); the token's `iss` picks one, whose
//!   keys and rules verify it; an optional cache of verified tokens.
//! - [`discovery`]: an issuer's OpenID provider metadata ([`fetch_metadata`](discovery::fetch_metadata)),
//!   checked as the key fetching checks it; for applications that also need the
//!   authorization and token endpoints.
//! - [`GuardLayer`]: a tower layer answering RFC 6750 challenges (401/400/403), with the
//!   [`VerifiedToken`] in the request extensions and the [`Claims<T>`] extractor for handlers.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
//! use serde::Deserialize;
//! use tessera_guard::{Claims, GuardLayer, IssuerConfig, Verifier};
//! use tessera_jwt::{Algorithm, Header, KeySet, SigningKey};
//! use tower::ServiceExt;
//!
//! #[derive(Deserialize)]
//! struct User {
//!     sub: String,
//! }
//!
//! async fn hello(Claims(user): Claims<User>) -> String {
//!     format!("hello {}", user.sub)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The issuer's key. A real API would use `.discovery()` or `.jwks_url(…)` instead of
//! // holding the public keys locally.
//! let key = SigningKey::generate(Algorithm::ES256)?.with_kid("k1");
//! let verifier = Verifier::builder()
//!     .issuer(
//!         IssuerConfig::new("https://auth.example.com")
//!             .keys(KeySet::new(vec![key.verifying_key()?]))
//!             .algorithms([Algorithm::ES256])
//!             .audience("orders")
//!             .typ("at+jwt"),
//!     )
//!     .build()?;
//!
//! let app = Router::new()
//!     .route("/hello", get(hello))
//!     .route_layer(GuardLayer::new(Arc::new(verifier)).realm("orders"));
//!
//! // Without a token: 401 and a Bearer challenge.
//! let response = app.clone().oneshot(Request::get("/hello").body(Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="orders""#);
//!
//! // With one: the handler sees the verified claims.
//! let token = tessera_jwt::encode(
//!     &key,
//!     &Header::for_key(&key).with_typ("at+jwt"),
//!     &serde_json::json!({"iss": "https://auth.example.com", "sub": "alice",
//!                         "aud": "orders", "exp": 4_102_444_800_i64}),
//! )?;
//! let request = Request::get("/hello")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//! assert_eq!(&body[..], b"hello alice");
//! # Ok(())
//! # }
//! ```
//!
//! ## Threat model
//!
//! Tokens, request headers and everything an issuer's server sends are untrusted.
//!
//! - **The configuration decides, not the token.** The token's `iss` is read unverified
//!   ([`tessera_jwt::dangerous`]) only to choose among the issuers configured; an unknown
//!   issuer is refused before any key is fetched, so a token cannot make the verifier fetch
//!   from a URL of its choosing. The chosen issuer's [`Validation`](tessera_jwt::Validation)
//!   then pins `iss`, the audiences, the algorithms (each JWKS key is bound to one with
//!   [`KeySet::from_jwks`](tessera_jwt::KeySet::from_jwks)), the required claims and `typ`.
//!   Every rule of `tessera-jwt` applies: no `none`, headers never supply keys (`jku`, `x5u`,
//!   `jwk`, `x5c`), strict parsing behind a size limit checked first.
//! - **No amplification.** A token with an unknown `kid` causes at most one JWKS fetch at a
//!   time and at most one per cooldown ([`RemoteOptions::unknown_kid_cooldown`]), however
//!   many arrive: a flood of forged `kid`s costs the issuer nothing.
//! - **A bad or absent issuer cannot take keys away.** A fetch that fails, times out, is
//!   larger than the limit (the body is read incrementally and dropped past it), does not
//!   parse, or holds no usable key leaves the last good keys in place; it is logged and
//!   counted ([`RemoteStats`]). Keys are fetched over `https` only, except from loopback
//!   hosts; redirects never downgrade to `http` ([`check_outbound_url`]).
//! - **Readers never wait on a lock**: the key set is an atomically swapped snapshot.
//! - **The cache cannot be confused**: it is keyed by the SHA-256 of the whole token, so a
//!   token differing in one bit never hits another's entry; an entry dies at the token's
//!   `exp` at the latest and after the configured TTL. The TTL is also how long a token stays
//!   accepted after its key is withdrawn from the JWKS: keep it short.
//! - **Answers leak nothing by default**: a rejected token is "the access token is invalid";
//!   the reason is logged at `debug` and sent only with
//!   [`detailed_errors`](GuardLayer::detailed_errors). Header text is reduced to the
//!   characters RFC 6750 allows. A client never causes a 500; issuer keys never fetched
//!   answer 503.
//! - **Time is injected** ([`tessera_jwt::Clock`]) for `exp`/`nbf`/`iat` and cache expiry,
//!   so every expiry rule is tested without sleeping.
//!
//! Not covered: token revocation before `exp` (use short-lived access tokens, or the issuer's
//! introspection), and TLS trust, which is the platform's (reqwest with rustls).

#![warn(missing_docs)]

mod cache;
pub mod discovery;
mod error;
mod extract;
mod http;
mod layer;
mod outbound;
mod remote;
mod verifier;

pub use cache::CacheStats;
pub use error::{ConfigError, Error, FetchError};
pub use extract::Claims;
pub use layer::{GuardLayer, GuardService, VerifierSource};
pub use outbound::check_outbound_url;
pub use remote::{RemoteKeySet, RemoteOptions, RemoteStats};
pub use verifier::{
    GOOGLE_ISSUER, GOOGLE_ISSUER_SHORT, GOOGLE_JWKS_URL, IssuerConfig, VerifiedToken, Verifier,
    VerifierBuilder,
};

//! # tessera-server
//!
//! The issuer of tessera: it signs short-lived access tokens, publishes its public keys
//! (JWKS) and discovery document, rotates its signing keys, and keeps users, clients and
//! refresh token families in a [`store`] (SQLite or PostgreSQL).
//!
//! - [`config`]: the TOML file and `TESSERA_*` variables, validated into [`Config`](config::Config).
//! - [`state`]: [`AppState`](state::AppState), what every handler shares, and
//!   [`admin::Context`], the same setup for the CLI's administration commands.
//! - [`app::router`]: every route and layer in one [`axum::Router`].
//! - [`keys`]: the master key, the encrypted signing keys and their rotation
//!   ([`KeyManager`](keys::KeyManager)).
//! - [`publish`], [`ops`]: JWKS, discovery, health, readiness, metrics.
//! - [`error::ApiError`]: every error's status and JSON body, in one place.
//! - [`serve`]: running it (plain HTTP or rustls, graceful shutdown).
//! - [`web`]: the browser face: hosted login, account and sessions, token inspector, admin.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_server::{admin, serve};
//! let ctx = admin::Context::load(None).await?;          // defaults + TESSERA_* variables
//! let (state, _first_run) = ctx.app_state().await?;      // keys loaded (or created)
//! let server = serve::Server::start(state, "127.0.0.1:0".parse()?).await?;
//! println!("listening on {}", server.local_addr());
//! server.run_until(serve::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
//!
//! ## Threat model
//!
//! Assume the database is read by someone who should not (a stolen backup, a leaked dump):
//!
//! - **Refresh tokens are stored only as hashes** ([`store::TokenHash`], SHA-256 of the
//!   256-bit opaque value). A dump lets no one refresh.
//! - **Private signing keys are stored only encrypted** ([`store::EncryptedPrivateKey`]):
//!   AES-256-GCM under a master key kept outside the database ([`keys::master`]), with the
//!   key's `kid` and `alg` as associated data. Public JWKs are stored as they are.
//! - **Passwords and client secrets** are stored as argon2id hashes; `Debug` output redacts
//!   them, and no secret is ever written to a log line.
//! - Ids are random UUIDs: nothing sequential to enumerate.
//!
//! Against clients: every error has its status and JSON body in [`error`]; a client's mistake
//! is never a 500, internal details never reach the response, bodies are limited (413) and
//! requests time out (503). Signing keys are published before they sign and stay published
//! until every token they signed has expired ([`keys`]).

#![warn(missing_docs)]

pub mod accounts;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
mod http;
mod issuance;
pub mod keys;
pub mod metrics;
pub mod ops;
pub mod password;
pub mod publish;
pub mod purge;
pub mod serve;
pub mod state;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod web;

/// What the CLI's administration commands share: configuration, store and master keys
/// loaded the way `tessera serve` loads them.
pub mod admin {
    pub use crate::state::{AdminContext as Context, MasterKeyOrigin, StartupError};
}

//! The issuer's integration tests, one binary with a module per area. Cases that need a
//! database run on a fresh SQLite file and on a fresh PostgreSQL schema (`harness`;
//! PostgreSQL must be reachable — see `scripts/ensure-postgres`).
//!
//! - `store`: the storage contract every `Store` keeps, and storage staying bounded.
//! - `keys`: signing keys at rest, rotation, two instances on one database.
//! - `auth`: the authentication side over real HTTP (login, refresh, OAuth, OIDC sign-in).
//! - `web`: the browser face's server side (cookie session, admin API, OIDC code flow).
//! - `ops`: `/healthz` and `/readyz`.
//! - `publish`: JWKS, discovery, error format, security headers, CORS, metrics.
//! - `serve`: configuration and startup.
//! - `usernames`: RFC 8265 usernames in the store and at startup.
//!
//! Nothing here sets process-wide state beyond the test subscriber that `harness` installs
//! (warnings only): the log tests, which need a subscriber of their own, are in `ops_logs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod harness;

mod auth;
mod keys;
mod ops;
mod publish;
mod serve;
mod store;
mod usernames;
mod web;

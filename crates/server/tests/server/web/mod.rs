//! The browser face's server side over real HTTP on 127.0.0.1, every case against an SQLite
//! file and against PostgreSQL (as `auth`, with the harness's issuer):
//!
//! - `session`: the cookie session (login, silent refresh, sign-out) and its CSRF defence.
//! - `sessions_api`: `GET /sessions`, `DELETE /sessions/{id}`, `DELETE /sessions`.
//! - `admin_api`: the admin pages' JSON API.
//! - `key_revocation`: a compromised signing key revoked through the admin API.
//! - `upkeep`: the session cap, paged lists, deleting a user (storage stays bounded).
//! - `usernames`: RFC 8265 usernames through the admin API (look-alikes refused).
//! - `oidc_flow`: sign-in with an outside provider (authorization code + PKCE) against a
//!   provider served on 127.0.0.1.

mod admin_api;
mod key_revocation;
mod oidc_flow;
mod session;
mod sessions_api;
mod upkeep;
mod usernames;

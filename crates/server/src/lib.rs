//! # tessera-server
//!
//! The issuer of tessera. For now, its storage layer: [`store`].
//!
//! ## What the store owns
//!
//! Users (a stable random id, a unique username, a password hash made elsewhere, roles, a
//! disabled flag) and the outside identities linked to them; OAuth 2.0 clients; refresh token
//! families and their tokens; signing keys and the lock under which they rotate. Behind one
//! [`Store`](store::Store) trait: SQLite (embedded, the default) or PostgreSQL (shared by
//! several instances), with embedded migrations. See [`store`] for an example.
//!
//! ## Threat model for stored data
//!
//! Assume the database is read by someone who should not (a stolen backup, a leaked dump):
//!
//! - **Refresh tokens are stored only as hashes** ([`store::TokenHash`], SHA-256 of the
//!   256-bit opaque value). A dump lets no one refresh; a lookup by hash is an equality test
//!   on a value that cannot be guessed.
//! - **Private signing keys are stored only encrypted** ([`store::EncryptedPrivateKey`]):
//!   the server encrypts them under a master key kept outside the database, and the store
//!   never sees them in clear. Public JWKs are stored as they are.
//! - **Passwords and client secrets** arrive already hashed (argon2id in the server); the
//!   store keeps the hash string, and `Debug` output redacts it.
//! - Ids are random UUIDs: nothing sequential to enumerate, and a user's id says nothing about
//!   the username.
//!
//! What the store guarantees under concurrency: a refresh token is rotated at most once, and a
//! family never holds more than one live token, whatever the number of instances and
//! simultaneous requests (a partial unique index, plus row locks or SQLite's write lock);
//! signing-key state changes are compare-and-set, with at most one `active` and one `next`
//! key. It does not protect against someone who can write to the database.

#![warn(missing_docs)]

pub mod store;

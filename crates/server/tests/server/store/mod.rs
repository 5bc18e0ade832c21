//! The storage layer on SQLite and PostgreSQL.
//!
//! - `contract`: the contract every `Store` keeps.
//! - `upkeep`: storage stays bounded (purge, session cap, pages, deleting a user).

mod contract;
mod upkeep;

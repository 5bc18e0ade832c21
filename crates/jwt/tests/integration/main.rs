//! Integration tests of `tessera-jwt`, one module per area: published vectors, Wycheproof,
//! attacks, claims validation and round trips.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod attacks;
mod parse_once;
mod regressions;
mod roundtrip;
mod support;
mod validation;
mod vectors;
mod wycheproof;

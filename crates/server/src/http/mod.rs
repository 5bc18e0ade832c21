//! The HTTP side of the issuer (DESIGN.md, "Server layout"): the guard of its own Bearer
//! routes and the handlers that answer with what the domain modules decide. Areas move here
//! one at a time; `/userinfo` is the first.

pub(crate) mod bearer;
mod userinfo;

use std::net::IpAddr;

use axum::Router;
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;

use crate::issuance::grants::Origin;
use crate::state::AppState;

/// The routes of this module (merged into [`app::router`](crate::app::router)).
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    userinfo::routes(state)
}

/// Where a sign-in comes from: the client's address and its `User-Agent`, if readable.
pub(crate) fn origin(address: IpAddr, headers: &HeaderMap) -> Origin {
    Origin::new(
        address,
        headers.get(USER_AGENT).and_then(|v| v.to_str().ok()),
    )
}

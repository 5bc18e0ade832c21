//! The HTTP side of the issuer (DESIGN.md, "Server layout"): the guard of its own Bearer
//! routes and the handlers that answer with what the domain modules decide. Areas move here
//! one at a time; `/userinfo` is the first.

pub(crate) mod bearer;
mod userinfo;

use axum::Router;

use crate::state::AppState;

/// The routes of this module (merged into [`app::router`](crate::app::router)).
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    userinfo::routes(state)
}

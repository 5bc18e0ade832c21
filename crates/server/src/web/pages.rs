//! (being written)

use axum::Router;
use axum::http::StatusCode;

use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

/// `GET /login`: the hosted login page.
pub(crate) async fn login_page() -> StatusCode {
    StatusCode::NOT_IMPLEMENTED
}

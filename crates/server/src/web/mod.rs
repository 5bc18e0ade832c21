//! The browser face of the issuer: the hosted pages (`/login`, `/account`, `/inspect`,
//! `/admin`), their embedded assets, the browser session (refresh token in an `HttpOnly`
//! cookie, CSRF-protected), sign-in with an outside provider (authorization code + PKCE), and
//! the Bearer-protected JSON APIs the pages call (`/sessions`, `/account/identities`,
//! `/admin/api/…`).
//!
//! Every asset is compiled into the binary: no separate front-end server, no CDN. Pages carry
//! a strict Content-Security-Policy (no inline script or style; scripts and styles from this
//! origin only).

pub(crate) mod admin_api;
pub(crate) mod assets;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod identities_api;
#[cfg(test)]
mod inspector_limits;
/// The pages' one layout (`build.rs` assembles the pages with it): included here for its tests.
#[cfg(test)]
#[path = "../../build/layout.rs"]
pub(crate) mod layout;
pub(crate) mod oidc;
pub(crate) mod pages;
pub(crate) mod paging;
pub(crate) mod session;
pub(crate) mod sessions_api;

use axum::Router;

use crate::state::AppState;

/// The browser routes (merged into [`app::router`](crate::app::router)). `GET /login` is
/// registered with `POST /login` in [`auth::routes`](crate::auth::routes).
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(pages::routes())
        .merge(assets::routes())
        .merge(session::routes())
        .merge(oidc::routes())
        .merge(sessions_api::routes(state))
        .merge(identities_api::routes(state))
        .merge(admin_api::routes(state))
}

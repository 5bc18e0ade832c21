//! The browser face's server side, over real HTTP on 127.0.0.1: the cookie session and its
//! CSRF defence, the sessions and admin JSON APIs, sign-in with an outside provider.

mod admin_api;
mod oidc_flow;
mod session;
mod sessions_api;

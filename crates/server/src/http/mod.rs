//! The HTTP side of the issuer (DESIGN.md, "Server layout"): what every handler shares (the
//! client's address, `no-store`, JSON from prepared bytes), the guard of the issuer's own
//! Bearer routes, and the handlers that answer with what the domain modules decide. Areas
//! move here one at a time; `/userinfo` is the first.

pub(crate) mod bearer;
mod userinfo;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{self, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use crate::error::ApiError;

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

/// `Cache-Control: no-store` and `Pragma: no-cache`: token answers are never cached.
pub(crate) fn no_store() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers
}

/// The client's address: the peer, or the address a trusted proxy forwarded (see
/// [`HttpSettings::client_address`](crate::config::HttpSettings::client_address)). Unknown
/// (`0.0.0.0`) without connection info (a test's `oneshot`), or when the hop a trusted proxy
/// wrote for the client is not an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(Self(state.config.http.client_address(peer, &parts.headers)))
    }
}

/// A response with a JSON body from bytes already encoded, and these headers.
pub(crate) fn json_bytes(body: axum::body::Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

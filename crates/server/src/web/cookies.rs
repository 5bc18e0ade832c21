//! The browser session's cookies, in one place:
//!
//! - `__Secure-tessera_refresh`: the refresh token. `HttpOnly` (no script reads it),
//!   `SameSite=Strict`, `Path=/browser/session` (sent only to the endpoints that refresh and
//!   end the session), `Secure`.
//! - `__Host-tessera_csrf`: a random value that scripts of this origin read and echo in the
//!   `X-CSRF-Token` header (double submit). `SameSite=Strict`, `Path=/`, `Secure`, no
//!   `Domain`, not `HttpOnly`.
//!
//! The prefixes make browsers refuse a cookie of that name unless it is `Secure` and (for
//! `__Host-`) set by this very host for `Path=/` without `Domain`: a sibling subdomain
//! (`evil.example.com` next to `auth.example.com`) cannot plant a session or a CSRF token of
//! its choosing. `__Host-` needs `Path=/`, so the refresh cookie, scoped to its path, takes
//! `__Secure-`. Only the prefixed names are read when they are in force.
//!
//! When the issuer is plain `http` on a loopback host (a local setup), browsers would drop a
//! `Secure` cookie, so both are set without `Secure` and without a prefix (`tessera_refresh`,
//! `tessera_csrf`).
//!
//! The access token is never a cookie: it lives in the page's memory.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};

use crate::state::AppState;

/// Name of the refresh-token cookie of an issuer on loopback `http`.
pub(crate) const REFRESH_COOKIE: &str = "tessera_refresh";
/// Name of the refresh-token cookie everywhere else.
pub(crate) const SECURE_REFRESH_COOKIE: &str = "__Secure-tessera_refresh";
/// Name of the CSRF cookie of an issuer on loopback `http`.
pub(crate) const CSRF_COOKIE: &str = "tessera_csrf";
/// Name of the CSRF cookie everywhere else.
pub(crate) const HOST_CSRF_COOKIE: &str = "__Host-tessera_csrf";
/// The header that must repeat the CSRF cookie.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// The path the refresh cookie is scoped to: every cookie-authenticated endpoint is under it.
pub(crate) const SESSION_PATH: &str = "/browser/session";

/// Whether cookies get the `Secure` attribute: always, except when the issuer is `http://` on a
/// loopback host (127.0.0.0/8, ::1, `localhost`), where browsers would otherwise drop them.
pub(crate) fn secure(state: &AppState) -> bool {
    !is_loopback_http(&state.config.issuer)
}

/// The refresh cookie's name for this issuer (see the module docs).
pub(crate) fn refresh_name(state: &AppState) -> &'static str {
    if secure(state) {
        SECURE_REFRESH_COOKIE
    } else {
        REFRESH_COOKIE
    }
}

/// The CSRF cookie's name for this issuer (see the module docs).
pub(crate) fn csrf_name(state: &AppState) -> &'static str {
    if secure(state) {
        HOST_CSRF_COOKIE
    } else {
        CSRF_COOKIE
    }
}

fn is_loopback_http(issuer: &str) -> bool {
    let Ok(url) = url::Url::parse(issuer) else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The `Set-Cookie` value that stores `refresh_token` for `max_age_secs`.
pub(crate) fn set_refresh(state: &AppState, refresh_token: &str, max_age_secs: i64) -> HeaderValue {
    let cookie = Cookie::build((refresh_name(state), refresh_token))
        .http_only(true)
        .secure(secure(state))
        .same_site(SameSite::Strict)
        .path(SESSION_PATH)
        .max_age(cookie::time::Duration::seconds(max_age_secs.max(0)))
        .build();
    header_value(&cookie)
}

/// The `Set-Cookie` value that deletes the refresh cookie.
pub(crate) fn clear_refresh(state: &AppState) -> HeaderValue {
    let cookie = Cookie::build((refresh_name(state), ""))
        .http_only(true)
        .secure(secure(state))
        .same_site(SameSite::Strict)
        .path(SESSION_PATH)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    header_value(&cookie)
}

/// The `Set-Cookie` value of a CSRF token.
pub(crate) fn set_csrf(state: &AppState, token: &str) -> HeaderValue {
    let cookie = Cookie::build((csrf_name(state), token))
        .http_only(false)
        .secure(secure(state))
        .same_site(SameSite::Strict)
        .path("/")
        .build();
    header_value(&cookie)
}

/// A cookie as a `Set-Cookie` value.
pub(crate) fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // Names are constants and values are base64url or empty: always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of the cookie `name` in the request's `Cookie` headers, if sent (the first one if
/// sent twice).
pub(crate) fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_is_relaxed_only_for_http_on_loopback() {
        for (issuer, loopback_http) in [
            ("http://127.0.0.1:7070", true),
            ("http://localhost:7070", true),
            ("http://[::1]:7070", true),
            ("http://127.1.2.3", true),
            ("https://127.0.0.1:7070", false),
            ("http://auth.example.com", false),
            ("https://auth.example.com", false),
            ("http://localhost.example.com", false),
            ("not a url", false),
        ] {
            assert_eq!(is_loopback_http(issuer), loopback_http, "{issuer}");
        }
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_csrf=abc"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("tessera_refresh=xyz"),
        );
        assert_eq!(get(&headers, CSRF_COOKIE), Some("abc"));
        assert_eq!(get(&headers, REFRESH_COOKIE), Some("xyz"));
        assert_eq!(get(&headers, "missing"), None);
        assert_eq!(get(&headers, "tessera"), None);
    }
}

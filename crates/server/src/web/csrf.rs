//! The CSRF defence of the cookie-authenticated endpoints (`/browser/session*`), in three
//! independent checks, every one of which must pass:
//!
//! 1. double submit: the `X-CSRF-Token` header equals (constant time) the CSRF cookie
//!    (`__Host-tessera_csrf`, or `tessera_csrf` on loopback http: [`cookies::csrf_name`]), which must be a token this module could have made (32 bytes, base64url, 43
//!    characters). Another site can make a browser send the cookie (if `SameSite` fails) but
//!    can neither read it nor set the header without a CORS preflight this issuer refuses;
//! 2. `Origin`, when the browser sends it, is the issuer's own origin;
//! 3. `Sec-Fetch-Site`, when the browser sends it, is `same-origin`.
//!
//! The pages set the cookie ([`page_cookie`]) on every page GET that lacks one.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::cookies::{self, CSRF_HEADER};
use crate::error::ApiError;
use crate::state::AppState;

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// Length of a token: 32 bytes in base64url without padding.
const TOKEN_LEN: usize = 43;

/// Why a request failed the CSRF checks (the `error_description` of the 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    CrossSite,
    ForeignOrigin,
    NoCookie,
    NoHeader,
    Mismatch,
}

impl Failure {
    fn description(self) -> &'static str {
        match self {
            Self::CrossSite => "CSRF check failed: Sec-Fetch-Site is not same-origin",
            Self::ForeignOrigin => "CSRF check failed: the Origin is not this issuer's",
            Self::NoCookie => "CSRF check failed: no valid CSRF cookie (reload the page)",
            Self::NoHeader => "CSRF check failed: no X-CSRF-Token header",
            Self::Mismatch => "CSRF check failed: X-CSRF-Token does not match the CSRF cookie",
        }
    }
}

/// Passes a request to a cookie-authenticated endpoint, or refuses it with 403
/// `csrf_failed` whose description names the check that failed.
pub(crate) fn check(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let cookie = cookies::csrf_name(state);
    verify(
        issuer_origin(&state.config.issuer).as_deref(),
        cookie,
        headers,
    )
    .map_err(|failure| {
        tracing::info!(check = ?failure, "CSRF check failed");
        ApiError::refused("csrf_failed", failure.description())
    })
}

/// The `Set-Cookie` value of a fresh CSRF cookie, or `None` when the request already carries
/// a well-formed one (or, exceptionally, when no random bytes could be had: the page still
/// loads, and its first session request will be refused with a message to reload).
pub(crate) fn page_cookie(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    if carries_token(headers, cookies::csrf_name(state)) {
        return None;
    }
    match generate() {
        Ok(token) => Some(cookies::set_csrf(state, &token)),
        Err(e) => {
            tracing::error!(error = %e, "no CSRF cookie set");
            None
        }
    }
}

/// The random source failed.
#[derive(Debug, thiserror::Error)]
#[error("the system random number generator failed")]
pub(crate) struct RandomError;

/// A new token: 32 bytes from the system's secure random generator, base64url without padding.
pub(crate) fn generate() -> Result<String, RandomError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether the request carries a well-formed CSRF cookie (then it keeps it).
fn carries_token(headers: &HeaderMap, cookie: &str) -> bool {
    cookies::get(headers, cookie).is_some_and(well_formed)
}

/// Whether `token` could be one of ours: 43 characters of strict base64url decoding to 32
/// bytes. A shorter or guessable value planted by someone else is not accepted.
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|bytes| bytes.len() == TOKEN_BYTES)
}

/// `scheme://host[:port]` of the issuer (the port only when not the scheme's default, as
/// browsers write `Origin`).
fn issuer_origin(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

fn verify(issuer_origin: Option<&str>, cookie: &str, headers: &HeaderMap) -> Result<(), Failure> {
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes() != b"same-origin"
    {
        return Err(Failure::CrossSite);
    }
    if let Some(origin) = headers.get(axum::http::header::ORIGIN)
        && issuer_origin.is_none_or(|ours| origin.as_bytes() != ours.as_bytes())
    {
        return Err(Failure::ForeignOrigin);
    }
    let cookie = cookies::get(headers, cookie)
        .filter(|c| well_formed(c))
        .ok_or(Failure::NoCookie)?;
    let mut sent = headers.get_all(CSRF_HEADER).iter();
    let header = match (sent.next(), sent.next()) {
        (Some(header), None) => header,
        _ => return Err(Failure::NoHeader),
    };
    aws_lc_rs::constant_time::verify_slices_are_equal(header.as_bytes(), cookie.as_bytes())
        .map_err(|_| Failure::Mismatch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::http::header::{COOKIE, ORIGIN};

    use super::*;
    use crate::web::cookies::CSRF_COOKIE;

    const ISSUER: &str = "http://127.0.0.1:7070";

    fn token() -> String {
        generate().unwrap()
    }

    /// Headers of a request that passes: cookie and header agree, same-origin.
    fn passing(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {CSRF_COOKIE}={token}")).unwrap(),
        );
        headers.insert(CSRF_HEADER, HeaderValue::from_str(token).unwrap());
        headers.insert(ORIGIN, HeaderValue::from_static(ISSUER));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        headers
    }

    fn verify_at(headers: &HeaderMap) -> Result<(), Failure> {
        verify(issuer_origin(ISSUER).as_deref(), CSRF_COOKIE, headers)
    }

    #[test]
    fn tokens_are_32_random_bytes_in_base64url() {
        let a = token();
        let b = token();
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(well_formed(&a));
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn well_formed_means_43_strict_base64url_characters() {
        let good = token();
        assert!(well_formed(&good));
        assert!(!well_formed(""));
        assert!(!well_formed("abc"));
        assert!(!well_formed(&good[..42]));
        assert!(!well_formed(&format!("{good}A")));
        assert!(!well_formed(&format!("{}=", &good[..42])));
        assert!(!well_formed(&format!("{}+", &good[..42])));
        // A non-canonical last character (bits left over) is not base64url of 32 bytes.
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).unwrap();
        bytes[31] = 0;
        let canonical = URL_SAFE_NO_PAD.encode(&bytes);
        assert!(well_formed(&canonical));
        let non_canonical = format!("{}B", &canonical[..42]);
        assert!(!well_formed(&non_canonical));
    }

    #[test]
    fn pages_set_a_cookie_only_when_none_well_formed_is_sent() {
        let t = token();
        assert!(carries_token(&passing(&t), CSRF_COOKIE));
        let mut headers = HeaderMap::new();
        assert!(!carries_token(&headers, CSRF_COOKIE));
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("{CSRF_COOKIE}=short")).unwrap(),
        );
        assert!(!carries_token(&headers, CSRF_COOKIE));
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("{CSRF_COOKIE}=; a=b")).unwrap(),
        );
        assert!(!carries_token(&headers, CSRF_COOKIE));
    }

    #[test]
    fn a_same_origin_request_with_matching_token_passes() {
        let t = token();
        assert_eq!(verify_at(&passing(&t)), Ok(()));
        // Origin and Sec-Fetch-Site are checked only when sent (older browsers, tools).
        let mut headers = passing(&t);
        headers.remove(ORIGIN);
        headers.remove("sec-fetch-site");
        assert_eq!(verify_at(&headers), Ok(()));
    }

    #[test]
    fn the_header_must_be_present_once() {
        let t = token();
        let mut headers = passing(&t);
        headers.remove(CSRF_HEADER);
        assert_eq!(verify_at(&headers), Err(Failure::NoHeader));
        let mut headers = passing(&t);
        headers.append(CSRF_HEADER, HeaderValue::from_str(&t).unwrap());
        assert_eq!(verify_at(&headers), Err(Failure::NoHeader));
    }

    #[test]
    fn the_header_must_equal_the_cookie() {
        let t = token();
        let mut headers = passing(&t);
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&token()).unwrap());
        assert_eq!(verify_at(&headers), Err(Failure::Mismatch));
        headers.insert(CSRF_HEADER, HeaderValue::from_static(""));
        assert_eq!(verify_at(&headers), Err(Failure::Mismatch));
        headers.insert(CSRF_HEADER, HeaderValue::from_str(&t[..42]).unwrap());
        assert_eq!(verify_at(&headers), Err(Failure::Mismatch));
    }

    #[test]
    fn the_cookie_must_be_present_and_well_formed() {
        let t = token();
        let mut headers = passing(&t);
        headers.remove(COOKIE);
        assert_eq!(verify_at(&headers), Err(Failure::NoCookie));
        // A planted short value, echoed in the header, is still refused.
        let mut headers = passing("x");
        headers.insert(CSRF_HEADER, HeaderValue::from_static("x"));
        assert_eq!(verify_at(&headers), Err(Failure::NoCookie));
        let mut headers = passing(&t);
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("tessera={t}")).unwrap(),
        );
        assert_eq!(verify_at(&headers), Err(Failure::NoCookie));
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        let t = token();
        for foreign in [
            "http://evil.example",
            "http://127.0.0.1:7071",
            "https://127.0.0.1:7070",
            "http://localhost:7070",
            "null",
            "",
        ] {
            let mut headers = passing(&t);
            headers.insert(ORIGIN, HeaderValue::from_str(foreign).unwrap());
            assert_eq!(
                verify_at(&headers),
                Err(Failure::ForeignOrigin),
                "{foreign}"
            );
        }
    }

    #[test]
    fn only_same_origin_fetches_pass() {
        let t = token();
        for site in ["cross-site", "same-site", "none", ""] {
            let mut headers = passing(&t);
            headers.insert("sec-fetch-site", HeaderValue::from_str(site).unwrap());
            assert_eq!(verify_at(&headers), Err(Failure::CrossSite), "{site}");
        }
    }

    #[test]
    fn the_issuer_origin_drops_path_and_default_port() {
        assert_eq!(
            issuer_origin("https://auth.example.com:443/tenant").as_deref(),
            Some("https://auth.example.com")
        );
        assert_eq!(
            issuer_origin("http://127.0.0.1:7070").as_deref(),
            Some("http://127.0.0.1:7070")
        );
        assert_eq!(
            issuer_origin("HTTPS://Auth.Example.com:8443").as_deref(),
            Some("https://auth.example.com:8443")
        );
        assert_eq!(issuer_origin("not a url"), None);
        // Without a usable issuer origin, any Origin is foreign (and none is still fine).
        let t = token();
        assert_eq!(
            verify(None, CSRF_COOKIE, &passing(&t)),
            Err(Failure::ForeignOrigin)
        );
        let mut headers = passing(&t);
        headers.remove(ORIGIN);
        assert_eq!(verify(None, CSRF_COOKIE, &headers), Ok(()));
    }

    #[test]
    fn every_failure_names_its_check() {
        for failure in [
            Failure::CrossSite,
            Failure::ForeignOrigin,
            Failure::NoCookie,
            Failure::NoHeader,
            Failure::Mismatch,
        ] {
            assert!(failure.description().starts_with("CSRF check failed: "));
        }
    }
}

//! The rule for URLs the verifier fetches (JWKS, discovery): `https`, or plain `http` to a
//! loopback host only, so that tests and local setups work without TLS while nothing on a
//! network is ever fetched in clear text.

use std::net::{Ipv4Addr, Ipv6Addr};

use reqwest::Url;

use crate::error::ConfigError;

/// At most this many redirects are followed for one fetch.
const MAX_REDIRECTS: usize = 5;

/// Checks an outbound URL against the rule: it must parse, name a host, carry no
/// credentials, and use `https` — or `http` when the host is loopback (127.0.0.0/8, `::1`,
/// `localhost`).
///
/// ```
/// use tessera_guard::{check_outbound_url, ConfigError};
/// assert!(check_outbound_url("https://www.googleapis.com/oauth2/v3/certs").is_ok());
/// assert!(check_outbound_url("http://127.0.0.1:7070/.well-known/jwks.json").is_ok());
/// assert!(matches!(
///     check_outbound_url("http://auth.example.com/jwks"),
///     Err(ConfigError::InsecureUrl { .. })
/// ));
/// ```
pub fn check_outbound_url(url: &str) -> Result<(), ConfigError> {
    parse_outbound_url(url).map(|_| ())
}

pub(crate) fn parse_outbound_url(url: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("credentials in the URL are not accepted"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(ConfigError::InsecureUrl {
            url: url.to_owned(),
        }),
        other => Err(invalid(&format!(
            "scheme `{other}` is not supported (https only)"
        ))),
    }
}

/// Whether the URL's host is loopback: 127.0.0.0/8, `::1` or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return v4.is_loopback();
    }
    host.eq_ignore_ascii_case("localhost")
}

/// Whether a redirect from the chain `previous` to `next` is allowed: `https` targets always
/// (within the hop limit); `http` only to a loopback host, and only when every URL before it
/// was plain http on loopback too, so that an https fetch is never downgraded and a remote
/// server cannot bounce the verifier onto local services.
pub(crate) fn redirect_allowed(previous: &[Url], next: &Url) -> bool {
    if previous.len() >= MAX_REDIRECTS || !next.username().is_empty() {
        return false;
    }
    match next.scheme() {
        "https" => true,
        "http" => {
            is_loopback(next)
                && previous
                    .iter()
                    .all(|u| u.scheme() == "http" && is_loopback(u))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://accounts.google.com",
            "https://127.0.0.1/jwks",
            "http://127.0.0.1:8080/jwks",
            "http://127.9.8.7/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost/jwks",
            "http://LOCALHOST:1/jwks",
        ] {
            assert!(check_outbound_url(ok).is_ok(), "{ok}");
        }
        for insecure in [
            "http://example.com/jwks",
            "http://localhost.example.com/jwks",
            "http://128.0.0.1/jwks",
            "http://10.0.0.1/jwks",
            "http://[::2]/jwks",
            "http://0.0.0.0/jwks",
        ] {
            assert!(
                matches!(
                    check_outbound_url(insecure),
                    Err(ConfigError::InsecureUrl { .. })
                ),
                "{insecure}"
            );
        }
        for invalid in [
            "",
            "not a url",
            "ftp://127.0.0.1/jwks",
            "file:///etc/passwd",
            "https://user:pw@example.com/jwks",
            "https://",
        ] {
            assert!(
                matches!(
                    check_outbound_url(invalid),
                    Err(ConfigError::InvalidUrl { .. })
                ),
                "{invalid}"
            );
        }
    }

    #[test]
    fn redirects_never_downgrade() {
        let u = |s: &str| Url::parse(s).unwrap();
        let local = u("http://127.0.0.1/a");
        let remote = u("https://example.com/a");
        assert!(redirect_allowed(
            std::slice::from_ref(&remote),
            &u("https://other.example/b")
        ));
        assert!(redirect_allowed(
            std::slice::from_ref(&local),
            &u("http://localhost/b")
        ));
        assert!(!redirect_allowed(
            std::slice::from_ref(&remote),
            &u("http://127.0.0.1/b")
        ));
        assert!(!redirect_allowed(
            std::slice::from_ref(&local),
            &u("http://example.com/b")
        ));
        assert!(!redirect_allowed(&[local], &u("ftp://127.0.0.1/b")));
        let chain = vec![remote; MAX_REDIRECTS];
        assert!(!redirect_allowed(&chain, &u("https://example.com/c")));
    }
}

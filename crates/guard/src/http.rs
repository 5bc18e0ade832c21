//! What every outbound fetch shares: the HTTP client, a body read behind a size limit, and the
//! mapping of transport errors.

use std::time::Duration;

use reqwest::Url;

use crate::error::{ConfigError, FetchError};
use crate::outbound::redirect_allowed;

/// A client with these timeouts that follows only the redirects the outbound URL rule allows
/// ([`redirect_allowed`]).
pub(crate) fn client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if redirect_allowed(attempt.previous(), attempt.url()) {
                attempt.follow()
            } else {
                attempt.error("redirect not allowed by the outbound URL rule")
            }
        }))
        .user_agent(concat!("tessera-guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::HttpClient(error_chain(&e)))
}

/// Reads a body chunk by chunk, stopping as soon as it passes `limit`.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    url: &Url,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || FetchError::TooLarge {
        url: url.to_string(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(url, &e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn transport(url: &Url, e: &reqwest::Error) -> FetchError {
    let url = url.to_string();
    if e.is_timeout() {
        FetchError::Timeout { url }
    } else if e.is_redirect() {
        FetchError::Redirect { url }
    } else {
        FetchError::Request {
            url,
            reason: error_chain(e),
        }
    }
}

/// An error and its sources on one line ("error sending request: connection refused").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    // Bounded: error chains are short, but never trust a cycle.
    for _ in 0..8 {
        let Some(s) = source else { break };
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

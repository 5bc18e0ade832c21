//! `tessera token decode`: shows a token's header and payload WITHOUT verifying anything.

use anyhow::Result;
use clap::Args;
use serde_json::{Map, Value, json};
use tessera_jwt::{Clock, DEFAULT_MAX_TOKEN_LEN, SystemClock, dangerous};

use crate::dates::{rfc3339, span};
use crate::exit::Rejected;
use crate::input::{self, TokenError, TokenSource};
use crate::output;

#[derive(Debug, Args)]
#[command(
    about = "Show a token's header and payload, NOT verified",
    long_about = "Show a token's header and payload as JSON, without verifying anything.\n\n\
        Prints {\"header\": …, \"payload\": …} on standard output (the payload as a JSON string \
        when it is not JSON). On standard error: a warning that the signature was NOT verified, \
        and the `exp`, `nbf` and `iat` dates in RFC 3339 with how far they are from now. Nothing \
        shown may be trusted: use `tessera token verify` for that.\n\n\
        Exit codes: 0 decoded; 1 the token is malformed; 2 usage error.",
    after_help = "Examples:\n  \
        tessera token decode eyJhbGciOi…\n  \
        pbpaste | tessera token decode -"
)]
pub(crate) struct DecodeArgs {
    /// The token; `-` or nothing reads it from standard input.
    #[arg(value_name = "TOKEN|-")]
    token: Option<String>,
    /// Judge `exp`, `nbf` and `iat` as of this UNIX time instead of the current time.
    #[arg(long, value_name = "UNIX")]
    now: Option<i64>,
}

struct Settings {
    token: TokenSource,
    now: i64,
}

impl DecodeArgs {
    fn into_settings(self) -> Settings {
        Settings {
            token: input::token_source(self.token),
            now: self.now.unwrap_or_else(|| SystemClock.now()),
        }
    }
}

pub(crate) fn run(args: DecodeArgs) -> Result<()> {
    let settings = args.into_settings();
    let token = match settings.token.read(DEFAULT_MAX_TOKEN_LEN) {
        Ok(token) => token,
        Err(TokenError::Invalid(why)) => return Err(Rejected::new(why).into()),
        Err(TokenError::Io(e)) => {
            return Err(anyhow::Error::new(e).context("reading the token from standard input"));
        }
    };
    let parts = dangerous::decode_without_verifying(&token, DEFAULT_MAX_TOKEN_LEN)
        .map_err(|e| Rejected::new(e.to_string()))?;

    output::warning("the signature was NOT verified: anyone can write this header and payload");
    let payload_json = parts.payload_json();
    let payload = match &payload_json {
        Some(value) => value.clone(),
        None => {
            let text = String::from_utf8_lossy(&parts.payload);
            if std::str::from_utf8(&parts.payload).is_err() {
                output::note("payload: not UTF-8 text (invalid bytes shown as U+FFFD)");
            } else {
                output::note("payload: not JSON (shown as a string)");
            }
            Value::String(text.into_owned())
        }
    };
    if let Some(Value::Object(claims)) = &payload_json {
        for line in date_lines(claims, settings.now) {
            output::note(&line);
        }
    }
    output::json(&json!({ "header": Value::Object(parts.header.clone()), "payload": payload }))
}

/// `exp: 2026-11-23T10:00:00Z (expired 5m ago)` and the like, for the claims present.
fn date_lines(claims: &Map<String, Value>, now: i64) -> Vec<String> {
    let mut lines = Vec::new();
    if !claims.contains_key("exp") {
        lines.push("exp: none (the token does not expire)".into());
    }
    for name in ["exp", "nbf", "iat"] {
        let Some(value) = claims.get(name) else {
            continue;
        };
        let Some((date, secs)) = value
            .as_f64()
            .and_then(|secs| rfc3339(secs).map(|date| (date, secs)))
        else {
            lines.push(format!("{name}: {value} (not a valid NumericDate)"));
            continue;
        };
        #[allow(clippy::cast_precision_loss)]
        let delta = secs - now as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let away = span(delta.abs().floor() as u64);
        let when = match name {
            // RFC 7519 §4.1.4: expired once the current time is at or after `exp`.
            "exp" if delta <= 0.0 => format!("expired {away} ago"),
            "exp" => format!("expires in {away}"),
            "nbf" if delta > 0.0 => format!("not valid yet: valid in {away}"),
            "nbf" => format!("valid since {away} ago"),
            _ if delta > 0.0 => format!("in the future: in {away}"),
            _ => format!("{away} ago"),
        };
        lines.push(format!("{name}: {date} ({when})"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(claims: Value, now: i64) -> Vec<String> {
        match claims {
            Value::Object(map) => date_lines(&map, now),
            _ => unreachable!(),
        }
    }

    #[test]
    fn dates_are_shown_relative_to_now() {
        let exp = 1_795_428_000; // 2026-11-23T10:00:00Z
        assert_eq!(
            lines(json!({"exp": exp}), exp + 300),
            ["exp: 2026-11-23T10:00:00Z (expired 5m ago)"]
        );
        assert_eq!(
            lines(json!({"exp": exp}), exp - 840),
            ["exp: 2026-11-23T10:00:00Z (expires in 14m)"]
        );
        assert_eq!(
            lines(json!({"exp": exp}), exp),
            ["exp: 2026-11-23T10:00:00Z (expired 0s ago)"]
        );
        assert_eq!(
            lines(json!({"nbf": exp, "iat": exp}), exp - 60),
            [
                "exp: none (the token does not expire)",
                "nbf: 2026-11-23T10:00:00Z (not valid yet: valid in 1m)",
                "iat: 2026-11-23T10:00:00Z (in the future: in 1m)",
            ]
        );
        assert_eq!(
            lines(json!({"exp": "tomorrow", "iat": exp}), exp + 7200),
            [
                "exp: \"tomorrow\" (not a valid NumericDate)",
                "iat: 2026-11-23T10:00:00Z (2h ago)",
            ]
        );
    }
}

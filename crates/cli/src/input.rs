//! Reading what the user hands over: a token (argument or stdin) and a claims set
//! (`--claims JSON|@FILE`).

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use crate::output;

/// Where a token comes from: the argument, or stdin when it is `-` or absent.
pub(crate) fn token_source(arg: Option<String>) -> TokenSource {
    match arg {
        Some(token) if token != "-" => TokenSource::Argument(token),
        _ => TokenSource::Stdin,
    }
}

/// Where a token comes from.
#[derive(Debug)]
pub(crate) enum TokenSource {
    /// Given on the command line, taken exactly as it is.
    Argument(String),
    /// Read from standard input.
    Stdin,
}

/// Why a token could not be read.
#[derive(Debug)]
pub(crate) enum TokenError {
    /// Reading stdin failed (exit 2).
    Io(io::Error),
    /// What was read cannot be a token (exit 1, like any malformed token).
    Invalid(String),
}

impl TokenSource {
    /// The token text. From stdin, exactly one trailing newline (`\n` or `\r\n`) is dropped
    /// and nothing else is trimmed: other whitespace makes the token malformed.
    pub(crate) fn read(self, max_len: usize) -> Result<String, TokenError> {
        match self {
            TokenSource::Argument(token) => Ok(token),
            TokenSource::Stdin => {
                let stdin = io::stdin();
                if stdin.is_terminal() {
                    output::note("reading the token from standard input (end with Ctrl-D)");
                }
                // A bounded read: anything longer than a token may be is refused unread.
                let limit = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(3);
                let mut bytes = Vec::new();
                stdin
                    .lock()
                    .take(limit)
                    .read_to_end(&mut bytes)
                    .map_err(TokenError::Io)?;
                token_from_bytes(bytes, max_len)
            }
        }
    }
}

fn token_from_bytes(mut bytes: Vec<u8>, max_len: usize) -> Result<String, TokenError> {
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(bytes.len() - 1);
    }
    if bytes.len() > max_len {
        return Err(TokenError::Invalid(format!(
            "token too large: more than {max_len} bytes on standard input"
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| TokenError::Invalid("malformed token: not UTF-8 text".into()))
}

/// Largest claims or key file read, so that a wrong path (a device, a huge file) fails fast.
pub(crate) const MAX_FILE_LEN: u64 = 1 << 20;

/// Reads a whole file, refusing one larger than [`MAX_FILE_LEN`].
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    read_bounded(file).with_context(|| format!("cannot read {}", path.display()))
}

fn read_bounded(reader: impl Read) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(MAX_FILE_LEN + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        bail!("larger than {MAX_FILE_LEN} bytes");
    }
    Ok(bytes)
}

/// `--claims`: a JSON object given inline, or `@FILE` (`@-` for stdin). Parsed strictly:
/// duplicate member names are an error, as they are when verifying.
pub(crate) fn claims(arg: &str) -> Result<Map<String, Value>> {
    let (bytes, origin) = match arg.strip_prefix('@') {
        Some("-") => (
            read_bounded(io::stdin().lock()).context("--claims @-: cannot read standard input")?,
            "--claims @-".to_owned(),
        ),
        Some(path) => (
            read_file(Path::new(path)).context("--claims")?,
            format!("--claims @{path}"),
        ),
        None => (arg.as_bytes().to_vec(), "--claims".to_owned()),
    };
    tessera_jwt::json::parse_object(&bytes)
        .map_err(|e| anyhow::anyhow!("{origin}: not a JSON object: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<String, String> {
        token_from_bytes(bytes.to_vec(), 10).map_err(|e| match e {
            TokenError::Invalid(m) => m,
            TokenError::Io(e) => e.to_string(),
        })
    }

    #[test]
    fn exactly_one_trailing_newline_is_dropped() {
        assert_eq!(read(b"a.b.c\n").unwrap(), "a.b.c");
        assert_eq!(read(b"a.b.c\r\n").unwrap(), "a.b.c");
        assert_eq!(read(b"a.b.c").unwrap(), "a.b.c");
        assert_eq!(read(b"a.b.c\n\n").unwrap(), "a.b.c\n");
        assert_eq!(read(b"a.b.c \n").unwrap(), "a.b.c ");
        assert_eq!(read(b"a.b.c\r").unwrap(), "a.b.c\r");
        assert_eq!(read(b"\n").unwrap(), "");
        assert!(read(b"\xff.b.c").is_err());
        assert!(read(b"0123456789x").is_err());
        assert_eq!(read(b"0123456789\n").unwrap(), "0123456789");
    }

    #[test]
    fn token_argument_dash_means_stdin() {
        assert!(matches!(token_source(None), TokenSource::Stdin));
        assert!(matches!(token_source(Some("-".into())), TokenSource::Stdin));
        assert!(matches!(
            token_source(Some("a.b.c".into())),
            TokenSource::Argument(t) if t == "a.b.c"
        ));
    }

    #[test]
    fn claims_are_strict_objects() {
        assert_eq!(claims(r#"{"a":1}"#).unwrap()["a"], 1);
        assert!(claims(r#"{"a":1,"a":2}"#).is_err());
        assert!(claims("[1]").is_err());
        assert!(claims("{").is_err());
    }
}

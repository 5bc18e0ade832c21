//! Everything the tool writes: results on stdout, warnings and errors on stderr (one line
//! each), and private key files created with mode 0600.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to stdout as they are.
pub(crate) fn stdout(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

/// Writes `text` and a newline to stdout.
pub(crate) fn line(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub(crate) fn json(value: &impl serde::Serialize) -> Result<()> {
    line(&serde_json::to_string_pretty(value).context("serializing JSON")?)
}

/// `warning: …` on stderr. A closed stderr is not worth failing for.
pub(crate) fn warning(message: &str) {
    stderr_line(&format!("warning: {message}"));
}

/// `error: …` on stderr, always on one line.
pub(crate) fn error(message: &str) {
    stderr_line(&format!("error: {}", one_line(message)));
}

/// A line on stderr as it is.
pub(crate) fn note(message: &str) {
    stderr_line(message);
}

fn stderr_line(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Folds line breaks so that a message stays one line (scripts read the first line).
fn one_line(message: &str) -> String {
    message
        .split(['\r', '\n'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Creates a new file readable and writable by its owner only (mode 0600 from the moment it
/// exists, so the key is never readable by others, not even briefly). An existing file is
/// never overwritten.
pub(crate) fn create_private_file(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; refusing to overwrite it",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("creating {}", path.display()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_folded_to_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b c");
        assert_eq!(one_line("plain"), "plain");
    }
}

//! Exit codes, decided in one place: 0 success; 1 the token was rejected (a verdict on the
//! token); 2 anything else (a usage error, a key or file that could not be used, I/O).
//! clap's own usage errors exit with 2 before any command runs.

use std::fmt;
use std::io;
use std::process::ExitCode;

use crate::output;

/// A verdict against a token: exit code 1. Carries the whole message line, e.g.
/// `token rejected: invalid signature`. Every other error exits with 2.
#[derive(Debug)]
pub(crate) struct Rejected(String);

impl Rejected {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Rejected(message.into())
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejected {}

/// Reports an error on stderr, on one line, and picks the exit code.
pub(crate) fn code(result: anyhow::Result<()>) -> ExitCode {
    let (code, message) = outcome(&result);
    if let Some(message) = message {
        output::error(&message);
    }
    ExitCode::from(code)
}

/// The exit code, and the error message to print if any.
fn outcome(result: &anyhow::Result<()>) -> (u8, Option<String>) {
    let Err(err) = result else {
        return (0, None);
    };
    if let Some(rejected) = err.downcast_ref::<Rejected>() {
        return (1, Some(rejected.to_string()));
    }
    // The reader of our output went away (`tessera … | head`): nothing left to say.
    if err
        .chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
    {
        return (0, None);
    }
    (2, Some(format!("{err:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_is_1_other_errors_2() {
        assert_eq!(outcome(&Ok(())), (0, None));
        assert_eq!(
            outcome(&Err(
                Rejected::new("token rejected: invalid signature").into()
            )),
            (1, Some("token rejected: invalid signature".into()))
        );
        let wrapped = anyhow::Error::new(Rejected::new("x")).context("while verifying");
        assert_eq!(outcome(&Err(wrapped)).0, 1);
        let io = anyhow::Error::new(io::Error::other("disk")).context("no such file");
        assert_eq!(outcome(&Err(io)), (2, Some("no such file: disk".into())));
        let pipe = io::Error::new(io::ErrorKind::BrokenPipe, "closed");
        assert_eq!(
            outcome(&Err(anyhow::Error::new(pipe).context("writing"))),
            (0, None)
        );
    }
}

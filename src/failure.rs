//! `Failure`: an operation at the edge that could not be done — what berth was doing,
//! why (the cause, kept as a source chain), and what to do about it. The state
//! directory, the lock and the use cases return it; only the command line renders it.

use std::error::Error;
use std::fmt;

/// What could not be done, why, and what to do.
#[derive(Debug)]
pub struct Failure {
    /// What berth was doing, or what went wrong: `cannot read berth.yaml`.
    pub message: String,
    /// What to do about it, when berth knows.
    pub help: Option<String>,
    /// Why, when another error says it.
    pub cause: Option<Box<dyn Error + Send + Sync>>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            help: None,
            cause: None,
        }
    }

    /// `message`, because of `cause`.
    pub fn caused(message: impl Into<String>, cause: impl Into<Box<dyn Error + Send + Sync>>) -> Failure {
        Failure {
            cause: Some(cause.into()),
            ..Failure::new(message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Failure {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// An I/O error on its own says what failed.
impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(e.to_string())
    }
}

/// Shorthand for the edge's results.
pub type Result<T> = std::result::Result<T, Failure>;

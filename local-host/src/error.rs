//! The host's errors: configuration problems (named by file and field) and start-up failures.

use std::fmt;
use std::path::{Path, PathBuf};

/// Something in the app directory or its settings that the host cannot run with.
///
/// Displays as one sentence: `<file>: <what is wrong with which field>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file at fault (host.json, a function.json, local.settings.json, or the app dir).
    pub file: PathBuf,
    /// What is wrong, naming the field.
    pub message: String,
}

impl LoadError {
    /// An error about `file`.
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for LoadError {}

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The app directory or settings are not runnable.
    #[error(transparent)]
    Config(#[from] LoadError),
    /// The custom handler did not become ready.
    #[error("{0}")]
    Handler(String),
    /// The HTTP port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port} ({source}); pick another port with --port")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
}

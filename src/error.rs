//! The library's one error type. Per-input problems (a corrupt photo, a bad
//! catalog row) are *not* errors of this kind: they are recorded as rows and
//! the run goes on. `Error` is for what stops a whole run: unusable
//! arguments, an unreadable model, an output directory that cannot be written.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("model weights: {0}")]
    Model(String),

    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },

    #[error("writing {path}: {message}")]
    Output { path: PathBuf, message: String },

    #[error("{0}")]
    Config(String),

    #[error("{0}")]
    Gpu(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into() }
    }

    pub fn output(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Output { path: path.into(), message: message.to_string() }
    }
}

//! The library's error types. `Error` is for what stops a whole run:
//! unusable settings, an unreadable model, an output folder that cannot be
//! written, a device that fails. Per-input problems (a corrupt photo, a
//! failed batch, a bad catalog row) are not errors of this kind: they are
//! `Failure`s, recorded as rows of the errors table while the run goes on.
//!
//! Errors from the libraries underneath (I/O, Parquet, Arrow, CSV, JSON,
//! wgpu) are kept as each error's `source()`, not flattened into text, so a
//! caller can still tell a full disk from a schema mismatch.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An underlying library error, kept whole.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

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

    #[error("writing {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: Cause,
    },

    /// A setting the library was given cannot be used. `setting` names the
    /// setting (the CLI maps it to its flag); `message` says what is wrong.
    #[error("{setting}: {message}")]
    Setting { setting: &'static str, message: String },

    #[error("{0}")]
    Config(String),

    #[error("{0}")]
    Gpu(String),

    /// wgpu (or the driver under it) failed while doing `what`.
    #[error("{what}: {source}")]
    Device {
        what: String,
        #[source]
        source: Cause,
    },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input { path: path.into(), message: message.into() }
    }

    /// Writing `path` failed with `source` (a Parquet, Arrow, CSV or JSON error).
    pub fn output(path: impl Into<PathBuf>, source: impl Into<Cause>) -> Self {
        Error::Output { path: path.into(), source: source.into() }
    }

    pub fn setting(setting: &'static str, message: impl Into<String>) -> Self {
        Error::Setting { setting, message: message.into() }
    }

    /// wgpu failed while doing `what`.
    pub fn device(what: impl Into<String>, source: impl Into<Cause>) -> Self {
        Error::Device { what: what.into(), source: source.into() }
    }
}

/// Which step an input failed in; the `stage` column of the errors table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Finding or naming the input.
    Ingest,
    /// Reading the file's bytes.
    Read,
    /// Turning bytes into pixels.
    Decode,
    /// Running the model on the image's batch.
    Model,
    /// Matching the image's batch against the catalog.
    Match,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Read => "read",
            Stage::Decode => "decode",
            Stage::Model => "model",
            Stage::Match => "matcher",
        }
    }
}

/// Why one input could not be analysed; becomes a row of the errors table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub stage: Stage,
    pub reason: String,
}

impl Failure {
    pub fn new(stage: Stage, reason: impl Into<String>) -> Self {
        Failure { stage, reason: reason.into() }
    }
}

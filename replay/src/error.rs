//! The replay crate's error type.

use std::path::PathBuf;

/// Errors from reading inputs or writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input could not be opened or read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The input.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An output could not be created or written.
    #[error("cannot write `{path}`: {source}")]
    Write {
        /// The output.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing Parquet failed.
    #[error("cannot write Parquet `{path}`: {reason}")]
    Parquet {
        /// The output.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] tokenwatch_engine::Error),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for tokenwatch_engine::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Engine(inner) => inner,
            other => tokenwatch_engine::Error::Sink { what: "output".to_string(), source: Box::new(other) },
        }
    }
}

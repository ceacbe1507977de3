//! The replay crate's error type.

use std::path::PathBuf;

/// Errors from reading inputs, writing outputs, loading SQL tables and labels, and drawing reports.
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
    /// A file could not be loaded as a SQL table.
    #[error("cannot load `{path}` as the `{table}` table: {reason}")]
    Table {
        /// The table (`events`, `alerts`).
        table: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A SQL query failed.
    #[error("query failed: {0}")]
    Query(String),
    /// A `tokenwatch bench` measurement could not be taken.
    #[error("bench: {0}")]
    Bench(String),
    /// A line of a labels file is not a scenario label.
    #[error("`{path}` line {line}: {reason}")]
    Labels {
        /// The labels file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// Why.
        reason: String,
    },
    /// A chart of the report could not be drawn.
    #[error("cannot draw the `{chart}` chart: {reason}")]
    Chart {
        /// The chart.
        chart: &'static str,
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

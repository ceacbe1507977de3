//! The schemas crate's error type.

use std::path::PathBuf;

use datafusion_common::arrow::error::ArrowError;

/// Errors from loading mappings, opening the IP database or building Arrow batches.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mapping file failed to parse or check; every problem found is listed.
    #[error("mapping file `{file}` is invalid:\n  - {}", problems.join("\n  - "))]
    Mapping {
        /// The file (`builtin:okta.toml` for built-in mappings).
        file: String,
        /// One line per problem, each naming the field.
        problems: Vec<String>,
    },
    /// Several mapping files failed; each error is listed.
    #[error("{} mapping files are invalid:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Mappings(Vec<Error>),
    /// A mapping directory could not be read.
    #[error("cannot read mapping directory `{path}`: {source}")]
    MappingDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Two mapping files define the same source layout.
    #[error("mapping files `{first}` and `{second}` both define source layout `{layout}`")]
    DuplicateLayout {
        /// `name/layout`.
        layout: String,
        /// The file loaded first.
        first: String,
        /// The file loaded second.
        second: String,
    },
    /// `--source` named a source no mapping defines.
    #[error("unknown source `{name}`; known sources: {known}")]
    UnknownSource {
        /// The name given.
        name: String,
        /// Comma-separated known names.
        known: String,
    },
    /// The IP database could not be opened.
    #[error("cannot open IP database `{path}`: {reason}")]
    GeoDatabase {
        /// The database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Building an Arrow batch failed.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The engine's error type.

use std::path::PathBuf;

/// Errors from configuring or running the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; every problem is listed, each naming its setting.
    #[error("invalid configuration{}:\n  - {}", file.as_ref().map(|f| format!(" in `{}`", f.display())).unwrap_or_default(), problems.join("\n  - "))]
    Config {
        /// The configuration file, when one was given.
        file: Option<PathBuf>,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// Loading rule files or the inventory failed.
    #[error(transparent)]
    Rules(#[from] tokenwatch_rules::Error),
    /// Loading mappings, the IP database or building batches failed.
    #[error(transparent)]
    Schemas(#[from] tokenwatch_schemas::Error),
    /// A sink failed to write.
    #[error("cannot write {what}: {source}")]
    Sink {
        /// What was being written (`alerts to out/alerts.jsonl`).
        what: String,
        /// The underlying error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

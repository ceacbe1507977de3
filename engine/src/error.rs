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
    /// A Kafka client call failed.
    #[error("kafka: {what}: {source}")]
    Kafka {
        /// What was being done (`creating topic tokenwatch.alerts`).
        what: String,
        /// The client's error.
        source: rdkafka::error::KafkaError,
    },
    /// A checkpoint cannot be read or written.
    #[error("checkpoint `{}`: {problem}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A file or socket operation failed.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file, directory or address.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn kafka(what: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
        let what = what.into();
        move |source| Error::Kafka { what, source }
    }
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The rules crate's error type.

use std::path::PathBuf;

/// Errors from loading rule files or the inventory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule file is invalid; every problem is listed, each naming the field.
    #[error("rule file `{file}` (rule `{rule}`) is invalid:\n  - {}", problems.join("\n  - "))]
    RuleFile {
        /// The file (`builtin:rules/config/burst.toml` for defaults).
        file: String,
        /// The rule.
        rule: String,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// Several rule files are invalid.
    #[error("{} rule files are invalid:\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    RuleFiles(Vec<Error>),
    /// The rules directory cannot be read.
    #[error("cannot read rules directory `{path}`: {source}")]
    RulesDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The inventory is invalid; every bad line is listed.
    #[error("inventory `{file}` is invalid:\n  - {}", problems.join("\n  - "))]
    Inventory {
        /// The inventory file.
        file: String,
        /// One line per problem, with its line number.
        problems: Vec<String>,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

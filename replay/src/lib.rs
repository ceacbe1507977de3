//! tokenwatch's file replay: reading historical log files (JSON lines, JSON documents, gzip),
//! running them through the same engine as the live stream, and writing events (JSON lines or
//! Parquet), dead letters and alerts.
//!
//! Depends on `engine`, `rules` and `schemas`; the binary drives it.

mod error;
pub mod generate;
pub mod input;
pub mod output;
pub mod run;
pub mod samples;

pub use error::{Error, Result};
pub use input::{Input, RecordReader};
pub use output::{AlertFormat, EventOutput, FileSink, JsonLines, Target};
pub use run::{RunOptions, run};

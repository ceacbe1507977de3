//! tokenwatch's file replay: reading historical log files (JSON lines, JSON documents, gzip),
//! running them through the same engine as the live stream, and writing events (JSON lines or
//! Parquet), dead letters and alerts (JSON lines or Parquet); and what an analyst does with a
//! replay: backtesting rule sets against labels ([`backtest`]) and SQL over the events and alerts
//! written ([`sql`]); and measuring the whole on this machine ([`bench`]).
//!
//! Depends on `engine`, `rules` and `schemas`; the binary drives it.

pub mod arrow_alerts;
pub mod backtest;
pub mod bench;
mod error;
pub mod generate;
pub mod input;
pub mod output;
pub mod run;
pub mod samples;
pub mod sql;

pub use error::{Error, Result};
pub use input::{Input, RecordReader};
pub use output::{AlertFormat, AlertOutput, EventOutput, FileSink, JsonLines, Target};
pub use run::{RunOptions, run};

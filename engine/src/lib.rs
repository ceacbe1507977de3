//! tokenwatch's runtime: configuration, building the normaliser from it, batching events, running
//! detectors over them and handing events, dead letters and alerts to sinks.
//!
//! Depends on `schemas` and `rules`. It reads only what configures it (mapping and rule folders,
//! the inventory, the IP database); log files are `replay`'s, the command line the binary's.
//! The Kafka service (`tokenwatch run`) is [`kafka`], with its checkpoints ([`checkpoint`]),
//! metrics ([`metrics`]) and HTTP endpoint ([`server`]). Delivery semantics of [`pipeline::Pipeline`]: every record handed in produces, in input
//! order, either events or dead letters at the sink; nothing is dropped. Alerts follow the events
//! that caused them.

pub mod batcher;
pub mod checkpoint;
pub mod config;
mod error;
pub mod kafka;
pub mod metrics;
pub mod pipeline;
pub mod server;
pub mod setup;
pub mod stats;

pub use config::Settings;
pub use error::{Error, Result};
pub use pipeline::{Pipeline, RawRecord, Sink};
pub use stats::RunStats;

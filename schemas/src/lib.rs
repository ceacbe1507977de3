//! tokenwatch's shared model: the normalised [`Event`], its Arrow schema, and the source mappings
//! that turn vendor log records into events.
//!
//! This crate is the bottom layer. It does no I/O besides reading mapping files and the IP
//! database when asked to, and depends on no runtime (no tokio, no rdkafka). Every other crate
//! builds on it: `rules` (detectors) ← `engine` (runtime) ← `replay` (files) ← the binary.
//!
//! - [`event`]: the event model, field by field;
//! - [`arrow`]: its Arrow schema and a batch builder;
//! - [`mapping`]: declarative source mappings (built-in ones live in `schemas/mappings/*.toml`);
//! - [`normalize`]: bytes → events or dead letters, through a borrowed JSON tree ([`json`]);
//! - [`secrets`]: keyed fingerprints and redaction, so no raw credential leaves normalisation;
//! - [`geo`]: IP geolocation; [`time`]: timestamp parsing.

pub mod alert;
pub mod arrow;
pub mod dead_letter;
mod error;
pub mod event;
pub mod geo;
pub mod json;
pub mod mapping;
pub mod normalize;
pub mod secrets;
pub mod time;

pub use alert::{Alert, Severity};
pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use error::{Error, Result};
pub use event::{Event, EventClass, Geo, GeoFrom, Origin, Outcome, TokenKind};
pub use mapping::{Mapping, NormalizeContext, SourceRegistry};
pub use normalize::{Normalized, Normalizer};
pub use secrets::{Fingerprinter, Redactor};

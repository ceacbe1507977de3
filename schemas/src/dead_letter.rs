//! Records that cannot be normalised: why, and where they came from.
//!
//! Nothing is dropped silently. A record that cannot become an [`Event`](crate::Event) becomes a
//! [`DeadLetter`] carrying its origin, a stable reason code, a human-readable detail and the
//! original record with credentials redacted (see [`crate::secrets::Redactor`]).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Origin;

/// Why a record was dead-lettered. The snake_case names are stable: metrics and dashboards use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// The bytes are not valid JSON (or not UTF-8).
    InvalidJson,
    /// Valid JSON, but not an object (a string, a number, …).
    NotAnObject,
    /// No mapping recognises the record's shape and no source was given.
    UnknownSource,
    /// A source was given but none of its layouts matches the record.
    NoMatchingLayout,
    /// The record has no event time.
    MissingTime,
    /// The record's event time cannot be parsed.
    InvalidTime,
    /// The record is larger than the configured limit.
    RecordTooLarge,
}

impl DeadLetterReason {
    /// Every reason, in declaration order.
    pub const ALL: &'static [DeadLetterReason] = &[
        DeadLetterReason::InvalidJson,
        DeadLetterReason::NotAnObject,
        DeadLetterReason::UnknownSource,
        DeadLetterReason::NoMatchingLayout,
        DeadLetterReason::MissingTime,
        DeadLetterReason::InvalidTime,
        DeadLetterReason::RecordTooLarge,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::InvalidJson => "invalid_json",
            DeadLetterReason::NotAnObject => "not_an_object",
            DeadLetterReason::UnknownSource => "unknown_source",
            DeadLetterReason::NoMatchingLayout => "no_matching_layout",
            DeadLetterReason::MissingTime => "missing_time",
            DeadLetterReason::InvalidTime => "invalid_time",
            DeadLetterReason::RecordTooLarge => "record_too_large",
        }
    }
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mapping's refusal of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Reason code.
    pub reason: DeadLetterReason,
    /// What exactly was wrong, naming the field.
    pub detail: String,
}

impl Rejection {
    /// A rejection.
    pub fn new(reason: DeadLetterReason, detail: impl Into<String>) -> Self {
        Rejection { reason, detail: detail.into() }
    }
}

/// A record that could not be normalised, as written to the dead-letter output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Where the record was read from.
    pub origin: Origin,
    /// Reason code.
    pub reason: DeadLetterReason,
    /// What exactly was wrong.
    pub detail: String,
    /// The source (and layout) the record was taken for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The original record with credentials redacted: the JSON value, or the text when it was not
    /// JSON.
    pub record: Value,
}

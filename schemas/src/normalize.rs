//! From raw record bytes to [`Event`]s or [`DeadLetter`]s.
//!
//! A record is one JSON value: an object (one vendor record), an array of them, or an envelope such
//! as CloudTrail's `{"Records": […]}`. Each object is matched to a source layout (the one given
//! with `--source`, or the first whose shape matches) and mapped. Every input object produces
//! exactly one output: an event or a dead letter.

use std::sync::Arc;

use serde_json::Value;

use crate::Result;
use crate::dead_letter::{DeadLetter, DeadLetterReason, Rejection};
use crate::event::{Event, Origin};
use crate::json::Node;
use crate::mapping::path::FieldPath;
use crate::mapping::{Mapping, NormalizeContext, SourceRegistry};

/// Default upper bound on one record's size.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// How much of an oversized record the dead letter keeps.
const OVERSIZED_KEPT_BYTES: usize = 64 * 1024;

/// The result of normalising one record.
// Events are the common case: boxing them to shrink the enum would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Normalized {
    /// The record became an event.
    Event(Event),
    /// The record could not be normalised.
    DeadLetter(DeadLetter),
}

/// Normalises records with a fixed set of layouts and a fixed context. Cheap to share across
/// threads (`&self` only).
#[derive(Debug, Clone)]
pub struct Normalizer {
    registry: Arc<SourceRegistry>,
    forced: Option<Vec<Arc<Mapping>>>,
    envelopes: Vec<FieldPath>,
    ctx: NormalizeContext,
    max_record_bytes: usize,
}

impl Normalizer {
    /// A normaliser over `registry`; with `source`, only that source's layouts are used.
    pub fn new(registry: Arc<SourceRegistry>, ctx: NormalizeContext, source: Option<&str>) -> Result<Self> {
        let forced = source.map(|name| registry.layouts(name)).transpose()?;
        let candidates: &[Arc<Mapping>] = forced.as_deref().unwrap_or(registry.mappings());
        let mut envelopes: Vec<FieldPath> = candidates.iter().filter_map(|m| m.envelope().cloned()).collect();
        envelopes.dedup();
        Ok(Normalizer { registry, forced, envelopes, ctx, max_record_bytes: DEFAULT_MAX_RECORD_BYTES })
    }

    /// Sets the largest record accepted; larger ones are dead letters.
    pub fn with_max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// The context (secret key, IP database).
    pub fn context(&self) -> &NormalizeContext {
        &self.ctx
    }

    /// The known layouts.
    pub fn registry(&self) -> &SourceRegistry {
        &self.registry
    }

    /// Normalises the record in `bytes` read from `origin`, passing every result to `out`.
    pub fn normalize(&self, bytes: &[u8], origin: &Origin, out: &mut dyn FnMut(Normalized)) {
        if bytes.len() > self.max_record_bytes {
            let kept = String::from_utf8_lossy(&bytes[..OVERSIZED_KEPT_BYTES.min(bytes.len())]);
            out(Normalized::DeadLetter(DeadLetter {
                origin: origin.clone(),
                reason: DeadLetterReason::RecordTooLarge,
                detail: format!(
                    "record is {} bytes, the limit is {}; the first {} bytes are kept",
                    bytes.len(),
                    self.max_record_bytes,
                    kept.len()
                ),
                source: None,
                record: Value::String(self.ctx.redactor().scrub_str(&kept).into_owned()),
            }));
            return;
        }
        match Node::parse(bytes) {
            Ok(record) => self.normalize_node(&record, origin, out),
            Err(error) => {
                let text = String::from_utf8_lossy(bytes);
                out(Normalized::DeadLetter(DeadLetter {
                    origin: origin.clone(),
                    reason: DeadLetterReason::InvalidJson,
                    detail: error.to_string(),
                    source: None,
                    record: Value::String(self.ctx.redactor().scrub_str(&text).into_owned()),
                }));
            }
        }
    }

    /// Normalises an already parsed record.
    pub fn normalize_value(&self, value: Value, origin: &Origin, out: &mut dyn FnMut(Normalized)) {
        self.normalize_node(&Node::from_value(&value), origin, out);
    }

    /// Normalises a record parsed as a borrowed tree ([`Node::parse`]).
    pub fn normalize_node(&self, record: &Node<'_>, origin: &Origin, out: &mut dyn FnMut(Normalized)) {
        match record {
            Node::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let origin = origin.with_index(index as u32);
                    self.normalize_element(item, &origin, out);
                }
            }
            Node::Object(_) => self.normalize_top_object(record, origin, out),
            other => self.normalize_element(other, origin, out),
        }
    }

    /// A top-level object is one record when a layout recognises it; otherwise, if it wraps
    /// records in an envelope (`Records`, `data.events`), each wrapped record is one.
    fn normalize_top_object(&self, record: &Node<'_>, origin: &Origin, out: &mut dyn FnMut(Normalized)) {
        let direct = self.detect(record);
        if direct.is_none()
            && let Some(records) = self.envelopes.iter().find_map(|path| path.first(record)?.as_array())
        {
            for (index, item) in records.iter().enumerate() {
                let origin = origin.with_index(index as u32);
                self.normalize_element(item, &origin, out);
            }
            return;
        }
        out(self.normalize_detected(record, origin, direct));
    }

    fn normalize_element(&self, value: &Node<'_>, origin: &Origin, out: &mut dyn FnMut(Normalized)) {
        if value.is_object() {
            out(self.normalize_detected(value, origin, self.detect(value)));
            return;
        }
        let kind = match value {
            Node::Array(_) => "an array nested in an array",
            Node::String(_) => "a string",
            Node::Number(_) => "a number",
            Node::Bool(_) => "a boolean",
            Node::Null => "null",
            Node::Object(_) => "an object",
        };
        out(self.dead_letter(
            origin,
            Rejection::new(DeadLetterReason::NotAnObject, format!("record is {kind}, not a JSON object")),
            None,
            value.to_value(),
        ));
    }

    /// Normalises one JSON object, given the layout its shape matched (if any).
    fn normalize_detected(&self, record: &Node<'_>, origin: &Origin, detected: Option<&Arc<Mapping>>) -> Normalized {
        let mapping = match self.choose_layout(record, detected) {
            Ok(mapping) => mapping,
            Err(rejection) => return self.dead_letter(origin, rejection, None, record.to_value()),
        };
        match mapping.apply_node(record, &self.ctx, origin.clone()) {
            Ok(event) => Normalized::Event(event),
            Err(rejection) => self.dead_letter(origin, rejection, Some(mapping.qualified_name()), record.to_value()),
        }
    }

    /// The first candidate layout whose detection matches.
    fn detect(&self, record: &Node<'_>) -> Option<&Arc<Mapping>> {
        match &self.forced {
            Some(layouts) => layouts.iter().find(|mapping| mapping.matches_node(record)),
            None => self.registry.detect_node(record),
        }
    }

    /// The detected layout, else the one the user forced, else a rejection.
    fn choose_layout<'m>(
        &'m self,
        record: &Node<'_>,
        detected: Option<&'m Arc<Mapping>>,
    ) -> Result<&'m Arc<Mapping>, Rejection> {
        if let Some(mapping) = detected {
            return Ok(mapping);
        }
        match &self.forced {
            // One layout given by the user: trust the user over the detection rules.
            Some(layouts) if layouts.len() == 1 => Ok(&layouts[0]),
            Some(layouts) => {
                let names: Vec<String> = layouts.iter().map(|m| m.layout.clone()).collect();
                Err(Rejection::new(
                    DeadLetterReason::NoMatchingLayout,
                    format!("record matches none of the layouts of source `{}`: {}", layouts[0].name, names.join(", ")),
                ))
            }
            None => {
                let keys: Vec<&str> = record.sorted_keys().into_iter().take(8).collect();
                Err(Rejection::new(
                    DeadLetterReason::UnknownSource,
                    format!(
                        "no source layout recognises a record with top-level keys [{}]; give --source or add a mapping",
                        keys.join(", ")
                    ),
                ))
            }
        }
    }

    fn dead_letter(
        &self,
        origin: &Origin,
        rejection: Rejection,
        source: Option<String>,
        mut record: Value,
    ) -> Normalized {
        self.ctx.redactor().scrub_value(&mut record);
        let detail = self.ctx.redactor().scrub_str(&rejection.detail).into_owned();
        Normalized::DeadLetter(DeadLetter { origin: origin.clone(), reason: rejection.reason, detail, source, record })
    }
}

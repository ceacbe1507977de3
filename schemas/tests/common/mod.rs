//! Helpers shared by the per-source tests: normalise a fixture file the way `tokenwatch normalize`
//! does (one record per line for `.jsonl`, one JSON document for `.json`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokenwatch_schemas::{
    DeadLetter, Event, Fingerprinter, NormalizeContext, Normalized, Normalizer, Origin, SourceRegistry,
};

/// The key the tests fingerprint secrets with.
pub const TEST_KEY: &[u8] = b"tokenwatch-test-key";

/// `schemas/tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// A normaliser over the built-in mappings, without an IP database.
pub fn normalizer(source: Option<&str>) -> Normalizer {
    let registry = Arc::new(SourceRegistry::builtin().expect("built-in mappings load"));
    let ctx = NormalizeContext::new(Fingerprinter::new(TEST_KEY), None);
    Normalizer::new(registry, ctx, source).expect("source exists")
}

/// The fingerprint tests expect for `secret`.
pub fn fingerprint(secret: &str) -> String {
    Fingerprinter::new(TEST_KEY).fingerprint_credential(secret)
}

/// Normalises every record of a fixture file.
pub fn normalize_file(rel: &str, source: Option<&str>) -> (Vec<Event>, Vec<DeadLetter>) {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let normalizer = normalizer(source);
    let file: Arc<str> = Arc::from(rel);
    let mut events = Vec::new();
    let mut dead = Vec::new();
    let mut sink = |out: Normalized| match out {
        Normalized::Event(event) => events.push(event),
        Normalized::DeadLetter(letter) => dead.push(letter),
    };
    if rel.ends_with(".jsonl") {
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            normalizer.normalize(line.as_bytes(), &Origin::file(Arc::clone(&file), index as u64 + 1), &mut sink);
        }
    } else {
        normalizer.normalize(text.as_bytes(), &Origin::file(Arc::clone(&file), 1), &mut sink);
    }
    (events, dead)
}

/// Normalises a fixture and insists nothing was dead-lettered.
pub fn events(rel: &str, source: Option<&str>) -> Vec<Event> {
    let (events, dead) = normalize_file(rel, source);
    assert!(dead.is_empty(), "{rel}: unexpected dead letters: {dead:#?}");
    events
}

/// Microseconds since the epoch of an RFC 3339 time, for readable assertions.
pub fn micros(rfc3339: &str) -> i64 {
    tokenwatch_schemas::time::parse_str(rfc3339, tokenwatch_schemas::time::TimeFormat::Rfc3339).expect("valid time")
}

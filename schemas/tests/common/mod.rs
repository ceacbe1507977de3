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

/// Every JSON object in the fixtures of every source but `own`: lines of `.jsonl`, documents of
/// `.json`, the objects of top-level arrays and of top-level envelopes (`{"Records": […]}`).
pub fn other_fixture_records(own: &str) -> Vec<(String, serde_json::Value)> {
    use serde_json::Value;
    fn collect(name: &str, value: Value, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Array(items) => items.into_iter().for_each(|item| collect(name, item, out)),
            Value::Object(map) => {
                for item in map.values() {
                    if let Value::Array(items) = item {
                        out.extend(items.iter().filter(|i| i.is_object()).map(|i| (name.to_string(), i.clone())));
                    }
                }
                out.push((name.to_string(), Value::Object(map)));
            }
            _ => {}
        }
    }
    let root = fixture("");
    let mut records = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture folder") {
            let path = entry.expect("fixture entry").path();
            if path.is_dir() {
                if path != root.join(own) {
                    stack.push(path);
                }
                continue;
            }
            let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let values: Vec<Value> = match path.extension().and_then(|ext| ext.to_str()) {
                Some("jsonl") => text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect(),
                Some("json") => serde_json::from_str(&text).into_iter().collect(),
                _ => Vec::new(),
            };
            for value in values {
                collect(&name, value, &mut records);
            }
        }
    }
    records
}

/// Asserts that no layout of `source` claims any record of the other sources' fixtures.
pub fn assert_claims_no_other_fixture(source: &str) {
    let registry = SourceRegistry::builtin().expect("built-in mappings load");
    let layouts = registry.layouts(source).expect("source exists");
    let records = other_fixture_records(source);
    assert!(records.len() > 50, "only {} records found in the other fixtures", records.len());
    for (file, record) in records {
        for layout in &layouts {
            assert!(!layout.matches(&record), "{source}/{} claims a record of {file}: {record}", layout.layout);
        }
    }
}

/// Every `secret` found in any of `texts`, as `"secret" in text` lines (empty: nothing leaked).
pub fn leaks(texts: &[String], secrets: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for text in texts {
        for secret in secrets {
            if text.contains(secret) {
                found.push(format!("{secret:?} in {text}"));
            }
        }
    }
    found
}

//! Property tests: no input, however malformed, crashes the normaliser or disappears.
//!
//! Every JSON object yields exactly one output (an event or a dead letter); arrays yield one per
//! element; anything that is not JSON yields one `invalid_json` dead letter.

mod common;

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::Value;
use tokenwatch_schemas::{DeadLetterReason, Normalized, Origin};

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        // Strings that look like what mappings look for.
        prop_oneof![
            Just("2024-03-05T09:15:27Z"),
            Just("1709630127431"),
            Just("Bearer abcdefghijklmnop"),
            Just("81.2.69.142:443"),
            Just("10/Jun/2023:15:36:28 +0000"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    let keys = prop_oneof![
        "[a-zA-Z_@]{1,12}",
        prop_oneof![
            Just("published"),
            Just("eventTime"),
            Just("Records"),
            Just("uuid"),
            Just("eventType"),
            Just("actor"),
            Just("properties"),
            Just("request"),
            Just("headers"),
            Just("authorization"),
            Just("time"),
            Just("@timestamp"),
            Just("action"),
            Just("log_id"),
            Just("data"),
            Just("id"),
            Just("events"),
        ]
        .prop_map(str::to_string),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn run(bytes: &[u8]) -> Vec<Normalized> {
    thread_local! {
        static NORMALIZER: tokenwatch_schemas::Normalizer = common::normalizer(None);
    }
    let origin = Origin::file(Arc::from("prop.jsonl"), 1);
    let mut out = Vec::new();
    NORMALIZER.with(|normalizer| normalizer.normalize(bytes, &origin, &mut |n| out.push(n)));
    out
}

fn expected_outputs(value: &Value) -> Option<usize> {
    match value {
        Value::Array(items) => Some(items.len()),
        // An object may be an envelope (CloudTrail `Records`) and fan out.
        Value::Object(map) if map.get("Records").is_some_and(Value::is_array) => None,
        _ => Some(1),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_crash_and_are_never_lost(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let out = run(&bytes);
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) => {
                if let Some(expected) = expected_outputs(&value) {
                    prop_assert_eq!(out.len(), expected);
                }
            }
            Err(_) => {
                prop_assert_eq!(out.len(), 1);
                let is_invalid_json = matches!(&out[0], Normalized::DeadLetter(d) if d.reason == DeadLetterReason::InvalidJson);
                prop_assert!(is_invalid_json);
            }
        }
    }

    #[test]
    fn arbitrary_json_never_crashes_and_every_record_has_an_outcome(value in arbitrary_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let out = run(&bytes);
        if let Some(expected) = expected_outputs(&value) {
            prop_assert_eq!(out.len(), expected);
        }
        for result in &out {
            match result {
                Normalized::Event(event) => {
                    prop_assert!(!event.event_id.is_empty());
                    prop_assert!(!format!("{event:?}").contains("abcdefghijklmnop"), "raw bearer leaked: {event:?}");
                }
                Normalized::DeadLetter(letter) => {
                    prop_assert!(!letter.detail.is_empty());
                    prop_assert!(!letter.record.to_string().contains("abcdefghijklmnop"), "raw bearer leaked: {letter:?}");
                }
            }
        }
    }
}

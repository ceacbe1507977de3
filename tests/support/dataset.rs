//! The labelled dataset `tokenwatch generate` writes, as the tests that score detection read it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// One line of `labels.jsonl`: a scenario and the events it is made of.
#[derive(Debug)]
pub struct Label {
    pub name: String,
    pub attack: bool,
    pub family: String,
    pub event_ids: BTreeSet<String>,
}

/// Generates the default dataset with `bin`, fingerprints keyed with `key`.
pub fn generate(bin: &str, key: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(bin)
        .args(["--quiet", "generate", "--out"])
        .arg(dir.path())
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", key)
        .status()
        .unwrap();
    assert!(status.success(), "generate failed");
    dir
}

/// The labels of the dataset in `dir`.
pub fn labels(dir: &Path) -> Vec<Label> {
    std::fs::read_to_string(dir.join("labels.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let label: Value = serde_json::from_str(line).unwrap();
            Label {
                name: label["scenario"].as_str().unwrap().to_string(),
                attack: label["kind"] == "attack",
                family: label["family"].as_str().unwrap().to_string(),
                event_ids: alert_event_ids(&label),
            }
        })
        .collect()
}

/// The `event_ids` of an alert (or of a label).
pub fn alert_event_ids(alert: &Value) -> BTreeSet<String> {
    alert["event_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

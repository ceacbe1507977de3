//! Detection end to end on a generated, labelled dataset (`tokenwatch generate`):
//!
//! - per-family recall and precision, scored against the labels, and no alert on any benign
//!   look-alike;
//! - a golden alerts file (`tests/golden/generated_alerts.jsonl`; regenerate with
//!   `TOKENWATCH_BLESS=1 cargo test --test detection`) — a changed alert is a decision;
//! - the same alerts (same ids, same final counts) whatever the batch size, the shard count, the
//!   thread count, or the order of records within the reorder bound.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

#[path = "support/dataset.rs"]
mod dataset;

use dataset::{Label, alert_event_ids};

const BIN: &str = env!("CARGO_BIN_EXE_tokenwatch");
const KEY: &str = "detection-test-fingerprint-key-0123";

/// The dataset, generated once per test process.
fn dataset() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| dataset::generate(BIN, KEY)).path()
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            (name.ends_with(".jsonl") || name.ends_with(".json"))
                && !name.starts_with("inventory")
                && !name.starts_with("labels")
        })
        .collect();
    files.sort();
    files
}

/// Replays `inputs` with the dataset's inventory; returns the final version of every alert
/// (last line per `alert_id`), sorted by id.
fn replay(inputs: &[PathBuf], envs: &[(&str, &str)]) -> Vec<Value> {
    let out = tempfile::tempdir().unwrap();
    let alerts_path = out.path().join("alerts.jsonl");
    let mut command = Command::new(BIN);
    command
        .args(["--quiet", "replay", "--inventory"])
        .arg(dataset().join("inventory.jsonl"))
        .arg("--output")
        .arg(&alerts_path)
        .arg("--dead-letter")
        .arg(out.path().join("dead.jsonl"))
        .arg("--input")
        .args(inputs)
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY);
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "replay failed: {}", String::from_utf8_lossy(&output.stderr));
    assert!(!out.path().join("dead.jsonl").exists(), "the generated dataset must normalise without dead letters");
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for line in std::fs::read_to_string(&alerts_path).unwrap().lines() {
        let alert: Value = serde_json::from_str(line).unwrap();
        last.insert(alert["alert_id"].as_str().unwrap().to_string(), alert);
    }
    last.into_values().collect()
}

/// What must not change between runs: everything but the wall-clock `detected_at`.
fn comparable(alerts: &[Value]) -> Vec<Value> {
    alerts
        .iter()
        .map(|alert| {
            let mut alert = alert.clone();
            alert.as_object_mut().unwrap().remove("detected_at");
            alert
        })
        .collect()
}

fn reference() -> &'static Vec<Value> {
    static ALERTS: OnceLock<Vec<Value>> = OnceLock::new();
    ALERTS.get_or_init(|| replay(&inputs(dataset()), &[]))
}

fn labels() -> Vec<Label> {
    dataset::labels(dataset())
}

#[test]
fn recall_and_precision_per_family_and_no_alert_on_look_alikes() {
    let alerts = reference();
    let scenarios = labels();
    let families: BTreeSet<&str> = scenarios.iter().map(|s| s.family.as_str()).collect();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for family in families {
        let attacks: Vec<&Label> = scenarios.iter().filter(|s| s.attack && s.family == family).collect();
        let benign: Vec<&Label> = scenarios.iter().filter(|s| !s.attack && s.family == family).collect();
        let rule_alerts: Vec<&Value> = alerts.iter().filter(|a| a["rule"] == family).collect();
        let detected = attacks
            .iter()
            .filter(|s| rule_alerts.iter().any(|a| !alert_event_ids(a).is_disjoint(&s.event_ids)))
            .count();
        let true_alerts = rule_alerts
            .iter()
            .filter(|a| attacks.iter().any(|s| !alert_event_ids(a).is_disjoint(&s.event_ids)))
            .count();
        let benign_hit: Vec<&str> = benign
            .iter()
            .filter(|s| rule_alerts.iter().any(|a| !alert_event_ids(a).is_disjoint(&s.event_ids)))
            .map(|s| s.name.as_str())
            .collect();
        let recall = if attacks.is_empty() { 1.0 } else { detected as f64 / attacks.len() as f64 };
        let precision = if rule_alerts.is_empty() { 1.0 } else { true_alerts as f64 / rule_alerts.len() as f64 };
        report.push(format!(
            "{family:22} attacks={:3} detected={:3} recall={recall:.3} alerts={:4} precision={precision:.3} benign={:3} benign_alerted={}",
            attacks.len(),
            detected,
            rule_alerts.len(),
            benign.len(),
            benign_hit.len()
        ));
        if recall < 0.95 || precision < 0.95 {
            failures.push(format!("{family}: recall {recall:.3}, precision {precision:.3}"));
        }
        if !benign_hit.is_empty() {
            failures.push(format!("{family}: benign look-alikes alerted: {benign_hit:?}"));
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}\n{}", failures.join("\n"), report.join("\n"));
}

#[test]
fn alerts_match_the_golden_file() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/generated_alerts.jsonl");
    let actual = comparable(reference());
    let text: String = actual.iter().map(|a| format!("{a}\n")).collect();
    if std::env::var_os("TOKENWATCH_BLESS").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&golden)
        .unwrap_or_else(|e| panic!("{}: {e} (run with TOKENWATCH_BLESS=1 to create it)", golden.display()));
    let expected: Vec<Value> = expected.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(actual.len(), expected.len(), "alert count changed");
    for (a, e) in actual.iter().zip(&expected) {
        assert_eq!(a, e, "alert differs from the golden file");
    }
}

#[test]
fn same_alerts_whatever_the_batch_size_shard_count_and_thread_count() {
    let expected = comparable(reference());
    for (batch, shards, threads) in [("1", "1", "1"), ("64", "3", "2"), ("4096", "1", "2"), ("4096", "4", "4")] {
        let alerts = replay(
            &inputs(dataset()),
            &[
                ("TOKENWATCH__BATCH__SIZE", batch),
                ("TOKENWATCH__DETECTION__SHARDS", shards),
                ("TOKENWATCH__REPLAY__THREADS", threads),
            ],
        );
        assert_eq!(comparable(&alerts), expected, "batch size {batch}, shards {shards}, threads {threads}");
    }
}

/// Event time of every line of a JSON-lines input, by normalising it.
fn line_times(input: &Path) -> BTreeMap<u64, i64> {
    let output = Command::new(BIN)
        .args(["--quiet", "normalize", "--input"])
        .arg(input)
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap();
            let time = event["time"].as_str().unwrap();
            let micros =
                tokenwatch_schemas::time::parse_str(time, tokenwatch_schemas::time::TimeFormat::Rfc3339).unwrap();
            (event["origin"]["line"].as_u64().unwrap(), micros)
        })
        .collect()
}

#[test]
fn same_alerts_when_records_are_shuffled_within_the_reorder_bound() {
    let shuffled = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for input in inputs(dataset()) {
        let target = shuffled.path().join(input.file_name().unwrap());
        if input.extension().is_some_and(|e| e == "jsonl") {
            // Reverse the order of the records inside every two-minute window of event time:
            // well within the default five-minute reorder bound.
            let times = line_times(&input);
            let text = std::fs::read_to_string(&input).unwrap();
            let mut windows: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
            for (index, line) in text.lines().enumerate() {
                let time = times[&(index as u64 + 1)];
                windows.entry(time.div_euclid(120_000_000)).or_default().push(line);
            }
            let mut out = String::new();
            for lines in windows.values() {
                for line in lines.iter().rev() {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            assert_ne!(out, text, "{}: shuffling changed nothing", input.display());
            std::fs::write(&target, out).unwrap();
        } else {
            std::fs::copy(&input, &target).unwrap();
        }
        files.push(target);
    }
    let alerts = replay(&files, &[]);
    assert_eq!(comparable(&alerts), comparable(reference()));
}

#[test]
fn same_alerts_whatever_the_file_order_when_the_bound_covers_it() {
    // Files read one after another interleave in event time only through the reorder buffer; with
    // a bound as long as the dataset, reading them in reverse order changes nothing.
    let mut files = inputs(dataset());
    files.reverse();
    let alerts = replay(&files, &[("TOKENWATCH__DETECTION__LATENESS", "400d")]);
    let expected = replay(&inputs(dataset()), &[("TOKENWATCH__DETECTION__LATENESS", "400d")]);
    assert_eq!(comparable(&alerts), comparable(&expected));
}

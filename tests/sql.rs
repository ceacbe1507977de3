//! `tokenwatch sql` end to end: `replay` writes the events and alerts of the bundled samples as
//! JSON lines and as Parquet, then the README's queries run over both, and their answers are
//! checked against figures computed here from the JSON lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tokenwatch");
const KEY: &str = "sql-test-fingerprint-key-0123456789";

/// The queries documented in the README ("SQL over replays").
const TOKENS_BY_COUNTRIES: &str = "SELECT token_id, count(DISTINCT geo.country) AS countries, \
    array_sort(array_agg(DISTINCT geo.country)) AS seen_in \
    FROM events WHERE token_id IS NOT NULL AND geo.country IS NOT NULL \
    GROUP BY token_id ORDER BY countries DESC, token_id LIMIT 10";
const ALERTS_PER_RULE_PER_DAY: &str = "SELECT to_char(time, '%Y-%m-%d') AS day, rule, count(*) AS alerts \
    FROM alerts GROUP BY day, rule ORDER BY day, rule";
const TOP_TALKERS: &str = "SELECT token_id, src_ip, calls FROM ( \
    SELECT token_id, src_ip, count(*) AS calls, \
    row_number() OVER (PARTITION BY token_id ORDER BY count(*) DESC, src_ip) AS rank \
    FROM events WHERE token_id IS NOT NULL AND src_ip IS NOT NULL GROUP BY token_id, src_ip) \
    WHERE rank <= 3 ORDER BY token_id, rank";
const ALERT_EVENTS: &str = "SELECT a.alert_id, a.rule, e.event_id, e.source, e.geo.city AS city \
    FROM (SELECT alert_id, rule, unnest(event_ids) AS event_id FROM alerts) a \
    JOIN events e USING (event_id) ORDER BY a.alert_id, e.event_id";

struct Replayed {
    dir: tempfile::TempDir,
}

impl Replayed {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn replay_samples(events: &Path, alerts: &Path) {
    let output = Command::new(BIN)
        .args(["--quiet", "replay", "--events"])
        .arg(events)
        .arg("--output")
        .arg(alerts)
        .arg("--dead-letter")
        .arg(events.with_extension("dead.jsonl"))
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY)
        .output()
        .unwrap();
    assert!(output.status.success(), "replay failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// The bundled samples replayed twice: JSON lines and Parquet.
fn replayed() -> &'static Replayed {
    static RUN: OnceLock<Replayed> = OnceLock::new();
    RUN.get_or_init(|| {
        let replayed = Replayed { dir: tempfile::tempdir().unwrap() };
        replay_samples(&replayed.path("events.jsonl"), &replayed.path("alerts.jsonl"));
        replay_samples(&replayed.path("events.parquet"), &replayed.path("alerts.parquet"));
        replayed
    })
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn events() -> Vec<Value> {
    json_lines(&replayed().path("events.jsonl"))
}

/// Final version of each alert.
fn alerts() -> Vec<Value> {
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for alert in json_lines(&replayed().path("alerts.jsonl")) {
        last.insert(alert["alert_id"].as_str().unwrap().to_string(), alert);
    }
    last.into_values().collect()
}

fn sql(args: &[&str]) -> Output {
    Command::new(BIN).arg("sql").args(args).env_remove("RUST_LOG").output().unwrap()
}

/// Runs `query` over both forms with `--format json`; both must give the same rows.
fn query(query: &str) -> Vec<Value> {
    let mut answers = Vec::new();
    for (events, alerts) in [("events.jsonl", "alerts.jsonl"), ("events.parquet", "alerts.parquet")] {
        let output = sql(&[
            query,
            "--events",
            replayed().path(events).to_str().unwrap(),
            "--alerts",
            replayed().path(alerts).to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(output.status.success(), "{query}: {}", String::from_utf8_lossy(&output.stderr));
        let rows: Vec<Value> =
            String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("sql: rows={}", rows.len())), "{stderr}");
        answers.push(rows);
    }
    assert_eq!(answers[0], answers[1], "JSON lines and Parquet disagree on {query}");
    answers.remove(0)
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

#[test]
fn counts_and_group_by_source() {
    let events = events();
    let rows = query("SELECT count(*) AS n FROM events");
    assert_eq!(rows, vec![serde_json::json!({"n": events.len()})]);

    let mut per_source: BTreeMap<&str, u64> = BTreeMap::new();
    for event in &events {
        *per_source.entry(text(&event["source"])).or_default() += 1;
    }
    let rows = query("SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source");
    let printed: Vec<(&str, u64)> = rows.iter().map(|r| (text(&r["source"]), r["n"].as_u64().unwrap())).collect();
    assert_eq!(printed, per_source.into_iter().collect::<Vec<_>>());

    let alerts = alerts();
    let rows = query("SELECT count(*) AS n, count(DISTINCT alert_id) AS ids FROM alerts");
    assert_eq!(rows, vec![serde_json::json!({"n": alerts.len(), "ids": alerts.len()})]);
    let lines = json_lines(&replayed().path("alerts.jsonl")).len();
    assert_eq!(query("SELECT count(*) AS n FROM alerts_log"), vec![serde_json::json!({"n": lines})]);
}

#[test]
fn tokens_by_distinct_countries() {
    let events = events();
    let mut countries: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for event in &events {
        if let (Some(token), Some(country)) = (event["token_id"].as_str(), event["geo"]["country"].as_str()) {
            countries.entry(token).or_default().insert(country);
        }
    }
    let mut expected: Vec<(&str, usize, Vec<&str>)> =
        countries.iter().map(|(token, set)| (*token, set.len(), set.iter().copied().collect())).collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    expected.truncate(10);
    assert!(!expected.is_empty(), "the samples have located tokens");
    let rows = query(TOKENS_BY_COUNTRIES);
    let printed: Vec<(&str, usize, Vec<&str>)> = rows
        .iter()
        .map(|r| {
            let seen = r["seen_in"].as_array().unwrap().iter().map(text).collect();
            (text(&r["token_id"]), r["countries"].as_u64().unwrap() as usize, seen)
        })
        .collect();
    assert_eq!(printed, expected);
}

#[test]
fn alerts_per_rule_per_day() {
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for alert in alerts() {
        *expected.entry((text(&alert["time"])[..10].to_string(), text(&alert["rule"]).to_string())).or_default() += 1;
    }
    let rows = query(ALERTS_PER_RULE_PER_DAY);
    let printed: BTreeMap<(String, String), u64> = rows
        .iter()
        .map(|r| ((text(&r["day"]).to_string(), text(&r["rule"]).to_string()), r["alerts"].as_u64().unwrap()))
        .collect();
    assert_eq!(printed.len(), rows.len(), "one row per day and rule");
    assert_eq!(printed, expected);
}

#[test]
fn top_talkers_per_token() {
    let events = events();
    let mut calls: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for event in &events {
        if let (Some(token), Some(ip)) = (event["token_id"].as_str(), event["src_ip"].as_str()) {
            *calls.entry(token).or_default().entry(ip).or_default() += 1;
        }
    }
    let mut expected = Vec::new();
    for (token, by_ip) in &calls {
        let mut ranked: Vec<(&str, u64)> = by_ip.iter().map(|(ip, n)| (*ip, *n)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        expected.extend(ranked.into_iter().take(3).map(|(ip, n)| (*token, ip, n)));
    }
    let rows = query(TOP_TALKERS);
    let printed: Vec<(&str, &str, u64)> =
        rows.iter().map(|r| (text(&r["token_id"]), text(&r["src_ip"]), r["calls"].as_u64().unwrap())).collect();
    assert_eq!(printed, expected);
}

#[test]
fn alerts_join_their_events_by_event_id() {
    let events = events();
    let mut expected = Vec::new();
    for alert in alerts() {
        for id in alert["event_ids"].as_array().unwrap() {
            for event in events.iter().filter(|e| &e["event_id"] == id) {
                expected.push(serde_json::json!({
                    "alert_id": alert["alert_id"],
                    "rule": alert["rule"],
                    "event_id": id,
                    "source": event["source"],
                    "city": event["geo"]["city"],
                }));
            }
        }
    }
    assert!(!expected.is_empty(), "the samples' alerts point at their events");
    let mut rows = query(ALERT_EVENTS);
    // JSON lines leave out null columns; the expectation spells them out as null.
    for row in &mut rows {
        row.as_object_mut().unwrap().entry("city").or_insert(Value::Null);
    }
    let sorted = |rows: &[Value]| {
        let mut keys: Vec<String> = rows.iter().map(Value::to_string).collect();
        keys.sort();
        keys
    };
    assert_eq!(sorted(&rows), sorted(&expected));
}

#[test]
fn table_and_csv_output_and_errors() {
    let events = replayed().path("events.parquet");
    let events = events.to_str().unwrap();
    let output = sql(&["SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source", "--events", events]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.starts_with("+--"), "{table}");
    assert!(table.contains("| source ") && table.contains("| okta "), "{table}");

    let output = sql(&[
        "SELECT event_id, scopes FROM events WHERE cardinality(scopes) > 0 ORDER BY event_id LIMIT 2",
        "--events",
        events,
        "--format",
        "csv",
    ]);
    assert!(output.status.success());
    let csv = String::from_utf8(output.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("event_id,scopes"));
    // Lists are written as their text form, quoted when they hold commas.
    let first = lines.next().unwrap();
    assert!(first.contains(",[") || first.contains(",\"["), "{csv}");

    let output = sql(&["SELECT 1"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--events"));
    let output = sql(&["SELECT nope FROM events", "--events", events]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("query failed"));
    let output = sql(&["SELECT * FROM events", "--events", "/nonexistent/events.jsonl"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/events.jsonl"));
}

//! `tokenwatch run` against a real Kafka-protocol broker (tansu, started here on a free port,
//! in-memory storage), over TCP. `scripts/install-test-deps.sh` builds tansu; without it these
//! tests fail, naming the script.
//!
//! Each test generates a small labelled dataset, produces its log files to an input topic (one
//! message per line, keyed by file so each file stays in order within one partition), runs the
//! real binary, and reads the alert topic back. The expected alerts are those `tokenwatch replay`
//! writes for the same files and configuration, compared as sets of `alert_id`s.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::Headers;
use serde_json::Value;

use support::kafka::{Broker, Engine, Proxy, consumer, create_topic, metric_total, produce_lines};

const BIN: &str = env!("CARGO_BIN_EXE_tokenwatch");
const KEY: &str = "kafka-test-fingerprint-key-0123456789";

/// A generated dataset, its replayed alerts, and the run configuration both use.
struct Dataset {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
    expected: BTreeSet<String>,
}

impl Dataset {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("tokenwatch.toml")
    }

    fn inventory(&self) -> PathBuf {
        self.path("data/inventory.jsonl")
    }

    /// Every line of every log file, with the file's name as the key.
    fn records(&self) -> Vec<(String, String)> {
        let mut records = Vec::new();
        for file in &self.files {
            let key = file.file_name().unwrap().to_string_lossy().into_owned();
            for line in std::fs::read_to_string(file).unwrap().lines().filter(|l| !l.trim().is_empty()) {
                records.push((key.clone(), line.to_string()));
            }
        }
        records
    }
}

/// Generates `days` of traffic for `users` and replays it; the replayed alerts are the expectation.
fn dataset(days: u32, users: u32) -> Dataset {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let status = std::process::Command::new(BIN)
        .args(["-q", "generate", "--out"])
        .arg(&data)
        .args(["--days", &days.to_string(), "--users", &users.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Event-time order is the files' own (each is sorted), so no reordering delay is needed.
    std::fs::write(dir.path().join("tokenwatch.toml"), "[detection]\nlateness = \"0s\"\n").unwrap();
    let files: Vec<PathBuf> =
        ["okta.jsonl", "cloudtrail.json", "github.jsonl", "kong.jsonl"].iter().map(|f| data.join(f)).collect();
    let alerts = dir.path().join("replay-alerts.jsonl");
    let output = std::process::Command::new(BIN)
        .arg("--config")
        .arg(dir.path().join("tokenwatch.toml"))
        .args(["-q", "replay", "--inventory"])
        .arg(data.join("inventory.jsonl"))
        .arg("--output")
        .arg(&alerts)
        .arg("--input")
        .args(&files)
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected: BTreeSet<String> = std::fs::read_to_string(&alerts)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["alert_id"].as_str().unwrap().to_string())
        .collect();
    assert!(expected.len() >= 10, "the dataset should raise alerts, got {}", expected.len());
    Dataset { dir, files, expected }
}

/// An alert read from the topic: its id, its token, and the instance that produced it.
#[derive(Debug, Clone)]
struct Received {
    alert_id: String,
    token_id: String,
    instance: String,
    rule_header: String,
    key: String,
    inventory_id: Option<String>,
}

/// Reads `topic` until `done` holds for what was read, or `timeout` passes.
fn read_alerts(
    consumer: &BaseConsumer,
    into: &mut Vec<Received>,
    timeout: Duration,
    done: impl Fn(&[Received]) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !done(into) {
        // Errors (a broker outage in progress) are retried: the consumer reconnects by itself.
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else { continue };
        let alert: Value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        let header = |name: &str| {
            message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == name).and_then(|h| h.value))
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        into.push(Received {
            alert_id: alert["alert_id"].as_str().unwrap().to_string(),
            token_id: alert["token_id"].as_str().unwrap().to_string(),
            inventory_id: alert["inventory_id"].as_str().map(str::to_string),
            instance: header("instance"),
            rule_header: header("rule"),
            key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
        });
    }
}

fn ids(alerts: &[Received]) -> BTreeSet<String> {
    alerts.iter().map(|a| a.alert_id.clone()).collect()
}

/// The engine on `data`'s configuration; `envs` adds settings (`TOKENWATCH__…`) to the test's own.
fn engine(broker: &str, data: &Dataset, state: &Path, envs: &[(&str, &str)]) -> Engine {
    let args: Vec<String> = vec![
        "--config".into(),
        data.config().display().to_string(),
        "run".into(),
        "--brokers".into(),
        broker.into(),
        "--input".into(),
        "auto=logs".into(),
        "--inventory".into(),
        data.inventory().display().to_string(),
        "--state-dir".into(),
        state.display().to_string(),
        "--listen".into(),
        "127.0.0.1:0".into(),
    ];
    let instance = instance_id(state);
    let mut all = vec![
        ("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY),
        ("TOKENWATCH__KAFKA__EVENTS_PARTITIONS", "4"),
        ("TOKENWATCH__STATE__CHECKPOINT_INTERVAL", "2s"),
        ("TOKENWATCH__KAFKA__INSTANCE_ID", instance.as_str()),
    ];
    all.extend_from_slice(envs);
    Engine::start(BIN, &args, &all)
}

/// A stable instance name per state directory (a StatefulSet pod's name).
fn instance_id(state: &Path) -> String {
    format!("instance-{}", state.file_name().unwrap().to_string_lossy())
}

/// Reads the alert topic until every alert replay raised is there (else fails, saying `what`,
/// with the engine's state), then for 3 s more; fails if an alert replay does not raise shows up.
fn expect_replays_alerts(
    consumer: &BaseConsumer,
    got: &mut Vec<Received>,
    data: &Dataset,
    engine: &Engine,
    what: &str,
) {
    read_alerts(consumer, got, Duration::from_secs(180), |got| ids(got).is_superset(&data.expected));
    assert_none_missing(&data.expected, got, engine, what);
    read_alerts(consumer, got, Duration::from_secs(3), |_| false);
    let extra: Vec<_> = ids(got).difference(&data.expected).cloned().collect();
    assert_eq!(extra, Vec::<String>::new(), "alerts replay does not raise (a repeat must carry its id)");
}

fn missing(expected: &BTreeSet<String>, got: &[Received]) -> Vec<String> {
    expected.difference(&ids(got)).cloned().collect()
}

/// Fails, showing the engine's metrics and last log lines, when an expected alert is missing.
fn assert_none_missing(expected: &BTreeSet<String>, got: &[Received], engine: &Engine, what: &str) {
    let missing = missing(expected, got);
    if !missing.is_empty() {
        let stderr = engine.stderr();
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let metrics = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.metrics()))
            .unwrap_or_else(|_| "(no /metrics: the engine does not answer)".to_string());
        panic!(
            "{what}: {} of {} expected alerts missing: {missing:?}\n{}\nlast log lines, newest first:\n{}",
            missing.len(),
            expected.len(),
            metrics,
            tail.join("\n")
        );
    }
}

#[test]
fn run_publishes_the_same_alerts_as_replay() {
    let data = dataset(10, 24);
    let broker = Broker::start();
    create_topic(&broker.address(), "logs", 2);
    produce_lines(&broker.address(), "logs", &data.records());
    let state = data.path("state");
    let mut engine = engine(&broker.address(), &data, &state, &[]);
    let consumer = consumer(&broker.address(), "tokenwatch.alerts");
    let mut got = Vec::new();
    expect_replays_alerts(&consumer, &mut got, &data, &engine, "alerts missing from the topic");
    // Alerts are keyed by inventory id (else token id) and carry their rule in a header.
    for alert in &got {
        assert_eq!(alert.key, alert.inventory_id.clone().unwrap_or_else(|| alert.token_id.clone()));
        assert!(!alert.rule_header.is_empty());
    }
    let metrics = engine.metrics();
    assert!(metrics.contains("tokenwatch_alerts_total{rule="), "{metrics}");
    assert!(metrics.contains("tokenwatch_events_total{source=\"okta\"}"), "{metrics}");
    engine.terminate();
    let stderr = engine.wait_stderr(Duration::from_secs(60));
    assert!(stderr.contains("state checkpointed, offsets committed"), "{stderr}");
    assert!(std::fs::read_dir(&state).unwrap().any(|f| f.unwrap().path().extension().is_some_and(|e| e == "ckpt")));
}

#[test]
fn kill_dash_nine_mid_stream_loses_no_alert() {
    let data = dataset(10, 24);
    let broker = Broker::start();
    create_topic(&broker.address(), "logs", 2);
    let records = data.records();
    let (first, second) = records.split_at(records.len() / 2);
    produce_lines(&broker.address(), "logs", first);
    let state = data.path("state");
    let engine = engine(&broker.address(), &data, &state, &[]);
    let consumer = consumer(&broker.address(), "tokenwatch.alerts");
    let mut got = Vec::new();
    // Let it checkpoint at least once and raise some alerts, then kill it without warning.
    read_alerts(&consumer, &mut got, Duration::from_secs(120), |got| got.len() >= 5);
    assert!(got.len() >= 5, "no alerts before the kill");
    std::thread::sleep(Duration::from_secs(3));
    produce_lines(&broker.address(), "logs", second);
    std::thread::sleep(Duration::from_millis(300));
    let mut engine = engine;
    engine.kill();
    let mut engine = engine_restarted(&broker.address(), &data, &state);
    expect_replays_alerts(&consumer, &mut got, &data, &engine, "alerts lost across kill -9");
    engine.terminate();
    engine.wait_stderr(Duration::from_secs(60));
}

/// The same instance again: same state directory and the same static group membership, as a
/// restarted StatefulSet pod.
fn engine_restarted(broker: &str, data: &Dataset, state: &Path) -> Engine {
    engine(broker, data, state, &[])
}

#[test]
fn two_instances_share_the_work_and_each_token_lives_in_one() {
    let data = dataset(10, 24);
    let broker = Broker::start();
    create_topic(&broker.address(), "logs", 2);
    let first = engine(&broker.address(), &data, &data.path("state-a"), &[]);
    let second = engine(&broker.address(), &data, &data.path("state-b"), &[]);
    first.wait_ready(Duration::from_secs(60));
    second.wait_ready(Duration::from_secs(60));
    // Let the group settle on both members before the data arrives.
    std::thread::sleep(Duration::from_secs(12));
    produce_lines(&broker.address(), "logs", &data.records());
    let consumer = consumer(&broker.address(), "tokenwatch.alerts");
    let mut got = Vec::new();
    read_alerts(&consumer, &mut got, Duration::from_secs(180), |got| ids(got).is_superset(&data.expected));
    read_alerts(&consumer, &mut got, Duration::from_secs(3), |_| false);
    assert_eq!(ids(&got), data.expected, "two instances must raise exactly replay's alerts");
    let mut instances_by_token: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for alert in &got {
        instances_by_token.entry(&alert.token_id).or_default().insert(&alert.instance);
    }
    let split: Vec<_> = instances_by_token.iter().filter(|(_, i)| i.len() > 1).collect();
    assert!(split.is_empty(), "tokens judged by two instances: {split:?}");
    let instances: BTreeSet<&str> = got.iter().map(|a| a.instance.as_str()).collect();
    assert_eq!(instances.len(), 2, "both instances should have raised alerts: {instances:?}");
    for mut engine in [first, second] {
        engine.terminate();
        engine.wait_stderr(Duration::from_secs(60));
    }
}

#[test]
fn a_broker_outage_delays_but_loses_nothing() {
    let data = dataset(10, 24);
    let broker = Broker::start();
    let proxy = Proxy::start(&broker);
    create_topic(&proxy.address(), "logs", 2);
    produce_lines(&proxy.address(), "logs", &data.records());
    let mut engine = engine(&proxy.address(), &data, &data.path("state"), &[]);
    let consumer = consumer(&proxy.address(), "tokenwatch.alerts");
    let mut got = Vec::new();
    read_alerts(&consumer, &mut got, Duration::from_secs(120), |got| !got.is_empty());
    // Longer than the group session timeout (10 s): both consumer groups time out and rebalance
    // while the broker is away, and commits fail until it is back.
    proxy.cut();
    std::thread::sleep(Duration::from_secs(14));
    let during = engine.metrics();
    proxy.restore();
    read_alerts(&consumer, &mut got, Duration::from_secs(180), |got| ids(got).is_superset(&data.expected));
    assert_none_missing(&data.expected, &got, &engine, "alerts lost in the outage");
    assert!(engine.is_running(), "the engine must ride out the outage");
    assert!(during.contains("tokenwatch_kafka_errors_total{kind="), "outage not in the metrics:\n{during}");
    engine.terminate();
    let stderr = engine.wait_stderr(Duration::from_secs(60));
    assert!(stderr.contains("WARN") && stderr.to_lowercase().contains("kafka"), "outage not in the logs:\n{stderr}");
}

/// With room for only two unacknowledged records, both stages pause consumption again and again.
/// Every record must still be read exactly once by ingest, every event it produced judged, and
/// the alerts must be replay's.
#[test]
fn backpressure_pauses_again_and_again_and_loses_nothing() {
    let data = dataset(10, 24);
    let broker = Broker::start();
    create_topic(&broker.address(), "logs", 2);
    let records = data.records();
    produce_lines(&broker.address(), "logs", &records);
    let tight = [("TOKENWATCH__KAFKA__MAX_IN_FLIGHT", "2"), ("TOKENWATCH__KAFKA__CHUNK_RECORDS", "200")];
    let mut engine = engine(&broker.address(), &data, &data.path("state"), &tight);
    let consumer = consumer(&broker.address(), "tokenwatch.alerts");
    let mut got = Vec::new();
    expect_replays_alerts(&consumer, &mut got, &data, &engine, "alerts lost to backpressure");
    // Everything consumed and judged: wait for the counts to settle.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut metrics = engine.metrics();
    let mut judged = -1.0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(2));
        metrics = engine.metrics();
        let now = metric_total(&metrics, "tokenwatch_events_judged_total");
        if metric_total(&metrics, "tokenwatch_records_total") == records.len() as f64 && now == judged {
            break;
        }
        judged = now;
    }
    assert_eq!(
        metric_total(&metrics, "tokenwatch_records_total"),
        records.len() as f64,
        "records consumed:\n{metrics}"
    );
    let pauses =
        |stage: &str| metric_total(&metrics, &format!("tokenwatch_backpressure_pauses_total{{stage=\"{stage}\"}}"));
    assert!(pauses("ingest") >= 10.0, "ingest should have paused again and again:\n{metrics}");
    assert!(pauses("detect") >= 1.0, "detect should have paused:\n{metrics}");
    engine.terminate();
    let stderr = engine.wait_stderr(Duration::from_secs(60));
    // The events ingest produced, from its closing line, are the events detection judged.
    let produced: f64 = stderr
        .lines()
        .find(|line| line.contains("ingest stage stopped"))
        .and_then(|line| line.split("events=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no closing line from ingest:\n{stderr}"));
    assert_eq!(metric_total(&metrics, "tokenwatch_events_judged_total"), produced, "events lost between the stages");
}

#[test]
fn malformed_records_go_to_the_dead_letter_topic_and_the_stream_goes_on() {
    let data = dataset(4, 12);
    let broker = Broker::start();
    create_topic(&broker.address(), "logs", 1);
    let mut records = data.records();
    let bad = [
        ("bad".to_string(), "{not json".to_string()),
        ("bad".to_string(), r#"{"hello":"a record of no known source"}"#.to_string()),
    ];
    records.splice(10..10, bad.iter().cloned());
    produce_lines(&broker.address(), "logs", &records);
    let mut engine = engine(&broker.address(), &data, &data.path("state"), &[]);
    let alerts = consumer(&broker.address(), "tokenwatch.alerts");
    let mut got = Vec::new();
    read_alerts(&alerts, &mut got, Duration::from_secs(120), |got| ids(got).is_superset(&data.expected));
    assert_none_missing(&data.expected, &got, &engine, "alerts missing around malformed records");
    let letters = consumer(&broker.address(), "tokenwatch.dead-letters");
    let mut found = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while found.len() < 2 && Instant::now() < deadline {
        if let Some(message) = letters.poll(Duration::from_millis(200)) {
            let message = message.unwrap();
            found.push(serde_json::from_slice::<Value>(message.payload().unwrap()).unwrap());
        }
    }
    let reasons: BTreeSet<&str> = found.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, BTreeSet::from(["invalid_json", "unknown_source"]), "{found:?}");
    for letter in &found {
        assert_eq!(letter["origin"]["topic"], "logs");
        assert_eq!(letter["origin"]["offset"].as_i64(), Some(letter_offset(&records, letter)));
    }
    let metrics = engine.metrics();
    assert!(metrics.contains("tokenwatch_dead_letters_total{reason=\"invalid_json\"} 1"), "{metrics}");
    engine.terminate();
    engine.wait_stderr(Duration::from_secs(60));
}

/// The offset the dead letter's record was produced at (one partition: its position).
fn letter_offset(records: &[(String, String)], letter: &Value) -> i64 {
    let detail = letter["reason"].as_str().unwrap();
    let position = if detail == "invalid_json" { 10 } else { 11 };
    assert_eq!(records[position].0, "bad");
    position as i64
}

#[test]
fn a_revocation_on_the_inventory_topic_takes_effect_on_the_next_use() {
    let data = dataset(4, 12);
    let broker = Broker::start();
    create_topic(&broker.address(), "logs", 1);
    create_topic(&broker.address(), "inventory", 1);
    // The inventory comes from the topic, not the file.
    let inventory = std::fs::read_to_string(data.inventory()).unwrap();
    let records: Vec<(String, String)> = inventory
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            (record["inventory_id"].as_str().unwrap().to_string(), line.to_string())
        })
        .collect();
    produce_lines(&broker.address(), "inventory", &records);
    // Subscribing to a topic that does not exist yet would wait for the next metadata refresh.
    create_topic(&broker.address(), "okta", 1);
    let mut engine = Engine::start(
        BIN,
        &[
            "--config".into(),
            data.config().display().to_string(),
            "run".into(),
            "--brokers".into(),
            broker.address(),
            "--input".into(),
            "okta=okta".into(),
            "--inventory-topic".into(),
            "inventory".into(),
            "--state-dir".into(),
            data.path("state").display().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ],
        &[("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY)],
    );
    engine.wait_ready(Duration::from_secs(60));
    let metrics = engine.metrics();
    assert!(metrics.contains(&format!("tokenwatch_inventory_records {}", records.len())), "{metrics}");
    // An Okta session, active in the inventory: no revoked_token_use. Then its revocation, then
    // its next use: revoked_token_use.
    let session = "102LiveInventoryTestSession01";
    let record = |n: u32| {
        format!(
            r#"{{"uuid":"live-inv-{n}","published":"2026-01-05T09:0{n}:00.000Z","eventType":"user.session.start","actor":{{"id":"00u1","type":"User","alternateId":"ana@example.com"}},"client":{{"ipAddress":"81.2.69.142","userAgent":{{"rawUserAgent":"Mozilla/5.0 Chrome/121.0"}}}},"authenticationContext":{{"externalSessionId":"{session}"}},"outcome":{{"result":"SUCCESS"}}}}"#
        )
    };
    let inventory_record = |status: &str| {
        format!(
            r#"{{"inventory_id":"inv-live-1","token_id":"{session}","source":"okta","kind":"session","owner":"ana@example.com","status":"{status}","revoked_at":{}}}"#,
            if status == "revoked" { "\"2026-01-05T09:02:00Z\"" } else { "null" }
        )
    };
    produce_lines(&broker.address(), "inventory", &[("inv-live-1".into(), inventory_record("active"))]);
    std::thread::sleep(Duration::from_secs(2));
    produce_lines(&broker.address(), "okta", &[("k".into(), record(1))]);
    let alerts = consumer(&broker.address(), "tokenwatch.alerts");
    let mut got = Vec::new();
    read_alerts(&alerts, &mut got, Duration::from_secs(15), |_| false);
    assert!(got.iter().all(|a| a.rule_header != "revoked_token_use"), "{got:?}");
    produce_lines(&broker.address(), "inventory", &[("inv-live-1".into(), inventory_record("revoked"))]);
    std::thread::sleep(Duration::from_secs(2));
    produce_lines(&broker.address(), "okta", &[("k".into(), record(3))]);
    read_alerts(&alerts, &mut got, Duration::from_secs(60), |got| {
        got.iter().any(|a| a.rule_header == "revoked_token_use")
    });
    let revoked: Vec<_> = got.iter().filter(|a| a.rule_header == "revoked_token_use").collect();
    assert_eq!(revoked.len(), 1, "{got:?}");
    assert_eq!(revoked[0].inventory_id.as_deref(), Some("inv-live-1"));
    engine.terminate();
    engine.wait_stderr(Duration::from_secs(60));
}

//! The service's metrics, served on `/metrics` in the Prometheus text format.
//!
//! Written out here rather than through a metrics library because the processing latency is a
//! *summary* whose quantiles come from an HDR histogram (`hdrhistogram`), a metric type the
//! Prometheus client crates do not offer; the exposition format itself is a few lines. Every
//! family's `# HELP` and `# TYPE` lines are served from the first scrape on, before any sample, so
//! dashboards and alerts can be checked against a freshly started instance.
//!
//! Labelled families keep their series in a `BTreeMap`, so the output is sorted and stable.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// A counter or gauge family with labels.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    labels: &'static [&'static str],
    series: Mutex<BTreeMap<Vec<String>, f64>>,
}

impl Family {
    const fn new(name: &'static str, kind: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Family { name, help, kind, labels, series: Mutex::new(BTreeMap::new()) }
    }

    fn add(&self, values: &[&str], by: f64) {
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        *series.entry(values.iter().map(|v| v.to_string()).collect()).or_default() += by;
    }

    fn set(&self, values: &[&str], to: f64) {
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        series.insert(values.iter().map(|v| v.to_string()).collect(), to);
    }

    fn get(&self, values: &[&str]) -> f64 {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        series.get(&key).copied().unwrap_or(0.0)
    }

    fn total(&self) -> f64 {
        self.series.lock().unwrap_or_else(|e| e.into_inner()).values().sum()
    }

    fn retain(&self, keep: impl Fn(&[String]) -> bool) {
        self.series.lock().unwrap_or_else(|e| e.into_inner()).retain(|key, _| keep(key));
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, self.kind);
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for (values, value) in series.iter() {
            let labels: Vec<(&str, &str)> =
                self.labels.iter().copied().zip(values.iter().map(String::as_str)).collect();
            sample(out, self.name, &labels, *value);
        }
    }
}

/// A label-less gauge or counter.
#[derive(Debug)]
struct Scalar {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    value: AtomicI64,
}

impl Scalar {
    const fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Scalar { name, help, kind, value: AtomicI64::new(0) }
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, self.kind);
        sample(out, self.name, &[], self.value.load(Ordering::Relaxed) as f64);
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (key, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"");
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Processing latency over a sliding window of two periods, as an HDR histogram in microseconds.
#[derive(Debug)]
struct Latency {
    window: Duration,
    current: Histogram<u64>,
    previous: Histogram<u64>,
    rotated: Instant,
    sum_seconds: f64,
    count: u64,
}

impl Latency {
    fn new(window: Duration) -> Self {
        let histogram = || Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
        Latency {
            window,
            current: histogram(),
            previous: histogram(),
            rotated: Instant::now(),
            sum_seconds: 0.0,
            count: 0,
        }
    }

    fn rotate(&mut self, now: Instant) {
        if now.duration_since(self.rotated) >= self.window {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.reset();
            self.rotated = now;
        }
    }

    fn record(&mut self, latency: Duration, count: u64) {
        self.rotate(Instant::now());
        let micros = (latency.as_micros() as u64).clamp(1, 3_600_000_000);
        let _ = self.current.record_n(micros, count);
        self.sum_seconds += latency.as_secs_f64() * count as f64;
        self.count += count;
    }

    fn quantiles(&mut self) -> Vec<(f64, f64)> {
        self.rotate(Instant::now());
        let mut merged = self.previous.clone();
        let _ = merged.add(&self.current);
        [0.5, 0.9, 0.99, 0.999]
            .into_iter()
            .map(|q| (q, if merged.is_empty() { f64::NAN } else { merged.value_at_quantile(q) as f64 / 1e6 }))
            .collect()
    }
}

/// Every metric of a running instance.
#[derive(Debug)]
pub struct Metrics {
    records: Family,
    events: Family,
    dead_letters: Family,
    alerts: Family,
    lag: Family,
    kafka_errors: Family,
    pauses: Family,
    build_info: Family,
    tokens_tracked: Scalar,
    state_bytes: Scalar,
    checkpoints: Scalar,
    last_checkpoint: Scalar,
    broker_connected: Scalar,
    paused: Scalar,
    inventory_records: Scalar,
    duplicates: Scalar,
    judged: Scalar,
    latency: Mutex<Latency>,
    ready: AtomicBool,
    alerts_produced: AtomicU64,
}

/// Names of the metric families served (for dashboards and their tests).
pub const LATENCY_METRIC: &str = "tokenwatch_processing_latency_seconds";

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// No samples yet.
    pub fn new() -> Self {
        Metrics {
            records: Family::new(
                "tokenwatch_records_total",
                "counter",
                "Raw records consumed, by input topic.",
                &["topic"],
            ),
            events: Family::new("tokenwatch_events_total", "counter", "Normalised events, by source.", &["source"]),
            dead_letters: Family::new(
                "tokenwatch_dead_letters_total",
                "counter",
                "Records sent to the dead-letter topic, by reason.",
                &["reason"],
            ),
            alerts: Family::new(
                "tokenwatch_alerts_total",
                "counter",
                "Alerts produced (re-emissions of a suppressed alert included), by rule and severity.",
                &["rule", "severity"],
            ),
            lag: Family::new(
                "tokenwatch_consumer_lag",
                "gauge",
                "Records between the consumer's position and the end of the partition.",
                &["topic", "partition"],
            ),
            kafka_errors: Family::new(
                "tokenwatch_kafka_errors_total",
                "counter",
                "Errors reported by the Kafka client, by kind.",
                &["kind"],
            ),
            pauses: Family::new(
                "tokenwatch_backpressure_pauses_total",
                "counter",
                "Times a stage paused consumption because too many produced records awaited acknowledgement.",
                &["stage"],
            ),
            build_info: Family::new("tokenwatch_build_info", "gauge", "Version of the running binary.", &["version"]),
            tokens_tracked: Scalar::new(
                "tokenwatch_tokens_tracked",
                "gauge",
                "Tokens whose state this instance holds.",
            ),
            state_bytes: Scalar::new("tokenwatch_state_bytes", "gauge", "Size of this instance's latest checkpoints."),
            checkpoints: Scalar::new("tokenwatch_checkpoints_total", "counter", "Checkpoints written."),
            last_checkpoint: Scalar::new(
                "tokenwatch_last_checkpoint_timestamp_seconds",
                "gauge",
                "Unix time of the latest checkpoint.",
            ),
            broker_connected: Scalar::new(
                "tokenwatch_broker_connected",
                "gauge",
                "1 while at least one broker connection is up, else 0.",
            ),
            paused: Scalar::new(
                "tokenwatch_backpressure_paused",
                "gauge",
                "Stages (ingest, detect) that have stopped consuming until produced records are acknowledged; 0 while consumption flows.",
            ),
            inventory_records: Scalar::new("tokenwatch_inventory_records", "gauge", "Records in the token inventory."),
            duplicates: Scalar::new(
                "tokenwatch_redelivered_events_total",
                "counter",
                "Events dropped because their record was already judged (re-delivery after a restart).",
            ),
            judged: Scalar::new(
                "tokenwatch_events_judged_total",
                "counter",
                "Events the detection stage has taken in, to judge in event-time order (replays of a taken-over partition included).",
            ),
            latency: Mutex::new(Latency::new(Duration::from_secs(60))),
            ready: AtomicBool::new(false),
            alerts_produced: AtomicU64::new(0),
        }
    }

    /// Counts raw records of a topic.
    pub fn record_in(&self, topic: &str, count: u64) {
        self.records.add(&[topic], count as f64);
    }

    /// Counts normalised events of a source.
    pub fn event_in(&self, source: &str, count: u64) {
        self.events.add(&[source], count as f64);
    }

    /// Counts a dead letter.
    pub fn dead_letter(&self, reason: &str) {
        self.dead_letters.add(&[reason], 1.0);
    }

    /// Counts an alert produced.
    pub fn alert(&self, rule: &str, severity: &str) {
        self.alerts.add(&[rule, severity], 1.0);
        self.alerts_produced.fetch_add(1, Ordering::Relaxed);
    }

    /// Alerts produced so far.
    pub fn alerts_produced(&self) -> u64 {
        self.alerts_produced.load(Ordering::Relaxed)
    }

    /// Sets the lag of a partition.
    pub fn set_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.lag.set(&[topic, &partition.to_string()], lag as f64);
    }

    /// Forgets the lag of partitions not in `owned` (after a rebalance).
    pub fn retain_lag(&self, owned: impl Fn(&str, i32) -> bool) {
        self.lag.retain(|key| key[1].parse().is_ok_and(|partition| owned(&key[0], partition)));
    }

    /// Counts a Kafka client error.
    pub fn kafka_error(&self, kind: &str) {
        self.kafka_errors.add(&[kind], 1.0);
    }

    /// Kafka client errors of a kind so far.
    pub fn kafka_errors(&self, kind: &str) -> u64 {
        self.kafka_errors.get(&[kind]) as u64
    }

    /// Records the processing latencies of a batch of records, under one lock.
    pub fn latencies(&self, latencies: &[Duration]) {
        let mut histogram = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        for &latency in latencies {
            histogram.record(latency, 1);
        }
    }

    /// Counts events taken in by the detection stage.
    pub fn judged(&self, count: u64) {
        self.judged.value.fetch_add(count as i64, Ordering::Relaxed);
    }

    /// Events taken in by the detection stage so far.
    pub fn events_judged(&self) -> u64 {
        self.judged.value.load(Ordering::Relaxed) as u64
    }

    /// Raw records consumed so far, over every input topic.
    pub fn records_in(&self) -> u64 {
        self.records.total() as u64
    }

    /// Sets the tokens tracked by this instance.
    pub fn set_tokens_tracked(&self, tokens: u64) {
        self.tokens_tracked.value.store(tokens as i64, Ordering::Relaxed);
    }

    /// Records a checkpoint of `bytes` in all, written at `unix_seconds`.
    pub fn checkpointed(&self, bytes: u64, unix_seconds: i64) {
        self.checkpoints.value.fetch_add(1, Ordering::Relaxed);
        self.state_bytes.value.store(bytes as i64, Ordering::Relaxed);
        self.last_checkpoint.value.store(unix_seconds, Ordering::Relaxed);
    }

    /// Sets whether a broker connection is up.
    pub fn set_broker_connected(&self, up: bool) {
        self.broker_connected.value.store(i64::from(up), Ordering::Relaxed);
    }

    /// Whether a broker connection is up.
    pub fn broker_connected(&self) -> bool {
        self.broker_connected.value.load(Ordering::Relaxed) == 1
    }

    /// Counts a stage that stops consuming until its output is acknowledged (`true`), or starts
    /// again (`false`): the gauge is the number of stages stopped now, so one stage resuming does
    /// not hide another still paused.
    pub fn set_paused(&self, paused: bool) {
        self.paused.value.fetch_add(if paused { 1 } else { -1 }, Ordering::Relaxed);
    }

    /// Marks the start (`true`) or end of a backpressure pause of `stage`; starts are counted.
    pub fn backpressure(&self, stage: &str, paused: bool) {
        if paused {
            self.pauses.add(&[stage], 1.0);
        }
        self.set_paused(paused);
    }

    /// Sets the inventory's size.
    pub fn set_inventory_records(&self, records: usize) {
        self.inventory_records.value.store(records as i64, Ordering::Relaxed);
    }

    /// Counts re-delivered events dropped.
    pub fn set_duplicates(&self, total: u64) {
        self.duplicates.value.store(total as i64, Ordering::Relaxed);
    }

    /// Marks the instance ready (or not) for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether the instance is ready: started, connected.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed) && self.broker_connected()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.build_info.set(&[env!("CARGO_PKG_VERSION")], 1.0);
        for family in
            [&self.records, &self.events, &self.dead_letters, &self.alerts, &self.lag, &self.kafka_errors, &self.pauses]
        {
            family.render(&mut out);
        }
        for scalar in [
            &self.tokens_tracked,
            &self.state_bytes,
            &self.checkpoints,
            &self.last_checkpoint,
            &self.broker_connected,
            &self.paused,
            &self.inventory_records,
            &self.duplicates,
            &self.judged,
        ] {
            scalar.render(&mut out);
        }
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        header(
            &mut out,
            LATENCY_METRIC,
            "Time from consuming a record to judging its events, over the last one to two minutes.",
            "summary",
        );
        for (quantile, value) in latency.quantiles() {
            sample(&mut out, LATENCY_METRIC, &[("quantile", &quantile.to_string())], value);
        }
        sample(&mut out, &format!("{LATENCY_METRIC}_sum"), &[], latency.sum_seconds);
        sample(&mut out, &format!("{LATENCY_METRIC}_count"), &[], latency.count as f64);
        self.build_info.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_described_before_any_sample() {
        let text = Metrics::new().render();
        for name in [
            "tokenwatch_records_total",
            "tokenwatch_events_total",
            "tokenwatch_dead_letters_total",
            "tokenwatch_alerts_total",
            "tokenwatch_consumer_lag",
            "tokenwatch_tokens_tracked",
            "tokenwatch_state_bytes",
            LATENCY_METRIC,
        ] {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing in\n{text}");
        }
    }

    #[test]
    fn samples_carry_escaped_labels_and_quantiles() {
        let metrics = Metrics::new();
        metrics.record_in("okta-logs", 3);
        metrics.record_in("okta-logs", 2);
        metrics.dead_letter("invalid_json");
        metrics.alert("impossible_travel", "high");
        metrics.set_lag("we\"ird", 1, 42);
        let latencies: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        metrics.latencies(&latencies);
        let text = metrics.render();
        assert!(text.contains("tokenwatch_records_total{topic=\"okta-logs\"} 5\n"), "{text}");
        assert!(text.contains("tokenwatch_alerts_total{rule=\"impossible_travel\",severity=\"high\"} 1\n"), "{text}");
        assert!(text.contains("tokenwatch_consumer_lag{topic=\"we\\\"ird\",partition=\"1\"} 42\n"), "{text}");
        let p99: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix("tokenwatch_processing_latency_seconds{quantile=\"0.99\"} "))
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.098..=0.101).contains(&p99), "p99 {p99}");
        assert!(text.contains("tokenwatch_processing_latency_seconds_count 100\n"), "{text}");
    }

    #[test]
    fn the_paused_gauge_counts_stages_and_pauses_are_counted_per_stage() {
        let metrics = Metrics::new();
        metrics.backpressure("ingest", true);
        metrics.backpressure("detect", true);
        metrics.backpressure("ingest", false);
        let text = metrics.render();
        // Ingest resumed; detect is still paused, and the gauge says so.
        assert!(text.contains("tokenwatch_backpressure_paused 1\n"), "{text}");
        assert!(text.contains("tokenwatch_backpressure_pauses_total{stage=\"ingest\"} 1\n"), "{text}");
        assert!(text.contains("tokenwatch_backpressure_pauses_total{stage=\"detect\"} 1\n"), "{text}");
        metrics.backpressure("detect", false);
        assert!(metrics.render().contains("tokenwatch_backpressure_paused 0\n"));
    }
}

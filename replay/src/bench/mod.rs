//! `tokenwatch bench`: how fast this build is on this machine, against a baseline measured in the
//! same run.
//!
//! The corpus is the labelled generator's (`tokenwatch generate`): real vendor formats (Okta,
//! CloudTrail envelopes, GitHub, Kong with bearer JWTs), written to a temporary folder, read back
//! into memory with the replay reader, then measured:
//!
//! - **raw parse** (the baseline): one thread doing nothing but
//!   `serde_json::from_slice::<serde_json::Value>` over every record of the corpus (and dropping
//!   the value). It says how fast this machine parses JSON, so the other figures can be read as
//!   ratios to it on any machine;
//! - **replay**, on one thread and on every worker (`replay.threads`, 0 = one per core): the
//!   engine's [`Pipeline`] over the in-memory records — normalisation (source detection, mapping,
//!   secrets, IP geolocation), batching, detection with every rule and the corpus' inventory, and
//!   alert output (each alert serialised as its JSON line, then discarded);
//! - **detection alone**: the normalised events, in the order the reorder buffer would release
//!   them, judged one by one by [`Detection::judge_one`] (inventory look-up, every rule, state
//!   update, alerts); the mean comes from an untimed loop, the 99th percentile from a second run
//!   timing every event (so it includes one clock read, ~20–50 ns);
//! - **memory per token**: the growth of resident memory (`VmRSS`) while a [`Detection`] judges
//!   two uses of each of 1,000,000 tokens with every rule's part of the state filled (a located
//!   address, an ASN, a user agent, two scopes, UUID event ids). It is measured first, before the
//!   corpus is loaded, so freed memory the allocator keeps does not hide the growth.
//!
//! Event rates are events (not records: a CloudTrail envelope holds many) per second of wall-clock
//! time; each figure is the median of its rounds. Figures only compare within one run: the same
//! build on a busier machine gives lower figures and about the same ratios.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokenwatch_engine::batcher::Batcher;
use tokenwatch_engine::{Pipeline, RawRecord, Settings, Sink, setup};
use tokenwatch_rules::{Detection, DetectionSettings, Inventory, RuleSet, RulesConfig};
use tokenwatch_schemas::{Alert, DeadLetter, Event, EventClass, Geo, GeoFrom, Origin, Outcome, TokenKind};

pub use self::kafka::KafkaFigures;
use crate::generate::{GenerateOptions, generate};
use crate::input::{Input, RecordReader};
use crate::{Error, Result};

pub mod kafka;

/// Tokens held for the memory figure.
pub const MEMORY_TOKENS: usize = 1_000_000;

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchOptions {
    /// A smaller corpus (14 days, 40 users) and one round per figure instead of a warm-up round
    /// and five measured ones: well under a minute, noisier.
    pub quick: bool,
    /// Where to write the corpus; `None`: a temporary folder, removed at the end.
    pub work_dir: Option<PathBuf>,
    /// Kafka bootstrap servers: also measure `tokenwatch run` against them.
    pub brokers: Option<String>,
}

/// The figures of one run. Rates are events per second; see the module documentation for what
/// each measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// The baseline: one thread parsing the corpus into `serde_json::Value`s.
    pub raw_parse_events_per_sec: f64,
    /// Full replay (normalise, every rule, alert output) on one thread.
    pub replay_events_per_sec_1_thread: f64,
    /// Full replay on `threads` worker threads.
    pub replay_events_per_sec: f64,
    /// Rule evaluation and state update alone, per event.
    pub detect_ns_per_event: Latency,
    /// Resident memory per tracked token, with every rule's part of the state filled.
    pub bytes_per_token: Option<f64>,
    /// Worker threads of `replay_events_per_sec` (and its detection shards).
    pub threads: usize,
    /// Tokens held for `bytes_per_token`.
    pub memory_tokens: usize,
    /// The corpus measured.
    pub corpus: Corpus,
    /// Whether this was a `--quick` run.
    pub quick: bool,
    /// Measured rounds per figure (the median is reported).
    pub rounds: usize,
    /// The Kafka figures, when brokers were given (their keys sit beside the others).
    #[serde(flatten)]
    pub kafka: Option<KafkaFigures>,
}

/// A latency distribution, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// What the corpus holds, and what one replay of it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Corpus {
    /// Days of generated traffic.
    pub days: u32,
    /// Generated users.
    pub users: u32,
    /// Records (lines; a CloudTrail envelope is one record).
    pub records: u64,
    /// Events in those records.
    pub events: u64,
    /// Bytes of JSON.
    pub bytes: u64,
    /// Alerts one replay raises (every version written, as in the alert output).
    pub alerts: u64,
    /// Tokens tracked at the end of a replay.
    pub tokens: u64,
    /// Whether the IP database was found (without it, events are located only from their own
    /// records, and normalisation does less work).
    pub geo_database: bool,
}

/// Targets on a 2-core machine, as ratios to the same-run baseline and absolute latencies.
pub mod targets {
    /// `replay_events_per_sec_1_thread / raw_parse_events_per_sec` at least.
    pub const REPLAY_1_THREAD_RATIO: f64 = 0.6;
    /// `replay_events_per_sec / raw_parse_events_per_sec` at least, on 2 cores.
    pub const REPLAY_RATIO: f64 = 1.1;
    /// `detect_ns_per_event.mean` at most.
    pub const DETECT_MEAN_NS: f64 = 400.0;
    /// `detect_ns_per_event.p99` at most.
    pub const DETECT_P99_NS: f64 = 2000.0;
    /// `bytes_per_token` at most.
    pub const BYTES_PER_TOKEN: f64 = 256.0;
    /// `kafka_events_per_sec / kafka_raw_consume_events_per_sec` at least.
    pub const KAFKA_RATIO: f64 = 0.45;
    /// `event_to_alert_p99_ms` at most, at 70% load.
    pub const EVENT_TO_ALERT_P99_MS: f64 = 50.0;
}

impl BenchReport {
    /// The report as a table, one figure per line with its ratio to the baseline and its target.
    pub fn table(&self) -> String {
        let corpus = &self.corpus;
        let raw = self.raw_parse_events_per_sec;
        let ratio = |rate: f64| if raw > 0.0 { rate / raw } else { 0.0 };
        let verdict = |met: bool| if met { "met" } else { "MISSED" };
        let mut out = format!(
            "corpus: {} events in {} records ({:.1} MB), {} days, {} users, IP database {}; {} round{} per figure (median)\n\n",
            corpus.events,
            corpus.records,
            corpus.bytes as f64 / 1e6,
            corpus.days,
            corpus.users,
            if corpus.geo_database { "on" } else { "OFF" },
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
        );
        out.push_str(&format!("{:<34} {:>16} {:>9}  {}\n", "FIGURE", "VALUE", "VS RAW", "TARGET"));
        out.push_str(&format!("{:<34} {:>12} ev/s {:>9.2}  baseline\n", "raw parse (1 thread)", rate(raw), 1.0));
        let one = ratio(self.replay_events_per_sec_1_thread);
        out.push_str(&format!(
            "{:<34} {:>12} ev/s {:>9.2}  >= {:.1} x raw: {}\n",
            "replay, 1 thread",
            rate(self.replay_events_per_sec_1_thread),
            one,
            targets::REPLAY_1_THREAD_RATIO,
            verdict(one >= targets::REPLAY_1_THREAD_RATIO)
        ));
        let all = ratio(self.replay_events_per_sec);
        out.push_str(&format!(
            "{:<34} {:>12} ev/s {:>9.2}  >= {:.1} x raw on 2 cores: {}\n",
            format!("replay, {} threads", self.threads),
            rate(self.replay_events_per_sec),
            all,
            targets::REPLAY_RATIO,
            verdict(all >= targets::REPLAY_RATIO)
        ));
        let detect = self.detect_ns_per_event;
        out.push_str(&format!(
            "{:<34} {:>13.0} ns {:>9}  <= {:.0} ns: {}\n",
            "detect per event, mean",
            detect.mean,
            "",
            targets::DETECT_MEAN_NS,
            verdict(detect.mean <= targets::DETECT_MEAN_NS)
        ));
        out.push_str(&format!(
            "{:<34} {:>13.0} ns {:>9}  <= {:.0} ns: {}\n",
            "detect per event, p99",
            detect.p99,
            "",
            targets::DETECT_P99_NS,
            verdict(detect.p99 <= targets::DETECT_P99_NS)
        ));
        match self.bytes_per_token {
            Some(bytes) => out.push_str(&format!(
                "{:<34} {:>14.0} B {:>9}  <= {:.0} B: {}\n",
                format!("memory per token ({} tokens)", self.memory_tokens),
                bytes,
                "",
                targets::BYTES_PER_TOKEN,
                verdict(bytes <= targets::BYTES_PER_TOKEN)
            )),
            None => out.push_str(&format!(
                "{:<34} {:>16} {:>9}  (resident memory is read from /proc/self/status)\n",
                "memory per token", "n/a", ""
            )),
        }
        if let Some(kafka) = &self.kafka {
            let baseline = kafka.kafka_raw_consume_events_per_sec;
            let share = if baseline > 0.0 { kafka.kafka_events_per_sec / baseline } else { 0.0 };
            out.push_str(&format!("\nKafka, brokers {}\n", kafka.kafka_brokers));
            out.push_str(&format!(
                "{:<34} {:>12} ev/s {:>9.2}  baseline\n",
                "raw consume (1 consumer)",
                rate(baseline),
                1.0
            ));
            out.push_str(&format!(
                "{:<34} {:>12} ev/s {:>9.2}  >= {:.2} x raw consume: {}\n",
                "tokenwatch run, end to end",
                rate(kafka.kafka_events_per_sec),
                share,
                targets::KAFKA_RATIO,
                verdict(share >= targets::KAFKA_RATIO)
            ));
            let load = format!("at {} ev/s", rate(kafka.kafka_load_events_per_sec));
            out.push_str(&format!(
                "{:<34} {:>13.1} ms {:>9}\n",
                "event -> alert, p50", kafka.event_to_alert_p50_ms, ""
            ));
            out.push_str(&format!(
                "{:<34} {:>13.1} ms {:>9}  <= {:.0} ms {load} ({} alerts): {}\n",
                "event -> alert, p99",
                kafka.event_to_alert_p99_ms,
                "",
                targets::EVENT_TO_ALERT_P99_MS,
                kafka.kafka_alerts_timed,
                verdict(kafka.event_to_alert_p99_ms <= targets::EVENT_TO_ALERT_P99_MS)
            ));
        }
        out
    }
}

/// `123456.7` → `123,457`.
fn rate(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Runs every measurement with `settings` (IP database, rules, key, batch size, threads),
/// reporting progress through `progress`.
pub fn run(settings: &Settings, options: &BenchOptions, progress: &mut dyn FnMut(&str)) -> Result<BenchReport> {
    let (warmups, rounds) = if options.quick { (0, 1) } else { (1, 5) };
    let threads = match settings.replay.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        threads => threads,
    };

    // Memory first, while the heap holds nothing else.
    progress(&format!("holding {MEMORY_TOKENS} tokens for the memory figure"));
    let bytes_per_token = memory_per_token(MEMORY_TOKENS);

    let (days, users) = if options.quick { (14, 40) } else { (42, 120) };
    let work = WorkDir::new(options.work_dir.clone())?;
    progress(&format!("generating the corpus ({days} days, {users} users) in {}", work.path.display()));
    let generated =
        generate(&GenerateOptions { out_dir: work.path.clone(), days, users, ..GenerateOptions::default() })?;
    let inventory = work.path.join("inventory.jsonl");
    let mut records = Vec::new();
    for (path, _) in &generated.files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with("inventory") || name.starts_with("labels") {
            continue;
        }
        read_all(path, &mut records)?;
    }
    let mut corpus = Corpus {
        days,
        users,
        records: records.len() as u64,
        events: generated.events,
        bytes: records.iter().map(|r| r.bytes.len() as u64).sum(),
        alerts: 0,
        tokens: 0,
        geo_database: false,
    };

    let mut replay_settings = settings.clone();
    replay_settings.detection.inventory = inventory.display().to_string();
    let (probe, _) = setup::normalizer(&replay_settings, None)?;
    corpus.geo_database = probe.context().geo().is_some();
    drop(probe);

    progress(&format!("raw parse baseline: {} records, {} events", corpus.records, corpus.events));
    let raw = median((0..warmups + rounds).map(|_| raw_parse(&records)).skip(warmups).collect());

    let mut replay_rate = |threads: usize, corpus: &mut Corpus| -> Result<f64> {
        progress(&format!("replay on {threads} thread{}", if threads == 1 { "" } else { "s" }));
        let mut elapsed = Vec::new();
        for round in 0..warmups + rounds {
            let (time, outcome) = replay(&replay_settings, &records, threads)?;
            if outcome.events != corpus.events || outcome.dead_letters != 0 {
                return Err(bench_error(format!(
                    "replay produced {} events and {} dead letters from a corpus of {} events",
                    outcome.events, outcome.dead_letters, corpus.events
                )));
            }
            corpus.alerts = outcome.alerts;
            corpus.tokens = outcome.tokens;
            if round >= warmups {
                elapsed.push(time);
            }
        }
        Ok(corpus.events as f64 / median(elapsed).as_secs_f64())
    };
    let one_thread = replay_rate(1, &mut corpus)?;
    let all_threads = replay_rate(threads, &mut corpus)?;

    progress("detection alone");
    let events = normalized_events(&replay_settings, &records, threads)?;
    let mut means = Vec::new();
    let mut p99s = Vec::new();
    for round in 0..warmups + rounds {
        let (mean, p99) = detect(&replay_settings, &events)?;
        if round >= warmups {
            means.push(mean);
            p99s.push(p99);
        }
    }
    let detect_ns_per_event = Latency { mean: median_f64(means), p99: median_f64(p99s) };

    let kafka = match &options.brokers {
        Some(brokers) => {
            let feed = kafka::Feed::of(&records, &events);
            let feed_for = Duration::from_secs(if options.quick { 5 } else { 15 });
            let state = work.path.join("kafka-state");
            Some(kafka::measure(&replay_settings, brokers, &feed, &state, rounds.min(3), feed_for, progress)?)
        }
        None => None,
    };

    Ok(BenchReport {
        raw_parse_events_per_sec: corpus.events as f64 / raw.as_secs_f64(),
        replay_events_per_sec_1_thread: one_thread,
        replay_events_per_sec: all_threads,
        detect_ns_per_event,
        bytes_per_token,
        threads,
        memory_tokens: MEMORY_TOKENS,
        corpus,
        quick: options.quick,
        rounds,
        kafka,
    })
}

fn bench_error(message: String) -> Error {
    Error::Bench(message)
}

/// The corpus folder: given, or a temporary one removed on drop.
struct WorkDir {
    path: PathBuf,
    temporary: bool,
}

impl WorkDir {
    fn new(given: Option<PathBuf>) -> Result<Self> {
        let (path, temporary) = match given {
            Some(path) => (path, false),
            None => (std::env::temp_dir().join(format!("tokenwatch-bench-{}", std::process::id())), true),
        };
        std::fs::create_dir_all(&path).map_err(|source| Error::Write { path: path.clone(), source })?;
        Ok(WorkDir { path, temporary })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn read_all(path: &Path, out: &mut Vec<RawRecord>) -> Result<()> {
    let mut reader = RecordReader::open(&Input::File(path.to_path_buf()), Arc::new(AtomicU64::new(0)))?;
    while reader.read_chunk(usize::MAX, out)? {}
    Ok(())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or(Duration::MAX)
}

fn median_f64(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// One thread parsing every record into a `serde_json::Value` (and dropping it).
fn raw_parse(records: &[RawRecord]) -> Duration {
    let start = Instant::now();
    for record in records {
        let value = serde_json::from_slice::<serde_json::Value>(&record.bytes);
        std::hint::black_box(&value);
    }
    start.elapsed()
}

/// What one replay produced.
#[derive(Debug, Default)]
struct ReplayOutcome {
    events: u64,
    dead_letters: u64,
    alerts: u64,
    tokens: u64,
}

/// A sink that writes alerts and dead letters as JSON lines into a buffer it then discards, and
/// counts events (a replay without `--events`).
#[derive(Debug, Default)]
struct DiscardSink {
    line: Vec<u8>,
    outcome: ReplayOutcome,
}

impl Sink for DiscardSink {
    fn events(&mut self, events: &[Event]) -> tokenwatch_engine::Result<()> {
        self.outcome.events += events.len() as u64;
        Ok(())
    }

    fn dead_letter(&mut self, letter: &DeadLetter) -> tokenwatch_engine::Result<()> {
        self.outcome.dead_letters += 1;
        self.write(letter)
    }

    fn alert(&mut self, alert: &Alert) -> tokenwatch_engine::Result<()> {
        self.outcome.alerts += 1;
        self.write(alert)
    }
}

impl DiscardSink {
    fn write<T: Serialize>(&mut self, value: &T) -> tokenwatch_engine::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value).map_err(|error| tokenwatch_engine::Error::Sink {
            what: "bench output".to_string(),
            source: Box::new(error),
        })?;
        self.line.push(b'\n');
        std::hint::black_box(&self.line);
        Ok(())
    }
}

fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("bench-{i}"))
        .build()
        .map_err(|error| bench_error(format!("cannot start {threads} worker threads: {error}")))
}

/// One full replay of `records` on `threads` workers (and as many detection shards, unless
/// `detection.shards` says otherwise); the set-up (IP database, inventory, rules) is not timed.
fn replay(settings: &Settings, records: &[RawRecord], threads: usize) -> Result<(Duration, ReplayOutcome)> {
    let mut settings = settings.clone();
    settings.replay.threads = threads;
    let (normalizer, _) = setup::normalizer(&settings, None)?;
    let detection = setup::detection(&settings)?;
    let batcher = Batcher::new(settings.batch.size, settings.batch.linger);
    let mut pipeline = Pipeline::new(normalizer, RuleSet::of(Box::new(detection)), batcher);
    let pool = pool(threads)?;
    let mut sink = DiscardSink::default();
    let chunk = settings.replay.chunk_records.max(1);
    let start = Instant::now();
    pool.install(|| -> tokenwatch_engine::Result<()> {
        for records in records.chunks(chunk) {
            pipeline.process(records, &mut sink)?;
        }
        pipeline.finish(&mut sink)
    })?;
    let elapsed = start.elapsed();
    sink.outcome.tokens =
        pipeline.stats().detection.iter().find(|(name, _)| *name == "tokens_tracked").map_or(0, |(_, n)| *n);
    Ok((elapsed, sink.outcome))
}

/// Collects the events of a replay without detection.
#[derive(Debug, Default)]
struct EventSink(Vec<Event>);

impl Sink for EventSink {
    fn events(&mut self, events: &[Event]) -> tokenwatch_engine::Result<()> {
        self.0.extend_from_slice(events);
        Ok(())
    }
    fn dead_letter(&mut self, _: &DeadLetter) -> tokenwatch_engine::Result<()> {
        Ok(())
    }
    fn alert(&mut self, _: &Alert) -> tokenwatch_engine::Result<()> {
        Ok(())
    }
}

/// The corpus normalised, in the order the reorder buffer releases events (time, event id,
/// source, token).
fn normalized_events(settings: &Settings, records: &[RawRecord], threads: usize) -> Result<Vec<Event>> {
    let (normalizer, _) = setup::normalizer(settings, None)?;
    let batcher = Batcher::new(settings.batch.size, settings.batch.linger);
    let mut pipeline = Pipeline::new(normalizer, RuleSet::empty(), batcher);
    let mut sink = EventSink::default();
    pool(threads)?.install(|| -> tokenwatch_engine::Result<()> {
        pipeline.process(records, &mut sink)?;
        pipeline.finish(&mut sink)
    })?;
    let mut events = sink.0;
    events.sort_by(|a, b| {
        (a.time_us, &a.event_id, &a.source, &a.token_id).cmp(&(b.time_us, &b.event_id, &b.source, &b.token_id))
    });
    Ok(events)
}

/// Judges `events` in order on a fresh runner twice: untimed per event (the mean), then timing
/// every event (the 99th percentile). Nanoseconds.
fn detect(settings: &Settings, events: &[Event]) -> Result<(f64, f64)> {
    let mut settings = settings.clone();
    settings.replay.threads = 1;
    settings.detection.shards = 1;
    let mut alerts = Vec::new();

    let mut detection = setup::detection(&settings)?;
    let start = Instant::now();
    for event in events {
        detection.judge_one(event, &mut alerts);
        alerts.clear();
    }
    let mean = start.elapsed().as_nanos() as f64 / events.len().max(1) as f64;

    let mut detection = setup::detection(&settings)?;
    let mut samples: Vec<u64> = Vec::with_capacity(events.len());
    let mut last = Instant::now();
    for event in events {
        detection.judge_one(event, &mut alerts);
        alerts.clear();
        let now = Instant::now();
        samples.push(now.duration_since(last).as_nanos() as u64);
        last = now;
    }
    samples.sort_unstable();
    let p99 = samples.get(samples.len() * 99 / 100).copied().unwrap_or(0) as f64;
    Ok((mean, p99))
}

/// Resident memory of this process, bytes (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// Resident memory per token while a runner holds `tokens` tokens, each used twice a minute apart
/// with every rule's part of the state filled.
pub fn memory_per_token(tokens: usize) -> Option<f64> {
    let config = RulesConfig::builtin().ok()?;
    let settings = DetectionSettings { lateness_us: 0, shards: 1, ..DetectionSettings::default() };
    let mut detection = Detection::new(&config, Arc::new(Inventory::empty()), settings);
    let mut alerts = Vec::new();
    let before = resident_bytes()?;
    let filler = StateFiller::new();
    let chunk = 10_000;
    let mut batch = Vec::with_capacity(2 * chunk);
    for base in (0..tokens).step_by(chunk) {
        for token in base..(base + chunk).min(tokens) {
            for round in 0..2 {
                batch.push(filler.event(token, round));
            }
        }
        for event in batch.drain(..) {
            detection.judge_one(&event, &mut alerts);
        }
        alerts.clear();
    }
    drop(batch);
    let after = resident_bytes()?;
    let tracked = detection.tokens_tracked().max(1);
    std::hint::black_box(&detection);
    Some(after.saturating_sub(before) as f64 / tracked as f64)
}

/// Events that fill every rule's part of a token's state: session tokens (not judged by
/// `uninventoried_token`, so no alert stays open), located, with an ASN, a browser user agent and
/// two scopes, UUID event ids.
#[derive(Debug)]
pub struct StateFiller {
    source: Arc<str>,
    file: Arc<str>,
    start_us: i64,
}

impl Default for StateFiller {
    fn default() -> Self {
        Self::new()
    }
}

impl StateFiller {
    /// Events from Monday 2026-01-05.
    pub fn new() -> Self {
        StateFiller { source: Arc::from("okta"), file: Arc::from("bench"), start_us: 1_767_571_200_000_000 }
    }

    /// Use `round` (0, 1, …, a minute apart) of token number `token`.
    pub fn event(&self, token: usize, round: usize) -> Event {
        let n = token as u64;
        let mix = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (round as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        Event {
            time_us: self.start_us + token as i64 * 1000 + round as i64 * 60_000_000,
            source: Arc::clone(&self.source),
            class: EventClass::Authentication,
            event_id: format!(
                "{:08x}-{:04x}-11f0-{:04x}-{:012x}",
                mix >> 32,
                (mix >> 16) & 0xffff,
                0x8000 | (n & 0x3fff),
                n ^ ((round as u64) << 40)
            ),
            action: Some("user.authentication.sso".to_string()),
            outcome: Outcome::Success,
            token_id: Some(format!("102{n:022}")),
            token_kind: TokenKind::Session,
            subject: Some(format!("user{}@example.com", n % 50_000)),
            client_id: None,
            session_id: None,
            src_ip: Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x5102_0000u32 + (n as u32 % 65_000)))),
            geo: Some(Geo {
                lat: Some(51.5072),
                lon: Some(-0.1276),
                country: Some("GB".to_string()),
                city: Some("London".to_string()),
                radius_km: Some(100.0),
                from: GeoFrom::IpDatabase,
            }),
            asn: Some(2856 + (n as u32 % 7)),
            as_org: None,
            user_agent: Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0.0.0 Safari/537.36"
                    .to_string(),
            ),
            device_id: None,
            scopes: vec!["openid".to_string(), "profile".to_string()],
            resource: None,
            http_status: None,
            tenant: None,
            origin: Origin::file(Arc::clone(&self.file), n + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_grouped_by_thousands() {
        assert_eq!(rate(0.4), "0");
        assert_eq!(rate(999.0), "999");
        assert_eq!(rate(1000.0), "1,000");
        assert_eq!(rate(1_234_567.8), "1,234,568");
    }

    #[test]
    fn filler_events_are_distinct_per_token_and_round() {
        let filler = StateFiller::new();
        let a = filler.event(7, 0);
        let b = filler.event(7, 1);
        let c = filler.event(8, 0);
        assert_eq!(a.token_id, b.token_id);
        assert_ne!(a.token_id, c.token_id);
        assert_ne!(a.event_id, b.event_id);
        assert_ne!(a.event_id, c.event_id);
        assert_eq!(a.event_id.len(), 36);
        assert_eq!(b.time_us - a.time_us, 60_000_000);
    }

    #[test]
    fn the_table_names_every_figure_and_its_verdict() {
        let report = BenchReport {
            raw_parse_events_per_sec: 100_000.0,
            replay_events_per_sec_1_thread: 70_000.0,
            replay_events_per_sec: 100_000.0,
            detect_ns_per_event: Latency { mean: 300.0, p99: 2500.0 },
            bytes_per_token: Some(200.0),
            threads: 2,
            memory_tokens: MEMORY_TOKENS,
            corpus: Corpus {
                days: 14,
                users: 40,
                records: 10,
                events: 12,
                bytes: 1000,
                alerts: 1,
                tokens: 2,
                geo_database: true,
            },
            quick: true,
            rounds: 1,
            kafka: None,
        };
        let table = report.table();
        assert!(!table.contains("Kafka"), "{table}");
        assert!(table.contains("replay, 1 thread"), "{table}");
        assert!(table.contains("0.70  >= 0.6 x raw: met"), "{table}");
        assert!(table.contains("1.00  >= 1.1 x raw on 2 cores: MISSED"), "{table}");
        assert!(table.contains("<= 2000 ns: MISSED"), "{table}");
        assert!(table.contains("<= 256 B: met"), "{table}");
        let json = serde_json::to_value(&report).unwrap();
        for key in [
            "raw_parse_events_per_sec",
            "replay_events_per_sec_1_thread",
            "replay_events_per_sec",
            "detect_ns_per_event",
            "bytes_per_token",
        ] {
            assert!(json.get(key).is_some(), "{key} missing from {json}");
        }
        assert_eq!(json["detect_ns_per_event"]["p99"], 2500.0);
        assert!(json.get("kafka_events_per_sec").is_none(), "{json}");

        let with_kafka = BenchReport {
            kafka: Some(KafkaFigures {
                kafka_raw_consume_events_per_sec: 200_000.0,
                kafka_events_per_sec: 80_000.0,
                event_to_alert_p50_ms: 12.0,
                event_to_alert_p99_ms: 61.5,
                kafka_load_events_per_sec: 56_000.0,
                kafka_alerts_timed: 42,
                kafka_brokers: "localhost:9092".to_string(),
            }),
            ..report
        };
        let table = with_kafka.table();
        assert!(table.contains("0.40  >= 0.45 x raw consume: MISSED"), "{table}");
        assert!(table.contains("61.5 ms"), "{table}");
        assert!(table.contains("<= 50 ms at 56,000 ev/s (42 alerts): MISSED"), "{table}");
        let json = serde_json::to_value(&with_kafka).unwrap();
        for key in [
            "kafka_raw_consume_events_per_sec",
            "kafka_events_per_sec",
            "event_to_alert_p50_ms",
            "event_to_alert_p99_ms",
        ] {
            assert!(json.get(key).is_some_and(serde_json::Value::is_number), "{key} missing from {json}");
        }
    }
}

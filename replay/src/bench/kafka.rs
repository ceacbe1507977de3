//! The Kafka figures of `tokenwatch bench --brokers HOSTS`, against the given brokers, on topics
//! of their own (`tokenwatch-bench-<pid>-<n>-…`, left on the brokers afterwards).
//!
//! The corpus' records are produced in event-time order, as a live feed would bring them, to an
//! input topic of one partition. Then:
//!
//! - **raw consume** (the baseline): an rdkafka consumer reading that topic and discarding every
//!   record; the corpus' events over the time from its first record to its last;
//! - **end to end**: `tokenwatch run` ([`tokenwatch_engine::kafka::run`], in this process, with
//!   the configured settings and a group of its own) over the same topic: the corpus' events over
//!   the time from the first record consumed to the last event taken in by detection (its alerts
//!   produced in the same step);
//! - **event → alert latency** at [`LOAD`] of that end-to-end rate: a fresh run, warmed up with the
//!   first records, then fed the rest at a steady pace. For every alert (its first version), the
//!   time from handing the record of its latest event to the producer client (which lingers up to
//!   its default 5 ms) to the alert being read back from the alert topic by a consumer polling it.
//!   Events still held for ordering when the feed ends (the last `detection.lateness` of event
//!   time) raise their alerts only later, so their alerts are not timed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use tokenwatch_engine::config::{InputTopic, KafkaSettings};
use tokenwatch_engine::kafka::RunReport;
use tokenwatch_engine::metrics::Metrics;
use tokenwatch_engine::{RawRecord, Settings, kafka};
use tokenwatch_schemas::{Event, Origin};
use tokio::sync::watch;

use super::bench_error;
use crate::Result;

/// Share of the end-to-end rate at which event → alert latency is measured.
pub const LOAD: f64 = 0.7;

/// Longest wait for progress (a broker or engine that stops moving) before giving up.
const STALL: Duration = Duration::from_secs(60);

/// The Kafka figures; serialised beside the others in `tokenwatch bench --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaFigures {
    /// The baseline: a consumer reading the input topic and discarding it, events per second.
    pub kafka_raw_consume_events_per_sec: f64,
    /// `tokenwatch run` end to end (consume, normalise, re-key, detect, produce alerts).
    pub kafka_events_per_sec: f64,
    /// Median time from an event's record handed to Kafka to its alert read from the alert topic,
    /// at `kafka_load_events_per_sec`.
    pub event_to_alert_p50_ms: f64,
    /// 99th percentile of the same.
    pub event_to_alert_p99_ms: f64,
    /// The steady feed rate of the latency run: [`LOAD`] × `kafka_events_per_sec`.
    pub kafka_load_events_per_sec: f64,
    /// Alerts whose latency was measured.
    pub kafka_alerts_timed: u64,
    /// The brokers measured.
    pub kafka_brokers: String,
}

/// `(file, line)` of a record read from a file.
fn file_line(origin: &Origin) -> Option<(&str, u64)> {
    match origin {
        Origin::File { file, line, .. } => Some((file, *line)),
        Origin::Kafka { .. } => None,
    }
}

/// The corpus as a live feed: records in event-time order.
#[derive(Debug)]
pub struct Feed<'a> {
    /// Record bytes, in order.
    pub records: Vec<&'a [u8]>,
    /// Events each record carries.
    pub events: Vec<u32>,
    /// Of those, events with a token: what the detection stage takes in.
    pub with_token: Vec<u32>,
    /// The record (position in `records`) of each event id.
    pub record_of_event: HashMap<String, usize>,
}

impl<'a> Feed<'a> {
    /// The feed of `records`, whose normalised events are `events`: each record placed at the
    /// time of its earliest event (an envelope holds several).
    pub fn of(records: &'a [RawRecord], events: &[Event]) -> Self {
        let position: HashMap<(&str, u64), usize> =
            records.iter().enumerate().filter_map(|(at, record)| Some((file_line(&record.origin)?, at))).collect();
        let mut earliest = vec![i64::MAX; records.len()];
        let mut counts = vec![(0u32, 0u32); records.len()];
        let mut record_of_event = HashMap::with_capacity(events.len());
        for event in events {
            let Some(&at) = file_line(&event.origin).and_then(|key| position.get(&key)) else { continue };
            earliest[at] = earliest[at].min(event.time_us);
            counts[at].0 += 1;
            counts[at].1 += u32::from(event.token_id.is_some());
            record_of_event.insert(event.event_id.clone(), at);
        }
        let mut order: Vec<usize> = (0..records.len()).collect();
        order.sort_by_key(|&at| (earliest[at], at));
        let mut rank = vec![0usize; records.len()];
        for (place, &at) in order.iter().enumerate() {
            rank[at] = place;
        }
        for record in record_of_event.values_mut() {
            *record = rank[*record];
        }
        Feed {
            records: order.iter().map(|&at| records[at].bytes.as_slice()).collect(),
            events: order.iter().map(|&at| counts[at].0).collect(),
            with_token: order.iter().map(|&at| counts[at].1).collect(),
            record_of_event,
        }
    }

    fn events_in(&self, range: std::ops::Range<usize>) -> u64 {
        self.events[range].iter().map(|&n| u64::from(n)).sum()
    }

    fn with_token_in(&self, range: std::ops::Range<usize>) -> u64 {
        self.with_token[range].iter().map(|&n| u64::from(n)).sum()
    }
}

/// Measures the Kafka figures: `rounds` rounds of raw consume and end to end (median), then one
/// latency run fed for `feed_for`.
pub fn measure(
    settings: &Settings,
    brokers: &str,
    feed: &Feed<'_>,
    state_dir: &std::path::Path,
    rounds: usize,
    feed_for: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<KafkaFigures> {
    let tag = format!("tokenwatch-bench-{}-{}", std::process::id(), unix_millis());
    let total_events = feed.events_in(0..feed.records.len());
    let input = format!("{tag}-input");
    progress(&format!("producing {} records to `{input}` on {brokers}", feed.records.len()));
    produce_all(brokers, &input, &feed.records)?;

    progress("Kafka raw consume baseline");
    let client = KafkaSettings { brokers: brokers.to_string(), ..settings.kafka.clone() };
    let mut raw = Vec::new();
    for _ in 0..rounds {
        raw.push(raw_consume(&client, &input, feed.records.len())?);
    }
    let raw = super::median(raw);

    let mut end_to_end = Vec::new();
    for round in 0..rounds {
        progress(&format!("tokenwatch run over Kafka, round {} of {rounds}", round + 1));
        let engine = Engine::start(settings, brokers, &input, &format!("{tag}-e2e{round}"), state_dir)?;
        let expected = feed.with_token_in(0..feed.records.len());
        let (first, last) = engine.wait_until_judged(expected)?;
        engine.stop()?;
        end_to_end.push(last.duration_since(first));
    }
    let kafka_events_per_sec = total_events as f64 / super::median(end_to_end).as_secs_f64();

    let load = LOAD * kafka_events_per_sec;
    progress(&format!("event → alert latency at {load:.0} events/s for up to {} s", feed_for.as_secs()));
    let latencies = latency_run(settings, brokers, feed, &format!("{tag}-load"), state_dir, load, feed_for)?;
    let quantile = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
    Ok(KafkaFigures {
        kafka_raw_consume_events_per_sec: total_events as f64 / raw.as_secs_f64(),
        kafka_events_per_sec,
        event_to_alert_p50_ms: quantile(0.5),
        event_to_alert_p99_ms: quantile(0.99),
        kafka_load_events_per_sec: load,
        kafka_alerts_timed: latencies.len(),
        kafka_brokers: brokers.to_string(),
    })
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

fn kafka_error(what: &str) -> impl Fn(KafkaError) -> crate::Error + '_ {
    move |error| bench_error(format!("{what}: {error}"))
}

fn producer(brokers: &str) -> Result<BaseProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .create()
        .map_err(kafka_error("creating the bench producer"))
}

/// Hands one record to `producer`, waiting while its queue is full.
fn send(producer: &BaseProducer, topic: &str, bytes: &[u8]) -> Result<()> {
    let mut record = BaseRecord::<(), [u8]>::to(topic).payload(bytes);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
            Err((error, _)) => return Err(bench_error(format!("producing to `{topic}`: {error}"))),
        }
    }
}

fn flush(producer: &BaseProducer, topic: &str) -> Result<()> {
    producer.flush(Duration::from_secs(120)).map_err(|error| bench_error(format!("flushing `{topic}`: {error}")))
}

/// Creates `topic` with one partition.
fn create_topic(brokers: &str, topic: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(kafka_error("creating the admin client"))?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let created = futures::executor::block_on(
        admin.create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &options),
    )
    .map_err(kafka_error("creating the input topic"))?;
    for outcome in created {
        if let Err((name, code)) = outcome
            && code != RDKafkaErrorCode::TopicAlreadyExists
        {
            return Err(bench_error(format!("creating topic `{name}`: {code}")));
        }
    }
    Ok(())
}

/// Produces every record to a new `topic` of one partition.
fn produce_all(brokers: &str, topic: &str, records: &[&[u8]]) -> Result<()> {
    create_topic(brokers, topic)?;
    let producer = producer(brokers)?;
    for record in records {
        send(&producer, topic, record)?;
    }
    flush(&producer, topic)
}

/// A consumer of partition 0 of `topic` from its beginning, outside any group, configured as the
/// engine's consumers are (`kafka.properties` and tokenwatch's consumer defaults), so the
/// baseline and the engine fetch alike.
fn reader(kafka: &KafkaSettings, topic: &str, extra: &[(&str, &str)]) -> Result<BaseConsumer> {
    let mut config = kafka::consumer_config(kafka, "tokenwatch-bench");
    // No client statistics: nothing here reads them, and rdkafka's default context would log
    // each report at INFO.
    config.set("statistics.interval.ms", "0");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    let consumer: BaseConsumer = config.create().map_err(kafka_error("creating the bench consumer"))?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(topic, 0, Offset::Beginning).map_err(kafka_error("assigning"))?;
    consumer.assign(&partitions).map_err(kafka_error("assigning"))?;
    Ok(consumer)
}

/// Reads `count` records of `topic`, discarding them; the time from the first to the last.
fn raw_consume(kafka: &KafkaSettings, topic: &str, count: usize) -> Result<Duration> {
    let consumer = reader(kafka, topic, &[])?;
    let mut seen = 0usize;
    let mut bytes = 0usize;
    let mut first = None;
    let mut moved = Instant::now();
    while seen < count {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                bytes += message.payload().map_or(0, <[u8]>::len);
                seen += 1;
                first.get_or_insert_with(Instant::now);
                moved = Instant::now();
            }
            Some(Err(error)) => return Err(bench_error(format!("consuming `{topic}`: {error}"))),
            None if moved.elapsed() > STALL => {
                return Err(bench_error(format!("consuming `{topic}`: {seen} of {count} records after a stall")));
            }
            None => {}
        }
    }
    std::hint::black_box(bytes);
    Ok(first.map_or(Duration::ZERO, |first| first.elapsed()))
}

/// `tokenwatch run` in this process over `input`, with topics and group named after `tag`.
struct Engine {
    runtime: tokio::runtime::Runtime,
    metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<tokenwatch_engine::Result<RunReport>>,
}

impl Engine {
    fn start(settings: &Settings, brokers: &str, input: &str, tag: &str, state_dir: &std::path::Path) -> Result<Self> {
        let mut settings = settings.clone();
        let kafka = &mut settings.kafka;
        kafka.brokers = brokers.to_string();
        kafka.inputs = vec![InputTopic { topic: input.to_string(), source: "auto".to_string() }];
        kafka.group_id = tag.to_string();
        kafka.instance_id = String::new();
        kafka.events_topic = format!("{tag}-events");
        kafka.alerts_topic = format!("{tag}-alerts");
        kafka.dead_letter_topic = format!("{tag}-dead-letters");
        kafka.inventory_topic = String::new();
        kafka.create_topics = true;
        settings.state.dir = state_dir.join(tag);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("tokenwatch-bench")
            .build()
            .map_err(|error| bench_error(format!("starting the async runtime: {error}")))?;
        let metrics = Arc::new(Metrics::new());
        let (stop, shutdown) = watch::channel(false);
        let task = runtime.spawn(kafka::run(settings, Arc::clone(&metrics), shutdown));
        Ok(Engine { runtime, metrics, stop, task })
    }

    /// Waits until detection has taken in `expected` events; the instants of the first record
    /// consumed and of that moment.
    fn wait_until_judged(&self, expected: u64) -> Result<(Instant, Instant)> {
        let mut first = None;
        let mut last_count = 0;
        let mut moved = Instant::now();
        loop {
            if self.task.is_finished() {
                return Err(bench_error("the engine stopped before taking in every event".to_string()));
            }
            if first.is_none() && self.metrics.records_in() > 0 {
                first = Some(Instant::now());
            }
            let judged = self.metrics.events_judged();
            if judged >= expected {
                return Ok((first.unwrap_or_else(Instant::now), Instant::now()));
            }
            if judged != last_count {
                last_count = judged;
                moved = Instant::now();
            } else if moved.elapsed() > STALL {
                return Err(bench_error(format!("the engine took in {judged} of {expected} events, then stalled")));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// Drains, checkpoints and stops; the engine's own error if it failed.
    fn stop(self) -> Result<RunReport> {
        self.stop.send_replace(true);
        let report = self
            .runtime
            .block_on(self.task)
            .map_err(|error| bench_error(format!("the engine panicked: {error}")))?
            .map_err(crate::Error::Engine)?;
        self.runtime.shutdown_timeout(Duration::from_secs(5));
        Ok(report)
    }
}

/// Feeds `feed` at `rate` events per second after a warm-up, and times every alert: microseconds
/// from its latest event's record handed to the producer to the alert read back.
fn latency_run(
    settings: &Settings,
    brokers: &str,
    feed: &Feed<'_>,
    tag: &str,
    state_dir: &std::path::Path,
    rate: f64,
    feed_for: Duration,
) -> Result<Histogram<u64>> {
    let input = format!("{tag}-input");
    let total = feed.records.len();
    let warm = (total / 50).clamp(1, 2000).min(total);
    // The paced part: as many records as `feed_for` holds at `rate`.
    let mut end = warm;
    let mut events = 0.0;
    while end < total && events / rate < feed_for.as_secs_f64() {
        events += f64::from(feed.events[end]);
        end += 1;
    }

    create_topic(brokers, &input)?;
    let producer = producer(brokers)?;
    for record in &feed.records[..warm] {
        send(&producer, &input, record)?;
    }
    flush(&producer, &input)?;
    let engine = Engine::start(settings, brokers, &input, tag, state_dir)?;
    engine.wait_until_judged(feed.with_token_in(0..warm))?;

    // The alert topic exists now (the engine created it): read it from the start.
    let alerts_topic = format!("{tag}-alerts");
    let reading = Arc::new(AtomicBool::new(true));
    let alerts_read = Arc::new(AtomicUsize::new(0));
    let client = KafkaSettings { brokers: brokers.to_string(), ..settings.kafka.clone() };
    let consumer = reader(&client, &alerts_topic, &[("fetch.wait.max.ms", "5"), ("fetch.error.backoff.ms", "5")])?;
    let reader_thread = {
        let reading = Arc::clone(&reading);
        let alerts_read = Arc::clone(&alerts_read);
        std::thread::spawn(move || {
            let mut seen: HashSet<String> = HashSet::new();
            let mut firsts: Vec<(Instant, Vec<String>)> = Vec::new();
            while reading.load(Ordering::Relaxed) {
                let Some(Ok(message)) = consumer.poll(Duration::from_millis(10)) else { continue };
                let at = Instant::now();
                let Ok(alert) = serde_json::from_slice::<AlertIds>(message.payload().unwrap_or_default()) else {
                    continue;
                };
                alerts_read.fetch_add(1, Ordering::Relaxed);
                if seen.insert(alert.alert_id) {
                    firsts.push((at, alert.event_ids));
                }
            }
            firsts
        })
    };

    let mut sent = vec![None::<Instant>; total];
    let start = Instant::now();
    let mut fed = 0.0;
    for (index, record) in feed.records.iter().enumerate().take(end).skip(warm) {
        let due = start + Duration::from_secs_f64(fed / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        send(&producer, &input, record)?;
        sent[index] = Some(Instant::now());
        producer.poll(Duration::ZERO);
        fed += f64::from(feed.events[index]);
    }
    flush(&producer, &input)?;
    engine.wait_until_judged(feed.with_token_in(0..end))?;
    // Let the last alerts reach the topic and the reader: until none arrived for half a second.
    let mut count = alerts_read.load(Ordering::Relaxed);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = alerts_read.load(Ordering::Relaxed);
        if now == count {
            break;
        }
        count = now;
    }
    reading.store(false, Ordering::Relaxed);
    let firsts = reader_thread.join().map_err(|_| bench_error("the alert reader panicked".to_string()))?;
    engine.stop()?;

    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)
        .map_err(|error| bench_error(format!("latency histogram: {error}")))?;
    for (at, event_ids) in firsts {
        let latest = event_ids.iter().filter_map(|id| feed.record_of_event.get(id)).max();
        let Some(sent_at) = latest.and_then(|&record| sent[record]) else { continue };
        let micros = at.saturating_duration_since(sent_at).as_micros().max(1) as u64;
        histogram.saturating_record(micros);
    }
    if histogram.is_empty() {
        return Err(bench_error(format!("no alert of the {} records fed at a steady pace was read back", end - warm)));
    }
    Ok(histogram)
}

/// What the latency run reads of an alert.
#[derive(serde::Deserialize)]
struct AlertIds {
    alert_id: String,
    #[serde(default)]
    event_ids: Vec<String>,
}

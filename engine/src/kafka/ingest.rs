//! The ingest stage: log topics → normalised events re-keyed by token (events topic), and dead
//! letters.
//!
//! Records are taken in chunks (`kafka.chunk_records`, or what arrived within
//! `kafka.chunk_linger`) and normalised in parallel; their outputs are produced in input order.
//! Each chunk is followed by a marker holding its input offsets; once every record produced before
//! the marker is acknowledged, those offsets are committed (about once a second). When more than
//! `kafka.max_in_flight` produced records await acknowledgement, consumption pauses until half of
//! them are acknowledged.
//!
//! An event without a token id is counted but not forwarded: no rule can judge it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rdkafka::Message;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokenwatch_schemas::{Normalized, Normalizer, Origin};
use tokio::sync::watch;
use tracing::{info, warn};

use super::{InFlight, Observer, Offsets, RunReport, consumer_config, pause_while, producer};
use crate::config::KafkaSettings;
use crate::metrics::Metrics;
use crate::{Error, Result, Settings};

/// Header carrying when tokenwatch consumed the raw record (µs since the epoch), for latency.
pub const RECEIVED_HEADER: &str = "tw-received-us";

/// The ingest stage, built and connected.
pub struct IngestStage {
    consumer: StreamConsumer<Observer>,
    producer: FutureProducer<Observer>,
    normalizers: HashMap<String, Arc<Normalizer>>,
    pool: rayon::ThreadPool,
    kafka: KafkaSettings,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for IngestStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestStage").field("kafka", &self.kafka).finish_non_exhaustive()
    }
}

impl IngestStage {
    /// Connects the stage; `normalizers` maps each input topic to its normaliser.
    pub fn new(
        settings: &Settings,
        normalizers: HashMap<String, Arc<Normalizer>>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let kafka = settings.kafka.clone();
        let consumer: StreamConsumer<Observer> = consumer_config(&kafka, &kafka.group_id)
            .create_with_context(Observer::new(Arc::clone(&metrics), "ingest consumer"))
            .map_err(Error::kafka("creating the ingest consumer"))?;
        let topics: Vec<&str> = kafka.inputs.iter().map(|input| input.topic.as_str()).collect();
        consumer.subscribe(&topics).map_err(Error::kafka(format!("subscribing to {}", topics.join(", "))))?;
        let producer = producer(&kafka, &metrics, "events producer")?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(settings.replay.threads)
            .thread_name(|i| format!("normalize-{i}"))
            .build()
            .map_err(|e| Error::Config { file: None, problems: vec![format!("cannot start worker threads: {e}")] })?;
        Ok(IngestStage { consumer, producer, normalizers, pool, kafka, metrics })
    }

    /// Consumes until `shutdown`, then drains what is in flight and commits, within `timeout`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, timeout: Duration) -> Result<RunReport> {
        let mut report = RunReport::default();
        let mut in_flight: InFlight<Offsets> = InFlight::new();
        let mut committable = Offsets::new();
        let mut reached = Vec::new();
        let mut last_commit = Instant::now();
        let linger = self.kafka.chunk_linger;
        while !*shutdown.borrow() {
            let mut chunk = Vec::new();
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                message = self.consumer.recv() => self.take(message, &mut chunk),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if !chunk.is_empty() {
                let deadline = tokio::time::Instant::now() + linger;
                while chunk.len() < self.kafka.chunk_records {
                    match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                        Ok(message) => self.take(message, &mut chunk),
                        Err(_) => break,
                    }
                }
                let offsets = self.process(&chunk, &mut in_flight, &mut report).await?;
                in_flight.mark(offsets);
            }
            in_flight.settle(None, &mut reached).await?;
            if in_flight.len() > self.kafka.max_in_flight {
                warn!(in_flight = in_flight.len(), "ingest: output is slow; consumption paused");
                let settle = in_flight.settle(Some(self.kafka.max_in_flight / 2), &mut reached);
                pause_while(&self.consumer, &self.metrics, "ingest", settle).await?;
            }
            for offsets in reached.drain(..) {
                committable.extend(offsets);
            }
            if last_commit.elapsed() >= Duration::from_secs(1) && !committable.is_empty() {
                self.commit(&committable, CommitMode::Async);
                committable.clear();
                last_commit = Instant::now();
            }
        }
        // Drain: everything in flight acknowledged, then the offsets committed.
        let drained = tokio::time::timeout(timeout, in_flight.settle(Some(0), &mut reached)).await;
        match drained {
            Ok(result) => {
                result?;
                for offsets in reached.drain(..) {
                    committable.extend(offsets);
                }
                if !committable.is_empty() {
                    self.commit(&committable, CommitMode::Sync);
                }
                info!(
                    records = report.records,
                    events = report.events,
                    dead_letters = report.dead_letters,
                    "ingest stage stopped"
                );
            }
            Err(_) => warn!(
                pending = in_flight.len(),
                "ingest stage: records still unacknowledged at the shutdown timeout; their input is not committed and will be consumed again"
            ),
        }
        Ok(report)
    }

    fn take(&self, message: rdkafka::error::KafkaResult<rdkafka::message::BorrowedMessage<'_>>, chunk: &mut Vec<Raw>) {
        match message {
            Ok(message) => chunk.push(Raw {
                bytes: message.payload().map(<[u8]>::to_vec),
                topic: message.topic().to_string(),
                partition: message.partition(),
                offset: message.offset(),
            }),
            Err(error) => {
                self.metrics.kafka_error("consume");
                warn!(%error, "ingest consumer");
            }
        }
    }

    /// Normalises a chunk and produces its outputs; returns the chunk's offsets to commit.
    async fn process(
        &self,
        chunk: &[Raw],
        in_flight: &mut InFlight<Offsets>,
        report: &mut RunReport,
    ) -> Result<Offsets> {
        let received_us = now_us();
        let normalizers = &self.normalizers;
        let outputs: Vec<(usize, Vec<Normalized>)> = tokio::task::block_in_place(|| {
            self.pool.install(|| {
                chunk
                    .par_iter()
                    .enumerate()
                    .with_min_len(32)
                    .map(|(index, raw)| {
                        let mut out = Vec::with_capacity(1);
                        let origin = Origin::Kafka {
                            topic: Arc::from(raw.topic.as_str()),
                            partition: raw.partition,
                            offset: raw.offset,
                            index: None,
                        };
                        let normalizer = &normalizers[&raw.topic];
                        normalizer.normalize(raw.bytes.as_deref().unwrap_or_default(), &origin, &mut |n| out.push(n));
                        (index, out)
                    })
                    .collect()
            })
        });
        let mut offsets = Offsets::new();
        let mut payload = Vec::with_capacity(1024);
        let received = received_us.to_string();
        // Counted per chunk: one metrics update per topic and per source, not per record.
        let mut records_by_topic: BTreeMap<&str, u64> = BTreeMap::new();
        let mut events_by_source: BTreeMap<Arc<str>, u64> = BTreeMap::new();
        for (index, outputs) in outputs {
            let raw = &chunk[index];
            *records_by_topic.entry(raw.topic.as_str()).or_default() += 1;
            report.records += 1;
            offsets.insert((raw.topic.clone(), raw.partition), raw.offset + 1);
            for output in outputs {
                payload.clear();
                match output {
                    Normalized::Event(event) => {
                        *events_by_source.entry(Arc::clone(&event.source)).or_default() += 1;
                        let Some(token) = event.token_id.as_deref() else { continue };
                        event
                            .write_json(&mut payload)
                            .map_err(|e| Error::Sink { what: "an event".into(), source: Box::new(e) })?;
                        let headers =
                            OwnedHeaders::new().insert(Header { key: RECEIVED_HEADER, value: Some(&received) });
                        let record =
                            FutureRecord::to(&self.kafka.events_topic).key(token).payload(&payload).headers(headers);
                        in_flight.push(send(&self.producer, record, &self.metrics).await?);
                        report.events += 1;
                    }
                    Normalized::DeadLetter(letter) => {
                        self.metrics.dead_letter(letter.reason.as_str());
                        serde_json::to_writer(&mut payload, &letter)
                            .map_err(|e| Error::Sink { what: "a dead letter".into(), source: Box::new(e) })?;
                        let key = letter.origin.to_string();
                        let headers =
                            OwnedHeaders::new().insert(Header { key: "reason", value: Some(letter.reason.as_str()) });
                        let record = FutureRecord::to(&self.kafka.dead_letter_topic)
                            .key(key.as_str())
                            .payload(&payload)
                            .headers(headers);
                        in_flight.push(send(&self.producer, record, &self.metrics).await?);
                        report.dead_letters += 1;
                    }
                }
            }
        }
        for (topic, count) in records_by_topic {
            self.metrics.record_in(topic, count);
        }
        for (source, count) in events_by_source {
            self.metrics.event_in(&source, count);
        }
        Ok(offsets)
    }

    fn commit(&self, offsets: &Offsets, mode: CommitMode) {
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in offsets {
            if let Err(error) = list.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
                warn!(%error, topic, partition, "cannot list an offset to commit");
            }
        }
        if let Err(error) = self.consumer.commit(&list, mode) {
            // Typically a rebalance took the partition away: its new owner starts from the last
            // commit, and re-delivered events are dropped downstream.
            self.metrics.kafka_error("commit");
            warn!(%error, "ingest: commit failed");
        }
    }
}

/// A consumed record, owned.
#[derive(Debug)]
struct Raw {
    bytes: Option<Vec<u8>>,
    topic: String,
    partition: i32,
    offset: i64,
}

/// Enqueues a record with the producer, waiting while its queue is full (backpressure).
pub(crate) async fn send(
    producer: &FutureProducer<Observer>,
    mut record: FutureRecord<'_, str, Vec<u8>>,
    metrics: &Metrics,
) -> Result<rdkafka::producer::DeliveryFuture> {
    let mut paused = false;
    loop {
        match producer.send_result(record) {
            Ok(delivery) => {
                if paused {
                    metrics.set_paused(false);
                }
                return Ok(delivery);
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                if !paused {
                    metrics.set_paused(true);
                    paused = true;
                }
                record = back;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err((error, back)) => {
                if paused {
                    metrics.set_paused(false);
                }
                return Err(Error::Kafka { what: format!("producing to `{}`", back.topic), source: error });
            }
        }
    }
}

pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

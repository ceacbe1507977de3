//! The detection stage: events topic (keyed by token) → alerts topic.
//!
//! Each assigned partition of the events topic has its own [`Detection`], so a partition's
//! tokens, and so their state, belong to exactly one instance at a time.
//!
//! **Checkpoints.** Every `state.checkpoint_interval`, on shutdown and when partitions are
//! revoked: the alerts producer is flushed (every alert caused so far is acknowledged), each
//! partition's state is written with the offset of its next record
//! ([`crate::checkpoint`]), and that offset is committed in the group `<group_id>.detect`.
//!
//! **Restore.** When a partition is assigned, its checkpoint (if this instance has one) is
//! loaded and consumption starts at the checkpoint's offset; without one, at the start of the
//! partition. Records before the group's committed offset were judged by whoever held the
//! partition before: they are judged again *silently*, rebuilding the state without producing
//! alerts a second time. So an instance that takes over a partition from another instance (whose
//! checkpoint is on another disk) ends up with the same state, as long as the events topic still
//! retains the partition's history.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Headers, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use tokenwatch_rules::{Detection, Detector, Inventory, RulesConfig};
use tokenwatch_schemas::{Alert, Event};
use tokio::sync::watch;
use tracing::{error, info, warn};

use super::ingest::{RECEIVED_HEADER, now_us, send};
use super::{InFlight, Observer, RunReport, consumer_config, pause_while, producer};
use crate::checkpoint::CheckpointStore;
use crate::config::KafkaSettings;
use crate::metrics::Metrics;
use crate::{Error, Result, Settings};

/// A partition of the events topic held by this instance.
struct Held {
    detection: Detection,
    /// Offset of the next record to judge.
    next_offset: i64,
    /// Records before this offset were already judged by a previous owner: judge silently.
    silent_until: i64,
}

/// What the consumer's rebalance callback shares with the stage's loop.
struct Shared {
    topic: String,
    held: Mutex<BTreeMap<i32, Held>>,
    store: CheckpointStore,
    rules: RulesConfig,
    detection: tokenwatch_rules::DetectionSettings,
    inventory: watch::Receiver<Arc<Inventory>>,
    producer: FutureProducer<Observer>,
    metrics: Arc<Metrics>,
    flush_timeout: Duration,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self) -> Detection {
        Detection::new(&self.rules, Arc::clone(&self.inventory.borrow()), self.detection)
    }

    /// Restores the assigned partitions and sets where their consumption starts.
    fn assign(&self, consumer: &BaseConsumer<Context>, list: &mut TopicPartitionList) {
        let committed = consumer.committed_offsets(list.clone(), Duration::from_secs(10)).unwrap_or_else(|error| {
            warn!(%error, "cannot read committed offsets: partitions without a checkpoint start afresh");
            TopicPartitionList::new()
        });
        let mut held = self.lock();
        let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
        for partition in partitions {
            let committed = committed
                .find_partition(&self.topic, partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                })
                .unwrap_or(-1);
            let mut detection = self.fresh();
            let start = match self.store.read(&self.topic, partition) {
                Ok(Some(checkpoint)) => {
                    let tokens = checkpoint.detection.tokens();
                    detection.restore(checkpoint.detection);
                    info!(partition, offset = checkpoint.next_offset, tokens, "partition restored from its checkpoint");
                    Some(checkpoint.next_offset)
                }
                Ok(None) => None,
                Err(error) => {
                    warn!(%error, partition, "checkpoint unusable: rebuilding the partition's state from the events topic");
                    None
                }
            };
            if start.is_none() && committed >= 0 {
                info!(
                    partition,
                    until = committed,
                    "no checkpoint here: rebuilding state silently up to the committed offset"
                );
            }
            let offset = start.map_or(Offset::Beginning, Offset::Offset);
            if let Err(error) = list.set_partition_offset(&self.topic, partition, offset) {
                warn!(%error, partition, "cannot set the start offset");
            }
            held.insert(
                partition,
                Held { detection, next_offset: start.unwrap_or(0), silent_until: committed.max(start.unwrap_or(-1)) },
            );
        }
    }

    /// Checkpoints and commits the revoked partitions, then forgets them.
    fn revoke(&self, consumer: &BaseConsumer<Context>, list: &TopicPartitionList) {
        let partitions: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
        let flushed = self.producer.flush(self.flush_timeout);
        let mut held = self.lock();
        if let Err(error) = flushed {
            warn!(%error, "alerts not acknowledged before the rebalance: revoked partitions are not checkpointed (their next owner judges from the last checkpoint)");
        } else {
            match self.checkpoint(&held, Some(&partitions)) {
                Ok(list) if list.count() > 0 => {
                    if let Err(error) = consumer.commit(&list, CommitMode::Sync) {
                        warn!(%error, "commit of revoked partitions failed");
                    }
                }
                Ok(_) => {}
                Err(error) => warn!(%error, "checkpoint of revoked partitions failed"),
            }
        }
        for partition in partitions {
            held.remove(&partition);
        }
        self.metrics.retain_lag(|topic, partition| topic != self.topic || held.contains_key(&partition));
    }

    /// Writes the checkpoints of `only` (or of every held partition); returns the offsets to
    /// commit. The caller has flushed the producer, and commits.
    fn checkpoint(&self, held: &BTreeMap<i32, Held>, only: Option<&[i32]>) -> Result<TopicPartitionList> {
        let mut list = TopicPartitionList::new();
        let mut bytes = 0;
        for (partition, state) in held {
            if only.is_some_and(|only| !only.contains(partition)) || state.next_offset <= 0 {
                continue;
            }
            bytes += self.store.write(&self.topic, *partition, state.next_offset, &state.detection)?;
            list.add_partition_offset(&self.topic, *partition, Offset::Offset(state.next_offset))
                .map_err(Error::kafka("listing offsets"))?;
        }
        self.metrics.checkpointed(bytes, now_us() / 1_000_000);
        Ok(list)
    }
}

/// The detection consumer's context: rebalances checkpoint and restore.
struct Context {
    observer: Observer,
    shared: Arc<Shared>,
}

impl ClientContext for Context {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, facility: &str, message: &str) {
        self.observer.log(level, facility, message);
    }
    fn stats(&self, statistics: rdkafka::Statistics) {
        self.observer.stats(statistics);
    }
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.observer.error(error, reason);
    }
}

impl ConsumerContext for Context {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, list: &mut TopicPartitionList) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.shared.assign(consumer, list);
                info!(partitions = ?list.elements().iter().map(|e| e.partition()).collect::<Vec<_>>(), "events partitions assigned");
                if let Err(error) = consumer.assign(list) {
                    error!(%error, "cannot take the assigned partitions");
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.shared.revoke(consumer, list);
                info!(partitions = ?list.elements().iter().map(|e| e.partition()).collect::<Vec<_>>(), "events partitions revoked");
                if let Err(error) = consumer.unassign() {
                    error!(%error, "cannot release the revoked partitions");
                }
            }
            other => {
                error!(error = ?other, "rebalance failed");
                let _ = consumer.unassign();
            }
        }
    }
}

/// The detection stage, built and connected.
pub struct DetectStage {
    consumer: StreamConsumer<Context>,
    shared: Arc<Shared>,
    kafka: KafkaSettings,
    checkpoint_interval: Duration,
    metrics: Arc<Metrics>,
    /// Which instance produced an alert (header `instance`): host name and process id.
    instance: String,
}

impl std::fmt::Debug for DetectStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectStage").field("kafka", &self.kafka).finish_non_exhaustive()
    }
}

impl DetectStage {
    /// Connects the stage.
    pub fn new(
        settings: &Settings,
        rules: RulesConfig,
        inventory: watch::Receiver<Arc<Inventory>>,
        store: CheckpointStore,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let kafka = settings.kafka.clone();
        let producer = producer(&kafka, &metrics, "alerts producer")?;
        let shared = Arc::new(Shared {
            topic: kafka.events_topic.clone(),
            held: Mutex::new(BTreeMap::new()),
            store,
            rules,
            detection: crate::setup::detection_settings(settings, 1),
            inventory,
            producer,
            metrics: Arc::clone(&metrics),
            flush_timeout: settings.server.shutdown_timeout,
        });
        let context =
            Context { observer: Observer::new(Arc::clone(&metrics), "detect consumer"), shared: Arc::clone(&shared) };
        let consumer: StreamConsumer<Context> = consumer_config(&kafka, &format!("{}.detect", kafka.group_id))
            .create_with_context(context)
            .map_err(Error::kafka("creating the detection consumer"))?;
        consumer
            .subscribe(&[&kafka.events_topic])
            .map_err(Error::kafka(format!("subscribing to {}", kafka.events_topic)))?;
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
            .unwrap_or_else(|| "tokenwatch".to_string());
        let instance = format!("{host}/{}", std::process::id());
        Ok(DetectStage {
            consumer,
            shared,
            kafka,
            checkpoint_interval: settings.state.checkpoint_interval,
            metrics,
            instance,
        })
    }

    /// Judges until `shutdown`, then flushes, checkpoints and commits within `timeout`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, timeout: Duration) -> Result<RunReport> {
        let mut report = RunReport::default();
        let mut in_flight: InFlight<()> = InFlight::new();
        let mut reached = Vec::new();
        let mut inventory = self.shared.inventory.clone();
        let mut last_checkpoint = Instant::now();
        while !*shutdown.borrow() {
            let mut batch = Vec::new();
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                message = self.consumer.recv() => self.take(message, &mut batch),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            // Whatever else has already arrived joins the batch.
            while batch.len() < 4096 {
                use futures::FutureExt;
                match self.consumer.recv().now_or_never() {
                    Some(message) => self.take(message, &mut batch),
                    None => break,
                }
            }
            if inventory.has_changed().unwrap_or(false) {
                let current = Arc::clone(&inventory.borrow_and_update());
                for held in self.shared.lock().values_mut() {
                    held.detection.set_inventory(Arc::clone(&current));
                }
            }
            if !batch.is_empty() {
                let alerts = self.judge(batch);
                for alert in alerts {
                    self.produce(&alert, &mut in_flight).await?;
                    report.alerts += 1;
                }
            }
            in_flight.settle(None, &mut reached).await?;
            if in_flight.len() > self.kafka.max_in_flight {
                warn!(in_flight = in_flight.len(), "detect: the alerts topic is slow; consumption paused");
                let settle = in_flight.settle(Some(self.kafka.max_in_flight / 2), &mut reached);
                pause_while(&self.consumer, &self.metrics, "detect", settle).await?;
            }
            if last_checkpoint.elapsed() >= self.checkpoint_interval {
                self.barrier(&mut in_flight).await?;
                last_checkpoint = Instant::now();
            }
        }
        match tokio::time::timeout(timeout, self.barrier(&mut in_flight)).await {
            Ok(Ok(true)) => {
                info!(alerts = report.alerts, "detection stage stopped: state checkpointed, offsets committed")
            }
            Ok(Ok(false)) => warn!(
                alerts = report.alerts,
                "detection stage stopped without a complete final checkpoint; the next start judges again from the last one"
            ),
            Ok(Err(error)) => return Err(error),
            Err(_) => warn!(
                "detection stage: shutdown timeout before the final checkpoint; the next start judges again from the last one"
            ),
        }
        Ok(report)
    }

    fn take(&self, message: KafkaResult<BorrowedMessage<'_>>, batch: &mut Vec<Incoming>) {
        match message {
            Ok(message) => {
                let received_us = message.headers().and_then(|headers| {
                    headers
                        .iter()
                        .find(|h| h.key == RECEIVED_HEADER)
                        .and_then(|h| h.value)
                        .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
                });
                match Event::from_json(message.payload().unwrap_or_default()) {
                    Ok(event) => batch.push(Incoming {
                        partition: message.partition(),
                        offset: message.offset(),
                        event,
                        received_us,
                    }),
                    Err(problem) => {
                        self.metrics.kafka_error("bad_event");
                        warn!(partition = message.partition(), offset = message.offset(), %problem, "unreadable record on the events topic: skipped");
                    }
                }
            }
            Err(error) => {
                self.metrics.kafka_error("consume");
                warn!(%error, "detect consumer");
            }
        }
    }

    /// Judges a batch, partition by partition, in offset order.
    fn judge(&self, batch: Vec<Incoming>) -> Vec<Alert> {
        let mut held = self.shared.lock();
        let mut alerts = Vec::new();
        let mut discarded = Vec::new();
        let now = now_us();
        let mut latencies = Vec::with_capacity(batch.len());
        let mut judged = 0u64;
        let mut by_partition: BTreeMap<i32, Vec<Incoming>> = BTreeMap::new();
        for incoming in batch {
            by_partition.entry(incoming.partition).or_default().push(incoming);
        }
        for (partition, incoming) in by_partition {
            let Some(state) = held.get_mut(&partition) else { continue };
            let mut loud = Vec::new();
            let mut silent = Vec::new();
            for item in incoming {
                if item.offset < state.next_offset && state.next_offset > 0 {
                    continue; // Already judged (a re-delivery of this very partition).
                }
                state.next_offset = item.offset + 1;
                if let Some(received) = item.received_us {
                    latencies.push(Duration::from_micros(now.saturating_sub(received).max(0) as u64));
                }
                if item.offset < state.silent_until {
                    silent.push(item.event);
                } else {
                    loud.push(item.event);
                }
            }
            judged += (silent.len() + loud.len()) as u64;
            if !silent.is_empty() {
                state.detection.process(silent, &mut discarded);
                discarded.clear();
            }
            if !loud.is_empty() {
                state.detection.process(loud, &mut alerts);
            }
        }
        self.metrics.latencies(&latencies);
        self.metrics.judged(judged);
        let tokens: usize = held.values().map(|h| h.detection.tokens_tracked()).sum();
        let duplicates: u64 = held.values().map(|h| h.detection.stats().duplicates).sum();
        self.metrics.set_tokens_tracked(tokens as u64);
        self.metrics.set_duplicates(duplicates);
        alerts
    }

    async fn produce(&self, alert: &Alert, in_flight: &mut InFlight<()>) -> Result<()> {
        let payload =
            serde_json::to_vec(alert).map_err(|e| Error::Sink { what: "an alert".into(), source: Box::new(e) })?;
        let key = alert.inventory_id.as_deref().unwrap_or(&alert.token_id);
        let severity = alert.severity.as_str();
        let headers = OwnedHeaders::new()
            .insert(rdkafka::message::Header { key: "rule", value: Some(alert.rule.as_str()) })
            .insert(rdkafka::message::Header { key: "severity", value: Some(severity) })
            .insert(rdkafka::message::Header { key: "alert_id", value: Some(alert.alert_id.as_str()) })
            .insert(rdkafka::message::Header { key: "instance", value: Some(self.instance.as_str()) });
        let record = FutureRecord::to(&self.kafka.alerts_topic).key(key).payload(&payload).headers(headers);
        in_flight.push(send(&self.shared.producer, record, &self.metrics).await?);
        self.metrics.alert(&alert.rule, severity);
        Ok(())
    }

    /// Flushes the alerts, then checkpoints and commits every held partition. Returns whether all
    /// of it was done: while the broker or the group coordinator is unreachable (an outage, a
    /// session timeout under way) the flush or the commit fails, and that is not fatal. Without a
    /// flush nothing is checkpointed; a checkpoint whose commit failed is still the one this
    /// instance restarts from, and the group's commit catches up at the next barrier.
    async fn barrier(&self, in_flight: &mut InFlight<()>) -> Result<bool> {
        let producer = self.shared.producer.clone();
        let timeout = self.shared.flush_timeout;
        let flushed = tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| Error::Config { file: None, problems: vec![format!("flush task failed: {e}")] })?;
        if let Err(error) = flushed {
            self.metrics.kafka_error("flush");
            warn!(%error, "detection: alerts not yet acknowledged; checkpoint postponed");
            return Ok(false);
        }
        let mut reached = Vec::new();
        in_flight.settle(Some(0), &mut reached).await?;
        let held = self.shared.lock();
        let list = self.shared.checkpoint(&held, None)?;
        if list.count() > 0
            && let Err(error) = self.consumer.commit(&list, CommitMode::Sync)
        {
            self.metrics.kafka_error("commit");
            warn!(%error, "detection: state checkpointed, but the commit failed; retried at the next checkpoint");
            return Ok(false);
        }
        tracing::debug!(partitions = held.len(), "checkpoint written");
        Ok(true)
    }
}

/// A record of the events topic, decoded.
struct Incoming {
    partition: i32,
    offset: i64,
    event: Event,
    received_us: Option<i64>,
}

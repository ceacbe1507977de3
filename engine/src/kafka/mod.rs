//! `tokenwatch run`: the Kafka service.
//!
//! Two stages, as Kafka Streams does it with a repartition topic:
//!
//! 1. **ingest** ([`ingest`]) consumes the log topics in the group `kafka.group_id`, normalises
//!    each record, and produces the events to `kafka.events_topic` keyed by token (so every use
//!    of a token lands in one partition) and the records it cannot normalise to
//!    `kafka.dead_letter_topic`. Input offsets are committed only after everything a record
//!    produced has been acknowledged by the broker.
//! 2. **detect** ([`detect`]) consumes the events topic in the group `<group_id>.detect`, keeps
//!    one [`tokenwatch_rules::Detection`] per assigned partition, and produces alerts to
//!    `kafka.alerts_topic`. Its state and offsets move together: at every checkpoint the producer
//!    is flushed, each partition's state is written with the offset it reflects, then that offset
//!    is committed. On a rebalance, revoked partitions are checkpointed and committed before they
//!    go; assigned ones are restored before their first record is judged.
//!
//! Delivery is at least once, end to end. A restart replays from the last commit; replayed
//! events are recognised by their input position and dropped before judgement (see
//! [`tokenwatch_rules::Detection`]), and replayed alerts carry the same `alert_id`.
//!
//! The inventory can follow a compacted topic ([`inventory`]); the HTTP endpoint serves
//! [`crate::metrics`].

pub mod detect;
pub mod ingest;
pub mod inventory;
mod observer;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{DeliveryFuture, FutureProducer};
use tokio::sync::watch;
use tracing::{info, warn};

pub use observer::Observer;

use crate::config::KafkaSettings;
use crate::metrics::Metrics;
use crate::{Error, Result, Settings};

/// The client configuration every client starts from: brokers and the user's properties.
pub fn client_config(kafka: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &kafka.brokers);
    for (key, value) in kafka.client_properties() {
        config.set(key, value);
    }
    config
}

fn set_default(config: &mut ClientConfig, key: &str, value: &str) {
    if config.get(key).is_none() {
        config.set(key, value);
    }
}

/// A consumer's configuration: offsets are stored and committed only by tokenwatch. A fetch waits
/// at most 20 ms for data by default: some Kafka-protocol brokers (tansu) hold every fetch that
/// long, which would otherwise add librdkafka's 500 ms to each of the two hops an event makes; on
/// Kafka itself it only sets how often an idle consumer asks again.
pub fn consumer_config(kafka: &KafkaSettings, group: &str) -> ClientConfig {
    let mut config = client_config(kafka);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("partition.assignment.strategy", "range");
    if !kafka.instance_id.is_empty() {
        config.set("group.instance.id", &kafka.instance_id);
    }
    set_default(&mut config, "auto.offset.reset", "earliest");
    set_default(&mut config, "statistics.interval.ms", "5000");
    set_default(&mut config, "session.timeout.ms", "10000");
    set_default(&mut config, "fetch.wait.max.ms", "20");
    config
}

/// The producer's configuration: idempotent (no duplicates or reordering from retries) and
/// retrying until the broker takes the record (`message.timeout.ms = 0`), so an outage only
/// delays records; backpressure comes from the bounded queue.
pub(crate) fn producer(
    kafka: &KafkaSettings,
    metrics: &Arc<Metrics>,
    name: &'static str,
) -> Result<FutureProducer<Observer>> {
    let mut config = client_config(kafka);
    config.set("enable.idempotence", "true");
    set_default(&mut config, "message.timeout.ms", "0");
    set_default(&mut config, "linger.ms", "5");
    set_default(&mut config, "statistics.interval.ms", "5000");
    config
        .create_with_context(Observer::new(Arc::clone(metrics), name))
        .map_err(Error::kafka(format!("creating the {name} producer")))
}

/// Creates the topics tokenwatch writes, when missing; retries while the brokers are unreachable
/// (until `shutdown`).
pub async fn ensure_topics(kafka: &KafkaSettings, shutdown: &mut watch::Receiver<bool>) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(kafka).create().map_err(Error::kafka("creating the admin client"))?;
    let topics = [
        NewTopic::new(&kafka.events_topic, kafka.events_partitions, TopicReplication::Fixed(kafka.replication_factor)),
        NewTopic::new(&kafka.alerts_topic, 1, TopicReplication::Fixed(kafka.replication_factor)),
        NewTopic::new(&kafka.dead_letter_topic, 1, TopicReplication::Fixed(kafka.replication_factor)),
    ];
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let mut delay = Duration::from_millis(500);
    loop {
        match admin.create_topics(&topics, &options).await {
            Ok(results) => {
                for result in results {
                    match result {
                        Ok(topic) => info!(%topic, "topic created"),
                        Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                        Err((topic, code)) => {
                            return Err(Error::Config {
                                file: None,
                                problems: vec![format!("cannot create topic `{topic}`: {code}")],
                            });
                        }
                    }
                }
                return Ok(());
            }
            Err(error) => {
                warn!(%error, retry_in = ?delay, "cannot reach the brokers to create topics");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Records produced and not yet acknowledged, in production order, with markers between them:
/// a marker is reached once everything produced before it is acknowledged. The ingest stage's
/// markers are input offsets, which then become safe to commit.
pub(crate) struct InFlight<M> {
    queue: VecDeque<Entry<M>>,
    deliveries: usize,
}

enum Entry<M> {
    Delivery(DeliveryFuture),
    Marker(M),
}

impl<M> std::fmt::Debug for InFlight<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight").field("deliveries", &self.deliveries).finish()
    }
}

impl<M> InFlight<M> {
    pub(crate) fn new() -> Self {
        InFlight { queue: VecDeque::new(), deliveries: 0 }
    }

    pub(crate) fn push(&mut self, delivery: DeliveryFuture) {
        self.deliveries += 1;
        self.queue.push_back(Entry::Delivery(delivery));
    }

    pub(crate) fn mark(&mut self, marker: M) {
        self.queue.push_back(Entry::Marker(marker));
    }

    /// Records awaiting acknowledgement.
    pub(crate) fn len(&self) -> usize {
        self.deliveries
    }

    /// Takes acknowledged entries off the front: without waiting when `wait_until` is `None`,
    /// else until at most that many deliveries remain. Markers reached go to `reached`. A
    /// delivery the broker refused for good is an error: the record it came from will be
    /// consumed again after the restart, as nothing after it is committed.
    pub(crate) async fn settle(&mut self, wait_until: Option<usize>, reached: &mut Vec<M>) -> Result<()> {
        use futures::FutureExt;
        loop {
            let Some(front) = self.queue.front_mut() else { return Ok(()) };
            match front {
                Entry::Marker(_) => {
                    if let Some(Entry::Marker(marker)) = self.queue.pop_front() {
                        reached.push(marker);
                    }
                    continue;
                }
                Entry::Delivery(future) => {
                    let must_wait = wait_until.is_some_and(|limit| self.deliveries > limit);
                    let outcome = if must_wait { Some(future.await) } else { future.now_or_never() };
                    let Some(outcome) = outcome else { return Ok(()) };
                    self.queue.pop_front();
                    self.deliveries -= 1;
                    match outcome {
                        Ok(Ok(_)) => {}
                        Ok(Err((error, message))) => {
                            return Err(Error::Kafka {
                                what: format!("delivery to `{}` refused", rdkafka::Message::topic(&message)),
                                source: error,
                            });
                        }
                        Err(_) => {
                            return Err(Error::Kafka {
                                what: "delivery report lost".to_string(),
                                source: rdkafka::error::KafkaError::Canceled,
                            });
                        }
                    }
                }
            }
        }
    }
}

/// Where a record's outputs stand: per input partition, the next offset to commit.
pub(crate) type Offsets = BTreeMap<(String, i32), i64>;

/// Pauses the consumer's assignment while `wait` runs (backpressure), then resumes it. librdkafka
/// drops what it prefetched for the paused partitions and, on resume, fetches again from the
/// record after the last one it handed to the stage, so nothing is skipped or read twice
/// (`tests/kafka.rs` pauses both stages again and again and counts every record).
pub(crate) async fn pause_while<C: ConsumerContext, T>(
    consumer: &StreamConsumer<C>,
    metrics: &Metrics,
    stage: &'static str,
    wait: impl Future<Output = T>,
) -> T {
    let assignment = consumer.assignment().unwrap_or_default();
    if let Err(error) = consumer.pause(&assignment) {
        warn!(%error, stage, "cannot pause consumption");
    }
    metrics.backpressure(stage, true);
    let outcome = wait.await;
    if let Err(error) = consumer.resume(&assignment) {
        warn!(%error, stage, "cannot resume consumption");
    }
    metrics.backpressure(stage, false);
    outcome
}

/// What a run did, for the closing log line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// Raw records consumed.
    pub records: u64,
    /// Events produced to the events topic.
    pub events: u64,
    /// Dead letters produced.
    pub dead_letters: u64,
    /// Alerts produced.
    pub alerts: u64,
}

/// Runs the service until `shutdown` turns true, then drains, flushes, checkpoints and commits
/// within `server.shutdown_timeout`.
pub async fn run(settings: Settings, metrics: Arc<Metrics>, mut shutdown: watch::Receiver<bool>) -> Result<RunReport> {
    let kafka = &settings.kafka;
    if kafka.inputs.is_empty() {
        return Err(Error::Config {
            file: None,
            problems: vec!["`kafka.inputs`: no input topic (give --input SOURCE=TOPIC)".to_string()],
        });
    }
    let store = crate::checkpoint::CheckpointStore::open(&settings.state.dir)?;
    let rules = crate::setup::rules(&settings)?;
    let base_inventory = crate::setup::inventory(&settings)?;
    let (normalizers, warnings) = crate::setup::input_normalizers(&settings)?;
    for warning in warnings.0 {
        warn!("{warning}");
    }
    if kafka.create_topics {
        ensure_topics(kafka, &mut shutdown).await?;
    }
    if *shutdown.borrow() {
        return Ok(RunReport::default());
    }
    let inventory = if kafka.inventory_topic.is_empty() {
        metrics.set_inventory_records(base_inventory.len());
        watch::channel(Arc::new(base_inventory)).1
    } else {
        inventory::follow(kafka, base_inventory, Arc::clone(&metrics), shutdown.clone()).await?
    };
    let detect = detect::DetectStage::new(&settings, rules, inventory, store, Arc::clone(&metrics))?;
    let ingest = ingest::IngestStage::new(&settings, normalizers, Arc::clone(&metrics))?;
    metrics.set_ready(true);
    info!(
        inputs = %kafka.inputs.iter().map(|i| format!("{}={}", i.source, i.topic)).collect::<Vec<_>>().join(","),
        events_topic = %kafka.events_topic,
        alerts_topic = %kafka.alerts_topic,
        group = %kafka.group_id,
        "running"
    );
    let timeout = settings.server.shutdown_timeout;
    // One stop signal for both stages: the caller's shutdown, or either stage failing.
    let (stop, stopped) = watch::channel(false);
    let stop = Arc::new(stop);
    let forward = Arc::clone(&stop);
    tokio::spawn(async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
        forward.send_replace(true);
    });
    let on_error = |stop: Arc<watch::Sender<bool>>| {
        move |result: Result<RunReport>| {
            if result.is_err() {
                stop.send_replace(true);
            }
            result
        }
    };
    let ingest_task = {
        let done = on_error(Arc::clone(&stop));
        let stopped = stopped.clone();
        tokio::spawn(async move { done(ingest.run(stopped, timeout).await) })
    };
    let detect_task = {
        let done = on_error(Arc::clone(&stop));
        tokio::spawn(async move { done(detect.run(stopped, timeout).await) })
    };
    let (ingest_result, detect_result) = tokio::join!(ingest_task, detect_task);
    metrics.set_ready(false);
    let joined = |result: std::result::Result<Result<RunReport>, tokio::task::JoinError>| {
        result.map_err(|error| Error::Config { file: None, problems: vec![format!("a stage panicked: {error}")] })?
    };
    let ingest_report = joined(ingest_result)?;
    let detect_report = joined(detect_result)?;
    Ok(RunReport { alerts: detect_report.alerts, ..ingest_report })
}

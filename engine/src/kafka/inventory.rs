//! The live inventory: a compacted topic of inventory records, read from the beginning at
//! start-up, then followed. Each record is one JSON inventory record (as in an inventory file)
//! keyed by its inventory id; a record with no value (a tombstone) removes the record of its key.
//! Every change is published to the detection stage, which judges the next event against it, so a
//! revocation takes effect on the token's next use.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokenwatch_rules::{Inventory, InventoryRecord};
use tokio::sync::watch;
use tracing::{info, warn};

use super::{Observer, consumer_config};
use crate::config::KafkaSettings;
use crate::metrics::Metrics;
use crate::{Error, Result};

/// Reads the inventory topic up to its end, then follows it in the background; the receiver
/// always holds the latest inventory (`base`, the inventory file's records, plus the topic's).
pub async fn follow(
    kafka: &KafkaSettings,
    base: Inventory,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<watch::Receiver<Arc<Inventory>>> {
    let topic = kafka.inventory_topic.clone();
    let consumer: StreamConsumer<Observer> = consumer_config(kafka, &format!("{}.inventory", kafka.group_id))
        .create_with_context(Observer::new(Arc::clone(&metrics), "inventory consumer"))
        .map_err(Error::kafka("creating the inventory consumer"))?;
    let (partitions, ends) = loop {
        match end_offsets(&consumer, &topic) {
            Ok(found) => break found,
            Err(error) => {
                warn!(%error, topic, "cannot read the inventory topic yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = shutdown.changed() => return Ok(watch::channel(Arc::new(base)).1),
                }
            }
        }
    };
    consumer.assign(&partitions).map_err(Error::kafka(format!("assigning `{topic}`")))?;
    let mut inventory = base;
    let mut remaining: Vec<(i32, i64)> = ends.into_iter().filter(|(_, end)| *end > 0).collect();
    // The initial load: everything up to the end offsets seen at start-up.
    while !remaining.is_empty() {
        let message = tokio::select! {
            message = consumer.recv() => message,
            _ = shutdown.changed() => break,
        };
        match message {
            Ok(message) => {
                apply(&mut inventory, &message, &metrics);
                remaining
                    .retain(|(partition, end)| !(*partition == message.partition() && message.offset() + 1 >= *end));
            }
            Err(error) => warn!(%error, topic, "inventory consumer"),
        }
    }
    info!(topic, records = inventory.len(), "inventory loaded");
    metrics.set_inventory_records(inventory.len());
    let (sender, receiver) = watch::channel(Arc::new(inventory.clone()));
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = consumer.recv() => message,
                _ = shutdown.changed() => break,
            };
            match message {
                Ok(message) => {
                    apply(&mut inventory, &message, &metrics);
                    // Publish once the burst of already-arrived updates is applied.
                    loop {
                        use futures::FutureExt;
                        match consumer.recv().now_or_never() {
                            Some(Ok(next)) => apply(&mut inventory, &next, &metrics),
                            _ => break,
                        }
                    }
                    metrics.set_inventory_records(inventory.len());
                    sender.send_replace(Arc::new(inventory.clone()));
                }
                Err(error) => warn!(%error, "inventory consumer"),
            }
        }
    });
    Ok(receiver)
}

fn end_offsets(consumer: &StreamConsumer<Observer>, topic: &str) -> Result<(TopicPartitionList, Vec<(i32, i64)>)> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .map_err(Error::kafka(format!("reading the metadata of `{topic}`")))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(Error::Config {
            file: None,
            problems: vec![format!("`kafka.inventory_topic`: `{topic}` has no partition")],
        });
    }
    let mut list = TopicPartitionList::new();
    let mut ends = Vec::new();
    for partition in partitions {
        list.add_partition_offset(topic, partition, Offset::Beginning).map_err(Error::kafka("listing partitions"))?;
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
            .map_err(Error::kafka(format!("reading the end of `{topic}`/{partition}")))?;
        ends.push((partition, high));
    }
    Ok((list, ends))
}

fn apply(inventory: &mut Inventory, message: &impl Message, metrics: &Metrics) {
    match message.payload() {
        None => {
            if let Some(Ok(key)) = message.key().map(std::str::from_utf8) {
                inventory.remove(key);
            }
        }
        Some(payload) => match serde_json::from_slice::<InventoryRecord>(payload) {
            Ok(record) => inventory.upsert(record),
            Err(error) => {
                metrics.kafka_error("bad_inventory_record");
                warn!(partition = message.partition(), offset = message.offset(), %error, "inventory record skipped");
            }
        },
    }
}

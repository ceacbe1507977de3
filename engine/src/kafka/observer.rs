//! The Kafka clients' context: their logs go to `tracing`, their errors and statistics to the
//! metrics (broker connection, consumer lag).

use std::sync::Arc;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use tracing::{debug, error, info, warn};

use crate::metrics::Metrics;

/// Context of every client of a run.
#[derive(Debug, Clone)]
pub struct Observer {
    metrics: Arc<Metrics>,
    name: &'static str,
}

impl Observer {
    /// The context of the client `name` (`ingest consumer`, `alerts producer`, …).
    pub fn new(metrics: Arc<Metrics>, name: &'static str) -> Self {
        Observer { metrics, name }
    }

    /// The metrics it reports to.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl ClientContext for Observer {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let client = self.name;
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error => {
                error!(client, facility, "{message}")
            }
            RDKafkaLogLevel::Warning => warn!(client, facility, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => info!(client, facility, "{message}"),
            RDKafkaLogLevel::Debug => debug!(client, facility, "{message}"),
        }
    }

    fn stats(&self, statistics: Statistics) {
        let up = statistics.brokers.values().any(|broker| broker.state == "UP");
        self.metrics.set_broker_connected(up);
        for (topic, stats) in &statistics.topics {
            for (partition, partition_stats) in &stats.partitions {
                if *partition >= 0 && partition_stats.fetch_state == "active" && partition_stats.consumer_lag >= 0 {
                    self.metrics.set_lag(topic, *partition, partition_stats.consumer_lag);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let kind = match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                self.metrics.set_broker_connected(false);
                "all_brokers_down"
            }
            Some(RDKafkaErrorCode::BrokerTransportFailure) => "transport",
            Some(RDKafkaErrorCode::Authentication) => "authentication",
            Some(RDKafkaErrorCode::MessageTimedOut) => "timeout",
            _ => "other",
        };
        self.metrics.kafka_error(kind);
        warn!(client = self.name, kind, %error, "kafka: {reason}");
    }
}

impl ConsumerContext for Observer {}

//! The processing pipeline: raw records → normalised events (in parallel) → batches → detectors
//! → sinks.
//!
//! Order and completeness: records are normalised in parallel within a chunk, but their results
//! are handed on in input order, so the output does not depend on the thread count. Every record
//! yields its events or its dead letter at the sink; nothing is dropped silently.

use std::time::Instant;

use rayon::prelude::*;
use tokenwatch_rules::RuleSet;
use tokenwatch_schemas::{Alert, DeadLetter, Event, Normalized, Normalizer, Origin};

use crate::Result;
use crate::batcher::Batcher;
use crate::stats::RunStats;

/// One input record: its bytes and where it came from.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// The record's bytes (one JSON document).
    pub bytes: Vec<u8>,
    /// Where it was read.
    pub origin: Origin,
}

/// Where the pipeline's outputs go.
pub trait Sink {
    /// A batch of normalised events, in input order.
    fn events(&mut self, events: &[Event]) -> Result<()>;
    /// A record that could not be normalised.
    fn dead_letter(&mut self, letter: &DeadLetter) -> Result<()>;
    /// An alert.
    fn alert(&mut self, alert: &Alert) -> Result<()>;
    /// Makes everything written so far durable. Default: nothing to do.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Normalisation, batching and detection for one stream of records.
#[derive(Debug)]
pub struct Pipeline {
    normalizer: Normalizer,
    rules: RuleSet,
    batcher: Batcher,
    stats: RunStats,
    alerts: Vec<Alert>,
}

impl Pipeline {
    /// A pipeline with the given parts.
    pub fn new(normalizer: Normalizer, rules: RuleSet, batcher: Batcher) -> Self {
        Pipeline { normalizer, rules, batcher, stats: RunStats::default(), alerts: Vec::new() }
    }

    /// Counters so far.
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// The normaliser in use.
    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }

    /// Normalises `records` in parallel on the current rayon pool and hands the results to `sink`
    /// in input order.
    pub fn process(&mut self, records: &[RawRecord], sink: &mut dyn Sink) -> Result<()> {
        let normalizer = &self.normalizer;
        let results: Vec<Vec<Normalized>> = records
            .par_iter()
            .with_min_len(64)
            .map(|record| {
                let mut out = Vec::with_capacity(1);
                normalizer.normalize(&record.bytes, &record.origin, &mut |n| out.push(n));
                out
            })
            .collect();
        self.stats.records += records.len() as u64;
        self.stats.bytes += records.iter().map(|r| r.bytes.len() as u64).sum::<u64>();
        let now = Instant::now();
        for normalized in results.into_iter().flatten() {
            match normalized {
                Normalized::Event(event) => {
                    self.stats.events += 1;
                    if let Some(count) = self.stats.events_by_source.get_mut(&*event.source) {
                        *count += 1;
                    } else {
                        self.stats.events_by_source.insert(event.source.to_string(), 1);
                    }
                    if let Some(batch) = self.batcher.push(event, now) {
                        self.emit(batch, sink)?;
                    }
                }
                Normalized::DeadLetter(letter) => {
                    *self.stats.dead_letters.entry(letter.reason).or_default() += 1;
                    sink.dead_letter(&letter)?;
                }
            }
        }
        if let Some(batch) = self.batcher.poll(Instant::now()) {
            self.emit(batch, sink)?;
        }
        Ok(())
    }

    /// Emits a batch whose linger has expired, if any (for idle streams).
    pub fn tick(&mut self, sink: &mut dyn Sink) -> Result<()> {
        if let Some(batch) = self.batcher.poll(Instant::now()) {
            self.emit(batch, sink)?;
        }
        Ok(())
    }

    /// Emits whatever is pending, lets detectors flush, and flushes the sink.
    pub fn finish(&mut self, sink: &mut dyn Sink) -> Result<()> {
        if let Some(batch) = self.batcher.flush() {
            self.emit(batch, sink)?;
        }
        self.rules.finish(&mut self.alerts);
        self.stats.detection = self.rules.counters();
        self.drain_alerts(sink)?;
        sink.flush()
    }

    fn emit(&mut self, batch: Vec<Event>, sink: &mut dyn Sink) -> Result<()> {
        self.stats.batches += 1;
        sink.events(&batch)?;
        self.rules.process(batch, &mut self.alerts);
        self.stats.detection = self.rules.counters();
        self.drain_alerts(sink)
    }

    fn drain_alerts(&mut self, sink: &mut dyn Sink) -> Result<()> {
        for alert in self.alerts.drain(..) {
            *self.stats.alerts.entry(alert.rule.clone()).or_default() += 1;
            sink.alert(&alert)?;
        }
        Ok(())
    }
}

//! tokenwatch's detectors: per-token baselines and the rules that judge each event against them,
//! every alert linked to the token's inventory record.
//!
//! Rules are pure functions of events and state: no tokio, no rdkafka, no files (the inventory and
//! rule files are parsed from text handed in). A rule can be unit-tested with a `Vec` of events
//! ([`testing::Harness`]).
//!
//! - [`inventory`]: the token inventory (JSON lines or CSV) and its look-up by event;
//! - [`config`]: rule files (`rules/config/*.toml`, overridable with `--rules DIR`);
//! - [`rules`]: the rules, one module each;
//! - [`state`]: per-token state; [`reorder`]: event-time ordering;
//! - [`detection`]: the runner (sharded state, allowlists, suppression, alert ids).

pub mod config;
pub mod detection;
mod error;
pub mod inventory;
pub mod reorder;
pub mod rule;
pub mod rules;
pub mod state;
pub mod testing;

pub use config::RulesConfig;
pub use detection::{Detection, DetectionSettings, DetectionStats};
pub use error::{Error, Result};
pub use inventory::{Inventory, InventoryRecord, TokenStatus};
pub use rule::{Finding, Rule, RuleContext};

use tokenwatch_schemas::{Alert, Event};

/// A detector with its state, as the pipeline drives it.
///
/// `process` receives each batch of events (in input order) and pushes any alerts into `alerts`;
/// `finish` is called once at end of input or shutdown, for what the detector still owes
/// (held-back events, alerts whose suppression window is open).
pub trait Detector: Send {
    /// The detector's name.
    fn name(&self) -> &str;

    /// Judges `events`, updating state and pushing alerts.
    fn process(&mut self, events: Vec<Event>, alerts: &mut Vec<Alert>);

    /// Flushes at end of input. Default: nothing.
    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}

    /// Counters worth reporting (`tokens_tracked`, `late_events`, …). Default: none.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// The detectors a run uses, applied in order.
#[derive(Default)]
pub struct RuleSet {
    detectors: Vec<Box<dyn Detector>>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.detectors.iter().map(|d| d.name())).finish()
    }
}

impl RuleSet {
    /// An empty rule set: events pass through, no alert is raised.
    pub fn empty() -> Self {
        RuleSet::default()
    }

    /// A rule set of one detector.
    pub fn of(detector: Box<dyn Detector>) -> Self {
        RuleSet { detectors: vec![detector] }
    }

    /// Adds a detector.
    pub fn push(&mut self, detector: Box<dyn Detector>) {
        self.detectors.push(detector);
    }

    /// Whether there is no detector.
    pub fn is_empty(&self) -> bool {
        self.detectors.is_empty()
    }

    /// Runs every detector over `events` (the last one takes ownership).
    pub fn process(&mut self, events: Vec<Event>, alerts: &mut Vec<Alert>) {
        let count = self.detectors.len();
        let mut events = Some(events);
        for (index, detector) in self.detectors.iter_mut().enumerate() {
            let batch =
                if index + 1 == count { events.take().unwrap_or_default() } else { events.clone().unwrap_or_default() };
            detector.process(batch, alerts);
        }
    }

    /// Flushes every detector at end of input.
    pub fn finish(&mut self, alerts: &mut Vec<Alert>) {
        for detector in &mut self.detectors {
            detector.finish(alerts);
        }
    }

    /// Every detector's counters.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        self.detectors.iter().flat_map(|d| d.counters()).collect()
    }
}

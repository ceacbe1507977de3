//! tokenwatch's detectors: per-token baselines and the rules that judge each event against them.
//!
//! Detectors are pure functions of events and their own state: no tokio, no rdkafka, no files.
//! A detector can be unit-tested with a `Vec` of events. The runtime (`engine`) feeds each
//! detector the events of a batch in event-time order and collects the alerts it pushes.

use tokenwatch_schemas::{Alert, Event};

/// A detection rule with its state.
///
/// `process` receives events in event-time order (per token) and pushes any alerts into `alerts`.
/// Implementations document what state they keep per token, how much memory that takes, and what
/// makes them fire.
pub trait Detector: Send {
    /// The rule name alerts carry.
    fn name(&self) -> &str;

    /// Judges `events`, updating state and pushing alerts.
    fn process(&mut self, events: &[Event], alerts: &mut Vec<Alert>);

    /// Called when the input ends; detectors holding back events (reorder buffers, suppression
    /// windows) emit what they still owe. Default: nothing.
    fn finish(&mut self, _alerts: &mut Vec<Alert>) {}
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

    /// Adds a detector.
    pub fn push(&mut self, detector: Box<dyn Detector>) {
        self.detectors.push(detector);
    }

    /// Names of the detectors, in order.
    pub fn names(&self) -> Vec<&str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// Runs every detector over `events`.
    pub fn process(&mut self, events: &[Event], alerts: &mut Vec<Alert>) {
        for detector in &mut self.detectors {
            detector.process(events, alerts);
        }
    }

    /// Flushes every detector at end of input.
    pub fn finish(&mut self, alerts: &mut Vec<Alert>) {
        for detector in &mut self.detectors {
            detector.finish(alerts);
        }
    }
}

//! Backtesting rules like an analyst: replay logs through a rule set (and, in the same pass, a
//! baseline rule set), score the alerts against labels, and see what a change gains and loses.
//!
//! How a run is put together (the binary does this, see `tokenwatch backtest`):
//!
//! 1. the rules under test are a normal detector of the pipeline, so their alerts reach the sink
//!    and the run's counters like any replay's;
//! 2. the baseline rules, if any, are wrapped in a [`ShadowDetector`]: it sees the same batches of
//!    events, but its alerts are set aside in a [`ShadowAlerts`] buffer instead of going down the
//!    pipeline, so which rule set raised an alert is never in doubt, and the existing commands
//!    (one detector, no shadow) behave exactly as before;
//! 3. the [`Collector`] sink counts the events (per source, per UTC day) and keeps the final
//!    version of every alert (the last one written per `alert_id`);
//! 4. [`BacktestResult::new`] scores ([`score`]), compares ([`diff`]) and summarises
//!    ([`summary`]); [`text`] prints it and [`report`] writes the HTML page.
//!
//! Alerts are kept in memory (one per `alert_id`), events are only counted. Everything is sorted
//! by event time then id, so the output does not depend on the thread count or the batch size.

pub mod diff;
pub mod labels;
pub mod report;
pub mod score;
pub mod summary;
pub mod text;

mod charts;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use tokenwatch_engine::Sink;
use tokenwatch_rules::Detector;
use tokenwatch_schemas::time::{TimeFormat, format_rfc3339_micros, parse_str};
use tokenwatch_schemas::{Alert, DeadLetter, Event};

use crate::output::JsonLines;

pub use labels::{Labels, Scenario, ScenarioKind};

const DAY_US: i64 = 86_400_000_000;

/// Alerts a [`ShadowDetector`] has raised, shared with whoever reads them after the run.
#[derive(Debug, Clone, Default)]
pub struct ShadowAlerts(Arc<Mutex<Vec<Alert>>>);

impl ShadowAlerts {
    /// Takes every alert set aside so far, in the order raised.
    pub fn take(&self) -> Vec<Alert> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn extend(&self, alerts: &mut Vec<Alert>) {
        if !alerts.is_empty() {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).append(alerts);
        }
    }
}

/// A detector run in shadow mode: it judges every batch like any detector, but its alerts are set
/// aside in a [`ShadowAlerts`] buffer instead of reaching the pipeline's sink. Reports no counters
/// (they would be added to those of the detector under test).
pub struct ShadowDetector {
    inner: Box<dyn Detector>,
    name: String,
    alerts: ShadowAlerts,
    scratch: Vec<Alert>,
}

impl std::fmt::Debug for ShadowDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShadowDetector").field("name", &self.name).finish_non_exhaustive()
    }
}

impl ShadowDetector {
    /// Wraps `inner`; returns the detector and the handle its alerts are read from.
    pub fn new(inner: Box<dyn Detector>) -> (Self, ShadowAlerts) {
        let alerts = ShadowAlerts::default();
        let name = format!("shadow:{}", inner.name());
        (ShadowDetector { inner, name, alerts: alerts.clone(), scratch: Vec::new() }, alerts)
    }
}

impl Detector for ShadowDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn process(&mut self, events: Vec<Event>, _alerts: &mut Vec<Alert>) {
        self.inner.process(events, &mut self.scratch);
        self.alerts.extend(&mut self.scratch);
    }

    fn finish(&mut self, _alerts: &mut Vec<Alert>) {
        self.inner.finish(&mut self.scratch);
        self.alerts.extend(&mut self.scratch);
    }
}

/// The final version of each alert: the last one written per `alert_id`.
#[derive(Debug, Clone, Default)]
pub struct AlertBook {
    index: HashMap<String, usize>,
    alerts: Vec<Alert>,
}

impl AlertBook {
    /// Records a version of an alert (a later version replaces an earlier one).
    pub fn record(&mut self, alert: Alert) {
        match self.index.get(&alert.alert_id) {
            Some(&slot) => self.alerts[slot] = alert,
            None => {
                self.index.insert(alert.alert_id.clone(), self.alerts.len());
                self.alerts.push(alert);
            }
        }
    }

    /// The final alerts, sorted by event time then id.
    pub fn into_sorted(self) -> Vec<Alert> {
        let mut alerts = self.alerts;
        alerts.sort_by(|a, b| (&a.time, &a.alert_id).cmp(&(&b.time, &b.alert_id)));
        alerts
    }

    /// The final alerts of a list of versions, sorted by event time then id.
    pub fn final_versions(versions: impl IntoIterator<Item = Alert>) -> Vec<Alert> {
        let mut book = AlertBook::default();
        versions.into_iter().for_each(|alert| book.record(alert));
        book.into_sorted()
    }
}

/// Events replayed, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// All events.
    pub total: u64,
    /// Per source.
    pub by_source: BTreeMap<String, u64>,
    /// Per UTC day of event time (days since 1970-01-01).
    pub by_day: BTreeMap<i64, u64>,
    /// Earliest event time, µs.
    pub first_us: Option<i64>,
    /// Latest event time, µs.
    pub last_us: Option<i64>,
}

impl EventCounts {
    /// Counts one event.
    pub fn add(&mut self, event: &Event) {
        self.total += 1;
        if let Some(count) = self.by_source.get_mut(&*event.source) {
            *count += 1;
        } else {
            self.by_source.insert(event.source.to_string(), 1);
        }
        *self.by_day.entry(event.time_us.div_euclid(DAY_US)).or_default() += 1;
        self.first_us = Some(self.first_us.map_or(event.time_us, |t| t.min(event.time_us)));
        self.last_us = Some(self.last_us.map_or(event.time_us, |t| t.max(event.time_us)));
    }
}

/// `YYYY-MM-DD` of a day number.
pub(crate) fn day_name(day: i64) -> String {
    format_rfc3339_micros(day * DAY_US)[..10].to_string()
}

/// The alert's event time, µs.
pub(crate) fn alert_time_us(alert: &Alert) -> Option<i64> {
    parse_str(&alert.time, TimeFormat::Rfc3339)
}

/// The UTC day of the alert's event time.
pub(crate) fn alert_day(alert: &Alert) -> Option<i64> {
    alert_time_us(alert).map(|t| t.div_euclid(DAY_US))
}

/// The sink of a backtest: counts events, keeps the final version of every alert of the rules
/// under test, and writes dead letters.
#[derive(Debug)]
pub struct Collector {
    /// Events seen.
    pub events: EventCounts,
    /// Alerts of the rules under test.
    pub alerts: AlertBook,
    /// Where dead letters go.
    pub dead_letters: JsonLines,
}

impl Collector {
    /// A collector writing dead letters to `dead_letters`.
    pub fn new(dead_letters: JsonLines) -> Self {
        Collector { events: EventCounts::default(), alerts: AlertBook::default(), dead_letters }
    }
}

impl Sink for Collector {
    fn events(&mut self, events: &[Event]) -> tokenwatch_engine::Result<()> {
        events.iter().for_each(|event| self.events.add(event));
        Ok(())
    }

    fn dead_letter(&mut self, letter: &DeadLetter) -> tokenwatch_engine::Result<()> {
        Ok(self.dead_letters.write(letter)?)
    }

    fn alert(&mut self, alert: &Alert) -> tokenwatch_engine::Result<()> {
        self.alerts.record(alert.clone());
        Ok(())
    }

    fn flush(&mut self) -> tokenwatch_engine::Result<()> {
        Ok(self.dead_letters.flush()?)
    }
}

/// What was compared with what, for the printout and the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// The inputs replayed, as given.
    pub inputs: Vec<String>,
    /// The inventory.
    pub inventory: String,
    /// The labels file, if any.
    pub labels: Option<String>,
    /// The rules under test (`built-in` or a folder).
    pub rules: String,
    /// The baseline rules (`built-in` or a folder), if any.
    pub baseline_rules: Option<String>,
}

/// The baseline side of a backtest.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The baseline's final alerts, by time then id.
    pub alerts: Vec<Alert>,
    /// Its scores, with labels.
    pub scores: Option<score::Scorecard>,
    /// What the rules under test gain and lose against it.
    pub diff: diff::Diff,
}

/// Everything a backtest found.
#[derive(Debug, Clone)]
pub struct BacktestResult {
    /// What was run.
    pub info: RunInfo,
    /// The labels, if any.
    pub labels: Option<Labels>,
    /// Events replayed.
    pub events: EventCounts,
    /// The final alerts of the rules under test, by time then id.
    pub alerts: Vec<Alert>,
    /// Alert counts of the rules under test.
    pub summary: summary::AlertSummary,
    /// Scores of the rules under test, with labels.
    pub scores: Option<score::Scorecard>,
    /// The baseline, if one was run.
    pub baseline: Option<Baseline>,
}

impl BacktestResult {
    /// Scores, compares and summarises. `baseline_versions` are every alert version the shadow
    /// baseline raised (final versions are picked here); `top_tokens` is how many of the noisiest
    /// tokens to list.
    pub fn new(
        info: RunInfo,
        labels: Option<Labels>,
        collector: Collector,
        baseline_versions: Option<Vec<Alert>>,
        top_tokens: usize,
    ) -> Self {
        let events = collector.events;
        let alerts = collector.alerts.into_sorted();
        let scores = labels.as_ref().map(|labels| score::score(labels, &alerts, events.total));
        let baseline = baseline_versions.map(|versions| {
            let baseline_alerts = AlertBook::final_versions(versions);
            Baseline {
                scores: labels.as_ref().map(|labels| score::score(labels, &baseline_alerts, events.total)),
                diff: diff::diff(&baseline_alerts, &alerts),
                alerts: baseline_alerts,
            }
        });
        let summary = summary::summarise(&alerts, &events, top_tokens);
        BacktestResult { info, labels, events, alerts, summary, scores, baseline }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokenwatch_rules::RuleSet;
    use tokenwatch_schemas::{Severity, TokenKind};

    /// An alert on token `tok-1` at a fixed time.
    pub(crate) fn alert(id: &str, rule: &str, events: &[&str]) -> Alert {
        let mut alert = alert_at(id, rule, "2026-01-07T08:24:55.663000Z", "tok-1");
        alert.event_ids = events.iter().map(|e| e.to_string()).collect();
        alert
    }

    /// An alert on `token` at `time`.
    pub(crate) fn alert_at(id: &str, rule: &str, time: &str, token: &str) -> Alert {
        Alert {
            alert_id: id.to_string(),
            rule: rule.to_string(),
            severity: Severity::High,
            time: time.to_string(),
            detected_at: "2026-11-22T04:43:26.585090Z".to_string(),
            token_id: token.to_string(),
            token_kind: TokenKind::Session,
            inventory_id: None,
            owner: Some("ana@example.com".to_string()),
            subject: None,
            source: "okta".to_string(),
            event_ids: vec![format!("{id}-event")],
            count: 1,
            evidence: serde_json::json!({}),
        }
    }

    /// Raises one alert per batch, named after the batch's first event.
    struct Echo(&'static str);

    impl Detector for Echo {
        fn name(&self) -> &str {
            self.0
        }
        fn process(&mut self, events: Vec<Event>, alerts: &mut Vec<Alert>) {
            if let Some(event) = events.first() {
                alerts.push(alert(&format!("{}:{}", self.0, event.event_id), self.0, &[&event.event_id]));
            }
        }
        fn finish(&mut self, alerts: &mut Vec<Alert>) {
            alerts.push(alert(&format!("{}:end", self.0), self.0, &[]));
        }
        fn counters(&self) -> Vec<(&'static str, u64)> {
            vec![("echo", 1)]
        }
    }

    /// An Okta event of 2026-01-07 (day 20,460).
    fn event(id: &str) -> Event {
        let time_us = parse_str("2026-01-07T08:00:00Z", TimeFormat::Rfc3339).unwrap();
        Event { source: Arc::from("okta"), ..tokenwatch_rules::testing::event(id, time_us) }
    }

    #[test]
    fn a_shadow_detector_sees_every_batch_but_its_alerts_are_set_aside() {
        let mut rules = RuleSet::of(Box::new(Echo("main")));
        let (shadow, aside) = ShadowDetector::new(Box::new(Echo("base")));
        rules.push(Box::new(shadow));
        let mut alerts = Vec::new();
        rules.process(vec![event("e1"), event("e2")], &mut alerts);
        rules.process(vec![event("e3")], &mut alerts);
        rules.finish(&mut alerts);
        let main: Vec<&str> = alerts.iter().map(|a| a.alert_id.as_str()).collect();
        assert_eq!(main, ["main:e1", "main:e3", "main:end"]);
        let base: Vec<String> = aside.take().into_iter().map(|a| a.alert_id).collect();
        assert_eq!(base, ["base:e1", "base:e3", "base:end"]);
        assert!(aside.take().is_empty(), "take empties the buffer");
        assert_eq!(rules.counters(), vec![("echo", 1)], "the shadow's counters are not added");
    }

    #[test]
    fn the_collector_keeps_the_last_version_of_each_alert_and_counts_events_per_day() {
        let mut collector =
            Collector::new(JsonLines::new(crate::Target::File("/nonexistent/dl".into()), true).unwrap());
        collector.events(&[event("e1"), event("e2")]).unwrap();
        let mut first = alert_at("a1", "burst", "2026-01-07T10:00:00Z", "t");
        collector.alert(&first).unwrap();
        collector.alert(&alert_at("a0", "burst", "2026-01-07T09:00:00Z", "t")).unwrap();
        first.count = 5;
        collector.alert(&first).unwrap();
        assert_eq!(collector.events.total, 2);
        assert_eq!(collector.events.by_day.get(&20_460), Some(&2));
        assert_eq!(collector.events.by_source.get("okta"), Some(&2));
        let alerts = collector.alerts.into_sorted();
        let final_versions: Vec<(&str, u32)> = alerts.iter().map(|a| (a.alert_id.as_str(), a.count)).collect();
        assert_eq!(final_versions, [("a0", 1), ("a1", 5)]);
    }
}

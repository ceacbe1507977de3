//! What a run raised, without labels: alerts per rule, per source, per day, and the noisiest
//! tokens.

use std::collections::{BTreeMap, BTreeSet};

use tokenwatch_schemas::Alert;

use super::{EventCounts, alert_day, day_name};

/// One rule's alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCount {
    /// The rule.
    pub rule: String,
    /// Alerts (final versions).
    pub alerts: u64,
    /// Firings, suppressed ones included (the sum of the alerts' `count`).
    pub firings: u64,
    /// Distinct tokens alerted on.
    pub tokens: u64,
}

/// One source's events and alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceCount {
    /// The source.
    pub source: String,
    /// Events replayed from it.
    pub events: u64,
    /// Alerts whose triggering event came from it.
    pub alerts: u64,
}

impl SourceCount {
    /// Alerts per 10,000 events of the source.
    pub fn per_10k(&self) -> f64 {
        if self.events == 0 { 0.0 } else { self.alerts as f64 * 10_000.0 / self.events as f64 }
    }
}

/// One UTC day's events and alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Events of that day (event time).
    pub events: u64,
    /// Alerts of that day (the triggering event's time), per rule.
    pub by_rule: BTreeMap<String, u64>,
}

impl DayCount {
    /// Alerts of that day.
    pub fn alerts(&self) -> u64 {
        self.by_rule.values().sum()
    }
}

/// One token's alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenCount {
    /// The token id (as events carry it: never a raw secret).
    pub token_id: String,
    /// Alerts on it.
    pub alerts: u64,
    /// Alerts on it per rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Its owner (inventory) or, failing that, who used it.
    pub who: Option<String>,
}

/// Alert counts of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertSummary {
    /// Per rule, by name.
    pub per_rule: Vec<RuleCount>,
    /// Per source, by name: every source with events or alerts.
    pub per_source: Vec<SourceCount>,
    /// Per day, in order: every day from the first to the last with events or alerts.
    pub per_day: Vec<DayCount>,
    /// The tokens with the most alerts (most first, then by id).
    pub noisiest: Vec<TokenCount>,
}

/// Counts `alerts` (final versions) against the events replayed; keeps the `top` noisiest tokens.
pub fn summarise(alerts: &[Alert], events: &EventCounts, top: usize) -> AlertSummary {
    let mut rules: BTreeMap<&str, (RuleCount, BTreeSet<&str>)> = BTreeMap::new();
    let mut sources: BTreeMap<String, SourceCount> = events
        .by_source
        .iter()
        .map(|(source, &n)| (source.clone(), SourceCount { source: source.clone(), events: n, alerts: 0 }))
        .collect();
    let mut days: BTreeMap<i64, DayCount> = events
        .by_day
        .iter()
        .map(|(&day, &n)| (day, DayCount { day: day_name(day), events: n, by_rule: BTreeMap::new() }))
        .collect();
    let mut tokens: BTreeMap<&str, TokenCount> = BTreeMap::new();
    for alert in alerts {
        let (count, distinct) = rules.entry(alert.rule.as_str()).or_default();
        count.alerts += 1;
        count.firings += u64::from(alert.count);
        distinct.insert(alert.token_id.as_str());
        let source = sources
            .entry(alert.source.clone())
            .or_insert_with(|| SourceCount { source: alert.source.clone(), ..SourceCount::default() });
        source.alerts += 1;
        if let Some(day) = alert_day(alert) {
            let entry = days.entry(day).or_insert_with(|| DayCount { day: day_name(day), ..DayCount::default() });
            *entry.by_rule.entry(alert.rule.clone()).or_default() += 1;
        }
        let token = tokens
            .entry(alert.token_id.as_str())
            .or_insert_with(|| TokenCount { token_id: alert.token_id.clone(), ..TokenCount::default() });
        token.alerts += 1;
        *token.by_rule.entry(alert.rule.clone()).or_default() += 1;
        if token.who.is_none() {
            token.who = alert.owner.clone().or_else(|| alert.subject.clone());
        }
    }
    // Every day between the first and the last, so quiet days show as quiet.
    if let (Some(&first), Some(&last)) = (days.keys().next(), days.keys().next_back()) {
        for day in first..=last {
            days.entry(day).or_insert_with(|| DayCount { day: day_name(day), ..DayCount::default() });
        }
    }
    let per_rule = rules
        .into_iter()
        .map(|(rule, (mut count, distinct))| {
            count.rule = rule.to_string();
            count.tokens = distinct.len() as u64;
            count
        })
        .collect();
    let mut noisiest: Vec<TokenCount> = tokens.into_values().collect();
    noisiest.sort_by(|a, b| b.alerts.cmp(&a.alerts).then_with(|| a.token_id.cmp(&b.token_id)));
    noisiest.truncate(top);
    AlertSummary {
        per_rule,
        per_source: sources.into_values().collect(),
        per_day: days.into_values().collect(),
        noisiest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::tests::alert_at;

    #[test]
    fn counts_per_rule_source_day_and_token() {
        let mut events = EventCounts::default();
        events.by_source.insert("okta".into(), 300);
        events.by_source.insert("kong".into(), 100);
        events.by_day.insert(20_460, 250); // 2026-01-07
        events.by_day.insert(20_462, 150); // 2026-01-09
        let mut alerts = vec![
            alert_at("a1", "burst", "2026-01-07T10:00:00Z", "t1"),
            alert_at("a2", "burst", "2026-01-07T11:00:00Z", "t2"),
            alert_at("a3", "token_reuse", "2026-01-09T10:00:00Z", "t1"),
            alert_at("a4", "token_reuse", "2026-01-10T10:00:00Z", "t1"),
        ];
        alerts[0].count = 3;
        alerts[2].source = "kong".into();
        let summary = summarise(&alerts, &events, 1);
        assert_eq!(summary.per_rule.len(), 2);
        assert_eq!((summary.per_rule[0].alerts, summary.per_rule[0].firings, summary.per_rule[0].tokens), (2, 4, 2));
        assert_eq!((summary.per_rule[1].alerts, summary.per_rule[1].tokens), (2, 1));
        let kong = summary.per_source.iter().find(|s| s.source == "kong").unwrap();
        assert_eq!((kong.events, kong.alerts), (100, 1));
        assert!((kong.per_10k() - 100.0).abs() < 1e-9);
        let days: Vec<(&str, u64, u64)> =
            summary.per_day.iter().map(|d| (d.day.as_str(), d.events, d.alerts())).collect();
        assert_eq!(days, [("2026-01-07", 250, 2), ("2026-01-08", 0, 0), ("2026-01-09", 150, 1), ("2026-01-10", 0, 1)]);
        assert_eq!(summary.noisiest.len(), 1);
        assert_eq!((summary.noisiest[0].token_id.as_str(), summary.noisiest[0].alerts), ("t1", 3));
        assert_eq!(summary.noisiest[0].who.as_deref(), Some("ana@example.com"));
    }
}

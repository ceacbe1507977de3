//! What changing the rules changes: alerts gained and lost per rule against a baseline rule set
//! run over the same events in the same pass.
//!
//! Alerts are matched by `alert_id`, a hash of the rule, the token and the triggering events: an
//! alert that fires on other events after a change (later in a burst, say) is one lost and one
//! gained, which is what an analyst triaging it would see.

use std::collections::{BTreeMap, HashSet};

use tokenwatch_schemas::Alert;

/// One rule's change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleDiff {
    /// The rule.
    pub rule: String,
    /// Alerts of the baseline rule set.
    pub baseline: u64,
    /// Alerts of the rules under test.
    pub rules: u64,
    /// Alerts only the rules under test raise, by time then id.
    pub gained: Vec<Alert>,
    /// Alerts only the baseline raises, by time then id.
    pub lost: Vec<Alert>,
}

/// The change over every rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Per rule, by name: every rule either side raised an alert of.
    pub rules: Vec<RuleDiff>,
}

impl Diff {
    /// Alerts gained over all rules.
    pub fn gained(&self) -> u64 {
        self.rules.iter().map(|r| r.gained.len() as u64).sum()
    }

    /// Alerts lost over all rules.
    pub fn lost(&self) -> u64 {
        self.rules.iter().map(|r| r.lost.len() as u64).sum()
    }

    /// Whether both rule sets raised exactly the same alerts.
    pub fn is_empty(&self) -> bool {
        self.rules.iter().all(|r| r.gained.is_empty() && r.lost.is_empty())
    }
}

/// Compares the final alerts of the baseline with those of the rules under test.
pub fn diff(baseline: &[Alert], rules: &[Alert]) -> Diff {
    let baseline_ids: HashSet<&str> = baseline.iter().map(|a| a.alert_id.as_str()).collect();
    let rules_ids: HashSet<&str> = rules.iter().map(|a| a.alert_id.as_str()).collect();
    let mut per_rule: BTreeMap<&str, RuleDiff> = BTreeMap::new();
    for alert in baseline {
        let entry = per_rule.entry(alert.rule.as_str()).or_default();
        entry.baseline += 1;
        if !rules_ids.contains(alert.alert_id.as_str()) {
            entry.lost.push(alert.clone());
        }
    }
    for alert in rules {
        let entry = per_rule.entry(alert.rule.as_str()).or_default();
        entry.rules += 1;
        if !baseline_ids.contains(alert.alert_id.as_str()) {
            entry.gained.push(alert.clone());
        }
    }
    let order = |a: &Alert, b: &Alert| (&a.time, &a.alert_id).cmp(&(&b.time, &b.alert_id));
    Diff {
        rules: per_rule
            .into_iter()
            .map(|(rule, mut change)| {
                change.rule = rule.to_string();
                change.gained.sort_by(order);
                change.lost.sort_by(order);
                change
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::tests::alert;

    #[test]
    fn gained_and_lost_per_rule_by_alert_id() {
        let baseline =
            vec![alert("a1", "burst", &["e1"]), alert("a2", "burst", &["e2"]), alert("a3", "dormant", &["e3"])];
        let rules = vec![alert("a2", "burst", &["e2"]), alert("a4", "burst", &["e4"]), alert("a5", "token_reuse", &[])];
        let change = diff(&baseline, &rules);
        type Row<'a> = (&'a str, u64, u64, Vec<&'a str>, Vec<&'a str>);
        let summary: Vec<Row> = change
            .rules
            .iter()
            .map(|r| {
                (
                    r.rule.as_str(),
                    r.baseline,
                    r.rules,
                    r.gained.iter().map(|a| a.alert_id.as_str()).collect(),
                    r.lost.iter().map(|a| a.alert_id.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("burst", 2, 2, vec!["a4"], vec!["a1"]),
                ("dormant", 1, 0, vec![], vec!["a3"]),
                ("token_reuse", 0, 1, vec!["a5"], vec![]),
            ]
        );
        assert_eq!((change.gained(), change.lost()), (2, 2));
        assert!(!change.is_empty());
        assert!(diff(&baseline, &baseline).is_empty());
    }
}

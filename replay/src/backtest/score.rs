//! Scoring alerts against labels, per rule family.
//!
//! An alert is about a scenario when their event ids intersect. Each alert gets one [`Verdict`]:
//! it detects an attack of its own rule's family, else it is on an attack of another family, else
//! on a benign look-alike, else it is unexplained (no labelled event). Per family:
//!
//! - `scenarios`: attack scenarios of the family; `detected`: those an alert of the family's rule
//!   is about; recall = detected / scenarios;
//! - `alerts`: alerts of the rule (final versions: one per `alert_id`); precision = alerts that
//!   detect an attack of the family / alerts;
//! - `lookalikes`: benign scenarios of the family; `lookalike_alerts`: alerts of the rule on a
//!   benign look-alike (of any family) and on no attack;
//! - `unexplained`: alerts of the rule on no labelled event, also given per 10,000 events replayed.

use std::collections::{BTreeMap, HashMap};

use tokenwatch_schemas::Alert;

use super::labels::{Labels, ScenarioKind};

/// What the labels say about one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is about an attack scenario of its rule's family (the first such scenario).
    Detects(usize),
    /// It is about an attack scenario of another family only.
    OtherAttack(usize),
    /// It is about a benign look-alike and no attack.
    Lookalike(usize),
    /// It is about no labelled event.
    Unexplained,
}

impl Verdict {
    /// A short name: `attack`, `other_attack`, `lookalike`, `unexplained`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Detects(_) => "attack",
            Verdict::OtherAttack(_) => "other_attack",
            Verdict::Lookalike(_) => "lookalike",
            Verdict::Unexplained => "unexplained",
        }
    }

    /// The scenario it is about, if any.
    pub fn scenario(self) -> Option<usize> {
        match self {
            Verdict::Detects(index) | Verdict::OtherAttack(index) | Verdict::Lookalike(index) => Some(index),
            Verdict::Unexplained => None,
        }
    }
}

/// One family's (or the total's) figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyScore {
    /// The family (rule name), or `all` for the total.
    pub family: String,
    /// Attack scenarios of the family.
    pub scenarios: u64,
    /// Attack scenarios an alert of the family's rule is about.
    pub detected: u64,
    /// Alerts of the rule.
    pub alerts: u64,
    /// Alerts of the rule that detect an attack of the family.
    pub true_alerts: u64,
    /// Alerts of the rule about an attack of another family only.
    pub other_attack_alerts: u64,
    /// Benign look-alike scenarios of the family.
    pub lookalikes: u64,
    /// Alerts of the rule about a benign look-alike and no attack.
    pub lookalike_alerts: u64,
    /// Alerts of the rule about no labelled event.
    pub unexplained: u64,
}

impl FamilyScore {
    /// detected / scenarios; `None` without scenarios.
    pub fn recall(&self) -> Option<f64> {
        (self.scenarios > 0).then(|| self.detected as f64 / self.scenarios as f64)
    }

    /// true alerts / alerts; `None` without alerts.
    pub fn precision(&self) -> Option<f64> {
        (self.alerts > 0).then(|| self.true_alerts as f64 / self.alerts as f64)
    }

    /// Unexplained alerts per 10,000 events.
    pub fn unexplained_per_10k(&self, events: u64) -> f64 {
        if events == 0 { 0.0 } else { self.unexplained as f64 * 10_000.0 / events as f64 }
    }

    fn add(&mut self, other: &FamilyScore) {
        self.scenarios += other.scenarios;
        self.detected += other.detected;
        self.alerts += other.alerts;
        self.true_alerts += other.true_alerts;
        self.other_attack_alerts += other.other_attack_alerts;
        self.lookalikes += other.lookalikes;
        self.lookalike_alerts += other.lookalike_alerts;
        self.unexplained += other.unexplained;
    }
}

/// The figures of one rule set against the labels.
#[derive(Debug, Clone, Default)]
pub struct Scorecard {
    /// Per family, sorted by name: every labelled family and every rule that alerted.
    pub families: Vec<FamilyScore>,
    /// The sums over all families.
    pub total: FamilyScore,
    /// Events replayed (the denominator of the per-10k figures).
    pub events: u64,
    /// Each alert's verdict, by `alert_id`.
    pub verdicts: HashMap<String, Verdict>,
    /// Attack scenarios no alert of their family's rule is about (indexes, in label order).
    pub missed: Vec<usize>,
    /// Benign scenarios some alert is about (indexes, in label order).
    pub lookalikes_alerted: Vec<usize>,
}

impl Scorecard {
    /// The verdict on `alert` (unexplained when it was not scored).
    pub fn verdict(&self, alert: &Alert) -> Verdict {
        self.verdicts.get(&alert.alert_id).copied().unwrap_or(Verdict::Unexplained)
    }
}

/// Scores `alerts` (final versions, one per `alert_id`) against `labels`; `events` is the number
/// of events replayed.
pub fn score(labels: &Labels, alerts: &[Alert], events: u64) -> Scorecard {
    let scenarios = labels.scenarios();
    let mut families: BTreeMap<&str, FamilyScore> = BTreeMap::new();
    for scenario in scenarios {
        let entry = families.entry(scenario.family.as_str()).or_default();
        match scenario.kind {
            ScenarioKind::Attack => entry.scenarios += 1,
            ScenarioKind::Benign => entry.lookalikes += 1,
        }
    }
    let mut detected = vec![false; scenarios.len()];
    let mut benign_hit = vec![false; scenarios.len()];
    let mut verdicts = HashMap::with_capacity(alerts.len());
    for alert in alerts {
        let about = labels.scenarios_of(&alert.event_ids);
        let attack = |own: bool| {
            about
                .iter()
                .copied()
                .find(|&i| scenarios[i].kind == ScenarioKind::Attack && (scenarios[i].family == alert.rule) == own)
        };
        let verdict = if let Some(index) = attack(true) {
            Verdict::Detects(index)
        } else if let Some(index) = attack(false) {
            Verdict::OtherAttack(index)
        } else if let Some(&index) = about.iter().find(|&&i| scenarios[i].kind == ScenarioKind::Benign) {
            Verdict::Lookalike(index)
        } else {
            Verdict::Unexplained
        };
        for &index in &about {
            match scenarios[index].kind {
                ScenarioKind::Attack if scenarios[index].family == alert.rule => detected[index] = true,
                ScenarioKind::Benign => benign_hit[index] = true,
                ScenarioKind::Attack => {}
            }
        }
        let entry = families.entry(alert.rule.as_str()).or_default();
        entry.alerts += 1;
        match verdict {
            Verdict::Detects(_) => entry.true_alerts += 1,
            Verdict::OtherAttack(_) => entry.other_attack_alerts += 1,
            Verdict::Lookalike(_) => entry.lookalike_alerts += 1,
            Verdict::Unexplained => entry.unexplained += 1,
        }
        verdicts.insert(alert.alert_id.clone(), verdict);
    }
    for (index, scenario) in scenarios.iter().enumerate() {
        if scenario.kind == ScenarioKind::Attack && detected[index] {
            families.entry(scenario.family.as_str()).or_default().detected += 1;
        }
    }
    let mut total = FamilyScore { family: "all".to_string(), ..FamilyScore::default() };
    let families: Vec<FamilyScore> = families
        .into_iter()
        .map(|(family, mut score)| {
            score.family = family.to_string();
            total.add(&score);
            score
        })
        .collect();
    let missed = (0..scenarios.len()).filter(|&i| scenarios[i].kind == ScenarioKind::Attack && !detected[i]).collect();
    let lookalikes_alerted = (0..scenarios.len()).filter(|&i| benign_hit[i]).collect();
    Scorecard { families, total, events, verdicts, missed, lookalikes_alerted }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::labels::Scenario;
    use crate::backtest::tests::alert;

    fn scenario(name: &str, kind: ScenarioKind, family: &str, events: &[&str]) -> Scenario {
        Scenario {
            scenario: name.to_string(),
            kind,
            family: family.to_string(),
            token_id: None,
            event_ids: events.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn every_alert_gets_one_verdict_and_families_add_up() {
        let labels = Labels::new(vec![
            scenario("it-1", ScenarioKind::Attack, "impossible_travel", &["e1", "e2"]),
            scenario("it-2", ScenarioKind::Attack, "impossible_travel", &["e3"]),
            scenario("it-b", ScenarioKind::Benign, "impossible_travel", &["e4"]),
            scenario("bu-1", ScenarioKind::Attack, "burst", &["e5"]),
        ]);
        let alerts = vec![
            alert("a1", "impossible_travel", &["e2"]),
            alert("a2", "impossible_travel", &["e1", "e9"]),
            alert("a3", "impossible_travel", &["e4"]),
            alert("a4", "token_reuse", &["e5"]),
            alert("a5", "token_reuse", &["e8"]),
        ];
        let card = score(&labels, &alerts, 20_000);
        assert_eq!(card.verdict(&alerts[0]), Verdict::Detects(0));
        assert_eq!(card.verdict(&alerts[1]), Verdict::Detects(0));
        assert_eq!(card.verdict(&alerts[2]), Verdict::Lookalike(2));
        assert_eq!(card.verdict(&alerts[3]), Verdict::OtherAttack(3));
        assert_eq!(card.verdict(&alerts[4]), Verdict::Unexplained);

        let names: Vec<&str> = card.families.iter().map(|f| f.family.as_str()).collect();
        assert_eq!(names, ["burst", "impossible_travel", "token_reuse"]);
        let travel = &card.families[1];
        assert_eq!((travel.scenarios, travel.detected, travel.alerts, travel.true_alerts), (2, 1, 3, 2));
        assert_eq!((travel.lookalikes, travel.lookalike_alerts, travel.unexplained), (1, 1, 0));
        assert_eq!(travel.recall(), Some(0.5));
        assert_eq!(travel.precision(), Some(2.0 / 3.0));
        let burst = &card.families[0];
        assert_eq!((burst.scenarios, burst.detected, burst.alerts), (1, 0, 0));
        assert_eq!(burst.precision(), None);
        let reuse = &card.families[2];
        assert_eq!((reuse.scenarios, reuse.alerts, reuse.other_attack_alerts, reuse.unexplained), (0, 2, 1, 1));
        assert_eq!(reuse.recall(), None);
        assert!((reuse.unexplained_per_10k(20_000) - 0.5).abs() < 1e-9);

        assert_eq!(
            (card.total.scenarios, card.total.detected, card.total.alerts, card.total.true_alerts),
            (3, 1, 5, 2)
        );
        assert_eq!(card.missed, vec![1, 3]);
        assert_eq!(card.lookalikes_alerted, vec![2]);
    }
}

//! `impossible_travel`: consecutive uses of one token from places farther apart than a traveller
//! could go in the time between them.

use serde::Deserialize;

use crate::config::{Allowlist, RuleFile, Thresholds};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::TokenState;

/// `[thresholds]` of `impossible_travel.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelThresholds {
    /// Faster than this (after subtracting both accuracy radii) is impossible.
    pub max_speed_kmh: f64,
    /// Closer than this (after subtracting the radii) never alerts.
    pub min_distance_km: f64,
    /// A place pair seen this many times is learned (0 disables learning).
    pub learn_pairs_after: u32,
}

impl Thresholds for TravelThresholds {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.max_speed_kmh > 0.0) {
            problems.push(format!("`thresholds.max_speed_kmh`: {} must be above 0", self.max_speed_kmh));
        }
        if !(self.min_distance_km >= 0.0) {
            problems.push(format!("`thresholds.min_distance_km`: {} must be 0 or more", self.min_distance_km));
        }
        problems
    }
}

/// Per-token state of the rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TravelState {}

/// The rule.
#[derive(Debug, Clone)]
pub struct ImpossibleTravel {
    file: RuleFile<TravelThresholds>,
    allow: Allowlist,
}

impl ImpossibleTravel {
    /// The rule with its settings.
    pub fn new(file: RuleFile<TravelThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        ImpossibleTravel { file, allow }
    }
}

impl Rule for ImpossibleTravel {
    rule_settings!("impossible_travel");

    fn evaluate(&self, _ctx: &RuleContext<'_>, _state: &mut TokenState, _findings: &mut Vec<Finding>) {}
}

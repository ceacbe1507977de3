//! `burst`: a token's call rate over a sliding one-minute window far above its own baseline.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{Allowlist, RuleFile, Thresholds};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::TokenState;

/// `[thresholds]` of `burst.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstThresholds {
    /// Fire above this multiple of the token's usual per-minute rate …
    pub factor: f64,
    /// … when the rate is at least this many calls per minute.
    pub min_rate_per_minute: u32,
    /// Limit for tokens without a baseline yet.
    pub no_baseline_limit_per_minute: u32,
    /// Factor for automation tokens (inventory `machine: true`).
    pub machine_factor: f64,
    /// How long a token must be known before its baseline is used.
    #[serde(with = "humantime_serde")]
    pub learning_period: Duration,
}

impl Thresholds for BurstThresholds {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.factor > 1.0) {
            problems.push(format!("`thresholds.factor`: {} must be above 1", self.factor));
        }
        if !(self.machine_factor > 1.0) {
            problems.push(format!("`thresholds.machine_factor`: {} must be above 1", self.machine_factor));
        }
        if self.no_baseline_limit_per_minute == 0 {
            problems.push("`thresholds.no_baseline_limit_per_minute`: must be at least 1".to_string());
        }
        problems
    }
}

/// Per-token state of the rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateState {}

/// The rule.
#[derive(Debug, Clone)]
pub struct Burst {
    file: RuleFile<BurstThresholds>,
    allow: Allowlist,
}

impl Burst {
    /// The rule with its settings.
    pub fn new(file: RuleFile<BurstThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        Burst { file, allow }
    }
}

impl Rule for Burst {
    rule_settings!("burst");

    fn evaluate(&self, _ctx: &RuleContext<'_>, _state: &mut TokenState, _findings: &mut Vec<Finding>) {}
}

//! `scope_escalation`: a token or grant requests or uses scopes outside its inventory-approved set
//! and never seen in its own history, or uses a privileged action for the first time.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{Allowlist, RuleFile, Thresholds};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::TokenState;

/// `[thresholds]` of `scope_escalation.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeThresholds {
    /// Without an inventory record, the token's history is the baseline once it is this old.
    #[serde(with = "humantime_serde")]
    pub learning_period: Duration,
    /// Privileged actions (wildcards on `action`).
    pub privileged_actions: Vec<String>,
}

impl Thresholds for ScopeThresholds {}

/// Per-token state of the rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScopeState {}

/// The rule.
#[derive(Debug, Clone)]
pub struct ScopeEscalation {
    file: RuleFile<ScopeThresholds>,
    allow: Allowlist,
}

impl ScopeEscalation {
    /// The rule with its settings.
    pub fn new(file: RuleFile<ScopeThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        ScopeEscalation { file, allow }
    }
}

impl Rule for ScopeEscalation {
    rule_settings!("scope_escalation");

    fn evaluate(&self, _ctx: &RuleContext<'_>, _state: &mut TokenState, _findings: &mut Vec<Finding>) {}
}

//! `token_reuse`: one token used at the same time from an unrelated network or device context, and
//! the vendors' own reuse signals.

use std::time::Duration;

use serde::Deserialize;

use crate::config::{Allowlist, RuleFile, Thresholds};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::TokenState;

/// `[thresholds]` of `token_reuse.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReuseThresholds {
    /// The usual context counts as active this long after its last use.
    #[serde(with = "humantime_serde")]
    pub concurrency_window: Duration,
    /// How long a token must be known before its context counts as known.
    #[serde(with = "humantime_serde")]
    pub learning_period: Duration,
    /// Vendor reuse signals (wildcards on `action`).
    pub vendor_signals: Vec<String>,
}

impl Thresholds for ReuseThresholds {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.concurrency_window.is_zero() {
            problems.push("`thresholds.concurrency_window`: must be longer than 0s".to_string());
        }
        problems
    }
}

/// Per-token state of the rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReuseState {}

/// The rule.
#[derive(Debug, Clone)]
pub struct TokenReuse {
    file: RuleFile<ReuseThresholds>,
    allow: Allowlist,
}

impl TokenReuse {
    /// The rule with its settings.
    pub fn new(file: RuleFile<ReuseThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        TokenReuse { file, allow }
    }
}

impl Rule for TokenReuse {
    rule_settings!("token_reuse");

    fn evaluate(&self, _ctx: &RuleContext<'_>, _state: &mut TokenState, _findings: &mut Vec<Finding>) {}
}

//! The rules, one module each. Each module holds the rule's thresholds (the `[thresholds]` table of
//! its file under `rules/config/`), the per-token state it keeps, and its judgement.

pub mod burst;
pub mod impossible_travel;
pub mod lifecycle;
pub mod scope_escalation;
pub mod token_reuse;

use crate::config::RulesConfig;
use crate::rule::Rule;

/// Implements the settings half of [`Rule`] for a struct with `file: RuleFile<_>` and
/// `allow: Allowlist` fields.
macro_rules! rule_settings {
    ($name:literal) => {
        fn name(&self) -> &'static str {
            $name
        }
        fn severity(&self) -> tokenwatch_schemas::Severity {
            self.file.severity
        }
        fn suppress_for_us(&self) -> i64 {
            crate::config::micros(self.file.suppress_for)
        }
        fn allowlist(&self) -> &crate::config::Allowlist {
            &self.allow
        }
    };
}
pub(crate) use rule_settings;

/// The enabled rules of `config`, in a fixed order (the order their alerts are raised in for one
/// event).
pub fn build(config: &RulesConfig) -> Vec<Box<dyn Rule>> {
    let mut rules: Vec<Box<dyn Rule>> = Vec::new();
    if config.revoked_token_use.enabled {
        rules.push(Box::new(lifecycle::RevokedTokenUse::new(config.revoked_token_use.clone())));
    }
    if config.expired_token_use.enabled {
        rules.push(Box::new(lifecycle::ExpiredTokenUse::new(config.expired_token_use.clone())));
    }
    if config.uninventoried_token.enabled {
        rules.push(Box::new(lifecycle::UninventoriedToken::new(config.uninventoried_token.clone())));
    }
    if config.dormant_token_use.enabled {
        rules.push(Box::new(lifecycle::DormantTokenUse::new(config.dormant_token_use.clone())));
    }
    if config.impossible_travel.enabled {
        rules.push(Box::new(impossible_travel::ImpossibleTravel::new(config.impossible_travel.clone())));
    }
    if config.token_reuse.enabled {
        rules.push(Box::new(token_reuse::TokenReuse::new(config.token_reuse.clone())));
    }
    if config.burst.enabled {
        rules.push(Box::new(burst::Burst::new(config.burst.clone())));
    }
    if config.scope_escalation.enabled {
        rules.push(Box::new(scope_escalation::ScopeEscalation::new(config.scope_escalation.clone())));
    }
    rules
}

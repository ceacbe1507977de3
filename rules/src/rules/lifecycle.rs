//! The lifecycle rules users expect from an inventory: `revoked_token_use`, `expired_token_use`,
//! `uninventoried_token` and `dormant_token_use`.
//!
//! State: none of their own. The first three judge the event against the inventory record alone;
//! `dormant_token_use` reads the token's last-seen time, which the detection runner keeps for
//! every token. Suppression (one alert per token per `suppress_for`, with a count) is the runner's.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokenwatch_schemas::time::format_rfc3339_micros;
use tokenwatch_schemas::{Outcome, TokenKind};

use crate::config::{Allowlist, RuleFile, Thresholds, micros};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::TokenState;

/// `[thresholds]` of `revoked_token_use.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedThresholds {
    /// Also alert when the use failed.
    pub include_failed: bool,
}

impl Thresholds for RevokedThresholds {}

/// `[thresholds]` of `expired_token_use.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiredThresholds {
    /// Uses this soon after expiry are clock skew, not alerts.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
    /// Also alert when the use failed.
    pub include_failed: bool,
}

impl Thresholds for ExpiredThresholds {}

/// `[thresholds]` of `uninventoried_token.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UninventoriedThresholds {
    /// Token kinds the rule judges.
    pub kinds: Vec<String>,
}

impl Thresholds for UninventoriedThresholds {
    fn problems(&self) -> Vec<String> {
        self.kinds
            .iter()
            .filter(|kind| TokenKind::parse(kind).is_none())
            .map(|kind| {
                let known: Vec<&str> = TokenKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("`thresholds.kinds`: unknown token kind `{kind}`; expected one of {}", known.join(", "))
            })
            .collect()
    }
}

/// `[thresholds]` of `dormant_token_use.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DormantThresholds {
    /// Unused for at least this long, then used.
    #[serde(with = "humantime_serde")]
    pub dormant_after: Duration,
}

impl Thresholds for DormantThresholds {
    fn problems(&self) -> Vec<String> {
        if self.dormant_after.is_zero() {
            vec!["`thresholds.dormant_after`: must be longer than 0s".to_string()]
        } else {
            Vec::new()
        }
    }
}

fn current_event(ctx: &RuleContext<'_>) -> Vec<String> {
    vec![ctx.event.event_id.clone()]
}

/// `revoked_token_use`: the inventory lists the token as revoked and it is used at or after the
/// revocation time (any time, when the record gives no revocation time).
#[derive(Debug, Clone)]
pub struct RevokedTokenUse {
    file: RuleFile<RevokedThresholds>,
    allow: Allowlist,
}

impl RevokedTokenUse {
    /// The rule with its settings.
    pub fn new(file: RuleFile<RevokedThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        RevokedTokenUse { file, allow }
    }
}

impl Rule for RevokedTokenUse {
    rule_settings!("revoked_token_use");

    fn evaluate(&self, ctx: &RuleContext<'_>, _state: &mut TokenState, findings: &mut Vec<Finding>) {
        let Some(record) = ctx.inventory else { return };
        if !record.revoked_at_time(ctx.event.time_us) {
            return;
        }
        if ctx.event.outcome == Outcome::Failure && !self.file.thresholds.include_failed {
            return;
        }
        findings.push(Finding {
            event_ids: current_event(ctx),
            evidence: json!({
                "revoked_at": record.revoked_at.map(format_rfc3339_micros),
                "status": record.status,
                "outcome": ctx.event.outcome,
                "used_after_revocation_s": record.revoked_at.map(|at| (ctx.event.time_us - at) / 1_000_000),
            }),
        });
    }
}

/// `expired_token_use`: the token is used more than `grace` after the expiry its inventory record
/// gives (any time, when the record says expired without a time).
#[derive(Debug, Clone)]
pub struct ExpiredTokenUse {
    file: RuleFile<ExpiredThresholds>,
    allow: Allowlist,
}

impl ExpiredTokenUse {
    /// The rule with its settings.
    pub fn new(file: RuleFile<ExpiredThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        ExpiredTokenUse { file, allow }
    }
}

impl Rule for ExpiredTokenUse {
    rule_settings!("expired_token_use");

    fn evaluate(&self, ctx: &RuleContext<'_>, _state: &mut TokenState, findings: &mut Vec<Finding>) {
        let Some(record) = ctx.inventory else { return };
        let thresholds = &self.file.thresholds;
        if !record.expired_at_time(ctx.event.time_us, micros(thresholds.grace)) {
            return;
        }
        // A revoked token's later uses are revoked_token_use's to report.
        if record.revoked_at_time(ctx.event.time_us) {
            return;
        }
        if ctx.event.outcome == Outcome::Failure && !thresholds.include_failed {
            return;
        }
        findings.push(Finding {
            event_ids: current_event(ctx),
            evidence: json!({
                "expires_at": record.expires_at.map(format_rfc3339_micros),
                "status": record.status,
                "outcome": ctx.event.outcome,
                "used_after_expiry_s": record.expires_at.map(|at| (ctx.event.time_us - at) / 1_000_000),
            }),
        });
    }
}

/// `uninventoried_token`: a token of a judged kind in use with no inventory record.
#[derive(Debug, Clone)]
pub struct UninventoriedToken {
    file: RuleFile<UninventoriedThresholds>,
    allow: Allowlist,
    kinds: Vec<TokenKind>,
}

impl UninventoriedToken {
    /// The rule with its settings.
    pub fn new(file: RuleFile<UninventoriedThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        let kinds = file.thresholds.kinds.iter().filter_map(|kind| TokenKind::parse(kind)).collect();
        UninventoriedToken { file, allow, kinds }
    }
}

impl Rule for UninventoriedToken {
    rule_settings!("uninventoried_token");

    fn evaluate(&self, ctx: &RuleContext<'_>, _state: &mut TokenState, findings: &mut Vec<Finding>) {
        if ctx.inventory.is_some() || !self.kinds.contains(&ctx.event.token_kind) {
            return;
        }
        findings.push(Finding {
            event_ids: current_event(ctx),
            evidence: json!({
                "token_kind": ctx.event.token_kind,
                "client_id": ctx.event.client_id,
                "first_seen": ctx.first_seen_us.map(format_rfc3339_micros),
            }),
        });
    }
}

/// `dormant_token_use`: a token unused for at least `dormant_after` is used again.
#[derive(Debug, Clone)]
pub struct DormantTokenUse {
    file: RuleFile<DormantThresholds>,
    allow: Allowlist,
}

impl DormantTokenUse {
    /// The rule with its settings.
    pub fn new(file: RuleFile<DormantThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        DormantTokenUse { file, allow }
    }
}

impl Rule for DormantTokenUse {
    rule_settings!("dormant_token_use");

    fn evaluate(&self, ctx: &RuleContext<'_>, _state: &mut TokenState, findings: &mut Vec<Finding>) {
        let Some(last_seen) = ctx.last_seen_us else { return };
        let idle = ctx.event.time_us.saturating_sub(last_seen);
        if idle < micros(self.file.thresholds.dormant_after) {
            return;
        }
        findings.push(Finding {
            event_ids: current_event(ctx),
            evidence: json!({
                "last_seen": format_rfc3339_micros(last_seen),
                "idle_days": idle as f64 / 86_400_000_000.0,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RulesConfig;
    use crate::testing::{Harness, event, inventory_record};

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn revoked_token_used_after_revocation_fires_but_not_before() {
        let mut record = inventory_record("tok", "inv-1");
        record.revoked_at = Some(10 * DAY);
        record.status = crate::inventory::TokenStatus::Revoked;
        let mut harness = Harness::new(RulesConfig::builtin().unwrap()).with_inventory(vec![record]);
        let alerts = harness.run(vec![event("before", 9 * DAY), event("after", 10 * DAY + 5)]);
        let revoked: Vec<_> = alerts.iter().filter(|a| a.rule == "revoked_token_use").collect();
        assert_eq!(revoked.len(), 1, "{alerts:#?}");
        assert_eq!(revoked[0].event_ids, ["after"]);
        assert_eq!(revoked[0].inventory_id.as_deref(), Some("inv-1"));
        assert_eq!(revoked[0].evidence["used_after_revocation_s"], 0);
    }

    #[test]
    fn expired_token_alerts_after_grace_and_not_just_before_expiry() {
        let mut record = inventory_record("tok", "inv-1");
        record.expires_at = Some(10 * DAY);
        let mut harness = Harness::new(RulesConfig::builtin().unwrap()).with_inventory(vec![record]);
        let minute = 60_000_000;
        let alerts = harness.run(vec![
            event("just-before", 10 * DAY - minute),
            event("within-grace", 10 * DAY + minute),
            event("after", 10 * DAY + 10 * minute),
        ]);
        let expired: Vec<_> = alerts.iter().filter(|a| a.rule == "expired_token_use").collect();
        assert_eq!(expired.len(), 1, "{alerts:#?}");
        assert_eq!(expired[0].event_ids, ["after"]);
        assert_eq!(expired[0].evidence["used_after_expiry_s"], 600);
    }

    #[test]
    fn uninventoried_tokens_alert_once_per_window_with_a_count() {
        let mut harness = Harness::new(RulesConfig::builtin().unwrap());
        let hour = 3_600_000_000;
        let alerts = harness.run(vec![event("a", 0), event("b", hour), event("c", 2 * hour), event("d", 30 * hour)]);
        let found: Vec<_> = alerts.iter().filter(|a| a.rule == "uninventoried_token").collect();
        // First window: raised on `a`, then updated with the count of `b` and `c`; then `d`.
        let ids: Vec<(&str, u32)> = found.iter().map(|a| (a.event_ids[0].as_str(), a.count)).collect();
        assert_eq!(ids, [("a", 1), ("a", 3), ("d", 1)], "{found:#?}");
        assert_eq!(found[0].alert_id, found[1].alert_id, "the update keeps the alert id");
        assert_eq!(found[1].event_ids, ["a", "b", "c"]);
        assert_eq!(found[0].inventory_id, None);
    }

    #[test]
    fn session_tokens_are_not_judged_for_inventory() {
        let mut harness = Harness::new(RulesConfig::builtin().unwrap());
        let mut session = event("s", 0);
        session.token_kind = TokenKind::Session;
        assert!(harness.run(vec![session]).iter().all(|a| a.rule != "uninventoried_token"));
    }

    #[test]
    fn dormant_token_used_again_fires_after_thirty_days_only() {
        let mut harness =
            Harness::new(RulesConfig::builtin().unwrap()).with_inventory(vec![inventory_record("tok", "inv-1")]);
        let alerts = harness.run(vec![event("a", 0), event("b", 20 * DAY), event("c", 51 * DAY)]);
        let dormant: Vec<_> = alerts.iter().filter(|a| a.rule == "dormant_token_use").collect();
        assert_eq!(dormant.len(), 1, "{alerts:#?}");
        assert_eq!(dormant[0].event_ids, ["c"]);
        assert_eq!(dormant[0].evidence["idle_days"], 31.0);
    }
}

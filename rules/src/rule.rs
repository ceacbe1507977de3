//! What a rule is: a pure function of an event, the token's inventory record and the token's state.

use std::fmt::Debug;

use tokenwatch_schemas::{Event, Severity};

use crate::config::Allowlist;
use crate::inventory::InventoryRecord;
use crate::state::TokenState;

/// What a rule sees besides the token's state.
#[derive(Debug, Clone, Copy)]
pub struct RuleContext<'a> {
    /// The event being judged (events of one token arrive in event-time order).
    pub event: &'a Event,
    /// The token id (the event's `token_id`).
    pub token_id: &'a str,
    /// The token's inventory record, if it has one.
    pub inventory: Option<&'a InventoryRecord>,
    /// When the token was first seen; `None` when this event is its first.
    pub first_seen_us: Option<i64>,
    /// When the token was last seen before this event; `None` when this event is its first.
    pub last_seen_us: Option<i64>,
    /// Events of this token judged before this one.
    pub events_seen: u64,
}

impl RuleContext<'_> {
    /// How long the token has been known at this event (0 for its first event).
    pub fn token_age_us(&self) -> i64 {
        self.first_seen_us.map_or(0, |first| self.event.time_us.saturating_sub(first))
    }

    /// Whether the token is still in a learning period of `period_us`.
    pub fn learning(&self, period_us: i64) -> bool {
        self.token_age_us() < period_us
    }
}

/// A rule firing on an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Vendor ids of the events that triggered it, the current event last.
    pub event_ids: Vec<String>,
    /// Rule-specific evidence (distances, rates, scopes, …).
    pub evidence: serde_json::Value,
}

/// A detection rule.
///
/// `evaluate` judges the event against the token's state as it was before the event, then folds
/// the event into the part of the state the rule owns (`state.<its section>`), and pushes any
/// finding. Rules never touch another rule's section; the detection runner updates the shared part
/// (first/last seen) after every rule has run, and applies allowlists and suppression to findings.
pub trait Rule: Send + Sync + Debug {
    /// The rule name alerts carry.
    fn name(&self) -> &'static str;
    /// Severity of its alerts.
    fn severity(&self) -> Severity;
    /// Suppression window per token, in microseconds of event time.
    fn suppress_for_us(&self) -> i64;
    /// Events this rule never fires on.
    fn allowlist(&self) -> &Allowlist;
    /// Judges `ctx.event`, updates the rule's section of `state`, pushes findings.
    fn evaluate(&self, ctx: &RuleContext<'_>, state: &mut TokenState, findings: &mut Vec<Finding>);
}

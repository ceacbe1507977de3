//! The alert model: what a detector says about a token, linked to the token's inventory record.

use serde::{Deserialize, Serialize};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Investigate soon.
    Medium,
    /// Investigate now.
    High,
    /// Act now: the token is very likely in an attacker's hands.
    Critical,
}

/// One alert, as written to the alert output (JSON lines) and the alert topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id: the same rule, token and triggering events always give the same id, so
    /// consumers can de-duplicate replays.
    pub alert_id: String,
    /// Rule name (`impossible_travel`, `token_reuse`, …).
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// Event time of the event that triggered the alert (RFC 3339).
    pub time: String,
    /// Wall-clock time at which the alert was raised (RFC 3339).
    pub detected_at: String,
    /// The token's id as it appears in the logs.
    pub token_id: String,
    /// What kind of credential the token is.
    pub token_kind: crate::event::TokenKind,
    /// The token's inventory record, `null` when the token is not in the inventory.
    pub inventory_id: Option<String>,
    /// The token's owner according to the inventory.
    pub owner: Option<String>,
    /// Who used the token.
    pub subject: Option<String>,
    /// The source of the triggering event.
    pub source: String,
    /// Vendor-native ids of the events that triggered the alert.
    pub event_ids: Vec<String>,
    /// How many times the rule fired on this token within the suppression window.
    pub count: u32,
    /// Rule-specific evidence.
    pub evidence: serde_json::Value,
}

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

impl Severity {
    /// The snake_case name (as in JSON, metrics and Kafka headers).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
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

impl Alert {
    /// The alert as an OCSF Detection Finding (class 2004, category Findings), for SIEMs that
    /// ingest OCSF.
    pub fn to_ocsf(&self) -> serde_json::Value {
        let (severity_id, severity) = match self.severity {
            Severity::Low => (2, "Low"),
            Severity::Medium => (3, "Medium"),
            Severity::High => (4, "High"),
            Severity::Critical => (5, "Critical"),
        };
        let time_ms = crate::time::parse_str(&self.time, crate::time::TimeFormat::Rfc3339).map(|us| us / 1000);
        serde_json::json!({
            "class_uid": 2004,
            "class_name": "Detection Finding",
            "category_uid": 2,
            "category_name": "Findings",
            "activity_id": 1,
            "activity_name": "Create",
            "type_uid": 200401,
            "type_name": "Detection Finding: Create",
            "severity_id": severity_id,
            "severity": severity,
            "status_id": 1,
            "status": "New",
            "time": time_ms,
            "count": self.count,
            "message": format!("{} on token {}", self.rule, self.token_id),
            "metadata": {
                "version": "1.3.0",
                "product": {"name": "tokenwatch", "vendor_name": "tokenwatch"},
                "uid": self.alert_id,
                "log_name": self.source,
            },
            "finding_info": {
                "uid": self.alert_id,
                "title": self.rule,
                "analytic": {"name": self.rule, "type_id": 1, "type": "Rule"},
                "related_events": self.event_ids.iter().map(|id| serde_json::json!({"uid": id})).collect::<Vec<_>>(),
                "created_time_dt": self.detected_at,
            },
            "resources": [{
                "uid": self.token_id,
                "type": format!("token:{}", self.token_kind.as_str()),
                "owner": {"uid": self.inventory_id, "name": self.owner},
            }],
            "actor": {"user": {"name": self.subject}},
            "evidences": [{"data": self.evidence}],
            "unmapped": {"inventory_id": self.inventory_id},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TokenKind;

    #[test]
    fn ocsf_rendering_carries_the_finding() {
        let alert = Alert {
            alert_id: "abc".into(),
            rule: "impossible_travel".into(),
            severity: Severity::High,
            time: "2026-01-05T10:00:00.000000Z".into(),
            detected_at: "2026-01-05T10:00:01.000000Z".into(),
            token_id: "tok".into(),
            token_kind: TokenKind::Session,
            inventory_id: Some("inv-1".into()),
            owner: Some("alice".into()),
            subject: Some("alice@example.com".into()),
            source: "okta".into(),
            event_ids: vec!["e1".into(), "e2".into()],
            count: 1,
            evidence: serde_json::json!({"speed_kmh": 9000}),
        };
        let ocsf = alert.to_ocsf();
        assert_eq!(ocsf["class_uid"], 2004);
        assert_eq!(ocsf["severity_id"], 4);
        assert_eq!(ocsf["time"], 1_767_607_200_000i64);
        assert_eq!(ocsf["finding_info"]["related_events"][1]["uid"], "e2");
        assert_eq!(ocsf["resources"][0]["owner"]["uid"], "inv-1");
        assert_eq!(ocsf["evidences"][0]["data"]["speed_kmh"], 9000);
    }
}

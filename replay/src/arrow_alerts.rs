//! The Arrow form of alerts: one column per [`Alert`] field, `evidence` as JSON text.
//!
//! Used for Parquet alert outputs (`replay -o alerts.parquet`) and for the `alerts` table of
//! `tokenwatch sql`. Times are timestamps (µs, UTC) so they can be grouped by day or hour; the
//! rule-specific `evidence` varies in shape from rule to rule, so it stays a JSON string.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, ListBuilder, StringBuilder, TimestampMicrosecondBuilder, UInt32Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use tokenwatch_schemas::Alert;
use tokenwatch_schemas::time::{TimeFormat, parse_str};

static ALERT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let time = |name: &str| Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true);
    Arc::new(Schema::new(vec![
        text("alert_id", false),
        text("rule", false),
        text("severity", false),
        time("time"),
        time("detected_at"),
        text("token_id", false),
        text("token_kind", false),
        text("inventory_id", true),
        text("owner", true),
        text("subject", true),
        text("source", false),
        Field::new("event_ids", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        Field::new("count", DataType::UInt32, false),
        text("evidence", false),
    ]))
});

/// The Arrow schema of alerts.
pub fn alert_schema() -> SchemaRef {
    Arc::clone(&ALERT_SCHEMA)
}

fn severity_name(alert: &Alert) -> String {
    // The serde name (`low`, `medium`, …) is the one every output uses.
    serde_json::to_value(alert.severity).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Builds one batch from a slice of alerts (a time that is not RFC 3339 becomes null).
pub fn alerts_to_batch(alerts: &[Alert]) -> Result<RecordBatch, ArrowError> {
    let rows = alerts.len();
    let text = || StringBuilder::with_capacity(rows, rows * 24);
    let (mut alert_id, mut rule, mut severity) = (text(), text(), text());
    let mut time = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
    let mut detected_at = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
    let (mut token_id, mut token_kind, mut inventory_id, mut owner, mut subject, mut source) =
        (text(), text(), text(), text(), text(), text());
    let mut event_ids = ListBuilder::new(StringBuilder::new());
    let mut count = UInt32Builder::with_capacity(rows);
    let mut evidence = text();
    for alert in alerts {
        alert_id.append_value(&alert.alert_id);
        rule.append_value(&alert.rule);
        severity.append_value(severity_name(alert));
        time.append_option(parse_str(&alert.time, TimeFormat::Rfc3339));
        detected_at.append_option(parse_str(&alert.detected_at, TimeFormat::Rfc3339));
        token_id.append_value(&alert.token_id);
        token_kind.append_value(alert.token_kind.as_str());
        inventory_id.append_option(alert.inventory_id.as_deref());
        owner.append_option(alert.owner.as_deref());
        subject.append_option(alert.subject.as_deref());
        source.append_value(&alert.source);
        for id in &alert.event_ids {
            event_ids.values().append_value(id);
        }
        event_ids.append(true);
        count.append_value(alert.count);
        evidence.append_value(alert.evidence.to_string());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(alert_id.finish()),
        Arc::new(rule.finish()),
        Arc::new(severity.finish()),
        Arc::new(time.finish()),
        Arc::new(detected_at.finish()),
        Arc::new(token_id.finish()),
        Arc::new(token_kind.finish()),
        Arc::new(inventory_id.finish()),
        Arc::new(owner.finish()),
        Arc::new(subject.finish()),
        Arc::new(source.finish()),
        Arc::new(event_ids.finish()),
        Arc::new(count.finish()),
        Arc::new(evidence.finish()),
    ];
    RecordBatch::try_new(alert_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{TimestampMicrosecondType, UInt32Type};
    use tokenwatch_schemas::{Severity, TokenKind};

    pub(crate) fn alert(id: &str, rule: &str, time: &str, events: &[&str]) -> Alert {
        Alert {
            alert_id: id.to_string(),
            rule: rule.to_string(),
            severity: Severity::High,
            time: time.to_string(),
            detected_at: "2026-11-22T04:43:26.585090Z".to_string(),
            token_id: "tok-1".to_string(),
            token_kind: TokenKind::Session,
            inventory_id: None,
            owner: Some("ana@example.com".to_string()),
            subject: None,
            source: "okta".to_string(),
            event_ids: events.iter().map(|e| e.to_string()).collect(),
            count: 2,
            evidence: serde_json::json!({"speed_kmh": 9000.5, "from": {"city": "Paris"}}),
        }
    }

    #[test]
    fn batch_carries_every_field() {
        let alerts = [
            alert("a1", "impossible_travel", "2026-01-07T08:24:55.663000Z", &["e1", "e2"]),
            alert("a2", "burst", "not a time", &[]),
        ];
        let batch = alerts_to_batch(&alerts).unwrap();
        assert_eq!(batch.schema(), alert_schema());
        assert_eq!(batch.num_rows(), 2);
        let time = batch.column_by_name("time").unwrap().as_primitive::<TimestampMicrosecondType>();
        assert_eq!(time.value(0), parse_str("2026-01-07T08:24:55.663Z", TimeFormat::Rfc3339).unwrap());
        assert!(time.is_null(1));
        assert_eq!(batch.column_by_name("severity").unwrap().as_string::<i32>().value(0), "high");
        assert_eq!(batch.column_by_name("event_ids").unwrap().as_list::<i32>().value(0).len(), 2);
        assert_eq!(batch.column_by_name("count").unwrap().as_primitive::<UInt32Type>().value(1), 2);
        assert!(batch.column_by_name("inventory_id").unwrap().is_null(0));
        let evidence = batch.column_by_name("evidence").unwrap().as_string::<i32>().value(0).to_string();
        let evidence: serde_json::Value = serde_json::from_str(&evidence).unwrap();
        assert_eq!(evidence["from"]["city"], "Paris");
    }
}

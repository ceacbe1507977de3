//! The Arrow form of the event model: one column per [`Event`] field.
//!
//! Arrow comes through DataFusion's re-export so the whole workspace compiles one arrow version.
//! Geo and origin are flattened (`geo_lat`, `origin_name`, …) so SQL over replayed events needs no
//! struct access.

use std::sync::{Arc, LazyLock};

use datafusion_common::arrow::array::{
    ArrayRef, Float32Builder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder, UInt16Builder, UInt32Builder,
};
use datafusion_common::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion_common::arrow::record_batch::RecordBatch;

use crate::Result;
use crate::event::{Event, GeoFrom, Origin};

static EVENT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        text("source", false),
        Field::new("class_uid", DataType::UInt16, false),
        text("class", false),
        text("event_id", false),
        text("action", true),
        text("outcome", false),
        text("token_id", true),
        text("token_kind", false),
        text("subject", true),
        text("client_id", true),
        text("session_id", true),
        text("src_ip", true),
        Field::new("geo_lat", DataType::Float64, true),
        Field::new("geo_lon", DataType::Float64, true),
        text("geo_country", true),
        text("geo_city", true),
        Field::new("geo_radius_km", DataType::Float32, true),
        text("geo_from", true),
        Field::new("asn", DataType::UInt32, true),
        text("as_org", true),
        text("user_agent", true),
        text("device_id", true),
        Field::new("scopes", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        text("resource", true),
        Field::new("http_status", DataType::UInt16, true),
        text("tenant", true),
        text("origin_name", false),
        Field::new("origin_partition", DataType::Int32, true),
        Field::new("origin_offset", DataType::Int64, false),
        Field::new("origin_index", DataType::UInt32, true),
    ]))
});

/// The Arrow schema of normalised events.
pub fn event_schema() -> SchemaRef {
    Arc::clone(&EVENT_SCHEMA)
}

/// Accumulates events column by column and emits [`RecordBatch`]es.
#[derive(Debug)]
pub struct EventBatchBuilder {
    rows: usize,
    time: TimestampMicrosecondBuilder,
    source: StringBuilder,
    class_uid: UInt16Builder,
    class: StringBuilder,
    event_id: StringBuilder,
    action: StringBuilder,
    outcome: StringBuilder,
    token_id: StringBuilder,
    token_kind: StringBuilder,
    subject: StringBuilder,
    client_id: StringBuilder,
    session_id: StringBuilder,
    src_ip: StringBuilder,
    geo_lat: Float64Builder,
    geo_lon: Float64Builder,
    geo_country: StringBuilder,
    geo_city: StringBuilder,
    geo_radius_km: Float32Builder,
    geo_from: StringBuilder,
    asn: UInt32Builder,
    as_org: StringBuilder,
    user_agent: StringBuilder,
    device_id: StringBuilder,
    scopes: ListBuilder<StringBuilder>,
    resource: StringBuilder,
    http_status: UInt16Builder,
    tenant: StringBuilder,
    origin_name: StringBuilder,
    origin_partition: Int32Builder,
    origin_offset: Int64Builder,
    origin_index: UInt32Builder,
}

impl Default for EventBatchBuilder {
    fn default() -> Self {
        Self::with_capacity(1024)
    }
}

impl EventBatchBuilder {
    /// A builder with room for `rows` events before reallocating.
    pub fn with_capacity(rows: usize) -> Self {
        let text = || StringBuilder::with_capacity(rows, rows * 16);
        EventBatchBuilder {
            rows: 0,
            time: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            source: text(),
            class_uid: UInt16Builder::with_capacity(rows),
            class: text(),
            event_id: text(),
            action: text(),
            outcome: text(),
            token_id: text(),
            token_kind: text(),
            subject: text(),
            client_id: text(),
            session_id: text(),
            src_ip: text(),
            geo_lat: Float64Builder::with_capacity(rows),
            geo_lon: Float64Builder::with_capacity(rows),
            geo_country: text(),
            geo_city: text(),
            geo_radius_km: Float32Builder::with_capacity(rows),
            geo_from: text(),
            asn: UInt32Builder::with_capacity(rows),
            as_org: text(),
            user_agent: text(),
            device_id: text(),
            scopes: ListBuilder::new(StringBuilder::new()),
            resource: text(),
            http_status: UInt16Builder::with_capacity(rows),
            tenant: text(),
            origin_name: text(),
            origin_partition: Int32Builder::with_capacity(rows),
            origin_offset: Int64Builder::with_capacity(rows),
            origin_index: UInt32Builder::with_capacity(rows),
        }
    }

    /// Events appended since the last [`Self::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one event.
    pub fn append(&mut self, event: &Event) {
        self.rows += 1;
        self.time.append_value(event.time_us);
        self.source.append_value(&*event.source);
        self.class_uid.append_value(event.class.uid());
        self.class.append_value(event.class.as_str());
        self.event_id.append_value(&event.event_id);
        self.action.append_option(event.action.as_deref());
        self.outcome.append_value(event.outcome.as_str());
        self.token_id.append_option(event.token_id.as_deref());
        self.token_kind.append_value(event.token_kind.as_str());
        self.subject.append_option(event.subject.as_deref());
        self.client_id.append_option(event.client_id.as_deref());
        self.session_id.append_option(event.session_id.as_deref());
        self.src_ip.append_option(event.src_ip.map(|ip| ip.to_string()));
        let geo = event.geo.as_ref();
        self.geo_lat.append_option(geo.and_then(|g| g.lat));
        self.geo_lon.append_option(geo.and_then(|g| g.lon));
        self.geo_country.append_option(geo.and_then(|g| g.country.as_deref()));
        self.geo_city.append_option(geo.and_then(|g| g.city.as_deref()));
        self.geo_radius_km.append_option(geo.and_then(|g| g.radius_km));
        self.geo_from.append_option(geo.map(|g| match g.from {
            GeoFrom::Record => "record",
            GeoFrom::IpDatabase => "ip_database",
        }));
        self.asn.append_option(event.asn);
        self.as_org.append_option(event.as_org.as_deref());
        self.user_agent.append_option(event.user_agent.as_deref());
        self.device_id.append_option(event.device_id.as_deref());
        for scope in &event.scopes {
            self.scopes.values().append_value(scope);
        }
        self.scopes.append(true);
        self.resource.append_option(event.resource.as_deref());
        self.http_status.append_option(event.http_status);
        self.tenant.append_option(event.tenant.as_deref());
        match &event.origin {
            Origin::File { file, line, index } => {
                self.origin_name.append_value(&**file);
                self.origin_partition.append_null();
                self.origin_offset.append_value(i64::try_from(*line).unwrap_or(i64::MAX));
                self.origin_index.append_option(*index);
            }
            Origin::Kafka { topic, partition, offset, index } => {
                self.origin_name.append_value(&**topic);
                self.origin_partition.append_value(*partition);
                self.origin_offset.append_value(*offset);
                self.origin_index.append_option(*index);
            }
        }
    }

    /// Emits the pending events as a batch and starts afresh.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.class_uid.finish()),
            Arc::new(self.class.finish()),
            Arc::new(self.event_id.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.token_id.finish()),
            Arc::new(self.token_kind.finish()),
            Arc::new(self.subject.finish()),
            Arc::new(self.client_id.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.geo_lat.finish()),
            Arc::new(self.geo_lon.finish()),
            Arc::new(self.geo_country.finish()),
            Arc::new(self.geo_city.finish()),
            Arc::new(self.geo_radius_km.finish()),
            Arc::new(self.geo_from.finish()),
            Arc::new(self.asn.finish()),
            Arc::new(self.as_org.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.device_id.finish()),
            Arc::new(self.scopes.finish()),
            Arc::new(self.resource.finish()),
            Arc::new(self.http_status.finish()),
            Arc::new(self.tenant.finish()),
            Arc::new(self.origin_name.finish()),
            Arc::new(self.origin_partition.finish()),
            Arc::new(self.origin_offset.finish()),
            Arc::new(self.origin_index.finish()),
        ];
        Ok(RecordBatch::try_new(event_schema(), columns)?)
    }
}

/// Builds one batch from a slice of events.
pub fn events_to_batch(events: &[Event]) -> Result<RecordBatch> {
    let mut builder = EventBatchBuilder::with_capacity(events.len());
    events.iter().for_each(|event| builder.append(event));
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Geo, Outcome, TokenKind};
    use datafusion_common::arrow::array::{Array, AsArray};
    use datafusion_common::arrow::datatypes::TimestampMicrosecondType;

    fn event(id: &str, scopes: &[&str]) -> Event {
        Event {
            time_us: 1_700_000_000_000_000,
            source: Arc::from("okta"),
            class: EventClass::Authentication,
            event_id: id.to_string(),
            action: Some("user.session.start".into()),
            outcome: Outcome::Success,
            token_id: Some("tok".into()),
            token_kind: TokenKind::Session,
            subject: None,
            client_id: None,
            session_id: None,
            src_ip: Some("8.8.8.8".parse().unwrap()),
            geo: Some(Geo {
                lat: Some(1.5),
                lon: Some(2.5),
                country: Some("US".into()),
                city: None,
                radius_km: None,
                from: GeoFrom::Record,
            }),
            asn: Some(15169),
            as_org: None,
            user_agent: None,
            device_id: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            resource: None,
            http_status: Some(200),
            tenant: None,
            origin: Origin::file(Arc::from("f.jsonl"), 3),
        }
    }

    #[test]
    fn batch_matches_schema_and_values() {
        let batch = events_to_batch(&[event("a", &["read", "write"]), event("b", &[])]).unwrap();
        assert_eq!(batch.schema(), event_schema());
        assert_eq!(batch.num_rows(), 2);
        let time = batch.column_by_name("time").unwrap().as_primitive::<TimestampMicrosecondType>();
        assert_eq!(time.value(0), 1_700_000_000_000_000);
        let ids = batch.column_by_name("event_id").unwrap().as_string::<i32>();
        assert_eq!(ids.value(1), "b");
        let scopes = batch.column_by_name("scopes").unwrap().as_list::<i32>();
        assert_eq!(scopes.value(0).len(), 2);
        assert_eq!(scopes.value(1).len(), 0);
        let subject = batch.column_by_name("subject").unwrap();
        assert!(subject.is_null(0));
        let offset = batch
            .column_by_name("origin_offset")
            .unwrap()
            .as_primitive::<datafusion_common::arrow::datatypes::Int64Type>();
        assert_eq!(offset.value(0), 3);
    }

    #[test]
    fn builder_is_reusable_after_finish() {
        let mut builder = EventBatchBuilder::with_capacity(4);
        builder.append(&event("a", &[]));
        assert_eq!(builder.finish().unwrap().num_rows(), 1);
        assert!(builder.is_empty());
        builder.append(&event("b", &[]));
        builder.append(&event("c", &[]));
        assert_eq!(builder.finish().unwrap().num_rows(), 2);
    }
}

//! Test support: events and inventory records with sensible defaults, and a harness that runs a
//! rule set over a `Vec` of events with no runtime.

use std::sync::Arc;

use tokenwatch_schemas::{Alert, Event, EventClass, Origin, Outcome, TokenKind};

use crate::Detector;
use crate::config::RulesConfig;
use crate::detection::{Detection, DetectionSettings};
use crate::inventory::{Inventory, InventoryRecord};

/// A successful API call with token `tok` (kind `access`) at `time_us`, event id `id`.
pub fn event(id: &str, time_us: i64) -> Event {
    Event {
        time_us,
        source: Arc::from("test"),
        class: EventClass::ApiActivity,
        event_id: id.to_string(),
        action: Some("GET /v1/things".to_string()),
        outcome: Outcome::Success,
        token_id: Some("tok".to_string()),
        token_kind: TokenKind::Access,
        subject: Some("alice@example.com".to_string()),
        client_id: None,
        session_id: None,
        src_ip: None,
        geo: None,
        asn: None,
        as_org: None,
        user_agent: None,
        device_id: None,
        scopes: Vec::new(),
        resource: None,
        http_status: None,
        tenant: None,
        origin: Origin::file(Arc::from("test"), 1),
    }
}

/// An active inventory record for `token_id`.
pub fn inventory_record(token_id: &str, inventory_id: &str) -> InventoryRecord {
    InventoryRecord {
        inventory_id: inventory_id.to_string(),
        token_id: Some(token_id.to_string()),
        source: None,
        kind: TokenKind::Access,
        owner: Some("alice@example.com".to_string()),
        client_id: None,
        scopes: Vec::new(),
        status: Default::default(),
        expires_at: None,
        revoked_at: None,
        allowed_cidrs: Vec::new(),
        allowed_countries: Vec::new(),
        machine: false,
    }
}

/// Runs a rule set over events, as the pipeline does.
#[derive(Debug)]
pub struct Harness {
    config: RulesConfig,
    inventory: Inventory,
    settings: DetectionSettings,
    alerts: Vec<Alert>,
}

impl Harness {
    /// A harness with `config`, an empty inventory, one shard.
    pub fn new(config: RulesConfig) -> Self {
        Harness { config, inventory: Inventory::empty(), settings: DetectionSettings::default(), alerts: Vec::new() }
    }

    /// With these inventory records.
    pub fn with_inventory(mut self, records: Vec<InventoryRecord>) -> Self {
        self.inventory = Inventory::from_records(records);
        self
    }

    /// With this many shards.
    pub fn with_shards(mut self, shards: usize) -> Self {
        self.settings.shards = shards;
        self
    }

    /// Runs `events` as one batch, then ends the input; returns every alert raised.
    pub fn run(&mut self, events: Vec<Event>) -> Vec<Alert> {
        let size = events.len().max(1);
        self.run_in_batches(events, size)
    }

    /// Runs `events` in batches of `size`, then ends the input.
    pub fn run_in_batches(&mut self, events: Vec<Event>, size: usize) -> Vec<Alert> {
        let mut detection = Detection::new(&self.config, Arc::new(self.inventory.clone()), self.settings);
        let mut alerts = Vec::new();
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let batch: Vec<Event> = events.by_ref().take(size.max(1)).collect();
            detection.process(batch, &mut alerts);
        }
        detection.finish(&mut alerts);
        self.alerts = alerts.clone();
        alerts
    }

    /// Alerts of the last run.
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }
}

//! The token inventory: which tokens exist, who owns them, what they may do, and whether they are
//! still valid. Every alert links back to the inventory record of its token.
//!
//! Loaded from JSON lines or CSV (same column names; list columns separated by `;`). Events are
//! linked to records by `token_id`, else by `source` + `client_id` (for grants and clients whose
//! individual tokens the logs do not show).

use std::collections::HashMap;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};
use tokenwatch_schemas::time::{TimeFormat, format_rfc3339_micros, parse_str};
use tokenwatch_schemas::{Event, TokenKind};

use crate::state::TextHash;
use crate::{Error, Result};

/// Validity of an inventoried token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// In use and valid.
    #[default]
    Active,
    /// Revoked (at `revoked_at` when given).
    Revoked,
    /// Expired (at `expires_at` when given).
    Expired,
}

/// One inventoried token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryRecord {
    /// The inventory's own id of the token; alerts carry it.
    pub inventory_id: String,
    /// The token's id exactly as it appears in normalised events (`token_id`).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub token_id: Option<String>,
    /// Source the token belongs to (`okta`, `kong`, …).
    #[serde(default, deserialize_with = "empty_as_none")]
    pub source: Option<String>,
    /// Kind of credential.
    #[serde(default = "unknown_kind", deserialize_with = "kind_from_text")]
    pub kind: TokenKind,
    /// Person or team owning the token.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub owner: Option<String>,
    /// OAuth client the token or grant belongs to.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub client_id: Option<String>,
    /// Approved scopes.
    #[serde(default, deserialize_with = "list")]
    pub scopes: Vec<String>,
    /// Validity.
    #[serde(default)]
    pub status: TokenStatus,
    /// Expiry, microseconds since the epoch (RFC 3339 in files).
    #[serde(default, deserialize_with = "time_opt", serialize_with = "time_out")]
    pub expires_at: Option<i64>,
    /// Revocation time, microseconds since the epoch (RFC 3339 in files).
    #[serde(default, deserialize_with = "time_opt", serialize_with = "time_out")]
    pub revoked_at: Option<i64>,
    /// Networks the token is expected to be used from.
    #[serde(default, deserialize_with = "cidrs")]
    pub allowed_cidrs: Vec<IpNet>,
    /// Countries (ISO alpha-2) the token is expected to be used from.
    #[serde(default, deserialize_with = "list")]
    pub allowed_countries: Vec<String>,
    /// An automation token: judged against its own steady rate.
    #[serde(default, deserialize_with = "flag")]
    pub machine: bool,
}

fn unknown_kind() -> TokenKind {
    TokenKind::Unknown
}

impl InventoryRecord {
    /// Whether the token counts as revoked at `time_us`.
    pub fn revoked_at_time(&self, time_us: i64) -> bool {
        match (self.status, self.revoked_at) {
            (_, Some(revoked_at)) => time_us >= revoked_at,
            (TokenStatus::Revoked, None) => true,
            _ => false,
        }
    }

    /// Whether the token counts as expired at `time_us` (after `grace_us`).
    pub fn expired_at_time(&self, time_us: i64, grace_us: i64) -> bool {
        match (self.status, self.expires_at) {
            (_, Some(expires_at)) => time_us > expires_at.saturating_add(grace_us),
            (TokenStatus::Expired, None) => true,
            _ => false,
        }
    }
}

/// The inventory, indexed for look-up by event.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    by_token: HashMap<String, Arc<InventoryRecord>, TextHash>,
    by_client: HashMap<(String, String), Arc<InventoryRecord>, TextHash>,
    len: usize,
}

impl Inventory {
    /// An empty inventory: every token is uninventoried.
    pub fn empty() -> Self {
        Inventory::default()
    }

    /// Builds the index from records; a later record for the same token replaces an earlier one
    /// (as in a compacted topic).
    pub fn from_records(records: impl IntoIterator<Item = InventoryRecord>) -> Self {
        let mut inventory = Inventory::empty();
        for record in records {
            inventory.upsert(record);
        }
        inventory
    }

    /// Adds or replaces a record.
    pub fn upsert(&mut self, record: InventoryRecord) {
        let record = Arc::new(record);
        let mut indexed = false;
        if let Some(token_id) = &record.token_id {
            indexed |= self.by_token.insert(token_id.clone(), Arc::clone(&record)).is_none();
        } else if let (Some(source), Some(client_id)) = (&record.source, &record.client_id) {
            indexed |= self.by_client.insert((source.clone(), client_id.clone()), Arc::clone(&record)).is_none();
        }
        if indexed {
            self.len += 1;
        }
    }

    /// Removes the record with this inventory id (a tombstone on the inventory topic); whether
    /// there was one.
    pub fn remove(&mut self, inventory_id: &str) -> bool {
        let before = self.by_token.len() + self.by_client.len();
        self.by_token.retain(|_, record| record.inventory_id != inventory_id);
        self.by_client.retain(|_, record| record.inventory_id != inventory_id);
        let removed = before - (self.by_token.len() + self.by_client.len());
        self.len -= removed;
        removed > 0
    }

    /// Records indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the inventory is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The record of the event's token: by `token_id`, else by `source` + `client_id`.
    pub fn lookup(&self, event: &Event) -> Option<&Arc<InventoryRecord>> {
        if let Some(record) = event.token_id.as_ref().and_then(|id| self.by_token.get(id)) {
            return Some(record);
        }
        if self.by_client.is_empty() {
            return None;
        }
        let client_id = event.client_id.as_ref()?;
        self.by_client.get(&(event.source.to_string(), client_id.clone()))
    }

    /// Parses JSON lines (`name` names the input in errors). Every bad line is reported.
    pub fn parse_jsonl(name: &str, text: &str) -> Result<Self> {
        let mut records = Vec::new();
        let mut problems = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<InventoryRecord>(line) {
                Ok(record) => records.push(record),
                Err(error) => problems.push(format!("line {}: {error}", index + 1)),
            }
        }
        if problems.is_empty() {
            Ok(Inventory::from_records(records))
        } else {
            Err(Error::Inventory { file: name.to_string(), problems })
        }
    }

    /// Parses CSV with a header row of the field names (`;` between list items).
    pub fn parse_csv(name: &str, text: &str) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let mut records = Vec::new();
        let mut problems = Vec::new();
        for (index, row) in reader.deserialize::<InventoryRecord>().enumerate() {
            match row {
                Ok(record) => records.push(record),
                // Row 1 is the header, so data row `index` is line `index + 2`.
                Err(error) => problems.push(format!("line {}: {error}", index + 2)),
            }
        }
        if problems.is_empty() {
            Ok(Inventory::from_records(records))
        } else {
            Err(Error::Inventory { file: name.to_string(), problems })
        }
    }

    /// Parses `text` as CSV when `name` ends in `.csv`, else as JSON lines.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        if name.ends_with(".csv") { Self::parse_csv(name, text) } else { Self::parse_jsonl(name, text) }
    }
}

fn empty_as_none<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(deserializer)?;
    Ok(value.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

fn kind_from_text<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<TokenKind, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(TokenKind::Unknown),
        Some(text) => TokenKind::parse(text).ok_or_else(|| {
            let known: Vec<&str> = TokenKind::ALL.iter().map(|k| k.as_str()).collect();
            serde::de::Error::custom(format!("unknown kind `{text}`; expected one of {}", known.join(", ")))
        }),
    }
}

/// A list: a JSON array, or a `;`-separated string (CSV).
#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrText {
    List(Vec<String>),
    Text(String),
}

fn list<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Vec<String>, D::Error> {
    let value: Option<ListOrText> = Option::deserialize(deserializer)?;
    Ok(match value {
        None => Vec::new(),
        Some(ListOrText::List(items)) => {
            items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
        }
        Some(ListOrText::Text(text)) => {
            text.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
        }
    })
}

fn cidrs<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Vec<IpNet>, D::Error> {
    list(deserializer)?
        .into_iter()
        .map(|text| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a CIDR range or address")))
        })
        .collect()
}

fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum FlagOrText {
        Flag(bool),
        Text(String),
    }
    match Option::<FlagOrText>::deserialize(deserializer)? {
        None => Ok(false),
        Some(FlagOrText::Flag(flag)) => Ok(flag),
        Some(FlagOrText::Text(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "0" => Ok(false),
            "true" | "yes" | "1" => Ok(true),
            other => Err(serde::de::Error::custom(format!("`{other}` is not true or false"))),
        },
    }
}

fn time_opt<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Option<i64>, D::Error> {
    let text: Option<String> = Option::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse_str(text, TimeFormat::Auto)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a timestamp"))),
    }
}

fn time_out<S: serde::Serializer>(value: &Option<i64>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    match value {
        Some(micros) => serializer.serialize_some(&format_rfc3339_micros(*micros)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSONL: &str = r#"{"inventory_id":"inv-1","token_id":"tok-1","source":"kong","kind":"access","owner":"alice","client_id":"spa","scopes":["orders:read"],"status":"active","expires_at":"2026-02-01T00:00:00Z","revoked_at":null,"allowed_cidrs":["10.0.0.0/8"],"allowed_countries":["GB"],"machine":false}
{"inventory_id":"inv-2","source":"google_workspace","kind":"oauth_grant","client_id":"1234.apps","scopes":["drive.readonly"],"status":"revoked","revoked_at":"2026-01-10T12:00:00Z"}
"#;

    const CSV: &str = "inventory_id,token_id,source,kind,owner,client_id,scopes,status,expires_at,revoked_at,allowed_cidrs,allowed_countries,machine\n\
        inv-1,tok-1,kong,access,alice,spa,orders:read;orders:write,active,2026-02-01T00:00:00Z,,10.0.0.0/8,GB;IE,true\n";

    #[test]
    fn jsonl_records_are_indexed_by_token_and_by_client() {
        let inventory = Inventory::parse("inv.jsonl", JSONL).unwrap();
        assert_eq!(inventory.len(), 2);
        let record = &inventory.by_token["tok-1"];
        assert_eq!(record.kind, TokenKind::Access);
        assert_eq!(record.scopes, ["orders:read"]);
        assert_eq!(record.allowed_cidrs, ["10.0.0.0/8".parse::<IpNet>().unwrap()]);
        assert_eq!(record.expires_at, Some(1_769_904_000_000_000));
        let grant = &inventory.by_client[&("google_workspace".to_string(), "1234.apps".to_string())];
        assert!(grant.revoked_at_time(1_768_046_400_000_000));
        assert!(!grant.revoked_at_time(1_768_046_399_999_999));
    }

    #[test]
    fn csv_uses_the_same_columns_with_semicolon_lists() {
        let inventory = Inventory::parse("inv.csv", CSV).unwrap();
        let record = &inventory.by_token["tok-1"];
        assert_eq!(record.scopes, ["orders:read", "orders:write"]);
        assert_eq!(record.allowed_countries, ["GB", "IE"]);
        assert!(record.machine);
        assert_eq!(record.revoked_at, None);
    }

    #[test]
    fn every_bad_line_is_reported_with_file_line_and_field() {
        let text = "{\"inventory_id\":\"a\",\"kind\":\"bearer\"}\n{\"inventory_id\":\"b\",\"expires_at\":\"soon\"}\n{\"inventory_id\":\"c\",\"colour\":1}\n";
        let message = Inventory::parse("inv.jsonl", text).unwrap_err().to_string();
        for expected in
            ["inv.jsonl", "line 1", "unknown kind `bearer`", "line 2", "`soon` is not a timestamp", "line 3", "colour"]
        {
            assert!(message.contains(expected), "missing {expected:?} in {message}");
        }
    }

    #[test]
    fn expiry_honours_grace_and_status() {
        let mut record: InventoryRecord =
            serde_json::from_str(r#"{"inventory_id":"x","expires_at":"2026-02-01T00:00:00Z"}"#).unwrap();
        let expiry = record.expires_at.unwrap();
        assert!(!record.expired_at_time(expiry, 0));
        assert!(record.expired_at_time(expiry + 1, 0));
        assert!(!record.expired_at_time(expiry + 60_000_000, 120_000_000));
        record.expires_at = None;
        record.status = TokenStatus::Expired;
        assert!(record.expired_at_time(0, 0));
    }
}

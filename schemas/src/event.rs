//! The normalised event: one credential use, whatever log it came from.
//!
//! Every source mapping turns a vendor record into an [`Event`]. Field names follow OCSF where a
//! natural counterpart exists (Authentication 3002, API Activity 6003, Account Change 3001): `time`,
//! `class_uid`, `src_ip`, `user_agent`, `http_status`. The same fields, in the same order, make up the
//! Arrow schema in [`crate::arrow`], so what a rule sees, what `normalize` writes and what SQL queries
//! read are one model.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::time::format_rfc3339_micros;

/// One normalised event.
///
/// Invariants: `time_us` is event time in microseconds since the Unix epoch, UTC (never the time of
/// ingestion); `event_id` is never empty (the vendor's own id, or a content hash prefixed `tw-` when
/// the vendor gives none); no field carries a raw secret (see [`crate::secrets`]).
///
/// Its serde form is compact and internal (checkpoints); the public JSON form is [`EventRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Event time, microseconds since 1970-01-01T00:00:00Z.
    pub time_us: i64,
    /// Source name of the mapping that produced the event (`okta`, `entra`, `cloudtrail`, …).
    pub source: Arc<str>,
    /// OCSF event class.
    pub class: EventClass,
    /// The vendor-native event id (`uuid`, `eventID`, `log_id`, …) or a `tw-` content hash.
    pub event_id: String,
    /// The vendor's event type or action (`user.session.start`, `AssumeRole`, `GET /v1/orders`).
    pub action: Option<String>,
    /// Whether the attempt succeeded.
    pub outcome: Outcome,
    /// Identifier of the credential used: the vendor's own token id where it has one, a JWT `jti`,
    /// or an HMAC fingerprint (`fp:…`) of a raw secret. This is the join key to the inventory.
    pub token_id: Option<String>,
    /// What kind of credential `token_id` identifies.
    pub token_kind: TokenKind,
    /// Who acted: user principal name, e-mail, role ARN or service principal.
    pub subject: Option<String>,
    /// OAuth client / application id the credential was issued to.
    pub client_id: Option<String>,
    /// Session id the event belongs to, when the vendor reports one besides the token.
    pub session_id: Option<String>,
    /// Source IP address of the caller.
    pub src_ip: Option<IpAddr>,
    /// Where the caller was, from the record itself or an IP database look-up.
    pub geo: Option<Geo>,
    /// Autonomous system number of the caller's network.
    pub asn: Option<u32>,
    /// Organisation owning `asn`.
    pub as_org: Option<String>,
    /// HTTP user agent of the caller.
    pub user_agent: Option<String>,
    /// Device id reported by the vendor.
    pub device_id: Option<String>,
    /// OAuth scopes, roles or permissions requested or used.
    pub scopes: Vec<String>,
    /// Resource, route or API called (`GET /api/v1/users`, `s3.amazonaws.com`, `Microsoft Graph`).
    pub resource: Option<String>,
    /// HTTP status code of the call, when known.
    pub http_status: Option<u16>,
    /// Tenant, organisation, account or workspace the event belongs to.
    pub tenant: Option<String>,
    /// Where the record was read from.
    pub origin: Origin,
}

/// Geographic location of the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geo {
    /// Latitude in degrees (absent when the record gave only a country or city).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude in degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// ISO 3166-1 alpha-2 country code when known (a country name is kept as given otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// City name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// How far from (`lat`, `lon`) the caller may really be, in kilometres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_km: Option<f32>,
    /// Where the location came from.
    pub from: GeoFrom,
}

impl Geo {
    /// Latitude and longitude, when both are known.
    pub fn coords(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?))
    }
}

/// Provenance of a [`Geo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeoFrom {
    /// The vendor's record carried the location.
    Record,
    /// Looked up from `src_ip` in the IP database.
    IpDatabase,
}

/// Where a record was read from: enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Origin {
    /// A line (1-based) of a file; `index` is the position inside an envelope such as
    /// CloudTrail's `{"Records": […]}` or a JSON array.
    File {
        /// Path of the file as given.
        file: Arc<str>,
        /// Line number, 1-based, of the record (of the envelope's first line for multi-line JSON).
        line: u64,
        /// Position in the envelope or array, when the line held more than one record.
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
    /// A Kafka record.
    Kafka {
        /// Topic name.
        topic: Arc<str>,
        /// Partition number.
        partition: i32,
        /// Offset within the partition.
        offset: i64,
        /// Position in the envelope, when the message held more than one record.
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
}

impl Origin {
    /// A file origin.
    pub fn file(file: Arc<str>, line: u64) -> Self {
        Origin::File { file, line, index: None }
    }

    /// The same origin, pointing at record `index` of an envelope.
    pub fn with_index(&self, index: u32) -> Self {
        let mut origin = self.clone();
        match &mut origin {
            Origin::File { index: slot, .. } | Origin::Kafka { index: slot, .. } => {
                *slot = Some(index);
            }
        }
        origin
    }

    /// File path or topic name.
    pub fn name(&self) -> &str {
        match self {
            Origin::File { file, .. } => file,
            Origin::Kafka { topic, .. } => topic,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { file, line, index } => {
                write!(f, "{file}:{line}")?;
                if let Some(index) = index {
                    write!(f, "[{index}]")?;
                }
                Ok(())
            }
            Origin::Kafka { topic, partition, offset, index } => {
                write!(f, "{topic}/{partition}@{offset}")?;
                if let Some(index) = index {
                    write!(f, "[{index}]")?;
                }
                Ok(())
            }
        }
    }
}

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable lowercase name used in JSON, Arrow and configuration files.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the name written by [`Self::as_str`].
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Whether the attempt the event records succeeded.
    Outcome {
        /// The vendor reported success (or a 1xx–3xx HTTP status).
        Success = "success",
        /// The vendor reported failure or denial (or a 4xx–5xx HTTP status).
        Failure = "failure",
        /// The record does not say.
        Unknown = "unknown",
    }
}

string_enum! {
    /// Kind of credential a `token_id` identifies.
    TokenKind {
        /// A browser or IdP session (cookie, `sessionId`, `externalSessionId`).
        Session = "session",
        /// An OAuth / OIDC access token or other bearer token.
        Access = "access",
        /// An OAuth refresh token.
        Refresh = "refresh",
        /// An OIDC ID token.
        Id = "id",
        /// An API key.
        ApiKey = "api_key",
        /// A personal access token (GitHub, GitLab, …).
        Pat = "pat",
        /// An OAuth grant: a client's standing authorisation on a user's behalf.
        OauthGrant = "oauth_grant",
        /// A cloud access key (AWS `AKIA…` / `ASIA…`).
        AccessKey = "access_key",
        /// A certificate or SSH credential.
        Certificate = "certificate",
        /// The record identifies a credential but not its kind.
        Unknown = "unknown",
    }
}

string_enum! {
    /// OCSF event class of a normalised event.
    EventClass {
        /// OCSF Authentication (3002): sign-ins, token grants, session starts.
        Authentication = "authentication",
        /// OCSF API Activity (6003): calls made with a credential.
        ApiActivity = "api_activity",
        /// OCSF Account Change (3001): credential created, rotated, revoked, scopes changed.
        AccountChange = "account_change",
        /// OCSF Entity Management (3004): administrative changes to other objects.
        EntityManagement = "entity_management",
        /// OCSF Base Event (0): anything else.
        Other = "other",
    }
}

impl EventClass {
    /// The OCSF `class_uid`.
    pub fn uid(self) -> u16 {
        match self {
            EventClass::Authentication => 3002,
            EventClass::ApiActivity => 6003,
            EventClass::AccountChange => 3001,
            EventClass::EntityManagement => 3004,
            EventClass::Other => 0,
        }
    }
}

/// The JSON form of an [`Event`], as written by `tokenwatch normalize`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EventRecord {
    /// RFC 3339 UTC with microseconds.
    pub time: String,
    /// See [`Event::source`].
    pub source: String,
    /// OCSF `class_uid`.
    pub class_uid: u16,
    /// See [`Event::class`].
    pub class: EventClass,
    /// See [`Event::event_id`].
    pub event_id: String,
    /// See [`Event::action`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// See [`Event::outcome`].
    pub outcome: Outcome,
    /// See [`Event::token_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// See [`Event::token_kind`].
    pub token_kind: TokenKind,
    /// See [`Event::subject`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// See [`Event::client_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// See [`Event::session_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// See [`Event::src_ip`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpAddr>,
    /// See [`Event::geo`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    /// See [`Event::asn`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// See [`Event::as_org`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// See [`Event::user_agent`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// See [`Event::device_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// See [`Event::scopes`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// See [`Event::resource`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// See [`Event::http_status`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// See [`Event::tenant`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// See [`Event::origin`].
    pub origin: Origin,
}

impl Event {
    /// The JSON form of the event.
    pub fn to_record(&self) -> EventRecord {
        EventRecord {
            time: format_rfc3339_micros(self.time_us),
            source: self.source.to_string(),
            class_uid: self.class.uid(),
            class: self.class,
            event_id: self.event_id.clone(),
            action: self.action.clone(),
            outcome: self.outcome,
            token_id: self.token_id.clone(),
            token_kind: self.token_kind,
            subject: self.subject.clone(),
            client_id: self.client_id.clone(),
            session_id: self.session_id.clone(),
            src_ip: self.src_ip,
            geo: self.geo.clone(),
            asn: self.asn,
            as_org: self.as_org.clone(),
            user_agent: self.user_agent.clone(),
            device_id: self.device_id.clone(),
            scopes: self.scopes.clone(),
            resource: self.resource.clone(),
            http_status: self.http_status,
            tenant: self.tenant.clone(),
            origin: self.origin.clone(),
        }
    }

    /// The event back from its JSON form; `None` when `time` is not an RFC 3339 timestamp.
    pub fn from_record(record: EventRecord) -> Option<Event> {
        let time_us = crate::time::parse_str(&record.time, crate::time::TimeFormat::Rfc3339)?;
        Some(Event {
            time_us,
            source: Arc::from(record.source),
            class: record.class,
            event_id: record.event_id,
            action: record.action,
            outcome: record.outcome,
            token_id: record.token_id,
            token_kind: record.token_kind,
            subject: record.subject,
            client_id: record.client_id,
            session_id: record.session_id,
            src_ip: record.src_ip,
            geo: record.geo,
            asn: record.asn,
            as_org: record.as_org,
            user_agent: record.user_agent,
            device_id: record.device_id,
            scopes: record.scopes,
            resource: record.resource,
            http_status: record.http_status,
            tenant: record.tenant,
            origin: record.origin,
        })
    }

    /// Parses one event from its JSON form (as [`Event::write_json`] writes it).
    pub fn from_json(bytes: &[u8]) -> Result<Event, String> {
        let record: EventRecord = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let time = record.time.clone();
        Event::from_record(record).ok_or_else(|| format!("`time`: `{time}` is not an RFC 3339 timestamp"))
    }

    /// Writes the event as one line of JSON (no trailing newline) into `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, &self.to_record())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_names() {
        for kind in TokenKind::ALL {
            assert_eq!(TokenKind::parse(kind.as_str()), Some(*kind));
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(*outcome));
        }
        for class in EventClass::ALL {
            assert_eq!(EventClass::parse(class.as_str()), Some(*class));
        }
        assert_eq!(TokenKind::parse("bogus"), None);
    }

    #[test]
    fn events_round_trip_through_their_json_form() {
        let event = Event {
            time_us: 1_700_000_000_123_456,
            source: Arc::from("okta"),
            class: EventClass::Authentication,
            event_id: "e1".into(),
            action: Some("user.session.start".into()),
            outcome: Outcome::Success,
            token_id: Some("fp:abc".into()),
            token_kind: TokenKind::Session,
            subject: Some("ana@example.com".into()),
            client_id: None,
            session_id: None,
            src_ip: Some("81.2.69.142".parse().unwrap()),
            geo: None,
            asn: Some(64500),
            as_org: None,
            user_agent: None,
            device_id: None,
            scopes: vec!["read".into(), "write".into()],
            resource: None,
            http_status: Some(200),
            tenant: None,
            origin: Origin::Kafka { topic: Arc::from("okta-logs"), partition: 1, offset: 42, index: Some(2) },
        };
        let mut json = Vec::new();
        event.write_json(&mut json).unwrap();
        assert_eq!(Event::from_json(&json).unwrap(), event);
        assert!(Event::from_json(br#"{"time":"yesterday"}"#).is_err());
    }

    #[test]
    fn origin_displays_file_line_and_envelope_index() {
        let origin = Origin::file(Arc::from("logs/ct.json"), 7);
        assert_eq!(origin.to_string(), "logs/ct.json:7");
        assert_eq!(origin.with_index(3).to_string(), "logs/ct.json:7[3]");
        let kafka = Origin::Kafka { topic: Arc::from("okta"), partition: 2, offset: 99, index: None };
        assert_eq!(kafka.to_string(), "okta/2@99");
    }
}

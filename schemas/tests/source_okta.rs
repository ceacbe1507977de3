mod common;

use serde_json::Value;
use tokenwatch_schemas::{Event, EventClass, GeoFrom, Origin, Outcome, SourceRegistry, TokenKind};

const SYSTEM_LOG: &str = "okta/system_log.jsonl";
const EVENT_HOOK: &str = "okta/event_hook.json";

/// The client secret Okta's debug data carried in the token-grant sample (replaced by a fake value).
const CLIENT_SECRET: &str = "FAKE-client-secret-for-tests";

struct WantGeo {
    lat: Option<f64>,
    lon: Option<f64>,
    country: &'static str,
    city: &'static str,
}

/// What one event must look like, field by field.
struct Want {
    time: &'static str,
    event_id: &'static str,
    action: &'static str,
    outcome: Outcome,
    class: EventClass,
    token_id: Option<&'static str>,
    token_kind: TokenKind,
    subject: Option<&'static str>,
    client_id: Option<&'static str>,
    session_id: Option<&'static str>,
    src_ip: &'static str,
    geo: WantGeo,
    asn: Option<u32>,
    as_org: Option<&'static str>,
    user_agent: &'static str,
    scopes: &'static [&'static str],
    resource: Option<&'static str>,
}

fn check(at: &str, event: &Event, want: Want) {
    assert_eq!(&*event.source, "okta", "{at}");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time");
    assert_eq!(event.event_id, want.event_id, "{at}: event_id");
    assert_eq!(event.action.as_deref(), Some(want.action), "{at}: action");
    assert_eq!(event.outcome, want.outcome, "{at}: outcome");
    assert_eq!(event.class, want.class, "{at}: class");
    assert_eq!(event.token_id.as_deref(), want.token_id, "{at}: token_id");
    assert_eq!(event.token_kind, want.token_kind, "{at}: token_kind");
    assert_eq!(event.subject.as_deref(), want.subject, "{at}: subject");
    assert_eq!(event.client_id.as_deref(), want.client_id, "{at}: client_id");
    assert_eq!(event.session_id.as_deref(), want.session_id, "{at}: session_id");
    assert_eq!(event.src_ip, Some(want.src_ip.parse().unwrap()), "{at}: src_ip");
    let geo = event.geo.as_ref().unwrap_or_else(|| panic!("{at}: no geo"));
    assert_eq!(geo.lat, want.geo.lat, "{at}: geo lat");
    assert_eq!(geo.lon, want.geo.lon, "{at}: geo lon");
    assert_eq!(geo.country.as_deref(), Some(want.geo.country), "{at}: geo country");
    assert_eq!(geo.city.as_deref(), Some(want.geo.city), "{at}: geo city");
    assert_eq!(geo.from, GeoFrom::Record, "{at}: geo from");
    assert_eq!(event.asn, want.asn, "{at}: asn");
    assert_eq!(event.as_org.as_deref(), want.as_org, "{at}: as_org");
    assert_eq!(event.user_agent.as_deref(), Some(want.user_agent), "{at}: user_agent");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, None, "{at}: http_status");
    assert_eq!(event.tenant, None, "{at}: Okta records do not name the org");
    assert_eq!(event.device_id, None, "{at}: device_id");
}

fn system_log() -> Vec<Event> {
    let events = common::events(SYSTEM_LOG, None);
    assert_eq!(events.len(), 6);
    events
}

#[test]
fn session_start_made_with_an_api_token_keeps_asn_and_session() {
    let events = system_log();
    check(
        "session start (beats)",
        &events[0],
        Want {
            time: "2022-05-11T09:25:18.716Z",
            event_id: "8ceedc94-d725-11ec-9d64-0242ac120002",
            action: "user.session.start",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            // The /api/v1/authn call was authenticated by an SSWS API token: that is the credential.
            token_id: Some("MDU0ZTEyM2QwYjc2N2FiZDI2YzViZDRiODVkNGNhZDFkZjg4YjU2ZiAgLQo="),
            token_kind: TokenKind::ApiKey,
            subject: Some("test@test.com"),
            client_id: None,
            session_id: Some("xxxxxx"),
            src_ip: "81.2.69.144",
            geo: WantGeo { lat: Some(39.1469), lon: Some(-77.5903), country: "US", city: "Ashburn" },
            asn: Some(14618),
            as_org: Some("amazon data services nova"),
            user_agent: "blah",
            scopes: &[],
            resource: Some("/api/v1/authn"),
        },
    );
}

#[test]
fn browser_session_start_is_identified_by_its_external_session_id() {
    let events = system_log();
    check(
        "session start (integrations)",
        &events[1],
        Want {
            time: "2020-02-14T20:18:57.718Z",
            event_id: "3aeede38-4f67-11ea-abd3-1f5d113f2546",
            action: "user.session.start",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("102bZDNFfWaQSyEZQuDgWt-uQ"),
            token_kind: TokenKind::Session,
            subject: Some("xxxxxx@elastic.co"),
            client_id: None,
            session_id: Some("102bZDNFfWaQSyEZQuDgWt-uQ"),
            src_ip: "175.16.199.1",
            geo: WantGeo { lat: Some(37.7201), lon: Some(-121.919), country: "US", city: "Dublin" },
            asn: None,
            as_org: None,
            user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:72.0) Gecko/20100101 Firefox/72.0",
            scopes: &[],
            resource: Some("/api/v1/authn"),
        },
    );
}

#[test]
fn token_grant_is_identified_by_the_issued_token_target() {
    let events = system_log();
    check(
        "token grant",
        &events[2],
        Want {
            time: "2022-07-19T15:54:11Z",
            event_id: "test_uuid",
            action: "app.oauth2.token.grant.access_token",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("test_id"),
            token_kind: TokenKind::Access,
            // The actor is the OAuth client; the token's subject is the user.
            subject: Some("test_user_id"),
            client_id: Some("test_client_app_id"),
            // `externalSessionId: "unknown"` is no session.
            session_id: None,
            src_ip: "0.0.0.0",
            // (0, 0) means "unknown" and is dropped; the names are kept as given.
            geo: WantGeo { lat: None, lon: None, country: "Test Country", city: "TestCity" },
            asn: None, // Okta writes AS 0 when it does not know
            as_org: Some("Test Org"),
            user_agent: "python-requests/2.28.1",
            scopes: &["okta.users.read", "okta.logs.read", "okta.groups.read", "okta.roles.read", "offline_access"],
            resource: Some("/oauth2/v1/token"),
        },
    );
}

#[test]
fn admin_action_is_an_account_change_in_the_admins_session() {
    let events = system_log();
    check(
        "user deactivation",
        &events[3],
        Want {
            time: "2020-11-16T18:15:12.862Z",
            event_id: "ab62c0bc-2837-11eb-9823-9fb8f750c5a9",
            action: "user.lifecycle.deactivate",
            outcome: Outcome::Success,
            class: EventClass::AccountChange,
            token_id: Some("102lMcfHbwSTuS5V1oPHJs3lw"),
            token_kind: TokenKind::Session,
            subject: Some("okta.trainer@okta.com"),
            client_id: None,
            session_id: Some("102lMcfHbwSTuS5V1oPHJs3lw"),
            src_ip: "174.89.174.56",
            geo: WantGeo { lat: Some(43.7114), lon: Some(-79.4462), country: "CA", city: "Toronto" },
            asn: Some(577),
            as_org: Some("example"),
            user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.198 Safari/537.36",
            scopes: &[],
            resource: Some("/admin/user/deactivate/00u3m90rxKjGQ0G6L1d6"),
        },
    );
}

#[test]
fn failed_sign_in_has_no_session_and_no_token() {
    let events = system_log();
    check(
        "failed sign-in",
        &events[4],
        Want {
            time: "2022-05-11T09:24:02.104Z",
            event_id: "7d1c55a0-d725-11ec-9d64-0242ac120002",
            action: "user.session.start",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: Some("test@test.com"),
            client_id: None,
            session_id: None,
            src_ip: "81.2.69.144",
            geo: WantGeo { lat: Some(39.1469), lon: Some(-77.5903), country: "US", city: "Ashburn" },
            asn: Some(14618),
            as_org: Some("amazon data services nova"),
            user_agent: "blah",
            scopes: &[],
            resource: Some("/api/v1/authn"),
        },
    );
}

#[test]
fn refresh_token_reuse_falls_back_to_the_session() {
    let events = system_log();
    check(
        "detect_reuse",
        &events[5],
        Want {
            // Re-exported form without `T` and zone: UTC.
            time: "2022-12-13T15:22:58.759Z",
            event_id: "abc-1234-aaa",
            action: "app.oauth2.as.token.detect_reuse",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("123456789"),
            token_kind: TokenKind::Session,
            subject: Some("123456"),
            client_id: Some("okta.1234."),
            session_id: Some("123456789"),
            src_ip: "1.2.3.4",
            geo: WantGeo { lat: Some(40.0), lon: Some(-70.0), country: "US", city: "Queens" },
            asn: Some(701),
            as_org: Some("verizon"),
            user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.1 Safari/605.1.15",
            scopes: &["openid", "profile", "email", "okta.users.read.self"],
            resource: Some("/login/token/redirect"),
        },
    );
}

#[test]
fn event_hook_delivery_is_split_into_its_log_events() {
    let events = common::events(EVENT_HOOK, None);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.origin, Origin::file(EVENT_HOOK.into(), 1).with_index(0));
    check(
        "event hook",
        event,
        Want {
            time: "2023-03-26T21:05:32.159Z",
            event_id: "f1d0b993-cc19-11ed-a688-db22c99ef6c4",
            action: "user.session.start",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("idxyNcxVX2ESsSL0u462548Qg"),
            token_kind: TokenKind::Session,
            subject: Some("admin@okta.com"),
            client_id: None,
            session_id: Some("idxyNcxVX2ESsSL0u462548Qg"),
            src_ip: "142.126.158.61",
            geo: WantGeo { lat: Some(43.6567), lon: Some(-79.34), country: "CA", city: "Toronto" },
            asn: None,
            as_org: None,
            user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/111.0.0.0 Safari/537.36",
            scopes: &[],
            resource: Some("/idp/idx/identify"),
        },
    );
}

#[test]
fn auto_detection_gives_the_same_events_as_the_forced_source() {
    for fixture in [SYSTEM_LOG, EVENT_HOOK] {
        let detected = common::events(fixture, None);
        let forced = common::events(fixture, Some("okta"));
        assert_eq!(detected, forced, "{fixture}");
        assert!(detected.iter().all(|event| &*event.source == "okta"), "{fixture}");
    }
}

#[test]
fn the_raw_client_secret_in_debug_data_never_reaches_an_event() {
    let events = system_log();
    assert!(!format!("{events:?}").contains(CLIENT_SECRET));
}

/// Every Okta LogEvent of the fixtures, as JSON.
fn okta_records() -> Vec<Value> {
    let mut records: Vec<Value> = std::fs::read_to_string(common::fixture(SYSTEM_LOG))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let hook: Value = serde_json::from_str(&std::fs::read_to_string(common::fixture(EVENT_HOOK)).unwrap()).unwrap();
    records.extend(hook["data"]["events"].as_array().unwrap().iter().cloned());
    records
}

#[test]
fn no_other_builtin_layout_claims_an_okta_record() {
    let registry = SourceRegistry::builtin().unwrap();
    let okta = registry.layouts("okta").unwrap();
    for (n, record) in okta_records().iter().enumerate() {
        assert!(okta.iter().any(|mapping| mapping.matches(record)), "record {n} is not recognised as Okta");
        for mapping in registry.mappings().iter().filter(|mapping| &*mapping.name != "okta") {
            assert!(!mapping.matches(record), "record {n} is also claimed by {}", mapping.qualified_name());
        }
    }
}

#[test]
fn okta_does_not_claim_other_sources_fixtures() {
    common::assert_claims_no_other_fixture("okta");
}

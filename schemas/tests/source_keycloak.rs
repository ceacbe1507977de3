mod common;

use serde_json::Value;
use tokenwatch_schemas::{Event, EventClass, Outcome, SourceRegistry, TokenKind};

const EVENTS: &str = "keycloak/events.jsonl";

/// What one event must look like, field by field.
struct Want {
    time: &'static str,
    /// `None`: the event has no `id` (Keycloak before 22), so the id is a `tw-` content hash.
    event_id: Option<&'static str>,
    action: &'static str,
    outcome: Outcome,
    class: EventClass,
    token_id: Option<&'static str>,
    token_kind: TokenKind,
    subject: &'static str,
    client_id: &'static str,
    session_id: Option<&'static str>,
    src_ip: &'static str,
    scopes: &'static [&'static str],
    resource: Option<&'static str>,
    tenant: &'static str,
}

fn check(at: &str, event: &Event, want: Want) {
    assert_eq!(&*event.source, "keycloak", "{at}");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time");
    match want.event_id {
        Some(id) => assert_eq!(event.event_id, id, "{at}: event_id"),
        None => assert!(event.event_id.starts_with("tw-"), "{at}: event_id {}", event.event_id),
    }
    assert_eq!(event.action.as_deref(), Some(want.action), "{at}: action");
    assert_eq!(event.outcome, want.outcome, "{at}: outcome");
    assert_eq!(event.class, want.class, "{at}: class");
    assert_eq!(event.token_id.as_deref(), want.token_id, "{at}: token_id");
    assert_eq!(event.token_kind, want.token_kind, "{at}: token_kind");
    assert_eq!(event.subject.as_deref(), Some(want.subject), "{at}: subject");
    assert_eq!(event.client_id.as_deref(), Some(want.client_id), "{at}: client_id");
    assert_eq!(event.session_id.as_deref(), want.session_id, "{at}: session_id");
    assert_eq!(event.src_ip, Some(want.src_ip.parse().unwrap()), "{at}: src_ip");
    // Keycloak events carry no location, network or user agent.
    assert_eq!(event.geo, None, "{at}: geo");
    assert_eq!(event.asn, None, "{at}: asn");
    assert_eq!(event.as_org, None, "{at}: as_org");
    assert_eq!(event.user_agent, None, "{at}: user_agent");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, None, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), Some(want.tenant), "{at}: tenant");
}

const ADMIN_USER: &str = "804807dd-c991-4712-8ec1-c6d4ff3f0e73";
const SESSION: &str = "d1a1cc64-4b31-43e6-a083-cc84d7a45cb3";

fn events() -> Vec<Event> {
    let events = common::events(EVENTS, None);
    assert_eq!(events.len(), 5);
    events
}

#[test]
fn login_is_identified_by_the_user_session() {
    check(
        "LOGIN",
        &events()[0],
        Want {
            time: "2020-03-31T15:58:08.150Z",
            event_id: None,
            action: "LOGIN",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some(SESSION),
            token_kind: TokenKind::Session,
            subject: ADMIN_USER,
            client_id: "security-admin-console",
            session_id: Some(SESSION),
            src_ip: "172.17.0.1",
            scopes: &[],
            resource: None,
            tenant: "master",
        },
    );
}

#[test]
fn code_to_token_is_identified_by_the_issued_access_token() {
    check(
        "CODE_TO_TOKEN",
        &events()[1],
        Want {
            time: "2020-03-31T15:58:08.312Z",
            event_id: None,
            action: "CODE_TO_TOKEN",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("733a2efb-4094-4dc1-90a4-194858ce08b0"),
            token_kind: TokenKind::Access,
            subject: ADMIN_USER,
            client_id: "security-admin-console",
            session_id: Some(SESSION),
            src_ip: "172.17.0.1",
            scopes: &["openid", "profile", "email"],
            resource: None,
            tenant: "master",
        },
    );
}

#[test]
fn refresh_is_identified_by_the_refresh_token_presented() {
    check(
        "REFRESH_TOKEN",
        &events()[2],
        Want {
            time: "2025-09-25T09:16:27.360Z",
            event_id: Some("00435000-25cf-4fda-a8ef-a53d9ebab77f"),
            action: "REFRESH_TOKEN",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("d3319e43-be42-fc6a-5da4-f43966277c6e"),
            token_kind: TokenKind::Refresh,
            subject: "cdf56084-83c7-46fa-ae4a-1a2da352071e",
            client_id: "test-client",
            session_id: Some("c3be023a-8e3d-4d84-a745-413ff3565f06"),
            src_ip: "127.0.0.1",
            scopes: &["openid", "email", "profile"],
            resource: None,
            // The realm's name wins over its UUID.
            tenant: "uds",
        },
    );
}

#[test]
fn login_error_fails_without_session_or_token() {
    check(
        "LOGIN_ERROR",
        &events()[3],
        Want {
            time: "2020-04-01T08:14:21.287Z",
            event_id: None,
            action: "LOGIN_ERROR",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: "8f20d7ba-4974-4811-a695-242c8fbd1bf8",
            client_id: "security-admin-console",
            session_id: None,
            src_ip: "203.0.113.77",
            scopes: &[],
            resource: None,
            tenant: "master",
        },
    );
}

#[test]
fn admin_event_names_the_administrator_and_the_resource() {
    check(
        "admin UPDATE",
        &events()[4],
        Want {
            time: "2025-09-25T08:47:33.392Z",
            event_id: Some("766d8e4b-41ce-4ec6-bef9-d1573cc9c720"),
            action: "UPDATE",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: "cdf56084-83c7-46fa-ae4a-1a2da352071e",
            client_id: "38f60965-fc2c-4471-8351-02704a780945",
            session_id: None,
            src_ip: "127.0.0.1",
            scopes: &[],
            resource: Some("clients/8e5ed10f-fde2-4ee3-990f-b3e9bf7194c6"),
            tenant: "uds",
        },
    );
}

#[test]
fn events_without_an_id_get_distinct_content_ids() {
    let events = events();
    assert_ne!(events[0].event_id, events[1].event_id);
    assert_ne!(events[0].event_id, events[3].event_id);
    assert_eq!(events[0].event_id, common::events(EVENTS, None)[0].event_id, "stable across runs");
}

#[test]
fn auto_detection_gives_the_same_events_as_the_forced_source() {
    let detected = common::events(EVENTS, None);
    let forced = common::events(EVENTS, Some("keycloak"));
    assert_eq!(detected, forced);
    assert!(detected.iter().all(|event| &*event.source == "keycloak"));
}

#[test]
fn no_other_builtin_layout_claims_a_keycloak_record() {
    let registry = SourceRegistry::builtin().unwrap();
    let keycloak = registry.layouts("keycloak").unwrap();
    let text = std::fs::read_to_string(common::fixture(EVENTS)).unwrap();
    for (n, line) in text.lines().enumerate() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert!(keycloak.iter().any(|mapping| mapping.matches(&record)), "record {n} is not recognised as Keycloak");
        for mapping in registry.mappings().iter().filter(|mapping| &*mapping.name != "keycloak") {
            assert!(!mapping.matches(&record), "record {n} is also claimed by {}", mapping.qualified_name());
        }
    }
}

#[test]
fn keycloak_does_not_claim_other_sources_fixtures() {
    common::assert_claims_no_other_fixture("keycloak");
}

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokenwatch_schemas::{Event, EventClass, Normalized, Origin, Outcome, SourceRegistry, TokenKind};

/// What one fixture record must normalise to, field by field. The unified audit log carries no
/// coordinates, scopes or HTTP status: those stay empty for every record.
struct Expect {
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
    src_ip: Option<&'static str>,
    user_agent: Option<&'static str>,
    device_id: Option<&'static str>,
    resource: &'static str,
    tenant: &'static str,
}

const NONE: Expect = Expect {
    time: "",
    event_id: "",
    action: "",
    outcome: Outcome::Unknown,
    class: EventClass::ApiActivity,
    token_id: None,
    token_kind: TokenKind::Unknown,
    subject: None,
    client_id: None,
    session_id: None,
    src_ip: None,
    user_agent: None,
    device_id: None,
    resource: "",
    tenant: "",
};

fn check(event: &Event, want: &Expect) {
    let at = format!("{} ({})", event.origin, want.event_id);
    assert_eq!(&*event.source, "m365", "{at}: source");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time_us");
    assert_eq!(event.event_id, want.event_id, "{at}: event_id");
    assert_eq!(event.action.as_deref(), Some(want.action), "{at}: action");
    assert_eq!(event.outcome, want.outcome, "{at}: outcome");
    assert_eq!(event.class, want.class, "{at}: class");
    assert_eq!(event.token_id.as_deref(), want.token_id, "{at}: token_id");
    assert_eq!(event.token_kind, want.token_kind, "{at}: token_kind");
    assert_eq!(event.subject.as_deref(), want.subject, "{at}: subject");
    assert_eq!(event.client_id.as_deref(), want.client_id, "{at}: client_id");
    assert_eq!(event.session_id.as_deref(), want.session_id, "{at}: session_id");
    let src_ip: Option<IpAddr> = want.src_ip.map(|ip| ip.parse().expect("test IP"));
    assert_eq!(event.src_ip, src_ip, "{at}: src_ip");
    assert_eq!(event.geo, None, "{at}: geo");
    assert_eq!(event.asn, None, "{at}: asn");
    assert_eq!(event.user_agent.as_deref(), want.user_agent, "{at}: user_agent");
    assert_eq!(event.device_id.as_deref(), want.device_id, "{at}: device_id");
    assert!(event.scopes.is_empty(), "{at}: scopes {:?}", event.scopes);
    assert_eq!(event.resource.as_deref(), Some(want.resource), "{at}: resource");
    assert_eq!(event.http_status, None, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), Some(want.tenant), "{at}: tenant");
}

fn fixture_records(rel: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(common::fixture(rel)).unwrap();
    if rel.ends_with(".jsonl") {
        text.lines().filter(|line| !line.trim().is_empty()).map(|line| serde_json::from_str(line).unwrap()).collect()
    } else {
        serde_json::from_str::<Vec<Value>>(&text).unwrap()
    }
}

fn only_event(record: &Value) -> Event {
    let bytes = serde_json::to_vec(record).unwrap();
    let mut out = Vec::new();
    common::normalizer(None).normalize(&bytes, &Origin::file(Arc::from("derived.jsonl"), 1), &mut |n| out.push(n));
    assert_eq!(out.len(), 1, "{out:#?}");
    match out.remove(0) {
        Normalized::Event(event) => event,
        Normalized::DeadLetter(letter) => panic!("dead letter: {letter:#?}"),
    }
}

const FIREFOX_72: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.14; rv:72.0) Gecko/20100101 Firefox/72.0";
const CHROME_65: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/537.36 (KHTML, like Gecko) \
                         Chrome/65.0.3325.162 Safari/537.36";

#[test]
fn unified_audit_records() {
    let rel = "m365/unified_audit.jsonl";
    let events = common::events(rel, Some("m365"));
    let expected = [
        // AzureActiveDirectory STS logon, user agent in ExtendedProperties.
        Expect {
            time: "2020-02-10T15:13:13Z",
            event_id: "ca0efc24-1b89-4962-8fef-a3ac5437302f",
            action: "UserLoggedIn",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            subject: Some("asr@testsiem.onmicrosoft.com"),
            client_id: Some("4345a7b9-9a63-4910-a426-35363201d503"),
            src_ip: Some("67.43.156.15"),
            user_agent: Some(FIREFOX_72),
            resource: "AzureActiveDirectory",
            tenant: "b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd",
            ..NONE
        },
        // Another STS logon, as a log shipper fetched it from a content blob.
        Expect {
            time: "2018-03-21T17:00:32Z",
            event_id: "425415ab-86e9-4ae1-b91f-61d748d2a812",
            action: "UserLoggedIn",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            subject: Some("kkuzmin@alazurealertlogic.onmicrosoft.com"),
            client_id: Some("c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
            src_ip: Some("87.113.76.58"),
            user_agent: Some(CHROME_65),
            resource: "AzureActiveDirectory",
            tenant: "bf8d32d3-1c13-4487-af02-80dba2236485",
            ..NONE
        },
        // Failed STS logon (ResultStatus Failed).
        Expect {
            time: "2017-12-19T06:50:23Z",
            event_id: "72253d17-6292-4c2e-8eb7-85506e78d4f7",
            action: "UserLoginFailed",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            subject: Some("testuser@alazurealertlogic.onmicrosoft.com"),
            src_ip: Some("204.110.219.5"),
            resource: "AzureActiveDirectory",
            tenant: "bf8d32d3-1c13-4487-af02-80dba2236485",
            ..NONE
        },
        // 2026 STS logon with DeviceProperties: its SessionId is the session token.
        Expect {
            time: "2026-07-17T08:28:17Z",
            event_id: "d87d2977-96b6-4c65-aa44-032f7e314400",
            action: "UserLoggedIn",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("009ce429-40c2-14b7-a6c2-73f53f4e8d22"),
            token_kind: TokenKind::Session,
            subject: Some("adele.vance@contoso.com"),
            client_id: Some("80ccca67-54bd-44ab-8625-4b79c4dc7775"),
            session_id: Some("009ce429-40c2-14b7-a6c2-73f53f4e8d22"),
            src_ip: Some("2001:db8::1038"),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/151.0.0.0 Safari/537.36",
            ),
            resource: "AzureActiveDirectory",
            tenant: "0f0f0f0f-1111-4222-8333-444444444444",
            ..NONE
        },
        // Entra directory administration.
        Expect {
            time: "2020-02-09T15:33:26Z",
            event_id: "8f6eb24b-6e61-4ee2-a376-31368c300613",
            action: "Update application.",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            subject: Some("asr@testsiem.onmicrosoft.com"),
            src_ip: Some("83.57.233.151"),
            resource: "AzureActiveDirectory",
            tenant: "b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd",
            ..NONE
        },
        // Exchange mailbox access through the REST API: the access token's id is logged.
        Expect {
            time: "2025-09-29T01:01:01Z",
            event_id: "88888888-4444-5555-6666-123456789012",
            action: "AttachmentAccess",
            outcome: Outcome::Success,
            token_id: Some("12345678-1234-1234-abcd-abcdef123456"),
            token_kind: TokenKind::Access,
            subject: Some("user@example.com"),
            client_id: Some("abcdabcd-1234-12ab-1a2b-ad1234567890"),
            src_ip: Some("203.0.113.5"),
            user_agent: Some("Client=REST;Client=RESTSystem;;"),
            resource: "Exchange",
            tenant: "1234abcd-4321-dcba-43ab-1023456789ab",
            ..NONE
        },
        // OneDrive (SharePoint) file access without ResultStatus: outcome unknown.
        Expect {
            time: "2020-02-07T16:44:08Z",
            event_id: "25b08f04-48ee-4755-ce22-08d7abecf3a9",
            action: "FileAccessed",
            subject: Some("asr@testsiem.onmicrosoft.com"),
            src_ip: Some("67.43.156.15"),
            user_agent: Some(FIREFOX_72),
            resource: "OneDrive",
            tenant: "b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd",
            ..NONE
        },
    ];
    assert_eq!(events.len(), expected.len());
    for (event, want) in events.iter().zip(&expected) {
        check(event, want);
    }
    assert_eq!(common::events(rel, None), events, "auto-detection differs from --source m365");
}

#[test]
fn content_blob_array_is_split() {
    // A Management Activity API content blob is a JSON array of records.
    let events = common::events("m365/content_blob.json", None);
    assert_eq!(events.len(), 2);
    for (index, event) in events.iter().enumerate() {
        assert!(matches!(event.origin, Origin::File { index: Some(i), .. } if i as usize == index));
        check(
            event,
            &Expect {
                time: "2018-03-21T17:00:32Z",
                event_id: "425415ab-86e9-4ae1-b91f-61d748d2a812",
                action: "UserLoggedIn",
                outcome: Outcome::Success,
                class: EventClass::Authentication,
                subject: Some("kkuzmin@alazurealertlogic.onmicrosoft.com"),
                client_id: Some("c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
                src_ip: Some("87.113.76.58"),
                user_agent: Some(CHROME_65),
                resource: "AzureActiveDirectory",
                tenant: "bf8d32d3-1c13-4487-af02-80dba2236485",
                ..NONE
            },
        );
    }
}

#[test]
fn detection_picks_m365() {
    let registry = SourceRegistry::builtin().unwrap();
    for rel in ["m365/unified_audit.jsonl", "m365/content_blob.json"] {
        for (index, record) in fixture_records(rel).iter().enumerate() {
            let chosen = registry.detect(record).unwrap_or_else(|| panic!("{rel}[{index}]: not detected"));
            assert_eq!(chosen.qualified_name(), "m365", "{rel}[{index}]");
            for other in registry.mappings() {
                if other.matches(record) && !Arc::ptr_eq(other, chosen) {
                    assert!(
                        other.priority < chosen.priority,
                        "{rel}[{index}]: also claimed by {} at priority {}",
                        other.qualified_name(),
                        other.priority
                    );
                }
            }
        }
    }
    // And the Entra records are not taken for unified audit records.
    let m365 = &registry.layouts("m365").unwrap()[0];
    for rel in ["entra/signin_graph.jsonl", "entra/signin_azure_monitor.jsonl", "entra/graph_activity.jsonl"] {
        let text = std::fs::read_to_string(common::fixture(rel)).unwrap();
        for line in text.lines() {
            assert!(!m365.matches(&serde_json::from_str(line).unwrap()), "{rel}: {line}");
        }
    }
}

/// SharePoint, OneDrive and Teams operations performed with an Entra token carry
/// AppAccessContext: UniqueTokenId (the access token) when logged, else AADSessionId (the session).
/// Derived from the OneDrive fixture record by adding the context the workloads now log.
#[test]
fn app_access_context_names_the_token() {
    let file_accessed = fixture_records("m365/unified_audit.jsonl")[6].clone();

    let mut with_session = file_accessed.clone();
    with_session["AppAccessContext"] =
        json!({"AADSessionId": "006cd379-1b2c-4d5e-8f90-123456789abc", "ClientAppName": "Microsoft Office"});
    let event = only_event(&with_session);
    assert_eq!(event.token_id.as_deref(), Some("006cd379-1b2c-4d5e-8f90-123456789abc"));
    assert_eq!(event.token_kind, TokenKind::Session);
    assert_eq!(event.session_id.as_deref(), Some("006cd379-1b2c-4d5e-8f90-123456789abc"));

    let mut with_token = with_session.clone();
    with_token["AppAccessContext"]["UniqueTokenId"] = json!("uc5AJHAAZkWKJYVV8OgTAA");
    with_token["AppAccessContext"]["ClientAppId"] = json!("d3590ed6-52b3-4102-aeff-aad2292ab01c");
    let event = only_event(&with_token);
    assert_eq!(event.token_id.as_deref(), Some("uc5AJHAAZkWKJYVV8OgTAA"));
    assert_eq!(event.token_kind, TokenKind::Access);
    assert_eq!(event.session_id.as_deref(), Some("006cd379-1b2c-4d5e-8f90-123456789abc"));
    assert_eq!(event.client_id.as_deref(), Some("d3590ed6-52b3-4102-aeff-aad2292ab01c"));
}

/// For Entra STS logons ResultStatus only reports the HTTP operation; the operation name decides.
/// A failed logon's DeviceProperties session is not a token. Derived from the fixture records.
#[test]
fn logon_outcome_follows_the_operation() {
    let records = fixture_records("m365/unified_audit.jsonl");
    let mut failed = records[3].clone();
    failed["Operation"] = json!("UserLoginFailed");
    failed["ResultStatus"] = json!("Success");
    let event = only_event(&failed);
    assert_eq!(event.outcome, Outcome::Failure);
    assert_eq!(event.class, EventClass::Authentication);
    assert_eq!(event.token_id, None);
    assert_eq!(event.session_id.as_deref(), Some("009ce429-40c2-14b7-a6c2-73f53f4e8d22"));

    // Exchange admin cmdlets report True/False; a port on ClientIP is dropped.
    let mut cmdlet = records[5].clone();
    cmdlet["Operation"] = json!("New-InboxRule");
    cmdlet["ResultStatus"] = json!("False");
    cmdlet["ClientIP"] = json!("185.73.124.135:19823");
    let event = only_event(&cmdlet);
    assert_eq!(event.outcome, Outcome::Failure);
    assert_eq!(event.class, EventClass::EntityManagement);
    assert_eq!(event.src_ip, Some("185.73.124.135".parse().unwrap()));
}

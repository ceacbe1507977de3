mod common;

use tokenwatch_schemas::{Event, EventClass, Outcome, SourceRegistry, TokenKind};

const SOURCE: &str = "slack";
const FILE: &str = "slack/audit.jsonl";

/// Everything a fixture record must normalise to. Slack records carry no geolocation of their own
/// (`context.location` is a workspace), so every event's geo is asserted absent.
struct Want<'a> {
    time: &'a str,
    event_id: &'a str,
    action: &'a str,
    outcome: Outcome,
    class: EventClass,
    token: Option<(&'a str, TokenKind)>,
    subject: Option<&'a str>,
    client_id: Option<&'a str>,
    session_id: Option<&'a str>,
    src_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    scopes: &'a [&'a str],
    resource: Option<&'a str>,
    tenant: Option<&'a str>,
}

fn check(event: &Event, want: &Want<'_>) {
    let at = format!("{} ({})", want.action, event.origin);
    assert_eq!(&*event.source, SOURCE, "{at}: source");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time");
    assert_eq!(event.event_id, want.event_id, "{at}: event_id");
    assert_eq!(event.action.as_deref(), Some(want.action), "{at}: action");
    assert_eq!(event.outcome, want.outcome, "{at}: outcome");
    assert_eq!(event.class, want.class, "{at}: class");
    assert_eq!(event.token_id.as_deref(), want.token.map(|(id, _)| id), "{at}: token_id");
    assert_eq!(event.token_kind, want.token.map_or(TokenKind::Unknown, |(_, kind)| kind), "{at}: token_kind");
    assert_eq!(event.subject.as_deref(), want.subject, "{at}: subject");
    assert_eq!(event.client_id.as_deref(), want.client_id, "{at}: client_id");
    assert_eq!(event.session_id.as_deref(), want.session_id, "{at}: session_id");
    assert_eq!(event.src_ip, want.src_ip.map(|ip| ip.parse().unwrap()), "{at}: src_ip");
    assert_eq!(event.geo, None, "{at}: geo");
    assert_eq!(event.user_agent.as_deref(), want.user_agent, "{at}: user_agent");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, None, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), want.tenant, "{at}: tenant");
}

fn events() -> Vec<Event> {
    let events = common::events(FILE, Some(SOURCE));
    assert_eq!(events.len(), 7);
    events
}

const MAC_CHROME_124: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

#[test]
fn sign_ins_succeed_or_fail_and_carry_no_token_without_a_session() {
    let events = events();
    // Slack's documentation example (via Elastic): no session id in the record.
    check(
        &events[0],
        &Want {
            time: "2018-03-16T15:32:23Z",
            event_id: "0123a45b-6c7d-8900-e12f-3456789gh0i1",
            action: "user_login",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token: None,
            subject: Some("bird@slack.com"),
            client_id: None,
            session_id: None,
            src_ip: Some("81.2.69.143"),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.186 Safari/537.36",
            ),
            scopes: &[],
            resource: None,
            tenant: Some("E1701NCCA"),
        },
    );
    check(
        &events[3],
        &Want {
            time: "2024-05-06T12:53:20Z",
            event_id: "5f0c2d1e-7a3b-4c8d-9e0f-1a2b3c4d5e6f",
            action: "user_login_failed",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            token: None,
            subject: Some("ada@example.com"),
            client_id: None,
            session_id: None,
            src_ip: Some("203.0.113.66"),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"),
            scopes: &[],
            resource: None,
            tenant: Some("T0EXAMPLE1"),
        },
    );
}

#[test]
fn actions_in_a_session_carry_the_session_as_token() {
    let events = events();
    // Numeric `session_id` in the record, kept as its decimal text.
    check(
        &events[1],
        &Want {
            time: "2023-05-11T20:17:55Z",
            event_id: "2db28060-1659-4b27-ad55-fdba12e3a7b1",
            action: "file_downloaded",
            outcome: Outcome::Success,
            class: EventClass::ApiActivity,
            token: Some(("913888259765", TokenKind::Session)),
            subject: Some("user.mcuser@abcd.co"),
            client_id: None,
            session_id: Some("913888259765"),
            src_ip: Some("81.2.69.144"),
            user_agent: Some("com.tinyspeck.chatlyio/23.04.40 (iPhone; iOS 1.4.1; Scale/3.00)"),
            scopes: &[],
            resource: Some("image.png"),
            tenant: Some("eedd1a7d-1a92-418d-8b01-51a4c809d0fb"),
        },
    );
    // An admin widening an app's scopes in a session: the session is the credential used, the app
    // is the client, the scopes are the new ones.
    check(
        &events[4],
        &Want {
            time: "2024-05-06T13:53:20Z",
            event_id: "9b1d6f4a-2c3e-4f5a-8b7c-0d1e2f3a4b5c",
            action: "app_scopes_expanded",
            outcome: Outcome::Success,
            class: EventClass::AccountChange,
            token: Some(("6242137705123", TokenKind::Session)),
            subject: Some("org-admin@example.com"),
            client_id: Some("A0EXAMPLEAPP"),
            session_id: Some("6242137705123"),
            src_ip: Some("198.51.100.77"),
            user_agent: Some(MAC_CHROME_124),
            scopes: &["channels:read", "chat:write", "files:read", "users:read.email"],
            resource: Some("Example Reporter"),
            tenant: Some("E0EXAMPLE0"),
        },
    );
    check(
        &events[6],
        &Want {
            time: "2024-05-06T15:53:20Z",
            event_id: "7d6c5b4a-3928-4170-a5f4-e3d2c1b0a998",
            action: "user_session_invalidated",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token: Some(("6242137705123", TokenKind::Session)),
            subject: Some("org-admin@example.com"),
            client_id: None,
            session_id: Some("6242137705123"),
            src_ip: Some("198.51.100.77"),
            user_agent: Some(MAC_CHROME_124),
            scopes: &[],
            resource: None,
            tenant: Some("E0EXAMPLE0"),
        },
    );
}

#[test]
fn app_events_without_a_session_name_the_app_grant() {
    let events = events();
    check(
        &events[5],
        &Want {
            time: "2024-05-06T14:53:20Z",
            event_id: "3c2b1a09-8f7e-4d6c-5b4a-3928171605f4",
            action: "app_installed",
            outcome: Outcome::Success,
            class: EventClass::AccountChange,
            token: Some(("A0EXAMPLEAP2", TokenKind::OauthGrant)),
            subject: Some("org-admin@example.com"),
            client_id: Some("A0EXAMPLEAP2"),
            session_id: None,
            src_ip: Some("198.51.100.77"),
            user_agent: Some("Go-http-client/2.0"),
            scopes: &["commands", "chat:write", "im:history"],
            resource: Some("Example Standup Bot"),
            tenant: Some("T0EXAMPLE1"),
        },
    );
}

#[test]
fn anomalies_are_findings_with_unknown_outcome() {
    let events = events();
    check(
        &events[2],
        &Want {
            time: "2023-01-13T17:38:51Z",
            event_id: "16f5fb41-c67c-4cf5-a5c4-d90cb58dd5f9",
            action: "anomaly",
            outcome: Outcome::Unknown,
            class: EventClass::Other,
            token: None,
            subject: Some("aaron@demo.com"),
            client_id: None,
            session_id: None,
            src_ip: Some("81.2.69.143"),
            user_agent: Some("Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:23.0) Gecko/20131011 Firefox/23.0"),
            scopes: &[],
            resource: None,
            tenant: Some("e65b11aa"),
        },
    );
}

#[test]
fn auto_detection_picks_slack_and_no_other_layout_claims_its_records() {
    let registry = SourceRegistry::builtin().unwrap();
    assert_eq!(common::events(FILE, None), common::events(FILE, Some(SOURCE)), "detection and --source disagree");
    for (line, text) in std::fs::read_to_string(common::fixture(FILE)).unwrap().lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(text).unwrap();
        let claimed: Vec<String> =
            registry.mappings().iter().filter(|m| m.matches(&record)).map(|m| m.qualified_name()).collect();
        assert_eq!(claimed, [SOURCE], "{FILE}:{}: layouts matching the record", line + 1);
    }
}

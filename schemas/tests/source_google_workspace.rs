mod common;

use tokenwatch_schemas::{Event, EventClass, Outcome, SourceRegistry, TokenKind};

const SOURCE: &str = "google_workspace";
const FILES: &[&str] =
    &["google_workspace/token.jsonl", "google_workspace/login.jsonl", "google_workspace/admin.jsonl"];

/// Everything a fixture record must normalise to.
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
    country: Option<&'a str>,
    asn: Option<u32>,
    user_agent: Option<&'a str>,
    scopes: &'a [&'a str],
    resource: Option<&'a str>,
    http_status: Option<u16>,
    tenant: Option<&'a str>,
}

fn check(event: &Event, want: &Want<'_>) {
    let at = format!("{} ({})", want.event_id, event.origin);
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
    assert_eq!(event.geo.as_ref().and_then(|geo| geo.country.as_deref()), want.country, "{at}: geo country");
    assert_eq!(event.asn, want.asn, "{at}: asn");
    assert_eq!(event.user_agent.as_deref(), want.user_agent, "{at}: user_agent");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, want.http_status, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), want.tenant, "{at}: tenant");
}

const ELASTIC_CLIENT: &str = "923474483785-sqf6uk8vq1rqe853il0g2h4m98ji2fq6.apps.googleusercontent.com";
const CRM_CLIENT: &str = "111122223333-exampleclientidexample0000000000.apps.googleusercontent.com";
const NOTES_CLIENT: &str = "444455556666-anotherexampleclientid000000000.apps.googleusercontent.com";
const CRM_SCOPES: &[&str] =
    &["https://www.googleapis.com/auth/gmail.readonly", "https://www.googleapis.com/auth/drive", "openid"];

#[test]
fn token_activities_are_oauth_grants_named_by_client_id() {
    let events = common::events("google_workspace/token.jsonl", Some(SOURCE));
    assert_eq!(events.len(), 5);
    // Elastic's sample: `events` as one object, scopes both as `scope` and `scope_data`.
    check(
        &events[0],
        &Want {
            time: "2023-01-01T06:24:42.442Z",
            event_id: "-6709442587437772138",
            action: "authorize",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token: Some((ELASTIC_CLIENT, TokenKind::OauthGrant)),
            subject: Some("foo@bar.com"),
            client_id: Some(ELASTIC_CLIENT),
            session_id: None,
            src_ip: Some("89.160.20.112"),
            country: None,
            asn: None,
            user_agent: None,
            scopes: &[
                "https://www.googleapis.com/auth/gmail.addons.current.message.readonly",
                "https://www.googleapis.com/auth/gmail.addons.execute",
                "https://www.googleapis.com/auth/script.external_request",
                "https://www.googleapis.com/auth/script.storage",
                "https://www.googleapis.com/auth/userinfo.email",
            ],
            // The sample carries `method_name: oauth` on the authorize event.
            resource: Some("oauth"),
            http_status: None,
            tenant: Some("C02umwv6u"),
        },
    );
    // API layout (`events` list, parameters as `{name, value|multiValue}`), with networkInfo.
    check(
        &events[1],
        &Want {
            time: "2024-05-06T08:15:02.117Z",
            event_id: "-2718281828459045235",
            action: "authorize",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token: Some((CRM_CLIENT, TokenKind::OauthGrant)),
            subject: Some("alice@example.com"),
            client_id: Some(CRM_CLIENT),
            session_id: None,
            src_ip: Some("203.0.113.41"),
            country: Some("DE"),
            asn: Some(64501),
            user_agent: None,
            scopes: CRM_SCOPES,
            resource: None,
            http_status: None,
            tenant: Some("C0abc1234"),
        },
    );
    // An API call made under the grant: same token id, the method as resource.
    check(
        &events[2],
        &Want {
            time: "2024-05-06T09:40:55.803Z",
            event_id: "3141592653589793238",
            action: "activity",
            outcome: Outcome::Success,
            class: EventClass::ApiActivity,
            token: Some((CRM_CLIENT, TokenKind::OauthGrant)),
            subject: Some("alice@example.com"),
            client_id: Some(CRM_CLIENT),
            session_id: None,
            src_ip: Some("198.51.100.200"),
            country: Some("SG"),
            asn: Some(64510),
            user_agent: None,
            scopes: &[],
            resource: Some("gmail.users.messages.list"),
            http_status: None,
            tenant: Some("C0abc1234"),
        },
    );
    // The grant revoked (by an admin): an account change on the same token id.
    check(
        &events[3],
        &Want {
            time: "2024-05-07T17:03:19.450Z",
            event_id: "-1618033988749894848",
            action: "revoke",
            outcome: Outcome::Success,
            class: EventClass::AccountChange,
            token: Some((CRM_CLIENT, TokenKind::OauthGrant)),
            subject: Some("admin@example.com"),
            client_id: Some(CRM_CLIENT),
            session_id: None,
            src_ip: Some("203.0.113.9"),
            country: None,
            asn: None,
            user_agent: None,
            scopes: CRM_SCOPES,
            resource: None,
            http_status: None,
            tenant: Some("C0abc1234"),
        },
    );
    // Flattened shipper layout: `name`/`type`/`parameters` map at the top, space-separated time.
    check(
        &events[4],
        &Want {
            time: "2024-05-08T11:22:33Z",
            event_id: "2718281828459045235",
            action: "authorize",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token: Some((NOTES_CLIENT, TokenKind::OauthGrant)),
            subject: Some("bob@example.com"),
            client_id: Some(NOTES_CLIENT),
            session_id: None,
            src_ip: Some("192.0.2.77"),
            country: None,
            asn: None,
            user_agent: None,
            scopes: &["https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/userinfo.email"],
            resource: None,
            http_status: None,
            tenant: Some("C0abc1234"),
        },
    );
}

/// Elastic's login samples share everything but the event.
fn login(action: &'static str, outcome: Outcome) -> Want<'static> {
    Want {
        time: "2020-10-02T15:00:00Z",
        event_id: "1",
        action,
        outcome,
        class: EventClass::Authentication,
        token: None,
        subject: Some("foo@bar.com"),
        client_id: None,
        session_id: None,
        src_ip: Some("67.43.156.13"),
        country: None,
        asn: None,
        user_agent: None,
        scopes: &[],
        resource: None,
        http_status: None,
        tenant: Some("1"),
    }
}

#[test]
fn login_activities_have_outcomes_and_no_token() {
    let events = common::events("google_workspace/login.jsonl", Some(SOURCE));
    assert_eq!(events.len(), 6);
    check(&events[0], &login("login_success", Outcome::Success));
    check(&events[1], &login("login_failure", Outcome::Failure));
    // "Suspicious login blocked".
    check(&events[2], &login("suspicious_login", Outcome::Failure));
    // Second factor passed: the challenge status decides.
    check(
        &events[3],
        &Want {
            time: "2025-02-27T05:59:58.481Z",
            event_id: "123",
            action: "login_verification",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token: None,
            subject: Some("tl.zeous.daclitan@company.com"),
            client_id: None,
            session_id: None,
            src_ip: Some("81.2.69.144"),
            country: None,
            asn: None,
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("123"),
        },
    );
    // API layout, IPv6 caller, failed challenge.
    check(
        &events[4],
        &Want {
            time: "2024-05-06T08:14:40.002Z",
            event_id: "-5772156649015328606",
            action: "login_challenge",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            token: None,
            subject: Some("alice@example.com"),
            client_id: None,
            session_id: None,
            src_ip: Some("2001:db8:85a3::8a2e:370:7334"),
            country: Some("DE"),
            asn: Some(64501),
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("C0abc1234"),
        },
    );
    // Flattened layout.
    check(
        &events[5],
        &Want {
            time: "2024-05-08T11:20:01.5Z",
            event_id: "1414213562373095048",
            action: "login_success",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token: None,
            subject: Some("bob@example.com"),
            client_id: None,
            session_id: None,
            src_ip: Some("192.0.2.77"),
            country: None,
            asn: None,
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("C0abc1234"),
        },
    );
}

#[test]
fn admin_activities_are_entity_management_without_token() {
    let events = common::events("google_workspace/admin.jsonl", Some(SOURCE));
    assert_eq!(events.len(), 3);
    check(
        &events[0],
        &Want {
            time: "2025-10-06T09:00:40.802Z",
            event_id: "-5906342141811925274",
            action: "CHANGE_APPLICATION_SETTING",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            token: None,
            subject: Some("user@email.io"),
            client_id: None,
            session_id: None,
            src_ip: Some("175.16.199.0"),
            country: Some("IN"),
            asn: Some(55256),
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("C03puekhd"),
        },
    );
    check(
        &events[1],
        &Want {
            time: "2020-10-02T15:00:00Z",
            event_id: "1",
            action: "ADD_TO_TRUSTED_OAUTH2_APPS",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            token: None,
            subject: Some("foo@bar.com"),
            client_id: None,
            session_id: None,
            src_ip: Some("67.43.156.13"),
            country: None,
            asn: None,
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("1"),
        },
    );
    // Done through the API by an app: the app's client id, but no token of the admin's.
    check(
        &events[2],
        &Want {
            time: "2024-05-09T07:45:12.345Z",
            event_id: "-4669201609102990671",
            action: "CHANGE_PASSWORD",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            token: None,
            subject: Some("admin@example.com"),
            client_id: Some("777788889999-adminautomationexample00000000.apps.googleusercontent.com"),
            session_id: None,
            src_ip: Some("198.51.100.10"),
            country: None,
            asn: None,
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("C0abc1234"),
        },
    );
}

#[test]
fn grant_use_and_revocation_share_the_token_id() {
    let events = common::events("google_workspace/token.jsonl", Some(SOURCE));
    let crm: Vec<&str> = events
        .iter()
        .filter(|e| e.token_id.as_deref() == Some(CRM_CLIENT))
        .filter_map(|e| e.action.as_deref())
        .collect();
    assert_eq!(crm, ["authorize", "activity", "revoke"]);
}

#[test]
fn auto_detection_picks_google_workspace_and_no_other_layout_claims_its_records() {
    let registry = SourceRegistry::builtin().unwrap();
    for file in FILES {
        let detected = common::events(file, None);
        let forced = common::events(file, Some(SOURCE));
        assert_eq!(detected, forced, "{file}: detection and --source disagree");
        for (line, text) in std::fs::read_to_string(common::fixture(file)).unwrap().lines().enumerate() {
            let record: serde_json::Value = serde_json::from_str(text).unwrap();
            let claimed: Vec<String> =
                registry.mappings().iter().filter(|m| m.matches(&record)).map(|m| m.qualified_name()).collect();
            assert_eq!(claimed, [SOURCE], "{file}:{}: layouts matching the record", line + 1);
        }
    }
}

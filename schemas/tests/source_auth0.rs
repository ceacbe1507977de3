mod common;

use std::sync::Arc;

use serde_json::Value;
use tokenwatch_schemas::{Event, EventClass, Normalized, Origin, Outcome, SourceRegistry, TokenKind};

const LOG_STREAM: &str = "auth0/log_stream.jsonl";

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
    user_agent: &'static str,
    scopes: &'static [&'static str],
    resource: Option<&'static str>,
    http_status: Option<u16>,
    tenant: Option<&'static str>,
}

fn check(at: &str, event: &Event, want: Want) {
    assert_eq!(&*event.source, "auth0", "{at}");
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
    // Log stream events carry no location (only the Management API adds `location_info`) and
    // there is no IP database in the tests.
    assert_eq!(event.geo, None, "{at}: geo");
    assert_eq!(event.asn, None, "{at}: asn");
    assert_eq!(event.as_org, None, "{at}: as_org");
    assert_eq!(event.user_agent.as_deref(), Some(want.user_agent), "{at}: user_agent");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, want.http_status, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), want.tenant, "{at}: tenant");
    assert_eq!(event.device_id, None, "{at}: device_id");
}

const APP: &str = "aI61p8I8aFjmYRliLWgvM9ev97kCCNDB";
const TENANT: &str = "dev-yoj8axza.au.auth0.com";
const CHROME: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36";

fn log_stream() -> Vec<Event> {
    let events = common::events(LOG_STREAM, None);
    assert_eq!(events.len(), 7);
    events
}

#[test]
fn successful_login_is_identified_by_its_session() {
    check(
        "s",
        &log_stream()[0],
        Want {
            time: "2021-11-04T00:15:10.706Z",
            event_id: "90020211104001515271334544008635532534914988032684720226",
            action: "s",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some("m5SgtzMKxmeNBxj_kCfUUJhzrSdfvLFu"),
            token_kind: TokenKind::Session,
            subject: Some("auth0|618223a4e3f49e006948565c"),
            client_id: Some(APP),
            session_id: Some("m5SgtzMKxmeNBxj_kCfUUJhzrSdfvLFu"),
            src_ip: "114.76.60.57",
            user_agent: CHROME,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some(TENANT),
        },
    );
}

#[test]
fn code_exchange_is_identified_by_the_client_grant() {
    check(
        "seacft",
        &log_stream()[1],
        Want {
            time: "2021-11-04T00:15:10.907Z",
            event_id: "90020211104001514276223441402873466602396154780480176194",
            action: "seacft",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some(APP),
            token_kind: TokenKind::OauthGrant,
            subject: Some("auth0|618223a4e3f49e006948565c"),
            client_id: Some(APP),
            session_id: None,
            src_ip: "114.76.60.57",
            user_agent: "Go-http-client/2.0",
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some(TENANT),
        },
    );
}

#[test]
fn failed_login_keeps_its_session_audience_and_scope_list() {
    check(
        "f",
        &log_stream()[2],
        Want {
            time: "2021-11-04T00:29:50.035Z",
            event_id: "90020211104002953320334544994860291215054924285237788770",
            action: "f",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            token_id: Some("Z_IDr9JX5VzO1l-2IEk6bSXWP3mu4wMP"),
            token_kind: TokenKind::Session,
            subject: None,
            client_id: Some("360yuN1BXP4u3tBChK5VOgekgGJ7CwLL"),
            session_id: Some("Z_IDr9JX5VzO1l-2IEk6bSXWP3mu4wMP"),
            src_ip: "81.2.69.143",
            user_agent: CHROME,
            scopes: &["openid", "profile"],
            resource: Some("https://dev-yoj8axza.au.auth0.com/userinfo"),
            http_status: None,
            tenant: Some(TENANT),
        },
    );
}

#[test]
fn wrong_password_has_no_credential_to_name() {
    check(
        "fp",
        &log_stream()[3],
        Want {
            time: "2021-11-03T08:25:14.466Z",
            event_id: "90020211103082515482106767167326018758436529088273317970",
            action: "fp",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: Some("auth0|61823277a44a21007221a59a"),
            client_id: Some(APP),
            session_id: None,
            src_ip: "81.2.69.143",
            user_agent: CHROME,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: None,
        },
    );
}

#[test]
fn management_api_call_is_identified_by_the_access_token_jti() {
    check(
        "sapi",
        &log_stream()[4],
        Want {
            time: "2021-11-04T00:11:39.575Z",
            event_id: "90020211104001144643223441133851203963552710102024716354",
            action: "sapi",
            outcome: Outcome::Success,
            class: EventClass::ApiActivity,
            token_id: Some("08eb25a1ae7ae2bea404571e84634806"),
            token_kind: TokenKind::Access,
            subject: Some("auth0|6181ce2b0f293a006d158194"),
            client_id: Some("360yuN1BXP4u3tBChK5VOgekgGJ7CwLL"),
            session_id: None,
            src_ip: "35.167.74.121",
            user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWeb Kit/537.36 (KHTML, like Gecko) Chrome/95.0.4638.69 Safari/537.36",
            scopes: &[],
            resource: Some("/api/v2/log-streams"),
            http_status: Some(200),
            tenant: None,
        },
    );
}

#[test]
fn refresh_token_exchange_is_identified_by_the_client_grant() {
    check(
        "sertft",
        &log_stream()[5],
        Want {
            time: "2021-11-04T00:31:02.715Z",
            event_id: "90020211104003102715334545127813302487436981271205330018",
            action: "sertft",
            outcome: Outcome::Success,
            class: EventClass::Authentication,
            token_id: Some(APP),
            token_kind: TokenKind::OauthGrant,
            subject: Some("auth0|618223a4e3f49e006948565c"),
            client_id: Some(APP),
            session_id: None,
            src_ip: "114.76.60.57",
            user_agent: "Go-http-client/2.0",
            scopes: &["openid", "profile", "offline_access"],
            resource: Some("https://dev-yoj8axza.au.auth0.com/userinfo"),
            http_status: None,
            tenant: Some(TENANT),
        },
    );
}

#[test]
fn refresh_token_reuse_is_a_failed_exchange_of_the_same_grant() {
    let events = log_stream();
    check(
        "ferrt",
        &events[6],
        Want {
            time: "2021-11-04T00:44:16.120Z",
            event_id: "90020211104004416120334545327051160348213744531427016770",
            action: "ferrt",
            outcome: Outcome::Failure,
            class: EventClass::Authentication,
            token_id: Some(APP),
            token_kind: TokenKind::OauthGrant,
            subject: Some("auth0|618223a4e3f49e006948565c"),
            client_id: Some(APP),
            session_id: None,
            src_ip: "81.2.69.143",
            user_agent: "Go-http-client/2.0",
            scopes: &["openid", "profile", "offline_access"],
            resource: Some("https://dev-yoj8axza.au.auth0.com/userinfo"),
            http_status: None,
            tenant: Some(TENANT),
        },
    );
    // The reuse shows as the grant that exchanged from one address now failing from another.
    assert_eq!(events[5].token_id, events[6].token_id);
    assert_ne!(events[5].src_ip, events[6].src_ip);
}

#[test]
fn auto_detection_gives_the_same_events_as_the_forced_source() {
    let detected = common::events(LOG_STREAM, None);
    let forced = common::events(LOG_STREAM, Some("auth0"));
    assert_eq!(detected, forced);
    assert!(detected.iter().all(|event| &*event.source == "auth0"));
}

fn stream_records() -> Vec<Value> {
    std::fs::read_to_string(common::fixture(LOG_STREAM))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn management_api_shape_gives_the_same_events_when_the_source_is_given() {
    // `GET /api/v2/logs` returns the log events without the stream's `{log_id, data}` wrapper.
    let normalizer = common::normalizer(Some("auth0"));
    let file: Arc<str> = Arc::from("management_api.jsonl");
    let stream = log_stream();
    for (n, record) in stream_records().into_iter().enumerate() {
        let flat = record["data"].clone();
        let origin = Origin::file(Arc::clone(&file), n as u64 + 1);
        let mut out = Vec::new();
        normalizer.normalize_value(flat, &origin, &mut |result| out.push(result));
        let [Normalized::Event(event)] = out.as_slice() else { panic!("record {n}: {out:?}") };
        let mut expected = stream[n].clone();
        expected.origin = origin;
        assert_eq!(event, &expected, "record {n}");
    }
}

#[test]
fn no_other_builtin_layout_claims_an_auth0_record() {
    let registry = SourceRegistry::builtin().unwrap();
    let auth0 = registry.layouts("auth0").unwrap();
    for (n, record) in stream_records().iter().enumerate() {
        assert!(auth0.iter().any(|mapping| mapping.matches(record)), "record {n} is not recognised as Auth0");
        for mapping in registry.mappings().iter().filter(|mapping| &*mapping.name != "auth0") {
            assert!(!mapping.matches(record), "record {n} is also claimed by {}", mapping.qualified_name());
        }
    }
}

#[test]
fn auth0_does_not_claim_other_sources_fixtures() {
    common::assert_claims_no_other_fixture("auth0");
}

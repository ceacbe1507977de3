mod common;

use serde_json::Value;
use tokenwatch_schemas::{Event, EventClass, Normalized, Origin, Outcome, TokenKind};

const FIXTURE: &str = "kong/file_log.jsonl";

/// The JWT planted in the `authorization` header of record 4.
const JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im9yZGVycy0yMDI0In0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlLmNvbS9vYXV0aDIvZGVmYXVsdCIsInN1YiI6ImFsaWNlQGV4YW1wbGUuY29tIiwiYXVkIjoiYXBpOi8vb3JkZXJzIiwiYXpwIjoib3JkZXJzLXNwYSIsInNjb3BlIjoib3JkZXJzOnJlYWQgb3JkZXJzOndyaXRlIiwianRpIjoiQVQua29uZy03YzFlOWE1MiIsImlhdCI6MTcyNjc4NDAwMCwiZXhwIjoxNzI2Nzg3NjAwfQ.qQlUpPgzIP1W3gXjFRK_j_YkA8srRxn-1I5HZpUY61I";
/// The JWT planted in the `?jwt=` parameter of record 9 (Kong jwt plugin).
const JWT_QUERY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJtb2JpbGUtYXBwLWtleSIsInN1YiI6ImNhcm9sQGV4YW1wbGUuY29tIiwiY2xpZW50X2lkIjoibW9iaWxlLWFwcCIsInNjb3BlIjoicHJvZmlsZTpyZWFkIiwianRpIjoia29uZy1qd3QtcGx1Z2luLTUxZDBjNyIsImV4cCI6MTcyNjc5MDAwMH0._OZ6dQupSG1tb4O_h5-bAxGXy_-tH0OGULCOPykep5Y";
const OPAQUE: &str = "tw-raw-bearer-OPAQUE-1234567890";
const APIKEY_HEADER: &str = "tw-raw-apikey-HEADER-kong-5f2b9c";
const APIKEY_QUERY: &str = "tw-raw-apikey-QUERY-kong-8d4e1a";
const COOKIE_VALUE: &str = "tw-raw-cookie-SESSION-kong-3c7f0b";
const COOKIE_HEADER: &str = "session=tw-raw-cookie-SESSION-kong-3c7f0b; theme=dark";
/// The key-auth key Kong 0.x logged inside `authenticated_entity` (Kong's own documentation sample).
const OLD_KEY: &str = "2b64e2f0193851d4135a2e885cd08a65";

/// Every raw secret in the fixture, including each JWT's payload and signature segments.
fn secrets() -> Vec<&'static str> {
    let mut all = vec![OPAQUE, APIKEY_HEADER, APIKEY_QUERY, COOKIE_VALUE, OLD_KEY];
    for jwt in [JWT, JWT_QUERY] {
        all.push(jwt);
        all.extend(jwt.split('.').skip(1));
    }
    all
}

/// What one event must look like, field by field.
struct Want {
    time: &'static str,
    /// `None`: the record has no request id, so the event id is a `tw-` content hash.
    event_id: Option<&'static str>,
    action: Option<&'static str>,
    outcome: Outcome,
    token_id: Option<String>,
    token_kind: TokenKind,
    subject: Option<&'static str>,
    client_id: Option<&'static str>,
    scopes: &'static [&'static str],
    src_ip: Option<&'static str>,
    user_agent: Option<&'static str>,
    resource: Option<&'static str>,
    http_status: Option<u16>,
    tenant: Option<&'static str>,
}

fn check(n: usize, event: &Event, want: Want) {
    let at = format!("record {n}");
    assert_eq!(&*event.source, "kong", "{at}");
    assert_eq!(event.class, EventClass::ApiActivity, "{at}");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time");
    match want.event_id {
        Some(id) => assert_eq!(event.event_id, id, "{at}: event_id"),
        None => assert!(event.event_id.starts_with("tw-"), "{at}: event_id {}", event.event_id),
    }
    assert_eq!(event.action.as_deref(), want.action, "{at}: action");
    assert_eq!(event.outcome, want.outcome, "{at}: outcome");
    assert_eq!(event.token_id, want.token_id, "{at}: token_id");
    assert_eq!(event.token_kind, want.token_kind, "{at}: token_kind");
    assert_eq!(event.subject.as_deref(), want.subject, "{at}: subject");
    assert_eq!(event.client_id.as_deref(), want.client_id, "{at}: client_id");
    assert_eq!(event.session_id, None, "{at}: session_id");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.src_ip, want.src_ip.map(|ip| ip.parse().unwrap()), "{at}: src_ip");
    assert_eq!(event.geo, None, "{at}: geo");
    assert_eq!(event.user_agent.as_deref(), want.user_agent, "{at}: user_agent");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, want.http_status, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), want.tenant, "{at}: tenant");
    assert_eq!(event.origin, Origin::file(FIXTURE.into(), n as u64), "{at}: origin");
}

#[test]
fn every_record_maps_field_by_field() {
    let events = common::events(FIXTURE, Some("kong"));
    assert_eq!(events.len(), 9);

    // 1. Kong 3.8 documentation sample: no authentication plugin, nothing to identify a token.
    check(
        1,
        &events[0],
        Want {
            time: "2024-09-19T22:10:39.538Z",
            event_id: Some("2f6946328ffc4946b8c9120704a4a155"),
            action: Some("GET /example-route"),
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("192.168.65.1"),
            user_agent: Some("HTTPie/3.2.3"),
            resource: Some("/example-route"),
            http_status: Some(200),
            tenant: Some("default"),
        },
    );

    // 2. Kong 0.13+/1.x documentation sample: credential id and consumer, no request id.
    check(
        2,
        &events[1],
        Want {
            time: "2015-06-02T01:50:22.425Z",
            event_id: None,
            action: Some("GET /example-path"),
            outcome: Outcome::Success,
            token_id: Some("eaa330c0-4cff-47f5-c79e-b2e4f355207e".to_string()),
            token_kind: TokenKind::Unknown,
            subject: Some("demo"),
            client_id: None,
            scopes: &[],
            src_ip: Some("127.0.0.1"),
            user_agent: Some("curl/7.37.1"),
            resource: Some("/example-path"),
            http_status: Some(200),
            tenant: None,
        },
    );

    // 3. Kong 0.x documentation sample: the key-auth credential, raw key included, and an `api`
    //    object instead of a route (so the action has no route path).
    check(
        3,
        &events[2],
        Want {
            time: "2015-06-02T01:50:22.425Z",
            event_id: None,
            action: Some("GET -"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(OLD_KEY)),
            token_kind: TokenKind::ApiKey,
            subject: Some("80f74eef-31b8-45d5-c525-ae532297ea8e"),
            client_id: None,
            scopes: &[],
            src_ip: Some("127.0.0.1"),
            user_agent: Some("curl/7.37.1"),
            resource: Some("test.com"),
            http_status: Some(200),
            tenant: None,
        },
    );

    // 4. JWT bearer: the `jti` is the token id, the claims fill subject, client and scopes.
    check(
        4,
        &events[3],
        Want {
            time: "2024-09-19T22:15:00.123Z",
            event_id: Some("7d3c5a0e8f1b4c2d9e6a1b3c5d7e9f01"),
            action: Some("GET /v1/orders"),
            outcome: Outcome::Success,
            token_id: Some("AT.kong-7c1e9a52".to_string()),
            token_kind: TokenKind::Access,
            subject: Some("alice@example.com"),
            client_id: Some("orders-spa"),
            scopes: &["orders:read", "orders:write"],
            src_ip: Some("203.0.113.10"),
            user_agent: Some("orders-spa/2.4.1"),
            resource: Some("/v1/orders"),
            http_status: Some(200),
            tenant: Some("default"),
        },
    );

    // 5. Opaque bearer: fingerprinted, ahead of the credential id; the consumer is the subject.
    check(
        5,
        &events[4],
        Want {
            time: "2024-09-19T22:16:00.456Z",
            event_id: Some("a81f0c3e5b7d49e2b6c4d8e0f1a2b3c4"),
            action: Some("POST /v1/invoices"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(OPAQUE)),
            token_kind: TokenKind::Access,
            subject: Some("partner-acme"),
            client_id: None,
            scopes: &[],
            src_ip: Some("2001:db8:85a3::8a2e:370:7334"),
            user_agent: Some("acme-billing/5.1 (python-requests/2.31.0)"),
            resource: Some("/v1/invoices"),
            http_status: Some(201),
            tenant: Some("default"),
        },
    );

    // 6. `authorization: REDACTED` is skipped; the key-auth `apikey` header is fingerprinted.
    check(
        6,
        &events[5],
        Want {
            time: "2024-09-19T22:17:00.789Z",
            event_id: Some("b92e1d4f6c8e5af3c7d5e9f1a2b3c4d5"),
            action: Some("GET /v1/inventory"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(APIKEY_HEADER)),
            token_kind: TokenKind::ApiKey,
            subject: Some("inventory-sync"),
            client_id: None,
            scopes: &[],
            src_ip: Some("198.51.100.7"),
            user_agent: Some("inventory-sync/1.0 (Go-http-client/1.1)"),
            resource: Some("/v1/inventory"),
            http_status: Some(200),
            tenant: Some("default"),
        },
    );

    // 7. Unknown key in `?apikey=`: Kong answers 401 itself.
    check(
        7,
        &events[6],
        Want {
            time: "2024-09-19T22:18:01.012Z",
            event_id: Some("c03f2e5a7d9f6b04d8e6fa02b3c4d5e6"),
            action: Some("GET /v1/inventory"),
            outcome: Outcome::Failure,
            token_id: Some(common::fingerprint(APIKEY_QUERY)),
            token_kind: TokenKind::ApiKey,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("192.0.2.66"),
            user_agent: Some("curl/8.4.0"),
            resource: Some("/v1/inventory"),
            http_status: Some(401),
            tenant: Some("default"),
        },
    );

    // 8. Session cookie: the whole Cookie header is fingerprinted.
    check(
        8,
        &events[7],
        Want {
            time: "2024-09-19T22:19:01.345Z",
            event_id: Some("d14a3f6b8eaf7c15e9f70b13c4d5e6f7"),
            action: Some("GET /account"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(COOKIE_HEADER)),
            token_kind: TokenKind::Session,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("203.0.113.45"),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"),
            resource: Some("/account"),
            http_status: Some(200),
            tenant: Some("default"),
        },
    );

    // 9. jwt plugin, token in `?jwt=`: `jti` as id, the consumer (verified by Kong) as subject, the
    //    client and scopes from the claims.
    check(
        9,
        &events[8],
        Want {
            time: "2024-09-19T22:20:01.678Z",
            event_id: Some("e25b4a7c9fb08d26fa081c24d5e6f7a8"),
            action: Some("GET /v1/profile"),
            outcome: Outcome::Success,
            token_id: Some("kong-jwt-plugin-51d0c7".to_string()),
            token_kind: TokenKind::Access,
            subject: Some("mobile-app"),
            client_id: Some("mobile-app"),
            scopes: &["profile:read"],
            src_ip: Some("198.51.100.99"),
            user_agent: Some("ExampleMobile/7.2 (iOS 17.5)"),
            resource: Some("/v1/profile"),
            http_status: Some(200),
            tenant: Some("default"),
        },
    );
}

fn leaks(texts: &[String]) -> Vec<String> {
    common::leaks(texts, &secrets())
}

#[test]
fn no_raw_secret_reaches_events_or_dead_letters() {
    for source in [Some("kong"), None] {
        let (events, dead) = common::normalize_file(FIXTURE, source);
        assert_eq!(events.len(), 9, "{source:?}");
        let mut texts: Vec<String> =
            events.iter().map(|event| serde_json::to_string(&event.to_record()).unwrap()).collect();
        texts.extend(dead.iter().map(|letter| serde_json::to_string(letter).unwrap()));
        let found = leaks(&texts);
        assert!(found.is_empty(), "{source:?}: raw secrets leaked:\n{}", found.join("\n"));
    }
}

/// Records that fail to normalise keep their (redacted) content in the dead letter: drop `started_at`
/// from every planted record and check the dead letters.
fn dead_letters_without_time(lines: std::ops::Range<usize>) -> Vec<String> {
    let text = std::fs::read_to_string(common::fixture(FIXTURE)).unwrap();
    let normalizer = common::normalizer(Some("kong"));
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(index, _)| lines.contains(index)) {
        let mut record: Value = serde_json::from_str(line).unwrap();
        record.as_object_mut().unwrap().remove("started_at");
        let origin = Origin::file(FIXTURE.into(), index as u64 + 1);
        normalizer.normalize_value(record, &origin, &mut |result| match result {
            Normalized::DeadLetter(letter) => out.push(serde_json::to_string(&letter).unwrap()),
            Normalized::Event(event) => panic!("line {}: expected a dead letter, got {event:?}", index + 1),
        });
    }
    out
}

#[test]
fn dead_letters_of_planted_records_carry_no_raw_secret() {
    let texts = dead_letters_without_time(3..9);
    assert_eq!(texts.len(), 6);
    let found = leaks(&texts);
    assert!(found.is_empty(), "raw secrets leaked:\n{}", found.join("\n"));
}

#[test]
fn dead_letter_of_kong_0x_record_carries_no_raw_key() {
    let texts = dead_letters_without_time(2..3);
    let found = leaks(&texts);
    assert!(found.is_empty(), "raw secrets leaked:\n{}", found.join("\n"));
}

#[test]
fn auto_detection_picks_kong() {
    for event in common::events(FIXTURE, None) {
        assert_eq!(&*event.source, "kong", "{}", event.origin);
    }
}

#[test]
fn kong_claims_no_other_fixture() {
    common::assert_claims_no_other_fixture("kong");
}

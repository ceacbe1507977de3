mod common;

use serde_json::Value;
use tokenwatch_schemas::{Event, EventClass, Normalized, Origin, Outcome, TokenKind};

const FIXTURE: &str = "envoy/access_log.jsonl";

/// The JWT planted in the `authorization` key of record 4.
const JWT: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im1lc2gtMSJ9.eyJpc3MiOiJodHRwczovL2xvZ2luLmV4YW1wbGUub3JnLyIsInN1YiI6InN2Yy1yZXBvcnRpbmciLCJhdWQiOiJyZXBvcnRzIiwiY2xpZW50X2lkIjoicmVwb3J0aW5nLWJhdGNoIiwic2NvcGUiOiJyZXBvcnRzOnJlYWQgcmVwb3J0czpleHBvcnQiLCJqdGkiOiJlbnZveS1qdGktNGI4ZDBmMTEiLCJpYXQiOjE2ODY0MTEzMDAsImV4cCI6MTY4NjQxNDkwMH0.Kczk9wZI6D8HPjhOZmU-ZU4BfAskxMwxtmv_QsHuFrY";
const OPAQUE: &str = "tw-raw-bearer-OPAQUE-1234567890";
const APIKEY_HEADER: &str = "tw-raw-apikey-HEADER-envoy-2e7d4a";
const APIKEY_QUERY: &str = "tw-raw-apikey-QUERY-envoy-6b1c9f";
const COOKIE_VALUE: &str = "tw-raw-cookie-SESSION-envoy-9d3e7a";
const COOKIE_HEADER: &str = "sessionid=tw-raw-cookie-SESSION-envoy-9d3e7a; lang=en";

/// Every raw secret in the fixture, including the JWT's payload and signature segments.
fn secrets() -> Vec<&'static str> {
    let mut all = vec![OPAQUE, APIKEY_HEADER, APIKEY_QUERY, COOKIE_VALUE, JWT];
    all.extend(JWT.split('.').skip(1));
    all
}

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// What one event must look like, field by field.
struct Want {
    time: &'static str,
    event_id: &'static str,
    action: Option<String>,
    outcome: Outcome,
    token_id: Option<String>,
    token_kind: TokenKind,
    subject: Option<&'static str>,
    client_id: Option<&'static str>,
    scopes: &'static [&'static str],
    src_ip: Option<&'static str>,
    user_agent: Option<&'static str>,
    resource: Option<String>,
    http_status: Option<u16>,
}

fn check(n: usize, event: &Event, want: Want) {
    let at = format!("record {n}");
    assert_eq!(&*event.source, "envoy", "{at}");
    assert_eq!(event.class, EventClass::ApiActivity, "{at}");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time");
    assert_eq!(event.event_id, want.event_id, "{at}: event_id");
    assert_eq!(event.action, want.action, "{at}: action");
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
    assert_eq!(event.resource, want.resource, "{at}: resource");
    assert_eq!(event.http_status, want.http_status, "{at}: http_status");
    assert_eq!(event.tenant, None, "{at}: tenant");
    assert_eq!(event.origin, Origin::file(FIXTURE.into(), n as u64), "{at}: origin");
}

#[test]
fn every_record_maps_field_by_field() {
    let events = common::events(FIXTURE, Some("envoy"));
    assert_eq!(events.len(), 9);

    // 1. Istio documentation request, client (sleep) side, string values: X-Forwarded-For is `-`,
    //    so the peer `ip:port` is the source.
    check(
        1,
        &events[0],
        Want {
            time: "2020-11-25T21:26:18.409Z",
            event_id: "84961386-6d84-929d-98bd-c5aee93b5c88",
            action: some("GET /status/418"),
            outcome: Outcome::Failure,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("10.44.1.23"),
            user_agent: Some("curl/7.73.0-DEV"),
            resource: some("/status/418"),
            http_status: Some(418),
        },
    );

    // 2. The same request seen by the server (httpbin) sidecar: same request id.
    check(
        2,
        &events[1],
        Want {
            time: "2020-11-25T21:26:18.409Z",
            event_id: "84961386-6d84-929d-98bd-c5aee93b5c88",
            action: some("GET /status/418"),
            outcome: Outcome::Failure,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("10.44.1.23"),
            user_agent: Some("curl/7.73.0-DEV"),
            resource: some("/status/418"),
            http_status: Some(418),
        },
    );

    // 3. Envoy Gateway's default dictionary (typed values, header-named keys): the action cannot
    //    use `x-envoy-origin-path` (templates have no alternatives), the resource can.
    check(
        3,
        &events[2],
        Want {
            time: "2025-05-01T08:34:27.573Z",
            event_id: "e52f5442-5bb7-47bb-97e1-652f56bb6ad6",
            action: some("GET -"),
            outcome: Outcome::Failure,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("10.244.0.44"),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
            ),
            resource: some("/reviews/0"),
            http_status: Some(429),
        },
    );

    // 4. JWT bearer: `jti` as token id, claims fill subject/client/scopes; first X-Forwarded-For hop.
    check(
        4,
        &events[3],
        Want {
            time: "2023-06-10T15:36:28.412Z",
            event_id: "5b0f7c2e-1a9d-4e63-8f4b-2c7d9e1a3b5c",
            action: some("GET /api/v1/reports?from=2023-06-01"),
            outcome: Outcome::Success,
            token_id: some("envoy-jti-4b8d0f11"),
            token_kind: TokenKind::Access,
            subject: Some("svc-reporting"),
            client_id: Some("reporting-batch"),
            scopes: &["reports:read", "reports:export"],
            src_ip: Some("198.51.100.23"),
            user_agent: Some("reporting-batch/3.2 (okhttp/4.12.0)"),
            resource: some("/api/v1/reports?from=2023-06-01"),
            http_status: Some(200),
        },
    );

    // 5. Opaque bearer, X-Forwarded-For null: the peer address.
    check(
        5,
        &events[4],
        Want {
            time: "2023-06-10T15:37:02.050Z",
            event_id: "7c2e9a41-3b6d-4f18-9e0a-4d5c6b7a8f90",
            action: some("POST /api/v1/payments"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(OPAQUE)),
            token_kind: TokenKind::Access,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("192.0.2.44"),
            user_agent: Some("acme-payments/1.9"),
            resource: some("/api/v1/payments"),
            http_status: Some(201),
        },
    );

    // 6. API key header.
    check(
        6,
        &events[5],
        Want {
            time: "2023-06-10T15:37:45.901Z",
            event_id: "9e4a1b2c-5d6e-4f70-8a9b-0c1d2e3f4a5b",
            action: some("GET /api/v1/catalog"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(APIKEY_HEADER)),
            token_kind: TokenKind::ApiKey,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("203.0.113.8"),
            user_agent: Some("catalog-sync/0.4"),
            resource: some("/api/v1/catalog"),
            http_status: Some(200),
        },
    );

    // 7. API key in the query string, denied by ext_authz: the path keeps its query, with the key
    //    replaced by its fingerprint.
    let scrubbed_path = format!("/api/v1/catalog?api_key={}&page=2", common::fingerprint(APIKEY_QUERY));
    check(
        7,
        &events[6],
        Want {
            time: "2023-06-10T15:38:10.333Z",
            event_id: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            action: Some(format!("GET {scrubbed_path}")),
            outcome: Outcome::Failure,
            token_id: Some(common::fingerprint(APIKEY_QUERY)),
            token_kind: TokenKind::ApiKey,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("203.0.113.9"),
            user_agent: Some("python-requests/2.31.0"),
            resource: Some(scrubbed_path),
            http_status: Some(403),
        },
    );

    // 8. Session cookie: the whole Cookie header is fingerprinted.
    check(
        8,
        &events[7],
        Want {
            time: "2023-06-10T15:39:55.120Z",
            event_id: "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e",
            action: some("GET /account/settings"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(COOKIE_HEADER)),
            token_kind: TokenKind::Session,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("203.0.113.45"),
            user_agent: Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36",
            ),
            resource: some("/account/settings"),
            http_status: Some(200),
        },
    );

    // 9. Downstream disconnect: response code 0 is no HTTP status, so the outcome is unknown.
    check(
        9,
        &events[8],
        Want {
            time: "2023-06-10T15:40:31.007Z",
            event_id: "2c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f",
            action: some("GET /api/v1/export"),
            outcome: Outcome::Unknown,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("198.51.100.23"),
            user_agent: Some("reporting-batch/3.2 (okhttp/4.12.0)"),
            resource: some("/api/v1/export"),
            http_status: None,
        },
    );
}

fn leaks(texts: &[String]) -> Vec<String> {
    common::leaks(texts, &secrets())
}

#[test]
fn no_raw_secret_reaches_events_or_dead_letters() {
    for source in [Some("envoy"), None] {
        let (events, dead) = common::normalize_file(FIXTURE, source);
        assert_eq!(events.len(), 9, "{source:?}");
        let mut texts: Vec<String> =
            events.iter().map(|event| serde_json::to_string(&event.to_record()).unwrap()).collect();
        texts.extend(dead.iter().map(|letter| serde_json::to_string(letter).unwrap()));
        let found = leaks(&texts);
        assert!(found.is_empty(), "{source:?}: raw secrets leaked:\n{}", found.join("\n"));
    }
}

/// Records that fail to normalise keep their (redacted) content in the dead letter: drop the time
/// from every record and check the dead letters.
#[test]
fn dead_letters_carry_no_raw_secret() {
    let text = std::fs::read_to_string(common::fixture(FIXTURE)).unwrap();
    let normalizer = common::normalizer(Some("envoy"));
    let mut texts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut record: Value = serde_json::from_str(line).unwrap();
        record.as_object_mut().unwrap().remove("start_time");
        let origin = Origin::file(FIXTURE.into(), index as u64 + 1);
        normalizer.normalize_value(record, &origin, &mut |result| match result {
            Normalized::DeadLetter(letter) => texts.push(serde_json::to_string(&letter).unwrap()),
            Normalized::Event(event) => panic!("line {}: expected a dead letter, got {event:?}", index + 1),
        });
    }
    assert_eq!(texts.len(), 9);
    let found = leaks(&texts);
    assert!(found.is_empty(), "raw secrets leaked:\n{}", found.join("\n"));
}

#[test]
fn auto_detection_picks_envoy() {
    for event in common::events(FIXTURE, None) {
        assert_eq!(&*event.source, "envoy", "{}", event.origin);
    }
}

#[test]
fn envoy_claims_no_other_fixture() {
    common::assert_claims_no_other_fixture("envoy");
}

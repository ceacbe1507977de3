mod common;

use serde_json::Value;
use tokenwatch_schemas::{Event, EventClass, Normalized, Origin, Outcome, TokenKind};

const FIXTURE: &str = "nginx/access_json.jsonl";

/// The JWT planted in `http_authorization` of record 4.
const JWT: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5uZXQvIiwic3ViIjoiYm9iQGV4YW1wbGUuY29tIiwiYXVkIjoib3JkZXJzIiwiYXpwIjoibW9iaWxlLWlvcyIsInNjb3BlIjoicHJvZmlsZSBlbWFpbCBvcmRlcnM6cmVhZCIsImp0aSI6Im5naW54LWp0aS05YTJlNmMzZCIsImlhdCI6MTY4NjQxMTMwMCwiZXhwIjoxNjg2NDE0OTAwfQ.FujyZoPne-fN3oq9fbbfpJt_wHRlDysBnfffI2YLrRw";
const OPAQUE: &str = "tw-raw-bearer-OPAQUE-1234567890";
const APIKEY_HEADER: &str = "tw-raw-apikey-HEADER-nginx-a4c81e";
const APIKEY_QUERY: &str = "tw-raw-apikey-QUERY-nginx-7f20d3";
/// An API key that only appears in the request line of a minimal-format record.
const APIKEY_REQUEST_LINE: &str = "tw-raw-apikey-REQLINE-nginx-c3d9e1";
const COOKIE_VALUE: &str = "tw-raw-cookie-SESSION-nginx-5e9b2c";
const COOKIE_HEADER: &str = "PHPSESSID=tw-raw-cookie-SESSION-nginx-5e9b2c; lang=en";
/// `base64("ops:tw-raw-basic-PASSWORD-nginx")`, sent as `Authorization: Basic …`.
const BASIC: &str = "b3BzOnR3LXJhdy1iYXNpYy1QQVNTV09SRC1uZ2lueA==";
const BASIC_PASSWORD: &str = "tw-raw-basic-PASSWORD-nginx";

/// Every raw secret in the fixture, including the JWT's payload and signature segments.
fn secrets() -> Vec<&'static str> {
    let mut all =
        vec![OPAQUE, APIKEY_HEADER, APIKEY_QUERY, APIKEY_REQUEST_LINE, COOKIE_VALUE, BASIC, BASIC_PASSWORD, JWT];
    all.extend(JWT.split('.').skip(1));
    all
}

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// What one event must look like, field by field.
struct Want {
    time: &'static str,
    /// `None`: the format logs no `$request_id`, so the event id is a `tw-` content hash.
    event_id: Option<&'static str>,
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
    assert_eq!(&*event.source, "nginx", "{at}");
    assert_eq!(event.class, EventClass::ApiActivity, "{at}");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time");
    match want.event_id {
        Some(id) => assert_eq!(event.event_id, id, "{at}: event_id"),
        None => assert!(event.event_id.starts_with("tw-"), "{at}: event_id {}", event.event_id),
    }
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
    let events = common::events(FIXTURE, Some("nginx"));
    assert_eq!(events.len(), 10);

    // 1. Kong support article format (`$request` only, `$time_local` with an offset).
    check(
        1,
        &events[0],
        Want {
            time: "2016-10-25T14:49:33+02:00",
            event_id: None,
            action: some("GET / HTTP/1.1"),
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("67.43.156.13"),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/54.0.2840.59 Safari/537.36",
            ),
            resource: some("GET / HTTP/1.1"),
            http_status: Some(200),
        },
    );

    // 2. Published line with `$request_id`.
    check(
        2,
        &events[1],
        Want {
            time: "2022-11-04T09:42:14Z",
            event_id: Some("89b57bb39320389a08eb6bebd7c6ff9a"),
            action: some("GET /files/tracks.json HTTP/1.1"),
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("192.168.1.1"),
            user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:106.0) Gecko/20100101 Firefox/106.0"),
            resource: some("GET /files/tracks.json HTTP/1.1"),
            http_status: Some(200),
        },
    );

    // 3. `$time_iso8601` + `$request_method`/`$request_uri` and no `$request`: no action, the
    //    request URI is the resource; X-Forwarded-For `-` falls back to `$remote_addr`.
    check(
        3,
        &events[2],
        Want {
            time: "2016-12-07T10:34:43+01:00",
            event_id: None,
            action: None,
            outcome: Outcome::Failure,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("67.43.156.13"),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/54.0.2840.98 Safari/537.36",
            ),
            resource: some("/favicon.ico"),
            http_status: Some(404),
        },
    );

    // 4. JWT bearer behind a load balancer: `jti`, claims, first X-Forwarded-For hop.
    check(
        4,
        &events[3],
        Want {
            time: "2023-06-10T15:36:28Z",
            event_id: Some("3f6c1e9a0b2d4c8e7a5f1d3b9c0e2a4f"),
            action: some("GET /v1/orders?status=open HTTP/1.1"),
            outcome: Outcome::Success,
            token_id: some("nginx-jti-9a2e6c3d"),
            token_kind: TokenKind::Access,
            subject: Some("bob@example.com"),
            client_id: Some("mobile-ios"),
            scopes: &["profile", "email", "orders:read"],
            src_ip: Some("203.0.113.77"),
            user_agent: Some("ExampleShop/4.2 (iPhone; iOS 16.5)"),
            resource: some("/v1/orders"),
            http_status: Some(200),
        },
    );

    // 5. Opaque bearer, refused.
    check(
        5,
        &events[4],
        Want {
            time: "2023-06-10T15:36:41Z",
            event_id: Some("4a7d2f0b1c3e5d9f8b6a2e4c0d1f3b5a"),
            action: some("DELETE /v1/orders/1042 HTTP/1.1"),
            outcome: Outcome::Failure,
            token_id: Some(common::fingerprint(OPAQUE)),
            token_kind: TokenKind::Access,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("198.51.100.14"),
            user_agent: Some("curl/8.1.2"),
            resource: some("/v1/orders/1042"),
            http_status: Some(401),
        },
    );

    // 6. API key header.
    check(
        6,
        &events[5],
        Want {
            time: "2023-06-10T15:37:05Z",
            event_id: Some("5b8e3a1c2d4f6e0a9c7b3f5d1e2a4c6b"),
            action: some("GET /v1/stock HTTP/1.1"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(APIKEY_HEADER)),
            token_kind: TokenKind::ApiKey,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("192.0.2.21"),
            user_agent: Some("stock-poller/2.0"),
            resource: some("/v1/stock"),
            http_status: Some(200),
        },
    );

    // 7. API key in `$args`: fingerprinted as the token, and replaced by the same fingerprint in
    //    the request line.
    check(
        7,
        &events[6],
        Want {
            time: "2023-06-10T15:37:19Z",
            event_id: Some("6c9f4b2d3e5a7f1b0d8c4a6e2f3b5d7c"),
            action: Some(format!("GET /v1/stock?sku=42&api_key={} HTTP/1.1", common::fingerprint(APIKEY_QUERY))),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(APIKEY_QUERY)),
            token_kind: TokenKind::ApiKey,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("192.0.2.22"),
            user_agent: Some("python-requests/2.31.0"),
            resource: some("/v1/stock"),
            http_status: Some(200),
        },
    );

    // 8. Session cookie: the whole Cookie header is fingerprinted.
    check(
        8,
        &events[7],
        Want {
            time: "2023-06-10T15:38:02Z",
            event_id: Some("7d0a5c3e4f6b8a2c1e9d5b7f3a4c6e8d"),
            action: some("GET /account HTTP/1.1"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(COOKIE_HEADER)),
            token_kind: TokenKind::Session,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("203.0.113.45"),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:114.0) Gecko/20100101 Firefox/114.0"),
            resource: some("/account"),
            http_status: Some(200),
        },
    );

    // 9. HTTP Basic: `$remote_user` is the subject, the credential is fingerprinted with an
    //    unknown kind (it is no OAuth token).
    check(
        9,
        &events[8],
        Want {
            time: "2023-06-10T15:38:40Z",
            event_id: Some("8e1b6d4f5a7c9b3d2f0e6c8a4b5d7f9e"),
            action: some("GET /admin/status HTTP/1.1"),
            outcome: Outcome::Success,
            token_id: Some(common::fingerprint(BASIC)),
            token_kind: TokenKind::Unknown,
            subject: Some("ops"),
            client_id: None,
            scopes: &[],
            src_ip: Some("198.51.100.30"),
            user_agent: Some("Wget/1.21.3"),
            resource: some("/admin/status"),
            http_status: Some(200),
        },
    );

    // 10. Minimal format: an API key only in the request line is not taken as the token (its value
    //     would end in " HTTP/1.1"), but it is scrubbed from the action and resource.
    let request_line = format!("GET /v1/stock?apikey={} HTTP/1.1", common::fingerprint(APIKEY_REQUEST_LINE));
    check(
        10,
        &events[9],
        Want {
            time: "2023-06-10T15:39:12Z",
            event_id: None,
            action: Some(request_line.clone()),
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            scopes: &[],
            src_ip: Some("192.0.2.23"),
            user_agent: Some("python-requests/2.31.0"),
            resource: Some(request_line),
            http_status: Some(200),
        },
    );
}

fn leaks(texts: &[String]) -> Vec<String> {
    common::leaks(texts, &secrets())
}

#[test]
fn no_raw_secret_reaches_events_or_dead_letters() {
    for source in [Some("nginx"), None] {
        let (events, dead) = common::normalize_file(FIXTURE, source);
        assert_eq!(events.len(), 10, "{source:?}");
        let mut texts: Vec<String> =
            events.iter().map(|event| serde_json::to_string(&event.to_record()).unwrap()).collect();
        texts.extend(dead.iter().map(|letter| serde_json::to_string(letter).unwrap()));
        let found = leaks(&texts);
        assert!(found.is_empty(), "{source:?}: raw secrets leaked:\n{}", found.join("\n"));
    }
}

/// Records that fail to normalise keep their (redacted) content in the dead letter: drop the time
/// from every record and return the dead letters.
fn dead_letters_without_time() -> Vec<String> {
    let text = std::fs::read_to_string(common::fixture(FIXTURE)).unwrap();
    let normalizer = common::normalizer(Some("nginx"));
    let mut texts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut record: Value = serde_json::from_str(line).unwrap();
        for key in ["time_local", "time_iso8601"] {
            record.as_object_mut().unwrap().remove(key);
        }
        let origin = Origin::file(FIXTURE.into(), index as u64 + 1);
        normalizer.normalize_value(record, &origin, &mut |result| match result {
            Normalized::DeadLetter(letter) => texts.push(serde_json::to_string(&letter).unwrap()),
            Normalized::Event(event) => panic!("line {}: expected a dead letter, got {event:?}", index + 1),
        });
    }
    assert_eq!(texts.len(), 10);
    texts
}

/// Secrets with a shape the redactor knows (bearer, Basic, JWT, query parameters) are removed from
/// dead letters whatever their key.
#[test]
fn dead_letters_carry_no_raw_secret_of_known_shape() {
    let found: Vec<String> = leaks(&dead_letters_without_time())
        .into_iter()
        .filter(|leak| {
            !leak.starts_with(&format!("{APIKEY_HEADER:?}")) && !leak.starts_with(&format!("{COOKIE_VALUE:?}"))
        })
        .collect();
    assert!(found.is_empty(), "raw secrets leaked:\n{}", found.join("\n"));
}

#[test]
fn dead_letters_carry_no_raw_header_secret() {
    let found = leaks(&dead_letters_without_time());
    assert!(found.is_empty(), "raw secrets leaked:\n{}", found.join("\n"));
}

#[test]
fn auto_detection_picks_nginx() {
    for event in common::events(FIXTURE, None) {
        assert_eq!(&*event.source, "nginx", "{}", event.origin);
    }
}

#[test]
fn nginx_claims_no_other_fixture() {
    common::assert_claims_no_other_fixture("nginx");
}

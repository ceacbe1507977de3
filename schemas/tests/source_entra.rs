mod common;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokenwatch_schemas::{Event, EventClass, GeoFrom, Normalized, Origin, Outcome, SourceRegistry, TokenKind};

/// (lat, lon, country, city) as the record gives them.
type GeoExpect = (Option<f64>, Option<f64>, Option<&'static str>, Option<&'static str>);

/// What one fixture record must normalise to, field by field.
struct Expect {
    time: &'static str,
    event_id: &'static str,
    action: Option<&'static str>,
    outcome: Outcome,
    class: EventClass,
    token_id: Option<&'static str>,
    token_kind: TokenKind,
    subject: Option<&'static str>,
    client_id: Option<&'static str>,
    session_id: Option<&'static str>,
    src_ip: Option<&'static str>,
    geo: Option<GeoExpect>,
    asn: Option<u32>,
    user_agent: Option<&'static str>,
    device_id: Option<&'static str>,
    scopes: &'static [&'static str],
    resource: Option<&'static str>,
    http_status: Option<u16>,
    tenant: Option<&'static str>,
}

const NONE: Expect = Expect {
    time: "",
    event_id: "",
    action: None,
    outcome: Outcome::Unknown,
    class: EventClass::Authentication,
    token_id: None,
    token_kind: TokenKind::Unknown,
    subject: None,
    client_id: None,
    session_id: None,
    src_ip: None,
    geo: None,
    asn: None,
    user_agent: None,
    device_id: None,
    scopes: &[],
    resource: None,
    http_status: None,
    tenant: None,
};

fn check(event: &Event, want: &Expect) {
    let at = format!("{} ({})", event.origin, want.event_id);
    assert_eq!(&*event.source, "entra", "{at}: source");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time_us");
    assert_eq!(event.event_id, want.event_id, "{at}: event_id");
    assert_eq!(event.action.as_deref(), want.action, "{at}: action");
    assert_eq!(event.outcome, want.outcome, "{at}: outcome");
    assert_eq!(event.class, want.class, "{at}: class");
    assert_eq!(event.token_id.as_deref(), want.token_id, "{at}: token_id");
    assert_eq!(event.token_kind, want.token_kind, "{at}: token_kind");
    assert_eq!(event.subject.as_deref(), want.subject, "{at}: subject");
    assert_eq!(event.client_id.as_deref(), want.client_id, "{at}: client_id");
    assert_eq!(event.session_id.as_deref(), want.session_id, "{at}: session_id");
    let src_ip: Option<IpAddr> = want.src_ip.map(|ip| ip.parse().expect("test IP"));
    assert_eq!(event.src_ip, src_ip, "{at}: src_ip");
    match (&event.geo, want.geo) {
        (None, None) => {}
        (Some(geo), Some((lat, lon, country, city))) => {
            assert_eq!(geo.from, GeoFrom::Record, "{at}: geo.from");
            assert_close(geo.lat, lat, &format!("{at}: geo.lat"));
            assert_close(geo.lon, lon, &format!("{at}: geo.lon"));
            assert_eq!(geo.country.as_deref(), country, "{at}: geo.country");
            assert_eq!(geo.city.as_deref(), city, "{at}: geo.city");
        }
        (got, want) => panic!("{at}: geo is {got:?}, expected {want:?}"),
    }
    assert_eq!(event.asn, want.asn, "{at}: asn");
    assert_eq!(event.user_agent.as_deref(), want.user_agent, "{at}: user_agent");
    assert_eq!(event.device_id.as_deref(), want.device_id, "{at}: device_id");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, want.http_status, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), want.tenant, "{at}: tenant");
}

fn assert_close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (None, None) => {}
        (Some(got), Some(want)) => assert!((got - want).abs() < 1e-9, "{what}: {got} != {want}"),
        _ => panic!("{what}: {got:?} != {want:?}"),
    }
}

fn check_all(rel: &str, expected: &[Expect]) {
    let events = common::events(rel, Some("entra"));
    assert_eq!(events.len(), expected.len(), "{rel}: event count");
    for (event, want) in events.iter().zip(expected) {
        check(event, want);
    }
    // Auto-detection gives exactly the same events as `--source entra`.
    assert_eq!(common::events(rel, None), events, "{rel}: auto-detection differs from --source entra");
}

/// Normalises one JSON record (already parsed) with the given source.
fn normalize_value(record: &Value, source: Option<&str>) -> Vec<Normalized> {
    let mut out = Vec::new();
    let bytes = serde_json::to_vec(record).unwrap();
    common::normalizer(source).normalize(&bytes, &Origin::file(Arc::from("derived.jsonl"), 1), &mut |n| out.push(n));
    out
}

fn only_event(record: &Value, source: Option<&str>) -> Event {
    let mut out = normalize_value(record, source);
    assert_eq!(out.len(), 1, "{out:#?}");
    match out.remove(0) {
        Normalized::Event(event) => event,
        Normalized::DeadLetter(letter) => panic!("dead letter: {letter:#?}"),
    }
}

fn fixture_records(rel: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(common::fixture(rel)).unwrap();
    if rel.ends_with(".jsonl") {
        text.lines().filter(|line| !line.trim().is_empty()).map(|line| serde_json::from_str(line).unwrap()).collect()
    } else {
        let page: Value = serde_json::from_str(&text).unwrap();
        page["value"].as_array().expect("a Graph response page").clone()
    }
}

#[test]
fn graph_api_sign_ins() {
    check_all(
        "entra/signin_graph.jsonl",
        &[
            // v1.0 Get signIn example: interactive success with coordinates.
            Expect {
                time: "2020-03-13T19:15:41.6195833Z",
                event_id: "66ea54eb-6301-4ee5-be62-ff5a759b0100",
                action: Some("interactiveUser"),
                outcome: Outcome::Success,
                subject: Some("testaccount1@contoso.com"),
                client_id: Some("de8bc8b5-d9f9-48b1-a8ad-b748da725064"),
                src_ip: Some("131.107.159.37"),
                geo: Some((Some(47.68050003051758), Some(-122.12094116210938), Some("US"), Some("Redmond"))),
                resource: Some("Microsoft Graph"),
                ..NONE
            },
            // beta List signIns example: failed password (50126). The record carries a
            // uniqueTokenIdentifier, but a failed sign-in issued no token.
            Expect {
                time: "2021-06-30T16:34:32Z",
                event_id: "1691d37b-8579-43a7-966a-0f35583c1300",
                action: Some("interactiveUser"),
                outcome: Outcome::Failure,
                subject: Some("testaccount1@contoso.com"),
                client_id: Some("c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
                src_ip: Some("131.107.159.37"),
                geo: Some((None, None, Some("US"), Some("Redmond"))),
                asn: Some(3598),
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                     Chrome/91.0.4472.114 Safari/537.36 Edg/91.0.864.54",
                ),
                resource: Some("Windows Azure Service Management API"),
                tenant: Some("99081087-73c4-48d1-a112-f60ff75114f7"),
                ..NONE
            },
            // Live v1.0 interactive sign-in: no signInEventTypes (isInteractive decides), no token id,
            // IPv6 caller.
            Expect {
                time: "2026-07-17T14:10:02Z",
                event_id: "d70d10b6-221a-4840-899d-87ee20ff5900",
                action: Some("interactiveUser"),
                outcome: Outcome::Success,
                subject: Some("adele.vance@contoso.com"),
                client_id: Some("9199bf20-a13f-4107-85dc-02114787ef48"),
                src_ip: Some("2001:db8::1038"),
                geo: Some((Some(51.5074), Some(-0.1278), Some("GB"), Some("London"))),
                resource: Some("Office 365 Exchange Online"),
                ..NONE
            },
            // Non-interactive user sign-in: token refreshed with a claim in the token.
            Expect {
                time: "2022-03-17T09:44:46.3097429+00:00",
                event_id: "088b4409-9e63-425d-b777-2c8c6c380b00",
                action: Some("nonInteractiveUser"),
                outcome: Outcome::Success,
                token_id: Some("MDg4YjQ0MDktOWU2My00MjVkLWI3NzctMmM4YzZjMzgwYjAw"),
                token_kind: TokenKind::Access,
                subject: Some("nikhita.sethi@cyberfortgroup.com"),
                client_id: Some("d7b530a4-7680-4c23-a8bf-c52c121d2e87"),
                src_ip: Some("81.2.69.143"),
                geo: Some((Some(51.394798278808594), Some(0.4803900122642517), Some("GB"), Some("Strood"))),
                asn: Some(5089),
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                     Chrome/70.0.3538.102 Safari/537.36 Edge/18.19042",
                ),
                device_id: Some("ef5d12a1-7768-4085-9047-5d33aee251fa"),
                resource: Some("Microsoft News Feed"),
                tenant: Some("226f45e7-e2e2-4228-9e9d-612687e8c133"),
                ..NONE
            },
            // Service principal sign-in refused (7000113): the subject is the service principal.
            Expect {
                time: "2026-07-16T15:31:34.1881867+00:00",
                event_id: "5762b741-b128-4e73-80d4-f05a660c3b00",
                action: Some("servicePrincipal"),
                outcome: Outcome::Failure,
                subject: Some("29f4d705-d0bf-42fa-ad8f-e7bd308e94cb"),
                client_id: Some("1b912ec3-a9dd-4c4d-a53e-76aa7adb28d7"),
                src_ip: Some("135.225.184.235"),
                geo: Some((Some(60.68408966064453), Some(17.20281982421875), Some("SE"), Some("Gavle"))),
                resource: Some("Microsoft Graph"),
                ..NONE
            },
            // Managed identity sign-in: no IP, no location, token id in the new base64url form.
            Expect {
                time: "2026-07-20T08:31:21.3310422+00:00",
                event_id: "f7d36837-9f88-41fa-89cd-dc16a7c9aa00",
                action: Some("managedIdentity"),
                outcome: Outcome::Success,
                token_id: Some("N2jT94if-kGJzdwWp8mqAA"),
                token_kind: TokenKind::Access,
                subject: Some("fa179562-7d53-49bc-b38a-c52915cf554c"),
                client_id: Some("2f39d8ec-e2c9-4e60-b9ac-3aa56f1a3637"),
                resource: Some("Azure Resource Manager"),
                tenant: Some("0f0f0f0f-1111-4222-8333-444444444444"),
                ..NONE
            },
        ],
    );
}

#[test]
fn graph_api_response_page_is_unwrapped() {
    // A whole `GET /auditLogs/signIns` page: the `value` envelope holds the records. `status` is an
    // empty object in this example, so the outcome is unknown.
    let events = common::events("entra/signin_graph_page.json", None);
    assert_eq!(events.len(), 1);
    assert!(matches!(events[0].origin, Origin::File { index: Some(0), .. }), "{:?}", events[0].origin);
    check(
        &events[0],
        &Expect {
            time: "2018-11-06T18:48:33.8527147Z",
            event_id: "b01b1726-0147-425e-a7f7-21f252050400",
            action: Some("interactiveUser"),
            outcome: Outcome::Unknown,
            subject: Some("jdoe@contoso.com"),
            client_id: Some("c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
            src_ip: Some("207.254.19.10"),
            geo: Some((Some(33.7930908203125), Some(-84.44535827636719), Some("US"), Some("Lithia Springs"))),
            resource: Some("windows azure service management api"),
            ..NONE
        },
    );
}

#[test]
fn azure_monitor_sign_ins() {
    check_all(
        "entra/signin_azure_monitor.jsonl",
        &[
            // SignInLogs, interactive success.
            Expect {
                time: "2022-01-24T05:10:08.6816663+00:00",
                event_id: "933f20c0-efdf-477f-9586-e5cc566d2e00",
                action: Some("interactiveUser"),
                outcome: Outcome::Success,
                token_id: Some("OTMzZjIwYzAtZWZkZi00NzdmLTk1ODYtZTVjYzU2NmQyZTAw"),
                token_kind: TokenKind::Access,
                subject: Some("mpliftrelastic20210901@outlook.com"),
                client_id: Some("c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
                src_ip: Some("1.128.3.4"),
                geo: Some((Some(17.5164794921875), Some(78.37663269042969), Some("IN"), Some("Nizampet"))),
                asn: Some(55836),
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                     Chrome/97.0.4692.99 Safari/537.36 Edg/97.0.1072.69",
                ),
                resource: Some("Windows Azure Service Management API"),
                tenant: Some("4bbb79f7-5724-4c9e-95f3-de075f6ec090"),
                ..NONE
            },
            // SignInLogs, failed (50140 "keep me signed in" interrupt); createdDateTime has a -05:00
            // offset and 7 fraction digits.
            Expect {
                time: "2019-10-18T04:45:48.0729893-05:00",
                event_id: "8a4de8b5-095c-47d0-a96f-a75130c61d53",
                action: Some("interactiveUser"),
                outcome: Outcome::Failure,
                subject: Some("test@elastic.co"),
                client_id: Some("8a4de8b5-095c-47d0-a96f-a75130c61d53"),
                src_ip: Some("81.171.241.231"),
                geo: Some((Some(48.12341234), Some(2.12341234), Some("FR"), Some("Champs-Sur-Marne"))),
                tenant: Some("8a4de8b5-095c-47d0-a96f-a75130c61d53"),
                ..NONE
            },
            // NonInteractiveUserSignInLogs.
            Expect {
                time: "2022-03-17T09:44:46.3097429+00:00",
                event_id: "088b4409-9e63-425d-b777-2c8c6c380b00",
                action: Some("nonInteractiveUser"),
                outcome: Outcome::Success,
                token_id: Some("MDg4YjQ0MDktOWU2My00MjVkLWI3NzctMmM4YzZjMzgwYjAw"),
                token_kind: TokenKind::Access,
                subject: Some("nikhita.sethi@cyberfortgroup.com"),
                client_id: Some("d7b530a4-7680-4c23-a8bf-c52c121d2e87"),
                src_ip: Some("81.2.69.143"),
                geo: Some((Some(51.394798278808594), Some(0.4803900122642517), Some("GB"), Some("Strood"))),
                asn: Some(5089),
                user_agent: Some(
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                     Chrome/70.0.3538.102 Safari/537.36 Edge/18.19042",
                ),
                device_id: Some("ef5d12a1-7768-4085-9047-5d33aee251fa"),
                resource: Some("Microsoft News Feed"),
                tenant: Some("226f45e7-e2e2-4228-9e9d-612687e8c133"),
                ..NONE
            },
            // ServicePrincipalSignInLogs, failed (7000222: expired client secret).
            Expect {
                time: "2021-07-30T11:29:26.6733668+00:00",
                event_id: "22222222-5ec0-4795-bf9f-9017bcc32f00",
                action: Some("servicePrincipal"),
                outcome: Outcome::Failure,
                subject: Some("22222222-4677-43b4-a1dc-ecb3230e9350"),
                client_id: Some("22222222-ddf2-4ab6-b25f-f23d5d614338"),
                src_ip: Some("11.22.33.44"),
                geo: Some((Some(50.12345678912345), Some(9.123456789012345), Some("DE"), Some("Hannover"))),
                resource: Some("Configuration Manager Microservice"),
                tenant: Some("1111111111-902d-4dea-8026-5a790862fede"),
                ..NONE
            },
            // ManagedIdentitySignInLogs: empty IP and (0, 0) coordinates mean "unknown".
            Expect {
                time: "2022-01-24T04:59:49.2279838+00:00",
                event_id: "a08869a8-3b15-46e4-8de3-273849e60100",
                action: Some("managedIdentity"),
                outcome: Outcome::Success,
                token_id: Some("YTA4ODY5YTgtM2IxNS00NmU0LThkZTMtMjczODQ5ZTYwMTAw"),
                token_kind: TokenKind::Access,
                subject: Some("9d370547-cb61-4753-be23-68534909af90"),
                client_id: Some("b3b975ac-995b-426e-8b5d-363a165df41c"),
                resource: Some("Windows Azure Service Management API"),
                tenant: Some("4bbb79f7-5724-4c9e-95f3-de075f6ec090"),
                ..NONE
            },
            // MicrosoftServicePrincipalSignInLogs, failed. The envelope `time` is 154 s after
            // createdDateTime: the event time must be the sign-in's.
            Expect {
                time: "2026-07-16T15:31:34.1881867+00:00",
                event_id: "5762b741-b128-4e73-80d4-f05a660c3b00",
                action: Some("servicePrincipal"),
                outcome: Outcome::Failure,
                subject: Some("29f4d705-d0bf-42fa-ad8f-e7bd308e94cb"),
                client_id: Some("1b912ec3-a9dd-4c4d-a53e-76aa7adb28d7"),
                src_ip: Some("135.225.184.235"),
                geo: Some((Some(60.68408966064453), Some(17.20281982421875), Some("SE"), Some("Gavle"))),
                resource: Some("Microsoft Graph"),
                tenant: Some("0f0f0f0f-1111-4222-8333-444444444444"),
                ..NONE
            },
        ],
    );
}

#[test]
fn graph_activity_logs() {
    check_all(
        "entra/graph_activity.jsonl",
        &[
            // App-only call (roles), IPv6 caller; the `?$select=…` query string is cut.
            Expect {
                time: "2024-03-07T11:47:00.6442361Z",
                event_id: "f7739da0-e6d1-4e3f-985a-64937fbge347",
                action: Some("GET https://graph.microsoft.com/v1.0/organization/a140785b-418d-4344-a4ec-8e9648919gdb"),
                outcome: Outcome::Success,
                class: EventClass::ApiActivity,
                token_id: Some("sign-in_ActivityId"),
                token_kind: TokenKind::Access,
                subject: Some("f2aq4c71-31e3-5066-92g3-4b3dfbav50f0"),
                client_id: Some("a5a68e12-268a-3c91-a5e2-b9254e67hb29"),
                src_ip: Some("2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6"),
                user_agent: Some("python-requests/2.27.1"),
                scopes: &["Organization.Read.All", "User.Read.All"],
                resource: Some("/v1.0/organization/a140785b-418d-4344-a4ec-8e9648919gdb"),
                http_status: Some(200),
                tenant: Some("a140785b-418d-4344-a4ec-8e9648919gdb"),
                ..NONE
            },
            // Delegated call (scopes) answered 404: failure from the HTTP status.
            Expect {
                time: "2024-03-07T10:35:31.9597832Z",
                event_id: "f7739jk0-e6d1-4e3f-985a-64937fbge367",
                action: Some("GET https://graph.microsoft.com/v1.0/me/photos/96x96/$value"),
                outcome: Outcome::Failure,
                class: EventClass::ApiActivity,
                token_id: Some("sign-in_ActivityId"),
                token_kind: TokenKind::Access,
                subject: Some("b37ec517-0a34-4266-b627-f7bb0d679d70"),
                client_id: Some("a5a68e12-268a-3c91-a5e2-b9254e67hb29"),
                src_ip: Some("81.2.69.143"),
                scopes: &[
                    "email",
                    "openid",
                    "Organization.Read.All",
                    "Policy.ReadWrite.ApplicationConfiguration",
                    "profile",
                    "User.Read",
                ],
                resource: Some("/v1.0/me/photos/96x96/$value"),
                http_status: Some(404),
                tenant: Some("aa30985b-427d-4434-b4dc-8f9040719adb"),
                ..NONE
            },
            // Record with the session and device claims (c_Sid, C_DeviceId).
            Expect {
                time: "2024-03-07T10:24:44.7939418Z",
                event_id: "f7839da0-e7d1-4e4f-985a-64937fbge347",
                action: Some("GET https://graph.microsoft.com/v1.0/directoryRoles"),
                outcome: Outcome::Success,
                class: EventClass::ApiActivity,
                token_id: Some("sign-in_ActivityId"),
                token_kind: TokenKind::Access,
                subject: Some("f2aq4c71-31e3-5065-91g3-4b2dfbsv50fg"),
                client_id: Some("a5a68e32-269a-3c91-a5e2-b9254e67hb29"),
                session_id: Some("xyz000"),
                src_ip: Some("81.2.69.143"),
                device_id: Some("abc123"),
                scopes: &[
                    "Application.Read.All",
                    "Domain.Read.All",
                    "GroupMember.Read.All",
                    "LicenseAssignment.ReadWrite.All",
                    "Organization.Read.All",
                    "Policy.Read.ConditionalAccess",
                    "RoleManagement.Read.Directory",
                    "Team.ReadBasic.All",
                    "TeamsTab.Create",
                    "TeamsTab.Read.All",
                    "TeamsTab.ReadWrite.All",
                    "User.Read.All",
                ],
                resource: Some("/v1.0/directoryRoles"),
                http_status: Some(200),
                tenant: Some("ab30785b-417f-42a4-b5dc-8f9051718acb"),
                ..NONE
            },
            // Live 2026 record: app-only POST, `"scopes": ""`, durationMs a string in the envelope.
            Expect {
                time: "2026-07-16T02:00:45.0159703Z",
                event_id: "8a566ebb-77a1-4f60-9855-d4eb4019e562",
                action: Some(
                    "POST https://graph.microsoft.com/beta/users/adele.vance@contoso.com/informationProtection/\
                     batchClassifyAndEvaluate",
                ),
                outcome: Outcome::Success,
                class: EventClass::ApiActivity,
                token_id: Some("OPD3UZnmTkud24wRw6ATAA"),
                token_kind: TokenKind::Access,
                subject: Some("87d30957-9758-4040-949e-9e9fe9c7cfcf"),
                client_id: Some("c98e5057-edde-4666-b301-186a01b4dc58"),
                src_ip: Some("172.165.241.127"),
                user_agent: Some("DelphiAC-Mac"),
                scopes: &["Device.Read.All", "GroupMember.Read.All", "User.Read.All"],
                resource: Some("/beta/users/adele.vance@contoso.com/informationProtection/batchClassifyAndEvaluate"),
                http_status: Some(200),
                tenant: Some("0f0f0f0f-1111-4222-8333-444444444444"),
                ..NONE
            },
        ],
    );
}

/// Every fixture record is recognised as the expected Entra layout when no source is given, and no
/// other built-in layout of equal or higher priority would claim it.
#[test]
fn detection_picks_the_right_layout() {
    let registry = SourceRegistry::builtin().unwrap();
    for (rel, layout) in [
        ("entra/signin_graph.jsonl", "signin_graph"),
        ("entra/signin_graph_page.json", "signin_graph"),
        ("entra/signin_azure_monitor.jsonl", "signin_azure_monitor"),
        ("entra/graph_activity.jsonl", "graph_activity"),
    ] {
        for (index, record) in fixture_records(rel).iter().enumerate() {
            let chosen = registry.detect(record).unwrap_or_else(|| panic!("{rel}[{index}]: not detected"));
            assert_eq!((&*chosen.name, chosen.layout.as_str()), ("entra", layout), "{rel}[{index}]");
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
}

/// Azure Monitor records of other categories (Entra AuditLogs, Azure Activity log) are not sign-ins
/// or Graph activity: no Entra layout takes them.
#[test]
fn other_azure_monitor_categories_are_not_taken() {
    let registry = SourceRegistry::builtin().unwrap();
    let records = fixture_records("entra/not_signins.jsonl");
    assert_eq!(records.len(), 2);
    for record in &records {
        for mapping in registry.layouts("entra").unwrap() {
            assert!(!mapping.matches(record), "{} claims {record}", mapping.qualified_name());
        }
        if let Some(chosen) = registry.detect(record) {
            assert_ne!(&*chosen.name, "entra", "{record}");
        }
    }
    let (events, dead) = common::normalize_file("entra/not_signins.jsonl", Some("entra"));
    assert!(events.is_empty(), "{events:#?}");
    assert_eq!(dead.len(), 2);
}

#[test]
fn event_hub_records_envelope_is_unwrapped() {
    let records = fixture_records("entra/signin_azure_monitor.jsonl");
    let batch = json!({ "records": [records[0].clone(), records[2].clone()] });
    let out = normalize_value(&batch, None);
    let events: Vec<Event> = out
        .into_iter()
        .map(|n| match n {
            Normalized::Event(event) => event,
            Normalized::DeadLetter(letter) => panic!("{letter:#?}"),
        })
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_id, "933f20c0-efdf-477f-9586-e5cc566d2e00");
    assert_eq!(events[1].event_id, "088b4409-9e63-425d-b777-2c8c6c380b00");
    assert!(matches!(events[1].origin, Origin::File { index: Some(1), .. }));
}

/// The session id is the token when a sign-in has no usable uniqueTokenIdentifier (here: a failed
/// sign-in), and only the session id otherwise. Derived from fixture records by adding the
/// `sessionId` property that current exports carry.
#[test]
fn session_id_is_the_fallback_token() {
    let records = fixture_records("entra/signin_azure_monitor.jsonl");

    let mut failed = records[1].clone();
    failed["properties"]["sessionId"] = json!("00baf379-e510-523f-1c0e-346163d4a768");
    failed["properties"]["uniqueTokenIdentifier"] = json!("ZTE0OTk3YTQtZjg5Mi00YjBiLWIwNTEtZmViZTA1YzJhNDli");
    let event = only_event(&failed, None);
    assert_eq!(event.outcome, Outcome::Failure);
    assert_eq!(event.token_id.as_deref(), Some("00baf379-e510-523f-1c0e-346163d4a768"));
    assert_eq!(event.token_kind, TokenKind::Session);
    assert_eq!(event.session_id.as_deref(), Some("00baf379-e510-523f-1c0e-346163d4a768"));

    let mut success = records[0].clone();
    success["properties"]["sessionId"] = json!("00baf379-e510-523f-1c0e-346163d4a768");
    let event = only_event(&success, None);
    assert_eq!(event.token_id.as_deref(), Some("OTMzZjIwYzAtZWZkZi00NzdmLTk1ODYtZTVjYzU2NmQyZTAw"));
    assert_eq!(event.token_kind, TokenKind::Access);
    assert_eq!(event.session_id.as_deref(), Some("00baf379-e510-523f-1c0e-346163d4a768"));

    // Graph layout, same rule.
    let mut graph = fixture_records("entra/signin_graph.jsonl")[1].clone();
    graph["sessionId"] = json!("00baf379-e510-523f-1c0e-346163d4a768");
    let event = only_event(&graph, None);
    assert_eq!(event.token_id.as_deref(), Some("00baf379-e510-523f-1c0e-346163d4a768"));
    assert_eq!(event.token_kind, TokenKind::Session);
}

/// A sign-in's uniqueTokenIdentifier and a Graph call's signInActivityId name the same token: both
/// come out verbatim (never fingerprinted), so the two events share token_id.
#[test]
fn sign_in_and_graph_activity_share_the_token_id() {
    let activity = fixture_records("entra/graph_activity.jsonl")[3].clone();
    let uti = activity["properties"]["signInActivityId"].as_str().unwrap().to_string();
    let mut sign_in = fixture_records("entra/signin_azure_monitor.jsonl")[0].clone();
    sign_in["properties"]["uniqueTokenIdentifier"] = json!(uti);
    let sign_in = only_event(&sign_in, None);
    let call = only_event(&activity, None);
    assert_eq!(sign_in.token_id.as_deref(), Some(uti.as_str()));
    assert_eq!(call.token_id, sign_in.token_id);
    assert_eq!((sign_in.token_kind, call.token_kind), (TokenKind::Access, TokenKind::Access));
    assert!(!uti.starts_with("fp:"));
}

/// Records trimmed of createdDateTime fall back to the envelope time, in the space-separated form
/// some pipelines write.
#[test]
fn envelope_time_is_the_fallback() {
    let mut record = fixture_records("entra/signin_azure_monitor.jsonl")[0].clone();
    record["properties"].as_object_mut().unwrap().remove("createdDateTime");
    record["time"] = json!("2022-01-24 05:10:09.123456789");
    let event = only_event(&record, Some("entra"));
    assert_eq!(event.time_us, common::micros("2022-01-24T05:10:09.123456Z"));
}

/// The Log Analytics table documents the Graph activity columns in PascalCase (`SignInActivityId`,
/// `RequestUri`, …, `AadTenantId`); under `properties` that spelling is accepted too. Derived from
/// fixture line 1 by renaming its properties.
#[test]
fn graph_activity_pascal_case_properties() {
    let original = fixture_records("entra/graph_activity.jsonl")[0].clone();
    let renamed: serde_json::Map<String, Value> = original["properties"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(key, value)| {
            let key = match key.as_str() {
                "timeGenerated" => "TimeGenerated",
                "requestId" => "RequestId",
                "signInActivityId" => "SignInActivityId",
                "requestMethod" => "RequestMethod",
                "requestUri" => "RequestUri",
                "responseStatusCode" => "ResponseStatusCode",
                "appId" => "AppId",
                "servicePrincipalId" => "ServicePrincipalId",
                "ipAddress" => "IPAddress",
                "userAgent" => "UserAgent",
                "roles" => "Roles",
                "tenantId" => "AadTenantId",
                _ => return None,
            };
            Some((key.to_string(), value.clone()))
        })
        .collect();
    let mut record = json!({"category": "MicrosoftGraphActivityLogs", "properties": renamed});
    let expected = only_event(&original, None);
    let event = only_event(&record, None);
    assert_eq!(event.time_us, expected.time_us);
    assert_eq!(event.event_id, expected.event_id);
    assert_eq!(event.action, expected.action);
    assert_eq!(event.token_id, expected.token_id);
    assert_eq!(event.token_kind, TokenKind::Access);
    assert_eq!(event.subject, expected.subject);
    assert_eq!(event.client_id, expected.client_id);
    assert_eq!(event.src_ip, expected.src_ip);
    assert_eq!(event.user_agent, expected.user_agent);
    assert_eq!(event.scopes, expected.scopes);
    assert_eq!(event.resource, expected.resource);
    assert_eq!(event.http_status, Some(200));
    assert_eq!(event.tenant, expected.tenant);

    // A Log Analytics `TenantId` (the workspace id) is never taken for the Entra tenant.
    record["properties"].as_object_mut().unwrap().remove("AadTenantId");
    record["properties"]["TenantId"] = json!("11111111-2222-3333-4444-555555555555");
    assert_eq!(only_event(&record, None).tenant, None);
}

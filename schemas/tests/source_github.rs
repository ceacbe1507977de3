mod common;

use tokenwatch_schemas::{Event, EventClass, Outcome, SourceRegistry, TokenKind};

const SOURCE: &str = "github";
const FILE: &str = "github/audit.jsonl";

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
    user_agent: Option<&'a str>,
    scopes: &'a [&'a str],
    resource: Option<&'a str>,
    http_status: Option<u16>,
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
    assert_eq!(event.geo.as_ref().and_then(|geo| geo.country.as_deref()), want.country, "{at}: geo country");
    assert_eq!(event.user_agent.as_deref(), want.user_agent, "{at}: user_agent");
    assert_eq!(event.scopes, want.scopes, "{at}: scopes");
    assert_eq!(event.resource.as_deref(), want.resource, "{at}: resource");
    assert_eq!(event.http_status, want.http_status, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), want.tenant, "{at}: tenant");
}

fn events() -> Vec<Event> {
    let events = common::events(FILE, Some(SOURCE));
    assert_eq!(events.len(), 10);
    events
}

#[test]
fn api_requests_carry_hashed_token_scopes_route_and_status() {
    let events = events();
    // Elastic's streamed `api.request`: hashed token and scopes, no access type, no IP.
    check(
        &events[0],
        &Want {
            time: "2025-03-10T12:57:45.102Z",
            event_id: "Zt3XoecTsz6kAS-87bAEzQ",
            action: "api.request",
            outcome: Outcome::Success,
            class: EventClass::ApiActivity,
            token: Some(("E8Fzcgs3TQXqhrKKC/qNR+2XZnaK3ykQBSAt1kPMiJs=", TokenKind::Unknown)),
            subject: Some("user_actor"),
            client_id: None,
            session_id: None,
            src_ip: None,
            country: Some("IN"),
            user_agent: Some("curl/7.79.1"),
            scopes: &["repo", "read:org"],
            resource: Some("/repos/{owner}/{repo}/pulls"),
            http_status: Some(200),
            tenant: Some("user-delete"),
        },
    );
    // A fine-grained PAT refused: 403 decides the outcome; the concrete `url_path` is not used.
    check(
        &events[1],
        &Want {
            time: "2024-06-11T09:00:00.123Z",
            event_id: "q9Xb2YtRk0yq3c7p-fGWaA",
            action: "api.request",
            outcome: Outcome::Failure,
            class: EventClass::ApiActivity,
            token: Some(("Zu44/EKx2wDVegIUN75WKjvsF8kQWzrE3ln4JyZHil8=", TokenKind::Pat)),
            subject: Some("octocat"),
            client_id: None,
            session_id: None,
            src_ip: Some("203.0.113.45"),
            country: Some("NL"),
            user_agent: Some("python-requests/2.31.0"),
            scopes: &[],
            resource: Some("/repos/{owner}/{repo}"),
            http_status: Some(403),
            tenant: Some("octo-org"),
        },
    );
}

#[test]
fn git_events_carry_the_token_when_one_was_used() {
    let events = events();
    check(
        &events[2],
        &Want {
            time: "2024-06-11T10:00:00.456Z",
            event_id: "c1oNe0cLaSsIcPaTtOkEnQ",
            action: "git.clone",
            outcome: Outcome::Success,
            class: EventClass::ApiActivity,
            token: Some(("NGJ8vUkq1cR7RHzvWE9wE19TFM0mocFRUOreeAOCW/I=", TokenKind::Pat)),
            subject: Some("octocat"),
            client_id: None,
            session_id: None,
            src_ip: Some("198.51.100.23"),
            country: Some("US"),
            user_agent: Some("git/2.43.0"),
            scopes: &["repo", "workflow"],
            resource: Some("octo-org/payments"),
            http_status: None,
            tenant: Some("octo-org"),
        },
    );
    // Elastic's 2022 clone, before GitHub logged token data: no token, no document id.
    check(
        &events[3],
        &Want {
            time: "2022-06-22T04:37:02.832Z",
            event_id: &events[3].event_id,
            action: "git.clone",
            outcome: Outcome::Success,
            class: EventClass::ApiActivity,
            token: None,
            subject: Some("github-actions[bot]"),
            client_id: None,
            session_id: None,
            src_ip: None,
            country: Some("US"),
            user_agent: None,
            scopes: &[],
            resource: Some("redacted/redacted"),
            http_status: None,
            tenant: None, // Elastic redacted the organisation: the placeholder counts as absent
        },
    );
    assert!(events[3].event_id.starts_with("tw-"), "content id expected: {}", events[3].event_id);
}

#[test]
fn credential_lifecycle_events_name_the_credential_acted_upon() {
    let events = events();
    // Revoking a fine-grained PAT in the UI: no token used, the revoked one is the token.
    check(
        &events[4],
        &Want {
            time: "2024-06-11T11:00:00.789Z",
            event_id: "rEvOkEdFiNeGrAiNeDpAt1",
            action: "personal_access_token.access_revoked",
            outcome: Outcome::Success,
            class: EventClass::AccountChange,
            token: Some(("98765", TokenKind::Pat)),
            subject: Some("octo-admin"),
            client_id: None,
            session_id: None,
            src_ip: Some("192.0.2.150"),
            country: Some("GB"),
            user_agent: Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
            ),
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("octo-org"),
        },
    );
    // An OAuth app authorization deleted: the grant, named by the app id.
    check(
        &events[5],
        &Want {
            time: "2024-06-11T12:00:00Z",
            event_id: "oAuThAuThOrIzAtIoNdEsT",
            action: "oauth_authorization.destroy",
            outcome: Outcome::Success,
            class: EventClass::AccountChange,
            token: Some(("1234567", TokenKind::OauthGrant)),
            subject: Some("octocat"),
            client_id: Some("1234567"),
            session_id: None,
            src_ip: Some("203.0.113.45"),
            country: Some("NL"),
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("octo-enterprise"),
        },
    );
}

#[test]
fn administrative_events_with_and_without_a_token() {
    let events = events();
    // Elastic's webhook created with a pre-2021 token: hashed token of unknown kind.
    check(
        &events[6],
        &Want {
            time: "2023-01-23T06:20:40.535Z",
            event_id: &events[6].event_id,
            action: "hook.create",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            token: Some(("12387sdjbqas17827ty1o2u313", TokenKind::Unknown)),
            subject: Some("userdeserve"),
            client_id: None,
            session_id: None,
            src_ip: None,
            country: Some("US"),
            user_agent: Some("AWS CodePipeline"),
            scopes: &["repo"],
            resource: Some("org/repo"),
            http_status: None,
            tenant: Some("trustfactors"),
        },
    );
    // Ordinary web UI administration: no token.
    check(
        &events[7],
        &Want {
            time: "2025-03-10T12:57:43.961Z",
            event_id: "Nm4EoecTsz6kAS-87bAEfA",
            action: "repo.create",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            token: None,
            subject: Some("user_actor"),
            client_id: None,
            session_id: None,
            src_ip: None,
            country: Some("IN"),
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
            ),
            scopes: &[],
            resource: Some("user-delete/private-repo"),
            http_status: None,
            tenant: Some("user-delete"),
        },
    );
    // Organization audit log entry: `created_at` only, no document id.
    check(
        &events[8],
        &Want {
            time: "2020-03-04T23:26:22.722Z",
            event_id: &events[8].event_id,
            action: "org.invite_member",
            outcome: Outcome::Success,
            class: EventClass::EntityManagement,
            token: None,
            subject: Some("github-actor"),
            client_id: None,
            session_id: None,
            src_ip: None,
            country: Some("US"),
            user_agent: None,
            scopes: &[],
            resource: None,
            http_status: None,
            tenant: Some("Example-Org"),
        },
    );
    // A push rejected by branch protection.
    check(
        &events[9],
        &Want {
            time: "2021-01-25T23:17:13.246Z",
            event_id: &events[9].event_id,
            action: "protected_branch.rejected_ref_update",
            outcome: Outcome::Failure,
            class: EventClass::EntityManagement,
            token: None,
            subject: Some("github-actor"),
            client_id: None,
            session_id: None,
            src_ip: None,
            country: Some("US"),
            user_agent: None,
            scopes: &[],
            resource: Some("Example-Org/repo-123"),
            http_status: None,
            tenant: Some("Example-Org"),
        },
    );
    for event in &events[6..] {
        if event.event_id != "Nm4EoecTsz6kAS-87bAEfA" {
            assert!(event.event_id.starts_with("tw-"), "content id expected: {}", event.event_id);
        }
    }
}

#[test]
fn hashed_token_is_kept_verbatim_not_fingerprinted() {
    // GitHub's hash is what its audit log search takes; fingerprinting it again would break that.
    for event in events() {
        if let Some(id) = &event.token_id {
            assert!(!id.starts_with("fp:"), "{id}");
        }
    }
}

#[test]
fn auto_detection_picks_github_and_no_other_layout_claims_its_records() {
    let registry = SourceRegistry::builtin().unwrap();
    assert_eq!(common::events(FILE, None), common::events(FILE, Some(SOURCE)), "detection and --source disagree");
    for (line, text) in std::fs::read_to_string(common::fixture(FILE)).unwrap().lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(text).unwrap();
        let claimed: Vec<String> =
            registry.mappings().iter().filter(|m| m.matches(&record)).map(|m| m.qualified_name()).collect();
        assert_eq!(claimed, [SOURCE], "{FILE}:{}: layouts matching the record", line + 1);
    }
}

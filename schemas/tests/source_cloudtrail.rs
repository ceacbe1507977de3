mod common;

use std::sync::Arc;

use serde_json::{Value, json};
use tokenwatch_schemas::{DeadLetterReason, Event, EventClass, Normalized, Origin, Outcome, SourceRegistry, TokenKind};

/// A CloudTrail log file as a trail delivers it to S3: `{"Records": [ … ]}`.
const ENVELOPE: &str = "cloudtrail/s3_log_file.json";
/// Single records, one per line, as shippers forward them.
const SINGLE: &str = "cloudtrail/single_records.jsonl";

/// Stands for the `tw-…` content id given to records whose own id is missing or redacted.
const CONTENT_ID: &str = "<content id>";

/// What one event must look like, field by field.
struct Want {
    time: &'static str,
    event_id: &'static str,
    action: &'static str,
    class: EventClass,
    outcome: Outcome,
    token_id: Option<&'static str>,
    token_kind: TokenKind,
    subject: Option<&'static str>,
    src_ip: Option<&'static str>,
    user_agent: Option<&'static str>,
    resource: &'static str,
    tenant: Option<&'static str>,
}

fn check(at: &str, event: &Event, want: Want) {
    assert_eq!(&*event.source, "cloudtrail", "{at}: source");
    assert_eq!(event.time_us, common::micros(want.time), "{at}: time");
    if want.event_id == CONTENT_ID {
        assert!(event.event_id.starts_with("tw-"), "{at}: event_id {} should be a content id", event.event_id);
    } else {
        assert_eq!(event.event_id, want.event_id, "{at}: event_id");
    }
    assert_eq!(event.action.as_deref(), Some(want.action), "{at}: action");
    assert_eq!(event.class, want.class, "{at}: class");
    assert_eq!(event.outcome, want.outcome, "{at}: outcome");
    assert_eq!(event.token_id.as_deref(), want.token_id, "{at}: token_id");
    assert_eq!(event.token_kind, want.token_kind, "{at}: token_kind");
    assert_eq!(event.subject.as_deref(), want.subject, "{at}: subject");
    // CloudTrail names no OAuth client in these records, and no session besides the temporary key.
    assert_eq!(event.client_id, None, "{at}: client_id");
    assert_eq!(event.session_id, None, "{at}: session_id");
    assert_eq!(event.src_ip, want.src_ip.map(|ip| ip.parse().unwrap()), "{at}: src_ip");
    assert_eq!(event.user_agent.as_deref(), want.user_agent, "{at}: user_agent");
    assert!(event.scopes.is_empty(), "{at}: scopes {:?}", event.scopes);
    assert_eq!(event.resource.as_deref(), Some(want.resource), "{at}: resource");
    assert_eq!(event.http_status, None, "{at}: http_status");
    assert_eq!(event.tenant.as_deref(), want.tenant, "{at}: tenant");
    assert_eq!(event.geo, None, "{at}: geo");
}

fn file_origin(rel: &str, line: u64, index: Option<u32>) -> Origin {
    Origin::File { file: Arc::from(rel), line, index }
}

#[test]
fn envelope_file_is_exploded_and_every_record_maps_field_by_field() {
    let events = common::events(ENVELOPE, None);
    assert_eq!(events.len(), 8);
    for (index, event) in events.iter().enumerate() {
        // The whole file is one document read at line 1; each record keeps its place in `Records`.
        assert_eq!(event.origin, file_origin(ENVELOPE, 1, Some(index as u32)), "record {index}: origin");
    }

    // 0. IAM user guide: IAM user JohnDoe assumes a role in another account with his long-term key.
    check(
        "record 0",
        &events[0],
        Want {
            time: "2014-07-18T15:07:39Z",
            event_id: "dEXAMPLE-ac7f-466c-a608-4ac8dEXAMPLE",
            action: "AssumeRole",
            class: EventClass::Authentication,
            outcome: Outcome::Success,
            token_id: Some("AKIAQRSTUVWXYZEXAMPLE"),
            token_kind: TokenKind::AccessKey,
            subject: Some("arn:aws:iam::777788889999:user/JohnDoe"),
            src_ip: Some("192.0.2.101"),
            user_agent: Some(
                "aws-cli/1.11.10 Python/2.7.8 Linux/3.2.45-0.6.wd.865.49.315.metal1.x86_64 botocore/1.4.67",
            ),
            resource: "sts.amazonaws.com",
            // The record went to the role's account, not the caller's.
            tenant: Some("111122223333"),
        },
    );
    // 1. Elastic: an EC2 instance role (temporary ASIA key) calling SSM; TLS details are not mapped.
    check(
        "record 1",
        &events[1],
        Want {
            time: "2026-01-05T18:46:26Z",
            event_id: "46a04795-4e02-4710-a395-5a0f578cfEXAMPLE",
            action: "UpdateInstanceInformation",
            class: EventClass::ApiActivity,
            outcome: Outcome::Success,
            token_id: Some("ASIAEXAMPLE"),
            token_kind: TokenKind::AccessKey,
            subject: Some("arn:aws-us-gov:sts::111111111111:assumed-role/ExampleRole/i-example1234567890"),
            src_ip: Some("81.2.69.144"),
            user_agent: Some("aws-sdk-go/1.55.5 (go1.23.8; windows; amd64) exec-env/EC2 amazon-ssm-agent/3.3.2471.0"),
            resource: "ssm.amazonaws.com",
            tenant: Some("111111111111"),
        },
    );
    // 2. IAM user guide: console sign-in success. No key signs a console sign-in; no
    //    recipientAccountId, so the tenant is the user's account.
    check(
        "record 2",
        &events[2],
        Want {
            time: "2014-07-16T15:49:27Z",
            event_id: "3fcfb182-98f8-4744-bd45-10a395ab61cb",
            action: "ConsoleLogin",
            class: EventClass::Authentication,
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: Some("arn:aws:iam::111122223333:user/JohnDoe"),
            src_ip: Some("192.0.2.110"),
            user_agent: Some("Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0"),
            resource: "signin.amazonaws.com",
            tenant: Some("111122223333"),
        },
    );
    // 3. IAM user guide: console sign-in failure, reported only as `"ConsoleLogin": "Failure"` (no
    //    errorCode).
    check(
        "record 3",
        &events[3],
        Want {
            time: "2014-07-08T17:35:27Z",
            event_id: "11ea990b-4678-4bcd-8fbe-62509088b7cf",
            action: "ConsoleLogin",
            class: EventClass::Authentication,
            outcome: Outcome::Failure,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: Some("arn:aws:iam::111122223333:user/JaneDoe"),
            src_ip: Some("192.0.2.100"),
            user_agent: Some("Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0"),
            resource: "signin.amazonaws.com",
            tenant: Some("111122223333"),
        },
    );
    // 4. AWS EKS workshop: a node role's session key refused (errorCode AccessDenied) when asking for
    //    pod credentials. `requestParameters.token` is withheld by AWS and mapped nowhere.
    check(
        "record 4",
        &events[4],
        Want {
            time: "2023-12-13T05:13:13Z",
            event_id: "3d93c2b6-7baa-497d-a6f1-48288a2a8db3",
            action: "AssumeRoleForPodIdentity",
            class: EventClass::Authentication,
            outcome: Outcome::Failure,
            token_id: Some("ASIAIOSFODNN7EXAMPLE"),
            token_kind: TokenKind::AccessKey,
            subject: Some(
                "arn:aws:sts::111122223333:assumed-role/platform-eks-node-group-20231029075055821400000001/i-0f6f119f5ab3da4d2",
            ),
            src_ip: Some("203.0.113.55"),
            user_agent: Some(
                "aws-sdk-go-v2/1.21.2 os/linux lang/go#1.19.13 md/GOOS#linux md/GOARCH#amd64 api/eksauth#1.0.0-zeta.e49712bf27d5",
            ),
            resource: "eks-auth.amazonaws.com",
            tenant: Some("111122223333"),
        },
    );
    // 5. IAM user guide: a console call; `sourceIPAddress` is the service `signin.amazonaws.com`,
    //    which is no IP. No eventType/recipientAccountId in this older record.
    check(
        "record 5",
        &events[5],
        Want {
            time: "2014-07-15T21:40:14Z",
            event_id: "cEXAMPLE-127e-4632-980d-505a4EXAMPLE",
            action: "GetUserPolicy",
            class: EventClass::ApiActivity,
            outcome: Outcome::Success,
            token_id: Some("AKIAI44QH8DHBEXAMPLE"),
            token_kind: TokenKind::AccessKey,
            subject: Some("arn:aws:iam::444455556666:user/JaneDoe"),
            src_ip: None,
            user_agent: Some("signin.amazonaws.com"),
            resource: "iam.amazonaws.com",
            tenant: Some("444455556666"),
        },
    );
    // 6. Elastic: Alice creates an access key for Bob. The token is the key Alice used, not the one
    //    created (`responseElements.accessKey.accessKeyId`).
    check(
        "record 6",
        &events[6],
        Want {
            time: "2020-01-08T20:43:06Z",
            event_id: "EXAMPLE-3cab-40f8-938b-EXAMPLE",
            action: "CreateAccessKey",
            class: EventClass::AccountChange,
            outcome: Outcome::Success,
            token_id: Some("EXAMPLE_KEY"),
            token_kind: TokenKind::AccessKey,
            subject: Some("arn:aws:iam::0123456789012:user/Alice"),
            src_ip: Some("127.0.0.1"),
            user_agent: Some("signin.amazonaws.com"),
            resource: "iam.amazonaws.com",
            tenant: Some("0123456789012"),
        },
    );
    // 7. CloudTrail user guide: an Insights record; name and source of the unusual API are under
    //    insightDetails, it has no caller and its outcome is unknown.
    check(
        "record 7",
        &events[7],
        Want {
            time: "2019-11-14T00:51:00Z",
            event_id: "EXAMPLE8-9621-4d00-b913-beca2EXAMPLE",
            action: "UpdateInstanceInformation",
            class: EventClass::ApiActivity,
            outcome: Outcome::Unknown,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            src_ip: None,
            user_agent: None,
            resource: "ssm.amazonaws.com",
            tenant: Some("123456789012"),
        },
    );
}

#[test]
fn the_envelope_gives_the_same_events_with_the_source_given() {
    assert_eq!(common::events(ENVELOPE, Some("cloudtrail")), common::events(ENVELOPE, None));
}

#[test]
fn single_records_map_field_by_field() {
    let events = common::events(SINGLE, None);
    assert_eq!(events.len(), 6);
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event.origin, file_origin(SINGLE, n as u64 + 1, None), "line {}: origin", n + 1);
    }

    // 1. IAM user guide: role chaining, the same kind of record as envelope record 0, one per line.
    check(
        "line 1",
        &events[0],
        Want {
            time: "2019-10-02T22:12:29Z",
            event_id: "1917948f-3042-46ec-98e2-62865EXAMPLE",
            action: "AssumeRole",
            class: EventClass::Authentication,
            outcome: Outcome::Success,
            token_id: Some("AKIAI44QH8DHBEXAMPLE"),
            token_kind: TokenKind::AccessKey,
            subject: Some("arn:aws:sts::111111111111:assumed-role/JohnDoe/JohnRole1"),
            src_ip: Some("123.145.67.89"),
            user_agent: Some(
                "aws-cli/1.16.248 Python/3.4.7 Linux/4.9.184-0.1.ac.235.83.329.metal1.x86_64 botocore/1.12.239",
            ),
            resource: "sts.amazonaws.com",
            tenant: Some("111111111111"),
        },
    );
    // 2. Elastic: EC2 assumes an instance role. The caller is the service itself: no key, no IP.
    check(
        "line 2",
        &events[1],
        Want {
            time: "2024-10-08T10:15:32Z",
            event_id: "b3d7f1a2-6c4e-4d8b-8e21-5a9c0e7f4d33",
            action: "AssumeRole",
            class: EventClass::Authentication,
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: Some("ec2.amazonaws.com"),
            src_ip: None,
            user_agent: Some("ec2.amazonaws.com"),
            resource: "sts.amazonaws.com",
            tenant: Some("111111111111"),
        },
    );
    // 3. IAM user guide: sign-in with a user name that does not exist; AWS masks the name and gives
    //    no ARN. The empty accessKeyId is no token.
    check(
        "line 3",
        &events[2],
        Want {
            time: "2015-03-31T22:20:42Z",
            event_id: "a7654656-0417-45c6-9386-ea8231385051",
            action: "ConsoleLogin",
            class: EventClass::Authentication,
            outcome: Outcome::Failure,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: Some("HIDDEN_DUE_TO_SECURITY_REASONS"),
            src_ip: Some("192.0.2.101"),
            user_agent: Some("Mozilla/5.0 (Windows NT 6.1; WOW64; rv:24.0) Gecko/20100101 Firefox/24.0"),
            resource: "signin.amazonaws.com",
            tenant: Some("123456789012"),
        },
    );
    // 4. CloudTrail user guide: a call that failed with an error code other than AccessDenied.
    check(
        "line 4",
        &events[3],
        Want {
            time: "2016-07-14T19:15:45Z",
            event_id: "b7d4398e-b2f0-4faa-9c76-e2d316a8d67f",
            action: "UpdateTrail",
            class: EventClass::ApiActivity,
            outcome: Outcome::Failure,
            token_id: Some("EXAMPLE_KEY_ID"),
            token_kind: TokenKind::AccessKey,
            subject: Some("arn:aws:iam::123456789012:user/Alice"),
            src_ip: Some("205.251.233.182"),
            user_agent: Some("aws-cli/1.10.32 Python/2.7.9 Windows/7 botocore/1.4.22"),
            resource: "cloudtrail.amazonaws.com",
            tenant: Some("123456789012"),
        },
    );
    // 5. Elastic: IAM Identity Center sign-in (redacted by Elastic). Result in serviceEventDetails;
    //    the Identity Center credential id stands for the token; empty arn/accessKeyId are absent.
    check(
        "line 5",
        &events[4],
        Want {
            time: "2025-09-22T12:29:21Z",
            // Elastic's `redacted` placeholders count as absent values.
            event_id: CONTENT_ID,
            action: "UserAuthentication",
            class: EventClass::Authentication,
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            src_ip: None,
            user_agent: Some(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36",
            ),
            resource: "signin.amazonaws.com",
            tenant: None,
        },
    );
    // 6. Elastic: Amazon Managed Grafana writes an HTTP status as errorCode ("200": success) and a
    //    list of addresses as sourceIPAddress (the first is the caller).
    check(
        "line 6",
        &events[5],
        Want {
            time: "2025-01-15T08:07:37Z",
            event_id: "6136b8c9-4628-482b-918c-504829ab1871",
            action: "action",
            class: EventClass::ApiActivity,
            outcome: Outcome::Success,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: Some("some.user@my.company.com"),
            src_ip: Some("81.2.69.142"),
            user_agent: Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            ),
            resource: "grafana.amazonaws.com",
            tenant: Some("001122334455"),
        },
    );
}

/// Every record of both fixtures as a JSON value.
fn fixture_records() -> Vec<Value> {
    let envelope: Value = serde_json::from_str(&std::fs::read_to_string(common::fixture(ENVELOPE)).unwrap()).unwrap();
    let mut records = envelope["Records"].as_array().unwrap().clone();
    let lines = std::fs::read_to_string(common::fixture(SINGLE)).unwrap();
    records.extend(lines.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
    records
}

#[test]
fn detection_picks_cloudtrail_and_no_other_layout_claims_its_records() {
    let registry = SourceRegistry::builtin().unwrap();
    let records = fixture_records();
    assert_eq!(records.len(), 14);
    for record in &records {
        let id = &record["eventID"];
        let detected = registry.detect(record).map(|m| m.qualified_name());
        assert_eq!(detected.as_deref(), Some("cloudtrail"), "record {id}");
        let others: Vec<String> = registry
            .mappings()
            .iter()
            .filter(|m| &*m.name != "cloudtrail" && m.matches(record))
            .map(|m| m.qualified_name())
            .collect();
        assert!(others.is_empty(), "record {id} is also claimed by {others:?}");
    }
}

#[test]
fn records_without_a_usable_time_are_dead_letters_with_a_reason() {
    let normalizer = common::normalizer(Some("cloudtrail"));
    let origin = Origin::file(Arc::from("inline"), 1);
    let mut out = Vec::new();
    let records = [
        json!({"eventVersion": "1.08", "awsRegion": "us-east-1", "eventName": "ListBuckets"}),
        json!({"eventVersion": "1.08", "awsRegion": "us-east-1", "eventTime": "redacted"}),
    ];
    for record in records {
        normalizer.normalize_value(record, &origin, &mut |result| out.push(result));
    }
    let reasons: Vec<(DeadLetterReason, Option<String>)> = out
        .into_iter()
        .map(|result| match result {
            Normalized::DeadLetter(letter) => (letter.reason, letter.source),
            Normalized::Event(event) => panic!("unexpected event {event:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (DeadLetterReason::MissingTime, Some("cloudtrail".to_string())),
            (DeadLetterReason::InvalidTime, Some("cloudtrail".to_string())),
        ]
    );
}

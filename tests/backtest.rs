//! `tokenwatch backtest` end to end on a generated, labelled dataset:
//!
//! - the printed scores, checked against figures computed here from the labels and from the
//!   alerts of a plain `replay` (so the backtest's scoring, its same-pass detection and its
//!   printout are all checked by code that shares none of them);
//! - a baseline run in the same pass with a tightened threshold reports exactly the alerts that
//!   two separate replays say are lost;
//! - without labels, the counts per rule, source, day and token;
//! - the same printout and report whatever the batch size and thread count;
//! - the HTML report opened in headless Chromium: a screenshot with the charts drawn.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

#[path = "support/dataset.rs"]
mod dataset;

use dataset::{Label, alert_event_ids};

const BIN: &str = env!("CARGO_BIN_EXE_tokenwatch");
const KEY: &str = "backtest-test-fingerprint-key-0123";

/// The generated dataset, once per test process.
fn dataset() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| dataset::generate(BIN, KEY)).path()
}

/// Every file of the dataset, as `DIR/*.json*` would give them (inventory and labels included:
/// backtest skips those).
fn all_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dataset())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".json"))
        .collect();
    files.sort();
    files
}

/// The log files alone.
fn log_files() -> Vec<PathBuf> {
    all_files()
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with("inventory") && !name.starts_with("labels")
        })
        .collect()
}

/// A rules folder holding the built-in files of `changes`' rules, each with text replaced.
fn rules_dir(changes: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/config");
    for (rule, from, to) in changes {
        let text = std::fs::read_to_string(builtin.join(format!("{rule}.toml"))).unwrap();
        assert!(text.contains(from), "{rule}.toml has no `{from}`");
        std::fs::write(dir.path().join(format!("{rule}.toml")), text.replace(from, to)).unwrap();
    }
    dir
}

/// Impossible travel and dormant use made much looser: plenty of alerts on look-alikes and on
/// unlabelled traffic, so every column of the score table has something to show.
fn loose_rules() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        rules_dir(&[
            ("impossible_travel", "max_speed_kmh = 1000.0", "max_speed_kmh = 300.0"),
            ("impossible_travel", "min_distance_km = 500.0", "min_distance_km = 100.0"),
            ("dormant_token_use", "dormant_after = \"30d\"", "dormant_after = \"6d\""),
        ])
    })
    .path()
}

const TIGHT_SPEED_KMH: f64 = 8000.0;

/// Impossible travel only above 8,000 km/h (the built-in limit is 1,000 km/h).
fn tight_rules() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| rules_dir(&[("impossible_travel", "max_speed_kmh = 1000.0", "max_speed_kmh = 8000.0")])).path()
}

/// The built-in rules: an empty folder.
fn builtin_rules() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

struct Backtest {
    stdout: String,
    stderr: String,
    report: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

fn backtest(args: &[&str], envs: &[(&str, &str)], report: bool) -> Backtest {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("backtest")
        .arg("--inventory")
        .arg(dataset().join("inventory.jsonl"))
        .arg("--dead-letter")
        .arg(dir.path().join("dead.jsonl"))
        .args(args)
        .arg("--input")
        // With labels, the whole folder (backtest skips the inventory and labels); without, the
        // labels file would be replayed as a log.
        .args(if args.contains(&"--labels") { all_files() } else { log_files() })
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY)
        .env_remove("RUST_LOG");
    if report {
        command.arg("--report").arg(dir.path().join("report"));
    }
    for (key, value) in envs {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "backtest failed:\n{stderr}");
    assert!(!dir.path().join("dead.jsonl").exists(), "the dataset normalises without dead letters");
    Backtest {
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr,
        report: report.then(|| dir.path().join("report/index.html")),
        _dir: dir,
    }
}

/// `backtest --labels` with the loose rules and a report, once per process.
fn scored() -> &'static Backtest {
    static RUN: OnceLock<Backtest> = OnceLock::new();
    RUN.get_or_init(|| {
        let labels = dataset().join("labels.jsonl");
        backtest(&["--rules", loose_rules().to_str().unwrap(), "--labels", labels.to_str().unwrap()], &[], true)
    })
}

/// A plain `replay`: the final version of every alert (last line per id), and the number of
/// events (lines of `--events`).
fn replay(rules: &Path) -> (Vec<Value>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["--quiet", "replay", "--inventory"])
        .arg(dataset().join("inventory.jsonl"))
        .arg("--rules")
        .arg(rules)
        .arg("--output")
        .arg(dir.path().join("alerts.jsonl"))
        .arg("--events")
        .arg(dir.path().join("events.jsonl"))
        .arg("--input")
        .args(log_files())
        .env("TOKENWATCH__SECRETS__FINGERPRINT_KEY", KEY)
        .output()
        .unwrap();
    assert!(output.status.success(), "replay failed: {}", String::from_utf8_lossy(&output.stderr));
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for line in std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap().lines() {
        let alert: Value = serde_json::from_str(line).unwrap();
        last.insert(alert["alert_id"].as_str().unwrap().to_string(), alert);
    }
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap().lines().count() as u64;
    (last.into_values().collect(), events)
}

/// A replay's final alerts and its number of events.
type Replayed = (Vec<Value>, u64);

/// [`replay`], once per rules folder and test process.
fn replay_cached(rules: &'static Path) -> &'static Replayed {
    static RUNS: OnceLock<std::sync::Mutex<HashMap<PathBuf, &'static Replayed>>> = OnceLock::new();
    let runs = RUNS.get_or_init(Default::default);
    if let Some(run) = runs.lock().unwrap().get(rules) {
        return run;
    }
    let run: &'static Replayed = Box::leak(Box::new(replay(rules)));
    runs.lock().unwrap().insert(rules.to_path_buf(), run);
    run
}

fn labels() -> Vec<Label> {
    dataset::labels(dataset())
}

/// The printed table that starts with the line whose first word is `header`: its rows, each
/// split on whitespace, up to the first blank line or line of prose (a word ending in `:`, or
/// a note in parentheses).
fn table<'a>(stdout: &'a str, header: &str) -> Vec<Vec<&'a str>> {
    let mut lines = stdout.lines().skip_while(|l| l.split_whitespace().next() != Some(header));
    lines.next().unwrap_or_else(|| panic!("no `{header}` table in:\n{stdout}"));
    lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .take_while(|cells| !cells.is_empty() && !cells.iter().any(|c| c.ends_with(':')) && !cells[0].starts_with('('))
        .collect()
}

fn ratio(numerator: u64, denominator: u64) -> String {
    if denominator == 0 { "-".to_string() } else { format!("{:.3}", numerator as f64 / denominator as f64) }
}

#[test]
fn printed_scores_match_figures_computed_from_the_labels() {
    let run = scored();
    let (alerts, events) = replay_cached(loose_rules());
    let labels = labels();
    let about = |alert: &Value| -> Vec<&Label> {
        let ids = alert_event_ids(alert);
        labels.iter().filter(|l| !l.event_ids.is_disjoint(&ids)).collect()
    };
    let families: BTreeSet<String> = labels
        .iter()
        .map(|l| l.family.clone())
        .chain(alerts.iter().map(|a| a["rule"].as_str().unwrap().to_string()))
        .collect();
    let mut expected = Vec::new();
    let mut totals = [0u64; 8];
    for family in &families {
        let rule_alerts: Vec<&Value> = alerts.iter().filter(|a| a["rule"] == family.as_str()).collect();
        let attacks: Vec<&Label> = labels.iter().filter(|l| l.attack && &l.family == family).collect();
        let detected = attacks
            .iter()
            .filter(|s| rule_alerts.iter().any(|a| !alert_event_ids(a).is_disjoint(&s.event_ids)))
            .count() as u64;
        let true_alerts =
            rule_alerts.iter().filter(|a| about(a).iter().any(|s| s.attack && &s.family == family)).count() as u64;
        let lookalikes = labels.iter().filter(|l| !l.attack && &l.family == family).count() as u64;
        let lookalike_alerts = rule_alerts
            .iter()
            .filter(|a| {
                let scenarios = about(a);
                scenarios.iter().any(|s| !s.attack) && !scenarios.iter().any(|s| s.attack)
            })
            .count() as u64;
        let unexplained = rule_alerts.iter().filter(|a| about(a).is_empty()).count() as u64;
        let row = [
            attacks.len() as u64,
            detected,
            rule_alerts.len() as u64,
            true_alerts,
            lookalikes,
            lookalike_alerts,
            unexplained,
            0,
        ];
        for (total, value) in totals.iter_mut().zip(row) {
            *total += value;
        }
        expected.push((family.clone(), row));
    }
    expected.push(("all".to_string(), totals));
    let expected: Vec<Vec<String>> = expected
        .into_iter()
        .map(|(family, [scenarios, detected, alerts, true_alerts, lookalikes, lookalike_alerts, unexplained, _])| {
            vec![
                family,
                scenarios.to_string(),
                detected.to_string(),
                ratio(detected, scenarios),
                alerts.to_string(),
                true_alerts.to_string(),
                ratio(true_alerts, alerts),
                lookalikes.to_string(),
                lookalike_alerts.to_string(),
                unexplained.to_string(),
                format!("{:.2}", unexplained as f64 * 10_000.0 / *events as f64),
            ]
        })
        .collect();
    let printed: Vec<Vec<String>> =
        table(&run.stdout, "FAMILY").into_iter().map(|row| row.into_iter().map(str::to_string).collect()).collect();
    assert_eq!(printed, expected, "\n{}", run.stdout);

    // The loose rules must exercise every column: otherwise this test proves little.
    let all = expected.last().unwrap();
    assert_ne!(all[6], "1.000", "precision below 1");
    assert_ne!(all[8], "0", "alerts on look-alikes");
    assert_ne!(all[9], "0", "unexplained alerts");

    // The look-alikes some alert is about, by name.
    let mut hit: Vec<&str> = labels
        .iter()
        .filter(|l| !l.attack && alerts.iter().any(|a| !alert_event_ids(a).is_disjoint(&l.event_ids)))
        .map(|l| l.name.as_str())
        .collect();
    hit.sort();
    let line = run.stdout.lines().find(|l| l.starts_with("Look-alikes alerted:")).unwrap();
    let mut printed_hit: Vec<&str> = line.split(['(', ')']).nth(1).unwrap().split(", ").collect();
    printed_hit.sort();
    assert_eq!(printed_hit, hit);

    let summary = run.stdout.lines().rev().find(|l| l.starts_with("backtest: events=")).unwrap();
    assert!(summary.starts_with(&format!("backtest: events={events} alerts={}", alerts.len())), "{summary}");
    assert!(summary.contains(&format!("recall={} precision={}", all[3], all[6])), "{summary}");
    // The run's own summary line (standard error) and the skipped side files.
    assert!(run.stderr.contains("backtest: records="), "{}", run.stderr);
    assert!(run.stderr.contains("skipping an input that is the inventory or the labels file"));
}

#[test]
fn a_tightened_threshold_loses_exactly_the_alerts_two_replays_disagree_on() {
    let run = backtest(
        &[
            "--rules",
            tight_rules().to_str().unwrap(),
            "--baseline-rules",
            builtin_rules().to_str().unwrap(),
            "--examples",
            "1000",
        ],
        &[],
        false,
    );
    let (baseline, _) = replay_cached(builtin_rules());
    let (tight, _) = replay_cached(tight_rules());
    let ids = |alerts: &[Value]| -> BTreeSet<String> {
        alerts.iter().map(|a| a["alert_id"].as_str().unwrap().to_string()).collect()
    };
    let (baseline_ids, tight_ids) = (ids(baseline), ids(tight));
    let lost: BTreeSet<&String> = baseline_ids.difference(&tight_ids).collect();
    let gained: BTreeSet<&String> = tight_ids.difference(&baseline_ids).collect();
    assert!(!lost.is_empty(), "a tighter speed limit must lose some impossible-travel alerts");

    // Every lost alert is an impossible-travel one no faster than the new limit.
    for alert in baseline.iter().filter(|a| lost.contains(&a["alert_id"].as_str().unwrap().to_string())) {
        assert_eq!(alert["rule"], "impossible_travel");
        assert!(alert["evidence"]["speed_kmh"].as_f64().unwrap() <= TIGHT_SPEED_KMH, "{alert}");
    }

    let printed_ids = |change: &str| -> BTreeSet<String> {
        run.stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("- {change} ")))
            .map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("alert=")).unwrap().to_string())
            .collect()
    };
    assert_eq!(printed_ids("lost"), lost.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(), "\n{}", run.stdout);
    assert_eq!(printed_ids("gained"), gained.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());

    // The per-rule table: baseline and rules counts, gained and lost.
    let rows = table(&run.stdout, "RULE");
    let rules: BTreeSet<&str> = baseline.iter().chain(tight.iter()).map(|a| a["rule"].as_str().unwrap()).collect();
    assert_eq!(rows.len(), rules.len(), "\n{}", run.stdout);
    for row in rows {
        let rule = row[0];
        let count = |alerts: &[Value]| alerts.iter().filter(|a| a["rule"] == rule).count().to_string();
        let in_rule = |set: &BTreeSet<&String>, alerts: &[Value]| {
            alerts
                .iter()
                .filter(|a| a["rule"] == rule && set.contains(&a["alert_id"].as_str().unwrap().to_string()))
                .count()
                .to_string()
        };
        assert_eq!(
            row[1..5],
            [count(baseline), count(tight), in_rule(&gained, tight), in_rule(&lost, baseline)],
            "{rule}"
        );
    }
    let summary = run.stdout.lines().rev().find(|l| l.starts_with("backtest: events=")).unwrap();
    assert!(
        summary.contains(&format!(
            "alerts={} baseline_alerts={} gained={} lost={}",
            tight.len(),
            baseline.len(),
            gained.len(),
            lost.len()
        )),
        "{summary}"
    );
}

#[test]
fn without_labels_it_counts_alerts_per_rule_source_day_and_token() {
    let run = backtest(&[], &[], false);
    let (alerts, events) = replay_cached(builtin_rules());
    assert!(!run.stdout.contains("FAMILY"), "no scores without labels");

    let mut per_rule: BTreeMap<&str, (u64, u64, BTreeSet<&str>)> = BTreeMap::new();
    let mut per_source: BTreeMap<&str, u64> = BTreeMap::new();
    let mut per_day: BTreeMap<&str, u64> = BTreeMap::new();
    let mut per_token: BTreeMap<&str, u64> = BTreeMap::new();
    for alert in alerts {
        let entry = per_rule.entry(alert["rule"].as_str().unwrap()).or_default();
        entry.0 += 1;
        entry.1 += alert["count"].as_u64().unwrap();
        entry.2.insert(alert["token_id"].as_str().unwrap());
        *per_source.entry(alert["source"].as_str().unwrap()).or_default() += 1;
        *per_day.entry(&alert["time"].as_str().unwrap()[..10]).or_default() += 1;
        *per_token.entry(alert["token_id"].as_str().unwrap()).or_default() += 1;
    }
    let printed: Vec<Vec<String>> =
        table(&run.stdout, "RULE").into_iter().map(|row| row.into_iter().map(str::to_string).collect()).collect();
    let expected: Vec<Vec<String>> = per_rule
        .iter()
        .map(|(rule, (n, firings, tokens))| {
            vec![rule.to_string(), n.to_string(), firings.to_string(), tokens.len().to_string()]
        })
        .collect();
    assert_eq!(printed, expected);

    let sources = table(&run.stdout, "SOURCE");
    let event_total: u64 = sources.iter().map(|row| row[1].parse::<u64>().unwrap()).sum();
    assert_eq!(event_total, *events);
    for row in &sources {
        assert_eq!(row[2], per_source.get(row[0]).copied().unwrap_or(0).to_string(), "{}", row[0]);
    }

    let days = table(&run.stdout, "DAY");
    for row in &days {
        assert_eq!(row[2], per_day.get(row[0]).copied().unwrap_or(0).to_string(), "{}", row[0]);
        let by_rule: u64 = row[3..].iter().map(|cell| cell.rsplit(':').next().unwrap().parse::<u64>().unwrap()).sum();
        assert_eq!(by_rule.to_string(), row[2], "{}", row[0]);
    }
    assert_eq!(days.iter().map(|row| row[1].parse::<u64>().unwrap()).sum::<u64>(), *events);
    assert_eq!(days.len(), 42, "every day of the dataset, quiet ones included");

    let mut noisiest: Vec<(&str, u64)> = per_token.into_iter().collect();
    noisiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    noisiest.truncate(10);
    let printed: Vec<(&str, u64)> =
        table(&run.stdout, "TOKEN").iter().map(|row| (row[0], row[1].parse().unwrap())).collect();
    assert_eq!(printed, noisiest);
}

#[test]
fn the_printout_and_the_report_do_not_depend_on_batch_size_or_threads() {
    let labels = dataset().join("labels.jsonl");
    let args = ["--rules", loose_rules().to_str().unwrap(), "--labels", labels.to_str().unwrap()];
    let reference = scored();
    let other = backtest(&args, &[("TOKENWATCH__BATCH__SIZE", "7"), ("TOKENWATCH__REPLAY__THREADS", "1")], true);
    assert_eq!(other.stdout, reference.stdout);
    let page = |run: &Backtest| std::fs::read_to_string(run.report.as_ref().unwrap()).unwrap();
    assert!(page(&other) == page(reference), "the report differs with batch size 7 and one thread");
}

/// Colours the report's charts draw with (see `replay/src/backtest/charts.rs`).
const ATTACK: [u8; 3] = [214, 39, 40];
const LOOKALIKE: [u8; 3] = [148, 103, 189];
const UNEXPLAINED: [u8; 3] = [127, 127, 127];
const RECALL: [u8; 3] = [31, 119, 180];
const PRECISION: [u8; 3] = [44, 160, 44];

#[test]
fn the_report_renders_its_charts_in_headless_chromium() {
    let run = scored();
    let page_path = run.report.as_ref().unwrap();
    let page = std::fs::read_to_string(page_path).unwrap();
    assert_eq!(page.matches("<svg").count(), 4, "scores, timeline, journeys, alerts per day");
    for heading in ["Recall and precision per family", "Alert timeline per rule", "Impossible travel", "Alerts per day"]
    {
        assert!(page.contains(heading), "{heading}");
    }
    for fetch in ["src=", "href=", "<link", "<script", "url("] {
        assert!(!page.contains(fetch), "the page fetches nothing: {fetch}");
    }

    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("report.png");
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--force-color-profile=srgb",
            "--hide-scrollbars",
            "--window-size=1280,2000",
        ])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page_path.display()))
        .output()
        .expect("chromium runs (scripts/install-test-deps.sh installs it)");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 2000));
    let channels = frame.color_type.samples();
    assert!(channels >= 3, "{:?}", frame.color_type);
    let mut counts: HashMap<[u8; 3], u64> = HashMap::new();
    for pixel in pixels[..frame.buffer_size()].chunks(channels) {
        *counts.entry([pixel[0], pixel[1], pixel[2]]).or_default() += 1;
    }
    let total = u64::from(frame.width) * u64::from(frame.height);
    let white = counts.get(&[255, 255, 255]).copied().unwrap_or(0);
    assert!(white < total * 9 / 10, "the page is mostly blank: {white} of {total} pixels white");
    assert!(counts.len() > 500, "only {} distinct colours: charts not drawn?", counts.len());
    // Recall and precision bars, red detections, purple look-alikes and grey unexplained alerts:
    // each more pixels than the legend marks of its colour (a 12 px dot and an 18×3 px line).
    for (name, colour, at_least) in [
        ("recall bars", RECALL, 20_000),
        ("precision bars", PRECISION, 10_000),
        ("detections", ATTACK, 3_000),
        ("look-alikes", LOOKALIKE, 300),
        ("unexplained", UNEXPLAINED, 1_000),
    ] {
        let found = counts.get(&colour).copied().unwrap_or(0);
        assert!(found >= at_least, "{name}: {found} pixels of {colour:?}, expected at least {at_least}");
    }
}

//! SQL over a small fixture, written both as JSON lines and as Parquet by the outputs `normalize`
//! and `replay` use. Every expected figure is computed from the fixture itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use tokenwatch_schemas::{Alert, EventClass, Geo, GeoFrom, Origin, Outcome, Severity, TokenKind};

use super::*;
use crate::output::{AlertFormat, AlertOutput, EventOutput, JsonLines, Target};

const DAY: i64 = 86_400_000_000;
const START: i64 = 1_767_571_200_000_000; // 2026-01-05T00:00:00Z

fn place(country: &str, city: &str, lat: f64, lon: f64) -> Option<Geo> {
    Some(Geo {
        lat: Some(lat),
        lon: Some(lon),
        country: Some(country.into()),
        city: Some(city.into()),
        radius_km: Some(100.0),
        from: GeoFrom::Record,
    })
}

fn fixture_events() -> Vec<Event> {
    let london = || place("GB", "London", 51.5, -0.12);
    let paris = || place("FR", "Paris", 48.85, 2.35);
    let new_york = || place("US", "New York", 40.7, -74.0);
    // (event id, seconds after START, source, token, location, action)
    type Row<'a> = (&'a str, i64, &'a str, Option<&'a str>, Option<Geo>, &'a str);
    let rows: Vec<Row> = vec![
        ("e1", 0, "okta", Some("t1"), london(), "user.session.start"),
        ("e2", 60, "okta", Some("t1"), london(), "user.session.access"),
        ("e3", 70, "okta", Some("t1"), new_york(), "user.session.access"),
        ("e4", 300, "kong", Some("t1"), paris(), "GET /v1/orders"),
        ("e5", 400, "okta", Some("t1"), new_york(), "user.session.access"),
        ("e6", 10, "kong", Some("t2"), london(), "GET /v1/orders"),
        ("e7", 20, "kong", Some("t2"), london(), "GET /v1/orders"),
        ("e8", 30, "kong", Some("t2"), london(), "POST /v1/orders"),
        ("e9", DAY / 1_000_000 + 5, "okta", Some("t1"), paris(), "user.session.access"),
        ("e10", DAY / 1_000_000 + 50, "kong", Some("t3"), None, "GET /v1/health"),
        ("e11", DAY / 1_000_000 + 60, "kong", None, None, "GET /v1/health"),
        ("e12", DAY / 1_000_000 + 70, "okta", Some("t2"), paris(), "user.session.access"),
    ];
    rows.into_iter()
        .enumerate()
        .map(|(index, (id, seconds, source, token, geo, action))| Event {
            time_us: START + seconds * 1_000_000,
            source: Arc::from(source),
            class: if source == "okta" { EventClass::Authentication } else { EventClass::ApiActivity },
            event_id: id.to_string(),
            action: Some(action.to_string()),
            outcome: Outcome::Success,
            token_id: token.map(str::to_string),
            token_kind: if source == "okta" { TokenKind::Session } else { TokenKind::Access },
            subject: Some("ana@example.com".into()),
            client_id: None,
            session_id: None,
            src_ip: Some("81.2.69.142".parse().unwrap()),
            geo,
            asn: None,
            as_org: None,
            user_agent: None,
            device_id: None,
            scopes: if source == "kong" { vec!["orders:read".into()] } else { Vec::new() },
            resource: None,
            http_status: Some(200),
            tenant: None,
            origin: Origin::file(Arc::from(format!("{source}.jsonl").as_str()), index as u64 + 1),
        })
        .collect()
}

fn fixture_alert(id: &str, rule: &str, day: i64, token: &str, events: &[&str], count: u32) -> Alert {
    Alert {
        alert_id: id.to_string(),
        rule: rule.to_string(),
        severity: Severity::High,
        time: tokenwatch_schemas::time::format_rfc3339_micros(START + day * DAY + 3_600_000_000),
        detected_at: "2026-11-22T04:43:26.585090Z".to_string(),
        token_id: token.to_string(),
        token_kind: TokenKind::Session,
        inventory_id: None,
        owner: None,
        subject: Some("ana@example.com".into()),
        source: "okta".to_string(),
        event_ids: events.iter().map(|e| e.to_string()).collect(),
        count,
        evidence: serde_json::json!({"speed_kmh": 5570.1}),
    }
}

/// Every version written, in order: `a1` is written again when its suppression window closes.
fn fixture_alert_versions() -> Vec<Alert> {
    vec![
        fixture_alert("a1", "impossible_travel", 0, "t1", &["e2", "e3"], 1),
        fixture_alert("a2", "burst", 0, "t2", &["e7"], 1),
        fixture_alert("a1", "impossible_travel", 0, "t1", &["e2", "e3", "e5"], 2),
        fixture_alert("a3", "token_reuse", 1, "t1", &["e9"], 1),
    ]
}

fn final_alerts() -> Vec<Alert> {
    let mut last: BTreeMap<String, Alert> = BTreeMap::new();
    for alert in fixture_alert_versions() {
        last.insert(alert.alert_id.clone(), alert);
    }
    last.into_values().collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    events_jsonl: PathBuf,
    events_parquet: PathBuf,
    alerts_jsonl: PathBuf,
    alerts_parquet: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let events = fixture_events();
    for name in ["events.jsonl", "events.parquet"] {
        let mut output = EventOutput::new(Target::File(path(name))).unwrap();
        // Two batches, as a run writes them.
        output.write(&events[..5]).unwrap();
        output.write(&events[5..]).unwrap();
        output.close().unwrap();
    }
    for name in ["alerts.jsonl", "alerts.parquet"] {
        let mut output = AlertOutput::new(Target::File(path(name)), AlertFormat::Json).unwrap();
        for alert in fixture_alert_versions() {
            output.write(&alert, AlertFormat::Json).unwrap();
        }
        output.close().unwrap();
    }
    Fixture {
        events_jsonl: path("events.jsonl"),
        events_parquet: path("events.parquet"),
        alerts_jsonl: path("alerts.jsonl"),
        alerts_parquet: path("alerts.parquet"),
        _dir: dir,
    }
}

fn session(events: &Path, alerts: &Path) -> SqlSession {
    let session = SqlSession::new(2).unwrap();
    session.register_events(events).unwrap();
    session.register_alerts(alerts).unwrap();
    session
}

/// Both forms of the fixture.
fn sessions() -> (Fixture, Vec<(&'static str, SqlSession)>) {
    let fixture = fixture();
    let sessions = vec![
        ("jsonl", session(&fixture.events_jsonl, &fixture.alerts_jsonl)),
        ("parquet", session(&fixture.events_parquet, &fixture.alerts_parquet)),
    ];
    (fixture, sessions)
}

/// The rows of a query as text cells (nulls as `NULL`).
fn rows(session: &SqlSession, sql: &str) -> Vec<Vec<String>> {
    let (_, batches) = session.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in &batches {
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for row in 0..batch.num_rows() {
            out.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
        }
    }
    out
}

fn int(session: &SqlSession, sql: &str) -> i64 {
    let (_, batches) = session.query(sql).unwrap();
    let column = batches[0].column(0).as_primitive::<Int64Type>();
    assert_eq!(column.len(), 1);
    column.value(0)
}

#[test]
fn counts_match_the_fixture_in_both_forms() {
    let events = fixture_events();
    let (_fixture, sessions) = sessions();
    for (form, session) in &sessions {
        assert_eq!(int(session, "SELECT count(*) FROM events"), events.len() as i64, "{form}");
        let tokens: BTreeSet<&str> = events.iter().filter_map(|e| e.token_id.as_deref()).collect();
        assert_eq!(int(session, "SELECT count(DISTINCT token_id) FROM events"), tokens.len() as i64, "{form}");
        let without = events.iter().filter(|e| e.token_id.is_none()).count() as i64;
        assert_eq!(int(session, "SELECT count(*) FROM events WHERE token_id IS NULL"), without, "{form}");
        assert_eq!(int(session, "SELECT count(*) FROM alerts"), final_alerts().len() as i64, "{form}");
        assert_eq!(int(session, "SELECT count(*) FROM alerts_log"), fixture_alert_versions().len() as i64, "{form}");
    }
}

#[test]
fn group_by_source_day_and_nested_country() {
    let events = fixture_events();
    let mut per_source_day: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut countries: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for event in &events {
        let day = tokenwatch_schemas::time::format_rfc3339_micros(event.time_us)[..10].to_string();
        *per_source_day.entry((event.source.to_string(), day)).or_default() += 1;
        if let (Some(token), Some(country)) =
            (event.token_id.as_deref(), event.geo.as_ref().and_then(|g| g.country.as_deref()))
        {
            countries.entry(token).or_default().insert(country);
        }
    }
    let expected_days: Vec<Vec<String>> =
        per_source_day.into_iter().map(|((source, day), n)| vec![source, day, n.to_string()]).collect();
    let mut expected_countries: Vec<(usize, &str)> = countries.iter().map(|(t, c)| (c.len(), *t)).collect();
    expected_countries.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let expected_countries: Vec<Vec<String>> =
        expected_countries.into_iter().map(|(n, t)| vec![t.to_string(), n.to_string()]).collect();

    let (_fixture, sessions) = sessions();
    for (form, session) in &sessions {
        let days = rows(
            session,
            "SELECT source, to_char(time, '%Y-%m-%d') AS day, count(*) AS n FROM events GROUP BY 1, 2 ORDER BY 1, 2",
        );
        assert_eq!(days, expected_days, "{form}");
        // The nested form (as in the JSON lines) and the flat form (as in Parquet) agree.
        for column in ["geo.country", "geo['country']", "geo_country"] {
            let by_token = rows(
                session,
                &format!(
                    "SELECT token_id, count(DISTINCT {column}) AS countries FROM events \
                     WHERE token_id IS NOT NULL AND {column} IS NOT NULL GROUP BY token_id ORDER BY countries DESC, token_id"
                ),
            );
            assert_eq!(by_token, expected_countries, "{form}: {column}");
        }
        let origin = rows(session, "SELECT origin.file, origin.line FROM events WHERE event_id = 'e4'");
        let e4 = events.iter().find(|e| e.event_id == "e4").unwrap();
        let Origin::File { file, line, .. } = &e4.origin else { unreachable!() };
        assert_eq!(origin, vec![vec![file.to_string(), line.to_string()]], "{form}");
        let no_geo = int(session, "SELECT count(*) FROM events WHERE geo IS NULL");
        assert_eq!(no_geo, events.iter().filter(|e| e.geo.is_none()).count() as i64, "{form}");
    }
}

#[test]
fn alerts_join_events_by_event_id() {
    let events = fixture_events();
    let alerts = final_alerts();
    // Per rule and source: how many of the alerts' events came from each source.
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for alert in &alerts {
        for id in &alert.event_ids {
            let event = events.iter().find(|e| &e.event_id == id).unwrap();
            *expected.entry((alert.rule.clone(), event.source.to_string())).or_default() += 1;
        }
    }
    let expected: Vec<Vec<String>> =
        expected.into_iter().map(|((rule, source), n)| vec![rule, source, n.to_string()]).collect();
    let travel = alerts.iter().find(|a| a.rule == "impossible_travel").unwrap();
    let mut cities: Vec<String> = travel
        .event_ids
        .iter()
        .map(|id| events.iter().find(|e| &e.event_id == id).unwrap())
        .map(|e| e.geo.as_ref().unwrap().city.clone().unwrap())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    cities.sort();

    let (_fixture, sessions) = sessions();
    for (form, session) in &sessions {
        let joined = rows(
            session,
            "SELECT a.rule, e.source, count(*) AS n \
             FROM (SELECT rule, unnest(event_ids) AS event_id FROM alerts) a \
             JOIN events e ON e.event_id = a.event_id GROUP BY 1, 2 ORDER BY 1, 2",
        );
        assert_eq!(joined, expected, "{form}");
        let places = rows(
            session,
            "SELECT DISTINCT e.geo.city FROM (SELECT rule, unnest(event_ids) AS event_id FROM alerts) a \
             JOIN events e USING (event_id) WHERE a.rule = 'impossible_travel' ORDER BY 1",
        );
        let places: Vec<String> = places.into_iter().map(|mut row| row.remove(0)).collect();
        assert_eq!(places, cities, "{form}");
        // The final version of a re-written alert is the one kept.
        let counts = rows(session, "SELECT alert_id, count, cardinality(event_ids) FROM alerts ORDER BY alert_id");
        let expected_counts: Vec<Vec<String>> = alerts
            .iter()
            .map(|a| vec![a.alert_id.clone(), a.count.to_string(), a.event_ids.len().to_string()])
            .collect();
        assert_eq!(counts, expected_counts, "{form}");
        let per_day = rows(
            session,
            "SELECT rule, date_trunc('day', time) AS day, count(*) FROM alerts GROUP BY 1, 2 ORDER BY 2, 1",
        );
        assert_eq!(per_day.len(), alerts.len(), "{form}: each fixture alert is alone on its rule and day");
    }
}

#[test]
fn results_print_as_table_csv_and_json() {
    let (_fixture, sessions) = sessions();
    let (_, session) = &sessions[0];
    let sql = "SELECT event_id, scopes, geo FROM events WHERE source = 'kong' AND token_id = 't2' ORDER BY event_id";
    let expected: Vec<Event> =
        fixture_events().into_iter().filter(|e| &*e.source == "kong" && e.token_id.as_deref() == Some("t2")).collect();
    let (schema, batches) = session.query(sql).unwrap();
    let print = |format| {
        let mut out = Vec::new();
        write_results(&schema, &batches, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let table = print(ResultFormat::Table);
    assert!(table.lines().nth(1).unwrap().contains("event_id"), "{table}");
    let data_rows = table.lines().filter(|l| l.starts_with("| e") && !l.starts_with("| event_id")).count();
    assert_eq!(data_rows, expected.len(), "{table}");

    let csv = print(ResultFormat::Csv);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("event_id,scopes,geo"));
    let first = lines.next().unwrap();
    assert!(first.starts_with(&format!("{},[orders:read],", expected[0].event_id)), "{csv}");
    assert_eq!(lines.count(), expected.len() - 1);

    let json = print(ResultFormat::Json);
    let parsed: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(parsed.len(), expected.len());
    assert_eq!(parsed[0]["event_id"], expected[0].event_id.as_str());
    assert_eq!(parsed[0]["scopes"][0], "orders:read");
    assert_eq!(parsed[0]["geo"]["city"], "London");

    let (schema, batches) = session.query("SELECT event_id FROM events WHERE false").unwrap();
    let mut out = Vec::new();
    write_results(&schema, &batches, ResultFormat::Table, &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("event_id"), "an empty result still shows its header");
    let mut out = Vec::new();
    write_results(&schema, &batches, ResultFormat::Csv, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap().trim(), "event_id");
}

#[test]
fn bad_files_and_bad_queries_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"time\":\"2026-01-05T00:00:00Z\"}\n").unwrap();
    let session = SqlSession::new(1).unwrap();
    let error = session.register_events(&bad).unwrap_err().to_string();
    assert!(error.contains("bad.jsonl") && error.contains("line 1"), "{error}");

    let ocsf = dir.path().join("ocsf.jsonl");
    let mut lines = JsonLines::new(Target::File(ocsf.clone()), false).unwrap();
    lines.write(&final_alerts()[0].to_ocsf()).unwrap();
    lines.flush().unwrap();
    let error = session.register_alerts(&ocsf).unwrap_err().to_string();
    assert!(error.contains("OCSF"), "{error}");

    let fixture = fixture();
    let error = session.register_alerts(&fixture.events_parquet).unwrap_err().to_string();
    assert!(error.contains("not a tokenwatch alerts file"), "{error}");

    let session = SqlSession::new(1).unwrap();
    session.register_events(&fixture.events_jsonl).unwrap();
    let error = session.query("SELECT nope FROM events").unwrap_err().to_string();
    assert!(error.contains("nope"), "{error}");
    assert!(AlertOutput::new(Target::File(dir.path().join("a.parquet")), AlertFormat::Ocsf).is_err());
}

#[test]
fn gzipped_json_lines_are_read() {
    let fixture = fixture();
    let gz = fixture.events_jsonl.with_extension("jsonl.gz");
    let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
    std::io::copy(&mut File::open(&fixture.events_jsonl).unwrap(), &mut encoder).unwrap();
    encoder.finish().unwrap();
    let session = SqlSession::new(1).unwrap();
    session.register_events(&gz).unwrap();
    assert_eq!(int(&session, "SELECT count(*) FROM events"), fixture_events().len() as i64);
}

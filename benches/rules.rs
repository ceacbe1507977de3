//! Each rule on one event that makes it fire and on a look-alike that does not, against a token
//! state built from the case's history (the set-up, not measured). Events per second of
//! `Rule::evaluate` alone: the rule's judgement and its part of the state update.
//!
//! `cargo bench --bench rules`

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokenwatch_rules::inventory::{InventoryRecord, TokenStatus};
use tokenwatch_rules::state::TokenState;
use tokenwatch_rules::testing::{event, inventory_record};
use tokenwatch_rules::{Finding, Rule, RuleContext, RulesConfig};
use tokenwatch_schemas::{Event, Geo, GeoFrom};

const MINUTE: i64 = 60_000_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// A minute-aligned start (2023-11-14T22:14:00Z).
const START: i64 = 28_333_334 * MINUTE;
const CHROME: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// One case: a rule, the token's history, the event judged, and whether it must fire.
#[derive(Debug)]
struct Case {
    rule: &'static str,
    name: &'static str,
    inventory: Option<InventoryRecord>,
    history: Vec<Event>,
    probe: Event,
    fires: bool,
}

/// A use from `ip` in `asn`, located at (`lat`, `lon`) in `country`/`city`, with a browser.
fn located(id: &str, time_us: i64, ip: &str, asn: u32, place: (f64, f64, &str, &str)) -> Event {
    let mut e = event(id, time_us);
    e.src_ip = Some(ip.parse().expect("ip"));
    e.asn = Some(asn);
    e.geo = Some(Geo {
        lat: Some(place.0),
        lon: Some(place.1),
        country: Some(place.2.to_string()),
        city: Some(place.3.to_string()),
        radius_km: None,
        from: GeoFrom::IpDatabase,
    });
    e.user_agent = Some(CHROME.to_string());
    e.scopes = vec!["orders:read".to_string()];
    e
}

const LONDON: (f64, f64, &str, &str) = (51.5074, -0.1278, "GB", "London");
const SYDNEY: (f64, f64, &str, &str) = (-33.8688, 151.2093, "AU", "Sydney");
const NEW_YORK: (f64, f64, &str, &str) = (40.7128, -74.006, "US", "New York");

fn owner(id: &str, time_us: i64) -> Event {
    located(id, time_us, "81.2.69.142", 2856, LONDON)
}

fn with_scopes(id: &str, time_us: i64, scopes: &[&str]) -> Event {
    let mut e = owner(id, time_us);
    e.scopes = scopes.iter().map(|s| s.to_string()).collect();
    e
}

fn cases() -> Vec<Case> {
    let mut revoked = inventory_record("tok", "inv-revoked");
    revoked.revoked_at = Some(START + 10 * DAY);
    revoked.status = TokenStatus::Revoked;
    let mut expiring = inventory_record("tok", "inv-expiring");
    expiring.expires_at = Some(START + 10 * DAY);
    let active = inventory_record("tok", "inv-active");
    // A token calling twice a minute for two days, then bursting.
    let quiet: Vec<Event> = (0..2 * 24 * 60 * 2).map(|n| owner(&format!("q{n}"), START + n * MINUTE / 2)).collect();
    let burst_at = START + 2 * DAY;
    let mut bursting = quiet.clone();
    // 118 calls in 11.7 s stay under 120/min; the 119th, at 11.9 s, crosses it.
    bursting.extend((0..118).map(|n| owner(&format!("b{n}"), burst_at + n * 100_000)));
    let case = |rule, name, inventory: Option<&InventoryRecord>, history, probe, fires| Case {
        rule,
        name,
        inventory: inventory.cloned(),
        history,
        probe,
        fires,
    };
    vec![
        case(
            "revoked_token_use",
            "fires",
            Some(&revoked),
            vec![owner("h", START + 9 * DAY)],
            owner("p", START + 10 * DAY + 5),
            true,
        ),
        case(
            "revoked_token_use",
            "quiet",
            Some(&revoked),
            vec![owner("h", START + 9 * DAY)],
            owner("p", START + 9 * DAY + HOUR),
            false,
        ),
        case(
            "expired_token_use",
            "fires",
            Some(&expiring),
            vec![owner("h", START + 9 * DAY)],
            owner("p", START + 10 * DAY + 10 * MINUTE),
            true,
        ),
        case(
            "expired_token_use",
            "quiet",
            Some(&expiring),
            vec![owner("h", START + 9 * DAY)],
            owner("p", START + 10 * DAY - MINUTE),
            false,
        ),
        case("uninventoried_token", "fires", None, vec![owner("h", START)], owner("p", START + HOUR), true),
        case("uninventoried_token", "quiet", Some(&active), vec![owner("h", START)], owner("p", START + HOUR), false),
        case("dormant_token_use", "fires", Some(&active), vec![owner("h", START)], owner("p", START + 31 * DAY), true),
        case("dormant_token_use", "quiet", Some(&active), vec![owner("h", START)], owner("p", START + 20 * DAY), false),
        case(
            "impossible_travel",
            "fires",
            Some(&active),
            vec![owner("h", START)],
            located("p", START + 40 * MINUTE, "1.128.0.1", 1221, SYDNEY),
            true,
        ),
        case(
            "impossible_travel",
            "quiet",
            Some(&active),
            vec![owner("h", START)],
            located("p", START + 40 * MINUTE, "81.2.69.143", 2856, LONDON),
            false,
        ),
        case(
            "token_reuse",
            "fires",
            Some(&active),
            vec![owner("o1", START), owner("o2", START + 25 * HOUR)],
            located("p", START + 25 * HOUR + 2 * MINUTE, "203.0.113.50", 64_999, NEW_YORK),
            true,
        ),
        case(
            "token_reuse",
            "quiet",
            Some(&active),
            vec![owner("o1", START), owner("o2", START + 25 * HOUR)],
            owner("p", START + 25 * HOUR + 2 * MINUTE),
            false,
        ),
        case("burst", "fires", Some(&active), bursting, owner("p", burst_at + 11_900_000), true),
        case("burst", "quiet", Some(&active), quiet, owner("p", burst_at + 30 * 1_000_000), false),
        case(
            "scope_escalation",
            "fires",
            None,
            vec![with_scopes("h", START, &["a", "b"])],
            with_scopes("p", START + 2 * DAY, &["c"]),
            true,
        ),
        case(
            "scope_escalation",
            "quiet",
            None,
            vec![with_scopes("h", START, &["a", "b"])],
            with_scopes("p", START + 2 * DAY, &["a"]),
            false,
        ),
    ]
}

/// The context the runner would give `event` after `state`'s history.
fn context<'a>(event: &'a Event, state: &TokenState, inventory: Option<&'a InventoryRecord>) -> RuleContext<'a> {
    let known = state.events > 0;
    RuleContext {
        event,
        token_id: "tok",
        inventory,
        first_seen_us: known.then_some(state.first_seen_us),
        last_seen_us: known.then_some(state.last_seen_us),
        events_seen: u64::from(state.events),
    }
}

/// Runs `history` through `rule` as the runner would, returning the token's state.
fn replay(rule: &dyn Rule, case: &Case) -> TokenState {
    let mut state = TokenState::new(case.history[0].time_us);
    let mut findings = Vec::new();
    for event in &case.history {
        rule.evaluate(&context(event, &state, case.inventory.as_ref()), &mut state, &mut findings);
        state.commit_uses(event);
        state.last_seen_us = state.last_seen_us.max(event.time_us);
        state.first_seen_us = state.first_seen_us.min(event.time_us);
        state.events += 1;
    }
    state
}

fn each_rule(c: &mut Criterion) {
    let config = RulesConfig::builtin().expect("built-in rules");
    let rules = tokenwatch_rules::rules::build(&config);
    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(1));
    for case in cases() {
        let rule = rules.iter().find(|rule| rule.name() == case.rule).expect("rule enabled");
        let state = replay(rule.as_ref(), &case);
        let ctx = context(&case.probe, &state, case.inventory.as_ref());
        let mut findings: Vec<Finding> = Vec::new();
        rule.evaluate(&ctx, &mut state.clone(), &mut findings);
        assert_eq!(!findings.is_empty(), case.fires, "{} {}: {findings:#?}", case.rule, case.name);
        group.bench_function(BenchmarkId::new(case.rule, case.name), |b| {
            b.iter_batched(
                || (state.clone(), Vec::with_capacity(1)),
                |(mut state, mut findings)| {
                    rule.evaluate(&ctx, &mut state, &mut findings);
                    (state, findings)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, each_rule);
criterion_main!(benches);

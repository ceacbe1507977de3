//! `burst`: a token's call rate over a sliding one-minute window far above its own baseline.
//!
//! **State per token** ([`RateState`], 24 bytes in the token's core, asserted by a test): two
//! fixed one-minute buckets of event time (the current minute's count and the previous minute's),
//! whether the current minute already fired, and the token's baseline (an EWMA of its completed
//! per-minute counts, `f32`) with the number of minutes folded into it. The current minute's first
//! event (for the alert's `event_ids`) is the token's [`UseSlot::Burst`] record: the token's latest
//! use, shared with the other rules, unless the token made several calls this minute, in which case
//! the record moves to the token's rarely needed part until the next minute.
//!
//! **Rate**: the sliding one-minute window is estimated from the two buckets,
//! `previous × (1 − elapsed fraction of the current minute) + current` (the current event
//! included).
//!
//! **Baseline**: an EWMA of the counts of the completed minutes in which the token was active. Idle
//! minutes are *not* folded in (no decay over idle gaps): the baseline is the token's usual rate
//! *when it is in use*, so a token used at 2/min during office hours keeps a baseline of 2/min over
//! nights and week-ends. Each minute weighs `max(baseline_weight, 1 / n)` (n = minutes folded so
//! far), so the first `1 / baseline_weight` minutes make a plain mean rather than trusting the first
//! minute. A burst does not poison the baseline: after the learning period, a minute that fired is
//! not folded in at all; during the learning period (where a token's legitimately high rate must
//! still be learned) a minute that fired counts at most `no_baseline_limit_per_minute`.
//!
//! **Fires** when the rate exceeds the threshold:
//! - a token past `learning_period` with a baseline: `max(factor × baseline, min_rate_per_minute)`,
//!   with `machine_factor` instead of `factor` for inventory `machine: true` tokens;
//! - a token still learning (or without any completed minute yet): `no_baseline_limit_per_minute`.
//!
//! At most one finding per token per minute bucket (the event that crosses the threshold), so an
//! alert's count is the number of minutes in which the token was bursting (a one-minute burst
//! usually counts 2: the sliding window still holds it at the start of the next minute). The
//! runner folds findings within `suppress_for` into one alert.
//!
//! Events that arrive late (older than the current minute bucket; the reorder buffer lets a few
//! through) are counted into the previous bucket when they belong to it and are never judged.
//!
//! No fleet-wide view: an `hdrhistogram` of every token's rates would not serve the decision (each
//! token is judged against its own baseline and the configured absolute limits), would put a
//! shared lock on the hot path, and would make a token's verdict depend on other tokens' events and
//! so on the shard interleaving, which breaks the runner's determinism.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokenwatch_schemas::time::format_rfc3339_micros;

use crate::config::{Allowlist, RuleFile, Thresholds, micros};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::{TokenCore, TokenState, UseSlot};

/// One minute in microseconds.
const MINUTE_US: i64 = 60_000_000;

/// `[thresholds]` of `burst.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstThresholds {
    /// Fire above this multiple of the token's usual per-minute rate …
    pub factor: f64,
    /// … when the rate is at least this many calls per minute.
    pub min_rate_per_minute: u32,
    /// Limit for tokens without a baseline yet.
    pub no_baseline_limit_per_minute: u32,
    /// Factor for automation tokens (inventory `machine: true`).
    pub machine_factor: f64,
    /// How long a token must be known before its baseline is used.
    #[serde(with = "humantime_serde")]
    pub learning_period: Duration,
    /// Weight of each completed active minute in the baseline (the EWMA's alpha).
    #[serde(default = "default_baseline_weight")]
    pub baseline_weight: f32,
}

fn default_baseline_weight() -> f32 {
    0.05
}

impl Thresholds for BurstThresholds {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.factor.is_finite() || self.factor <= 1.0 {
            problems.push(format!("`thresholds.factor`: {} must be a number above 1", self.factor));
        }
        if !self.machine_factor.is_finite() || self.machine_factor <= 1.0 {
            problems.push(format!("`thresholds.machine_factor`: {} must be a number above 1", self.machine_factor));
        }
        if self.no_baseline_limit_per_minute == 0 {
            problems.push("`thresholds.no_baseline_limit_per_minute`: must be at least 1".to_string());
        }
        if !(self.baseline_weight > 0.0 && self.baseline_weight <= 1.0) {
            problems
                .push(format!("`thresholds.baseline_weight`: {} must be above 0 and at most 1", self.baseline_weight));
        }
        problems
    }
}

/// Per-token state of the rule (24 bytes; see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RateState {
    /// The current minute bucket: event time in minutes since the epoch.
    minute: i64,
    /// Events in the current minute.
    current: u32,
    /// Events in the minute before it (0 when the token was idle then).
    previous: u32,
    /// EWMA of the counts of completed active minutes.
    baseline: f32,
    /// Completed active minutes folded into `baseline` (saturating).
    minutes: u16,
    /// Whether the current minute already fired.
    fired: bool,
}

impl RateState {
    /// The baseline, when at least one minute has been folded in.
    pub fn baseline(&self) -> Option<f32> {
        (self.minutes > 0).then_some(self.baseline)
    }

    /// Folds the current minute into the baseline and moves on to `minute`.
    fn roll(&mut self, minute: i64, fold_cap: Option<u32>, weight: f32) {
        if self.current > 0 {
            let count = if self.fired { fold_cap.map(|cap| self.current.min(cap)) } else { Some(self.current) };
            if let Some(count) = count {
                self.minutes = self.minutes.saturating_add(1);
                let weight = weight.max(1.0 / f32::from(self.minutes));
                self.baseline += weight * (count as f32 - self.baseline);
            }
        }
        self.previous = if minute == self.minute + 1 { self.current } else { 0 };
        self.current = 0;
        self.fired = false;
        self.minute = minute;
    }
}

/// The rule.
#[derive(Debug, Clone)]
pub struct Burst {
    file: RuleFile<BurstThresholds>,
    allow: Allowlist,
}

impl Burst {
    /// The rule with its settings.
    pub fn new(file: RuleFile<BurstThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        Burst { file, allow }
    }
}

impl Rule for Burst {
    rule_settings!("burst");

    fn evaluate(&self, ctx: &RuleContext<'_>, state: &mut TokenState, findings: &mut Vec<Finding>) {
        let thresholds = &self.file.thresholds;
        let time = ctx.event.time_us;
        let minute = time.div_euclid(MINUTE_US);
        let learning = ctx.learning(micros(thresholds.learning_period));
        let state: &mut TokenCore = state;
        let rate = &mut state.rate;
        if rate.current == 0 {
            // Nothing counted yet: the token's first event for this rule.
            rate.minute = minute;
        } else if minute < rate.minute {
            // Late: count it where it belongs if that bucket is still held; never judge it.
            if minute == rate.minute - 1 {
                rate.previous = rate.previous.saturating_add(1);
            }
            return;
        } else if minute > rate.minute {
            // During learning a minute that fired still counts (capped), so that a token whose
            // steady rate is above the absolute limit gets a baseline; afterwards it does not.
            let cap = learning.then_some(thresholds.no_baseline_limit_per_minute);
            rate.roll(minute, cap, thresholds.baseline_weight);
        }
        rate.current = rate.current.saturating_add(1);
        // The minute's first event: recalled from the next event on, so this one knows it is.
        let first_of_minute = rate.current == 1;
        if first_of_minute {
            state.remember(UseSlot::Burst);
        }
        let rate = &mut state.rate;
        if rate.fired {
            return;
        }
        let elapsed = (time - minute * MINUTE_US) as f64 / MINUTE_US as f64;
        let per_minute = f64::from(rate.previous) * (1.0 - elapsed) + f64::from(rate.current);
        let machine = ctx.inventory.is_some_and(|record| record.machine);
        let factor = if machine { thresholds.machine_factor } else { thresholds.factor };
        let baseline = rate.baseline();
        let threshold = match baseline {
            Some(baseline) if !learning => {
                (factor * f64::from(baseline)).max(f64::from(thresholds.min_rate_per_minute))
            }
            _ => f64::from(thresholds.no_baseline_limit_per_minute),
        };
        if per_minute <= threshold {
            return;
        }
        rate.fired = true;
        let mut event_ids = Vec::with_capacity(2);
        if !first_of_minute
            && let Some(first) = state.recalled(UseSlot::Burst).map(|first| first.event_id())
            && first != ctx.event.event_id
        {
            event_ids.push(first.into_owned());
        }
        event_ids.push(ctx.event.event_id.clone());
        findings.push(Finding {
            event_ids,
            evidence: json!({
                "rate_per_minute": round2(per_minute),
                "baseline_per_minute": baseline.map(|b| round2(f64::from(b))),
                "threshold_per_minute": round2(threshold),
                "factor": factor,
                "learning": learning,
                "machine": machine,
                "window_start": format_rfc3339_micros(time - MINUTE_US),
            }),
        });
    }
}

/// Rounds to two decimals (keeps evidence readable: an `f32` baseline of 2.1 is not 2.0999999).
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use tokenwatch_schemas::{Alert, Event};

    use super::*;
    use crate::config::RulesConfig;
    use crate::testing::{Harness, event, inventory_record};

    const MINUTE: i64 = MINUTE_US;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    /// A minute-aligned start time (2023-11-14T22:14:00Z).
    const START: i64 = 28_333_334 * MINUTE;

    /// `per_minute` calls spread evenly over each of `minutes` minutes from `from`.
    fn steady(events: &mut Vec<Event>, prefix: &str, from: i64, minutes: i64, per_minute: i64) {
        for m in 0..minutes {
            for n in 0..per_minute {
                let time = from + m * MINUTE + n * MINUTE / per_minute;
                events.push(event(&format!("{prefix}-{m}-{n}"), time));
            }
        }
    }

    fn bursts(alerts: &[Alert]) -> Vec<&Alert> {
        alerts.iter().filter(|a| a.rule == "burst").collect()
    }

    fn short_learning() -> RulesConfig {
        let mut config = RulesConfig::builtin().unwrap();
        config.burst.thresholds.learning_period = Duration::from_secs(3600);
        config
    }

    #[test]
    fn rate_state_fits_its_budget() {
        assert_eq!(std::mem::size_of::<RateState>(), 24, "update the module documentation");
    }

    #[test]
    fn a_quiet_token_making_800_calls_in_a_minute_fires_once_per_window() {
        let mut events = Vec::new();
        steady(&mut events, "quiet", START, 2 * 24 * 60, 2);
        let burst_at = START + 2 * DAY;
        steady(&mut events, "burst", burst_at, 1, 800);
        // Back to normal, a second burst inside the window, then a third after it closed.
        steady(&mut events, "after", burst_at + MINUTE, 29, 2);
        steady(&mut events, "burst2", burst_at + 30 * MINUTE, 1, 800);
        steady(&mut events, "after2", burst_at + 31 * MINUTE, 120, 2);
        steady(&mut events, "burst3", burst_at + 151 * MINUTE, 1, 800);
        let mut harness = Harness::new(RulesConfig::builtin().unwrap());
        let alerts = harness.run(events);
        let found = bursts(&alerts);
        let ids: BTreeSet<&str> = found.iter().map(|a| a.alert_id.as_str()).collect();
        assert_eq!(ids.len(), 2, "one alert per suppression window: {found:#?}");

        let first = found[0];
        assert_eq!(first.count, 1);
        assert_eq!(first.event_ids, ["burst-0-0", "burst-0-118"]);
        let evidence = &first.evidence;
        let rate = evidence["rate_per_minute"].as_f64().unwrap();
        assert!(rate > 120.0 && rate < 122.0, "{evidence}");
        assert_eq!(evidence["baseline_per_minute"], 2.0);
        assert_eq!(evidence["threshold_per_minute"], 120.0);
        assert_eq!(evidence["factor"], 10.0);
        assert_eq!(evidence["learning"], false);
        assert_eq!(evidence["machine"], false);
        assert_eq!(evidence["window_start"], format_rfc3339_micros(burst_at + 118 * MINUTE / 800 - MINUTE));
        // The final version of the first alert counts both bursts (each spills into the next minute).
        let last = found.iter().rfind(|a| a.alert_id == first.alert_id).unwrap();
        assert_eq!(last.count, 4, "{last:#?}");
        // The third burst is judged against the same baseline: the bursts did not poison it.
        let third = found.iter().find(|a| a.alert_id != first.alert_id).unwrap();
        assert_eq!(third.evidence["baseline_per_minute"], 2.0);
        assert_eq!(third.event_ids[0], "burst3-0-0");
    }

    #[test]
    fn a_quiet_token_making_15_or_60_calls_in_a_minute_is_below_the_floor() {
        for calls in [15, 60] {
            let mut events = Vec::new();
            steady(&mut events, "quiet", START, 2 * 24 * 60, 2);
            steady(&mut events, "busy", START + 2 * DAY, 1, calls);
            steady(&mut events, "after", START + 2 * DAY + MINUTE, 10, 2);
            let alerts = Harness::new(RulesConfig::builtin().unwrap()).run(events);
            assert!(bursts(&alerts).is_empty(), "{calls} calls: {alerts:#?}");
        }
    }

    #[test]
    fn a_machine_token_is_judged_against_its_own_steady_rate() {
        let mut record = inventory_record("tok", "inv-bot");
        record.machine = true;
        // Steady at 150/min for three hours (learning lasts one hour here).
        let mut events = Vec::new();
        steady(&mut events, "steady", START, 180, 150);
        let mut harness = Harness::new(short_learning()).with_inventory(vec![record.clone()]);
        assert!(bursts(&harness.run(events.clone())).is_empty());

        // The same token jumping to 1,000/min fires against 4 × 150.
        steady(&mut events, "jump", START + 180 * MINUTE, 2, 1000);
        let alerts = Harness::new(short_learning()).with_inventory(vec![record]).run(events);
        let found = bursts(&alerts);
        assert_eq!(found.len(), 2, "raised, then its final count: {found:#?}");
        let evidence = &found[0].evidence;
        assert_eq!(evidence["machine"], true);
        assert_eq!(evidence["factor"], 4.0);
        assert_eq!(evidence["baseline_per_minute"], 150.0);
        assert_eq!(evidence["threshold_per_minute"], 600.0);
        assert!(evidence["rate_per_minute"].as_f64().unwrap() > 600.0);
        assert_eq!(found[0].inventory_id.as_deref(), Some("inv-bot"));
        assert_eq!(found[1].count, 2);
    }

    #[test]
    fn a_new_token_is_judged_against_the_absolute_limit() {
        let mut events = Vec::new();
        steady(&mut events, "new", START, 1, 700);
        let alerts = Harness::new(RulesConfig::builtin().unwrap()).run(events);
        let found = bursts(&alerts);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].event_ids, ["new-0-0", "new-0-600"]);
        let evidence = &found[0].evidence;
        assert_eq!(evidence["rate_per_minute"], 601.0);
        assert_eq!(evidence["threshold_per_minute"], 600.0);
        assert_eq!(evidence["baseline_per_minute"], serde_json::Value::Null);
        assert_eq!(evidence["learning"], true);

        // 500 in its first minute is below the limit.
        let mut events = Vec::new();
        steady(&mut events, "new", START, 3, 500);
        assert!(bursts(&Harness::new(RulesConfig::builtin().unwrap()).run(events)).is_empty());
    }

    #[test]
    fn a_token_whose_steady_rate_is_above_the_limit_still_learns_a_baseline() {
        // 800/min from birth: it fires while learning, but learns a (capped) baseline of 600, so
        // its own rate no longer fires afterwards.
        let mut events = Vec::new();
        steady(&mut events, "hot", START, 150, 800);
        let alerts = Harness::new(short_learning()).run(events);
        let found = bursts(&alerts);
        let ids: BTreeSet<&str> = found.iter().map(|a| a.alert_id.as_str()).collect();
        assert_eq!(ids.len(), 1, "only the learning hour alerts: {found:#?}");
        assert_eq!(found[0].evidence["learning"], true);
        assert_eq!(found.last().unwrap().count, 60, "each minute of the learning hour");
    }

    #[test]
    fn the_sliding_window_spans_the_minute_boundary() {
        // 100 calls in the second half of one minute and 100 in the first half of the next: no
        // fixed minute holds more than 100; the sliding estimate at the j-th call of the second
        // half is 100 × (1 − j/200) + j + 1, above 140 from j = 79.
        let mut config = RulesConfig::builtin().unwrap();
        config.burst.thresholds.no_baseline_limit_per_minute = 140;
        let mut events = Vec::new();
        for n in 0..200 {
            events.push(event(&format!("e{n}"), START + 30_000_000 + n * 300_000));
        }
        let found_at = Harness::new(config).run(events);
        let found = bursts(&found_at);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].event_ids, ["e100", "e179"]);
        assert_eq!(found[0].evidence["rate_per_minute"], 140.5);
    }

    #[test]
    fn late_events_count_but_are_not_judged() {
        let rule = Burst::new(RulesConfig::builtin().unwrap().burst);
        let mut state = TokenState::default();
        let mut findings = Vec::new();
        for event in [event("a", START + MINUTE), event("late", START + 10), event("older", START - DAY)] {
            let ctx = RuleContext {
                event: &event,
                token_id: "tok",
                inventory: None,
                first_seen_us: Some(START - DAY),
                last_seen_us: Some(START),
                events_seen: 1,
            };
            rule.evaluate(&ctx, &mut state, &mut findings);
        }
        // `late` went into the previous minute; `older` belongs to no bucket still held.
        assert_eq!((state.rate.previous, state.rate.current), (1, 1));
        assert!(findings.is_empty());
    }

    #[test]
    fn thresholds_are_validated() {
        let mut thresholds = RulesConfig::builtin().unwrap().burst.thresholds;
        assert!(thresholds.problems().is_empty());
        thresholds.baseline_weight = 0.0;
        thresholds.factor = 1.0;
        let problems = thresholds.problems().join("\n");
        assert!(problems.contains("thresholds.baseline_weight"), "{problems}");
        assert!(problems.contains("thresholds.factor"), "{problems}");
    }
}

//! The detection runner: puts events in event-time order, keeps every token's state in a sharded
//! map, runs the rules, and turns findings into alerts linked to the inventory, with suppression.
//!
//! Determinism: alerts depend only on each token's events in event-time order (see
//! [`crate::reorder`]; each input stream — a file, a topic partition — has its own reorder buffer,
//! so streams read one after another do not make each other late) and on the inventory. Each token's state lives in exactly one shard, so the
//! shard count changes only how work is spread over threads. Alert ids are hashes of the rule, the
//! token and the triggering events' ids. Batch size, thread count and shard count therefore do not
//! change which alerts are raised. Within a batch, alerts are emitted sorted by time, id and count.
//!
//! Suppression: a rule firing on a token raises an alert at once (count 1). Further firings of the
//! same rule on the same token within `suppress_for` (event time) are added to that alert (count,
//! event ids) instead of raising new ones; when the window closes — at the token's next event after
//! it, or at the end of input — the alert is emitted once more with the same `alert_id` and its
//! final count, so consumers that keep the last version per `alert_id` see the total.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use dashmap::DashMap;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tokenwatch_schemas::time::format_rfc3339_micros;
use tokenwatch_schemas::{Alert, Event, Origin};

use crate::Detector;
use crate::config::RulesConfig;
use crate::inventory::Inventory;
use crate::reorder::ReorderBuffer;
use crate::rule::{Finding, Rule, RuleContext};
use crate::state::{OpenAlert, TokenState, token_key};

/// Event ids an alert keeps at most (the count goes on).
const MAX_ALERT_EVENT_IDS: usize = 32;

/// Events judged between two sweeps of idle tokens, at least; at most one token visited per event
/// judged (a sweep visits every token).
const SWEEP_EVERY: u64 = 100_000;

/// How the runner is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionSettings {
    /// How far behind the latest event an event may arrive and still be put in order, µs.
    pub lateness_us: i64,
    /// Partitions of tokens processed in parallel (1 = sequential).
    pub shards: usize,
    /// A token unused this long is forgotten (its next use starts afresh), µs of event time.
    pub idle_evict_us: i64,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        DetectionSettings { lateness_us: 5 * 60_000_000, shards: 1, idle_evict_us: 365 * 86_400_000_000 }
    }
}

/// Counters of the runner.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DetectionStats {
    /// Events judged by the rules.
    pub events_judged: u64,
    /// Events without a token id (nothing to judge).
    pub events_without_token: u64,
    /// Events that arrived later than the reorder bound.
    pub late_events: u64,
    /// Findings dropped because the event matched the rule's allowlist.
    pub allowlisted: u64,
    /// Findings added to an open alert instead of raising a new one.
    pub suppressed: u64,
    /// Token states forgotten after being idle.
    pub evicted: u64,
    /// Events dropped because an event from the same Kafka record (topic, partition, offset and
    /// envelope index) was already judged: a record re-delivered after a restart.
    pub duplicates: u64,
}

/// Runs the rules over events; implements [`Detector`] for the pipeline.
#[derive(Debug)]
pub struct Detection {
    rules: Vec<Box<dyn Rule>>,
    inventory: Arc<Inventory>,
    states: DashMap<u64, TokenState>,
    /// One reorder buffer per input stream (file, or topic partition): each stream is in
    /// event-time order on its own, whatever the others do.
    reorder: BTreeMap<String, ReorderBuffer>,
    /// Per Kafka input partition (`topic/partition`), the position (offset, envelope index) of
    /// the latest record judged: records arrive in offset order, so one at or before it is a
    /// re-delivery and is dropped.
    seen: BTreeMap<String, (i64, u32)>,
    settings: DetectionSettings,
    stats: DetectionStats,
    since_sweep: u64,
}

impl Detection {
    /// A runner with the enabled rules of `config`.
    pub fn new(config: &RulesConfig, inventory: Arc<Inventory>, settings: DetectionSettings) -> Self {
        Self::with_rules(crate::rules::build(config), inventory, settings)
    }

    /// A runner with the given rules.
    pub fn with_rules(rules: Vec<Box<dyn Rule>>, inventory: Arc<Inventory>, settings: DetectionSettings) -> Self {
        Detection {
            rules,
            inventory,
            states: DashMap::new(),
            reorder: BTreeMap::new(),
            seen: BTreeMap::new(),
            settings: DetectionSettings { shards: settings.shards.max(1), ..settings },
            stats: DetectionStats::default(),
            since_sweep: 0,
        }
    }

    /// Replaces the inventory (a revocation takes effect on the next event judged).
    pub fn set_inventory(&mut self, inventory: Arc<Inventory>) {
        self.inventory = inventory;
    }

    /// Counters so far.
    pub fn stats(&self) -> DetectionStats {
        DetectionStats { late_events: self.reorder.values().map(ReorderBuffer::late).sum(), ..self.stats.clone() }
    }

    /// Tokens whose state is held.
    pub fn tokens_tracked(&self) -> usize {
        self.states.len()
    }

    /// Names of the rules in use.
    pub fn rule_names(&self) -> Vec<&'static str> {
        self.rules.iter().map(|rule| rule.name()).collect()
    }

    /// Judges one event at once, without the reorder buffer: for callers whose events are already
    /// in event-time order (`tokenwatch bench`, the benches). The rules, state, suppression and
    /// counters are those of [`Detector::process`]; the alerts the event raises go to `alerts`.
    pub fn judge_one(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        if event.token_id.is_none() {
            self.stats.events_without_token += 1;
            return;
        }
        self.stats.events_judged += 1;
        let mut counters = ShardCounters::default();
        let first = alerts.len();
        judge_event(&self.rules, &self.inventory, &self.states, &self.settings, event, alerts, &mut counters);
        self.stats.allowlisted += counters.allowlisted;
        self.stats.suppressed += counters.suppressed;
        alerts[first..].sort_by(|a, b| (&a.time, &a.alert_id, a.count).cmp(&(&b.time, &b.alert_id, b.count)));
        self.since_sweep += 1;
        if self.since_sweep >= self.sweep_interval() {
            self.since_sweep = 0;
            self.sweep(event.time_us);
        }
    }

    fn judge(&mut self, events: Vec<Event>, alerts: &mut Vec<Alert>) {
        if events.is_empty() {
            return;
        }
        let shards = self.settings.shards;
        let without_token = events.iter().filter(|e| e.token_id.is_none()).count() as u64;
        self.stats.events_without_token += without_token;
        self.stats.events_judged += events.len() as u64 - without_token;
        let mut counters = ShardCounters::default();
        let mut raised = if shards == 1 {
            let mut out = Vec::new();
            for event in &events {
                judge_event(&self.rules, &self.inventory, &self.states, &self.settings, event, &mut out, &mut counters);
            }
            out
        } else {
            let mut partitions: Vec<Vec<&Event>> = vec![Vec::new(); shards];
            for event in &events {
                if let Some(token_id) = &event.token_id {
                    partitions[(token_key(token_id) % shards as u64) as usize].push(event);
                }
            }
            let (rules, inventory, states, settings) = (&self.rules, &self.inventory, &self.states, &self.settings);
            let results: Vec<(Vec<Alert>, ShardCounters)> = partitions
                .into_par_iter()
                .map(|partition| {
                    let mut out = Vec::new();
                    let mut counters = ShardCounters::default();
                    for event in partition {
                        judge_event(rules, inventory, states, settings, event, &mut out, &mut counters);
                    }
                    (out, counters)
                })
                .collect();
            let mut out = Vec::new();
            for (partition_alerts, partition_counters) in results {
                out.extend(partition_alerts);
                counters.add(&partition_counters);
            }
            out
        };
        self.stats.allowlisted += counters.allowlisted;
        self.stats.suppressed += counters.suppressed;
        raised.sort_by(|a, b| (&a.time, &a.alert_id, a.count).cmp(&(&b.time, &b.alert_id, b.count)));
        alerts.extend(raised);
        self.since_sweep += events.len() as u64;
        if self.since_sweep >= self.sweep_interval() {
            self.since_sweep = 0;
            self.sweep(events.last().map_or(i64::MIN, |e| e.time_us));
        }
    }

    /// Events between two sweeps: [`SWEEP_EVERY`], or the number of tokens held if larger.
    fn sweep_interval(&self) -> u64 {
        SWEEP_EVERY.max(self.states.len() as u64)
    }

    /// Frees the memory of tokens idle longer than `idle_evict` (their next use would start
    /// afresh anyway, see [`judge_event`]), keeping those with an open alert.
    fn sweep(&mut self, now_us: i64) {
        let horizon = now_us.saturating_sub(self.settings.idle_evict_us);
        let before = self.states.len();
        self.states.retain(|_, state| state.last_seen_us >= horizon || state.has_open_alerts());
        self.stats.evicted += (before - self.states.len()) as u64;
    }
}

#[derive(Debug, Default)]
struct ShardCounters {
    allowlisted: u64,
    suppressed: u64,
}

impl ShardCounters {
    fn add(&mut self, other: &ShardCounters) {
        self.allowlisted += other.allowlisted;
        self.suppressed += other.suppressed;
    }
}

impl Detector for Detection {
    fn name(&self) -> &str {
        "detection"
    }

    fn process(&mut self, events: Vec<Event>, alerts: &mut Vec<Alert>) {
        let mut ready = Vec::with_capacity(events.len());
        for event in events {
            if self.is_redelivery(&event.origin) {
                self.stats.duplicates += 1;
                continue;
            }
            // Late events go straight to judgement: older than anything the stream still holds.
            self.buffer_of(&event.origin).push(event, &mut ready);
        }
        for buffer in self.reorder.values_mut() {
            buffer.release(&mut ready);
        }
        self.judge(ready, alerts);
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let stats = self.stats();
        vec![
            ("tokens_tracked", self.states.len() as u64),
            ("late_events", stats.late_events),
            ("events_without_token", stats.events_without_token),
            ("allowlisted", stats.allowlisted),
            ("suppressed", stats.suppressed),
            ("duplicates", stats.duplicates),
        ]
    }

    fn finish(&mut self, alerts: &mut Vec<Alert>) {
        let mut ready = Vec::new();
        for buffer in self.reorder.values_mut() {
            buffer.drain(&mut ready);
        }
        self.judge(ready, alerts);
        // Close every suppression window: emit the final count of alerts that grew.
        let mut closing: Vec<(u64, Vec<Alert>)> = self
            .states
            .iter_mut()
            .filter(|entry| entry.has_open_alerts())
            .map(|mut entry| {
                let key = *entry.key();
                let open = entry.take_open_alerts();
                (key, open.into_iter().filter(|o| o.dirty).map(|o| *o.alert).collect())
            })
            .collect();
        closing.sort_by_key(|(key, _)| *key);
        let mut closed: Vec<Alert> = closing.into_iter().flat_map(|(_, alerts)| alerts).collect();
        closed.sort_by(|a, b| (&a.time, &a.alert_id, a.count).cmp(&(&b.time, &b.alert_id, b.count)));
        alerts.extend(closed);
    }
}

/// What a checkpoint holds of a [`Detection`]: every token's state, the events held for
/// ordering, the re-delivery positions and the counters. Written with [`Detection::snapshot`],
/// read back with [`Detection::restore`]; the serde form is the engine's to choose.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DetectionSnapshot {
    states: Vec<(u64, TokenState)>,
    reorder: BTreeMap<String, ReorderBuffer>,
    seen: BTreeMap<String, (i64, u32)>,
    stats: DetectionStats,
    since_sweep: u64,
}

impl DetectionSnapshot {
    /// Tokens whose state it holds.
    pub fn tokens(&self) -> usize {
        self.states.len()
    }
}

/// A borrowed view of a [`Detection`] that serialises as a [`DetectionSnapshot`] without copying
/// the token states.
#[derive(Debug)]
pub struct SnapshotRef<'a>(&'a Detection);

impl serde::Serialize for SnapshotRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct States<'a>(&'a DashMap<u64, TokenState>);
        impl serde::Serialize for States<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter().map(|entry| (*entry.key(), entry.value().clone())))
            }
        }
        let detection = self.0;
        let mut out = serializer.serialize_struct("DetectionSnapshot", 5)?;
        out.serialize_field("states", &States(&detection.states))?;
        out.serialize_field("reorder", &detection.reorder)?;
        out.serialize_field("seen", &detection.seen)?;
        out.serialize_field("stats", &detection.stats)?;
        out.serialize_field("since_sweep", &detection.since_sweep)?;
        out.end()
    }
}

impl Detection {
    /// A serialisable view of everything the runner holds (see [`DetectionSnapshot`]).
    pub fn snapshot(&self) -> SnapshotRef<'_> {
        SnapshotRef(self)
    }

    /// Replaces everything the runner holds with `snapshot`'s, so that judging resumes exactly
    /// where the snapshot was taken. Held events take the running `lateness`.
    pub fn restore(&mut self, snapshot: DetectionSnapshot) {
        self.states = snapshot.states.into_iter().collect();
        self.reorder = snapshot.reorder;
        for buffer in self.reorder.values_mut() {
            buffer.set_lateness(self.settings.lateness_us);
        }
        self.seen = snapshot.seen;
        self.stats = snapshot.stats;
        self.since_sweep = snapshot.since_sweep;
    }

    /// Events held for ordering, over every input stream.
    pub fn held_events(&self) -> usize {
        self.reorder.values().map(ReorderBuffer::len).sum()
    }

    /// Whether `origin` is a Kafka record at or before the latest one judged from its partition
    /// (and records it as the latest otherwise).
    fn is_redelivery(&mut self, origin: &Origin) -> bool {
        let Origin::Kafka { topic, partition, offset, index } = origin else { return false };
        let position = (*offset, index.unwrap_or(0));
        let key = format!("{topic}/{partition}");
        match self.seen.get_mut(&key) {
            Some(latest) if *latest >= position => true,
            Some(latest) => {
                *latest = position;
                false
            }
            None => {
                self.seen.insert(key, position);
                false
            }
        }
    }
}

impl Detection {
    /// The reorder buffer of `origin`'s input stream (created on its first event). A file's is
    /// found by name without allocating: this runs once per event.
    fn buffer_of(&mut self, origin: &Origin) -> &mut ReorderBuffer {
        let lateness = self.settings.lateness_us;
        if let Origin::File { file, .. } = origin {
            if !self.reorder.contains_key(&**file) {
                self.reorder.insert(file.to_string(), ReorderBuffer::new(lateness));
            }
            return self.reorder.get_mut(&**file).unwrap_or_else(|| unreachable!("inserted above"));
        }
        self.reorder.entry(stream_of(origin)).or_insert_with(|| ReorderBuffer::new(lateness))
    }
}

/// The input stream an event belongs to: its file, or its topic and partition.
fn stream_of(origin: &Origin) -> String {
    match origin {
        Origin::File { file, .. } => file.to_string(),
        Origin::Kafka { topic, partition, .. } => format!("{topic}/{partition}"),
    }
}

/// Judges one event of one token: every rule, then allowlists and suppression, then the shared
/// part of the token's state.
fn judge_event(
    rules: &[Box<dyn Rule>],
    inventory: &Inventory,
    states: &DashMap<u64, TokenState>,
    settings: &DetectionSettings,
    event: &Event,
    out: &mut Vec<Alert>,
    counters: &mut ShardCounters,
) {
    let Some(token_id) = event.token_id.as_deref() else { return };
    let record = inventory.lookup(event);
    let mut state = states.entry(token_key(token_id)).or_insert_with(|| TokenState::new(event.time_us));
    let mut known = state.events > 0;
    if known && event.time_us.saturating_sub(state.last_seen_us) > settings.idle_evict_us {
        // Idle past the eviction horizon: the token starts afresh, whether or not a sweep has
        // already freed its state (so sweeps never change results). Open alerts close first.
        emit_closed_windows(&mut state, i64::MAX, out);
        *state = TokenState::new(event.time_us);
        known = false;
    }
    emit_closed_windows(&mut state, event.time_us, out);
    let ctx = RuleContext {
        event,
        token_id,
        inventory: record.map(|r| &**r),
        first_seen_us: known.then_some(state.first_seen_us),
        last_seen_us: known.then_some(state.last_seen_us),
        events_seen: u64::from(state.events),
    };
    let mut findings = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        rule.evaluate(&ctx, &mut state, &mut findings);
        if findings.is_empty() {
            continue;
        }
        if rule.allowlist().allows(event) {
            counters.allowlisted += findings.len() as u64;
            findings.clear();
            continue;
        }
        for finding in findings.drain(..) {
            raise(index, rule.as_ref(), finding, &ctx, &mut state, out, counters);
        }
    }
    state.last_seen_us = state.last_seen_us.max(event.time_us);
    state.first_seen_us = state.first_seen_us.min(event.time_us);
    state.commit_uses(event);
    state.events = state.events.saturating_add(1);
}

/// Emits (final counts) and removes the token's open alerts whose window closed by `now_us`.
fn emit_closed_windows(state: &mut TokenState, now_us: i64, out: &mut Vec<Alert>) {
    if !state.has_open_alerts() {
        return;
    }
    state.open_alerts_mut().retain(|open| {
        if open.until_us > now_us {
            return true;
        }
        if open.dirty {
            out.push((*open.alert).clone());
        }
        false
    });
}

fn raise(
    index: usize,
    rule: &dyn Rule,
    finding: Finding,
    ctx: &RuleContext<'_>,
    state: &mut TokenState,
    out: &mut Vec<Alert>,
    counters: &mut ShardCounters,
) {
    if let Some(open) = state.open_alerts_mut().iter_mut().find(|open| open.rule == index) {
        counters.suppressed += 1;
        open.alert.count += 1;
        open.dirty = true;
        for id in finding.event_ids {
            if open.alert.event_ids.len() < MAX_ALERT_EVENT_IDS && !open.alert.event_ids.contains(&id) {
                open.alert.event_ids.push(id);
            }
        }
        return;
    }
    let alert = Alert {
        alert_id: alert_id(rule.name(), ctx.token_id, &finding.event_ids),
        rule: rule.name().to_string(),
        severity: rule.severity(),
        time: format_rfc3339_micros(ctx.event.time_us),
        detected_at: now_rfc3339(),
        token_id: ctx.token_id.to_string(),
        token_kind: ctx.event.token_kind,
        inventory_id: ctx.inventory.map(|r| r.inventory_id.clone()),
        owner: ctx.inventory.and_then(|r| r.owner.clone()),
        subject: ctx.event.subject.clone(),
        source: ctx.event.source.to_string(),
        event_ids: finding.event_ids,
        count: 1,
        evidence: finding.evidence,
    };
    out.push(alert.clone());
    state.open_alerts_mut().push(OpenAlert {
        rule: index,
        until_us: ctx.event.time_us.saturating_add(rule.suppress_for_us()),
        dirty: false,
        alert: Box::new(alert),
    });
}

/// `hex(SHA-256(rule, token, event ids))[..32]`: the same firing always has the same id.
pub fn alert_id(rule: &str, token_id: &str, event_ids: &[String]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(rule.as_bytes());
    hasher.update([0]);
    hasher.update(token_id.as_bytes());
    for id in event_ids {
        hasher.update([0]);
        hasher.update(id.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

fn now_rfc3339() -> String {
    let micros = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64);
    format_rfc3339_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Harness, event};

    #[test]
    fn alert_ids_depend_on_rule_token_and_events_only() {
        let a = alert_id("burst", "tok", &["e1".to_string()]);
        assert_eq!(a, alert_id("burst", "tok", &["e1".to_string()]));
        assert_ne!(a, alert_id("burst", "tok2", &["e1".to_string()]));
        assert_ne!(a, alert_id("token_reuse", "tok", &["e1".to_string()]));
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn same_alerts_whatever_the_batch_size_and_shard_count() {
        let hour = 3_600_000_000i64;
        let mut events = Vec::new();
        for token in 0..20 {
            for n in 0..10 {
                let mut e = event(&format!("t{token}-e{n}"), n * 7 * hour + token);
                e.token_id = Some(format!("tok-{token}"));
                events.push(e);
            }
        }
        let reference = sorted(Harness::new(RulesConfig::builtin().unwrap()).run(events.clone()));
        assert!(!reference.is_empty());
        for (batch, shards) in [(1, 1), (7, 4), (64, 2), (4096, 8)] {
            let mut harness = Harness::new(RulesConfig::builtin().unwrap()).with_shards(shards);
            let alerts = sorted(harness.run_in_batches(events.clone(), batch));
            assert_eq!(alerts, reference, "batch {batch}, shards {shards}");
        }
    }

    fn sorted(alerts: Vec<Alert>) -> Vec<(String, String, u32, Vec<String>)> {
        let mut keys: Vec<_> = alerts.into_iter().map(|a| (a.alert_id, a.rule, a.count, a.event_ids)).collect();
        keys.sort();
        keys
    }

    #[test]
    fn a_restored_snapshot_judges_on_exactly_as_without_the_restart() {
        let hour = 3_600_000_000i64;
        let events: Vec<Event> = (0..40)
            .map(|n| {
                let mut e = event(&format!("e{n}"), n * 5 * hour);
                e.token_id = Some(format!("tok-{}", n % 3));
                e
            })
            .collect();
        let settings = DetectionSettings { lateness_us: hour, ..DetectionSettings::default() };
        let config = RulesConfig::builtin().unwrap();
        let inventory = Arc::new(Inventory::empty());
        let run = |detection: &mut Detection, events: &[Event], alerts: &mut Vec<Alert>| {
            detection.process(events.to_vec(), alerts);
        };
        let mut straight = Detection::new(&config, Arc::clone(&inventory), settings);
        let mut expected = Vec::new();
        run(&mut straight, &events, &mut expected);
        straight.finish(&mut expected);

        let mut first = Detection::new(&config, Arc::clone(&inventory), settings);
        let mut alerts = Vec::new();
        run(&mut first, &events[..17], &mut alerts);
        assert!(first.held_events() > 0, "the checkpoint should carry held events");
        let bytes = serde_json::to_vec(&first.snapshot()).unwrap();
        let mut second = Detection::new(&config, inventory, settings);
        second.restore(serde_json::from_slice(&bytes).unwrap());
        assert_eq!(second.tokens_tracked(), first.tokens_tracked());
        run(&mut second, &events[17..], &mut alerts);
        second.finish(&mut alerts);
        assert!(!expected.is_empty());
        assert_eq!(sorted(alerts), sorted(expected));
    }

    #[test]
    fn redelivered_kafka_records_are_judged_once() {
        let settings = DetectionSettings { lateness_us: 0, ..DetectionSettings::default() };
        let mut detection = Detection::new(&RulesConfig::builtin().unwrap(), Arc::new(Inventory::empty()), settings);
        let kafka = |id: &str, offset: i64| {
            let mut e = event(id, offset * 1_000_000);
            e.origin = Origin::Kafka { topic: Arc::from("okta"), partition: 0, offset, index: None };
            e
        };
        let mut alerts = Vec::new();
        detection.process((0..5).map(|n| kafka(&format!("e{n}"), n)).collect(), &mut alerts);
        // A restart re-delivers offsets 2..5 before going on; another partition is not affected.
        detection.process((2..8).map(|n| kafka(&format!("e{n}"), n)).collect(), &mut alerts);
        let mut other = kafka("x", 3);
        other.origin = Origin::Kafka { topic: Arc::from("okta"), partition: 1, offset: 3, index: None };
        detection.process(vec![other], &mut alerts);
        detection.finish(&mut alerts);
        let stats = detection.stats();
        assert_eq!(stats.duplicates, 3);
        assert_eq!(stats.events_judged, 9);
    }

    #[test]
    fn idle_tokens_start_afresh() {
        let day = 86_400_000_000i64;
        let mut harness = Harness::new(RulesConfig::builtin().unwrap());
        harness.run(vec![event("a", 0), event("b", 400 * day)]);
        // 400 days idle is past the one-year horizon: `b` is the token's first use again, so
        // dormant_token_use (which needs a previous use) cannot fire.
        assert!(harness.alerts().iter().all(|a| a.rule != "dormant_token_use"));
    }
}

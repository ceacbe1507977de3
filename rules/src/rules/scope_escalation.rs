//! `scope_escalation`: a token or grant requests or uses scopes outside its inventory-approved set
//! and never seen in its own history, or uses a privileged action for the first time.
//!
//! **State per token** ([`ScopeState`], 20 bytes in the token's core, asserted by a test): a
//! sorted list of 32-bit entries, one per scope or privileged action the token is known to have used
//! (31 bits of XXH3 of the text, actions and scopes hashed with different seeds, plus a *fresh*
//! bit), up to 4 inline; a token with more keeps them all in its rarely needed part
//! ([`ScopeExtra`]: 4 bytes per entry), with the end of the current *fresh* period (set when the
//! rule fires). At most `history_size` entries (default 32: 128 bytes). Two different scopes of a
//! token share a hash with a probability of about `history_size / 2³¹` (1.5·10⁻⁸ by default), in
//! which case the second is taken as known.
//!
//! **Fires**, for each event (whatever its outcome: a denied attempt is an attempt):
//! - *approved list*: the token's inventory record lists approved scopes (`*` wildcards:
//!   `orders:*`), and the event carries a scope outside it that the token never used before; judged
//!   from the token's first event (the inventory is the baseline, nothing to learn). Only such
//!   scopes are remembered: an approved scope never fires, so it costs nothing;
//! - *history*: without an inventory record (or with an empty approved list), the token's own
//!   history is the baseline. During `learning_period` every scope is learned silently; afterwards
//!   a scope never seen before fires;
//! - *privileged action*: the event's `action` matches `privileged_actions`, the token is past
//!   `learning_period`, never performed that action (actions performed while learning are learned),
//!   and the inventory's approved list does not list it.
//!
//! A new scope or action is remembered as *fresh* when it fires, and a fresh period opens (unless one
//! is open) for `suppress_for`: the window of the alert the firing raises. Uses of fresh entries
//! fire too, so the runner counts them into that alert; when the period ends, every fresh entry is
//! learned and fires no more. One finding per event, carrying all its new scopes and the privileged
//! action.
//!
//! **History full** (`history_size` entries): nothing more is learned. History-only novelty
//! (no approved list) then stops firing for the token — a token using that many distinct scopes has
//! a scope set too broad for novelty to mean much, and firing on every scope that cannot be
//! remembered would alert on every event (e.g. Entra tokens carrying their whole `scp` list): a
//! possible miss, never an alert storm. Scopes outside an approved list and privileged actions still
//! fire, since they are violations in themselves; not being remembered, they fire again on every use
//! (one alert per suppression window, with a count).
//!
//! If an inventory record loses its approved list, its token falls back to history, which holds
//! only the scopes that fired: its approved scopes each fire once then (after its learning period).
//! Scopes and actions are compared case-sensitively, as OAuth does.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokenwatch_schemas::mapping::Glob;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::config::{Allowlist, RuleFile, Thresholds, micros};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::{TextHash, TokenCore, TokenState};

/// Hash seed of scopes.
const SCOPE_SEED: u64 = 0;
/// Hash seed of privileged actions (an action and a scope of the same text are different things).
const ACTION_SEED: u64 = 1;
/// The bit of an entry that marks it fresh.
const FRESH: u32 = 1;

/// `[thresholds]` of `scope_escalation.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeThresholds {
    /// Without an inventory record, the token's history is the baseline once it is this old.
    #[serde(with = "humantime_serde")]
    pub learning_period: Duration,
    /// Privileged actions (wildcards on `action`).
    pub privileged_actions: Vec<String>,
    /// Scopes and privileged actions remembered per token, at most.
    #[serde(default = "default_history_size")]
    pub history_size: u32,
}

fn default_history_size() -> u32 {
    32
}

/// Largest `history_size` accepted (16 KiB of history per token).
const MAX_HISTORY_SIZE: u32 = 4096;

impl Thresholds for ScopeThresholds {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.history_size == 0 || self.history_size > MAX_HISTORY_SIZE {
            problems.push(format!(
                "`thresholds.history_size`: {} must be between 1 and {MAX_HISTORY_SIZE}",
                self.history_size
            ));
        }
        for action in &self.privileged_actions {
            if action.trim().is_empty() || action.chars().all(|c| c == '*') {
                problems
                    .push(format!("`thresholds.privileged_actions`: `{action}` would match every action (or none)"));
            }
        }
        problems
    }
}

/// Entries kept inline.
const INLINE: usize = 4;
/// `len` of a history kept in [`ScopeExtra`].
const SPILLED: u8 = u8::MAX;

/// Per-token state of the rule (20 bytes; see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScopeState {
    /// `hash << 1 | fresh`, sorted (so sorted by hash): the first `len`.
    inline: [u32; INLINE],
    /// Entries inline, or [`SPILLED`].
    len: u8,
}

/// The history of a token with more than [`INLINE`] entries, and the fresh period (in the token's
/// rarely needed part).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScopeExtra {
    /// Every entry, sorted, when the history is [`SPILLED`].
    entries: Vec<u32>,
    /// Event time at which fresh entries become learned (0: none is fresh).
    fresh_until_us: i64,
}

/// What the history knows of a scope or action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Known {
    /// Never seen.
    New,
    /// Seen and learned.
    Learned,
    /// Seen first in the current fresh period (its uses still fire).
    Fresh,
}

/// A token's history, wherever it is kept.
struct History<'a>(&'a mut TokenCore);

impl History<'_> {
    fn entries(&self) -> &[u32] {
        let scopes = &self.0.scopes;
        if scopes.len == SPILLED {
            self.0.extra().map_or(&[][..], |extra| extra.scopes.entries.as_slice())
        } else {
            &scopes.inline[..usize::from(scopes.len)]
        }
    }

    /// Scopes and actions remembered.
    fn len(&self) -> usize {
        self.entries().len()
    }

    fn find(&self, hash: u32) -> Result<usize, usize> {
        self.entries().binary_search_by_key(&hash, |entry| entry >> 1)
    }

    fn known(&self, hash: u32) -> Known {
        match self.find(hash) {
            Err(_) => Known::New,
            Ok(at) if self.entries()[at] & FRESH != 0 => Known::Fresh,
            Ok(_) => Known::Learned,
        }
    }

    /// Remembers `hash` (learned, or fresh) unless it is known or the history is full.
    fn insert(&mut self, hash: u32, fresh: bool, capacity: usize) {
        let Err(at) = self.find(hash) else { return };
        if self.len() >= capacity {
            return;
        }
        let entry = hash << 1 | u32::from(fresh);
        let scopes = &mut self.0.scopes;
        let len = usize::from(scopes.len);
        if scopes.len == SPILLED {
            self.0.extra_mut().scopes.entries.insert(at, entry);
        } else if len < INLINE {
            scopes.inline.copy_within(at..len, at + 1);
            scopes.inline[at] = entry;
            scopes.len += 1;
        } else {
            let mut entries = Vec::with_capacity(2 * INLINE);
            entries.extend_from_slice(&scopes.inline[..at]);
            entries.push(entry);
            entries.extend_from_slice(&scopes.inline[at..]);
            *scopes = ScopeState { inline: [0; INLINE], len: SPILLED };
            self.0.extra_mut().scopes.entries = entries;
        }
    }

    fn fresh_until_us(&self) -> i64 {
        self.0.extra().map_or(0, |extra| extra.scopes.fresh_until_us)
    }

    fn set_fresh_until_us(&mut self, time_us: i64) {
        self.0.extra_mut().scopes.fresh_until_us = time_us;
    }

    /// Ends the fresh period if it is over at `time_us`: fresh entries become learned.
    fn settle(&mut self, time_us: i64) {
        let fresh_until_us = self.fresh_until_us();
        if fresh_until_us != 0 && time_us >= fresh_until_us {
            let scopes = &mut self.0.scopes;
            if scopes.len != SPILLED {
                scopes.inline.iter_mut().for_each(|entry| *entry &= !FRESH);
            }
            let extra = self.0.extra_mut();
            extra.scopes.entries.iter_mut().for_each(|entry| *entry &= !FRESH);
            extra.scopes.fresh_until_us = 0;
        }
    }
}

/// 31 bits of XXH3 of `text`.
fn hash(text: &str, seed: u64) -> u32 {
    (xxh3_64_with_seed(text.as_bytes(), seed) >> 33) as u32
}

/// Whether `text` matches `pattern`, `*` matching any run of characters (the semantics of
/// [`Glob`], without compiling the pattern: inventory patterns are matched where they are).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let Some((head, tail)) = pattern.split_once('*') else { return pattern == text };
    let (middle, last) = tail.rsplit_once('*').unwrap_or(("", tail));
    if text.len() < head.len() + last.len() || !text.starts_with(head) || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[head.len()..text.len() - last.len()];
    for part in middle.split('*') {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether an approved list covers `scope` (exact entries first: they are most of them).
fn approved(list: &[String], scope: &str) -> bool {
    list.iter().any(|pattern| pattern == scope) || list.iter().any(|pattern| wildcard_match(pattern, scope))
}

/// The rule.
#[derive(Debug, Clone)]
pub struct ScopeEscalation {
    file: RuleFile<ScopeThresholds>,
    allow: Allowlist,
    /// Privileged actions without wildcards.
    exact_actions: HashSet<String, TextHash>,
    /// Privileged actions with wildcards.
    action_patterns: Vec<Glob>,
}

impl ScopeEscalation {
    /// The rule with its settings.
    pub fn new(file: RuleFile<ScopeThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        let (patterns, exact): (Vec<&String>, Vec<&String>) =
            file.thresholds.privileged_actions.iter().partition(|action| action.contains('*'));
        let exact_actions = exact.into_iter().cloned().collect();
        let action_patterns = patterns.into_iter().map(|pattern| Glob::new(pattern)).collect();
        ScopeEscalation { file, allow, exact_actions, action_patterns }
    }

    fn privileged(&self, action: &str) -> bool {
        self.exact_actions.contains(action) || self.action_patterns.iter().any(|glob| glob.matches(action))
    }
}

impl Rule for ScopeEscalation {
    rule_settings!("scope_escalation");

    fn evaluate(&self, ctx: &RuleContext<'_>, state: &mut TokenState, findings: &mut Vec<Finding>) {
        let event = ctx.event;
        let action = event.action.as_deref().filter(|action| self.privileged(action));
        if event.scopes.is_empty() && action.is_none() {
            return;
        }
        let thresholds = &self.file.thresholds;
        let capacity = thresholds.history_size as usize;
        let learning = ctx.learning(micros(thresholds.learning_period));
        let approved_list = ctx.inventory.map(|record| record.scopes.as_slice()).filter(|list| !list.is_empty());
        let mut history = History(state);
        history.settle(event.time_us);

        let mut new_scopes: Vec<&str> = Vec::new();
        for scope in &event.scopes {
            let key = hash(scope, SCOPE_SEED);
            let fires = match (approved_list, history.known(key)) {
                (_, Known::Learned) => false,
                (_, Known::Fresh) => true,
                (Some(list), Known::New) => !approved(list, scope),
                (None, Known::New) if learning => {
                    history.insert(key, false, capacity);
                    false
                }
                // A full history learns nothing more: history-only novelty stops there.
                (None, Known::New) => history.len() < capacity,
            };
            if fires && !new_scopes.contains(&scope.as_str()) {
                new_scopes.push(scope);
                history.insert(key, true, capacity);
            }
        }

        let mut privileged_action = None;
        if let Some(action) = action
            && !approved_list.is_some_and(|list| approved(list, action))
        {
            let key = hash(action, ACTION_SEED);
            match history.known(key) {
                Known::Learned => {}
                Known::Fresh => privileged_action = Some(action),
                Known::New if learning => history.insert(key, false, capacity),
                Known::New => {
                    privileged_action = Some(action);
                    history.insert(key, true, capacity);
                }
            }
        }

        if new_scopes.is_empty() && privileged_action.is_none() {
            return;
        }
        if history.fresh_until_us() == 0 {
            // Further uses count into the alert this raises, until its window closes.
            history.set_fresh_until_us(event.time_us.saturating_add(self.suppress_for_us()).max(1));
        }
        findings.push(Finding {
            event_ids: vec![event.event_id.clone()],
            evidence: json!({
                "new_scopes": new_scopes,
                "approved_scopes": approved_list,
                "privileged_action": privileged_action,
                "baseline": if approved_list.is_some() { "inventory" } else { "history" },
                "learning": learning,
                "outcome": event.outcome,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use tokenwatch_schemas::{Alert, Event};

    use super::*;
    use crate::config::RulesConfig;
    use crate::testing::{Harness, event, inventory_record};

    const MINUTE: i64 = 60_000_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;

    fn with_scopes(id: &str, time_us: i64, scopes: &[&str]) -> Event {
        let mut e = event(id, time_us);
        e.scopes = scopes.iter().map(|s| s.to_string()).collect();
        e
    }

    fn with_action(id: &str, time_us: i64, action: &str) -> Event {
        let mut e = event(id, time_us);
        e.action = Some(action.to_string());
        e
    }

    fn escalations(alerts: &[Alert]) -> Vec<&Alert> {
        alerts.iter().filter(|a| a.rule == "scope_escalation").collect()
    }

    fn approved_for(scopes: &[&str]) -> crate::inventory::InventoryRecord {
        let mut record = inventory_record("tok", "inv-orders");
        record.scopes = scopes.iter().map(|s| s.to_string()).collect();
        record
    }

    #[test]
    fn scope_state_fits_its_budget() {
        assert_eq!(std::mem::size_of::<ScopeState>(), 20, "update the module documentation");
    }

    #[test]
    fn an_unapproved_scope_fires_and_an_approved_one_never_used_does_not() {
        let mut harness = Harness::new(RulesConfig::builtin().unwrap())
            .with_inventory(vec![approved_for(&["orders:read", "orders:list"])]);
        let alerts = harness.run(vec![
            with_scopes("read", 0, &["orders:read"]),
            with_scopes("list", HOUR, &["orders:list"]),
            with_scopes("write", 2 * HOUR, &["orders:read", "orders:write"]),
            // Used again after the window: learned, no new alert.
            with_scopes("write-again", 5 * HOUR, &["orders:write"]),
        ]);
        let found = escalations(&alerts);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].event_ids, ["write"]);
        assert_eq!(found[0].inventory_id.as_deref(), Some("inv-orders"));
        let evidence = &found[0].evidence;
        assert_eq!(evidence["new_scopes"], json!(["orders:write"]));
        assert_eq!(evidence["approved_scopes"], json!(["orders:read", "orders:list"]));
        assert_eq!(evidence["privileged_action"], serde_json::Value::Null);
        assert_eq!(evidence["baseline"], "inventory");
        assert_eq!(evidence["learning"], true, "the token is hours old");
    }

    #[test]
    fn an_approved_wildcard_covers_its_scopes() {
        let mut harness =
            Harness::new(RulesConfig::builtin().unwrap()).with_inventory(vec![approved_for(&["orders:*"])]);
        let alerts = harness.run(vec![
            with_scopes("write", 0, &["orders:write"]),
            with_scopes("admin", 2 * HOUR, &["orders:write", "users:admin"]),
        ]);
        let found = escalations(&alerts);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].evidence["new_scopes"], json!(["users:admin"]));
    }

    #[test]
    fn without_inventory_history_is_learned_then_new_scopes_fire() {
        let mut harness = Harness::new(RulesConfig::builtin().unwrap());
        let alerts = harness.run(vec![
            with_scopes("first", 0, &["repo", "read:user"]),
            with_scopes("learning", 20 * HOUR, &["repo", "gist"]),
            with_scopes("known", 2 * DAY, &["repo", "gist", "read:user"]),
            with_scopes("admin", 3 * DAY, &["repo", "admin:org"]),
        ]);
        let found = escalations(&alerts);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].event_ids, ["admin"]);
        assert_eq!(found[0].inventory_id, None);
        let evidence = &found[0].evidence;
        assert_eq!(evidence["new_scopes"], json!(["admin:org"]));
        assert_eq!(evidence["approved_scopes"], serde_json::Value::Null);
        assert_eq!(evidence["baseline"], "history");
        assert_eq!(evidence["learning"], false);
    }

    #[test]
    fn an_inventory_record_without_approved_scopes_falls_back_to_history() {
        let mut harness =
            Harness::new(RulesConfig::builtin().unwrap()).with_inventory(vec![inventory_record("tok", "inv-1")]);
        let alerts =
            harness.run(vec![with_scopes("first", 0, &["repo"]), with_scopes("admin", 2 * DAY, &["admin:org"])]);
        let found = escalations(&alerts);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].evidence["baseline"], "history");
    }

    #[test]
    fn a_first_privileged_call_after_learning_fires_and_repeats_count_into_it() {
        let mut events = vec![with_action("list", 0, "ListBuckets"), with_action("get", 2 * DAY, "GetObject")];
        events.push(with_action("create-1", 2 * DAY + HOUR, "CreateAccessKey"));
        events.push(with_action("create-2", 2 * DAY + HOUR + 10 * MINUTE, "CreateAccessKey"));
        // After the window: learned.
        events.push(with_action("create-3", 2 * DAY + 3 * HOUR, "CreateAccessKey"));
        for e in &mut events {
            e.token_kind = tokenwatch_schemas::TokenKind::AccessKey;
            e.source = "cloudtrail".into();
        }
        let alerts = Harness::new(RulesConfig::builtin().unwrap()).run(events);
        let found = escalations(&alerts);
        assert_eq!(found.len(), 2, "raised, then its final count: {found:#?}");
        assert_eq!(found[0].alert_id, found[1].alert_id);
        assert_eq!((found[0].count, found[1].count), (1, 2));
        assert_eq!(found[1].event_ids, ["create-1", "create-2"]);
        let evidence = &found[0].evidence;
        assert_eq!(evidence["privileged_action"], "CreateAccessKey");
        assert_eq!(evidence["new_scopes"], json!([]));
        assert_eq!(evidence["learning"], false);
    }

    #[test]
    fn privileged_actions_are_learned_while_learning_and_may_be_approved() {
        let alerts = Harness::new(RulesConfig::builtin().unwrap())
            .run(vec![with_action("early", HOUR, "CreateUser"), with_action("later", 3 * DAY, "CreateUser")]);
        assert!(escalations(&alerts).is_empty(), "{alerts:#?}");

        let mut harness =
            Harness::new(RulesConfig::builtin().unwrap()).with_inventory(vec![approved_for(&["iam:*", "CreateUser"])]);
        let alerts = harness.run(vec![with_action("a", 0, "ListUsers"), with_action("b", 3 * DAY, "CreateUser")]);
        assert!(escalations(&alerts).is_empty(), "{alerts:#?}");
    }

    #[test]
    fn a_full_history_stops_learning() {
        let mut config = RulesConfig::builtin().unwrap();
        config.scope_escalation.thresholds.history_size = 2;
        let alerts = Harness::new(config.clone()).run(vec![
            with_scopes("first", 0, &["a", "b", "c"]),
            // History is full of `a` and `b`: `c` (never remembered) and `d` do not fire.
            with_scopes("later", 2 * DAY, &["c", "d"]),
        ]);
        assert!(escalations(&alerts).is_empty(), "{alerts:#?}");
        // Privileged actions still fire, every time (suppressed into one alert per window).
        let alerts = Harness::new(config).run(vec![
            with_scopes("first", 0, &["a", "b"]),
            with_action("create-1", 2 * DAY, "CreateUser"),
            with_action("create-2", 4 * DAY, "CreateUser"),
        ]);
        let found = escalations(&alerts);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_ne!(found[0].alert_id, found[1].alert_id);
    }

    #[test]
    fn history_entries_stay_sorted_and_fresh_entries_settle() {
        for texts in [&["x", "y", "z", "w"][..], &["x", "y", "z", "w", "a", "b", "c"]] {
            let mut state = TokenState::default();
            let mut history = History(&mut state);
            for text in texts {
                history.insert(hash(text, SCOPE_SEED), *text == "z", 32);
            }
            history.insert(hash("x", SCOPE_SEED), true, 32);
            assert_eq!(history.len(), texts.len());
            assert!(history.entries().windows(2).all(|pair| pair[0] < pair[1]));
            assert_eq!(history.known(hash("x", SCOPE_SEED)), Known::Learned);
            assert_eq!(history.known(hash("z", SCOPE_SEED)), Known::Fresh);
            assert_eq!(history.known(hash("z", ACTION_SEED)), Known::New);
            history.set_fresh_until_us(10);
            history.settle(9);
            assert_eq!(history.known(hash("z", SCOPE_SEED)), Known::Fresh);
            history.settle(10);
            assert_eq!(history.known(hash("z", SCOPE_SEED)), Known::Learned);
            assert_eq!(history.fresh_until_us(), 0);
            history.insert(hash("full", SCOPE_SEED), false, texts.len());
            assert_eq!(history.known(hash("full", SCOPE_SEED)), Known::New, "a full history learns nothing more");
        }
    }

    #[test]
    fn wildcards_match_like_glob() {
        for (pattern, text) in [
            ("orders:*", "orders:write"),
            ("orders:*", "orders:"),
            ("orders:*", "order:write"),
            ("*", ""),
            ("*:read", "users:read"),
            ("a*b*c", "aXXbYYc"),
            ("a*b*c", "acb"),
            ("ab*ba", "aba"),
            ("exact", "exact"),
            ("exact", "exactly"),
            ("a**b", "ab"),
        ] {
            assert_eq!(wildcard_match(pattern, text), Glob::new(pattern).matches(text), "{pattern} {text}");
        }
    }

    #[test]
    fn thresholds_are_validated() {
        let mut thresholds = RulesConfig::builtin().unwrap().scope_escalation.thresholds;
        assert!(thresholds.problems().is_empty());
        thresholds.history_size = 0;
        thresholds.privileged_actions.push("*".into());
        let problems = thresholds.problems().join("\n");
        assert!(problems.contains("thresholds.history_size"), "{problems}");
        assert!(problems.contains("thresholds.privileged_actions"), "{problems}");
    }
}

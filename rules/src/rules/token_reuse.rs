//! `token_reuse`: one token used at the same time from an unrelated network or device context, and
//! the vendors' own reuse signals.
//!
//! **Context of an event**: its network (the ASN when known, else the /24 of an IPv4 or the /48 of
//! an IPv6 `src_ip`), its country (`geo.country`), its user-agent family ([`user_agent_family`]:
//! browser, app or library name without version) and its device id.
//!
//! **State per token** ([`ReuseState`], 36 bytes in the token's core, asserted in a test): the
//! token's known countries, networks, user-agent families and device ids, each a set of at most 4
//! `u32` hashes (least recently seen out first), the first 8 values inline; a token that knows more
//! than 8 values in all moves its sets to its rarely needed part ([`ReuseExtra`], 64 bytes). Its
//! last use from its usual context (time, IP, ASN, country, family, device id and event id, for the
//! alert's `event_ids` and evidence) is its [`UseSlot::Reuse`] record, usually the token's latest
//! use, shared with the other rules.
//!
//! **Learning**: every use learns its context during the token's `learning_period` (from its first
//! use); afterwards only uses that did not fire do. Every learnt use becomes the "last usual use".
//! Vendor signals are never learnt. Uses the rule's `[allow]` list matches never fire but are
//! learnt (a trusted egress is the owner's usual context).
//!
//! **What fires**:
//! - at once, learning or not: an event whose `action` matches one of `vendor_signals` (Okta's
//!   refresh-token reuse detection, Auth0's `ferrt`); evidence `{"signal": action}`,
//!   `event_ids` = [current];
//! - after learning, within `concurrency_window` of the last usual use (either side):
//!   - `new_network_and_country`: both the network and the country are known and neither is among
//!     the token's known ones (a new network in a known country is mobile churn: no alert);
//!   - `new_user_agent_family`: the event and the last usual use both have a user agent, and the
//!     event's family is not among the known ones;
//!   - `new_device`: the event has a device id and the token has known ones, not this one.
//!
//!   A dimension with no known value yet (say, no country ever seen) is never "new". A new context
//!   outside the window (hours later) does not fire: that is travel, `impossible_travel`'s job.
//!
//! **Evidence** (non-vendor): `reason`, `seconds_since_usual_use`, `usual` (the last usual use:
//! `event_id`, `time`, `ip`, `asn`, `network`, `country`, `user_agent_family`, `device_id`),
//! `known` (how many countries, networks, families, devices the token has learnt) and `new` (`ip`,
//! `asn`, `network`, `country`, `user_agent_family`, `device_id` of the event).
//! `event_ids` = [last usual use, current use].

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokenwatch_schemas::Event;
use tokenwatch_schemas::mapping::Glob;
use tokenwatch_schemas::time::format_rfc3339_micros;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Allowlist, RuleFile, Thresholds, micros};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::{TokenCore, TokenState, UseSlot, UseView};

/// Values of one context dimension remembered per token.
const KNOWN: usize = 4;
/// Longest user-agent family kept, bytes.
const MAX_FAMILY: usize = 64;

/// `[thresholds]` of `token_reuse.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReuseThresholds {
    /// The usual context counts as active this long after its last use.
    #[serde(with = "humantime_serde")]
    pub concurrency_window: Duration,
    /// How long a token must be known before its context counts as known.
    #[serde(with = "humantime_serde")]
    pub learning_period: Duration,
    /// Vendor reuse signals (wildcards on `action`).
    pub vendor_signals: Vec<String>,
}

impl Thresholds for ReuseThresholds {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.concurrency_window.is_zero() {
            problems.push("`thresholds.concurrency_window`: must be longer than 0s".to_string());
        }
        if self.vendor_signals.iter().any(|s| s.trim().is_empty()) {
            problems.push("`thresholds.vendor_signals`: a pattern is empty".to_string());
        }
        problems
    }
}

/// A set of at most [`KNOWN`] non-zero hashes, the most recently seen last (0 = empty slot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Recent([u32; KNOWN]);

impl Recent {
    fn values(&self) -> &[u32] {
        let first = self.0.iter().position(|&h| h != 0).unwrap_or(KNOWN);
        &self.0[first..]
    }

    /// Marks `hash` as seen now, dropping the least recently seen value when full.
    fn touch(&mut self, hash: u32) {
        let from = self.0.iter().position(|&h| h == hash).unwrap_or(0);
        self.0.copy_within(from + 1.., from);
        self.0[KNOWN - 1] = hash;
    }
}

/// The context dimensions, in storage order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Country = 0,
    Network = 1,
    Family = 2,
    Device = 3,
}

/// Dimensions of the context.
const DIMENSIONS: usize = 4;
/// Known values kept inline, over every dimension.
const POOL: usize = 8;
/// `counts` of a state whose sets moved to [`ReuseExtra`].
const SPILLED: u16 = u16::MAX;

/// Per-token state of the rule: the known context (36 bytes; see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReuseState {
    /// Values per dimension, 4 bits each (dimension `d` at bits `4d..4d + 4`), or [`SPILLED`].
    counts: u16,
    /// The dimensions' values one after another, each dimension's least recently seen first.
    pool: [u32; POOL],
}

/// The known context of a token that knows more than [`POOL`] values (in the token's rarely
/// needed part).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReuseExtra {
    sets: Option<Box<[Recent; DIMENSIONS]>>,
}

impl ReuseState {
    fn range(&self, dimension: Dimension) -> std::ops::Range<usize> {
        let count = |d: usize| usize::from((self.counts >> (4 * d)) & 0xf);
        let start: usize = (0..dimension as usize).map(count).sum();
        start..start + count(dimension as usize)
    }

    fn total(&self) -> usize {
        (0..DIMENSIONS).map(|d| usize::from((self.counts >> (4 * d)) & 0xf)).sum()
    }
}

/// A token's known context, wherever it is kept.
#[derive(Debug, Clone, Copy)]
struct Known<'a> {
    state: &'a ReuseState,
    spilled: Option<&'a [Recent; DIMENSIONS]>,
}

impl<'a> Known<'a> {
    fn of(core: &'a TokenCore) -> Self {
        let spilled = if core.reuse.counts == SPILLED {
            core.extra().and_then(|extra| extra.reuse.sets.as_deref())
        } else {
            None
        };
        Known { state: &core.reuse, spilled }
    }

    /// The dimension's values, least recently seen first.
    fn values(&self, dimension: Dimension) -> &'a [u32] {
        match self.spilled {
            Some(sets) => sets[dimension as usize].values(),
            None if self.state.counts == SPILLED => &[],
            None => &self.state.pool[self.state.range(dimension)],
        }
    }

    fn contains(&self, dimension: Dimension, hash: u32) -> bool {
        self.values(dimension).contains(&hash)
    }

    fn len(&self, dimension: Dimension) -> usize {
        self.values(dimension).len()
    }

    fn is_empty(&self, dimension: Dimension) -> bool {
        self.values(dimension).is_empty()
    }
}

/// Marks `hash` of `dimension` as seen now, dropping the dimension's least recently seen value
/// when it holds [`KNOWN`].
fn touch(core: &mut TokenCore, dimension: Dimension, hash: u32) {
    let state = &mut core.reuse;
    if state.counts != SPILLED {
        let range = state.range(dimension);
        let total = state.total();
        if let Some(at) = state.pool[range.clone()].iter().position(|&h| h == hash) {
            // Usually already the most recent: nothing to move.
            if range.start + at + 1 < range.end {
                state.pool[range.start + at..range.end].rotate_left(1);
            }
            return;
        }
        if range.len() == KNOWN {
            state.pool[range.clone()].rotate_left(1);
            state.pool[range.end - 1] = hash;
            return;
        }
        if total < POOL {
            state.pool.copy_within(range.end..total, range.end + 1);
            state.pool[range.end] = hash;
            state.counts += 1 << (4 * dimension as usize);
            return;
        }
        // Full: the sets move to the rarely needed part, as fixed sets of KNOWN.
        let mut sets = [Recent::default(); DIMENSIONS];
        for d in [Dimension::Country, Dimension::Network, Dimension::Family, Dimension::Device] {
            let values = &state.pool[state.range(d)];
            sets[d as usize].0[KNOWN - values.len()..].copy_from_slice(values);
        }
        state.counts = SPILLED;
        state.pool = [0; POOL];
        core.extra_mut().reuse.sets = Some(Box::new(sets));
    }
    let sets = core.extra_mut().reuse.sets.get_or_insert_with(Box::default);
    sets[dimension as usize].touch(hash);
}

/// The rule.
#[derive(Debug, Clone)]
pub struct TokenReuse {
    file: RuleFile<ReuseThresholds>,
    allow: Allowlist,
    signals: Vec<Glob>,
}

impl TokenReuse {
    /// The rule with its settings.
    pub fn new(file: RuleFile<ReuseThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        let signals = file.thresholds.vendor_signals.iter().map(|s| Glob::new(s)).collect();
        TokenReuse { file, allow, signals }
    }
}

impl Rule for TokenReuse {
    rule_settings!("token_reuse");

    fn evaluate(&self, ctx: &RuleContext<'_>, state: &mut TokenState, findings: &mut Vec<Finding>) {
        let event = ctx.event;
        if let Some(action) = event.action.as_deref()
            && self.signals.iter().any(|signal| signal.matches(action))
        {
            findings.push(Finding { event_ids: vec![event.event_id.clone()], evidence: json!({ "signal": action }) });
            return;
        }
        let thresholds = &self.file.thresholds;
        let context = Context::of(event);
        let state: &mut TokenCore = state;
        if !ctx.learning(micros(thresholds.learning_period))
            && let Some(usual) = state.recalled(UseSlot::Reuse)
        {
            let known = Known::of(state);
            let since_us = event.time_us.saturating_sub(usual.time_us());
            if since_us.unsigned_abs() <= micros(thresholds.concurrency_window).unsigned_abs()
                && let Some(reason) = judge(known, &context, &usual)
                && !self.allow.allows(event)
            {
                findings.push(finding(reason, known, &usual, &context, event, since_us));
                return;
            }
        }
        learn(state, &context, event);
    }
}

/// Why `context` is unrelated to the token's known context, if it is. `usual` is the last usual
/// use.
fn judge(known: Known<'_>, context: &Context<'_>, usual: &UseView<'_>) -> Option<&'static str> {
    let is_new = |dimension: Dimension, hash: Option<u32>| {
        hash.is_some_and(|h| !known.is_empty(dimension) && !known.contains(dimension, h))
    };
    if is_new(Dimension::Network, context.network.map(Network::hash))
        && is_new(Dimension::Country, context.country_hash())
    {
        return Some("new_network_and_country");
    }
    if usual.family().is_some() && is_new(Dimension::Family, context.family_hash()) {
        return Some("new_user_agent_family");
    }
    if is_new(Dimension::Device, context.device_hash()) {
        return Some("new_device");
    }
    None
}

/// Folds a use that did not fire into the known context; it becomes the last usual use unless it
/// is older than the current one.
fn learn(state: &mut TokenCore, context: &Context<'_>, event: &Event) {
    if let Some(network) = context.network {
        touch(state, Dimension::Network, network.hash());
    }
    if let Some(hash) = context.country_hash() {
        touch(state, Dimension::Country, hash);
    }
    if let Some(hash) = context.family_hash() {
        touch(state, Dimension::Family, hash);
    }
    if let Some(hash) = context.device_hash() {
        touch(state, Dimension::Device, hash);
    }
    if state.recalled(UseSlot::Reuse).is_none_or(|usual| event.time_us >= usual.time_us()) {
        state.remember(UseSlot::Reuse);
    }
}

/// A trimmed, non-empty text.
fn nonempty(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|text| !text.is_empty())
}

fn finding(
    reason: &str,
    known: Known<'_>,
    usual: &UseView<'_>,
    context: &Context<'_>,
    event: &Event,
    since_us: i64,
) -> Finding {
    let usual_id = usual.event_id();
    let usual_network = Network::of(usual.asn(), usual.ip());
    Finding {
        event_ids: vec![usual_id.to_string(), event.event_id.clone()],
        evidence: json!({
            "reason": reason,
            "seconds_since_usual_use": since_us as f64 / 1e6,
            "usual": {
                "event_id": usual_id,
                "time": format_rfc3339_micros(usual.time_us()),
                "ip": usual.ip().map(|ip| ip.to_string()),
                "asn": usual.asn(),
                "network": usual_network.map(|n| n.to_string()),
                "country": usual.country().and_then(nonempty),
                "user_agent_family": usual.family(),
                "device_id": usual.device().and_then(nonempty),
            },
            "known": {
                "countries": known.len(Dimension::Country),
                "networks": known.len(Dimension::Network),
                "user_agent_families": known.len(Dimension::Family),
                "devices": known.len(Dimension::Device),
            },
            "new": {
                "ip": event.src_ip.map(|ip| ip.to_string()),
                "asn": event.asn,
                "network": context.network.map(|n| n.to_string()),
                "country": context.country,
                "user_agent_family": context.family,
                "device_id": context.device,
            },
        }),
    }
}

/// The context an event comes from.
#[derive(Debug, Clone, Copy)]
struct Context<'a> {
    network: Option<Network>,
    country: Option<&'a str>,
    family: Option<&'a str>,
    device: Option<&'a str>,
}

impl<'a> Context<'a> {
    fn of(event: &'a Event) -> Self {
        Context {
            network: Network::of(event.asn, event.src_ip),
            country: event.geo.as_ref().and_then(|g| g.country.as_deref()).and_then(nonempty),
            family: event.user_agent.as_deref().and_then(user_agent_family),
            device: event.device_id.as_deref().and_then(nonempty),
        }
    }

    fn country_hash(&self) -> Option<u32> {
        self.country.map(|c| hash_folded(b'c', c))
    }

    fn family_hash(&self) -> Option<u32> {
        self.family.map(|f| hash_folded(b'u', f))
    }

    fn device_hash(&self) -> Option<u32> {
        self.device.map(|d| hash_bytes(b'd', d.as_bytes()))
    }
}

/// A caller's network: its autonomous system when known, else its address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    Asn(u32),
    V4([u8; 3]),
    V6([u8; 6]),
}

impl Network {
    fn of(asn: Option<u32>, ip: Option<IpAddr>) -> Option<Self> {
        if let Some(asn) = asn {
            return Some(Network::Asn(asn));
        }
        Some(match ip?.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Network::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let o = v6.octets();
                Network::V6([o[0], o[1], o[2], o[3], o[4], o[5]])
            }
        })
    }

    fn hash(self) -> u32 {
        match self {
            Network::Asn(asn) => hash_bytes(b'a', &asn.to_le_bytes()),
            Network::V4(prefix) => hash_bytes(b'4', &prefix),
            Network::V6(prefix) => hash_bytes(b'6', &prefix),
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Network::Asn(asn) => write!(f, "AS{asn}"),
            Network::V4([a, b, c]) => write!(f, "{a}.{b}.{c}.0/24"),
            Network::V6(o) => {
                let mut bytes = [0u8; 16];
                bytes[..6].copy_from_slice(o);
                write!(f, "{}/48", std::net::Ipv6Addr::from(bytes))
            }
        }
    }
}

/// A non-zero 32-bit hash of `bytes` under a one-byte `tag` (so dimensions never collide by
/// construction): 32 bits of XXH3 of the tag followed by the bytes.
fn hash_bytes(tag: u8, bytes: &[u8]) -> u32 {
    tagged_hash(tag, bytes, false)
}

/// [`hash_bytes`] of the ASCII-lower-cased text.
fn hash_folded(tag: u8, text: &str) -> u32 {
    tagged_hash(tag, text.as_bytes(), true)
}

fn tagged_hash(tag: u8, bytes: &[u8], fold: bool) -> u32 {
    /// Hashes `tag` and `bytes` (lower-cased when `fold`) through a buffer of `N` bytes.
    fn through<const N: usize>(tag: u8, bytes: &[u8], fold: bool) -> u64 {
        let mut buffer = [0u8; N];
        let tagged = &mut buffer[..=bytes.len()];
        tagged[0] = tag;
        tagged[1..].copy_from_slice(bytes);
        if fold {
            tagged[1..].make_ascii_lowercase();
        }
        xxh3_64(tagged)
    }
    let hash = match bytes.len() {
        0..16 => through::<16>(tag, bytes, fold),
        16..80 => through::<80>(tag, bytes, fold),
        _ => {
            let mut owned = Vec::with_capacity(bytes.len() + 1);
            owned.push(tag);
            owned.extend_from_slice(bytes);
            if fold {
                owned.make_ascii_lowercase();
                owned[0] = tag;
            }
            xxh3_64(&owned)
        }
    };
    (hash as u32).max(1)
}

/// Browsers, found by their marker in a `Mozilla/…` user agent, the first match winning (Edge and
/// Opera also say Chrome and Safari; Chrome also says Safari).
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edge/", "Edge"),
    ("OPR/", "Opera"),
    ("OPT/", "Opera"),
    ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Vivaldi/", "Vivaldi"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chrome"),
    ("Safari/", "Safari"),
    ("Trident/", "Internet Explorer"),
    ("MSIE ", "Internet Explorer"),
];

/// The family of a user agent: the browser, app or library without its version — `Chrome`,
/// `Firefox`, `Safari`, `Edge`, … for browsers (`Mozilla` for an unrecognised one), else the first
/// product name (`okhttp`, `python-requests`, `curl`, `aws-cli`, `Go-http-client`, `Boto3`, …).
/// `None` for an empty user agent.
///
/// Every event with a user agent needs its family (twice: for the token's context and for the
/// record of its use), and a handful of distinct agents make most traffic, so the answer is
/// memoised per thread (256 agents, by hash); the memo never changes the answer.
pub fn user_agent_family(agent: &str) -> Option<&str> {
    const SLOTS: usize = 256;
    /// The last agents seen by this thread, by hash, with their families, and the slot of the one
    /// asked last (the same event asks twice).
    struct Memo {
        slots: Vec<Option<(Box<str>, Family)>>,
        last: usize,
    }
    thread_local! {
        static MEMO: std::cell::RefCell<Memo> = std::cell::RefCell::new(Memo { slots: vec![None; SLOTS], last: 0 });
    }
    if agent.len() > 512 {
        return family_of(agent).resolve(agent);
    }
    let family = MEMO.with_borrow_mut(|memo| {
        if let Some((known, family)) = &memo.slots[memo.last]
            && **known == *agent
        {
            return *family;
        }
        let slot = (xxh3_64(agent.as_bytes()) % SLOTS as u64) as usize;
        memo.last = slot;
        match &memo.slots[slot] {
            Some((known, family)) if **known == *agent => *family,
            _ => {
                let family = family_of(agent);
                memo.slots[slot] = Some((agent.into(), family));
                family
            }
        }
    });
    family.resolve(agent)
}

/// A user agent's family: a browser name, or a part of the agent itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    None,
    Named(&'static str),
    /// Byte range in the agent.
    Part(usize, usize),
}

impl Family {
    fn resolve(self, agent: &str) -> Option<&str> {
        match self {
            Family::None => None,
            Family::Named(name) => Some(name),
            Family::Part(start, end) => agent.get(start..end),
        }
    }
}

/// [`user_agent_family`], computed.
fn family_of(raw: &str) -> Family {
    let agent = raw.trim().trim_start_matches(['[', '"', '\'']).trim_start();
    if agent.starts_with("Mozilla/") || agent.starts_with("Opera/") {
        return Family::Named(browser(agent));
    }
    // Terraform's AWS provider leads with the partner network product (`APN/1.0 HashiCorp/1.0 …`).
    if agent.starts_with("APN/") && agent.contains("Terraform/") {
        return Family::Named("Terraform");
    }
    let head = agent.split(['(', ';', ',', '[', ']']).next().unwrap_or_default();
    let product = match head.split_once('/') {
        Some((product, _)) => product,
        None => head.split_whitespace().next().unwrap_or_default(),
    };
    let trimmed = product.trim();
    if trimmed.is_empty() {
        return Family::None;
    }
    let mut end = trimmed.len().min(MAX_FAMILY);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    // `trimmed` is a part of `raw`: where it starts in it.
    let start = trimmed.as_ptr() as usize - raw.as_ptr() as usize;
    Family::Part(start, start + end)
}

/// The first of [`BROWSERS`] whose marker `agent` contains (`Mozilla` when none does), in one
/// pass over the agent: at each position, only the markers starting with that byte are tried.
fn browser(agent: &str) -> &'static str {
    let bytes = agent.as_bytes();
    let mut best = BROWSERS.len();
    for at in 0..bytes.len() {
        let first = bytes[at];
        if !matches!(first, b'E' | b'O' | b'S' | b'Y' | b'V' | b'F' | b'C' | b'T' | b'M') {
            continue;
        }
        let rest = &bytes[at..];
        for (index, (marker, _)) in BROWSERS.iter().enumerate().take(best) {
            if marker.as_bytes()[0] == first && rest.starts_with(marker.as_bytes()) {
                best = index;
                break;
            }
        }
        if best == 0 {
            break;
        }
    }
    BROWSERS.get(best).map_or("Mozilla", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use tokenwatch_schemas::{Alert, Geo, GeoFrom};

    use super::*;
    use crate::config::RulesConfig;
    use crate::testing::{Harness, event};

    const MINUTE: i64 = 60_000_000;
    const HOUR: i64 = 60 * MINUTE;
    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/120.0.0.0 Safari/537.36";

    /// A use from `ip` in `asn`, `country`, with `agent`.
    fn used(id: &str, time_us: i64, ip: &str, asn: u32, country: &str, agent: &str) -> Event {
        let mut e = event(id, time_us);
        e.src_ip = Some(ip.parse().unwrap());
        e.asn = Some(asn);
        e.geo = Some(Geo {
            lat: None,
            lon: None,
            country: Some(country.to_string()),
            city: None,
            radius_km: None,
            from: GeoFrom::Record,
        });
        e.user_agent = Some(agent.to_string());
        e
    }

    /// The owner: London, AS 2856, Chrome.
    fn owner(id: &str, time_us: i64) -> Event {
        used(id, time_us, "81.2.69.142", 2856, "GB", CHROME)
    }

    fn reuse_alerts(events: Vec<Event>) -> Vec<Alert> {
        let alerts = Harness::new(RulesConfig::builtin().unwrap()).run(events);
        alerts.into_iter().filter(|a| a.rule == "token_reuse").collect()
    }

    #[test]
    fn state_fits_its_budget() {
        assert_eq!(std::mem::size_of::<ReuseState>(), 36, "update the module documentation");
    }

    #[test]
    fn a_stolen_token_replayed_abroad_minutes_after_the_owner_fires() {
        let alerts = reuse_alerts(vec![
            owner("o1", 0),
            owner("o2", 25 * HOUR),
            used("x", 25 * HOUR + 2 * MINUTE, "203.0.113.50", 64_999, "US", CHROME),
        ]);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].event_ids, ["o2", "x"]);
        let evidence = &alerts[0].evidence;
        assert_eq!(evidence["reason"], "new_network_and_country");
        assert_eq!(evidence["seconds_since_usual_use"], 120.0);
        assert_eq!(
            evidence["usual"],
            json!({"event_id": "o2", "time": "1970-01-02T01:00:00.000000Z", "ip": "81.2.69.142", "asn": 2856,
                   "network": "AS2856", "country": "GB", "user_agent_family": "Chrome", "device_id": null})
        );
        assert_eq!(
            evidence["new"],
            json!({"ip": "203.0.113.50", "asn": 64999, "network": "AS64999", "country": "US",
                   "user_agent_family": "Chrome", "device_id": null})
        );
        assert_eq!(evidence["known"], json!({"countries": 1, "networks": 1, "user_agent_families": 1, "devices": 0}));
    }

    #[test]
    fn the_same_replay_hours_later_is_travel_not_reuse() {
        let alerts = reuse_alerts(vec![
            owner("o1", 0),
            owner("o2", 25 * HOUR),
            used("x", 30 * HOUR, "203.0.113.50", 64_999, "US", CHROME),
        ]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn mobile_churn_in_the_same_country_does_not_fire() {
        let alerts = reuse_alerts(vec![
            owner("o1", 0),
            owner("o2", 25 * HOUR),
            used("m", 25 * HOUR + 2 * MINUTE, "92.40.1.1", 12_576, "GB", CHROME),
        ]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn a_script_while_the_owners_browser_is_active_fires() {
        let alerts = reuse_alerts(vec![
            owner("o1", 0),
            owner("o2", 25 * HOUR),
            used("py", 25 * HOUR + 3 * MINUTE, "81.2.69.142", 2856, "GB", "python-requests/2.31.0"),
        ]);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].evidence["reason"], "new_user_agent_family");
        assert_eq!(alerts[0].evidence["new"]["user_agent_family"], "python-requests");
        assert_eq!(alerts[0].event_ids, ["o2", "py"]);
    }

    #[test]
    fn a_family_seen_while_learning_is_known_later() {
        let alerts = reuse_alerts(vec![
            owner("o1", 0),
            used("app", HOUR, "81.2.69.142", 2856, "GB", "okhttp/4.9.0"),
            owner("o2", 30 * HOUR),
            used("app2", 30 * HOUR + MINUTE, "81.2.69.142", 2856, "GB", "okhttp/4.12.0"),
        ]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn a_use_without_user_agent_does_not_make_families_new() {
        let mut bare = owner("o2", 25 * HOUR);
        bare.user_agent = None;
        let alerts = reuse_alerts(vec![
            owner("o1", 0),
            bare,
            used("py", 25 * HOUR + MINUTE, "81.2.69.142", 2856, "GB", "python-requests/2.31.0"),
        ]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn a_new_device_while_the_usual_one_is_active_fires() {
        let mut o1 = owner("o1", 0);
        o1.device_id = Some("dev-1".into());
        let mut o2 = owner("o2", 25 * HOUR);
        o2.device_id = Some("dev-1".into());
        let mut other = owner("d", 25 * HOUR + MINUTE);
        other.device_id = Some("dev-2".into());
        let alerts = reuse_alerts(vec![o1, o2, other]);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].evidence["reason"], "new_device");
        assert_eq!(alerts[0].evidence["usual"]["device_id"], "dev-1");
        assert_eq!(alerts[0].evidence["new"]["device_id"], "dev-2");
    }

    #[test]
    fn nothing_fires_while_learning() {
        let alerts = reuse_alerts(vec![
            owner("o1", 0),
            used("x", 2 * MINUTE, "203.0.113.50", 64_999, "US", "python-requests/2.31.0"),
        ]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn okta_reuse_detection_fires_at_once() {
        let mut signal = owner("okta-1", 0);
        signal.action = Some("app.oauth2.as.token.detect_reuse".into());
        let alerts = reuse_alerts(vec![signal]);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].evidence, json!({"signal": "app.oauth2.as.token.detect_reuse"}));
        assert_eq!(alerts[0].event_ids, ["okta-1"]);
    }

    #[test]
    fn auth0_ferrt_fires() {
        let mut exchange = used("se", 0, "81.2.69.142", 2856, "GB", "Go-http-client/2.0");
        exchange.action = Some("sertft".into());
        let mut reuse = used("ferrt", 10 * MINUTE, "81.2.69.143", 2856, "GB", "Go-http-client/2.0");
        reuse.action = Some("ferrt".into());
        let alerts = reuse_alerts(vec![exchange, reuse]);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].evidence, json!({"signal": "ferrt"}));
        assert_eq!(alerts[0].event_ids, ["ferrt"]);
    }

    #[test]
    fn without_asn_the_address_block_is_the_network() {
        let mut o1 = owner("o1", 0);
        o1.asn = None;
        let mut o2 = owner("o2", 25 * HOUR);
        o2.asn = None;
        o2.src_ip = Some("81.2.69.200".parse().unwrap());
        let mut x = used("x", 25 * HOUR + MINUTE, "2001:db8:abcd:12::1", 0, "US", CHROME);
        x.asn = None;
        let alerts = reuse_alerts(vec![o1, o2, x]);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].evidence["usual"]["network"], "81.2.69.0/24");
        assert_eq!(alerts[0].evidence["new"]["network"], "2001:db8:abcd::/48");
    }

    #[test]
    fn allowlisted_uses_never_fire_but_are_learnt() {
        let mut config = RulesConfig::builtin().unwrap();
        config.token_reuse.allow.cidrs = vec!["203.0.113.0/24".parse().unwrap()];
        let events = vec![
            owner("o1", 0),
            owner("o2", 25 * HOUR),
            // The corporate egress abroad: allowlisted, so no alert, and now a known context.
            used("egress", 25 * HOUR + 2 * MINUTE, "203.0.113.50", 64_999, "US", CHROME),
            used("again", 25 * HOUR + 4 * MINUTE, "198.51.100.7", 64_999, "US", CHROME),
        ];
        let alerts = Harness::new(config).run(events);
        assert!(alerts.iter().all(|a| a.rule != "token_reuse"), "{alerts:#?}");
    }

    #[test]
    fn thresholds_are_validated() {
        let mut thresholds = RulesConfig::builtin().unwrap().token_reuse.thresholds;
        assert!(thresholds.problems().is_empty());
        thresholds.concurrency_window = Duration::ZERO;
        thresholds.vendor_signals.push(" ".into());
        let problems = thresholds.problems().join("\n");
        assert!(problems.contains("thresholds.concurrency_window"), "{problems}");
        assert!(problems.contains("thresholds.vendor_signals"), "{problems}");
    }

    #[test]
    fn families_drop_versions() {
        for (agent, family) in [
            (CHROME, "Chrome"),
            ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox"),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Version/17.1 Safari/605.1.15",
                "Safari",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
                "Edge",
            ),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", "Mozilla"),
            ("okhttp/4.9.0", "okhttp"),
            ("python-requests/2.31.0", "python-requests"),
            ("curl/8.4.0", "curl"),
            ("aws-cli/2.13.0 Python/3.11.4 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/s3.ls", "aws-cli"),
            ("[aws-sdk-go/1.44.0 (go1.20; linux; amd64)]", "aws-sdk-go"),
            ("Boto3/1.28.0 md/Botocore#1.31.0 ua/2.0 os/linux#5.10", "Boto3"),
            ("Go-http-client/2.0", "Go-http-client"),
            (
                "APN/1.0 HashiCorp/1.0 Terraform/1.5.0 (+https://www.terraform.io) terraform-provider-aws/5.0",
                "Terraform",
            ),
            ("orders-spa/2.4.1", "orders-spa"),
            ("AWS Internal", "AWS"),
            ("console.amazonaws.com", "console.amazonaws.com"),
        ] {
            assert_eq!(user_agent_family(agent), Some(family), "{agent}");
        }
        assert_eq!(user_agent_family("  "), None);
        assert_eq!(user_agent_family("(compatible)"), None);
    }

    #[test]
    fn recent_sets_forget_the_least_recently_seen() {
        let mut set = Recent::default();
        assert!(set.values().is_empty());
        for hash in [1, 2, 3, 4] {
            set.touch(hash);
        }
        set.touch(1);
        set.touch(5);
        assert_eq!(set.0, [3, 4, 1, 5]);
        assert_eq!(set.values(), [3, 4, 1, 5]);
    }

    #[test]
    fn the_inline_pool_behaves_as_four_fixed_sets_then_spills_into_them() {
        let dimensions = [Dimension::Country, Dimension::Network, Dimension::Family, Dimension::Device];
        for seed in 0..200u64 {
            // A small xorshift stream: enough to cover the pool's cases, no dependency.
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = |below: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % below
            };
            let mut core = crate::state::TokenState::default();
            let mut reference = [Recent::default(); DIMENSIONS];
            let values = 1 + next(7) as u32;
            for _ in 0..next(40) {
                let dimension = dimensions[next(DIMENSIONS as u64) as usize];
                let hash = 1 + next(u64::from(values)) as u32;
                touch(&mut core, dimension, hash);
                reference[dimension as usize].touch(hash);
                let known = Known::of(&core);
                for d in dimensions {
                    assert_eq!(known.values(d), reference[d as usize].values(), "seed {seed}, {d:?}");
                }
            }
        }
    }

    #[test]
    fn the_memo_gives_the_computed_family_again() {
        for agent in
            ["  [aws-sdk-go/1.44.0 (go1.20; linux; amd64)]", " 'curl/8.4.0' ", CHROME, "   ", "GitHub CLI 2.63.2"]
        {
            let computed = family_of(agent).resolve(agent);
            for _ in 0..3 {
                assert_eq!(user_agent_family(agent), computed, "{agent:?}");
            }
        }
        assert_eq!(user_agent_family("  [aws-sdk-go/1.44.0 (go1.20)]"), Some("aws-sdk-go"));
        // Many distinct agents share the memo's slots: each still gets its own family.
        for n in 0..500 {
            let agent = format!("agent-{n}/1.0");
            assert_eq!(user_agent_family(&agent), Some(format!("agent-{n}").as_str()));
        }
    }

    #[test]
    fn browsers_are_found_in_priority_order_wherever_their_marker_is() {
        for (marker, _) in BROWSERS {
            let agent = format!("Mozilla/5.0 (X) {marker}1.0 Safari/537.36 Chrome/1");
            let expected = BROWSERS.iter().find(|(m, _)| agent.contains(m)).map_or("Mozilla", |(_, name)| name);
            assert_eq!(browser(&agent), expected, "{agent}");
        }
        assert_eq!(browser("Mozilla/5.0 (Linux)"), "Mozilla");
    }
}

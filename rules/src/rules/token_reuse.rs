//! `token_reuse`: one token used at the same time from an unrelated network or device context, and
//! the vendors' own reuse signals.
//!
//! **Context of an event**: its network (the ASN when known, else the /24 of an IPv4 or the /48 of
//! an IPv6 `src_ip`), its country (`geo.country`), its user-agent family ([`user_agent_family`]:
//! browser, app or library name without version) and its device id.
//!
//! **State per token** ([`ReuseState`], 88 bytes inline, asserted in a test): the token's known
//! countries, networks, user-agent families and device ids, each a set of at most 4 `u32` hashes
//! (least recently seen out first); the event time of its last use from its usual context; and one
//! boxed string with that use's IP, ASN, country, family, device id and event id (for the alert's
//! `event_ids` and evidence; heap).
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
use crate::state::TokenState;

/// Values of one context dimension remembered per token.
const KNOWN: usize = 4;
/// Separates the fields of [`ReuseState::usual`] (removed from the fields themselves).
const SEP: char = '\u{1f}';
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
    fn contains(&self, hash: u32) -> bool {
        self.0.contains(&hash)
    }

    fn is_empty(&self) -> bool {
        self.0[KNOWN - 1] == 0
    }

    fn len(&self) -> usize {
        self.0.iter().filter(|&&h| h != 0).count()
    }

    /// Marks `hash` as seen now, dropping the least recently seen value when full.
    fn touch(&mut self, hash: u32) {
        let from = self.0.iter().position(|&h| h == hash).unwrap_or(0);
        self.0.copy_within(from + 1.., from);
        self.0[KNOWN - 1] = hash;
    }
}

/// Per-token state of the rule: the known context and the last usual use (88 bytes inline).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReuseState {
    /// Known countries.
    countries: Recent,
    /// Known networks (ASN, or IPv4 /24, or IPv6 /48).
    networks: Recent,
    /// Known user-agent families.
    families: Recent,
    /// Known device ids.
    devices: Recent,
    /// Event time of the last usual use, µs.
    usual_us: i64,
    /// IP, ASN, country, user-agent family, device id and event id of the last usual use,
    /// `SEP`-separated (the id last, as is); `None` before the first.
    usual: Option<Box<str>>,
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
        let reuse = &mut state.reuse;
        if !ctx.learning(micros(thresholds.learning_period))
            && let Some(usual) = reuse.usual.as_deref()
        {
            let since_us = event.time_us.saturating_sub(reuse.usual_us);
            if since_us.unsigned_abs() <= micros(thresholds.concurrency_window).unsigned_abs()
                && let Some(reason) = reuse.judge(&context, usual)
                && !self.allow.allows(event)
            {
                findings.push(finding(reason, reuse, usual, &context, event, since_us));
                return;
            }
        }
        reuse.learn(&context, event);
    }
}

impl ReuseState {
    /// Why `context` is unrelated to the token's known context, if it is. `usual` is the packed
    /// last usual use.
    fn judge(&self, context: &Context<'_>, usual: &str) -> Option<&'static str> {
        let is_new = |known: &Recent, hash: Option<u32>| hash.is_some_and(|h| !known.is_empty() && !known.contains(h));
        if is_new(&self.networks, context.network.map(Network::hash)) && is_new(&self.countries, context.country_hash())
        {
            return Some("new_network_and_country");
        }
        let (fields, _) = unpack::<5>(usual);
        if fields[3].is_some() && is_new(&self.families, context.family_hash()) {
            return Some("new_user_agent_family");
        }
        if is_new(&self.devices, context.device_hash()) {
            return Some("new_device");
        }
        None
    }

    /// Folds a use that did not fire into the known context; it becomes the last usual use unless
    /// it is older than the current one.
    fn learn(&mut self, context: &Context<'_>, event: &Event) {
        if let Some(network) = context.network {
            self.networks.touch(network.hash());
        }
        if let Some(hash) = context.country_hash() {
            self.countries.touch(hash);
        }
        if let Some(hash) = context.family_hash() {
            self.families.touch(hash);
        }
        if let Some(hash) = context.device_hash() {
            self.devices.touch(hash);
        }
        if self.usual.is_none() || event.time_us >= self.usual_us {
            let ip = event.src_ip.map(|ip| ip.to_string());
            let asn = event.asn.map(|asn| asn.to_string());
            let fields = [ip.as_deref(), asn.as_deref(), context.country, context.family, context.device];
            self.usual = Some(pack(&fields, &event.event_id));
            self.usual_us = event.time_us;
        }
    }
}

fn finding(
    reason: &str,
    reuse: &ReuseState,
    usual: &str,
    context: &Context<'_>,
    event: &Event,
    since_us: i64,
) -> Finding {
    let ([ip, asn, country, family, device], usual_id) = unpack::<5>(usual);
    let usual_ip: Option<IpAddr> = ip.and_then(|ip| ip.parse().ok());
    let usual_asn: Option<u32> = asn.and_then(|asn| asn.parse().ok());
    let usual_network = Network::of(usual_asn, usual_ip);
    Finding {
        event_ids: vec![usual_id.to_string(), event.event_id.clone()],
        evidence: json!({
            "reason": reason,
            "seconds_since_usual_use": since_us as f64 / 1e6,
            "usual": {
                "event_id": usual_id,
                "time": format_rfc3339_micros(reuse.usual_us),
                "ip": ip,
                "asn": usual_asn,
                "network": usual_network.map(|n| n.to_string()),
                "country": country,
                "user_agent_family": family,
                "device_id": device,
            },
            "known": {
                "countries": reuse.countries.len(),
                "networks": reuse.networks.len(),
                "user_agent_families": reuse.families.len(),
                "devices": reuse.devices.len(),
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
        let nonempty = |s: &'a str| Some(s.trim()).filter(|s| !s.is_empty());
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
/// construction).
fn hash_bytes(tag: u8, bytes: &[u8]) -> u32 {
    let mut buffer = [0u8; 80];
    let hash = if bytes.len() < buffer.len() {
        buffer[0] = tag;
        buffer[1..=bytes.len()].copy_from_slice(bytes);
        xxh3_64(&buffer[..=bytes.len()])
    } else {
        let mut owned = Vec::with_capacity(bytes.len() + 1);
        owned.push(tag);
        owned.extend_from_slice(bytes);
        xxh3_64(&owned)
    };
    (hash as u32).max(1)
}

/// [`hash_bytes`] of the ASCII-lower-cased text.
fn hash_folded(tag: u8, text: &str) -> u32 {
    let mut buffer = [0u8; 64];
    if text.len() <= buffer.len() {
        let folded = &mut buffer[..text.len()];
        folded.copy_from_slice(text.as_bytes());
        folded.make_ascii_lowercase();
        hash_bytes(tag, folded)
    } else {
        hash_bytes(tag, text.to_ascii_lowercase().as_bytes())
    }
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
pub fn user_agent_family(agent: &str) -> Option<&str> {
    let agent = agent.trim().trim_start_matches(['[', '"', '\'']).trim_start();
    if agent.starts_with("Mozilla/") || agent.starts_with("Opera/") {
        return Some(BROWSERS.iter().find(|(marker, _)| agent.contains(marker)).map_or("Mozilla", |(_, name)| name));
    }
    // Terraform's AWS provider leads with the partner network product (`APN/1.0 HashiCorp/1.0 …`).
    if agent.starts_with("APN/") && agent.contains("Terraform/") {
        return Some("Terraform");
    }
    let head = agent.split(['(', ';', ',', '[', ']']).next().unwrap_or_default();
    let product = match head.split_once('/') {
        Some((product, _)) => product,
        None => head.split_whitespace().next().unwrap_or_default(),
    };
    let product = product.trim();
    if product.is_empty() {
        return None;
    }
    let mut end = product.len().min(MAX_FAMILY);
    while !product.is_char_boundary(end) {
        end -= 1;
    }
    Some(&product[..end])
}

/// Packs optional fields and an id into one string: fields `SEP`-separated (`SEP` removed from
/// them, absent ones empty), then the id as is.
fn pack(fields: &[Option<&str>], id: &str) -> Box<str> {
    let mut packed = String::with_capacity(fields.iter().map(|f| f.map_or(0, str::len) + 1).sum::<usize>() + id.len());
    for field in fields {
        packed.extend(field.unwrap_or_default().chars().filter(|&c| c != SEP));
        packed.push(SEP);
    }
    packed.push_str(id);
    packed.into_boxed_str()
}

/// The `N` fields (empty ones `None`) and the id of a [`pack`]ed string.
fn unpack<const N: usize>(packed: &str) -> ([Option<&str>; N], &str) {
    let mut fields = [None; N];
    let mut rest = packed;
    for field in &mut fields {
        let (value, tail) = rest.split_once(SEP).unwrap_or((rest, ""));
        *field = (!value.is_empty()).then_some(value);
        rest = tail;
    }
    (fields, rest)
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
        assert!(std::mem::size_of::<ReuseState>() <= 96, "{}", std::mem::size_of::<ReuseState>());
        assert_eq!(std::mem::size_of::<ReuseState>(), 88);
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
        assert!(set.is_empty());
        for hash in [1, 2, 3, 4] {
            set.touch(hash);
        }
        set.touch(1);
        set.touch(5);
        assert_eq!(set.0, [3, 4, 1, 5]);
        assert!(!set.contains(2));
        assert_eq!(set.len(), 4);
    }
}

//! `impossible_travel`: consecutive uses of one token from places farther apart than a traveller
//! could go in the time between them.
//!
//! **State per token** ([`TravelState`], 12 bytes in the token's core, asserted in a test): the
//! latitude and longitude (`f32`, about a metre of precision) and accuracy radius (`u16` km) of the
//! token's last located use; that use's time, IP, country, city and event id (for the alert's
//! `event_ids` and evidence) are its [`UseSlot::Travel`] record, usually the token's latest use,
//! shared with the other rules. Learned place pairs ([`TravelExtra`]: up to 4 `u32` hashes of
//! unordered pairs of places, with `u8` counts, 20 bytes) live in the token's rarely needed part,
//! allocated on a token's first impossible jump.
//!
//! **What fires**: an event with coordinates (`geo.lat` and `geo.lon`; events without them, with
//! out-of-range ones or with the `(0, 0)` placeholder are ignored) whose distance from the token's
//! last located use, minus both accuracy radii (`geo.radius_km`, 0 when absent), is above
//! `min_distance_km`, at a speed above `max_speed_kmh` (a zero or negative time difference is an
//! infinite speed, reported as `null`). Events the rule's `[allow]` list matches (VPN and egress
//! networks) are skipped entirely: they neither fire nor become the token's last place.
//!
//! **Learning**: a place is the event's country and city (lower-cased) when both are known, else
//! its country and 1° grid cell. Every impossible jump (fired or not) counts towards its unordered
//! pair of places; once a pair has been counted `learn_pairs_after` times, jumps between its two
//! places no longer fire (0 disables learning). Slow, possible trips do not count, so a frequent
//! traveller's two cities are not learned by travelling between them. With 4 slots full, the least
//! counted pair (the oldest among equals) gives way.
//!
//! **Evidence**: `distance_km` (great circle, 1 decimal), `effective_distance_km`, `elapsed_s`,
//! `speed_kmh` (`null` when infinite), `pair_seen` (impossible jumps between the two places before
//! this one), and `from` / `to`, each `{lat, lon, country, city, ip, time, event_id}`.
//! `event_ids` = [previous located use, current use].

use serde::Deserialize;
use serde_json::{Value, json};
use tokenwatch_schemas::Event;
use tokenwatch_schemas::time::format_rfc3339_micros;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Allowlist, RuleFile, Thresholds};
use crate::rule::{Finding, Rule, RuleContext};
use crate::rules::rule_settings;
use crate::state::{TokenCore, TokenState, UseSlot};

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Learned place pairs kept per token.
const PAIRS: usize = 4;
/// Separates the parts of a place key.
const SEP: char = '\u{1f}';

/// `[thresholds]` of `impossible_travel.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelThresholds {
    /// Faster than this (after subtracting both accuracy radii) is impossible.
    pub max_speed_kmh: f64,
    /// Closer than this (after subtracting the radii) never alerts.
    pub min_distance_km: f64,
    /// A place pair seen this many times is learned (0 disables learning).
    pub learn_pairs_after: u32,
}

impl Thresholds for TravelThresholds {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_speed_kmh.is_nan() || self.max_speed_kmh <= 0.0 {
            problems.push(format!("`thresholds.max_speed_kmh`: {} must be above 0", self.max_speed_kmh));
        }
        if self.min_distance_km.is_nan() || self.min_distance_km < 0.0 {
            problems.push(format!("`thresholds.min_distance_km`: {} must be 0 or more", self.min_distance_km));
        }
        if self.learn_pairs_after > u32::from(u8::MAX) {
            problems.push(format!(
                "`thresholds.learn_pairs_after`: {} must be at most {} (0 disables learning)",
                self.learn_pairs_after,
                u8::MAX
            ));
        }
        problems
    }
}

/// Per-token state of the rule: where its last located use was (12 bytes; the use itself is the
/// token's [`UseSlot::Travel`] record).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TravelState {
    /// Latitude of the last located use, degrees.
    lat: f32,
    /// Its longitude, degrees.
    lon: f32,
    /// Its accuracy radius, km (saturating).
    radius_km: u16,
}

/// Learned place pairs (in the token's rarely needed part).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TravelExtra {
    /// Counts of the learned pairs (saturating), slot for slot with `pairs`.
    pair_counts: [u8; PAIRS],
    /// Hashes of unordered place pairs; 0 is an empty slot.
    pairs: [u32; PAIRS],
}

impl TravelExtra {
    /// Impossible jumps counted between the places of `pair`.
    fn pair_count(&self, pair: u32) -> u8 {
        self.pairs.iter().position(|&p| p == pair).map_or(0, |slot| self.pair_counts[slot])
    }

    /// Counts one more impossible jump between the places of `pair`.
    fn count_pair(&mut self, pair: u32) {
        let slot = match self.pairs.iter().position(|&p| p == pair) {
            Some(slot) => slot,
            None => {
                // An empty slot (count 0) or the least counted pair gives way, the first among equals.
                let slot = (0..PAIRS).min_by_key(|&slot| self.pair_counts[slot]).unwrap_or(0);
                self.pairs[slot] = pair;
                self.pair_counts[slot] = 0;
                slot
            }
        };
        self.pair_counts[slot] = self.pair_counts[slot].saturating_add(1);
    }
}

/// The rule.
#[derive(Debug, Clone)]
pub struct ImpossibleTravel {
    file: RuleFile<TravelThresholds>,
    allow: Allowlist,
}

impl ImpossibleTravel {
    /// The rule with its settings.
    pub fn new(file: RuleFile<TravelThresholds>) -> Self {
        let allow = Allowlist::new(&file.allow);
        ImpossibleTravel { file, allow }
    }
}

impl Rule for ImpossibleTravel {
    rule_settings!("impossible_travel");

    fn evaluate(&self, ctx: &RuleContext<'_>, state: &mut TokenState, findings: &mut Vec<Finding>) {
        let event = ctx.event;
        let Some(geo) = event.geo.as_ref() else { return };
        let Some((lat, lon)) = geo.coords() else { return };
        if !usable_coords(lat, lon) || self.allow.allows(event) {
            return;
        }
        let thresholds = &self.file.thresholds;
        let state: &mut TokenCore = state;
        let radius_km = radius_of(geo.radius_km);
        let country = geo.country.as_deref();
        let city = geo.city.as_deref();
        let previous = state.recalled(UseSlot::Travel);
        let previous_time_us = previous.map(|prev| prev.time_us());
        let mut jump = None;
        if let Some(prev) = previous {
            let travel = &state.travel;
            let (prev_lat, prev_lon) = (f64::from(travel.lat), f64::from(travel.lon));
            let distance = haversine_km(prev_lat, prev_lon, lat, lon);
            let effective = (distance - f64::from(travel.radius_km) - f64::from(radius_km)).max(0.0);
            let elapsed_us = event.time_us.saturating_sub(prev.time_us());
            let speed = if elapsed_us <= 0 { f64::INFINITY } else { effective / (elapsed_us as f64 / 3.6e9) };
            if effective > thresholds.min_distance_km && speed > thresholds.max_speed_kmh {
                let pair = pair_key(
                    place_key(prev.country(), prev.city(), prev_lat, prev_lon),
                    place_key(country, city, lat, lon),
                );
                let seen = state.extra().map_or(0, |extra| extra.travel.pair_count(pair));
                let learned = thresholds.learn_pairs_after > 0 && u32::from(seen) >= thresholds.learn_pairs_after;
                if !learned {
                    let prev_id = prev.event_id();
                    let from = json!({
                        "lat": round_to(prev_lat, 4),
                        "lon": round_to(prev_lon, 4),
                        "country": prev.country(),
                        "city": prev.city(),
                        "ip": prev.ip().map(|ip| ip.to_string()),
                        "time": format_rfc3339_micros(prev.time_us()),
                        "event_id": prev_id,
                    });
                    findings.push(Finding {
                        event_ids: vec![prev_id.into_owned(), event.event_id.clone()],
                        evidence: json!({
                            "distance_km": round_to(distance, 1),
                            "effective_distance_km": round_to(effective, 1),
                            "elapsed_s": elapsed_us as f64 / 1e6,
                            "speed_kmh": speed.is_finite().then(|| round_to(speed, 1)),
                            "pair_seen": seen,
                            "from": from,
                            "to": place_evidence(event, lat, lon),
                        }),
                    });
                }
                jump = Some(pair);
            }
        }
        if let Some(pair) = jump {
            state.extra_mut().travel.count_pair(pair);
        }
        // A late event (older than the last place) is judged but does not replace it.
        if previous_time_us.is_none_or(|time_us| event.time_us >= time_us) {
            state.travel = TravelState { lat: lat as f32, lon: lon as f32, radius_km };
            state.remember(UseSlot::Travel);
        }
    }
}

/// Whether `(lat, lon)` is a real position: in range, and not the `(0, 0)` "unknown" placeholder.
fn usable_coords(lat: f64, lon: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && !(lat == 0.0 && lon == 0.0)
}

/// An accuracy radius in whole km (0 when absent or not a positive number).
fn radius_of(radius_km: Option<f32>) -> u16 {
    match radius_km {
        Some(r) if r.is_finite() && r > 0.0 => r.round().min(f32::from(u16::MAX)) as u16,
        _ => 0,
    }
}

/// Great-circle distance between two points, km (haversine).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = phi2 - phi1;
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// A place for learning: country and city when both are known, else country and 1° grid cell.
fn place_key(country: Option<&str>, city: Option<&str>, lat: f64, lon: f64) -> u64 {
    let country = country.map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
    let key = match city.map(str::trim).filter(|c| !c.is_empty() && !country.is_empty()) {
        Some(city) => format!("c{SEP}{country}{SEP}{}", city.to_lowercase()),
        None => format!("g{SEP}{country}{SEP}{}{SEP}{}", lat.round() as i32, lon.round() as i32),
    };
    xxh3_64(key.as_bytes())
}

/// The unordered pair of two places, as a non-zero `u32`.
fn pair_key(a: u64, b: u64) -> u32 {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&low.to_le_bytes());
    bytes[8..].copy_from_slice(&high.to_le_bytes());
    (xxh3_64(&bytes) as u32).max(1)
}

/// `{lat, lon, country, city, ip, time, event_id}` of the current event.
fn place_evidence(event: &Event, lat: f64, lon: f64) -> Value {
    let geo = event.geo.as_ref();
    json!({
        "lat": round_to(lat, 4),
        "lon": round_to(lon, 4),
        "country": geo.and_then(|g| g.country.as_deref()),
        "city": geo.and_then(|g| g.city.as_deref()),
        "ip": event.src_ip.map(|ip| ip.to_string()),
        "time": format_rfc3339_micros(event.time_us),
        "event_id": event.event_id,
    })
}

#[cfg(test)]
mod tests {
    use tokenwatch_schemas::{Alert, Geo, GeoFrom};

    use super::*;
    use crate::config::RulesConfig;
    use crate::testing::{Harness, event};

    const MINUTE: i64 = 60_000_000;
    const HOUR: i64 = 60 * MINUTE;

    const LONDON: (f64, f64, &str, &str) = (51.5074, -0.1278, "GB", "London");
    const SYDNEY: (f64, f64, &str, &str) = (-33.8688, 151.2093, "AU", "Sydney");
    const NEW_YORK: (f64, f64, &str, &str) = (40.7128, -74.0060, "US", "New York");
    const PARIS: (f64, f64, &str, &str) = (48.8566, 2.3522, "FR", "Paris");
    const BERLIN: (f64, f64, &str, &str) = (52.5200, 13.4050, "DE", "Berlin");

    fn at(id: &str, time_us: i64, (lat, lon, country, city): (f64, f64, &str, &str), ip: &str) -> Event {
        let mut e = event(id, time_us);
        e.src_ip = Some(ip.parse().unwrap());
        e.geo = Some(Geo {
            lat: Some(lat),
            lon: Some(lon),
            country: Some(country.to_string()),
            city: Some(city.to_string()),
            radius_km: None,
            from: GeoFrom::IpDatabase,
        });
        e
    }

    fn travel_alerts(config: RulesConfig, events: Vec<Event>) -> Vec<Alert> {
        let alerts = Harness::new(config).run(events);
        alerts.into_iter().filter(|a| a.rule == "impossible_travel").collect()
    }

    fn builtin() -> RulesConfig {
        RulesConfig::builtin().unwrap()
    }

    #[test]
    fn state_fits_its_budget() {
        assert_eq!(std::mem::size_of::<TravelState>(), 12, "update the module documentation");
        assert_eq!(std::mem::size_of::<TravelExtra>(), 20, "update the module documentation");
    }

    #[test]
    fn london_to_sydney_in_forty_minutes_fires_with_its_evidence() {
        let alerts = travel_alerts(
            builtin(),
            vec![at("lon", 0, LONDON, "81.2.69.142"), at("syd", 40 * MINUTE, SYDNEY, "1.128.0.1")],
        );
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        let alert = &alerts[0];
        assert_eq!(alert.event_ids, ["lon", "syd"]);
        let evidence = &alert.evidence;
        let distance = evidence["distance_km"].as_f64().unwrap();
        assert!((16_990.0..17_000.0).contains(&distance), "{distance}");
        assert_eq!(evidence["effective_distance_km"], distance);
        assert_eq!(evidence["elapsed_s"], 2400.0);
        let speed = evidence["speed_kmh"].as_f64().unwrap();
        assert!((speed - distance * 1.5).abs() < 0.2, "{speed}");
        assert_eq!(evidence["pair_seen"], 0);
        assert_eq!(
            evidence["from"],
            json!({"lat": 51.5074, "lon": -0.1278, "country": "GB", "city": "London", "ip": "81.2.69.142",
                   "time": "1970-01-01T00:00:00.000000Z", "event_id": "lon"})
        );
        assert_eq!(
            evidence["to"],
            json!({"lat": -33.8688, "lon": 151.2093, "country": "AU", "city": "Sydney", "ip": "1.128.0.1",
                   "time": "1970-01-01T00:40:00.000000Z", "event_id": "syd"})
        );
    }

    #[test]
    fn possible_trips_do_not_fire() {
        // London → New York in 8 h: about 700 km/h.
        let alerts = travel_alerts(
            builtin(),
            vec![at("lon", 0, LONDON, "81.2.69.142"), at("nyc", 8 * HOUR, NEW_YORK, "198.51.100.1")],
        );
        assert!(alerts.is_empty(), "{alerts:#?}");
        // Paris → Berlin in 3 h: about 290 km/h.
        let alerts =
            travel_alerts(builtin(), vec![at("par", 0, PARIS, "2.2.2.2"), at("ber", 3 * HOUR, BERLIN, "3.3.3.3")]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn short_jumps_are_below_the_minimum_distance() {
        // London → Paris (about 340 km) in 5 minutes: fast, but below 500 km.
        let alerts = travel_alerts(
            builtin(),
            vec![at("lon", 0, LONDON, "81.2.69.142"), at("par", 5 * MINUTE, PARIS, "2.2.2.2")],
        );
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn accuracy_radii_shrink_the_distance() {
        // London → Berlin is about 930 km; radii of 300 km each leave about 330 km.
        let mut a = at("lon", 0, LONDON, "81.2.69.142");
        let mut b = at("ber", 5 * MINUTE, BERLIN, "3.3.3.3");
        let alerts = travel_alerts(builtin(), vec![a.clone(), b.clone()]);
        assert_eq!(alerts.len(), 1, "without radii it fires: {alerts:#?}");
        a.geo.as_mut().unwrap().radius_km = Some(300.0);
        b.geo.as_mut().unwrap().radius_km = Some(300.0);
        let alerts = travel_alerts(builtin(), vec![a, b]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn a_700_km_jump_with_300_km_radii_does_not_fire() {
        // Two points 700 km apart (along a meridian: 6.295°), minutes apart.
        let north = (50.0, 10.0, "DE", "North");
        let south = (50.0 - 700.0 / 111.195, 10.0, "IT", "South");
        let mut a = at("n", 0, north, "2.2.2.2");
        let mut b = at("s", 2 * MINUTE, south, "3.3.3.3");
        let alerts = travel_alerts(builtin(), vec![a.clone(), b.clone()]);
        assert_eq!(alerts.len(), 1, "without radii it fires: {alerts:#?}");
        assert_eq!(alerts[0].evidence["distance_km"], 700.0);
        a.geo.as_mut().unwrap().radius_km = Some(300.0);
        b.geo.as_mut().unwrap().radius_km = Some(300.0);
        let alerts = travel_alerts(builtin(), vec![a, b]);
        assert!(alerts.is_empty(), "{alerts:#?}");
    }

    #[test]
    fn allowlisted_vpn_uses_are_not_places() {
        let mut config = builtin();
        config.impossible_travel.allow.cidrs = vec!["198.51.100.0/24".parse().unwrap()];
        let events = vec![
            at("lon", 0, LONDON, "81.2.69.142"),
            // The VPN's exit geolocates to Sydney: no alert, and not the token's last place.
            at("vpn", 10 * MINUTE, SYDNEY, "198.51.100.9"),
            at("lon2", 20 * MINUTE, LONDON, "81.2.69.142"),
            // A real jump afterwards is still caught, measured from London.
            at("syd", 60 * MINUTE, SYDNEY, "1.128.0.1"),
        ];
        let alerts = travel_alerts(config, events);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].event_ids, ["lon2", "syd"]);
    }

    #[test]
    fn a_pair_stops_firing_once_learned() {
        // learn_pairs_after = 2: the first two impossible jumps between London and Sydney fire (in
        // separate suppression windows), the third does not.
        let events = vec![
            at("a", 0, LONDON, "81.2.69.142"),
            at("b", 40 * MINUTE, SYDNEY, "1.128.0.1"),
            at("c", 3 * HOUR, LONDON, "81.2.69.142"),
            at("d", 6 * HOUR, SYDNEY, "1.128.0.1"),
            at("e", 9 * HOUR, LONDON, "81.2.69.142"),
        ];
        let alerts = travel_alerts(builtin(), events.clone());
        let ids: Vec<_> = alerts.iter().map(|a| (a.event_ids.clone(), a.count)).collect();
        assert_eq!(ids, [(vec!["a".to_string(), "b".into()], 1), (vec!["b".to_string(), "c".into()], 1)]);
        assert_eq!(alerts[1].evidence["pair_seen"], 1);

        // Learning off: every jump fires.
        let mut config = builtin();
        config.impossible_travel.thresholds.learn_pairs_after = 0;
        assert_eq!(travel_alerts(config, events).len(), 4);
    }

    #[test]
    fn events_without_coordinates_are_ignored() {
        let mut no_geo = event("none", 10 * MINUTE);
        no_geo.src_ip = Some("1.128.0.1".parse().unwrap());
        let mut country_only = at("country", 20 * MINUTE, SYDNEY, "1.128.0.1");
        let geo = country_only.geo.as_mut().unwrap();
        geo.lat = None;
        geo.lon = None;
        let mut null_island = at("zero", 25 * MINUTE, SYDNEY, "1.128.0.1");
        let geo = null_island.geo.as_mut().unwrap();
        geo.lat = Some(0.0);
        geo.lon = Some(0.0);
        let events = vec![
            at("lon", 0, LONDON, "81.2.69.142"),
            no_geo,
            country_only,
            null_island,
            at("syd", 30 * MINUTE, SYDNEY, "1.128.0.1"),
        ];
        let alerts = travel_alerts(builtin(), events);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].event_ids, ["lon", "syd"], "measured from the last located use");
    }

    #[test]
    fn simultaneous_uses_far_apart_are_an_infinite_speed() {
        let alerts =
            travel_alerts(builtin(), vec![at("lon", 0, LONDON, "81.2.69.142"), at("syd", 0, SYDNEY, "1.128.0.1")]);
        assert_eq!(alerts.len(), 1, "{alerts:#?}");
        assert_eq!(alerts[0].evidence["speed_kmh"], Value::Null);
        assert_eq!(alerts[0].evidence["elapsed_s"], 0.0);
    }

    #[test]
    fn a_late_event_is_judged_but_does_not_become_the_last_place() {
        // The runner orders events within its reorder bound; one later than that reaches the rule
        // out of order.
        let rule = ImpossibleTravel::new(builtin().impossible_travel);
        let mut state = TokenState::default();
        let mut findings = Vec::new();
        for e in [at("lon", 2 * HOUR, LONDON, "81.2.69.142"), at("syd-late", HOUR, SYDNEY, "1.128.0.1")] {
            let ctx = RuleContext {
                event: &e,
                token_id: "tok",
                inventory: None,
                first_seen_us: None,
                last_seen_us: None,
                events_seen: 0,
            };
            rule.evaluate(&ctx, &mut state, &mut findings);
            // What the runner does once every rule has judged the event.
            state.commit_uses(&e);
        }
        assert_eq!(findings.len(), 1, "a use before the last one is an infinite speed");
        assert_eq!(findings[0].evidence["speed_kmh"], Value::Null);
        let last = state.recalled(UseSlot::Travel).unwrap();
        assert_eq!(last.time_us(), 2 * HOUR, "the later London use stays the last place");
    }

    #[test]
    fn thresholds_are_validated() {
        let mut thresholds = builtin().impossible_travel.thresholds;
        assert!(thresholds.problems().is_empty());
        thresholds.max_speed_kmh = f64::NAN;
        thresholds.min_distance_km = -1.0;
        thresholds.learn_pairs_after = 300;
        let problems = thresholds.problems().join("\n");
        for field in ["thresholds.max_speed_kmh", "thresholds.min_distance_km", "thresholds.learn_pairs_after"] {
            assert!(problems.contains(field), "{field} in {problems}");
        }
    }

    #[test]
    fn haversine_matches_known_distances() {
        let d = haversine_km(LONDON.0, LONDON.1, NEW_YORK.0, NEW_YORK.1);
        assert!((5_565.0..5_575.0).contains(&d), "{d}");
        assert_eq!(haversine_km(10.0, 20.0, 10.0, 20.0), 0.0);
    }
}

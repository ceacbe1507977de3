//! Labelled scenarios: attacks injected into the background, and benign look-alikes that must not
//! alert. Each scenario works on its own token (a background token no other scenario touches, or a
//! token of its own), well after the token's first day.

use std::net::Ipv4Addr;

use rand::Rng;
use rand::seq::IndexedRandom;

use super::plan::*;
use super::util::{DAY, HOUR, MIN, SEC, aws_key, ms};
use super::world::*;

/// A token's context counts as learned this long after its first use (the detectors need 24 h).
const LEARNED: i64 = 30 * HOUR;

/// Scenario families, in the order the README lists them.
pub(super) const FAMILIES: &[&str] = &[
    "impossible_travel",
    "token_reuse",
    "burst",
    "scope_escalation",
    "revoked_token_use",
    "expired_token_use",
    "uninventoried_token",
    "dormant_token_use",
];

/// Which kind of dedicated token a lifecycle scenario uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kong,
    Github,
    Aws,
}

impl Gen {
    /// How many scenarios of a variant with `base` cases at the default scale.
    fn count(&self, base: u32) -> u32 {
        ((f64::from(base) * self.scale.min(1.0)).round() as u32).max(1)
    }

    fn label(&mut self, family: &'static str, attack: bool, token: usize, event_ids: Vec<String>) {
        let n = self.counters.entry((family, attack)).or_insert(0);
        *n += 1;
        let scenario = if attack { format!("{family}-{n:03}") } else { format!("{family}-benign-{n:03}") };
        let kind = if attack { "attack" } else { "benign" };
        self.labels.push(Label { scenario, kind, family, token_id: self.tokens[token].id.clone(), event_ids });
    }

    fn day_of(&self, t: i64) -> u32 {
        ((t - self.start).div_euclid(DAY)).max(0) as u32
    }

    fn sort_uses(&mut self, token: usize) {
        self.tokens[token].uses.sort_by_key(|u| u.t);
    }

    fn first_use(&self, token: usize) -> Option<i64> {
        self.tokens[token].uses.iter().map(|u| u.t).min()
    }

    /// The segment of user `u` that contains `t`.
    fn seg_at(&self, u: usize, t: i64) -> Option<Seg> {
        let d = self.day_of(t) as usize;
        let around = d.saturating_sub(1)..(d + 2).min(self.plans[u].len());
        self.plans[u][around].iter().flat_map(|p| p.segs.iter()).find(|s| s.start <= t && t <= s.end).copied()
    }

    /// Picks an anchor: a use of one of `tokens` (not taken, learned, on a free user-day) that
    /// `ok` accepts. Marks the token taken and the day busy.
    fn anchor(&mut self, tokens: &[usize], ok: impl Fn(&Gen, usize, &Use) -> bool) -> Option<(usize, usize)> {
        let mut candidates = Vec::new();
        for &token in tokens {
            if self.taken.contains(&token) {
                continue;
            }
            let Some(first) = self.first_use(token) else { continue };
            let user = self.tokens[token].user;
            for (index, use_) in self.tokens[token].uses.iter().enumerate() {
                if use_.t < first + LEARNED || use_.t > self.end() - 2 * HOUR {
                    continue;
                }
                if let Some(u) = user
                    && self.busy.contains(&(u, self.day_of(use_.t)))
                {
                    continue;
                }
                if ok(self, token, use_) {
                    candidates.push((token, index));
                }
            }
        }
        let &(token, index) = candidates.choose(&mut self.rng)?;
        self.taken.insert(token);
        if let Some(u) = self.tokens[token].user {
            let d = self.day_of(self.tokens[token].uses[index].t);
            self.busy.insert((u, d));
        }
        Some((token, index))
    }

    /// Users' tokens of one kind, users in a shuffled order.
    fn user_token_list(&mut self, pick: impl Fn(&UserTokens) -> &Vec<usize>) -> Vec<usize> {
        let mut out: Vec<usize> = self.user_tokens.iter().flat_map(|t| pick(t).iter().copied()).collect();
        shuffle(&mut self.rng, &mut out);
        out
    }

    /// Is `use_` a routine Okta SSO from the user's home city?
    fn home_sso(&self, token: usize, use_: &Use) -> bool {
        let Some(u) = self.tokens[token].user else { return false };
        matches!(use_.op, Op::Sso(_)) && use_.place.city == self.users[u].home
    }

    // ----- phase A: flights, planned before the days -----

    /// Plans the benign flights (they shape the users' days).
    pub fn plan_flights(&mut self) {
        const LONG: &[(usize, usize)] = &[
            (LONDON, NEW_YORK),
            (PARIS, NEW_YORK),
            (NEW_YORK, LONDON),
            (TORONTO, LONDON),
            (SINGAPORE, TOKYO),
            (SYDNEY, SINGAPORE),
            (MUMBAI, LONDON),
            (DUBLIN, NEW_YORK),
            (SAN_FRANCISCO, NEW_YORK),
            (TOKYO, SINGAPORE),
        ];
        const SHORT: &[(usize, usize)] = &[
            (PARIS, BERLIN),
            (LONDON, BERLIN),
            (BERLIN, PARIS),
            (DUBLIN, AMSTERDAM),
            (AMSTERDAM, DUBLIN),
            (NEW_YORK, TORONTO),
            (TORONTO, NEW_YORK),
            (BERLIN, LONDON),
        ];
        let long = self.count(3);
        let short = self.count(3);
        for (pairs, count, is_long) in [(LONG, long, true), (SHORT, short, false)] {
            let mut made = 0;
            let mut tries = 0;
            while made < count && tries < 400 {
                tries += 1;
                let &(from, to) = pairs.choose(&mut self.rng).expect("pairs");
                let users: Vec<usize> = (0..self.users.len()).filter(|&u| self.users[u].home == from).collect();
                let Some(&u) = users.choose(&mut self.rng) else { continue };
                if self.days < 10 {
                    break;
                }
                let d = self.rng.random_range(2..self.days - 4);
                let weekday = super::util::weekday(self.day_start(d));
                let week = self.week(d);
                if !(2..=3).contains(&weekday)
                    || self.reserved_weeks.contains(&(u, week))
                    || self.users[u].vacation_week.is_some_and(|w| self.week(0) + w == week)
                {
                    continue;
                }
                let km = distance_km(from, to);
                let gap = if is_long {
                    (km / self.rng.random_range(600.0..700.0) * HOUR as f64) as i64
                } else {
                    self.rng.random_range(150..210) * MIN
                };
                let stay = self.rng.random_range(1..=2);
                self.flights.insert((u, d), Flight { to, gap });
                for day in d + 1..=(d + stay).min(self.days - 1) {
                    self.trips.insert((u, day), to);
                }
                self.reserved_weeks.insert((u, week));
                for day in d..=(d + stay + 1).min(self.days - 1) {
                    self.busy.insert((u, day));
                }
                made += 1;
            }
        }
    }

    // ----- phase B: everything else, on the planned background -----

    /// Injects every scenario and labels it.
    pub fn scenarios(&mut self) {
        for token in 0..self.tokens.len() {
            self.sort_uses(token);
        }
        self.flight_labels();
        self.impossible_travel();
        self.nearby_cities();
        self.token_reuse();
        self.burst();
        self.scope_escalation();
        self.lifecycle();
        for token in 0..self.tokens.len() {
            self.sort_uses(token);
        }
        let order: Vec<String> = FAMILIES.iter().map(|f| f.to_string()).collect();
        self.labels.sort_by_key(|l| {
            (l.kind != "attack", order.iter().position(|f| f == l.family).unwrap_or(usize::MAX), l.scenario.clone())
        });
    }

    fn flight_labels(&mut self) {
        let flights: Vec<((usize, u32), Flight)> = self.flights.iter().map(|(k, v)| (*k, *v)).collect();
        for ((u, d), _flight) in flights {
            let plan = self.plans[u][d as usize].clone();
            if plan.segs.len() != 2 {
                continue;
            }
            let (a, b) = (plan.segs[0], plan.segs[1]);
            let Some(&token) = self.user_tokens[u]
                .desktop_sessions
                .iter()
                .find(|&&s| self.tokens[s].uses.iter().any(|x| x.t >= a.start - 12 * HOUR && x.t <= b.end))
            else {
                continue;
            };
            let ua = self.users[u].desktop_ua;
            let before = ms(a.end - self.rng.random_range(1..5) * MIN);
            let after = ms(b.start + self.rng.random_range(5..20) * MIN);
            let place_a = self.desktop_place(u, &a);
            let place_b = self.desktop_place(u, &b);
            let app = self.rng.random_range(0..SSO_APPS.len());
            self.push_use(token, Src::Okta, before, place_a, ua, Op::Sso(app));
            self.push_use(token, Src::Okta, after, place_b, ua, Op::Sso(app));
            self.sort_uses(token);
            self.taken.insert(token);
            let uses = &self.tokens[token].uses;
            let last_a = uses.iter().rev().find(|x| x.t <= a.end).map(|x| x.id.clone());
            let first_b = uses.iter().find(|x| x.t >= b.start).map(|x| x.id.clone());
            if let (Some(x), Some(y)) = (last_a, first_b) {
                self.label("impossible_travel", false, token, vec![x, y]);
            }
        }
    }

    /// Removes the session's uses in `(after, after + 11 h)`; later uses move to a new session that
    /// starts (session start + MFA) just before the first of them.
    fn end_session(&mut self, token: usize, after: i64) {
        let cut = after + 11 * HOUR;
        let uses = std::mem::take(&mut self.tokens[token].uses);
        let (mut keep, mut later) = (Vec::new(), Vec::new());
        for use_ in uses {
            if use_.t <= after {
                keep.push(use_);
            } else if use_.t >= cut {
                later.push(use_);
            }
        }
        self.tokens[token].uses = keep;
        let Some(first) = later.first().cloned() else { return };
        let u = self.tokens[token].user.expect("sessions belong to users");
        let mobile = self.user_tokens[u].mobile_sessions.contains(&token);
        let start = first.t - self.rng.random_range(60..120) * SEC;
        let new = self.new_okta_session(u, start);
        self.session_start(new, start, first.place, first.ua);
        self.tokens[new].uses.extend(later.into_iter().filter(|x| !matches!(x.op, Op::SessionStart | Op::Mfa)));
        self.sort_uses(new);
        self.taken.insert(new);
        if mobile {
            self.user_tokens[u].mobile_sessions.push(new);
        } else {
            self.user_tokens[u].desktop_sessions.push(new);
        }
    }

    /// A place in `city`: a hosting network if it has one (else an ISP), a random address.
    fn place_in(&mut self, city: usize, hosting: bool) -> Option<Place> {
        let mut candidates = if hosting { nets(city, NetKind::Hosting) } else { Vec::new() };
        if candidates.is_empty() {
            candidates = nets(city, NetKind::Isp);
        }
        let &net = candidates.choose(&mut self.rng)?;
        Some(Place { city, net, ip: random_ip(&mut self.rng, net) })
    }

    fn impossible_travel(&mut self) {
        for _ in 0..self.count(12) {
            let sessions = self.user_token_list(|t| &t.desktop_sessions);
            let Some((token, index)) = self.anchor(&sessions, |g, token, u| g.home_sso(token, u)) else { break };
            let anchor = self.tokens[token].uses[index].clone();
            let gap = self.rng.random_range(15..=75) * MIN;
            let hours = gap as f64 / HOUR as f64;
            let min_km = (1500.0 * hours * 1.25).max(2500.0);
            let far: Vec<usize> = (0..=SINGAPORE).filter(|&c| distance_km(anchor.place.city, c) >= min_km).collect();
            let Some(&city) = far.choose(&mut self.rng) else { continue };
            let hosting = self.rng.random_bool(0.5);
            let Some(place) = self.place_in(city, hosting) else { continue };
            self.end_session(token, anchor.t);
            let app = self.rng.random_range(0..SSO_APPS.len());
            let id = self.push_use(token, Src::Okta, anchor.t + gap, place, anchor.ua, Op::Sso(app));
            self.label("impossible_travel", true, token, vec![anchor.id, id]);
        }
    }

    fn nearby_cities(&mut self) {
        for _ in 0..self.count(2) {
            let sessions = self.user_token_list(|t| &t.desktop_sessions);
            let Some((token, index)) = self.anchor(&sessions, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                g.home_sso(token, u) && u.place.net == user.isp && nearby(user.home).is_some()
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let u = self.tokens[token].user.expect("user");
            let city = nearby(self.users[u].home).expect("checked");
            let place = Place { city, net: anchor.place.net, ip: random_ip(&mut self.rng, anchor.place.net) };
            // Faster than any traveller (over 1,500 km/h), but closer than the rule's minimum.
            let fastest = ((distance_km(anchor.place.city, city) / 1500.0) * 3600.0) as i64;
            let t = anchor.t + self.rng.random_range(20..=fastest.max(30)) * SEC;
            let app = self.rng.random_range(0..SSO_APPS.len());
            let id = self.push_use(token, Src::Okta, t, place, anchor.ua, Op::Sso(app));
            self.label("impossible_travel", false, token, vec![anchor.id, id]);
        }
    }

    /// 1–3 uses of an Okta session by someone else, 2–9 minutes after `anchor`.
    fn session_intruder(&mut self, token: usize, anchor: &Use, place: Place, ua: usize, count: u32) -> Vec<String> {
        let mut t = anchor.t + self.rng.random_range(2..=5) * MIN;
        let mut ids = Vec::new();
        for _ in 0..count {
            let app = self.rng.random_range(0..SSO_APPS.len());
            ids.push(self.push_use(token, Src::Okta, t, place, ua, Op::Sso(app)));
            t += self.rng.random_range(40..100) * SEC;
        }
        ids
    }

    fn token_reuse(&mut self) {
        // A stolen session cookie replayed from across a border, same browser.
        for _ in 0..self.count(5) {
            let sessions = self.user_token_list(|t| &t.desktop_sessions);
            let Some((token, index)) = self.anchor(&sessions, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                // The other country must be new to the session (it may have started on a trip).
                let Some(across) = across_border(user.home) else { return false };
                let country = CITIES[across].country;
                g.home_sso(token, u)
                    && g.tokens[token].uses.iter().all(|x| x.t > u.t || CITIES[x.place.city].country != country)
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let u = self.tokens[token].user.expect("user");
            let city = across_border(self.users[u].home).expect("checked");
            let hosting = self.rng.random_bool(0.5);
            let Some(place) = self.place_in(city, hosting) else { continue };
            let count = self.rng.random_range(1..=3);
            let ids = self.session_intruder(token, &anchor, place, anchor.ua, count);
            self.label("token_reuse", true, token, ids);
        }
        // A session replayed by a script from a hosting provider in the same country.
        for _ in 0..self.count(3) {
            let sessions = self.user_token_list(|t| &t.desktop_sessions);
            let Some((token, index)) = self.anchor(&sessions, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                g.home_sso(token, u) && !nets(user.home, NetKind::Hosting).is_empty()
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let u = self.tokens[token].user.expect("user");
            let Some(place) = self.place_in(self.users[u].home, true) else { continue };
            let ua = if self.rng.random_bool(0.5) { UA_PYTHON_REQUESTS } else { UA_CURL };
            let count = self.rng.random_range(1..=3);
            let ids = self.session_intruder(token, &anchor, place, ua, count);
            self.label("token_reuse", true, token, ids);
        }
        // A Kong token used by curl / python-requests while its owner is using it.
        for _ in 0..self.count(3) {
            let tokens = self.user_token_list(|t| &t.kong);
            let Some((token, index)) = self.anchor(&tokens, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                u.ua == user.desktop_ua
                    && u.place.city == user.home
                    && !nets(user.home, NetKind::Hosting).is_empty()
                    && matches!(u.op, Op::Kong { .. })
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let Some(place) = self.place_in(anchor.place.city, true) else { continue };
            let ua = *[UA_PYTHON_REQUESTS, UA_CURL, UA_GO_SCANNER].choose(&mut self.rng).expect("agents");
            let mut t = anchor.t + self.rng.random_range(60..240) * SEC;
            let mut ids = Vec::new();
            for _ in 0..self.rng.random_range(2..=5) {
                let route = if self.rng.random_bool(0.7) { ROUTE_ORDERS } else { 3 };
                let uri = self.kong_uri(route);
                ids.push(self.push_use(token, Src::Kong, t, place, ua, Op::Kong { route, uri }));
                t += self.rng.random_range(10..60) * SEC;
            }
            self.label("token_reuse", true, token, ids);
        }
        // Okta's own signal: a rotated refresh token presented again.
        for _ in 0..self.count(3) {
            let tokens = self.user_token_list(|t| &t.refresh);
            let Some((token, index)) = self.anchor(&tokens, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                u.place.city == user.home && !nets(user.home, NetKind::Hosting).is_empty()
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let u = self.tokens[token].user.expect("user");
            let Some(place) = self.place_in(self.users[u].home, true) else { continue };
            let t = anchor.t + self.rng.random_range(20..300) * MIN;
            let scopes: Vec<String> = REPORTS_ROUTINE.iter().map(|s| s.to_string()).collect();
            let id = self.push_use(token, Src::Okta, t, place, UA_PYTHON_REQUESTS, Op::DetectReuse { scopes });
            self.label("token_reuse", true, token, vec![id]);
        }
        // Benign: a phone moving to another carrier (same country, same browser).
        for _ in 0..self.count(4) {
            let sessions = self.user_token_list(|t| &t.mobile_sessions);
            let Some((token, index)) = self.anchor(&sessions, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                g.home_sso(token, u) && Some(u.place.net) == user.mobile_net
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let home = anchor.place.city;
            let mut others: Vec<usize> =
                nets(home, NetKind::Mobile).into_iter().filter(|&n| n != anchor.place.net).collect();
            if others.is_empty() {
                let isp = self.users[self.tokens[token].user.expect("user")].isp;
                others = nets(home, NetKind::Isp).into_iter().filter(|&n| n != isp).collect();
            }
            let Some(&net) = others.choose(&mut self.rng) else { continue };
            let place = Place { city: home, net, ip: random_ip(&mut self.rng, net) };
            let t = anchor.t + self.rng.random_range(2..=8) * MIN;
            let app = self.rng.random_range(0..SSO_APPS.len());
            let id = self.push_use(token, Src::Okta, t, place, anchor.ua, Op::Sso(app));
            self.label("token_reuse", false, token, vec![id]);
        }
        // Benign: the owner's phone app, known since the token's first day, right after the browser.
        for _ in 0..self.count(4) {
            let tokens = self.user_token_list(|t| &t.kong);
            let Some((token, index)) = self.anchor(&tokens, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                user.app_ua.is_some() && u.ua == user.desktop_ua && u.place.city == user.home
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let u = self.tokens[token].user.expect("user");
            let Some(seg) = self.seg_at(u, anchor.t) else { continue };
            let place = self.mobile_place(u, &seg);
            let ua = self.users[u].app_ua.expect("checked");
            let mut t = anchor.t + self.rng.random_range(60..360) * SEC;
            let mut ids = Vec::new();
            for _ in 0..self.rng.random_range(1..=3) {
                let route = if self.rng.random_bool(0.6) { ROUTE_ORDERS } else { 3 };
                let uri = self.kong_uri(route);
                ids.push(self.push_use(token, Src::Kong, t, place, ua, Op::Kong { route, uri }));
                t += self.rng.random_range(5..40) * SEC;
            }
            self.label("token_reuse", false, token, ids);
        }
    }

    fn burst(&mut self) {
        for (base, github) in [(8, false), (4, true)] {
            for _ in 0..self.count(base) {
                let tokens =
                    if github { self.user_token_list(|t| &t.github) } else { self.user_token_list(|t| &t.kong) };
                let Some((token, index)) = self.anchor(&tokens, |g, token, u| {
                    let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                    if github { u.ua == UA_GH } else { u.ua == user.desktop_ua }
                }) else {
                    break;
                };
                let anchor = self.tokens[token].uses[index].clone();
                let n = self.rng.random_range(600..=900);
                let span = self.rng.random_range(60_000..110_000i64);
                let start = anchor.t + self.rng.random_range(20..40) * SEC;
                let mut ids = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let t = start + (i * span / n + self.rng.random_range(0..(span / n).max(1))) * 1000;
                    let op = if github {
                        let repo = self.rng.random_range(0..REPOS.len());
                        let route = if i % 7 == 0 {
                            "/repos/{owner}/{repo}/tarball/{ref}"
                        } else {
                            "/repos/{owner}/{repo}/contents/{path}"
                        };
                        Op::GhApi { method: "GET", route, path: concrete_path(route, repo) }
                    } else {
                        let uri = format!("/v1/orders?page={}&limit=100", i + 1);
                        Op::Kong { route: ROUTE_ORDERS, uri }
                    };
                    let src = if github { Src::Github } else { Src::Kong };
                    ids.push(self.push_use(token, src, t, anchor.place, anchor.ua, op));
                }
                self.label("burst", true, token, ids);
            }
        }
        // Benign: an automation token at its usual steady high rate, one minute of a run.
        let machines = [(self.machines.ci_runner, 4), (self.machines.inventory_sync, 2)];
        for (machine, base) in machines {
            let Some(token) = machine else { continue };
            let Some(first) = self.first_use(token) else { continue };
            let mut runs: Vec<i64> = Vec::new();
            for use_ in &self.tokens[token].uses {
                if runs.last().is_none_or(|&last| use_.t - last > HOUR) && use_.t > first + LEARNED {
                    runs.push(use_.t);
                }
            }
            shuffle(&mut self.rng, &mut runs);
            for &run in runs.iter().take(self.count(base) as usize) {
                let from = run + MIN;
                let ids: Vec<String> = self.tokens[token]
                    .uses
                    .iter()
                    .filter(|u| u.t >= from && u.t < from + MIN)
                    .map(|u| u.id.clone())
                    .collect();
                if !ids.is_empty() {
                    self.label("burst", false, token, ids);
                }
            }
        }
    }

    fn scope_escalation(&mut self) {
        // A forged JWT (alg none) claiming a scope the token was never approved for.
        for _ in 0..self.count(4) {
            let tokens = self.user_token_list(|t| &t.kong);
            let Some((token, index)) = self.anchor(&tokens, |g, token, u| {
                let user = &g.users[g.tokens[token].user.unwrap_or(0)];
                u.ua == user.desktop_ua
            }) else {
                break;
            };
            let anchor = self.tokens[token].uses[index].clone();
            let (route, extra) = if self.rng.random_bool(0.5) {
                (ROUTE_ADMIN_ORDERS, "orders:admin")
            } else {
                (ROUTE_REFUNDS, "payments:write")
            };
            let mut scopes = self.tokens[token].scopes.clone();
            scopes.push(extra.to_string());
            let mut t = anchor.t + self.rng.random_range(60..300) * SEC;
            let mut ids = Vec::new();
            for _ in 0..self.rng.random_range(1..=3) {
                let uri = format!("{}/ord_{}", KONG_ROUTES[route].path, super::util::alnum(&mut self.rng, 10));
                ids.push(self.push_use(token, Src::Kong, t, anchor.place, anchor.ua, Op::Kong { route, uri }));
                let last = self.tokens[token].uses.last_mut().expect("pushed");
                last.scopes = Some(scopes.clone());
                last.forged = true;
                t += self.rng.random_range(10..90) * SEC;
            }
            self.label("scope_escalation", true, token, ids);
        }
        // A PAT whose scopes were edited: outside the approved set (attack) or inside it (benign).
        for (base, attack) in [(3, true), (3, false)] {
            for _ in 0..self.count(base) {
                let tokens = self.user_token_list(|t| &t.github);
                let Some((token, index)) = self
                    .anchor(&tokens, |g, token, u| u.ua == UA_GH && g.tokens[token].scopes.len() < PAT_APPROVED.len())
                else {
                    break;
                };
                let anchor = self.tokens[token].uses[index].clone();
                let carried = self.tokens[token].scopes.clone();
                let extra = if attack {
                    (*["admin:org", "delete_repo", "admin:org_hook"].choose(&mut self.rng).expect("scopes")).to_string()
                } else {
                    let new: Vec<&str> =
                        PAT_APPROVED.iter().copied().filter(|s| !carried.iter().any(|c| c == s)).collect();
                    (*new.choose(&mut self.rng).expect("checked")).to_string()
                };
                let mut scopes = carried.clone();
                scopes.push(extra.clone());
                let t = anchor.t + self.rng.random_range(2..20) * MIN;
                let (method, route) = match extra.as_str() {
                    "admin:org" => ("PUT", "/orgs/{org}/memberships/{username}"),
                    "delete_repo" => ("DELETE", "/repos/{owner}/{repo}"),
                    "admin:org_hook" => ("POST", "/orgs/{org}/hooks"),
                    "workflow" => ("POST", "/repos/{owner}/{repo}/actions/workflows/ci.yml/dispatches"),
                    "read:packages" => ("GET", "/orgs/{org}/packages"),
                    _ => ("GET", "/gists"),
                };
                let repo = self.rng.random_range(0..REPOS.len());
                let op = Op::GhApi { method, route, path: concrete_path(route, repo) };
                let first = self.push_use(token, Src::Github, t, anchor.place, UA_GH, op);
                let mut ids = vec![first];
                self.sort_uses(token);
                for use_ in self.tokens[token].uses.iter_mut().filter(|u| u.t >= t) {
                    use_.scopes = Some(scopes.clone());
                    if use_.t < t + HOUR && use_.id != ids[0] {
                        ids.push(use_.id.clone());
                    }
                }
                self.label("scope_escalation", attack, token, ids);
            }
        }
        // An AWS key calling IAM writes it never called.
        for _ in 0..self.count(3) {
            let tokens = self.user_token_list(|t| &t.aws);
            let Some((token, index)) = self.anchor(&tokens, |_, _, u| u.ua == UA_AWS_CLI) else { break };
            let anchor = self.tokens[token].uses[index].clone();
            let Op::Aws { region, .. } = anchor.op else { continue };
            let target = if self.rng.random_bool(0.5) { "svc-backup".to_string() } else { self.aws_name(token) };
            let key = aws_key(&mut self.rng, "AKIA");
            let t = anchor.t + self.rng.random_range(60..400) * SEC;
            let mut ids = vec![self.push_use(
                token,
                Src::Aws,
                t,
                anchor.place,
                anchor.ua,
                Op::Aws { api: IAM_CREATE_KEY, params: AwsParams::CreateAccessKey { user: target, key }, region },
            )];
            if self.rng.random_bool(0.6) {
                let me = self.aws_name(token);
                let t2 = t + self.rng.random_range(20..120) * SEC;
                ids.push(self.push_use(
                    token,
                    Src::Aws,
                    t2,
                    anchor.place,
                    anchor.ua,
                    Op::Aws {
                        api: IAM_ATTACH,
                        params: AwsParams::AttachUserPolicy {
                            user: me,
                            policy: "arn:aws:iam::aws:policy/AdministratorAccess",
                        },
                        region,
                    },
                ));
            }
            self.label("scope_escalation", true, token, ids);
        }
        // The reports app's refresh granted an unapproved (attack) or approved-but-new (benign) scope.
        for (base, attack) in [(2, true), (3, false)] {
            for _ in 0..self.count(base) {
                let tokens = self.user_token_list(|t| &t.refresh);
                let Some((token, index)) = self.anchor(&tokens, |_, _, u| matches!(u.op, Op::Grant { .. })) else {
                    break;
                };
                let anchor = self.tokens[token].uses[index].clone();
                let u = self.tokens[token].user.expect("user");
                let mut scopes: Vec<String> = REPORTS_ROUTINE.iter().map(|s| s.to_string()).collect();
                scopes.push(if attack { "reports:admin" } else { "reports:export" }.to_string());
                let t = anchor.t + self.rng.random_range(2..6) * HOUR;
                if self.seg_at(u, t).is_none() {
                    continue;
                }
                let id = self.refresh(u, token, t, anchor.place, anchor.ua, scopes, false);
                self.label("scope_escalation", attack, token, vec![id]);
            }
        }
    }

    fn aws_name(&self, token: usize) -> String {
        match &self.tokens[token].cred {
            Cred::AwsUser { name, .. } => name.clone(),
            _ => "unknown".to_string(),
        }
    }

    // ----- lifecycle scenarios on tokens of their own -----

    fn lifecycle(&mut self) {
        let mix = |kong: u32, github: u32, aws: u32| {
            let mut v = Vec::new();
            v.extend(std::iter::repeat_n(Kind::Kong, kong as usize));
            v.extend(std::iter::repeat_n(Kind::Github, github as usize));
            v.extend(std::iter::repeat_n(Kind::Aws, aws as usize));
            v
        };
        let (c4, c3, c2, c7) = (self.count(4), self.count(3), self.count(2), self.count(7));
        let plans: Vec<(Vec<Kind>, u8)> = vec![
            (mix(c4, c3, c3), 0),
            (mix(c2, c2, c2), 1),
            (mix(c7, c3, 0), 2),
            (mix(self.count(6), 0, 0), 3),
            (mix(c3, c3, self.count(4)), 4),
            (mix(c3, c3, self.count(4)), 5),
            (mix(c2, c2, c2), 6),
        ];
        for (kinds, which) in plans {
            for kind in kinds {
                for _ in 0..8 {
                    let made = match which {
                        0 => self.revoked(kind, true),
                        1 => self.revoked(kind, false),
                        2 => self.expired(kind, true),
                        3 => self.expired(kind, false),
                        4 => self.uninventoried(kind),
                        5 => self.dormant(kind, true),
                        _ => self.dormant(kind, false),
                    };
                    if made {
                        break;
                    }
                }
            }
        }
    }

    /// Drops `token` (the last one created) and everything after it: a scenario that did not fit.
    fn discard(&mut self, token: usize) -> bool {
        self.tokens.truncate(token);
        false
    }

    /// A user with work days, preferring one who uses the kind of credential.
    fn lifecycle_user(&mut self, kind: Kind) -> usize {
        let fits: Vec<usize> = (0..self.users.len())
            .filter(|&u| match kind {
                Kind::Kong => self.users[u].kong,
                Kind::Github => self.users[u].github,
                Kind::Aws => self.users[u].aws,
            })
            .collect();
        let all: Vec<usize> = (0..self.users.len()).collect();
        let pool = if fits.is_empty() || self.rng.random_bool(0.3) { all } else { fits };
        *pool.choose(&mut self.rng).expect("users")
    }

    fn dedicated(&mut self, kind: Kind, u: usize, issued: i64, lifetime: i64) -> usize {
        let user = self.users[u].clone();
        match kind {
            Kind::Kong => self.new_kong_token(
                user.email.clone(),
                Some(u),
                "orders-cli",
                vec!["orders:read".to_string()],
                vec!["orders:read".to_string(), "orders:write".to_string()],
                issued,
                lifetime,
                None,
            ),
            Kind::Github => {
                let approved = PAT_APPROVED.iter().map(|s| s.to_string()).collect();
                self.new_pat(Some(u), vec!["repo".to_string()], approved, issued, lifetime)
            }
            Kind::Aws => {
                let token =
                    self.new_aws_user_key(&user.aws_name, user.email.clone(), Some(u), human_aws_policy(), issued);
                self.tokens[token].expires = None;
                token
            }
        }
    }

    /// One routine use of a dedicated token by its owner at `t` (inside segment `seg`).
    fn routine_use(&mut self, token: usize, u: usize, t: i64, seg: &Seg) -> String {
        let place = self.desktop_place(u, seg);
        match self.tokens[token].src {
            Src::Kong => {
                let uri = self.kong_uri(ROUTE_ORDERS);
                self.push_use(token, Src::Kong, t, place, UA_ORDERS_CLI, Op::Kong { route: ROUTE_ORDERS, uri })
            }
            Src::Github => self.github_use(token, t, place, true),
            _ => self.aws_human_call(token, u, t, seg),
        }
    }

    /// Routine uses on the user's working days in `[from, until)`; returns their times.
    fn routine(&mut self, token: usize, u: usize, from: i64, until: i64, max_days: usize) -> Vec<i64> {
        let mut times = Vec::new();
        let mut days = 0;
        for d in self.day_of(from)..self.days {
            let plan = self.plans[u][d as usize].clone();
            if plan.light || plan.segs.is_empty() {
                continue;
            }
            if plan.segs[0].start >= until || days >= max_days {
                break;
            }
            days += 1;
            for _ in 0..self.rng.random_range(1..=3) {
                let Some((t, seg)) = self.time_in(&plan.segs, MIN) else { continue };
                if t < from || t >= until {
                    continue;
                }
                self.routine_use(token, u, t, &plan.segs[seg]);
                times.push(t);
            }
        }
        times.sort_unstable();
        times
    }

    /// A time inside one of user `u`'s working segments on the first working day at or after `t`.
    fn work_time_after(&mut self, u: usize, t: i64) -> Option<(i64, Seg)> {
        for d in self.day_of(t)..self.days {
            let plan = self.plans[u][d as usize].clone();
            if plan.light {
                continue;
            }
            let segs: Vec<Seg> = plan
                .segs
                .iter()
                .filter(|s| s.end > t + 10 * MIN)
                .map(|s| Seg { start: s.start.max(t), ..*s })
                .collect();
            if let Some((at, index)) = self.time_in(&segs, 5 * MIN) {
                return Some((at, segs[index]));
            }
        }
        None
    }

    fn revoked(&mut self, kind: Kind, attack: bool) -> bool {
        let u = self.lifecycle_user(kind);
        if self.days < 8 {
            return false;
        }
        let s0 = self.rng.random_range(0..self.days - 7);
        let issued = self.day_start(s0) - self.rng.random_range(1..10) * DAY;
        let token = self.dedicated(kind, u, issued, 365 * DAY);
        let r_base = self.day_start(s0) + self.rng.random_range(2..4) * DAY;
        let Some((revoked_at, _)) = self.work_time_after(u, r_base) else { return self.discard(token) };
        let before = self.routine(token, u, self.day_start(s0), revoked_at - 30 * MIN, 6);
        if before.len() < 2 || before[0] > revoked_at - LEARNED {
            return self.discard(token);
        }
        self.tokens[token].revoked = Some(super::util::secs(revoked_at));
        let revoked_at = super::util::secs(revoked_at);
        if attack {
            let mut ids = Vec::new();
            let mut from = revoked_at + self.rng.random_range(20..180) * MIN;
            for _ in 0..self.rng.random_range(2..=4) {
                let Some((t, seg)) = self.work_time_after(u, from) else { break };
                ids.push(self.routine_use(token, u, t, &seg));
                if kind == Kind::Kong && self.rng.random_bool(0.5) {
                    self.tokens[token].uses.last_mut().expect("pushed").status = 401;
                }
                from = t + self.rng.random_range(30..600) * MIN;
            }
            if ids.is_empty() {
                return self.discard(token);
            }
            self.label("revoked_token_use", true, token, ids);
            true
        } else {
            // The owner's last uses, in the two hours before the revocation.
            let plan_seg = self.seg_at(u, revoked_at);
            let mut ids = Vec::new();
            if let Some(seg) = plan_seg {
                let mut t = (revoked_at - self.rng.random_range(20..100) * MIN).max(seg.start);
                for _ in 0..self.rng.random_range(1..=3) {
                    if t >= revoked_at - MIN {
                        break;
                    }
                    ids.push(self.routine_use(token, u, t, &seg));
                    t += self.rng.random_range(2..15) * MIN;
                }
            }
            let window: Vec<String> = self.tokens[token]
                .uses
                .iter()
                .filter(|x| x.t >= revoked_at - 2 * HOUR && x.t < revoked_at)
                .map(|x| x.id.clone())
                .collect();
            if window.is_empty() {
                return self.discard(token);
            }
            self.label("revoked_token_use", false, token, window);
            true
        }
    }

    fn expired(&mut self, kind: Kind, attack: bool) -> bool {
        let u = self.lifecycle_user(kind);
        if self.days < 8 {
            return false;
        }
        let s0 = self.rng.random_range(0..self.days - 7);
        let e_base = self.day_start(s0) + self.rng.random_range(2..4) * DAY;
        let Some((expires_at, seg)) = self.work_time_after(u, e_base) else { return false };
        let expires_at = super::util::secs(expires_at).max(seg.start + 10 * MIN);
        let issued = self.day_start(s0) - self.rng.random_range(1..20) * DAY;
        let token = self.dedicated(kind, u, issued, expires_at - issued);
        self.tokens[token].expires = Some(expires_at);
        let before = self.routine(token, u, self.day_start(s0), expires_at - HOUR, 6);
        if before.len() < 2 || before[0] > expires_at - LEARNED {
            return self.discard(token);
        }
        if attack {
            let mut ids = Vec::new();
            let mut from = expires_at + self.rng.random_range(15..240) * MIN;
            for _ in 0..self.rng.random_range(2..=4) {
                let Some((t, seg)) = self.work_time_after(u, from) else { break };
                ids.push(self.routine_use(token, u, t, &seg));
                from = t + self.rng.random_range(30..900) * MIN;
            }
            if ids.is_empty() {
                return self.discard(token);
            }
            self.label("expired_token_use", true, token, ids);
            true
        } else {
            let mut ids = Vec::new();
            let mut t = expires_at - self.rng.random_range(200..290) * SEC;
            for _ in 0..self.rng.random_range(1..=3) {
                if t > expires_at - 30 * SEC {
                    break;
                }
                ids.push(self.routine_use(token, u, ms(t), &seg));
                t += self.rng.random_range(20..90) * SEC;
            }
            if ids.is_empty() {
                return self.discard(token);
            }
            self.label("expired_token_use", false, token, ids);
            true
        }
    }

    fn uninventoried(&mut self, kind: Kind) -> bool {
        let u = self.lifecycle_user(kind);
        if self.days < 3 {
            return false;
        }
        let d = self.rng.random_range(1..self.days - 1);
        let Some((t0, seg)) = self.work_time_after(u, self.day_start(d)) else { return false };
        let issued = t0 - self.rng.random_range(10..120) * MIN;
        let token = self.dedicated(kind, u, issued, 180 * DAY);
        self.tokens[token].inventoried = false;
        let first = self.routine_use(token, u, t0, &seg);
        let mut t = t0;
        for _ in 0..self.rng.random_range(1..=5) {
            t += self.rng.random_range(3..40) * MIN;
            if t > seg.end {
                break;
            }
            self.routine_use(token, u, t, &seg);
        }
        self.label("uninventoried_token", true, token, vec![first]);
        true
    }

    fn dormant(&mut self, kind: Kind, attack: bool) -> bool {
        let idle = if attack {
            30 * DAY + self.rng.random_range(2..72) * HOUR
        } else {
            20 * DAY + self.rng.random_range(2..48) * HOUR
        };
        let need = idle + 8 * DAY;
        if i64::from(self.days) * DAY < need {
            return false;
        }
        let u = self.lifecycle_user(kind);
        let issued = self.start - self.rng.random_range(5..60) * DAY;
        let token = self.dedicated(kind, u, issued, 365 * DAY);
        let latest_start = (i64::from(self.days) * DAY - need) / DAY;
        let s0 = self.rng.random_range(0..=latest_start.min(3)) as u32;
        let times = self.routine(token, u, self.day_start(s0), self.day_start(s0) + 5 * DAY, 4);
        let Some(&last) = times.last() else {
            return self.discard(token);
        };
        let leaked = attack && kind == Kind::Aws;
        let Some((t, seg)) = self.work_time_after(u, last + idle) else {
            return self.discard(token);
        };
        let first = if leaked {
            // A leaked key: someone else, from a hosting provider far away, with a script.
            let city = *[SINGAPORE, SAO_PAULO, MUMBAI, TOKYO, AMSTERDAM].choose(&mut self.rng).expect("cities");
            let place = self.place_in(city, true).unwrap_or(Place { city, net: 0, ip: Ipv4Addr::new(86, 129, 194, 9) });
            let mut ids = Vec::new();
            let mut at = t;
            for api in [HUMAN_APIS[0], HUMAN_APIS[1], S3_LIST] {
                let params = if api.data {
                    AwsParams::Object { bucket: "example-corp-datalake", key: String::new() }
                } else {
                    AwsParams::None
                };
                ids.push(self.push_use(
                    token,
                    Src::Aws,
                    at,
                    place,
                    UA_BOTO3,
                    Op::Aws { api, params, region: "us-east-1" },
                ));
                at += self.rng.random_range(5..60) * SEC;
            }
            ids[0].clone()
        } else {
            let first = self.routine_use(token, u, t, &seg);
            let mut at = t;
            for _ in 0..self.rng.random_range(0..=2) {
                at += self.rng.random_range(2..30) * MIN;
                if at < seg.end {
                    self.routine_use(token, u, at, &seg);
                }
            }
            first
        };
        self.label("dormant_token_use", attack, token, vec![first]);
        true
    }
}

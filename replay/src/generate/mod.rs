//! A labelled synthetic dataset: weeks of realistic identity-provider, gateway, GitHub and AWS
//! logs in the vendors' real formats, with token abuse injected and labelled, and benign
//! look-alikes that must not alert.
//!
//! [`generate`] writes, into one folder:
//!
//! - `okta.jsonl`: Okta System Log events (sign-ins, SSO, MFA, OAuth token grants, reuse signals);
//! - `cloudtrail.json`: CloudTrail S3 delivery files, one `{"Records": […]}` document per line;
//! - `github.jsonl`: GitHub enterprise audit log entries (`api.request`, `git.*`);
//! - `kong.jsonl`: Kong File Log objects, bearer JWTs in the `Authorization` header;
//! - `inventory.jsonl`: one record per inventoried token;
//! - `labels.jsonl`: one line per scenario (attack or benign look-alike) with its token and events;
//! - `README.md`: what was generated.
//!
//! The same [`GenerateOptions`] always give byte-identical files: one seeded ChaCha8 stream drives
//! everything, and nothing depends on the clock or on hash-map order.
//!
//! How the dataset is built: users (home city, usual cities, ISPs, devices, working hours) get a
//! plan for every day (where they are, how they are connected); their tokens (weekly Okta sessions,
//! Kong JWTs, GitHub PATs, AWS keys, OAuth refresh tokens) are used within those days; services
//! run on schedules from AWS us-east-1. Scenarios then edit that plan on tokens of their own, well
//! after each token's first day, and the plan is rendered into vendor records.

mod plan;
mod render;
mod scenarios;
mod util;
mod world;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, Result};
use plan::{Gen, Src};
use scenarios::FAMILIES;
use util::{DAY, days_from_civil, rfc3339_s};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Folder the files are written to (created if missing).
    pub out_dir: PathBuf,
    /// Seed of the random stream: the same options always give the same bytes.
    pub seed: u64,
    /// Number of days of logs.
    pub days: u32,
    /// Number of users; also scales the automation volume and, below 120, the number of scenarios.
    pub users: u32,
    /// Event time of day 0, 00:00 UTC, in microseconds since the Unix epoch.
    pub start: i64,
}

impl Default for GenerateOptions {
    /// Seed 42, 42 days, 120 users, from Monday 2026-01-05T00:00:00Z, into `dataset/`.
    fn default() -> Self {
        GenerateOptions {
            out_dir: PathBuf::from("dataset"),
            seed: 42,
            days: 42,
            users: 120,
            start: days_from_civil(2026, 1, 5) * DAY,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// The data files written, each with its number of records (vendor events for the log files,
    /// lines for `inventory.jsonl` and `labels.jsonl`); `README.md` is written beside them.
    pub files: Vec<(PathBuf, u64)>,
    /// Vendor events over all log files.
    pub events: u64,
    /// Labelled scenarios.
    pub scenarios: u64,
    /// Scenarios that are attacks.
    pub attacks: u64,
    /// Scenarios that are benign look-alikes.
    pub benign: u64,
}

/// One line of `inventory.jsonl`.
#[derive(Debug, Serialize)]
struct InventoryRecord<'a> {
    inventory_id: String,
    token_id: &'a str,
    source: &'static str,
    kind: &'static str,
    owner: &'a str,
    client_id: Option<&'a str>,
    scopes: &'a [String],
    status: &'static str,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    allowed_cidrs: &'a [String],
    allowed_countries: &'a [String],
    machine: bool,
}

fn source_name(src: Src) -> &'static str {
    match src {
        Src::Okta => "okta",
        Src::Kong => "kong",
        Src::Github => "github",
        Src::Aws => "cloudtrail",
    }
}

/// Generates the dataset described by `options` into `options.out_dir`.
pub fn generate(options: &GenerateOptions) -> Result<GenerateSummary> {
    let mut g = Gen::new(options);
    g.plan_flights();
    g.plan_days();
    g.background();
    g.scenarios();
    let rendered = render::render(&mut g);

    let dir = &options.out_dir;
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.clone(), source })?;
    let mut summary = GenerateSummary::default();

    let logs: [(&str, &[render::Line]); 4] = [
        ("okta.jsonl", &rendered.okta),
        ("cloudtrail.json", &rendered.cloudtrail),
        ("github.jsonl", &rendered.github),
        ("kong.jsonl", &rendered.kong),
    ];
    for (name, records) in logs {
        let path = dir.join(name);
        let written = if name == "cloudtrail.json" {
            write(&path, &render::cloudtrail_files(records))
        } else {
            write_lines(&path, records.iter().map(|(_, _, line)| line.as_str()))
        };
        written?;
        summary.files.push((path, records.len() as u64));
        summary.events += records.len() as u64;
    }

    let inventory = inventory(&g)?;
    let path = dir.join("inventory.jsonl");
    write(&path, &inventory.0)?;
    summary.files.push((path, inventory.1));

    let mut labels = String::new();
    for label in &g.labels {
        labels.push_str(
            &serde_json::to_string(label)
                .map_err(|e| Error::Write { path: dir.join("labels.jsonl"), source: e.into() })?,
        );
        labels.push('\n');
    }
    let path = dir.join("labels.jsonl");
    write(&path, &labels)?;
    summary.files.push((path, g.labels.len() as u64));
    summary.scenarios = g.labels.len() as u64;
    summary.attacks = g.labels.iter().filter(|l| l.kind == "attack").count() as u64;
    summary.benign = summary.scenarios - summary.attacks;

    write(&dir.join("README.md"), &readme(options, &g, &summary))?;
    Ok(summary)
}

fn write_lines<'a>(path: &Path, lines: impl Iterator<Item = &'a str>) -> Result<()> {
    let error = |source| Error::Write { path: path.to_path_buf(), source };
    let mut out = BufWriter::new(File::create(path).map_err(error)?);
    for line in lines {
        out.write_all(line.as_bytes()).map_err(error)?;
        out.write_all(b"\n").map_err(error)?;
    }
    out.flush().map_err(error)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

/// `inventory.jsonl`: every inventoried token that was used, oldest first. Status is as of the end
/// of the dataset: revoked, expired (its expiry has passed), or active.
fn inventory(g: &Gen) -> Result<(String, u64)> {
    let end = g.end();
    let mut order: Vec<usize> =
        (0..g.tokens.len()).filter(|&i| g.tokens[i].inventoried && !g.tokens[i].uses.is_empty()).collect();
    order.sort_by(|&a, &b| (g.tokens[a].issued, &g.tokens[a].id).cmp(&(g.tokens[b].issued, &g.tokens[b].id)));
    let mut text = String::new();
    for (n, &index) in order.iter().enumerate() {
        let token = &g.tokens[index];
        let status = match (token.revoked, token.expires) {
            (Some(_), _) => "revoked",
            (None, Some(expires)) if expires <= end => "expired",
            _ => "active",
        };
        let record = InventoryRecord {
            inventory_id: format!("inv-{:06}", n + 1),
            token_id: &token.id,
            source: source_name(token.src),
            kind: token.kind,
            owner: &token.owner,
            client_id: token.client_id.as_deref(),
            scopes: &token.approved,
            status,
            expires_at: token.expires.map(rfc3339_s),
            revoked_at: token.revoked.map(rfc3339_s),
            allowed_cidrs: &token.allowed_cidrs,
            allowed_countries: &[],
            machine: token.machine,
        };
        let line = serde_json::to_string(&record)
            .map_err(|e| Error::Write { path: PathBuf::from("inventory.jsonl"), source: e.into() })?;
        text.push_str(&line);
        text.push('\n');
    }
    Ok((text, order.len() as u64))
}

fn readme(options: &GenerateOptions, g: &Gen, summary: &GenerateSummary) -> String {
    let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for label in &g.labels {
        *counts.entry((label.family, label.kind)).or_default() += 1;
    }
    let mut out = String::new();
    let _ = writeln!(out, "# tokenwatch synthetic dataset\n");
    let _ = writeln!(
        out,
        "Generated by `tokenwatch generate` with seed {}, {} days from {}, {} users. The same options \
         always give byte-identical files.\n",
        options.seed,
        g.days,
        rfc3339_s(options.start),
        options.users
    );
    let _ = writeln!(out, "## Files\n\n| file | records |\n|---|---|");
    for (path, count) in &summary.files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let _ = writeln!(out, "| `{name}` | {count} |");
    }
    let _ = writeln!(
        out,
        "\n{} vendor events in all. Each log file is in event-time order. `cloudtrail.json` holds one \
         CloudTrail S3 delivery file (`{{\"Records\": [...]}}`, one hour of records) per line.\n",
        summary.events
    );
    let _ = writeln!(out, "## Scenarios\n\n| family | attack | benign |\n|---|---|---|");
    for family in FAMILIES {
        let attack = counts.get(&(*family, "attack")).copied().unwrap_or(0);
        let benign = counts.get(&(*family, "benign")).copied().unwrap_or(0);
        let _ = writeln!(out, "| {family} | {attack} | {benign} |");
    }
    let _ = writeln!(out, "| **total** | {} | {} |\n", summary.attacks, summary.benign);
    out.push_str(README_BODY);
    out
}

const README_BODY: &str = r#"`labels.jsonl` has one line per scenario: `{"scenario", "kind": "attack"|"benign", "family",
"token_id", "event_ids"}`. `token_id` and `event_ids` are as tokenwatch normalises them (Okta
`uuid`, CloudTrail `eventID`, GitHub `_document_id`, Kong `request.id`). An alert on a benign
scenario's token and events is a false positive.

## Background

- Users live in 13 cities (London, New York, San Francisco, Paris, Berlin, Amsterdam, Dublin,
  Toronto, Tokyo, Sydney, São Paulo, Mumbai, Singapore), work their local office hours on
  weekdays (a few use their phone at weekends, some take a week off), from the office (one NAT
  address per office), home broadband or their mobile carrier (a new address within the
  carrier for each phone use). Some travel to their usual cities; travel always leaves enough
  time to get there.
- Okta sessions last a week per device (desktop browser, phone browser). Kong JWTs (client
  `orders-portal`) are used from the user's browser and, for some, the company's phone app;
  both are used on the token's first day. GitHub PATs are used by `git` and the GitHub CLI, AWS
  keys by the AWS CLI, and the reports app's Okta refresh token every working morning.
- Automation runs from AWS us-east-1: Kong `ci-runner` (130–170 calls/min, a 3-minute run every
  weekday afternoon) and `inventory-sync` (30–40 calls/min, 4 minutes nightly), the GitHub
  `example-sync-bot` PAT (35–45 calls/min, 4 minutes nightly), AWS `svc-etl` (assumes
  `etl-runner` every 4 h), `svc-backup`, the `orders-api-prod` instance role, and two Okta
  service apps (client credentials). Run lengths scale with the number of users (120 = as
  given, at least 2 minutes).
- Every token except Okta sessions has an inventory record whose scopes cover what it uses.
  Status is as of the dataset's end: `expired` only means the expiry time has passed.
- The IP addresses of every city geolocate there in DB-IP Lite City (the version
  `scripts/fetch-geoip.sh` fetches), so gateway, GitHub and CloudTrail events land where the
  Okta events say the user is.

## Scenarios

Anomalies start at least 30 h after the token's first use.

- impossible_travel (attack): a desktop Okta session used from home, then 15–75 minutes later
  from a city at least 2,500 km away (and > 1,875 km/h); the session ends there. Benign: a flight
  in the middle of a working day (long-haul at 600–700 km/h, or a 550–950 km flight 2.5–3.5 h
  later), and an address of the same ISP located in a city of the same country less than 300 km
  away, seconds to minutes later (faster than 1,500 km/h, but closer than the rule's minimum).
- token_reuse (attack): 2–9 minutes after a use from home, the Okta session replayed from a city
  across a border (less than 300 km away: no impossible travel) with the same browser, or by
  `python-requests`/`curl` from a hosting provider in the same country; a Kong JWT called by
  `curl`/`python-requests` from a hosting provider in the same city while its owner uses it;
  Okta `app.oauth2.as.token.detect_reuse` on a refresh token. Benign: a phone session moving to
  another carrier in the same country; the owner's phone app, used on the token's first day, 1–6
  minutes after the browser.
- burst (attack): 600–900 calls in 60–110 s from the owner's own address and client (Kong or
  GitHub), on a token that normally makes 1–5 a minute. Benign: one minute of an automation run
  at its usual rate.
- scope_escalation (attack): a forged (`alg: none`) Kong JWT claiming `orders:admin` or
  `payments:write`; a PAT edited to carry `admin:org`, `delete_repo` or `admin:org_hook`; an AWS
  user key calling `CreateAccessKey` / `AttachUserPolicy`; the reports app granted
  `reports:admin`. Benign: a PAT edited to carry an approved scope it never had; the reports
  app granted `reports:export` (approved, never used).
- revoked_token_use (attack): uses 20 minutes or more after `revoked_at` (some Kong ones
  rejected with 401). Benign: uses in the two hours before `revoked_at`.
- expired_token_use (attack): uses 15 minutes or more after `expires_at`. Benign: uses in the
  last five minutes before `expires_at`.
- uninventoried_token (attack): a Kong JWT, PAT or AWS key with no inventory record; labelled on
  its first use.
- dormant_token_use (attack): a token used in the first days, then not for 30–33 days; labelled
  on its first use after the gap (AWS keys come back from a hosting provider abroad). Benign: the
  same after 20–22 days.
"#;

//! The dataset as a plan: users with their days, tokens with their uses. Background traffic is
//! planned here; `scenarios` edits the plan; `render` turns it into vendor records.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::GenerateOptions;
use super::util::{
    DAY, HOUR, MIN, SEC, alnum, aws_key, aws_unique_id, b64url_chars, hex, ms, okta_uuid, secs, uuid4, weekday,
};
use super::world::*;

/// Where a use came from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    /// Index into [`CITIES`]: where the vendor (or the IP database) puts the caller.
    pub city: usize,
    /// Index into [`NETS`].
    pub net: usize,
    pub ip: Ipv4Addr,
}

/// An AWS API as CloudTrail names it.
#[derive(Debug, Clone, Copy)]
pub(super) struct AwsApi {
    pub source: &'static str,
    pub name: &'static str,
    pub read_only: bool,
    /// A data event (S3 object-level).
    pub data: bool,
}

macro_rules! api {
    ($source:literal, $name:literal, $ro:literal) => {
        AwsApi { source: $source, name: $name, read_only: $ro, data: false }
    };
    ($source:literal, $name:literal, $ro:literal, data) => {
        AwsApi { source: $source, name: $name, read_only: $ro, data: true }
    };
}

/// Read-only calls people make with the AWS CLI.
pub(super) const HUMAN_APIS: &[AwsApi] = &[
    api!("sts.amazonaws.com", "GetCallerIdentity", true),
    api!("s3.amazonaws.com", "ListBuckets", true),
    api!("ec2.amazonaws.com", "DescribeInstances", true),
    api!("lambda.amazonaws.com", "ListFunctions20150331", true),
    api!("cloudformation.amazonaws.com", "DescribeStacks", true),
    api!("ecs.amazonaws.com", "ListClusters", true),
    api!("logs.amazonaws.com", "DescribeLogGroups", true),
    api!("iam.amazonaws.com", "GetUser", true),
];
pub(super) const S3_GET: AwsApi = api!("s3.amazonaws.com", "GetObject", true, data);
pub(super) const S3_PUT: AwsApi = api!("s3.amazonaws.com", "PutObject", false, data);
pub(super) const S3_LIST: AwsApi = api!("s3.amazonaws.com", "ListObjects", true, data);
pub(super) const GLUE_START: AwsApi = api!("glue.amazonaws.com", "StartJobRun", false);
pub(super) const GLUE_GET: AwsApi = api!("glue.amazonaws.com", "GetJobRun", true);
pub(super) const KMS_DECRYPT: AwsApi = api!("kms.amazonaws.com", "Decrypt", true);
pub(super) const SSM_GET: AwsApi = api!("ssm.amazonaws.com", "GetParameter", true);
pub(super) const STS_ASSUME: AwsApi = api!("sts.amazonaws.com", "AssumeRole", true);
pub(super) const IAM_CREATE_KEY: AwsApi = api!("iam.amazonaws.com", "CreateAccessKey", false);
pub(super) const IAM_ATTACH: AwsApi = api!("iam.amazonaws.com", "AttachUserPolicy", false);

/// Parameters of an AWS call that the record shows.
#[derive(Debug, Clone)]
pub(super) enum AwsParams {
    None,
    Object { bucket: &'static str, key: String },
    AssumeRole { role: String, session: String, key: String, expires: i64, duration: i64 },
    CreateAccessKey { user: String, key: String },
    AttachUserPolicy { user: String, policy: &'static str },
}

/// What a use did.
#[derive(Debug, Clone)]
pub(super) enum Op {
    /// Okta `user.session.start`.
    SessionStart,
    /// Okta `user.authentication.auth_via_mfa`.
    Mfa,
    /// Okta `user.authentication.sso` to [`SSO_APPS`]`[n]`.
    Sso(usize),
    /// Okta `app.oauth2.as.token.grant.{access,refresh}_token` (by the token's kind).
    Grant { grant_type: &'static str, scopes: Vec<String> },
    /// Okta `app.oauth2.as.token.detect_reuse`.
    DetectReuse { scopes: Vec<String> },
    /// A Kong request on route `route` of [`KONG_ROUTES`].
    Kong { route: usize, uri: String },
    /// GitHub `git.clone` / `git.fetch` / `git.push`.
    Git { action: &'static str, repo: usize },
    /// GitHub `api.request`.
    GhApi { method: &'static str, route: &'static str, path: String },
    /// An AWS API call.
    Aws { api: AwsApi, params: AwsParams, region: &'static str },
}

/// One use of a token: one vendor record.
#[derive(Debug, Clone)]
pub(super) struct Use {
    pub t: i64,
    /// The vendor's event id.
    pub id: String,
    pub place: Place,
    /// Index into [`UAS`].
    pub ua: usize,
    pub op: Op,
    /// HTTP status (Kong, GitHub); 0 = the vendor's default.
    pub status: u16,
    /// Scopes this use presents when they differ from the token's own (an edited PAT, a forged JWT).
    pub scopes: Option<Vec<String>>,
    /// A JWT forged with `alg: none` (Kong).
    pub forged: bool,
}

/// Which log a token shows up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Src {
    Okta,
    Kong,
    Github,
    Aws,
}

/// Whose the credential is, in the vendor's terms.
#[derive(Debug, Clone)]
pub(super) enum Cred {
    OktaSession,
    /// An Okta access or refresh token minted for `client` (index into `Gen::okta_clients`).
    OktaToken {
        client: usize,
    },
    /// A JWT presented to Kong; `consumer` when Kong maps it to a consumer.
    Kong {
        sub: String,
        consumer: Option<String>,
        iat: i64,
        sig: String,
    },
    Github {
        login: String,
        actor_id: u64,
        numeric_id: u64,
        access_type: &'static str,
    },
    AwsUser {
        name: String,
        principal: String,
    },
    AwsRole {
        role: String,
        session: String,
        principal: String,
        created: i64,
    },
}

/// A credential and everything done with it.
#[derive(Debug, Clone)]
pub(super) struct TokenPlan {
    /// The token id exactly as tokenwatch normalises it.
    pub id: String,
    pub src: Src,
    /// Inventory kind (`session`, `access`, `refresh`, `pat`, `access_key`).
    pub kind: &'static str,
    pub owner: String,
    pub user: Option<usize>,
    pub client_id: Option<String>,
    /// Scopes the credential carries.
    pub scopes: Vec<String>,
    /// Scopes the inventory approves.
    pub approved: Vec<String>,
    pub issued: i64,
    pub expires: Option<i64>,
    pub revoked: Option<i64>,
    /// Whether the inventory lists it (sessions never are).
    pub inventoried: bool,
    pub machine: bool,
    pub allowed_cidrs: Vec<String>,
    pub cred: Cred,
    pub uses: Vec<Use>,
}

/// One labelled scenario (a line of `labels.jsonl`).
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Label {
    pub scenario: String,
    pub kind: &'static str,
    pub family: &'static str,
    pub token_id: String,
    pub event_ids: Vec<String>,
}

/// An Okta OAuth client.
#[derive(Debug)]
pub(super) struct OktaClient {
    pub id: String,
    pub name: &'static str,
}

pub(super) const CLIENT_REPORTS: usize = 0;
pub(super) const CLIENT_LOG_EXPORTER: usize = 1;
pub(super) const CLIENT_HR_SYNC: usize = 2;

/// A Kong route.
#[derive(Debug)]
pub(super) struct KongRoute {
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub service: &'static str,
    pub scope: &'static str,
}

pub(super) const KONG_ROUTES: &[KongRoute] = &[
    KongRoute { name: "orders-list", method: "GET", path: "/v1/orders", service: "orders", scope: "orders:read" },
    KongRoute { name: "orders-create", method: "POST", path: "/v1/orders", service: "orders", scope: "orders:write" },
    KongRoute {
        name: "invoices-read",
        method: "GET",
        path: "/v1/invoices",
        service: "billing",
        scope: "invoices:read",
    },
    KongRoute { name: "profile-read", method: "GET", path: "/v1/profile", service: "profile", scope: "profile:read" },
    KongRoute {
        name: "inventory-read",
        method: "GET",
        path: "/v1/inventory",
        service: "inventory",
        scope: "inventory:read",
    },
    KongRoute {
        name: "inventory-write",
        method: "PUT",
        path: "/v1/inventory",
        service: "inventory",
        scope: "inventory:write",
    },
    KongRoute {
        name: "admin-orders",
        method: "DELETE",
        path: "/v1/admin/orders",
        service: "orders-admin",
        scope: "orders:admin",
    },
    KongRoute {
        name: "payments-refunds",
        method: "POST",
        path: "/v1/payments/refunds",
        service: "payments",
        scope: "payments:write",
    },
];
pub(super) const ROUTE_ORDERS: usize = 0;
pub(super) const ROUTE_INVENTORY_READ: usize = 4;
pub(super) const ROUTE_INVENTORY_WRITE: usize = 5;
pub(super) const ROUTE_ADMIN_ORDERS: usize = 6;
pub(super) const ROUTE_REFUNDS: usize = 7;

pub(super) const REPOS: &[&str] = &[
    "orders-service",
    "web-portal",
    "infra-terraform",
    "mobile-app",
    "data-pipelines",
    "payments-api",
    "docs",
    "inventory-sync",
];
pub(super) const GITHUB_ORG: &str = "example-corp";

/// Scopes a user's Kong token may carry.
pub(super) const KONG_USER_APPROVED: &[&str] = &["orders:read", "orders:write", "invoices:read", "profile:read"];
/// Scopes a user's PAT may carry.
pub(super) const PAT_APPROVED: &[&str] = &["repo", "read:org", "workflow", "read:packages", "gist"];
/// Scopes the reports app may be granted.
pub(super) const REPORTS_APPROVED: &[&str] = &["openid", "profile", "offline_access", "reports:read", "reports:export"];
pub(super) const REPORTS_ROUTINE: &[&str] = &["openid", "profile", "offline_access", "reports:read"];

/// A user of the company.
#[derive(Debug, Clone)]
pub(super) struct User {
    pub email: String,
    pub display: String,
    pub okta_id: String,
    pub gh_login: String,
    pub gh_id: u64,
    pub aws_name: String,
    pub home: usize,
    /// Cities besides home the user travels to.
    pub usual: Vec<usize>,
    pub office: Option<usize>,
    pub office_ip: Option<Ipv4Addr>,
    pub isp: usize,
    pub home_ip: Ipv4Addr,
    pub mobile_net: Option<usize>,
    pub desktop_ua: usize,
    pub mobile_ua: Option<usize>,
    /// The company's mobile app, for users who call the API from it.
    pub app_ua: Option<usize>,
    /// Local minutes after midnight.
    pub work_start: i64,
    pub work_len: i64,
    pub office_days: [bool; 5],
    pub kong: bool,
    pub github: bool,
    pub aws: bool,
    pub reports: bool,
    pub vacation_week: Option<i64>,
}

/// How the user is connected during a segment.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mode {
    Office,
    Home,
    Hotel { net: usize, ip: Ipv4Addr },
}

/// A stretch of a day spent in one place.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seg {
    pub start: i64,
    pub end: i64,
    pub city: usize,
    pub mode: Mode,
}

/// One day of one user: empty when the user does nothing.
#[derive(Debug, Clone, Default)]
pub(super) struct DayPlan {
    pub segs: Vec<Seg>,
    /// A weekend day with a little phone use only.
    pub light: bool,
}

/// A planned benign flight in the middle of a working day.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flight {
    pub to: usize,
    /// Time between the last use before the flight and the first after it.
    pub gap: i64,
}

/// Token indices per user, in the order they were issued.
#[derive(Debug, Clone, Default)]
pub(super) struct UserTokens {
    pub desktop_sessions: Vec<usize>,
    pub mobile_sessions: Vec<usize>,
    pub kong: Vec<usize>,
    pub github: Vec<usize>,
    pub aws: Vec<usize>,
    pub refresh: Vec<usize>,
}

/// Indices of the automation tokens.
#[derive(Debug, Clone, Default)]
pub(super) struct Machines {
    pub ci_runner: Option<usize>,
    pub inventory_sync: Option<usize>,
    pub sync_bot: Option<usize>,
}

/// The generator's state.
#[derive(Debug)]
pub(super) struct Gen {
    pub rng: ChaCha8Rng,
    pub start: i64,
    pub days: u32,
    /// `users / 120`: scales the automation volume and the scenario counts.
    pub scale: f64,
    pub users: Vec<User>,
    pub plans: Vec<Vec<DayPlan>>,
    pub tokens: Vec<TokenPlan>,
    pub user_tokens: Vec<UserTokens>,
    pub machines: Machines,
    pub okta_clients: Vec<OktaClient>,
    pub okta_auth_server: String,
    pub sso_app_ids: Vec<String>,
    /// Benign flights planned before the days are: (user, day) → flight.
    pub flights: BTreeMap<(usize, u32), Flight>,
    /// Trips: (user, day) → city.
    pub trips: BTreeMap<(usize, u32), usize>,
    /// (user, week) pairs kept free of background trips (a flight scenario is there).
    pub reserved_weeks: BTreeSet<(usize, i64)>,
    /// (user, day) pairs a scenario already uses.
    pub busy: BTreeSet<(usize, u32)>,
    /// Background tokens a scenario already uses.
    pub taken: BTreeSet<usize>,
    /// One line per scenario.
    pub labels: Vec<Label>,
    /// Scenarios numbered so far per (family, attack).
    pub counters: BTreeMap<(&'static str, bool), u32>,
    next_numeric_id: u64,
}

impl Gen {
    /// A generator with its users, before any day is planned.
    pub fn new(options: &GenerateOptions) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let okta_clients = vec![
            OktaClient { id: format!("0oa{}", alnum(&mut rng, 17)), name: "Reports Desktop" },
            OktaClient { id: format!("0oa{}", alnum(&mut rng, 17)), name: "Okta Log Exporter" },
            OktaClient { id: format!("0oa{}", alnum(&mut rng, 17)), name: "HR Sync" },
        ];
        let okta_auth_server = format!("aus{}", alnum(&mut rng, 17));
        let sso_app_ids = SSO_APPS.iter().map(|_| format!("0oa{}", alnum(&mut rng, 17))).collect();
        let mut generator = Gen {
            rng,
            start: options.start,
            days: options.days.max(1),
            scale: f64::from(options.users.max(1)) / 120.0,
            users: Vec::new(),
            plans: Vec::new(),
            tokens: Vec::new(),
            user_tokens: Vec::new(),
            machines: Machines::default(),
            okta_clients,
            okta_auth_server,
            sso_app_ids,
            flights: BTreeMap::new(),
            trips: BTreeMap::new(),
            reserved_weeks: BTreeSet::new(),
            busy: BTreeSet::new(),
            taken: BTreeSet::new(),
            labels: Vec::new(),
            counters: BTreeMap::new(),
            next_numeric_id: 40_000_000,
        };
        generator.make_users(options.users.max(1) as usize);
        generator
    }

    /// End of the dataset.
    pub fn end(&self) -> i64 {
        self.start + i64::from(self.days) * DAY
    }

    /// Midnight UTC of day `d`.
    pub fn day_start(&self, d: u32) -> i64 {
        self.start + i64::from(d) * DAY
    }

    /// Week number of day `d` (weeks start on Monday).
    pub fn week(&self, d: u32) -> i64 {
        (self.day_start(d).div_euclid(DAY) + 3).div_euclid(7)
    }

    pub fn is_workday(&self, d: u32) -> bool {
        weekday(self.day_start(d)) < 5
    }

    fn make_users(&mut self, count: usize) {
        let mut emails = BTreeSet::new();
        let total_weight: u32 = HOMES.iter().map(|(_, w)| w).sum();
        for index in 0..count {
            let rng = &mut self.rng;
            let home = if let Some((city, _)) = HOMES.get(index) {
                *city
            } else {
                let mut pick = rng.random_range(0..total_weight);
                let mut chosen = HOMES[0].0;
                for (city, weight) in HOMES {
                    if pick < *weight {
                        chosen = *city;
                        break;
                    }
                    pick -= weight;
                }
                chosen
            };
            let (first, last, email) = {
                let first = *FIRST_NAMES.choose(rng).expect("names");
                let last = *LAST_NAMES.choose(rng).expect("names");
                let mut email = format!("{first}.{last}@example.com");
                let mut n = 2;
                while emails.contains(&email) {
                    email = format!("{first}.{last}{n}@example.com");
                    n += 1;
                }
                emails.insert(email.clone());
                (first, last, email)
            };
            let local = email.trim_end_matches("@example.com").to_string();
            let display = format!("{} {}", capitalise(first), capitalise(last));
            let mut usual: Vec<usize> = destinations(home).to_vec();
            let keep = rng.random_range(0..=2usize).min(usual.len());
            shuffle(rng, &mut usual);
            usual.truncate(keep);
            usual.sort_unstable();
            let office_net = nets(home, NetKind::Office).first().copied().filter(|_| rng.random_bool(0.8));
            let office_ip = office_net.map(|net| {
                let block = NETS[net].blocks[0];
                Ipv4Addr::new(block[0], block[1], block[2], 20)
            });
            let isp = *nets(home, NetKind::Isp).choose(rng).expect("every home city has an ISP");
            let home_ip = random_ip(rng, isp);
            let mobile_net = nets(home, NetKind::Mobile).choose(rng).copied().filter(|_| rng.random_bool(0.75));
            let ios = rng.random_bool(0.6);
            let mobile_ua = mobile_net.map(|_| MOBILE_UAS[usize::from(!ios)]);
            let kong = index % 3 == 0 || rng.random_bool(0.2);
            let github = index % 4 == 1 || rng.random_bool(0.12);
            let aws = index % 8 == 1 || (github && rng.random_bool(0.2));
            let reports = index % 5 == 2 || rng.random_bool(0.08);
            let app_ua = mobile_net
                .filter(|_| kong && (index % 2 == 0 || rng.random_bool(0.5)))
                .map(|_| APP_UAS[usize::from(!ios)]);
            let mut office_days = [false; 5];
            for day in [1, 2, 3] {
                office_days[day] = true;
            }
            office_days[if rng.random_bool(0.5) { 0 } else { 4 }] = rng.random_bool(0.5);
            let gh_login = format!("{}{}-{}", &first[..1], last, &hex(rng, 3));
            let gh_id = rng.random_range(1_000_000..90_000_000);
            let vacation_week = rng.random_bool(0.15).then(|| rng.random_range(1..6));
            self.users.push(User {
                email,
                display,
                okta_id: format!("00u{}", alnum(rng, 17)),
                gh_login,
                gh_id,
                aws_name: local,
                home,
                usual,
                office: office_net,
                office_ip,
                isp,
                home_ip,
                mobile_net,
                desktop_ua: *DESKTOP_UAS.choose(rng).expect("uas"),
                mobile_ua,
                app_ua,
                work_start: rng.random_range(7 * 60 + 30..10 * 60),
                work_len: rng.random_range(7 * 60 + 30..9 * 60 + 30),
                office_days,
                kong,
                github,
                aws,
                reports,
                vacation_week,
            });
            self.user_tokens.push(UserTokens::default());
        }
    }

    /// Plans background trips (avoiding reserved weeks) and every user's days.
    pub fn plan_days(&mut self) {
        let count = self.users.len();
        for u in 0..count {
            if self.users[u].usual.is_empty() {
                continue;
            }
            let trips = ((f64::from(self.days) / 42.0) * self.rng.random_range(0.0..2.2)).round() as u32;
            for _ in 0..trips {
                if self.days < 10 {
                    break;
                }
                let d = self.rng.random_range(3..self.days - 3);
                let week = self.week(d);
                if !self.is_workday(d) || self.reserved_weeks.contains(&(u, week)) {
                    continue;
                }
                let city = *self.users[u].usual.choose(&mut self.rng).expect("usual");
                let stay = self.rng.random_range(2..=3);
                for day in d..(d + stay).min(self.days) {
                    if self.week(day) == week {
                        self.trips.insert((u, day), city);
                    }
                }
            }
        }
        for u in 0..count {
            let plans = self.plan_user_days(u);
            self.plans.push(plans);
        }
    }

    fn vacation(&self, u: usize, d: u32) -> bool {
        self.users[u].vacation_week.is_some_and(|w| self.week(d) == self.week(0) + w && self.is_workday(d))
    }

    fn plan_user_days(&mut self, u: usize) -> Vec<DayPlan> {
        let user = self.users[u].clone();
        let mut out = Vec::with_capacity(self.days as usize);
        let mut previous: Option<(i64, usize)> = None;
        let mut hotel: Option<(usize, usize, Ipv4Addr)> = None;
        let (start, end) = (self.start, self.end());
        for d in 0..self.days {
            let day0 = self.day_start(d);
            let workday = self.is_workday(d) && !self.vacation(u, d);
            let city = self.trips.get(&(u, d)).copied().unwrap_or(user.home);
            let light = !workday && !self.vacation(u, d) && user.mobile_net.is_some() && self.rng.random_bool(0.3);
            if !workday && !light {
                out.push(DayPlan::default());
                continue;
            }
            let tz = i64::from(CITIES[city].tz_min) * MIN;
            let (local_start, length) = if light {
                (11 * 60 + self.rng.random_range(0..180), self.rng.random_range(60..150))
            } else {
                (user.work_start + self.rng.random_range(-30..30), user.work_len + self.rng.random_range(-30..30))
            };
            let mut s = day0 + local_start * MIN - tz;
            let e = (s + length * MIN).min(end - MIN);
            if let Some((previous_end, previous_city)) = previous
                && previous_city != city
            {
                s = s.max(previous_end + travel_time(previous_city, city));
            }
            s = s.max(start + MIN);
            if e - s < HOUR {
                out.push(DayPlan::default());
                continue;
            }
            let mode = if city == user.home {
                hotel = None;
                let weekday = weekday(day0) as usize;
                if workday && user.office.is_some() && user.office_days[weekday.min(4)] {
                    Mode::Office
                } else {
                    Mode::Home
                }
            } else {
                let stay = match hotel {
                    Some((c, net, ip)) if c == city => (net, ip),
                    _ => {
                        let net = *nets(city, NetKind::Isp).choose(&mut self.rng).expect("destinations have ISPs");
                        let ip = random_ip(&mut self.rng, net);
                        hotel = Some((city, net, ip));
                        (net, ip)
                    }
                };
                Mode::Hotel { net: stay.0, ip: stay.1 }
            };
            let mut segs = vec![Seg { start: s, end: e, city, mode }];
            if let Some(flight) = self.flights.get(&(u, d)).copied() {
                let depart = s + self.rng.random_range(90..150) * MIN;
                let arrive = depart + flight.gap;
                let net = *nets(flight.to, NetKind::Isp).choose(&mut self.rng).expect("destinations have ISPs");
                let ip = random_ip(&mut self.rng, net);
                hotel = Some((flight.to, net, ip));
                segs = vec![
                    Seg { start: s, end: depart, city, mode },
                    Seg {
                        start: arrive,
                        end: (arrive + self.rng.random_range(120..200) * MIN).min(end - MIN),
                        city: flight.to,
                        mode: Mode::Hotel { net, ip },
                    },
                ];
            }
            let last = segs.last().expect("one segment");
            previous = Some((last.end, last.city));
            out.push(DayPlan { segs, light });
        }
        out
    }

    /// The place of `user`'s computer during `seg`.
    pub fn desktop_place(&self, u: usize, seg: &Seg) -> Place {
        let user = &self.users[u];
        match seg.mode {
            Mode::Office => Place {
                city: seg.city,
                net: user.office.expect("office mode needs an office"),
                ip: user.office_ip.expect("office ip"),
            },
            Mode::Home => Place { city: seg.city, net: user.isp, ip: user.home_ip },
            Mode::Hotel { net, ip } => Place { city: seg.city, net, ip },
        }
    }

    /// The place of `user`'s phone during `seg`: the carrier (a new address each time) or the
    /// Wi-Fi it shares with the computer.
    pub fn mobile_place(&mut self, u: usize, seg: &Seg) -> Place {
        let user = &self.users[u];
        match (seg.mode, user.mobile_net) {
            (Mode::Hotel { .. }, _) | (_, None) => self.desktop_place(u, seg),
            (Mode::Home, Some(_)) if self.rng.random_bool(0.4) => self.desktop_place(u, seg),
            (_, Some(net)) => Place { city: seg.city, net, ip: random_ip(&mut self.rng, net) },
        }
    }

    /// A random time inside the day's segments, at least `margin` before a segment's end.
    pub fn time_in(&mut self, segs: &[Seg], margin: i64) -> Option<(i64, usize)> {
        let spans: Vec<i64> = segs.iter().map(|s| (s.end - margin - s.start).max(0)).collect();
        let total: i64 = spans.iter().sum();
        if total <= 0 {
            return None;
        }
        let mut pick = self.rng.random_range(0..total);
        for (index, span) in spans.iter().enumerate() {
            if pick < *span {
                return Some((ms(segs[index].start + pick), index));
            }
            pick -= span;
        }
        None
    }

    /// A new use with a vendor event id.
    pub fn new_use(&mut self, src: Src, t: i64, place: Place, ua: usize, op: Op) -> Use {
        let id = match src {
            Src::Okta => okta_uuid(&mut self.rng),
            Src::Kong => hex(&mut self.rng, 32),
            Src::Github => b64url_chars(&mut self.rng, 22),
            Src::Aws => uuid4(&mut self.rng),
        };
        let t = if src == Src::Aws { secs(t) } else { ms(t) };
        Use { t, id, place, ua, op, status: 0, scopes: None, forged: false }
    }

    pub fn push_use(&mut self, token: usize, src: Src, t: i64, place: Place, ua: usize, op: Op) -> String {
        let new = self.new_use(src, t, place, ua, op);
        let id = new.id.clone();
        self.tokens[token].uses.push(new);
        id
    }

    fn numeric_id(&mut self) -> u64 {
        self.next_numeric_id += self.rng.random_range(1..5000);
        self.next_numeric_id
    }

    fn add_token(&mut self, token: TokenPlan) -> usize {
        self.tokens.push(token);
        self.tokens.len() - 1
    }

    // ----- token factories -----

    pub fn new_okta_session(&mut self, u: usize, t: i64) -> usize {
        let id = format!("102{}", alnum(&mut self.rng, 22));
        let owner = self.users[u].email.clone();
        self.add_token(TokenPlan {
            id,
            src: Src::Okta,
            kind: "session",
            owner,
            user: Some(u),
            client_id: None,
            scopes: Vec::new(),
            approved: Vec::new(),
            issued: t,
            expires: None,
            revoked: None,
            inventoried: false,
            machine: false,
            allowed_cidrs: Vec::new(),
            cred: Cred::OktaSession,
            uses: Vec::new(),
        })
    }

    /// A JWT for Kong (`client_id` claim, `scope` claim) valid from `issued` for `lifetime`.
    #[allow(clippy::too_many_arguments)]
    pub fn new_kong_token(
        &mut self,
        owner: String,
        user: Option<usize>,
        client_id: &str,
        scopes: Vec<String>,
        approved: Vec<String>,
        issued: i64,
        lifetime: i64,
        consumer: Option<String>,
    ) -> usize {
        let id = uuid4(&mut self.rng);
        let sig = b64url_chars(&mut self.rng, 43);
        self.add_token(TokenPlan {
            id,
            src: Src::Kong,
            kind: "access",
            owner: owner.clone(),
            user,
            client_id: Some(client_id.to_string()),
            scopes,
            approved,
            issued: secs(issued),
            expires: Some(secs(issued + lifetime)),
            revoked: None,
            inventoried: true,
            machine: consumer.is_some(),
            allowed_cidrs: Vec::new(),
            cred: Cred::Kong { sub: owner, consumer, iat: secs(issued), sig },
            uses: Vec::new(),
        })
    }

    /// A classic personal access token of `u` (or of the sync bot when `u` is `None`).
    pub fn new_pat(
        &mut self,
        u: Option<usize>,
        scopes: Vec<String>,
        approved: Vec<String>,
        issued: i64,
        lifetime: i64,
    ) -> usize {
        let mut bytes = [0u8; 32];
        self.rng.fill(&mut bytes);
        let id = super::util::base64(&bytes);
        let numeric_id = self.numeric_id();
        let (login, actor_id, owner) = match u {
            Some(u) => (self.users[u].gh_login.clone(), self.users[u].gh_id, self.users[u].email.clone()),
            None => ("example-sync-bot".to_string(), 98_765_432, "platform-team@example.com".to_string()),
        };
        self.add_token(TokenPlan {
            id,
            src: Src::Github,
            kind: "pat",
            owner,
            user: u,
            client_id: None,
            scopes,
            approved,
            issued: secs(issued),
            expires: Some(secs(issued + lifetime)),
            revoked: None,
            inventoried: true,
            machine: u.is_none(),
            allowed_cidrs: Vec::new(),
            cred: Cred::Github { login, actor_id, numeric_id, access_type: "Personal access token (classic)" },
            uses: Vec::new(),
        })
    }

    /// A long-term IAM user access key.
    pub fn new_aws_user_key(
        &mut self,
        name: &str,
        owner: String,
        user: Option<usize>,
        approved: Vec<String>,
        issued: i64,
    ) -> usize {
        let id = aws_key(&mut self.rng, "AKIA");
        let principal = aws_unique_id(&mut self.rng, "AIDA");
        self.add_token(TokenPlan {
            id,
            src: Src::Aws,
            kind: "access_key",
            owner,
            user,
            client_id: None,
            scopes: Vec::new(),
            approved,
            issued: secs(issued),
            expires: None,
            revoked: None,
            inventoried: true,
            machine: user.is_none(),
            allowed_cidrs: Vec::new(),
            cred: Cred::AwsUser { name: name.to_string(), principal },
            uses: Vec::new(),
        })
    }

    /// A temporary key of an assumed-role session.
    pub fn new_aws_role_key(
        &mut self,
        role: &str,
        session: &str,
        issued: i64,
        lifetime: i64,
        approved: &[&str],
    ) -> usize {
        let id = aws_key(&mut self.rng, "ASIA");
        let principal = role_id(role);
        self.add_token(TokenPlan {
            id,
            src: Src::Aws,
            kind: "access_key",
            owner: format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
            user: None,
            client_id: None,
            scopes: Vec::new(),
            approved: approved.iter().map(|s| s.to_string()).collect(),
            issued: secs(issued),
            expires: Some(secs(issued + lifetime)),
            revoked: None,
            inventoried: true,
            machine: true,
            allowed_cidrs: Vec::new(),
            cred: Cred::AwsRole {
                role: role.to_string(),
                session: session.to_string(),
                principal,
                created: secs(issued),
            },
            uses: Vec::new(),
        })
    }

    /// An Okta access (`refresh == false`) or refresh token minted for `client`.
    pub fn new_okta_token(
        &mut self,
        client: usize,
        user: Option<usize>,
        refresh: bool,
        scopes: Vec<String>,
        issued: i64,
        lifetime: i64,
    ) -> usize {
        let id = if refresh {
            format!("oar{}", alnum(&mut self.rng, 17))
        } else {
            format!("AT.{}", b64url_chars(&mut self.rng, 43))
        };
        let owner = match user {
            Some(u) => self.users[u].email.clone(),
            None => self.okta_clients[client].name.to_lowercase().replace(' ', "-"),
        };
        let approved = if refresh { REPORTS_APPROVED.iter().map(|s| s.to_string()).collect() } else { scopes.clone() };
        let client_id = self.okta_clients[client].id.clone();
        self.add_token(TokenPlan {
            id,
            src: Src::Okta,
            kind: if refresh { "refresh" } else { "access" },
            owner,
            user,
            client_id: Some(client_id),
            scopes,
            approved,
            issued: secs(issued),
            expires: Some(secs(issued + lifetime)),
            revoked: None,
            inventoried: true,
            machine: user.is_none(),
            allowed_cidrs: Vec::new(),
            cred: Cred::OktaToken { client },
            uses: Vec::new(),
        })
    }

    // ----- background traffic -----

    /// Plans every user's and every service's background traffic.
    pub fn background(&mut self) {
        for u in 0..self.users.len() {
            for d in 0..self.days {
                let plan = self.plans[u][d as usize].clone();
                if plan.segs.is_empty() {
                    continue;
                }
                self.okta_desktop_day(u, d, &plan);
                self.okta_mobile_day(u, d, &plan);
                if self.users[u].kong {
                    self.kong_day(u, &plan);
                }
                if self.users[u].github && !plan.light {
                    self.github_day(u, &plan);
                }
                if self.users[u].aws && !plan.light {
                    self.aws_day(u, &plan);
                }
                if self.users[u].reports && !plan.light {
                    self.reports_day(u, &plan);
                }
            }
        }
        self.services();
    }

    /// The current session in `list` if it started this week, else a new one.
    fn weekly_session(&mut self, u: usize, d: u32, mobile: bool, t: i64) -> (usize, bool) {
        let list = if mobile { &self.user_tokens[u].mobile_sessions } else { &self.user_tokens[u].desktop_sessions };
        if let Some(&current) = list.last() {
            let issued_day = ((self.tokens[current].issued - self.start).div_euclid(DAY)) as u32;
            if self.week(issued_day) == self.week(d) {
                return (current, false);
            }
        }
        let token = self.new_okta_session(u, t);
        let tokens = &mut self.user_tokens[u];
        if mobile {
            tokens.mobile_sessions.push(token)
        } else {
            tokens.desktop_sessions.push(token)
        }
        (token, true)
    }

    /// Starts a session: `user.session.start` then MFA.
    pub fn session_start(&mut self, token: usize, t: i64, place: Place, ua: usize) {
        self.push_use(token, Src::Okta, t, place, ua, Op::SessionStart);
        let mfa = t + self.rng.random_range(12..45) * SEC;
        self.push_use(token, Src::Okta, mfa, place, ua, Op::Mfa);
    }

    fn okta_desktop_day(&mut self, u: usize, d: u32, plan: &DayPlan) {
        if plan.light {
            return;
        }
        let first = plan.segs[0];
        let t0 = ms(first.start + self.rng.random_range(0..10) * MIN);
        let (token, new) = self.weekly_session(u, d, false, t0);
        let ua = self.users[u].desktop_ua;
        if new {
            let place = self.desktop_place(u, &first);
            self.session_start(token, t0, place, ua);
        }
        let n = self.rng.random_range(3..=8);
        for _ in 0..n {
            let Some((t, seg)) = self.time_in(&plan.segs, MIN) else { continue };
            let place = self.desktop_place(u, &plan.segs[seg]);
            let app = self.rng.random_range(0..SSO_APPS.len());
            self.push_use(token, Src::Okta, t.max(t0 + MIN), place, ua, Op::Sso(app));
        }
    }

    fn okta_mobile_day(&mut self, u: usize, d: u32, plan: &DayPlan) {
        let Some(ua) = self.users[u].mobile_ua else { return };
        let n = if plan.light { self.rng.random_range(1..=2) } else { self.rng.random_range(1..=3) };
        let mut times: Vec<(i64, usize)> = (0..n).filter_map(|_| self.time_in(&plan.segs, MIN)).collect();
        times.sort_unstable();
        let Some(&(t0, _)) = times.first() else { return };
        let (token, new) = self.weekly_session(u, d, true, t0);
        for (index, (t, seg)) in times.into_iter().enumerate() {
            let place = self.mobile_place(u, &plan.segs[seg]);
            if new && index == 0 {
                self.session_start(token, t, place, ua);
                continue;
            }
            let app = self.rng.random_range(0..SSO_APPS.len());
            self.push_use(token, Src::Okta, t, place, ua, Op::Sso(app));
        }
    }

    /// The user's current long-lived token in `list`, rotated when it would expire within a day.
    fn current(&mut self, list: Vec<usize>, day_end: i64) -> Option<usize> {
        let current = *list.last()?;
        let expires = self.tokens[current].expires.unwrap_or(i64::MAX);
        (expires - DAY > day_end).then_some(current)
    }

    fn kong_day(&mut self, u: usize, plan: &DayPlan) {
        let day_end = plan.segs.last().expect("segments").end;
        let token = match self.current(self.user_tokens[u].kong.clone(), day_end) {
            Some(token) => token,
            None => {
                let mut scopes = vec!["orders:read".to_string(), "profile:read".to_string()];
                if self.rng.random_bool(0.6) {
                    scopes.insert(1, "orders:write".to_string());
                }
                if self.rng.random_bool(0.4) {
                    scopes.push("invoices:read".to_string());
                }
                let issued = if self.user_tokens[u].kong.is_empty() {
                    self.start - self.rng.random_range(1..20) * DAY - self.rng.random_range(0..DAY)
                } else {
                    plan.segs[0].start - self.rng.random_range(5..60) * MIN
                };
                let owner = self.users[u].email.clone();
                let approved = KONG_USER_APPROVED.iter().map(|s| s.to_string()).collect();
                let token =
                    self.new_kong_token(owner, Some(u), "orders-portal", scopes, approved, issued, 60 * DAY, None);
                self.user_tokens[u].kong.push(token);
                token
            }
        };
        let first_day = self.tokens[token].uses.is_empty();
        if first_day && plan.light {
            // A token's first day is a working day, so both of its devices are learned on it.
            return;
        }
        let user = self.users[u].clone();
        let mut periods: Vec<bool> = Vec::new(); // true = phone app
        if first_day {
            if !plan.light {
                periods.push(false);
            }
            if user.app_ua.is_some() {
                periods.push(true);
            }
        } else if plan.light {
            if user.app_ua.is_some() && self.rng.random_bool(0.6) {
                periods.push(true);
            }
        } else {
            for _ in 0..self.rng.random_range(1..=2) {
                periods.push(user.app_ua.is_some() && self.rng.random_bool(0.3));
            }
        }
        for app in periods {
            let minutes = self.rng.random_range(2..=6);
            let Some((t, seg)) = self.time_in(&plan.segs, (minutes + 1) * MIN) else { continue };
            let rate = self.rng.random_range(1..=3);
            self.kong_activity(token, u, &plan.segs[seg], t, minutes, rate, app);
        }
    }

    /// `minutes` minutes of API calls at about `rate` per minute from the user's computer or phone.
    #[allow(clippy::too_many_arguments)]
    pub fn kong_activity(&mut self, token: usize, u: usize, seg: &Seg, t: i64, minutes: i64, rate: i64, app: bool) {
        let ua = if app { self.users[u].app_ua.expect("app") } else { self.users[u].desktop_ua };
        let desktop = self.desktop_place(u, seg);
        let phone = if app { self.mobile_place(u, seg) } else { desktop };
        for minute in 0..minutes {
            let k = (rate + self.rng.random_range(-1..=1)).max(1);
            let mut offsets: Vec<i64> = (0..k).map(|_| self.rng.random_range(0..60_000)).collect();
            offsets.sort_unstable();
            for offset in offsets {
                let route = self.pick_route(token);
                let uri = self.kong_uri(route);
                let at = t + minute * MIN + offset * 1000;
                let place = if app { phone } else { desktop };
                self.push_use(token, Src::Kong, at, place, ua, Op::Kong { route, uri });
            }
        }
    }

    fn pick_route(&mut self, token: usize) -> usize {
        let scopes = &self.tokens[token].scopes;
        let candidates: Vec<(usize, u32)> = KONG_ROUTES
            .iter()
            .enumerate()
            .filter(|(_, r)| scopes.iter().any(|s| s == r.scope))
            .map(|(i, _)| (i, if i == ROUTE_ORDERS { 6 } else { 2 }))
            .collect();
        let total: u32 = candidates.iter().map(|(_, w)| w).sum();
        let mut pick = self.rng.random_range(0..total.max(1));
        for (route, weight) in &candidates {
            if pick < *weight {
                return *route;
            }
            pick -= weight;
        }
        ROUTE_ORDERS
    }

    pub fn kong_uri(&mut self, route: usize) -> String {
        let r = &KONG_ROUTES[route];
        match (r.method, route) {
            ("GET", ROUTE_ORDERS) => match self.rng.random_range(0..3) {
                0 => format!("{}?status=open&limit=20", r.path),
                1 => format!("{}/ord_{}", r.path, alnum(&mut self.rng, 10)),
                _ => format!("{}?page={}&limit=50", r.path, self.rng.random_range(1..6)),
            },
            ("GET", ROUTE_INVENTORY_READ) => format!("{}?sku=SKU-{}", r.path, self.rng.random_range(10_000..99_999)),
            ("GET", _) => r.path.to_string(),
            (_, ROUTE_INVENTORY_WRITE) => format!("{}/SKU-{}", r.path, self.rng.random_range(10_000..99_999)),
            _ => r.path.to_string(),
        }
    }

    fn github_day(&mut self, u: usize, plan: &DayPlan) {
        let day_end = plan.segs.last().expect("segments").end;
        let token = match self.current(self.user_tokens[u].github.clone(), day_end) {
            Some(token) => token,
            None => {
                let mut scopes = vec!["repo".to_string(), "read:org".to_string()];
                if self.rng.random_bool(0.3) {
                    scopes.push("workflow".to_string());
                }
                if self.rng.random_bool(0.2) {
                    scopes.push("gist".to_string());
                }
                let issued = if self.user_tokens[u].github.is_empty() {
                    self.start - self.rng.random_range(1..40) * DAY
                } else {
                    plan.segs[0].start - self.rng.random_range(5..60) * MIN
                };
                let approved = PAT_APPROVED.iter().map(|s| s.to_string()).collect();
                let token = self.new_pat(Some(u), scopes, approved, issued, 90 * DAY);
                self.user_tokens[u].github.push(token);
                token
            }
        };
        let first_day = self.tokens[token].uses.is_empty();
        let n = self.rng.random_range(2..=8);
        for i in 0..n {
            let Some((t, seg)) = self.time_in(&plan.segs, MIN) else { continue };
            let place = self.desktop_place(u, &plan.segs[seg]);
            let git = if first_day && i < 2 { i == 0 } else { self.rng.random_bool(0.4) };
            self.github_use(token, t, place, git);
        }
    }

    /// One git operation or one GitHub CLI call of a user's PAT.
    pub fn github_use(&mut self, token: usize, t: i64, place: Place, git: bool) -> String {
        let repo = self.rng.random_range(0..REPOS.len());
        if git {
            let action = match self.rng.random_range(0..10) {
                0..=2 => "git.clone",
                3..=8 => "git.fetch",
                _ => "git.push",
            };
            self.push_use(token, Src::Github, t, place, UA_GIT, Op::Git { action, repo })
        } else {
            let (method, route) = *[
                ("GET", "/repos/{owner}/{repo}/pulls"),
                ("GET", "/repos/{owner}/{repo}/issues"),
                ("GET", "/user"),
                ("GET", "/repos/{owner}/{repo}/actions/runs"),
                ("POST", "/repos/{owner}/{repo}/pulls"),
                ("GET", "/repos/{owner}/{repo}/commits"),
            ]
            .choose(&mut self.rng)
            .expect("routes");
            let path = concrete_path(route, repo);
            let op = Op::GhApi { method, route, path };
            let id = self.push_use(token, Src::Github, t, place, UA_GH, op);
            if method == "POST" {
                self.tokens[token].uses.last_mut().expect("pushed").status = 201;
            }
            id
        }
    }

    fn aws_day(&mut self, u: usize, plan: &DayPlan) {
        let token = match self.user_tokens[u].aws.last() {
            Some(&token) => token,
            None => {
                let user = self.users[u].clone();
                let issued = self.start - self.rng.random_range(10..200) * DAY;
                let approved = human_aws_policy();
                let token = self.new_aws_user_key(&user.aws_name, user.email.clone(), Some(u), approved, issued);
                self.user_tokens[u].aws.push(token);
                token
            }
        };
        if !self.tokens[token].uses.is_empty() && self.rng.random_bool(0.45) {
            return;
        }
        let n = self.rng.random_range(1..=5);
        for _ in 0..n {
            let Some((t, seg)) = self.time_in(&plan.segs, MIN) else { continue };
            self.aws_human_call(token, u, t, &plan.segs[seg]);
        }
    }

    /// One read-only AWS CLI call by a user.
    pub fn aws_human_call(&mut self, token: usize, u: usize, t: i64, seg: &Seg) -> String {
        let place = self.desktop_place(u, seg);
        let api = *HUMAN_APIS.choose(&mut self.rng).expect("apis");
        let region = region_for(self.users[u].home);
        self.push_use(token, Src::Aws, t, place, UA_AWS_CLI, Op::Aws { api, params: AwsParams::None, region })
    }

    fn reports_day(&mut self, u: usize, plan: &DayPlan) {
        let seg = plan.segs[0];
        let t = ms(seg.start + self.rng.random_range(3..20) * MIN);
        let place = self.desktop_place(u, &seg);
        let (token, new) = match self.current(self.user_tokens[u].refresh.clone(), t) {
            Some(token) => (token, false),
            None => {
                let scopes: Vec<String> = REPORTS_ROUTINE.iter().map(|s| s.to_string()).collect();
                let token = self.new_okta_token(CLIENT_REPORTS, Some(u), true, scopes, t, 90 * DAY);
                self.user_tokens[u].refresh.push(token);
                (token, true)
            }
        };
        let scopes: Vec<String> = REPORTS_ROUTINE.iter().map(|s| s.to_string()).collect();
        self.refresh(u, token, t, place, UA_REPORTS, scopes, new);
    }

    /// A token request of the reports app: the access token minted and the refresh token
    /// (re)granted, both with `scopes`. Returns the refresh token event's id.
    #[allow(clippy::too_many_arguments)]
    pub fn refresh(
        &mut self,
        u: usize,
        rt: usize,
        t: i64,
        place: Place,
        ua: usize,
        scopes: Vec<String>,
        first: bool,
    ) -> String {
        let grant_type = if first { "authorization_code" } else { "refresh_token" };
        let at = self.new_okta_token(CLIENT_REPORTS, Some(u), false, scopes.clone(), t, HOUR);
        self.push_use(at, Src::Okta, t, place, ua, Op::Grant { grant_type, scopes: scopes.clone() });
        let rt_time = t + self.rng.random_range(40..250) * 1000;
        self.push_use(rt, Src::Okta, rt_time, place, ua, Op::Grant { grant_type, scopes })
    }

    // ----- services -----

    fn services(&mut self) {
        self.kong_machines();
        self.github_bot();
        self.aws_services();
        self.okta_services();
    }

    /// Minutes an automation run lasts at this scale.
    fn run_minutes(&self, base: f64) -> i64 {
        (base * self.scale).round().max(2.0) as i64
    }

    fn kong_machines(&mut self) {
        let ci_place = fixed_place(ASHBURN, 0, 41);
        let sync_place = fixed_place(ASHBURN, 1, 77);
        let issued = self.start - 12 * DAY;
        let lifetime = i64::from(self.days) * DAY + 60 * DAY;
        let ci = self.new_kong_token(
            "ci-runner".to_string(),
            None,
            "ci-runner",
            vec!["inventory:read".into(), "orders:write".into()],
            vec!["inventory:read".into(), "orders:write".into(), "orders:read".into()],
            issued,
            lifetime,
            Some("ci-runner".to_string()),
        );
        self.tokens[ci].allowed_cidrs = vec![block_cidr(ci_place)];
        let sync = self.new_kong_token(
            "inventory-sync".to_string(),
            None,
            "inventory-sync",
            vec!["inventory:read".into(), "inventory:write".into()],
            vec!["inventory:read".into(), "inventory:write".into()],
            issued,
            lifetime,
            Some("inventory-sync".to_string()),
        );
        self.tokens[sync].allowed_cidrs = vec![block_cidr(sync_place)];
        self.machines.ci_runner = Some(ci);
        self.machines.inventory_sync = Some(sync);
        let ci_minutes = self.run_minutes(3.0);
        let sync_minutes = self.run_minutes(4.0);
        for d in 0..self.days {
            let day0 = self.day_start(d);
            if self.is_workday(d) {
                let t = day0 + 14 * HOUR + self.rng.random_range(0..30) * MIN;
                self.steady_run(ci, ci_place, UA_CI, t, ci_minutes, 130..170, |g| {
                    let route = if g.rng.random_bool(0.7) { ROUTE_INVENTORY_READ } else { 1 };
                    (route, g.kong_uri(route))
                });
            }
            let t = day0 + HOUR + self.rng.random_range(0..20) * MIN;
            self.steady_run(sync, sync_place, UA_INVENTORY_SYNC, t, sync_minutes, 30..40, |g| {
                let route = if g.rng.random_bool(0.6) { ROUTE_INVENTORY_READ } else { ROUTE_INVENTORY_WRITE };
                (route, g.kong_uri(route))
            });
        }
    }

    /// A steady automation run on Kong: `minutes` minutes at a rate drawn from `rate` each minute.
    #[allow(clippy::too_many_arguments)]
    fn steady_run(
        &mut self,
        token: usize,
        place: Place,
        ua: usize,
        t: i64,
        minutes: i64,
        rate: std::ops::Range<i64>,
        mut route: impl FnMut(&mut Gen) -> (usize, String),
    ) {
        for minute in 0..minutes {
            let k = self.rng.random_range(rate.clone());
            for i in 0..k {
                let jitter = self.rng.random_range(0..(60_000 / k).max(1));
                let at = t + minute * MIN + (i * 60_000 / k + jitter) * 1000;
                let (r, uri) = route(self);
                let status = if KONG_ROUTES[r].method == "POST" { 201 } else { 200 };
                self.push_use(token, Src::Kong, at, place, ua, Op::Kong { route: r, uri });
                self.tokens[token].uses.last_mut().expect("pushed").status = status;
            }
        }
    }

    fn github_bot(&mut self) {
        let place = fixed_place(ASHBURN, 2, 133);
        let issued = self.start - 30 * DAY;
        let scopes = vec!["repo".to_string(), "read:org".to_string()];
        let token = self.new_pat(None, scopes.clone(), scopes, issued, 365 * DAY);
        self.tokens[token].allowed_cidrs = vec![block_cidr(place)];
        self.machines.sync_bot = Some(token);
        let minutes = self.run_minutes(4.0);
        for d in 0..self.days {
            let t = self.day_start(d) + 3 * HOUR + self.rng.random_range(0..15) * MIN;
            for minute in 0..minutes {
                let k = self.rng.random_range(35..45);
                for i in 0..k {
                    let at = t + minute * MIN + (i * 60_000 / k + self.rng.random_range(0..1000)) * 1000;
                    let repo = self.rng.random_range(0..REPOS.len());
                    let route = *[
                        "/repos/{owner}/{repo}",
                        "/repos/{owner}/{repo}/branches",
                        "/repos/{owner}/{repo}/commits",
                        "/repos/{owner}/{repo}/pulls",
                        "/orgs/{org}/repos",
                    ]
                    .choose(&mut self.rng)
                    .expect("routes");
                    let path = concrete_path(route, repo);
                    let op = Op::GhApi { method: "GET", route, path };
                    self.push_use(token, Src::Github, at, place, UA_OCTOKIT, op);
                }
            }
        }
    }

    fn aws_services(&mut self) {
        let etl_place = fixed_place(ASHBURN, 3, 12);
        let backup_place = fixed_place(ASHBURN, 1, 201);
        let app_place = fixed_place(ASHBURN, 0, 188);
        let issued = self.start - 300 * DAY;
        let etl = self.new_aws_user_key(
            "svc-etl",
            "data-platform@example.com".into(),
            None,
            vec!["sts:AssumeRole".into()],
            issued,
        );
        let backup = self.new_aws_user_key(
            "svc-backup",
            "platform-team@example.com".into(),
            None,
            vec!["s3:PutObject".into(), "s3:ListBucket".into()],
            issued,
        );
        self.tokens[etl].allowed_cidrs = vec![block_cidr(etl_place)];
        self.tokens[backup].allowed_cidrs = vec![block_cidr(backup_place)];
        for d in 0..self.days {
            let day0 = self.day_start(d);
            // ETL: every four hours, assume the runner role and run a Glue job on S3 data.
            for slot in 0..6 {
                let t = day0 + slot * 4 * HOUR + self.rng.random_range(5..15) * MIN;
                let session = format!("etl-{}", hex(&mut self.rng, 8));
                let duration = HOUR;
                let key = self.new_aws_role_key(
                    "etl-runner",
                    &session,
                    t + SEC,
                    duration,
                    &["s3:GetObject", "s3:PutObject", "glue:StartJobRun", "glue:GetJobRun"],
                );
                let key_id = self.tokens[key].id.clone();
                let params = AwsParams::AssumeRole {
                    role: "etl-runner".into(),
                    session,
                    key: key_id,
                    expires: secs(t + SEC) + duration,
                    duration,
                };
                self.push_use(
                    etl,
                    Src::Aws,
                    t,
                    etl_place,
                    UA_BOTO3,
                    Op::Aws { api: STS_ASSUME, params, region: "us-east-1" },
                );
                let mut at = t + 5 * SEC;
                for call in 0..self.rng.random_range(5..9) {
                    at += self.rng.random_range(20..240) * SEC;
                    let api = match call {
                        0 => GLUE_START,
                        _ if call % 3 == 0 => GLUE_GET,
                        _ if call % 2 == 0 => S3_PUT,
                        _ => S3_GET,
                    };
                    let params = if api.data {
                        AwsParams::Object {
                            bucket: "example-corp-datalake",
                            key: format!(
                                "raw/orders/dt={}/part-{call:04}.parquet",
                                &super::util::rfc3339_s(day0)[..10]
                            ),
                        }
                    } else {
                        AwsParams::None
                    };
                    self.push_use(key, Src::Aws, at, etl_place, UA_BOTO3, Op::Aws { api, params, region: "us-east-1" });
                }
            }
            // Backup: nightly uploads.
            let mut at = day0 + HOUR + 30 * MIN + self.rng.random_range(0..10) * MIN;
            self.push_use(
                backup,
                Src::Aws,
                at,
                backup_place,
                UA_AWS_GO,
                Op::Aws {
                    api: S3_LIST,
                    params: AwsParams::Object { bucket: "example-corp-backups", key: String::new() },
                    region: "us-east-1",
                },
            );
            for part in 0..self.rng.random_range(6..12) {
                at += self.rng.random_range(10..90) * SEC;
                let key = format!("postgres/orders/{}/base-{part:03}.tar.zst", &super::util::rfc3339_s(day0)[..10]);
                let params = AwsParams::Object { bucket: "example-corp-backups", key };
                self.push_use(
                    backup,
                    Src::Aws,
                    at,
                    backup_place,
                    UA_AWS_GO,
                    Op::Aws { api: S3_PUT, params, region: "us-east-1" },
                );
            }
            // The orders API's instance role: credentials rotated every six hours, secrets read
            // every half hour.
            for slot in 0..4 {
                let t = day0 + slot * 6 * HOUR + self.rng.random_range(0..5) * MIN;
                let session = "i-0a1b2c3d4e5f60718".to_string();
                let key = self.new_aws_role_key(
                    "orders-api-prod",
                    &session,
                    t,
                    6 * HOUR,
                    &["kms:Decrypt", "ssm:GetParameter"],
                );
                for half in 0..12 {
                    let at = t + half * 30 * MIN + self.rng.random_range(1..60) * SEC;
                    let api = if half % 2 == 0 { SSM_GET } else { KMS_DECRYPT };
                    self.push_use(
                        key,
                        Src::Aws,
                        at,
                        app_place,
                        UA_AWS_GO,
                        Op::Aws { api, params: AwsParams::None, region: "us-east-1" },
                    );
                }
            }
        }
    }

    fn okta_services(&mut self) {
        let place = fixed_place(ASHBURN, 2, 19);
        let hr_place = fixed_place(ASHBURN, 3, 140);
        for d in 0..self.days {
            let day0 = self.day_start(d);
            for slot in 0..12 {
                let t = day0 + slot * 2 * HOUR + self.rng.random_range(0..3) * MIN + self.rng.random_range(0..60) * SEC;
                let scopes = vec!["okta.logs.read".to_string()];
                let at = self.new_okta_token(CLIENT_LOG_EXPORTER, None, false, scopes.clone(), t, HOUR);
                self.tokens[at].allowed_cidrs = vec![block_cidr(place)];
                self.push_use(
                    at,
                    Src::Okta,
                    t,
                    place,
                    UA_GO_HTTP,
                    Op::Grant { grant_type: "client_credentials", scopes },
                );
            }
            let t = day0 + 2 * HOUR + self.rng.random_range(0..10) * MIN;
            let scopes = vec!["okta.users.read".to_string(), "okta.groups.read".to_string()];
            let at = self.new_okta_token(CLIENT_HR_SYNC, None, false, scopes.clone(), t, HOUR);
            self.tokens[at].allowed_cidrs = vec![block_cidr(hr_place)];
            self.push_use(
                at,
                Src::Okta,
                t,
                hr_place,
                UA_OKTA_SDK,
                Op::Grant { grant_type: "client_credentials", scopes },
            );
        }
    }
}

/// The unique id (`AROA…`) of an IAM role, stable per role name.
pub(super) fn role_id(role: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in role.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut id = String::from("AROA");
    for _ in 0..17 {
        id.push(CHARS[(hash % 36) as usize] as char);
        hash = (hash / 36) ^ hash.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    id
}

/// The AWS account of the dataset.
pub(super) const ACCOUNT: &str = "123456789012";

/// The IAM policy actions a user's key is approved for.
pub(super) fn human_aws_policy() -> Vec<String> {
    [
        "sts:GetCallerIdentity",
        "s3:ListAllMyBuckets",
        "ec2:DescribeInstances",
        "lambda:ListFunctions",
        "cloudformation:DescribeStacks",
        "ecs:ListClusters",
        "logs:DescribeLogGroups",
        "iam:GetUser",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The region a user in `city` works in.
pub(super) fn region_for(city: usize) -> &'static str {
    match CITIES[city].tz_min {
        -600..=-1 => "us-east-1",
        0..=120 => "eu-west-1",
        _ => "ap-southeast-1",
    }
}

/// How long a person needs to go from one city to another (door to door).
pub(super) fn travel_time(from: usize, to: usize) -> i64 {
    let km = distance_km(from, to);
    let hours = if km < 600.0 { km / 250.0 + 1.5 } else { km / 750.0 + 2.0 };
    (hours * HOUR as f64) as i64
}

/// A random address in one of `net`'s blocks.
pub(super) fn random_ip(rng: &mut ChaCha8Rng, net: usize) -> Ipv4Addr {
    let block = NETS[net].blocks.choose(rng).expect("blocks");
    Ipv4Addr::new(block[0], block[1], block[2], rng.random_range(2..254))
}

/// A fixed address: host `host` of block `block` of the cloud network in `city`.
pub(super) fn fixed_place(city: usize, block: usize, host: u8) -> Place {
    let net =
        nets(city, NetKind::Cloud).first().copied().or_else(|| nets(city, NetKind::Isp).first().copied()).expect("net");
    let b = NETS[net].blocks[block % NETS[net].blocks.len()];
    Place { city, net, ip: Ipv4Addr::new(b[0], b[1], b[2], host) }
}

/// The /24 of a place, as a CIDR.
pub(super) fn block_cidr(place: Place) -> String {
    let o = place.ip.octets();
    format!("{}.{}.{}.0/24", o[0], o[1], o[2])
}

/// A route with `{owner}`, `{repo}` and `{org}` filled in.
pub(super) fn concrete_path(route: &str, repo: usize) -> String {
    route
        .replace("{owner}", GITHUB_ORG)
        .replace("{org}", GITHUB_ORG)
        .replace("{repo}", REPOS[repo])
        .replace("{path}", "src/main.rs")
        .replace("{ref}", "main")
        .replace("{username}", "new-member")
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Fisher–Yates with our RNG (deterministic).
pub(super) fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

//! Rule settings: one TOML file per rule under `rules/config/` (compiled in as the defaults), which a
//! `--rules DIR` holding files of the same names replaces rule by rule.
//!
//! Every file has the same frame:
//!
//! ```toml
//! enabled = true
//! severity = "high"          # low | medium | high | critical
//! suppress_for = "1h"        # the same rule on the same token within this window: one alert with a count
//! [thresholds]               # the rule's own settings, documented in its default file
//! [allow]                    # events matching these never fire the rule
//! cidrs = ["10.0.0.0/8"]
//! asns = [64512]
//! countries = ["GB"]
//! user_agents = ["Datadog*"]
//! ```
//!
//! Loading checks everything (unknown keys, types, ranges) and reports every problem at once, each
//! naming the file, the rule and the field. A failed load leaves the caller's current rule set in
//! place.

use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokenwatch_schemas::mapping::Glob;
use tokenwatch_schemas::{Event, Severity};

use crate::rules::burst::BurstThresholds;
use crate::rules::impossible_travel::TravelThresholds;
use crate::rules::lifecycle::{DormantThresholds, ExpiredThresholds, RevokedThresholds, UninventoriedThresholds};
use crate::rules::scope_escalation::ScopeThresholds;
use crate::rules::token_reuse::ReuseThresholds;
use crate::{Error, Result};

macro_rules! default_files {
    ($($rule:literal),+ $(,)?) => {
        /// The default rule files, compiled in: `(rule name, text)`.
        pub const DEFAULT_RULE_FILES: &[(&str, &str)] = &[
            $(($rule, include_str!(concat!("../config/", $rule, ".toml")))),+
        ];
    };
}

default_files!(
    "impossible_travel",
    "token_reuse",
    "burst",
    "scope_escalation",
    "revoked_token_use",
    "expired_token_use",
    "uninventoried_token",
    "dormant_token_use",
);

/// The frame every rule file shares, around the rule's own `thresholds`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile<T> {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Severity of its alerts.
    pub severity: Severity,
    /// Suppression window per token.
    #[serde(with = "humantime_serde")]
    pub suppress_for: Duration,
    /// The rule's own settings.
    pub thresholds: T,
    /// Events that never fire the rule.
    #[serde(default)]
    pub allow: AllowSpec,
}

/// `[allow]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    /// Networks.
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
    /// Autonomous systems.
    #[serde(default)]
    pub asns: Vec<u32>,
    /// ISO alpha-2 countries.
    #[serde(default)]
    pub countries: Vec<String>,
    /// User-agent wildcard patterns.
    #[serde(default)]
    pub user_agents: Vec<String>,
}

/// A compiled `[allow]` list.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    cidrs: Vec<IpNet>,
    asns: Vec<u32>,
    countries: Vec<String>,
    user_agents: Vec<Glob>,
}

impl Allowlist {
    /// Compiles the written form.
    pub fn new(spec: &AllowSpec) -> Self {
        Allowlist {
            cidrs: spec.cidrs.clone(),
            asns: spec.asns.clone(),
            countries: spec.countries.iter().map(|c| c.to_ascii_uppercase()).collect(),
            user_agents: spec.user_agents.iter().map(|p| Glob::new(p)).collect(),
        }
    }

    /// Whether nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.cidrs.is_empty() && self.asns.is_empty() && self.countries.is_empty() && self.user_agents.is_empty()
    }

    /// Whether `event` comes from an allowed network, ASN, country or user agent.
    pub fn allows(&self, event: &Event) -> bool {
        if self.is_empty() {
            return false;
        }
        if let Some(ip) = event.src_ip
            && self.cidrs.iter().any(|net| net.contains(&ip))
        {
            return true;
        }
        if let Some(asn) = event.asn
            && self.asns.contains(&asn)
        {
            return true;
        }
        if let Some(country) = event.geo.as_ref().and_then(|g| g.country.as_deref())
            && self.countries.iter().any(|c| c == country)
        {
            return true;
        }
        if let Some(agent) = event.user_agent.as_deref()
            && self.user_agents.iter().any(|p| p.matches(agent))
        {
            return true;
        }
        false
    }
}

/// A rule's thresholds know how to check themselves.
pub trait Thresholds: DeserializeOwned {
    /// Every problem with the values, each naming the field (`thresholds.max_speed_kmh`).
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The settings of every rule.
#[derive(Debug, Clone)]
pub struct RulesConfig {
    /// `impossible_travel.toml`
    pub impossible_travel: RuleFile<TravelThresholds>,
    /// `token_reuse.toml`
    pub token_reuse: RuleFile<ReuseThresholds>,
    /// `burst.toml`
    pub burst: RuleFile<BurstThresholds>,
    /// `scope_escalation.toml`
    pub scope_escalation: RuleFile<ScopeThresholds>,
    /// `revoked_token_use.toml`
    pub revoked_token_use: RuleFile<RevokedThresholds>,
    /// `expired_token_use.toml`
    pub expired_token_use: RuleFile<ExpiredThresholds>,
    /// `uninventoried_token.toml`
    pub uninventoried_token: RuleFile<UninventoriedThresholds>,
    /// `dormant_token_use.toml`
    pub dormant_token_use: RuleFile<DormantThresholds>,
}

impl RulesConfig {
    /// The defaults compiled in from `rules/config/`.
    pub fn builtin() -> Result<Self> {
        Self::load(None)
    }

    /// The defaults, with each `<rule>.toml` found in `dir` replacing its rule's file. A file in
    /// `dir` that names no rule is an error (a typo would otherwise be silently ignored).
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let mut texts: Vec<(String, String, String)> = DEFAULT_RULE_FILES
            .iter()
            .map(|(rule, text)| (rule.to_string(), format!("builtin:rules/config/{rule}.toml"), text.to_string()))
            .collect();
        let mut errors = Vec::new();
        if let Some(dir) = dir {
            let entries =
                std::fs::read_dir(dir).map_err(|source| Error::RulesDir { path: dir.to_path_buf(), source })?;
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths.into_iter().filter(|p| p.extension().is_some_and(|ext| ext == "toml")) {
                let file = path.display().to_string();
                let rule = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let Some(slot) = texts.iter_mut().find(|(name, _, _)| *name == rule) else {
                    let known: Vec<&str> = DEFAULT_RULE_FILES.iter().map(|(rule, _)| *rule).collect();
                    errors.push(Error::RuleFile {
                        file,
                        rule,
                        problems: vec![format!(
                            "no rule of that name; rule files are named {}",
                            known.join(".toml, ") + ".toml"
                        )],
                    });
                    continue;
                };
                match std::fs::read_to_string(&path) {
                    Ok(text) => *slot = (rule, file, text),
                    Err(error) => errors.push(Error::RuleFile { file, rule, problems: vec![error.to_string()] }),
                }
            }
        }
        let take = |rule: &str| -> (String, String) {
            texts
                .iter()
                .find(|(name, _, _)| name == rule)
                .map(|(_, file, text)| (file.clone(), text.clone()))
                .unwrap_or_else(|| unreachable!("every rule has a default file"))
        };
        let impossible_travel = parse_rule("impossible_travel", take("impossible_travel"), &mut errors);
        let token_reuse = parse_rule("token_reuse", take("token_reuse"), &mut errors);
        let burst = parse_rule("burst", take("burst"), &mut errors);
        let scope_escalation = parse_rule("scope_escalation", take("scope_escalation"), &mut errors);
        let revoked_token_use = parse_rule("revoked_token_use", take("revoked_token_use"), &mut errors);
        let expired_token_use = parse_rule("expired_token_use", take("expired_token_use"), &mut errors);
        let uninventoried_token = parse_rule("uninventoried_token", take("uninventoried_token"), &mut errors);
        let dormant_token_use = parse_rule("dormant_token_use", take("dormant_token_use"), &mut errors);
        match errors.len() {
            0 => Ok(RulesConfig {
                impossible_travel: impossible_travel.unwrap_or_else(|| unreachable!("no error, so parsed")),
                token_reuse: token_reuse.unwrap_or_else(|| unreachable!("no error, so parsed")),
                burst: burst.unwrap_or_else(|| unreachable!("no error, so parsed")),
                scope_escalation: scope_escalation.unwrap_or_else(|| unreachable!("no error, so parsed")),
                revoked_token_use: revoked_token_use.unwrap_or_else(|| unreachable!("no error, so parsed")),
                expired_token_use: expired_token_use.unwrap_or_else(|| unreachable!("no error, so parsed")),
                uninventoried_token: uninventoried_token.unwrap_or_else(|| unreachable!("no error, so parsed")),
                dormant_token_use: dormant_token_use.unwrap_or_else(|| unreachable!("no error, so parsed")),
            }),
            1 => Err(errors.remove(0)),
            _ => Err(Error::RuleFiles(errors)),
        }
    }
}

/// Parses one rule file; problems are collected rather than returned so every file is checked.
fn parse_rule<T: Thresholds>(
    rule: &str,
    (file, text): (String, String),
    errors: &mut Vec<Error>,
) -> Option<RuleFile<T>> {
    let parsed: RuleFile<T> = match toml::from_str(&text) {
        Ok(parsed) => parsed,
        Err(error) => {
            errors.push(Error::RuleFile { file, rule: rule.to_string(), problems: vec![error.to_string()] });
            // Keep checking the other files; this one yields nothing.
            return None;
        }
    };
    let mut problems = parsed.thresholds.problems();
    if parsed.suppress_for.is_zero() {
        problems.push("`suppress_for`: must be longer than 0s".to_string());
    }
    for country in &parsed.allow.countries {
        if country.len() != 2 {
            problems.push(format!("`allow.countries`: `{country}` is not an ISO 3166-1 alpha-2 code"));
        }
    }
    if problems.is_empty() {
        Some(parsed)
    } else {
        errors.push(Error::RuleFile { file, rule: rule.to_string(), problems });
        None
    }
}

/// Microseconds in a duration, saturating.
pub fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rule_files_load() {
        let config = RulesConfig::builtin().unwrap();
        assert!(config.impossible_travel.enabled);
        assert_eq!(config.impossible_travel.thresholds.max_speed_kmh, 1000.0);
        assert_eq!(config.uninventoried_token.suppress_for, Duration::from_secs(86_400));
    }

    #[test]
    fn a_rules_dir_replaces_files_and_reports_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let burst = DEFAULT_RULE_FILES.iter().find(|(r, _)| *r == "burst").unwrap().1;
        std::fs::write(dir.path().join("burst.toml"), burst.replace("factor = 10.0", "factor = 3.0")).unwrap();
        let config = RulesConfig::load(Some(dir.path())).unwrap();
        assert_eq!(config.burst.thresholds.factor, 3.0);

        let travel = DEFAULT_RULE_FILES.iter().find(|(r, _)| *r == "impossible_travel").unwrap().1;
        std::fs::write(
            dir.path().join("impossible_travel.toml"),
            travel.replace("max_speed_kmh = 1000.0", "max_speed_kmh = -5.0"),
        )
        .unwrap();
        std::fs::write(dir.path().join("token_reuse.toml"), "enabled = true\nseverity = \"urgent\"\n").unwrap();
        std::fs::write(dir.path().join("bursts.toml"), burst).unwrap();
        let message = RulesConfig::load(Some(dir.path())).unwrap_err().to_string();
        for expected in [
            "impossible_travel.toml",
            "thresholds.max_speed_kmh",
            "token_reuse.toml",
            "urgent",
            "bursts.toml",
            "no rule of that name",
        ] {
            assert!(message.contains(expected), "missing {expected:?} in:\n{message}");
        }
    }

    #[test]
    fn allowlists_match_network_asn_country_and_agent() {
        let allow = Allowlist::new(&AllowSpec {
            cidrs: vec!["198.51.100.0/24".parse().unwrap()],
            asns: vec![64512],
            countries: vec!["gb".into()],
            user_agents: vec!["Datadog*".into()],
        });
        let mut event = crate::testing::event("e1", 0);
        assert!(!allow.allows(&event));
        event.src_ip = Some("198.51.100.7".parse().unwrap());
        assert!(allow.allows(&event));
        event.src_ip = None;
        event.user_agent = Some("Datadog Agent/7".into());
        assert!(allow.allows(&event));
    }
}

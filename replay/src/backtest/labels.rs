//! Scenario labels: which events are an attack, and which are a benign look-alike.
//!
//! One JSON object per line, as `tokenwatch generate` writes them:
//!
//! ```json
//! {"scenario":"impossible_travel-03","kind":"attack","family":"impossible_travel","token_id":"102…","event_ids":["…","…"]}
//! ```
//!
//! `family` is the rule expected to fire (benign look-alikes name the rule they imitate). An alert
//! is about a scenario when its `event_ids` intersect the scenario's.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result};

/// Whether a scenario is an attack or a benign look-alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioKind {
    /// Abuse the family's rule should catch.
    Attack,
    /// Traffic made to look like the family's attack that is not one: an alert on it is a false
    /// positive.
    Benign,
}

/// One labelled scenario.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Scenario {
    /// The scenario's name.
    pub scenario: String,
    /// Attack or benign look-alike.
    pub kind: ScenarioKind,
    /// The rule family it exercises.
    pub family: String,
    /// The token it is about, as events carry it.
    #[serde(default)]
    pub token_id: Option<String>,
    /// The ids of its events, as events carry them.
    pub event_ids: Vec<String>,
}

/// Every scenario of a labels file, indexed by event id.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    scenarios: Vec<Scenario>,
    by_event: HashMap<String, Vec<usize>>,
}

impl Labels {
    /// Labels from scenarios (in the order given, which is the order ties are resolved in).
    pub fn new(scenarios: Vec<Scenario>) -> Self {
        let mut by_event: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, scenario) in scenarios.iter().enumerate() {
            for id in &scenario.event_ids {
                let entry = by_event.entry(id.clone()).or_default();
                if entry.last() != Some(&index) {
                    entry.push(index);
                }
            }
        }
        Labels { scenarios, by_event }
    }

    /// Reads a labels file; every bad line is an error naming the line.
    pub fn read(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        let mut scenarios = Vec::new();
        for (index, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
            if line.trim().is_empty() {
                continue;
            }
            let scenario: Scenario = serde_json::from_str(&line).map_err(|e| Error::Labels {
                path: path.to_path_buf(),
                line: index as u64 + 1,
                reason: format!("not a scenario label: {e}"),
            })?;
            scenarios.push(scenario);
        }
        Ok(Labels::new(scenarios))
    }

    /// The scenarios, in file order.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The scenarios (indexes, ascending, each once) that share an event with `event_ids`.
    pub fn scenarios_of(&self, event_ids: &[String]) -> Vec<usize> {
        let mut found: Vec<usize> =
            event_ids.iter().filter_map(|id| self.by_event.get(id)).flatten().copied().collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_generated_labels_and_finds_scenarios_by_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"scenario":"a-1","kind":"attack","family":"burst","token_id":"t1","event_ids":["e1","e2"]}"#,
                "\n\n",
                r#"{"scenario":"b-1","kind":"benign","family":"burst","token_id":"t2","event_ids":["e2","e3"],"note":"extra"}"#,
                "\n"
            ),
        )
        .unwrap();
        let labels = Labels::read(&path).unwrap();
        assert_eq!(labels.scenarios().len(), 2);
        assert_eq!(labels.scenarios()[1].kind, ScenarioKind::Benign);
        assert_eq!(labels.scenarios_of(&["e2".into(), "e1".into()]), vec![0, 1]);
        assert_eq!(labels.scenarios_of(&["e3".into()]), vec![1]);
        assert!(labels.scenarios_of(&["zz".into()]).is_empty());
    }

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.jsonl");
        std::fs::write(
            &path,
            "{\"scenario\":\"x\",\"kind\":\"attack\",\"family\":\"f\",\"event_ids\":[]}\n{\"kind\":\"maybe\"}\n",
        )
        .unwrap();
        let error = Labels::read(&path).unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
    }
}

//! The backtest printout: plain columns (one row per line, values separated by spaces, column
//! names without spaces) so it reads on a terminal and splits with `awk`.

use std::io::{self, Write};

use serde_json::Value;
use tokenwatch_schemas::Alert;

use super::score::{FamilyScore, Scorecard, Verdict};
use super::{BacktestResult, Labels, day_name};

/// What to print besides the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// Example alerts listed per rule and change (gained, lost); missed attacks are listed up to
    /// this or 10, whichever is more.
    pub examples: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions { examples: 5 }
    }
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// The whole printout: scores (with labels), the comparison with the baseline (if any), the alert
/// counts, and a closing summary line.
pub fn write_text(out: &mut dyn Write, result: &BacktestResult, options: TextOptions) -> io::Result<()> {
    write_header(out, result)?;
    if let (Some(scores), Some(labels)) = (&result.scores, &result.labels) {
        writeln!(out)?;
        write_scores(out, scores, labels, options)?;
    }
    if let Some(baseline) = &result.baseline {
        writeln!(out)?;
        write_diff(out, result, baseline, options)?;
    }
    writeln!(out)?;
    write_summary(out, result)?;
    writeln!(out)?;
    writeln!(out, "{}", summary_line(result))
}

fn write_header(out: &mut dyn Write, result: &BacktestResult) -> io::Result<()> {
    let info = &result.info;
    let events = &result.events;
    let span = match (events.by_day.keys().next(), events.by_day.keys().next_back()) {
        (Some(&first), Some(&last)) => {
            format!(" over {} days ({} to {})", last - first + 1, day_name(first), day_name(last))
        }
        _ => String::new(),
    };
    writeln!(out, "backtest: {} inputs, {} events{span}", info.inputs.len(), events.total)?;
    writeln!(out, "  rules:     {}", info.rules)?;
    if let Some(baseline) = &info.baseline_rules {
        writeln!(out, "  baseline:  {baseline}")?;
    }
    writeln!(out, "  inventory: {}", info.inventory)?;
    writeln!(out, "  labels:    {}", info.labels.as_deref().unwrap_or("none"))
}

/// The per-family table, then the missed attacks and alerted look-alikes.
pub fn write_scores(out: &mut dyn Write, scores: &Scorecard, labels: &Labels, options: TextOptions) -> io::Result<()> {
    writeln!(out, "Scores against the labels (an alert is about a scenario when their event ids intersect):")?;
    writeln!(
        out,
        "{:<22} {:>9} {:>8} {:>6} {:>6} {:>5} {:>9} {:>10} {:>16} {:>11} {:>19}",
        "FAMILY",
        "SCENARIOS",
        "DETECTED",
        "RECALL",
        "ALERTS",
        "TRUE",
        "PRECISION",
        "LOOKALIKES",
        "LOOKALIKE_ALERTS",
        "UNEXPLAINED",
        "UNEXPLAINED_PER_10K"
    )?;
    for family in scores.families.iter().chain(std::iter::once(&scores.total)) {
        write_family(out, family, scores.events)?;
    }
    let other: u64 = scores.total.other_attack_alerts;
    if other > 0 {
        let (noun, verb) = if other == 1 { ("alert", "is") } else { ("alerts", "are") };
        writeln!(out, "({other} {noun} {verb} about an attack of another family: counted in ALERTS, not in TRUE)")?;
    }
    let scenarios = labels.scenarios();
    if scores.missed.is_empty() {
        writeln!(out, "Missed attacks: none")?;
    } else {
        writeln!(out, "Missed attacks: {}", scores.missed.len())?;
        let shown = options.examples.max(10);
        for &index in scores.missed.iter().take(shown) {
            let scenario = &scenarios[index];
            writeln!(
                out,
                "  - {} ({}) token={} events={}",
                scenario.scenario,
                scenario.family,
                scenario.token_id.as_deref().unwrap_or("-"),
                scenario.event_ids.len()
            )?;
        }
        if scores.missed.len() > shown {
            writeln!(out, "  - … {} more (in the report)", scores.missed.len() - shown)?;
        }
    }
    if scores.lookalikes_alerted.is_empty() {
        writeln!(out, "Look-alikes alerted: none")
    } else {
        let names: Vec<&str> = scores.lookalikes_alerted.iter().map(|&i| scenarios[i].scenario.as_str()).collect();
        writeln!(out, "Look-alikes alerted: {} ({})", names.len(), names.join(", "))
    }
}

fn write_family(out: &mut dyn Write, family: &FamilyScore, events: u64) -> io::Result<()> {
    writeln!(
        out,
        "{:<22} {:>9} {:>8} {:>6} {:>6} {:>5} {:>9} {:>10} {:>16} {:>11} {:>19.2}",
        family.family,
        family.scenarios,
        family.detected,
        ratio(family.recall()),
        family.alerts,
        family.true_alerts,
        ratio(family.precision()),
        family.lookalikes,
        family.lookalike_alerts,
        family.unexplained,
        family.unexplained_per_10k(events)
    )
}

fn write_diff(
    out: &mut dyn Write,
    result: &BacktestResult,
    baseline: &super::Baseline,
    options: TextOptions,
) -> io::Result<()> {
    let diff = &baseline.diff;
    writeln!(
        out,
        "Against the baseline ({}): alerts gained {}, lost {}",
        result.info.baseline_rules.as_deref().unwrap_or("baseline"),
        diff.gained(),
        diff.lost()
    )?;
    let scored = baseline.scores.as_ref().zip(result.scores.as_ref());
    write!(out, "{:<22} {:>8} {:>6} {:>6} {:>5}", "RULE", "BASELINE", "RULES", "GAINED", "LOST")?;
    if scored.is_some() {
        write!(out, " {:>14} {:>14}", "RECALL", "PRECISION")?;
    }
    writeln!(out)?;
    for change in &diff.rules {
        write!(
            out,
            "{:<22} {:>8} {:>6} {:>6} {:>5}",
            change.rule,
            change.baseline,
            change.rules,
            change.gained.len(),
            change.lost.len()
        )?;
        if let Some((before, after)) = scored {
            let find = |card: &Scorecard| card.families.iter().find(|f| f.family == change.rule).cloned();
            let (before, after) = (find(before).unwrap_or_default(), find(after).unwrap_or_default());
            write!(
                out,
                " {:>14} {:>14}",
                format!("{}->{}", ratio(before.recall()), ratio(after.recall())),
                format!("{}->{}", ratio(before.precision()), ratio(after.precision()))
            )?;
        }
        writeln!(out)?;
    }
    for change in diff.rules.iter().filter(|c| !c.gained.is_empty() || !c.lost.is_empty()) {
        writeln!(out, "{}: gained {}, lost {}", change.rule, change.gained.len(), change.lost.len())?;
        let sides =
            [("gained", &change.gained, result.scores.as_ref()), ("lost", &change.lost, baseline.scores.as_ref())];
        for (what, alerts, scores) in sides {
            for alert in alerts.iter().take(options.examples) {
                writeln!(out, "  - {what:<6} {}", describe(alert, scores, result.labels.as_ref()))?;
            }
            if alerts.len() > options.examples {
                writeln!(out, "  - {what:<6} … {} more (--examples N shows more)", alerts.len() - options.examples)?;
            }
        }
    }
    Ok(())
}

/// One alert on one line: time, id, token, what the labels say, events and the gist of the
/// evidence.
pub fn describe(alert: &Alert, scores: Option<&Scorecard>, labels: Option<&Labels>) -> String {
    let mut line = format!("{} alert={} token={}", alert.time, alert.alert_id, alert.token_id);
    if let (Some(scores), Some(labels)) = (scores, labels) {
        let verdict = scores.verdict(alert);
        match verdict.scenario() {
            Some(index) => line.push_str(&format!(" label={}:{}", verdict.name(), labels.scenarios()[index].scenario)),
            None => line.push_str(&format!(" label={}", Verdict::Unexplained.name())),
        }
    }
    let shown: Vec<&str> = alert.event_ids.iter().take(3).map(String::as_str).collect();
    let more = if alert.event_ids.len() > 3 { format!("+{}", alert.event_ids.len() - 3) } else { String::new() };
    line.push_str(&format!(" count={} events={}{more}", alert.count, shown.join(",")));
    let evidence = evidence_brief(&alert.evidence);
    if !evidence.is_empty() {
        line.push_str(" evidence: ");
        line.push_str(&evidence);
    }
    line
}

/// The evidence's top-level values as `key=value`, by key: numbers and short strings as they are, places
/// as `City/CC`, lists as their length. At most 240 characters.
pub fn evidence_brief(evidence: &Value) -> String {
    let Value::Object(map) = evidence else {
        return String::new();
    };
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut parts = Vec::new();
    for (key, value) in entries {
        let shown = match value {
            Value::Null => continue,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) if s.chars().count() <= 40 => s.clone(),
            Value::String(s) => format!("{}…", s.chars().take(39).collect::<String>()),
            Value::Array(items) => format!("[{}]", items.len()),
            Value::Object(inner) => {
                let city = inner.get("city").and_then(Value::as_str);
                let country = inner.get("country").and_then(Value::as_str);
                match (city, country) {
                    (Some(city), Some(country)) => format!("{city}/{country}"),
                    (Some(place), None) | (None, Some(place)) => place.to_string(),
                    (None, None) => continue,
                }
            }
        };
        parts.push(format!("{key}={shown}"));
    }
    let text = parts.join(" ");
    if text.chars().count() > 240 { format!("{}…", text.chars().take(239).collect::<String>()) } else { text }
}

/// The counts that need no labels: per rule, per source, per day, noisiest tokens.
pub fn write_summary(out: &mut dyn Write, result: &BacktestResult) -> io::Result<()> {
    let summary = &result.summary;
    writeln!(out, "Alerts per rule:")?;
    writeln!(out, "{:<22} {:>6} {:>7} {:>6}", "RULE", "ALERTS", "FIRINGS", "TOKENS")?;
    for rule in &summary.per_rule {
        writeln!(out, "{:<22} {:>6} {:>7} {:>6}", rule.rule, rule.alerts, rule.firings, rule.tokens)?;
    }
    if summary.per_rule.is_empty() {
        writeln!(out, "(no alert)")?;
    }
    writeln!(out)?;
    writeln!(out, "Alerts per source:")?;
    writeln!(out, "{:<18} {:>8} {:>6} {:>14}", "SOURCE", "EVENTS", "ALERTS", "ALERTS_PER_10K")?;
    for source in &summary.per_source {
        writeln!(out, "{:<18} {:>8} {:>6} {:>14.2}", source.source, source.events, source.alerts, source.per_10k())?;
    }
    writeln!(out)?;
    writeln!(out, "Alerts per day (UTC, event time):")?;
    writeln!(out, "{:<10} {:>8} {:>6}  BY_RULE", "DAY", "EVENTS", "ALERTS")?;
    for day in &summary.per_day {
        let by_rule: Vec<String> = day.by_rule.iter().map(|(rule, n)| format!("{rule}:{n}")).collect();
        writeln!(out, "{:<10} {:>8} {:>6}  {}", day.day, day.events, day.alerts(), by_rule.join(" "))?;
    }
    writeln!(out)?;
    writeln!(out, "Noisiest tokens:")?;
    let width = summary.noisiest.iter().map(|t| t.token_id.chars().count()).max().unwrap_or(0).max(5);
    let who_width = summary.noisiest.iter().filter_map(|t| t.who.as_ref()).map(|w| w.chars().count()).max();
    let who_width = who_width.unwrap_or(0).max(16);
    writeln!(out, "{:<width$} {:>6}  {:<who_width$} RULES", "TOKEN", "ALERTS", "OWNER_OR_SUBJECT")?;
    for token in &summary.noisiest {
        let by_rule: Vec<String> = token.by_rule.iter().map(|(rule, n)| format!("{rule}:{n}")).collect();
        writeln!(
            out,
            "{:<width$} {:>6}  {:<who_width$} {}",
            token.token_id,
            token.alerts,
            token.who.as_deref().unwrap_or("-"),
            by_rule.join(" ")
        )?;
    }
    if summary.noisiest.is_empty() {
        writeln!(out, "(no alert)")?;
    }
    Ok(())
}

/// The closing line: events, alerts, and with labels and a baseline, the headline figures.
pub fn summary_line(result: &BacktestResult) -> String {
    let mut line = format!("backtest: events={} alerts={}", result.events.total, result.alerts.len());
    if let Some(baseline) = &result.baseline {
        line.push_str(&format!(
            " baseline_alerts={} gained={} lost={}",
            baseline.alerts.len(),
            baseline.diff.gained(),
            baseline.diff.lost()
        ));
    }
    if let Some(scores) = &result.scores {
        let total = &scores.total;
        line.push_str(&format!(
            " scenarios={} detected={} recall={} precision={} lookalike_alerts={} unexplained={} unexplained_per_10k={:.2}",
            total.scenarios,
            total.detected,
            ratio(total.recall()),
            ratio(total.precision()),
            total.lookalike_alerts,
            total.unexplained,
            total.unexplained_per_10k(scores.events)
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_brief_keeps_scalars_places_and_list_lengths() {
        let evidence = serde_json::json!({
            "speed_kmh": 30837.3,
            "from": {"city": "Paris", "country": "FR", "ip": "86.66.63.228"},
            "to": {"country": "AU"},
            "scopes": ["a", "b"],
            "note": null,
            "nested": {"x": 1},
        });
        assert_eq!(evidence_brief(&evidence), "from=Paris/FR scopes=[2] speed_kmh=30837.3 to=AU");
        assert_eq!(evidence_brief(&serde_json::json!("text")), "");
    }

    #[test]
    fn ratios_print_a_dash_when_undefined() {
        assert_eq!(ratio(None), "-");
        assert_eq!(ratio(Some(2.0 / 3.0)), "0.667");
    }
}

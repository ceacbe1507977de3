//! The backtest report: one self-contained HTML page (inline CSS, charts as inline SVG, no script,
//! nothing fetched), written as `index.html` into the report folder.
//!
//! It shows the headline figures, recall and precision per family, an alert timeline per rule,
//! the impossible-travel journeys on a map grid, alerts per day, the comparison with the baseline
//! (every alert gained and lost), and the tables of the printout. Nothing in it depends on the
//! wall clock, the thread count or the batch size: the same run writes the same bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tokenwatch_schemas::Alert;

use super::charts::{self, Chart, Journey, Mark};
use super::score::{FamilyScore, Scorecard};
use super::text::evidence_brief;
use super::{BacktestResult, Labels, day_name};
use crate::{Error, Result};

/// Alerts listed per rule and change in the baseline comparison (the rest are counted).
const MAX_LISTED: usize = 200;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px 32px; color: #1d2733; background: #ffffff; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 30px 0 8px; border-bottom: 1px solid #dde3ea; padding-bottom: 4px; }
p.note { color: #52606d; font-size: 13px; margin: 4px 0 10px; max-width: 1100px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e8edf2; text-align: right; white-space: nowrap; }
th { background: #f3f6f9; font-weight: 600; white-space: normal; vertical-align: bottom; max-width: 110px; }
td.l, th.l { text-align: left; }
tr.total td { font-weight: 600; border-top: 2px solid #c5ced8; }
code, td.mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0; }
.card { border: 1px solid #dde3ea; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card .v { font-size: 22px; font-weight: 600; }
.card .k { font-size: 12px; color: #52606d; }
.chart svg { display: block; max-width: 100%; height: auto; }
.legend { font-size: 13px; margin: 2px 0 4px; display: flex; flex-wrap: wrap; gap: 4px 18px; }
.legend .item { display: inline-flex; align-items: center; gap: 6px; }
.legend .mark { display: inline-block; width: 12px; height: 12px; }
.legend .box { background: var(--c); }
.legend .dot { background: var(--c); border-radius: 50%; }
.legend .ring { border: 2px solid var(--c); border-radius: 50%; width: 9px; height: 9px; }
.legend .line { height: 3px; width: 18px; background: var(--c); }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; margin: 8px 0; }
dl.meta dt { color: #52606d; }
dl.meta dd { margin: 0; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
span.tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; color: #fff; }
span.attack { background: #b8242a; } span.other_attack { background: #c76a10; }
span.lookalike { background: #7a569e; } span.unexplained { background: #6b6b6b; }
"#;

/// Writes `dir/index.html` (creating `dir`); returns the page's path.
pub fn write_report(dir: &Path, result: &BacktestResult) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let path = dir.join("index.html");
    let html = render(result)?;
    std::fs::write(&path, html).map_err(|source| Error::Write { path: path.clone(), source })?;
    Ok(path)
}

/// The page's HTML.
pub fn render(result: &BacktestResult) -> Result<String> {
    let mut page = String::with_capacity(256 * 1024);
    let info = &result.info;
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>tokenwatch backtest</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>tokenwatch backtest</h1>\n"
    );
    page.push_str("<dl class=\"meta\">");
    let mut meta = |key: &str, value: &str| {
        let _ = write!(page, "<dt>{}</dt><dd>{}</dd>", escape(key), escape(value));
    };
    meta("inputs", &info.inputs.join(" "));
    meta("rules", &info.rules);
    if let Some(baseline) = &info.baseline_rules {
        meta("baseline rules", baseline);
    }
    meta("inventory", &info.inventory);
    meta("labels", info.labels.as_deref().unwrap_or("none"));
    if let (Some(&first), Some(&last)) = (result.events.by_day.keys().next(), result.events.by_day.keys().next_back()) {
        meta("period (UTC)", &format!("{} to {} ({} days)", day_name(first), day_name(last), last - first + 1));
    }
    page.push_str("</dl>\n");

    cards(&mut page, result);

    if let Some(scores) = &result.scores {
        section(
            &mut page,
            "Recall and precision per family",
            "Recall: attack scenarios of the family that an alert of its rule is about. Precision: the rule's alerts that are about an attack of its family. An alert is about a scenario when their event ids intersect.",
        );
        chart(&mut page, &charts::scores_chart(scores)?);
    }

    section(
        &mut page,
        "Alert timeline per rule",
        if result.scores.is_some() {
            "Each alert at its event time on its rule's lane (spread vertically so close alerts stay visible). Red: detects an attack of its family; orange: on an attack of another family; purple: on a benign look-alike; grey: on no labelled event. Open circles: alerts only the baseline raises."
        } else {
            "Each alert at its event time on its rule's lane (spread vertically so close alerts stay visible). Open circles: alerts only the baseline raises."
        },
    );
    let lost: Vec<Alert> = result
        .baseline
        .as_ref()
        .map(|b| b.diff.rules.iter().flat_map(|r| r.lost.iter().cloned()).collect())
        .unwrap_or_default();
    let (first, last) = (result.events.first_us.unwrap_or(0), result.events.last_us.unwrap_or(0));
    chart(&mut page, &charts::timeline_chart(&result.alerts, result.scores.as_ref(), &lost, first, last)?);

    let journeys = charts::journeys(&result.alerts, result.scores.as_ref());
    let lost_journeys = charts::journeys(&lost, result.baseline.as_ref().and_then(|b| b.scores.as_ref()));
    section(
        &mut page,
        "Impossible travel: the flagged journeys",
        "From the circle (where the token was used) to the triangle (where it was used next), on a longitude/latitude grid. Dashed: journeys only the baseline flags.",
    );
    chart(&mut page, &charts::travel_chart(&journeys, &lost_journeys)?);
    journeys_table(&mut page, &journeys, result.labels.as_ref(), result.scores.as_ref());

    section(&mut page, "Alerts per day", "UTC days of event time, stacked by rule.");
    chart(&mut page, &charts::daily_chart(&result.summary)?);

    if let (Some(scores), Some(labels)) = (&result.scores, &result.labels) {
        section(
            &mut page,
            "Scores per family",
            "Alerts = true + on another family's attack + on a look-alike + unexplained.",
        );
        scores_table(&mut page, scores);
        missed(&mut page, scores, labels);
    }

    if let Some(baseline) = &result.baseline {
        section(
            &mut page,
            "Against the baseline",
            "Alerts are matched by alert id (rule, token and triggering events). Gained: only the rules under test raise it; lost: only the baseline does.",
        );
        let _ = write!(
            page,
            "<table><tr><th class=\"l\">rule</th><th>baseline</th><th>rules</th><th>gained</th><th>lost</th>{}</tr>",
            if baseline.scores.is_some() { "<th>recall</th><th>precision</th>" } else { "" }
        );
        for change in &baseline.diff.rules {
            let _ = write!(
                page,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                escape(&change.rule),
                change.baseline,
                change.rules,
                change.gained.len(),
                change.lost.len()
            );
            if let (Some(before), Some(after)) = (&baseline.scores, &result.scores) {
                let find = |card: &Scorecard| card.families.iter().find(|f| f.family == change.rule).cloned();
                let (before, after) = (find(before).unwrap_or_default(), find(after).unwrap_or_default());
                let _ = write!(
                    page,
                    "<td>{} → {}</td><td>{} → {}</td>",
                    ratio(before.recall()),
                    ratio(after.recall()),
                    ratio(before.precision()),
                    ratio(after.precision())
                );
            }
            page.push_str("</tr>");
        }
        page.push_str("</table>\n");
        for change in baseline.diff.rules.iter().filter(|c| !c.gained.is_empty() || !c.lost.is_empty()) {
            let _ = write!(page, "<h3>{}</h3>", escape(&change.rule));
            alert_list(&mut page, "gained", &change.gained, result.scores.as_ref(), result.labels.as_ref());
            alert_list(&mut page, "lost", &change.lost, baseline.scores.as_ref(), result.labels.as_ref());
        }
    }

    summary_tables(&mut page, result);
    page.push_str("<p class=\"note\">Written by <code>tokenwatch backtest</code>. Token ids are as events carry them (vendor ids, JWT ids or keyed fingerprints), never raw credentials.</p>\n</body>\n</html>\n");
    Ok(page)
}

fn section(page: &mut String, title: &str, note: &str) {
    let _ = write!(page, "<h2>{}</h2>\n<p class=\"note\">{}</p>\n", escape(title), escape(note));
}

fn chart(page: &mut String, chart: &Chart) {
    page.push_str("<div class=\"legend\">");
    for item in &chart.legend {
        let mark = match item.mark {
            Mark::Box => "box",
            Mark::Dot => "dot",
            Mark::Ring => "ring",
            Mark::Line => "line",
        };
        let _ = write!(
            page,
            "<span class=\"item\"><span class=\"mark {mark}\" style=\"--c:{}\"></span>{}</span>",
            item.hex(),
            escape(&item.label)
        );
    }
    let _ = write!(page, "</div>\n<div class=\"chart\">{}</div>\n", chart.svg);
}

fn cards(page: &mut String, result: &BacktestResult) {
    let mut items: Vec<(String, &str)> =
        vec![(result.events.total.to_string(), "events"), (result.alerts.len().to_string(), "alerts")];
    if let Some(scores) = &result.scores {
        let total = &scores.total;
        items.push((format!("{}/{}", total.detected, total.scenarios), "attacks detected"));
        items.push((ratio(total.recall()), "recall"));
        items.push((ratio(total.precision()), "precision"));
        items.push((total.lookalike_alerts.to_string(), "alerts on look-alikes"));
        items.push((format!("{:.2}", total.unexplained_per_10k(scores.events)), "unexplained per 10k events"));
    }
    if let Some(baseline) = &result.baseline {
        items.push((baseline.alerts.len().to_string(), "baseline alerts"));
        items.push((format!("+{} / −{}", baseline.diff.gained(), baseline.diff.lost()), "gained / lost"));
    }
    page.push_str("<div class=\"cards\">");
    for (value, key) in items {
        let _ = write!(
            page,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            escape(&value),
            escape(key)
        );
    }
    page.push_str("</div>\n");
}

fn scores_table(page: &mut String, scores: &Scorecard) {
    page.push_str(
        "<table><tr><th class=\"l\">family</th><th>scenarios</th><th>detected</th><th>recall</th><th>alerts</th>\
         <th>true</th><th>precision</th><th>other family</th><th>look-alikes</th><th>alerts on look-alikes</th>\
         <th>unexplained</th><th>unexplained per 10k events</th></tr>",
    );
    let row = |page: &mut String, family: &FamilyScore, class: &str| {
        let _ = write!(
            page,
            "<tr class=\"{class}\"><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            escape(&family.family),
            family.scenarios,
            family.detected,
            ratio(family.recall()),
            family.alerts,
            family.true_alerts,
            ratio(family.precision()),
            family.other_attack_alerts,
            family.lookalikes,
            family.lookalike_alerts,
            family.unexplained,
            family.unexplained_per_10k(scores.events)
        );
    };
    for family in &scores.families {
        row(page, family, "");
    }
    row(page, &scores.total, "total");
    page.push_str("</table>\n");
}

fn missed(page: &mut String, scores: &Scorecard, labels: &Labels) {
    let scenarios = labels.scenarios();
    let list = |page: &mut String, title: &str, indexes: &[usize]| {
        let _ = write!(page, "<p class=\"note\"><b>{}:</b> ", escape(title));
        if indexes.is_empty() {
            page.push_str("none");
        } else {
            let names: Vec<String> = indexes
                .iter()
                .map(|&i| format!("{} ({})", escape(&scenarios[i].scenario), escape(&scenarios[i].family)))
                .collect();
            page.push_str(&names.join(", "));
        }
        page.push_str("</p>\n");
    };
    list(page, "Missed attacks", &scores.missed);
    list(page, "Look-alikes some alert is about", &scores.lookalikes_alerted);
}

fn verdict_tag(alert: &Alert, scores: Option<&Scorecard>, labels: Option<&Labels>) -> String {
    let (Some(scores), Some(labels)) = (scores, labels) else {
        return String::new();
    };
    let verdict = scores.verdict(alert);
    let scenario = verdict.scenario().map(|i| labels.scenarios()[i].scenario.as_str()).unwrap_or("");
    format!("<span class=\"tag {name}\">{name}</span> {}", escape(scenario), name = verdict.name())
}

fn alert_list(page: &mut String, what: &str, alerts: &[Alert], scores: Option<&Scorecard>, labels: Option<&Labels>) {
    if alerts.is_empty() {
        return;
    }
    let _ = write!(
        page,
        "<p class=\"note\"><b>{what}: {}</b></p><table><tr><th class=\"l\">time</th><th class=\"l\">alert</th>\
         <th class=\"l\">token</th><th class=\"l\">label</th><th>count</th><th class=\"l\">evidence</th></tr>",
        alerts.len()
    );
    for alert in alerts.iter().take(MAX_LISTED) {
        let _ = write!(
            page,
            "<tr><td class=\"l mono\">{}</td><td class=\"l mono\">{}</td><td class=\"l mono\">{}</td><td class=\"l\">{}</td>\
             <td>{}</td><td class=\"l mono\">{}</td></tr>",
            escape(&alert.time),
            escape(&alert.alert_id),
            escape(&alert.token_id),
            verdict_tag(alert, scores, labels),
            alert.count,
            escape(&evidence_brief(&alert.evidence))
        );
    }
    page.push_str("</table>\n");
    if alerts.len() > MAX_LISTED {
        let _ = writeln!(page, "<p class=\"note\">… and {} more.</p>", alerts.len() - MAX_LISTED);
    }
}

fn journeys_table(page: &mut String, journeys: &[Journey], labels: Option<&Labels>, scores: Option<&Scorecard>) {
    if journeys.is_empty() {
        page.push_str("<p class=\"note\">No impossible-travel alert with both ends located.</p>\n");
        return;
    }
    page.push_str(
        "<table><tr><th class=\"l\">from</th><th class=\"l\">to</th><th>distance km</th><th>speed km/h</th>\
         <th class=\"l\">label</th><th class=\"l\">alert</th></tr>",
    );
    for journey in journeys {
        let label = match (journey.verdict, labels, scores) {
            (Some(verdict), Some(labels), Some(_)) => {
                let scenario = verdict.scenario().map(|i| labels.scenarios()[i].scenario.as_str()).unwrap_or("");
                format!("<span class=\"tag {name}\">{name}</span> {}", escape(scenario), name = verdict.name())
            }
            _ => String::new(),
        };
        let number = |value: Option<f64>| value.map_or_else(|| "–".to_string(), |v| format!("{v:.0}"));
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{label}</td><td class=\"l mono\">{}</td></tr>",
            escape(&journey.from.name),
            escape(&journey.to.name),
            number(journey.distance_km),
            number(journey.speed_kmh),
            escape(&journey.alert_id)
        );
    }
    page.push_str("</table>\n");
}

fn summary_tables(page: &mut String, result: &BacktestResult) {
    let summary = &result.summary;
    section(page, "Alerts per rule", "Firings count suppressed repeats (each alert's count).");
    page.push_str("<table><tr><th class=\"l\">rule</th><th>alerts</th><th>firings</th><th>tokens</th></tr>");
    for rule in &summary.per_rule {
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&rule.rule),
            rule.alerts,
            rule.firings,
            rule.tokens
        );
    }
    page.push_str("</table>\n");
    section(page, "Alerts per source", "The source of each alert's triggering event.");
    page.push_str(
        "<table><tr><th class=\"l\">source</th><th>events</th><th>alerts</th><th>alerts per 10k events</th></tr>",
    );
    for source in &summary.per_source {
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            escape(&source.source),
            source.events,
            source.alerts,
            source.per_10k()
        );
    }
    page.push_str("</table>\n");
    section(page, "Noisiest tokens", "The tokens with the most alerts.");
    page.push_str("<table><tr><th class=\"l\">token</th><th>alerts</th><th class=\"l\">owner or subject</th><th class=\"l\">rules</th></tr>");
    for token in &summary.noisiest {
        let rules: Vec<String> = token.by_rule.iter().map(|(rule, n)| format!("{rule}: {n}")).collect();
        let _ = write!(
            page,
            "<tr><td class=\"l mono\">{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            escape(&token.token_id),
            token.alerts,
            escape(token.who.as_deref().unwrap_or("–")),
            escape(&rules.join(", "))
        );
    }
    page.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::labels::{Scenario, ScenarioKind};
    use crate::backtest::tests::alert_at;
    use crate::backtest::{Collector, RunInfo};
    use crate::output::JsonLines;

    #[test]
    fn escape_covers_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn the_page_is_self_contained_escaped_and_deterministic() {
        let build = || {
            let mut collector =
                Collector::new(JsonLines::new(crate::Target::File("/nonexistent/dl".into()), true).unwrap());
            let mut hostile = alert_at("a1", "impossible_travel", "2026-01-07T08:24:55Z", "<script>alert(1)</script>");
            hostile.evidence = serde_json::json!({
                "from": {"lat": 48.8, "lon": 2.3, "city": "<b>Paris</b>", "country": "FR"},
                "to": {"lat": -33.8, "lon": 151.2, "city": "Sydney", "country": "AU"},
            });
            hostile.event_ids = vec!["e1".into()];
            collector.alerts.record(hostile);
            collector.alerts.record(alert_at("a2", "burst", "2026-01-08T08:00:00Z", "t2"));
            let labels = Labels::new(vec![Scenario {
                scenario: "it-1".into(),
                kind: ScenarioKind::Attack,
                family: "impossible_travel".into(),
                token_id: None,
                event_ids: vec!["e1".into()],
            }]);
            let info = RunInfo { inputs: vec!["a.jsonl".into()], inventory: "inv.jsonl".into(), ..RunInfo::default() };
            BacktestResult::new(info, Some(labels), collector, Some(vec![]), 5)
        };
        let page = render(&build()).unwrap();
        assert!(!page.contains("<script"), "data is escaped");
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<b>Paris"), "place names inside the SVG are escaped too");
        for fetch in ["src=", "href=", "<link", "url(", "@import"] {
            assert!(!page.contains(fetch), "nothing is fetched: {fetch}");
        }
        assert_eq!(page.matches("<svg").count(), 4, "scores, timeline, travel, daily");
        assert!(page.contains("#D62728"), "the detected journey is drawn in the attack colour");
        assert_eq!(page, render(&build()).unwrap());
    }
}

//! The report's charts, drawn as SVG with plotters (no fonts needed: the browser renders the text)
//! and inlined into the HTML page.
//!
//! Colours say the same thing on every chart: red = detects a labelled attack of its family,
//! orange = an attack of another family, purple = a benign look-alike, grey = unexplained, blue =
//! no labels to say.

use std::collections::BTreeSet;
use std::fmt::Display;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;
use tokenwatch_schemas::Alert;

use super::score::{Scorecard, Verdict};
use super::summary::AlertSummary;
use super::{DAY_US, alert_time_us};
use crate::{Error, Result};

/// An alert detecting a labelled attack of its family.
pub(crate) const ATTACK: RGBColor = RGBColor(214, 39, 40);
/// An alert on an attack of another family.
pub(crate) const OTHER_ATTACK: RGBColor = RGBColor(255, 127, 14);
/// An alert on a benign look-alike.
pub(crate) const LOOKALIKE: RGBColor = RGBColor(148, 103, 189);
/// An alert on no labelled event.
pub(crate) const UNEXPLAINED: RGBColor = RGBColor(127, 127, 127);
/// An alert when there are no labels.
pub(crate) const UNLABELLED: RGBColor = RGBColor(31, 119, 180);
/// Recall bars.
pub(crate) const RECALL: RGBColor = RGBColor(31, 119, 180);
/// Precision bars.
pub(crate) const PRECISION: RGBColor = RGBColor(44, 160, 44);

/// Rule colours for the daily chart (Tableau 10, then repeated).
const RULE_COLOURS: [RGBColor; 10] = [
    RGBColor(78, 121, 167),
    RGBColor(242, 142, 43),
    RGBColor(225, 87, 89),
    RGBColor(118, 183, 178),
    RGBColor(89, 161, 79),
    RGBColor(237, 201, 72),
    RGBColor(176, 122, 161),
    RGBColor(255, 157, 167),
    RGBColor(156, 117, 95),
    RGBColor(186, 176, 172),
];

const FONT: &str = "sans-serif";
const WIDTH: u32 = 1100;

/// How a legend entry is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A filled square (bars).
    Box,
    /// A filled circle (points).
    Dot,
    /// An open circle.
    Ring,
    /// A line (journeys).
    Line,
}

/// One legend entry, drawn by the page beside the chart (so it never hides data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LegendItem {
    /// Its colour.
    pub colour: RGBColor,
    /// What it means.
    pub label: String,
    /// How it is marked.
    pub mark: Mark,
}

impl LegendItem {
    fn new(colour: RGBColor, label: impl Into<String>, mark: Mark) -> Self {
        LegendItem { colour, label: label.into(), mark }
    }

    /// The colour as `#rrggbb`.
    pub fn hex(&self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.colour.0, self.colour.1, self.colour.2)
    }
}

/// A drawn chart: the SVG and its legend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chart {
    /// The SVG document.
    pub svg: String,
    /// Its legend, in drawing order.
    pub legend: Vec<LegendItem>,
}

fn chart_error(chart: &'static str) -> impl Fn(&dyn Display) -> Error {
    move |error| Error::Chart { chart, reason: error.to_string() }
}

/// The colour and legend name of an alert's verdict.
pub(crate) fn verdict_style(verdict: Option<Verdict>) -> (RGBColor, &'static str) {
    match verdict {
        None => (UNLABELLED, "alert"),
        Some(Verdict::Detects(_)) => (ATTACK, "detects an attack of its family"),
        Some(Verdict::OtherAttack(_)) => (OTHER_ATTACK, "on an attack of another family"),
        Some(Verdict::Lookalike(_)) => (LOOKALIKE, "on a benign look-alike"),
        Some(Verdict::Unexplained) => (UNEXPLAINED, "unexplained"),
    }
}

/// A stable pseudo-random offset in [-0.5, 0.5) from an alert id (so overlapping points spread
/// the same way on every run).
fn jitter(id: &str) -> f64 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % 1000) as f64 / 1000.0 - 0.5
}

fn day_label(day: f64) -> String {
    let micros = (day.round() as i64) * DAY_US;
    tokenwatch_schemas::time::format_rfc3339_micros(micros)[5..10].to_string()
}

/// A category axis label: the name of the row nearest `value` (rows are drawn top down).
fn row_label(names: &[String], value: f64) -> String {
    let row = value.round();
    if (value - row).abs() > 0.01 || row < 0.0 {
        return String::new();
    }
    let index = names.len() as i64 - 1 - row as i64;
    usize::try_from(index).ok().and_then(|i| names.get(i)).cloned().unwrap_or_default()
}

fn finish(root: DrawingArea<SVGBackend<'_>, Shift>, chart: &'static str) -> Result<()> {
    root.present().map_err(|e| chart_error(chart)(&e))
}

/// Recall and precision per family, as horizontal bars.
pub(crate) fn scores_chart(scores: &Scorecard) -> Result<Chart> {
    const NAME: &str = "scores";
    let error = chart_error(NAME);
    let families: Vec<_> = scores.families.iter().filter(|f| f.scenarios > 0 || f.alerts > 0).collect();
    let names: Vec<String> = families.iter().map(|f| f.family.clone()).collect();
    let rows = names.len().max(1);
    let mut svg = String::new();
    {
        let height = 70 + 46 * rows as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| error(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..1.16f64, -0.6f64..(rows as f64 - 0.4))
            .map_err(|e| error(&e))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows)
            .y_label_formatter(&|y| row_label(&names, *y))
            .x_labels(12)
            .x_label_formatter(&|x| if *x <= 1.0 + 1e-9 { format!("{:.0}%", x * 100.0) } else { String::new() })
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| error(&e))?;
        let row_of = |index: usize| (rows - 1 - index) as f64;
        let bars = |value: fn(&super::score::FamilyScore) -> Option<f64>, low: f64, high: f64, colour: RGBColor| {
            families
                .iter()
                .enumerate()
                .filter_map(move |(index, family)| value(family).map(|v| (row_of(index), v)))
                .map(move |(row, v)| Rectangle::new([(0.0, row + low), (v, row + high)], colour.filled()))
        };
        chart.draw_series(bars(|f| f.recall(), 0.04, 0.36, RECALL)).map_err(|e| error(&e))?;
        chart.draw_series(bars(|f| f.precision(), -0.36, -0.04, PRECISION)).map_err(|e| error(&e))?;
        let value_style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        let values = families.iter().enumerate().flat_map(|(index, family)| {
            let row = row_of(index);
            let recall =
                family.recall().map(|r| (r, row + 0.2, format!("{r:.3} ({}/{})", family.detected, family.scenarios)));
            let precision = family
                .precision()
                .map(|p| (p, row - 0.2, format!("{p:.3} ({}/{})", family.true_alerts, family.alerts)));
            recall.into_iter().chain(precision)
        });
        chart
            .draw_series(values.map(|(x, y, text)| Text::new(text, (x + 0.01, y), value_style.clone())))
            .map_err(|e| error(&e))?;
        finish(root, NAME)?;
    }
    let legend = vec![
        LegendItem::new(RECALL, "recall (detected / scenarios)", Mark::Box),
        LegendItem::new(PRECISION, "precision (true / alerts)", Mark::Box),
    ];
    Ok(Chart { svg, legend })
}

/// Every alert as a point on its rule's lane, over event time, coloured by verdict; alerts only
/// the baseline raised (lost) as open circles.
pub(crate) fn timeline_chart(
    alerts: &[Alert],
    scores: Option<&Scorecard>,
    lost: &[Alert],
    first_us: i64,
    last_us: i64,
) -> Result<Chart> {
    const NAME: &str = "timeline";
    let error = chart_error(NAME);
    let names: Vec<String> =
        alerts.iter().chain(lost).map(|a| a.rule.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let rows = names.len().max(1);
    let lane = |rule: &str| names.iter().position(|n| n == rule).map(|i| (rows - 1 - i) as f64);
    let day = |micros: i64| micros as f64 / DAY_US as f64;
    let (start, end) = (day(first_us).floor(), (day(last_us) + 1.0).floor().max(day(first_us).floor() + 1.0));
    let mut svg = String::new();
    let mut legend = Vec::new();
    {
        let height = 60 + 40 * rows as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| error(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(170)
            .build_cartesian_2d(start..end, -0.6f64..(rows as f64 - 0.4))
            .map_err(|e| error(&e))?;
        chart
            .configure_mesh()
            .y_labels(rows)
            .y_label_formatter(&|y| row_label(&names, *y))
            .x_labels(14)
            .x_label_formatter(&|x| day_label(*x))
            .label_style((FONT, 14))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| error(&e))?;
        let point = |alert: &Alert| -> Option<(f64, f64)> {
            Some((day(alert_time_us(alert)?), lane(&alert.rule)? + jitter(&alert.alert_id) * 0.6))
        };
        let verdicts: Vec<Option<Verdict>> = match scores {
            Some(_) => vec![
                Some(Verdict::Detects(0)),
                Some(Verdict::OtherAttack(0)),
                Some(Verdict::Lookalike(0)),
                Some(Verdict::Unexplained),
            ],
            None => vec![None],
        };
        for verdict in verdicts {
            let (colour, label) = verdict_style(verdict);
            let same = |alert: &&Alert| match (scores, verdict) {
                (Some(scores), Some(wanted)) => {
                    std::mem::discriminant(&scores.verdict(alert)) == std::mem::discriminant(&wanted)
                }
                _ => true,
            };
            let points: Vec<(f64, f64)> = alerts.iter().filter(same).filter_map(point).collect();
            if points.is_empty() {
                continue;
            }
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 5, colour.filled()))).map_err(|e| error(&e))?;
            legend.push(LegendItem::new(colour, label, Mark::Dot));
        }
        if !lost.is_empty() {
            let points: Vec<(f64, f64)> = lost.iter().filter_map(point).collect();
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, 6, BLACK.stroke_width(2))))
                .map_err(|e| error(&e))?;
            legend.push(LegendItem::new(BLACK, "lost: only the baseline raises it", Mark::Ring));
        }
        finish(root, NAME)?;
    }
    Ok(Chart { svg, legend })
}

/// Alerts per day, stacked by rule.
pub(crate) fn daily_chart(summary: &AlertSummary) -> Result<Chart> {
    const NAME: &str = "daily";
    let error = chart_error(NAME);
    let rules: Vec<&str> = summary.per_rule.iter().map(|r| r.rule.as_str()).collect();
    let days = summary.per_day.len().max(1);
    let top = summary.per_day.iter().map(|d| d.alerts()).max().unwrap_or(0).max(1) as f64 * 1.15;
    let mut svg = String::new();
    let mut legend = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| error(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..days as f64, 0f64..top)
            .map_err(|e| error(&e))?;
        let first_day = summary
            .per_day
            .first()
            .and_then(|d| tokenwatch_schemas::time::parse_str(&d.day, tokenwatch_schemas::time::TimeFormat::Rfc3339))
            .map_or(0.0, |micros| (micros / DAY_US) as f64);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(14)
            .x_label_formatter(&|x| day_label(first_day + x.floor()))
            .y_labels(6)
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| error(&e))?;
        for (index, rule) in rules.iter().enumerate() {
            let colour = RULE_COLOURS[index % RULE_COLOURS.len()];
            let bars = summary.per_day.iter().enumerate().filter_map(|(x, day)| {
                let below: u64 = rules[..index].iter().map(|r| day.by_rule.get(*r).copied().unwrap_or(0)).sum();
                let own = day.by_rule.get(*rule).copied().unwrap_or(0);
                (own > 0).then(|| {
                    Rectangle::new(
                        [(x as f64 + 0.12, below as f64), (x as f64 + 0.88, (below + own) as f64)],
                        colour.filled(),
                    )
                })
            });
            chart.draw_series(bars).map_err(|e| error(&e))?;
            legend.push(LegendItem::new(colour, *rule, Mark::Box));
        }
        finish(root, NAME)?;
    }
    Ok(Chart { svg, legend })
}

/// One end of a flagged journey.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Place {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// `City, CC` or what is known.
    pub name: String,
}

/// An impossible-travel alert's journey.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Journey {
    /// Where the token was used first.
    pub from: Place,
    /// Where it was used next.
    pub to: Place,
    /// The alert.
    pub alert_id: String,
    /// The verdict on it, with labels.
    pub verdict: Option<Verdict>,
    /// Speed it implies, km/h.
    pub speed_kmh: Option<f64>,
    /// Distance, km.
    pub distance_km: Option<f64>,
}

fn place(value: &Value) -> Option<Place> {
    let lat = value.get("lat")?.as_f64()?;
    let lon = value.get("lon")?.as_f64()?;
    let city = value.get("city").and_then(Value::as_str);
    let country = value.get("country").and_then(Value::as_str);
    let name = match (city, country) {
        (Some(city), Some(country)) => format!("{city}, {country}"),
        (Some(one), None) | (None, Some(one)) => one.to_string(),
        (None, None) => format!("{lat:.1}, {lon:.1}"),
    };
    Some(Place { lat, lon, name })
}

/// The journeys of the impossible-travel alerts whose evidence has both ends located.
pub(crate) fn journeys(alerts: &[Alert], scores: Option<&Scorecard>) -> Vec<Journey> {
    alerts
        .iter()
        .filter(|alert| alert.rule == "impossible_travel")
        .filter_map(|alert| {
            Some(Journey {
                from: place(alert.evidence.get("from")?)?,
                to: place(alert.evidence.get("to")?)?,
                alert_id: alert.alert_id.clone(),
                verdict: scores.map(|s| s.verdict(alert)),
                speed_kmh: alert.evidence.get("speed_kmh").and_then(Value::as_f64),
                distance_km: alert.evidence.get("distance_km").and_then(Value::as_f64),
            })
        })
        .collect()
}

fn degrees(value: f64, positive: char, negative: char) -> String {
    if value.abs() < 1e-9 {
        "0°".to_string()
    } else {
        format!("{:.0}°{}", value.abs(), if value > 0.0 { positive } else { negative })
    }
}

/// The flagged journeys on a longitude/latitude grid: a line from where the token was to where it
/// was used next (the triangle), coloured by verdict, places named; the journeys only the baseline
/// flags (`lost`) as dashed black lines.
pub(crate) fn travel_chart(journeys: &[Journey], lost: &[Journey]) -> Result<Chart> {
    const NAME: &str = "travel";
    let error = chart_error(NAME);
    let ends = || journeys.iter().chain(lost).flat_map(|j| [&j.from, &j.to]);
    let (mut west, mut east, mut south, mut north) = (180f64, -180f64, 90f64, -90f64);
    for place in ends() {
        west = west.min(place.lon);
        east = east.max(place.lon);
        south = south.min(place.lat);
        north = north.max(place.lat);
    }
    if journeys.is_empty() && lost.is_empty() {
        (west, east, south, north) = (-180.0, 180.0, -60.0, 80.0);
    }
    let (west, east) = ((west - 15.0).max(-180.0), (east + 15.0).min(180.0));
    let (south, north) = ((south - 10.0).max(-90.0), (north + 10.0).min(90.0));
    let mut svg = String::new();
    let mut legend = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 560)).into_drawing_area();
        root.fill(&RGBColor(247, 250, 252)).map_err(|e| error(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(50)
            .build_cartesian_2d(west..east, south..north)
            .map_err(|e| error(&e))?;
        chart
            .configure_mesh()
            .x_labels(13)
            .y_labels(9)
            .x_label_formatter(&|x| degrees(*x, 'E', 'W'))
            .y_label_formatter(&|y| degrees(*y, 'N', 'S'))
            .label_style((FONT, 13))
            .bold_line_style(RGBColor(200, 210, 220))
            .light_line_style(RGBColor(232, 238, 243))
            .draw()
            .map_err(|e| error(&e))?;
        if south < 0.0 && north > 0.0 {
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(west, 0.0), (east, 0.0)], RGBColor(160, 175, 190))))
                .map_err(|e| error(&e))?;
        }
        let mut shown = BTreeSet::new();
        let label_style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
        for verdict in [
            None,
            Some(Verdict::Unexplained),
            Some(Verdict::Lookalike(0)),
            Some(Verdict::OtherAttack(0)),
            Some(Verdict::Detects(0)),
        ] {
            let group: Vec<&Journey> = journeys
                .iter()
                .filter(|j| {
                    j.verdict.map(|v| std::mem::discriminant(&v)) == verdict.map(|v| std::mem::discriminant(&v))
                })
                .collect();
            if group.is_empty() {
                continue;
            }
            let (colour, label) = verdict_style(verdict);
            chart
                .draw_series(group.iter().map(|j| {
                    PathElement::new(vec![(j.from.lon, j.from.lat), (j.to.lon, j.to.lat)], colour.stroke_width(3))
                }))
                .map_err(|e| error(&e))?;
            legend.push(LegendItem::new(colour, label, Mark::Line));
            chart
                .draw_series(group.iter().map(|j| Circle::new((j.from.lon, j.from.lat), 5, colour.filled())))
                .map_err(|e| error(&e))?;
            chart
                .draw_series(group.iter().map(|j| TriangleMarker::new((j.to.lon, j.to.lat), 8, colour.filled())))
                .map_err(|e| error(&e))?;
        }
        if !lost.is_empty() {
            chart
                .draw_series(lost.iter().map(|j| {
                    let path = vec![(j.from.lon, j.from.lat), (j.to.lon, j.to.lat)];
                    DashedPathElement::new(path, 7, 5, BLACK.stroke_width(2))
                }))
                .map_err(|e| error(&e))?;
            chart
                .draw_series(lost.iter().map(|j| TriangleMarker::new((j.to.lon, j.to.lat), 7, BLACK.stroke_width(2))))
                .map_err(|e| error(&e))?;
            legend.push(LegendItem::new(BLACK, "lost: only the baseline flags it", Mark::Line));
        }
        let names: Vec<&Place> = ends().filter(|place| shown.insert(place.name.clone())).collect();
        chart
            .draw_series(
                names.iter().map(|place| {
                    Text::new(place.name.clone(), (place.lon + 0.8, place.lat + 0.8), label_style.clone())
                }),
            )
            .map_err(|e| error(&e))?;
        finish(root, NAME)?;
    }
    Ok(Chart { svg, legend })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::tests::alert_at;

    #[test]
    fn row_labels_name_rows_top_down_and_only_on_whole_rows() {
        let names = vec!["burst".to_string(), "token_reuse".to_string()];
        assert_eq!(row_label(&names, 1.0), "burst");
        assert_eq!(row_label(&names, 0.0), "token_reuse");
        assert_eq!(row_label(&names, 0.5), "");
        assert_eq!(row_label(&names, 2.0), "");
        assert_eq!(row_label(&names, -1.0), "");
    }

    #[test]
    fn journeys_come_from_the_evidence_and_charts_are_svg() {
        let mut travel = alert_at("a1", "impossible_travel", "2026-01-07T08:24:55Z", "t");
        travel.evidence = serde_json::json!({
            "from": {"lat": 48.8566, "lon": 2.3522, "city": "Paris", "country": "FR"},
            "to": {"lat": -33.8688, "lon": 151.2093, "city": "Sydney", "country": "AU"},
            "speed_kmh": 30837.3,
            "distance_km": 16960.5,
        });
        let mut unlocated = travel.clone();
        unlocated.alert_id = "a2".into();
        unlocated.evidence = serde_json::json!({"from": {"country": "FR"}, "to": {"lat": 1.0, "lon": 2.0}});
        let other = alert_at("a3", "burst", "2026-01-08T08:24:55Z", "t");
        let alerts = vec![travel, unlocated, other];
        let found = journeys(&alerts, None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].from.name, "Paris, FR");
        assert_eq!(found[0].to.name, "Sydney, AU");
        assert_eq!(found[0].speed_kmh, Some(30837.3));

        let chart = travel_chart(&found, &[]).unwrap();
        assert_eq!(chart.legend.len(), 1);
        assert_eq!(chart.legend[0].hex(), "#1f77b4");
        let svg = chart.svg;
        assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
        assert!(svg.contains("Sydney, AU"));
        assert!(svg.contains("#1F77B4"), "journeys without labels are drawn in the unlabelled colour");
        let first = alert_time_us(&alerts[0]).unwrap();
        let timeline = timeline_chart(&alerts, None, &[], first, first + DAY_US).unwrap().svg;
        assert!(timeline.contains("impossible_travel") && timeline.contains("burst"));
        let lost = travel_chart(&[], &found).unwrap();
        assert_eq!(lost.legend.len(), 1, "only the lost journey");
        assert!(lost.svg.contains("Paris, FR"));
        assert!(travel_chart(&[], &[]).unwrap().svg.starts_with("<svg"));
    }
}

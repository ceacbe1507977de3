//! Counters of one run, and the summary line printed at its end.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokenwatch_schemas::DeadLetterReason;

/// What a run has processed so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Input records read (a line, a message; an envelope counts once).
    pub records: u64,
    /// Bytes of input read.
    pub bytes: u64,
    /// Events normalised.
    pub events: u64,
    /// Dead letters, by reason.
    pub dead_letters: BTreeMap<DeadLetterReason, u64>,
    /// Events per source.
    pub events_by_source: BTreeMap<String, u64>,
    /// Alerts, by rule.
    pub alerts: BTreeMap<String, u64>,
    /// Batches emitted.
    pub batches: u64,
    /// Detector counters (`tokens_tracked`, `late_events`, …), as of the last batch.
    pub detection: Vec<(&'static str, u64)>,
}

impl RunStats {
    /// Total dead letters.
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }

    /// Total alerts.
    pub fn alert_total(&self) -> u64 {
        self.alerts.values().sum()
    }

    /// The one-line summary with the elapsed time.
    pub fn summary(&self, elapsed: Duration) -> Summary<'_> {
        Summary { stats: self, elapsed }
    }
}

/// Display adapter for the end-of-run line.
#[derive(Debug)]
pub struct Summary<'a> {
    stats: &'a RunStats,
    elapsed: Duration,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.stats;
        let seconds = self.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 { stats.events as f64 / seconds } else { 0.0 };
        write!(f, "records={} events={} dead_letters={}", stats.records, stats.events, stats.dead_letter_total())?;
        if !stats.dead_letters.is_empty() {
            let reasons: Vec<String> = stats.dead_letters.iter().map(|(reason, n)| format!("{reason}:{n}")).collect();
            write!(f, " ({})", reasons.join(" "))?;
        }
        write!(f, " alerts={}", stats.alert_total())?;
        if !stats.alerts.is_empty() {
            let rules: Vec<String> = stats.alerts.iter().map(|(rule, n)| format!("{rule}:{n}")).collect();
            write!(f, " ({})", rules.join(" "))?;
        }
        for (name, value) in &stats.detection {
            write!(f, " {name}={value}")?;
        }
        write!(f, " elapsed={seconds:.2}s events/s={rate:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_reasons_and_rate() {
        let mut stats = RunStats { records: 10, events: 8, ..RunStats::default() };
        stats.dead_letters.insert(DeadLetterReason::InvalidJson, 1);
        stats.dead_letters.insert(DeadLetterReason::MissingTime, 1);
        let line = stats.summary(Duration::from_secs(2)).to_string();
        assert_eq!(
            line,
            "records=10 events=8 dead_letters=2 (invalid_json:1 missing_time:1) alerts=0 elapsed=2.00s events/s=4"
        );
    }
}

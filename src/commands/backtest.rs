//! `tokenwatch backtest`: replays logs through the rules under test (and a baseline rule set in
//! the same pass), then prints the scores, the changes and the alert counts, and writes the HTML
//! report. The work is `tokenwatch_replay::backtest`'s; this wires it to the command line.

use std::io::{ErrorKind, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tokenwatch_engine::setup;
use tokenwatch_replay::backtest::text::{TextOptions, write_text};
use tokenwatch_replay::backtest::{BacktestResult, Collector, Labels, RunInfo, ShadowDetector, report};
use tokenwatch_replay::{Input, JsonLines, RunOptions, Target};
use tokenwatch_rules::RuleSet;
use tracing::info;

use crate::cli::{BacktestArgs, Cli};

/// The inputs to replay: every `--input` but the inventory and labels files themselves, so the
/// whole of a generated dataset (`DIR/*.json*`) can be given.
fn inputs(args: &BacktestArgs) -> Result<Vec<Input>> {
    let canonical = |path: &Path| std::fs::canonicalize(path).ok();
    let side_files: Vec<PathBuf> =
        [Some(args.inventory.as_path()), args.labels.as_deref()].into_iter().flatten().filter_map(canonical).collect();
    let mut inputs = Vec::new();
    for arg in &args.input {
        let input = Input::from_arg(arg);
        if let Input::File(path) = &input {
            if !path.exists() {
                bail!("input `{}` does not exist", path.display());
            }
            if canonical(path).is_some_and(|path| side_files.contains(&path)) {
                info!(input = %path.display(), "skipping an input that is the inventory or the labels file");
                continue;
            }
        }
        inputs.push(input);
    }
    if inputs.is_empty() {
        bail!("no input left to replay (the inputs given are the inventory and labels files)");
    }
    Ok(inputs)
}

/// Runs `tokenwatch backtest`: replay, score, compare, print, and write the report if asked.
pub fn backtest(cli: &Cli, args: &BacktestArgs) -> Result<()> {
    let mut settings = super::load_settings(cli, Some(&args.common))?;
    settings.detection.inventory = args.inventory.display().to_string();
    if let Some(rules) = &args.rules {
        settings.detection.rules_dir = rules.display().to_string();
    }
    // Read the labels before the replay, so a bad file fails at once.
    let labels = args.labels.as_deref().map(Labels::read).transpose()?;
    let inputs = inputs(args)?;

    let detection = setup::detection(&settings)?;
    info!(rules = %detection.rule_names().join(","), inventory = %settings.detection.inventory, "rules under test ready");
    let mut rules = RuleSet::of(Box::new(detection));
    let baseline = match &args.baseline_rules {
        Some(dir) => {
            let mut baseline_settings = settings.clone();
            baseline_settings.detection.rules_dir = dir.display().to_string();
            let baseline = setup::detection(&baseline_settings).context("the baseline rules")?;
            info!(rules_dir = %dir.display(), "baseline rules ready (run in the same pass, alerts set aside)");
            let (shadow, alerts) = ShadowDetector::new(Box::new(baseline));
            rules.push(Box::new(shadow));
            Some(alerts)
        }
        None => None,
    };
    let mut pipeline = super::pipeline(&settings, &args.common, rules)?;
    let mut collector = Collector::new(JsonLines::new(Target::from_arg(&args.common.dead_letter), true)?);
    let info = RunInfo {
        inputs: inputs.iter().map(Input::name).collect(),
        inventory: settings.detection.inventory.clone(),
        labels: args.labels.as_ref().map(|p| p.display().to_string()),
        rules: match settings.detection.rules_dir.as_str() {
            "" => "built-in".to_string(),
            dir => dir.to_string(),
        },
        baseline_rules: args.baseline_rules.as_ref().map(|p| p.display().to_string()),
    };
    let options = RunOptions {
        inputs,
        chunk_records: settings.replay.chunk_records,
        progress: !cli.quiet && std::io::stderr().is_terminal(),
    };
    let pool = super::thread_pool(&settings)?;
    let elapsed = pool.install(|| tokenwatch_replay::run(&mut pipeline, &mut collector, &options))?;
    if !cli.quiet {
        eprintln!("backtest: {}", pipeline.stats().summary(elapsed));
        if collector.dead_letters.written() > 0
            && let Target::File(path) = collector.dead_letters.target()
        {
            eprintln!("backtest: dead letters written to {}", path.display());
        }
    }

    let result = BacktestResult::new(info, labels, collector, baseline.map(|b| b.take()), args.top_tokens);
    let mut out = std::io::stdout().lock();
    match write_text(&mut out, &result, TextOptions { examples: args.examples }) {
        // `tokenwatch backtest … | head`: the reader has what it wanted; the report is still written.
        Err(error) if error.kind() == ErrorKind::BrokenPipe => {}
        result => result.context("cannot write to standard output")?,
    }
    if let Some(dir) = &args.report {
        let page = report::write_report(dir, &result)?;
        if !cli.quiet {
            eprintln!("backtest: report written to {}", page.display());
        }
    }
    Ok(())
}

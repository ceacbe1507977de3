//! The subcommands.

pub mod backtest;
pub mod bench;
pub mod check;
pub mod run;
pub mod sql;

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use tokenwatch_engine::batcher::Batcher;
use tokenwatch_engine::{Pipeline, Settings, setup};
use tokenwatch_replay::{AlertFormat, AlertOutput, EventOutput, FileSink, Input, JsonLines, RunOptions, Target};
use tokenwatch_rules::RuleSet;
use tracing::{info, warn};

use crate::cli::{AlertFormatArg, Cli, GenerateArgs, InputArgs, NormalizeArgs, ReplayArgs, SourcesArgs};

fn load_settings(cli: &Cli, common: Option<&InputArgs>) -> Result<Settings> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(common) = common {
        if let Some(dir) = &common.mappings {
            settings.normalize.mappings_dir = dir.display().to_string();
        }
        if let Some(threads) = common.threads {
            settings.replay.threads = threads;
        }
    }
    Ok(settings)
}

fn pipeline(settings: &Settings, common: &InputArgs, rules: RuleSet) -> Result<Pipeline> {
    let (normalizer, warnings) = setup::normalizer(settings, common.source.as_deref())?;
    for warning in warnings.0 {
        warn!("{warning}");
    }
    if let Some(geo) = normalizer.context().geo() {
        let files: Vec<String> = geo.paths().map(|p| p.display().to_string()).collect();
        info!(databases = %files.join(", "), "IP geolocation by DB-IP (https://db-ip.com), CC-BY-4.0");
    }
    let batcher = Batcher::new(settings.batch.size, settings.batch.linger);
    Ok(Pipeline::new(normalizer, rules, batcher))
}

fn thread_pool(settings: &Settings) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(settings.replay.threads)
        .thread_name(|i| format!("normalize-{i}"))
        .build()
        .context("cannot start worker threads")
}

fn run_files(
    cli: &Cli,
    settings: &Settings,
    pipeline: &mut Pipeline,
    sink: &mut FileSink,
    inputs: Vec<Input>,
    verb: &str,
) -> Result<()> {
    for input in &inputs {
        if let Input::File(path) = input
            && !path.exists()
        {
            bail!("input `{}` does not exist", path.display());
        }
    }
    let options = RunOptions {
        inputs,
        chunk_records: settings.replay.chunk_records,
        progress: !cli.quiet && std::io::stderr().is_terminal(),
    };
    let pool = thread_pool(settings)?;
    let elapsed = pool.install(|| tokenwatch_replay::run(pipeline, sink, &options))?;
    if !cli.quiet {
        eprintln!("{verb}: {}", pipeline.stats().summary(elapsed));
        if sink.dead_letters.written() > 0
            && let Target::File(path) = sink.dead_letters.target()
        {
            eprintln!("{verb}: dead letters written to {}", path.display());
        }
    }
    Ok(())
}

pub fn normalize(cli: &Cli, args: &NormalizeArgs) -> Result<()> {
    let settings = load_settings(cli, Some(&args.common))?;
    let mut pipeline = pipeline(&settings, &args.common, RuleSet::empty())?;
    let inputs = args.input.iter().map(|arg| Input::from_arg(arg)).collect();
    let mut sink = FileSink {
        events: Some(EventOutput::new(Target::from_arg(&args.output))?),
        dead_letters: JsonLines::new(Target::from_arg(&args.common.dead_letter), true)?,
        alerts: None,
        alert_format: AlertFormat::Json,
    };
    run_files(cli, &settings, &mut pipeline, &mut sink, inputs, "normalize")
}

pub fn replay(cli: &Cli, args: &ReplayArgs) -> Result<()> {
    let mut settings = load_settings(cli, Some(&args.common))?;
    if let Some(inventory) = &args.inventory {
        settings.detection.inventory = inventory.display().to_string();
    }
    if let Some(rules) = &args.rules {
        settings.detection.rules_dir = rules.display().to_string();
    }
    let detection = setup::detection(&settings)?;
    info!(rules = %detection.rule_names().join(","), inventory = %settings.detection.inventory, "detection ready");
    let mut pipeline = pipeline(&settings, &args.common, RuleSet::of(Box::new(detection)))?;
    let inputs = if args.input.is_empty() {
        let samples = tokenwatch_replay::samples::inputs();
        info!(files = samples.len(), "no --input given: replaying the bundled sample logs");
        samples
    } else {
        args.input.iter().map(|arg| Input::from_arg(arg)).collect()
    };
    let events = args.events.as_deref().map(|path| EventOutput::new(Target::from_arg(path))).transpose()?;
    let alert_format = match args.alert_format {
        AlertFormatArg::Json => AlertFormat::Json,
        AlertFormatArg::Ocsf => AlertFormat::Ocsf,
    };
    let mut sink = FileSink {
        events,
        dead_letters: JsonLines::new(Target::from_arg(&args.common.dead_letter), true)?,
        alerts: Some(AlertOutput::new(Target::from_arg(&args.output), alert_format)?),
        alert_format,
    };
    run_files(cli, &settings, &mut pipeline, &mut sink, inputs, "replay")
}

pub fn sources(cli: &Cli, args: &SourcesArgs) -> Result<()> {
    let mut settings = load_settings(cli, None)?;
    if let Some(dir) = &args.mappings {
        settings.normalize.mappings_dir = dir.display().to_string();
    }
    let registry = setup::registry(&settings)?;
    println!("{:<18} {:<24} {:<9} DESCRIPTION", "SOURCE", "LAYOUT", "PRIORITY");
    for mapping in registry.mappings() {
        let origin = if mapping.file.starts_with("builtin:") { String::new() } else { format!(" ({})", mapping.file) };
        println!(
            "{:<18} {:<24} {:<9} {}{origin}",
            &*mapping.name, mapping.layout, mapping.priority, mapping.description
        );
    }
    Ok(())
}

pub fn fingerprint(cli: &Cli) -> Result<()> {
    let settings = load_settings(cli, None)?;
    let mut warnings = setup::Warnings::default();
    let fingerprinter = setup::fingerprinter(&settings, &mut warnings)?;
    for warning in warnings.0 {
        warn!("{warning}");
    }
    if std::io::stdin().is_terminal() && !cli.quiet {
        eprintln!("paste the credential, then press Enter (it is not echoed anywhere else):");
    }
    let mut secret = String::new();
    std::io::stdin().read_to_string(&mut secret).context("cannot read standard input")?;
    let secret = secret.trim();
    if secret.is_empty() {
        bail!("no credential on standard input");
    }
    println!("{}", fingerprinter.fingerprint_credential(secret));
    Ok(())
}

pub fn generate(cli: &Cli, args: &GenerateArgs) -> Result<()> {
    let options = tokenwatch_replay::generate::GenerateOptions {
        out_dir: args.out.clone(),
        seed: args.seed,
        days: args.days,
        users: args.users,
        ..Default::default()
    };
    let summary = tokenwatch_replay::generate::generate(&options)?;
    if !cli.quiet {
        for (path, records) in &summary.files {
            eprintln!("generate: {} ({records} records)", path.display());
        }
        eprintln!(
            "generate: events={} scenarios={} (attacks={} benign={}) seed={}",
            summary.events, summary.scenarios, summary.attacks, summary.benign, args.seed
        );
    }
    Ok(())
}

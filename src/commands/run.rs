//! `tokenwatch run`: the Kafka service, until SIGTERM or Ctrl-C.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokenwatch_engine::config::InputTopic;
use tokenwatch_engine::metrics::Metrics;
use tokenwatch_engine::{Error, Settings, kafka, server};
use tokio::sync::watch;
use tracing::info;

use crate::cli::{Cli, RunArgs};

/// The settings with the command line's flags applied over them, checked again.
fn settings(cli: &Cli, args: &RunArgs) -> Result<Settings> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    let kafka = &mut settings.kafka;
    if let Some(brokers) = &args.brokers {
        kafka.brokers = brokers.clone();
    }
    if !args.inputs.is_empty() {
        let parsed: Result<Vec<InputTopic>, String> = args.inputs.iter().map(|text| InputTopic::parse(text)).collect();
        kafka.inputs = parsed.map_err(|problem| anyhow::anyhow!("--input {problem}"))?;
    }
    for (flag, target) in [
        (&args.alerts_topic, &mut kafka.alerts_topic),
        (&args.dead_letter_topic, &mut kafka.dead_letter_topic),
        (&args.group, &mut kafka.group_id),
        (&args.inventory_topic, &mut kafka.inventory_topic),
    ] {
        if let Some(value) = flag {
            *target = value.clone();
        }
    }
    if let Some(path) = &args.inventory {
        settings.detection.inventory = path.display().to_string();
    }
    if let Some(dir) = &args.rules {
        settings.detection.rules_dir = dir.display().to_string();
    }
    if let Some(dir) = &args.mappings {
        settings.normalize.mappings_dir = dir.display().to_string();
    }
    if let Some(dir) = &args.state_dir {
        settings.state.dir = dir.clone();
    }
    if let Some(listen) = &args.listen {
        settings.server.listen = listen.clone();
    }
    if let Some(threads) = args.threads {
        settings.replay.threads = threads;
    }
    settings.validate().map_err(|problems| Error::Config { file: cli.config.clone(), problems })?;
    if settings.kafka.inputs.is_empty() {
        bail!("no input topic: give --input SOURCE=TOPIC (or auto=TOPIC), or kafka.inputs in the configuration");
    }
    Ok(settings)
}

pub fn run(cli: &Cli, args: &RunArgs) -> Result<()> {
    let settings = settings(cli, args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tokenwatch")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let metrics = Arc::new(Metrics::new());
        let (stop, shutdown) = watch::channel(false);
        let server = if settings.server.listen.is_empty() {
            None
        } else {
            let (address, task) =
                server::serve(&settings.server.listen, Arc::clone(&metrics), shutdown.clone()).await?;
            info!(%address, "serving /metrics, /healthz and /readyz");
            Some(task)
        };
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("shutting down: draining, flushing, checkpointing, committing");
            stop.send_replace(true);
        });
        let report = kafka::run(settings, metrics, shutdown).await;
        if let Some(task) = server {
            task.abort();
        }
        let report = report?;
        if !cli.quiet {
            eprintln!(
                "run: records={} events={} dead_letters={} alerts={}",
                report.records, report.events, report.dead_letters, report.alerts
            );
        }
        Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

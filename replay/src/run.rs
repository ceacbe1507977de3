//! Running inputs through a [`Pipeline`] into a sink, with progress on a terminal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokenwatch_engine::{Pipeline, Sink};

use crate::Result;
use crate::input::{Input, RecordReader};

/// How to read the inputs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Inputs, replayed in the order given.
    pub inputs: Vec<Input>,
    /// Records normalised in parallel per chunk.
    pub chunk_records: usize,
    /// Show a progress bar (only drawn when standard error is a terminal).
    pub progress: bool,
}

/// Reads every input through `pipeline` into `sink`; returns the elapsed time.
pub fn run(pipeline: &mut Pipeline, sink: &mut dyn Sink, options: &RunOptions) -> Result<Duration> {
    let started = Instant::now();
    let total: Option<u64> = options.inputs.iter().map(Input::size).sum();
    let bar = progress_bar(options.progress, total);
    let consumed = Arc::new(AtomicU64::new(0));
    let mut chunk = Vec::with_capacity(options.chunk_records);
    for input in &options.inputs {
        let mut reader = RecordReader::open(input, Arc::clone(&consumed))?;
        loop {
            chunk.clear();
            let more = reader.read_chunk(options.chunk_records, &mut chunk)?;
            pipeline.process(&chunk, sink)?;
            let stats = pipeline.stats();
            bar.set_position(consumed.load(Ordering::Relaxed));
            bar.set_message(format!(
                "events {} dead letters {} alerts {}",
                stats.events,
                stats.dead_letter_total(),
                stats.alert_total()
            ));
            if !more {
                break;
            }
        }
    }
    pipeline.finish(sink)?;
    bar.finish_and_clear();
    Ok(started.elapsed())
}

fn progress_bar(enabled: bool, total: Option<u64>) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = if total.is_some() {
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec}) {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

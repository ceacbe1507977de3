//! Writing events, dead letters and alerts: JSON lines, or Parquet for events and alerts when the
//! path ends in `.parquet`. `-` is standard output.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use serde::Serialize;
use tokenwatch_engine::Sink;
use tokenwatch_schemas::arrow::{event_schema, events_to_batch};
use tokenwatch_schemas::{Alert, DeadLetter, Event};

use crate::arrow_alerts::{alert_schema, alerts_to_batch};
use crate::{Error, Result};

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file (created, or truncated).
    File(PathBuf),
}

impl Target {
    /// `-` is standard output.
    pub fn from_arg(arg: &Path) -> Self {
        if arg == Path::new("-") { Target::Stdout } else { Target::File(arg.to_path_buf()) }
    }

    fn path(&self) -> PathBuf {
        match self {
            Target::Stdout => PathBuf::from("-"),
            Target::File(path) => path.clone(),
        }
    }

    fn open(&self) -> Result<Box<dyn Write + Send>> {
        match self {
            Target::Stdout => Ok(Box::new(io::stdout())),
            Target::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| Error::Write { path: path.clone(), source })?;
                }
                let file = File::create(path).map_err(|source| Error::Write { path: path.clone(), source })?;
                Ok(Box::new(file))
            }
        }
    }
}

/// JSON lines, one value per line. With `lazy`, the file is created on the first write only (so
/// a run without dead letters leaves no empty dead-letter file behind).
pub struct JsonLines {
    target: Target,
    writer: Option<BufWriter<Box<dyn Write + Send>>>,
    written: u64,
    buffer: Vec<u8>,
}

impl std::fmt::Debug for JsonLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLines").field("target", &self.target).field("written", &self.written).finish()
    }
}

impl JsonLines {
    /// A writer to `target`; the file is created now unless `lazy`.
    pub fn new(target: Target, lazy: bool) -> Result<Self> {
        let mut lines = JsonLines { target, writer: None, written: 0, buffer: Vec::with_capacity(1024) };
        if !lazy {
            lines.ensure_open()?;
        }
        Ok(lines)
    }

    fn ensure_open(&mut self) -> Result<&mut BufWriter<Box<dyn Write + Send>>> {
        if self.writer.is_none() {
            self.writer = Some(BufWriter::with_capacity(256 * 1024, self.target.open()?));
        }
        Ok(self.writer.as_mut().unwrap_or_else(|| unreachable!("opened above")))
    }

    /// Writes one value as a line.
    pub fn write<T: Serialize>(&mut self, value: &T) -> Result<()> {
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, value)
            .map_err(|e| Error::Write { path: self.target.path(), source: e.into() })?;
        self.buffer.push(b'\n');
        let path = self.target.path();
        let buffer = std::mem::take(&mut self.buffer);
        let result = self.ensure_open()?.write_all(&buffer).map_err(|source| Error::Write { path, source });
        self.buffer = buffer;
        self.written += 1;
        result
    }

    /// Lines written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Flushes to the OS.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(writer) = &mut self.writer {
            writer.flush().map_err(|source| Error::Write { path: self.target.path(), source })?;
        }
        Ok(())
    }
}

/// Normalised events as JSON lines or Parquet.
pub enum EventOutput {
    /// One event per line.
    Json(JsonLines),
    /// A Parquet file with the event schema.
    Parquet {
        /// The file.
        path: PathBuf,
        /// The open writer (taken on close); boxed, it is large and there is one per run.
        writer: Option<Box<ArrowWriter<File>>>,
    },
}

impl std::fmt::Debug for EventOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventOutput::Json(lines) => lines.fmt(f),
            EventOutput::Parquet { path, .. } => f.debug_struct("Parquet").field("path", path).finish(),
        }
    }
}

impl EventOutput {
    /// Parquet when `target` is a file ending in `.parquet`, JSON lines otherwise.
    pub fn new(target: Target) -> Result<Self> {
        match &target {
            Target::File(path) if path.extension().is_some_and(|ext| ext == "parquet") => {
                let file = target.open_file()?;
                let properties =
                    WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
                let writer = ArrowWriter::try_new(file, event_schema(), Some(properties))
                    .map_err(|e| Error::Parquet { path: path.clone(), reason: e.to_string() })?;
                Ok(EventOutput::Parquet { path: path.clone(), writer: Some(Box::new(writer)) })
            }
            _ => Ok(EventOutput::Json(JsonLines::new(target, false)?)),
        }
    }

    /// Writes a batch of events.
    pub fn write(&mut self, events: &[Event]) -> Result<()> {
        match self {
            EventOutput::Json(lines) => events.iter().try_for_each(|event| lines.write(&event.to_record())),
            EventOutput::Parquet { path, writer } => {
                let batch = events_to_batch(events)
                    .map_err(|e| Error::Parquet { path: path.clone(), reason: e.to_string() })?;
                match writer {
                    Some(writer) => {
                        writer.write(&batch).map_err(|e| Error::Parquet { path: path.clone(), reason: e.to_string() })
                    }
                    None => Err(Error::Parquet { path: path.clone(), reason: "written after close".to_string() }),
                }
            }
        }
    }

    /// Finishes the output (writes the Parquet footer).
    pub fn close(&mut self) -> Result<()> {
        match self {
            EventOutput::Json(lines) => lines.flush(),
            EventOutput::Parquet { path, writer } => match writer.take() {
                Some(writer) => {
                    writer.close().map(|_| ()).map_err(|e| Error::Parquet { path: path.clone(), reason: e.to_string() })
                }
                None => Ok(()),
            },
        }
    }
}

impl Target {
    fn open_file(&self) -> Result<File> {
        let Target::File(path) = self else {
            return Err(Error::Write {
                path: PathBuf::from("-"),
                source: io::Error::other("Parquet needs a file, not standard output"),
            });
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| Error::Write { path: path.clone(), source })?;
        }
        File::create(path).map_err(|source| Error::Write { path: path.clone(), source })
    }
}

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertFormat {
    /// tokenwatch's alert JSON.
    #[default]
    Json,
    /// OCSF Detection Finding (class 2004).
    Ocsf,
}

/// Alerts as JSON lines, or Parquet (schema [`crate::arrow_alerts::alert_schema`]) when the target
/// is a file ending in `.parquet`. Like the JSON lines, the Parquet file holds every version of an
/// alert written (see suppression): keep the one with the highest `count` per `alert_id`.
pub enum AlertOutput {
    /// One alert per line.
    Json(JsonLines),
    /// A Parquet file.
    Parquet {
        /// The file.
        path: PathBuf,
        /// The open writer (taken on close).
        writer: Option<Box<ArrowWriter<File>>>,
        /// Alerts not yet written (written as one row group part per [`ALERT_ROWS_PER_BATCH`]).
        pending: Vec<Alert>,
    },
}

/// Alerts buffered before a Parquet batch is written.
pub const ALERT_ROWS_PER_BATCH: usize = 1024;

impl std::fmt::Debug for AlertOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlertOutput::Json(lines) => lines.fmt(f),
            AlertOutput::Parquet { path, pending, .. } => {
                f.debug_struct("Parquet").field("path", path).field("pending", &pending.len()).finish()
            }
        }
    }
}

impl AlertOutput {
    /// Parquet when `target` is a file ending in `.parquet`, JSON lines otherwise. OCSF findings
    /// are JSON only: asking for them in Parquet is an error.
    pub fn new(target: Target, format: AlertFormat) -> Result<Self> {
        match &target {
            Target::File(path) if path.extension().is_some_and(|ext| ext == "parquet") => {
                if format == AlertFormat::Ocsf {
                    return Err(Error::Parquet {
                        path: path.clone(),
                        reason: "OCSF findings are written as JSON lines only; use --alert-format json".to_string(),
                    });
                }
                let file = target.open_file()?;
                let properties =
                    WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
                let writer = ArrowWriter::try_new(file, alert_schema(), Some(properties))
                    .map_err(|e| Error::Parquet { path: path.clone(), reason: e.to_string() })?;
                Ok(AlertOutput::Parquet { path: path.clone(), writer: Some(Box::new(writer)), pending: Vec::new() })
            }
            _ => Ok(AlertOutput::Json(JsonLines::new(target, false)?)),
        }
    }

    /// Writes one alert (`format` applies to JSON lines).
    pub fn write(&mut self, alert: &Alert, format: AlertFormat) -> Result<()> {
        match self {
            AlertOutput::Json(lines) => match format {
                AlertFormat::Json => lines.write(alert),
                AlertFormat::Ocsf => lines.write(&alert.to_ocsf()),
            },
            AlertOutput::Parquet { pending, .. } => {
                pending.push(alert.clone());
                if pending.len() >= ALERT_ROWS_PER_BATCH { self.write_pending() } else { Ok(()) }
            }
        }
    }

    fn write_pending(&mut self) -> Result<()> {
        let AlertOutput::Parquet { path, writer, pending } = self else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let parquet_error = |e: &dyn std::fmt::Display| Error::Parquet { path: path.clone(), reason: e.to_string() };
        let batch = alerts_to_batch(pending).map_err(|e| parquet_error(&e))?;
        pending.clear();
        match writer {
            Some(writer) => writer.write(&batch).map_err(|e| parquet_error(&e)),
            None => Err(parquet_error(&"written after close")),
        }
    }

    /// Writes what is buffered and flushes to the OS (JSON lines), or finishes the file
    /// (Parquet: writes the footer; nothing can be written after).
    pub fn close(&mut self) -> Result<()> {
        self.write_pending()?;
        match self {
            AlertOutput::Json(lines) => lines.flush(),
            AlertOutput::Parquet { path, writer, .. } => match writer.take() {
                Some(writer) => {
                    writer.close().map(|_| ()).map_err(|e| Error::Parquet { path: path.clone(), reason: e.to_string() })
                }
                None => Ok(()),
            },
        }
    }
}

/// The sink of a file run: optional events, dead letters, optional alerts.
#[derive(Debug)]
pub struct FileSink {
    /// Normalised events, if asked for.
    pub events: Option<EventOutput>,
    /// Dead letters (created on the first one).
    pub dead_letters: JsonLines,
    /// Alerts, if asked for.
    pub alerts: Option<AlertOutput>,
    /// How alerts are written.
    pub alert_format: AlertFormat,
}

impl Sink for FileSink {
    fn events(&mut self, events: &[Event]) -> tokenwatch_engine::Result<()> {
        if let Some(output) = &mut self.events {
            output.write(events)?;
        }
        Ok(())
    }

    fn dead_letter(&mut self, letter: &DeadLetter) -> tokenwatch_engine::Result<()> {
        Ok(self.dead_letters.write(letter)?)
    }

    fn alert(&mut self, alert: &Alert) -> tokenwatch_engine::Result<()> {
        if let Some(alerts) = &mut self.alerts {
            alerts.write(alert, self.alert_format)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> tokenwatch_engine::Result<()> {
        if let Some(events) = &mut self.events {
            events.close()?;
        }
        self.dead_letters.flush()?;
        if let Some(alerts) = &mut self.alerts {
            alerts.close()?;
        }
        Ok(())
    }
}

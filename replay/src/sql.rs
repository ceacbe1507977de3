//! SQL over what was replayed: the normalised events and the alerts of a run, as DataFusion tables.
//!
//! [`SqlSession::register_events`] takes what `normalize --output` or `replay --events` wrote:
//! JSON lines (optionally gzipped, read into memory) or Parquet (a file or a folder of files, read
//! in place, so large replays are queried without loading them). Either way the table has the
//! same columns:
//!
//! - `events_flat`: the Arrow event schema ([`tokenwatch_schemas::arrow::event_schema`]), one
//!   column per field, location and origin flattened (`geo_country`, `origin_name`, …);
//! - `events`: a view over it that adds the JSON form's structs, so `geo.country`,
//!   `geo['city']`, `origin.file` and `origin.line` work as they read in the JSON lines.
//!
//! [`SqlSession::register_alerts`] takes what `replay --output` wrote, JSON lines or Parquet
//! ([`crate::arrow_alerts::alert_schema`]):
//!
//! - `alerts_log`: every alert version written (suppression writes an alert again, same
//!   `alert_id`, when its window closes);
//! - `alerts`: the final version of each alert (the highest `count` per `alert_id`), which is what
//!   counting alerts needs.
//!
//! `evidence` is the rule's evidence as JSON text. Results have no order unless the query says
//! `ORDER BY`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use flate2::read::MultiGzDecoder;
use tokenwatch_schemas::arrow::{EventBatchBuilder, event_schema};
use tokenwatch_schemas::event::EventRecord;
use tokenwatch_schemas::{Alert, Event};

use crate::arrow_alerts::{alert_schema, alerts_to_batch};
use crate::{Error, Result};

/// Rows per Arrow batch when JSON lines are read into memory.
const ROWS_PER_BATCH: usize = 8192;

/// The `events` view: the flat columns plus the JSON form's `geo` and `origin` structs.
const EVENTS_VIEW: &str = "CREATE VIEW events AS SELECT *, \
    CASE WHEN geo_from IS NULL THEN NULL ELSE named_struct('lat', geo_lat, 'lon', geo_lon, 'country', geo_country, \
        'city', geo_city, 'radius_km', geo_radius_km, 'from', geo_from) END AS geo, \
    named_struct(\
        'file', CASE WHEN origin_partition IS NULL THEN origin_name END, \
        'line', CASE WHEN origin_partition IS NULL THEN origin_offset END, \
        'topic', CASE WHEN origin_partition IS NOT NULL THEN origin_name END, \
        'partition', origin_partition, \
        'offset', CASE WHEN origin_partition IS NOT NULL THEN origin_offset END, \
        'index', origin_index) AS origin \
    FROM events_flat";

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResultFormat {
    /// A boxed text table.
    #[default]
    Table,
    /// CSV with a header line; lists and structs as their text form.
    Csv,
    /// One JSON object per row (JSON lines); null columns left out.
    Json,
}

/// A DataFusion session with tokenwatch's tables, and the runtime that executes its queries.
pub struct SqlSession {
    ctx: SessionContext,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for SqlSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlSession").finish_non_exhaustive()
    }
}

fn table_error(table: &'static str, path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Table { table, path: path.to_path_buf(), reason: reason.to_string() }
}

fn is_parquet(path: &Path) -> bool {
    path.is_dir() || path.extension().is_some_and(|ext| ext == "parquet")
}

impl SqlSession {
    /// A session with no table yet (`information_schema` on, so `SHOW TABLES` and `DESCRIBE`
    /// work). `threads` = 0: one per core.
    pub fn new(threads: usize) -> Result<Self> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.enable_all().thread_name("sql");
        if threads > 0 {
            builder.worker_threads(threads);
        }
        let runtime = builder.build().map_err(|e| Error::Query(format!("cannot start the query runtime: {e}")))?;
        let config = SessionConfig::new().with_information_schema(true);
        Ok(SqlSession { ctx: SessionContext::new_with_config(config), runtime })
    }

    /// The DataFusion context, for registering more tables.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers normalised events as `events_flat` and the `events` view.
    pub fn register_events(&self, path: &Path) -> Result<()> {
        const TABLE: &str = "events";
        if is_parquet(path) {
            self.register_parquet("events_flat", TABLE, path, &event_schema())?;
        } else {
            let batches = read_event_lines(path)?;
            let table = MemTable::try_new(event_schema(), vec![batches]).map_err(|e| table_error(TABLE, path, e))?;
            self.ctx.register_table("events_flat", Arc::new(table)).map_err(|e| table_error(TABLE, path, e))?;
        }
        self.execute(EVENTS_VIEW).map_err(|e| table_error(TABLE, path, e))?;
        Ok(())
    }

    /// Registers alerts as `alerts_log` (every version written) and the `alerts` view (the final
    /// version of each).
    pub fn register_alerts(&self, path: &Path) -> Result<()> {
        const TABLE: &str = "alerts";
        if is_parquet(path) {
            self.register_parquet("alerts_log", TABLE, path, &alert_schema())?;
        } else {
            let alerts = read_alert_lines(path)?;
            let batch = alerts_to_batch(&alerts).map_err(|e| table_error(TABLE, path, e))?;
            let table =
                MemTable::try_new(alert_schema(), vec![vec![batch]]).map_err(|e| table_error(TABLE, path, e))?;
            self.ctx.register_table("alerts_log", Arc::new(table)).map_err(|e| table_error(TABLE, path, e))?;
        }
        let columns: Vec<String> = alert_schema().fields().iter().map(|f| f.name().clone()).collect();
        let view = format!(
            "CREATE VIEW alerts AS SELECT {columns} FROM (SELECT *, row_number() OVER \
             (PARTITION BY alert_id ORDER BY count DESC, detected_at DESC) AS version_rank FROM alerts_log) \
             WHERE version_rank = 1",
            columns = columns.join(", ")
        );
        self.execute(&view).map_err(|e| table_error(TABLE, path, e))?;
        Ok(())
    }

    fn register_parquet(&self, name: &str, table: &'static str, path: &Path, expected: &SchemaRef) -> Result<()> {
        let location = path.to_str().ok_or_else(|| table_error(table, path, "the path is not UTF-8"))?;
        let location = if path.is_dir() { format!("{}/", location.trim_end_matches('/')) } else { location.into() };
        let options = ParquetReadOptions::default();
        self.runtime
            .block_on(self.ctx.register_parquet(name, &location, options))
            .map_err(|e| table_error(table, path, e))?;
        // A file of another shape would only fail later, on the first column a query names.
        let provider = self.runtime.block_on(self.ctx.table_provider(name)).map_err(|e| table_error(table, path, e))?;
        let schema = provider.schema();
        let missing: Vec<&str> = expected
            .fields()
            .iter()
            .filter(|field| schema.field_with_name(field.name()).is_err())
            .map(|field| field.name().as_str())
            .collect();
        if !missing.is_empty() {
            return Err(table_error(
                table,
                path,
                format!("not a tokenwatch {table} file: no column {}", missing.join(", ")),
            ));
        }
        Ok(())
    }

    fn execute(&self, sql: &str) -> Result<Vec<RecordBatch>, datafusion::error::DataFusionError> {
        self.runtime.block_on(async {
            let frame = self.ctx.sql(sql).await?;
            frame.collect().await
        })
    }

    /// Runs one SQL statement; returns the result's schema and rows.
    pub fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        self.runtime
            .block_on(async {
                let frame = self.ctx.sql(sql).await?;
                let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
                let batches = frame.collect().await?;
                Ok::<_, datafusion::error::DataFusionError>((schema, batches))
            })
            .map_err(|e| Error::Query(e.to_string()))
    }
}

fn open_lines(table: &'static str, path: &Path) -> Result<Box<dyn BufRead>> {
    let file = File::open(path).map_err(|e| table_error(table, path, e))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let gzipped = reader.fill_buf().map_err(|e| table_error(table, path, e))?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzipped { Box::new(BufReader::new(MultiGzDecoder::new(reader))) } else { Box::new(reader) })
}

fn for_each_line(
    table: &'static str,
    path: &Path,
    mut each: impl FnMut(u64, &str) -> std::result::Result<(), String>,
) -> Result<()> {
    let mut reader = open_lines(table, path)?;
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| table_error(table, path, e))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        each(number, text).map_err(|reason| table_error(table, path, format!("line {number}: {reason}")))?;
    }
}

/// Events written as JSON lines, as Arrow batches of the event schema.
pub fn read_event_lines(path: &Path) -> Result<Vec<RecordBatch>> {
    let mut builder = EventBatchBuilder::with_capacity(ROWS_PER_BATCH);
    let mut batches = Vec::new();
    let mut failure = None;
    for_each_line("events", path, |_, text| {
        let record: EventRecord = serde_json::from_str(text).map_err(|e| format!("not a tokenwatch event: {e}"))?;
        let time = record.time.clone();
        let event =
            Event::from_record(record).ok_or_else(|| format!("`time`: `{time}` is not an RFC 3339 timestamp"))?;
        builder.append(&event);
        if builder.len() >= ROWS_PER_BATCH {
            match builder.finish() {
                Ok(batch) => batches.push(batch),
                Err(error) => failure = Some(error.to_string()),
            }
        }
        Ok(())
    })?;
    if let Some(reason) = failure {
        return Err(table_error("events", path, reason));
    }
    if !builder.is_empty() {
        batches.push(builder.finish().map_err(|e| table_error("events", path, e))?);
    }
    Ok(batches)
}

/// Alerts written as JSON lines (tokenwatch's alert JSON; OCSF findings are not read), every
/// line, in file order.
pub fn read_alert_lines(path: &Path) -> Result<Vec<Alert>> {
    let mut alerts = Vec::new();
    for_each_line("alerts", path, |_, text| {
        let alert: Alert = serde_json::from_str(text)
            .map_err(|e| format!("not a tokenwatch alert (OCSF findings cannot be read back): {e}"))?;
        alerts.push(alert);
        Ok(())
    })?;
    Ok(alerts)
}

/// Writes query results in `format`. A table with no row still shows its header.
pub fn write_results(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: ResultFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let write_error = |e: &dyn std::fmt::Display| Error::Write {
        path: PathBuf::from("-"),
        source: std::io::Error::other(e.to_string()),
    };
    // Keep the I/O error itself (a closed pipe is not a failure of the query).
    let io_error = |source: std::io::Error| Error::Write { path: PathBuf::from("-"), source };
    let arrow_error = |error: ArrowError| match error {
        ArrowError::IoError(_, source) => io_error(source),
        other => write_error(&other),
    };
    match format {
        ResultFormat::Table => {
            let empty;
            let batches = if batches.is_empty() {
                empty = [RecordBatch::new_empty(Arc::clone(schema))];
                &empty[..]
            } else {
                batches
            };
            let table = datafusion::arrow::util::pretty::pretty_format_batches(batches).map_err(arrow_error)?;
            writeln!(out, "{table}").map_err(io_error)?;
        }
        ResultFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(&mut *out);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(flat_schema(schema))).map_err(arrow_error)?;
            }
            for batch in batches {
                writer.write(&flatten_for_csv(batch).map_err(arrow_error)?).map_err(arrow_error)?;
            }
        }
        ResultFormat::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch).map_err(arrow_error)?;
            }
            writer.finish().map_err(arrow_error)?;
        }
    }
    out.flush().map_err(io_error)
}

fn is_nested(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..)
            | DataType::Union(..)
    )
}

fn flat_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| if is_nested(f.data_type()) { Field::new(f.name(), DataType::Utf8, true) } else { f.as_ref().clone() })
        .collect();
    Arc::new(Schema::new(fields))
}

/// CSV has no lists or structs: they are written as their text form (`[a, b]`, `{lat: 1.0}`).
fn flatten_for_csv(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let options = FormatOptions::default();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for column in batch.columns() {
        if !is_nested(column.data_type()) {
            columns.push(Arc::clone(column));
            continue;
        }
        let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
        let text: StringArray = (0..column.len())
            .map(|row| if column.is_null(row) { None } else { Some(formatter.value(row).to_string()) })
            .collect();
        columns.push(Arc::new(text));
    }
    RecordBatch::try_new(flat_schema(&batch.schema()), columns)
}

/// Reads all of `reader` as text (for a query given as `-`, from standard input).
pub fn read_query(mut reader: impl Read) -> Result<String> {
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|source| Error::Read { path: PathBuf::from("-"), source })?;
    Ok(text)
}

#[cfg(test)]
mod tests;

//! `tokenwatch sql`: one SQL query over replayed events and alerts (`tokenwatch_replay::sql`),
//! printed as a table, CSV or JSON lines.

use std::io::ErrorKind;
use std::time::Instant;

use anyhow::{Result, bail};
use tokenwatch_replay::sql::{ResultFormat, SqlSession, read_query, write_results};

use crate::cli::{Cli, SqlArgs, SqlFormatArg};

/// Runs `tokenwatch sql`: registers the files as tables, runs the query, prints the result.
pub fn sql(cli: &Cli, args: &SqlArgs) -> Result<()> {
    if args.events.is_none() && args.alerts.is_none() {
        bail!("nothing to query: give --events PATH and/or --alerts PATH");
    }
    let query = if args.query == "-" { read_query(std::io::stdin().lock())? } else { args.query.clone() };
    let started = Instant::now();
    let session = SqlSession::new(args.threads)?;
    if let Some(events) = &args.events {
        session.register_events(events)?;
    }
    if let Some(alerts) = &args.alerts {
        session.register_alerts(alerts)?;
    }
    let (schema, batches) = session.query(&query)?;
    let format = match args.format {
        SqlFormatArg::Table => ResultFormat::Table,
        SqlFormatArg::Csv => ResultFormat::Csv,
        SqlFormatArg::Json => ResultFormat::Json,
    };
    let mut out = std::io::stdout().lock();
    match write_results(&schema, &batches, format, &mut out) {
        // `tokenwatch sql … | head`: the reader has what it wanted.
        Err(tokenwatch_replay::Error::Write { source, .. }) if source.kind() == ErrorKind::BrokenPipe => return Ok(()),
        result => result?,
    }
    if !cli.quiet {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        eprintln!("sql: rows={rows} elapsed={:.2}s", started.elapsed().as_secs_f64());
    }
    Ok(())
}

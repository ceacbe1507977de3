//! The `tokenwatch` binary: command-line entry point over the replay, engine, rules and schemas
//! crates.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match &cli.command {
        Command::Normalize(args) => commands::normalize(&cli, args),
        Command::Replay(args) => commands::replay(&cli, args),
        Command::Backtest(args) => commands::backtest::backtest(&cli, args),
        Command::Sql(args) => commands::sql::sql(&cli, args),
        Command::Run(args) => commands::run::run(&cli, args),
        Command::Sources(args) => commands::sources(&cli, args),
        Command::Generate(args) => commands::generate(&cli, args),
        Command::Fingerprint => commands::fingerprint(&cli),
        Command::Check(args) => commands::check::check(&cli, args),
        Command::Bench(args) => commands::bench::bench(&cli, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

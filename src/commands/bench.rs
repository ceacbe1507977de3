//! `tokenwatch bench`: generates the labelled corpus, measures this build on this machine against
//! a baseline measured in the same run, and prints a table or one JSON object. The measurements
//! are `tokenwatch_replay::bench`'s.

use anyhow::Result;
use tokenwatch_engine::Settings;
use tokenwatch_replay::bench::{self, BenchOptions};

use crate::cli::{BenchArgs, Cli};

pub fn bench(cli: &Cli, args: &BenchArgs) -> Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    let options = BenchOptions { quick: args.quick, work_dir: None, brokers: args.brokers.clone() };
    let quiet = cli.quiet;
    let mut progress = |step: &str| {
        if !quiet {
            eprintln!("bench: {step}");
        }
    };
    let report = bench::run(&settings, &options, &mut progress)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

//! Command-line interface definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// tokenwatch watches how OAuth tokens, sessions and API keys are used, and alerts when one is
/// abused.
#[derive(Debug, Parser)]
#[command(name = "tokenwatch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults and under TOKENWATCH__* environment variables.
    #[arg(long, global = true, value_name = "FILE", env = "TOKENWATCH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// No progress bar and no summary line.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Normalise log files into the tokenwatch event model (JSON lines or Parquet).
    Normalize(NormalizeArgs),
    /// Run log files through the whole pipeline and write alerts as JSON lines.
    ///
    /// With no --input, replays the sample logs bundled into the binary.
    Replay(ReplayArgs),
    /// List the source formats tokenwatch can read, built-in and from --mappings.
    Sources(SourcesArgs),
    /// Write a labelled synthetic dataset in real vendor formats: weeks of background traffic,
    /// injected attacks of every rule family, benign look-alikes, the inventory and the labels.
    Generate(GenerateArgs),
    /// Print the keyed fingerprint of a credential read from standard input, as it would appear
    /// in token_id (for filling the inventory).
    Fingerprint,
}

/// Options shared by the commands that read logs.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Source format of every input (see `tokenwatch sources`); default: detect each record's source from its shape.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,

    /// Folder of extra mapping files (*.toml) describing more JSON sources.
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,

    /// Worker threads for normalisation (default: replay.threads, 0 = one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Where records that cannot be normalised go, one JSON object per line with origin, reason
    /// and the (redacted) record. Created only if there is one.
    #[arg(long, value_name = "PATH", default_value = "dead-letters.jsonl")]
    pub dead_letter: PathBuf,
}

#[derive(Debug, Args)]
pub struct NormalizeArgs {
    /// Log files: .jsonl, .json (an object, an array or a {"Records": [...]} envelope), either gzipped; - for standard input.
    #[arg(long, short, value_name = "PATH", required = true, num_args = 1..)]
    pub input: Vec<String>,

    /// Where normalised events go: JSON lines, or Parquet when the name ends in .parquet; - for standard output.
    #[arg(long, short, value_name = "PATH", default_value = "-")]
    pub output: PathBuf,

    #[command(flatten)]
    pub common: InputArgs,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Log files (as for normalize). Default: the bundled sample logs.
    #[arg(long, short, value_name = "PATH", num_args = 1..)]
    pub input: Vec<String>,

    /// Where alerts go, one JSON object per line; - for standard output.
    #[arg(long, short, value_name = "PATH", default_value = "-")]
    pub output: PathBuf,

    /// Also write the normalised events here (JSON lines, or Parquet for .parquet).
    #[arg(long, value_name = "PATH")]
    pub events: Option<PathBuf>,

    /// Token inventory: JSON lines, or CSV when the name ends in .csv (default: detection.inventory).
    #[arg(long, value_name = "PATH")]
    pub inventory: Option<PathBuf>,

    /// Folder of rule files (<rule>.toml) replacing the built-in ones rule by rule.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// How alerts are written.
    #[arg(long, value_enum, default_value_t = AlertFormatArg::Json)]
    pub alert_format: AlertFormatArg,

    #[command(flatten)]
    pub common: InputArgs,
}

/// Alert output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlertFormatArg {
    /// tokenwatch's alert JSON.
    Json,
    /// OCSF Detection Finding (class 2004).
    Ocsf,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write the dataset into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Random seed: the same seed and sizes give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Days of traffic.
    #[arg(long, default_value_t = 42)]
    pub days: u32,

    /// Users (the dataset's scale).
    #[arg(long, default_value_t = 120)]
    pub users: u32,
}

#[derive(Debug, Args)]
pub struct SourcesArgs {
    /// Folder of extra mapping files to list as well.
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,
}

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
    /// Run the Kafka service: consume log topics, normalise, detect, and produce alerts, until
    /// SIGTERM or Ctrl-C (then drain, checkpoint and commit).
    Run(RunArgs),
    /// Backtest rules on labelled logs: replay them through the rules under test (and, with
    /// --baseline-rules, a baseline rule set in the same pass), then print recall and precision per
    /// rule family, the alerts gained and lost per rule, alert counts per rule, source and day and
    /// the noisiest tokens; --report writes a self-contained HTML page with charts.
    Backtest(BacktestArgs),
    /// Run one SQL query over replayed events and alerts (JSON lines or Parquet, as normalize,
    /// replay --events and replay --output write them), as the tables events and alerts.
    Sql(SqlArgs),
    /// List the source formats tokenwatch can read, built-in and from --mappings.
    Sources(SourcesArgs),
    /// Write a labelled synthetic dataset in real vendor formats: weeks of background traffic,
    /// injected attacks of every rule family, benign look-alikes, the inventory and the labels.
    Generate(GenerateArgs),
    /// Print the keyed fingerprint of a credential read from standard input, as it would appear
    /// in token_id (for filling the inventory).
    Fingerprint,
    /// Check the configuration and the rule, mapping and inventory files, IP database and state
    /// directory it names, offline; every problem is listed (file, field, reason) and the exit
    /// status is 1 if there is any.
    Check(CheckArgs),
    /// Measure this build on this machine: generates the labelled corpus, then measures raw JSON
    /// parsing (the baseline), full replay on one thread and on every core, detection alone and
    /// memory per tracked token, in the same run.
    Bench(BenchArgs),
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

    /// Where alerts go: JSON lines, or Parquet when the name ends in .parquet (for `tokenwatch sql`); -
    /// for standard output.
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

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Folder of rule files to check instead of detection.rules_dir.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A smaller corpus and one round per figure (well under a minute; noisier figures).
    #[arg(long)]
    pub quick: bool,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Kafka bootstrap servers, host:port[,host:port...]: also measure raw consumption, `tokenwatch
    /// run` end to end and event-to-alert latency at 70% load, on topics named tokenwatch-bench-*.
    #[arg(long, value_name = "HOSTS")]
    pub brokers: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Kafka bootstrap servers, host:port[,host:port...] (kafka.brokers).
    #[arg(long, value_name = "HOSTS")]
    pub brokers: Option<String>,

    /// An input topic and the source its records are read as, SOURCE=TOPIC; auto=TOPIC detects each
    /// record's source from its shape. Repeatable; replaces kafka.inputs.
    #[arg(long = "input", short, value_name = "SOURCE=TOPIC")]
    pub inputs: Vec<String>,

    /// Topic the alerts go to (kafka.alerts_topic).
    #[arg(long, value_name = "TOPIC")]
    pub alerts_topic: Option<String>,

    /// Topic the records that cannot be normalised go to (kafka.dead_letter_topic).
    #[arg(long, value_name = "TOPIC")]
    pub dead_letter_topic: Option<String>,

    /// Consumer group shared by every instance (kafka.group_id).
    #[arg(long, value_name = "ID")]
    pub group: Option<String>,

    /// Token inventory file: JSON lines, or CSV for .csv (detection.inventory).
    #[arg(long, value_name = "PATH")]
    pub inventory: Option<PathBuf>,

    /// Compacted topic of inventory records, followed live (kafka.inventory_topic).
    #[arg(long, value_name = "TOPIC")]
    pub inventory_topic: Option<String>,

    /// Directory of this instance's checkpoints (state.dir).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Folder of rule files (<rule>.toml) replacing the built-in ones rule by rule.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// Folder of extra mapping files (*.toml) describing more JSON sources.
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,

    /// Address of the HTTP endpoint for /metrics, /healthz and /readyz (server.listen).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Worker threads for normalisation (default: replay.threads, 0 = one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Log files to replay (as for replay). An input that is the --inventory or --labels file is
    /// skipped, so a generated dataset can be given whole (DIR/*.json*).
    #[arg(long, short, value_name = "PATH", required = true, num_args = 1..)]
    pub input: Vec<String>,

    /// Token inventory: JSON lines, or CSV when the name ends in .csv.
    #[arg(long, value_name = "PATH")]
    pub inventory: PathBuf,

    /// Scenario labels, one JSON object per line as generate writes them ({"scenario", "kind":
    /// "attack"|"benign", "family", "token_id", "event_ids"}): adds recall, precision, alerts on
    /// benign look-alikes and unexplained alerts per rule family.
    #[arg(long, value_name = "PATH")]
    pub labels: Option<PathBuf>,

    /// Folder of the rule files under test (<rule>.toml, replacing the built-in ones rule by rule;
    /// default: detection.rules_dir).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// Folder of baseline rule files, run over the same events in the same pass; prints the alerts
    /// gained and lost per rule, with examples. An empty folder is the built-in rules.
    #[arg(long, value_name = "DIR")]
    pub baseline_rules: Option<PathBuf>,

    /// Write a self-contained HTML report (index.html: tables and SVG charts, nothing fetched)
    /// into this folder.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// Example alerts printed per rule for each of gained and lost.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub examples: usize,

    /// How many of the noisiest tokens to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top_tokens: usize,

    #[command(flatten)]
    pub common: InputArgs,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// One SQL statement (DataFusion's dialect); - reads it from standard input. Tables: events
    /// (geo.country, origin.file, … work as in the JSON lines), events_flat (the Parquet columns:
    /// geo_country, origin_name, …), alerts (the final version of each alert) and alerts_log
    /// (every version written).
    #[arg(value_name = "QUERY")]
    pub query: String,

    /// Normalised events: JSON lines (gzipped or not) or Parquet (a file or a folder of files), as
    /// normalize and replay --events write them.
    #[arg(long, value_name = "PATH")]
    pub events: Option<PathBuf>,

    /// Alerts: JSON lines or Parquet, as replay --output writes them (tokenwatch JSON, not OCSF).
    #[arg(long, value_name = "PATH")]
    pub alerts: Option<PathBuf>,

    /// How results are printed.
    #[arg(long, value_enum, default_value_t = SqlFormatArg::Table)]
    pub format: SqlFormatArg,

    /// Threads running the query (0 = one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
}

/// How `sql` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlFormatArg {
    /// A text table.
    Table,
    /// CSV with a header line (lists and structs as text).
    Csv,
    /// One JSON object per row.
    Json,
}

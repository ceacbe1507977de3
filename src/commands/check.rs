//! `tokenwatch check`: validates, offline, the configuration `run` and `replay` would use and
//! every file it names, and reports every problem at once.
//!
//! What is checked: the settings (the built-in defaults, `--config` and `TOKENWATCH__*`
//! environment variables, as every command layers them), the mapping folder, the source names the
//! settings use, the rule files, the fingerprint key file, the inventory file, the IP database
//! (when `geo.required`), the files named by `kafka.properties.*.location`, and whether the state
//! directory can be written. Nothing is connected to and nothing is created. When the settings
//! themselves are invalid, the files they name are still checked, so one run lists everything.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use config::{Config, Environment, File, FileFormat};
use tokenwatch_engine::config::{DEFAULT_TOML, ENV_PREFIX, InputTopic};
use tokenwatch_engine::{Settings, setup};

use crate::cli::{CheckArgs, Cli};

/// What a check found: problems with settings (one line per field, shown together under the
/// configuration file), problems with the other files (each an error naming its file and field),
/// warnings, and one line per part that passed.
#[derive(Debug, Default)]
struct Report {
    settings: Vec<String>,
    problems: Vec<String>,
    warnings: Vec<String>,
    passed: Vec<(&'static str, String)>,
}

impl Report {
    /// Records an error; errors that gather several files' errors count as one problem per file.
    fn problem(&mut self, error: tokenwatch_engine::Error) {
        use tokenwatch_engine::Error as EngineError;
        match error {
            EngineError::Rules(tokenwatch_rules::Error::RuleFiles(errors)) => {
                self.problems.extend(errors.iter().map(ToString::to_string));
            }
            EngineError::Schemas(tokenwatch_schemas::Error::Mappings(errors)) => {
                self.problems.extend(errors.iter().map(ToString::to_string));
            }
            EngineError::Config { problems, .. } => self.settings.extend(problems),
            other => self.problems.push(other.to_string()),
        }
    }

    /// Every problem, those with settings first, worded as the engine words them.
    fn into_problems(self, file: Option<&Path>) -> Vec<String> {
        let mut all = Vec::new();
        if !self.settings.is_empty() {
            let file = file.map(Path::to_path_buf);
            all.push(tokenwatch_engine::Error::Config { file, problems: self.settings }.to_string());
        }
        all.extend(self.problems);
        all
    }

    fn pass(&mut self, part: &'static str, detail: String) {
        self.passed.push((part, detail));
    }
}

pub fn check(cli: &Cli, args: &CheckArgs) -> Result<()> {
    let config_file = cli.config.as_deref();
    let mut report = Report::default();
    let mut settings = match Settings::load(config_file) {
        Ok(settings) => {
            let origin = config_file.map_or("built-in defaults".to_string(), |file| format!("{}", file.display()));
            report.pass("settings", format!("{origin} (with TOKENWATCH__* environment overrides)"));
            settings
        }
        Err(error) => {
            report.problem(error);
            settings_named_by(config_file)?
        }
    };
    if let Some(rules) = &args.rules {
        settings.detection.rules_dir = rules.display().to_string();
    }

    check_sources(&settings, &mut report);
    check_rules(&settings, &mut report);

    let mut warnings = setup::Warnings::default();
    if let Err(error) = setup::fingerprinter(&settings, &mut warnings) {
        report.problem(error);
    }
    check_inventory(&settings, &mut report);
    match setup::geo(&settings, &mut warnings) {
        Ok(Some(database)) => {
            let files: Vec<String> = database.paths().map(|path| path.display().to_string()).collect();
            report.pass("ip database", files.join(", "));
        }
        Ok(None) => report.pass("ip database", "none (events get a location only from their own records)".to_string()),
        Err(error) => report.problem(error),
    }
    report.warnings.extend(warnings.0);

    let mut problems = Vec::new();
    for (key, value) in settings.kafka.client_properties() {
        // librdkafka's `ssl.ca.location = "probe"` searches the system's CA stores.
        if key.ends_with(".location") && !value.is_empty() && value != "probe" && !Path::new(&value).exists() {
            problems.push(format!("`kafka.properties.{key}`: `{value}` not found"));
        }
    }
    match writable_dir(&settings.state.dir) {
        Ok(detail) => report.pass("state", detail),
        Err(problem) => problems.push(problem),
    }
    report.settings.extend(problems);

    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if report.settings.is_empty() && report.problems.is_empty() {
        println!("check: OK");
        let width = report.passed.iter().map(|(part, _)| part.len()).max().unwrap_or(0);
        for (part, detail) in &report.passed {
            println!("  {part:<width$}  {detail}");
        }
        return Ok(());
    }
    let problems = report.into_problems(config_file);
    let count = problems.len();
    let mut message = format!("check found {count} problem{}:", if count == 1 { "" } else { "s" });
    for (index, problem) in problems.iter().enumerate() {
        let _ = write!(message, "\n{}. {}", index + 1, problem.replace('\n', "\n   "));
    }
    Err(anyhow!(message))
}

/// Settings that failed to load or validate: the built-in defaults with the paths and names the
/// configuration sets, read leniently, so the files they name are checked too.
fn settings_named_by(file: Option<&Path>) -> Result<Settings> {
    let mut settings = Settings::defaults()?;
    let mut builder = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
    if let Some(path) = file.filter(|path| path.exists()) {
        builder = builder.add_source(File::from(path).format(FileFormat::Toml));
    }
    let environment = Environment::with_prefix(ENV_PREFIX)
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("geo.databases");
    let Ok(raw) = builder.add_source(environment).build() else {
        return Ok(settings);
    };
    let text = |key: &str| raw.get_string(key).ok();
    if let Some(value) = text("normalize.source") {
        settings.normalize.source = value;
    }
    if let Some(value) = text("normalize.mappings_dir") {
        settings.normalize.mappings_dir = value;
    }
    if let Some(value) = text("detection.rules_dir") {
        settings.detection.rules_dir = value;
    }
    if let Some(value) = text("detection.inventory") {
        settings.detection.inventory = value;
    }
    if let Some(value) = text("secrets.fingerprint_key") {
        settings.secrets.fingerprint_key = value;
    }
    if let Some(value) = text("secrets.fingerprint_key_file") {
        settings.secrets.fingerprint_key_file = value;
    }
    if let Ok(value) = raw.get::<Vec<PathBuf>>("geo.databases") {
        settings.geo.databases = value;
    }
    if let Ok(value) = raw.get_bool("geo.required") {
        settings.geo.required = value;
    }
    if let Ok(value) = raw.get::<Vec<InputTopic>>("kafka.inputs") {
        settings.kafka.inputs = value;
    }
    if let Ok(value) = raw.get("kafka.properties") {
        settings.kafka.properties = value;
    }
    if let Some(value) = text("state.dir") {
        settings.state.dir = PathBuf::from(value);
    }
    Ok(settings)
}

/// The mapping folder, and every source name the settings use.
fn check_sources(settings: &Settings, report: &mut Report) {
    // When the mapping folder does not load, names are checked against the built-in layouts.
    let (registry, note) = match setup::registry(settings) {
        Ok(registry) => (registry, ""),
        Err(error) => {
            report.problem(error);
            match tokenwatch_schemas::SourceRegistry::builtin() {
                Ok(builtin) => (builtin, " (built-in only: the mapping folder did not load)"),
                Err(error) => return report.problem(error.into()),
            }
        }
    };
    let known = registry.source_names();
    let unknown =
        |name: &str| -> String { format!("unknown source `{name}`; known sources{note}: auto, {}", known.join(", ")) };
    let mut problems = Vec::new();
    let source = settings.normalize.source.as_str();
    if !source.is_empty() && !known.contains(&source) {
        problems.push(format!("`normalize.source`: {}", unknown(source)));
    }
    for (index, input) in settings.kafka.inputs.iter().enumerate() {
        if input.source != "auto" && !known.contains(&input.source.as_str()) {
            problems.push(format!(
                "`kafka.inputs[{index}].source` (topic `{}`): {}",
                input.topic,
                unknown(&input.source)
            ));
        }
    }
    report.settings.extend(problems);
    if !note.is_empty() {
        return;
    }
    let extra = registry.mappings().iter().filter(|mapping| !mapping.file.starts_with("builtin:")).count();
    let mut detail = format!("{} layouts of {} sources", registry.mappings().len(), known.len());
    if extra > 0 {
        let _ = write!(detail, " ({extra} from {})", settings.normalize.mappings_dir);
    }
    report.pass("sources", detail);
}

fn check_rules(settings: &Settings, report: &mut Report) {
    match setup::rules(settings) {
        Ok(rules) => {
            let enabled = [
                ("impossible_travel", rules.impossible_travel.enabled),
                ("token_reuse", rules.token_reuse.enabled),
                ("burst", rules.burst.enabled),
                ("scope_escalation", rules.scope_escalation.enabled),
                ("revoked_token_use", rules.revoked_token_use.enabled),
                ("expired_token_use", rules.expired_token_use.enabled),
                ("uninventoried_token", rules.uninventoried_token.enabled),
                ("dormant_token_use", rules.dormant_token_use.enabled),
            ];
            let on: Vec<&str> = enabled.iter().filter(|(_, on)| *on).map(|(rule, _)| *rule).collect();
            let off: Vec<&str> = enabled.iter().filter(|(_, on)| !*on).map(|(rule, _)| *rule).collect();
            let origin = match settings.detection.rules_dir.as_str() {
                "" => "built-in".to_string(),
                dir => format!("{dir} over the built-in ones"),
            };
            let mut detail = format!("{} of {} enabled ({origin})", on.len(), enabled.len());
            if !off.is_empty() {
                let _ = write!(detail, "; disabled: {}", off.join(", "));
            }
            report.pass("rules", detail);
        }
        Err(error) => report.problem(error),
    }
}

fn check_inventory(settings: &Settings, report: &mut Report) {
    if !settings.kafka.inventory_topic.is_empty() {
        report.pass("inventory", format!("topic {} (read at start-up)", settings.kafka.inventory_topic));
    }
    if settings.detection.inventory.is_empty() {
        if settings.kafka.inventory_topic.is_empty() {
            report.pass("inventory", "none (every token is uninventoried)".to_string());
        }
        return;
    }
    match setup::inventory(settings) {
        Ok(inventory) => {
            let records = inventory.len();
            let plural = if records == 1 { "" } else { "s" };
            report.pass("inventory", format!("{} ({records} record{plural})", settings.detection.inventory));
        }
        Err(error) => report.problem(error),
    }
}

/// Whether `dir` can be written: it exists and takes a new file, or its nearest existing ancestor
/// does (so it can be created). Nothing is left behind.
fn writable_dir(dir: &Path) -> std::result::Result<String, String> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    let shown = dir.display();
    if !existing.is_dir() {
        return Err(format!("`state.dir`: `{}` is not a directory", existing.display()));
    }
    let probe = existing.join(format!(".tokenwatch-check-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(if existing == dir {
                format!("{shown} (writable)")
            } else {
                format!("{shown} (will be created in {})", existing.display())
            })
        }
        Err(error) => Err(format!("`state.dir`: cannot write in `{}`: {error}", existing.display())),
    }
}

//! Engine settings, layered with the `config` crate: the embedded `default.toml` → a file given
//! with `--config` → environment variables `TOKENWATCH__SECTION__KEY`.
//!
//! Parsing rejects unknown keys and wrong types naming the key; [`Settings::validate`] then checks
//! values without any I/O and reports every problem at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::{Error, Result};

/// The embedded defaults (`engine/default.toml`).
pub const DEFAULT_TOML: &str = include_str!("../default.toml");

/// Prefix of environment overrides: `TOKENWATCH__BATCH__SIZE=512`.
pub const ENV_PREFIX: &str = "TOKENWATCH";

/// Every engine setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How records become events.
    pub normalize: NormalizeSettings,
    /// The key for fingerprinting credentials.
    pub secrets: SecretSettings,
    /// IP geolocation.
    pub geo: GeoSettings,
    /// Arrow batching.
    pub batch: BatchSettings,
    /// File replay.
    pub replay: ReplaySettings,
    /// Rules, inventory and event-time ordering.
    pub detection: DetectionSettings,
    /// Kafka topics and client properties (`tokenwatch run`).
    pub kafka: KafkaSettings,
    /// Checkpoints of `tokenwatch run`.
    pub state: StateSettings,
    /// The HTTP endpoint of `tokenwatch run` (metrics and health).
    pub server: ServerSettings,
}

/// `[normalize]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeSettings {
    /// Source every input is read as; empty detects each record's source from its shape.
    pub source: String,
    /// Folder of extra mapping files; empty for none.
    pub mappings_dir: String,
    /// Largest record accepted, in bytes.
    pub max_record_bytes: usize,
}

/// `[secrets]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSettings {
    /// HMAC key for fingerprints.
    pub fingerprint_key: String,
    /// File whose first line is the key.
    pub fingerprint_key_file: String,
}

impl std::fmt::Debug for SecretSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSettings")
            .field("fingerprint_key", &if self.fingerprint_key.is_empty() { "" } else { "<redacted>" })
            .field("fingerprint_key_file", &self.fingerprint_key_file)
            .finish()
    }
}

/// `[geo]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoSettings {
    /// City database files.
    pub databases: Vec<PathBuf>,
    /// Whether a missing database is an error.
    pub required: bool,
    /// Accuracy assumed when the database gives none, in km.
    pub default_radius_km: f32,
    /// Cached look-ups.
    pub cache_entries: usize,
}

/// `[batch]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSettings {
    /// Events per batch.
    pub size: usize,
    /// Longest wait of an incomplete batch.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
}

/// `[replay]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaySettings {
    /// Records per parallel chunk.
    pub chunk_records: usize,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
}

/// `[detection]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionSettings {
    /// Folder of rule files replacing the built-in ones; empty for none.
    pub rules_dir: String,
    /// Inventory file; empty for none.
    pub inventory: String,
    /// Reorder bound.
    #[serde(with = "humantime_serde")]
    pub lateness: Duration,
    /// Token partitions judged in parallel; 0 = one per core.
    pub shards: usize,
    /// Idle time after which a token is forgotten.
    #[serde(with = "humantime_serde")]
    pub idle_evict: Duration,
}

/// `[kafka]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port[,host:port…]`.
    pub brokers: String,
    /// Consumer group of the input topics; the detection stage uses `<group_id>.detect`.
    pub group_id: String,
    /// Static group membership (`group.instance.id`): a stable name per instance, such as the
    /// pod name of a StatefulSet, so a restarted instance takes its partitions back at once
    /// instead of after the session timeout. Empty: dynamic membership.
    #[serde(default)]
    pub instance_id: String,
    /// Topics of logs, each read as one source (`auto` detects each record's source).
    pub inputs: Vec<InputTopic>,
    /// Where alerts go (JSON, key = inventory id or token id).
    pub alerts_topic: String,
    /// Where records that cannot be normalised go, with the reason and their origin.
    pub dead_letter_topic: String,
    /// Internal topic of normalised events keyed by token (the re-keying stage).
    pub events_topic: String,
    /// Partitions of `events_topic` when tokenwatch creates it: the most detection instances
    /// that can share the work.
    pub events_partitions: i32,
    /// Replication factor of the topics tokenwatch creates.
    pub replication_factor: i32,
    /// Whether missing topics are created at start-up.
    pub create_topics: bool,
    /// Compacted topic of inventory records (JSON, as in an inventory file; a null value removes
    /// the record keyed by its inventory id). Empty: none.
    pub inventory_topic: String,
    /// Records per processing chunk of the input stage.
    pub chunk_records: usize,
    /// Longest wait for a chunk to fill before it is processed.
    #[serde(with = "humantime_serde")]
    pub chunk_linger: Duration,
    /// Produced records awaiting the broker's acknowledgement beyond which consumption pauses.
    pub max_in_flight: usize,
    /// librdkafka properties passed to every client (`security.protocol`, `sasl.username`, …).
    /// Through the environment, `_` in a key stands for `.`:
    /// `TOKENWATCH__KAFKA__PROPERTIES__SASL_PASSWORD` sets `sasl.password`.
    #[serde(default)]
    pub properties: std::collections::BTreeMap<String, serde_json::Value>,
}

/// One input topic and the source its records are read as.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InputTopic {
    /// Topic name.
    pub topic: String,
    /// Source name (see `tokenwatch sources`), or `auto`.
    #[serde(default = "auto_source")]
    pub source: String,
}

fn auto_source() -> String {
    "auto".to_string()
}

impl InputTopic {
    /// Parses `SOURCE=TOPIC` (a bare `TOPIC` means `auto=TOPIC`).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let (source, topic) = text.split_once('=').unwrap_or(("auto", text));
        if topic.trim().is_empty() || source.trim().is_empty() {
            return Err(format!("`{text}`: expected SOURCE=TOPIC, e.g. okta=okta-logs or auto=logs"));
        }
        Ok(InputTopic { topic: topic.trim().to_string(), source: source.trim().to_string() })
    }
}

/// Property names whose values are never shown.
fn is_secret_property(name: &str) -> bool {
    ["password", "secret", "key", "token", "jaas"].iter().any(|word| name.contains(word))
        && !name.ends_with(".location")
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties: std::collections::BTreeMap<String, String> = self
            .client_properties()
            .into_iter()
            .map(|(k, v)| {
                let shown = if is_secret_property(&k) { "<redacted>".to_string() } else { v };
                (k, shown)
            })
            .collect();
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("group_id", &self.group_id)
            .field("instance_id", &self.instance_id)
            .field("inputs", &self.inputs)
            .field("alerts_topic", &self.alerts_topic)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("events_topic", &self.events_topic)
            .field("inventory_topic", &self.inventory_topic)
            .field("properties", &properties)
            .finish_non_exhaustive()
    }
}

impl KafkaSettings {
    /// The librdkafka properties, keys with `.` (see [`KafkaSettings::properties`]) and values
    /// as text.
    pub fn client_properties(&self) -> Vec<(String, String)> {
        self.properties
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (key.replace('_', "."), value)
            })
            .collect()
    }

    fn problems(&self, problems: &mut Vec<String>) {
        if self.brokers.trim().is_empty() {
            problems.push("`kafka.brokers`: must name at least one broker (host:port)".to_string());
        }
        if self.group_id.trim().is_empty() {
            problems.push("`kafka.group_id`: must not be empty".to_string());
        }
        for (name, topic) in [
            ("alerts_topic", &self.alerts_topic),
            ("dead_letter_topic", &self.dead_letter_topic),
            ("events_topic", &self.events_topic),
        ] {
            if !is_topic_name(topic) {
                problems.push(format!("`kafka.{name}`: `{topic}` is not a valid topic name"));
            }
        }
        for (index, input) in self.inputs.iter().enumerate() {
            if !is_topic_name(&input.topic) {
                problems.push(format!("`kafka.inputs[{index}].topic`: `{}` is not a valid topic name", input.topic));
            }
            if [&self.alerts_topic, &self.dead_letter_topic, &self.events_topic].contains(&&input.topic) {
                problems.push(format!(
                    "`kafka.inputs[{index}].topic`: `{}` is also an output topic of tokenwatch",
                    input.topic
                ));
            }
        }
        if !self.inventory_topic.is_empty() && !is_topic_name(&self.inventory_topic) {
            problems.push(format!("`kafka.inventory_topic`: `{}` is not a valid topic name", self.inventory_topic));
        }
        if self.events_partitions < 1 {
            problems.push(format!("`kafka.events_partitions`: {} must be at least 1", self.events_partitions));
        }
        if self.replication_factor < 1 {
            problems.push(format!("`kafka.replication_factor`: {} must be at least 1", self.replication_factor));
        }
        if self.chunk_records == 0 {
            problems.push("`kafka.chunk_records`: must be at least 1".to_string());
        }
        if self.chunk_linger.is_zero() {
            problems.push("`kafka.chunk_linger`: must be longer than 0s".to_string());
        }
        if self.max_in_flight == 0 {
            problems.push("`kafka.max_in_flight`: must be at least 1".to_string());
        }
        for (key, value) in &self.properties {
            if matches!(value, serde_json::Value::Array(_) | serde_json::Value::Object(_) | serde_json::Value::Null) {
                problems.push(format!("`kafka.properties.{key}`: must be a string, number or boolean"));
            }
        }
        for (key, _) in self.client_properties() {
            if MANAGED_PROPERTIES.contains(&key.as_str()) {
                problems.push(format!(
                    "`kafka.properties.{key}`: set by tokenwatch for its delivery guarantees and cannot be overridden"
                ));
            }
        }
    }
}

/// librdkafka properties tokenwatch sets itself (offsets move only with checkpoints and acks).
pub const MANAGED_PROPERTIES: &[&str] = &[
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.idempotence",
    "bootstrap.servers",
    "partition.assignment.strategy",
];

/// Kafka's rule for topic names: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn is_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `[state]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// Checkpoint directory.
    pub dir: PathBuf,
    /// Time between checkpoints.
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address of the HTTP endpoint (`/metrics`, `/healthz`, `/readyz`); empty: no endpoint.
    pub listen: String,
    /// Longest time a shutdown (drain, flush, checkpoint, commit) may take.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

/// The development key used when none is configured. Public, so fingerprints made with it protect
/// nothing against someone who has the logs and this source code.
const DEVELOPMENT_KEY: &str = "tokenwatch-development-fingerprint-key-change-me";

impl Settings {
    /// Loads the defaults, then `file` (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                return Err(Error::Config {
                    file: Some(path.to_path_buf()),
                    problems: vec!["file not found".to_string()],
                });
            }
            builder = builder.add_source(File::from(path).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix(ENV_PREFIX)
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("geo.databases"),
        );
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|error| Error::Config { file: file.map(Path::to_path_buf), problems: vec![error.to_string()] })?;
        settings.validate().map_err(|problems| Error::Config { file: file.map(Path::to_path_buf), problems })?;
        Ok(settings)
    }

    /// The built-in defaults alone (no file, no environment).
    pub fn defaults() -> Result<Self> {
        Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|error| Error::Config { file: None, problems: vec![error.to_string()] })
    }

    /// Checks values; every problem is reported, each naming its setting.
    pub fn validate(&self) -> std::result::Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.normalize.max_record_bytes < 1024 {
            problems.push(format!(
                "`normalize.max_record_bytes`: {} is below the minimum of 1024",
                self.normalize.max_record_bytes
            ));
        }
        if !self.secrets.fingerprint_key.is_empty() && self.secrets.fingerprint_key.len() < 16 {
            problems.push("`secrets.fingerprint_key`: must be at least 16 characters".to_string());
        }
        if !self.secrets.fingerprint_key.is_empty() && !self.secrets.fingerprint_key_file.is_empty() {
            problems
                .push("`secrets.fingerprint_key` and `secrets.fingerprint_key_file`: set one, not both".to_string());
        }
        if !(self.geo.default_radius_km > 0.0 && self.geo.default_radius_km <= 20_000.0) {
            problems
                .push(format!("`geo.default_radius_km`: {} must be between 0 and 20000", self.geo.default_radius_km));
        }
        if self.geo.cache_entries == 0 {
            problems.push("`geo.cache_entries`: must be at least 1".to_string());
        }
        if self.batch.size == 0 || self.batch.size > 1_048_576 {
            problems.push(format!("`batch.size`: {} must be between 1 and 1048576", self.batch.size));
        }
        if self.batch.linger.is_zero() {
            problems.push("`batch.linger`: must be longer than 0s".to_string());
        }
        if self.detection.idle_evict.is_zero() {
            problems.push("`detection.idle_evict`: must be longer than 0s".to_string());
        }
        if self.replay.chunk_records == 0 {
            problems.push("`replay.chunk_records`: must be at least 1".to_string());
        }
        self.kafka.problems(&mut problems);
        if self.state.checkpoint_interval.is_zero() {
            problems.push("`state.checkpoint_interval`: must be longer than 0s".to_string());
        }
        if self.state.dir.as_os_str().is_empty() {
            problems.push("`state.dir`: must name a directory".to_string());
        }
        if !self.server.listen.is_empty() && self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("`server.listen`: `{}` is not an address such as 0.0.0.0:9464", self.server.listen));
        }
        if self.server.shutdown_timeout.is_zero() {
            problems.push("`server.shutdown_timeout`: must be longer than 0s".to_string());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// The fingerprint key: configured, read from its file, or the development key (second value
    /// `true`).
    pub fn fingerprint_key(&self) -> Result<(Vec<u8>, bool)> {
        if !self.secrets.fingerprint_key.is_empty() {
            return Ok((self.secrets.fingerprint_key.as_bytes().to_vec(), false));
        }
        if !self.secrets.fingerprint_key_file.is_empty() {
            let path = PathBuf::from(&self.secrets.fingerprint_key_file);
            let text = std::fs::read_to_string(&path).map_err(|error| Error::Config {
                file: None,
                problems: vec![format!("`secrets.fingerprint_key_file`: cannot read `{}`: {error}", path.display())],
            })?;
            let key = text.lines().next().unwrap_or_default().trim().to_string();
            if key.len() < 16 {
                return Err(Error::Config {
                    file: None,
                    problems: vec![format!(
                        "`secrets.fingerprint_key_file`: the key in `{}` is shorter than 16 characters",
                        path.display()
                    )],
                });
            }
            return Ok((key.into_bytes(), false));
        }
        Ok((DEVELOPMENT_KEY.as_bytes().to_vec(), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let settings = Settings::defaults().unwrap();
        settings.validate().unwrap();
        assert_eq!(settings.batch.size, 4096);
        assert_eq!(settings.batch.linger, Duration::from_millis(200));
        let (_, development) = settings.fingerprint_key().unwrap();
        assert!(development);
    }

    #[test]
    fn a_file_overrides_defaults_and_typos_name_the_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "[batch]\nsize = 64\nlinger = \"2s\"\n").unwrap();
        let settings = Settings::load(Some(&good)).unwrap();
        assert_eq!(settings.batch.size, 64);
        assert_eq!(settings.batch.linger, Duration::from_secs(2));

        let typo = dir.path().join("typo.toml");
        std::fs::write(&typo, "[batch]\nsise = 64\n").unwrap();
        let message = Settings::load(Some(&typo)).unwrap_err().to_string();
        assert!(message.contains("typo.toml") && message.contains("sise"), "{message}");

        let wrong_type = dir.path().join("wrong.toml");
        std::fs::write(&wrong_type, "[batch]\nsize = \"many\"\n").unwrap();
        let message = Settings::load(Some(&wrong_type)).unwrap_err().to_string();
        assert!(message.contains("batch.size"), "{message}");
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.toml");
        std::fs::write(
            &bad,
            "[batch]\nsize = 0\n[geo]\ndefault_radius_km = -1.0\n[secrets]\nfingerprint_key = \"short\"\n",
        )
        .unwrap();
        let message = Settings::load(Some(&bad)).unwrap_err().to_string();
        for expected in ["`batch.size`", "`geo.default_radius_km`", "`secrets.fingerprint_key`", "bad.toml"] {
            assert!(message.contains(expected), "missing {expected} in {message}");
        }
        assert!(!message.contains("short"), "the key value must not be echoed: {message}");
    }

    #[test]
    fn kafka_settings_are_checked_and_secrets_not_shown() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("kafka.toml");
        std::fs::write(
            &bad,
            "[kafka]\nalerts_topic = \"bad topic\"\nevents_partitions = 0\ninputs = [{ topic = \"tokenwatch.alerts\" }]\n\
             [kafka.properties]\n\"enable.auto.commit\" = true\n[server]\nlisten = \"nowhere\"\n",
        )
        .unwrap();
        let message = Settings::load(Some(&bad)).unwrap_err().to_string();
        for expected in [
            "`kafka.alerts_topic`",
            "`kafka.events_partitions`",
            "`kafka.properties.enable.auto.commit`",
            "`server.listen`",
            "kafka.toml",
        ] {
            assert!(message.contains(expected), "missing {expected} in {message}");
        }
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "[kafka.properties]\n\"sasl.password\" = \"hunter2-secret\"\nsasl_username = \"svc\"\n\"linger.ms\" = 5\n",
        )
        .unwrap();
        let settings = Settings::load(Some(&good)).unwrap();
        let properties = settings.kafka.client_properties();
        assert!(properties.contains(&("sasl.username".to_string(), "svc".to_string())), "{properties:?}");
        assert!(properties.contains(&("linger.ms".to_string(), "5".to_string())), "{properties:?}");
        assert!(properties.contains(&("sasl.password".to_string(), "hunter2-secret".to_string())), "{properties:?}");
        let shown = format!("{:?}", settings.kafka);
        assert!(!shown.contains("hunter2") && shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn input_topics_parse_from_flags() {
        assert_eq!(
            InputTopic::parse("okta=okta-logs").unwrap(),
            InputTopic { topic: "okta-logs".into(), source: "okta".into() }
        );
        assert_eq!(InputTopic::parse("logs").unwrap().source, "auto");
        assert!(InputTopic::parse("okta=").is_err());
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let message = Settings::load(Some(Path::new("/nonexistent/tokenwatch.toml"))).unwrap_err().to_string();
        assert!(message.contains("/nonexistent/tokenwatch.toml") && message.contains("not found"), "{message}");
    }
}

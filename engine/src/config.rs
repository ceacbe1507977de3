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
    fn a_missing_config_file_is_an_error() {
        let message = Settings::load(Some(Path::new("/nonexistent/tokenwatch.toml"))).unwrap_err().to_string();
        assert!(message.contains("/nonexistent/tokenwatch.toml") && message.contains("not found"), "{message}");
    }
}

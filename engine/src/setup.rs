//! Building the engine's parts from [`Settings`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use tokenwatch_rules::config::micros;
use tokenwatch_rules::{Detection, Inventory, RulesConfig};
use tokenwatch_schemas::geo::GeoDb;
use tokenwatch_schemas::normalize::Normalizer;
use tokenwatch_schemas::{Fingerprinter, NormalizeContext, SourceRegistry};

use crate::{Error, Result, Settings};

/// Things worth telling the operator that do not stop the run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Warnings(pub Vec<String>);

/// The known source layouts: built-in plus `normalize.mappings_dir`.
pub fn registry(settings: &Settings) -> Result<SourceRegistry> {
    let mut registry = SourceRegistry::builtin()?;
    if !settings.normalize.mappings_dir.is_empty() {
        registry.load_dir(Path::new(&settings.normalize.mappings_dir))?;
    }
    Ok(registry)
}

/// The fingerprinter for the configured key.
pub fn fingerprinter(settings: &Settings, warnings: &mut Warnings) -> Result<Fingerprinter> {
    let (key, development) = settings.fingerprint_key()?;
    if development {
        warnings.0.push(
            "no secrets.fingerprint_key configured: using the public development key; set TOKENWATCH__SECRETS__FINGERPRINT_KEY in production"
                .to_string(),
        );
    }
    Ok(Fingerprinter::new(&key))
}

/// The IP database, if its files exist (an error when `geo.required` and they do not).
pub fn geo(settings: &Settings, warnings: &mut Warnings) -> Result<Option<Arc<GeoDb>>> {
    let geo = &settings.geo;
    let (present, missing): (Vec<_>, Vec<_>) = geo.databases.iter().cloned().partition(|path| path.exists());
    if !missing.is_empty() {
        let list = missing.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        if geo.required {
            return Err(Error::Config {
                file: None,
                problems: vec![format!("`geo.databases`: {list} not found (run scripts/fetch-geoip.sh)")],
            });
        }
        if present.is_empty() {
            warnings.0.push(format!(
                "no IP database ({list} not found; run scripts/fetch-geoip.sh): events get a location only from their own records"
            ));
        } else {
            warnings.0.push(format!("IP database files not found, skipped: {list}"));
        }
    }
    if present.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(GeoDb::open(&present, geo.default_radius_km, geo.cache_entries)?)))
}

/// The normaliser: layouts, key and IP database from `settings`; `source` overrides
/// `normalize.source`.
pub fn normalizer(settings: &Settings, source: Option<&str>) -> Result<(Normalizer, Warnings)> {
    let mut warnings = Warnings::default();
    let registry = Arc::new(registry(settings)?);
    let fingerprinter = fingerprinter(settings, &mut warnings)?;
    let geo = geo(settings, &mut warnings)?;
    let source = source.or(Some(settings.normalize.source.as_str()).filter(|s| !s.is_empty()));
    let ctx = NormalizeContext::new(fingerprinter, geo);
    let normalizer = Normalizer::new(registry, ctx, source)?.with_max_record_bytes(settings.normalize.max_record_bytes);
    Ok((normalizer, warnings))
}

/// One normaliser per input topic of `kafka.inputs`, each reading its topic as its source
/// (`auto`: detected by shape). They share the layouts, the key and the IP database.
pub fn input_normalizers(settings: &Settings) -> Result<(HashMap<String, Arc<Normalizer>>, Warnings)> {
    let mut warnings = Warnings::default();
    let registry = Arc::new(registry(settings)?);
    let ctx = NormalizeContext::new(fingerprinter(settings, &mut warnings)?, geo(settings, &mut warnings)?);
    let mut by_source: HashMap<&str, Arc<Normalizer>> = HashMap::new();
    let mut by_topic = HashMap::new();
    let mut problems = Vec::new();
    for (index, input) in settings.kafka.inputs.iter().enumerate() {
        let source = input.source.as_str();
        if let Some(normalizer) = by_source.get(source) {
            by_topic.insert(input.topic.clone(), Arc::clone(normalizer));
            continue;
        }
        let forced = (source != "auto").then_some(source);
        match Normalizer::new(Arc::clone(&registry), ctx.clone(), forced) {
            Ok(normalizer) => {
                let normalizer = Arc::new(normalizer.with_max_record_bytes(settings.normalize.max_record_bytes));
                by_source.insert(source, Arc::clone(&normalizer));
                by_topic.insert(input.topic.clone(), normalizer);
            }
            Err(error) => problems.push(format!("`kafka.inputs[{index}].source`: {error}")),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Config { file: None, problems });
    }
    Ok((by_topic, warnings))
}

/// The rule settings: built-in, with `detection.rules_dir`'s files replacing them rule by rule.
pub fn rules(settings: &Settings) -> Result<RulesConfig> {
    let dir = Some(settings.detection.rules_dir.as_str()).filter(|d| !d.is_empty()).map(Path::new);
    Ok(RulesConfig::load(dir)?)
}

/// The inventory of `detection.inventory` (empty when none is configured).
pub fn inventory(settings: &Settings) -> Result<Inventory> {
    let path = settings.detection.inventory.as_str();
    if path.is_empty() {
        return Ok(Inventory::empty());
    }
    let text = std::fs::read_to_string(path).map_err(|error| Error::Config {
        file: None,
        problems: vec![format!("`detection.inventory`: cannot read `{path}`: {error}")],
    })?;
    Ok(Inventory::parse(path, &text)?)
}

/// The detection runner: rules, inventory and ordering from `settings`.
pub fn detection(settings: &Settings) -> Result<Detection> {
    let config = rules(settings)?;
    let inventory = inventory(settings)?;
    let cores = || std::thread::available_parallelism().map_or(1, usize::from);
    // 0 = one shard per worker thread (`replay.threads`, itself 0 = one per core).
    let threads = if settings.replay.threads == 0 { cores() } else { settings.replay.threads };
    Ok(Detection::new(&config, Arc::new(inventory), detection_settings(settings, threads)))
}

/// The runner settings of `detection`; `detection.shards = 0` means `default_shards`.
pub fn detection_settings(settings: &Settings, default_shards: usize) -> tokenwatch_rules::DetectionSettings {
    let detection = &settings.detection;
    tokenwatch_rules::DetectionSettings {
        lateness_us: micros(detection.lateness),
        shards: if detection.shards == 0 { default_shards } else { detection.shards },
        idle_evict_us: micros(detection.idle_evict),
    }
}

//! The set of known source layouts: the built-in mapping files plus the user's.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::spec::Mapping;
use crate::json::Node;
use crate::{Error, Result};

macro_rules! builtin {
    ($($file:literal),+ $(,)?) => {
        /// The built-in mapping files, compiled into the binary: `(file name, text)`.
        pub const BUILTIN_MAPPINGS: &[(&str, &str)] = &[
            $(($file, include_str!(concat!("../../mappings/", $file)))),+
        ];
    };
}

builtin!(
    "auth0.toml",
    "aws_api_gateway.toml",
    "cloudtrail.toml",
    "entra_graph_activity.toml",
    "entra_signin_azure_monitor.toml",
    "entra_signin_graph.toml",
    "envoy.toml",
    "github.toml",
    "google_workspace.toml",
    "keycloak.toml",
    "kong.toml",
    "m365.toml",
    "nginx.toml",
    "okta.toml",
    "slack.toml",
);

/// Known source layouts, in detection order (priority, highest first; then name).
#[derive(Debug, Clone, Default)]
pub struct SourceRegistry {
    mappings: Vec<Arc<Mapping>>,
}

impl SourceRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        SourceRegistry::default()
    }

    /// The built-in layouts.
    pub fn builtin() -> Result<Self> {
        let mut registry = SourceRegistry::empty();
        let mut errors = Vec::new();
        for (file, text) in BUILTIN_MAPPINGS {
            match Mapping::from_toml(&format!("builtin:{file}"), text) {
                Ok(mapping) => {
                    if let Err(error) = registry.add(mapping, false) {
                        errors.push(error);
                    }
                }
                Err(error) => errors.push(error),
            }
        }
        into_result(registry, errors)
    }

    /// Adds every `*.toml` file in `dir`. A user file replaces the built-in layout of the same
    /// `name/layout`; two user files defining one layout are an error. All files are checked before
    /// any error is returned.
    pub fn load_dir(&mut self, dir: &Path) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::MappingDir { path: dir.to_path_buf(), source })?;
        let mut paths: Vec<_> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        paths.sort();
        let mut errors = Vec::new();
        for path in paths {
            let file = path.display().to_string();
            let loaded = std::fs::read_to_string(&path)
                .map_err(|error| Error::Mapping { file: file.clone(), problems: vec![error.to_string()] })
                .and_then(|text| Mapping::from_toml(&file, &text))
                .and_then(|mapping| self.add(mapping, true));
            if let Err(error) = loaded {
                errors.push(error);
            }
        }
        into_result((), errors)
    }

    /// Adds a layout. With `replace_builtin`, a built-in layout of the same name is replaced.
    pub fn add(&mut self, mapping: Mapping, replace_builtin: bool) -> Result<()> {
        let key = mapping.qualified_name();
        if let Some(position) = self.mappings.iter().position(|m| m.qualified_name() == key) {
            let existing = &self.mappings[position];
            if replace_builtin && existing.file.starts_with("builtin:") {
                self.mappings.remove(position);
            } else {
                return Err(Error::DuplicateLayout { layout: key, first: existing.file.clone(), second: mapping.file });
            }
        }
        self.mappings.push(Arc::new(mapping));
        self.mappings
            .sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.qualified_name().cmp(&b.qualified_name())));
        Ok(())
    }

    /// Every layout, in detection order.
    pub fn mappings(&self) -> &[Arc<Mapping>] {
        &self.mappings
    }

    /// Source names, sorted and de-duplicated.
    pub fn source_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.mappings.iter().map(|m| &*m.name).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The layouts of source `name`, in detection order.
    pub fn layouts(&self, name: &str) -> Result<Vec<Arc<Mapping>>> {
        let layouts: Vec<_> = self.mappings.iter().filter(|m| &*m.name == name).cloned().collect();
        if layouts.is_empty() {
            return Err(Error::UnknownSource { name: name.to_string(), known: self.source_names().join(", ") });
        }
        Ok(layouts)
    }

    /// The first layout whose detection matches `record`.
    pub fn detect(&self, record: &Value) -> Option<&Arc<Mapping>> {
        self.detect_node(&Node::from_value(record))
    }

    /// [`Self::detect`] for a record parsed as a borrowed tree.
    pub fn detect_node(&self, record: &Node<'_>) -> Option<&Arc<Mapping>> {
        self.mappings.iter().find(|mapping| mapping.matches_node(record))
    }
}

fn into_result<T>(value: T, mut errors: Vec<Error>) -> Result<T> {
    match errors.len() {
        0 => Ok(value),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Mappings(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_mapping_file_is_compiled_in() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/mappings");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let compiled: Vec<String> = BUILTIN_MAPPINGS.iter().map(|(name, _)| name.to_string()).collect();
        assert_eq!(on_disk, compiled);
    }

    #[test]
    fn builtin_mappings_load() {
        let registry = SourceRegistry::builtin().unwrap();
        for name in ["okta", "entra", "google_workspace", "auth0", "github", "cloudtrail", "kong", "envoy"] {
            assert!(registry.layouts(name).is_ok(), "{name} missing");
        }
        assert!(matches!(registry.layouts("nope"), Err(Error::UnknownSource { .. })));
    }

    #[test]
    fn user_files_replace_builtins_and_bad_files_are_all_reported() {
        let dir = std::env::temp_dir().join(format!("tw-mappings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good =
            "[source]\nname = \"okta\"\nlayout = \"system_log\"\n[detect]\nall = [\"x\"]\n[fields]\ntime = \"x\"\n";
        std::fs::write(dir.join("a.toml"), good).unwrap();
        let mut registry = SourceRegistry::builtin().unwrap();
        registry.load_dir(&dir).unwrap();
        let okta = registry.layouts("okta").unwrap();
        assert!(okta.iter().any(|m| m.file.ends_with("a.toml")));
        std::fs::write(dir.join("b.toml"), "[source]\nname = 1").unwrap();
        std::fs::write(dir.join("c.toml"), "[source]\nname = \"c\"\n[detect]\nall=[\"t\"]\n[fields]\nwhen = \"t\"")
            .unwrap();
        let error = SourceRegistry::empty().load_dir(&dir).unwrap_err().to_string();
        assert!(error.contains("b.toml") && error.contains("c.toml"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

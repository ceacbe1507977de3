//! Parsing and checking mapping files into compiled [`Mapping`]s.

use std::collections::BTreeMap;
use std::sync::Arc;

use toml::{Table, Value as Toml};

use super::glob::Glob;
use super::path::FieldPath;
use crate::event::{EventClass, Outcome, TokenKind};
use crate::time::TimeFormat;
use crate::{Error, Result};

/// Every field a mapping's `[fields]` table may set, in event-model order.
pub const FIELD_NAMES: &[&str] = &[
    "time",
    "event_id",
    "action",
    "class",
    "outcome",
    "subject",
    "client_id",
    "session_id",
    "src_ip",
    "geo_lat",
    "geo_lon",
    "geo_country",
    "geo_city",
    "geo_radius_km",
    "asn",
    "as_org",
    "user_agent",
    "device_id",
    "scopes",
    "resource",
    "http_status",
    "tenant",
];

const SPEC_KEYS: &[&str] = &[
    "path",
    "value",
    "template",
    "map",
    "default",
    "split",
    "format",
    "secret",
    "jwt",
    "jwt_claim",
    "query_param",
    "strip_prefix",
    "strip_query",
    "when",
    "ignore",
];
const TOKEN_KEYS: &[&str] = &["kind", "kind_map"];
const TIME_FORMATS: &[&str] = &["auto", "rfc3339", "clf", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns"];

/// How to get one value out of a record.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldSpec {
    /// Alternatives, tried in order.
    pub paths: Vec<FieldPath>,
    /// A constant used when no path is given or none yields a value.
    pub value: Option<String>,
    /// `{path}` placeholders joined with literal text.
    pub template: Option<Vec<TemplatePart>>,
    /// Wildcard pattern → replacement, first match wins.
    pub map: Vec<(Glob, String)>,
    /// Replacement when the value matches no `map` entry (without it the value is kept).
    pub default: Option<String>,
    /// Separator for list fields held in one string.
    pub split: Option<String>,
    /// Time format of the `time` field.
    pub format: TimeFormat,
    /// The value is a raw credential to fingerprint.
    pub secret: bool,
    /// The value may be a JWT whose claims identify the token.
    pub jwt: bool,
    /// The JWT claim holding the token id.
    pub jwt_claim: String,
    /// Take this parameter from the value's URL query string.
    pub query_param: Option<String>,
    /// Remove this prefix from the value.
    pub strip_prefix: Option<String>,
    /// Cut the value at `?` (a URL's query string may carry credentials or noise).
    pub strip_query: bool,
    /// Conditions on the record; the field is absent unless all hold.
    pub when: Vec<Condition>,
    /// Values the vendor writes for "no value" besides the usual ones (`-`, `null`, `unknown`, …).
    pub ignore: Vec<String>,
}

/// A piece of a `template`.
#[derive(Debug, Clone)]
pub(crate) enum TemplatePart {
    Literal(String),
    /// `{a|b}`: the first of these paths that is present.
    Paths(Vec<FieldPath>),
}

/// A condition on a record.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    pub path: FieldPath,
    /// `None`: the path must be present.
    pub equals: Option<Glob>,
}

/// One way to find the credential in a record.
#[derive(Debug, Clone)]
pub(crate) struct TokenSpec {
    pub field: FieldSpec,
    pub kind: TokenKind,
    pub kind_map: Option<FieldSpec>,
}

/// How a layout is recognised.
#[derive(Debug, Clone, Default)]
pub(crate) struct Detect {
    pub all: Vec<FieldPath>,
    pub any: Vec<FieldPath>,
    pub absent: Vec<FieldPath>,
    pub equals: Vec<Condition>,
}

/// A compiled mapping file.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Source name (`okta`).
    pub name: Arc<str>,
    /// Layout within the source (`system_log`); equal to the name when the file gives none.
    pub layout: String,
    /// One-line description.
    pub description: String,
    /// Detection order: higher first.
    pub priority: i32,
    /// Where the mapping came from (`builtin:okta.toml` or a path).
    pub file: String,
    pub(crate) class: EventClass,
    pub(crate) envelope: Option<FieldPath>,
    pub(crate) detect: Detect,
    pub(crate) fields: BTreeMap<&'static str, FieldSpec>,
    pub(crate) tokens: Vec<TokenSpec>,
}

impl Mapping {
    /// Parses and checks a mapping file's text. `file` names it in error messages.
    pub fn from_toml(file: &str, text: &str) -> Result<Self> {
        let table: Table = text.parse().map_err(|error: toml::de::Error| Error::Mapping {
            file: file.to_string(),
            problems: vec![error.to_string()],
        })?;
        let mut problems = Vec::new();
        let mapping = compile(file, &table, &mut problems);
        match mapping {
            Some(mapping) if problems.is_empty() => Ok(mapping),
            _ => Err(Error::Mapping { file: file.to_string(), problems }),
        }
    }

    /// `name` or `name/layout`.
    pub fn qualified_name(&self) -> String {
        if self.layout == *self.name { self.name.to_string() } else { format!("{}/{}", self.name, self.layout) }
    }

    /// The path of the envelope array, if records of this layout arrive wrapped.
    pub fn envelope(&self) -> Option<&FieldPath> {
        self.envelope.as_ref()
    }
}

fn compile(file: &str, table: &Table, problems: &mut Vec<String>) -> Option<Mapping> {
    let _ = file;
    unknown_keys(table, &["source", "detect", "fields", "tokens"], "", problems);

    let source = match table.get("source") {
        Some(Toml::Table(source)) => source,
        Some(_) => {
            problems.push("`source` must be a table".to_string());
            return None;
        }
        None => {
            problems.push("missing `[source]` table".to_string());
            return None;
        }
    };
    unknown_keys(source, &["name", "layout", "description", "class", "priority", "envelope"], "source.", problems);
    let name = match source.get("name") {
        Some(Toml::String(name)) if is_identifier(name) => name.clone(),
        Some(Toml::String(name)) => {
            problems.push(format!("`source.name`: `{name}` must be lowercase letters, digits and `_`"));
            String::new()
        }
        _ => {
            problems.push("`source.name`: missing or not a string".to_string());
            String::new()
        }
    };
    let layout = match source.get("layout") {
        Some(Toml::String(layout)) if is_identifier(layout) => layout.clone(),
        Some(_) => {
            problems.push("`source.layout`: must be lowercase letters, digits and `_`".to_string());
            String::new()
        }
        None => name.clone(),
    };
    let description = optional_string(source, "description", "source.", problems).unwrap_or_default();
    let class = match optional_string(source, "class", "source.", problems) {
        Some(text) => EventClass::parse(&text).unwrap_or_else(|| {
            problems
                .push(format!("`source.class`: unknown class `{text}`; expected one of {}", names(EventClass::ALL)));
            EventClass::Other
        }),
        None => EventClass::Other,
    };
    let priority = match source.get("priority") {
        Some(Toml::Integer(value)) => i32::try_from(*value).unwrap_or_else(|_| {
            problems.push(format!("`source.priority`: {value} is out of range"));
            0
        }),
        Some(_) => {
            problems.push("`source.priority`: must be an integer".to_string());
            0
        }
        None => 0,
    };
    let envelope = optional_string(source, "envelope", "source.", problems)
        .and_then(|text| parse_path(&text, "source.envelope", problems));

    let detect = match table.get("detect") {
        Some(Toml::Table(detect)) => compile_detect(detect, problems),
        Some(_) => {
            problems.push("`detect` must be a table".to_string());
            Detect::default()
        }
        None => {
            problems.push("missing `[detect]` table: a layout must say how to recognise its records".to_string());
            Detect::default()
        }
    };
    if detect.all.is_empty() && detect.any.is_empty() && detect.equals.is_empty() {
        problems.push("`detect`: needs at least one of `all`, `any` or `equals`".to_string());
    }

    let mut fields = BTreeMap::new();
    match table.get("fields") {
        Some(Toml::Table(table)) => {
            for (key, value) in table {
                let Some(&field) = FIELD_NAMES.iter().find(|name| **name == key) else {
                    problems.push(format!("`fields.{key}`: unknown field; expected one of {}", FIELD_NAMES.join(", ")));
                    continue;
                };
                if let Some(spec) = compile_spec(value, &format!("fields.{key}"), SPEC_KEYS, problems) {
                    check_field_spec(field, &spec, problems);
                    fields.insert(field, spec);
                }
            }
        }
        Some(_) => problems.push("`fields` must be a table".to_string()),
        None => problems.push("missing `[fields]` table".to_string()),
    }
    if !fields.contains_key("time") {
        problems.push("`fields.time`: required (records without an event time cannot be used)".to_string());
    }

    let mut tokens = Vec::new();
    match table.get("tokens") {
        Some(Toml::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                let context = format!("tokens[{index}]");
                if let Some(token) = compile_token(item, &context, problems) {
                    tokens.push(token);
                }
            }
        }
        Some(_) => problems.push("`tokens` must be an array of tables (`[[tokens]]`)".to_string()),
        None => {}
    }

    Some(Mapping {
        name: Arc::from(name.as_str()),
        layout,
        description,
        priority,
        file: file.to_string(),
        class,
        envelope,
        detect,
        fields,
        tokens,
    })
}

fn compile_detect(detect: &Table, problems: &mut Vec<String>) -> Detect {
    unknown_keys(detect, &["all", "any", "absent", "equals"], "detect.", problems);
    let path_list = |key: &str, problems: &mut Vec<String>| -> Vec<FieldPath> {
        match detect.get(key) {
            None => Vec::new(),
            Some(value) => string_list(value, &format!("detect.{key}"), problems)
                .iter()
                .filter_map(|text| parse_path(text, &format!("detect.{key}"), problems))
                .collect(),
        }
    };
    let all = path_list("all", problems);
    let any = path_list("any", problems);
    let absent = path_list("absent", problems);
    let mut equals = Vec::new();
    match detect.get("equals") {
        None => {}
        Some(Toml::Table(table)) => {
            for (key, value) in table {
                let Some(pattern) = value.as_str() else {
                    problems.push(format!("`detect.equals.{key}`: must be a string pattern"));
                    continue;
                };
                if let Some(path) = parse_path(key, &format!("detect.equals.{key}"), problems) {
                    equals.push(Condition { path, equals: Some(Glob::new(pattern)) });
                }
            }
        }
        Some(_) => problems.push("`detect.equals`: must be a table of path = pattern".to_string()),
    }
    Detect { all, any, absent, equals }
}

fn compile_token(item: &Toml, context: &str, problems: &mut Vec<String>) -> Option<TokenSpec> {
    let Toml::Table(table) = item else {
        problems.push(format!("`{context}`: must be a table"));
        return None;
    };
    let allowed: Vec<&str> = SPEC_KEYS.iter().chain(TOKEN_KEYS).copied().collect();
    let field = compile_spec(item, context, &allowed, problems)?;
    if field.paths.is_empty() && field.template.is_none() {
        problems.push(format!("`{context}.path`: a token candidate needs a path"));
    }
    let kind = match table.get("kind") {
        None => TokenKind::Unknown,
        Some(Toml::String(text)) => TokenKind::parse(text).unwrap_or_else(|| {
            problems.push(format!(
                "`{context}.kind`: unknown token kind `{text}`; expected one of {}",
                names(TokenKind::ALL)
            ));
            TokenKind::Unknown
        }),
        Some(_) => {
            problems.push(format!("`{context}.kind`: must be a string"));
            TokenKind::Unknown
        }
    };
    let kind_map = match table.get("kind_map") {
        None => None,
        Some(value) => {
            let spec = compile_spec(value, &format!("{context}.kind_map"), SPEC_KEYS, problems)?;
            for (pattern, target) in &spec.map {
                if TokenKind::parse(target).is_none() {
                    problems.push(format!(
                        "`{context}.kind_map.map.{}`: unknown token kind `{target}`; expected one of {}",
                        pattern.as_str(),
                        names(TokenKind::ALL)
                    ));
                }
            }
            Some(spec)
        }
    };
    Some(TokenSpec { field, kind, kind_map })
}

/// A field spec from its TOML form: `"path"`, `["path", "alternative"]` or a table.
fn compile_spec(value: &Toml, context: &str, allowed: &[&str], problems: &mut Vec<String>) -> Option<FieldSpec> {
    let mut spec = FieldSpec { jwt_claim: "jti".to_string(), ..FieldSpec::default() };
    match value {
        Toml::String(text) => {
            spec.paths = parse_path(text, context, problems).into_iter().collect();
        }
        Toml::Array(_) => {
            spec.paths = string_list(value, context, problems)
                .iter()
                .filter_map(|text| parse_path(text, context, problems))
                .collect();
        }
        Toml::Table(table) => {
            let prefix = format!("{context}.");
            unknown_keys(table, allowed, &prefix, problems);
            if let Some(path) = table.get("path") {
                spec.paths = string_list(path, &format!("{context}.path"), problems)
                    .iter()
                    .filter_map(|text| parse_path(text, &format!("{context}.path"), problems))
                    .collect();
            }
            spec.value = optional_string(table, "value", &prefix, problems);
            spec.default = optional_string(table, "default", &prefix, problems);
            spec.split = optional_string(table, "split", &prefix, problems);
            spec.query_param = optional_string(table, "query_param", &prefix, problems);
            spec.strip_prefix = optional_string(table, "strip_prefix", &prefix, problems);
            if let Some(claim) = optional_string(table, "jwt_claim", &prefix, problems) {
                spec.jwt_claim = claim;
            }
            spec.secret = optional_bool(table, "secret", &prefix, problems);
            spec.jwt = optional_bool(table, "jwt", &prefix, problems);
            spec.strip_query = optional_bool(table, "strip_query", &prefix, problems);
            if let Some(ignore) = table.get("ignore") {
                spec.ignore = string_list(ignore, &format!("{context}.ignore"), problems);
            }
            spec.when = match table.get("when") {
                None => Vec::new(),
                Some(Toml::Table(when)) => {
                    compile_condition(when, &format!("{context}.when"), problems).into_iter().collect()
                }
                Some(Toml::Array(items)) => items
                    .iter()
                    .enumerate()
                    .filter_map(|(index, item)| match item {
                        Toml::Table(when) => compile_condition(when, &format!("{context}.when[{index}]"), problems),
                        _ => {
                            problems.push(format!(
                                "`{context}.when[{index}]`: must be a table with `path` and optional `equals`"
                            ));
                            None
                        }
                    })
                    .collect(),
                Some(_) => {
                    problems.push(format!(
                        "`{context}.when`: must be a table (or a list of tables) with `path` and optional `equals`"
                    ));
                    Vec::new()
                }
            };
            if let Some(format) = optional_string(table, "format", &prefix, problems) {
                spec.format = match format.as_str() {
                    "auto" => TimeFormat::Auto,
                    "rfc3339" => TimeFormat::Rfc3339,
                    "clf" => TimeFormat::Clf,
                    "epoch_s" => TimeFormat::EpochS,
                    "epoch_ms" => TimeFormat::EpochMs,
                    "epoch_us" => TimeFormat::EpochUs,
                    "epoch_ns" => TimeFormat::EpochNs,
                    other => {
                        problems.push(format!(
                            "`{context}.format`: unknown time format `{other}`; expected one of {}",
                            TIME_FORMATS.join(", ")
                        ));
                        TimeFormat::Auto
                    }
                };
            }
            if let Some(template) = optional_string(table, "template", &prefix, problems) {
                spec.template = compile_template(&template, &format!("{context}.template"), problems);
            }
            match table.get("map") {
                None => {}
                Some(Toml::Table(map)) => {
                    for (pattern, target) in map {
                        match target.as_str() {
                            Some(target) => spec.map.push((Glob::new(pattern), target.to_string())),
                            None => problems.push(format!("`{context}.map.{pattern}`: must be a string")),
                        }
                    }
                    // Exact patterns before wildcards, so `map` reads like a lookup table with fallbacks.
                    spec.map.sort_by_key(|(pattern, _)| !pattern.is_exact());
                }
                Some(_) => problems.push(format!("`{context}.map`: must be a table of pattern = value")),
            }
            if spec.paths.is_empty() && spec.value.is_none() && spec.template.is_none() {
                problems.push(format!("`{context}`: needs `path`, `value` or `template`"));
            }
        }
        _ => {
            problems.push(format!("`{context}`: must be a path, a list of paths, or a table"));
            return None;
        }
    }
    Some(spec)
}

fn check_field_spec(field: &str, spec: &FieldSpec, problems: &mut Vec<String>) {
    let check_targets = |valid: &dyn Fn(&str) -> bool, expected: String, problems: &mut Vec<String>| {
        for (pattern, target) in &spec.map {
            if !valid(target) {
                problems
                    .push(format!("`fields.{field}.map.{}`: `{target}` is not one of {expected}", pattern.as_str()));
            }
        }
        for value in spec.value.iter().chain(spec.default.iter()) {
            if !valid(value) {
                problems.push(format!("`fields.{field}`: `{value}` is not one of {expected}"));
            }
        }
    };
    match field {
        "class" => check_targets(&|text| EventClass::parse(text).is_some(), names(EventClass::ALL), problems),
        "outcome" => check_targets(&|text| Outcome::parse(text).is_some(), names(Outcome::ALL), problems),
        "time" if spec.value.is_some() => {
            problems.push("`fields.time`: a constant time makes no sense; give a path".to_string());
        }
        _ => {}
    }
    if field != "time" && spec.format != TimeFormat::Auto {
        problems.push(format!("`fields.{field}.format`: only `time` takes a format"));
    }
    if spec.split.is_some() && field != "scopes" {
        problems.push(format!("`fields.{field}.split`: only `scopes` is a list"));
    }
}

fn compile_condition(when: &Table, context: &str, problems: &mut Vec<String>) -> Option<Condition> {
    unknown_keys(when, &["path", "equals"], &format!("{context}."), problems);
    let Some(text) = when.get("path").and_then(Toml::as_str) else {
        problems.push(format!("`{context}.path`: missing or not a string"));
        return None;
    };
    let path = parse_path(text, &format!("{context}.path"), problems)?;
    let equals = match when.get("equals") {
        None => None,
        Some(Toml::String(pattern)) => Some(Glob::new(pattern)),
        Some(_) => {
            problems.push(format!("`{context}.equals`: must be a string pattern"));
            None
        }
    };
    Some(Condition { path, equals })
}

fn compile_template(text: &str, context: &str, problems: &mut Vec<String>) -> Option<Vec<TemplatePart>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(TemplatePart::Literal(rest[..open].to_string()));
        }
        let Some(close) = rest[open..].find('}') else {
            problems.push(format!("`{context}`: unclosed `{{` in `{text}`"));
            return None;
        };
        let mut paths = Vec::new();
        for alternative in rest[open + 1..open + close].split('|') {
            paths.push(parse_path(alternative.trim(), context, problems)?);
        }
        parts.push(TemplatePart::Paths(paths));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_string()));
    }
    if !parts.iter().any(|part| matches!(part, TemplatePart::Paths(_))) {
        problems.push(format!("`{context}`: `{text}` has no `{{path}}` placeholder"));
    }
    Some(parts)
}

fn parse_path(text: &str, context: &str, problems: &mut Vec<String>) -> Option<FieldPath> {
    FieldPath::parse(text).map_err(|reason| problems.push(format!("`{context}`: bad path `{text}`: {reason}"))).ok()
}

fn string_list(value: &Toml, context: &str, problems: &mut Vec<String>) -> Vec<String> {
    match value {
        Toml::String(text) => vec![text.clone()],
        Toml::Array(items) => items
            .iter()
            .filter_map(|item| match item {
                Toml::String(text) => Some(text.clone()),
                _ => {
                    problems.push(format!("`{context}`: list entries must be strings"));
                    None
                }
            })
            .collect(),
        _ => {
            problems.push(format!("`{context}`: must be a string or a list of strings"));
            Vec::new()
        }
    }
}

fn optional_string(table: &Table, key: &str, prefix: &str, problems: &mut Vec<String>) -> Option<String> {
    match table.get(key) {
        None => None,
        Some(Toml::String(text)) => Some(text.clone()),
        Some(_) => {
            problems.push(format!("`{prefix}{key}`: must be a string"));
            None
        }
    }
}

fn optional_bool(table: &Table, key: &str, prefix: &str, problems: &mut Vec<String>) -> bool {
    match table.get(key) {
        None => false,
        Some(Toml::Boolean(flag)) => *flag,
        Some(_) => {
            problems.push(format!("`{prefix}{key}`: must be true or false"));
            false
        }
    }
}

fn unknown_keys(table: &Table, allowed: &[&str], prefix: &str, problems: &mut Vec<String>) {
    for key in table.keys() {
        if !allowed.contains(&key.as_str()) {
            problems.push(format!("`{prefix}{key}`: unknown key; expected one of {}", allowed.join(", ")));
        }
    }
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn names<T: std::fmt::Display>(values: &[T]) -> String {
    values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [source]
        name = "acme"
        [detect]
        all = ["ts"]
        [fields]
        time = "ts"
    "#;

    #[test]
    fn a_minimal_mapping_compiles() {
        let mapping = Mapping::from_toml("acme.toml", MINIMAL).unwrap();
        assert_eq!(&*mapping.name, "acme");
        assert_eq!(mapping.qualified_name(), "acme");
        assert_eq!(mapping.class, EventClass::Other);
    }

    #[test]
    fn every_problem_is_reported_with_file_and_field() {
        let text = r#"
            [source]
            name = "Acme Gateway"
            class = "auth"
            colour = "blue"
            [detect]
            [fields]
            time = { path = "ts", format = "iso" }
            outcome = { path = "r", map = { ok = "yes" } }
            subjct = "user"
            src_ip = "a..b"
            [[tokens]]
            path = "h.authorization"
            kind = "bearer"
        "#;
        let error = Mapping::from_toml("mappings/acme.toml", text).unwrap_err();
        let message = error.to_string();
        for expected in [
            "mappings/acme.toml",
            "`source.name`",
            "`source.class`: unknown class `auth`",
            "`source.colour`: unknown key",
            "`detect`: needs at least one",
            "`fields.time.format`: unknown time format `iso`",
            "`fields.outcome.map.ok`: `yes` is not one of success, failure, unknown",
            "`fields.subjct`: unknown field",
            "`fields.src_ip`: bad path `a..b`",
            "`tokens[0].kind`: unknown token kind `bearer`",
        ] {
            assert!(message.contains(expected), "missing {expected:?} in:\n{message}");
        }
    }

    #[test]
    fn toml_syntax_errors_name_the_file_and_line() {
        let error = Mapping::from_toml("bad.toml", "[source\nname = 1").unwrap_err().to_string();
        assert!(error.contains("bad.toml"), "{error}");
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn missing_time_is_a_load_error() {
        let text = MINIMAL.replace("time = \"ts\"", "event_id = \"id\"");
        let error = Mapping::from_toml("acme.toml", &text).unwrap_err().to_string();
        assert!(error.contains("`fields.time`: required"), "{error}");
    }
}

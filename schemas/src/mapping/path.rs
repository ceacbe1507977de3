//! Field paths into a JSON record, as written in mapping files.
//!
//! ```text
//! actor.alternateId                 object keys separated by dots
//! request.ipChain[0].ip             array index
//! target[type=AccessToken].id       first array element whose `type` equals `AccessToken`
//! target[type=*Token].id            … whose `type` matches a glob (`*` = any run of characters)
//! additionalDetails[key=ipaddr].value
//! scp[*]                            every element (for list fields such as scopes)
//! ['@timestamp']  properties['a.b'] a quoted key, for keys containing dots or brackets
//! ```
//!
//! Paths are parsed and checked once, when the mapping is loaded; evaluation allocates nothing for
//! single-valued paths.

use std::fmt;

use crate::json::Node;

use super::glob::Glob;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Filter { key: String, value: Glob },
    Each,
}

/// A compiled field path.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPath {
    text: String,
    steps: Vec<Step>,
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FieldPath {
    /// Parses a path; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut steps = Vec::new();
        let bytes = text.as_bytes();
        let mut pos = 0;
        if text.trim().is_empty() {
            return Err("empty path".to_string());
        }
        let mut expect_key = true;
        while pos < bytes.len() {
            match bytes[pos] {
                b'[' => {
                    let close = find_closing_bracket(text, pos)?;
                    let inner = &text[pos + 1..close];
                    steps.push(parse_selector(inner)?);
                    pos = close + 1;
                    expect_key = false;
                }
                b'.' => {
                    if expect_key {
                        return Err(format!("empty key at byte {pos}"));
                    }
                    pos += 1;
                    expect_key = true;
                    if pos == bytes.len() {
                        return Err("path ends with `.`".to_string());
                    }
                }
                b']' => return Err(format!("unbalanced `]` at byte {pos}")),
                _ => {
                    if !expect_key {
                        return Err(format!("expected `.` or `[` at byte {pos}"));
                    }
                    let end = text[pos..].find(['.', '[', ']']).map_or(text.len(), |offset| pos + offset);
                    steps.push(Step::Key(text[pos..end].to_string()));
                    pos = end;
                    expect_key = false;
                }
            }
        }
        Ok(FieldPath { text: text.to_string(), steps })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the path can yield more than one value (`[*]`).
    pub fn is_multi(&self) -> bool {
        self.steps.iter().any(|step| matches!(step, Step::Each))
    }

    /// The first non-null value the path reaches.
    pub fn first<'a, 'n>(&self, root: &'a Node<'n>) -> Option<&'a Node<'n>> {
        let mut found = None;
        walk(root, &self.steps, &mut |value| {
            if value.is_null() {
                return true;
            }
            found = Some(value);
            false
        });
        found
    }

    /// Every non-null value the path reaches, in document order.
    pub fn all<'a, 'n>(&self, root: &'a Node<'n>, out: &mut Vec<&'a Node<'n>>) {
        walk(root, &self.steps, &mut |value| {
            if !value.is_null() {
                out.push(value);
            }
            true
        });
    }
}

fn find_closing_bracket(text: &str, open: usize) -> Result<usize, String> {
    let rest = &text[open + 1..];
    if let Some(quoted) = rest.strip_prefix('\'') {
        let end = quoted.find('\'').ok_or_else(|| format!("unterminated quote after byte {open}"))?;
        let after = open + 2 + end + 1;
        return match text.as_bytes().get(after) {
            Some(b']') => Ok(after),
            _ => Err(format!("expected `]` after quoted key at byte {after}")),
        };
    }
    rest.find(']').map(|offset| open + 1 + offset).ok_or_else(|| format!("unclosed `[` at byte {open}"))
}

fn parse_selector(inner: &str) -> Result<Step, String> {
    if let Some(quoted) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Ok(Step::Key(quoted.to_string()));
    }
    if inner == "*" {
        return Ok(Step::Each);
    }
    if let Ok(index) = inner.parse::<usize>() {
        return Ok(Step::Index(index));
    }
    if let Some((key, value)) = inner.split_once('=') {
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("filter `[{inner}]` has no key"));
        }
        return Ok(Step::Filter { key: key.to_string(), value: Glob::new(value.trim()) });
    }
    Err(format!("`[{inner}]` is not an index, `*`, `key=value` filter or quoted key"))
}

/// Visits values reached by `steps`; the visitor returns `false` to stop.
fn walk<'a, 'n>(value: &'a Node<'n>, steps: &[Step], visit: &mut dyn FnMut(&'a Node<'n>) -> bool) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return visit(value);
    };
    match step {
        Step::Key(key) => match value.get(key.as_str()) {
            Some(next) => walk(next, rest, visit),
            None => true,
        },
        Step::Index(index) => match value.get_index(*index) {
            Some(next) => walk(next, rest, visit),
            None => true,
        },
        Step::Filter { key, value: pattern } => {
            let Some(items) = value.as_array() else { return true };
            for item in items {
                let matches = match item.get(key.as_str()) {
                    Some(Node::String(text)) => pattern.matches(text),
                    Some(Node::Number(number)) => pattern.matches(&number.to_string()),
                    Some(Node::Bool(flag)) => pattern.matches(if *flag { "true" } else { "false" }),
                    _ => false,
                };
                if matches && !walk(item, rest, visit) {
                    return false;
                }
            }
            true
        }
        Step::Each => {
            let Some(items) = value.as_array() else {
                // A scalar where a list was expected is treated as a list of one.
                return walk(value, rest, visit);
            };
            for item in items {
                if !walk(item, rest, visit) {
                    return false;
                }
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn path(text: &str) -> FieldPath {
        FieldPath::parse(text).unwrap()
    }

    #[test]
    fn keys_indexes_filters_and_quotes() {
        let value = json!({
            "actor": {"alternateId": "a@b.c"},
            "request": {"ipChain": [{"ip": "1.1.1.1"}, {"ip": "2.2.2.2"}]},
            "target": [{"type": "User", "id": "u1"}, {"type": "AccessToken", "id": "at1"}, {"type": "RefreshToken", "id": "rt1"}],
            "@timestamp": 5,
            "a.b": {"c": 1},
            "scp": ["read", null, "write"],
        });
        let record = Node::from_value(&value);
        let first = |text: &str| path(text).first(&record).map(Node::to_value);
        let all = |text: &str| {
            let mut found = Vec::new();
            path(text).all(&record, &mut found);
            found.into_iter().map(Node::to_value).collect::<Vec<Value>>()
        };
        assert_eq!(first("actor.alternateId"), Some(json!("a@b.c")));
        assert_eq!(first("request.ipChain[1].ip"), Some(json!("2.2.2.2")));
        assert_eq!(first("target[type=AccessToken].id"), Some(json!("at1")));
        assert_eq!(first("target[type=*Token].id"), Some(json!("at1")));
        assert_eq!(first("@timestamp"), Some(json!(5)));
        assert_eq!(first("['a.b'].c"), Some(json!(1)));
        assert_eq!(first("missing.key"), None);
        assert_eq!(first("actor[0]"), None);
        assert_eq!(all("scp[*]"), vec![json!("read"), json!("write")]);
        assert_eq!(all("target[type=*Token].id"), vec![json!("at1"), json!("rt1")]);
        assert!(path("scp[*]").is_multi());
    }

    #[test]
    fn malformed_paths_are_rejected_with_a_reason() {
        for bad in ["", "a..b", "a.", ".a", "a[", "a]", "a[=x]", "a[foo]", "a['x'", "a[0]b"] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}

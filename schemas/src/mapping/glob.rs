//! `*` wildcards for mapping files: `api.*`, `*Token`, `app.oauth2.*.grant*`. Case-sensitive; a
//! pattern without `*` is an exact match.

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    parts: Vec<String>,
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Self {
        Glob { text: pattern.to_string(), parts: pattern.split('*').map(str::to_string).collect() }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has a wildcard.
    pub fn is_exact(&self) -> bool {
        self.parts.len() == 1
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let (first, rest) = match self.parts.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        if rest.is_empty() {
            return text == first;
        }
        let Some(mut remaining) = text.strip_prefix(first.as_str()) else { return false };
        let (last, middle) = rest.split_last().unwrap_or((first, &[]));
        for part in middle {
            match remaining.find(part.as_str()) {
                Some(at) => remaining = &remaining[at + part.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_shell_globs() {
        assert!(Glob::new("api.*").matches("api.request"));
        assert!(!Glob::new("api.*").matches("git.clone"));
        assert!(Glob::new("*Token").matches("AccessToken"));
        assert!(Glob::new("a*b*c").matches("aXXbYYc"));
        assert!(!Glob::new("a*b*c").matches("acb"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("exact").matches("exact"));
        assert!(!Glob::new("exact").matches("exactly"));
        assert!(!Glob::new("ab*ba").matches("aba"));
    }
}

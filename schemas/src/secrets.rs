//! Keeping raw credentials out of everything tokenwatch writes.
//!
//! Raw bearer tokens, refresh tokens, cookies and API keys that appear in a log record are replaced
//! at normalisation by a keyed fingerprint, `fp:` followed by 32 hex digits of
//! HMAC-SHA256(key, secret). The same secret under the same key always gives the same fingerprint,
//! so a token can still be followed across records and looked up in the inventory
//! (`tokenwatch fingerprint` computes it for a known token), but the value cannot be recovered and
//! cannot be guessed without the key.
//!
//! Two layers:
//! - [`Fingerprinter`] fingerprints a value a mapping declares as secret (`secret = true`);
//! - [`Redactor`] scrubs any other text and whole JSON records (dead letters) by key name
//!   (`authorization`, `cookie`, `x-api-key`, `refresh_token`, …) and by shape (`Bearer …`,
//!   `Basic …`, JWTs, sensitive query-string parameters).

use std::borrow::Cow;
use std::fmt;

use hmac::{Hmac, Mac};
use regex::{Captures, Regex};
use serde_json::Value;
use sha2::Sha256;

/// Prefix of every fingerprint.
pub const FINGERPRINT_PREFIX: &str = "fp:";

/// Computes keyed fingerprints of secrets.
#[derive(Clone)]
pub struct Fingerprinter {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the key.
        f.debug_struct("Fingerprinter").finish_non_exhaustive()
    }
}

impl Fingerprinter {
    /// A fingerprinter keyed with `key` (any length; at least 32 random bytes recommended).
    pub fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        Fingerprinter { mac }
    }

    /// `fp:` + 32 hex digits of HMAC-SHA256(key, secret).
    pub fn fingerprint(&self, secret: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(secret.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(FINGERPRINT_PREFIX.len() + 32);
        out.push_str(FINGERPRINT_PREFIX);
        out.push_str(&hex::encode(&digest[..16]));
        out
    }

    /// Fingerprints a credential as it appears in a header or parameter: an authorisation scheme
    /// (`Bearer`, `Basic`, `Token`, …) is dropped first so `Bearer X` and `X` give the same
    /// fingerprint.
    pub fn fingerprint_credential(&self, raw: &str) -> String {
        self.fingerprint(strip_auth_scheme(raw))
    }
}

/// `Bearer abc` → `abc`; values without a scheme are returned trimmed.
pub fn strip_auth_scheme(raw: &str) -> &str {
    let raw = raw.trim();
    for scheme in ["bearer ", "basic ", "token ", "digest ", "dpop ", "apikey ", "sso-key "] {
        // `get` rather than indexing: the text may hold multi-byte characters at any position.
        if raw.len() > scheme.len() && raw.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme)) {
            return raw[scheme.len()..].trim_start();
        }
    }
    raw
}

/// Object keys whose values are credentials, compared after lowercasing and removing `-` and `_`.
const SECRET_KEYS: &[&str] = &[
    "authorization",
    "proxyauthorization",
    "cookie",
    "setcookie",
    "xapikey",
    "apikey",
    "apisecret",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "clientsecret",
    "clientassertion",
    "assertion",
    "samlresponse",
    "password",
    "passwd",
    "secret",
    "token",
    "bearertoken",
    "authtoken",
    "xauthtoken",
    "xaccesstoken",
    "sessiontoken",
    "xamzsecuritytoken",
    "privatetoken",
    "xcsrftoken",
    "jwt",
    "secretaccesskey",
];

/// Whether a JSON object key names a credential value. Keys named after NGINX variables count
/// too: `http_authorization`, `sent_http_set_cookie`, `upstream_http_x_api_key`, `arg_api_key`,
/// and any `cookie_*`.
pub fn is_secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    if lower.starts_with("cookie_") || lower.starts_with("cookie-") {
        return true;
    }
    for prefix in ["sent_http_", "upstream_http_", "http_", "arg_"] {
        if let Some(rest) = lower.strip_prefix(prefix)
            && !rest.is_empty()
            && is_bare_secret_key(rest)
        {
            return true;
        }
    }
    is_bare_secret_key(key)
}

/// Keys that are credentials only inside certain objects: the `key` of a Kong credential
/// (`authenticated_entity.key`, `credential.key`) is the raw API key.
fn is_secret_in_context(parent: Option<&str>, key: &str) -> bool {
    matches!(parent, Some("authenticated_entity" | "credential" | "keyauth_credential" | "key_auth"))
        && matches!(key, "key" | "secret")
}

fn is_bare_secret_key(key: &str) -> bool {
    if key.len() > 32 {
        return false;
    }
    let mut normalised = [0u8; 32];
    let mut len = 0;
    for b in key.bytes() {
        if b == b'-' || b == b'_' {
            continue;
        }
        normalised[len] = b.to_ascii_lowercase();
        len += 1;
    }
    let normalised = &normalised[..len];
    SECRET_KEYS.iter().any(|k| k.as_bytes() == normalised)
}

/// Scrubs credentials out of free text and JSON values.
#[derive(Debug, Clone)]
pub struct Redactor {
    fingerprinter: Fingerprinter,
    auth_scheme: Regex,
    jwt: Regex,
    query_param: Regex,
    header_line: Regex,
    json_pair: Regex,
}

impl Redactor {
    /// A redactor replacing credentials with fingerprints from `fingerprinter`.
    pub fn new(fingerprinter: Fingerprinter) -> Self {
        // The patterns are constants: a failure here is a programming error caught by the tests.
        let compile =
            |pattern: &str| Regex::new(pattern).unwrap_or_else(|error| unreachable!("bad built-in pattern: {error}"));
        Redactor {
            fingerprinter,
            auth_scheme: compile(r"(?i)\b(bearer|basic|token|digest|dpop)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)"),
            jwt: compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
            query_param: compile(
                r"(?i)([?&;]|\b)(access_token|refresh_token|id_token|api_key|apikey|api-key|client_secret|password|passwd|token|x-amz-security-token|x-amz-signature|sig|signature|session_token|sessionid|session_id|sid|jwt|key|auth)=([^&\s#;,]+)",
            ),
            header_line: compile(
                r"(?i)\b(authorization|proxy-authorization|cookie|set-cookie|x-api-key)(\s*:\s*)([^\r\n]+)",
            ),
            // `"cookie": "…"` inside text that is JSON but could not be parsed (dead letters).
            json_pair: compile(
                r#"(?i)("(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|client[_-]?secret|password|token|x-auth-token|session[_-]?token)"\s*:\s*")([^"\\]{4,})"#,
            ),
        }
    }

    /// The fingerprinter used for replacements.
    pub fn fingerprinter(&self) -> &Fingerprinter {
        &self.fingerprinter
    }

    /// Cheap pre-check, one pass over the bytes: can `text` contain anything [`Self::scrub_str`]
    /// would replace? A superset of what the patterns need: `=` (query parameters), `eyJ` (JWTs),
    /// an authorisation scheme word (`bearer`, `basic`, `token`, `digest`, `dpop`), or `:` with a
    /// header or JSON key word (`authorization`, `cookie`, `key`, `token`, `password`, `secret`),
    /// ASCII case-insensitively; any non-ASCII byte (Unicode case folding) defers to the patterns.
    /// One table look-up per byte; only the bytes that can start one of those are looked at more.
    fn might_contain_secret(text: &str) -> bool {
        /// What a byte can start: 1 a sure sign (`=`, non-ASCII), 2 `:`, 4 `e` (of `eyJ`), 8 the
        /// first letter of a scheme word, 16 the first letter of a key word.
        static STARTS: [u8; 256] = {
            let mut table = [0u8; 256];
            let mut byte = 0;
            while byte < 256 {
                table[byte] = match byte as u8 {
                    b'=' | 0x80.. => 1,
                    b':' => 2,
                    b'e' => 4,
                    b'b' | b'B' | b't' | b'T' | b'd' | b'D' => 8,
                    b'a' | b'A' | b'c' | b'C' | b'k' | b'K' | b'p' | b'P' | b's' | b'S' => 16,
                    _ => 0,
                };
                byte += 1;
            }
            table
        };
        /// Whether `rest` starts with `word` (lowercase), ASCII case-insensitively.
        fn starts(rest: &[u8], word: &[u8]) -> bool {
            rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word)
        }
        let bytes = text.as_bytes();
        if bytes.len() < 8 {
            return false;
        }
        let mut colon = false;
        let mut key_word = false;
        for (at, &byte) in bytes.iter().enumerate() {
            let start = STARTS[usize::from(byte)];
            if start == 0 {
                continue;
            }
            let rest = &bytes[at..];
            match start {
                1 => return true,
                2 => colon = true,
                4 if rest.starts_with(b"eyJ") => return true,
                8 => match byte | 0x20 {
                    b'b' if starts(rest, b"bearer") || starts(rest, b"basic") => return true,
                    b't' if starts(rest, b"token") => return true,
                    b'd' if starts(rest, b"digest") || starts(rest, b"dpop") => return true,
                    _ => {}
                },
                16 if !key_word => {
                    key_word = match byte | 0x20 {
                        b'a' => starts(rest, b"authorization"),
                        b'c' => starts(rest, b"cookie"),
                        b'k' => starts(rest, b"key"),
                        b'p' => starts(rest, b"password"),
                        _ => starts(rest, b"secret"),
                    }
                }
                _ => {}
            }
        }
        colon && key_word
    }

    /// Replaces every credential found in `text` with its fingerprint.
    pub fn scrub_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !Self::might_contain_secret(text) {
            return Cow::Borrowed(text);
        }
        let mut out: Cow<'a, str> = Cow::Borrowed(text);
        let pair = self.json_pair.replace_all(&out, |c: &Captures<'_>| {
            format!("{}{}", &c[1], self.fingerprinter.fingerprint_credential(&c[2]))
        });
        if let Cow::Owned(owned) = pair {
            out = Cow::Owned(owned);
        }
        let header = self.header_line.replace_all(&out, |c: &Captures<'_>| {
            format!("{}{}{}", &c[1], &c[2], self.fingerprinter.fingerprint_credential(&c[3]))
        });
        if let Cow::Owned(owned) = header {
            out = Cow::Owned(owned);
        }
        let jwt = self.jwt.replace_all(&out, |c: &Captures<'_>| self.fingerprinter.fingerprint(&c[0]));
        if let Cow::Owned(owned) = jwt {
            out = Cow::Owned(owned);
        }
        let scheme = self.auth_scheme.replace_all(&out, |c: &Captures<'_>| {
            if c[3].starts_with(FINGERPRINT_PREFIX) {
                c[0].to_string()
            } else {
                format!("{}{}{}", &c[1], &c[2], self.fingerprinter.fingerprint(&c[3]))
            }
        });
        if let Cow::Owned(owned) = scheme {
            out = Cow::Owned(owned);
        }
        let query = self.query_param.replace_all(&out, |c: &Captures<'_>| {
            if c[3].starts_with(FINGERPRINT_PREFIX) {
                c[0].to_string()
            } else {
                format!("{}{}={}", &c[1], &c[2], self.fingerprinter.fingerprint(&c[3]))
            }
        });
        if let Cow::Owned(owned) = query {
            out = Cow::Owned(owned);
        }
        out
    }

    /// Scrubs a JSON value in place: values under secret keys are fingerprinted whole, every other
    /// string is scrubbed with [`Self::scrub_str`].
    pub fn scrub_value(&self, value: &mut Value) {
        self.scrub_value_under(value, None);
    }

    fn scrub_value_under(&self, value: &mut Value, parent: Option<&str>) {
        match value {
            Value::String(text) => {
                if let Cow::Owned(scrubbed) = self.scrub_str(text) {
                    *text = scrubbed;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.scrub_value_under(item, parent)),
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    if is_secret_key(key) || is_secret_in_context(parent, key) {
                        self.fingerprint_all_strings(item);
                    } else {
                        self.scrub_value_under(item, Some(key));
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn fingerprint_all_strings(&self, value: &mut Value) {
        match value {
            Value::String(text) if !text.is_empty() && !text.starts_with(FINGERPRINT_PREFIX) => {
                *text = self.fingerprinter.fingerprint_credential(text);
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.fingerprint_all_strings(item)),
            Value::Object(map) => map.values_mut().for_each(|item| self.fingerprint_all_strings(item)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6ImFiYyJ9.c2lnbmF0dXJlLXZhbHVl";

    fn redactor() -> Redactor {
        Redactor::new(Fingerprinter::new(b"test-key"))
    }

    #[test]
    fn fingerprint_is_keyed_stable_and_scheme_insensitive() {
        let a = Fingerprinter::new(b"key-a");
        let b = Fingerprinter::new(b"key-b");
        assert_eq!(a.fingerprint("s3cret"), a.fingerprint("s3cret"));
        assert_ne!(a.fingerprint("s3cret"), b.fingerprint("s3cret"));
        assert_eq!(a.fingerprint_credential("Bearer s3cret"), a.fingerprint("s3cret"));
        assert_eq!(a.fingerprint_credential("  bearer   s3cret "), a.fingerprint("s3cret"));
        // Multi-byte text where a scheme would end must not panic.
        assert_eq!(strip_auth_scheme("ñ\u{5ca0c}abcdefgh"), "ñ\u{5ca0c}abcdefgh");
        let fp = a.fingerprint("s3cret");
        assert!(fp.starts_with("fp:") && fp.len() == 35, "{fp}");
        assert!(!format!("{a:?}").contains("key-a"));
    }

    #[test]
    fn secret_keys_are_matched_loosely_but_ids_are_not() {
        for key in [
            "Authorization",
            "x-api-key",
            "X_API_KEY",
            "refresh_token",
            "Set-Cookie",
            "client_secret",
            "http_authorization",
            "http_x_api_key",
            "sent_http_set_cookie",
            "arg_api_key",
            "cookie_session",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "token_id",
            "hashed_token",
            "token_scopes",
            "tokenType",
            "uniqueTokenIdentifier",
            "user",
            "http_host",
            "arg_page",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn free_text_is_scrubbed_by_shape() {
        let r = redactor();
        let cases = [
            format!("GET /api?access_token={JWT}&page=2"),
            format!("Authorization: Bearer {JWT}"),
            "curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='".to_string(),
            "token abcdefgh12345678 used".to_string(),
            format!("jwt={JWT}"),
            "/v1/orders?api_key=AKIAXYZ1234567890&x=1".to_string(),
            r#"{"headers": {"cookie": "sid=abcdefgh12345678", "x": 1"#.to_string(),
        ];
        for text in cases {
            let scrubbed = r.scrub_str(&text);
            for secret in [JWT, "dXNlcjpwYXNzd29yZA==", "abcdefgh12345678", "AKIAXYZ1234567890"] {
                assert!(!scrubbed.contains(secret), "{text} -> {scrubbed}");
            }
            assert!(scrubbed.contains("fp:"), "{scrubbed}");
        }
        assert!(matches!(r.scrub_str("plain text with no secrets"), Cow::Borrowed(_)));
        assert_eq!(r.scrub_str("/v1/orders?page=2"), "/v1/orders?page=2");
    }

    proptest::proptest! {
        /// The one-pass pre-check only ever skips text none of the patterns would match (text
        /// under 8 bytes is left as it is, as it always was).
        #[test]
        fn the_pre_check_never_hides_a_match(parts in proptest::collection::vec(proptest::sample::select(vec![
            "Bearer ", "bAsIc ", "TOKEN ", "digest ", "dpop ", "abcdefgh12345678", "=", ":", "\"", " ", "\t", "?",
            "&", "authorization", "Proxy-Authorization", "Set-Cookie", "cookie", "x-api-key", "api_key", "apikey",
            "access-token", "password", "client_secret", "sid", "sig", "key", "auth", "jwt", "eyJhbGci", "eyJzdWIi",
            ".", "/v1/orders", "2026-01-05T00:01:00Z", "é", "\u{212a}", "ſ", "x",
        ]), 0..10)) {
            let text: String = parts.concat();
            let r = redactor();
            if text.len() >= 8 && !Redactor::might_contain_secret(&text) {
                for pattern in [&r.auth_scheme, &r.jwt, &r.query_param, &r.header_line, &r.json_pair] {
                    proptest::prop_assert!(!pattern.is_match(&text), "{} matches {:?}", pattern.as_str(), text);
                }
            }
        }
    }

    #[test]
    fn json_records_are_scrubbed_by_key_and_shape() {
        let r = redactor();
        let mut record = json!({
            "request": {
                "headers": {"authorization": "Bearer opaque-token-value-1", "cookie": ["sid=abc123456789"], "host": "api"},
                "uri": format!("/a?refresh_token={JWT}"),
            },
            "token_id": "12345",
            "note": format!("saw {JWT}"),
        });
        r.scrub_value(&mut record);
        let text = record.to_string();
        for secret in ["opaque-token-value-1", "abc123456789", JWT] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(record["token_id"], "12345");
        let mut kong = json!({"authenticated_entity": {"id": "c1", "key": "0123456789abcdef"}, "key": "orders"});
        r.scrub_value(&mut kong);
        assert_eq!(kong["authenticated_entity"]["id"], "c1");
        assert_ne!(kong["authenticated_entity"]["key"], "0123456789abcdef");
        assert_eq!(kong["key"], "orders", "a plain `key` elsewhere is not a credential");
        assert_eq!(record["request"]["headers"]["host"], "api");
        assert_eq!(
            record["request"]["headers"]["authorization"],
            r.fingerprinter().fingerprint("opaque-token-value-1")
        );
    }
}

//! Evaluating a compiled [`Mapping`] on one record.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::path::FieldPath;
use super::spec::{Condition, FieldSpec, Mapping, TemplatePart, TokenSpec};
use crate::dead_letter::{DeadLetterReason, Rejection};
use crate::event::{Event, EventClass, Geo, GeoFrom, Origin, Outcome, TokenKind};
use crate::geo::{GeoDb, country_code, parse_ip};
use crate::json::Node;
use crate::secrets::{Fingerprinter, Redactor, strip_auth_scheme};
use crate::time;

/// What normalisation needs besides the mapping: the secret key and the IP database.
#[derive(Debug, Clone)]
pub struct NormalizeContext {
    redactor: Redactor,
    geo: Option<Arc<GeoDb>>,
}

impl NormalizeContext {
    /// A context fingerprinting with `fingerprinter` and locating with `geo` (if any).
    pub fn new(fingerprinter: Fingerprinter, geo: Option<Arc<GeoDb>>) -> Self {
        NormalizeContext { redactor: Redactor::new(fingerprinter), geo }
    }

    /// The redactor used for every string taken from a record.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The IP database, if one is configured.
    pub fn geo(&self) -> Option<&Arc<GeoDb>> {
        self.geo.as_ref()
    }
}

/// Claims of a JWT that help identify a token.
#[derive(Debug, Default)]
struct JwtClaims {
    id: Option<String>,
    subject: Option<String>,
    client_id: Option<String>,
    scopes: Vec<String>,
    tenant: Option<String>,
    session_id: Option<String>,
}

/// The credential found in a record.
struct FoundToken {
    id: String,
    kind: TokenKind,
    claims: JwtClaims,
}

impl Mapping {
    /// Whether `record` has this layout's shape (see [`Self::matches_node`]).
    pub fn matches(&self, record: &Value) -> bool {
        self.matches_node(&Node::from_value(record))
    }

    /// Normalises one record of this layout (see [`Self::apply_node`]).
    pub fn apply(&self, record: &Value, ctx: &NormalizeContext, origin: Origin) -> Result<Event, Rejection> {
        self.apply_node(&Node::from_value(record), ctx, origin)
    }

    /// Whether `record`, parsed as a borrowed tree, has this layout's shape.
    pub fn matches_node(&self, record: &Node<'_>) -> bool {
        let detect = &self.detect;
        detect.all.iter().all(|path| path.first(record).is_some())
            && (detect.any.is_empty() || detect.any.iter().any(|path| path.first(record).is_some()))
            && detect.absent.iter().all(|path| path.first(record).is_none())
            && detect.equals.iter().all(|condition| condition_holds(condition, record))
    }

    /// Normalises one record of this layout, parsed as a borrowed tree.
    pub fn apply_node(&self, record: &Node<'_>, ctx: &NormalizeContext, origin: Origin) -> Result<Event, Rejection> {
        let time_us = self.event_time(record)?;
        let text = |field: &str| self.fields.get(field).and_then(|spec| eval_text(spec, record, ctx));

        let token = self.find_token(record, ctx);
        let http_status = self.fields.get("http_status").and_then(|spec| eval_number(spec, record)).and_then(|n| {
            let status = u16::try_from(n).ok()?;
            (100..=599).contains(&status).then_some(status)
        });
        let class = text("class").and_then(|name| EventClass::parse(&name)).unwrap_or(self.class);
        let outcome = text("outcome").and_then(|name| Outcome::parse(&name)).unwrap_or(match http_status {
            Some(status) if status < 400 => Outcome::Success,
            Some(_) => Outcome::Failure,
            None => Outcome::Unknown,
        });
        let src_ip = text("src_ip").and_then(|ip| parse_ip(&ip));
        let geo = self.geo(record, ctx, src_ip);
        let asn = self.fields.get("asn").and_then(|spec| eval_asn(spec, record));

        let mut scopes = Vec::new();
        if let Some(spec) = self.fields.get("scopes") {
            collect_list(spec, record, ctx, &mut scopes);
        }
        let (token_id, token_kind, claims) = match token {
            Some(FoundToken { id, kind, claims }) => (Some(id), kind, claims),
            None => (None, TokenKind::Unknown, JwtClaims::default()),
        };
        if scopes.is_empty() {
            scopes = claims.scopes;
        }
        dedup_in_order(&mut scopes);

        let event_id = text("event_id").map(Cow::into_owned).unwrap_or_else(|| content_id(record));
        Ok(Event {
            time_us,
            source: Arc::clone(&self.name),
            class,
            event_id,
            action: text("action").map(Cow::into_owned),
            outcome,
            token_id,
            token_kind,
            subject: text("subject").map(Cow::into_owned).or(claims.subject),
            client_id: text("client_id").map(Cow::into_owned).or(claims.client_id),
            session_id: text("session_id").map(Cow::into_owned).or(claims.session_id),
            src_ip,
            geo,
            asn,
            as_org: text("as_org").map(Cow::into_owned),
            user_agent: text("user_agent").map(Cow::into_owned),
            device_id: text("device_id").map(Cow::into_owned),
            scopes,
            resource: text("resource").map(Cow::into_owned),
            http_status,
            tenant: text("tenant").map(Cow::into_owned).or(claims.tenant),
            origin,
        })
    }

    fn event_time(&self, record: &Node<'_>) -> Result<i64, Rejection> {
        let Some(spec) = self.fields.get("time") else {
            return Err(Rejection::new(DeadLetterReason::MissingTime, "the mapping has no time field"));
        };
        // The first value that parses wins; an unparseable one falls through to the next path.
        let mut first_bad: Option<(&FieldPath, &Node<'_>)> = None;
        for path in &spec.paths {
            let Some(value) = path.first(record) else { continue };
            if let Some(micros) = time::parse_node(value, spec.format) {
                return Ok(micros);
            }
            first_bad.get_or_insert((path, value));
        }
        match first_bad {
            Some((path, value)) => {
                let mut shown = value.to_string();
                if shown.len() > 64 {
                    shown.truncate(shown.char_indices().nth(64).map_or(shown.len(), |(at, _)| at));
                    shown.push('…');
                }
                Err(Rejection::new(DeadLetterReason::InvalidTime, format!("`{path}` = {shown} is not a timestamp")))
            }
            None => {
                let tried: Vec<&str> = spec.paths.iter().map(|p| p.as_str()).collect();
                Err(Rejection::new(DeadLetterReason::MissingTime, format!("no time at `{}`", tried.join("`, `"))))
            }
        }
    }

    fn find_token(&self, record: &Node<'_>, ctx: &NormalizeContext) -> Option<FoundToken> {
        self.tokens.iter().find_map(|spec| token_from(spec, record, ctx))
    }

    fn geo(&self, record: &Node<'_>, ctx: &NormalizeContext, src_ip: Option<std::net::IpAddr>) -> Option<Geo> {
        let number = |field: &str| self.fields.get(field).and_then(|spec| eval_float(spec, record));
        let text = |field: &str| self.fields.get(field).and_then(|spec| eval_text(spec, record, ctx));
        let lat = number("geo_lat").filter(|lat| (-90.0..=90.0).contains(lat));
        let lon = number("geo_lon").filter(|lon| (-180.0..=180.0).contains(lon));
        let country = text("geo_country").and_then(|country| country_code(&country));
        let city = text("geo_city").map(Cow::into_owned).filter(|city| !city.eq_ignore_ascii_case("unknown"));
        // (0, 0) is what several vendors write when they do not know.
        let coords = match (lat, lon) {
            (Some(lat), Some(lon)) if lat != 0.0 || lon != 0.0 => Some((lat, lon)),
            _ => None,
        };
        if let Some((lat, lon)) = coords {
            let radius_km = number("geo_radius_km").map(|r| r as f32);
            return Some(Geo { lat: Some(lat), lon: Some(lon), country, city, radius_km, from: GeoFrom::Record });
        }
        let looked_up = src_ip.and_then(|ip| ctx.geo.as_ref()?.lookup(ip));
        match looked_up {
            Some(hit) => {
                let mut geo = hit.to_geo();
                // The record's own country and city win over the database's.
                if country.is_some() {
                    geo.country = country;
                }
                if city.is_some() {
                    geo.city = city;
                }
                Some(geo)
            }
            None if country.is_some() || city.is_some() => {
                Some(Geo { lat: None, lon: None, country, city, radius_km: None, from: GeoFrom::Record })
            }
            None => None,
        }
    }
}

fn condition_holds(condition: &Condition, record: &Node<'_>) -> bool {
    let Some(value) = condition.path.first(record) else { return false };
    match &condition.equals {
        None => true,
        Some(pattern) => scalar_text(value).is_some_and(|text| pattern.matches(&text)),
    }
}

fn token_from(spec: &TokenSpec, record: &Node<'_>, ctx: &NormalizeContext) -> Option<FoundToken> {
    // A flag is never a credential (Kong logs `?apikey` without a value as `true`).
    let is_flag = spec.field.paths.iter().any(|path| path.first(record).is_some_and(Node::is_boolean));
    let raw = eval_raw(&spec.field, record).filter(|_| !is_flag)?;
    let kind = spec
        .kind_map
        .as_ref()
        // Only ever parsed as a kind name, never written: no scrubbing (a kind name has nothing
        // to scrub, and scrubbing a whole `Authorization` header here cost an HMAC per record).
        .and_then(|kind_spec| eval_mapped(kind_spec, record))
        .and_then(|name| TokenKind::parse(&name))
        .unwrap_or(spec.kind);
    let fingerprinter = ctx.redactor.fingerprinter();
    if spec.field.jwt
        && let Some(claims) = decode_jwt(strip_auth_scheme(&raw), &spec.field.jwt_claim)
    {
        let id = claims.id.clone().unwrap_or_else(|| fingerprinter.fingerprint_credential(&raw));
        let kind = if kind == TokenKind::Unknown { TokenKind::Access } else { kind };
        return Some(FoundToken { id, kind, claims: scrub_claims(claims, ctx) });
    }
    let id = if spec.field.secret {
        fingerprinter.fingerprint_credential(&raw)
    } else {
        ctx.redactor.scrub_str(&raw).into_owned()
    };
    Some(FoundToken { id, kind, claims: JwtClaims::default() })
}

fn scrub_claims(mut claims: JwtClaims, ctx: &NormalizeContext) -> JwtClaims {
    let scrub = |text: Option<String>| text.map(|t| ctx.redactor.scrub_str(&t).into_owned());
    claims.subject = scrub(claims.subject);
    claims.client_id = scrub(claims.client_id);
    claims.tenant = scrub(claims.tenant);
    claims.session_id = scrub(claims.session_id);
    claims
}

/// Decodes a JWT's payload (without verifying it: tokenwatch observes tokens, it does not accept
/// them) and extracts the claims that identify it.
fn decode_jwt(token: &str, id_claim: &str) -> Option<JwtClaims> {
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !header.starts_with("eyJ") {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims = Node::parse(&bytes).ok()?;
    let text = |key: &str| claims.get(key).and_then(scalar_text).map(Cow::into_owned);
    let mut scopes = Vec::new();
    for key in ["scope", "scp", "scopes", "roles"] {
        match claims.get(key) {
            Some(Node::String(list)) => {
                scopes.extend(list.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_string))
            }
            Some(Node::Array(items)) => scopes.extend(items.iter().filter_map(scalar_text).map(Cow::into_owned)),
            _ => {}
        }
    }
    Some(JwtClaims {
        id: text(id_claim),
        subject: text("sub"),
        client_id: text("client_id").or_else(|| text("azp")).or_else(|| text("cid")).or_else(|| text("appid")),
        scopes,
        tenant: text("tid"),
        session_id: text("sid"),
    })
}

/// The text of a scalar JSON value; empty strings and non-scalars give `None`.
fn scalar_text<'v>(value: &'v Node<'_>) -> Option<Cow<'v, str>> {
    match value {
        Node::String(text) if !is_null_like(text) => Some(Cow::Borrowed(text.as_ref())),
        Node::Number(number) => Some(Cow::Owned(number.to_string())),
        Node::Bool(flag) => Some(Cow::Borrowed(if *flag { "true" } else { "false" })),
        _ => None,
    }
}

/// The spec's value before `map` and scrubbing: template, first path, query parameter, prefix.
fn eval_raw<'a>(spec: &FieldSpec, record: &'a Node<'_>) -> Option<Cow<'a, str>> {
    if !spec.when.iter().all(|condition| condition_holds(condition, record)) {
        return None;
    }
    let mut value: Option<Cow<'a, str>> = if let Some(template) = &spec.template {
        render_template(template, record).map(Cow::Owned)
    } else {
        spec.paths.iter().find_map(|path| path.first(record).and_then(scalar_text))
    };
    if spec.strip_query
        && let Some(text) = &value
        && let Some(at) = text.find('?')
    {
        value = Some(Cow::Owned(text[..at].to_string()));
    }
    if let (Some(param), Some(text)) = (&spec.query_param, &value) {
        value = query_param(text, param).map(|found| Cow::Owned(found.to_string()));
    }
    if let (Some(prefix), Some(text)) = (&spec.strip_prefix, &value)
        && let Some(stripped) = text.strip_prefix(prefix.as_str())
    {
        value = Some(Cow::Owned(stripped.to_string()));
    }
    value.filter(|text| !is_null_like(text) && !spec.ignore.iter().any(|ignored| ignored == text.as_ref()))
}

/// The spec's value after `map`/`default`, before secrets are removed: for values that are only
/// interpreted, never written (a `kind_map`). `None` for a `secret` spec, whose value is only ever
/// a fingerprint.
fn eval_mapped<'a>(spec: &FieldSpec, record: &'a Node<'_>) -> Option<Cow<'a, str>> {
    if spec.secret {
        return None;
    }
    map_value(spec, eval_raw(spec, record))
}

/// `map`, `default` and `value` applied to the raw value.
fn map_value<'a>(spec: &FieldSpec, raw: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    match raw {
        Some(text) if !spec.map.is_empty() => match spec.map.iter().find(|(pattern, _)| pattern.matches(&text)) {
            Some((_, target)) => Some(Cow::Owned(target.clone())),
            None => Some(spec.default.clone().map_or(text, Cow::Owned)),
        },
        Some(text) => Some(text),
        None => spec.value.clone().or_else(|| spec.default.clone()).map(Cow::Owned),
    }
}

/// The spec's final text: raw value, then `map`/`default`, then secrets removed.
fn eval_text<'a>(spec: &FieldSpec, record: &'a Node<'_>, ctx: &NormalizeContext) -> Option<Cow<'a, str>> {
    let text = map_value(spec, eval_raw(spec, record))?;
    if spec.secret {
        return Some(Cow::Owned(ctx.redactor.fingerprinter().fingerprint_credential(&text)));
    }
    Some(match text {
        Cow::Borrowed(borrowed) => ctx.redactor.scrub_str(borrowed),
        Cow::Owned(owned) => Cow::Owned(ctx.redactor.scrub_str(&owned).into_owned()),
    })
}

/// Placeholders vendors write for "no value": empty, `-` (NGINX, Envoy), `null`, `(null)`, and
/// the markers of values the vendor redacted itself (`REDACTED`, `[REDACTED]`, `***`).
fn is_null_like(text: &str) -> bool {
    let text = text.trim();
    // Each placeholder has its own first byte: one comparison rules most text out.
    match text.as_bytes().first() {
        None => true,
        Some(b'-') => text == "-",
        Some(b'(') => text == "(null)",
        Some(b'n' | b'N') => text.eq_ignore_ascii_case("null"),
        Some(b'u' | b'U') => text.eq_ignore_ascii_case("unknown"),
        Some(b'*') => text.bytes().all(|b| b == b'*'),
        Some(b'[' | b']' | b'<' | b'>' | b'r' | b'R') => {
            text.trim_matches(['[', ']', '<', '>']).eq_ignore_ascii_case("redacted")
        }
        Some(_) => false,
    }
}

fn render_template(parts: &[TemplatePart], record: &Node<'_>) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for part in parts {
        match part {
            TemplatePart::Literal(text) => out.push_str(text),
            TemplatePart::Paths(paths) => {
                match paths.iter().find_map(|path| path.first(record).and_then(scalar_text)) {
                    Some(text) => {
                        any = true;
                        out.push_str(&text);
                    }
                    None => out.push('-'),
                }
            }
        }
    }
    any.then_some(out)
}

fn query_param<'t>(url: &'t str, name: &str) -> Option<&'t str> {
    let query = url.split_once('?').map_or(url, |(_, query)| query);
    let query = query.split(['#', ' ']).next().unwrap_or(query);
    query.split(['&', ';']).find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.eq_ignore_ascii_case(name) && !value.is_empty()).then_some(value)
    })
}

fn eval_float(spec: &FieldSpec, record: &Node<'_>) -> Option<f64> {
    spec.paths.iter().find_map(|path| match path.first(record)? {
        Node::Number(number) => number.as_f64(),
        Node::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

fn eval_number(spec: &FieldSpec, record: &Node<'_>) -> Option<i64> {
    spec.paths.iter().find_map(|path| match path.first(record)? {
        Node::Number(number) => number.as_i64(),
        Node::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

fn eval_asn(spec: &FieldSpec, record: &Node<'_>) -> Option<u32> {
    spec.paths
        .iter()
        .find_map(|path| match path.first(record)? {
            Node::Number(number) => number.as_u64().and_then(|n| u32::try_from(n).ok()),
            Node::String(text) => {
                let text = text.trim();
                let digits = text.strip_prefix("AS").or_else(|| text.strip_prefix("as")).unwrap_or(text);
                digits.parse().ok()
            }
            _ => None,
        })
        // AS 0 is reserved: vendors write it when they do not know.
        .filter(|asn| *asn != 0)
}

fn collect_list(spec: &FieldSpec, record: &Node<'_>, ctx: &NormalizeContext, out: &mut Vec<String>) {
    let mut values = Vec::new();
    for path in &spec.paths {
        path.all(record, &mut values);
        // An empty string or list does not hide the next alternative.
        values.retain(|value| match value {
            Node::Array(items) => items.iter().any(|item| scalar_text(item).is_some()),
            other => scalar_text(other).is_some(),
        });
        if !values.is_empty() {
            break;
        }
    }
    let split = |text: &str, out: &mut Vec<String>| {
        let pieces: Box<dyn Iterator<Item = &str>> = match &spec.split {
            Some(separator) => Box::new(text.split(separator.as_str())),
            None => Box::new(text.split(|c: char| c == ',' || c.is_whitespace())),
        };
        for piece in pieces.map(str::trim).filter(|piece| !piece.is_empty()) {
            out.push(ctx.redactor.scrub_str(piece).into_owned());
        }
    };
    for value in values {
        match value {
            Node::Array(items) => items.iter().filter_map(scalar_text).for_each(|text| split(&text, out)),
            other => {
                if let Some(text) = scalar_text(other) {
                    split(&text, out);
                }
            }
        }
    }
    if out.is_empty()
        && let Some(constant) = &spec.value
    {
        split(constant, out);
    }
}

fn dedup_in_order(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.retain(|item| seen.insert(item.clone()));
}

/// A stable id for records without one: `tw-` + 24 hex digits of SHA-256 of the record's JSON.
fn content_id(record: &Node<'_>) -> String {
    let bytes = serde_json::to_vec(&record.to_value()).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    format!("tw-{}", hex::encode(&digest[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> NormalizeContext {
        NormalizeContext::new(Fingerprinter::new(b"k"), None)
    }

    fn origin() -> Origin {
        Origin::file(Arc::from("t.jsonl"), 1)
    }

    const GATEWAY: &str = r#"
        [source]
        name = "gw"
        class = "api_activity"
        [detect]
        all = ["ts", "req"]
        [fields]
        time = { path = "ts", format = "epoch_ms" }
        action = { template = "{req.method} {req.path}" }
        src_ip = "client"
        http_status = "status"
        scopes = { path = "scope", split = " " }
        outcome = { path = "result", map = { ok = "success", "denied*" = "failure" } }
        [[tokens]]
        path = ["req.headers.authorization", "req.headers.Authorization"]
        secret = true
        jwt = true
        [[tokens]]
        path = "req.path"
        query_param = "api_key"
        secret = true
        kind = "api_key"
    "#;

    fn jwt(claims: Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{payload}.c2lnbmF0dXJl")
    }

    #[test]
    fn jwt_bearer_gives_jti_and_claims_never_the_token() {
        let mapping = Mapping::from_toml("gw.toml", GATEWAY).unwrap();
        let token = jwt(json!({"jti": "tok-1", "sub": "alice", "azp": "cli", "scope": "read write"}));
        let record = json!({"ts": 1_700_000_000_000i64, "client": "8.8.8.8:1234", "status": 403,
            "req": {"method": "GET", "path": "/v1/x", "headers": {"authorization": format!("Bearer {token}")}}});
        let event = mapping.apply(&record, &ctx(), origin()).unwrap();
        assert_eq!(event.time_us, 1_700_000_000_000_000);
        assert_eq!(event.token_id.as_deref(), Some("tok-1"));
        assert_eq!(event.token_kind, TokenKind::Access);
        assert_eq!(event.subject.as_deref(), Some("alice"));
        assert_eq!(event.client_id.as_deref(), Some("cli"));
        assert_eq!(event.scopes, vec!["read", "write"]);
        assert_eq!(event.action.as_deref(), Some("GET /v1/x"));
        assert_eq!(event.outcome, Outcome::Failure, "403 without an outcome field means failure");
        assert_eq!(event.src_ip, Some("8.8.8.8".parse().unwrap()));
        assert!(!format!("{event:?}").contains(&token));
    }

    #[test]
    fn opaque_secrets_and_query_keys_are_fingerprinted() {
        let mapping = Mapping::from_toml("gw.toml", GATEWAY).unwrap();
        let ctx = ctx();
        let record = json!({"ts": 1_700_000_000_000i64, "result": "denied_by_policy",
            "req": {"method": "GET", "path": "/v1/x", "headers": {"Authorization": "Bearer opaque-secret-123"}}});
        let event = mapping.apply(&record, &ctx, origin()).unwrap();
        assert_eq!(event.token_id, Some(ctx.redactor().fingerprinter().fingerprint("opaque-secret-123")));
        assert_eq!(event.outcome, Outcome::Failure);
        let record =
            json!({"ts": 1_700_000_000_000i64, "req": {"method": "GET", "path": "/v1/x?api_key=key-123456789"}});
        let event = mapping.apply(&record, &ctx, origin()).unwrap();
        assert_eq!(event.token_id, Some(ctx.redactor().fingerprinter().fingerprint("key-123456789")));
        assert_eq!(event.token_kind, TokenKind::ApiKey);
        assert!(!format!("{event:?}").contains("key-123456789"), "{event:?}");
    }

    #[test]
    fn time_problems_are_rejections_with_reasons() {
        let mapping = Mapping::from_toml("gw.toml", GATEWAY).unwrap();
        let missing = mapping.apply(&json!({"req": {}}), &ctx(), origin()).unwrap_err();
        assert_eq!(missing.reason, DeadLetterReason::MissingTime);
        assert!(missing.detail.contains("`ts`"), "{}", missing.detail);
        let invalid = mapping.apply(&json!({"ts": "yesterday", "req": {}}), &ctx(), origin()).unwrap_err();
        assert_eq!(invalid.reason, DeadLetterReason::InvalidTime);
        assert!(invalid.detail.contains("yesterday"), "{}", invalid.detail);
    }

    #[test]
    fn records_without_an_id_get_a_stable_content_id() {
        let mapping = Mapping::from_toml("gw.toml", GATEWAY).unwrap();
        let record = json!({"ts": 1_700_000_000_000i64, "req": {"path": "/a"}});
        let a = mapping.apply(&record, &ctx(), origin()).unwrap();
        let b = mapping.apply(&record, &ctx(), origin()).unwrap();
        assert!(a.event_id.starts_with("tw-"));
        assert_eq!(a.event_id, b.event_id);
        let other =
            mapping.apply(&json!({"ts": 1_700_000_000_001i64, "req": {"path": "/a"}}), &ctx(), origin()).unwrap();
        assert_ne!(a.event_id, other.event_id);
    }

    #[test]
    fn query_parameters_are_found_case_insensitively() {
        assert_eq!(query_param("/a?x=1&API_KEY=k&y=2", "api_key"), Some("k"));
        assert_eq!(query_param("/a?x=1", "api_key"), None);
        assert_eq!(query_param("/a?api_key=", "api_key"), None);
    }
}

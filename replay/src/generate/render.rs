//! Turns the plan into vendor records: Okta System Log events, Kong File Log objects, GitHub audit
//! log entries and CloudTrail records, each with the fields and nesting of the real thing.

use std::fmt::{Display, Write as _};

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::plan::*;
use super::util::{HOUR, alnum, aws_console_time, base64url, hex, rfc3339_ms, rfc3339_s, uuid4};
use super::world::*;

/// A JSON object being written; the closing brace is written on drop.
pub(super) struct Obj<'a> {
    buf: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn new(buf: &'a mut String) -> Self {
        buf.push('{');
        Obj { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        escape(self.buf, key);
        self.buf.push(':');
    }

    pub fn s(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        escape(self.buf, value);
        self
    }

    pub fn n(&mut self, key: &str, value: impl Display) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{value}");
        self
    }

    pub fn b(&mut self, key: &str, value: bool) -> &mut Self {
        self.n(key, value)
    }

    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str("null");
        self
    }

    pub fn o(&mut self, key: &str, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(key);
        {
            let mut inner = Obj::new(&mut *self.buf);
            fill(&mut inner);
        }
        self
    }

    pub fn a(&mut self, key: &str, fill: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        self.key(key);
        {
            let mut inner = Arr::new(&mut *self.buf);
            fill(&mut inner);
        }
        self
    }
}

impl Drop for Obj<'_> {
    fn drop(&mut self) {
        self.buf.push('}');
    }
}

/// A JSON array being written; the closing bracket is written on drop.
pub(super) struct Arr<'a> {
    buf: &'a mut String,
    first: bool,
}

impl<'a> Arr<'a> {
    fn new(buf: &'a mut String) -> Self {
        buf.push('[');
        Arr { buf, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
    }

    pub fn s(&mut self, value: &str) -> &mut Self {
        self.sep();
        escape(self.buf, value);
        self
    }

    pub fn o(&mut self, fill: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.sep();
        {
            let mut inner = Obj::new(&mut *self.buf);
            fill(&mut inner);
        }
        self
    }

    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.sep();
        self.buf.push_str(json);
        self
    }
}

impl Drop for Arr<'_> {
    fn drop(&mut self) {
        self.buf.push(']');
    }
}

/// Writes `text` as a JSON string.
fn escape(buf: &mut String, text: &str) {
    buf.push('"');
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        buf.push_str(text);
    } else {
        for c in text.chars() {
            match c {
                '"' => buf.push_str("\\\""),
                '\\' => buf.push_str("\\\\"),
                '\n' => buf.push_str("\\n"),
                '\r' => buf.push_str("\\r"),
                '\t' => buf.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(buf, "\\u{:04x}", c as u32);
                }
                c => buf.push(c),
            }
        }
    }
    buf.push('"');
}

/// A rendered record: event time, creation order, JSON.
pub(super) type Line = (i64, u64, String);

/// Every record of the dataset, per file.
#[derive(Debug, Default)]
pub(super) struct Rendered {
    pub okta: Vec<Line>,
    pub kong: Vec<Line>,
    pub github: Vec<Line>,
    /// CloudTrail records (not yet grouped into `{"Records": […]}` files).
    pub cloudtrail: Vec<Line>,
}

/// Renders every use of every token.
pub(super) fn render(g: &mut Gen) -> Rendered {
    let mut out = Rendered::default();
    let mut seq = 0u64;
    let tokens = std::mem::take(&mut g.tokens);
    for token in &tokens {
        let jwt = (token.src == Src::Kong).then(|| jwt(token, &token.scopes, false));
        for use_ in &token.uses {
            let mut buf = String::with_capacity(1600);
            let list = match token.src {
                Src::Okta => {
                    okta(g, token, use_, &mut buf);
                    &mut out.okta
                }
                Src::Kong => {
                    kong(g, token, use_, jwt.as_deref().unwrap_or_default(), &mut buf);
                    &mut out.kong
                }
                Src::Github => {
                    github(&mut g.rng, token, use_, &mut buf);
                    &mut out.github
                }
                Src::Aws => {
                    cloudtrail(&mut g.rng, token, use_, &mut buf);
                    &mut out.cloudtrail
                }
            };
            list.push((use_.t, seq, buf));
            seq += 1;
        }
    }
    g.tokens = tokens;
    for list in [&mut out.okta, &mut out.kong, &mut out.github, &mut out.cloudtrail] {
        list.sort_by_key(|(t, seq, _)| (*t, *seq));
    }
    out
}

fn geo(o: &mut Obj<'_>, city: &City) {
    o.s("city", city.name).s("state", city.state).s("country", city.country_name).s("postalCode", city.postal).o(
        "geolocation",
        |o| {
            o.n("lat", city.lat).n("lon", city.lon);
        },
    );
}

fn okta(g: &mut Gen, token: &TokenPlan, use_: &Use, buf: &mut String) {
    let city = &CITIES[use_.place.city];
    let net = &NETS[use_.place.net];
    let ua = &UAS[use_.ua];
    let ip = use_.place.ip.to_string();
    let request_id = format!("{}AAA{}", alnum(&mut g.rng, 20), alnum(&mut g.rng, 4));
    let hash = base64url(&g.rng.random::<[u8; 16]>());
    let g = &*g;
    let user = token.user.map(|u| &g.users[u]);
    let client = match &token.cred {
        Cred::OktaToken { client } => Some(&g.okta_clients[*client]),
        _ => None,
    };
    let refresh = token.kind == "refresh";
    let (message, event_type, legacy) = match &use_.op {
        Op::SessionStart => ("User login to Okta", "user.session.start", "core.user_auth.login_success"),
        Op::Mfa => {
            ("Authentication of user via MFA", "user.authentication.auth_via_mfa", "core.user.factor.attempt_success")
        }
        Op::Sso(_) => ("User single sign on to app", "user.authentication.sso", "app.auth.sso"),
        Op::Grant { .. } if refresh => (
            "OAuth2 refresh token is granted",
            "app.oauth2.as.token.grant.refresh_token",
            "app.oauth2.as.token.grant.refresh_token_success",
        ),
        Op::Grant { .. } => (
            "OAuth2 access token is granted",
            "app.oauth2.as.token.grant.access_token",
            "app.oauth2.as.token.grant.access_token_success",
        ),
        Op::DetectReuse { .. } => {
            ("Token Reuse", "app.oauth2.as.token.detect_reuse", "app.oauth2.as.token.detect_reuse")
        }
        _ => unreachable!("not an Okta operation"),
    };
    let session = match token.cred {
        Cred::OktaSession => token.id.as_str(),
        _ => "unknown",
    };
    let auth_server = &g.okta_auth_server;
    let sso_app = match use_.op {
        Op::Sso(app) => Some((SSO_APPS[app], g.sso_app_ids[app].as_str())),
        _ => None,
    };
    let mut o = Obj::new(buf);
    o.o("actor", |o| match client {
        Some(client) => {
            o.s("id", &client.id)
                .s("type", "PublicClientApp")
                .s("alternateId", &client.id)
                .s("displayName", client.name);
            o.null("detailEntry");
        }
        None => {
            let user = user.expect("session events have a user");
            o.s("id", &user.okta_id).s("type", "User").s("alternateId", &user.email).s("displayName", &user.display);
            o.null("detailEntry");
        }
    });
    o.o("client", |o| {
        o.o("userAgent", |o| {
            o.s("rawUserAgent", ua.raw).s("os", ua.os).s("browser", ua.browser);
        });
        o.s("zone", "null").s("device", ua.device).null("id").s("ipAddress", &ip);
        o.o("geographicalContext", |o| geo(o, city));
    });
    o.null("device");
    o.o("authenticationContext", |o| {
        o.null("authenticationProvider").null("credentialProvider");
        match use_.op {
            Op::SessionStart => o.s("credentialType", "PASSWORD"),
            _ => o.null("credentialType"),
        };
        o.null("issuer").null("interface").n("authenticationStep", 0).s("externalSessionId", session);
    });
    o.s("displayMessage", message).s("eventType", event_type);
    o.o("outcome", |o| {
        o.s("result", "SUCCESS").null("reason");
    });
    o.s("published", &rfc3339_ms(use_.t));
    o.o("securityContext", |o| {
        o.n("asNumber", net.asn).s("asOrg", net.org).s("isp", net.isp).s("domain", net.domain).b("isProxy", false);
    });
    o.s("severity", if matches!(use_.op, Op::DetectReuse { .. }) { "WARN" } else { "INFO" });
    o.o("debugContext", |o| {
        o.o("debugData", |o| match &use_.op {
            Op::Grant { scopes, .. } | Op::DetectReuse { scopes } => {
                let joined = scopes.join(", ");
                let uri = format!("/oauth2/{auth_server}/v1/token");
                let auth = if token.machine { "client_secret_basic" } else { "none" };
                o.s("clientAuthType", auth).s("grantType", grant_type_of(&use_.op)).s("grantedScopes", &joined);
                o.s("requestedScopes", &joined).s("requestId", &request_id).s("requestUri", &uri);
                o.s("responseTime", &format!("{}", 40 + (use_.t / 1000) % 400));
                o.s("threatSuspected", "false").s("url", &format!("{uri}?"));
            }
            _ => {
                let uri = match (&use_.op, &sso_app) {
                    (Op::SessionStart, _) => "/idp/idx/identify".to_string(),
                    (Op::Mfa, _) => "/idp/idx/challenge/answer".to_string(),
                    (_, Some((name, id))) => {
                        format!("/app/{}/{id}/sso/saml", name.to_lowercase().replace(' ', "_"))
                    }
                    _ => "/".to_string(),
                };
                o.s("requestId", &request_id)
                    .s("requestUri", &uri)
                    .s("threatSuspected", "false")
                    .s("url", &format!("{uri}?"));
            }
        });
    });
    o.s("legacyEventType", legacy);
    o.o("transaction", |o| {
        o.s("type", "WEB").s("id", &request_id).o("detail", |_| {});
    });
    o.s("uuid", &use_.id).s("version", "0");
    o.o("request", |o| {
        o.a("ipChain", |a| {
            a.o(|o| {
                o.s("ip", &ip).o("geographicalContext", |o| geo(o, city)).s("version", "V4").null("source");
            });
        });
    });
    match &use_.op {
        Op::SessionStart => {
            o.null("target");
        }
        Op::Mfa => {
            o.a("target", |a| {
                a.o(|o| {
                    o.s("id", &format!("pfd{}", &hash[..17])).s("type", "AuthenticatorEnrollment");
                    o.s("alternateId", "unknown").s("displayName", "Okta Verify").null("detailEntry");
                });
            });
        }
        Op::Sso(_) => {
            let (name, id) = sso_app.expect("sso");
            let user = user.expect("user");
            o.a("target", |a| {
                a.o(|o| {
                    o.s("id", id).s("type", "AppInstance").s("alternateId", name).s("displayName", name);
                    o.o("detailEntry", |o| {
                        o.s("signOnModeType", "SAML_2_0");
                    });
                });
                a.o(|o| {
                    o.s("id", &format!("0ua{}", &user.okta_id[3..])).s("type", "AppUser");
                    o.s("alternateId", &user.email).s("displayName", &user.display).null("detailEntry");
                });
            });
        }
        Op::Grant { .. } | Op::DetectReuse { .. } => {
            let subject = match user {
                Some(user) => user.okta_id.clone(),
                None => token.client_id.clone().unwrap_or_default(),
            };
            let expires = rfc3339_ms(token.expires.unwrap_or(use_.t + HOUR));
            o.a("target", |a| {
                if let Some(user) = user {
                    a.o(|o| {
                        o.s("id", &user.okta_id).s("type", "User").s("alternateId", &user.email);
                        o.s("displayName", &user.display).null("detailEntry");
                    });
                }
                a.o(|o| {
                    let (kind, display) =
                        if refresh { ("refresh_token", "Refresh Token") } else { ("access_token", "Access Token") };
                    o.s("id", &token.id).s("type", kind).null("alternateId").s("displayName", display);
                    o.o("detailEntry", |o| {
                        o.s("expires", &expires).s("subject", &subject).s("hash", &hash);
                    });
                });
            });
        }
        _ => {}
    }
}

fn grant_type_of(op: &Op) -> &'static str {
    match op {
        Op::Grant { grant_type, .. } => grant_type,
        _ => "refresh_token",
    }
}

/// The JWT a Kong token is presented as: HS256 (Kong's jwt plugin), or forged with `alg: none`.
fn jwt(token: &TokenPlan, scopes: &[String], forged: bool) -> String {
    let Cred::Kong { sub, iat, sig, .. } = &token.cred else { unreachable!("not a Kong token") };
    let header = if forged { r#"{"alg":"none","typ":"JWT"}"# } else { r#"{"alg":"HS256","typ":"JWT"}"# };
    let mut claims = String::new();
    {
        let mut c = Obj::new(&mut claims);
        c.s("iss", "https://auth.example.com/oauth2/default").s("sub", sub).s("aud", "api://orders");
        c.s("client_id", token.client_id.as_deref().unwrap_or_default()).s("scope", &scopes.join(" "));
        c.s("jti", &token.id).n("iat", iat / 1_000_000).n("exp", token.expires.unwrap_or(0) / 1_000_000);
    }
    let signature = if forged { "" } else { sig.as_str() };
    format!("{}.{}.{}", base64url(header.as_bytes()), base64url(claims.as_bytes()), signature)
}

fn kong(g: &mut Gen, token: &TokenPlan, use_: &Use, usual_jwt: &str, buf: &mut String) {
    let Op::Kong { route, uri } = &use_.op else { unreachable!("not a Kong operation") };
    let route_def = &KONG_ROUTES[*route];
    let Cred::Kong { consumer, .. } = &token.cred else { unreachable!("not a Kong token") };
    let jwt = match (&use_.scopes, use_.forged) {
        (None, false) => usual_jwt.to_string(),
        (scopes, forged) => jwt(token, scopes.as_ref().unwrap_or(&token.scopes), forged),
    };
    let status = if use_.status != 0 {
        use_.status
    } else if route_def.method == "POST" {
        201
    } else {
        200
    };
    let rejected = status == 401;
    let request_id = &use_.id;
    let ws = "f381e34e-5c25-4e65-b91b-3c0a86cfc393";
    let route_id = format!("9e4c2d1a-{:04x}-4c7e-8f2a-5b6c7d8e9f00", route * 4099 + 17);
    let service_id = format!("3b2a0f3c-{:04x}-4a4e-9d59-1a3a0c2d4e5f", route_def.service.len() * 977 + 3);
    let started = use_.t / 1000;
    let (proxy, kong_ms) = (g.rng.random_range(12..180), g.rng.random_range(0..4));
    let size = g.rng.random_range(300..9000);
    let upstream_ip = format!("10.20.{}.{}", route % 4, 10 + route_def.service.len());
    let (path, query) = match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri.as_str(), None),
    };
    let upstream_path = path.strip_prefix("/v1").unwrap_or(path);
    let upstream_uri = match query {
        Some(q) => format!("{upstream_path}?{q}"),
        None => upstream_path.to_string(),
    };
    let mut o = Obj::new(buf);
    o.o("response", |o| {
        o.n("size", size);
        o.o("headers", |o| {
            o.s("content-type", "application/json").s("via", "1.1 kong/3.9.0.0-enterprise-edition");
            o.s("x-kong-request-id", request_id);
            if rejected {
                o.s("www-authenticate", "Bearer realm=\"kong\", error=\"invalid_token\"");
            }
        });
        o.n("status", status);
    });
    o.o("route", |o| {
        o.n("updated_at", 1_767_000_000).a("tags", |_| {}).a("protocols", |a| {
            a.s("http").s("https");
        });
        o.o("service", |o| {
            o.s("id", &service_id);
        });
        o.b("strip_path", false).s("name", route_def.name).s("id", &route_id).b("preserve_host", false).s("ws_id", ws);
        o.a("methods", |a| {
            a.s(route_def.method);
        });
        o.a("paths", |a| {
            a.s(route_def.path);
        });
    });
    o.s("workspace", ws).s("workspace_name", "default");
    if let Some(consumer) = consumer {
        o.o("consumer", |o| {
            o.s("username", consumer)
                .n("created_at", 1_765_000_000)
                .s("id", &format!("c0a8f5e2-1d3b-4e7a-9f6c-{:012x}", consumer.len() * 7919));
        });
    }
    o.s("client_ip", &use_.place.ip.to_string());
    o.o("request", |o| {
        o.s("id", request_id);
        o.o("headers", |o| {
            o.s("accept", "application/json").s("user-agent", UAS[use_.ua].raw).s("host", "api.example.com");
            o.s("authorization", &format!("Bearer {jwt}")).s("x-forwarded-for", &use_.place.ip.to_string());
            if route_def.method != "GET" {
                o.s("content-type", "application/json");
            }
        });
        o.s("uri", uri).n("size", 420 + uri.len()).s("method", route_def.method);
        o.o("querystring", |o| {
            for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                o.s(key, value);
            }
        });
        o.s("url", &format!("https://api.example.com:8443{uri}"));
    });
    if rejected {
        o.s("upstream_uri", "").n("started_at", started).s("source", "kong").s("upstream_status", "");
        o.o("latencies", |o| {
            o.n("kong", kong_ms + 1).n("proxy", -1).n("request", kong_ms + 2).n("receive", 0);
        });
    } else {
        o.s("upstream_uri", &upstream_uri).n("started_at", started).s("source", "upstream");
        o.s("upstream_status", &status.to_string());
        o.o("latencies", |o| {
            o.n("kong", kong_ms).n("proxy", proxy).n("request", proxy + kong_ms + 1).n("receive", 0);
        });
        o.a("tries", |a| {
            a.o(|o| {
                o.n("balancer_start", started).s("ip", &upstream_ip).n("port", 8080).n("balancer_latency", 0);
            });
        });
    }
    o.o("service", |o| {
        o.s("name", route_def.service).s("id", &service_id).s("host", &format!("{}.internal", route_def.service));
        o.n("port", 8080).s("protocol", "http").n("retries", 5);
    });
}

fn github(rng: &mut ChaCha8Rng, token: &TokenPlan, use_: &Use, buf: &mut String) {
    let Cred::Github { login, actor_id, numeric_id, access_type } = &token.cred else { unreachable!("not a PAT") };
    let scopes = use_.scopes.as_ref().unwrap_or(&token.scopes).join(",");
    let ms = use_.t / 1000;
    let country = CITIES[use_.place.city].country;
    let ip = use_.place.ip.to_string();
    let mut o = Obj::new(buf);
    o.n("@timestamp", ms).s("_document_id", &use_.id);
    match &use_.op {
        Op::GhApi { method, route, path, .. } => {
            let status = if use_.status != 0 { use_.status } else { 200 };
            o.s("action", "api.request").s("actor", login).n("actor_id", actor_id).s("actor_ip", &ip);
            o.b("actor_is_bot", false).o("actor_location", |o| {
                o.s("country_code", country);
            });
            o.s("business", "example-enterprise").n("business_id", 4242).n("created_at", ms);
            o.s("hashed_token", &token.id).s("operation_type", "access").s("org", GITHUB_ORG).n("org_id", 91_919);
            o.s("programmatic_access_type", access_type).n("rate_limit_remaining", rng.random_range(3000..4999));
            o.s("request_category", "api");
            o.s(
                "request_id",
                &format!(
                    "{}:{}:{}",
                    hex(rng, 4).to_uppercase(),
                    hex(rng, 6).to_uppercase(),
                    hex(rng, 7).to_uppercase()
                ),
            );
            o.s("request_method", method).s("route", route).n("status_code", status).n("token_id", numeric_id);
            o.s("token_scopes", &scopes).s("url_path", path).s("user_agent", UAS[use_.ua].raw);
        }
        Op::Git { action, repo } => {
            let full = format!("{GITHUB_ORG}/{}", REPOS[*repo]);
            o.s("action", action).s("actor", login).n("actor_id", actor_id).s("actor_ip", &ip);
            o.o("actor_location", |o| {
                o.s("country_code", country);
            });
            o.s("business", "example-enterprise").n("business_id", 4242).s("hashed_token", &token.id);
            o.s("org", GITHUB_ORG).n("org_id", 91_919).s("programmatic_access_type", access_type);
            o.s("repo", &full).s("repository", &full).b("repository_public", false).n("token_id", numeric_id);
            o.s("token_scopes", &scopes).n("transport_protocol", 1).s("transport_protocol_name", "http");
            o.s("user", "").s("user_agent", UAS[use_.ua].raw);
        }
        _ => unreachable!("not a GitHub operation"),
    }
}

fn cloudtrail(rng: &mut ChaCha8Rng, token: &TokenPlan, use_: &Use, buf: &mut String) {
    let Op::Aws { api, params, region } = &use_.op else { unreachable!("not an AWS call") };
    let region = if api.source == "iam.amazonaws.com" { "us-east-1" } else { region };
    let host = match (api.source, params) {
        ("iam.amazonaws.com", _) => "iam.amazonaws.com".to_string(),
        (_, AwsParams::Object { bucket, .. }) => format!("{bucket}.s3.{region}.amazonaws.com"),
        (source, _) => source.replace(".amazonaws.com", &format!(".{region}.amazonaws.com")),
    };
    let request_id = if api.data { hex(rng, 16).to_uppercase() } else { uuid4(rng) };
    let mut o = Obj::new(buf);
    o.s("eventVersion", if api.data { "1.09" } else { "1.10" });
    o.o("userIdentity", |o| match &token.cred {
        Cred::AwsUser { name, principal } => {
            o.s("type", "IAMUser").s("principalId", principal);
            o.s("arn", &format!("arn:aws:iam::{ACCOUNT}:user/{name}")).s("accountId", ACCOUNT);
            o.s("accessKeyId", &token.id).s("userName", name);
        }
        Cred::AwsRole { role, session, principal, created } => {
            o.s("type", "AssumedRole").s("principalId", &format!("{principal}:{session}"));
            o.s("arn", &format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")).s("accountId", ACCOUNT);
            o.s("accessKeyId", &token.id);
            o.o("sessionContext", |o| {
                o.o("sessionIssuer", |o| {
                    o.s("type", "Role")
                        .s("principalId", principal)
                        .s("arn", &format!("arn:aws:iam::{ACCOUNT}:role/{role}"));
                    o.s("accountId", ACCOUNT).s("userName", role);
                });
                o.o("attributes", |o| {
                    o.s("creationDate", &rfc3339_s(*created)).s("mfaAuthenticated", "false");
                });
                if session.starts_with("i-") {
                    o.s("ec2RoleDelivery", "2.0");
                }
            });
        }
        _ => unreachable!("not an AWS key"),
    });
    o.s("eventTime", &rfc3339_s(use_.t)).s("eventSource", api.source).s("eventName", api.name);
    o.s("awsRegion", region).s("sourceIPAddress", &use_.place.ip.to_string()).s("userAgent", UAS[use_.ua].raw);
    match params {
        AwsParams::None => match api.name {
            "DescribeInstances" => {
                o.o("requestParameters", |o| {
                    o.o("instancesSet", |_| {}).o("filterSet", |_| {});
                });
            }
            "ListBuckets" => {
                o.o("requestParameters", |o| {
                    o.s("Host", &format!("s3.{region}.amazonaws.com"));
                });
            }
            "Decrypt" => {
                o.o("requestParameters", |o| {
                    o.s("encryptionAlgorithm", "SYMMETRIC_DEFAULT").o("encryptionContext", |o| {
                        o.s("service", "orders-api");
                    });
                });
            }
            "GetParameter" => {
                o.o("requestParameters", |o| {
                    o.s("name", "/orders-api/prod/database-url").b("withDecryption", true);
                });
            }
            "StartJobRun" | "GetJobRun" => {
                o.o("requestParameters", |o| {
                    o.s("jobName", "orders-daily-etl");
                    if api.name == "GetJobRun" {
                        o.s("runId", &format!("jr_{}", hex(rng, 64)));
                    }
                });
            }
            _ => {
                o.null("requestParameters");
            }
        },
        AwsParams::Object { bucket, key } => {
            o.o("requestParameters", |o| {
                o.s("bucketName", bucket).s("Host", &host);
                if api.name == "ListObjects" {
                    o.s("prefix", "").s("list-type", "2");
                } else {
                    o.s("key", key);
                }
            });
        }
        AwsParams::AssumeRole { role, session, duration, .. } => {
            o.o("requestParameters", |o| {
                o.s("roleArn", &format!("arn:aws:iam::{ACCOUNT}:role/{role}")).s("roleSessionName", session);
                o.n("durationSeconds", duration / 1_000_000);
            });
        }
        AwsParams::CreateAccessKey { user, .. } => {
            o.o("requestParameters", |o| {
                o.s("userName", user);
            });
        }
        AwsParams::AttachUserPolicy { user, policy } => {
            o.o("requestParameters", |o| {
                o.s("userName", user).s("policyArn", policy);
            });
        }
    }
    match params {
        AwsParams::AssumeRole { role, session, key, expires, .. } => {
            o.o("responseElements", |o| {
                o.o("credentials", |o| {
                    o.s("accessKeyId", key).s("expiration", &aws_console_time(*expires));
                });
                o.o("assumedRoleUser", |o| {
                    o.s("assumedRoleId", &format!("{}:{session}", role_id(role)));
                    o.s("arn", &format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"));
                });
            });
        }
        AwsParams::CreateAccessKey { user, key } => {
            o.o("responseElements", |o| {
                o.o("accessKey", |o| {
                    o.s("userName", user)
                        .s("accessKeyId", key)
                        .s("status", "Active")
                        .s("createDate", &aws_console_time(use_.t));
                });
            });
        }
        _ => {
            o.null("responseElements");
        }
    }
    if api.data {
        o.o("additionalEventData", |o| {
            o.s("SignatureVersion", "SigV4").s("CipherSuite", "TLS_AES_128_GCM_SHA256").n("bytesTransferredIn", 0);
            o.s("AuthenticationMethod", "AuthHeader").s("x-amz-id-2", &alnum(rng, 56)).n("bytesTransferredOut", 0);
        });
    }
    o.s("requestID", &request_id).s("eventID", &use_.id).b("readOnly", api.read_only);
    match params {
        AwsParams::Object { bucket, key } => {
            o.a("resources", |a| {
                if !key.is_empty() {
                    a.o(|o| {
                        o.s("type", "AWS::S3::Object").s("ARN", &format!("arn:aws:s3:::{bucket}/{key}"));
                    });
                }
                a.o(|o| {
                    o.s("accountId", ACCOUNT).s("type", "AWS::S3::Bucket").s("ARN", &format!("arn:aws:s3:::{bucket}"));
                });
            });
        }
        AwsParams::AssumeRole { role, .. } => {
            o.a("resources", |a| {
                a.o(|o| {
                    o.s("accountId", ACCOUNT)
                        .s("type", "AWS::IAM::Role")
                        .s("ARN", &format!("arn:aws:iam::{ACCOUNT}:role/{role}"));
                });
            });
        }
        _ => {}
    }
    o.s("eventType", "AwsApiCall").b("managementEvent", !api.data).s("recipientAccountId", ACCOUNT);
    if matches!(params, AwsParams::AssumeRole { .. }) {
        o.s("sharedEventID", &uuid4(rng));
    }
    o.s("eventCategory", if api.data { "Data" } else { "Management" });
    o.o("tlsDetails", |o| {
        o.s("tlsVersion", "TLSv1.3").s("cipherSuite", "TLS_AES_128_GCM_SHA256").s("clientProvidedHostHeader", &host);
    });
}

/// Groups CloudTrail records into S3 delivery files: one `{"Records": […]}` document per hour (at
/// most 500 records), one document per line.
pub(super) fn cloudtrail_files(records: &[Line]) -> String {
    let mut out = String::new();
    let mut index = 0;
    while index < records.len() {
        let hour = records[index].0.div_euclid(HOUR);
        let mut end = index;
        while end < records.len() && end - index < 500 && records[end].0.div_euclid(HOUR) == hour {
            end += 1;
        }
        {
            let mut o = Obj::new(&mut out);
            o.a("Records", |a| {
                for (_, _, json) in &records[index..end] {
                    a.raw(json);
                }
            });
        }
        out.push('\n');
        index = end;
    }
    out
}

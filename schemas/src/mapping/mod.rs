//! Declarative source mappings: how a vendor's JSON record becomes an [`Event`](crate::Event).
//!
//! Every built-in source is itself a mapping file under `schemas/mappings/`, compiled into the
//! binary; a user adds a source by writing another file and pointing `--mappings DIR` (or
//! `normalize.mappings_dir`) at its folder. No Rust is needed. A file is parsed, checked and
//! compiled once at start-up; every problem in it is reported at once, naming the file, the field
//! and what is wrong.
//!
//! ```toml
//! [source]
//! name = "acme_gateway"            # what --source takes and what events carry as `source`
//! layout = "access_log"            # optional: one source may have several record layouts
//! description = "ACME API gateway JSON access log"
//! class = "api_activity"           # default OCSF class of its events
//! priority = 10                    # detection order when the source is not given (higher first)
//! envelope = "records"             # optional: an array field holding many records
//!
//! [detect]                         # how to recognise the layout from a record's shape
//! all = ["ts", "consumer.id"]      # paths that must be present
//! any = []                         # at least one present
//! absent = []                      # paths that must be missing
//! equals = { kind = "acme#*" }     # path = wildcard pattern
//!
//! [fields]
//! time = { path = "ts", format = "epoch_ms" }  # required: records without a time are dead letters
//! event_id = "request_id"
//! action = { template = "{method} {route}" }
//! subject = ["consumer.username", "consumer.id"]   # alternatives: first one present wins
//! src_ip = "client_ip"
//! http_status = "status"
//! outcome = { path = "result", map = { ok = "success", "denied*" = "failure" } }
//! scopes = { path = "scope", split = " " }
//!
//! [[tokens]]                       # candidates for the token, first one present wins
//! path = "request.headers.authorization"
//! secret = true                    # a raw credential: replaced by its keyed fingerprint
//! jwt = true                       # a JWT: its `jti` is the token id, its claims fill the gaps
//! kind = "access"
//! ```
//!
//! Field specs also take `when = { path = "…", equals = "pattern" }` (or a list of them: all must
//! hold), `ignore = ["HIDDEN"]` (values that mean "no value"), `query_param`, `strip_prefix`,
//! `strip_query = true` and `default`. Templates take alternatives: `"{route|url_path}"`. The values
//! `-`, `null`, `unknown`, `REDACTED` and `***` always count as absent.
//!
//! Field paths are described in [`path`]; wildcard patterns in `map`, `equals` and filters use `*`;
//! `map` tries exact patterns first, then wildcards in file order.

mod apply;
mod glob;
pub mod path;
mod registry;
mod spec;

pub use apply::NormalizeContext;
pub use glob::Glob;
pub use registry::{BUILTIN_MAPPINGS, SourceRegistry};
pub use spec::{FIELD_NAMES, Mapping};

//! The sample logs bundled into the binary, so `tokenwatch replay` runs with no input and no
//! external service.
//!
//! They are the source-mapping test fixtures (`schemas/tests/fixtures/<source>/`), one file per
//! vendor: real-format records whose provenance each fixture folder's `SOURCES.md` gives.
//! Credentials in them are fake; the gateway samples deliberately carry raw bearer tokens, API keys
//! and cookies, to show that none of them survives normalisation.

use crate::input::Input;

macro_rules! samples {
    ($($file:literal),+ $(,)?) => {
        /// The bundled sample files: `(name, content)`.
        pub const SAMPLES: &[(&str, &[u8])] = &[
            $((concat!("samples/", $file), include_bytes!(concat!("../../schemas/tests/fixtures/", $file)))),+
        ];
    };
}

samples!(
    "auth0/log_stream.jsonl",
    "aws_api_gateway/access_logs.jsonl",
    "cloudtrail/s3_log_file.json",
    "entra/signin_graph.jsonl",
    "envoy/access_log.jsonl",
    "github/audit.jsonl",
    "google_workspace/token.jsonl",
    "kong/file_log.jsonl",
    "okta/system_log.jsonl",
    "slack/audit.jsonl",
);

/// The bundled samples as inputs.
pub fn inputs() -> Vec<Input> {
    SAMPLES.iter().map(|(name, bytes)| Input::Embedded { name, bytes }).collect()
}

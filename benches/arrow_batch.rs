//! Building Arrow record batches (the event schema) from normalised events: the fixtures of every
//! source, normalised once, repeated to a batch of the engine's default size. Events per second.
//!
//! `cargo bench --bench arrow_batch`

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokenwatch_replay::{Input, RecordReader};
use tokenwatch_schemas::arrow::events_to_batch;
use tokenwatch_schemas::{Event, Fingerprinter, NormalizeContext, Normalized, Normalizer, SourceRegistry};

/// Every fixture of every source, normalised.
fn fixture_events() -> Vec<Event> {
    let registry = Arc::new(SourceRegistry::builtin().expect("built-in mappings"));
    let ctx = NormalizeContext::new(Fingerprinter::new(b"bench-fingerprint-key-0123456789"), None);
    let normalizer = Normalizer::new(registry, ctx, None).expect("normaliser");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/tests/fixtures");
    let mut paths = Vec::new();
    for dir in std::fs::read_dir(&root).expect("fixtures") {
        for file in std::fs::read_dir(dir.expect("fixture dir").path()).expect("fixture dir") {
            let path = file.expect("fixture").path();
            if path.extension().is_some_and(|ext| ext == "jsonl" || ext == "json") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut events = Vec::new();
    for path in paths {
        let mut reader = RecordReader::open(&Input::File(path), Arc::new(AtomicU64::new(0))).expect("fixture opens");
        let mut records = Vec::new();
        while reader.read_chunk(usize::MAX, &mut records).expect("fixture reads") {}
        for record in &records {
            normalizer.normalize(&record.bytes, &record.origin, &mut |out| {
                if let Normalized::Event(event) = out {
                    events.push(event);
                }
            });
        }
    }
    events
}

fn arrow_batches(c: &mut Criterion) {
    let fixtures = fixture_events();
    let mut group = c.benchmark_group("arrow_batch");
    for size in [256, 4096] {
        let events: Vec<Event> = fixtures.iter().cycle().take(size).cloned().collect();
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("events_to_batch", size), &events, |b, events| {
            b.iter(|| events_to_batch(events).expect("batch"))
        });
    }
    group.finish();
}

criterion_group!(benches, arrow_batches);
criterion_main!(benches);

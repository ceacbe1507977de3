//! Baseline state update at scale: a detection runner holding 1,000,000 then 10,000,000 tokens
//! (every rule's part of the state filled), judging batches of uses of random tokens among them
//! (inventory look-up, every rule, state update). Events per second; the set-up (filling the map,
//! about 2.5 GB for 10 million tokens) is not measured.
//!
//! `cargo bench --bench state`

use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tokenwatch_replay::bench::StateFiller;
use tokenwatch_rules::{Detection, DetectionSettings, Inventory, RulesConfig};

/// Events judged per measured batch.
const BATCH: usize = 10_000;

fn state_update(c: &mut Criterion) {
    let config = RulesConfig::builtin().expect("built-in rules");
    let settings = DetectionSettings { lateness_us: 0, shards: 1, ..DetectionSettings::default() };
    let filler = StateFiller::new();
    let mut group = c.benchmark_group("state_update");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    for tokens in [1_000_000usize, 10_000_000] {
        let mut detection = Detection::new(&config, Arc::new(Inventory::empty()), settings);
        let mut alerts = Vec::new();
        for token in 0..tokens {
            detection.judge_one(&filler.event(token, 0), &mut alerts);
            alerts.clear();
        }
        // Uses of random tokens, each round a minute later than the one before.
        let mut round = 0;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut batch = || {
            round += 1;
            (0..BATCH)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    filler.event((seed % tokens as u64) as usize, round)
                })
                .collect::<Vec<_>>()
        };
        group.bench_function(BenchmarkId::new("judge_one", tokens), |b| {
            b.iter_batched(
                &mut batch,
                |events| {
                    for event in &events {
                        detection.judge_one(event, &mut alerts);
                    }
                    alerts.clear();
                    events
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, state_update);
criterion_main!(benches);

// Scratch profiling harness (not committed).
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokenwatch_engine::{Pipeline, Settings, Sink, batcher::Batcher, setup};
use tokenwatch_replay::{Input, RecordReader};
use tokenwatch_rules::RuleSet;
use tokenwatch_schemas::{Alert, DeadLetter, Event};

struct S(Vec<Event>);
impl Sink for S {
    fn events(&mut self, e: &[Event]) -> tokenwatch_engine::Result<()> {
        self.0.extend_from_slice(e);
        Ok(())
    }
    fn dead_letter(&mut self, _: &DeadLetter) -> tokenwatch_engine::Result<()> {
        Ok(())
    }
    fn alert(&mut self, _: &Alert) -> tokenwatch_engine::Result<()> {
        Ok(())
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let dir = std::path::PathBuf::from("/tmp/twsmall");
    let mut settings = Settings::load(None).unwrap();
    settings.detection.inventory = dir.join("inventory.jsonl").display().to_string();
    settings.replay.threads = 1;
    settings.detection.shards = 1;
    let mut records = Vec::new();
    for f in ["okta.jsonl", "cloudtrail.json", "github.jsonl", "kong.jsonl"] {
        let mut r = RecordReader::open(&Input::File(dir.join(f)), Arc::new(AtomicU64::new(0))).unwrap();
        while r.read_chunk(usize::MAX, &mut records).unwrap() {}
    }
    if mode == "raw" {
        for _ in 0..3 {
            for r in &records {
                let v = serde_json::from_slice::<serde_json::Value>(&r.bytes);
                std::hint::black_box(&v);
            }
        }
        return;
    }
    if mode == "normalize" {
        let (normalizer, _) = setup::normalizer(&settings, None).unwrap();
        for _ in 0..3 {
            for r in &records {
                normalizer.normalize(&r.bytes, &r.origin, &mut |n| {
                    std::hint::black_box(&n);
                });
            }
        }
        return;
    }
    let (normalizer, _) = setup::normalizer(&settings, None).unwrap();
    let mut p = Pipeline::new(normalizer, RuleSet::empty(), Batcher::new(4096, std::time::Duration::from_secs(1)));
    let mut s = S(Vec::new());
    p.process(&records, &mut s).unwrap();
    p.finish(&mut s).unwrap();
    let mut events = s.0;
    events.sort_by(|a, b| {
        (a.time_us, &a.event_id, &a.source, &a.token_id).cmp(&(b.time_us, &b.event_id, &b.source, &b.token_id))
    });
    let mut alerts = Vec::new();
    let t = std::time::Instant::now();
    for _ in 0..5 {
        let mut d = setup::detection(&settings).unwrap();
        for e in &events {
            d.judge_one(e, &mut alerts);
            alerts.clear();
        }
    }
    eprintln!("detect ns/event {:.0}", t.elapsed().as_nanos() as f64 / (5 * events.len()) as f64);
}

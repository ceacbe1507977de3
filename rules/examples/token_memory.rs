//! Measures the memory per tracked token: resident memory before and after the detection runner
//! has judged events of N distinct tokens (default 1,000,000), each used from a located network
//! with a user agent and scopes, so every rule's section of the state is filled. Open alerts are
//! not part of the measure (the uninventoried-token rule, which would fire on every one of these
//! tokens, is disabled).
//!
//! `cargo run --release -p tokenwatch-rules --example token_memory [-- TOKENS]`

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use tokenwatch_rules::testing::event;
use tokenwatch_rules::{Detection, DetectionSettings, Detector, Inventory, RulesConfig};
use tokenwatch_schemas::{Geo, GeoFrom};

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let tokens: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let mut config = RulesConfig::builtin().expect("built-in rules");
    // Every token here is uninventoried: that rule would keep an open alert per token, which is
    // alert state, not the baseline being measured.
    config.uninventoried_token.enabled = false;
    let settings = DetectionSettings { lateness_us: 0, shards: 1, ..DetectionSettings::default() };
    let mut detection = Detection::new(&config, Arc::new(Inventory::empty()), settings);
    let mut alerts = Vec::new();
    let before = resident_bytes();
    let chunk = 10_000;
    let start_us = 1_767_571_200_000_000i64; // 2026-01-05
    for base in (0..tokens).step_by(chunk) {
        let mut batch = Vec::with_capacity(chunk * 2);
        for n in base..(base + chunk).min(tokens) {
            for round in 0..2 {
                let mut e = event(&format!("e{n}-{round}"), start_us + (n as i64) * 1000 + round * 60_000_000);
                e.token_id = Some(format!("tok-{n:08}"));
                e.src_ip = Some(IpAddr::V4(Ipv4Addr::from(0x5102_0000u32 + (n as u32 % 65_000))));
                e.asn = Some(20_712 + (n as u32 % 7));
                e.geo = Some(Geo {
                    lat: Some(51.5),
                    lon: Some(-0.1),
                    country: Some("GB".into()),
                    city: Some("London".into()),
                    radius_km: Some(100.0),
                    from: GeoFrom::IpDatabase,
                });
                e.user_agent = Some("Mozilla/5.0 (Macintosh) Chrome/121.0 Safari/537.36".into());
                e.scopes = vec!["orders:read".into(), "orders:write".into()];
                batch.push(e);
            }
        }
        detection.process(batch, &mut alerts);
        // Alerts are not what is measured: drop them as they come.
        alerts.clear();
    }
    let after = resident_bytes();
    let tracked = detection.tokens_tracked();
    println!(
        "tokens_tracked={tracked} resident_before={}MiB resident_after={}MiB bytes_per_token={:.0} state_inline_bytes={} state_core_bytes={}",
        before >> 20,
        after >> 20,
        after.saturating_sub(before) as f64 / tracked.max(1) as f64,
        std::mem::size_of::<tokenwatch_rules::state::TokenState>(),
        std::mem::size_of::<tokenwatch_rules::state::TokenCore>(),
    );
}

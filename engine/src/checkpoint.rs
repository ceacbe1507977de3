//! Checkpoints of the detection stage: for one partition of the events topic, every token's state
//! and the offset of the next record to read, written together so they always agree.
//!
//! File layout (`<state dir>/<topic>-<partition>.ckpt`):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `TWCKPT\0\0` |
//! | 4 | format version, little-endian (this build writes [`VERSION`]) |
//! | n | the body, MessagePack with named fields (fields added later take defaults when absent) |
//! | 8 | XXH3-64 of the body, little-endian |
//!
//! A file is written to a temporary name, synced and renamed, so a crash leaves either the old or
//! the new checkpoint, never half of one. A reader dispatches on the version, so a newer build
//! reads the checkpoints of the previous one; an unknown (newer) version or a damaged file is an
//! error naming the file, and the engine then rebuilds the partition's state from the events topic
//! instead.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokenwatch_rules::Detection;
use tokenwatch_rules::detection::DetectionSnapshot;
use xxhash_rust::xxh3::xxh3_64;

use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"TWCKPT\0\0";

/// The format version this build writes.
pub const VERSION: u32 = 1;

/// Body of a version-1 checkpoint, as written (borrowing the detection state).
#[derive(Serialize)]
struct BodyOut<'a> {
    topic: &'a str,
    partition: i32,
    next_offset: i64,
    written_at_us: i64,
    detection: tokenwatch_rules::detection::SnapshotRef<'a>,
}

/// Body of a version-1 checkpoint, as read.
#[derive(Deserialize)]
struct BodyV1 {
    topic: String,
    partition: i32,
    next_offset: i64,
    #[serde(default)]
    written_at_us: i64,
    detection: DetectionSnapshot,
}

/// A checkpoint read back.
#[derive(Debug)]
pub struct Checkpoint {
    /// Offset of the next record of the partition to judge.
    pub next_offset: i64,
    /// When it was written, µs since the epoch.
    pub written_at_us: i64,
    /// The detection state.
    pub detection: DetectionSnapshot,
}

/// The checkpoints of one instance, in one directory.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
}

impl CheckpointStore {
    /// A store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let probe = dir.join(".write-test");
        fs::write(&probe, b"ok").map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let _ = fs::remove_file(probe);
        Ok(CheckpointStore { dir: dir.to_path_buf() })
    }

    /// The file of a partition's checkpoint.
    pub fn path(&self, topic: &str, partition: i32) -> PathBuf {
        self.dir.join(format!("{topic}-{partition}.ckpt"))
    }

    /// Writes the checkpoint of a partition; returns its size in bytes.
    pub fn write(&self, topic: &str, partition: i32, next_offset: i64, detection: &Detection) -> Result<u64> {
        let path = self.path(topic, partition);
        let body = BodyOut { topic, partition, next_offset, written_at_us: now_us(), detection: detection.snapshot() };
        let encoded = rmp_serde::to_vec_named(&body)
            .map_err(|e| Error::Checkpoint { path: path.clone(), problem: format!("cannot encode: {e}") })?;
        let mut bytes = Vec::with_capacity(encoded.len() + 20);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&encoded);
        bytes.extend_from_slice(&xxh3_64(&encoded).to_le_bytes());
        let temporary = path.with_extension("ckpt.tmp");
        let io = |source| Error::Io { path: temporary.clone(), source };
        let mut file = fs::File::create(&temporary).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&temporary, &path).map_err(|source| Error::Io { path: path.clone(), source })?;
        Ok(bytes.len() as u64)
    }

    /// Reads the checkpoint of a partition, if there is one.
    pub fn read(&self, topic: &str, partition: i32) -> Result<Option<Checkpoint>> {
        let path = self.path(topic, partition);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        let bad = |problem: String| Error::Checkpoint { path: path.clone(), problem };
        if bytes.len() < 20 || &bytes[..8] != MAGIC {
            return Err(bad("not a tokenwatch checkpoint".to_string()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let (body, sum) = bytes[12..].split_at(bytes.len() - 20);
        if xxh3_64(body).to_le_bytes() != sum {
            return Err(bad("checksum mismatch: the file is damaged".to_string()));
        }
        let body: BodyV1 = match version {
            1 => rmp_serde::from_slice(body).map_err(|e| bad(format!("cannot decode version 1: {e}")))?,
            other => {
                return Err(bad(format!("format version {other} is newer than this build reads (up to {VERSION})")));
            }
        };
        if body.topic != topic || body.partition != partition {
            return Err(bad(format!("holds {}/{}, not {topic}/{partition}", body.topic, body.partition)));
        }
        Ok(Some(Checkpoint {
            next_offset: body.next_offset,
            written_at_us: body.written_at_us,
            detection: body.detection,
        }))
    }
}

fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokenwatch_rules::testing::event;
    use tokenwatch_rules::{Detector, Inventory, RulesConfig};

    use super::*;

    fn detection() -> Detection {
        // Three minutes of lateness: of events one minute apart, the last three stay held.
        let settings = tokenwatch_rules::DetectionSettings { lateness_us: 180_000_000, ..Default::default() };
        Detection::new(&RulesConfig::builtin().unwrap(), Arc::new(Inventory::empty()), settings)
    }

    #[test]
    fn a_checkpoint_round_trips_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert!(store.read("events", 0).unwrap().is_none());
        let mut first = detection();
        let mut alerts = Vec::new();
        let events = (0..10)
            .map(|n| {
                let mut e = event(&format!("e{n}"), n * 60_000_000);
                e.token_id = Some(format!("tok-{}", n % 4));
                e
            })
            .collect();
        first.process(events, &mut alerts);
        let bytes = store.write("events", 3, 42, &first).unwrap();
        assert!(bytes > 20);

        let read = store.read("events", 3).unwrap().unwrap();
        assert_eq!(read.next_offset, 42);
        assert_eq!(read.detection.tokens(), 4);
        let mut second = detection();
        second.restore(read.detection);
        assert_eq!(second.tokens_tracked(), 4);
        assert_eq!(second.held_events(), 3);
        assert_eq!(second.held_events(), first.held_events());

        let path = store.path("events", 3);
        let mut damaged = fs::read(&path).unwrap();
        let middle = damaged.len() / 2;
        damaged[middle] ^= 0xff;
        fs::write(&path, &damaged).unwrap();
        let message = store.read("events", 3).unwrap_err().to_string();
        assert!(message.contains("events-3.ckpt") && message.contains("damaged"), "{message}");

        store.write("events", 3, 42, &first).unwrap();
        let mut future = fs::read(&path).unwrap();
        future[8..12].copy_from_slice(&99u32.to_le_bytes());
        fs::write(&path, &future).unwrap();
        let message = store.read("events", 3).unwrap_err().to_string();
        assert!(message.contains("version 99"), "{message}");
        assert!(store.read("events", 4).unwrap().is_none());
    }
}

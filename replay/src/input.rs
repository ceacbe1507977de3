//! Reading log files record by record.
//!
//! - `.jsonl` / `.ndjson` / `.log` / anything else: one record per line; blank lines are skipped;
//! - `.json`: a JSON document — one object, an array of objects, an envelope such as CloudTrail's
//!   `{"Records": […]}` — or several documents one after another, pretty-printed or not;
//! - any of these gzipped (`.gz`, or gzip magic bytes), and `-` for standard input (lines).
//!
//! Each record keeps its origin: the file and the 1-based line where it starts.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;
use tokenwatch_engine::RawRecord;
use tokenwatch_schemas::Origin;

use crate::{Error, Result};

/// An input to replay.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file on disk.
    File(PathBuf),
    /// Standard input, one record per line.
    Stdin,
    /// Bytes compiled into the binary (the bundled samples).
    Embedded {
        /// Name shown as the origin (`samples/okta.jsonl`).
        name: &'static str,
        /// The content.
        bytes: &'static [u8],
    },
}

impl Input {
    /// `-` is standard input, anything else a path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" { Input::Stdin } else { Input::File(PathBuf::from(arg)) }
    }

    /// The name records' origins carry.
    pub fn name(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Stdin => "-".to_string(),
            Input::Embedded { name, .. } => (*name).to_string(),
        }
    }

    /// Size on disk, when known (for progress).
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::File(path) => std::fs::metadata(path).ok().map(|m| m.len()),
            Input::Stdin => None,
            Input::Embedded { bytes, .. } => Some(bytes.len() as u64),
        }
    }

    fn path_for_errors(&self) -> PathBuf {
        PathBuf::from(self.name())
    }
}

/// Counts bytes read from the underlying (possibly compressed) stream, for progress.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lines,
    Documents,
}

fn mode_for(name: &str) -> Mode {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    if name.ends_with(".json") { Mode::Documents } else { Mode::Lines }
}

/// Reads one input's records in chunks.
pub struct RecordReader {
    reader: Box<dyn BufRead + Send>,
    name: Arc<str>,
    path: PathBuf,
    mode: Mode,
    line: u64,
    done: bool,
}

impl std::fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordReader").field("name", &self.name).field("line", &self.line).finish()
    }
}

impl RecordReader {
    /// Opens `input`; `progress` counts the raw bytes consumed.
    pub fn open(input: &Input, progress: Arc<AtomicU64>) -> Result<Self> {
        let path = input.path_for_errors();
        let raw: Box<dyn Read + Send> = match input {
            Input::File(path) => {
                Box::new(File::open(path).map_err(|source| Error::Read { path: path.clone(), source })?)
            }
            Input::Stdin => Box::new(io::stdin()),
            Input::Embedded { bytes, .. } => Box::new(*bytes),
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, Counting { inner: raw, counter: progress });
        let head = buffered.fill_buf().map_err(|source| Error::Read { path: path.clone(), source })?;
        let gzipped = head.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead + Send> = if gzipped {
            Box::new(BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(buffered)))
        } else {
            Box::new(buffered)
        };
        let name = input.name();
        let mode = if matches!(input, Input::Stdin) { Mode::Lines } else { mode_for(&name) };
        Ok(RecordReader { reader, name: Arc::from(name.as_str()), path, mode, line: 0, done: false })
    }

    /// Appends up to `max` records to `out`; returns `false` once the input is exhausted.
    pub fn read_chunk(&mut self, max: usize, out: &mut Vec<RawRecord>) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        match self.mode {
            Mode::Lines => self.read_lines(max, out),
            Mode::Documents => {
                self.read_documents(out)?;
                self.done = true;
                Ok(false)
            }
        }
    }

    fn read_lines(&mut self, max: usize, out: &mut Vec<RawRecord>) -> Result<bool> {
        let start = out.len();
        while out.len() - start < max {
            let mut bytes = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut bytes)
                .map_err(|source| Error::Read { path: self.path.clone(), source })?;
            if n == 0 {
                self.done = true;
                return Ok(false);
            }
            self.line += 1;
            while matches!(bytes.last(), Some(b'\n' | b'\r')) {
                bytes.pop();
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            out.push(RawRecord { bytes, origin: Origin::file(Arc::clone(&self.name), self.line) });
        }
        Ok(true)
    }

    /// Splits a JSON file into its top-level documents, each with the line it starts on. A
    /// malformed document ends the split: the rest of the file becomes one record, which the
    /// normaliser dead-letters with the parser's message.
    fn read_documents(&mut self, out: &mut Vec<RawRecord>) -> Result<()> {
        let mut text = Vec::new();
        self.reader.read_to_end(&mut text).map_err(|source| Error::Read { path: self.path.clone(), source })?;
        let mut offset = 0;
        let mut line = 1u64;
        loop {
            let skipped = text[offset..].iter().take_while(|b| b.is_ascii_whitespace()).count();
            line += text[offset..offset + skipped].iter().filter(|&&b| b == b'\n').count() as u64;
            offset += skipped;
            if offset >= text.len() {
                break;
            }
            let mut stream = serde_json::Deserializer::from_slice(&text[offset..]).into_iter::<serde::de::IgnoredAny>();
            let end = match stream.next() {
                Some(Ok(_)) => offset + stream.byte_offset(),
                _ => text.len(),
            };
            let bytes = text[offset..end].to_vec();
            let origin = Origin::file(Arc::clone(&self.name), line);
            line += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            out.push(RawRecord { bytes, origin });
            offset = end;
        }
        self.line = line;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(name: &'static str, bytes: &'static [u8]) -> Vec<RawRecord> {
        let mut reader = RecordReader::open(&Input::Embedded { name, bytes }, Arc::default()).unwrap();
        let mut out = Vec::new();
        while reader.read_chunk(2, &mut out).unwrap() {}
        out
    }

    fn lines(records: &[RawRecord]) -> Vec<u64> {
        records
            .iter()
            .map(|r| match &r.origin {
                Origin::File { line, .. } => *line,
                Origin::Kafka { .. } => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn jsonl_records_keep_line_numbers_and_skip_blank_lines() {
        let records = read_all("a.jsonl", b"{\"a\":1}\r\n\n  \n{\"a\":2}\nnot json\n{\"a\":3}");
        assert_eq!(records.len(), 4);
        assert_eq!(lines(&records), [1, 4, 5, 6]);
        assert_eq!(records[0].bytes, b"{\"a\":1}");
        assert_eq!(records[2].bytes, b"not json");
    }

    #[test]
    fn json_documents_are_split_with_their_start_lines() {
        let records = read_all("a.json", b"{\n  \"Records\": [1]\n}\n\n{\"b\": 2}\n[1,\n2]");
        assert_eq!(records.len(), 3);
        assert_eq!(lines(&records), [1, 5, 6]);
        assert_eq!(records[1].bytes, b"{\"b\": 2}");
        let broken = read_all("b.json", b"{\"ok\":1}\n{\"broken\": \n");
        assert_eq!(broken.len(), 2);
        assert_eq!(broken[1].bytes, b"{\"broken\": \n");
    }

    #[test]
    fn gzip_is_detected_by_content() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        let compressed: &'static [u8] = Box::leak(encoder.finish().unwrap().into_boxed_slice());
        let records = read_all("a.jsonl.gz", compressed);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].bytes, b"{\"a\":2}");
    }
}

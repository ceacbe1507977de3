//! Grouping events into batches by count and by time.
//!
//! A batch is emitted when it holds `size` events, or when its first event has waited `linger`
//! (measured on the wall clock: batching is about latency, not about event time, and no rule sees
//! it).

use std::time::{Duration, Instant};

use tokenwatch_schemas::Event;

/// Accumulates events into batches.
#[derive(Debug)]
pub struct Batcher {
    size: usize,
    linger: Duration,
    pending: Vec<Event>,
    first_at: Option<Instant>,
}

impl Batcher {
    /// A batcher emitting batches of `size` events or after `linger`.
    pub fn new(size: usize, linger: Duration) -> Self {
        debug_assert!(size > 0);
        Batcher { size: size.max(1), linger, pending: Vec::with_capacity(size.max(1)), first_at: None }
    }

    /// Adds an event; returns a full batch when `size` is reached.
    pub fn push(&mut self, event: Event, now: Instant) -> Option<Vec<Event>> {
        if self.pending.is_empty() {
            self.first_at = Some(now);
        }
        self.pending.push(event);
        (self.pending.len() >= self.size).then(|| self.take())
    }

    /// Returns the pending events if the oldest has waited `linger` or longer.
    pub fn poll(&mut self, now: Instant) -> Option<Vec<Event>> {
        let first_at = self.first_at?;
        (now.duration_since(first_at) >= self.linger && !self.pending.is_empty()).then(|| self.take())
    }

    /// When the pending batch falls due, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.first_at.map(|first| first + self.linger)
    }

    /// Returns whatever is pending (at end of input or shutdown).
    pub fn flush(&mut self) -> Option<Vec<Event>> {
        (!self.pending.is_empty()).then(|| self.take())
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    fn take(&mut self) -> Vec<Event> {
        self.first_at = None;
        std::mem::replace(&mut self.pending, Vec::with_capacity(self.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokenwatch_schemas::{EventClass, Origin, Outcome, TokenKind};

    fn event(n: u64) -> Event {
        Event {
            time_us: 1_700_000_000_000_000,
            source: Arc::from("t"),
            class: EventClass::Other,
            event_id: n.to_string(),
            action: None,
            outcome: Outcome::Unknown,
            token_id: None,
            token_kind: TokenKind::Unknown,
            subject: None,
            client_id: None,
            session_id: None,
            src_ip: None,
            geo: None,
            asn: None,
            as_org: None,
            user_agent: None,
            device_id: None,
            scopes: Vec::new(),
            resource: None,
            http_status: None,
            tenant: None,
            origin: Origin::file(Arc::from("f"), n),
        }
    }

    #[test]
    fn emits_by_size_then_by_linger_then_on_flush() {
        let start = Instant::now();
        let mut batcher = Batcher::new(3, Duration::from_millis(100));
        assert!(batcher.push(event(1), start).is_none());
        assert!(batcher.push(event(2), start).is_none());
        let full = batcher.push(event(3), start).unwrap();
        assert_eq!(full.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
        assert!(batcher.poll(start + Duration::from_secs(1)).is_none(), "nothing pending");

        let later = start + Duration::from_secs(2);
        assert!(batcher.push(event(4), later).is_none());
        assert_eq!(batcher.deadline(), Some(later + Duration::from_millis(100)));
        assert!(batcher.poll(later + Duration::from_millis(99)).is_none());
        assert_eq!(batcher.poll(later + Duration::from_millis(100)).unwrap().len(), 1);

        batcher.push(event(5), later);
        assert_eq!(batcher.flush().unwrap().len(), 1);
        assert!(batcher.flush().is_none());
    }
}

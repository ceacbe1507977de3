//! Event-time ordering: a bounded reorder buffer in front of the detectors.
//!
//! Logs arrive roughly, not exactly, in event-time order (several files or partitions, shippers that
//! batch). Events are held until the watermark — the latest event time seen minus `lateness` —
//! passes them, then released in a total order: event time, then event id, source and token. That
//! order does not depend on how the input was batched, split or shuffled, as long as no event
//! arrives later than `lateness` behind the latest one; such a late event is released at once and
//! counted.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tokenwatch_schemas::Event;

/// A held event. Its order is derived from the event itself — event time, then event id, source
/// and token — so it is total and independent of where the event was read; the arrival number only
/// breaks ties between events equal in all of those.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Pending {
    arrival: u64,
    event: Event,
}

impl Pending {
    fn key(&self) -> (i64, &str, &str, Option<&str>, u64) {
        let event = &self.event;
        (event.time_us, &event.event_id, &event.source, event.token_id.as_deref(), self.arrival)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// Holds events until the watermark passes them. Serialisable, so the held events survive a
/// checkpoint and restart.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ReorderBuffer {
    lateness_us: i64,
    heap: BinaryHeap<Reverse<Pending>>,
    max_time_us: i64,
    released_up_to_us: i64,
    arrivals: u64,
    late: u64,
}

impl ReorderBuffer {
    /// A buffer tolerating events up to `lateness_us` behind the latest.
    pub fn new(lateness_us: i64) -> Self {
        ReorderBuffer {
            lateness_us,
            heap: BinaryHeap::new(),
            max_time_us: i64::MIN,
            released_up_to_us: i64::MIN,
            arrivals: 0,
            late: 0,
        }
    }

    /// Adds an event; a late event (behind what was already released) goes to `late_out` at once.
    pub fn push(&mut self, event: Event, late_out: &mut Vec<Event>) {
        if event.time_us < self.released_up_to_us {
            self.late += 1;
            late_out.push(event);
            return;
        }
        self.max_time_us = self.max_time_us.max(event.time_us);
        self.arrivals += 1;
        self.heap.push(Reverse(Pending { arrival: self.arrivals, event }));
    }

    /// Moves every event at or before the watermark to `out`, in order.
    pub fn release(&mut self, out: &mut Vec<Event>) {
        let watermark = self.max_time_us.saturating_sub(self.lateness_us);
        self.release_until(watermark, out);
    }

    /// Moves every held event to `out`, in order (end of input).
    pub fn drain(&mut self, out: &mut Vec<Event>) {
        self.release_until(i64::MAX, out);
    }

    fn release_until(&mut self, watermark: i64, out: &mut Vec<Event>) {
        while let Some(Reverse(next)) = self.heap.peek() {
            if next.event.time_us > watermark {
                break;
            }
            let Some(Reverse(pending)) = self.heap.pop() else { break };
            self.released_up_to_us = self.released_up_to_us.max(pending.event.time_us);
            out.push(pending.event);
        }
    }

    /// Changes the bound (a restored buffer takes the running configuration's).
    pub fn set_lateness(&mut self, lateness_us: i64) {
        self.lateness_us = lateness_us;
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events that arrived later than the bound.
    pub fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::event;

    fn ids(events: &[Event]) -> Vec<&str> {
        events.iter().map(|e| e.event_id.as_str()).collect()
    }

    #[test]
    fn releases_in_event_time_order_behind_the_watermark() {
        let mut buffer = ReorderBuffer::new(10);
        let mut late = Vec::new();
        let mut out = Vec::new();
        for (id, time) in [("c", 30), ("a", 10), ("b", 20), ("d", 45)] {
            buffer.push(event(id, time), &mut late);
        }
        buffer.release(&mut out);
        assert_eq!(ids(&out), ["a", "b", "c"], "watermark 35 releases up to 30");
        buffer.push(event("late", 25), &mut late);
        assert_eq!(ids(&late), ["late"]);
        assert_eq!(buffer.late(), 1);
        buffer.drain(&mut out);
        assert_eq!(ids(&out), ["a", "b", "c", "d"]);
    }

    #[test]
    fn ties_are_broken_by_event_id_not_by_arrival() {
        let mut first = ReorderBuffer::new(0);
        let mut second = ReorderBuffer::new(0);
        let (mut late, mut a, mut b) = (Vec::new(), Vec::new(), Vec::new());
        first.push(event("y", 5), &mut late);
        first.push(event("x", 5), &mut late);
        second.push(event("x", 5), &mut late);
        second.push(event("y", 5), &mut late);
        first.drain(&mut a);
        second.drain(&mut b);
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(ids(&a), ["x", "y"]);
    }
}

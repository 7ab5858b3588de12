//! The pending-event queue, ordered by `(at, seq)`.
//!
//! `seq` is a counter bumped on every push, so two events due at the same instant pop in the
//! order they were scheduled: ties are broken by insertion, never by an address or a hash.
//!
//! The heap holds only small fixed-size keys; payloads live in a slab of reusable slots. That
//! keeps sift-up/sift-down cheap whatever the size of the event, and makes cancellation O(1):
//! a cancelled slot is emptied and its key is skipped when it reaches the top (lazy deletion).
//! Memory is bounded by the number of events pending, not by how many were ever pushed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::Instant;

/// Names one scheduled event so it can be cancelled; stale keys (already popped or cancelled,
/// slot reused) are recognised by their `seq` and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    slot: u32,
    seq: u64,
}

/// A min-queue of events by `(at, seq)` with O(1) cancellation.
pub struct EventQueue<E> {
    heap: BinaryHeap<HeapKey>,
    slots: Vec<Slot<E>>,
    free_slots: Vec<u32>,
    next_seq: u64,
    live_count: usize,
}

/// What [`EventQueue::pop`] hands back: when, in which order, and what.
#[derive(Debug)]
pub struct Popped<E> {
    /// When the event is due.
    pub at: Instant,
    /// Its insertion sequence number; unique within a run and part of the trace.
    pub seq: u64,
    /// The payload.
    pub event: E,
}

struct Slot<E> {
    seq: u64,
    event: Option<E>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct HeapKey {
    at: Instant,
    seq: u64,
    slot: u32,
}

impl Ord for HeapKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest event on top.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for HeapKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            next_seq: 0,
            live_count: 0,
        }
    }

    /// Schedules `event` at `at`; the returned key can cancel it until it pops.
    pub fn push(&mut self, at: Instant, event: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot as usize];
                entry.seq = seq;
                entry.event = Some(event);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 pending events");
                self.slots.push(Slot {
                    seq,
                    event: Some(event),
                });
                slot
            }
        };
        self.heap.push(HeapKey { at, seq, slot });
        self.live_count += 1;
        EventKey { slot, seq }
    }

    /// Removes the earliest live event, skipping cancelled ones.
    pub fn pop(&mut self) -> Option<Popped<E>> {
        while let Some(key) = self.heap.pop() {
            let slot = &mut self.slots[key.slot as usize];
            let event = slot.event.take();
            self.free_slots.push(key.slot);
            if let Some(event) = event {
                self.live_count -= 1;
                return Some(Popped {
                    at: key.at,
                    seq: key.seq,
                    event,
                });
            }
        }
        None
    }

    /// When the earliest live event is due, dropping cancelled keys found on top.
    pub fn peek_at(&mut self) -> Option<Instant> {
        while let Some(key) = self.heap.peek() {
            if self.slots[key.slot as usize].event.is_some() {
                return Some(key.at);
            }
            let slot = key.slot;
            self.heap.pop();
            self.free_slots.push(slot);
        }
        None
    }

    /// Looks at a pending event by key; `None` once it popped or was cancelled.
    pub fn get(&self, key: EventKey) -> Option<&E> {
        let slot = self.slots.get(key.slot as usize)?;
        if slot.seq != key.seq {
            return None;
        }
        slot.event.as_ref()
    }

    /// Cancels a pending event; returns whether it was still pending.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        let Some(slot) = self.slots.get_mut(key.slot as usize) else {
            return false;
        };
        if slot.seq != key.seq || slot.event.is_none() {
            return false;
        }
        slot.event = None;
        self.live_count -= 1;
        true
    }

    /// Number of events still to pop (cancelled ones excluded).
    pub fn len(&self) -> usize {
        self.live_count
    }

    /// True when no live event is pending: the run is quiescent.
    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queue: &mut EventQueue<&'static str>) -> Vec<(u64, &'static str)> {
        std::iter::from_fn(|| queue.pop().map(|p| (p.at.as_us(), p.event))).collect()
    }

    #[test]
    fn pops_by_time_then_by_insertion_order() {
        let mut queue = EventQueue::new();
        queue.push(Instant::from_us(5), "late");
        queue.push(Instant::from_us(1), "first at 1");
        queue.push(Instant::from_us(1), "second at 1");
        queue.push(Instant::from_us(0), "earliest");
        assert_eq!(
            drain(&mut queue),
            [
                (0, "earliest"),
                (1, "first at 1"),
                (1, "second at 1"),
                (5, "late")
            ]
        );
    }

    #[test]
    fn cancelled_events_never_pop_and_stale_keys_do_nothing() {
        let mut queue = EventQueue::new();
        let a = queue.push(Instant::from_us(1), "a");
        queue.push(Instant::from_us(2), "b");
        assert!(queue.cancel(a));
        assert!(!queue.cancel(a), "cancelling twice reports nothing pending");
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.peek_at(), Some(Instant::from_us(2)));
        // The slot of `a` is reused by `c`; the stale key must not cancel `c`.
        let c = queue.push(Instant::from_us(3), "c");
        assert!(!queue.cancel(a));
        assert_eq!(queue.get(c), Some(&"c"));
        assert_eq!(drain(&mut queue), [(2, "b"), (3, "c")]);
        assert!(queue.is_empty());
    }

    #[test]
    fn slots_are_reused_so_memory_follows_what_is_pending() {
        let mut queue = EventQueue::new();
        for round in 0..1_000u64 {
            queue.push(Instant::from_us(round), round);
            queue.push(Instant::from_us(round), round);
            queue.pop();
            queue.pop();
        }
        assert!(queue.slots.len() <= 2, "slots grew to {}", queue.slots.len());
    }
}

//! The pending-event queue, ordered by `(at, seq)`.
//!
//! `seq` is a counter bumped on every push, so two events due at the same instant pop in the
//! order they were scheduled: ties are broken by insertion, never by an address or a hash.
//!
//! Layout: a calendar queue (timing wheel) of small keys, with payloads in a slab.
//! - Time is cut into ticks of 2^[`TICK_SHIFT`] µs. Keys due in the tick being drained sit in
//!   `current`, sorted, and pop from its end. Keys due within the next [`WHEEL_TICKS`] ticks
//!   are appended, unsorted, to their tick's bucket; a bucket is sorted once, when the cursor
//!   reaches it. Keys further out wait in an overflow binary heap and move into the wheel as
//!   the cursor approaches them.
//! - So a push is O(1) for the common near-future event, and a pop costs a share of sorting a
//!   bucket of a few events instead of a sift through a heap of every pending event (a plain
//!   `BinaryHeap` loop spent half its time in `pop`; README has the figures).
//! - Payloads live in a slab of reusable slots, so keys stay 24 bytes whatever the event, and
//!   cancellation is O(1): the slot is emptied and freed at once, and its key is skipped
//!   when it comes up (lazy deletion of keys; a key whose slot was reused is told apart by
//!   its `seq`). Memory follows the number of events pending, not how many were ever pushed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::time::Instant;

/// A tick is 2^8 = 256 µs of virtual time.
pub const TICK_SHIFT: u32 = 8;
/// The wheel spans 1024 ticks (about 262 ms); later events wait in the overflow heap.
pub const WHEEL_TICKS: u64 = 1024;

/// Names one scheduled event so it can be cancelled; stale keys (already popped or cancelled,
/// slot reused) are recognised by their `seq` and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    slot: u32,
    seq: u64,
}

/// A min-queue of events by `(at, seq)` with O(1) cancellation.
pub struct EventQueue<E> {
    /// Keys due at or before the cursor tick, sorted so the earliest is last.
    current: Vec<QueueKey>,
    /// Keys due in the next ticks, one unsorted bucket per tick, at `tick % WHEEL_TICKS`.
    buckets: Vec<Vec<QueueKey>>,
    /// Keys in `buckets`, so an empty wheel is skipped at once.
    wheel_count: usize,
    /// Keys due at or after tick `cursor + WHEEL_TICKS`.
    overflow: BinaryHeap<QueueKey>,
    /// The tick being drained.
    cursor: u64,
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
struct QueueKey {
    at: Instant,
    seq: u64,
    slot: u32,
}

impl Ord for QueueKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: the overflow BinaryHeap is a max-heap and must yield the earliest key,
        // and a `current` sorted ascending by this order ends with the earliest key.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for QueueKey {
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
            current: Vec::new(),
            buckets: (0..WHEEL_TICKS).map(|_| Vec::new()).collect(),
            wheel_count: 0,
            overflow: BinaryHeap::new(),
            cursor: 0,
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
        self.insert_key(QueueKey { at, seq, slot });
        self.live_count += 1;
        EventKey { slot, seq }
    }

    /// Removes the earliest live event, skipping cancelled ones. Inlined: it runs once per
    /// event in `World::run`, and left out of line it cost the kernel bench a tenth.
    #[inline]
    pub fn pop(&mut self) -> Option<Popped<E>> {
        loop {
            let Some(key) = self.current.pop() else {
                if self.advance() {
                    continue;
                }
                return None;
            };
            let slot = &mut self.slots[key.slot as usize];
            if slot.seq != key.seq {
                continue; // cancelled, and its slot already holds a later event
            }
            let Some(event) = slot.event.take() else {
                continue; // cancelled; its slot is already free
            };
            self.free_slots.push(key.slot);
            self.live_count -= 1;
            return Some(Popped {
                at: key.at,
                seq: key.seq,
                event,
            });
        }
    }

    /// When the earliest live event is due, dropping cancelled keys found first.
    pub fn peek_at(&mut self) -> Option<Instant> {
        loop {
            match self.current.last().copied() {
                Some(key) if self.is_live(key) => return Some(key.at),
                Some(_) => {
                    // Cancelled: its slot was freed when it was cancelled.
                    self.current.pop();
                }
                None if self.advance() => {}
                None => return None,
            }
        }
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
        // Free the slot now rather than when the stale key comes up: the next push reuses
        // it while it is still in cache, and the slab stays as small as what is pending.
        slot.event = None;
        self.free_slots.push(key.slot);
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

    /// True when `key`'s event is still pending: not cancelled (its slot emptied, or reused
    /// by a later push, which has another `seq`).
    fn is_live(&self, key: QueueKey) -> bool {
        let slot = &self.slots[key.slot as usize];
        slot.seq == key.seq && slot.event.is_some()
    }

    fn insert_key(&mut self, key: QueueKey) {
        let tick = key.at.as_us() >> TICK_SHIFT;
        if tick <= self.cursor {
            // Due in the tick being drained (or, after a time-limit stop, before it): keep
            // `current` sorted. It holds one tick's events, so this is a short shift.
            let position = self.current.binary_search(&key).unwrap_or_else(|p| p);
            self.current.insert(position, key);
        } else if tick < self.cursor + WHEEL_TICKS {
            self.buckets[(tick % WHEEL_TICKS) as usize].push(key);
            self.wheel_count += 1;
        } else {
            self.overflow.push(key);
        }
    }

    /// Moves the cursor to the next tick holding keys and loads them, sorted, into
    /// `current` (which must be empty). False when nothing is pending anywhere.
    fn advance(&mut self) -> bool {
        debug_assert!(self.current.is_empty());
        if self.wheel_count == 0 {
            let Some(first) = self.overflow.peek() else {
                return false;
            };
            self.cursor = first.at.as_us() >> TICK_SHIFT;
            self.pull_overflow();
        } else {
            loop {
                self.cursor += 1;
                self.pull_overflow();
                if !self.buckets[(self.cursor % WHEEL_TICKS) as usize].is_empty() {
                    break;
                }
            }
        }
        let bucket = &mut self.buckets[(self.cursor % WHEEL_TICKS) as usize];
        std::mem::swap(&mut self.current, bucket);
        self.wheel_count -= self.current.len();
        self.current.sort_unstable();
        true
    }

    /// Moves overflow keys that the wheel now spans into their buckets.
    fn pull_overflow(&mut self) {
        let horizon = self.cursor + WHEEL_TICKS;
        while let Some(key) = self.overflow.peek() {
            let tick = key.at.as_us() >> TICK_SHIFT;
            if tick >= horizon {
                break;
            }
            let key = self.overflow.pop().expect("peeked a key");
            self.buckets[(tick % WHEEL_TICKS) as usize].push(key);
            self.wheel_count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Purpose, SeedTree};
    use rand::Rng as _;

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

    /// Pushes and pops at random against a sorted-list model of the queue, with delays that
    /// land in the current tick, in the wheel and in the overflow heap.
    #[test]
    fn matches_a_sorted_model_across_ticks_wheel_turns_and_overflow() {
        let mut rng = SeedTree::new(9).stream(Purpose::Other(0));
        let mut queue = EventQueue::new();
        let mut model = std::collections::BTreeSet::new(); // (at, seq)
        let mut keys = Vec::new();
        let mut now = 0u64;
        for seq in 0..50_000u64 {
            let delay = match rng.next_u32() % 4 {
                0 => 0,
                1 => u64::from(rng.next_u32() % 300),
                2 => u64::from(rng.next_u32() % 100_000),
                _ => u64::from(rng.next_u32() % 5_000_000),
            };
            keys.push((queue.push(Instant::from_us(now + delay), seq), now + delay, seq));
            model.insert((now + delay, seq));
            if rng.next_u32().is_multiple_of(8) {
                let (key, at, s) = keys[rng.next_u32() as usize % keys.len()];
                assert_eq!(queue.cancel(key), model.remove(&(at, s)));
            }
            if rng.next_u32().is_multiple_of(2) {
                let want = model.pop_first().expect("the queue has an event");
                let got = queue.pop().expect("the model has an event");
                assert_eq!((got.at.as_us(), got.event), want);
                now = want.0;
            }
        }
        let rest: Vec<(u64, u64)> =
            std::iter::from_fn(|| queue.pop().map(|p| (p.at.as_us(), p.event))).collect();
        assert_eq!(rest, model.into_iter().collect::<Vec<_>>());
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

    /// A timer armed and cancelled before it is due (a deadline met) frees its slot at once,
    /// so the next push reuses it; its stale key, popped later, skips the new event's slot.
    #[test]
    fn a_cancelled_event_frees_its_slot_before_its_key_comes_up() {
        let mut queue = EventQueue::new();
        for round in 0..1_000u64 {
            let deadline = queue.push(Instant::from_us(1_000_000 + round), u64::MAX);
            queue.push(Instant::from_us(round), round);
            assert_eq!(queue.pop().map(|p| p.event), Some(round));
            assert!(queue.cancel(deadline));
        }
        assert!(queue.slots.len() <= 2, "slots grew to {}", queue.slots.len());
        let last = queue.push(Instant::from_us(2_000_000), 7);
        assert_eq!(queue.pop().map(|p| p.event), Some(7), "stale keys skipped");
        assert_eq!(queue.get(last), None);
        assert!(queue.is_empty() && queue.pop().is_none());
    }
}

//! The pending-event queue, ordered by `(at, seq)`.
//!
//! `seq` is a counter bumped on every push, so two events due at the same instant pop in the
//! order they were scheduled: ties are broken by insertion, never by an address or a hash.
//!
//! Layout: a calendar queue (timing wheel) whose buckets are sorted lists threaded through a
//! slab of nodes.
//! - Each pending event is a node of the slab: its `(at, seq)`, its payload, and links to
//!   its neighbours in its bucket. Freed nodes are reused at once, so memory follows the
//!   number of events pending, not how many were ever pushed.
//! - Time is cut into ticks of 2^[`TICK_SHIFT`] µs. An event due within the next
//!   [`WHEEL_TICKS`] ticks sits in its tick's bucket, a doubly linked list kept sorted by
//!   `(at, seq)`; one due later waits in an overflow binary heap and moves into the wheel as
//!   the cursor (the tick being drained) approaches it. A two-level bitmap of occupied
//!   buckets (`queue/occupancy.rs`) finds the next tick with work at once however far it is.
//! - Ticks are short enough that a bucket holds about one event, so a push usually appends
//!   to an empty or short list (a new event has the largest `seq`, so it goes at the tail
//!   unless an event of its tick due later is already there; it then walks back past those
//!   only), and a pop takes a list's head: no sort, no sift through every pending event. (A
//!   plain `BinaryHeap` loop spent half its time in `pop`; README has the figures.)
//! - Cancelling unlinks the node and frees it at once, O(1). An event in the overflow heap
//!   is only marked there: its heap key is skipped when it comes up (told apart by its
//!   `seq` if the node was reused meanwhile).

mod occupancy;

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use self::occupancy::Occupancy;
use super::time::Instant;

/// A tick is 2^4 = 16 µs of virtual time, a fraction of the gap between events in the
/// kernel's benchmarks (about 86 µs), so a bucket nearly always holds one event or none and a
/// push rarely has to walk a list. (64 µs ticks made the anchor bench about a quarter slower;
/// 8 µs ones sent its 50 ms re-sends through the overflow heap, for no gain.)
pub const TICK_SHIFT: u32 = 4;
/// The wheel spans 4096 ticks (about 65 ms); later events wait in the overflow heap.
pub const WHEEL_TICKS: u64 = occupancy::BUCKETS as u64;

/// Names one scheduled event so it can be cancelled; stale keys (already popped or cancelled,
/// node reused) are recognised by their `seq` and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    slot: u32,
    seq: u64,
}

/// A min-queue of events by `(at, seq)` with O(1) cancellation.
pub struct EventQueue<E> {
    /// Every pending event, and freed nodes waiting for reuse.
    nodes: Vec<Node<E>>,
    /// The first free node; free nodes are chained through `next`, most recently freed
    /// first, so a push reuses the node the last pop left warm in cache.
    free_head: u32,
    /// One sorted list per tick of the wheel, at `tick % WHEEL_TICKS`.
    buckets: Box<[Bucket]>,
    occupied: Occupancy,
    /// Keys of events due at or after tick `cursor + WHEEL_TICKS`, and stale keys of ones
    /// cancelled there.
    overflow: BinaryHeap<OverflowKey>,
    /// The tick of the overflow's earliest key (`u64::MAX` when it has none), so moving the
    /// cursor asks one comparison, not the heap, whether keys must come into the wheel.
    overflow_tick: u64,
    /// The tick being drained. Every event in the wheel is due at or after it, except ones
    /// pushed for an earlier tick after the cursor moved past it (after a stop at a time
    /// limit): those join the cursor's own bucket, in order, and pop first.
    cursor: u64,
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

/// Ends a list; also a node's `prev` while it is not in a list.
const NIL: u32 = u32::MAX;
/// A node's `prev` while its event waits in the overflow heap.
const IN_OVERFLOW: u32 = u32::MAX - 1;

struct Node<E> {
    at: Instant,
    seq: u64,
    prev: u32,
    next: u32,
    /// `None` once popped or cancelled (the node is free).
    event: Option<E>,
}

#[derive(Clone, Copy)]
struct Bucket {
    head: u32,
    tail: u32,
}

const EMPTY_BUCKET: Bucket = Bucket { head: NIL, tail: NIL };

#[derive(Clone, Copy, PartialEq, Eq)]
struct OverflowKey {
    at: Instant,
    seq: u64,
    slot: u32,
}

impl Ord for OverflowKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap and must yield the earliest key.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for OverflowKey {
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
            nodes: Vec::new(),
            free_head: NIL,
            buckets: vec![EMPTY_BUCKET; occupancy::BUCKETS].into_boxed_slice(),
            occupied: Occupancy::new(),
            overflow: BinaryHeap::new(),
            overflow_tick: u64::MAX,
            cursor: 0,
            next_seq: 0,
            live_count: 0,
        }
    }

    /// The sequence number the next push will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Schedules `event` at `at`; the returned key can cancel it until it pops. Inlined so
    /// the payload is written straight into its node rather than copied through the stack
    /// (a copy the loop paid for in a store-forwarding stall on every push).
    #[inline(always)]
    pub fn push(&mut self, at: Instant, event: E) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let node = Node {
            at,
            seq,
            prev: NIL,
            next: NIL,
            event: Some(event),
        };
        let slot = match self.free_head {
            NIL => {
                let slot = u32::try_from(self.nodes.len()).expect("fewer than 2^32 pending events");
                assert!(slot < IN_OVERFLOW, "fewer than 2^32 - 2 pending events");
                self.nodes.push(node);
                slot
            }
            slot => {
                self.free_head = self.nodes[slot as usize].next;
                self.nodes[slot as usize] = node;
                slot
            }
        };
        let tick = at.as_us() >> TICK_SHIFT;
        if tick < self.cursor + WHEEL_TICKS {
            self.append(bucket_of(tick.max(self.cursor)), slot);
        } else {
            self.nodes[slot as usize].prev = IN_OVERFLOW;
            self.overflow.push(OverflowKey { at, seq, slot });
            self.overflow_tick = self.overflow_tick.min(tick);
        }
        self.live_count += 1;
        EventKey { slot, seq }
    }

    /// Removes the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<Popped<E>> {
        self.pop_until(Instant::MAX)
    }

    /// Removes the earliest event if it is due at or before `until`; `None` if the queue is
    /// empty or its earliest event is later (tell them apart with [`EventQueue::is_empty`]).
    /// One call where a peek then a pop would look at the earliest event twice; inlined, as
    /// `World::run` calls it once per event.
    #[inline]
    pub fn pop_until(&mut self, until: Instant) -> Option<Popped<E>> {
        let bucket = self.first_bucket()?;
        let slot = self.buckets[bucket].head;
        let node = &mut self.nodes[slot as usize];
        if node.at > until {
            return None;
        }
        let (at, seq, next) = (node.at, node.seq, node.next);
        let event = node.event.take().expect("a linked node holds an event");
        self.buckets[bucket].head = next;
        if next == NIL {
            self.buckets[bucket].tail = NIL;
            self.occupied.clear(bucket);
        } else {
            self.nodes[next as usize].prev = NIL;
        }
        self.free(slot);
        self.live_count -= 1;
        Some(Popped { at, seq, event })
    }

    /// When the earliest event is due.
    pub fn peek_at(&mut self) -> Option<Instant> {
        let bucket = self.first_bucket()?;
        Some(self.nodes[self.buckets[bucket].head as usize].at)
    }

    /// Looks at a pending event by key; `None` once it popped or was cancelled.
    pub fn get(&self, key: EventKey) -> Option<&E> {
        let node = self.nodes.get(key.slot as usize)?;
        if node.seq != key.seq {
            return None;
        }
        node.event.as_ref()
    }

    /// Cancels a pending event; returns whether it was still pending.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        let Some(node) = self.nodes.get_mut(key.slot as usize) else {
            return false;
        };
        if node.seq != key.seq || node.event.is_none() {
            return false;
        }
        // Free the node now rather than when its time comes: the next push reuses it while
        // it is still in cache, and the slab stays as small as what is pending.
        node.event = None;
        let (at, prev, next) = (node.at, node.prev, node.next);
        if prev != IN_OVERFLOW {
            // In the wheel: in its tick's bucket, or the cursor's if it was pushed for a tick
            // the cursor had passed (see `cursor`).
            let bucket = bucket_of((at.as_us() >> TICK_SHIFT).max(self.cursor));
            self.unlink(bucket, prev, next);
        }
        self.free(key.slot);
        self.live_count -= 1;
        true
    }

    /// Number of events still to pop (cancelled ones excluded).
    #[inline]
    pub fn len(&self) -> usize {
        self.live_count
    }

    /// True when no event is pending: the run is quiescent.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    /// Puts node `slot`, its event already taken, at the head of the free list.
    #[inline(always)]
    fn free(&mut self, slot: u32) {
        self.nodes[slot as usize].next = self.free_head;
        self.free_head = slot;
    }

    /// The bucket holding the earliest event, moving the cursor to it first if the cursor's
    /// bucket is empty; `None` when nothing is pending.
    #[inline]
    fn first_bucket(&mut self) -> Option<usize> {
        let start = bucket_of(self.cursor);
        // The next event is nearly always within the cursor's 64 ticks; the cursor moves to
        // it without a branch on whether it is in the cursor's own bucket.
        match self.occupied.next_in_word(start) {
            Some(bucket) => {
                self.cursor += (bucket - start) as u64;
                if self.cursor + WHEEL_TICKS > self.overflow_tick {
                    self.pull_overflow();
                }
                Some(bucket)
            }
            None => self.advance(),
        }
    }

    /// [`EventQueue::first_bucket`] when the next event is beyond the cursor's 64 ticks:
    /// moves the cursor to the next tick holding an event, pulling overflow keys the wheel
    /// then spans into their buckets; returns that tick's bucket, or `None` when nothing is
    /// pending anywhere.
    #[inline(never)]
    fn advance(&mut self) -> Option<usize> {
        loop {
            match self.occupied.distance_to_next(bucket_of(self.cursor)) {
                // The wheel's events are all due within WHEEL_TICKS of the cursor, and every
                // overflow key after them, so the next occupied bucket is the earliest.
                Some(distance) => {
                    self.cursor += distance as u64;
                    if self.cursor + WHEEL_TICKS > self.overflow_tick {
                        self.pull_overflow();
                    }
                    return Some(bucket_of(self.cursor));
                }
                None => {
                    self.overflow.peek()?;
                    self.cursor = self.overflow_tick;
                    // Keys of cancelled events are dropped here; if they were all there was,
                    // the wheel is still empty and the loop looks again.
                    self.pull_overflow();
                }
            }
        }
    }

    /// Moves overflow keys that the wheel now spans into their buckets.
    #[inline(never)]
    fn pull_overflow(&mut self) {
        let horizon = self.cursor + WHEEL_TICKS;
        self.overflow_tick = u64::MAX;
        while let Some(&key) = self.overflow.peek() {
            let tick = key.at.as_us() >> TICK_SHIFT;
            if tick >= horizon {
                self.overflow_tick = tick;
                break;
            }
            self.overflow.pop();
            let node = &self.nodes[key.slot as usize];
            if node.seq == key.seq && node.event.is_some() {
                self.link(bucket_of(tick.max(self.cursor)), key.slot);
            }
        }
    }

    /// Puts a newly pushed node `slot` into `bucket`'s list. It has the largest `seq` yet,
    /// so it goes at the tail unless an event due later is there: the common case is one
    /// test and no loop.
    #[inline(always)]
    fn append(&mut self, bucket: usize, slot: u32) {
        let tail = self.buckets[bucket].tail;
        let at = self.nodes[slot as usize].at;
        if tail == NIL {
            self.buckets[bucket] = Bucket {
                head: slot,
                tail: slot,
            };
            self.occupied.set(bucket);
        } else if self.nodes[tail as usize].at <= at {
            self.nodes[slot as usize].prev = tail;
            self.nodes[tail as usize].next = slot;
            self.buckets[bucket].tail = slot;
        } else {
            self.link(bucket, slot);
        }
    }

    /// Inserts node `slot` into `bucket`'s list, keeping it sorted by `(at, seq)`: from the
    /// tail back past every later node.
    #[inline(never)]
    fn link(&mut self, bucket: usize, slot: u32) {
        let key = (self.nodes[slot as usize].at, self.nodes[slot as usize].seq);
        let mut prev = self.buckets[bucket].tail;
        while prev != NIL {
            let node = &self.nodes[prev as usize];
            if (node.at, node.seq) < key {
                break;
            }
            prev = node.prev;
        }
        let next = match prev {
            NIL => self.buckets[bucket].head,
            _ => self.nodes[prev as usize].next,
        };
        let node = &mut self.nodes[slot as usize];
        node.prev = prev;
        node.next = next;
        match prev {
            NIL => self.buckets[bucket].head = slot,
            _ => self.nodes[prev as usize].next = slot,
        }
        match next {
            NIL => self.buckets[bucket].tail = slot,
            _ => self.nodes[next as usize].prev = slot,
        }
        self.occupied.set(bucket);
    }

    /// Takes a node with neighbours `prev` and `next` out of `bucket`'s list.
    fn unlink(&mut self, bucket: usize, prev: u32, next: u32) {
        match prev {
            NIL => self.buckets[bucket].head = next,
            _ => self.nodes[prev as usize].next = next,
        }
        match next {
            NIL => self.buckets[bucket].tail = prev,
            _ => self.nodes[next as usize].prev = prev,
        }
        if self.buckets[bucket].head == NIL {
            self.occupied.clear(bucket);
        }
    }
}

/// The bucket a tick's events sit in.
#[inline]
fn bucket_of(tick: u64) -> usize {
    (tick % WHEEL_TICKS) as usize
}

#[cfg(test)]
mod tests;

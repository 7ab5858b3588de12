//! A pool of workers with a FIFO queue, optionally bounded: what a service's calls (and the
//! broker's or a coordinator's messages, see `paced.rs`) wait in when every worker is busy.
//!
//! It measures what queueing theory talks about: utilisation (busy workers over time), the
//! queue's time-average and maximum length, each item's wait and its response time (arrival
//! to end), and refusals by a full queue. It is volatile: a crash loses what runs and waits.

use std::collections::VecDeque;

use crate::sim::Instant;
use crate::system::model::Capacity;

/// What a bounded pool measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Load {
    /// Workers in the pool.
    pub workers: u32,
    /// Σ busy workers × time, µs: utilisation is this over workers × elapsed time.
    pub busy_area_us: u128,
    /// Σ queue length × time, µs: the time-average length is this over elapsed time.
    pub queue_area_us: u128,
    /// The longest the queue was.
    pub max_queue: u32,
    /// Each started item's wait in the queue, µs (0 for one that found a free worker).
    pub waits_us: Vec<u64>,
    /// Each finished item's response time, arrival to end, µs.
    pub responses_us: Vec<u64>,
    /// Items turned away because the queue was full.
    pub refused: u64,
    /// The time measured up to (the last change).
    pub until: Instant,
}

/// What became of an item offered to the pool.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<T> {
    /// A worker took it: start it now.
    Start(T),
    /// It waits in the queue.
    Queued,
    /// The queue is full: it is turned away.
    Refused(T),
}

/// Workers and their queue of `T`s.
#[derive(Debug)]
pub struct Pool<T> {
    capacity: Capacity,
    busy: u32,
    queue: VecDeque<(T, Instant)>,
    load: Load,
}

impl<T> Pool<T> {
    /// An idle pool of `capacity` (its `workers` must be set).
    pub fn new(capacity: Capacity) -> Self {
        Pool {
            capacity,
            busy: 0,
            queue: VecDeque::new(),
            load: Load {
                workers: capacity.workers.unwrap_or(0),
                ..Load::default()
            },
        }
    }

    /// Brings the areas up to `now`, before the busy count or the queue changes.
    fn advance(&mut self, now: Instant) {
        let dt = u128::from(now.saturating_since(self.load.until).as_us());
        self.load.busy_area_us += u128::from(self.busy) * dt;
        self.load.queue_area_us += self.queue.len() as u128 * dt;
        self.load.until = now;
    }

    /// Offers `item`, arriving now: a free worker takes it, or it queues, or a full queue
    /// turns it away (unless `must_wait`: an item that cannot be refused queues whatever
    /// the bound).
    pub fn admit(&mut self, now: Instant, item: T, must_wait: bool) -> Admission<T> {
        self.advance(now);
        let workers = self.capacity.workers.unwrap_or(u32::MAX);
        if self.busy < workers {
            self.busy += 1;
            self.load.waits_us.push(0);
            return Admission::Start(item);
        }
        let full = self
            .capacity
            .queue_limit
            .is_some_and(|limit| self.queue.len() >= limit as usize);
        if full && !must_wait {
            self.load.refused += 1;
            return Admission::Refused(item);
        }
        self.queue.push_back((item, now));
        self.load.max_queue = self.load.max_queue.max(self.queue.len() as u32);
        Admission::Queued
    }

    /// An item that arrived at `arrived` ended now: its worker takes the next waiting item,
    /// returned with its arrival time, to be started now.
    pub fn release(&mut self, now: Instant, arrived: Instant) -> Option<(T, Instant)> {
        self.advance(now);
        self.load.responses_us.push(now.saturating_since(arrived).as_us());
        self.busy = self.busy.saturating_sub(1);
        let (item, queued) = self.queue.pop_front()?;
        self.busy += 1;
        self.load.waits_us.push(now.saturating_since(queued).as_us());
        Some((item, queued))
    }

    /// A crash: running and waiting items are lost (their senders retry).
    pub fn crash(&mut self, now: Instant) {
        self.advance(now);
        self.busy = 0;
        self.queue.clear();
    }

    /// What the pool measured up to `now`.
    pub fn load(&self, now: Instant) -> Load {
        let mut load = self.load.clone();
        let dt = u128::from(now.saturating_since(load.until).as_us());
        load.busy_area_us += u128::from(self.busy) * dt;
        load.queue_area_us += self.queue.len() as u128 * dt;
        load.until = now;
        load
    }
}

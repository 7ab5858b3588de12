//! A service's capacity: a pool of workers, each running one local call from its start to its
//! end, and a FIFO queue, optionally bounded, for calls that find every worker busy; a full
//! queue answers `Busy` (which callers treat as retryable). Unbounded by default, as every
//! service ran every call at once before: then nothing queues and nothing is measured.
//!
//! Measured per service: utilisation, the queue's time-average and maximum length, each
//! call's wait in the queue and its response time (arrival to end), and refusals.

use std::collections::VecDeque;

use super::Service;
use super::call::Reply;
use crate::sim::Instant;
use crate::system::msg::{LocalCall, LocalResult, Msg};
use crate::world::Ctx;

/// What a bounded service measured.
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
    /// Each started call's wait in the queue, µs (0 for a call that found a free worker).
    pub waits_us: Vec<u64>,
    /// Each finished call's response time, arrival to end, µs.
    pub responses_us: Vec<u64>,
    /// Calls turned away because the queue was full.
    pub refused: u64,
    /// The time measured up to (the last change).
    pub until: Instant,
}

/// The pool's state; volatile (a crash loses running and waiting calls).
#[derive(Debug, Default)]
pub(super) struct Pool {
    busy: u32,
    queue: VecDeque<(LocalCall, Reply, Instant)>,
    pub(super) load: Load,
}

impl Pool {
    /// Brings the areas up to `now`, before the busy count or the queue changes.
    fn advance(&mut self, now: Instant) {
        let dt = u128::from(now.saturating_since(self.load.until).as_us());
        self.load.busy_area_us += u128::from(self.busy) * dt;
        self.load.queue_area_us += self.queue.len() as u128 * dt;
        self.load.until = now;
    }

    /// A crash: running and waiting calls are lost (their callers retry).
    pub(super) fn crash(&mut self, now: Instant) {
        self.advance(now);
        self.busy = 0;
        self.queue.clear();
    }
}

impl Service {
    /// Admits a call arriving now: starts it if a worker is free, queues it, or refuses it
    /// `Busy` when the queue is full. An unbounded service starts it at once.
    pub(super) fn admit(&mut self, ctx: &mut Ctx<'_, Msg>, call: LocalCall, reply: Reply) {
        let Some(workers) = self.config.capacity.workers else {
            self.start_call(ctx, call, reply, ctx.now());
            return;
        };
        let now = ctx.now();
        let pool = &mut self.pool;
        pool.advance(now);
        pool.load.workers = workers;
        if pool.busy < workers {
            pool.busy += 1;
            pool.load.waits_us.push(0);
            self.start_call(ctx, call, reply, now);
            return;
        }
        // A call the service's own participant started (not a caller's, nor a delivery's)
        // waits whatever the bound: answered busy, the participant would try it again at
        // once, in the same instant, for ever.
        let own = matches!(reply, Reply::Participant);
        let full = self
            .config
            .capacity
            .queue_limit
            .is_some_and(|limit| pool.queue.len() >= limit as usize);
        if full && !own {
            pool.load.refused += 1;
            ctx.count("service.refused_busy", 1);
            self.finish(ctx, call, reply, LocalResult::Busy);
            return;
        }
        pool.queue.push_back((call, reply, now));
        pool.load.max_queue = pool.load.max_queue.max(pool.queue.len() as u32);
    }

    /// A call that arrived at `arrived` ended: its worker takes the next waiting call.
    pub(super) fn release(&mut self, ctx: &mut Ctx<'_, Msg>, arrived: Instant) {
        if self.config.capacity.workers.is_none() {
            return;
        }
        let now = ctx.now();
        let pool = &mut self.pool;
        pool.advance(now);
        pool.load.responses_us.push(now.saturating_since(arrived).as_us());
        pool.busy = pool.busy.saturating_sub(1);
        if let Some((call, reply, queued)) = pool.queue.pop_front() {
            pool.busy += 1;
            pool.load.waits_us.push(now.saturating_since(queued).as_us());
            self.start_call(ctx, call, reply, queued);
        }
    }

    /// What the pool measured up to `now` (`None` for an unbounded service).
    pub fn load(&self, now: Instant) -> Option<Load> {
        self.config.capacity.workers?;
        let mut load = self.pool.load.clone();
        let dt = u128::from(now.saturating_since(load.until).as_us());
        load.busy_area_us += u128::from(self.pool.busy) * dt;
        load.queue_area_us += self.pool.queue.len() as u128 * dt;
        load.until = now;
        Some(load)
    }
}

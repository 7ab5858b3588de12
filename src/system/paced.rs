//! An actor behind workers: the broker or a strategy's own actor (a coordinator, an
//! orchestrator) given a capacity. Each message it receives takes a drawn processing time on
//! one of its workers before the actor handles it; messages that find every worker busy wait
//! in a FIFO queue (`system::pool`), and a full queue drops them (their senders retry, as
//! they do a lost message). Its timers pass straight through.

use std::collections::BTreeMap;

use crate::net::LatencyDist;
use crate::sim::{ActorId, Instant};
use crate::system::model::Capacity;
use crate::system::msg::Msg;
use crate::system::pool::{Admission, Load, Pool};
use crate::system::timer::TimerMsg;
use crate::world::{Actor, Ctx};

/// A capacity for an actor that is not a service: its workers and queue, and the time each
/// message takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pace {
    /// Workers and queue bound.
    pub capacity: Capacity,
    /// Each message's processing time, drawn from the actor's own stream.
    pub processing: LatencyDist,
}

/// `inner` behind a pool of workers.
pub struct Paced {
    inner: Box<dyn Actor<Msg>>,
    pool: Pool<(ActorId, Msg)>,
    processing: LatencyDist,
    /// Messages on a worker, by the slot their completion timer names.
    running: BTreeMap<u64, (ActorId, Msg, Instant)>,
    next_slot: u64,
}

impl Paced {
    /// `inner` with `pace`'s workers (`pace.capacity.workers` must be set).
    pub fn new(inner: Box<dyn Actor<Msg>>, pace: Pace) -> Self {
        Paced {
            inner,
            pool: Pool::new(pace.capacity),
            processing: pace.processing,
            running: BTreeMap::new(),
            next_slot: 0,
        }
    }

    /// What its pool measured up to `now`.
    pub fn load(&self, now: Instant) -> Load {
        self.pool.load(now)
    }

    fn begin(&mut self, ctx: &mut Ctx<'_, Msg>, (src, msg): (ActorId, Msg), arrived: Instant) {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.running.insert(slot, (src, msg, arrived));
        let after = self.processing.sample(ctx.rng());
        ctx.set_timer(after, Msg::Timer(TimerMsg::Paced { slot }));
    }
}

impl Actor<Msg> for Paced {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.inner.on_start(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, msg: Msg) {
        let now = ctx.now();
        match self.pool.admit(now, (src, msg), false) {
            Admission::Start(item) => self.begin(ctx, item, now),
            Admission::Queued => {}
            Admission::Refused(_) => ctx.count("paced.refused", 1),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Timer(TimerMsg::Paced { slot }) = msg else {
            self.inner.on_timer(ctx, msg);
            return;
        };
        let Some((src, message, arrived)) = self.running.remove(&slot) else {
            return;
        };
        self.inner.on_message(ctx, src, message);
        if let Some((next, queued)) = self.pool.release(ctx.now(), arrived) {
            self.begin(ctx, next, queued);
        }
    }

    fn on_crash(&mut self, now: Instant) {
        self.inner.on_crash(now);
        self.pool.crash(now);
        self.running.clear();
    }

    fn retained_bytes(&self) -> usize {
        self.inner.retained_bytes()
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.inner.on_recover(ctx);
    }
}

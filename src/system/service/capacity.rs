//! A service's capacity: per instance, a pool of workers (`system::pool`), each running one
//! local call from its start to its end, and a FIFO queue, optionally bounded, for calls that
//! find every worker busy; a full queue answers `Busy` (which callers treat as retryable).
//! Unbounded by default, as every service ran every call at once before: then nothing queues
//! and nothing is measured.

use super::Service;
use super::call::Reply;
use crate::sim::Instant;
use crate::system::msg::{LocalCall, LocalResult, Msg};
use crate::system::pool::{Admission, Load};
use crate::world::Ctx;

impl Service {
    /// Admits a call arriving now on the instance the balancer picks: starts it if a worker
    /// is free, queues it, or refuses it `Busy` when the queue is full. An unbounded
    /// instance starts it at once. With no instance to take it, the call is lost like a
    /// message to a crashed node: its caller times out.
    pub(super) fn admit(&mut self, ctx: &mut Ctx<'_, Msg>, call: LocalCall, reply: Reply) {
        let now = ctx.now();
        let Some(instance) = self.route(&call) else {
            ctx.count("service.calls_without_instance", 1);
            return;
        };
        let Some(pool) = self.instances[usize::from(instance)].pool.as_mut() else {
            self.start_call(ctx, (call, reply), instance, now);
            return;
        };
        // A call the service's own participant started (not a caller's, nor a delivery's)
        // waits whatever the bound: answered busy, the participant would try it again at
        // once, in the same instant, for ever.
        let own = matches!(reply, Reply::Participant);
        match pool.admit(now, (call, reply), own) {
            Admission::Start(item) => self.start_call(ctx, item, instance, now),
            Admission::Queued => {}
            Admission::Refused((call, reply)) => {
                ctx.count("service.refused_busy", 1);
                self.finish(ctx, call, reply, LocalResult::Busy);
            }
        }
    }

    /// A call that arrived at `arrived` ended on `instance`: its worker takes the next
    /// waiting call.
    pub(super) fn release(&mut self, ctx: &mut Ctx<'_, Msg>, instance: u16, arrived: Instant) {
        let now = ctx.now();
        let state = &mut self.instances[usize::from(instance)];
        state.running = state.running.saturating_sub(1);
        if let Some((item, queued)) = state.pool.as_mut().and_then(|pool| pool.release(now, arrived)) {
            self.start_call(ctx, item, instance, queued);
        }
    }

    /// What each bounded instance's pool measured up to `now`, by instance (none for an
    /// unbounded service).
    pub fn load(&self, now: Instant) -> Vec<(u16, Load)> {
        self.instances
            .iter()
            .enumerate()
            .filter_map(|(i, instance)| instance.pool.as_ref().map(|pool| (i as u16, pool.load(now))))
            .collect()
    }

    /// How many instances it runs.
    pub fn instance_count(&self) -> u16 {
        self.instances.len() as u16
    }
}

//! A service's capacity: a pool of workers (`system::pool`), each running one local call from
//! its start to its end, and a FIFO queue, optionally bounded, for calls that find every
//! worker busy; a full queue answers `Busy` (which callers treat as retryable). Unbounded by
//! default, as every service ran every call at once before: then nothing queues and nothing
//! is measured.

use super::Service;
use super::call::Reply;
use crate::sim::Instant;
use crate::system::msg::{LocalCall, LocalResult, Msg};
use crate::system::pool::{Admission, Load};
use crate::world::Ctx;

impl Service {
    /// Admits a call arriving now: starts it if a worker is free, queues it, or refuses it
    /// `Busy` when the queue is full. An unbounded service starts it at once.
    pub(super) fn admit(&mut self, ctx: &mut Ctx<'_, Msg>, call: LocalCall, reply: Reply) {
        let now = ctx.now();
        let Some(pool) = self.pool.as_mut() else {
            self.start_call(ctx, call, reply, now);
            return;
        };
        // A call the service's own participant started (not a caller's, nor a delivery's)
        // waits whatever the bound: answered busy, the participant would try it again at
        // once, in the same instant, for ever.
        let own = matches!(reply, Reply::Participant);
        match pool.admit(now, (call, reply), own) {
            Admission::Start((call, reply)) => self.start_call(ctx, call, reply, now),
            Admission::Queued => {}
            Admission::Refused((call, reply)) => {
                ctx.count("service.refused_busy", 1);
                self.finish(ctx, call, reply, LocalResult::Busy);
            }
        }
    }

    /// A call that arrived at `arrived` ended: its worker takes the next waiting call.
    pub(super) fn release(&mut self, ctx: &mut Ctx<'_, Msg>, arrived: Instant) {
        let now = ctx.now();
        if let Some(((call, reply), queued)) = self.pool.as_mut().and_then(|pool| pool.release(now, arrived))
        {
            self.start_call(ctx, call, reply, queued);
        }
    }

    /// What the pool measured up to `now` (`None` for an unbounded service).
    pub fn load(&self, now: Instant) -> Option<Load> {
        self.pool.as_ref().map(|pool| pool.load(now))
    }
}

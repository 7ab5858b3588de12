//! A service's instances: copies of the service running over its one database, behind a
//! load balancer that spreads calls over them (`Balance`). Each has its own workers and
//! queue (the model's `workers` and `queue` are per instance) and can crash alone: the calls
//! it was running are lost (their local transactions abort, nobody is answered, callers time
//! out and retry), calls it would have got go to the others, or, balanced by key, wait for
//! it. The database is shared and stays up; the kernel's `Crash` of the service's node still
//! takes every instance down with it.
//!
//! Instances live inside the service's actor: they share its database without a network in
//! between, the one simplification, which keeps a call's database work where it is today.

use super::Service;
use super::call::Reply;
use crate::sim::Instant;
use crate::store::LocalTxId;
use crate::system::model::Balance;
use crate::system::msg::{LocalCall, Msg};
use crate::system::pool::Pool;
use crate::system::timer::TimerMsg;
use crate::world::Ctx;

/// A crash of one instance, from the scenario's `CrashInstance` faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceCrash {
    /// Which instance, from 0.
    pub instance: u16,
    /// When it goes down.
    pub at: Instant,
    /// When it comes back, if it does.
    pub restart: Option<Instant>,
}

/// One instance's state.
#[derive(Debug)]
pub(super) struct Instance {
    /// Serving calls.
    pub up: bool,
    /// Its workers and queue, when its capacity is bounded.
    pub pool: Option<Pool<(LocalCall, Reply)>>,
    /// Calls it is running now.
    pub running: u32,
}

impl Service {
    /// The instance a call goes to, or `None` when none can take it (all down, or the one
    /// its key belongs to).
    pub(super) fn route(&mut self, call: &LocalCall) -> Option<u16> {
        let count = self.instances.len() as u16;
        if count == 1 {
            return self.instances[0].up.then_some(0);
        }
        match self.model.services[self.config.id.index()].balance {
            Balance::ByKey => {
                let instance = (call.keys.key % u64::from(count)) as u16;
                self.instances[usize::from(instance)].up.then_some(instance)
            }
            Balance::RoundRobin => {
                let start = self.next_instance;
                let next = (0..count)
                    .map(|i| (start + i) % count)
                    .find(|&i| self.instances[usize::from(i)].up)?;
                self.next_instance = (next + 1) % count;
                Some(next)
            }
            Balance::LeastLoaded => (0..count)
                .filter(|&i| self.instances[usize::from(i)].up)
                .min_by_key(|&i| self.instances[usize::from(i)].running),
        }
    }

    /// Arms the scenario's instance crashes and restarts still ahead.
    pub(super) fn arm_instance_crashes(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        for crash in self.config.instance_crashes.clone() {
            if crash.at >= now {
                let down = TimerMsg::Instance {
                    instance: crash.instance,
                    up: false,
                };
                ctx.set_timer(crash.at.saturating_since(now), Msg::Timer(down));
            }
            if let Some(restart) = crash.restart.filter(|r| *r >= now) {
                let up = TimerMsg::Instance {
                    instance: crash.instance,
                    up: true,
                };
                ctx.set_timer(restart.saturating_since(now), Msg::Timer(up));
            }
        }
    }

    /// Instance `instance` goes down (`up` false) or comes back.
    pub(super) fn instance_event(&mut self, ctx: &mut Ctx<'_, Msg>, instance: u16, up: bool) {
        let index = usize::from(instance);
        if up {
            self.instances[index].up = true;
            ctx.count("service.instance_restarts", 1);
            return;
        }
        if !self.instances[index].up {
            return;
        }
        let now = ctx.now();
        let state = &mut self.instances[index];
        state.up = false;
        state.running = 0;
        if let Some(pool) = state.pool.as_mut() {
            pool.crash(now); // waiting calls are lost with it
        }
        ctx.count("service.instance_crashes", 1);
        let lost: Vec<LocalTxId> = self
            .active
            .iter()
            .filter(|(_, active)| active.instance == instance)
            .map(|(local, _)| local)
            .collect();
        ctx.count("service.calls_lost_with_instance", lost.len() as u64);
        for local in lost {
            // A call woken by an earlier abort here may have ended meanwhile.
            let Some(active) = self.active.remove(local) else {
                continue;
            };
            if let Some(timer) = active.lock_timer {
                ctx.cancel_timer(timer);
            }
            let mut session = self.db.access(ctx.me()).expect("owner");
            let woken = session.abort(local, now).expect("an active call's tx aborts");
            self.wake(ctx, woken);
        }
    }
}

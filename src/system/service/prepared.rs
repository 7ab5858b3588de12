//! Pending steps: resolving a prepared one (commit or abort after a decision), ending a held
//! one, and fencing a step that must not apply any more. Protocol-neutral: a 2PC or 3PC
//! participant asks for these through its effects; a hold ends by a `Confirm` or `Release`
//! call from whoever decided (TCC's coordinator).

use crate::store::{LocalTxId, Outcome, Value};
use crate::system::history::HistoryEvent;
use crate::system::msg::{CallMode, GlobalTxId, Msg, StepKind};
use crate::world::Ctx;

use super::Service;
use super::call::{FENCE, idempotency_key_of};

impl Service {
    /// The step must not apply any more (its transaction aborted, maybe before this step
    /// prepared): give up a prepare still in progress, and fence the action so a prepare
    /// arriving later votes no at once instead of holding locks in doubt until it asks.
    pub(super) fn fence_unprepared(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let late: Vec<LocalTxId> = self
            .active
            .iter()
            .filter(|(_, a)| a.call.gtx == gtx && a.call.step == step && a.call.mode == CallMode::Prepare)
            .map(|(local, _)| local)
            .collect();
        for local in late {
            self.give_up(ctx, local);
        }
        let local = LocalTxId(self.next_local);
        self.next_local += 1;
        let action = idempotency_key_of(gtx, step, StepKind::Action);
        let now = ctx.now();
        let mut session = self.db.access(ctx.me()).expect("owner");
        session.begin(local, now).expect("fresh local tx id");
        let fenced = match session.check_idempotency(local, action).expect("active tx") {
            // Never seen: fence it. Already applied or fenced: nothing to do.
            Outcome::Done(None) => session
                .record_idempotency(local, action, Value::Int(FENCE))
                .expect("active tx")
                .is_done(),
            _ => false,
        };
        // A duplicate prepare that got the row first keeps it; it will ask, as before.
        let woken = if fenced {
            session.commit(local, now).expect("a fence commits")
        } else {
            session.abort(local, now).expect("aborts")
        };
        let _ = self.db.take_cost(); // bookkeeping of a decided transaction
        if fenced {
            ctx.count("service.aborted_steps_fenced", 1);
        }
        self.wake(ctx, woken);
    }

    /// Commits or aborts the prepared local transaction of step `step` of `gtx`, releasing
    /// its locks, and records how long it was in doubt. Nothing if it is not prepared here.
    pub(super) fn resolve_prepared(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        gtx: GlobalTxId,
        step: u16,
        commit: bool,
    ) {
        let Some(prepared) = self.prepared.get(&(gtx, step)).copied().filter(|p| !p.held) else {
            return; // Not prepared here (a hold ends by its own call).
        };
        self.prepared.remove(&(gtx, step));
        let now = ctx.now();
        let mut session = self.db.access(ctx.me()).expect("owner");
        let woken = if commit {
            session.commit(prepared.local, now).expect("prepared tx commits")
        } else {
            session.abort(prepared.local, now).expect("prepared tx aborts")
        };
        // The participant waited for the log force before asking: its cost is paid.
        let _ = self.db.take_cost();
        let in_doubt_us = (now - prepared.since).as_us();
        let service = self.config.id;
        self.record(
            ctx,
            HistoryEvent::Decided {
                service,
                gtx,
                step,
                commit,
                mode: CallMode::Prepare,
                in_doubt_us,
            },
        );
        ctx.count("service.in_doubt_us", in_doubt_us);
        self.wake(ctx, woken);
    }

    /// A `Confirm` or `Release` call of step `step` of `gtx` committed: the step is no longer
    /// held; record the decision and how long the hold lasted. Nothing if it was not held.
    pub(super) fn end_hold(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16, commit: bool) {
        let Some(held) = self.prepared.get(&(gtx, step)).copied().filter(|p| p.held) else {
            return;
        };
        self.prepared.remove(&(gtx, step));
        let held_us = (ctx.now() - held.since).as_us();
        let service = self.config.id;
        self.record(
            ctx,
            HistoryEvent::Decided {
                service,
                gtx,
                step,
                commit,
                mode: CallMode::Reserve,
                in_doubt_us: held_us,
            },
        );
        ctx.count("service.hold_us", held_us);
    }
}

//! YOUR FILE: a consistency strategy for food delivery, written against consim's public
//! strategy API. `cargo run --release --example exercise_12` grades it.
//!
//! It is a *bare saga*: one `runner` actor calls each step in turn and, when a step is
//! refused, compensates the steps already done in reverse order. It never retries and keeps
//! no log, so on a clean network every check holds, while on the exercise's lossy network
//! orders are left half done. Make it survive the loss (see the exercise's README.md).

use std::collections::BTreeMap;

use consim::sim::ActorId;
use consim::strategy::{Strategy, StrategyChoice, Wiring};
use consim::system::model::RequestKeys;
use consim::system::msg::{CallMode, GlobalTxId, LocalCall, LocalResult, Msg, StepKind, TxOutcome};
use consim::world::{Actor, Ctx};

/// The strategy the grader runs: keep this function's name and type.
pub fn strategy() -> StrategyChoice {
    StrategyChoice::new(BareSaga)
}

/// The strategy's settings (none) and its hooks: one extra actor, which is also the entry.
#[derive(Debug, Default, serde::Serialize)]
struct BareSaga;

impl Strategy for BareSaga {
    fn name(&self) -> &'static str {
        "bare_saga"
    }

    fn extra_actor_names(&self) -> Vec<&'static str> {
        vec!["runner"]
    }

    fn extra_actors(&self, wiring: &Wiring) -> Vec<Box<dyn Actor<Msg>>> {
        vec![Box::new(Runner {
            wiring: wiring.clone(),
            sagas: BTreeMap::new(),
        })]
    }

    fn entry(&self, wiring: &Wiring) -> ActorId {
        wiring.extras[0]
    }
}

/// Where a saga stands: moving forward at `step`, or undoing `step`.
#[derive(Clone, Copy, Debug)]
struct Saga {
    keys: RequestKeys,
    step: u16,
    undoing: bool,
}

/// The runner: all its state is volatile, so a crash forgets every saga in flight.
#[derive(Debug)]
struct Runner {
    wiring: Wiring,
    sagas: BTreeMap<GlobalTxId, Saga>,
}

impl Runner {
    fn call(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, saga: Saga) {
        let kind = if saga.undoing {
            StepKind::Compensation
        } else {
            StepKind::Action
        };
        let call = LocalCall {
            gtx,
            step: saga.step,
            kind,
            mode: CallMode::Commit,
            keys: saga.keys,
            idempotent: true,
            emit_on_commit: None,
            emit_on_refusal: None,
            token: self.wiring.token,
        };
        ctx.send(self.wiring.step_service(saga.step), Msg::Local(call));
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, outcome: TxOutcome) {
        self.sagas.remove(&gtx);
        ctx.send(self.wiring.gateway, Msg::Outcome { gtx, outcome });
    }

    /// A step answered: go on, turn back, or end.
    fn on_reply(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16, result: LocalResult) {
        let Some(mut saga) = self.sagas.get(&gtx).copied() else {
            return; // a duplicate reply, or a saga already ended
        };
        if saga.step != step {
            return;
        }
        let last = self.wiring.model.steps.len() as u16 - 1;
        match (saga.undoing, result) {
            (false, LocalResult::Committed) if step == last => {
                return self.finish(ctx, gtx, TxOutcome::Committed);
            }
            (false, LocalResult::Committed) => saga.step += 1,
            (false, _) if step == 0 => return self.finish(ctx, gtx, TxOutcome::Aborted),
            (false, _) => {
                saga.undoing = true;
                saga.step -= 1;
            }
            (true, _) if step == 0 => return self.finish(ctx, gtx, TxOutcome::Aborted),
            (true, _) => saga.step -= 1,
        }
        self.sagas.insert(gtx, saga);
        self.call(ctx, gtx, saga);
    }
}

impl Actor<Msg> for Runner {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        match msg {
            Msg::Begin { gtx, keys, token }
                if token == self.wiring.token && !self.sagas.contains_key(&gtx) =>
            {
                let saga = Saga {
                    keys,
                    step: 0,
                    undoing: false,
                };
                self.sagas.insert(gtx, saga);
                self.call(ctx, gtx, saga);
            }
            Msg::LocalReply {
                gtx, step, result, ..
            } => self.on_reply(ctx, gtx, step, result),
            _ => {}
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Msg>, _msg: Msg) {}

    fn on_crash(&mut self, _now: consim::sim::Instant) {
        self.sagas.clear();
    }
}

//! REFERENCE SOLUTION of exercise 12: the bare saga made to survive a lossy network.
//!
//! Every call arms a timer; if the reply has not come when it fires, the same call is sent
//! again (services apply a `(transaction, step, kind)` once, so a repeat is harmless), and
//! the wait doubles up to a cap, so a slow service is not flooded. A reply is taken only if
//! it answers the call in flight: same step, same direction. A `Busy` answer (a lock wait
//! timed out) is no answer: the timer sends the call again; only a refusal turns the saga
//! back, and a compensation is done only when it committed. A saga's outcome is kept, so a
//! gateway asking again after a lost `Outcome` is answered, not served a second saga.
//! Crashes of the runner are out of this exercise's scope: its state is still volatile.

use std::collections::BTreeMap;

use consim::sim::{ActorId, Duration};
use consim::strategy::{Strategy, StrategyChoice, Wiring};
use consim::system::model::RequestKeys;
use consim::system::msg::{CallMode, GlobalTxId, LocalCall, LocalResult, Msg, StepKind, TxOutcome};
use consim::system::timer::TimerMsg;
use consim::world::{Actor, Ctx, TimerId};

/// The first wait for a reply: a few round trips on the exercise's network.
const FIRST_WAIT: Duration = Duration::from_ms(20);

/// The longest wait between two tries.
const LONGEST_WAIT: Duration = Duration::from_ms(160);

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
            ended: BTreeMap::new(),
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
    /// Tries of the call in flight so far, less one.
    attempt: u16,
    /// The timer that sends the call in flight again.
    timer: Option<TimerId>,
}

/// The runner: all its state is volatile, so a crash forgets every saga in flight.
#[derive(Debug)]
struct Runner {
    wiring: Wiring,
    sagas: BTreeMap<GlobalTxId, Saga>,
    /// How each ended saga ended, to answer a gateway that asks again.
    ended: BTreeMap<GlobalTxId, TxOutcome>,
}

impl Runner {
    /// Sends the call `saga` is at, and arms the timer that sends it again.
    fn call(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, mut saga: Saga) {
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
        let wait = (FIRST_WAIT.as_us() << saga.attempt.min(3)).min(LONGEST_WAIT.as_us());
        let timer = TimerMsg::Strategy {
            gtx,
            step: saga.step,
            attempt: saga.attempt,
            tag: u8::from(saga.undoing),
        };
        saga.timer = Some(ctx.set_timer(Duration::from_us(wait), Msg::Timer(timer)));
        self.sagas.insert(gtx, saga);
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, outcome: TxOutcome) {
        self.sagas.remove(&gtx);
        self.ended.insert(gtx, outcome);
        ctx.send(self.wiring.gateway, Msg::Outcome { gtx, outcome });
    }

    /// A step answered: go on, turn back, or end.
    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        gtx: GlobalTxId,
        (step, kind): (u16, StepKind),
        result: LocalResult,
    ) {
        let Some(mut saga) = self.sagas.get(&gtx).copied() else {
            return; // a duplicate reply, or a saga already ended
        };
        if saga.step != step || saga.undoing != (kind == StepKind::Compensation) {
            return; // the answer to an earlier call
        }
        if result == LocalResult::Busy || (saga.undoing && result != LocalResult::Committed) {
            return; // not done: the armed timer sends the call again
        }
        if let Some(timer) = saga.timer.take() {
            ctx.cancel_timer(timer);
        }
        saga.attempt = 0;
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
        self.call(ctx, gtx, saga);
    }
}

impl Actor<Msg> for Runner {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        match msg {
            Msg::Begin { gtx, token, .. } if token == self.wiring.token && self.ended.contains_key(&gtx) => {
                let outcome = self.ended[&gtx];
                ctx.send(self.wiring.gateway, Msg::Outcome { gtx, outcome });
            }
            Msg::Begin { gtx, keys, token }
                if token == self.wiring.token && !self.sagas.contains_key(&gtx) =>
            {
                let saga = Saga {
                    keys,
                    step: 0,
                    undoing: false,
                    attempt: 0,
                    timer: None,
                };
                self.call(ctx, gtx, saga);
            }
            Msg::LocalReply {
                gtx,
                step,
                kind,
                result,
            } => self.on_reply(ctx, gtx, (step, kind), result),
            _ => {}
        }
    }

    /// No reply to the call in flight yet: send it again.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Timer(TimerMsg::Strategy {
            gtx,
            step,
            attempt,
            tag,
        }) = msg
        else {
            return;
        };
        let Some(mut saga) = self.sagas.get(&gtx).copied() else {
            return; // ended meanwhile
        };
        if (saga.step, saga.attempt, u8::from(saga.undoing)) != (step, attempt, tag) {
            return; // answered meanwhile
        }
        saga.attempt += 1;
        self.call(ctx, gtx, saga);
    }

    fn on_crash(&mut self, _now: consim::sim::Instant) {
        self.sagas.clear();
        self.ended.clear();
    }
}

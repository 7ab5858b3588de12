//! The TCC coordinator: sends every step's try, decides, and sends the confirms or cancels
//! until each service has carried its own out.
//!
//! Durable across a crash: the log (one [`Decision`] per decided transaction). Volatile:
//! transactions still trying, forcing a confirm, or waiting for acks, and every timer.
//! Recovery re-sends every logged decision not yet carried out everywhere; a transaction with
//! no logged decision is cancelled when a hold asks about it (presumed cancel).

use super::Config;
use crate::sim::{ActorId, IdMap};
use crate::strategy::Wiring;
use crate::system::model::RequestKeys;
use crate::system::msg::{CallMode, GlobalTxId, LocalCall, LocalResult, Msg, StepKind};
use crate::system::timer::TimerMsg;
use crate::world::{Actor, Ctx, TimerId};

use super::msg::Expired;

/// A decided transaction in the coordinator's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Confirm, or cancel.
    pub confirm: bool,
    /// Every step carried it out (the end record); a recovered coordinator re-sends the rest.
    pub ended: bool,
}

/// The coordinator actor of [`super::Tcc`].
#[derive(Debug)]
pub struct TccCoordinator {
    config: Config,
    wiring: Wiring,
    // Durable, by the gateway's dense transaction ids.
    log: IdMap<GlobalTxId, Decision>,
    // Volatile.
    txs: IdMap<GlobalTxId, Tx>,
}

/// A transaction the coordinator is working on.
#[derive(Debug)]
enum Tx {
    /// Waiting for every try's answer; `None` until a step's arrives.
    Trying {
        keys: RequestKeys,
        votes: Vec<Option<bool>>,
        timeout: TimerId,
    },
    /// Forcing the confirm decision to the log; nothing is sent until it is durable.
    Forcing { keys: RequestKeys },
    /// The decision is out; re-sent until every step acks it.
    Finishing {
        keys: RequestKeys,
        confirm: bool,
        acked: Vec<bool>,
        retry: TimerId,
        /// Re-sends so far: each waits twice as long as the one before (capped), so re-sends
        /// that find the steps' queues full do not keep filling them.
        resends: u32,
    },
}

/// The counter of the coordinator's forced log writes.
pub(super) const FORCED_WRITES: &str = "tcc.coordinator_forced_writes";

const TAG_TRY_TIMEOUT: u8 = 0;
const TAG_RETRY: u8 = 1;
/// A re-send waits at most `decision_retry` × 2^6 (1.28 s at the default 20 ms).
const MAX_BACKOFF_DOUBLINGS: u32 = 6;
const TAG_LOGGED: u8 = 2;

impl TccCoordinator {
    /// A coordinator for the steps of `wiring.model`, with an empty log.
    pub fn new(config: Config, wiring: Wiring) -> Self {
        TccCoordinator {
            config,
            wiring,
            log: IdMap::new(),
            txs: IdMap::new(),
        }
    }

    /// The logged decision of `gtx`, if any.
    pub fn logged(&self, gtx: GlobalTxId) -> Option<Decision> {
        self.log.get(gtx).copied()
    }

    fn timer(gtx: GlobalTxId, tag: u8) -> Msg {
        Msg::Timer(TimerMsg::Strategy {
            gtx,
            step: 0,
            attempt: 0,
            tag,
        })
    }

    /// The local call that tries (`Reserve`), confirms or cancels (`Release`) one step.
    fn call(&self, gtx: GlobalTxId, step: u16, keys: RequestKeys, mode: CallMode) -> Msg {
        let kind = if mode == CallMode::Release {
            StepKind::Compensation
        } else {
            StepKind::Action
        };
        Msg::Local(LocalCall::protocol(
            gtx,
            step,
            kind,
            mode,
            keys,
            self.wiring.token,
        ))
    }

    fn decision_call(&self, gtx: GlobalTxId, step: u16, keys: RequestKeys, confirm: bool) -> Msg {
        let mode = if confirm {
            CallMode::Confirm
        } else {
            CallMode::Release
        };
        self.call(gtx, step, keys, mode)
    }

    // ----- try ----------------------------------------------------------------------------

    fn on_begin(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys) {
        match (self.txs.get(gtx), self.log.get(gtx)) {
            // A gateway retry: answer what is decided, or keep deciding.
            (Some(Tx::Finishing { confirm, .. }), _) => {
                return self.wiring.report_outcome(ctx, gtx, *confirm);
            }
            (Some(_), _) => return,
            (None, Some(decision)) => return self.wiring.report_outcome(ctx, gtx, decision.confirm),
            (None, None) => {}
        }
        ctx.count("tcc.begun", 1);
        for step in 0..self.wiring.step_count() {
            let call = self.call(gtx, step, keys, CallMode::Reserve);
            ctx.send(self.wiring.step_service(step), call);
        }
        ctx.point("tries_sent", Some(gtx.0));
        let timeout = ctx.set_timer(self.config.try_timeout, Self::timer(gtx, TAG_TRY_TIMEOUT));
        let votes = vec![None; usize::from(self.wiring.step_count())];
        self.txs.insert(gtx, Tx::Trying { keys, votes, timeout });
    }

    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        gtx: GlobalTxId,
        step: u16,
        kind: StepKind,
        result: LocalResult,
    ) {
        match self.txs.get_mut(gtx) {
            Some(Tx::Trying { votes, .. }) if kind == StepKind::Action => {
                let Some(vote) = votes.get_mut(usize::from(step)).filter(|v| v.is_none()) else {
                    return;
                };
                let yes = result == LocalResult::Reserved;
                *vote = Some(yes);
                if !yes {
                    self.decide(ctx, gtx, false);
                } else if votes.iter().all(|v| *v == Some(true)) {
                    self.decide(ctx, gtx, true);
                }
            }
            Some(Tx::Finishing { confirm, acked, .. }) => {
                // A confirm answers as the action, a cancel as the compensation; a try's late
                // answer is neither. Busy did nothing: the retry sends it again.
                let answers = (kind == StepKind::Action) == *confirm;
                if !answers || !matches!(result, LocalResult::Committed | LocalResult::Refused) {
                    return;
                }
                if result == LocalResult::Refused {
                    // A confirm that found nothing held: it cannot be carried out any more.
                    ctx.count("tcc.confirms_refused", 1);
                }
                if let Some(ack) = acked.get_mut(usize::from(step)) {
                    *ack = true;
                }
                if acked.iter().all(|a| *a) {
                    self.end(ctx, gtx);
                }
            }
            _ => {}
        }
    }

    fn on_try_timeout(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        if matches!(self.txs.get(gtx), Some(Tx::Trying { .. })) {
            ctx.count("tcc.try_timeouts", 1);
            self.decide(ctx, gtx, false);
        }
    }

    // ----- the decision -------------------------------------------------------------------

    /// Ends the try phase. A confirm is forced to the log before anything is sent, so a crash
    /// cannot forget it after some step applied it, and is re-sent until every step acks; a
    /// cancel is written lazily (a question about an unknown transaction is answered cancel
    /// anyway) and sent once.
    fn decide(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, confirm: bool) {
        let Some(Tx::Trying { keys, timeout, .. }) = self.txs.remove(gtx) else {
            unreachable!("only a trying transaction is decided")
        };
        ctx.cancel_timer(timeout);
        if confirm {
            ctx.set_timer(self.config.forced_write, Self::timer(gtx, TAG_LOGGED));
            self.txs.insert(gtx, Tx::Forcing { keys });
        } else {
            // Sent once and not waited for: a hold a lost cancel leaves behind asks when its
            // reservation times out, and is told cancel then. Re-sending until acked cost a
            // step cut off by a partition one message per retry period for as long as it
            // lasted.
            ctx.count("tcc.cancels", 1);
            self.log.insert(
                gtx,
                Decision {
                    confirm: false,
                    ended: true,
                },
            );
            for step in 0..self.wiring.step_count() {
                let call = self.decision_call(gtx, step, keys, false);
                ctx.send(self.wiring.step_service(step), call);
            }
            ctx.point("decision_sent", Some(gtx.0));
            self.wiring.report_outcome(ctx, gtx, false);
        }
    }

    fn on_logged(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        let Some(Tx::Forcing { keys }) = self.txs.remove(gtx) else {
            unreachable!("only a forcing transaction is logged")
        };
        ctx.count(FORCED_WRITES, 1);
        ctx.count("tcc.confirms", 1);
        self.log.insert(
            gtx,
            Decision {
                confirm: true,
                ended: false,
            },
        );
        ctx.point("confirm_logged", Some(gtx.0));
        self.send_out(ctx, gtx, keys, true);
    }

    /// Sends the decision to every step, answers the gateway, and waits for acks.
    fn send_out(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys, confirm: bool) {
        for step in 0..self.wiring.step_count() {
            let call = self.decision_call(gtx, step, keys, confirm);
            ctx.send(self.wiring.step_service(step), call);
        }
        ctx.point("decision_sent", Some(gtx.0));
        let retry = ctx.set_timer(self.config.decision_retry, Self::timer(gtx, TAG_RETRY));
        let acked = vec![false; usize::from(self.wiring.step_count())];
        self.txs.insert(
            gtx,
            Tx::Finishing {
                keys,
                confirm,
                acked,
                retry,
                resends: 0,
            },
        );
        self.wiring.report_outcome(ctx, gtx, confirm);
    }

    fn on_retry(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        let Some(Tx::Finishing {
            keys, confirm, acked, ..
        }) = self.txs.get(gtx)
        else {
            return;
        };
        let (keys, confirm) = (*keys, *confirm);
        let resends = match self.txs.get(gtx) {
            Some(Tx::Finishing { resends, .. }) => *resends + 1,
            _ => 1,
        };
        let pending: Vec<u16> = (0..self.wiring.step_count())
            .filter(|step| !acked[usize::from(*step)])
            .collect();
        for step in pending {
            ctx.count("tcc.decision_resends", 1);
            let call = self.decision_call(gtx, step, keys, confirm);
            ctx.send(self.wiring.step_service(step), call);
        }
        let backoff = self
            .config
            .decision_retry
            .as_us()
            .saturating_mul(1 << resends.min(MAX_BACKOFF_DOUBLINGS));
        let timer = ctx.set_timer(
            crate::sim::Duration::from_us(backoff),
            Self::timer(gtx, TAG_RETRY),
        );
        if let Some(Tx::Finishing {
            retry,
            resends: count,
            ..
        }) = self.txs.get_mut(gtx)
        {
            *retry = timer;
            *count = resends;
        }
    }

    /// Every step carried the decision out: write the end record and forget.
    fn end(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        let Some(Tx::Finishing { retry, .. }) = self.txs.remove(gtx) else {
            unreachable!("only a finishing transaction ends")
        };
        ctx.cancel_timer(retry);
        if let Some(decision) = self.log.get_mut(gtx) {
            decision.ended = true;
        }
    }

    // ----- a hold's reservation timeout ---------------------------------------------------

    /// A step's hold outlived its reservation timeout. Still trying: the transaction is
    /// cancelled, which is what the timeout means. Decided: the decision goes to that step
    /// again. Unknown (forgotten in a crash before any decision): cancel it, and remember so,
    /// so a late `Begin` cannot confirm it.
    fn on_expired(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, Expired { gtx, step }: Expired) {
        match self.txs.get(gtx) {
            Some(Tx::Trying { .. }) => {
                ctx.count("tcc.cancelled_by_expiry", 1);
                self.decide(ctx, gtx, false);
            }
            Some(Tx::Forcing { .. }) => {} // The confirm goes out once durable.
            Some(Tx::Finishing { keys, confirm, .. }) => {
                let call = self.decision_call(gtx, step, *keys, *confirm);
                ctx.send(src, call);
            }
            None => {
                let decision = self.log.get(gtx).copied().unwrap_or_else(|| {
                    ctx.count("tcc.presumed_cancels", 1);
                    let cancel = Decision {
                        confirm: false,
                        ended: false,
                    };
                    self.log.insert(gtx, cancel);
                    cancel
                });
                // The keys are not needed to end a hold: the service finds it by its id.
                let keys = RequestKeys {
                    key: 0,
                    other: 0,
                    tx: 0,
                };
                ctx.send(src, self.decision_call(gtx, step, keys, decision.confirm));
            }
        }
    }
}

impl Actor<Msg> for TccCoordinator {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, msg: Msg) {
        match msg {
            Msg::Begin { gtx, keys, token } if token == self.wiring.token => self.on_begin(ctx, gtx, keys),
            Msg::LocalReply {
                gtx,
                step,
                kind,
                result,
            } => self.on_reply(ctx, gtx, step, kind, result),
            Msg::Protocol(protocol) => match Expired::from_protocol(protocol) {
                Some(expired) => self.on_expired(ctx, src, expired),
                None => ctx.count("tcc.unexpected_messages", 1),
            },
            _ => ctx.count("tcc.unexpected_messages", 1),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Timer(TimerMsg::Strategy { gtx, tag, .. }) = msg else {
            unreachable!("the coordinator sets only strategy timers: {msg:?}")
        };
        match tag {
            TAG_TRY_TIMEOUT => self.on_try_timeout(ctx, gtx),
            TAG_RETRY => self.on_retry(ctx, gtx),
            TAG_LOGGED => self.on_logged(ctx, gtx),
            other => unreachable!("unknown TCC coordinator timer tag {other}"),
        }
    }

    fn retained_bytes(&self) -> usize {
        self.log.retained_bytes() + self.txs.retained_bytes()
    }

    fn on_crash(&mut self, _now: crate::sim::Instant) {
        // Timers die with the crash: a confirm still being forced is lost with them.
        self.txs.clear();
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let unfinished: Vec<(GlobalTxId, bool)> = self
            .log
            .iter()
            .filter(|(_, decision)| !decision.ended)
            .map(|(gtx, decision)| (gtx, decision.confirm))
            .collect();
        // The keys died with the crash; ending a hold does not need them.
        let keys = RequestKeys {
            key: 0,
            other: 0,
            tx: 0,
        };
        for (gtx, confirm) in unfinished {
            self.send_out(ctx, gtx, keys, confirm);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The coordinator's handlers called one at a time with a recording context: no world,
    //! no assembly.

    use std::sync::Arc;

    use super::*;
    use crate::sim::Instant;
    use crate::system::examples::bank_transfer;
    use crate::system::msg::{Token, TxOutcome};
    use crate::world::{Asked, Probe};

    const GATEWAY: ActorId = ActorId(1);
    const BANK_A: ActorId = ActorId(2);
    const BANK_B: ActorId = ActorId(3);
    const ME: ActorId = ActorId(4);
    const GTX: GlobalTxId = GlobalTxId(5);
    const KEYS: RequestKeys = RequestKeys {
        key: 1,
        other: 2,
        tx: 5,
    };

    fn coordinator() -> TccCoordinator {
        let wiring = Wiring {
            model: Arc::new(bank_transfer()),
            token: Token(7),
            client: ActorId(0),
            gateway: GATEWAY,
            services: vec![BANK_A, BANK_B],
            broker: None,
            extras: vec![ME],
        };
        TccCoordinator::new(Config::default(), wiring)
    }

    /// The modes of the local calls asked for, by addressee.
    fn calls(asked: &[Asked<Msg>]) -> Vec<(ActorId, CallMode)> {
        asked
            .iter()
            .filter_map(|a| match a {
                Asked::Send {
                    dst,
                    msg: Msg::Local(call),
                } => Some((*dst, call.mode)),
                _ => None,
            })
            .collect()
    }

    fn timers(asked: &[Asked<Msg>]) -> Vec<Msg> {
        asked
            .iter()
            .filter_map(|a| match a {
                Asked::Timer { msg, .. } => Some(*msg),
                Asked::Send { .. } => None,
            })
            .collect()
    }

    fn reply(gtx: GlobalTxId, step: u16, kind: StepKind, result: LocalResult) -> Msg {
        Msg::LocalReply {
            gtx,
            step,
            kind,
            result,
        }
    }

    /// The gateway's `Begin` of `GTX`, handled.
    fn begin(c: &mut TccCoordinator, probe: &mut Probe<Msg>) {
        let begin = Msg::Begin {
            gtx: GTX,
            keys: KEYS,
            token: Token(7),
        };
        c.on_message(&mut probe.ctx(ME), GATEWAY, begin);
    }

    /// Re-sends back off: a confirm nobody acks is sent again after 20, 40, 80 ms..., the
    /// wait capped at 64 × 20 ms.
    #[test]
    fn re_sent_decisions_wait_twice_as_long_each_time_up_to_a_cap() {
        let mut probe: Probe<Msg> = Probe::new(5, Instant::from_ms(1));
        let mut c = coordinator();
        begin(&mut c, &mut probe);
        for (service, step) in [(BANK_A, 0), (BANK_B, 1)] {
            c.on_message(
                &mut probe.ctx(ME),
                service,
                reply(GTX, step, StepKind::Action, LocalResult::Reserved),
            );
        }
        let asked = probe.take();
        let [forced] = timers(&asked)[..] else {
            panic!("{asked:?}")
        };
        c.on_timer(&mut probe.ctx(ME), forced);
        let delays = |asked: &[Asked<Msg>]| -> Vec<u64> {
            asked
                .iter()
                .filter_map(|a| match a {
                    Asked::Timer { after, .. } => Some(after.as_us() / 1_000),
                    _ => None,
                })
                .collect()
        };
        let mut waits = delays(&probe.take());
        for _ in 0..8 {
            let retry = Msg::Timer(crate::system::timer::TimerMsg::Strategy {
                gtx: GTX,
                step: 0,
                attempt: 0,
                tag: TAG_RETRY,
            });
            c.on_timer(&mut probe.ctx(ME), retry);
            let asked = probe.take();
            assert_eq!(calls(&asked).len(), 2, "both confirms again");
            waits.extend(delays(&asked));
        }
        assert_eq!(waits, [20, 40, 80, 160, 320, 640, 1280, 1280, 1280]);
    }

    #[test]
    fn every_step_reserved_leads_to_a_forced_confirm_then_confirms_and_the_outcome() {
        let mut probe: Probe<Msg> = Probe::new(5, Instant::from_ms(1));
        let mut c = coordinator();
        begin(&mut c, &mut probe);
        let asked = probe.take();
        assert_eq!(
            calls(&asked),
            [(BANK_A, CallMode::Reserve), (BANK_B, CallMode::Reserve)]
        );
        assert_eq!(timers(&asked).len(), 1, "the try timeout");

        c.on_message(
            &mut probe.ctx(ME),
            BANK_A,
            reply(GTX, 0, StepKind::Action, LocalResult::Reserved),
        );
        c.on_message(
            &mut probe.ctx(ME),
            BANK_B,
            reply(GTX, 1, StepKind::Action, LocalResult::Reserved),
        );
        let asked = probe.take();
        assert!(
            calls(&asked).is_empty(),
            "nothing is sent before the confirm is durable"
        );
        let [forced] = timers(&asked)[..] else {
            panic!("one timer, the forced write: {asked:?}")
        };
        assert!(c.logged(GTX).is_none());

        c.on_timer(&mut probe.ctx(ME), forced);
        let asked = probe.take();
        assert_eq!(
            calls(&asked),
            [(BANK_A, CallMode::Confirm), (BANK_B, CallMode::Confirm)]
        );
        let outcome = Msg::Outcome {
            gtx: GTX,
            outcome: TxOutcome::Committed,
        };
        assert!(asked.contains(&Asked::Send {
            dst: GATEWAY,
            msg: outcome
        }));
        assert_eq!(c.logged(GTX).map(|d| (d.confirm, d.ended)), Some((true, false)));

        c.on_message(
            &mut probe.ctx(ME),
            BANK_A,
            reply(GTX, 0, StepKind::Action, LocalResult::Committed),
        );
        c.on_message(
            &mut probe.ctx(ME),
            BANK_B,
            reply(GTX, 1, StepKind::Action, LocalResult::Committed),
        );
        assert_eq!(c.logged(GTX).map(|d| d.ended), Some(true));
        assert_eq!(probe.counters().get(FORCED_WRITES), Some(&1));
    }

    #[test]
    fn a_refused_try_cancels_every_step_at_once_without_a_forced_write() {
        let mut probe: Probe<Msg> = Probe::new(5, Instant::ZERO);
        let mut c = coordinator();
        begin(&mut c, &mut probe);
        probe.take();
        c.on_message(
            &mut probe.ctx(ME),
            BANK_A,
            reply(GTX, 0, StepKind::Action, LocalResult::Refused),
        );
        let asked = probe.take();
        assert_eq!(
            calls(&asked),
            [(BANK_A, CallMode::Release), (BANK_B, CallMode::Release)]
        );
        assert!(probe.counters().get(FORCED_WRITES).is_none());
        assert_eq!(c.logged(GTX).map(|d| d.confirm), Some(false));
    }

    #[test]
    fn an_expired_hold_of_a_transaction_it_never_heard_of_is_released() {
        let mut probe: Probe<Msg> = Probe::new(5, Instant::ZERO);
        let mut c = coordinator();
        let expired = Expired { gtx: GTX, step: 1 }.into_msg();
        c.on_message(&mut probe.ctx(ME), BANK_B, expired);
        assert_eq!(calls(&probe.take()), [(BANK_B, CallMode::Release)]);
        // A late `Begin` gets the cancel, not a second round.
        begin(&mut c, &mut probe);
        let outcome = Msg::Outcome {
            gtx: GTX,
            outcome: TxOutcome::Aborted,
        };
        assert_eq!(
            probe.take(),
            [Asked::Send {
                dst: GATEWAY,
                msg: outcome
            }]
        );
    }
}

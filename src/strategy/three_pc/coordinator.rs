//! The 3PC coordinator: collects votes, sends `PreCommit` (an accept of commit under ballot
//! 0) until every step accepted, forces its commit record, and sends `DoCommit` until every
//! step acks. If a backup took over meanwhile (a step refuses ballot 0), it stops and learns
//! the outcome instead.
//!
//! Durable across a crash: the log (one [`LogRecord`] per decided transaction) and a lazy
//! note of each transaction begun and not yet decided. Volatile:
//! every transaction in progress and every timer. A transaction forgotten in a crash is ended
//! by the participants' termination protocol; the coordinator learns the outcome when a
//! backup tells it or when the gateway retries and a step answers with its decision.

use super::Config;
use super::msg::{Ballot, Known, ThreePcMsg};
use crate::sim::{ActorId, IdMap};
use crate::strategy::Wiring;
use crate::system::model::RequestKeys;
use crate::system::msg::{CallMode, GlobalTxId, LocalCall, LocalResult, Msg, StepKind};
use crate::system::timer::TimerMsg;
use crate::world::{Actor, Ctx, TimerId};

/// One transaction's entry in the coordinator's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The decision.
    pub commit: bool,
    /// Every step acked it, or there is nothing left to send (an abort, an outcome learned).
    pub ended: bool,
}

/// The coordinator actor of [`super::ThreePc`].
#[derive(Debug)]
pub struct ThreePcCoordinator {
    config: Config,
    wiring: Wiring,
    // Durable.
    log: IdMap<GlobalTxId, LogRecord>,
    /// Transactions begun and not yet decided, noted lazily (nothing waits for it): what
    /// tells a second round after a crash from a first one.
    begun: IdMap<GlobalTxId, ()>,
    // Volatile.
    txs: IdMap<GlobalTxId, Tx>,
}

#[derive(Debug)]
enum Tx {
    /// Waiting for votes.
    Collecting {
        votes: Vec<Option<bool>>,
        timeout: TimerId,
        /// A second round: the coordinator began this transaction before and forgot it in a
        /// crash, so a backup may have decided it meanwhile.
        again: bool,
    },
    /// Every step voted yes: `PreCommit` until every step accepted.
    PreCommitting { accepted: Vec<bool>, retry: TimerId },
    /// Forcing the commit record.
    Forcing,
    /// `DoCommit` sent; re-sent until every step acks.
    Finishing { acked: Vec<bool>, retry: TimerId },
    /// Votes did not all come, or a backup took over: ask every step until one has decided,
    /// or until every step has said it accepted no commit (then abort). `None` until a step
    /// answers (a step that answers a backup's higher ballot instead stays `None`).
    Learning {
        retry: TimerId,
        answers: Vec<Option<Known>>,
    },
}

/// The counter of the coordinator's forced log writes.
pub(super) const FORCED_WRITES: &str = "three_pc.coordinator_forced_writes";

const TAG_VOTE_TIMEOUT: u8 = 0;
const TAG_RETRY: u8 = 1;
const TAG_LOGGED: u8 = 2;

impl ThreePcCoordinator {
    /// A coordinator for the steps of `wiring.model`, with an empty log.
    pub fn new(config: Config, wiring: Wiring) -> Self {
        ThreePcCoordinator {
            config,
            wiring,
            log: IdMap::new(),
            begun: IdMap::new(),
            txs: IdMap::new(),
        }
    }

    fn timer(gtx: GlobalTxId, tag: u8) -> Msg {
        Msg::Timer(TimerMsg::Strategy {
            gtx,
            step: 0,
            attempt: 0,
            tag,
        })
    }

    fn to_step(&self, ctx: &mut Ctx<'_, Msg>, step: u16, msg: ThreePcMsg) {
        ctx.send(self.wiring.step_service(step), msg.into_msg());
    }

    fn retry_timer(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) -> TimerId {
        ctx.set_timer(self.config.decision_retry, Self::timer(gtx, TAG_RETRY))
    }

    // ----- phase one: CanCommit -------------------------------------------------------------

    fn on_begin(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys) {
        if let Some(tx) = self.txs.get(gtx) {
            if matches!(tx, Tx::Finishing { .. }) {
                self.wiring.report_outcome(ctx, gtx, true);
            }
            return;
        }
        if let Some(record) = self.log.get(gtx) {
            let commit = record.commit;
            return self.wiring.report_outcome(ctx, gtx, commit);
        }
        ctx.count("three_pc.begun", 1);
        for step in 0..self.wiring.step_count() {
            let call = LocalCall::protocol(
                gtx,
                step,
                StepKind::Action,
                CallMode::Prepare,
                keys,
                self.wiring.token,
            );
            ctx.send(self.wiring.step_service(step), Msg::Local(call));
        }
        ctx.point("prepare_sent", Some(gtx.0));
        let timeout = ctx.set_timer(self.config.vote_timeout, Self::timer(gtx, TAG_VOTE_TIMEOUT));
        let votes = vec![None; usize::from(self.wiring.step_count())];
        let again = self.begun.insert(gtx, ()).is_some();
        self.txs.insert(
            gtx,
            Tx::Collecting {
                votes,
                timeout,
                again,
            },
        );
    }

    fn on_vote(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16, result: LocalResult) {
        let Some(Tx::Collecting {
            votes,
            timeout,
            again,
        }) = self.txs.get_mut(gtx)
        else {
            return;
        };
        let Some(vote) = votes.get_mut(usize::from(step)).filter(|v| v.is_none()) else {
            return;
        };
        let (timeout, again) = (*timeout, *again);
        match result {
            LocalResult::Prepared => {
                *vote = Some(true);
                if votes.iter().all(|v| *v == Some(true)) {
                    ctx.cancel_timer(timeout);
                    self.pre_commit(ctx, gtx);
                }
            }
            // The step committed already: a second round of a transaction this coordinator
            // forgot in a crash, which a backup committed meanwhile.
            LocalResult::Committed => self.on_outcome(ctx, gtx, true),
            // Refused for a business reason, or fenced by an abort: its action never applied,
            // so the transaction never committed, in this round or an earlier one.
            LocalResult::Refused => {
                *vote = Some(false);
                ctx.cancel_timer(timeout);
                let votes = std::mem::take(votes);
                self.abort(ctx, gtx, &votes);
            }
            // Busy: in a first round nobody can have committed, so abort at once; in a second
            // it says nothing of what a backup decided: wait for the vote timeout.
            LocalResult::Busy if !again => {
                *vote = Some(false);
                ctx.cancel_timer(timeout);
                let votes = std::mem::take(votes);
                self.abort(ctx, gtx, &votes);
            }
            LocalResult::Busy | LocalResult::Unauthorized | LocalResult::Reserved => {}
        }
    }

    /// Not every step voted in time. In a first round nobody can have accepted a commit, so
    /// the coordinator aborts. In a second round (it began the transaction before a crash made
    /// it forget it) a backup may have committed meanwhile, and a step that missed that
    /// decision would abort alone: so it asks every step, and aborts only when each has said
    /// it accepted no commit; a backup's decision ends the wait too.
    fn on_vote_timeout(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        let Some(Tx::Collecting { votes, again, .. }) = self.txs.get_mut(gtx) else {
            return;
        };
        ctx.count("three_pc.vote_timeouts", 1);
        if *again {
            self.learn(ctx, gtx);
        } else {
            let votes = std::mem::take(votes);
            self.abort(ctx, gtx, &votes);
        }
    }

    /// Starts asking every step what it knows of `gtx`.
    fn learn(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        for step in 0..self.wiring.step_count() {
            let ballot = Ballot::COORDINATOR;
            self.to_step(ctx, step, ThreePcMsg::StateQuery { gtx, step, ballot });
        }
        let retry = self.retry_timer(ctx, gtx);
        let answers = vec![None; usize::from(self.wiring.step_count())];
        self.txs.insert(gtx, Tx::Learning { retry, answers });
    }

    /// A step's answer while learning: a decision ends it; once every step has answered and
    /// none accepted a commit, nobody can commit any more, and the coordinator aborts.
    fn on_state(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16, known: Known) {
        if let Known::Decided { commit } = known {
            return self.on_outcome(ctx, gtx, commit);
        }
        let Some(Tx::Learning { retry, answers }) = self.txs.get_mut(gtx) else {
            return;
        };
        if let Some(answer) = answers.get_mut(usize::from(step)) {
            *answer = Some(known);
        }
        let no_commit = answers
            .iter()
            .all(|a| matches!(a, Some(Known::Nothing | Known::Accepted { commit: false, .. })));
        if no_commit {
            ctx.cancel_timer(*retry);
            let everyone = vec![None; answers.len()];
            self.abort(ctx, gtx, &everyone);
        }
    }

    /// Presumed abort before any `PreCommit`: nobody can have accepted a commit, so every
    /// backup would abort too. Sent once; a step that misses it ends by its own timeout.
    fn abort(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, votes: &[Option<bool>]) {
        self.txs.remove(gtx);
        self.begun.remove(gtx);
        ctx.count("three_pc.aborts", 1);
        for step in 0..self.wiring.step_count() {
            if votes.get(usize::from(step)).copied().flatten() != Some(false) {
                let decide = ThreePcMsg::Decide {
                    gtx,
                    step,
                    commit: false,
                    token: self.wiring.token,
                };
                self.to_step(ctx, step, decide);
            }
        }
        self.log.insert(
            gtx,
            LogRecord {
                commit: false,
                ended: true,
            },
        );
        self.wiring.report_outcome(ctx, gtx, false);
    }

    // ----- phase two: PreCommit -------------------------------------------------------------

    fn pre_commit(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        for step in 0..self.wiring.step_count() {
            self.send_pre_commit(ctx, gtx, step);
        }
        ctx.point("pre_commit_sent", Some(gtx.0));
        let retry = self.retry_timer(ctx, gtx);
        let accepted = vec![false; usize::from(self.wiring.step_count())];
        self.txs.insert(gtx, Tx::PreCommitting { accepted, retry });
    }

    fn send_pre_commit(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let accept = ThreePcMsg::Accept {
            gtx,
            step,
            ballot: Ballot::COORDINATOR,
            commit: true,
            token: self.wiring.token,
        };
        self.to_step(ctx, step, accept);
    }

    fn on_accepted(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let Some(Tx::PreCommitting { accepted, retry }) = self.txs.get_mut(gtx) else {
            return;
        };
        if let Some(slot) = accepted.get_mut(usize::from(step)) {
            *slot = true;
        }
        if accepted.iter().all(|a| *a) {
            ctx.cancel_timer(*retry);
            ctx.set_timer(self.config.forced_write, Self::timer(gtx, TAG_LOGGED));
            self.txs.insert(gtx, Tx::Forcing);
        }
    }

    // ----- phase three: DoCommit ------------------------------------------------------------

    fn on_logged(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        if !matches!(self.txs.get(gtx), Some(Tx::Forcing)) {
            return;
        }
        self.begun.remove(gtx);
        ctx.count(FORCED_WRITES, 1);
        ctx.count("three_pc.commits", 1);
        self.log.insert(
            gtx,
            LogRecord {
                commit: true,
                ended: false,
            },
        );
        ctx.point("commit_logged", Some(gtx.0));
        self.do_commit(ctx, gtx);
    }

    fn do_commit(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        for step in 0..self.wiring.step_count() {
            self.send_do_commit(ctx, gtx, step);
        }
        let retry = self.retry_timer(ctx, gtx);
        let acked = vec![false; usize::from(self.wiring.step_count())];
        self.txs.insert(gtx, Tx::Finishing { acked, retry });
        self.wiring.report_outcome(ctx, gtx, true);
    }

    fn send_do_commit(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let decide = ThreePcMsg::Decide {
            gtx,
            step,
            commit: true,
            token: self.wiring.token,
        };
        self.to_step(ctx, step, decide);
    }

    fn on_ack(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let Some(Tx::Finishing { acked, retry }) = self.txs.get_mut(gtx) else {
            return;
        };
        if let Some(slot) = acked.get_mut(usize::from(step)) {
            *slot = true;
        }
        if acked.iter().all(|a| *a) {
            ctx.cancel_timer(*retry);
            self.txs.remove(gtx);
            if let Some(record) = self.log.get_mut(gtx) {
                record.ended = true;
            }
        }
    }

    fn on_retry(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        let pending: Vec<u16> = match self.txs.get(gtx) {
            Some(Tx::PreCommitting { accepted: done, .. } | Tx::Finishing { acked: done, .. }) => {
                (0..self.wiring.step_count())
                    .filter(|s| !done[usize::from(*s)])
                    .collect()
            }
            Some(Tx::Learning { answers, .. }) => (0..self.wiring.step_count())
                .filter(|s| answers[usize::from(*s)].is_none())
                .collect(),
            _ => return,
        };
        for step in pending {
            ctx.count("three_pc.coordinator_resends", 1);
            match self.txs.get(gtx) {
                Some(Tx::PreCommitting { .. }) => self.send_pre_commit(ctx, gtx, step),
                Some(Tx::Finishing { .. }) => self.send_do_commit(ctx, gtx, step),
                _ => {
                    let ballot = Ballot::COORDINATOR;
                    self.to_step(ctx, step, ThreePcMsg::StateQuery { gtx, step, ballot });
                }
            }
        }
        let timer = self.retry_timer(ctx, gtx);
        if let Some(
            Tx::PreCommitting { retry, .. } | Tx::Finishing { retry, .. } | Tx::Learning { retry, .. },
        ) = self.txs.get_mut(gtx)
        {
            *retry = timer;
        }
    }

    // ----- a backup took over -----------------------------------------------------------------

    /// A step answered a higher ballot than ours: a backup is ending the transaction. Stop
    /// sending `PreCommit` and ask until a step has decided.
    fn on_superseded(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        let Some(Tx::PreCommitting { retry, .. }) = self.txs.get(gtx) else {
            return;
        };
        ctx.cancel_timer(*retry);
        ctx.count("three_pc.coordinator_superseded", 1);
        self.learn(ctx, gtx);
    }

    /// A step, or a backup, says how the transaction ended.
    fn on_outcome(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, commit: bool) {
        match self.txs.get(gtx) {
            Some(Tx::Finishing { .. } | Tx::Forcing) => return,
            Some(Tx::Collecting { timeout: timer, .. })
            | Some(Tx::PreCommitting { retry: timer, .. })
            | Some(Tx::Learning { retry: timer, .. }) => {
                ctx.cancel_timer(*timer);
                self.txs.remove(gtx);
                self.wiring.report_outcome(ctx, gtx, commit);
            }
            None => {}
        }
        self.begun.remove(gtx);
        if self.log.get(gtx).is_none() {
            ctx.count("three_pc.outcomes_learned", 1);
            self.log.insert(gtx, LogRecord { commit, ended: true });
        }
    }
}

impl Actor<Msg> for ThreePcCoordinator {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        match msg {
            Msg::Begin { gtx, keys, token } if token == self.wiring.token => self.on_begin(ctx, gtx, keys),
            Msg::LocalReply {
                gtx,
                step,
                kind: StepKind::Action,
                result,
            } => self.on_vote(ctx, gtx, step, result),
            Msg::Protocol(protocol) => match ThreePcMsg::from_protocol(protocol) {
                Some(ThreePcMsg::Accepted {
                    gtx,
                    step,
                    ballot: Ballot::COORDINATOR,
                }) => self.on_accepted(ctx, gtx, step),
                Some(ThreePcMsg::Nack {
                    gtx,
                    ballot: Ballot::COORDINATOR,
                    ..
                }) => self.on_superseded(ctx, gtx),
                Some(ThreePcMsg::State { gtx, step, known, .. }) => self.on_state(ctx, gtx, step, known),
                Some(ThreePcMsg::Decide { gtx, commit, .. }) => self.on_outcome(ctx, gtx, commit),
                Some(ThreePcMsg::DecideAck { gtx, step }) => self.on_ack(ctx, gtx, step),
                _ => {}
            },
            _ => ctx.count("three_pc.unexpected_messages", 1),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Timer(TimerMsg::Strategy { gtx, tag, .. }) = msg else {
            unreachable!("the coordinator sets only strategy timers: {msg:?}")
        };
        match tag {
            TAG_VOTE_TIMEOUT => self.on_vote_timeout(ctx, gtx),
            TAG_RETRY => self.on_retry(ctx, gtx),
            TAG_LOGGED => self.on_logged(ctx, gtx),
            other => unreachable!("unknown 3PC coordinator timer tag {other}"),
        }
    }

    fn retained_bytes(&self) -> usize {
        self.log.retained_bytes() + self.begun.retained_bytes() + self.txs.retained_bytes()
    }

    fn on_crash(&mut self, _now: crate::sim::Instant) {
        self.txs.clear();
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let unfinished: Vec<GlobalTxId> = self
            .log
            .iter()
            .filter(|(_, record)| record.commit && !record.ended)
            .map(|(gtx, _)| gtx)
            .collect();
        for gtx in unfinished {
            self.do_commit(ctx, gtx);
        }
    }
}

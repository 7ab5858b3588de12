//! The 2PC coordinator actor: collects votes, forces the decision to its log, sends it until
//! every participant acks, and answers in-doubt participants.
//!
//! Durable across a crash: the log (one [`LogRecord`] per transaction) and the counters.
//! Volatile: transactions still collecting votes, forcing a record or waiting for acks, and
//! every timer. Recovery rebuilds the waiting-for-acks state from the log; a transaction with
//! no logged decision is presumed aborted.

use super::Config;
use crate::sim::{ActorId, IdMap};
use crate::strategy::Wiring;
use crate::system::model::RequestKeys;
use crate::system::msg::{CallMode, GlobalTxId, LocalCall, LocalResult, Msg, StepKind};
use crate::system::timer::TimerMsg;

use super::msg::TwoPcMsg;
use crate::world::{Actor, Ctx, TimerId};

/// One transaction's entry in the coordinator's durable log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The decision.
    pub commit: bool,
    /// Whether it was forced (a decision participants may act on before acking) or written
    /// lazily (a presumed abort).
    pub forced: bool,
    /// Whether every participant acked (the end record); a recovered coordinator re-sends
    /// the decisions of logged transactions that have not ended.
    pub ended: bool,
}

/// What the coordinator did, for tests and reports; survives crashes (it describes the run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoordinatorStats {
    /// Transactions begun (a gateway retry of a known one is not counted).
    pub begun: u64,
    /// Commit decisions.
    pub commits: u64,
    /// Abort decisions, presumed ones included.
    pub aborts: u64,
    /// Forced log writes completed (decision records).
    pub forced_writes: u64,
    /// Lazy log writes (end records and presumed-abort notes).
    pub lazy_writes: u64,
    /// Transactions aborted because a vote did not arrive in time.
    pub vote_timeouts: u64,
    /// `Decide` messages re-sent to participants that had not acked.
    pub decision_resends: u64,
    /// Questions from in-doubt participants answered with a decision.
    pub queries_answered: u64,
    /// Questions ignored because the transaction was still undecided.
    pub queries_deferred: u64,
    /// Questions about unknown transactions, answered abort.
    pub presumed_aborts: u64,
    /// Recoveries after a crash.
    pub recoveries: u64,
}

/// The coordinator actor of [`super::TwoPc`].
#[derive(Debug)]
pub struct Coordinator {
    config: Config,
    wiring: Wiring,
    // Durable. Both maps are keyed by the gateway's dense transaction ids, so they are
    // windows of slots ([`IdMap`]).
    log: IdMap<GlobalTxId, LogRecord>,
    stats: CoordinatorStats,
    // Volatile.
    txs: IdMap<GlobalTxId, Tx>,
}

/// A transaction the coordinator is working on.
#[derive(Debug)]
enum Tx {
    /// Waiting for votes; `None` until a step's vote arrives.
    Collecting {
        votes: Vec<Option<bool>>,
        timeout: TimerId,
    },
    /// Forcing the decision to the log; nothing is sent until it is durable.
    Forcing { commit: bool, votes: Vec<Option<bool>> },
    /// The decision is out; re-sent until every participant acks. `logged` is false only
    /// for the broken twin, whose record is still being written.
    Finishing {
        commit: bool,
        acked: Vec<bool>,
        retry: TimerId,
        logged: bool,
    },
}

/// The counter of the coordinator's forced log writes.
pub(super) const FORCED_WRITES: &str = "two_pc.coordinator_forced_writes";

/// Timer tags, in `TimerMsg::Strategy`.
const TAG_VOTE_TIMEOUT: u8 = 0;
const TAG_RETRY: u8 = 1;
/// The forced write of a decision completed; the decision is in `attempt` (1: commit).
const TAG_LOGGED: u8 = 2;

impl Coordinator {
    /// A coordinator for the steps of `wiring.model`, with an empty log.
    pub fn new(config: Config, wiring: Wiring) -> Self {
        Coordinator {
            config,
            wiring,
            log: IdMap::new(),
            stats: CoordinatorStats::default(),
            txs: IdMap::new(),
        }
    }

    /// What it did so far.
    pub fn stats(&self) -> &CoordinatorStats {
        &self.stats
    }

    /// The log record of `gtx`, if any: what a recovered coordinator would know about it.
    pub fn logged(&self, gtx: GlobalTxId) -> Option<LogRecord> {
        self.log.get(gtx).copied()
    }

    /// Transactions it is working on (collecting, forcing or waiting for acks).
    pub fn active_count(&self) -> usize {
        self.txs.len()
    }

    fn timer(gtx: GlobalTxId, tag: u8, attempt: u16) -> Msg {
        Msg::Timer(TimerMsg::Strategy {
            gtx,
            step: 0,
            attempt,
            tag,
        })
    }

    // ----- phase one: votes ----------------------------------------------------------------

    fn on_begin(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys) {
        if let Some(tx) = self.txs.get(gtx) {
            // A gateway retry: it missed the outcome, or we are still deciding.
            if let Tx::Finishing { commit, .. } = *tx {
                self.wiring.report_outcome(ctx, gtx, commit);
            }
            return;
        }
        if let Some(record) = self.log.get(gtx) {
            let commit = record.commit;
            self.wiring.report_outcome(ctx, gtx, commit);
            return;
        }
        self.stats.begun += 1;
        ctx.count("two_pc.begun", 1);
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
        let timeout = ctx.set_timer(self.config.vote_timeout, Self::timer(gtx, TAG_VOTE_TIMEOUT, 0));
        let votes = vec![None; usize::from(self.wiring.step_count())];
        self.txs.insert(gtx, Tx::Collecting { votes, timeout });
    }

    fn on_vote(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16, result: LocalResult) {
        let Some(Tx::Collecting { votes, .. }) = self.txs.get_mut(gtx) else {
            return; // Late or duplicate: the transaction is decided, or unknown.
        };
        let Some(vote) = votes.get_mut(usize::from(step)) else {
            return;
        };
        if vote.is_some() {
            return;
        }
        let yes = result == LocalResult::Prepared;
        *vote = Some(yes);
        if !yes {
            self.decide(ctx, gtx, false);
        } else if votes.iter().all(|v| *v == Some(true)) {
            self.decide(ctx, gtx, true);
        }
    }

    fn on_vote_timeout(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        if matches!(self.txs.get(gtx), Some(Tx::Collecting { .. })) {
            self.stats.vote_timeouts += 1;
            ctx.count("two_pc.vote_timeouts", 1);
            self.decide(ctx, gtx, false);
        }
    }

    // ----- the decision --------------------------------------------------------------------

    /// Ends phase one: a presumed abort is sent at once and forgotten; any other decision is
    /// forced to the log first (or, for the broken twin, sent first and logged later).
    fn decide(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, commit: bool) {
        let Some(Tx::Collecting { votes, timeout }) = self.txs.remove(gtx) else {
            unreachable!("only a collecting transaction is decided")
        };
        ctx.cancel_timer(timeout);
        ctx.point("votes_collected", Some(gtx.0));
        if commit {
            self.stats.commits += 1;
        } else {
            self.stats.aborts += 1;
        }
        if !commit && self.config.presumed_abort {
            // Participants that voted no have nothing prepared; the others may have.
            for step in 0..self.wiring.step_count() {
                if votes[usize::from(step)] != Some(false) {
                    self.send_decision(ctx, gtx, step, false);
                }
            }
            ctx.point("decision_sent", Some(gtx.0));
            self.write_lazy(ctx, gtx, false);
            self.wiring.report_outcome(ctx, gtx, false);
            return;
        }
        let tag = Self::timer(gtx, TAG_LOGGED, u16::from(commit));
        ctx.set_timer(self.config.forced_write, tag);
        if self.config.log_before_send {
            self.txs.insert(gtx, Tx::Forcing { commit, votes });
        } else {
            self.send_out(ctx, gtx, commit, &votes, false);
        }
    }

    /// The forced write of `gtx`'s decision completed: it is durable now.
    fn on_logged(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, commit: bool) {
        self.stats.forced_writes += 1;
        ctx.count(FORCED_WRITES, 1);
        let record = LogRecord {
            commit,
            forced: true,
            ended: false,
        };
        self.log.insert(gtx, record);
        ctx.point("decision_logged", Some(gtx.0));
        match self.txs.remove(gtx) {
            Some(Tx::Forcing { commit, votes }) => self.send_out(ctx, gtx, commit, &votes, true),
            Some(Tx::Finishing {
                commit, acked, retry, ..
            }) => {
                // The broken twin: the decision was out before its record.
                let all_acked = acked.iter().all(|a| *a);
                let tx = Tx::Finishing {
                    commit,
                    acked,
                    retry,
                    logged: true,
                };
                self.txs.insert(gtx, tx);
                if all_acked {
                    self.end(ctx, gtx);
                }
            }
            other => unreachable!("a decision being logged is forcing or finishing, not {other:?}"),
        }
    }

    /// Sends the decision to every participant that may have prepared, reports the outcome,
    /// and waits for acks.
    fn send_out(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        gtx: GlobalTxId,
        commit: bool,
        votes: &[Option<bool>],
        logged: bool,
    ) {
        // A participant that voted no has nothing prepared and needs no decision.
        let acked: Vec<bool> = votes.iter().map(|v| *v == Some(false)).collect();
        for step in 0..self.wiring.step_count() {
            if !acked[usize::from(step)] {
                self.send_decision(ctx, gtx, step, commit);
            }
        }
        ctx.point("decision_sent", Some(gtx.0));
        let retry = ctx.set_timer(self.config.decision_retry, Self::timer(gtx, TAG_RETRY, 0));
        self.txs.insert(
            gtx,
            Tx::Finishing {
                commit,
                acked,
                retry,
                logged,
            },
        );
        self.wiring.report_outcome(ctx, gtx, commit);
    }

    fn send_decision(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16, commit: bool) {
        let decide = TwoPcMsg::Decide {
            gtx,
            step,
            commit,
            token: self.wiring.token,
        };
        ctx.send(self.wiring.step_service(step), decide.into_msg());
    }

    /// A record nobody waits for: an end record, or a presumed abort.
    fn write_lazy(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, commit: bool) {
        self.stats.lazy_writes += 1;
        ctx.count("two_pc.coordinator_lazy_writes", 1);
        match self.log.get_mut(gtx) {
            Some(record) => record.ended = true,
            None => {
                let record = LogRecord {
                    commit,
                    forced: false,
                    ended: true,
                };
                self.log.insert(gtx, record);
            }
        }
    }

    // ----- phase two: acks -----------------------------------------------------------------

    fn on_ack(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let Some(Tx::Finishing { acked, logged, .. }) = self.txs.get_mut(gtx) else {
            return; // A presumed abort's ack, or a duplicate after the end.
        };
        if let Some(ack) = acked.get_mut(usize::from(step)) {
            *ack = true;
        }
        if *logged && acked.iter().all(|a| *a) {
            self.end(ctx, gtx);
        }
    }

    fn on_retry(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, attempt: u16) {
        let Some(Tx::Finishing { commit, acked, .. }) = self.txs.get(gtx) else {
            return;
        };
        let (commit, pending): (bool, Vec<u16>) = (
            *commit,
            (0..self.wiring.step_count())
                .filter(|step| !acked[usize::from(*step)])
                .collect(),
        );
        if pending.is_empty() {
            return; // The twin, all acked, waiting for its own record.
        }
        for step in pending {
            self.stats.decision_resends += 1;
            ctx.count("two_pc.decision_resends", 1);
            self.send_decision(ctx, gtx, step, commit);
        }
        let next = attempt.saturating_add(1);
        let timer = ctx.set_timer(self.config.decision_retry, Self::timer(gtx, TAG_RETRY, next));
        if let Some(Tx::Finishing { retry, .. }) = self.txs.get_mut(gtx) {
            *retry = timer;
        }
    }

    /// Every participant knows the decision: write the end record and forget.
    fn end(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId) {
        let Some(Tx::Finishing { commit, retry, .. }) = self.txs.remove(gtx) else {
            unreachable!("only a finishing transaction ends")
        };
        ctx.cancel_timer(retry);
        self.write_lazy(ctx, gtx, commit);
    }

    // ----- termination: in-doubt participants ask ------------------------------------------

    fn on_query(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, gtx: GlobalTxId, step: u16) {
        let decision = match self.txs.get(gtx) {
            Some(Tx::Collecting { .. } | Tx::Forcing { .. }) => {
                // Undecided, or not yet durable: answering now could contradict a crash.
                self.stats.queries_deferred += 1;
                return;
            }
            Some(Tx::Finishing { commit, .. }) => *commit,
            None => match self.log.get(gtx) {
                Some(record) => record.commit,
                None => {
                    // Never heard of it, or forgot it in a crash before deciding: abort,
                    // and remember having said so, so a late `Begin` cannot commit it.
                    self.stats.presumed_aborts += 1;
                    ctx.count("two_pc.presumed_aborts", 1);
                    self.write_lazy(ctx, gtx, false);
                    false
                }
            },
        };
        self.stats.queries_answered += 1;
        let decide = TwoPcMsg::Decide {
            gtx,
            step,
            commit: decision,
            token: self.wiring.token,
        };
        ctx.send(src, decide.into_msg());
    }
}

impl Actor<Msg> for Coordinator {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, msg: Msg) {
        match msg {
            Msg::Begin { gtx, keys, token } if token == self.wiring.token => self.on_begin(ctx, gtx, keys),
            Msg::LocalReply {
                gtx,
                step,
                kind: StepKind::Action,
                result,
            } => self.on_vote(ctx, gtx, step, result),
            Msg::Protocol(protocol) => match TwoPcMsg::from_protocol(protocol) {
                Some(TwoPcMsg::DecideAck { gtx, step }) => self.on_ack(ctx, gtx, step),
                Some(TwoPcMsg::Query { gtx, step }) => self.on_query(ctx, src, gtx, step),
                _ => ctx.count("two_pc.unexpected_messages", 1),
            },
            _ => ctx.count("two_pc.unexpected_messages", 1),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Timer(TimerMsg::Strategy {
            gtx, attempt, tag, ..
        }) = msg
        else {
            unreachable!("the coordinator sets only strategy timers: {msg:?}")
        };
        match tag {
            TAG_VOTE_TIMEOUT => self.on_vote_timeout(ctx, gtx),
            TAG_RETRY => self.on_retry(ctx, gtx, attempt),
            TAG_LOGGED => self.on_logged(ctx, gtx, attempt == 1),
            other => unreachable!("unknown coordinator timer tag {other}"),
        }
    }

    fn retained_bytes(&self) -> usize {
        self.log.retained_bytes() + self.txs.retained_bytes()
    }

    fn on_crash(&mut self, _now: crate::sim::Instant) {
        // Timers die with the crash: a forced write still in progress is lost with them.
        self.txs.clear();
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.stats.recoveries += 1;
        let unfinished: Vec<(GlobalTxId, bool)> = self
            .log
            .iter()
            .filter(|(_, record)| !record.ended)
            .map(|(gtx, record)| (gtx, record.commit))
            .collect();
        // Nobody's vote is known any more: every participant gets the decision again.
        let votes = vec![None; usize::from(self.wiring.step_count())];
        for (gtx, commit) in unfinished {
            self.send_out(ctx, gtx, commit, &votes, true);
        }
    }
}

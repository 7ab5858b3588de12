//! The participant half of three-phase commit, inside each service: it accepts `PreCommit`s,
//! applies decisions, answers other participants' questions, and, when no decision comes in
//! time, takes over as a backup coordinator (the termination protocol, `backup.rs`).
//!
//! The prepare itself is the service's own primitive, as in 2PC. What this half keeps per
//! (transaction, step) is durable: the highest ballot it answered, the decision it accepted
//! and under which ballot, and the decision it applied. See the module documentation of
//! `three_pc` for the state table.

use std::collections::{BTreeMap, BTreeSet};

use crate::sim::{ActorId, Duration};
use crate::system::msg::{GlobalTxId, ProtocolMsg, Token};
use crate::system::participant::{Effect, Participant, ServiceView};

use super::backup::Backup;
use super::msg::{Ballot, Forced, Known, ParticipantTimer, ThreePcMsg};

/// How long a participant waits, and how its backup asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// No decision for this long after preparing (or after the last sign of progress): take
    /// over as a backup.
    pub decision_timeout: Duration,
    /// A backup re-sends to the steps that have not answered this often.
    pub backup_retry: Duration,
    /// A backup waits this long for answers; a step silent by then is taken for crashed.
    pub backup_window: Duration,
}

/// What a participant knows of one (transaction, step), durably.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Record {
    /// The highest ballot it answered; lower ones are refused.
    pub promised: Ballot,
    /// The decision it accepted, and from which ballot.
    pub accepted: Option<(Ballot, bool)>,
    /// The decision it applied.
    pub decided: Option<bool>,
}

impl Record {
    /// What it tells a backup that asks.
    pub(super) fn known(&self) -> Known {
        match (self.decided, self.accepted) {
            (Some(commit), _) => Known::Decided { commit },
            (None, Some((ballot, commit))) => Known::Accepted { ballot, commit },
            (None, None) => Known::Nothing,
        }
    }
}

/// A forced write in progress, and who hears when it is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    ballot: Ballot,
    commit: bool,
    from: ActorId,
}

/// One service's 3PC participant.
#[derive(Debug)]
pub struct ThreePcParticipant {
    pub(super) coordinator: ActorId,
    /// The gateway's token, for the messages that lead to a change of data.
    pub(super) token: Token,
    /// The service of each step, by step.
    pub(super) steps: Vec<ActorId>,
    pub(super) timing: Timing,
    // Durable.
    pub(super) records: BTreeMap<(GlobalTxId, u16), Record>,
    // Volatile.
    accepting: BTreeMap<(GlobalTxId, u16), Pending>,
    deciding: BTreeMap<(GlobalTxId, u16), ActorId>,
    pub(super) backups: BTreeMap<(GlobalTxId, u16), Backup>,
    /// Steps undecided when the service restarted: their backups must hear from every step.
    pub(super) recovering: BTreeSet<(GlobalTxId, u16)>,
}

/// Arms `timer` for step `step` of `gtx`.
pub(super) fn set(gtx: GlobalTxId, step: u16, timer: ParticipantTimer, after: Duration) -> Effect {
    let (tag, arg) = timer.parts();
    Effect::SetTimer {
        gtx,
        step,
        tag,
        arg,
        after,
    }
}

/// Disarms `timer` for step `step` of `gtx`.
pub(super) fn cancel(gtx: GlobalTxId, step: u16, timer: ParticipantTimer) -> Effect {
    let (tag, _) = timer.parts();
    Effect::CancelTimer { gtx, step, tag }
}

impl ThreePcParticipant {
    /// A participant that answers to `coordinator` and asks the services of `steps`.
    pub fn new(coordinator: ActorId, token: Token, steps: Vec<ActorId>, timing: Timing) -> Self {
        ThreePcParticipant {
            coordinator,
            token,
            steps,
            timing,
            records: BTreeMap::new(),
            accepting: BTreeMap::new(),
            deciding: BTreeMap::new(),
            backups: BTreeMap::new(),
            recovering: BTreeSet::new(),
        }
    }

    pub(super) fn wait_for_decision(&self, gtx: GlobalTxId, step: u16, out: &mut Vec<Effect>) {
        out.push(set(
            gtx,
            step,
            ParticipantTimer::DecisionTimeout,
            self.timing.decision_timeout,
        ));
    }

    // ----- accepting ----------------------------------------------------------------------

    /// `Accept` (a `PreCommit` from the coordinator, or a backup's decision to accept):
    /// refused under a ballot lower than the one answered; otherwise forced to the log, then
    /// acknowledged. A decided step tells the sender its decision instead.
    pub(super) fn on_accept(
        &mut self,
        from: ActorId,
        (gtx, step, ballot, commit): (GlobalTxId, u16, Ballot, bool),
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let record = self.records.entry((gtx, step)).or_default();
        if let Some(decided) = record.decided {
            let known = Known::Decided { commit: decided };
            self.reply(
                from,
                ThreePcMsg::State {
                    gtx,
                    step,
                    ballot,
                    known,
                },
                service,
                out,
            );
            return;
        }
        if ballot < record.promised {
            let promised = record.promised;
            let nack = ThreePcMsg::Nack {
                gtx,
                step,
                ballot,
                promised,
            };
            self.reply(from, nack, service, out);
            return;
        }
        record.promised = ballot;
        if record.accepted == Some((ballot, commit)) {
            self.reply(from, ThreePcMsg::Accepted { gtx, step, ballot }, service, out);
            return;
        }
        if commit && !service.is_prepared(gtx, step) {
            // Only a step that voted yes can be asked to commit; nothing to accept.
            out.push(Effect::Count("three_pc.unexpected_messages", 1));
            return;
        }
        self.accepting
            .insert((gtx, step), Pending { ballot, commit, from });
        out.push(set(
            gtx,
            step,
            ParticipantTimer::Forced(Forced::Accept),
            service.forced_write,
        ));
        self.wait_for_decision(gtx, step, out);
    }

    /// The accept record is durable: remember it, and acknowledge (to ourselves if our own
    /// backup asked).
    fn on_accept_forced(
        &mut self,
        gtx: GlobalTxId,
        step: u16,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let Some(Pending { ballot, commit, from }) = self.accepting.remove(&(gtx, step)) else {
            return;
        };
        let record = self.records.entry((gtx, step)).or_default();
        if record.decided.is_some() || ballot < record.promised {
            return; // Decided meanwhile, or a newer ballot took over.
        }
        record.accepted = Some((ballot, commit));
        out.push(Effect::ForceRecord);
        if !commit && !service.is_prepared(gtx, step) {
            // An abort accepted by a step whose prepare has not arrived: refuse it if it does.
            out.push(Effect::Fence { gtx, step });
        }
        if commit {
            out.push(Effect::Point("pre_committed", gtx));
        }
        self.reply(from, ThreePcMsg::Accepted { gtx, step, ballot }, service, out);
    }

    // ----- deciding -----------------------------------------------------------------------

    /// A decision: forced to the log (locks stay held meanwhile), then applied and
    /// acknowledged. A step already decided acknowledges at once.
    pub(super) fn on_decide(
        &mut self,
        from: ActorId,
        (gtx, step, commit): (GlobalTxId, u16, bool),
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let decided = self.records.get(&(gtx, step)).and_then(|r| r.decided);
        if decided.is_some() {
            if from != service.me {
                out.push(Effect::Send(from, ThreePcMsg::DecideAck { gtx, step }.into_msg()));
            }
            return;
        }
        if self.deciding.contains_key(&(gtx, step)) {
            return;
        }
        self.deciding.insert((gtx, step), from);
        let forced = ParticipantTimer::Forced(Forced::Decision { commit });
        out.push(set(gtx, step, forced, service.forced_write));
    }

    fn on_decision_forced(
        &mut self,
        (gtx, step, commit): (GlobalTxId, u16, bool),
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let from = self.deciding.remove(&(gtx, step)).unwrap_or(self.coordinator);
        let record = self.records.entry((gtx, step)).or_default();
        if record.decided.is_some() {
            return;
        }
        record.decided = Some(commit);
        self.accepting.remove(&(gtx, step));
        self.backups.remove(&(gtx, step));
        self.recovering.remove(&(gtx, step));
        for timer in [
            ParticipantTimer::DecisionTimeout,
            ParticipantTimer::BackupRetry,
            ParticipantTimer::BackupWindow,
        ] {
            out.push(cancel(gtx, step, timer));
        }
        out.push(Effect::ResolvePrepared { gtx, step, commit });
        if !commit {
            // The aborted prepare took its idempotency record with it: a late or duplicate
            // prepare must vote no instead of preparing again.
            out.push(Effect::Fence { gtx, step });
        }
        out.push(Effect::Point("decided", gtx));
        if from != service.me {
            out.push(Effect::Send(from, ThreePcMsg::DecideAck { gtx, step }.into_msg()));
        }
    }

    // ----- answering backups --------------------------------------------------------------

    /// A backup (or the coordinator learning an outcome) asks what this step knows. Under a
    /// ballot at least as high as any answered, the step promises to ignore lower ones from
    /// now on and tells what it accepted; its own backup, if a lower one, stands down.
    fn on_state_query(
        &mut self,
        from: ActorId,
        (gtx, step, ballot): (GlobalTxId, u16, Ballot),
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let record = self.records.entry((gtx, step)).or_default();
        let reply = if record.decided.is_some() {
            ThreePcMsg::State {
                gtx,
                step,
                ballot,
                known: record.known(),
            }
        } else if ballot < record.promised {
            let promised = record.promised;
            ThreePcMsg::Nack {
                gtx,
                step,
                ballot,
                promised,
            }
        } else {
            record.promised = ballot;
            let known = record.known();
            if self.backups.get(&(gtx, step)).is_some_and(|b| b.ballot < ballot) {
                self.stand_down(gtx, step, out);
            }
            if service.is_prepared(gtx, step) {
                // Someone else is ending it: give them time before taking over.
                self.wait_for_decision(gtx, step, out);
            }
            ThreePcMsg::State {
                gtx,
                step,
                ballot,
                known,
            }
        };
        self.reply(from, reply, service, out);
    }

    /// Sends `msg` to `to`, or hands it to our own backup when we are `to`.
    pub(super) fn reply(
        &mut self,
        to: ActorId,
        msg: ThreePcMsg,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        if to == service.me {
            self.answer_backup(msg, service, out);
        } else {
            out.push(Effect::Send(to, msg.into_msg()));
        }
    }
}

impl Participant for ThreePcParticipant {
    fn on_message(
        &mut self,
        src: ActorId,
        msg: ProtocolMsg,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        match ThreePcMsg::from_protocol(msg) {
            Some(ThreePcMsg::Accept {
                gtx,
                step,
                ballot,
                commit,
                ..
            }) => self.on_accept(src, (gtx, step, ballot, commit), service, out),
            Some(ThreePcMsg::Decide {
                gtx, step, commit, ..
            }) => self.on_decide(src, (gtx, step, commit), service, out),
            Some(ThreePcMsg::StateQuery { gtx, step, ballot }) => {
                self.on_state_query(src, (gtx, step, ballot), service, out)
            }
            Some(
                reply @ (ThreePcMsg::State { .. } | ThreePcMsg::Accepted { .. } | ThreePcMsg::Nack { .. }),
            ) => self.answer_backup(reply, service, out),
            // Backups send decisions once and do not wait for acks.
            Some(ThreePcMsg::DecideAck { .. }) => {}
            None => out.push(Effect::Count("three_pc.unexpected_messages", 1)),
        }
    }

    fn on_timer(
        &mut self,
        gtx: GlobalTxId,
        step: u16,
        tag: u8,
        arg: u16,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        match ParticipantTimer::from_parts(tag, arg) {
            Some(ParticipantTimer::DecisionTimeout) => self.take_over(gtx, step, service, out),
            Some(ParticipantTimer::Forced(Forced::Accept)) => self.on_accept_forced(gtx, step, service, out),
            Some(ParticipantTimer::Forced(Forced::Decision { commit })) => {
                self.on_decision_forced((gtx, step, commit), service, out)
            }
            Some(ParticipantTimer::BackupRetry) => self.backup_retry(gtx, step, service, out),
            Some(ParticipantTimer::BackupWindow) => self.backup_window(gtx, step, service, out),
            None => unreachable!("not a 3PC participant timer: {tag}"),
        }
    }

    fn on_prepared(&mut self, gtx: GlobalTxId, step: u16, out: &mut Vec<Effect>) {
        self.records.entry((gtx, step)).or_default();
        self.wait_for_decision(gtx, step, out);
    }

    fn on_crash(&mut self) {
        // Records are durable; forced writes in progress and backups die with the crash.
        self.accepting.clear();
        self.deciding.clear();
        self.backups.clear();
    }

    /// Every step still prepared and undecided ends in recovery mode: its backup must hear
    /// from every step, because one that stays silent may have decided while we were down.
    fn on_recover(&mut self, service: &ServiceView<'_>, out: &mut Vec<Effect>) {
        for &(gtx, step) in service.prepared.keys() {
            let undecided = self.records.get(&(gtx, step)).is_none_or(|r| r.decided.is_none());
            if undecided {
                self.records.entry((gtx, step)).or_default();
                self.recovering.insert((gtx, step));
                out.push(set(gtx, step, ParticipantTimer::DecisionTimeout, Duration::ZERO));
            }
        }
    }

    fn retained_bytes(&self) -> usize {
        crate::world::footprint::map_bytes::<(GlobalTxId, u16), Record>(self.records.len())
    }
}

//! The termination protocol: a participant that heard no decision in time becomes a backup
//! coordinator for the transaction, under a ballot higher than any it has seen.
//!
//! It asks every step what it knows (each answer is also a promise to ignore lower ballots,
//! so the old coordinator cannot act on a state the backup has read), waits a window for the
//! answers, and takes a step that stayed silent for crashed: that is Skeen's assumption, and
//! exactly what a partition breaks. Then:
//!
//! - a step that decided: that decision, for everyone;
//! - else the decision accepted under the highest ballot (a `PreCommit` is an accepted
//!   commit), or abort if none was accepted: every step that answered is asked to accept it,
//!   and once all have, it is decided and sent to everyone.
//!
//! A backup in a participant that restarted after a crash must hear from every step before
//! it decides anything nobody decided: the silent one may be the one that decided while it
//! was down.

use crate::system::msg::GlobalTxId;
use crate::system::participant::{Effect, ServiceView};

use super::msg::{Ballot, Known, ParticipantTimer, ThreePcMsg};
use super::participant::{ThreePcParticipant, cancel, set};

/// A backup coordinator at one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Backup {
    /// Its ballot.
    pub ballot: Ballot,
    phase: Phase,
    /// It must hear from every step (it restarted since the transaction began).
    must_hear_all: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Asking every step what it knows; `None` until a step answers.
    Collect { answers: Vec<Option<Known>> },
    /// Asking the steps that answered to accept `commit`.
    Accept {
        commit: bool,
        responders: Vec<bool>,
        acked: Vec<bool>,
    },
}

impl ThreePcParticipant {
    /// No decision came in time: become the backup for `gtx` at step `me`, unless it is
    /// decided, a backup is already running here, or this step never voted yes.
    pub(super) fn take_over(
        &mut self,
        gtx: GlobalTxId,
        me: u16,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        if self.backups.contains_key(&(gtx, me)) {
            return;
        }
        let record = self.records.entry((gtx, me)).or_default();
        if record.decided.is_some() || (!service.is_prepared(gtx, me) && record.accepted.is_none()) {
            return;
        }
        let ballot = record.promised.next_for(me);
        record.promised = ballot;
        let mut answers = vec![None; self.steps.len()];
        answers[usize::from(me)] = Some(record.known());
        let must_hear_all = self.recovering.contains(&(gtx, me));
        out.push(Effect::Count("three_pc.terminations", 1));
        self.backups.insert(
            (gtx, me),
            Backup {
                ballot,
                phase: Phase::Collect { answers },
                must_hear_all,
            },
        );
        self.ask(gtx, me, out);
        out.push(Effect::Point("took_over", gtx));
        out.push(set(
            gtx,
            me,
            ParticipantTimer::BackupRetry,
            self.timing.backup_retry,
        ));
        out.push(set(
            gtx,
            me,
            ParticipantTimer::BackupWindow,
            self.timing.backup_window,
        ));
        self.advance(gtx, me, false, service, out);
    }

    /// Sends the current phase's question to every step that has not answered it.
    fn ask(&self, gtx: GlobalTxId, me: u16, out: &mut Vec<Effect>) {
        let Some(backup) = self.backups.get(&(gtx, me)) else {
            return;
        };
        let ballot = backup.ballot;
        for (step, &service) in self.steps.iter().enumerate() {
            let step = step as u16;
            if step == me {
                continue;
            }
            let msg = match &backup.phase {
                Phase::Collect { answers } if answers[usize::from(step)].is_none() => {
                    ThreePcMsg::StateQuery { gtx, step, ballot }
                }
                Phase::Accept {
                    commit,
                    responders,
                    acked,
                } if responders[usize::from(step)] && !acked[usize::from(step)] => ThreePcMsg::Accept {
                    gtx,
                    step,
                    ballot,
                    commit: *commit,
                    token: self.token,
                },
                _ => continue,
            };
            out.push(Effect::Send(service, msg.into_msg()));
        }
    }

    /// The backup re-sends what went unanswered.
    pub(super) fn backup_retry(
        &mut self,
        gtx: GlobalTxId,
        me: u16,
        _service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        if self.backups.contains_key(&(gtx, me)) {
            self.ask(gtx, me, out);
            out.push(set(
                gtx,
                me,
                ParticipantTimer::BackupRetry,
                self.timing.backup_retry,
            ));
        }
    }

    /// The window is over: the silent steps are taken for crashed.
    pub(super) fn backup_window(
        &mut self,
        gtx: GlobalTxId,
        me: u16,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        self.advance(gtx, me, true, service, out);
    }

    /// An answer to a backup's question, from another step or from this one.
    pub(super) fn answer_backup(
        &mut self,
        msg: ThreePcMsg,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let (gtx, from, ballot) = match msg {
            ThreePcMsg::State {
                gtx, step, ballot, ..
            }
            | ThreePcMsg::Accepted { gtx, step, ballot }
            | ThreePcMsg::Nack {
                gtx, step, ballot, ..
            } => (gtx, step, ballot),
            _ => return,
        };
        let me = ballot.owner();
        let Some(backup) = self.backups.get_mut(&(gtx, me)).filter(|b| b.ballot == ballot) else {
            return; // An answer to an earlier backup, or to one that has ended.
        };
        let from = usize::from(from);
        match (msg, &mut backup.phase) {
            (ThreePcMsg::Nack { .. }, _) => return self.stand_down(gtx, me, out),
            (
                ThreePcMsg::State {
                    known: Known::Decided { commit },
                    ..
                },
                _,
            ) => {
                return self.decide_all(gtx, me, commit, service, out);
            }
            (ThreePcMsg::State { known, .. }, Phase::Collect { answers }) => {
                if let Some(answer) = answers.get_mut(from) {
                    *answer = Some(known);
                }
            }
            (ThreePcMsg::Accepted { .. }, Phase::Accept { acked, .. }) => {
                if let Some(ack) = acked.get_mut(from) {
                    *ack = true;
                }
            }
            _ => return,
        }
        self.advance(gtx, me, false, service, out);
    }

    /// Moves the backup on if it has heard enough: from every step, or, once the window is
    /// over, from every step that is not taken for crashed.
    fn advance(
        &mut self,
        gtx: GlobalTxId,
        me: u16,
        window_over: bool,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let Some(backup) = self.backups.get(&(gtx, me)).cloned() else {
            return;
        };
        match &backup.phase {
            Phase::Collect { answers } => {
                let all = answers.iter().all(Option::is_some);
                let may_decide = all || (window_over && !backup.must_hear_all);
                if !may_decide {
                    if window_over {
                        self.stand_down(gtx, me, out);
                    }
                    return;
                }
                if let Some(commit) = answers.iter().find_map(|a| match a {
                    Some(Known::Decided { commit }) => Some(*commit),
                    _ => None,
                }) {
                    return self.decide_all(gtx, me, commit, service, out);
                }
                // The decision accepted under the highest ballot; abort if none was.
                let commit = answers
                    .iter()
                    .filter_map(|a| match a {
                        Some(Known::Accepted { ballot, commit }) => Some((*ballot, *commit)),
                        _ => None,
                    })
                    .max()
                    .is_some_and(|(_, commit)| commit);
                let responders: Vec<bool> = answers.iter().map(Option::is_some).collect();
                let n = responders.len();
                let ballot = backup.ballot;
                let backup = self.backups.get_mut(&(gtx, me)).expect("checked above");
                backup.phase = Phase::Accept {
                    commit,
                    responders,
                    acked: vec![false; n],
                };
                self.ask(gtx, me, out);
                out.push(set(
                    gtx,
                    me,
                    ParticipantTimer::BackupWindow,
                    self.timing.backup_window,
                ));
                let own = (gtx, me, ballot, commit);
                self.on_accept(service.me, own, service, out);
            }
            Phase::Accept {
                commit,
                responders,
                acked,
            } => {
                let done = responders.iter().zip(acked).all(|(r, a)| !r || *a);
                if done {
                    let commit = *commit;
                    self.decide_all(gtx, me, commit, service, out);
                } else if window_over {
                    self.stand_down(gtx, me, out);
                }
            }
        }
    }

    /// The backup decided: everyone is told (the coordinator too, so it can answer the
    /// gateway), this step applies it, and the backup ends.
    fn decide_all(
        &mut self,
        gtx: GlobalTxId,
        me: u16,
        commit: bool,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        self.end_backup(gtx, me, out);
        out.push(Effect::Count(
            if commit {
                "three_pc.backup_commits"
            } else {
                "three_pc.backup_aborts"
            },
            1,
        ));
        let token = self.token;
        for (step, &to) in self.steps.iter().enumerate() {
            let step = step as u16;
            if step != me {
                let decide = ThreePcMsg::Decide {
                    gtx,
                    step,
                    commit,
                    token,
                };
                out.push(Effect::Send(to, decide.into_msg()));
            }
        }
        let told = ThreePcMsg::Decide {
            gtx,
            step: me,
            commit,
            token,
        };
        out.push(Effect::Send(self.coordinator, told.into_msg()));
        out.push(Effect::Point("told_decision", gtx));
        self.on_decide(service.me, (gtx, me, commit), service, out);
    }

    /// Someone with a higher ballot is in charge, or this backup could not hear enough:
    /// end it, and take over again later if no decision comes.
    pub(super) fn stand_down(&mut self, gtx: GlobalTxId, me: u16, out: &mut Vec<Effect>) {
        self.end_backup(gtx, me, out);
        out.push(Effect::Count("three_pc.backups_stood_down", 1));
        self.wait_for_decision(gtx, me, out);
    }

    fn end_backup(&mut self, gtx: GlobalTxId, me: u16, out: &mut Vec<Effect>) {
        self.backups.remove(&(gtx, me));
        out.push(cancel(gtx, me, ParticipantTimer::BackupRetry));
        out.push(cancel(gtx, me, ParticipantTimer::BackupWindow));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sim::{ActorId, Duration, Instant};
    use crate::store::LocalTxId;
    use crate::strategy::three_pc::participant::Timing;
    use crate::system::msg::{Msg, Token};
    use crate::system::participant::{Participant, PreparedStep};

    const GTX: GlobalTxId = GlobalTxId(9);
    const ME: ActorId = ActorId(10);

    fn participant() -> ThreePcParticipant {
        let timing = Timing {
            decision_timeout: Duration::from_ms(150),
            backup_retry: Duration::from_ms(5),
            backup_window: Duration::from_ms(40),
        };
        // Step 0 here, steps 1 and 2 elsewhere.
        ThreePcParticipant::new(ActorId(1), Token(3), vec![ME, ActorId(11), ActorId(12)], timing)
    }

    fn prepared() -> BTreeMap<(GlobalTxId, u16), PreparedStep> {
        let step = PreparedStep {
            local: LocalTxId(0),
            since: Instant::ZERO,
            held: false,
        };
        BTreeMap::from([((GTX, 0), step)])
    }

    fn view(prepared: &BTreeMap<(GlobalTxId, u16), PreparedStep>) -> ServiceView<'_> {
        ServiceView {
            now: Instant::from_ms(200),
            me: ME,
            token: Token(3),
            forced_write: Duration::from_ms(1),
            prepared,
        }
    }

    fn sent(out: &[Effect]) -> Vec<ThreePcMsg> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Send(_, Msg::Protocol(p)) => ThreePcMsg::from_protocol(*p),
                _ => None,
            })
            .collect()
    }

    /// Takes over, hears `answers` (step, what it knows), then lets the window end.
    fn backup_hearing(p: &mut ThreePcParticipant, answers: &[(u16, Known)]) -> Vec<Effect> {
        let prepared = prepared();
        let view = view(&prepared);
        let mut out = Vec::new();
        p.on_prepared(GTX, 0, &mut out);
        p.take_over(GTX, 0, &view, &mut out);
        let ballot = p.backups[&(GTX, 0)].ballot;
        for &(step, known) in answers {
            p.answer_backup(
                ThreePcMsg::State {
                    gtx: GTX,
                    step,
                    ballot,
                    known,
                },
                &view,
                &mut out,
            );
        }
        out.clear();
        p.backup_window(GTX, 0, &view, &mut out);
        out
    }

    #[test]
    fn a_backup_takes_a_silent_step_for_crashed_and_carries_a_pre_commit_on() {
        let mut p = participant();
        let pre_committed = Known::Accepted {
            ballot: Ballot::COORDINATOR,
            commit: true,
        };
        let out = backup_hearing(&mut p, &[(1, pre_committed)]);
        let asked: Vec<_> = sent(&out)
            .into_iter()
            .filter_map(|m| match m {
                ThreePcMsg::Accept { step, commit, .. } => Some((step, commit)),
                _ => None,
            })
            .collect();
        assert_eq!(
            asked,
            vec![(1, true)],
            "step 2 was silent: only step 1 is asked to accept"
        );
    }

    #[test]
    fn with_nothing_pre_committed_a_backup_asks_every_step_to_accept_abort() {
        let prepared = prepared();
        let view = view(&prepared);
        let mut p = participant();
        let mut out = Vec::new();
        p.on_prepared(GTX, 0, &mut out);
        p.take_over(GTX, 0, &view, &mut out);
        let ballot = p.backups[&(GTX, 0)].ballot;
        out.clear();
        for step in [1, 2] {
            let known = Known::Nothing;
            p.answer_backup(
                ThreePcMsg::State {
                    gtx: GTX,
                    step,
                    ballot,
                    known,
                },
                &view,
                &mut out,
            );
        }
        let asked: Vec<_> = sent(&out)
            .into_iter()
            .filter_map(|m| match m {
                ThreePcMsg::Accept { step, commit, .. } => Some((step, commit)),
                _ => None,
            })
            .collect();
        assert_eq!(
            asked,
            vec![(1, false), (2, false)],
            "everyone answered: no window wait"
        );
    }

    #[test]
    fn after_a_restart_a_backup_that_misses_a_step_decides_nothing() {
        let mut p = participant();
        p.recovering.insert((GTX, 0));
        let out = backup_hearing(&mut p, &[(1, Known::Nothing)]);
        assert!(p.backups.is_empty(), "it stood down");
        assert!(
            !sent(&out)
                .iter()
                .any(|m| matches!(m, ThreePcMsg::Accept { .. } | ThreePcMsg::Decide { .. }))
        );
        assert!(
            out.iter().any(|e| matches!(e, Effect::SetTimer { .. })),
            "and tries again later"
        );
    }

    #[test]
    fn a_nack_stands_a_backup_down_and_a_decided_step_ends_it() {
        let prepared = prepared();
        let view = view(&prepared);
        let mut p = participant();
        let mut out = Vec::new();
        p.on_prepared(GTX, 0, &mut out);
        p.take_over(GTX, 0, &view, &mut out);
        let ballot = p.backups[&(GTX, 0)].ballot;
        let promised = ballot.next_for(2);
        p.answer_backup(
            ThreePcMsg::Nack {
                gtx: GTX,
                step: 2,
                ballot,
                promised,
            },
            &view,
            &mut out,
        );
        assert!(p.backups.is_empty());

        out.clear();
        p.take_over(GTX, 0, &view, &mut out);
        let ballot = p.backups[&(GTX, 0)].ballot;
        let decided = Known::Decided { commit: true };
        p.answer_backup(
            ThreePcMsg::State {
                gtx: GTX,
                step: 1,
                ballot,
                known: decided,
            },
            &view,
            &mut out,
        );
        let decides = sent(&out)
            .into_iter()
            .filter(|m| matches!(m, ThreePcMsg::Decide { commit: true, .. }))
            .count();
        assert_eq!(decides, 3, "steps 1 and 2, and the coordinator, are told");
    }
}

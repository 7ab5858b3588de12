//! The participant half of two-phase commit, inside each service: it applies decisions,
//! asks while in doubt, and (with cooperative termination) answers peers that ask.
//!
//! The prepare itself is the service's own primitive (a `Local` call in prepare mode keeps
//! its local transaction and locks durable); this half decides nothing about data, it only
//! asks the service to resolve or fence a prepared step through [`Effect`]s. See the module
//! documentation of `two_pc` for the state table.

use std::collections::BTreeMap;

use crate::sim::{ActorId, Duration, IdMap};
use crate::system::msg::{GlobalTxId, ProtocolMsg};
use crate::system::participant::{Effect, Participant, ServiceView};

use super::msg::{ParticipantTimer, TwoPcMsg};

/// Arms `timer` for step `step` of `gtx`: the in-doubt timer so it can be disarmed, the
/// log force as a plain wait (it always ends in its hook).
fn timer(gtx: GlobalTxId, step: u16, timer: ParticipantTimer, after: Duration) -> Effect {
    let (tag, arg) = timer.parts();
    match timer {
        ParticipantTimer::InDoubt => Effect::SetTimer {
            gtx,
            step,
            tag,
            arg,
            after,
        },
        ParticipantTimer::DecisionForced { .. } => Effect::Wait {
            gtx,
            step,
            tag,
            arg,
            after,
        },
    }
}

/// One service's 2PC participant.
#[derive(Debug)]
pub struct TwoPcParticipant {
    coordinator: ActorId,
    /// Other participants to ask while in doubt (cooperative termination); empty when off.
    peers: Vec<ActorId>,
    in_doubt_query_after: Duration,
    /// Durable: decisions applied here, so a peer in doubt can be told (kept only with
    /// cooperative termination).
    decided: IdMap<GlobalTxId, bool>,
    /// Volatile: prepared steps whose decision is being forced to the log, when a peer sent
    /// it (cooperative termination); the coordinator's own decisions, nearly all of them,
    /// are not noted: a map entry per decision was a tenth of a run.
    deciding: BTreeMap<(GlobalTxId, u16), ActorId>,
}

impl TwoPcParticipant {
    /// A participant that asks `coordinator` (and `peers`) after `in_doubt_query_after`.
    pub fn new(coordinator: ActorId, peers: Vec<ActorId>, in_doubt_query_after: Duration) -> Self {
        TwoPcParticipant {
            coordinator,
            peers,
            in_doubt_query_after,
            decided: IdMap::new(),
            deciding: BTreeMap::new(),
        }
    }

    /// A decision for a prepared step: force it to the log (locks stay held meanwhile), then
    /// apply it and acknowledge (once: a duplicate's force finds the step resolved). A decision for a step not prepared here (a duplicate, or
    /// one never prepared) is acknowledged at once; an abort also fences the step.
    fn on_decide(
        &mut self,
        src: ActorId,
        (gtx, step, commit): (GlobalTxId, u16, bool),
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        if !service.is_prepared(gtx, step) {
            if !commit {
                out.push(Effect::Fence { gtx, step });
            }
            out.push(Effect::Send(src, TwoPcMsg::DecideAck { gtx, step }.into_msg()));
            return;
        }
        // A duplicate decision forces again; the second force finds the step resolved.
        if src != self.coordinator {
            self.deciding.insert((gtx, step), src);
        }
        let forced = ParticipantTimer::DecisionForced { commit };
        out.push(timer(gtx, step, forced, service.forced_write));
    }

    /// The decision is durable: resolve the prepared step, fence it on abort, acknowledge.
    fn on_decision_forced(
        &mut self,
        (gtx, step, commit): (GlobalTxId, u16, bool),
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let from = self.deciding.remove(&(gtx, step)).unwrap_or(self.coordinator);
        if !service.is_prepared(gtx, step) {
            return;
        }
        if !self.peers.is_empty() {
            self.decided.insert(gtx, commit);
        }
        out.push(cancel_in_doubt(gtx, step));
        out.push(Effect::ResolvePrepared { gtx, step, commit });
        if !commit {
            // The aborted prepare took its idempotency record with it: fence the step so a
            // duplicate or late prepare votes no instead of preparing again.
            out.push(Effect::Fence { gtx, step });
        }
        out.push(Effect::Point("decided", gtx));
        out.push(Effect::Send(from, TwoPcMsg::DecideAck { gtx, step }.into_msg()));
        // With cooperative termination the decision may have come from a peer: the
        // coordinator, whose own decision was dropped while this one was forced, hears too.
        if from != self.coordinator {
            out.push(Effect::Send(
                self.coordinator,
                TwoPcMsg::DecideAck { gtx, step }.into_msg(),
            ));
        }
    }

    /// Still in doubt: ask the coordinator (and the peers), and again later.
    fn on_in_doubt(&self, gtx: GlobalTxId, step: u16, service: &ServiceView<'_>, out: &mut Vec<Effect>) {
        if !service.is_prepared(gtx, step) {
            return;
        }
        let query = TwoPcMsg::Query { gtx, step }.into_msg();
        out.push(Effect::Count("service.in_doubt_queries", 1));
        out.push(Effect::Send(self.coordinator, query));
        out.extend(self.peers.iter().map(|&peer| Effect::Send(peer, query)));
        out.push(timer(
            gtx,
            step,
            ParticipantTimer::InDoubt,
            self.in_doubt_query_after,
        ));
    }
}

/// Disarms the in-doubt query of step `step` of `gtx`: its decision is here.
fn cancel_in_doubt(gtx: GlobalTxId, step: u16) -> Effect {
    let (tag, _) = ParticipantTimer::InDoubt.parts();
    Effect::CancelTimer { gtx, step, tag }
}

impl Participant for TwoPcParticipant {
    fn on_message(
        &mut self,
        src: ActorId,
        msg: ProtocolMsg,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        match TwoPcMsg::from_protocol(msg) {
            Some(TwoPcMsg::Decide {
                gtx, step, commit, ..
            }) => self.on_decide(src, (gtx, step, commit), service, out),
            // A peer in doubt asks; answer only with a decision applied here.
            Some(TwoPcMsg::Query { gtx, step }) => {
                if let Some(&commit) = self.decided.get(gtx) {
                    let token = service.token;
                    let answer = TwoPcMsg::Decide {
                        gtx,
                        step,
                        commit,
                        token,
                    };
                    out.push(Effect::Count("service.cooperative_answers", 1));
                    out.push(Effect::Send(src, answer.into_msg()));
                }
            }
            // A peer applied our answer.
            Some(TwoPcMsg::DecideAck { .. }) => {}
            None => out.push(Effect::Count("service.unexpected_messages", 1)),
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
            Some(ParticipantTimer::InDoubt) => self.on_in_doubt(gtx, step, service, out),
            Some(ParticipantTimer::DecisionForced { commit }) => {
                self.on_decision_forced((gtx, step, commit), service, out)
            }
            None => unreachable!("not a 2PC participant timer: {tag}"),
        }
    }

    fn on_prepared(&mut self, gtx: GlobalTxId, step: u16, out: &mut Vec<Effect>) {
        out.push(timer(
            gtx,
            step,
            ParticipantTimer::InDoubt,
            self.in_doubt_query_after,
        ));
    }

    fn on_crash(&mut self) {
        // Decisions applied are durable; a log force in progress is lost with the crash.
        self.deciding.clear();
    }

    /// The prepare records bring the locks back; every step still prepared asks at once.
    fn on_recover(&mut self, service: &ServiceView<'_>, out: &mut Vec<Effect>) {
        out.extend(
            service
                .prepared
                .keys()
                .map(|&(gtx, step)| timer(gtx, step, ParticipantTimer::InDoubt, Duration::ZERO)),
        );
    }

    fn retained_bytes(&self) -> usize {
        self.decided.retained_bytes()
    }
}

//! Three-phase commit's own messages, carried inside the system's [`ProtocolMsg`], the
//! ballots that order coordinators, and the participant's timers. The `CanCommit` is a
//! `Local` call in prepare mode and the vote its `LocalReply`, as in 2PC.

use crate::system::msg::{GlobalTxId, Msg, ProtocolMsg, Token};
use crate::system::wire::{ID, STEP, TAG};

/// Who is coordinating a transaction's end: the coordinator is ballot 0; a participant that
/// takes over (a backup) numbers its attempts in rounds from 1, and its step breaks ties. A
/// participant that answered a ballot ignores lower ones, so an old coordinator cannot act
/// on a state a newer one has already read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot(pub u32);

impl Ballot {
    /// The coordinator's.
    pub const COORDINATOR: Ballot = Ballot(0);

    /// Round `round` of the backup at step `step`.
    pub fn new(round: u16, step: u16) -> Ballot {
        Ballot((u32::from(round) << 16) | u32::from(step))
    }

    /// The round.
    pub fn round(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The step that owns it (0 for the coordinator's).
    pub fn owner(self) -> u16 {
        self.0 as u16
    }

    /// The next round after this one, owned by `step` (rounds saturate).
    pub fn next_for(self, step: u16) -> Ballot {
        Ballot::new(self.round().saturating_add(1), step)
    }
}

/// What a participant knows of a transaction, as it answers a `StateQuery`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Nothing accepted: prepared and uncertain, or never prepared.
    Nothing,
    /// It accepted this decision from this ballot (a `PreCommit` is an accepted commit).
    Accepted {
        /// The ballot it accepted from.
        ballot: Ballot,
        /// Commit, or abort.
        commit: bool,
    },
    /// It decided.
    Decided {
        /// Commit, or abort.
        commit: bool,
    },
}

/// What coordinators and participants say to each other beyond the prepare call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreePcMsg {
    /// Accept this decision under `ballot` (the coordinator's `PreCommit` is an accepted
    /// commit under ballot 0). Sent to `step`.
    Accept {
        /// Which transaction.
        gtx: GlobalTxId,
        /// The step asked.
        step: u16,
        /// Whose.
        ballot: Ballot,
        /// Commit, or abort.
        commit: bool,
        /// The gateway's token: it leads to a change of data.
        token: Token,
    },
    /// `step` accepted under `ballot`.
    Accepted {
        /// Which transaction.
        gtx: GlobalTxId,
        /// The step that accepted.
        step: u16,
        /// The ballot it accepted.
        ballot: Ballot,
    },
    /// `step` has answered a higher ballot, `promised`, than `ballot`: whoever sent under
    /// `ballot` is no longer in charge.
    Nack {
        /// Which transaction.
        gtx: GlobalTxId,
        /// The step that refused.
        step: u16,
        /// The ballot refused.
        ballot: Ballot,
        /// The ballot it answers now.
        promised: Ballot,
    },
    /// The decision (`DoCommit`, or abort), for `step`.
    Decide {
        /// Which transaction.
        gtx: GlobalTxId,
        /// The step told.
        step: u16,
        /// Commit, or abort.
        commit: bool,
        /// The gateway's token.
        token: Token,
    },
    /// `step` applied a decision.
    DecideAck {
        /// Which transaction.
        gtx: GlobalTxId,
        /// The step.
        step: u16,
    },
    /// A backup (or the coordinator, learning an outcome) asks `step` what it knows, and
    /// for its promise to ignore lower ballots.
    StateQuery {
        /// Which transaction.
        gtx: GlobalTxId,
        /// The step asked.
        step: u16,
        /// Whose.
        ballot: Ballot,
    },
    /// `step`'s answer to a `StateQuery` of `ballot`.
    State {
        /// Which transaction.
        gtx: GlobalTxId,
        /// The step answering.
        step: u16,
        /// The ballot it answers.
        ballot: Ballot,
        /// What it knows.
        known: Known,
    },
}

const ACCEPT: u8 = 0;
const ACCEPTED: u8 = 1;
const NACK: u8 = 2;
const DECIDE: u8 = 3;
const DECIDE_ACK: u8 = 4;
const QUERY: u8 = 5;
const STATE_NOTHING: u8 = 6;
const STATE_ACCEPTED_COMMIT: u8 = 7;
const STATE_ACCEPTED_ABORT: u8 = 8;
const STATE_DECIDED_COMMIT: u8 = 9;
const STATE_DECIDED_ABORT: u8 = 10;

/// The names of these messages, indexed by their `kind` numbers above (the five kinds of
/// answer to a `StateQuery` are all a `State`).
pub const KINDS: &[&str] = &[
    "Accept",
    "Accepted",
    "Nack",
    "Decide",
    "DecideAck",
    "StateQuery",
    "State",
    "State",
    "State",
    "State",
    "State",
];

impl ThreePcMsg {
    /// The system message carrying this one.
    pub fn into_msg(self) -> Msg {
        let (gtx, step, kind, arg, token, wire) = match self {
            ThreePcMsg::Accept {
                gtx,
                step,
                ballot,
                commit,
                token,
            } => (
                gtx,
                step,
                ACCEPT,
                u64::from(ballot.0) | (u64::from(commit) << 32),
                Some(token),
                ID + STEP + 2 * TAG + ID,
            ),
            ThreePcMsg::Accepted { gtx, step, ballot } => {
                (gtx, step, ACCEPTED, u64::from(ballot.0), None, ID + STEP + TAG)
            }
            ThreePcMsg::Nack {
                gtx,
                step,
                ballot,
                promised,
            } => (
                gtx,
                step,
                NACK,
                u64::from(ballot.0) | (u64::from(promised.0) << 32),
                None,
                ID + STEP + 2 * TAG,
            ),
            ThreePcMsg::Decide {
                gtx,
                step,
                commit,
                token,
            } => (
                gtx,
                step,
                DECIDE,
                u64::from(commit),
                Some(token),
                ID + STEP + TAG + ID,
            ),
            ThreePcMsg::DecideAck { gtx, step } => (gtx, step, DECIDE_ACK, 0, None, ID + STEP),
            ThreePcMsg::StateQuery { gtx, step, ballot } => {
                (gtx, step, QUERY, u64::from(ballot.0), None, ID + STEP + TAG)
            }
            ThreePcMsg::State {
                gtx,
                step,
                ballot,
                known,
            } => {
                let (kind, accepted) = match known {
                    Known::Nothing => (STATE_NOTHING, 0),
                    Known::Accepted { ballot, commit: true } => (STATE_ACCEPTED_COMMIT, ballot.0),
                    Known::Accepted {
                        ballot,
                        commit: false,
                    } => (STATE_ACCEPTED_ABORT, ballot.0),
                    Known::Decided { commit: true } => (STATE_DECIDED_COMMIT, 0),
                    Known::Decided { commit: false } => (STATE_DECIDED_ABORT, 0),
                };
                let arg = u64::from(ballot.0) | (u64::from(accepted) << 32);
                (gtx, step, kind, arg, None, ID + STEP + 3 * TAG)
            }
        };
        Msg::Protocol(ProtocolMsg {
            gtx,
            step,
            kind,
            wire_bytes: u8::try_from(wire).expect("a small message"),
            arg,
            token,
        })
    }

    /// The 3PC message `msg` carries, if it is one.
    pub fn from_protocol(msg: ProtocolMsg) -> Option<ThreePcMsg> {
        let (gtx, step) = (msg.gtx, msg.step);
        let low = Ballot(msg.arg as u32);
        let high = Ballot((msg.arg >> 32) as u32);
        let state = |known| ThreePcMsg::State {
            gtx,
            step,
            ballot: low,
            known,
        };
        Some(match msg.kind {
            ACCEPT => ThreePcMsg::Accept {
                gtx,
                step,
                ballot: low,
                commit: high.0 == 1,
                token: msg.token?,
            },
            ACCEPTED => ThreePcMsg::Accepted {
                gtx,
                step,
                ballot: low,
            },
            NACK => ThreePcMsg::Nack {
                gtx,
                step,
                ballot: low,
                promised: high,
            },
            DECIDE => ThreePcMsg::Decide {
                gtx,
                step,
                commit: msg.arg == 1,
                token: msg.token?,
            },
            DECIDE_ACK => ThreePcMsg::DecideAck { gtx, step },
            QUERY => ThreePcMsg::StateQuery {
                gtx,
                step,
                ballot: low,
            },
            STATE_NOTHING => state(Known::Nothing),
            STATE_ACCEPTED_COMMIT => state(Known::Accepted {
                ballot: high,
                commit: true,
            }),
            STATE_ACCEPTED_ABORT => state(Known::Accepted {
                ballot: high,
                commit: false,
            }),
            STATE_DECIDED_COMMIT => state(Known::Decided { commit: true }),
            STATE_DECIDED_ABORT => state(Known::Decided { commit: false }),
            _ => return None,
        })
    }
}

/// The participant's timers, as the service keeps them (a tag and a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParticipantTimer {
    /// No decision came in time: take over as a backup.
    DecisionTimeout,
    /// A forced write finished: an accept (then acknowledge) or a decision (then apply).
    Forced(Forced),
    /// The backup re-sends to the steps that have not answered.
    BackupRetry,
    /// The backup's window to hear answers is over.
    BackupWindow,
}

/// What a participant forces to its log before acting on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forced {
    /// An accepted decision (a `PreCommit` record, or a backup's abort).
    Accept,
    /// A decision: commit or abort.
    Decision {
        /// Commit, or abort.
        commit: bool,
    },
}

// One tag per timer that may be armed at once: the service keeps one timer per tag, and an
// accept forced while a decision is being forced must not replace it.
const T_DECISION: u8 = 0;
const T_FORCED_ACCEPT: u8 = 1;
const T_RETRY: u8 = 2;
const T_WINDOW: u8 = 3;
const T_FORCED_DECISION: u8 = 4;

impl ParticipantTimer {
    /// The tag and number the service keeps the timer under.
    pub fn parts(self) -> (u8, u16) {
        match self {
            ParticipantTimer::DecisionTimeout => (T_DECISION, 0),
            ParticipantTimer::Forced(Forced::Accept) => (T_FORCED_ACCEPT, 0),
            ParticipantTimer::Forced(Forced::Decision { commit }) => (T_FORCED_DECISION, u16::from(commit)),
            ParticipantTimer::BackupRetry => (T_RETRY, 0),
            ParticipantTimer::BackupWindow => (T_WINDOW, 0),
        }
    }

    /// The timer a tag and number stand for.
    pub fn from_parts(tag: u8, arg: u16) -> Option<ParticipantTimer> {
        Some(match (tag, arg) {
            (T_DECISION, _) => ParticipantTimer::DecisionTimeout,
            (T_FORCED_ACCEPT, _) => ParticipantTimer::Forced(Forced::Accept),
            (T_FORCED_DECISION, n) => ParticipantTimer::Forced(Forced::Decision { commit: n == 1 }),
            (T_RETRY, _) => ParticipantTimer::BackupRetry,
            (T_WINDOW, _) => ParticipantTimer::BackupWindow,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_survives_the_trip_through_the_system_message() {
        let gtx = GlobalTxId(11);
        let ballot = Ballot::new(3, 2);
        let token = Token(5);
        let knowns = [
            Known::Nothing,
            Known::Accepted { ballot, commit: true },
            Known::Accepted {
                ballot,
                commit: false,
            },
            Known::Decided { commit: true },
            Known::Decided { commit: false },
        ];
        let mut msgs = vec![
            ThreePcMsg::Accept {
                gtx,
                step: 1,
                ballot,
                commit: true,
                token,
            },
            ThreePcMsg::Accept {
                gtx,
                step: 1,
                ballot: Ballot::COORDINATOR,
                commit: false,
                token,
            },
            ThreePcMsg::Accepted { gtx, step: 2, ballot },
            ThreePcMsg::Nack {
                gtx,
                step: 0,
                ballot: Ballot::COORDINATOR,
                promised: ballot,
            },
            ThreePcMsg::Decide {
                gtx,
                step: 3,
                commit: true,
                token,
            },
            ThreePcMsg::DecideAck { gtx, step: 3 },
            ThreePcMsg::StateQuery { gtx, step: 1, ballot },
        ];
        msgs.extend(knowns.map(|known| ThreePcMsg::State {
            gtx,
            step: 0,
            ballot: Ballot::new(1, 0),
            known,
        }));
        for msg in msgs {
            let Msg::Protocol(carried) = msg.into_msg() else {
                panic!("3PC messages travel as protocol messages")
            };
            assert_eq!(ThreePcMsg::from_protocol(carried), Some(msg));
        }
    }

    #[test]
    fn every_participant_timer_survives_its_parts() {
        for timer in [
            ParticipantTimer::DecisionTimeout,
            ParticipantTimer::Forced(Forced::Accept),
            ParticipantTimer::Forced(Forced::Decision { commit: true }),
            ParticipantTimer::Forced(Forced::Decision { commit: false }),
            ParticipantTimer::BackupRetry,
            ParticipantTimer::BackupWindow,
        ] {
            let (tag, arg) = timer.parts();
            assert_eq!(ParticipantTimer::from_parts(tag, arg), Some(timer));
        }
    }

    #[test]
    fn ballots_order_by_round_then_step_and_the_coordinator_comes_first() {
        assert!(Ballot::COORDINATOR < Ballot::new(1, 0));
        assert!(Ballot::new(1, 3) < Ballot::new(2, 0));
        assert!(Ballot::new(2, 0) < Ballot::new(2, 1));
        assert_eq!(Ballot::new(4, 7).next_for(2), Ballot::new(5, 2));
        assert_eq!((Ballot::new(4, 7).round(), Ballot::new(4, 7).owner()), (4, 7));
    }
}

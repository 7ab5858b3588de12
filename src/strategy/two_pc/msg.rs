//! Two-phase commit's own messages, carried inside the system's [`ProtocolMsg`], and the
//! participant's timers, kept by the service under a tag: only this folder knows them.

use crate::system::msg::{GlobalTxId, Msg, ProtocolMsg, Token};
use crate::system::wire::{ID, STEP, TAG};

/// What the coordinator and the participants say to each other beyond local calls (the
/// `Prepare` is a `Local` call in prepare mode, and the vote its `LocalReply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwoPcMsg {
    /// The decision for a prepared step (`commit`, or abort). Carries the gateway's token: it
    /// changes the participant's data.
    Decide {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step (participant).
        step: u16,
        /// Commit or abort.
        commit: bool,
        /// The gateway's token.
        token: Token,
    },
    /// A participant applied a decision.
    DecideAck {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
    },
    /// An in-doubt participant asks what was decided (termination protocol).
    Query {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step asks.
        step: u16,
    },
}

const DECIDE: u8 = 0;
const DECIDE_ACK: u8 = 1;
const QUERY: u8 = 2;

/// The names of these messages, indexed by their `kind` numbers above.
pub const KINDS: &[&str] = &["Decide", "DecideAck", "Query"];

impl TwoPcMsg {
    /// The system message carrying this one.
    pub fn into_msg(self) -> Msg {
        let (gtx, step, kind, arg, token, wire) = match self {
            TwoPcMsg::Decide {
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
            TwoPcMsg::DecideAck { gtx, step } => (gtx, step, DECIDE_ACK, 0, None, ID + STEP),
            TwoPcMsg::Query { gtx, step } => (gtx, step, QUERY, 0, None, ID + STEP),
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

    /// The 2PC message `msg` carries, if it is one.
    pub fn from_protocol(msg: ProtocolMsg) -> Option<TwoPcMsg> {
        let (gtx, step) = (msg.gtx, msg.step);
        match msg.kind {
            DECIDE => Some(TwoPcMsg::Decide {
                gtx,
                step,
                commit: msg.arg == 1,
                token: msg.token?,
            }),
            DECIDE_ACK => Some(TwoPcMsg::DecideAck { gtx, step }),
            QUERY => Some(TwoPcMsg::Query { gtx, step }),
            _ => None,
        }
    }
}

/// The participant's timers, as the service keeps them (a tag and a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParticipantTimer {
    /// A prepared step has been in doubt long enough to ask.
    InDoubt,
    /// The log force of a decision is done: apply it and acknowledge.
    DecisionForced {
        /// Commit or abort.
        commit: bool,
    },
}

const IN_DOUBT: u8 = 0;
const DECISION_FORCED: u8 = 1;

impl ParticipantTimer {
    /// The tag and number the service keeps the timer under.
    pub fn parts(self) -> (u8, u16) {
        match self {
            ParticipantTimer::InDoubt => (IN_DOUBT, 0),
            ParticipantTimer::DecisionForced { commit } => (DECISION_FORCED, u16::from(commit)),
        }
    }

    /// The timer a tag and number stand for.
    pub fn from_parts(tag: u8, arg: u16) -> Option<ParticipantTimer> {
        match tag {
            IN_DOUBT => Some(ParticipantTimer::InDoubt),
            DECISION_FORCED => Some(ParticipantTimer::DecisionForced { commit: arg == 1 }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_participant_timer_survives_its_parts() {
        for timer in [
            ParticipantTimer::InDoubt,
            ParticipantTimer::DecisionForced { commit: true },
            ParticipantTimer::DecisionForced { commit: false },
        ] {
            let (tag, arg) = timer.parts();
            assert_eq!(ParticipantTimer::from_parts(tag, arg), Some(timer));
        }
    }

    #[test]
    fn every_message_survives_the_trip_through_the_system_message() {
        let gtx = GlobalTxId(7);
        for msg in [
            TwoPcMsg::Decide {
                gtx,
                step: 2,
                commit: true,
                token: Token(9),
            },
            TwoPcMsg::Decide {
                gtx,
                step: 0,
                commit: false,
                token: Token(9),
            },
            TwoPcMsg::DecideAck { gtx, step: 1 },
            TwoPcMsg::Query { gtx, step: 3 },
        ] {
            let Msg::Protocol(carried) = msg.into_msg() else {
                panic!("2PC messages travel as protocol messages")
            };
            assert_eq!(TwoPcMsg::from_protocol(carried), Some(msg));
        }
    }
}

//! Faults aimed at the protocol instead of the clock: set off when an actor reaches a named
//! point (a decision logged, a vote sent) or when the nth message of a kind passes between
//! two actors.
//!
//! A fault scheduled by time must guess when the window it wants opens; under another seed
//! the window moves and the fault misses. An aimed fault lands in the window on every seed,
//! which is how a handful of requests can show a protocol's weakness (FoundationDB's
//! buggify and TigerBeetle's VOPR aim faults the same way). The kernel compares names only:
//! which points and message kinds exist is the caller's to check (a strategy declares them).

use crate::sim::{ActorId, Duration};

/// In an aimed message fault, stands for any sender or any receiver.
pub const ANY_NODE: &str = "*";

/// What happens when a point fault goes off.
#[derive(Clone, Debug, PartialEq)]
pub enum PointEffect {
    /// The node crashes at once: nothing it does later in the same handler (a send, a
    /// timer) happens. It restarts after `restart_after` (stays down when `None`).
    Crash {
        /// How long it stays down.
        restart_after: Option<Duration>,
    },
    /// A partition between `groups` starts, for `lasts` (forever when `None`).
    Partition {
        /// As in a time-scheduled partition: at least two disjoint groups, `"*"` allowed.
        groups: Vec<Vec<String>>,
        /// How long it lasts.
        lasts: Option<Duration>,
    },
    /// Messages from `senders` to `receivers` are lost for `lasts`.
    OneWay {
        /// Whose messages are lost.
        senders: Vec<String>,
        /// Who does not get them.
        receivers: Vec<String>,
        /// How long it lasts.
        lasts: Option<Duration>,
    },
}

impl PointEffect {
    /// Whether, once set off, it never ends.
    pub fn lasts_for_good(&self) -> bool {
        match self {
            PointEffect::Crash { restart_after } => restart_after.is_none(),
            PointEffect::Partition { lasts, .. } | PointEffect::OneWay { lasts, .. } => lasts.is_none(),
        }
    }
}

/// A fault set off when `node` reaches `point`.
#[derive(Clone, Debug, PartialEq)]
pub struct PointFault {
    /// The actor that reaches the point.
    pub node: String,
    /// The point's name.
    pub point: String,
    /// Goes off the `nth` time (from 1) the point is reached, counting only transaction
    /// `tx`'s visits when `tx` is set.
    pub nth: u32,
    /// Only this transaction's visits count.
    pub tx: Option<u64>,
    /// What happens.
    pub effect: PointEffect,
}

/// What an aimed message fault does to the message it hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageEffect {
    /// It is lost.
    Drop,
    /// It arrives this much later than the link would deliver it.
    Delay(Duration),
    /// A second copy arrives right after it.
    Duplicate,
}

/// A fault that hits the `nth` message of `kind` sent from `from` to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageFault {
    /// The sender (`"*"`: any).
    pub from: String,
    /// The receiver (`"*"`: any).
    pub to: String,
    /// The message kind, as the world's kind function names messages.
    pub kind: String,
    /// Which one (from 1), counting only messages that match.
    pub nth: u32,
    /// What happens to it.
    pub effect: MessageEffect,
}

/// A compiled point fault's effect: a crash or one of the plan's cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AimedEffect {
    /// Crash the actor that reached the point.
    Crash {
        /// How long it stays down (`None`: for good).
        restart_after: Option<Duration>,
    },
    /// Start cut number `cut` of the plan, healing after `lasts`.
    Cut {
        /// Index into `FaultPlan::cuts`.
        cut: u32,
        /// How long it lasts (`None`: for good).
        lasts: Option<Duration>,
    },
}

/// A point fault with its node resolved, counting the visits it has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AimedPoint {
    /// Who must reach the point.
    pub actor: ActorId,
    /// The point.
    pub point: String,
    /// Which visit sets it off.
    pub nth: u32,
    /// Only this transaction's visits count.
    pub tx: Option<u64>,
    /// What happens.
    pub effect: AimedEffect,
    seen: u32,
}

impl AimedPoint {
    /// A point fault that has seen no visit yet.
    pub fn new(actor: ActorId, point: String, nth: u32, tx: Option<u64>, effect: AimedEffect) -> Self {
        AimedPoint {
            actor,
            point,
            nth,
            tx,
            effect,
            seen: 0,
        }
    }

    /// Counts a visit of `actor` to `point` (for `tx`); the effect when this visit is the one
    /// that sets the fault off. Each fault goes off at most once.
    pub fn visit(&mut self, actor: ActorId, point: &str, tx: Option<u64>) -> Option<AimedEffect> {
        if actor != self.actor || point != self.point || self.seen >= self.nth {
            return None;
        }
        if self.tx.is_some() && self.tx != tx {
            return None;
        }
        self.seen += 1;
        (self.seen == self.nth).then_some(self.effect)
    }
}

/// A message fault with its nodes resolved (`None`: any), counting the matches it has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AimedMessage {
    /// The sender, or any.
    pub src: Option<ActorId>,
    /// The receiver, or any.
    pub dst: Option<ActorId>,
    /// The kind.
    pub kind: String,
    /// Which match is hit.
    pub nth: u32,
    /// What happens to it.
    pub effect: MessageEffect,
    seen: u32,
}

impl AimedMessage {
    /// A message fault that has seen no match yet.
    pub fn new(
        src: Option<ActorId>,
        dst: Option<ActorId>,
        kind: String,
        nth: u32,
        effect: MessageEffect,
    ) -> Self {
        AimedMessage {
            src,
            dst,
            kind,
            nth,
            effect,
            seen: 0,
        }
    }

    /// Counts a message of `kind` from `src` to `dst`; the effect if it is the one hit.
    pub fn sent(&mut self, src: ActorId, dst: ActorId, kind: &str) -> Option<MessageEffect> {
        let matches = self.src.is_none_or(|s| s == src) && self.dst.is_none_or(|d| d == dst);
        if !matches || self.seen >= self.nth || kind != self.kind {
            return None;
        }
        self.seen += 1;
        (self.seen == self.nth).then_some(self.effect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_fault_goes_off_once_at_the_nth_visit_of_its_transaction() {
        let crash = AimedEffect::Crash { restart_after: None };
        let mut fault = AimedPoint::new(ActorId(1), "prepared".into(), 2, Some(7), crash);
        assert_eq!(fault.visit(ActorId(1), "prepared", Some(7)), None);
        assert_eq!(
            fault.visit(ActorId(2), "prepared", Some(7)),
            None,
            "another actor"
        );
        assert_eq!(fault.visit(ActorId(1), "decided", Some(7)), None, "another point");
        assert_eq!(
            fault.visit(ActorId(1), "prepared", Some(8)),
            None,
            "another transaction"
        );
        assert_eq!(fault.visit(ActorId(1), "prepared", Some(7)), Some(crash));
        assert_eq!(fault.visit(ActorId(1), "prepared", Some(7)), None, "spent");
    }

    #[test]
    fn a_message_fault_hits_the_nth_match_only() {
        let mut fault = AimedMessage::new(Some(ActorId(0)), None, "Vote".into(), 2, MessageEffect::Drop);
        assert_eq!(fault.sent(ActorId(0), ActorId(3), "Decide"), None);
        assert_eq!(fault.sent(ActorId(1), ActorId(3), "Vote"), None, "another sender");
        assert_eq!(fault.sent(ActorId(0), ActorId(3), "Vote"), None);
        assert_eq!(
            fault.sent(ActorId(0), ActorId(4), "Vote"),
            Some(MessageEffect::Drop)
        );
        assert_eq!(fault.sent(ActorId(0), ActorId(4), "Vote"), None);
    }
}

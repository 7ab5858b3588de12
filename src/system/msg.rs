//! Everything that crosses the simulated network in a run of a business system.
//!
//! One closed enum, so the event loop's vocabulary is visible in one place and a new kind of
//! message is a compile error wherever it must be handled. Strategies carry their protocol
//! messages inside [`ProtocolMsg`], so no protocol has a variant here.

use crate::broker::{BrokerEnvelope, BrokerMsg, TopicId};
use crate::sim::DenseId;
use crate::system::model::RequestKeys;
use crate::system::timer::TimerMsg;

/// A client request's id, unique in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A business transaction's id (`GlobalTx`), unique in a run; the gateway gives one per
/// request and keeps it across retries, so every actor can recognise a retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlobalTxId(pub u64);

/// Request ids are the client's plan indexes: dense, so maps of them can be windows.
impl DenseId for RequestId {
    fn to_index(self) -> u64 {
        self.0
    }

    fn from_index(index: u64) -> Self {
        RequestId(index)
    }
}

/// Transaction ids come from the gateway's counter: dense, so maps of them can be windows.
impl DenseId for GlobalTxId {
    fn to_index(self) -> u64 {
        self.0
    }

    fn from_index(index: u64) -> Self {
        GlobalTxId(index)
    }
}

/// The token the gateway stamps on internal calls; services refuse calls without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token(pub u64);

/// Which half of a step a local call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKind {
    /// The step's action.
    Action,
    /// Its compensation.
    Compensation,
}

/// How a local call runs a step: at once, or pending a later decision, in one of the two
/// ways a service can keep a step pending (a prepared transaction holding its locks, or a
/// committed hold), and the two calls that end a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallMode {
    /// Run and commit.
    Commit,
    /// Run, make durable as prepared, hold locks, vote (2PC, 3PC).
    Prepare,
    /// Reserve the action's change as a hold and commit (TCC's try): no lock stays held,
    /// and bound checks count the hold until a `Confirm` or a `Release` ends it.
    Reserve,
    /// Apply the step's hold and drop it (TCC's confirm); refused if nothing is held.
    /// Sent with `kind: Action`.
    Confirm,
    /// Drop the step's hold without applying it (TCC's cancel). Sent with `kind:
    /// Compensation`: like a compensation, it fences a reserve that has not arrived yet.
    Release,
    /// A query to the service's API: run the action as if to commit, then abort, and answer
    /// whether it would have committed (`Committed`) or been refused. Changes nothing and
    /// leaves no history. Sent with `kind: Action`, not idempotent. (Last, so adding it
    /// renumbered no variant the trace hash already covered.)
    Check,
}

impl CallMode {
    /// Whether a call in this mode leaves its step pending a decision.
    pub fn is_pending(self) -> bool {
        matches!(self, CallMode::Prepare | CallMode::Reserve)
    }
}

/// An event published through the broker: step `step` of `gtx` reached `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DomainEvent {
    /// What happened.
    pub kind: EventKind,
    /// Which business transaction.
    pub gtx: GlobalTxId,
    /// Which step.
    pub step: u16,
    /// The request's keys, so a consumer can run its own step.
    pub keys: RequestKeys,
}

impl LocalCall {
    /// An idempotent call of step `step` of `gtx` that publishes nothing: how a coordinator
    /// asks a service to prepare, reserve, confirm or release a step.
    pub fn protocol(
        gtx: GlobalTxId,
        step: u16,
        kind: StepKind,
        mode: CallMode,
        keys: RequestKeys,
        token: Token,
    ) -> Self {
        LocalCall {
            gtx,
            step,
            kind,
            mode,
            keys,
            idempotent: true,
            emit_on_commit: None,
            emit_on_refusal: None,
            token,
        }
    }

    /// The event of `kind` about this call's step.
    pub fn event(&self, kind: EventKind) -> DomainEvent {
        DomainEvent {
            kind,
            gtx: self.gtx,
            step: self.step,
            keys: self.keys,
        }
    }
}

impl DomainEvent {
    /// The broker topic of an event: one per (kind, step), so a service subscribes to
    /// exactly the events it reacts to.
    pub fn topic(&self) -> TopicId {
        Self::topic_of(self.kind, self.step)
    }

    /// The topic of `kind` events of step `step`.
    pub fn topic_of(kind: EventKind, step: u16) -> TopicId {
        let kind = match kind {
            EventKind::Done => 0,
            EventKind::Failed => 1,
            EventKind::Compensated => 2,
        };
        TopicId((kind << 16) | u32::from(step))
    }

    /// The kind of event a topic carries, if it is a domain-event topic.
    pub fn kind_of_topic(topic: TopicId) -> Option<EventKind> {
        match topic.0 >> 16 {
            0 => Some(EventKind::Done),
            1 => Some(EventKind::Failed),
            2 => Some(EventKind::Compensated),
            _ => None,
        }
    }
}

/// The kinds of domain events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// The step's action committed.
    Done,
    /// The step's action was refused for a business reason.
    Failed,
    /// The step's compensation committed.
    Compensated,
}

/// How a local call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalResult {
    /// Committed (or already committed earlier: an idempotent replay).
    Committed,
    /// Prepared and holding locks: a yes vote.
    Prepared,
    /// Refused for a business reason (bounds, existing row): the step fails.
    Refused,
    /// Not run: lock wait timeout or deadlock victim; worth retrying.
    Busy,
    /// Not run: the call carried no valid token.
    Unauthorized,
    /// Reserved as a hold and committed: a yes vote that holds no lock. (Last, so adding it
    /// renumbered no variant the trace hash already covered.)
    Reserved,
}

/// A request to run one step's action or compensation as a local transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalCall {
    /// Which business transaction.
    pub gtx: GlobalTxId,
    /// Which step.
    pub step: u16,
    /// Action or compensation.
    pub kind: StepKind,
    /// Commit now or prepare.
    pub mode: CallMode,
    /// Resolves the step's rows.
    pub keys: RequestKeys,
    /// Dedupe by `(gtx, step, kind)` (turning it off is a broken twin).
    pub idempotent: bool,
    /// On commit, publish an event of this kind about this call's step (written to the
    /// outbox in the same local transaction as the business change). A kind, not a whole
    /// event: the event's other fields are the call's, and a small message copies fast.
    pub emit_on_commit: Option<EventKind>,
    /// On refusal, publish an event of this kind (in a local transaction of its own).
    pub emit_on_refusal: Option<EventKind>,
    /// The gateway's token.
    pub token: Token,
}

/// A client's business or audit request, as the client sends it to the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientRequest {
    /// The request.
    pub req: RequestId,
    /// Rows it concerns.
    pub key: u64,
    /// Its second row.
    pub other: u64,
    /// A read-only audit (sum across services) instead of a business transaction.
    pub audit: bool,
    /// The client's credentials; `None` models an unauthenticated caller.
    pub credentials: Option<u64>,
}

/// How a request ended, as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestOutcome {
    /// The business transaction committed.
    Committed,
    /// It was aborted (a business failure), its effects undone.
    Aborted,
    /// The system accepted it and will finish it later (eventual consistency).
    Accepted,
    /// No answer within the deadline after every retry.
    TimedOut,
    /// Refused at the gateway: no valid credentials.
    Unauthorized,
    /// An audit read completed.
    AuditDone,
}

/// The outcome a strategy reports to the gateway for a business transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxOutcome {
    /// All steps committed.
    Committed,
    /// Aborted or fully compensated.
    Aborted,
    /// Accepted; the rest happens asynchronously.
    Accepted,
}

/// A strategy's own protocol message (or timer payload), opaque to services, the gateway and
/// the world. The strategy that sends one encodes its typed message into these fields and
/// decodes them where it arrives (`strategy::two_pc::msg` is the example), so this file
/// names no protocol and a new strategy adds no variant here. Fixed-size and `Copy`, like
/// every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolMsg {
    /// Which business transaction.
    pub gtx: GlobalTxId,
    /// Which step (participant).
    pub step: u16,
    /// Which of the strategy's messages this is; the strategy numbers its own.
    pub kind: u8,
    /// Its payload's estimated size on the wire, for `bytes_sent` (see `wire.rs`).
    pub wire_bytes: u8,
    /// One more field, as `kind` defines it (a decision, an attempt, a count).
    pub arg: u64,
    /// The gateway's token, on messages that ask a service to change its data: a service
    /// refuses one that carries a wrong token, as it refuses a `Local` call.
    pub token: Option<Token>,
}

/// A message of a business-system run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// Client → gateway.
    Request(ClientRequest),
    /// Gateway → client.
    Response {
        /// Which request.
        req: RequestId,
        /// How it ended.
        outcome: RequestOutcome,
    },
    /// Gateway → the strategy's entry actor: run this business transaction.
    Begin {
        /// The transaction (the same on every retry).
        gtx: GlobalTxId,
        /// Its rows.
        keys: RequestKeys,
        /// The gateway's token.
        token: Token,
    },
    /// Strategy → gateway: how a business transaction ended.
    Outcome {
        /// Which transaction.
        gtx: GlobalTxId,
        /// How.
        outcome: TxOutcome,
    },
    /// Anyone with the token → a service: run a local transaction.
    Local(LocalCall),
    /// Service → caller: how it went.
    LocalReply {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
        /// Action or compensation.
        kind: StepKind,
        /// The result.
        result: LocalResult,
    },
    /// Gateway → service: the sum of your audited tables, read committed.
    AuditRead {
        /// Which audit request.
        req: RequestId,
        /// The gateway's token.
        token: Token,
    },
    /// Service → gateway.
    AuditReply {
        /// Which audit request.
        req: RequestId,
        /// The sum this service holds.
        total: i64,
    },
    /// A service reaches into another service's database: refused, unless the database is
    /// shared (the anti-pattern), when the write lands.
    DirectDbAccess {
        /// The service that reaches in.
        by: crate::system::model::ServiceId,
        /// The transaction the intruder was working on when it reached in, if any.
        during: Option<GlobalTxId>,
        /// The owner's table.
        table: u16,
        /// Which row.
        key: u64,
        /// What to add to it (0: a read).
        delta: i64,
    },
    /// A strategy's own protocol.
    Protocol(ProtocolMsg),
    /// The broker protocol, carrying domain events.
    Broker(BrokerMsg<DomainEvent>),
    /// Timer payloads; never sent over the network.
    Timer(TimerMsg),
}

impl Msg {
    /// The kinds every business run's messages have, whatever the strategy: the names
    /// [`Msg::kind_name`] gives and faults aim at. A local call is named by what it asks
    /// (`Action` or `Compensation` to run and commit, `Prepare`, `Reserve`, `Confirm`,
    /// `Release`); broker messages by their own kinds.
    pub const KINDS: &'static [&'static str] = &[
        "Request",
        "Response",
        "Begin",
        "Outcome",
        "Action",
        "Compensation",
        "Prepare",
        "Reserve",
        "Confirm",
        "Release",
        "Check",
        "LocalReply",
        "AuditRead",
        "AuditReply",
        "DirectDbAccess",
    ];

    /// The kinds of the local calls that run a step as a local transaction where they
    /// arrive (a subset of [`Msg::KINDS`]).
    pub const LOCAL_CALL_KINDS: [&'static str; 7] = [
        "Action",
        "Compensation",
        "Prepare",
        "Reserve",
        "Confirm",
        "Release",
        "Check",
    ];

    /// The message's kind: one of [`Msg::KINDS`], a broker kind, or for a strategy's own
    /// message its name in `protocol` (indexed by `ProtocolMsg::kind`, the strategy's
    /// numbering).
    pub fn kind_name(&self, protocol: &[&'static str]) -> &'static str {
        match self {
            Msg::Request(_) => "Request",
            Msg::Response { .. } => "Response",
            Msg::Begin { .. } => "Begin",
            Msg::Outcome { .. } => "Outcome",
            Msg::Local(call) => match (call.mode, call.kind) {
                (CallMode::Commit, StepKind::Action) => "Action",
                (CallMode::Commit, StepKind::Compensation) => "Compensation",
                (CallMode::Prepare, _) => "Prepare",
                (CallMode::Reserve, _) => "Reserve",
                (CallMode::Confirm, _) => "Confirm",
                (CallMode::Release, _) => "Release",
                (CallMode::Check, _) => "Check",
            },
            Msg::LocalReply { .. } => "LocalReply",
            Msg::AuditRead { .. } => "AuditRead",
            Msg::AuditReply { .. } => "AuditReply",
            Msg::DirectDbAccess { .. } => "DirectDbAccess",
            Msg::Protocol(p) => protocol.get(usize::from(p.kind)).copied().unwrap_or("Protocol"),
            Msg::Broker(b) => b.kind_name(),
            Msg::Timer(_) => "Timer",
        }
    }
}

impl BrokerEnvelope<DomainEvent> for Msg {
    fn wrap(msg: BrokerMsg<DomainEvent>) -> Self {
        Msg::Broker(msg)
    }

    fn unwrap(self) -> Result<BrokerMsg<DomainEvent>, Self> {
        match self {
            Msg::Broker(msg) => Ok(msg),
            other => Err(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message is copied into and out of the event queue; keeping it small keeps the
    /// loop fast (at 128 bytes, copies were a tenth of a saga run's time).
    #[test]
    fn messages_stay_small() {
        assert!(
            std::mem::size_of::<Msg>() <= 72,
            "Msg is {} bytes",
            std::mem::size_of::<Msg>()
        );
    }
}

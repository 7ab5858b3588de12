//! The history: who did what to which row, when, in which transaction.
//!
//! Actors share no state, so each keeps its own log of what it did (a record of the run,
//! not part of the simulated system: it survives crashes). After the run, [`History::merge`]
//! orders all logs by `(at, seq)` into one history that checks and reports read.

use crate::sim::{ActorId, Instant};
use crate::system::model::ServiceId;
use crate::system::msg::{
    CallMode, DomainEvent, GlobalTxId, LocalResult, RequestId, RequestOutcome, StepKind,
};

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryEvent {
    /// A local transaction of a step ended at a service.
    Local {
        /// Where.
        service: ServiceId,
        /// Which business transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
        /// Action or compensation.
        kind: StepKind,
        /// Commit or prepare.
        mode: CallMode,
        /// How it ended.
        result: LocalResult,
        /// True when the idempotency table recognised it: a duplicate, or an action fenced by
        /// its compensation or an earlier refusal (such a refusal is no business refusal).
        replay: bool,
        /// The row it touched and the change it made (`None` when nothing was applied).
        write: Option<RowWrite>,
    },
    /// A pending step was decided: a prepared one committed or aborted, a held one
    /// confirmed or released.
    Decided {
        /// Where.
        service: ServiceId,
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
        /// Commit (confirm) or abort (release).
        commit: bool,
        /// How it was pending: `Prepare` (locks held) or `Reserve` (a hold, no locks).
        mode: CallMode,
        /// How long it was pending (prepare or reserve to decision), µs: in doubt holding
        /// its locks when prepared, holding its reserved amount when held.
        in_doubt_us: u64,
    },
    /// The client sent a request (what availability and end-to-end latency count from).
    ClientSent {
        /// The request.
        req: RequestId,
        /// An audit read rather than a business request.
        audit: bool,
        /// It carried the client's credentials (an anonymous one is meant to be refused).
        authenticated: bool,
    },
    /// The client got its first answer to a request (later copies are not recorded).
    ClientAnswered {
        /// The request.
        req: RequestId,
        /// The answer.
        outcome: RequestOutcome,
        /// From sending to this answer, µs.
        latency_us: u64,
    },
    /// A request reached the gateway.
    RequestStarted {
        /// The request.
        req: RequestId,
        /// Its business transaction (none for audits and refused requests).
        gtx: Option<GlobalTxId>,
        /// An audit read.
        audit: bool,
    },
    /// The gateway answered a request.
    RequestEnded {
        /// The request.
        req: RequestId,
        /// Its business transaction.
        gtx: Option<GlobalTxId>,
        /// How it ended.
        outcome: RequestOutcome,
        /// From arrival at the gateway to the answer, µs.
        latency_us: u64,
    },
    /// An audit read completed with this total.
    Audit {
        /// The request.
        req: RequestId,
        /// The sum read across services.
        total: i64,
        /// True if every service answered.
        complete: bool,
    },
    /// A service served its part of an audit: the read-committed sum of its audited tables
    /// at this instant. The anomaly detectors compare what reads saw with what was committed.
    AuditRead {
        /// Which service read.
        service: ServiceId,
        /// The audit request.
        req: RequestId,
        /// The sum of every row of its audited tables (less changes pending under a
        /// semantic lock).
        total: i64,
        /// The read left pending changes out (semantic locks), so it cannot be dirty.
        hides_pending: bool,
    },
    /// A service refused a direct access to its database by another actor.
    AccessRefused {
        /// The owner.
        service: ServiceId,
        /// Who tried.
        caller: ActorId,
    },
    /// Another actor's direct write landed in a service's database (the shared-database
    /// anti-pattern): a change no step of the owner made.
    ForeignWrite {
        /// The owner.
        service: ServiceId,
        /// The service that wrote.
        by: ServiceId,
        /// The transaction it was working on, if any.
        during: Option<GlobalTxId>,
        /// Which table.
        table: u16,
        /// Which row.
        key: u64,
        /// What it added.
        delta: i64,
    },
    /// A service refused a call without a valid token.
    TokenRejected {
        /// The service.
        service: ServiceId,
        /// The caller.
        caller: ActorId,
    },
    /// A service published an event to the broker (first attempt of each).
    Published {
        /// Who.
        service: ServiceId,
        /// What.
        event: DomainEvent,
    },
    /// A service consumed an event from the broker.
    Consumed {
        /// Who.
        service: ServiceId,
        /// What.
        event: DomainEvent,
    },
}

/// A change to one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowWrite {
    /// Table index in the service's schema.
    pub table: u16,
    /// Row.
    pub key: u64,
    /// Net change to the row's value (for inserts, the inserted value).
    pub delta: i64,
}

/// One history record, with its place in the run's total order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRecord {
    /// When.
    pub at: Instant,
    /// The queue sequence number of the event during which it happened.
    pub seq: u64,
    /// Which actor recorded it.
    pub actor: ActorId,
    /// What.
    pub event: HistoryEvent,
}

/// A per-actor log, or the merged history of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    records: Vec<HistoryRecord>,
}

/// The most records [`History::reserve`] sets room for at once: a longer run grows its log
/// by doubling from there, which costs little next to the run, whereas reserving room for a
/// run that stops early (a memory limit, an event limit) would hold memory for nothing.
const MAX_RESERVED_RECORDS: u64 = 1 << 17;

impl History {
    /// Makes room for `records` more records (at most [`MAX_RESERVED_RECORDS`]), so an actor
    /// that knows roughly how much it will log (from the workload's request count) does not
    /// copy its log at every doubling: those copies and the page faults of each new buffer
    /// were a tenth of a run's time.
    pub fn reserve(&mut self, records: u64) {
        let records = records.min(MAX_RESERVED_RECORDS) as usize;
        self.records.reserve(records);
    }

    /// Appends a record.
    pub fn record(&mut self, at: Instant, seq: u64, actor: ActorId, event: HistoryEvent) {
        self.records.push(HistoryRecord {
            at,
            seq,
            actor,
            event,
        });
    }

    /// Bytes the records take, for the world's bound on a run's record.
    pub fn retained_bytes(&self) -> usize {
        crate::world::footprint::vec_bytes::<HistoryRecord>(self.records.len())
    }

    /// The records, in the order recorded (merged: in run order).
    pub fn records(&self) -> &[HistoryRecord] {
        &self.records
    }

    /// Merges per-actor logs into one history in run order (ties: actor id).
    pub fn merge<'a>(logs: impl IntoIterator<Item = &'a History>) -> History {
        let mut records: Vec<HistoryRecord> =
            logs.into_iter().flat_map(|h| h.records.iter().cloned()).collect();
        // Stable: records of one actor in one event keep their order.
        records.sort_by_key(|r| (r.at, r.seq, r.actor));
        History { records }
    }
}

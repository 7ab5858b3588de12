//! Timer payloads of the system's actors. Timers never cross the network; each actor only
//! ever receives its own.

use crate::system::msg::{DomainEvent, GlobalTxId, RequestId};

/// What a timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerMsg {
    /// Service: local transaction `local` finished executing (processing and database time).
    LocalDone {
        /// The local transaction.
        local: u64,
        /// The business transaction it runs a step of, so a trace names it.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
    },
    /// Service: local transaction `local` waited too long for a lock.
    LockTimeout {
        /// The local transaction.
        local: u64,
        /// The business transaction it runs a step of.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
    },
    /// Service: time to publish pending outbox rows.
    RelayTick,
    /// Service (dual-write twin): publish this committed event now.
    DualWrite {
        /// The event.
        event: DomainEvent,
    },
    /// Client: send planned request number `index`.
    Arrival {
        /// Index in the workload plan.
        index: u32,
    },
    /// Gateway: no outcome yet for `gtx` after attempt `attempt`.
    GatewayDeadline {
        /// The transaction.
        gtx: GlobalTxId,
        /// Which attempt timed out.
        attempt: u16,
    },
    /// Gateway: an audit read got no answer from every service in time.
    AuditDeadline {
        /// The audit request.
        req: RequestId,
    },
    /// A strategy's own timer (coordinator timeouts, saga retries with backoff, a
    /// participant's timers inside a service), tagged by the strategy.
    Strategy {
        /// The transaction.
        gtx: GlobalTxId,
        /// The step concerned.
        step: u16,
        /// Which attempt, for retries.
        attempt: u16,
        /// The strategy's own tag.
        tag: u8,
    },
    /// Service: attempt its intrusion number `index` into another's database now. (Last, so
    /// adding it renumbered no variant the trace hash already covered.)
    Intrude {
        /// Index into its configured intrusions.
        index: u32,
    },
    /// An actor behind workers (`system::paced`): the message on worker slot `slot` has
    /// had its processing time.
    Paced {
        /// Which running message.
        slot: u64,
    },
    /// Service: instance `instance` goes down (`up` false) or comes back (a `CrashInstance`
    /// fault).
    Instance {
        /// Which instance.
        instance: u16,
        /// Coming back.
        up: bool,
    },
}

//! When a run stops, and why.

use std::fmt;

use crate::sim::{Instant, TraceHash};

/// Bounds on one run; every one of them ends the run with a stated reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Process no event due after this instant.
    pub until: Option<Instant>,
    /// Process at most this many events.
    pub max_events: u64,
    /// Stop if more events than this are pending at once (a memory bound: a runaway
    /// scenario that multiplies messages ends here instead of exhausting memory).
    pub max_pending: usize,
    /// Stop once what the run keeps for its record (histories, durable logs, a full trace:
    /// see [`crate::world::World::retained_bytes`]) passes this many bytes. The record grows
    /// with the run's length even when few events are pending, so without this bound a long
    /// run would end in the operating system killing the process instead of with a message.
    pub max_retained_bytes: u64,
}

/// Events between two checks of [`Limits::max_retained_bytes`]: the estimate walks every
/// actor, so it is taken now and then; the record cannot grow much in between.
pub const RETAINED_CHECK_EVERY: u64 = 4096;

impl Default for Limits {
    /// No time limit, 100 million events, 10 million pending events, 1 GiB of record.
    fn default() -> Self {
        Limits {
            until: None,
            max_events: 100_000_000,
            max_pending: 10_000_000,
            max_retained_bytes: 1 << 30,
        }
    }
}

impl Limits {
    /// The default limits with a time limit.
    pub fn until(until: Instant) -> Self {
        Limits {
            until: Some(until),
            ..Limits::default()
        }
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// No event was left: the system came to rest.
    Quiescent,
    /// The next event was due after the time limit.
    TimeLimit(Instant),
    /// The event limit was reached.
    EventLimit(u64),
    /// Too many events were pending at once.
    PendingLimit(usize),
    /// The run's record passed this many bytes.
    RecordLimit(u64),
}

impl StopReason {
    /// True when the run ended because it ran out of work rather than at a limit.
    pub fn is_quiescent(self) -> bool {
        self == StopReason::Quiescent
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Quiescent => write!(f, "quiescent: no events left"),
            StopReason::TimeLimit(t) => {
                write!(f, "time limit: stopped at {t} with events still pending")
            }
            StopReason::EventLimit(n) => write!(
                f,
                "event limit: stopped after {n} events (the scenario may loop forever; raise the limit if not)"
            ),
            StopReason::PendingLimit(n) => write!(
                f,
                "memory limit: more than {n} events pending at once (messages multiply faster than they are consumed)"
            ),
            StopReason::RecordLimit(bytes) => write!(
                f,
                "memory limit: the run's record (histories, logs, trace) passed {} MiB; raise `stop.memory_mb` or shorten the workload",
                bytes >> 20
            ),
        }
    }
}

/// The result of [`crate::world::World::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// Why it stopped.
    pub stop: StopReason,
    /// Virtual time at the stop.
    pub end: Instant,
    /// Events processed (deliveries, drops at arrival, timers, faults).
    pub event_count: u64,
    /// The trace hash, unless tracing was off.
    pub trace_hash: Option<TraceHash>,
}

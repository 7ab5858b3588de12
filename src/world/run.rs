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
}

impl Default for Limits {
    /// No time limit, 100 million events, 10 million pending events.
    fn default() -> Self {
        Limits {
            until: None,
            max_events: 100_000_000,
            max_pending: 10_000_000,
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

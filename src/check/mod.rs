//! Checks: invariants derived from the model, judged over a run's history and final state.
//!
//! Checks observe only: they read the merged [`History`] and the services' final data and
//! never change a run. Every strategy is judged by the same yardstick. Each check returns a
//! [`Verdict`] listing its violations, each naming the transaction, the rows and the time, so
//! a user can find them in the trace.
//!
//! Atomicity, conservation and no_lost_work judge the end state, which means something only
//! when it is final. A run stopped at a limit with transactions in flight gets a verdict
//! that is not judged ([`Verdict::judged`] false, a note saying so), and a check a scenario
//! marks `must_hold` does not hold on it.
//!
//! `facts.rs` folds the history once (`window.rs` says what a change is and what a
//! transaction's inconsistency window is); the checks, `anomaly.rs`, the report's metrics and
//! the eventual strategy's measurements all read those facts. Convergence judges when each
//! transaction's services came to agree. `anomaly.rs` counts what reads saw: isolation
//! anomalies are measured, not judged.
//!
//! A check that never fails is worthless: `tests/` feeds each one a history with the
//! violation it exists to catch.

pub mod anomaly;
mod answers;
mod conservation;
mod convergence;
mod facts;
mod invariant;
mod oversell;
mod ownership;
mod read_model;
#[cfg(test)]
mod tests;
mod window;

use std::fmt;

use serde::Serialize;

pub use anomaly::{Anomalies, AnomalyCount, anomalies};
pub use answers::client_answers;
pub use conservation::conservation;
pub use convergence::{
    ConvergenceRule, DEFAULT_CONVERGE_WITHIN, ReadModelFacts, Sighting, StaleRow, convergence,
};
pub use facts::{ChangeAt, ForeignWrite, MAX_EVENTS, RunFacts, StepTally, TxChange, TxEvent, TxFacts};
pub use invariant::{atomicity, no_double_effect, no_lost_work};
pub use oversell::no_oversell;
pub use ownership::ownership;
pub use read_model::{ReadModel, Span};
pub use window::{Agreement, Change, ChangeTracker, TxWindow};

use crate::sim::Instant;

/// The invariants consim checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// Every finished business transaction applied all its steps or none (net of
    /// compensations).
    Atomicity,
    /// No step was applied more than once per transaction, whatever the duplicates.
    NoDoubleEffect,
    /// Every resource (a table a step writes) totals its start plus what committed
    /// transactions moved, once each.
    Conservation,
    /// Every accepted request reached an outcome, or is reported stuck, in doubt or
    /// unanswered, with how long.
    NoLostWork,
    /// No row was ever outside the bounds its steps enforce (no negative stock or balance).
    NoOversell,
    /// After the last fault heals, every transaction's services agree within the stated
    /// time, and a read model ends equal to its source.
    Convergence,
    /// Every "committed" the client was told is a transaction whose every step applied, every
    /// "aborted" one where none remained applied; "timed out" answers for transactions that
    /// then finished are counted as client uncertainty.
    ClientAnswers,
    /// No row changed except by its owning service's own steps; direct accesses refused are
    /// counted.
    Ownership,
}

impl CheckKind {
    /// Every check, in report order.
    pub const ALL: [CheckKind; 8] = [
        CheckKind::Atomicity,
        CheckKind::NoDoubleEffect,
        CheckKind::Conservation,
        CheckKind::NoLostWork,
        CheckKind::NoOversell,
        CheckKind::Convergence,
        CheckKind::ClientAnswers,
        CheckKind::Ownership,
    ];

    /// The name reports and scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::Atomicity => "atomicity",
            CheckKind::NoDoubleEffect => "no_double_effect",
            CheckKind::Conservation => "conservation",
            CheckKind::NoLostWork => "no_lost_work",
            CheckKind::NoOversell => "no_oversell",
            CheckKind::Convergence => "convergence",
            CheckKind::ClientAnswers => "client_answers",
            CheckKind::Ownership => "ownership",
        }
    }

    /// Runs this check.
    pub fn run(self, facts: &RunFacts<'_>) -> Verdict {
        match self {
            CheckKind::Atomicity => atomicity(facts),
            CheckKind::NoDoubleEffect => no_double_effect(facts),
            CheckKind::Conservation => conservation(facts),
            CheckKind::NoLostWork => no_lost_work(facts),
            CheckKind::NoOversell => no_oversell(facts),
            CheckKind::Convergence => convergence(facts),
            CheckKind::ClientAnswers => client_answers(facts),
            CheckKind::Ownership => ownership(facts),
        }
    }
}

impl fmt::Display for CheckKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken invariant, located.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The business transaction, if the violation is about one.
    pub gtx: Option<u64>,
    /// The rows involved, as `service.table[key]`.
    pub rows: Vec<String>,
    /// When it became visible (the last event that caused it), µs.
    pub at_us: Option<u64>,
    /// What is wrong, in words.
    pub detail: String,
    /// The events that caused it, latest last: `seq` is the trace's sequence number
    /// (`consim run --trace` writes it on every line).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventRef>,
}

/// One event a violation points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventRef {
    /// When, µs.
    pub at_us: u64,
    /// The trace sequence number.
    pub seq: u64,
    /// What happened, in words.
    pub detail: String,
}

/// The result of one check over one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Which check.
    pub check: CheckKind,
    /// True when no violation was found.
    pub passed: bool,
    /// False when the check could not judge: the run stopped at a limit with work in flight,
    /// so what the check needs (a run at rest) is not there. Such a verdict may pass and
    /// still proves nothing; [`Verdict::holds`] is false for it.
    pub judged: bool,
    /// Violations, at most [`MAX_LISTED`] of them listed.
    pub violations: Vec<Violation>,
    /// How many violations there were in all.
    pub violation_count: usize,
    /// Extra numbers the check measured (e.g. stuck and in-doubt counts).
    pub notes: Vec<String>,
}

/// Violations listed per verdict; the count covers them all.
pub const MAX_LISTED: usize = 20;

/// The note a verdict that could not judge carries first.
pub const NOT_JUDGED: &str = "not judged: the run did not come to rest";

impl Verdict {
    pub(crate) fn new(check: CheckKind, mut violations: Vec<Violation>, notes: Vec<String>) -> Self {
        let violation_count = violations.len();
        violations.truncate(MAX_LISTED);
        Verdict {
            check,
            passed: violation_count == 0,
            judged: true,
            violations,
            violation_count,
            notes,
        }
    }

    /// Marks the verdict not judged unless `judged`, with [`NOT_JUDGED`] as its first note.
    pub(crate) fn judged_if(mut self, judged: bool) -> Self {
        if !judged {
            self.judged = false;
            self.notes.insert(0, NOT_JUDGED.into());
        }
        self
    }

    /// True when the check judged the run and found nothing wrong: what `must_hold` means.
    pub fn holds(&self) -> bool {
        self.passed && self.judged
    }
}

/// Runs every check.
pub fn run_all(facts: &RunFacts<'_>) -> Vec<Verdict> {
    CheckKind::ALL
        .iter()
        .map(|check| {
            let verdict = check.run(facts);
            // A run stopped before its workload was sent proves nothing by passing, whatever
            // the check: what it found is kept, and nothing it did not find counts as held.
            if facts.unsent_requests > 0 && verdict.passed && verdict.judged {
                let mut verdict = verdict.judged_if(false);
                verdict.notes.push(format!(
                    "the run stopped before its workload was sent: {} planned requests never sent",
                    facts.unsent_requests
                ));
                verdict
            } else {
                verdict
            }
        })
        .collect()
}

pub(crate) fn at_us(at: Instant) -> Option<u64> {
    Some(at.as_us())
}

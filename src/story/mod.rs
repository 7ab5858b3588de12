//! The story behind a run: which events concern one transaction, told as text (`consim
//! explain`) or drawn as a sequence diagram (`consim diagram`).
//!
//! A report says *what* broke ("gtx 542: half applied"); the full trace holds *why*, spread
//! over thousands of lines. A story is the trace's lines about one transaction (every line
//! names its `gtx`), with the faults that struck the actors involved, ending at the broken
//! invariant, and naming what never happened after each actor's last word.

mod diagram;
mod diff;
mod explain;

pub use diagram::{DiagramOptions, diagram};
pub use diff::{Side, diff};
pub use explain::{crash_points, explain};

use crate::check::Verdict;
use crate::runner::Run;
use crate::scenario::Scenario;
use crate::sim::{TraceEntry, TraceKind, TraceLevel};

/// A run traced in full, with the transaction a story is about.
pub struct Story {
    /// The run.
    pub run: Run,
    /// The transaction.
    pub gtx: u64,
    /// The first violation about it, with its check, if there is one.
    pub violation: Option<(crate::check::CheckKind, crate::check::Violation)>,
}

impl Story {
    /// Runs `scenario` on `seed` traced in full, about `gtx`, or when `None`, the first
    /// transaction a check found violated. An error when no violation names a transaction
    /// and none was asked for, or the one asked for never ran.
    pub fn of(scenario: &Scenario, seed: u64, gtx: Option<u64>) -> Result<Story, String> {
        Story::from_run(crate::runner::run(scenario, seed, TraceLevel::Full), seed, gtx)
    }

    /// [`Story::of`] for a run already made, traced in full.
    pub fn from_run(run: Run, seed: u64, gtx: Option<u64>) -> Result<Story, String> {
        let first = first_violation(&run.report.checks, gtx);
        let gtx = match (gtx, &first) {
            (Some(gtx), _) => gtx,
            (None, Some((_, v))) => v.gtx.expect("chosen for its gtx"),
            (None, None) => {
                return Err(format!(
                    "seed {seed} violates no check about a transaction: nothing to explain (name one with --gtx)"
                ));
            }
        };
        if !run.trace.entries().iter().any(|e| e.tx == Some(gtx)) {
            return Err(format!(
                "seed {seed} has no transaction {gtx} (gtx counts from 0)"
            ));
        }
        Ok(Story {
            run,
            gtx,
            violation: first,
        })
    }

    /// The trace lines about the transaction, and the faults that struck an actor involved
    /// in it (or the whole network) from its first line on, in run order.
    pub fn lines(&self) -> Vec<&TraceEntry> {
        lines_of(&self.run, self.gtx)
    }

    /// The actors (indexes) the transaction's lines name, in order of appearance.
    pub fn actors(&self) -> Vec<usize> {
        actors_of(&self.run, self.gtx)
    }

    /// An actor's name.
    pub fn name(&self, actor: Option<crate::sim::ActorId>) -> &str {
        actor.map_or("-", |a| self.run.names[a.index()].as_str())
    }
}

/// The lines of `run`'s trace about transaction `gtx` (deliveries, drops, timers, points,
/// notes) and the faults that struck an actor involved, or the whole network, from its first
/// line on.
pub fn lines_of(run: &Run, gtx: u64) -> Vec<&TraceEntry> {
    let entries = run.trace.entries();
    let mine = |e: &TraceEntry| e.tx == Some(gtx);
    let Some(first) = entries.iter().position(mine) else {
        return Vec::new();
    };
    let involved = actors_of(run, gtx);
    entries[first..]
        .iter()
        .filter(|e| e.kind != TraceKind::Send)
        .filter(|e| {
            mine(e) || (e.kind == TraceKind::Fault && e.src.is_none_or(|a| involved.contains(&a.index())))
        })
        .collect()
}

/// The actors (indexes) `run`'s lines about `gtx` name, in order of appearance.
pub fn actors_of(run: &Run, gtx: u64) -> Vec<usize> {
    let mut actors = Vec::new();
    for e in run.trace.entries().iter().filter(|e| e.tx == Some(gtx)) {
        for actor in [e.src, e.dst].into_iter().flatten() {
            if !actors.contains(&actor.index()) {
                actors.push(actor.index());
            }
        }
    }
    actors
}

/// The first violation naming a transaction (`gtx`'s, when given), with its check.
fn first_violation(
    checks: &[Verdict],
    gtx: Option<u64>,
) -> Option<(crate::check::CheckKind, crate::check::Violation)> {
    checks.iter().find_map(|v| {
        v.violations
            .iter()
            .find(|x| x.gtx.is_some() && (gtx.is_none() || x.gtx == gtx))
            .map(|x| (v.check, x.clone()))
    })
}

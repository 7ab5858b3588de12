//! What the strategies' end-to-end tests share: faults by actor name, the safety checks over
//! a finished run, and the decisions of its pending steps.

use crate::assembly::SystemWorld;
use crate::check::{self, RunFacts, Verdict};
use crate::net::FaultSpec;
use crate::sim::Instant;
use crate::system::history::HistoryEvent;
use crate::system::msg::CallMode;
use crate::world::RunOutcome;

/// `node` crashes at `at_us` and restarts at `restart_ms`.
pub fn crash(node: &str, at_us: u64, restart_ms: u64) -> FaultSpec {
    FaultSpec::Crash {
        node: node.into(),
        at: Instant::from_us(at_us),
        restart_at: Some(Instant::from_ms(restart_ms)),
    }
}

/// The safety checks (atomicity, no double effect, conservation, no oversell) and no lost
/// work, over a finished run; the ones that failed.
pub fn broken_checks(run: &SystemWorld, outcome: &RunOutcome) -> Vec<Verdict> {
    let history = run.history();
    let rows = RunFacts::rows_of(run.services().map(|s| s.db()));
    let facts = RunFacts::new(
        &run.wiring.model,
        &history,
        rows,
        outcome.stop.is_quiescent(),
        outcome.end,
    );
    [
        check::atomicity(&facts),
        check::no_double_effect(&facts),
        check::conservation(&facts),
        check::no_oversell(&facts),
        check::no_lost_work(&facts),
    ]
    .into_iter()
    .filter(|verdict| !verdict.passed)
    .collect()
}

/// How the run's steps pending in `mode` (prepared, or reserved) ended: (commit, µs pending).
pub fn decisions(run: &SystemWorld, mode: CallMode) -> Vec<(bool, u64)> {
    run.history()
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::Decided {
                commit,
                mode: m,
                in_doubt_us,
                ..
            } if m == mode => Some((commit, in_doubt_us)),
            _ => None,
        })
        .collect()
}

/// Messages delivered between the strategy's first own actor (its coordinator) and the
/// services, in a run traced in full: what a commit protocol's message count counts (the
/// gateway's `Begin` and `Outcome` are not).
pub fn coordinator_messages(run: &SystemWorld) -> u64 {
    let coordinator = run.wiring.first_extra();
    let service = |id: Option<crate::sim::ActorId>| id.is_some_and(|id| run.wiring.services.contains(&id));
    run.world
        .trace()
        .entries()
        .iter()
        .filter(|e| e.kind == crate::sim::TraceKind::Deliver)
        .filter(|e| {
            (e.src == Some(coordinator) && service(e.dst)) || (e.dst == Some(coordinator) && service(e.src))
        })
        .count() as u64
}

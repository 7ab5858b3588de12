//! What the strategies' end-to-end tests share: faults by actor name, the safety checks over
//! a finished run, and the decisions of its pending steps.

use std::sync::Arc;

use crate::assembly::{SystemConfig, SystemWorld};
use crate::check::{self, RunFacts, Verdict};
use crate::net::FaultSpec;
use crate::net::{LinkSpec, Probability};
use crate::sim::Duration;
use crate::sim::Instant;
use crate::strategy::StrategyChoice;
use crate::system::history::HistoryEvent;
use crate::system::model::Model;
use crate::system::msg::CallMode;
use crate::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use crate::world::RunOutcome;

/// `requests` Poisson requests (1,000/s) on `model` under `strategy`, over `link` with
/// `faults`: a 100 ms gateway deadline with 2 retries and a 20 ms lock timeout, so short
/// runs see their timeouts.
pub fn system(
    model: Model,
    strategy: StrategyChoice,
    requests: u64,
    link: LinkSpec,
    faults: Vec<FaultSpec>,
) -> SystemConfig {
    SystemConfig {
        lock_timeout: Duration::from_ms(20),
        default_link: link,
        faults,
        request_timeout: Duration::from_ms(100),
        retries: 2,
        ..SystemConfig::new(
            Arc::new(model),
            strategy,
            WorkloadSpec {
                request_count: requests,
                arrival: ArrivalProcess::Poisson { rate_per_s: 1_000.0 },
                keys: KeyPopularity::Uniform,
                key_count: 20,
                audit_share: Probability::NEVER,
            },
        )
    }
}

/// One request, sent at 1 ms, on a reliable 300 µs network: where a protocol's costs and
/// timings are counted.
pub fn one_transaction(model: Model, strategy: StrategyChoice, faults: Vec<FaultSpec>) -> SystemConfig {
    let mut config = system(model, strategy, 1, LinkSpec::reliable(300), faults);
    config.workload.arrival = ArrivalProcess::Constant {
        interval: Duration::from_ms(1),
    };
    config
}

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

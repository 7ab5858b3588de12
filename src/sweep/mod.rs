//! `consim sweep`: one scenario over many seeds, on every core, to find the seeds that break
//! a check, each with the command that replays it.
//!
//! A seed fails when a check the scenario requires ([`Scenario::required_checks`]: those
//! under `must_hold`, every check if it lists none) is violated or could not be judged.
//! With `stop_at_first`, the sweep stops at the *lowest* failing seed of its range: a seed above the lowest failure found so far is
//! skipped, a seed below it always runs, and outcomes above the final lowest are dropped. So
//! the outcome list is the same whichever threads ran which seeds and in which order.
//!
//! Outcomes are [`SeedOutcome`]s, one JSON line each; shards of one sweep, run on different
//! machines, are merged by [`merge()`] from their JSON lines (see `merge.rs`).

mod merge;

pub use merge::{Merged, merge};

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;
use crate::seeds::{Shard, map_ordered};
use crate::sim::TraceLevel;

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// The seed range.
    pub seeds: Range<u64>,
    /// Which slice of the range this process runs.
    pub shard: Shard,
    /// Stop at the lowest failing seed instead of running them all.
    pub stop_at_first: bool,
    /// The strategy the scenario was switched to (`--strategy`), for replay commands.
    pub strategy_override: Option<String>,
    /// Swarm testing: each seed runs its own drawn fault mix (see `swarm`).
    pub swarm: bool,
}

/// One seed's run, as a sweep records it: enough to tell pass from fail, to check
/// reproduction (the trace hash), to replay it, and to merge it with other shards of the
/// same sweep (scenario, strategy, fingerprint and range identify the sweep).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedOutcome {
    /// Scenario name.
    pub scenario: String,
    /// Strategy, for system models.
    pub strategy: Option<String>,
    /// [`Scenario::fingerprint_hex`]: shards of one sweep share it; a shard run on an edited
    /// scenario or model does not.
    pub fingerprint: String,
    /// The whole seed range of the sweep, `[start, end)`, so a merge can name missing seeds.
    pub sweep_range: (u64, u64),
    /// The seed.
    pub seed: u64,
    /// Why the run stopped.
    pub stop: String,
    /// Events processed.
    pub events: u64,
    /// Virtual time at the end, µs.
    pub virtual_duration_us: u64,
    /// The trace hash: the same seed gives the same hash on any machine and thread.
    pub trace_hash: Option<String>,
    /// Checks that failed (violated or not judged), by name.
    pub failed: Vec<String>,
    /// The first violation of the first failed check, in words, when there is one.
    pub first_violation: Option<String>,
    /// The command that replays this seed.
    pub replay: String,
    /// In a swarm sweep, what the seed drew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<crate::swarm::SwarmDraw>,
}

impl SeedOutcome {
    /// True when some required check failed on this seed.
    pub fn failed(&self) -> bool {
        !self.failed.is_empty()
    }
}

/// A finished sweep (or one shard of one).
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Scenario name.
    pub scenario: String,
    /// The whole seed range.
    pub seeds: Range<u64>,
    /// This process's shard of it.
    pub shard: Shard,
    /// Every seed run, in increasing order.
    pub outcomes: Vec<SeedOutcome>,
    /// True when the sweep stopped at a failing seed before the end of its shard.
    pub stopped_early: bool,
}

/// Runs `scenario` for every seed of the shard on `pool`, calling `progress` after each seed
/// (from any thread). Checks judged are the scenario's `must_hold`, or all if it lists none.
pub fn sweep(
    scenario: &Scenario,
    options: &SweepOptions,
    pool: &rayon::ThreadPool,
    progress: &(dyn Fn() + Sync),
) -> Sweep {
    let seeds: Vec<u64> = options.shard.seeds(options.seeds.clone()).collect();
    let lowest_failure = AtomicU64::new(u64::MAX);
    let outcomes = map_ordered(pool, &seeds, |&seed| {
        if options.stop_at_first && seed > lowest_failure.load(Ordering::Relaxed) {
            progress();
            return None;
        }
        let outcome = run_seed(scenario, seed, options);
        if outcome.failed() {
            lowest_failure.fetch_min(seed, Ordering::Relaxed);
        }
        progress();
        Some(outcome)
    });
    let lowest = lowest_failure.into_inner();
    let outcomes: Vec<SeedOutcome> = outcomes
        .into_iter()
        .flatten()
        .filter(|o| !options.stop_at_first || o.seed <= lowest)
        .collect();
    let stopped_early = options.stop_at_first && outcomes.len() < seeds.len();
    Sweep {
        scenario: scenario.name.clone(),
        seeds: options.seeds.clone(),
        shard: options.shard,
        outcomes,
        stopped_early,
    }
}

/// Runs one seed of a sweep and judges it by the scenario's required checks; in a swarm
/// sweep, under the seed's drawn faults.
fn run_seed(scenario: &Scenario, seed: u64, options: &SweepOptions) -> SeedOutcome {
    if !options.swarm {
        return judge(scenario, scenario, seed, options, None);
    }
    match crate::swarm::swarmed(scenario, seed) {
        Ok(swarmed) => judge(scenario, &swarmed.scenario, seed, options, Some(swarmed.draw)),
        // A draw is made of valid names and windows; one that does not load is consim's bug.
        Err(e) => panic!("swarm seed {seed} drew an invalid scenario: {e:?}"),
    }
}

/// The outcome of `run` (the file `scenario`, or its swarm draw) on `seed`.
fn judge(
    scenario: &Scenario,
    run: &Scenario,
    seed: u64,
    options: &SweepOptions,
    swarm: Option<crate::swarm::SwarmDraw>,
) -> SeedOutcome {
    let report = crate::runner::run(run, seed, TraceLevel::Hash).report;
    let failing: Vec<&crate::check::Verdict> = scenario.failures(&report).collect();
    let first_violation = failing.iter().find_map(|v| {
        v.violations.first().map(|violation| {
            let gtx = violation.gtx.map(|g| format!("gtx {g}: ")).unwrap_or_default();
            format!("{}: {gtx}{}", v.check.name(), violation.detail)
        })
    });
    let strategy = options
        .strategy_override
        .as_ref()
        .map(|s| format!(" --strategy {s}"))
        .unwrap_or_default();
    let swarm_flag = if swarm.is_some() { " --swarm" } else { "" };
    SeedOutcome {
        scenario: scenario.name.clone(),
        strategy: report.strategy.clone(),
        // A swarm sweep is another sweep of the same file: its shards must not mix.
        fingerprint: format!(
            "{}{}",
            scenario.fingerprint_hex(),
            if swarm.is_some() { "-swarm" } else { "" }
        ),
        sweep_range: (options.seeds.start, options.seeds.end),
        seed,
        stop: report.stop.clone(),
        events: report.events,
        virtual_duration_us: report.virtual_duration_us,
        trace_hash: report.trace_hash.clone(),
        failed: failing.iter().map(|v| v.check.name().to_string()).collect(),
        first_violation,
        replay: format!(
            "consim run {} --seed {seed}{strategy}{swarm_flag}",
            scenario.path.display()
        ),
        swarm,
    }
}

impl Sweep {
    /// The failing seeds' outcomes.
    pub fn failures(&self) -> impl Iterator<Item = &SeedOutcome> {
        self.outcomes.iter().filter(|o| o.failed())
    }

    /// One JSON object per line per seed, in seed order: the format shards are merged from.
    pub fn to_json_lines(&self) -> String {
        self.outcomes
            .iter()
            .map(|o| serde_json::to_string(o).expect("an outcome serialises") + "\n")
            .collect()
    }

    /// A summary for people: counts, then each failing seed with its replay command.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let failures = self.failures().count();
        let _ = writeln!(
            out,
            "{}: {} seeds run from {}..{} (shard {}), {failures} failing{}",
            self.scenario,
            self.outcomes.len(),
            self.seeds.start,
            self.seeds.end,
            self.shard,
            if self.stopped_early {
                "; stopped at the first failing seed"
            } else {
                ""
            }
        );
        list_failures(&mut out, self.failures());
        out
    }
}

/// Failing seeds listed in a summary; `--format jsonl` gives them all.
pub const LISTED_FAILURES: usize = 20;

pub(crate) fn list_failures<'a>(out: &mut String, failures: impl Iterator<Item = &'a SeedOutcome>) {
    let mut unlisted = 0;
    for (i, o) in failures.enumerate() {
        if i >= LISTED_FAILURES {
            unlisted += 1;
            continue;
        }
        let _ = writeln!(out, "  seed {}: {} failed", o.seed, o.failed.join(", "));
        if let Some(first) = &o.first_violation {
            let _ = writeln!(out, "    first violation: {first}");
        }
        let _ = writeln!(out, "    replay: {}", o.replay);
    }
    if unlisted > 0 {
        let _ = writeln!(
            out,
            "  ... and {unlisted} more failing seeds (`--format jsonl` lists every seed)"
        );
    }
}

//! Shrinking: from a seed that breaks a check, a smaller scenario file that still breaks it.
//!
//! A failing run of a big scenario (hundreds of requests, many faults, a lossy network) is
//! hard to read. The shrinker edits the scenario's file form ([`raw::Scenario`]) one step at
//! a time — drop a fault, shorten a fault's window or move it earlier, halve the requests, drop audits or
//! unauthenticated clients, lower loss and duplication, drop a per-pair link — and keeps
//! each edit after which the same seed still violates the same check. It stops when no edit
//! keeps the violation (a local minimum: removing any one more thing makes it pass) or when
//! its run budget is spent.
//!
//! Every candidate goes through the same checks as a file a user writes ([`load_source`]),
//! so the scenario it writes is valid by construction. The candidates of one round run in
//! parallel and the first in a fixed order that still fails wins, so the result does not
//! depend on the threads. The written file pins the seed, names the strategy it ran (so a
//! `--strategy` switch is kept, with the file's settings when it names the same strategy) and
//! lists the check under `must_hold`, so `consim run` on it exits 2.

use std::path::Path;

use crate::check::CheckKind;
use crate::scenario::raw::{self, CheckName, Fault, to_ron};
use crate::scenario::{Scenario, load_source};
use crate::seeds::map_ordered;
use crate::sim::{Duration, TraceLevel};

/// What to shrink.
#[derive(Clone)]
pub struct ShrinkRequest<'a> {
    /// The scenario file.
    pub path: &'a Path,
    /// Its text.
    pub source: &'a str,
    /// The failing seed.
    pub seed: u64,
    /// Run under this strategy instead of the file's: its default settings, or the file's
    /// own when the file names the same strategy (as `Scenario::with_strategy`).
    pub strategy: Option<&'a str>,
    /// The check to keep failing; by default the first required check (see
    /// `Scenario::required_checks`) the seed fails.
    pub check: Option<CheckKind>,
    /// The most runs to spend.
    pub max_runs: usize,
    /// Asked before each round: true when the caller's budget is spent (the command line
    /// measures wall-clock time; the library reads no clock). No new round starts then, and
    /// a round's runs are not interrupted, so a budget can only make the result less small,
    /// never different in what it replays.
    pub out_of_time: &'a (dyn Fn() -> bool + Sync),
    /// Told after each round, so a long shrink shows it is alive.
    pub on_round: &'a (dyn Fn(&Round) + Sync),
}

/// Where a shrink stands after a round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Round {
    /// Rounds done.
    pub round: usize,
    /// Runs spent so far.
    pub runs: usize,
    /// The size of the smallest failing scenario so far.
    pub size: Size,
}

/// How big a scenario is, in what the shrinker reduces.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Size {
    /// Faults in the schedule.
    pub faults: usize,
    /// Requests the client sends.
    pub requests: u64,
    /// Sum over fault windows of their length, µs (a fault without an end counts to 0).
    pub fault_time_us: u64,
    /// Default link loss probability.
    pub loss: f64,
    /// Default link duplication probability.
    pub duplicate: f64,
    /// Per-pair link overrides.
    pub links: usize,
}

/// A shrunk scenario.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The check it still violates.
    pub check: CheckKind,
    /// The scenario file text, with a header saying where it came from.
    pub text: String,
    /// The size before and after.
    pub before: Size,
    /// The size after.
    pub after: Size,
    /// Runs spent.
    pub runs: usize,
    /// False when the budget ran out before a local minimum was reached.
    pub minimal: bool,
    /// The time budget ran out (rather than `max_runs`).
    pub out_of_time: bool,
}

/// Shrinks `request.seed` of the scenario to a smaller one that still violates the check.
/// `out_dir` is where the result will be written: the model path is rewritten to stay
/// valid from there. Errors say what is wrong (the seed passes, the scenario is not a
/// system model, ...).
pub fn shrink(
    request: &ShrinkRequest<'_>,
    out_dir: &Path,
    pool: &rayon::ThreadPool,
) -> Result<Shrunk, String> {
    let mut current: raw::Scenario =
        crate::scenario::validate::parse(request.path, request.source).map_err(|e| e.to_string())?;
    if current.workload.is_none() {
        return Err(format!(
            "{} runs a pingmesh model: there are no checks to violate",
            request.path.display()
        ));
    }
    if let Some(name) = request.strategy {
        let named = crate::strategy::registry::named(name)?;
        if current.strategy.as_ref().map(|s| s.name()) != Some(named.name()) {
            current.strategy = Some(named);
        }
    }
    current.seed = request.seed;
    let (first, required_failing) = run_candidate(request.path, &current, request.seed)?;
    let check = match request.check {
        Some(check) if first.contains(&check) => check,
        Some(check) => {
            return Err(format!(
                "seed {} does not fail {check} (it fails: {})",
                request.seed,
                names(&first)
            ));
        }
        None => *required_failing.first().ok_or_else(|| match first.is_empty() {
            true => format!(
                "seed {} fails no check: nothing to shrink (find failing seeds with `consim sweep`)",
                request.seed
            ),
            false => format!(
                "seed {} fails no check the scenario requires (must_hold): nothing to shrink unless you name one with --check; it fails {}",
                request.seed,
                names(&first)
            ),
        })?,
    };
    let before = size(&current);
    let mut runs = 1;
    let mut minimal = false;
    let mut out_of_time = false;
    let mut round = 0;
    while runs < request.max_runs {
        if (request.out_of_time)() {
            out_of_time = true;
            break;
        }
        let mut candidates = candidates(&current);
        // Right after dropping a fault, try aiming each time-scheduled crash at the point it
        // fell at: a crash that lands in its window on every seed explains the failure.
        let dropped = current.faults.len();
        for (offset, aimed) in aimed_crashes(request.path, &current, request.seed)
            .into_iter()
            .enumerate()
        {
            candidates.insert(dropped + offset, aimed);
        }
        candidates.truncate(request.max_runs - runs);
        runs += candidates.len();
        let still_failing = map_ordered(pool, &candidates, |candidate| {
            run_candidate(request.path, candidate, request.seed)
                .is_ok_and(|(failing, _)| failing.contains(&check))
        });
        round += 1;
        match still_failing.iter().position(|&failing| failing) {
            Some(index) => current = candidates.swap_remove(index),
            None => {
                minimal = true;
            }
        }
        (request.on_round)(&Round {
            round,
            runs,
            size: size(&current),
        });
        if minimal {
            break;
        }
    }
    let after = size(&current);
    let converge_within = current.checks.as_ref().and_then(|c| c.converge_within);
    let max_client_uncertainty = current.checks.as_ref().and_then(|c| c.max_client_uncertainty);
    current.checks = Some(raw::Checks {
        must_hold: vec![check_name(check)],
        converge_within,
        max_client_uncertainty,
    });
    current.model = model_path_from(request.path, &current.model, out_dir);
    let header = format!(
        "// Shrunk by consim from {} seed {}: still violates {check}.\n\
         // Faults {} -> {}, requests {} -> {}; {runs} runs{}.\n",
        request.path.display(),
        request.seed,
        before.faults,
        after.faults,
        before.requests,
        after.requests,
        match (minimal, out_of_time) {
            (true, _) => "",
            (false, true) => " (time budget spent before a local minimum)",
            (false, false) => " (run budget spent before a local minimum)",
        }
    );
    Ok(Shrunk {
        check,
        text: header + &to_ron(&current),
        before,
        after,
        runs,
        minimal,
        out_of_time,
    })
}

/// Runs `candidate` on `seed`: the checks that do not hold (violated or not judged), and
/// those of them the scenario requires, both in report order. An error if it is not valid.
fn run_candidate(
    path: &Path,
    candidate: &raw::Scenario,
    seed: u64,
) -> Result<(Vec<CheckKind>, Vec<CheckKind>), String> {
    let scenario: Scenario = load_source(path, &to_ron(candidate)).map_err(|e| e.to_string())?;
    let report = crate::runner::run(&scenario, seed, TraceLevel::Off).report;
    let not_holding = report.not_holding(&CheckKind::ALL).map(|v| v.check).collect();
    let required = scenario.failures(&report).map(|v| v.check).collect();
    Ok((not_holding, required))
}

/// For each time-scheduled crash of `s`, `s` with that crash aimed at the last protocol
/// point its actor reached before it (the nth visit, restarting after the same downtime).
/// Runs `s` once, with a full trace, when it has such a crash.
fn aimed_crashes(path: &Path, s: &raw::Scenario, seed: u64) -> Vec<raw::Scenario> {
    if !s.faults.iter().any(|f| matches!(f, Fault::Crash { .. })) {
        return Vec::new();
    }
    let Ok(scenario) = load_source(path, &to_ron(s)) else {
        return Vec::new();
    };
    let run = crate::runner::run(&scenario, seed, TraceLevel::Full);
    let mut out = Vec::new();
    for (index, fault) in s.faults.iter().enumerate() {
        let Fault::Crash { node, at, restart } = fault else {
            continue;
        };
        let Some(actor) = run.names.iter().position(|n| n == node) else {
            continue;
        };
        let crash_at = crate::sim::Instant::ZERO + at.0;
        let visits: Vec<(&'static str, Option<u64>)> = run
            .trace
            .entries()
            .iter()
            .take_while(|e| e.at <= crash_at)
            .filter(|e| e.kind == crate::sim::TraceKind::Point && e.src.is_some_and(|a| a.index() == actor))
            .map(|e| (e.note, e.tx))
            .collect();
        let Some(&last) = visits.last() else {
            continue;
        };
        // Counted within its transaction when it has one, so fewer requests keep it.
        let tx = last.1;
        let nth = visits.iter().filter(|&&v| v == last).count() as u32;
        let mut next = s.clone();
        next.faults[index] = Fault::CrashAt {
            node: node.clone(),
            point: last.0.to_string(),
            nth,
            tx,
            restart_after: restart.map(|r| {
                crate::duration_text::HumanDuration(Duration::from_us(
                    r.0.as_us().saturating_sub(at.0.as_us()),
                ))
            }),
        };
        out.push(next);
    }
    out
}

/// Every one-step reduction of `s`, most promising first.
fn candidates(s: &raw::Scenario) -> Vec<raw::Scenario> {
    let mut out = Vec::new();
    let mut push = |edit: &dyn Fn(&mut raw::Scenario) -> bool| {
        let mut next = s.clone();
        if edit(&mut next) {
            out.push(next);
        }
    };
    for i in 0..s.faults.len() {
        push(&|n| {
            n.faults.remove(i);
            true
        });
    }
    let requests = s.workload.as_ref().map_or(1, |w| w.requests);
    for fraction in [2, 4] {
        let fewer = requests - requests / fraction;
        push(&|n| set_requests(n, fewer));
    }
    push(&|n| set_requests(n, requests - 1));
    push(&|n| zero(&mut n.workload.as_mut().expect("a system scenario").audit_share));
    push(&|n| zero(&mut n.workload.as_mut().expect("a system scenario").unauthenticated));
    push(&|n| zero(&mut n.network.default.loss));
    push(&|n| zero(&mut n.network.default.duplicate));
    for i in 0..s.network.links.len() {
        push(&|n| {
            n.network.links.remove(i);
            true
        });
    }
    for i in 0..s.faults.len() {
        push(&|n| shorten(&mut n.faults[i]));
        push(&|n| move_earlier(&mut n.faults[i]));
        push(&|n| aim_earlier(&mut n.faults[i]));
    }
    push(&|n| halve(&mut n.network.default.loss));
    push(&|n| halve(&mut n.network.default.duplicate));
    out
}

fn set_requests(s: &mut raw::Scenario, requests: u64) -> bool {
    let workload = s.workload.as_mut().expect("a system scenario");
    if requests == 0 || requests >= workload.requests {
        return false;
    }
    workload.requests = requests;
    true
}

fn zero(p: &mut f64) -> bool {
    let changed = *p != 0.0;
    *p = 0.0;
    changed
}

/// Halves a probability, down to 1e-4 (below that, zero is the next step).
fn halve(p: &mut f64) -> bool {
    if *p < 2e-4 {
        return false;
    }
    *p /= 2.0;
    true
}

/// Halves a fault's window, keeping its start (at least 1ms long).
fn shorten(fault: &mut Fault) -> bool {
    let (start, end) = match fault {
        Fault::Partition { from, until, .. }
        | Fault::OneWay { from, until, .. }
        | Fault::LinkDown { from, until, .. } => (from.0, until),
        Fault::Crash { at, restart, .. } | Fault::CrashInstance { at, restart, .. } => (at.0, restart),
        // An aimed fault's length is measured from the point that sets it off.
        Fault::CrashAt {
            restart_after: lasts, ..
        }
        | Fault::PartitionAt { lasts, .. }
        | Fault::OneWayAt { lasts, .. } => (Duration::ZERO, lasts),
        Fault::ClockDrift { .. }
        | Fault::OnMessage { .. }
        | Fault::Intrude { .. }
        | Fault::IntrudeAt { .. } => {
            return false;
        }
    };
    let Some(end) = end else { return false };
    let length = end.0.as_us().saturating_sub(start.as_us());
    if length <= Duration::from_ms(1).as_us() {
        return false;
    }
    end.0 = Duration::from_us(start.as_us() + length / 2);
    true
}

/// Aims a fault set off by a point at an earlier visit: the first visit of any transaction
/// (so the first request can be the one it hits), else half its count.
fn aim_earlier(fault: &mut Fault) -> bool {
    let (nth, tx) = match fault {
        Fault::CrashAt { nth, tx, .. }
        | Fault::PartitionAt { nth, tx, .. }
        | Fault::OneWayAt { nth, tx, .. } => (nth, tx),
        _ => return false,
    };
    match (tx.is_some(), *nth) {
        (false, 1) => false,
        (true, _) => {
            *tx = None;
            *nth = 1;
            true
        }
        (false, count) => {
            *nth = count / 2;
            true
        }
    }
}

/// Moves a fault to half its start time, window length unchanged, so that fewer requests
/// may be needed to reach it.
fn move_earlier(fault: &mut Fault) -> bool {
    let (start, end) = match fault {
        Fault::Partition { from, until, .. }
        | Fault::OneWay { from, until, .. }
        | Fault::LinkDown { from, until, .. } => (from, until.as_mut()),
        Fault::Crash { at, restart, .. } | Fault::CrashInstance { at, restart, .. } => (at, restart.as_mut()),
        Fault::ClockDrift { at, .. } | Fault::Intrude { at, .. } => (at, None),
        // Set off by the protocol, not the clock.
        Fault::CrashAt { .. }
        | Fault::PartitionAt { .. }
        | Fault::OneWayAt { .. }
        | Fault::OnMessage { .. }
        | Fault::IntrudeAt { .. } => {
            return false;
        }
    };
    let shift = start.0.as_us() / 2;
    if shift < Duration::from_ms(1).as_us() {
        return false;
    }
    start.0 = Duration::from_us(start.0.as_us() - shift);
    if let Some(end) = end {
        end.0 = Duration::from_us(end.0.as_us() - shift);
    }
    true
}

fn size(s: &raw::Scenario) -> Size {
    let fault_time_us = s
        .faults
        .iter()
        .map(|f| match f {
            Fault::Partition { from, until, .. }
            | Fault::OneWay { from, until, .. }
            | Fault::LinkDown { from, until, .. } => {
                until.map_or(0, |u| u.0.as_us().saturating_sub(from.0.as_us()))
            }
            Fault::Crash { at, restart, .. } | Fault::CrashInstance { at, restart, .. } => {
                restart.map_or(0, |r| r.0.as_us().saturating_sub(at.0.as_us()))
            }
            Fault::CrashAt {
                restart_after: lasts, ..
            }
            | Fault::PartitionAt { lasts, .. }
            | Fault::OneWayAt { lasts, .. } => lasts.map_or(0, |d| d.0.as_us()),
            Fault::ClockDrift { .. }
            | Fault::OnMessage { .. }
            | Fault::Intrude { .. }
            | Fault::IntrudeAt { .. } => 0,
        })
        .sum();
    Size {
        faults: s.faults.len(),
        requests: s.workload.as_ref().map_or(0, |w| w.requests),
        fault_time_us,
        loss: s.network.default.loss,
        duplicate: s.network.default.duplicate,
        links: s.network.links.len(),
    }
}

/// The model path as seen from `out_dir`: unchanged when the output sits beside the input,
/// else relative to `out_dir` (so the written file and its model can move together), and
/// absolute only when no relative path exists (another drive).
fn model_path_from(scenario: &Path, model: &str, out_dir: &Path) -> String {
    let source_dir = scenario.parent().unwrap_or(Path::new("."));
    let (source, out) = (source_dir.canonicalize(), out_dir.canonicalize());
    if let (Ok(a), Ok(b)) = (&source, &out)
        && a == b
    {
        return model.to_string();
    }
    let joined = source_dir.join(model);
    let model = joined.canonicalize().unwrap_or(joined);
    match out.ok().and_then(|out| pathdiff::diff_paths(&model, out)) {
        Some(relative) => relative.display().to_string(),
        None => model.display().to_string(),
    }
}

fn check_name(check: CheckKind) -> CheckName {
    match check {
        CheckKind::Atomicity => CheckName::Atomicity,
        CheckKind::NoDoubleEffect => CheckName::NoDoubleEffect,
        CheckKind::Conservation => CheckName::Conservation,
        CheckKind::NoLostWork => CheckName::NoLostWork,
        CheckKind::NoOversell => CheckName::NoOversell,
        CheckKind::Convergence => CheckName::Convergence,
        CheckKind::ClientAnswers => CheckName::ClientAnswers,
        CheckKind::Ownership => CheckName::Ownership,
    }
}

fn names(checks: &[CheckKind]) -> String {
    if checks.is_empty() {
        return "none".into();
    }
    checks.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bundled scenario written back by [`to_ron`] loads and runs exactly as the file.
    #[test]
    fn bundled_scenarios_survive_the_round_trip_through_ron() {
        let mut paths: Vec<_> = std::fs::read_dir("scenarios")
            .expect("run from the repository root")
            .map(|e| e.expect("an entry").path())
            .collect();
        paths.sort();
        for path in paths {
            let source = std::fs::read_to_string(&path).unwrap();
            let raw: raw::Scenario = crate::scenario::validate::parse(&path, &source).unwrap();
            let text = to_ron(&raw);
            let again = load_source(&path, &text)
                .unwrap_or_else(|e| panic!("{}: {:?}\n{text}", path.display(), miette::Report::new(e)));
            let original = crate::scenario::load(&path).unwrap();
            let limits = crate::world::Limits {
                max_events: 20_000,
                ..original.limits
            };
            let run = |s: &Scenario| {
                let s = Scenario { limits, ..s.clone() };
                crate::runner::run(&s, s.seed, TraceLevel::Hash).report.trace_hash
            };
            assert_eq!(run(&original), run(&again), "{}", path.display());
        }
    }
}

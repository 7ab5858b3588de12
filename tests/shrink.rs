//! Shrinking a failing seed: the written scenario is smaller, valid, and still violates the
//! same check when run; the result does not depend on the threads.

use std::path::{Path, PathBuf};

use consim::check::CheckKind;
use consim::scenario::{self};
use consim::seeds::pool;
use consim::shrink::{ShrinkRequest, shrink};

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("consim-shrink-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

#[test]
fn the_dual_write_twin_shrinks_to_a_smaller_scenario_that_still_fails() {
    let path = Path::new("scenarios/twin_dual_write.ron");
    let source = std::fs::read_to_string(path).unwrap();
    let original = scenario::load(path).unwrap();
    let request = ShrinkRequest {
        path,
        source: &source,
        seed: original.seed,
        strategy: None,
        check: None,
        max_runs: 400,
        out_of_time: &|| false,
        on_round: &|_| {},
    };
    let dir = scratch_dir("dual-write");
    let shrunk = shrink(&request, &dir, &pool(Some(2)).unwrap()).expect("the twin fails at its seed");
    assert_eq!(shrunk.check, CheckKind::Atomicity);
    let (before, after) = (shrunk.before, shrunk.after);
    // The aimed twin is small already: one fault, and the first request is the one it hits.
    assert_eq!(after.faults, 1, "{before:?} -> {after:?}");
    assert!(
        after.requests <= 3 && after.requests < before.requests,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.fault_time_us < before.fault_time_us,
        "{before:?} -> {after:?}"
    );
    // Written elsewhere, the model path is relative to where the file is written.
    assert!(shrunk.text.contains("model: \"../"), "{}", shrunk.text);
    // Written out, it loads from anywhere and fails the same check, which it requires.
    let file = dir.join("shrunk.ron");
    std::fs::write(&file, &shrunk.text).unwrap();
    let reloaded = scenario::load(&file).expect("a valid scenario");
    assert_eq!(reloaded.must_hold(), [CheckKind::Atomicity]);
    let report = consim::runner::run(&reloaded, reloaded.seed, consim::sim::TraceLevel::Off).report;
    let failing: Vec<CheckKind> = report
        .not_holding(reloaded.must_hold())
        .map(|v| v.check)
        .collect();
    assert_eq!(failing, [CheckKind::Atomicity], "{}", report.to_table());
    assert!(
        shrunk
            .text
            .starts_with("// Shrunk by consim from scenarios/twin_dual_write.ron")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shrinking_gives_the_same_scenario_on_one_thread_and_on_many() {
    let path = Path::new("scenarios/twin_no_idempotency.ron");
    let source = std::fs::read_to_string(path).unwrap();
    let request = ShrinkRequest {
        path,
        source: &source,
        seed: 3,
        strategy: None,
        check: Some(CheckKind::NoDoubleEffect),
        max_runs: 200,
        out_of_time: &|| false,
        on_round: &|_| {},
    };
    let dir = Path::new("scenarios");
    let one = shrink(&request, dir, &pool(Some(1)).unwrap()).unwrap();
    let many = shrink(&request, dir, &pool(Some(3)).unwrap()).unwrap();
    assert_eq!(one.text, many.text);
    assert_eq!(one.check, CheckKind::NoDoubleEffect);
    assert!(one.after.requests < one.before.requests);
    // Beside its input, the model path stays relative.
    assert!(
        one.text.contains("model: \"../models/bank_transfer.ron\""),
        "{}",
        one.text
    );
}

#[test]
fn a_seed_that_passes_or_a_check_it_does_not_violate_cannot_be_shrunk() {
    let path = Path::new("scenarios/food_happy_path.ron");
    let source = std::fs::read_to_string(path).unwrap();
    let mut request = ShrinkRequest {
        path,
        source: &source,
        seed: 1,
        strategy: None,
        check: None,
        max_runs: 10,
        out_of_time: &|| false,
        on_round: &|_| {},
    };
    let p = pool(Some(1)).unwrap();
    let err = shrink(&request, Path::new("scenarios"), &p).unwrap_err();
    assert!(err.contains("fails no check: nothing to shrink"), "{err}");
    request.check = Some(CheckKind::Atomicity);
    let err = shrink(&request, Path::new("scenarios"), &p).unwrap_err();
    assert!(err.contains("does not fail atomicity"), "{err}");
}

#[test]
fn naming_the_file_s_own_strategy_keeps_its_settings() {
    // The twin's strategy is `SagaChoreographed(idempotent_consumers: false)`: naming the same
    // strategy must keep that setting (and so the failure), naming another replaces it.
    let path = Path::new("scenarios/twin_no_idempotency.ron");
    let source = std::fs::read_to_string(path).unwrap();
    let seed = scenario::load(path).unwrap().seed;
    let mut request = ShrinkRequest {
        path,
        source: &source,
        seed,
        strategy: Some("saga_choreographed"),
        check: None,
        max_runs: 30,
        out_of_time: &|| false,
        on_round: &|_| {},
    };
    let dir = scratch_dir("same-strategy");
    let p = pool(Some(1)).unwrap();
    // With default settings (idempotent consumers) the seed would fail nothing.
    let shrunk = shrink(&request, &dir, &p).expect("still the twin");
    assert!(
        shrunk.text.contains("idempotent_consumers: false"),
        "{}",
        shrunk.text
    );
    // Eventual consistency has the broker the twin's fault aims at, and idempotent consumers.
    request.strategy = Some("eventual");
    let err = shrink(&request, &dir, &p).unwrap_err();
    assert!(err.contains("fails no check"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shrink reports each round as it goes, and a spent time budget ends it with a file that
/// says it may not be minimal.
#[test]
fn a_shrink_reports_its_rounds_and_stops_at_its_time_budget() {
    let path = Path::new("scenarios/twin_dual_write.ron");
    let source = std::fs::read_to_string(path).unwrap();
    let seed = scenario::load(path).unwrap().seed;
    let rounds = std::sync::Mutex::new(Vec::new());
    let on_round = |r: &consim::shrink::Round| rounds.lock().unwrap().push((r.round, r.runs));
    let mut request = ShrinkRequest {
        path,
        source: &source,
        seed,
        strategy: None,
        check: None,
        max_runs: 40,
        out_of_time: &|| false,
        on_round: &on_round,
    };
    let dir = scratch_dir("rounds");
    let p = pool(Some(2)).unwrap();
    let shrunk = shrink(&request, &dir, &p).expect("the twin fails at its seed");
    let rounds = rounds.lock().unwrap().clone();
    assert!(!rounds.is_empty());
    assert_eq!(
        rounds.last().unwrap().1,
        shrunk.runs,
        "the last round's count is the total"
    );
    assert!(rounds.windows(2).all(|w| w[0].0 + 1 == w[1].0), "{rounds:?}");

    request.out_of_time = &|| true;
    request.on_round = &|_| {};
    let out_of_time = shrink(&request, &dir, &p).unwrap();
    assert!(out_of_time.out_of_time && !out_of_time.minimal);
    assert_eq!(out_of_time.runs, 1, "only the confirming run");
    assert!(
        out_of_time.text.contains("time budget spent"),
        "{}",
        out_of_time.text
    );
}

/// Nine crashes timed by the clock shrink to one crash aimed at the point where the dual
/// write breaks, and one request: the explanation, not just a smaller file.
#[test]
fn a_time_scheduled_crash_is_replaced_by_the_point_it_fell_at() {
    let path = Path::new("tests/data/shrink/dual_write_crash_storm.ron");
    let source = std::fs::read_to_string(path).unwrap();
    let request = ShrinkRequest {
        path,
        source: &source,
        seed: 0,
        strategy: None,
        check: None,
        max_runs: 400,
        out_of_time: &|| false,
        on_round: &|_| {},
    };
    let dir = scratch_dir("aimed");
    let shrunk = shrink(&request, &dir, &pool(Some(2)).unwrap()).expect("the crash storm fails at seed 0");
    assert_eq!(shrunk.check, CheckKind::Atomicity);
    assert_eq!((shrunk.before.faults, shrunk.before.requests), (9, 2000));
    assert_eq!(
        (shrunk.after.faults, shrunk.after.requests),
        (1, 1),
        "{}",
        shrunk.text
    );
    assert!(
        shrunk.text.contains("CrashAt(") && shrunk.text.contains("node: \"bank_a\""),
        "{}",
        shrunk.text
    );
    assert!(!shrunk.text.contains("        Crash("), "{}", shrunk.text);
    let _ = std::fs::remove_dir_all(&dir);
}

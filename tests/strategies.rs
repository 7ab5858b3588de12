//! The strategies against the literature: each keeps the guarantees it promises under random
//! faults, behaves as predicted under each bundled fault scenario, and each broken twin is
//! caught by the check it breaks.

use std::path::Path;
use std::sync::Arc;

use consim::assembly::{SystemConfig, actor_names};
use consim::chaos;
use consim::check::{CheckKind, Verdict};
use consim::net::{FaultSpec, LinkSpec};
use consim::scenario::{self, Scenario};
use consim::sim::{Duration, Instant, TraceLevel};
use consim::strategy::{StrategyChoice, registry};
use consim::system::examples::bank_transfer;
use consim::system::history::HistoryEvent;
use consim::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use consim::world::Limits;

/// Seeds per strategy: 200 by default, more with `CONSIM_SEEDS`.
fn seed_count() -> u64 {
    std::env::var("CONSIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

const SAFETY: [CheckKind; 4] = [
    CheckKind::Atomicity,
    CheckKind::NoDoubleEffect,
    CheckKind::Conservation,
    CheckKind::NoOversell,
];

/// The checks among `checks` that do not hold: violated, or not judged (a run stopped with
/// work in flight proves nothing).
fn failed(verdicts: &[Verdict], checks: &[CheckKind]) -> Vec<String> {
    verdicts
        .iter()
        .filter(|v| !v.holds() && checks.contains(&v.check))
        .map(|v| {
            format!(
                "{}: {:?} {:?}",
                v.check,
                v.violations.first().map(|x| &x.detail),
                v.notes
            )
        })
        .collect()
}

/// The checks among `checks` that found a violation.
fn violated(verdicts: &[Verdict], checks: &[CheckKind]) -> Vec<String> {
    verdicts
        .iter()
        .filter(|v| !v.passed && checks.contains(&v.check))
        .map(|v| format!("{}: {:?}", v.check, v.violations.first().map(|x| &x.detail)))
        .collect()
}

/// Strategies that promise safety under crashes and loss but not under partitions: 3PC's
/// termination protocol takes a silent participant for crashed (Skeen's assumption), so each
/// side of a partition can decide alone. Its random-fault runs leave partitions out, and
/// `three_phase_commit_splits_its_decision_under_a_partition` asserts the failure instead.
const UNSAFE_UNDER_PARTITIONS: [&str; 1] = ["three_pc"];

/// 40 requests on `model` under `strategy` with the seed's random fault schedule (without its
/// partition for a strategy that cannot survive one), ready to build.
pub(crate) fn chaotic_config(
    model: consim::system::model::Model,
    strategy: &StrategyChoice,
    seed: u64,
) -> SystemConfig {
    let model = Arc::new(model);
    let targets: Vec<String> = actor_names(&model, &**strategy)
        .into_iter()
        .filter(|n| n != "client" && n != "gateway")
        .collect();
    let mut chaos = chaos::draw(seed, &targets, Duration::from_ms(400));
    if UNSAFE_UNDER_PARTITIONS.contains(&strategy.name()) {
        chaos
            .faults
            .retain(|fault| !matches!(fault, FaultSpec::Partition { .. }));
    }
    let workload = WorkloadSpec {
        request_count: 40,
        arrival: ArrivalProcess::Poisson { rate_per_s: 200.0 },
        keys: KeyPopularity::Zipf { exponent: 1.0 },
        key_count: 20,
        audit_share: consim::net::Probability::NEVER,
    };
    SystemConfig {
        lock_timeout: Duration::from_ms(20),
        broker_ack_timeout: Duration::from_ms(50),
        default_link: LinkSpec {
            loss: chaos.loss,
            duplicate: chaos.duplicate,
            ..LinkSpec::default()
        },
        faults: chaos.faults,
        ..SystemConfig::new(model, strategy.clone(), workload)
    }
}

/// A small bank-transfer run of [`chaotic_config`]: its verdicts, and whether it came to rest.
fn chaotic_run(strategy: &StrategyChoice, seed: u64) -> (Vec<Verdict>, bool) {
    let config = chaotic_config(bank_transfer(), strategy, seed);
    let mut run = config.build(seed, TraceLevel::Hash).expect("a valid chaotic run");
    let outcome = run.world.run(Limits::until(Instant::from_ms(60_000)));
    (run.check(&outcome), outcome.stop.is_quiescent())
}

#[test]
fn every_correct_strategy_keeps_every_safety_check_over_many_seeds_of_random_faults() {
    for strategy in registry::defaults() {
        for seed in 0..seed_count() {
            let (verdicts, quiescent) = chaotic_run(&strategy, seed);
            assert!(
                quiescent,
                "{} seed {seed}: did not come to rest after every fault healed",
                strategy.name()
            );
            let broken = failed(
                &verdicts,
                &[
                    SAFETY.as_slice(),
                    &[CheckKind::NoLostWork, CheckKind::ClientAnswers],
                ]
                .concat(),
            );
            assert!(broken.is_empty(), "{} seed {seed}: {broken:?}", strategy.name());
        }
    }
}

fn load(file: &str) -> Scenario {
    scenario::load(Path::new(file)).unwrap_or_else(|e| panic!("{file}: {e:?}"))
}

fn run_checks(scenario: &Scenario) -> (consim::report::RunReport, Vec<Verdict>) {
    let report = consim::runner::run(scenario, scenario.seed, TraceLevel::Hash).report;
    let checks = report.checks.clone();
    (report, checks)
}

#[test]
fn every_strategy_stays_safe_under_each_bundled_fault_class() {
    let fault_classes = [
        "scenarios/food_lossy.ron",
        "scenarios/food_duplicates.ron",
        "scenarios/food_partition.ron",
        "scenarios/food_crash.ron",
    ];
    for file in fault_classes {
        for name in registry::names() {
            if file.contains("partition") && UNSAFE_UNDER_PARTITIONS.contains(&name) {
                continue;
            }
            let scenario = load(file).with_strategy(name).unwrap();
            let (report, checks) = run_checks(&scenario);
            assert!(report.quiescent, "{file} under {name}: {}", report.stop);
            let broken = failed(&checks, &SAFETY);
            assert!(broken.is_empty(), "{file} under {name}: {broken:?}");
        }
    }
}

/// Runs a 2PC scenario; returns its safety failures and the longest time a participant
/// waited in doubt, µs.
fn longest_doubt(scenario: &Scenario) -> (Vec<String>, u64) {
    let config = scenario.system_config().unwrap();
    let mut run = config.build(scenario.seed, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(scenario.limits);
    let longest = run
        .history()
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::Decided { in_doubt_us, .. } => Some(in_doubt_us),
            _ => None,
        })
        .max()
        .unwrap();
    (failed(&run.check(&outcome), &SAFETY), longest)
}

/// Gray & Lamport: 2PC stays atomic but blocks: with the coordinator down for 500ms,
/// prepared participants wait in doubt, holding their locks, about that long.
#[test]
fn two_phase_commit_blocks_while_its_coordinator_is_down_and_stays_atomic() {
    let scenario = load("scenarios/food_coordinator_crash.ron");
    let (broken, down) = longest_doubt(&scenario);
    assert!(broken.is_empty(), "{broken:?}");
    assert!(
        down >= 400_000,
        "longest in-doubt wait {down}us, expected about the 500ms downtime"
    );
    // Without the crash nobody waits longer than about the vote timeout (a participant that
    // prepared while another never voted): a prepare that would finish after the vote
    // timeout's abort is given up and fenced by that abort.
    let mut calm = scenario.clone();
    calm.faults_mut().clear();
    let (broken, calm_doubt) = longest_doubt(&calm);
    assert!(broken.is_empty(), "{broken:?}");
    assert!(
        calm_doubt < 100_000,
        "{calm_doubt} (about the vote timeout at most)"
    );
}

/// Garcia-Molina & Salem: a saga stays available and ends all-or-compensated after faults
/// heal, whether its orchestrator or its broker crashed.
#[test]
fn sagas_end_all_or_compensated_after_their_coordinating_role_crashes() {
    for file in [
        "scenarios/food_orchestrator_crash.ron",
        "scenarios/food_broker_crash.ron",
    ] {
        let (report, checks) = run_checks(&load(file));
        assert!(report.quiescent, "{file}");
        assert!(
            failed(&checks, &SAFETY).is_empty(),
            "{file}: {:?}",
            failed(&checks, &SAFETY)
        );
        let t = report.transactions.unwrap();
        assert_eq!(t.committed + t.aborted, t.started, "{file}: every saga answered");
    }
}

/// Eventual consistency answers at once and converges once faults heal.
#[test]
fn eventual_consistency_answers_at_once_and_converges() {
    let scenario = load("scenarios/food_duplicates.ron");
    let config = scenario.system_config().unwrap();
    let mut run = config.build(scenario.seed, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(scenario.limits);
    assert!(outcome.stop.is_quiescent());
    assert!(failed(&run.check(&outcome), &SAFETY).is_empty());
    let history = run.history();
    let convergence = consim::strategy::eventual::convergence(&run.facts(&history, &outcome));
    assert_eq!(convergence.diverged, 0, "{convergence:?}");
    assert!(
        convergence.window.mean_us().is_some_and(|us| us > 0),
        "{convergence:?}"
    );
}

/// Cooperative termination: with the coordinator gone for good while decisions are in
/// flight on a lossy network, participants that missed their decision learn it from a peer
/// that applied it; without it they stay in doubt, holding their locks.
#[test]
fn cooperative_termination_lets_participants_finish_without_the_coordinator() {
    let run = |cooperative: bool| {
        let config = consim::strategy::two_pc::Config {
            cooperative_termination: cooperative,
            ..Default::default()
        };
        let workload = WorkloadSpec {
            request_count: 600,
            arrival: ArrivalProcess::Poisson { rate_per_s: 2_000.0 },
            keys: KeyPopularity::Uniform,
            key_count: 100,
            audit_share: consim::net::Probability::NEVER,
        };
        let system = SystemConfig {
            default_link: LinkSpec {
                loss: consim::net::Probability::new("loss", 0.1).unwrap(),
                ..LinkSpec::default()
            },
            faults: vec![consim::net::FaultSpec::Crash {
                node: "coordinator".into(),
                at: Instant::from_ms(150),
                restart_at: None,
            }],
            ..SystemConfig::new(
                Arc::new(bank_transfer()),
                StrategyChoice::new(consim::strategy::two_pc::TwoPc { config }),
                workload,
            )
        };
        let mut built = system.build(7, TraceLevel::Hash).unwrap();
        let outcome = built.world.run(Limits::until(Instant::from_ms(3_000)));
        let in_doubt: usize = built.services().map(|s| s.in_doubt_count()).sum();
        let atomicity = built
            .check(&outcome)
            .into_iter()
            .find(|v| v.check == CheckKind::Atomicity)
            .unwrap();
        (
            in_doubt,
            atomicity.violation_count,
            built.world.counters().get("service.cooperative_answers").copied(),
        )
    };
    let (alone, violations, answers) = run(false);
    assert_eq!((violations, answers), (0, None));
    assert!(
        alone > 0,
        "without cooperative termination someone must be stuck in doubt"
    );
    let (together, violations, answers) = run(true);
    assert_eq!(violations, 0);
    assert!(answers.is_some_and(|n| n > 0), "peers must have answered");
    assert!(
        together < alone,
        "cooperative termination should resolve some doubt: {together} vs {alone}"
    );
}

#[test]
fn async_steps_notice_a_lost_call_later_so_transactions_stay_half_done_longer() {
    // food_lossy_async.ron is food_lossy.ron with `invocation: Async`: same seed, same losses.
    let p99 = |file: &str| {
        let (report, verdicts) = run_checks(&load(file));
        assert!(verdicts.iter().all(|v| v.passed), "{file}: {}", report.to_table());
        let metrics = report.metrics.expect("a system run");
        metrics.inconsistency_window.us.expect("transactions agreed").p99
    };
    let (sync, asynchronous) = (
        p99("scenarios/food_lossy.ron"),
        p99("scenarios/food_lossy_async.ron"),
    );
    assert!(
        sync < 150_000,
        "a lost sync call is retried after 20 ms: p99 {sync} µs"
    );
    assert!(
        asynchronous > 2 * sync,
        "a lost async call waits for the 250 ms resend: p99 {asynchronous} µs against {sync} µs"
    );
}

/// Skeen: 3PC does not block. With the coordinator down for 500 ms, steps that heard nothing
/// take over and finish; nobody waits in doubt much longer than the decision timeout and one
/// backup round, where 2PC's participants wait out the whole downtime.
#[test]
fn three_phase_commit_finishes_where_two_phase_commit_blocks() {
    let three = load("scenarios/three_pc_coordinator_crash.ron");
    let (broken, longest) = longest_doubt(&three);
    assert!(broken.is_empty(), "{broken:?}");
    assert!(longest < 250_000, "3PC in doubt up to {longest}us");
    let two = three.with_strategy("two_pc").unwrap();
    let (broken, blocked) = longest_doubt(&two);
    assert!(broken.is_empty(), "{broken:?}");
    assert!(
        blocked >= 400_000,
        "2PC in doubt up to {blocked}us, about the downtime"
    );
}

/// The textbook result: under a partition each side's backups take the other side for
/// crashed and decide alone, so some orders commit everywhere but at payment. Caught by
/// atomicity and conservation on every seed of the bundled scenario.
#[test]
fn three_phase_commit_splits_its_decision_under_a_partition() {
    let scenario = load("scenarios/three_pc_partition.ron");
    for seed in 0..20 {
        let report = consim::runner::run(&scenario, seed, TraceLevel::Hash).report;
        let broken = violated(&report.checks, &[CheckKind::Atomicity, CheckKind::Conservation]);
        assert_eq!(broken.len(), 2, "seed {seed}: {broken:?}");
    }
}

/// Every strategy runs each bundled model: travel booking (three services, scarce cars) and
/// bank transfer (hot accounts), with every safety check holding.
#[test]
fn every_strategy_runs_the_travel_and_bank_models_safely() {
    for file in ["scenarios/travel_saga.ron", "scenarios/bank_hot_key.ron"] {
        for name in registry::names() {
            let scenario = load(file).with_strategy(name).unwrap();
            let (report, checks) = run_checks(&scenario);
            assert!(report.quiescent, "{file} under {name}: {}", report.stop);
            let t = report.transactions.as_ref().unwrap();
            assert!(
                t.committed + t.accepted > 0,
                "{file} under {name}: nothing committed or accepted"
            );
            let broken = failed(&checks, &SAFETY);
            assert!(broken.is_empty(), "{file} under {name}: {broken:?}");
        }
    }
}

/// A retried request learns how its transaction ended: at 5% loss, the client hears "timed
/// out" for at most half a percent of transactions under every strategy, about what three
/// lost tries predict. (The choreographed saga used to leave 4% so: the last step told the
/// gateway once, and the entry service did not answer retries.)
#[test]
fn at_five_percent_loss_few_answers_are_timed_out_under_every_strategy() {
    let scenario = load("scenarios/food_lossy.ron");
    for name in registry::names() {
        let report = consim::runner::run(
            &scenario.with_strategy(name).unwrap(),
            scenario.seed,
            TraceLevel::Hash,
        )
        .report;
        let t = report.transactions.unwrap();
        let share = t.timed_out as f64 / t.started as f64;
        assert!(
            share <= 0.005,
            "{name}: {} of {} timed out",
            t.timed_out,
            t.started
        );
    }
}

/// The client is told the truth under every strategy, whatever the faults (the random-fault
/// test above holds them to it); a broken twin that tells it "committed" for a transaction
/// some participant aborted, or "aborted" for one whose steps stay applied, is caught.
#[test]
fn the_client_answers_check_catches_the_twins_that_lie_to_the_client() {
    for (file, said) in [
        ("scenarios/twin_2pc_no_log.ron", "the client was told aborted"),
        (
            "scenarios/twin_saga_no_compensation_retries.ron",
            "the client was told aborted",
        ),
        (
            "scenarios/three_pc_partition.ron",
            "the client was told committed",
        ),
    ] {
        let (_, checks) = run_checks(&load(file));
        let verdict = checks
            .iter()
            .find(|v| v.check == CheckKind::ClientAnswers)
            .unwrap();
        assert!(verdict.judged && !verdict.passed, "{file}: {verdict:?}");
        assert!(
            verdict.violations.iter().any(|v| v.detail.starts_with(said)),
            "{file}: {:?}",
            verdict.violations.first()
        );
    }
}

/// Client uncertainty held to a bound: at 5% loss, with `max_client_uncertainty: 0.01`, the
/// choreographed saga as it was (retries unanswered, `answer_retries: false`) fails the
/// client-answers check on every seed, while every strategy as it is passes it.
#[test]
fn the_client_answers_check_fails_the_old_unanswered_retries_and_passes_every_strategy() {
    let bounded = |strategy: &str, seed: u64| {
        let dir = std::env::temp_dir().join(format!(
            "consim-uncertainty-{}-{strategy}-{seed}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let source = std::fs::read_to_string("scenarios/food_lossy.ron")
            .unwrap()
            .replace(
                "\"../models/",
                &format!("\"{}/models/", std::env::current_dir().unwrap().display()),
            )
            .replace(
                "checks: Checks(must_hold: [Atomicity, NoDoubleEffect, Conservation, NoOversell])",
                "checks: Checks(must_hold: [ClientAnswers], max_client_uncertainty: 0.01)",
            );
        let scenario = scenario::load_source(&dir.join("bounded.ron"), &source).unwrap();
        let scenario = match strategy {
            "old" => {
                let mut s = scenario.with_strategy("saga_choreographed").unwrap();
                let old = consim::strategy::saga_choreographed::Config {
                    answer_retries: false,
                    ..Default::default()
                };
                s.system_config_mut().unwrap().strategy =
                    StrategyChoice::new(consim::strategy::saga_choreographed::SagaChoreographed {
                        config: old,
                    });
                s
            }
            name => scenario.with_strategy(name).unwrap(),
        };
        let report = consim::runner::run(&scenario, seed, TraceLevel::Hash).report;
        let _ = std::fs::remove_dir_all(&dir);
        report
            .checks
            .into_iter()
            .find(|v| v.check == CheckKind::ClientAnswers)
            .unwrap()
    };
    for seed in 0..3 {
        let old = bounded("old", seed);
        assert!(
            !old.passed,
            "seed {seed}: the old behaviour passed: {:?}",
            old.notes
        );
        assert!(
            old.violations[0].detail.starts_with("client uncertainty"),
            "{:?}",
            old.violations
        );
        for name in registry::names() {
            let verdict = bounded(name, seed);
            assert!(
                verdict.holds(),
                "{name} seed {seed}: {:?} {:?}",
                verdict.violations.first(),
                verdict.notes
            );
        }
    }
}

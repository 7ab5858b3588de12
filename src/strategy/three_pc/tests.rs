//! 3PC end to end: its costs, finishing without a crashed coordinator, atomicity under
//! crashes and loss, and the split decision a partition causes.

use super::{Config, ThreePc};
use crate::assembly::SystemConfig;
use crate::net::{FaultSpec, LatencyDist, LinkSpec, Probability};
use crate::sim::{Duration, Instant, TraceLevel};
use crate::strategy::testing::{self, broken_checks, coordinator_messages, crash, decisions};
use crate::system::examples::{bank_transfer, food_delivery, travel_booking};
use crate::system::model::Model;
use crate::system::msg::CallMode;
use crate::world::Limits;

fn three_pc() -> crate::strategy::StrategyChoice {
    crate::strategy::StrategyChoice::new(ThreePc {
        config: Config::default(),
    })
}

fn system(model: Model, requests: u64, link: LinkSpec, faults: Vec<FaultSpec>) -> SystemConfig {
    testing::system(model, three_pc(), requests, link, faults)
}

fn one_transaction(model: Model, faults: Vec<FaultSpec>) -> SystemConfig {
    testing::one_transaction(model, three_pc(), faults)
}

#[test]
fn a_commit_costs_six_n_messages_and_three_n_plus_one_forced_writes() {
    for model in [bank_transfer(), travel_booking(), food_delivery()] {
        let n = model.steps.len() as u64;
        let mut run = one_transaction(model, Vec::new())
            .build(7, TraceLevel::Full)
            .unwrap();
        let outcome = run.world.run(Limits::default());
        assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
        assert_eq!(
            decisions(&run, CallMode::Prepare).iter().filter(|d| d.0).count() as u64,
            n,
            "all {n} commit"
        );

        let between = coordinator_messages(&run);
        assert_eq!(between, 6 * n, "CanCommit, vote, PreCommit, ack, DoCommit, ack");

        let services: u64 = run.services().map(|s| s.db().stats().forced_writes).sum();
        let own = run
            .world
            .counters()
            .get(super::coordinator::FORCED_WRITES)
            .copied();
        assert_eq!(services, 3 * n, "N prepare, N pre-commit and N commit records");
        assert_eq!(own, Some(1), "the coordinator's commit record");
    }
}

#[test]
fn participants_commit_without_a_coordinator_that_crashed_after_pre_commit() {
    // Votes are in at 4.0 ms and both PreCommits accepted at 5.6 ms; the coordinator dies
    // at 6.0 ms, before its commit record is durable, for 600 ms.
    let mut run = one_transaction(bank_transfer(), vec![crash("coordinator", 6_000, 600)])
        .build(1, TraceLevel::Hash)
        .unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    assert!(
        broken_checks(&run, &outcome).is_empty(),
        "{:?}",
        broken_checks(&run, &outcome)
    );
    let decided = decisions(&run, CallMode::Prepare);
    assert_eq!(decided.len(), 2, "{decided:?}");
    assert!(decided.iter().all(|(commit, _)| *commit), "{decided:?}");
    let longest = decided.iter().map(|d| d.1).max().unwrap();
    assert!(
        longest < 250_000,
        "in doubt {longest}us: about the decision timeout and a backup's round, not the 600ms downtime"
    );
}

#[test]
fn participants_abort_without_a_coordinator_that_crashed_before_pre_commit() {
    // The coordinator dies at 3 ms, with the votes on their way back: nobody pre-committed.
    let mut run = one_transaction(bank_transfer(), vec![crash("coordinator", 3_000, 600)])
        .build(1, TraceLevel::Hash)
        .unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    assert!(
        broken_checks(&run, &outcome).is_empty(),
        "{:?}",
        broken_checks(&run, &outcome)
    );
    let decided = decisions(&run, CallMode::Prepare);
    assert_eq!(decided.len(), 2, "{decided:?}");
    assert!(decided.iter().all(|(commit, _)| !commit), "{decided:?}");
}

#[test]
fn every_transaction_is_all_or_nothing_under_loss_duplicates_and_crashes() {
    let lossy = LinkSpec {
        latency: LatencyDist::Uniform {
            min_us: 500,
            max_us: 5_000,
        },
        loss: Probability::ratio("loss", 5, 100).unwrap(),
        duplicate: Probability::ratio("duplicate", 3, 100).unwrap(),
        fifo: false,
    };
    for seed in 1..=30 {
        let faults = vec![
            crash("coordinator", 20_000 + seed * 1_000, 300),
            crash("bank_b", 60_000 + seed * 500, 150),
            crash("bank_a", 100_000, 130),
        ];
        let mut run = system(bank_transfer(), 80, lossy, faults)
            .build(seed, TraceLevel::Hash)
            .unwrap();
        let outcome = run.world.run(Limits::default());
        assert!(outcome.stop.is_quiescent(), "seed {seed}: {}", outcome.stop);
        let broken = broken_checks(&run, &outcome);
        assert!(broken.is_empty(), "seed {seed}: {broken:?}");
    }
}

#[test]
fn a_partition_after_pre_commit_splits_the_decision_and_atomicity_catches_it() {
    // bank_b is cut off from everyone from 3.8 ms, after its vote left (3.7 ms; the network
    // delivers what was sent before a cut) and before the coordinator sends PreCommit (4.0
    // ms): bank_a pre-committed, bank_b uncertain. Each side's backup takes the other for
    // crashed: bank_a commits, bank_b aborts.
    let cut = FaultSpec::Partition {
        groups: vec![
            vec!["bank_b".into()],
            vec![crate::net::fault::EVERYONE_ELSE.into()],
        ],
        from: Instant::from_us(3_800),
        until: Some(Instant::from_ms(1_000)),
    };
    let mut run = one_transaction(bank_transfer(), vec![cut])
        .build(1, TraceLevel::Hash)
        .unwrap();
    let outcome = run.world.run(Limits::default());
    let decided = decisions(&run, CallMode::Prepare);
    assert_eq!(decided.len(), 2, "{decided:?}");
    assert_ne!(
        decided[0].0, decided[1].0,
        "one side commits, the other aborts: {decided:?}"
    );
    let broken: Vec<String> = broken_checks(&run, &outcome)
        .iter()
        .map(|v| v.check.to_string())
        .collect();
    assert!(broken.contains(&"atomicity".to_string()), "{broken:?}");
}

#[test]
fn config_validation_names_every_timeout_that_cannot_work() {
    let config = Config {
        decision_timeout: Duration::from_ms(10),
        backup_window: Duration::from_ms(5),
        ..Config::default()
    };
    let problems = config.validate();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("decision_timeout"));
    assert!(problems[1].starts_with("backup_window"));
}

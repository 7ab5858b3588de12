//! TCC end to end: its costs, holds that end whatever the coordinator does, and atomicity
//! under every fault class.

use super::{Config, Tcc, TccCoordinator};
use crate::assembly::{SystemConfig, SystemWorld};
use crate::net::{FaultSpec, LatencyDist, LinkSpec, Probability};
use crate::sim::{Duration, Instant, TraceLevel};
use crate::strategy::testing::{self, broken_checks, coordinator_messages, crash, decisions};
use crate::system::examples::{bank_transfer, food_delivery, travel_booking};
use crate::system::history::HistoryEvent;
use crate::system::model::Model;
use crate::system::msg::{CallMode, GlobalTxId, RequestOutcome};
use crate::workload::ArrivalProcess;
use crate::world::Limits;

fn system(model: Model, requests: u64, link: LinkSpec, faults: Vec<FaultSpec>) -> SystemConfig {
    let tcc = crate::strategy::StrategyChoice::new(Tcc {
        config: Config::default(),
    });
    testing::system(model, tcc, requests, link, faults)
}

fn coordinator(run: &SystemWorld) -> &TccCoordinator {
    run.world
        .actor::<TccCoordinator>(run.wiring.extras[0])
        .expect("the coordinator sits in the first extra slot")
}

/// Holds left in every service's database.
fn holds_left(run: &SystemWorld) -> usize {
    run.services().map(|s| s.db().holds().count()).sum()
}

#[test]
fn a_confirm_costs_four_n_messages_and_two_n_plus_one_forced_writes() {
    for model in [bank_transfer(), travel_booking(), food_delivery()] {
        let n = model.steps.len() as u64;
        let mut config = system(model, 1, LinkSpec::reliable(300), Vec::new());
        config.workload.arrival = ArrivalProcess::Constant {
            interval: Duration::from_ms(1),
        };
        let mut run = config.build(7, TraceLevel::Full).unwrap();
        let outcome = run.world.run(Limits::default());
        assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
        assert_eq!(
            decisions(&run, CallMode::Reserve).iter().filter(|h| h.0).count() as u64,
            n,
            "all {n} confirmed"
        );

        let between = coordinator_messages(&run);
        assert_eq!(between, 4 * n, "N reserves, N votes, N confirms, N acks");

        let services: u64 = run.services().map(|s| s.db().stats().forced_writes).sum();
        let own = run
            .world
            .counters()
            .get(super::coordinator::FORCED_WRITES)
            .copied();
        assert_eq!(services, 2 * n, "N hold commits and N confirm commits");
        assert_eq!(own, Some(1), "the coordinator forces its confirm record once");
        assert_eq!(holds_left(&run), 0);
    }
}

#[test]
fn a_coordinator_that_crashes_before_deciding_has_every_hold_cancelled_by_its_timeout() {
    // The coordinator dies right after sending the tries, and stays down past the first
    // reservation timeout: the holds ask until it is back, and it presumes cancel.
    let faults = vec![crash("coordinator", 1_800, 400)];
    let mut config = system(bank_transfer(), 1, LinkSpec::reliable(300), faults);
    config.workload.arrival = ArrivalProcess::Constant {
        interval: Duration::from_ms(1),
    };
    config.retries = 0;
    let mut run = config.build(1, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    assert!(
        broken_checks(&run, &outcome).is_empty(),
        "{:?}",
        broken_checks(&run, &outcome)
    );
    let ends = decisions(&run, CallMode::Reserve);
    assert_eq!(ends.len(), 2, "both holds ended: {ends:?}");
    assert!(
        ends.iter()
            .all(|(confirmed, held)| !confirmed && *held >= 390_000),
        "{ends:?}"
    );
    assert_eq!(holds_left(&run), 0);
    let decision = coordinator(&run)
        .logged(GlobalTxId(0))
        .expect("the cancel is remembered");
    assert!(!decision.confirm);
}

#[test]
fn a_coordinator_that_crashes_after_logging_a_confirm_sends_it_again_on_recovery() {
    // Tries answer by about 2.3ms; the confirm record is durable 1ms later. Crash just after.
    let faults = vec![crash("coordinator", 3_500, 100)];
    let mut config = system(bank_transfer(), 1, LinkSpec::reliable(300), faults);
    config.workload.arrival = ArrivalProcess::Constant {
        interval: Duration::from_ms(1),
    };
    let mut run = config.build(1, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    assert!(
        broken_checks(&run, &outcome).is_empty(),
        "{:?}",
        broken_checks(&run, &outcome)
    );
    let ends = decisions(&run, CallMode::Reserve);
    assert_eq!(ends.len(), 2, "{ends:?}");
    assert!(ends.iter().all(|(confirmed, _)| *confirmed), "{ends:?}");
    assert_eq!(holds_left(&run), 0);
}

#[test]
fn holds_keep_a_hot_account_within_its_bounds_without_locking_it_across_the_network() {
    // Every request debits the same few accounts: the holds, not locks, keep them >= 0.
    let mut config = system(bank_transfer(), 300, LinkSpec::reliable(2_000), Vec::new());
    config.workload.key_count = 2;
    let mut run = config.build(3, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    assert!(
        broken_checks(&run, &outcome).is_empty(),
        "{:?}",
        broken_checks(&run, &outcome)
    );
    let answers: Vec<RequestOutcome> = run
        .history()
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::ClientAnswered { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    let aborted = answers.iter().filter(|o| **o == RequestOutcome::Aborted).count();
    assert!(aborted > 0, "the hot accounts ran dry: some tries were refused");
    assert_eq!(holds_left(&run), 0);
}

#[test]
fn every_transaction_is_all_or_nothing_under_loss_duplicates_partitions_and_crashes() {
    let lossy = LinkSpec {
        latency: LatencyDist::Uniform {
            min_us: 500,
            max_us: 5_000,
        },
        loss: Probability::ratio("loss", 5, 100).unwrap(),
        duplicate: Probability::ratio("duplicate", 3, 100).unwrap(),
        fifo: false,
    };
    for seed in 1..=20 {
        let faults = vec![
            crash("coordinator", 40_000 + seed * 1_000, 300),
            crash("bank_b", 80_000, 200),
            FaultSpec::Partition {
                groups: vec![vec!["bank_a".into()], vec!["coordinator".into(), "bank_b".into()]],
                from: Instant::from_ms(20),
                until: Some(Instant::from_ms(120)),
            },
        ];
        let config = system(bank_transfer(), 60, lossy, faults);
        let mut run = config.build(seed, TraceLevel::Hash).unwrap();
        let outcome = run.world.run(Limits::default());
        assert!(outcome.stop.is_quiescent(), "seed {seed}: {}", outcome.stop);
        let broken = broken_checks(&run, &outcome);
        assert!(broken.is_empty(), "seed {seed}: {broken:?}");
        assert_eq!(holds_left(&run), 0, "seed {seed}: every hold ended");
    }
}

#[test]
fn config_validation_refuses_a_reservation_timeout_within_the_try_timeout() {
    let config = Config {
        try_timeout: Duration::ZERO,
        reservation_timeout: Duration::ZERO,
        ..Config::default()
    };
    let problems = config.validate();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("try_timeout"));
    assert!(problems[1].starts_with("reservation_timeout"));
}

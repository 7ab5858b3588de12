//! The choreographed saga end to end: assembled systems, run to rest, judged by the checks.

use super::testing::{
    HORIZON, clean_link, crash, duplicating_link, lossy_link, random_faults, run, scarce_couriers, seeds,
    system,
};
use super::{Config, SagaChoreographed};
use crate::check::CheckKind;
use crate::sim::{Duration, TraceLevel};
use crate::store::{Bounds, TableId};
use crate::strategy::Strategy;
use crate::system::examples::bank_transfer;
use crate::system::model::{Action, KeyRef, Model, ServiceId, StepSpec};
use crate::system::msg::RequestOutcome;
use crate::world::Limits;

fn saga(config: Config) -> crate::strategy::StrategyChoice {
    crate::strategy::StrategyChoice::new(SagaChoreographed::new(config))
}

#[test]
fn the_default_config_is_the_outbox_with_idempotent_consumers() {
    let config = Config::default();
    assert_eq!(config.relay_interval, Duration::from_ms(10));
    assert!(config.idempotent_consumers && !config.dual_write);
    assert!(config.validate().is_empty());
    let strategy = SagaChoreographed::default();
    assert_eq!(strategy.name(), "saga_choreographed");
    assert!(strategy.uses_broker());
}

#[test]
fn validate_names_the_field_of_every_problem() {
    for interval in [Duration::ZERO, Duration::from_secs(3_600)] {
        let problems = Config {
            relay_interval: interval,
            ..Config::default()
        }
        .validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("relay_interval: "), "{problems:?}");
    }
}

#[test]
fn a_fault_free_transfer_commits_or_aborts_every_request_and_conserves_money() {
    let model = bank_transfer();
    let finished = run(
        &system(model.clone(), saga(Config::default()), clean_link(), Vec::new()),
        1,
    );
    finished.assert_consistent(&model);
    let (committed, aborted) = (
        finished.count(RequestOutcome::Committed),
        finished.count(RequestOutcome::Aborted),
    );
    assert_eq!(
        committed + aborted,
        super::testing::REQUESTS as usize,
        "{:?}",
        finished.outcomes()
    );
    assert!(
        committed > 50 && aborted > 0,
        "{committed} committed, {aborted} aborted"
    );
}

#[test]
fn a_business_failure_downstream_compensates_the_earlier_steps_in_reverse_order() {
    // One courier per zone: most orders are created, charged and given a dish, then find no
    // courier at the last step, so the dish, the charge and the order are undone, in that order.
    let model = scarce_couriers(1);
    let finished = run(
        &system(model.clone(), saga(Config::default()), clean_link(), Vec::new()),
        3,
    );
    finished.assert_consistent(&model);
    let orders = finished.compensation_orders();
    assert!(orders.len() > 50, "{} compensated", orders.len());
    for (gtx, order) in &orders {
        assert_eq!(order, &[2, 1, 0], "{gtx:?} compensated out of order");
    }
    assert_eq!(finished.count(RequestOutcome::Aborted), orders.len());
    assert_eq!(
        finished.count(RequestOutcome::Committed),
        20,
        "one order per courier"
    );
}

/// Two banks; steps on bank_a, bank_a, bank_b, bank_a: two consecutive steps share a
/// service, and the failing last step's service also owns the first.
fn shared_service_model() -> Model {
    let mut model = bank_transfer();
    let leg = |name: &str, service: u16, key: KeyRef, delta: i64| StepSpec {
        name: name.into(),
        service: ServiceId(service),
        action: Action::Add {
            table: TableId(0),
            key,
            delta,
            bounds: Bounds::at_least(0),
        },
        compensation: Action::Add {
            table: TableId(0),
            key,
            delta: -delta,
            bounds: Bounds::ANY,
        },
    };
    model.steps = vec![
        leg("debit", 0, KeyRef::Request, -100),
        leg("fee", 0, KeyRef::Other, -50),
        leg("credit", 1, KeyRef::Request, 150),
        leg("tax", 0, KeyRef::Request, -300),
    ];
    model
}

#[test]
fn a_service_owning_several_steps_runs_and_compensates_each_of_them() {
    let model = shared_service_model();
    let finished = run(
        &system(model.clone(), saga(Config::default()), clean_link(), Vec::new()),
        2,
    );
    finished.assert_consistent(&model);
    let orders = finished.compensation_orders();
    assert!(
        orders.values().any(|order| order == &[2, 1, 0]),
        "some tax was refused after the credit: {orders:?}"
    );
    assert!(
        orders
            .values()
            .all(|order| [&[0][..], &[1, 0], &[2, 1, 0]].contains(&order.as_slice())),
        "{orders:?}"
    );
    assert!(finished.count(RequestOutcome::Committed) > 0);
}

/// Known gap, outside this module: a service acknowledges a delivery whose local call ended
/// `Busy` (lock timeout), so the participant's retry lives only in memory and a crash of that
/// service before the retry commits loses the step. With 1,000 seeds this shows on about 0.4%
/// of them (e.g. seed 36 of bank_transfer); once `Service::finish` stops acknowledging `Busy`
/// deliveries, none do. The default 30 seeds do not reach it.
#[test]
fn under_loss_duplication_a_partition_and_crashes_every_saga_ends_all_or_compensated() {
    let mut totals = [0usize; 3];
    for model in [bank_transfer(), scarce_couriers(3)] {
        for seed in seeds() {
            let faults = random_faults(&model, seed);
            let finished = run(
                &system(model.clone(), saga(Config::default()), lossy_link(), faults),
                seed,
            );
            finished.assert_consistent(&model);
            totals[0] += finished.count(RequestOutcome::Committed);
            totals[1] += finished.count(RequestOutcome::Aborted);
            totals[2] += finished.count(RequestOutcome::TimedOut);
        }
    }
    let [committed, aborted, timed_out] = totals;
    eprintln!("saga under faults: {committed} committed, {aborted} aborted, {timed_out} timed out");
    assert!(committed > 0 && aborted > 0);
}

#[test]
fn without_idempotent_consumers_a_duplicate_applies_a_step_twice_and_is_caught() {
    let model = bank_transfer();
    let twin = Config {
        idempotent_consumers: false,
        ..Config::default()
    };
    let caught: Vec<u64> = seeds()
        .into_iter()
        .take(10)
        .filter(|seed| {
            let finished = run(
                &system(model.clone(), saga(twin), duplicating_link(2), Vec::new()),
                *seed,
            );
            assert!(finished.settled, "seed {seed}: {}", finished.stop);
            finished
                .verdicts(&model)
                .iter()
                .any(|v| v.check == CheckKind::NoDoubleEffect && !v.passed)
        })
        .collect();
    eprintln!("idempotency twin caught on seeds {caught:?}");
    assert!(!caught.is_empty(), "duplicates never applied twice");
}

#[test]
fn with_a_dual_write_a_crash_between_commit_and_publish_leaves_a_saga_half_applied() {
    let model = bank_transfer();
    let twin = Config {
        dual_write: true,
        ..Config::default()
    };
    let mut caught = Vec::new();
    for seed in seeds().into_iter().take(10) {
        let faults = vec![crash("bank_a", 20 + seed * 5, 20)];
        let finished = run(
            &system(model.clone(), saga(twin), clean_link(), faults.clone()),
            seed,
        );
        assert!(
            finished.stop.is_quiescent(),
            "a dual write arms no relay: {}",
            finished.stop
        );
        if finished
            .failures(&model)
            .iter()
            .any(|f| f.contains("half applied"))
        {
            caught.push(seed);
        }
        // The outbox survives the same crash.
        let outbox = run(
            &system(model.clone(), saga(Config::default()), clean_link(), faults),
            seed,
        );
        outbox.assert_consistent(&model);
    }
    eprintln!("dual-write twin caught on seeds {caught:?}");
    assert!(!caught.is_empty(), "no event was lost to a crash");
}

#[test]
fn a_run_is_determined_by_its_seed() {
    let model = bank_transfer();
    let config = system(
        model.clone(),
        saga(Config::default()),
        lossy_link(),
        random_faults(&model, 4),
    );
    let hash = |seed| {
        let mut system = config.build(seed, TraceLevel::Hash).expect("valid");
        system.world.run(Limits::until(HORIZON)).trace_hash
    };
    assert_eq!(hash(4), hash(4));
    assert_ne!(hash(4), hash(5));
}

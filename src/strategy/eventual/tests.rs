//! Eventual consistency end to end: answered at once, converged later, measured.

use super::{Config, Eventual, convergence, read_model};
use crate::check::ReadModel;
use crate::sim::Duration;
use crate::strategy::Strategy;
use crate::strategy::saga_choreographed::testing::{
    Finished, REQUESTS, clean_link, crash, duplicating_link, lossy_link, random_faults, run, scarce_couriers,
    seeds, system,
};
use crate::system::examples::bank_transfer;
use crate::system::history::HistoryEvent;
use crate::system::model::Model;
use crate::system::msg::RequestOutcome;

fn eventual(config: Config) -> crate::strategy::StrategyChoice {
    crate::strategy::StrategyChoice::new(Eventual::new(config))
}

/// Mean latency of the answers the gateway gave with `outcome`, µs.
fn mean_latency_us(finished: &Finished, wanted: RequestOutcome) -> u64 {
    let latencies: Vec<u64> = finished
        .history
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::RequestEnded {
                outcome, latency_us, ..
            } if outcome == wanted => Some(latency_us),
            _ => None,
        })
        .collect();
    assert!(!latencies.is_empty(), "no {wanted:?} answers");
    latencies.iter().sum::<u64>() / latencies.len() as u64
}

/// How the read model of `finished` kept up.
fn view_of(finished: &Finished, model: &Model) -> ReadModel {
    ReadModel::of(&read_model(&finished.history, &finished.facts(model)))
}

/// Asserts `finished` converged: consistent, nothing diverged, the read model equal to the
/// services; returns the mean inconsistency window.
fn assert_converged(finished: &Finished, model: &Model) -> u64 {
    finished.assert_consistent(model);
    let converged = convergence(&finished.facts(model));
    assert_eq!(converged.diverged, 0, "seed {}: {converged:?}", finished.seed);
    let view = view_of(finished, model);
    assert_eq!(
        (view.missed, view.mismatches),
        (0, 0),
        "seed {}: {view:?}",
        finished.seed
    );
    converged.window.mean_us().expect("some transaction converged")
}

#[test]
fn the_default_config_is_the_outbox_with_idempotent_consumers_and_a_read_model() {
    let config = Config::default();
    assert_eq!(config.relay_interval, Duration::from_ms(10));
    assert!(config.idempotent_consumers && !config.dual_write && config.read_model);
    assert!(config.validate().is_empty());
    let problems = Config {
        relay_interval: Duration::ZERO,
        ..config
    }
    .validate();
    assert!(
        problems.len() == 1 && problems[0].starts_with("relay_interval: "),
        "{problems:?}"
    );
    assert_eq!(Eventual::default().name(), "eventual");
}

#[test]
fn the_client_is_answered_accepted_as_soon_as_the_first_step_commits() {
    let model = bank_transfer();
    let finished = run(
        &system(
            model.clone(),
            eventual(Config::default()),
            clean_link(),
            Vec::new(),
        ),
        1,
    );
    let window_us = assert_converged(&finished, &model);
    let (accepted, aborted) = (
        finished.count(RequestOutcome::Accepted),
        finished.count(RequestOutcome::Aborted),
    );
    assert_eq!(accepted + aborted, REQUESTS as usize, "{:?}", finished.outcomes());
    assert!(aborted > 0, "some debits hit the floor and are refused at once");
    let answered_us = mean_latency_us(&finished, RequestOutcome::Accepted);
    assert!(
        answered_us < window_us,
        "answered in {answered_us}us, converged in {window_us}us"
    );
    assert_eq!(
        convergence(&finished.facts(&model)).completed,
        accepted,
        "a credit never fails"
    );
}

#[test]
fn a_downstream_failure_is_reconciled_by_compensating_events() {
    let model = scarce_couriers(1);
    let finished = run(
        &system(
            model.clone(),
            eventual(Config::default()),
            clean_link(),
            Vec::new(),
        ),
        3,
    );
    assert_converged(&finished, &model);
    let converged = convergence(&finished.facts(&model));
    assert_eq!(converged.completed, 20, "one order per courier");
    assert!(converged.compensated > 50, "{converged:?}");
    assert_eq!(
        finished.count(RequestOutcome::Accepted),
        converged.accepted,
        "every order was accepted, even those undone later"
    );
    for order in finished.compensation_orders().values() {
        assert_eq!(order, &[2, 1, 0]);
    }
}

#[test]
fn the_read_model_lags_the_owning_services_then_equals_them() {
    let model = scarce_couriers(1);
    let finished = run(
        &system(
            model.clone(),
            eventual(Config::default()),
            clean_link(),
            Vec::new(),
        ),
        5,
    );
    let view = view_of(&finished, &model);
    assert!(
        view.rows > 0 && view.mismatches == 0 && view.missed == 0,
        "{view:?}"
    );
    assert!(view.lag.mean_us().is_some_and(|lag| lag > 0), "{view:?}");

    let blind = Config {
        read_model: false,
        ..Config::default()
    };
    let finished = run(
        &system(model.clone(), eventual(blind), clean_link(), Vec::new()),
        5,
    );
    finished.assert_consistent(&model);
    let view = view_of(&finished, &model);
    // Only the events the entry acts on (`Compensated(1)`, to undo step 0) reach it.
    assert!(
        view.missed as u64 > view.lag.count && view.mismatches > 0,
        "no view: {view:?}"
    );
}

/// The same known gap as the saga's fault test (a `Busy` delivery is acknowledged, then its
/// in-memory retry dies in a crash) shows on about 0.3% of seeds beyond the default 30.
#[test]
fn after_faults_heal_every_accepted_transaction_converges_and_money_is_conserved() {
    for model in [bank_transfer(), scarce_couriers(3)] {
        let (mut windows, mut lags) = (Vec::new(), Vec::new());
        for seed in seeds() {
            let faults = random_faults(&model, seed);
            let finished = run(
                &system(model.clone(), eventual(Config::default()), lossy_link(), faults),
                seed,
            );
            windows.push(assert_converged(&finished, &model));
            lags.extend(view_of(&finished, &model).lag.mean_us());
        }
        let mean = |values: &[u64]| values.iter().sum::<u64>() / values.len() as u64;
        eprintln!(
            "eventual {} under faults: mean inconsistency window {}us (max of means {}us), read-model lag {}us",
            model.name,
            mean(&windows),
            windows.iter().max().expect("seeds"),
            mean(&lags)
        );
        assert!(windows.iter().all(|w| *w > 0));
    }
}

#[test]
fn without_idempotent_consumers_duplicates_overshoot_and_are_caught() {
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
                &system(model.clone(), eventual(twin), duplicating_link(2), Vec::new()),
                *seed,
            );
            let diverged = convergence(&finished.facts(&model)).diverged > 0;
            let failed = !finished.failures(&model).is_empty();
            assert_eq!(diverged, failed, "seed {seed}: the measure and the checks agree");
            diverged
        })
        .collect();
    eprintln!("eventual idempotency twin caught on seeds {caught:?}");
    assert!(!caught.is_empty());
}

#[test]
fn with_a_dual_write_a_crash_loses_an_event_and_a_replica_never_converges() {
    let model = bank_transfer();
    let twin = Config {
        dual_write: true,
        ..Config::default()
    };
    let caught: Vec<u64> = seeds()
        .into_iter()
        .take(10)
        .filter(|seed| {
            let faults = vec![crash("bank_a", 20 + seed * 5, 20)];
            let finished = run(
                &system(model.clone(), eventual(twin), clean_link(), faults),
                *seed,
            );
            convergence(&finished.facts(&model)).diverged > 0
        })
        .collect();
    eprintln!("eventual dual-write twin caught on seeds {caught:?}");
    assert!(!caught.is_empty());
}

#[test]
fn a_read_model_that_saw_no_change_has_no_lag_rather_than_a_zero_one() {
    let view = ReadModel::of(&crate::check::ReadModelFacts::default());
    assert_eq!(
        (view.lag.count, view.lag.max_us, view.lag.mean_us()),
        (0, None, None)
    );
}

//! Scaled-out services: payment runs three instances over its one database, and one of them
//! crashes for half a second. The others take its calls, the database stays up, and every
//! check holds; balanced by key, its customers' calls wait for it instead.

use std::path::Path;
use std::sync::Arc;

use consim::report::RunReport;
use consim::scenario::Scenario;
use consim::system::model::Balance;

const SEEDS: u64 = 50;

fn instance_crash(balance: Balance) -> Scenario {
    let mut scenario = consim::scenario::load(Path::new("scenarios/food_instance_crash.ron"))
        .expect("the bundled scenario loads");
    let config = scenario.system_config_mut().expect("a system");
    let mut model = (*config.model).clone();
    for service in &mut model.services {
        service.balance = balance;
    }
    config.model = Arc::new(model);
    scenario
}

use crate::support::{failed_checks as failed, report as run};

fn counter(report: &RunReport, name: &str) -> u64 {
    report.counters.get(name).copied().unwrap_or(0)
}

#[test]
fn a_crashed_instance_loses_only_its_calls_and_the_others_carry_on() {
    let scenario = instance_crash(Balance::RoundRobin);
    let mut lost = 0;
    for seed in 0..SEEDS {
        let report = run(&scenario, seed);
        let failed = failed(&report);
        assert!(failed.is_empty(), "seed {seed}: {failed:?}");
        assert_eq!(counter(&report, "service.instance_crashes"), 1, "seed {seed}");
        assert_eq!(counter(&report, "service.instance_restarts"), 1, "seed {seed}");
        assert_eq!(
            counter(&report, "service.calls_without_instance"),
            0,
            "seed {seed}: round robin skips it"
        );
        let t = report.transactions.as_ref().expect("a system run");
        assert_eq!(t.committed, 2_000, "seed {seed}: every order went through");
        // The crashed instance was idle for half a second: it worked least, on every seed.
        let load = &report.metrics.as_ref().expect("metrics").load;
        let busy: Vec<f64> = ["payment#0", "payment#1", "payment#2"]
            .iter()
            .map(|name| {
                load.iter()
                    .find(|l| l.service == *name)
                    .expect("a row per instance")
                    .utilisation
            })
            .collect();
        assert!(busy[1] < busy[0] && busy[1] < busy[2], "seed {seed}: {busy:?}");
        lost += counter(&report, "service.calls_lost_with_instance");
    }
    assert!(
        lost > 0,
        "over {SEEDS} seeds some calls were running when it crashed"
    );
}

#[test]
fn balanced_by_key_a_crashed_instance_leaves_its_customers_waiting() {
    let (by_key, least_loaded) = (
        instance_crash(Balance::ByKey),
        instance_crash(Balance::LeastLoaded),
    );
    for seed in 0..SEEDS {
        let report = run(&by_key, seed);
        assert!(
            counter(&report, "service.calls_without_instance") > 0,
            "seed {seed}: calls for the crashed instance's keys found it down"
        );
        let failed = failed(&report);
        assert!(failed.is_empty(), "seed {seed}: {failed:?}");
        let report = run(&least_loaded, seed);
        assert_eq!(
            counter(&report, "service.calls_without_instance"),
            0,
            "seed {seed}"
        );
    }
}

#[test]
fn an_instance_that_does_not_exist_is_a_located_error() {
    let path = Path::new("scenarios/food_instance_crash.ron");
    let text = std::fs::read_to_string(path).expect("reads");
    for (from, to, expected) in [
        (
            "instance: 1,",
            "instance: 3,",
            "`payment` runs 3 instance(s), numbered from 0: there is no instance 3",
        ),
        (
            "node: \"payment\", instance",
            "node: \"paymnet\", instance",
            "`paymnet` is not a service",
        ),
        (
            "restart: \"1.5s\"",
            "restart: \"0.5s\"",
            "restarts at 500ms before it crashes at 1s",
        ),
    ] {
        let bad = text.replace(from, to);
        let Err(error) = consim::scenario::load_source(path, &bad) else {
            panic!("{to} loaded");
        };
        let errors = error.into_errors();
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains(expected) && e.line == 12),
            "{expected}: {errors:?}"
        );
    }
}

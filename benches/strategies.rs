//! Business transactions per wall-clock second, per strategy, on the food-delivery model with
//! 1% loss (no other faults, tracing off). Each iteration builds and runs a whole world.
//!
//! Run: `cargo bench --bench strategies`.

use std::hint::black_box;
use std::sync::Arc;

use consim::assembly::SystemConfig;
use consim::net::{LatencyDist, LinkSpec, Probability};
use consim::sim::TraceLevel;
use consim::strategy::{StrategyChoice, registry};
use consim::system::examples::food_delivery;
use consim::system::history::HistoryEvent;
use consim::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use consim::world::Limits;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const REQUESTS: u64 = 5_000;

fn config(strategy: &StrategyChoice) -> SystemConfig {
    let workload = WorkloadSpec {
        request_count: REQUESTS,
        arrival: ArrivalProcess::Poisson { rate_per_s: 1_000.0 },
        keys: KeyPopularity::Uniform,
        key_count: 200,
        audit_share: Probability::NEVER,
    };
    SystemConfig {
        default_link: LinkSpec {
            latency: LatencyDist::Uniform {
                min_us: 500,
                max_us: 3_000,
            },
            loss: Probability::ratio("loss", 1, 100).expect("1%"),
            duplicate: Probability::NEVER,
            fifo: false,
        },
        ..SystemConfig::new(Arc::new(food_delivery()), strategy.clone(), workload)
    }
}

/// Runs one world to rest; returns the events it processed.
fn run(config: &SystemConfig) -> u64 {
    let mut built = config.build(1, TraceLevel::Off).expect("a valid config");
    built.world.run(Limits::default()).event_count
}

/// The business transactions the gateway starts in one run of `config` (every run is the
/// same: one seed). Requests lost on the way to the gateway start none.
fn business_transactions(config: &SystemConfig) -> u64 {
    let mut built = config.build(1, TraceLevel::Off).expect("a valid config");
    let outcome = built.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    let started = built
        .gateway()
        .history()
        .records()
        .iter()
        .filter(|r| matches!(r.event, HistoryEvent::RequestStarted { gtx: Some(_), .. }))
        .count() as u64;
    if let Some(counted) = built.world.counters().get("gateway.started") {
        assert_eq!(*counted, started, "the gateway's counter agrees with its history");
    }
    assert!(
        started * 10 > REQUESTS * 9,
        "only {started} of {REQUESTS} requests started a business transaction"
    );
    started
}

fn strategies(c: &mut Criterion) {
    let mut group = c.benchmark_group("business_transactions");
    group.sample_size(10);
    for strategy in registry::defaults() {
        let config = config(&strategy);
        group.throughput(Throughput::Elements(business_transactions(&config)));
        group.bench_function(strategy.name(), |b| b.iter(|| black_box(run(&config))));
    }
    group.finish();
}

criterion_group!(benches, strategies);
criterion_main!(benches);

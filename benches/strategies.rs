//! Business transactions per wall-clock second, per strategy, on the food-delivery model with
//! 1% loss (no other faults, tracing off). Each iteration builds and runs a whole world.
//!
//! Run: `cargo bench --bench strategies`.

use std::hint::black_box;
use std::sync::Arc;

use consim::assembly::SystemConfig;
use consim::net::{LatencyDist, LinkSpec, Probability};
use consim::sim::{Duration, TraceLevel};
use consim::strategy::StrategyKind;
use consim::system::examples::food_delivery;
use consim::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use consim::world::Limits;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const REQUESTS: u64 = 5_000;

fn config(strategy: &StrategyKind) -> SystemConfig {
    SystemConfig {
        model: Arc::new(food_delivery()),
        strategy: strategy.build(),
        workload: WorkloadSpec {
            request_count: REQUESTS,
            arrival: ArrivalProcess::Poisson { rate_per_s: 1_000.0 },
            keys: KeyPopularity::Uniform,
            key_count: 200,
            audit_share: Probability::NEVER,
        },
        unauthenticated: Probability::NEVER,
        request_timeout: Duration::from_secs(1),
        retries: 2,
        lock_timeout: Duration::from_ms(50),
        in_doubt_query_after: Duration::from_ms(200),
        broker_ack_timeout: Duration::from_ms(100),
        broker_per_key_ordering: false,
        default_link: LinkSpec {
            latency: LatencyDist::Uniform {
                min_us: 500,
                max_us: 3_000,
            },
            loss: Probability::ratio("loss", 1, 100).expect("1%"),
            duplicate: Probability::NEVER,
            fifo: false,
        },
        links: Vec::new(),
        faults: Vec::new(),
    }
}

/// Runs one world to rest; returns the business transactions the gateway started.
fn run(config: &SystemConfig) -> u64 {
    let mut built = config.build(1, TraceLevel::Off).expect("a valid config");
    built.world.run(Limits::default());
    built
        .world
        .counters()
        .get("gateway.started")
        .copied()
        .unwrap_or(REQUESTS)
}

fn strategies(c: &mut Criterion) {
    let mut group = c.benchmark_group("business_transactions");
    group.sample_size(10);
    group.throughput(Throughput::Elements(REQUESTS));
    for strategy in StrategyKind::all() {
        let config = config(&strategy);
        group.bench_function(strategy.name(), |b| b.iter(|| black_box(run(&config))));
    }
    group.finish();
}

criterion_group!(benches, strategies);
criterion_main!(benches);

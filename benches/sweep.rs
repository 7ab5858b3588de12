//! Sweep throughput: seeds per wall-clock second of `consim sweep` on the bundled lossy
//! scenario (food delivery, orchestrated saga, 5% loss, 2,000 requests per seed), with one
//! worker thread and with all cores, trace hashing on as the sweep runs it.
//!
//! Run: `cargo bench --bench sweep`.

use std::hint::black_box;
use std::path::Path;

use consim::seeds::{Shard, pool};
use consim::sweep::{SweepOptions, sweep};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SEEDS: u64 = 8;

fn sweep_throughput(c: &mut Criterion) {
    let scenario = consim::scenario::load(Path::new("scenarios/food_lossy.ron")).expect("bundled scenario");
    let options = SweepOptions {
        seeds: 0..SEEDS,
        shard: Shard::WHOLE,
        stop_at_first: false,
        strategy_override: None,
        swarm: false,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("sweep_food_lossy");
    group.throughput(Throughput::Elements(SEEDS));
    group.sample_size(10);
    for threads in [1, cores] {
        let workers = pool(Some(threads)).expect("a thread pool");
        group.bench_function(format!("{threads}_threads"), |b| {
            b.iter(|| {
                let result = sweep(&scenario, &options, &workers, &|| {});
                assert_eq!(result.failures().count(), 0, "food_lossy holds on every seed");
                black_box(result)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sweep_throughput);
criterion_main!(benches);

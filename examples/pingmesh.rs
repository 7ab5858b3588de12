//! Runs the kernel's pingmesh workload once and prints what happened.
//!
//! `cargo run --release --example pingmesh -- [seed] [events]`

use consim::pingmesh::{self, PingmeshConfig};
use consim::sim::TraceLevel;
use consim::world::Limits;

fn main() {
    let mut args = std::env::args().skip(1);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(7);
    let events = args.next().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut world = pingmesh::build(seed, PingmeshConfig::default(), |b| {
        b.trace_level(TraceLevel::Hash);
    })
    .expect("valid pingmesh");
    let outcome = world.run(Limits {
        max_events: events,
        ..Limits::default()
    });
    let stats = world.stats();
    println!(
        "seed {seed}: {} after {} events at {}",
        outcome.stop, outcome.event_count, outcome.end
    );
    println!(
        "sent {} delivered {} dropped {} timers {}",
        stats.sent,
        stats.delivered,
        stats.dropped_total(),
        stats.timers_fired
    );
    if let Some(hash) = outcome.trace_hash {
        println!("trace hash {hash}");
    }
}

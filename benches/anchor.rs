//! The kernel on exactly the peers' pingmesh of `../shared/perf-anchors.md`, next to the two
//! hand-written loops those figures are paired against, rebuilt here so all three are
//! measured on the same machine in the same run.
//!
//! The workload: 8 nodes, 64 messages always in flight, each delivery answered by a message
//! to a random other node, delay uniform 1–10 ms, 1% loss drawn by the sender, which sends a
//! lost message again after 50 ms; 2·10^6 events (deliveries plus re-sends). ChaCha8 streams,
//! three draws per delivery (destination, loss, delay), `Copy` events, no allocation per event.
//!
//! - `consim_world`: the kernel with `PingmeshConfig::anchor()`, tracing off.
//! - `binary_heap_loop`: one event enum in a `BinaryHeap` keyed by `(time, seq)`, drawing from
//!   the kernel's own streams in the kernel's order; the setup asserts it makes exactly the
//!   kernel's deliveries.
//! - `timing_wheel_loop`: 64 one-millisecond slots, FIFO within a slot. It does not order
//!   events inside a slot by time, so its deliveries differ; it is the peers' fastest loop,
//!   the figure to beat.
//!
//! Run: `cargo bench --bench anchor`. Throughput is events per second.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hint::black_box;

use consim::pingmesh::{self, PingmeshConfig};
use consim::sim::{Purpose, Rng, SeedTree, TraceLevel};
use consim::world::Limits;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::RngExt as _;

const SEED: u64 = 7;
const EVENTS: u64 = 2_000_000;
const MIN_DELAY_US: u64 = 1_000;
const MAX_DELAY_US: u64 = 10_000;

/// Runs the anchor pingmesh on the consim kernel; returns (events, deliveries).
fn run_world() -> (u64, u64) {
    let mut world = pingmesh::build(SEED, PingmeshConfig::anchor(), |b| {
        b.trace_level(TraceLevel::Off);
    })
    .expect("valid pingmesh");
    world.run(Limits {
        max_events: EVENTS,
        ..Limits::default()
    });
    let stats = world.stats();
    (stats.delivered + stats.timers_fired, stats.delivered)
}

/// One event of the hand-written loops: a message arriving, or a lost one being sent again.
#[derive(Clone, Copy)]
enum Ev {
    Deliver { dst: u32 },
    Resend { src: u32, dst: u32 },
}

/// The draws both loops make, from the streams the kernel would use for the same actors.
struct Draws {
    net: Vec<Rng>,
    actor: Vec<Rng>,
    config: PingmeshConfig,
}

impl Draws {
    fn new(config: PingmeshConfig) -> Self {
        let seeds = SeedTree::new(SEED);
        let n = config.node_count;
        Draws {
            net: (0..n).map(|i| seeds.stream(Purpose::Network(i))).collect(),
            actor: (0..n).map(|i| seeds.stream(Purpose::Actor(i))).collect(),
            config,
        }
    }

    fn random_other(&mut self, me: u32) -> u32 {
        let pick = self.actor[me as usize].random_range(0..self.config.node_count - 1);
        if pick >= me { pick + 1 } else { pick }
    }

    /// Sends from `src` to `dst` at `now`: the event to schedule and when.
    fn send(&mut self, now: u64, src: u32, dst: u32) -> (u64, Ev) {
        if self.config.loss.sample(&mut self.actor[src as usize]) {
            (now + self.config.resend_after.as_us(), Ev::Resend { src, dst })
        } else {
            let delay = self.net[src as usize].random_range(MIN_DELAY_US..=MAX_DELAY_US);
            (now + delay, Ev::Deliver { dst })
        }
    }

    /// The first hop of every chain, in the kernel's start order.
    fn start(&mut self, mut schedule: impl FnMut(u64, Ev)) {
        let n = self.config.node_count;
        for me in 0..n {
            for _ in (me as u16..self.config.chain_count).step_by(n as usize) {
                let dst = self.random_other(me);
                let (at, ev) = self.send(0, me, dst);
                schedule(at, ev);
            }
        }
    }

    /// Handles one event at `now`: returns the follow-up to schedule and whether it was a
    /// delivery.
    fn handle(&mut self, now: u64, ev: Ev) -> ((u64, Ev), bool) {
        match ev {
            Ev::Deliver { dst } => {
                let next = self.random_other(dst);
                (self.send(now, dst, next), true)
            }
            Ev::Resend { src, dst } => (self.send(now, src, dst), false),
        }
    }
}

struct Entry {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The `BinaryHeap` loop; returns (events, deliveries).
fn heap_loop() -> (u64, u64) {
    let mut draws = Draws::new(PingmeshConfig::anchor());
    let mut heap = BinaryHeap::new();
    let mut seq = 0;
    draws.start(|at, ev| {
        heap.push(Entry { at, seq, ev });
        seq += 1;
    });
    let (mut events, mut delivered) = (0, 0);
    while events < EVENTS {
        let Some(Entry { at, ev, .. }) = heap.pop() else {
            break;
        };
        let ((next_at, next), was_delivery) = draws.handle(at, ev);
        heap.push(Entry {
            at: next_at,
            seq,
            ev: next,
        });
        seq += 1;
        events += 1;
        delivered += u64::from(was_delivery);
    }
    (events, delivered)
}

const SLOTS: usize = 64;
const SLOT_US: u64 = 1_000;

/// The timing-wheel loop; returns (events, deliveries). Every delay is under
/// `SLOTS * SLOT_US`, so one turn of the wheel holds everything pending.
fn wheel_loop() -> (u64, u64) {
    let mut draws = Draws::new(PingmeshConfig::anchor());
    assert!(draws.config.resend_after.as_us() < SLOTS as u64 * SLOT_US);
    let mut slots: Vec<Vec<(u64, Ev)>> = (0..SLOTS).map(|_| Vec::with_capacity(64)).collect();
    let slot_of = |at: u64| (at / SLOT_US) as usize % SLOTS;
    draws.start(|at, ev| slots[slot_of(at)].push((at, ev)));
    let (mut events, mut delivered) = (0, 0);
    let mut current = 0;
    let mut batch = Vec::with_capacity(64);
    while events < EVENTS {
        // Every delay is at least one slot, so nothing lands in the slot being drained.
        std::mem::swap(&mut batch, &mut slots[current]);
        for &(at, ev) in &batch {
            if events == EVENTS {
                break;
            }
            let ((next_at, next), was_delivery) = draws.handle(at, ev);
            slots[slot_of(next_at)].push((next_at, next));
            events += 1;
            delivered += u64::from(was_delivery);
        }
        batch.clear();
        current = (current + 1) % SLOTS;
    }
    (events, delivered)
}

fn anchor(c: &mut Criterion) {
    let (events, delivered) = run_world();
    assert_eq!(events, EVENTS, "the kernel must run the whole workload");
    assert_eq!(
        (events, delivered),
        heap_loop(),
        "the heap loop must do exactly the kernel's work"
    );
    assert_eq!(
        wheel_loop().0,
        EVENTS,
        "the wheel loop must run the whole workload"
    );
    let mut group = c.benchmark_group("anchor_pingmesh");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("consim_world", |b| b.iter(|| black_box(run_world())));
    group.bench_function("binary_heap_loop", |b| b.iter(|| black_box(heap_loop())));
    group.bench_function("timing_wheel_loop", |b| b.iter(|| black_box(wheel_loop())));
    group.finish();
}

criterion_group!(benches, anchor);
criterion_main!(benches);

//! Kernel throughput on the pingmesh workload, against a minimal hand-written loop.
//!
//! Both sides run the same protocol (see `consim::pingmesh`) with the same random streams and
//! the same `(time, seq)` order, so they make exactly the same deliveries: the setup asserts
//! it. The baseline is what the kernel would be with no generality: one concrete event enum
//! in a `BinaryHeap`, no actors behind trait objects, no trace, no fault or crash checks.
//!
//! Run: `cargo bench --bench kernel`. Throughput is delivered messages per second.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hint::black_box;

use consim::net::Probability;
use consim::pingmesh::{self, PingmeshConfig};
use consim::sim::{Purpose, Rng, SeedTree, TraceLevel};
use consim::world::Limits;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::RngExt as _;

const SEED: u64 = 7;
const EVENTS: u64 = 1_000_000;

/// Runs the pingmesh on the consim kernel; returns messages delivered.
fn run_world(config: PingmeshConfig) -> u64 {
    let mut world = pingmesh::build(SEED, config, |b| {
        b.trace_level(TraceLevel::Off);
    })
    .expect("valid pingmesh");
    world.run(Limits {
        max_events: EVENTS,
        ..Limits::default()
    });
    world.stats().delivered
}

#[derive(Clone, Copy)]
enum Ev {
    Hop {
        src: u32,
        dst: u32,
        chain: u16,
        hop: u32,
    },
    Ack {
        dst: u32,
        chain: u16,
        hop: u32,
    },
    Resend {
        actor: u32,
        chain: u16,
        hop: u32,
        dst: u32,
        timer_seq: u64,
    },
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

struct Baseline {
    now: u64,
    seq: u64,
    heap: BinaryHeap<Entry>,
    net_rngs: Vec<Rng>,
    actor_rngs: Vec<Rng>,
    next_expected: Vec<u32>,
    /// Per (actor, chain): awaited hop and the seq of its live re-send timer.
    awaiting: Vec<Option<(u32, u64)>>,
    config: PingmeshConfig,
    delivered: u64,
}

impl Baseline {
    fn push(&mut self, at: u64, ev: Ev) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        self.heap.push(Entry { at, seq, ev });
        seq
    }

    fn send(&mut self, src: u32, ev: Ev) {
        let rng = &mut self.net_rngs[src as usize];
        if self.config.loss.sample(rng) {
            return;
        }
        let at = self.now + rng.random_range(1_000..=10_000u64);
        self.push(at, ev);
    }

    fn random_other(&mut self, me: u32) -> u32 {
        let pick = self.actor_rngs[me as usize].random_range(0..self.config.node_count - 1);
        if pick >= me { pick + 1 } else { pick }
    }

    fn send_hop(&mut self, me: u32, chain: u16, hop: u32, dst: u32) {
        self.send(
            me,
            Ev::Hop {
                src: me,
                dst,
                chain,
                hop,
            },
        );
        let slot = me as usize * usize::from(self.config.chain_count) + usize::from(chain);
        let timer_seq = self.seq;
        let at = self.now + self.config.resend_after.as_us();
        self.push(
            at,
            Ev::Resend {
                actor: me,
                chain,
                hop,
                dst,
                timer_seq,
            },
        );
        self.awaiting[slot] = Some((hop, timer_seq));
    }

    fn run(config: PingmeshConfig) -> u64 {
        let seeds = SeedTree::new(SEED);
        let n = config.node_count;
        let chains = usize::from(config.chain_count);
        let mut b = Baseline {
            now: 0,
            seq: 0,
            heap: BinaryHeap::new(),
            net_rngs: (0..n).map(|i| seeds.stream(Purpose::Network(i))).collect(),
            actor_rngs: (0..n).map(|i| seeds.stream(Purpose::Actor(i))).collect(),
            next_expected: vec![0; n as usize * chains],
            awaiting: vec![None; n as usize * chains],
            config,
            delivered: 0,
        };
        for me in 0..n {
            for chain in (me as u16..config.chain_count).step_by(n as usize) {
                let dst = b.random_other(me);
                b.send_hop(me, chain, 0, dst);
            }
        }
        let mut events = 0;
        while events < EVENTS {
            let Some(Entry { at, ev, .. }) = b.heap.pop() else {
                break;
            };
            b.now = at;
            match ev {
                Ev::Hop { src, dst, chain, hop } => {
                    events += 1;
                    b.delivered += 1;
                    b.send(dst, Ev::Ack { dst: src, chain, hop });
                    let slot = dst as usize * chains + usize::from(chain);
                    if hop < b.next_expected[slot] {
                        continue;
                    }
                    b.next_expected[slot] = hop + 1;
                    let next = b.random_other(dst);
                    b.send_hop(dst, chain, hop + 1, next);
                }
                Ev::Ack { dst, chain, hop } => {
                    events += 1;
                    b.delivered += 1;
                    let slot = dst as usize * chains + usize::from(chain);
                    if matches!(b.awaiting[slot], Some((awaited, _)) if awaited == hop) {
                        b.awaiting[slot] = None;
                    }
                }
                Ev::Resend {
                    actor,
                    chain,
                    hop,
                    dst,
                    timer_seq,
                } => {
                    let slot = actor as usize * chains + usize::from(chain);
                    if matches!(b.awaiting[slot], Some((_, live)) if live == timer_seq) {
                        events += 1;
                        b.send_hop(actor, chain, hop, dst);
                    }
                }
            }
        }
        b.delivered
    }
}

fn pingmesh(c: &mut Criterion) {
    let config = PingmeshConfig::default();
    assert_eq!(config.loss, Probability::ratio("loss", 1, 100).unwrap());
    let delivered = run_world(config);
    assert_eq!(
        delivered,
        Baseline::run(config),
        "the baseline must do exactly the kernel's work"
    );
    let mut group = c.benchmark_group("pingmesh");
    group.sample_size(10);
    group.throughput(Throughput::Elements(delivered));
    group.bench_function("consim_world", |b| b.iter(|| black_box(run_world(config))));
    group.bench_function("binary_heap_loop", |b| {
        b.iter(|| black_box(Baseline::run(config)))
    });
    group.finish();
}

criterion_group!(benches, pingmesh);
criterion_main!(benches);

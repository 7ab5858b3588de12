//! Same scenario and seed, same run: checked by trace hash.

use consim::net::FaultSpec;
use consim::pingmesh::{self, PingmeshConfig};
use consim::sim::{Instant, TraceHash, TraceLevel};
use consim::world::{Limits, RunOutcome};

/// A pingmesh with one of each fault kind, so the hash covers every kernel path.
fn faulty_pingmesh(seed: u64, level: TraceLevel, events: u64) -> (RunOutcome, u64) {
    let mut world = pingmesh::build(seed, PingmeshConfig::default(), |b| {
        b.trace_level(level);
        b.fault(FaultSpec::Partition {
            groups: vec![vec!["n0".into(), "n1".into()], vec!["n2".into(), "n3".into()]],
            from: Instant::from_ms(100),
            until: Some(Instant::from_ms(300)),
        });
        b.fault(FaultSpec::LinkDown {
            a: "n4".into(),
            b: "n5".into(),
            from: Instant::from_ms(50),
            until: Some(Instant::from_ms(80)),
        });
        b.fault(FaultSpec::Crash {
            node: "n6".into(),
            at: Instant::from_ms(200),
            restart_at: Some(Instant::from_ms(400)),
        });
        b.fault(FaultSpec::ClockDrift {
            node: "n7".into(),
            at: Instant::from_ms(10),
            drift_ppm: 30_000,
        });
    })
    .expect("valid pingmesh");
    let outcome = world.run(Limits {
        max_events: events,
        ..Limits::default()
    });
    (outcome, world.stats().delivered)
}

fn hash(seed: u64) -> TraceHash {
    faulty_pingmesh(seed, TraceLevel::Hash, 100_000)
        .0
        .trace_hash
        .expect("hashing is on")
}

#[test]
fn same_seed_gives_the_same_trace_hash() {
    assert_eq!(hash(1), hash(1));
}

#[test]
fn different_seeds_give_different_trace_hashes() {
    assert_ne!(hash(1), hash(2));
}

#[test]
fn full_tracing_and_hash_only_agree_and_full_keeps_every_event() {
    let (hashed, _) = faulty_pingmesh(3, TraceLevel::Hash, 5_000);
    let mut world = pingmesh::build(3, PingmeshConfig::default(), |b| {
        b.trace_level(TraceLevel::Full);
    })
    .unwrap();
    world.run(Limits {
        max_events: 5_000,
        ..Limits::default()
    });
    let (full, _) = faulty_pingmesh(3, TraceLevel::Full, 5_000);
    assert_eq!(hashed.trace_hash, full.trace_hash);
    assert!(world.trace().entries().len() >= 5_000);
}

/// The golden hash: debug and release builds, and every machine, must produce this value.
/// If it changes, the kernel's behaviour (or a pinned dependency's stream) changed: review
/// why before accepting the new snapshot.
#[test]
fn golden_trace_hash_is_stable_across_builds() {
    let (outcome, delivered) = faulty_pingmesh(42, TraceLevel::Hash, 200_000);
    insta::assert_snapshot!(format!(
        "stop: {}\nend: {}\nevents: {}\ndelivered: {delivered}\ntrace hash: {}",
        outcome.stop,
        outcome.end,
        outcome.event_count,
        outcome.trace_hash.expect("hashing is on")
    ));
}

#[test]
fn memory_stays_flat_with_tracing_off_or_hash_only() {
    let mut world = pingmesh::build(9, PingmeshConfig::default(), |b| {
        b.trace_level(TraceLevel::Hash);
    })
    .unwrap();
    let mut peak_pending = 0;
    for _ in 0..20 {
        world.run(Limits {
            max_events: 50_000,
            ..Limits::default()
        });
        peak_pending = peak_pending.max(world.pending_count());
    }
    assert!(world.trace().entries().is_empty());
    assert_eq!(
        world.trace().recorded_count(),
        1_000_000 + world.stats().dropped_total()
    );
    // 64 chains, each with a hop or an ack in flight, its sender's re-send timer, and the
    // odd timer whose ack was lost: a few per chain, however long the run.
    assert!(peak_pending < 64 * 6, "pending grew to {peak_pending}");
}

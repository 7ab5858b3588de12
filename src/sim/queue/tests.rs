//! The queue against a sorted model, and its memory reuse.

use super::*;
use crate::sim::{Purpose, SeedTree};
use rand::Rng as _;

fn drain(queue: &mut EventQueue<&'static str>) -> Vec<(u64, &'static str)> {
    std::iter::from_fn(|| queue.pop().map(|p| (p.at.as_us(), p.event))).collect()
}

#[test]
fn pops_by_time_then_by_insertion_order() {
    let mut queue = EventQueue::new();
    queue.push(Instant::from_us(5), "late");
    queue.push(Instant::from_us(1), "first at 1");
    queue.push(Instant::from_us(1), "second at 1");
    queue.push(Instant::from_us(0), "earliest");
    assert_eq!(
        drain(&mut queue),
        [
            (0, "earliest"),
            (1, "first at 1"),
            (1, "second at 1"),
            (5, "late")
        ]
    );
}

#[test]
fn cancelled_events_never_pop_and_stale_keys_do_nothing() {
    let mut queue = EventQueue::new();
    let a = queue.push(Instant::from_us(1), "a");
    queue.push(Instant::from_us(2), "b");
    assert!(queue.cancel(a));
    assert!(!queue.cancel(a), "cancelling twice reports nothing pending");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.peek_at(), Some(Instant::from_us(2)));
    // The slot of `a` is reused by `c`; the stale key must not cancel `c`.
    let c = queue.push(Instant::from_us(3), "c");
    assert!(!queue.cancel(a));
    assert_eq!(queue.get(c), Some(&"c"));
    assert_eq!(drain(&mut queue), [(2, "b"), (3, "c")]);
    assert!(queue.is_empty());
}

/// Pushes and pops at random against a sorted-list model of the queue, with delays that
/// land in the current tick, in the wheel and in the overflow heap.
#[test]
fn matches_a_sorted_model_across_ticks_wheel_turns_and_overflow() {
    let mut rng = SeedTree::new(9).stream(Purpose::Other(0));
    let mut queue = EventQueue::new();
    let mut model = std::collections::BTreeSet::new(); // (at, seq)
    let mut keys = Vec::new();
    let mut now = 0u64;
    for seq in 0..50_000u64 {
        let delay = match rng.next_u32() % 4 {
            0 => 0,
            1 => u64::from(rng.next_u32() % 300),
            2 => u64::from(rng.next_u32() % 100_000),
            _ => u64::from(rng.next_u32() % 5_000_000),
        };
        keys.push((queue.push(Instant::from_us(now + delay), seq), now + delay, seq));
        model.insert((now + delay, seq));
        if rng.next_u32().is_multiple_of(8) {
            let (key, at, s) = keys[rng.next_u32() as usize % keys.len()];
            assert_eq!(queue.cancel(key), model.remove(&(at, s)));
        }
        if rng.next_u32().is_multiple_of(2) {
            let want = model.pop_first().expect("the queue has an event");
            let got = queue.pop().expect("the model has an event");
            assert_eq!((got.at.as_us(), got.event), want);
            now = want.0;
        }
    }
    let rest: Vec<(u64, u64)> = std::iter::from_fn(|| queue.pop().map(|p| (p.at.as_us(), p.event))).collect();
    assert_eq!(rest, model.into_iter().collect::<Vec<_>>());
}

#[test]
fn slots_are_reused_so_memory_follows_what_is_pending() {
    let mut queue = EventQueue::new();
    for round in 0..1_000u64 {
        queue.push(Instant::from_us(round), round);
        queue.push(Instant::from_us(round), round);
        queue.pop();
        queue.pop();
    }
    assert!(queue.nodes.len() <= 2, "slots grew to {}", queue.nodes.len());
}

/// A timer armed and cancelled before it is due (a deadline met) frees its slot at once,
/// so the next push reuses it; its stale key, popped later, skips the new event's slot.
#[test]
fn a_cancelled_event_frees_its_slot_before_its_key_comes_up() {
    let mut queue = EventQueue::new();
    for round in 0..1_000u64 {
        let deadline = queue.push(Instant::from_us(1_000_000 + round), u64::MAX);
        queue.push(Instant::from_us(round), round);
        assert_eq!(queue.pop().map(|p| p.event), Some(round));
        assert!(queue.cancel(deadline));
    }
    assert!(queue.nodes.len() <= 2, "slots grew to {}", queue.nodes.len());
    let last = queue.push(Instant::from_us(2_000_000), 7);
    assert_eq!(queue.pop().map(|p| p.event), Some(7), "stale keys skipped");
    assert_eq!(queue.get(last), None);
    assert!(queue.is_empty() && queue.pop().is_none());
}

/// As `World::run` stopped at time limits: `pop_until` may move the cursor past instants
/// that later pushes (from the limit's instant on) still land on, and those pushes, and
/// cancelling them, must keep the order.
#[test]
fn matches_a_sorted_model_when_runs_stop_at_time_limits() {
    let mut rng = SeedTree::new(10).stream(Purpose::Other(0));
    let mut queue = EventQueue::new();
    let mut model = std::collections::BTreeSet::new(); // (at, seq)
    let mut keys = Vec::new();
    let mut now = 0u64;
    for seq in 0..50_000u64 {
        let delay = match rng.next_u32() % 4 {
            0 => u64::from(rng.next_u32() % 64),
            1 => u64::from(rng.next_u32() % 2_000),
            2 => u64::from(rng.next_u32() % 400_000),
            _ => u64::from(rng.next_u32() % 3_000_000),
        };
        keys.push((queue.push(Instant::from_us(now + delay), seq), now + delay, seq));
        model.insert((now + delay, seq));
        if rng.next_u32().is_multiple_of(4) {
            let (key, at, s) = keys[rng.next_u32() as usize % keys.len()];
            assert_eq!(queue.get(key).is_some(), model.contains(&(at, s)));
            assert_eq!(queue.cancel(key), model.remove(&(at, s)));
        }
        if rng.next_u32().is_multiple_of(2) {
            let until = now + u64::from(rng.next_u32() % 1_000);
            let want = model.first().copied().filter(|&(at, _)| at <= until);
            let got = queue.pop_until(Instant::from_us(until));
            assert_eq!(got.map(|p| (p.at.as_us(), p.event)), want);
            match want {
                Some((at, _)) => {
                    model.pop_first();
                    now = at;
                }
                None => now = until, // a stop at the time limit: time moves to it
            }
        }
        assert_eq!(queue.len(), model.len());
    }
    let rest: Vec<(u64, u64)> = std::iter::from_fn(|| queue.pop().map(|p| (p.at.as_us(), p.event))).collect();
    assert_eq!(rest, model.into_iter().collect::<Vec<_>>());
    assert!(queue.is_empty() && queue.peek_at().is_none());
}

#[test]
fn a_queue_holding_only_cancelled_overflow_events_is_empty() {
    let mut queue = EventQueue::new();
    let far = queue.push(Instant::from_us(10_000_000), "far");
    queue.push(Instant::from_us(20_000_000), "farther");
    assert!(queue.cancel(far));
    assert_eq!(queue.peek_at(), Some(Instant::from_us(20_000_000)));
    assert_eq!(drain(&mut queue), [(20_000_000, "farther")]);
    let lone = queue.push(Instant::from_us(90_000_000), "lone");
    assert!(queue.cancel(lone));
    assert!(queue.pop().is_none() && queue.is_empty());
}

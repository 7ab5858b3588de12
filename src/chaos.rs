//! Random fault schedules, drawn before a run from the seed's `Faults` stream.
//!
//! Used by the property tests and seed sweeps: every seed gets its own mix of loss,
//! duplication, a partition and crashes with restarts, and the same seed always gets the same
//! mix, so a failing seed replays exactly. Every fault heals (partitions end, crashed actors
//! restart) before `horizon`, so liveness can be judged after the run comes to rest.

use rand::RngExt as _;

use crate::net::{FaultSpec, Probability};
use crate::sim::{Duration, Instant, Purpose, SeedTree};

/// A drawn schedule: network loss and duplication, plus timed faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Chaos {
    /// Loss probability for every link, in [0, 5%].
    pub loss: Probability,
    /// Duplication probability for every link, in [0, 3%].
    pub duplicate: Probability,
    /// A partition and one or two crashes, all healing before the horizon.
    pub faults: Vec<FaultSpec>,
}

/// Draws a schedule for `seed`: faults strike `actors` (partition sides and crash victims)
/// between 10% and 60% of `horizon` and heal by 90% of it.
pub fn draw(seed: u64, actors: &[String], horizon: Duration) -> Chaos {
    let mut rng = SeedTree::new(seed).stream(Purpose::Faults);
    let h = horizon.as_us().max(10);
    let at = |rng: &mut crate::sim::Rng, from: u64, to: u64| {
        Instant::from_us(rng.random_range(h * from / 100..h * to / 100))
    };
    let loss = Probability::ratio("chaos loss", rng.random_range(0..=50), 1_000).expect("at most 5%");
    let duplicate =
        Probability::ratio("chaos duplicate", rng.random_range(0..=30), 1_000).expect("at most 3%");
    let mut faults = Vec::new();
    let pick = |rng: &mut crate::sim::Rng| actors[rng.random_range(0..actors.len())].clone();
    if actors.len() >= 2 {
        let cut = pick(&mut rng);
        let from = at(&mut rng, 10, 50);
        let until = from + Duration::from_us(rng.random_range(h / 50..=h / 5));
        faults.push(FaultSpec::Partition {
            groups: vec![vec![cut], vec![crate::net::fault::EVERYONE_ELSE.to_string()]],
            from,
            until: Some(until.min(Instant::from_us(h * 9 / 10))),
        });
    }
    let crashes = rng.random_range(1..=2);
    let mut crashed: Vec<String> = Vec::new();
    for _ in 0..crashes {
        let node = pick(&mut rng);
        if crashed.contains(&node) {
            continue;
        }
        let crash_at = at(&mut rng, 10, 60);
        let restart = crash_at + Duration::from_us(rng.random_range(h / 100..=h / 4));
        faults.push(FaultSpec::Crash {
            node: node.clone(),
            at: crash_at,
            restart_at: Some(
                restart
                    .min(Instant::from_us(h * 9 / 10))
                    .max(crash_at + Duration::from_us(1)),
            ),
        });
        crashed.push(node);
    }
    Chaos {
        loss,
        duplicate,
        faults,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actors() -> Vec<String> {
        ["n0", "n1", "n2"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_schedule_and_seeds_differ() {
        let horizon = Duration::from_secs(1);
        assert_eq!(draw(3, &actors(), horizon), draw(3, &actors(), horizon));
        let distinct: std::collections::BTreeSet<String> = (0..20)
            .map(|s| format!("{:?}", draw(s, &actors(), horizon)))
            .collect();
        assert!(distinct.len() > 15);
    }

    #[test]
    fn every_fault_heals_before_the_horizon() {
        let horizon = Duration::from_secs(1);
        for seed in 0..200 {
            for fault in draw(seed, &actors(), horizon).faults {
                let end = match fault {
                    FaultSpec::Partition { until, .. } => until,
                    FaultSpec::Crash { restart_at, .. } => restart_at,
                    _ => None,
                };
                assert!(
                    end.is_some_and(|e| e <= Instant::from_ms(900)),
                    "seed {seed}: {end:?}"
                );
            }
        }
    }
}

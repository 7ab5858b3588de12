//! One master seed, many independent random streams.
//!
//! Every purpose that draws random numbers (the workload, the fault planner, each actor, the
//! network on each sender's outgoing links) gets its own ChaCha8 stream: the same key, derived
//! from the master seed, and a distinct stream number. ChaCha streams with distinct numbers
//! never overlap, so one purpose drawing more or fewer numbers leaves every other purpose's
//! sequence untouched. That is what makes comparisons fair: a strategy that sends more
//! messages does not shift the arrivals or the fault schedule another strategy sees.
//!
//! This is the only module that constructs a random number generator.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random number generator every stream uses.
pub type Rng = ChaCha8Rng;

/// What a stream is for; its stream number is derived from this and nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Arrival times and request contents.
    Workload,
    /// Drawing a random fault schedule before a run.
    Faults,
    /// The network's decisions (latency, loss, duplication) for messages sent by this actor.
    Network(u32),
    /// An actor's own draws (`Ctx::rng`).
    Actor(u32),
    /// Anything else a layer above the kernel needs, numbered by that layer.
    Other(u32),
}

impl Purpose {
    /// A distinct stream number per purpose: the tag in the top bits, the index below.
    fn stream_number(self) -> u64 {
        let (tag, index) = match self {
            Purpose::Workload => (1u64, 0u32),
            Purpose::Faults => (2, 0),
            Purpose::Network(i) => (3, i),
            Purpose::Actor(i) => (4, i),
            Purpose::Other(i) => (5, i),
        };
        (tag << 32) | u64::from(index)
    }
}

/// Hands out the stream for each purpose from one master seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedTree {
    seed: u64,
}

impl SeedTree {
    /// The tree of streams for one run.
    pub fn new(seed: u64) -> Self {
        SeedTree { seed }
    }

    /// The master seed, as printed in reports and accepted by `--seed`.
    pub fn seed(self) -> u64 {
        self.seed
    }

    /// A fresh generator for `purpose`; calling twice gives two identical generators.
    pub fn stream(self, purpose: Purpose) -> Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(purpose.stream_number());
        rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    fn first_draws(mut rng: Rng) -> Vec<u64> {
        (0..8).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn a_purpose_always_gets_the_same_stream() {
        let tree = SeedTree::new(42);
        assert_eq!(
            first_draws(tree.stream(Purpose::Actor(3))),
            first_draws(tree.stream(Purpose::Actor(3)))
        );
    }

    #[test]
    fn purposes_and_seeds_give_different_streams() {
        let tree = SeedTree::new(42);
        let purposes = [
            Purpose::Workload,
            Purpose::Faults,
            Purpose::Network(0),
            Purpose::Network(1),
            Purpose::Actor(0),
            Purpose::Actor(1),
            Purpose::Other(0),
        ];
        let mut seen: Vec<Vec<u64>> = purposes.iter().map(|p| first_draws(tree.stream(*p))).collect();
        seen.push(first_draws(SeedTree::new(43).stream(Purpose::Workload)));
        let count = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), count, "two purposes shared a stream");
    }
}

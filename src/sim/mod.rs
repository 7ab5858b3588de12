//! The deterministic primitives: virtual time, the event queue, seeded random streams, the
//! stable hash, the trace, and the id-indexed map the actors keep their in-flight work in.
//!
//! **Invariant:** nothing here knows about networks, services or strategies, and nothing here
//! reads the wall clock or an unseeded source of randomness. `rng.rs` is the only place a
//! random number generator is constructed. Start reading at `queue.rs`.

pub mod hash;
pub mod id_map;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;

use std::fmt;

pub use id_map::{DenseId, IdMap};
pub use queue::{EventKey, EventQueue};
pub use rng::{Purpose, Rng, SeedTree};
pub use time::{Duration, Instant};
pub use trace::{Described, Trace, TraceEntry, TraceHash, TraceKind, TraceLevel};

/// An actor's index in its world; also its node in the network topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActorId(pub u32);

impl ActorId {
    /// The id as an index into per-actor vectors.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

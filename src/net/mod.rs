//! The network: topology, links, latency distributions, faults, and the one function that
//! decides each message's fate.
//!
//! **Invariant:** [`Network::decide`] is the only place a message is delayed, dropped or
//! duplicated. Depends on `sim` only. Start reading at `network.rs`.

pub mod aim;
pub mod error;
pub mod fault;
pub mod latency;
pub mod link;
pub mod network;
pub mod probability;
pub mod topology;

pub use aim::{AimedEffect, AimedMessage, AimedPoint, MessageEffect, MessageFault, PointEffect, PointFault};
pub use error::ConfigError;
pub use fault::{Cut, CutKind, FaultAction, FaultPlan, FaultSpec};
pub use latency::LatencyDist;
pub use link::LinkSpec;
pub use network::{DropReason, Network, Verdict};
pub use probability::Probability;
pub use topology::Topology;

//! The file formats, field for field: what serde reads from scenario and model files.
//!
//! Every struct denies unknown fields, so a typo is an error with a position instead of a
//! silently ignored setting. Raw types never leave `scenario/`: `validate.rs` turns them into
//! the kernel's types, so the file format can change without touching the core.

use serde::Deserialize;

use super::duration::HumanDuration;

/// A scenario file: one run of one model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The model file, relative to the scenario file.
    pub model: String,
    /// The master seed (overridable with `--seed`).
    pub seed: u64,
    /// Links and their behaviour.
    #[serde(default)]
    pub network: Network,
    /// The fault schedule.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// When the run ends.
    #[serde(default)]
    pub stop: Stop,
}

/// The network: a default link and per-pair overrides.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The link every pair uses unless overridden.
    #[serde(default)]
    pub default: Link,
    /// Overrides for particular pairs.
    #[serde(default)]
    pub links: Vec<LinkOverride>,
}

/// One directed link's behaviour; every field has a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Delay distribution (default uniform 0.5–5 ms).
    pub latency: Option<Latency>,
    /// Loss probability in [0, 1].
    #[serde(default)]
    pub loss: f64,
    /// Duplication probability in [0, 1].
    #[serde(default)]
    pub duplicate: f64,
    /// Deliver in send order.
    #[serde(default)]
    pub fifo: bool,
}

/// A link for one pair of nodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sender.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// Also use it from `to` back to `from` (default true).
    #[serde(default = "yes")]
    pub both_ways: bool,
    /// The link.
    pub link: Link,
}

fn yes() -> bool {
    true
}

/// A latency distribution.
#[derive(Debug, Deserialize)]
pub enum Latency {
    /// Always the same.
    Constant(HumanDuration),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Shortest.
        min: HumanDuration,
        /// Longest.
        max: HumanDuration,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean.
        mean: HumanDuration,
        /// Standard deviation.
        std_dev: HumanDuration,
    },
    /// Exponential.
    Exponential {
        /// Mean.
        mean: HumanDuration,
    },
    /// Log-normal.
    LogNormal {
        /// Median.
        median: HumanDuration,
        /// Spread of the underlying normal.
        sigma: f64,
    },
    /// Pareto.
    Pareto {
        /// Minimum.
        scale: HumanDuration,
        /// Tail index.
        shape: f64,
    },
}

/// A scheduled fault.
#[derive(Debug, Deserialize)]
pub enum Fault {
    /// Groups of nodes that cannot reach each other.
    Partition {
        /// Two or more disjoint groups of node names.
        groups: Vec<Vec<String>>,
        /// Start.
        from: HumanDuration,
        /// Heal (never if absent).
        #[serde(default)]
        until: Option<HumanDuration>,
    },
    /// One link down, both directions.
    LinkDown {
        /// One end.
        a: String,
        /// The other end.
        b: String,
        /// Start.
        from: HumanDuration,
        /// Back up (never if absent).
        #[serde(default)]
        until: Option<HumanDuration>,
    },
    /// A node crash, with an optional restart time.
    Crash {
        /// Who.
        node: String,
        /// When.
        at: HumanDuration,
        /// Restart time (stays down if absent).
        #[serde(default)]
        restart: Option<HumanDuration>,
    },
    /// A node's clock runs fast or slow from `at`.
    ClockDrift {
        /// Whose clock.
        node: String,
        /// From when.
        at: HumanDuration,
        /// Parts per million (positive: fast).
        ppm: i64,
    },
}

/// When a run ends: quiescence always; these limits too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// Virtual-time limit.
    #[serde(default)]
    pub time: Option<HumanDuration>,
    /// Event limit.
    #[serde(default = "default_events")]
    pub events: u64,
    /// Pending-event limit (memory).
    #[serde(default = "default_pending")]
    pub pending: u64,
}

fn default_events() -> u64 {
    100_000_000
}

fn default_pending() -> u64 {
    10_000_000
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            time: None,
            events: default_events(),
            pending: default_pending(),
        }
    }
}

/// A model file.
#[derive(Debug, Deserialize)]
pub enum Model {
    /// The kernel's reference workload (see `consim::pingmesh`).
    Pingmesh {
        /// Actors.
        nodes: u32,
        /// Message chains in flight.
        chains: u16,
        /// Re-send timeout.
        resend_after: HumanDuration,
    },
}

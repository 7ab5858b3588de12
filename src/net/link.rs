//! What one directed link does to the messages on it.

use super::error::ConfigError;
use super::latency::LatencyDist;
use super::probability::Probability;

/// The behaviour of a directed link: delay, loss, duplication and ordering.
///
/// Reordering is not a setting of its own: it follows from a random latency, as on a real
/// network. `fifo: true` forbids it, delivering each message no earlier than the previous one
/// on the same link (as TCP would).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkSpec {
    /// Delay of each message (and of each duplicate, drawn independently).
    pub latency: LatencyDist,
    /// Chance a message is lost.
    pub loss: Probability,
    /// Chance a delivered message is delivered a second time.
    pub duplicate: Probability,
    /// Deliver in send order.
    pub fifo: bool,
}

impl LinkSpec {
    /// A reliable FIFO link with a constant delay: the simplest network to reason about.
    pub fn reliable(latency_us: u64) -> Self {
        LinkSpec {
            latency: LatencyDist::Constant { us: latency_us },
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            fifo: true,
        }
    }

    /// Checks the latency distribution; `what` names the link in errors.
    pub fn validate(&self, what: &str) -> Result<(), ConfigError> {
        self.latency.validate(&format!("{what} latency"))
    }
}

impl Default for LinkSpec {
    /// A LAN-like link: uniform 0.5–5 ms, no loss, no duplication, reordering allowed.
    fn default() -> Self {
        LinkSpec {
            latency: LatencyDist::Uniform {
                min_us: 500,
                max_us: 5_000,
            },
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            fifo: false,
        }
    }
}

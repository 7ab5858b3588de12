//! Counters the kernel keeps whatever the trace level: the network's and the lifecycle's.

use crate::net::DropReason;

/// What happened to messages in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages handed to the network by actors.
    pub sent: u64,
    /// Bytes of those messages, as the world's message-size function estimates them (see
    /// `WorldBuilder::message_size`; 0 without one).
    pub bytes_sent: u64,
    /// Messages (duplicates included) that reached a live actor's handler.
    pub delivered: u64,
    /// Extra copies the network made.
    pub duplicated: u64,
    /// Messages lost, by reason, indexed like [`DropReason::ALL`].
    pub dropped: [u64; DropReason::ALL.len()],
    /// Timers that fired.
    pub timers_fired: u64,
    /// Crashes that took effect.
    pub crashes: u64,
    /// Restarts that took effect.
    pub restarts: u64,
}

impl NetStats {
    /// Messages lost for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// Messages lost for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        self.dropped[reason as usize] += 1;
    }
}

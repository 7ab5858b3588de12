//! The participant's armed timers, kept so an effect can disarm or replace one.
//!
//! One ordered map keyed by `(gtx, step, tag)` packed into a `u64`: a key compares in one
//! instruction instead of three, which matters on two-phase commit's path (every prepared
//! step arms one timer and disarms it at the decision).

use std::collections::BTreeMap;

use crate::system::msg::GlobalTxId;
use crate::world::TimerId;

/// A service's armed participant timers, by `(gtx, step, tag)`.
#[derive(Debug, Default)]
pub(super) struct ArmedTimers {
    by_key: BTreeMap<u64, TimerId>,
}

/// `(gtx, step, tag)` as one key, in the same order (transaction ids stay below 2^40).
fn key(gtx: GlobalTxId, step: u16, tag: u8) -> u64 {
    (gtx.0 << 24) | (u64::from(step) << 8) | u64::from(tag)
}

impl ArmedTimers {
    /// Records `id` under `(gtx, step, tag)`; returns the timer it replaces, if one was armed.
    pub fn insert(&mut self, gtx: GlobalTxId, step: u16, tag: u8, id: TimerId) -> Option<TimerId> {
        self.by_key.insert(key(gtx, step, tag), id)
    }

    /// Forgets `(gtx, step, tag)`; returns its timer, if one was armed.
    pub fn remove(&mut self, gtx: GlobalTxId, step: u16, tag: u8) -> Option<TimerId> {
        self.by_key.remove(&key(gtx, step, tag))
    }

    /// Forgets every timer (they died in a crash).
    pub fn clear(&mut self) {
        self.by_key.clear();
    }
}

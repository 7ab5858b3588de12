//! Local transactions: their ids, their lifecycle, and the write set they buffer.
//!
//! Updates are deferred (redo-only): an op never touches committed data, it records the new
//! value of a row in the tx's [`WriteSet`], and `commit` applies the whole set at once. A tx
//! that aborts or dies in a crash therefore leaves nothing to undo. Reads see the tx's own
//! buffered writes first, then committed data.

use std::fmt;

use super::hold::Hold;
use super::lock::{LockKey, Mode};
use super::outbox::OutboxEvent;
use super::value::{Key, Value};
use crate::sim::Instant;

/// A local transaction's id, chosen by the caller (e.g. derived from the `GlobalTx` and the
/// step), so that a coordinator can name a prepared tx after a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTxId(pub u64);

/// Dense when the caller numbers its txs from a counter, as a service does, so its map of
/// calls in progress can be a window of slots ([`crate::sim::IdMap`]).
impl crate::sim::DenseId for LocalTxId {
    fn to_index(self) -> u64 {
        self.0
    }

    fn from_index(index: u64) -> Self {
        LocalTxId(index)
    }
}

/// Where a live tx stands, so the caller can drive timeouts and 2PC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxStatus {
    /// Running; may issue ops.
    Active,
    /// Queued for a lock; its last op returned `Blocked` and must be retried once the tx is
    /// reported woken (or the tx aborted, e.g. when the caller's lock-wait timer fires).
    Waiting(LockKey),
    /// Voted yes in 2PC: its writes are in the log, its locks held, until commit or abort.
    Prepared,
}

/// A tx's buffered changes: row images, outbox events and holds, applied together at commit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct WriteSet {
    /// One entry per written row, in first-write order; `None` deletes the row.
    pub rows: Vec<(LockKey, Option<Value>)>,
    /// Outbox events, in the order the tx appended them.
    pub events: Vec<OutboxEvent>,
    /// Holds made (`Some`) or ended (`None`), by id, in order.
    pub holds: Vec<(Key, Option<Hold>)>,
}

/// A live tx's volatile state (a prepared tx's writes live in the log instead).
#[derive(Debug, Default)]
pub(super) struct Tx {
    /// Prepared or not; waiting is `waiting.is_some()`.
    pub prepared: bool,
    /// When it began; lock-hold time is measured from here.
    pub begun_at: Instant,
    /// Every lock it holds, each once, in acquisition order (the release order).
    pub locks: Vec<LockKey>,
    /// The lock it is queued for, and in which mode.
    pub waiting: Option<(LockKey, Mode)>,
    /// When it queued for `waiting`, so the wait can be measured when it ends.
    pub queued_at: Instant,
    /// Its buffered changes (empty once prepared: moved to the log).
    pub writes: WriteSet,
    /// The reads its read-then-writes decided on, kept so a write that blocked decides on
    /// what was read before, not on a fresh read.
    pub reads: Vec<super::concurrency::DecidedRead>,
}

impl WriteSet {
    /// The buffered image of `key`: `Some(None)` when the tx deleted it.
    pub fn get(&self, key: LockKey) -> Option<&Option<Value>> {
        self.rows.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The buffered image of `key`, mutable, to change a record in place.
    pub fn get_mut(&mut self, key: LockKey) -> Option<&mut Option<Value>> {
        self.rows.iter_mut().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Buffers the new image of `key`, replacing an earlier one so the set stays one entry
    /// per row.
    pub fn set(&mut self, key: LockKey, image: Option<Value>) {
        match self.get_mut(key) {
            Some(slot) => *slot = image,
            None => self.rows.push((key, image)),
        }
    }

    /// True when committing would change nothing durable (a read-only tx).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.events.is_empty() && self.holds.is_empty()
    }

    /// Empties the set, keeping its buffers for the next tx.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.events.clear();
        self.holds.clear();
    }
}

impl Tx {
    /// Readies a (possibly recycled) tx for a new run begun at `now`.
    pub fn reset(&mut self, now: Instant) {
        self.prepared = false;
        self.begun_at = now;
        self.locks.clear();
        self.waiting = None;
        self.queued_at = now;
        self.writes.clear();
        self.reads.clear();
    }

    /// The public view of its state.
    pub fn status(&self) -> TxStatus {
        match (self.prepared, self.waiting) {
            (true, _) => TxStatus::Prepared,
            (false, Some((key, _))) => TxStatus::Waiting(key),
            (false, None) => TxStatus::Active,
        }
    }
}

impl fmt::Display for LocalTxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ltx#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::value::{Key, TableId};

    #[test]
    fn a_write_set_keeps_one_image_per_row_the_latest() {
        let row = LockKey::new(TableId(0), Key(1));
        let mut writes = WriteSet::default();
        writes.set(row, Some(Value::Int(1)));
        writes.set(row, Some(Value::Int(2)));
        writes.set(LockKey::new(TableId(0), Key(2)), None);
        assert_eq!(writes.rows.len(), 2);
        assert_eq!(writes.get(row), Some(&Some(Value::Int(2))));
        assert_eq!(
            writes.get(LockKey::new(TableId(0), Key(2))),
            Some(&None),
            "a delete is buffered as an empty image"
        );
    }
}

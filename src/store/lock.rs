//! Row locks for strict two-phase locking: shared for reads, exclusive for writes, a FIFO
//! queue per row.
//!
//! Rules, all deterministic:
//! - A request is granted at once if it is compatible with the holders *and* nobody is
//!   queued; otherwise it joins the back of the queue (so a stream of readers cannot starve
//!   a writer).
//! - A holder asking for more (shared to exclusive, an upgrade) is granted at once if it is
//!   the only holder; otherwise it is queued ahead of non-holders, after earlier upgraders,
//!   because a non-holder could never be granted before it anyway and queuing it behind
//!   them would turn every reader-then-writer race into a deadlock.
//! - On release, the queue is granted from the front while requests fit: the lock is handed
//!   over (the woken tx holds it when it retries its op), never merely signalled, so a
//!   newcomer cannot overtake a woken tx.
//!
//! An entry exists only while someone holds or waits for the row, so memory follows the
//! number of live locks. This module knows locks and queues, not tx lifecycles: it reports
//! grants and lets the [`Database`](super::Database) update its txs.

use std::collections::VecDeque;
use std::fmt;

use super::hash_index::HashIndex;
use super::tx::LocalTxId;
use super::value::{Key, TableId};

/// What a lock protects: one row of one table (which need not exist yet, so an insert
/// conflicts with a concurrent insert of the same key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockKey {
    /// The table.
    pub table: TableId,
    /// The row.
    pub key: Key,
}

/// Lock strength; `Shared < Exclusive`, so "holds at least" is `>=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Mode {
    /// Readers; compatible with each other.
    Shared,
    /// A writer; compatible with nobody.
    Exclusive,
}

/// What [`LockTable::acquire`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Acquired {
    /// The tx already held the row at least as strongly.
    AlreadyHeld,
    /// The tx now holds a row it did not hold before.
    New,
    /// The tx's shared lock became exclusive.
    Upgraded,
    /// The tx is queued; its op must wait.
    Queued,
}

/// A queued request that a release granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Grant {
    /// Who is woken.
    pub tx: LocalTxId,
    /// The row it now holds.
    pub key: LockKey,
    /// False for an upgrade: the tx already listed the row among its locks.
    pub new: bool,
}

/// Every row currently locked or waited for, looked up by row (never iterated).
#[derive(Debug, Default)]
pub(super) struct LockTable {
    locks: HashIndex<LockKey, Lock>,
}

#[derive(Debug)]
struct Lock {
    mode: Mode,
    holders: Holders,
    queue: VecDeque<Waiter>,
}

/// Holders of one row; one holder (the common case) needs no allocation.
#[derive(Debug)]
enum Holders {
    One(LocalTxId),
    Many(Vec<LocalTxId>),
}

#[derive(Clone, Copy, Debug)]
struct Waiter {
    tx: LocalTxId,
    mode: Mode,
    upgrade: bool,
}

impl LockKey {
    /// The lock on row `key` of `table`.
    pub const fn new(table: TableId, key: Key) -> Self {
        LockKey { table, key }
    }
}

impl LockTable {
    /// Requests `key` in `mode` for `tx`, granting or queuing it.
    pub fn acquire(&mut self, tx: LocalTxId, key: LockKey, mode: Mode) -> Acquired {
        let (lock, inserted) = self.locks.get_or_insert_with(key, || Lock::held_by(tx, mode));
        if inserted {
            return Acquired::New;
        }
        if lock.holders.contains(tx) {
            return lock.acquire_as_holder(tx, mode);
        }
        if lock.queue.is_empty() && lock.compatible(mode) {
            lock.holders.push(tx);
            return Acquired::New;
        }
        lock.queue.push_back(Waiter {
            tx,
            mode,
            upgrade: false,
        });
        Acquired::Queued
    }

    /// Gives up `tx`'s hold on `key`, granting queued requests that now fit.
    pub fn release(&mut self, tx: LocalTxId, key: LockKey, grants: &mut Vec<Grant>) {
        let lock = self
            .locks
            .get_mut(key)
            .expect("a tx releases only locks it holds");
        let was_holder = lock.holders.remove(tx);
        debug_assert!(was_holder, "{tx} released {key:?} without holding it");
        self.settle(key, grants);
    }

    /// Takes `tx` out of `key`'s queue (it aborted while waiting), granting requests that
    /// were queued behind it and now fit.
    pub fn cancel_wait(&mut self, tx: LocalTxId, key: LockKey, grants: &mut Vec<Grant>) {
        let lock = self.locks.get_mut(key).expect("a waiting tx is queued");
        let position = lock.queue.iter().position(|w| w.tx == tx);
        lock.queue
            .remove(position.expect("a waiting tx is in its lock's queue"));
        self.settle(key, grants);
    }

    /// Appends to `out` the txs that `tx`, queued on `key` for `mode`, waits for: the
    /// holders it conflicts with, then everyone queued ahead of it (they are served first).
    pub fn waits_for(&self, tx: LocalTxId, key: LockKey, mode: Mode, out: &mut Vec<LocalTxId>) {
        let Some(lock) = self.locks.get(key) else {
            return;
        };
        if mode == Mode::Exclusive || lock.mode == Mode::Exclusive {
            out.extend(lock.holders.as_slice().iter().filter(|&&h| h != tx));
        }
        let ahead = lock.queue.iter().take_while(|w| w.tx != tx);
        out.extend(ahead.map(|w| w.tx));
    }

    /// Number of rows locked or waited for.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// Forgets every lock and queue (a crash), keeping the allocation.
    pub fn clear(&mut self) {
        self.locks.clear();
    }

    /// Grants from the front of `key`'s queue while requests fit, and forgets the entry once
    /// nobody holds or waits.
    fn settle(&mut self, key: LockKey, grants: &mut Vec<Grant>) {
        let lock = self.locks.get_mut(key).expect("settled lock exists");
        while let Some(&waiter) = lock.queue.front() {
            if !lock.grantable(waiter) {
                break;
            }
            lock.queue.pop_front();
            lock.grant(waiter);
            grants.push(Grant {
                tx: waiter.tx,
                key,
                new: !waiter.upgrade,
            });
        }
        if lock.holders.is_empty() {
            debug_assert!(lock.queue.is_empty(), "a free row's first waiter is granted");
            self.locks.remove(key);
        }
    }
}

impl Lock {
    fn held_by(tx: LocalTxId, mode: Mode) -> Self {
        Lock {
            mode,
            holders: Holders::One(tx),
            queue: VecDeque::new(),
        }
    }

    fn acquire_as_holder(&mut self, tx: LocalTxId, mode: Mode) -> Acquired {
        if self.mode >= mode {
            return Acquired::AlreadyHeld;
        }
        if self.holders.is_only(tx) {
            self.mode = Mode::Exclusive;
            return Acquired::Upgraded;
        }
        let position = self.queue.iter().position(|w| !w.upgrade);
        let waiter = Waiter {
            tx,
            mode,
            upgrade: true,
        };
        self.queue.insert(position.unwrap_or(self.queue.len()), waiter);
        Acquired::Queued
    }

    /// Whether a new holder in `mode` is compatible with the current ones.
    fn compatible(&self, mode: Mode) -> bool {
        self.holders.is_empty() || (mode == Mode::Shared && self.mode == Mode::Shared)
    }

    fn grantable(&self, waiter: Waiter) -> bool {
        if waiter.upgrade {
            self.holders.is_only(waiter.tx)
        } else {
            self.compatible(waiter.mode)
        }
    }

    fn grant(&mut self, waiter: Waiter) {
        if waiter.upgrade {
            self.mode = Mode::Exclusive;
            return;
        }
        if self.holders.is_empty() {
            self.mode = waiter.mode;
        }
        self.holders.push(waiter.tx);
    }
}

impl Holders {
    fn as_slice(&self) -> &[LocalTxId] {
        match self {
            Holders::One(tx) => std::slice::from_ref(tx),
            Holders::Many(txs) => txs,
        }
    }

    fn contains(&self, tx: LocalTxId) -> bool {
        self.as_slice().contains(&tx)
    }

    fn is_only(&self, tx: LocalTxId) -> bool {
        self.as_slice() == [tx]
    }

    fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    fn push(&mut self, tx: LocalTxId) {
        match self {
            Holders::Many(txs) if txs.is_empty() => *self = Holders::One(tx),
            Holders::Many(txs) => txs.push(tx),
            Holders::One(first) => *self = Holders::Many(vec![*first, tx]),
        }
    }

    /// Removes `tx`; false if it did not hold. Order of the others is kept.
    fn remove(&mut self, tx: LocalTxId) -> bool {
        match self {
            Holders::One(only) if *only == tx => {
                *self = Holders::Many(Vec::new());
                true
            }
            Holders::One(_) => false,
            Holders::Many(txs) => match txs.iter().position(|&h| h == tx) {
                Some(index) => {
                    txs.remove(index);
                    true
                }
                None => false,
            },
        }
    }
}

impl fmt::Display for LockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.table, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: LockKey = LockKey::new(TableId(0), Key(1));
    const T1: LocalTxId = LocalTxId(1);
    const T2: LocalTxId = LocalTxId(2);
    const T3: LocalTxId = LocalTxId(3);

    fn release(table: &mut LockTable, tx: LocalTxId) -> Vec<(LocalTxId, bool)> {
        let mut grants = Vec::new();
        table.release(tx, ROW, &mut grants);
        grants.iter().map(|g| (g.tx, g.new)).collect()
    }

    #[test]
    fn readers_share_and_a_writer_waits_for_all_of_them() {
        let mut table = LockTable::default();
        assert_eq!(table.acquire(T1, ROW, Mode::Shared), Acquired::New);
        assert_eq!(table.acquire(T2, ROW, Mode::Shared), Acquired::New);
        assert_eq!(table.acquire(T3, ROW, Mode::Exclusive), Acquired::Queued);
        let mut waits = Vec::new();
        table.waits_for(T3, ROW, Mode::Exclusive, &mut waits);
        assert_eq!(waits, [T1, T2]);
        assert_eq!(release(&mut table, T1), []);
        assert_eq!(release(&mut table, T2), [(T3, true)]);
    }

    #[test]
    fn a_reader_queues_behind_a_waiting_writer_so_writers_do_not_starve() {
        let mut table = LockTable::default();
        table.acquire(T1, ROW, Mode::Shared);
        table.acquire(T2, ROW, Mode::Exclusive);
        assert_eq!(table.acquire(T3, ROW, Mode::Shared), Acquired::Queued);
        assert_eq!(release(&mut table, T1), [(T2, true)]);
        assert_eq!(release(&mut table, T2), [(T3, true)]);
        assert_eq!(release(&mut table, T3), []);
        assert_eq!(table.len(), 0, "a free row keeps no entry");
    }

    #[test]
    fn a_sole_reader_upgrades_at_once_and_a_shared_one_queues_first() {
        let mut table = LockTable::default();
        table.acquire(T1, ROW, Mode::Shared);
        assert_eq!(table.acquire(T1, ROW, Mode::Exclusive), Acquired::Upgraded);
        assert_eq!(table.acquire(T1, ROW, Mode::Shared), Acquired::AlreadyHeld);
        release(&mut table, T1);

        table.acquire(T1, ROW, Mode::Shared);
        table.acquire(T2, ROW, Mode::Shared);
        table.acquire(T3, ROW, Mode::Exclusive);
        assert_eq!(table.acquire(T1, ROW, Mode::Exclusive), Acquired::Queued);
        assert_eq!(release(&mut table, T2), [(T1, false)], "upgrader is served first");
    }

    #[test]
    fn cancelling_a_queued_writer_lets_readers_behind_it_in() {
        let mut table = LockTable::default();
        table.acquire(T1, ROW, Mode::Shared);
        table.acquire(T2, ROW, Mode::Exclusive);
        table.acquire(T3, ROW, Mode::Shared);
        let mut grants = Vec::new();
        table.cancel_wait(T2, ROW, &mut grants);
        assert_eq!(grants.iter().map(|g| g.tx).collect::<Vec<_>>(), [T3]);
    }
}

//! The transactional outbox (Richardson, "Pattern: Transactional outbox").
//!
//! A service that must both change its data and publish an event cannot do both atomically
//! across its database and a broker (the dual write). Instead it appends the event to an
//! outbox table in the same local tx as the change: the row exists iff the change commits.
//! A relay then reads [`Session::pending_outbox`], publishes, and calls
//! [`Session::mark_published`]; a crash between publishing and marking republishes, so
//! consumers must be idempotent (at-least-once delivery).
//!
//! Rows get their [`OutboxId`] at commit, in commit order, so a relay publishing in id order
//! publishes in commit order. Published rows are removed: memory follows what is pending.

use super::error::StoreError;
use super::session::Session;
use super::tx::LocalTxId;
use super::value::Key;
use crate::sim::IdMap;

/// An outbox row's id: its position in commit order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutboxId(pub u64);

/// Outbox ids come from a counter in commit order: dense, so maps of them are windows of
/// slots ([`crate::sim::IdMap`]).
impl crate::sim::DenseId for OutboxId {
    fn to_index(self) -> u64 {
        self.0
    }

    fn from_index(index: u64) -> Self {
        OutboxId(index)
    }
}

/// An event waiting to be published: kept small and generic so any strategy can map it onto
/// its broker messages.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OutboxEvent {
    /// The topic, numbered by the model loader.
    pub topic: u32,
    /// What the event is about (an order id, an account), e.g. the broker's partition key.
    pub key: Key,
    /// The event's data: four words the publishing strategy interprets (ids, keys, a step
    /// number). Fixed-size so writing an outbox row never allocates.
    pub payload: [u64; 4],
}

/// Committed outbox rows not yet published; part of durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outbox {
    /// By id: a window of slots from the oldest pending row to the newest ([`IdMap`]),
    /// since rows are appended in id order and mostly published in that order.
    rows: IdMap<OutboxId, OutboxEvent>,
    next_id: u64,
}

impl Outbox {
    /// Pending rows in commit order.
    pub fn pending(&self) -> impl Iterator<Item = (OutboxId, &OutboxEvent)> {
        self.rows.iter()
    }

    /// Bytes the pending rows take, for the world's bound on a run's record.
    pub fn retained_bytes(&self) -> usize {
        self.rows.retained_bytes()
    }

    /// Number of pending rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when everything committed has been published.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Adds a committed event under the next id.
    pub(super) fn append(&mut self, event: OutboxEvent) -> OutboxId {
        let id = OutboxId(self.next_id);
        self.next_id += 1;
        self.rows.insert(id, event);
        id
    }

    /// Removes a published row; false if it was not pending.
    fn remove(&mut self, id: OutboxId) -> bool {
        self.rows.remove(id).is_some()
    }
}

impl Session<'_> {
    /// Appends `event` to `tx`'s outbox rows: it becomes a pending outbox row iff `tx`
    /// commits. Needs no lock, so it never blocks. Costs one op.
    pub fn append_outbox(&mut self, tx: LocalTxId, event: OutboxEvent) -> Result<(), StoreError> {
        self.db.charge_op();
        self.db.runnable_tx(tx)?.writes.events.push(event);
        Ok(())
    }

    /// Committed rows not yet published, in commit order, for the relay. Costs one op.
    pub fn pending_outbox(&mut self) -> impl Iterator<Item = (OutboxId, &OutboxEvent)> {
        self.db.charge_op();
        self.db.durable.outbox.pending()
    }

    /// Marks rows published (removes them) and returns how many were pending; ids already
    /// published are ignored, so a relay may retry. Marking is a small committed tx of its
    /// own: one op, plus one forced write if anything changed.
    pub fn mark_published(&mut self, ids: &[OutboxId]) -> usize {
        self.db.charge_op();
        let outbox = &mut self.db.durable.outbox;
        let marked = ids.iter().filter(|&&id| outbox.remove(id)).count();
        if marked > 0 {
            self.db.force_write();
            self.db.stats.published += marked as u64;
        }
        marked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Instant;
    use crate::store::Value;
    use crate::store::testing::{ACCOUNTS, OWNER, bank};
    use crate::store::value::Bounds;

    fn event(order: u64) -> OutboxEvent {
        OutboxEvent {
            topic: 7,
            key: Key(order),
            payload: [30, 0, 0, 0],
        }
    }

    /// Debits 30 from account 1 and appends the matching event, in one tx.
    fn debit_with_event(session: &mut Session<'_>, tx: LocalTxId) {
        session.begin(tx, Instant::ZERO).expect("fresh tx");
        let debit = session.add(tx, ACCOUNTS, Key(1), -30, Bounds::at_least(0));
        assert!(debit.expect("known tx").is_done());
        session.append_outbox(tx, event(tx.0)).expect("running tx");
    }

    #[test]
    fn an_outbox_row_exists_iff_its_tx_commits() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        debit_with_event(&mut session, LocalTxId(1));
        assert_eq!(session.pending_outbox().count(), 0, "not before commit");
        session.abort(LocalTxId(1), Instant::ZERO).expect("known tx");
        assert_eq!(session.pending_outbox().count(), 0, "aborted: no row");

        debit_with_event(&mut session, LocalTxId(2));
        session.commit(LocalTxId(2), Instant::ZERO).expect("known tx");
        let pending: Vec<_> = session.pending_outbox().map(|(_, e)| e.clone()).collect();
        assert_eq!(pending, [event(2)]);
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(70)));
    }

    #[test]
    fn a_crash_before_commit_leaves_no_outbox_row_and_a_committed_row_survives() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        debit_with_event(&mut session, LocalTxId(1));
        session.commit(LocalTxId(1), Instant::ZERO).expect("known tx");
        debit_with_event(&mut session, LocalTxId(2));
        db.crash();
        db.recover();
        let ids: Vec<OutboxId> = db.outbox().pending().map(|(id, _)| id).collect();
        assert_eq!(ids, [OutboxId(0)], "only the committed tx's row");
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(70)));
    }

    #[test]
    fn marking_published_removes_rows_once_and_forces_one_write() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        debit_with_event(&mut session, LocalTxId(1));
        session.commit(LocalTxId(1), Instant::ZERO).expect("known tx");
        let forced_before = session.stats().forced_writes;
        assert_eq!(session.mark_published(&[OutboxId(0)]), 1);
        assert_eq!(session.mark_published(&[OutboxId(0)]), 0, "a retry is harmless");
        assert_eq!(session.stats().forced_writes, forced_before + 1);
        assert!(session.outbox().is_empty());
    }
}

//! The durable half of a database: what a crash cannot take.
//!
//! The write-ahead log is modelled by its effect rather than stored record by record:
//!
//! - A **commit record** carries the tx's write set. Once forced, the tx is durable; it is
//!   folded into the tables at once (a checkpoint after every commit), so the log never
//!   grows with the length of a run. Redo of a committed tx is therefore never needed.
//! - A **prepare record** carries the write set of a 2PC participant that voted yes. It
//!   stays in the log, as a [`PreparedRecord`], until the decision arrives: then a commit
//!   record (fold the writes) or an abort record (drop them) resolves it.
//! - Active txs write nothing: updates are deferred, so there is nothing to undo and an
//!   active tx simply vanishes in a crash.
//!
//! Recovery reads the prepared records back; see `Database::recover`.
//! This module does not count forced writes or charge time: the database does, per call.

use std::collections::BTreeMap;

use super::append_index::AppendIndex;
use super::hold::{Hold, Holds};
use super::outbox::Outbox;
use super::rows::Rows;
use super::tx::{LocalTxId, WriteSet};
use super::value::{Key, TableId, Value};
use crate::sim::Instant;

/// Committed data plus the log records not yet folded into it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Durable {
    /// Committed rows of the declared tables, one per table, in key order (observers list
    /// them).
    pub tables: Vec<Rows>,
    /// Committed rows of the idempotency table, whose id follows the declared tables'. It
    /// grows with the run, is only ever looked up, and its keys arrive nearly in order.
    pub idempotency: AppendIndex<Value>,
    /// Committed, not yet published, outbox rows.
    pub outbox: Outbox,
    /// Prepare records awaiting a decision, by tx.
    pub prepared: BTreeMap<LocalTxId, PreparedRecord>,
    /// Committed holds not yet confirmed or released.
    pub holds: Holds,
}

/// An in-doubt tx as the log knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PreparedRecord {
    /// What commit will apply; its rows are the exclusive locks recovery re-acquires.
    pub writes: WriteSet,
    /// When the tx began, so lock-hold time stays right across a crash.
    pub begun_at: Instant,
}

impl Durable {
    /// Bytes the log keeps, for the world's bound on a run's record: committed rows, the
    /// idempotency records (which grow with every transaction), the outbox, prepare records.
    pub fn retained_bytes(&self) -> usize {
        use crate::world::footprint::map_bytes;
        let rows: usize = self.tables.iter().map(Rows::retained_bytes).sum();
        rows + map_bytes::<Key, Value>(self.idempotency.len())
            + self.outbox.retained_bytes()
            + map_bytes::<LocalTxId, PreparedRecord>(self.prepared.len())
            + map_bytes::<Key, Hold>(self.holds.len())
    }

    /// Logs a prepare record (the caller forces it).
    pub fn log_prepare(&mut self, tx: LocalTxId, record: PreparedRecord) {
        let previous = self.prepared.insert(tx, record);
        assert!(previous.is_none(), "{tx} prepared twice");
    }

    /// Removes `tx`'s prepare record: the decision is being logged.
    pub fn resolve(&mut self, tx: LocalTxId) -> PreparedRecord {
        self.prepared
            .remove(&tx)
            .expect("a prepared tx has a prepare record")
    }

    /// The committed value of a row of any table, the idempotency table included.
    #[inline]
    pub fn get(&self, table: TableId, key: Key) -> Option<&Value> {
        match self.tables.get(table.index()) {
            Some(rows) => rows.get(key),
            None if table.index() == self.tables.len() => self.idempotency.get(key),
            None => None,
        }
    }

    /// Logs a commit record for `writes` and folds it into the tables, leaving `writes`
    /// empty (its buffers can be reused).
    pub fn commit(&mut self, writes: &mut WriteSet) {
        for (row, image) in writes.rows.drain(..) {
            let Some(table) = self.tables.get_mut(row.table.index()) else {
                debug_assert_eq!(row.table.index(), self.tables.len(), "the idempotency table");
                match image {
                    Some(value) => self.idempotency.insert(row.key, value),
                    None => self.idempotency.remove(row.key),
                };
                continue;
            };
            match image {
                Some(value) => table.insert(row.key, value),
                None => table.remove(row.key),
            };
        }
        for event in writes.events.drain(..) {
            self.outbox.append(event);
        }
        for (id, hold) in writes.holds.drain(..) {
            self.holds.set(id, hold);
        }
    }
}

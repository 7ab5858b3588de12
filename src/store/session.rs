//! A session: the owner's handle for running local txs, handed out by
//! [`Database::access`] after the ownership check.
//!
//! Every op names its tx and runs at once, to completion: it takes the row lock it needs
//! (shared to read, exclusive to write), then reads through the tx's write set or buffers a
//! new row image. If the lock is taken the op returns [`Outcome::Blocked`] and the tx is
//! queued; `commit` and `abort` return the txs their released locks woke, and each of those
//! retries the op it was blocked on. Locks are held until commit or abort (strict 2PL).
//!
//! Idempotency and outbox ops are in `idempotency.rs` and `outbox.rs`, programs in
//! `program.rs`.

use std::ops::Deref;

use super::database::Database;
use super::error::StoreError;
use super::lock::{LockKey, Mode};
use super::outcome::{Outcome, Violation};
use super::tx::LocalTxId;
use super::value::{Bounds, Key, TableId, Value};
use super::wal::PreparedRecord;
use crate::sim::Instant;

/// The owner's handle on its database for the duration of one request.
#[derive(Debug)]
pub struct Session<'a> {
    pub(super) db: &'a mut Database,
}

impl Session<'_> {
    /// Starts local tx `tx` at `now` (lock-hold time is measured from here). Free: a
    /// begin touches nothing until the first op.
    pub fn begin(&mut self, tx: LocalTxId, now: Instant) -> Result<(), StoreError> {
        self.db.begin(tx, now)
    }

    /// The row as `tx` sees it (its own writes included), under a shared lock.
    pub fn read(
        &mut self,
        tx: LocalTxId,
        table: TableId,
        key: Key,
    ) -> Result<Outcome<Option<&Value>>, StoreError> {
        let row = LockKey::new(self.db.schema.check(table)?, key);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Shared)? {
            return Ok(Outcome::Blocked(blocked));
        }
        Ok(Outcome::Done(self.db.view(tx, row)))
    }

    /// Sets the row to `value`, creating it if absent.
    pub fn put(
        &mut self,
        tx: LocalTxId,
        table: TableId,
        key: Key,
        value: Value,
    ) -> Result<Outcome<()>, StoreError> {
        let row = LockKey::new(self.db.schema.check(table)?, key);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        self.db.tx_mut(tx)?.writes.set(row, Some(value));
        Ok(Outcome::Done(()))
    }

    /// Creates the row; refused with [`Violation::AlreadyExists`] if it exists.
    pub fn insert(
        &mut self,
        tx: LocalTxId,
        table: TableId,
        key: Key,
        value: Value,
    ) -> Result<Outcome<()>, StoreError> {
        let row = LockKey::new(self.db.schema.check(table)?, key);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        if self.db.view(tx, row).is_some() || self.db.durable.holds.held_on(row, None).insert {
            return Ok(self.violated(Violation::AlreadyExists { table, key }));
        }
        self.db.tx_mut(tx)?.writes.set(row, Some(value));
        Ok(Outcome::Done(()))
    }

    /// Deletes the row; `Done(false)` if it did not exist.
    pub fn delete(&mut self, tx: LocalTxId, table: TableId, key: Key) -> Result<Outcome<bool>, StoreError> {
        let row = LockKey::new(self.db.schema.check(table)?, key);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        let existed = self.db.view(tx, row).is_some();
        if existed {
            self.db.tx_mut(tx)?.writes.set(row, None);
        }
        Ok(Outcome::Done(existed))
    }

    /// Adds `delta` to an integer row if the result stays within `bounds`, and returns the
    /// new value. Refused (data unchanged) with [`Violation::ConstraintViolated`] when the
    /// bounds would break, e.g. insufficient funds, or [`Violation::NotFound`].
    pub fn add(
        &mut self,
        tx: LocalTxId,
        table: TableId,
        key: Key,
        delta: i64,
        bounds: Bounds,
    ) -> Result<Outcome<i64>, StoreError> {
        self.add_to(tx, table, key, None, delta, bounds)
    }

    /// [`Session::add`] on one field of a record row, e.g. a stock row's `available`.
    pub fn add_field(
        &mut self,
        tx: LocalTxId,
        table: TableId,
        key: Key,
        field: &str,
        delta: i64,
        bounds: Bounds,
    ) -> Result<Outcome<i64>, StoreError> {
        self.add_to(tx, table, key, Some(field), delta, bounds)
    }

    /// Votes yes in 2PC: forces a prepare record holding the write set, and keeps every
    /// lock. From now on only `commit` or `abort` may follow, even across a crash.
    pub fn prepare(&mut self, tx: LocalTxId) -> Result<(), StoreError> {
        let db = &mut *self.db;
        db.charge_op();
        let state = db.runnable_tx(tx)?;
        state.prepared = true;
        let record = PreparedRecord {
            writes: std::mem::take(&mut state.writes),
            begun_at: state.begun_at,
        };
        db.durable.log_prepare(tx, record);
        db.force_write();
        db.stats.prepares += 1;
        Ok(())
    }

    /// Commits `tx` at `now`: forces a commit record (skipped for a read-only tx that was
    /// never prepared), applies the write set, releases the locks, and returns the txs
    /// that were granted a released lock, in grant order; each must retry its blocked op.
    pub fn commit(&mut self, tx: LocalTxId, now: Instant) -> Result<Vec<LocalTxId>, StoreError> {
        let db = &mut *self.db;
        db.charge_op();
        let mut state = db.txs.remove(tx).ok_or(StoreError::UnknownTx(tx))?;
        if state.waiting.is_some() {
            db.txs.insert(tx, state);
            return Err(StoreError::Waiting(tx));
        }
        if state.prepared {
            let mut record = db.durable.resolve(tx);
            db.force_write();
            db.count_skew(&state.reads, &record.writes);
            db.bump_versions(&record.writes);
            db.durable.commit(&mut record.writes);
        } else if !state.writes.is_empty() {
            db.force_write();
            db.count_skew(&state.reads, &state.writes);
            db.bump_versions(&state.writes);
            db.durable.commit(&mut state.writes);
        }
        db.stats.commits += 1;
        Ok(db.finish(tx, state, now))
    }

    /// Aborts `tx` at `now`, whatever its state (active, waiting for a lock, prepared): its
    /// write set is dropped, its locks and queue place released. Returns the txs woken, as
    /// `commit` does. Only a prepared tx forces a write (its abort record).
    pub fn abort(&mut self, tx: LocalTxId, now: Instant) -> Result<Vec<LocalTxId>, StoreError> {
        let db = &mut *self.db;
        db.charge_op();
        let state = db.txs.remove(tx).ok_or(StoreError::UnknownTx(tx))?;
        if state.prepared {
            db.durable.resolve(tx);
            db.force_write();
        }
        db.stats.aborts += 1;
        Ok(db.finish(tx, state, now))
    }

    fn add_to(
        &mut self,
        tx: LocalTxId,
        table: TableId,
        key: Key,
        field: Option<&str>,
        delta: i64,
        bounds: Bounds,
    ) -> Result<Outcome<i64>, StoreError> {
        let row = LockKey::new(self.db.schema.check(table)?, key);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        let Some(value) = self.db.view(tx, row) else {
            return Ok(self.violated(Violation::NotFound { table, key }));
        };
        let current = value.counter(field).ok_or_else(|| StoreError::NotACounter {
            table,
            key,
            field: field.map(str::to_string),
        })?;
        let held = self.db.durable.holds.held_on(row, field);
        let Some(next) = bounds
            .apply(current, delta)
            .filter(|next| held.allows(*next, bounds))
        else {
            let violation = Violation::ConstraintViolated {
                table,
                key,
                current,
                delta,
                bounds,
            };
            return Ok(self.violated(violation));
        };
        self.write_counter(tx, row, field, next);
        Ok(Outcome::Done(next))
    }

    /// Buffers `next` as the row's counter, editing the tx's image in place if it has one.
    pub(super) fn write_counter(&mut self, tx: LocalTxId, row: LockKey, field: Option<&str>, next: i64) {
        let db = &mut *self.db;
        let writes = &mut db.txs.get_mut(tx).expect("locking tx is live").writes;
        if let Some(image) = writes.get_mut(row) {
            let value = image.as_mut().expect("a deleted row has no counter");
            *value.counter_mut(field).expect("counter checked") = next;
            return;
        }
        let committed = db.durable.get(row.table, row.key).expect("counter checked");
        let mut value = committed.clone();
        *value.counter_mut(field).expect("counter checked") = next;
        writes.rows.push((row, Some(value)));
    }

    pub(super) fn violated<T>(&mut self, violation: Violation) -> Outcome<T> {
        self.db.stats.violations += 1;
        Outcome::Violated(violation)
    }
}

/// Read-only views of the database (status, stats, observers) stay available in a session.
impl Deref for Session<'_> {
    type Target = Database;

    fn deref(&self) -> &Database {
        self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{ACCOUNTS, OWNER, bank};
    use crate::store::tx::TxStatus;
    use crate::store::value::Record;

    const T1: LocalTxId = LocalTxId(1);
    const T2: LocalTxId = LocalTxId(2);
    const T3: LocalTxId = LocalTxId(3);
    const NOW: Instant = Instant::ZERO;

    fn begin_all(session: &mut Session<'_>, txs: &[LocalTxId]) {
        for &tx in txs {
            session.begin(tx, NOW).expect("fresh tx");
        }
    }

    fn add(session: &mut Session<'_>, tx: LocalTxId, account: u64, delta: i64) -> Outcome<i64> {
        let added = session.add(tx, ACCOUNTS, Key(account), delta, Bounds::at_least(0));
        added.expect("known tx")
    }

    #[test]
    fn two_txs_on_one_key_serialize_and_the_second_sees_the_first() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        begin_all(&mut session, &[T1, T2]);
        assert_eq!(add(&mut session, T1, 1, -30), Outcome::Done(70));
        let blocked = add(&mut session, T2, 1, -30);
        assert_eq!(blocked.blocked().map(|b| b.waits_for.clone()), Some(vec![T1]));
        assert_eq!(
            session.tx_status(T2),
            Some(TxStatus::Waiting(LockKey::new(ACCOUNTS, Key(1))))
        );
        assert_eq!(
            add(&mut session, T2, 1, -30)
                .blocked()
                .map(|b| b.deadlock.clone()),
            Some(None),
            "a retry before the wake-up still waits"
        );
        assert_eq!(session.commit(T1, NOW).expect("known"), [T2]);
        assert_eq!(add(&mut session, T2, 1, -30), Outcome::Done(40));
        session.commit(T2, NOW).expect("known");
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(40)));
        assert_eq!(db.stats().lock_waits, 1);
    }

    #[test]
    fn a_deadlock_of_two_txs_is_detected_and_the_youngest_is_the_victim() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        begin_all(&mut session, &[T1, T2]);
        assert!(add(&mut session, T1, 1, 1).is_done());
        assert!(add(&mut session, T2, 2, 1).is_done());
        let first_wait = add(&mut session, T1, 2, 1);
        assert_eq!(first_wait.blocked().map(|b| b.deadlock.is_some()), Some(false));
        let closing = add(&mut session, T2, 1, 1);
        let deadlock = closing
            .blocked()
            .and_then(|b| b.deadlock.clone())
            .expect("a cycle");
        assert_eq!(deadlock.cycle, [T2, T1]);
        assert_eq!(deadlock.victim, T2);
        assert_eq!(session.find_deadlock().map(|d| d.victim), Some(T2));
        assert_eq!(session.abort(deadlock.victim, NOW).expect("known"), [T1]);
        assert_eq!(add(&mut session, T1, 2, 1), Outcome::Done(51));
        assert_eq!(session.find_deadlock(), None);
        assert_eq!(session.stats().deadlocks, 1);
    }

    #[test]
    fn a_waiting_tx_can_be_aborted_on_timeout_and_its_waiters_wake() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        begin_all(&mut session, &[T1, T2, T3]);
        let read = session.read(T1, ACCOUNTS, Key(1)).expect("known");
        assert!(read.is_done());
        assert!(
            add(&mut session, T2, 1, 5).blocked().is_some(),
            "writer waits for the reader"
        );
        let queued = session.read(T3, ACCOUNTS, Key(1)).expect("known");
        assert_eq!(
            queued.blocked().map(|b| b.waits_for.clone()),
            Some(vec![T2]),
            "reader queues behind the writer"
        );
        // The caller's lock-wait timer for T2 fires: T2 is still waiting, so it is aborted.
        assert!(session.is_waiting(T2));
        assert_eq!(session.abort(T2, NOW).expect("known"), [T3]);
        let read = session.read(T3, ACCOUNTS, Key(1)).expect("known");
        assert_eq!(read.done(), Some(Some(&Value::Int(100))));
    }

    #[test]
    fn insufficient_funds_is_a_violation_that_leaves_data_unchanged() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        begin_all(&mut session, &[T1]);
        assert_eq!(add(&mut session, T1, 2, -20), Outcome::Done(30));
        let refused = add(&mut session, T1, 2, -31);
        let expected = Violation::ConstraintViolated {
            table: ACCOUNTS,
            key: Key(2),
            current: 30,
            delta: -31,
            bounds: Bounds::at_least(0),
        };
        assert_eq!(refused, Outcome::Violated(expected));
        let read = session.read(T1, ACCOUNTS, Key(2)).expect("known");
        assert_eq!(
            read.done(),
            Some(Some(&Value::Int(30))),
            "the tx still sees its own debit"
        );
        session.abort(T1, NOW).expect("known");
        assert_eq!(db.committed(ACCOUNTS, Key(2)), Some(&Value::Int(50)));
        assert_eq!(db.stats().violations, 1);
    }

    #[test]
    fn insert_refuses_an_existing_key_and_delete_reports_absence() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        begin_all(&mut session, &[T1]);
        let duplicate = session
            .insert(T1, ACCOUNTS, Key(1), Value::Int(0))
            .expect("known");
        assert!(matches!(
            duplicate,
            Outcome::Violated(Violation::AlreadyExists { .. })
        ));
        assert_eq!(
            session.delete(T1, ACCOUNTS, Key(1)).expect("known"),
            Outcome::Done(true)
        );
        assert_eq!(
            session.delete(T1, ACCOUNTS, Key(1)).expect("known"),
            Outcome::Done(false)
        );
        let created = session
            .insert(T1, ACCOUNTS, Key(1), Value::Int(5))
            .expect("known");
        assert!(
            created.is_done(),
            "a row deleted in this tx can be inserted again"
        );
        assert!(
            session
                .insert(T1, ACCOUNTS, Key(9), Value::Int(9))
                .expect("known")
                .is_done()
        );
        session.commit(T1, NOW).expect("known");
        let rows: Vec<_> = db.rows(ACCOUNTS).map(|(k, v)| (k.0, v.as_int())).collect();
        assert_eq!(rows, [(1, Some(5)), (2, Some(50)), (9, Some(9))]);
    }

    #[test]
    fn adding_to_a_record_field_edits_only_that_field() {
        let stock = Record::from([("available".to_string(), 3), ("reserved".to_string(), 0)]);
        let tables = [("stock", [(Key(7), Value::Record(stock))])];
        let mut db = Database::new(OWNER, tables).expect("valid schema");
        let table = db.schema().table_id("stock").expect("declared");
        let mut session = db.access(OWNER).expect("owner");
        begin_all(&mut session, &[T1]);
        let take = |s: &mut Session<'_>, field, delta| {
            s.add_field(T1, table, Key(7), field, delta, Bounds::at_least(0))
                .expect("known")
        };
        assert_eq!(take(&mut session, "available", -1), Outcome::Done(2));
        assert_eq!(take(&mut session, "reserved", 1), Outcome::Done(1));
        assert!(matches!(
            take(&mut session, "available", -3),
            Outcome::Violated(_)
        ));
        let missing = session.add_field(T1, table, Key(7), "colour", 1, Bounds::ANY);
        assert!(matches!(missing, Err(StoreError::NotACounter { .. })));
        session.commit(T1, NOW).expect("known");
        let row = db.committed(table, Key(7)).expect("exists");
        assert_eq!(
            (row.field("available"), row.field("reserved")),
            (Some(2), Some(1))
        );
    }

    #[test]
    fn misuse_is_an_error_not_an_outcome() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        let unknown = session.read(T1, ACCOUNTS, Key(1)).map(|_| ());
        assert_eq!(unknown, Err(StoreError::UnknownTx(T1)));
        begin_all(&mut session, &[T1]);
        assert_eq!(session.begin(T1, NOW), Err(StoreError::TxExists(T1)));
        let hidden = session.read(T1, TableId(1), Key(1)).map(|_| ());
        assert_eq!(
            hidden,
            Err(StoreError::UnknownTable(TableId(1))),
            "idempotency table is not a business table"
        );
        session.prepare(T1).expect("runnable");
        let late = session.put(T1, ACCOUNTS, Key(1), Value::Int(0)).map(|_| ());
        assert_eq!(late, Err(StoreError::Prepared(T1)));
    }
}

//! The idempotency table: request key → first result, so a duplicate request is applied once.
//!
//! A consumer that may see a message twice (the network duplicates, the broker redelivers)
//! checks the message's key in the same local tx that applies it, and records the result
//! there too: the record exists iff the change committed. A duplicate then finds the record
//! and returns the first result without touching the data.
//!
//! The check takes an exclusive lock on the key, not a shared one: two copies of one request
//! running at once would otherwise both see "absent", both apply, and then deadlock or
//! double-apply. With the exclusive lock the second copy waits, and after the first commits
//! it sees the recorded result. Records live in a hidden table (see [`Schema`](super::Schema))
//! and use the same locks, write set and log as business rows.

use super::error::StoreError;
use super::lock::{LockKey, Mode};
use super::outcome::{Outcome, Violation};
use super::session::Session;
use super::tx::LocalTxId;
use super::value::{Key, Value};

/// Names one request for deduplication, e.g. derived from the `GlobalTx` id and the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdempotencyKey(pub u64);

impl Session<'_> {
    /// The result recorded for `request` by a committed tx (or by `tx` itself), or `None` if
    /// the request is new. Locks the key exclusively until `tx` ends. Costs one op.
    pub fn check_idempotency(
        &mut self,
        tx: LocalTxId,
        request: IdempotencyKey,
    ) -> Result<Outcome<Option<&Value>>, StoreError> {
        let row = self.idempotency_row(request);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        Ok(Outcome::Done(self.db.view(tx, row)))
    }

    /// Records `result` for `request` in `tx`: durable iff `tx` commits. A second record for
    /// one key is refused with [`Violation::AlreadyExists`]. Costs one op.
    pub fn record_idempotency(
        &mut self,
        tx: LocalTxId,
        request: IdempotencyKey,
        result: Value,
    ) -> Result<Outcome<()>, StoreError> {
        let row = self.idempotency_row(request);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        if self.db.view(tx, row).is_some() {
            self.db.stats.violations += 1;
            let (table, key) = (row.table, row.key);
            return Ok(Outcome::Violated(Violation::AlreadyExists { table, key }));
        }
        self.db.tx_mut(tx)?.writes.set(row, Some(result));
        Ok(Outcome::Done(()))
    }

    fn idempotency_row(&self, request: IdempotencyKey) -> LockKey {
        LockKey::new(self.db.schema.idempotency_table(), Key(request.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Instant;
    use crate::store::testing::{ACCOUNTS, OWNER, bank};
    use crate::store::value::Bounds;

    const REQUEST: IdempotencyKey = IdempotencyKey(99);

    /// Handles a "debit 30 from account 1" request the idempotent way; returns the result
    /// (the new balance) the requester gets.
    fn debit_once(session: &mut Session<'_>, tx: LocalTxId) -> Value {
        session.begin(tx, Instant::ZERO).expect("fresh tx");
        let seen = session.check_idempotency(tx, REQUEST).expect("known tx");
        if let Some(first) = seen.done().expect("no contention").cloned() {
            session.commit(tx, Instant::ZERO).expect("known tx");
            return first;
        }
        let debit = session.add(tx, ACCOUNTS, Key(1), -30, Bounds::at_least(0));
        let balance = debit.expect("known tx").done().expect("funds suffice");
        let record = session.record_idempotency(tx, REQUEST, Value::Int(balance));
        assert!(record.expect("known tx").is_done());
        session.commit(tx, Instant::ZERO).expect("known tx");
        Value::Int(balance)
    }

    #[test]
    fn a_duplicate_request_returns_the_first_result_and_applies_once() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        assert_eq!(debit_once(&mut session, LocalTxId(1)), Value::Int(70));
        assert_eq!(debit_once(&mut session, LocalTxId(2)), Value::Int(70));
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(70)));
    }

    #[test]
    fn a_concurrent_duplicate_waits_then_sees_the_first_result() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        let (first, second) = (LocalTxId(1), LocalTxId(2));
        session.begin(first, Instant::ZERO).expect("fresh tx");
        session.begin(second, Instant::ZERO).expect("fresh tx");
        assert!(
            session
                .check_idempotency(first, REQUEST)
                .expect("known")
                .is_done()
        );
        let waiting = session.check_idempotency(second, REQUEST).expect("known");
        assert!(waiting.blocked().is_some(), "second copy waits for the first");
        let recorded = session.record_idempotency(first, REQUEST, Value::Int(70));
        assert!(recorded.expect("known").is_done());
        let woken = session.commit(first, Instant::ZERO).expect("known tx");
        assert_eq!(woken, [second]);
        let seen = session.check_idempotency(second, REQUEST).expect("known");
        assert_eq!(seen.done(), Some(Some(&Value::Int(70))));
    }

    #[test]
    fn an_aborted_tx_leaves_no_idempotency_record() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        let tx = LocalTxId(1);
        session.begin(tx, Instant::ZERO).expect("fresh tx");
        let recorded = session.record_idempotency(tx, REQUEST, Value::Int(1));
        assert!(recorded.expect("known").is_done());
        session.abort(tx, Instant::ZERO).expect("known tx");
        assert_eq!(debit_once(&mut session, LocalTxId(2)), Value::Int(70));
    }
}

//! Programs: a local tx's writes as data, so a model's step ("debit the balance, append an
//! event") can be read from a file and run without code.
//!
//! A program runs op by op until it finishes, blocks or is refused; the caller retries a
//! blocked program from the op that blocked (`Progress::Blocked::at`), once the tx is woken.

use super::error::StoreError;
use super::outbox::OutboxEvent;
use super::outcome::{Blocked, Outcome, Violation};
use super::session::Session;
use super::tx::LocalTxId;
use super::value::{Bounds, Key, TableId, Value};

/// One write of a program; each maps onto the [`Session`] method of the same name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`Session::put`].
    Put {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
        /// The new value.
        value: Value,
    },
    /// [`Session::insert`].
    Insert {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
        /// The value of the new row.
        value: Value,
    },
    /// [`Session::delete`].
    Delete {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
    },
    /// [`Session::add`] (`field: None`) or [`Session::add_field`].
    Add {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
        /// The record field, or `None` for an integer row.
        field: Option<String>,
        /// The change.
        delta: i64,
        /// The business constraint.
        bounds: Bounds,
    },
    /// [`Session::append_outbox`].
    AppendOutbox(OutboxEvent),
    /// [`Session::read_then_write`].
    ReadThenWrite {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
        /// The change decided on the value read.
        delta: i64,
        /// The business constraint the decision checks.
        bounds: Bounds,
        /// How the read is guarded.
        guard: super::ReadGuard,
        /// A second row of the table read: `bounds` hold for the two rows' sum.
        also_reads: Option<Key>,
    },
}

/// How far a program got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Every op took effect; the tx may prepare or commit.
    Done,
    /// Op `at` waits for a lock; run again from `at` once the tx is woken.
    Blocked {
        /// The index of the op that blocked.
        at: usize,
        /// Why.
        blocked: Blocked,
    },
    /// Op `at` was refused; the ops before it are buffered, so the caller aborts the tx.
    Violated {
        /// The index of the refused op.
        at: usize,
        /// Which rule.
        violation: Violation,
    },
}

impl Op {
    /// The op as a plain change: a read-then-write becomes the `Add` it decides (what a
    /// reservation holds); any other op is itself.
    pub fn as_delta(&self) -> Op {
        match *self {
            Op::ReadThenWrite {
                table,
                key,
                delta,
                bounds,
                ..
            } => Op::Add {
                table,
                key,
                field: None,
                delta,
                bounds,
            },
            ref other => other.clone(),
        }
    }
}

impl Session<'_> {
    /// Runs `ops[from..]` in `tx`, stopping at the first op that blocks or is refused.
    pub fn run(&mut self, tx: LocalTxId, ops: &[Op], from: usize) -> Result<Progress, StoreError> {
        for (at, op) in ops.iter().enumerate().skip(from) {
            match self.apply(tx, op)? {
                Outcome::Done(()) => {}
                Outcome::Blocked(blocked) => return Ok(Progress::Blocked { at, blocked }),
                Outcome::Violated(violation) => return Ok(Progress::Violated { at, violation }),
            }
        }
        Ok(Progress::Done)
    }

    /// Runs one op in `tx`, dropping its result value.
    pub fn apply(&mut self, tx: LocalTxId, op: &Op) -> Result<Outcome<()>, StoreError> {
        let outcome = match op {
            Op::Put { table, key, value } => self.put(tx, *table, *key, value.clone())?,
            Op::Insert { table, key, value } => self.insert(tx, *table, *key, value.clone())?,
            Op::Delete { table, key } => self.delete(tx, *table, *key)?.map(drop),
            Op::Add {
                table,
                key,
                field: None,
                delta,
                bounds,
            } => self.add(tx, *table, *key, *delta, *bounds)?.map(drop),
            Op::Add {
                table,
                key,
                field: Some(field),
                delta,
                bounds,
            } => self
                .add_field(tx, *table, *key, field, *delta, *bounds)?
                .map(drop),
            Op::AppendOutbox(event) => {
                self.append_outbox(tx, event.clone())?;
                Outcome::Done(())
            }
            Op::ReadThenWrite {
                table,
                key,
                delta,
                bounds,
                guard,
                also_reads,
            } => self
                .read_then_write(tx, (*table, *key, *also_reads), *delta, *bounds, *guard)?
                .map(drop),
        };
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Instant;
    use crate::store::testing::{ACCOUNTS, OWNER, bank};

    fn transfer(amount: i64) -> Vec<Op> {
        let leg = |key, delta| Op::Add {
            table: ACCOUNTS,
            key: Key(key),
            field: None,
            delta,
            bounds: Bounds::at_least(0),
        };
        vec![leg(1, -amount), leg(2, amount)]
    }

    #[test]
    fn a_program_that_blocks_resumes_from_the_blocked_op() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        let (holder, program_tx) = (LocalTxId(1), LocalTxId(2));
        session.begin(holder, Instant::ZERO).expect("fresh");
        session.begin(program_tx, Instant::ZERO).expect("fresh");
        let held = session.add(holder, ACCOUNTS, Key(2), 1, Bounds::ANY);
        assert!(held.expect("known").is_done());
        let ops = transfer(30);
        let progress = session.run(program_tx, &ops, 0).expect("known");
        assert!(
            matches!(progress, Progress::Blocked { at: 1, .. }),
            "{progress:?}"
        );
        assert_eq!(
            session.commit(holder, Instant::ZERO).expect("known"),
            [program_tx]
        );
        assert_eq!(session.run(program_tx, &ops, 1).expect("known"), Progress::Done);
        session.commit(program_tx, Instant::ZERO).expect("known");
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(70)));
        assert_eq!(db.committed(ACCOUNTS, Key(2)), Some(&Value::Int(81)));
    }

    #[test]
    fn a_refused_program_reports_the_op_and_its_tx_can_be_aborted_cleanly() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        let tx = LocalTxId(1);
        session.begin(tx, Instant::ZERO).expect("fresh");
        let progress = session.run(tx, &transfer(500), 0).expect("known");
        assert!(
            matches!(progress, Progress::Violated { at: 0, .. }),
            "{progress:?}"
        );
        session.abort(tx, Instant::ZERO).expect("known");
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(100)));
    }
}

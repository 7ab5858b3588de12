//! Reading, then deciding, then writing: the check-then-act a service does when it reads a
//! balance, decides the debit is allowed, and writes the new balance. Whether that decision
//! can rest on data another transaction has since changed depends on the isolation level and
//! the read's guard, which are the database's settings.
//!
//! | isolation / guard            | the read                  | someone committed since the read |
//! |------------------------------|---------------------------|----------------------------------|
//! | `Serializable` (default)     | shared lock, held         | impossible (their write waits)   |
//! | any, `ForUpdate` guard       | exclusive lock, held      | impossible                       |
//! | `Snapshot`                   | committed value, no lock  | write conflict: the tx aborts    |
//! | `ReadCommitted`, `Versioned` | committed value, no lock  | compare and set fails: re-read, decide again (counted) |
//! | `ReadCommitted`              | committed value, no lock  | written anyway: a lost update    |
//!
//! Every committed row carries a version, so a decision made on a value that was no longer
//! current when it was written is counted, with how old its read was ([`Outdated`]),
//! whatever the isolation lets happen next.
//!
//! A decision can rest on a second row it does not write (`also_reads`: a rule across rows,
//! "keep one courier on call across both zones"). No write conflict protects that row: when
//! another transaction commits a change to it before this one commits, the two decided on
//! each other's old values, a *write skew* ([`Outdated::skews`]), which snapshot isolation
//! and per-row versions allow, and only locks on what was read (serializable, `ForUpdate`)
//! prevent. Under strict
//! two-phase locking (the default) versions are not kept at all: nothing is ever outdated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::StoreError;
use super::lock::{LockKey, Mode};
use super::outcome::{Outcome, Violation};
use super::session::Session;
use super::tx::LocalTxId;
use super::value::{Bounds, Key, TableId, Value};
use crate::sim::Instant;

/// How a database isolates its transactions' reads from others' writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Isolation {
    /// Reads see the latest committed value and hold nothing: a value read can be changed by
    /// another transaction before this one writes (lost updates, non-repeatable reads).
    ReadCommitted,
    /// Reads see the value committed when the row was first read, and a write to a row
    /// someone else committed since aborts the transaction (first committer wins). Prevents
    /// lost updates; allows write skew across rows.
    Snapshot,
    /// Strict two-phase locking: reads take shared locks held to the end (today's store).
    #[default]
    Serializable,
}

/// What a read-then-write does to guard its read, on top of the isolation level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReadGuard {
    /// Nothing: the isolation level decides.
    #[default]
    None,
    /// `SELECT ... FOR UPDATE`: the read takes the exclusive lock the write will need.
    ForUpdate,
    /// Optimistic concurrency: the write is a compare and set on the version read; when
    /// someone committed since, the value is read again and the decision made again.
    Versioned,
}

/// Row versions: how many commits changed each row. Only kept when some read can see a row
/// without locking it.
#[derive(Clone, Debug, Default)]
pub(super) struct Versions {
    rows: BTreeMap<LockKey, u64>,
}

impl Versions {
    /// The version of `row` (0: never written since the start).
    pub fn of(&self, row: LockKey) -> u64 {
        self.rows.get(&row).copied().unwrap_or(0)
    }

    /// `row` was changed by a commit.
    pub fn bump(&mut self, row: LockKey) {
        *self.rows.entry(row).or_insert(0) += 1;
    }
}

/// A read a transaction decided on: the value, the version it had, and when it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DecidedRead {
    pub row: LockKey,
    pub value: Option<i64>,
    pub version: u64,
    pub at: Instant,
}

/// Decisions made on outdated data, as a database counted them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Outdated {
    /// Read-then-write decisions written (or refused for their bounds).
    pub decisions: u64,
    /// Of those, the ones whose read was no longer current when they wrote.
    pub outdated: u64,
    /// Sum over outdated decisions of how old their read was when they wrote, µs.
    pub age_us: u64,
    /// The longest, µs.
    pub max_age_us: u64,
    /// Transactions aborted by a write conflict (snapshot isolation).
    pub conflicts: u64,
    /// Compare-and-set failures that read again and decided again (optimistic concurrency).
    pub retries: u64,
    /// Transactions that committed a decision although another had committed a change to a
    /// row it read and did not write, after it read it (write skew).
    pub skews: u64,
    /// Rows read by read-then-writes.
    pub reads: u64,
    /// Of those, reads that would have seen another value if made again before their
    /// transaction committed: a later commit changed the row (read committed only; a
    /// snapshot or a lock makes reads repeatable).
    pub non_repeatable: u64,
}

impl Outdated {
    /// The counts of `self` and `other` together (several databases' counts summed).
    pub fn plus(self, other: Outdated) -> Outdated {
        Outdated {
            decisions: self.decisions + other.decisions,
            outdated: self.outdated + other.outdated,
            age_us: self.age_us + other.age_us,
            max_age_us: self.max_age_us.max(other.max_age_us),
            conflicts: self.conflicts + other.conflicts,
            retries: self.retries + other.retries,
            skews: self.skews + other.skews,
            reads: self.reads + other.reads,
            non_repeatable: self.non_repeatable + other.non_repeatable,
        }
    }

    /// Outdated decisions per 1,000 decisions; `None` without decisions.
    pub fn per_1k(&self) -> Option<f64> {
        (self.decisions > 0).then(|| self.outdated as f64 * 1_000.0 / self.decisions as f64)
    }
}

impl Session<'_> {
    /// Reads the integer row, decides on it (refused with [`Violation::ConstraintViolated`]
    /// when `read + delta` leaves `bounds`), and writes `read + delta` over it, under the
    /// database's isolation level and `guard` (see the module docs). A transaction that
    /// blocks on the write and runs the op again decides on what it read the first time.
    pub fn read_then_write(
        &mut self,
        tx: LocalTxId,
        (table, key, also_reads): (TableId, Key, Option<Key>),
        delta: i64,
        bounds: Bounds,
        guard: ReadGuard,
    ) -> Result<Outcome<i64>, StoreError> {
        let row = LockKey::new(self.db.schema.check(table)?, key);
        let isolation = self.db.isolation;
        let read_lock = match (guard, isolation) {
            (ReadGuard::ForUpdate, _) => Some(Mode::Exclusive),
            (_, Isolation::Serializable) => Some(Mode::Shared),
            _ => None,
        };
        let read = match self.guarded_read(tx, row, read_lock)? {
            Ok(read) => read,
            Err(blocked) => return Ok(Outcome::Blocked(blocked)),
        };
        let other = match also_reads
            .map(|k| LockKey::new(row.table, k))
            .filter(|o| *o != row)
        {
            None => None,
            Some(other) => match self.guarded_read(tx, other, read_lock)? {
                Ok(read) => Some(read),
                Err(blocked) => return Ok(Outcome::Blocked(blocked)),
            },
        };
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        // The write lock is ours: nobody can commit to the row any more before we do.
        let read = match self.outdated_since(row, read) {
            None => read,
            Some(_) if isolation == Isolation::Snapshot && guard != ReadGuard::ForUpdate => {
                self.db.outdated.conflicts += 1;
                return Ok(self.violated(Violation::WriteConflict { table, key }));
            }
            Some(_) if guard == ReadGuard::Versioned => {
                self.db.outdated.retries += 1;
                let again = self.read_now(tx, row);
                let state = self.db.tx_mut(tx)?;
                state.reads.retain(|r| r.row != row);
                state.reads.push(again);
                again
            }
            Some(age) => {
                // Read committed, unguarded: the decision stands on the outdated value.
                let counted = &mut self.db.outdated;
                counted.outdated += 1;
                counted.age_us += age;
                counted.max_age_us = counted.max_age_us.max(age);
                read
            }
        };
        self.db.outdated.decisions += 1;
        let (Some(current), Some(beside)) = (read.value, other.map_or(Some(0), |o| o.value)) else {
            return Ok(self.violated(Violation::NotFound { table, key }));
        };
        // A rule across two rows bounds their sum; the written row changes by `delta`.
        let Some(new) = bounds.apply(current + beside, delta).map(|sum| sum - beside) else {
            return Ok(self.violated(Violation::ConstraintViolated {
                table,
                key,
                current: current + beside,
                delta,
                bounds,
            }));
        };
        self.db.tx_mut(tx)?.writes.set(row, Some(Value::Int(new)));
        Ok(Outcome::Done(new))
    }

    /// The read `tx` decided on for `row`: the one it made before (a run again after a
    /// block decides on what it read then), or a new one under `lock`.
    fn guarded_read(
        &mut self,
        tx: LocalTxId,
        row: LockKey,
        lock: Option<Mode>,
    ) -> Result<Result<DecidedRead, super::Blocked>, StoreError> {
        if let Some(read) = self.db.tx_mut(tx)?.reads.iter().find(|r| r.row == row).copied() {
            return Ok(Ok(read));
        }
        if let Some(mode) = lock
            && let Some(blocked) = self.db.lock(tx, row, mode)?
        {
            return Ok(Err(blocked));
        }
        let read = self.read_now(tx, row);
        self.db.outdated.reads += 1;
        self.db.tx_mut(tx)?.reads.push(read);
        Ok(Ok(read))
    }

    /// The row as `tx` sees it now, with its committed version.
    fn read_now(&mut self, tx: LocalTxId, row: LockKey) -> DecidedRead {
        self.db.charge_op();
        let value = self.db.view(tx, row).and_then(Value::as_int);
        let version = self.db.versions.as_ref().map_or(0, |v| v.of(row));
        DecidedRead {
            row,
            value,
            version,
            at: self.db.clock,
        }
    }

    /// How old, µs, the read is, when a commit has replaced the value it saw; `None` while
    /// it is current.
    fn outdated_since(&self, row: LockKey, read: DecidedRead) -> Option<u64> {
        let version = self.db.versions.as_ref()?.of(row);
        (version != read.version).then(|| self.db.clock.saturating_since(read.at).as_us())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{ACCOUNTS, OWNER, bank};

    const T1: LocalTxId = LocalTxId(1);
    const T2: LocalTxId = LocalTxId(2);

    /// T1 and T2 each read account 1 (100) and decide to take 60 from it; T2's write waits
    /// for T1, which commits. Returns T2's outcome once it runs again, and the database.
    fn two_debits(isolation: Isolation, guard: ReadGuard) -> (Outcome<i64>, crate::store::Database) {
        let mut db = bank().with_isolation(isolation, guard == ReadGuard::Versioned);
        let mut session = db.access(OWNER).expect("owner");
        let at = Instant::from_us(1_000);
        session.begin(T1, at).expect("fresh");
        session.begin(T2, at).expect("fresh");
        let debit = |session: &mut Session<'_>, tx| {
            session
                .read_then_write(tx, (ACCOUNTS, Key(1), None), -60, Bounds::at_least(0), guard)
                .expect("known")
        };
        assert_eq!(debit(&mut session, T1), Outcome::Done(40));
        assert!(debit(&mut session, T2).blocked().is_some(), "T2 waits for T1");
        assert_eq!(session.commit(T1, Instant::from_us(3_000)).expect("known"), [T2]);
        let second = debit(&mut session, T2);
        if second.is_done() {
            session.commit(T2, Instant::from_us(4_000)).expect("known");
        } else {
            session.abort(T2, Instant::from_us(4_000)).expect("known");
        }
        (second, db)
    }

    fn refused(outcome: &Outcome<i64>) -> bool {
        matches!(
            outcome,
            Outcome::Violated(Violation::ConstraintViolated { current: 40, .. })
        )
    }

    #[test]
    fn read_committed_decides_on_the_outdated_read_and_loses_the_first_debit() {
        let (second, db) = two_debits(Isolation::ReadCommitted, ReadGuard::None);
        assert_eq!(second, Outcome::Done(40), "decided on the 100 it read");
        assert_eq!(
            db.committed(ACCOUNTS, Key(1)),
            Some(&Value::Int(40)),
            "one debit lost"
        );
        let counted = db.outdated();
        assert_eq!((counted.decisions, counted.outdated), (2, 1));
        assert_eq!(counted.age_us, 2_000, "read at 1 ms, written at 3 ms");
        assert_eq!(
            (counted.reads, counted.non_repeatable),
            (2, 1),
            "T2's read changed under it"
        );
    }

    #[test]
    fn snapshot_isolation_aborts_the_second_writer() {
        let (second, db) = two_debits(Isolation::Snapshot, ReadGuard::None);
        assert!(
            matches!(second, Outcome::Violated(Violation::WriteConflict { .. })),
            "{second:?}"
        );
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(40)));
        assert_eq!(db.outdated().conflicts, 1);
        assert_eq!(db.outdated().outdated, 0, "no decision was written on it");
        assert_eq!(db.outdated().non_repeatable, 0, "a snapshot's reads repeat");
    }

    #[test]
    fn serializable_reads_wait_and_see_the_first_debit() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        session.begin(T1, Instant::ZERO).expect("fresh");
        session.begin(T2, Instant::ZERO).expect("fresh");
        let guard = ReadGuard::None;
        let first = session.read_then_write(T1, (ACCOUNTS, Key(1), None), -60, Bounds::at_least(0), guard);
        assert_eq!(first.expect("known"), Outcome::Done(40));
        let blocked = session.read_then_write(T2, (ACCOUNTS, Key(1), None), -60, Bounds::at_least(0), guard);
        assert!(blocked.expect("known").blocked().is_some(), "the read waits");
        session.commit(T1, Instant::ZERO).expect("known");
        let second = session.read_then_write(T2, (ACCOUNTS, Key(1), None), -60, Bounds::at_least(0), guard);
        assert!(refused(&second.expect("known")));
        assert_eq!(db.outdated().outdated, 0);
    }

    #[test]
    fn optimistic_reads_decide_again_on_a_failed_compare_and_set() {
        let (second, db) = two_debits(Isolation::ReadCommitted, ReadGuard::Versioned);
        assert!(refused(&second), "{second:?}");
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(40)));
        assert_eq!(db.outdated().retries, 1);
        assert_eq!(db.outdated().outdated, 0);
    }

    #[test]
    fn a_locking_read_waits_under_any_isolation() {
        for isolation in [Isolation::ReadCommitted, Isolation::Snapshot] {
            let (second, db) = two_debits(isolation, ReadGuard::ForUpdate);
            assert!(refused(&second), "{isolation:?}: {second:?}");
            assert_eq!(db.outdated().outdated, 0);
            assert_eq!(db.outdated().conflicts, 0);
        }
    }

    /// Accounts 1 (100) and 2 (50) must keep 100 between them. T1 takes 30 from account 1
    /// and T2 30 from account 2, each reading both; T1 commits first. T2's outcome.
    fn two_withdrawals(isolation: Isolation) -> (Outcome<i64>, crate::store::Database) {
        let mut db = bank().with_isolation(isolation, false);
        let mut session = db.access(OWNER).expect("owner");
        session.begin(T1, Instant::ZERO).expect("fresh");
        session.begin(T2, Instant::ZERO).expect("fresh");
        let rule = Bounds::at_least(100);
        let take = |session: &mut Session<'_>, tx, (from, other)| {
            session
                .read_then_write(
                    tx,
                    (ACCOUNTS, Key(from), Some(Key(other))),
                    -30,
                    rule,
                    ReadGuard::None,
                )
                .expect("known")
        };
        assert_eq!(take(&mut session, T1, (1, 2)), Outcome::Done(70));
        let second = take(&mut session, T2, (2, 1));
        if second.is_done() {
            session.commit(T1, Instant::ZERO).expect("known");
            session.commit(T2, Instant::ZERO).expect("known");
            return (second, db);
        }
        session.commit(T1, Instant::ZERO).expect("known");
        let second = take(&mut session, T2, (2, 1));
        session.abort(T2, Instant::ZERO).expect("known");
        (second, db)
    }

    #[test]
    fn snapshot_isolation_lets_two_withdrawals_break_a_rule_across_rows() {
        let (second, db) = two_withdrawals(Isolation::Snapshot);
        assert_eq!(
            second,
            Outcome::Done(20),
            "no write conflict: they wrote different rows"
        );
        let total: i64 = [1, 2]
            .iter()
            .map(|k| {
                db.committed(ACCOUNTS, Key(*k))
                    .and_then(Value::as_int)
                    .expect("a row")
            })
            .sum();
        assert_eq!(total, 90, "the rule says at least 100");
        assert_eq!(db.outdated().skews, 1);
    }

    #[test]
    fn serializable_reads_make_the_second_withdrawal_see_the_first() {
        let (second, db) = two_withdrawals(Isolation::Serializable);
        assert!(
            matches!(
                second,
                Outcome::Violated(Violation::ConstraintViolated { current: 120, .. })
            ),
            "refused on 70 + 50: {second:?}"
        );
        assert_eq!(db.outdated().skews, 0);
    }
}

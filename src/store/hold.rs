//! Holds (reservations, escrow): a change that a committed local transaction promises to make
//! later, and that every bound check counts as if it might still happen.
//!
//! A hold lets a step reserve its effect without keeping a lock until the business
//! transaction is decided, as try–confirm–cancel does: the reserving transaction takes the
//! row's lock only while it runs, checks the change against the row's bounds *and every other
//! hold on the row*, and commits the hold durably. Later a transaction either confirms it
//! (applies the change and drops the hold) or releases it (drops it). Because a bound check
//! assumes every debit held may be confirmed and every credit held may be released, no order
//! of confirms and releases can take a row out of its bounds: that is what makes a held
//! balance safe to sell from.
//!
//! Holds change only in a transaction's write set, under the row's exclusive lock, and reach
//! the durable state at commit like row images, so a crash keeps exactly the committed ones.

use std::collections::BTreeMap;

use super::error::StoreError;
use super::lock::{LockKey, Mode};
use super::outcome::{Outcome, Violation};
use super::program::Op;
use super::session::Session;
use super::tx::LocalTxId;
use super::value::{Bounds, Key, Value};
use crate::sim::Instant;

/// A change held on one row until it is confirmed or released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The row.
    pub row: LockKey,
    /// What confirming it does.
    pub change: HeldChange,
    /// When the reserving transaction began (how long a hold lasts is measured from here).
    pub since: Instant,
}

/// What a hold will do to its row when confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeldChange {
    /// Add `delta` to a counter (a field of a record, or the integer row).
    Add {
        /// The record field, or `None` for an integer row.
        field: Option<String>,
        /// The change.
        delta: i64,
    },
    /// Create the row with this value; meanwhile the key counts as taken.
    Insert(Value),
    /// Delete the row.
    Delete,
}

/// The durable holds of a database, by id and by row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Holds {
    by_id: BTreeMap<Key, Hold>,
    by_row: BTreeMap<LockKey, Vec<Key>>,
}

impl Holds {
    /// The hold `id`, if it is durable.
    pub fn get(&self, id: Key) -> Option<&Hold> {
        self.by_id.get(&id)
    }

    /// How many holds are durable.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Every durable hold, by id.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &Hold)> {
        self.by_id.iter().map(|(id, hold)| (*id, hold))
    }

    /// Makes `hold` durable under `id` (`None`: drops the hold `id`).
    pub fn set(&mut self, id: Key, hold: Option<Hold>) {
        if let Some(old) = self.by_id.remove(&id)
            && let Some(ids) = self.by_row.get_mut(&old.row)
        {
            ids.retain(|other| *other != id);
            if ids.is_empty() {
                self.by_row.remove(&old.row);
            }
        }
        if let Some(hold) = hold {
            self.by_row.entry(hold.row).or_default().push(id);
            self.by_id.insert(id, hold);
        }
    }

    /// The sum of the negative and of the positive deltas held on `row`'s counter `field`,
    /// and whether an insert of the row is held.
    pub fn held_on(&self, row: LockKey, field: Option<&str>) -> Held {
        let mut held = Held::default();
        for id in self.by_row.get(&row).into_iter().flatten() {
            held.count(&self.by_id[id].change, field);
        }
        held
    }
}

/// What the holds on one row amount to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Held {
    /// The sum of the debits held (zero or less).
    pub debit: i64,
    /// The sum of the credits held (zero or more).
    pub credit: i64,
    /// Whether an insert of the row is held.
    pub insert: bool,
}

impl Held {
    fn count(&mut self, change: &HeldChange, field: Option<&str>) {
        match change {
            HeldChange::Add { field: f, delta } if f.as_deref() == field => {
                if *delta < 0 {
                    self.debit = self.debit.saturating_add(*delta);
                } else {
                    self.credit = self.credit.saturating_add(*delta);
                }
            }
            HeldChange::Insert(_) => self.insert = true,
            HeldChange::Add { .. } | HeldChange::Delete => {}
        }
    }

    /// Whether `value` stays within `bounds` however the held changes end: every debit
    /// confirmed, or every credit.
    pub fn allows(self, value: i64, bounds: Bounds) -> bool {
        bounds.apply(value, self.debit).is_some() && bounds.apply(value, self.credit).is_some()
    }
}

impl Session<'_> {
    /// Reserves what `op` would do as hold `id` in `tx`, without doing it: an `Add` is
    /// refused like the add itself when the row, with every hold on it, could leave its
    /// bounds; an `Insert` when the row exists or its insert is held. Committing `tx` makes
    /// the hold durable; [`Session::confirm_hold`] applies it, [`Session::release_hold`]
    /// drops it.
    pub fn hold(&mut self, tx: LocalTxId, id: Key, op: &Op) -> Result<Outcome<()>, StoreError> {
        let (table, key) = match op {
            Op::Add { table, key, .. } | Op::Insert { table, key, .. } | Op::Delete { table, key } => {
                (*table, *key)
            }
            Op::Put { .. } | Op::AppendOutbox(_) | Op::ReadThenWrite { .. } => {
                return Err(StoreError::NotHoldable(format!("{op:?}")));
            }
        };
        let row = LockKey::new(self.db.schema.check(table)?, key);
        if let Some(blocked) = self.db.lock(tx, row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        let mut held = self.db.durable.holds.held_on(row, field_of(op));
        let state = self.db.txs.get(tx).expect("locking tx is live");
        for (_, hold) in state
            .writes
            .holds
            .iter()
            .filter_map(|(id, h)| h.as_ref().map(|h| (id, h)))
        {
            if hold.row == row {
                held.count(&hold.change, field_of(op));
            }
        }
        let change = match op {
            Op::Add {
                field, delta, bounds, ..
            } => {
                let Some(value) = self.db.view(tx, row) else {
                    return Ok(self.violated(Violation::NotFound { table, key }));
                };
                let current = value
                    .counter(field.as_deref())
                    .ok_or_else(|| StoreError::NotACounter {
                        table,
                        key,
                        field: field.clone(),
                    })?;
                let after = Held {
                    debit: held.debit + (*delta).min(0),
                    credit: held.credit + (*delta).max(0),
                    ..held
                };
                if !after.allows(current, *bounds) {
                    let violation = Violation::ConstraintViolated {
                        table,
                        key,
                        current: current.saturating_add(held.debit.min(held.credit)),
                        delta: *delta,
                        bounds: *bounds,
                    };
                    return Ok(self.violated(violation));
                }
                HeldChange::Add {
                    field: field.clone(),
                    delta: *delta,
                }
            }
            Op::Insert { value, .. } => {
                if held.insert || self.db.view(tx, row).is_some() {
                    return Ok(self.violated(Violation::AlreadyExists { table, key }));
                }
                HeldChange::Insert(value.clone())
            }
            _ => HeldChange::Delete,
        };
        let state = self.db.tx_mut(tx)?;
        let since = state.begun_at;
        state.writes.holds.push((id, Some(Hold { row, change, since })));
        Ok(Outcome::Done(()))
    }

    /// Applies hold `id` in `tx` and drops it: `Done(Some(hold))`, or `Done(None)` when no
    /// such hold is durable (never made, or already confirmed or released). Takes the row's
    /// exclusive lock, so it may block.
    pub fn confirm_hold(&mut self, tx: LocalTxId, id: Key) -> Result<Outcome<Option<Hold>>, StoreError> {
        let Some(hold) = self.db.durable.holds.get(id).cloned() else {
            return Ok(Outcome::Done(None));
        };
        if let Some(blocked) = self.db.lock(tx, hold.row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        let (table, key) = (hold.row.table, hold.row.key);
        match &hold.change {
            HeldChange::Add { field, delta } => {
                let Some(value) = self.db.view(tx, hold.row) else {
                    return Ok(self.violated(Violation::NotFound { table, key }));
                };
                let current = value
                    .counter(field.as_deref())
                    .ok_or_else(|| StoreError::NotACounter {
                        table,
                        key,
                        field: field.clone(),
                    })?;
                // The bound checks counted this hold, so the sum fits; only overflow is left.
                let Some(next) = Bounds::ANY.apply(current, *delta) else {
                    let violation = Violation::ConstraintViolated {
                        table,
                        key,
                        current,
                        delta: *delta,
                        bounds: Bounds::ANY,
                    };
                    return Ok(self.violated(violation));
                };
                self.write_counter(tx, hold.row, field.as_deref(), next);
            }
            HeldChange::Insert(value) => {
                self.db.tx_mut(tx)?.writes.set(hold.row, Some(value.clone()));
            }
            HeldChange::Delete => self.db.tx_mut(tx)?.writes.set(hold.row, None),
        }
        self.db.tx_mut(tx)?.writes.holds.push((id, None));
        Ok(Outcome::Done(Some(hold)))
    }

    /// Drops hold `id` in `tx` without applying it: `Done(Some(hold))`, or `Done(None)` when
    /// no such hold is durable. Takes the row's exclusive lock (holds change only under it).
    pub fn release_hold(&mut self, tx: LocalTxId, id: Key) -> Result<Outcome<Option<Hold>>, StoreError> {
        let Some(hold) = self.db.durable.holds.get(id).cloned() else {
            return Ok(Outcome::Done(None));
        };
        if let Some(blocked) = self.db.lock(tx, hold.row, Mode::Exclusive)? {
            return Ok(Outcome::Blocked(blocked));
        }
        self.db.tx_mut(tx)?.writes.holds.push((id, None));
        Ok(Outcome::Done(Some(hold)))
    }
}

/// The counter field an op touches (`None` for an integer row, or an op on no counter).
fn field_of(op: &Op) -> Option<&str> {
    match op {
        Op::Add { field, .. } => field.as_deref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{ACCOUNTS, OWNER, bank};

    const NOW: Instant = Instant::ZERO;

    fn debit(key: u64, delta: i64) -> Op {
        Op::Add {
            table: ACCOUNTS,
            key: Key(key),
            field: None,
            delta,
            bounds: Bounds::at_least(0),
        }
    }

    /// Runs `f` in a fresh tx `tx` and commits it; returns what `f` returned.
    fn in_tx<T>(
        db: &mut crate::store::Database,
        tx: u64,
        f: impl FnOnce(&mut Session<'_>, LocalTxId) -> Outcome<T>,
    ) -> Outcome<T> {
        let mut session = db.access(OWNER).expect("owner");
        let tx = LocalTxId(tx);
        session.begin(tx, NOW).expect("fresh");
        let outcome = f(&mut session, tx);
        if outcome.is_done() {
            session.commit(tx, NOW).expect("commits");
        } else {
            session.abort(tx, NOW).expect("aborts");
        }
        outcome
    }

    #[test]
    fn holds_count_against_the_bounds_of_later_holds_and_adds() {
        let mut db = bank(); // account 1 holds 100
        let first = in_tx(&mut db, 1, |s, tx| s.hold(tx, Key(10), &debit(1, -70)).unwrap());
        assert!(first.is_done());
        assert_eq!(
            db.committed(ACCOUNTS, Key(1)),
            Some(&Value::Int(100)),
            "a hold applies nothing"
        );
        let second = in_tx(&mut db, 2, |s, tx| s.hold(tx, Key(11), &debit(1, -40)).unwrap());
        assert!(matches!(
            second,
            Outcome::Violated(Violation::ConstraintViolated { .. })
        ));
        let add = in_tx(&mut db, 3, |s, tx| {
            s.add(tx, ACCOUNTS, Key(1), -40, Bounds::at_least(0)).unwrap()
        });
        assert!(
            matches!(add, Outcome::Violated(_)),
            "a plain debit counts the hold too"
        );
        let small = in_tx(&mut db, 4, |s, tx| s.hold(tx, Key(12), &debit(1, -30)).unwrap());
        assert!(small.is_done(), "what is left can still be held");
    }

    #[test]
    fn confirm_applies_once_and_release_frees_the_held_amount() {
        let mut db = bank();
        assert!(in_tx(&mut db, 1, |s, tx| s.hold(tx, Key(10), &debit(1, -70)).unwrap()).is_done());
        let confirmed = in_tx(&mut db, 2, |s, tx| s.confirm_hold(tx, Key(10)).unwrap());
        assert!(matches!(confirmed, Outcome::Done(Some(_))));
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(30)));
        let again = in_tx(&mut db, 3, |s, tx| s.confirm_hold(tx, Key(10)).unwrap());
        assert_eq!(
            again,
            Outcome::Done(None),
            "a second confirm finds nothing to apply"
        );
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(30)));

        assert!(in_tx(&mut db, 4, |s, tx| s.hold(tx, Key(11), &debit(1, -30)).unwrap()).is_done());
        let released = in_tx(&mut db, 5, |s, tx| s.release_hold(tx, Key(11)).unwrap());
        assert!(matches!(released, Outcome::Done(Some(_))));
        assert_eq!(db.committed(ACCOUNTS, Key(1)), Some(&Value::Int(30)));
        let add = in_tx(&mut db, 6, |s, tx| {
            s.add(tx, ACCOUNTS, Key(1), -30, Bounds::at_least(0)).unwrap()
        });
        assert!(add.is_done(), "a released hold holds nothing");
    }

    #[test]
    fn a_committed_hold_survives_a_crash_and_an_aborted_one_never_existed() {
        let mut db = bank();
        assert!(in_tx(&mut db, 1, |s, tx| s.hold(tx, Key(10), &debit(1, -70)).unwrap()).is_done());
        {
            let mut session = db.access(OWNER).expect("owner");
            session.begin(LocalTxId(2), NOW).expect("fresh");
            assert!(
                session
                    .hold(LocalTxId(2), Key(11), &debit(2, -50))
                    .unwrap()
                    .is_done()
            );
        }
        db.crash();
        db.recover();
        assert!(db.holds().any(|(id, _)| id == Key(10)));
        assert!(
            !db.holds().any(|(id, _)| id == Key(11)),
            "the uncommitted hold died"
        );
        let add = in_tx(&mut db, 3, |s, tx| {
            s.add(tx, ACCOUNTS, Key(1), -40, Bounds::at_least(0)).unwrap()
        });
        assert!(matches!(add, Outcome::Violated(_)));
    }

    #[test]
    fn a_held_insert_takes_the_key_and_confirm_creates_the_row() {
        let mut db = bank();
        let insert = Op::Insert {
            table: ACCOUNTS,
            key: Key(7),
            value: Value::Int(1),
        };
        assert!(in_tx(&mut db, 1, |s, tx| s.hold(tx, Key(10), &insert).unwrap()).is_done());
        assert_eq!(db.committed(ACCOUNTS, Key(7)), None);
        let twice = in_tx(&mut db, 2, |s, tx| s.hold(tx, Key(11), &insert).unwrap());
        assert!(matches!(
            twice,
            Outcome::Violated(Violation::AlreadyExists { .. })
        ));
        assert!(in_tx(&mut db, 3, |s, tx| s.confirm_hold(tx, Key(10)).unwrap()).is_done());
        assert_eq!(db.committed(ACCOUNTS, Key(7)), Some(&Value::Int(1)));
    }

    #[test]
    fn a_confirm_waits_for_the_rows_lock() {
        let mut db = bank();
        assert!(in_tx(&mut db, 1, |s, tx| s.hold(tx, Key(10), &debit(1, -70)).unwrap()).is_done());
        let mut session = db.access(OWNER).expect("owner");
        for tx in [LocalTxId(2), LocalTxId(3)] {
            session.begin(tx, NOW).expect("fresh");
        }
        assert!(
            session
                .add(LocalTxId(2), ACCOUNTS, Key(1), 5, Bounds::ANY)
                .unwrap()
                .is_done()
        );
        let blocked = session.confirm_hold(LocalTxId(3), Key(10)).unwrap();
        assert!(matches!(blocked, Outcome::Blocked(_)));
    }
}

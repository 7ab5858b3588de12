//! The database: durable state, volatile state, and the life cycle around them (create,
//! access, crash, recover), plus read-only views for checks and reports.
//!
//! Data ops live on [`Session`], which only [`Database::access`] hands out, so that every
//! read and write has passed the ownership check. The views here (`committed`, `rows`,
//! `outbox`, `stats`…) skip that check: they are for observers (checks, reports, tests) that
//! are not part of the simulated system, never for services.

use super::concurrency::{Isolation, Outdated, Versions};
use super::cost::CostModel;
use super::deadlock::{self, Deadlock};
use super::error::{AccessDenied, StoreError};
use super::hash_index::HashIndex;
use super::lock::{Acquired, Grant, LockKey, LockTable, Mode};
use super::outbox::Outbox;
use super::outcome::Blocked;
use super::rows::Rows;
use super::schema::Schema;
use super::session::Session;
use super::stats::StoreStats;
use super::tx::{LocalTxId, Tx, TxStatus};
use super::value::{Key, TableId, Value};
use super::wal::Durable;
use crate::sim::{ActorId, Duration, Instant};

/// One service's database.
#[derive(Debug)]
pub struct Database {
    pub(super) owner: ActorId,
    pub(super) schema: Schema,
    pub(super) cost: CostModel,
    /// Survives crashes: committed rows, outbox, prepare records.
    pub(super) durable: Durable,
    /// Volatile: live txs (active, waiting, prepared) by id; iterated only where order
    /// does not matter, or after sorting.
    pub(super) txs: HashIndex<LocalTxId, Tx>,
    /// Volatile: row locks and their queues.
    pub(super) locks: LockTable,
    pub(super) up: bool,
    pub(super) stats: StoreStats,
    /// Work charged since the last `take_cost`, in microseconds.
    pub(super) cost_us: u64,
    /// Operations and forced writes charged since the last `take_cost` or `take_work`.
    pub(super) work: (u64, u64),
    /// The latest virtual time a caller passed in (`begin`, `commit`, `abort`, `crash_at`).
    /// Ops take no time argument: they run at this instant, which is exact for a caller
    /// that begins or ends a tx in the same handler before it runs ops, as services do.
    /// Lock waits are measured against it.
    pub(super) clock: Instant,
    /// How reads are isolated from others' writes (strict 2PL unless set).
    pub(super) isolation: Isolation,
    /// Row versions, kept when some read holds no lock (see `concurrency.rs`).
    pub(super) versions: Option<Versions>,
    /// Decisions made on outdated data, write conflicts and optimistic retries.
    pub(super) outdated: Outdated,
    /// Finished txs whose buffers the next `begin` reuses.
    spare_txs: Vec<Tx>,
    /// Scratch for lock grants, reused by every release.
    grants: Vec<Grant>,
}

/// How many finished txs are kept for reuse; enough for the txs a database runs at once.
const SPARE_TX_MAX: usize = 64;

impl Database {
    /// A database owned by `owner` with `tables` (name, initial rows) in id order.
    ///
    /// ```
    /// use consim::sim::ActorId;
    /// use consim::store::{Database, Key, Value};
    ///
    /// let db = Database::new(ActorId(3), [("accounts", [(Key(1), Value::Int(100))])]).unwrap();
    /// let accounts = db.schema().table_id("accounts").unwrap();
    /// assert_eq!(db.committed(accounts, Key(1)), Some(&Value::Int(100)));
    /// ```
    pub fn new<'a, R>(
        owner: ActorId,
        tables: impl IntoIterator<Item = (&'a str, R)>,
    ) -> Result<Self, StoreError>
    where
        R: IntoIterator<Item = (Key, Value)>,
    {
        let (names, rows): (Vec<&str>, Vec<Rows>) = tables
            .into_iter()
            .map(|(name, rows)| (name, rows.into_iter().collect()))
            .unzip();
        let schema = Schema::new(names)?;
        Ok(Database {
            owner,
            schema,
            cost: CostModel::default(),
            durable: Durable {
                tables: rows,
                ..Durable::default()
            },
            txs: HashIndex::new(),
            locks: LockTable::default(),
            up: true,
            stats: StoreStats::default(),
            cost_us: 0,
            work: (0, 0),
            clock: Instant::ZERO,
            isolation: Isolation::Serializable,
            versions: None,
            outdated: Outdated::default(),
            spare_txs: Vec::new(),
            grants: Vec::new(),
        })
    }

    /// The same database charging time by `cost`.
    pub fn with_cost(mut self, cost: CostModel) -> Self {
        self.cost = cost;
        self
    }

    /// The same database isolating reads at `isolation`; `versioned` keeps row versions for
    /// optimistic reads even under strict two-phase locking. Versions are kept whenever a
    /// read can hold no lock, so decisions on outdated data can be counted.
    pub fn with_isolation(mut self, isolation: Isolation, versioned: bool) -> Self {
        self.isolation = isolation;
        if isolation != Isolation::Serializable || versioned {
            self.versions = Some(Versions::default());
        }
        self
    }

    /// Read-then-write decisions, those made on outdated data, conflicts and retries.
    pub fn outdated(&self) -> Outdated {
        self.outdated
    }

    /// Opens a session for `caller` if it owns the database; a refusal is counted and
    /// returned as a value to send back.
    ///
    /// # Panics
    /// If the database is crashed: the wrapping actor must `recover` before serving, and a
    /// crashed actor receives nothing, so this is a bug in the caller.
    pub fn access(&mut self, caller: ActorId) -> Result<Session<'_>, AccessDenied> {
        assert!(self.up, "database used while crashed; call recover() first");
        if caller != self.owner {
            self.stats.access_denied += 1;
            return Err(AccessDenied {
                owner: self.owner,
                caller,
            });
        }
        Ok(Session { db: self })
    }

    /// Loses volatile state: every active or waiting tx, all locks and queues. Committed
    /// data, the outbox and prepare records stay. The database refuses service until
    /// [`Database::recover`]. Lock waits end at the latest time the database was given; use
    /// [`Database::crash_at`] when the crash instant is known.
    pub fn crash(&mut self) {
        self.crash_at(self.clock);
    }

    /// [`Database::crash`] at `now`: the waits the crash cuts short are counted up to `now`.
    pub fn crash_at(&mut self, now: Instant) {
        self.clock = now;
        let lost = self.txs.values().filter(|tx| !tx.prepared).count();
        self.stats.lost_in_crash += lost as u64;
        let waited: u64 = self
            .txs
            .values()
            .filter(|tx| tx.waiting.is_some())
            .map(|tx| (now - tx.queued_at).as_us())
            .sum();
        self.stats.lock_wait_us += waited;
        self.stats.crashes += 1;
        self.txs.clear();
        self.locks.clear();
        self.up = false;
    }

    /// Rebuilds volatile state from the log: each prepared tx comes back prepared, holding
    /// exclusive locks on the rows it wrote (its shared locks are not logged and are gone).
    /// Costs one op per prepare record read back.
    ///
    /// # Panics
    /// If the database did not crash: recovering a live database would drop its txs.
    pub fn recover(&mut self) {
        assert!(!self.up, "recover() on a database that did not crash");
        for (&id, record) in &self.durable.prepared {
            let mut tx = Tx {
                prepared: true,
                begun_at: record.begun_at,
                ..Tx::default()
            };
            for &(row, _) in &record.writes.rows {
                let acquired = self.locks.acquire(id, row, Mode::Exclusive);
                assert_eq!(acquired, Acquired::New, "prepared write sets are disjoint");
                tx.locks.push(row);
            }
            self.txs.insert(id, tx);
            self.cost_us += self.cost.op_us;
            self.work.0 += 1;
        }
        self.up = true;
    }

    /// What operations and forced log writes cost, so a caller can charge work it is about
    /// to do (a commit's log force) before doing it.
    pub fn cost_model(&self) -> CostModel {
        self.cost
    }

    /// The virtual time of the work done since the last call, and resets it.
    pub fn take_cost(&mut self) -> Duration {
        self.work = (0, 0);
        Duration::from_us(std::mem::take(&mut self.cost_us))
    }

    /// The operations and forced log writes done since the last call (or `take_cost`), and
    /// resets them: what a caller whose database times are drawn, not fixed, draws for.
    pub fn take_work(&mut self) -> (u64, u64) {
        self.cost_us = 0;
        std::mem::take(&mut self.work)
    }

    /// Where `tx` stands, or `None` if it is not live (never begun, finished, lost in a
    /// crash). A caller driving lock-wait timeouts aborts `tx` if it is still waiting when
    /// its timer fires.
    pub fn tx_status(&self, tx: LocalTxId) -> Option<TxStatus> {
        self.txs.get(tx).map(Tx::status)
    }

    /// True if `tx` is queued for a lock.
    pub fn is_waiting(&self, tx: LocalTxId) -> bool {
        matches!(self.tx_status(tx), Some(TxStatus::Waiting(_)))
    }

    /// In-doubt txs (prepared, no decision yet) in id order: after recovery, the participant
    /// asks their coordinators for the outcome.
    pub fn prepared(&self) -> impl Iterator<Item = LocalTxId> {
        self.durable.prepared.keys().copied()
    }

    /// A deadlock among the waiting txs, searching from the oldest waiter, for callers that
    /// ignored [`Blocked::deadlock`] or want a periodic sweep. Does not count deadlocks
    /// (they were counted when they formed).
    pub fn find_deadlock(&self) -> Option<Deadlock> {
        let mut waiting: Vec<LocalTxId> = self
            .txs
            .iter()
            .filter(|(_, tx)| tx.waiting.is_some())
            .map(|(id, _)| id)
            .collect();
        waiting.sort_unstable();
        waiting.into_iter().find_map(|id| self.cycle_through(id))
    }

    /// The service that owns this database.
    pub fn owner(&self) -> ActorId {
        self.owner
    }

    /// Table names and ids.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Bytes of durable state, which grows with the run (see `Actor::retained_bytes`).
    pub fn retained_bytes(&self) -> usize {
        self.durable.retained_bytes()
    }

    /// Counters for reports.
    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// False between `crash` and `recover`.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Observer view: the committed value of a row (no locks, no access check).
    pub fn committed(&self, table: TableId, key: Key) -> Option<&Value> {
        self.durable.get(table, key)
    }

    /// Observer view: a declared table's committed rows in key order.
    pub fn rows(&self, table: TableId) -> impl Iterator<Item = (Key, &Value)> {
        let declared = self
            .schema
            .check(table)
            .ok()
            .map(|t| &self.durable.tables[t.index()]);
        declared.into_iter().flat_map(Rows::iter)
    }

    /// Forces a log record that belongs to no local transaction: a protocol's own durable
    /// note, such as a 3PC participant's pre-commit record. Counted and charged like any
    /// forced write.
    pub fn force_record(&mut self) {
        self.force_write();
    }

    /// Committed holds not yet confirmed or released, by id (see [`super::Hold`]).
    pub fn holds(&self) -> impl Iterator<Item = (Key, &super::Hold)> {
        self.durable.holds.iter()
    }

    /// Observer view: committed outbox rows not yet published.
    pub fn outbox(&self) -> &Outbox {
        &self.durable.outbox
    }

    // The engine, shared by the session methods in sibling files.

    /// Charges one op.
    pub(super) fn charge_op(&mut self) {
        self.cost_us += self.cost.op_us;
        self.work.0 += 1;
    }

    /// Counts and charges one forced log write.
    pub(super) fn force_write(&mut self) {
        self.stats.forced_writes += 1;
        self.cost_us += self.cost.forced_write_us;
        self.work.1 += 1;
    }

    /// A live tx.
    /// Counts a write skew when a tx commits writes decided on a row it read and did not
    /// write, which another commit changed since, and, under read committed, every read a
    /// later commit changed before this one: not repeatable (only when versions are kept).
    pub(super) fn count_skew(
        &mut self,
        reads: &[super::concurrency::DecidedRead],
        writes: &super::tx::WriteSet,
    ) {
        let Some(versions) = self.versions.as_ref() else {
            return;
        };
        let skewed = reads
            .iter()
            .any(|read| writes.get(read.row).is_none() && versions.of(read.row) != read.version);
        if skewed && !writes.rows.is_empty() {
            self.outdated.skews += 1;
        }
        if self.isolation == super::Isolation::ReadCommitted {
            let changed = reads
                .iter()
                .filter(|read| versions.of(read.row) != read.version)
                .count();
            self.outdated.non_repeatable += changed as u64;
        }
    }

    /// Counts a new version of every row `writes` changes (only when versions are kept).
    pub(super) fn bump_versions(&mut self, writes: &super::tx::WriteSet) {
        if let Some(versions) = self.versions.as_mut() {
            for (row, _) in &writes.rows {
                versions.bump(*row);
            }
        }
    }

    pub(super) fn tx_mut(&mut self, tx: LocalTxId) -> Result<&mut Tx, StoreError> {
        self.txs.get_mut(tx).ok_or(StoreError::UnknownTx(tx))
    }

    /// A live tx that may issue ops: neither prepared nor waiting.
    pub(super) fn runnable_tx(&mut self, tx: LocalTxId) -> Result<&mut Tx, StoreError> {
        let state = self.tx_mut(tx)?;
        if state.prepared {
            return Err(StoreError::Prepared(tx));
        }
        if state.waiting.is_some() {
            return Err(StoreError::Waiting(tx));
        }
        Ok(state)
    }

    /// Starts `tx` at `now`, reusing a finished tx's buffers.
    pub(super) fn begin(&mut self, tx: LocalTxId, now: Instant) -> Result<(), StoreError> {
        if self.txs.contains_key(tx) {
            return Err(StoreError::TxExists(tx));
        }
        self.clock = now;
        let mut state = self.spare_txs.pop().unwrap_or_default();
        state.reset(now);
        self.txs.insert(tx, state);
        self.stats.begins += 1;
        Ok(())
    }

    /// Charges one op and takes `row` in `mode` for `tx`; `Some` if `tx` must wait. A tx
    /// retrying the op it is queued for is told it still waits.
    pub(super) fn lock(
        &mut self,
        tx: LocalTxId,
        row: LockKey,
        mode: Mode,
    ) -> Result<Option<Blocked>, StoreError> {
        self.charge_op();
        let state = self.txs.get_mut(tx).ok_or(StoreError::UnknownTx(tx))?;
        if state.prepared {
            return Err(StoreError::Prepared(tx));
        }
        match state.waiting {
            Some((queued_for, queued_mode)) if queued_for == row && queued_mode >= mode => {
                return Ok(Some(self.blocked(tx, false)));
            }
            Some(_) => return Err(StoreError::Waiting(tx)),
            None => {}
        }
        match self.locks.acquire(tx, row, mode) {
            Acquired::AlreadyHeld | Acquired::Upgraded => Ok(None),
            Acquired::New => {
                state.locks.push(row);
                Ok(None)
            }
            Acquired::Queued => {
                state.waiting = Some((row, mode));
                state.queued_at = self.clock;
                self.stats.lock_waits += 1;
                Ok(Some(self.blocked(tx, true)))
            }
        }
    }

    /// What waiting `tx` waits for, and the deadlock its wait closes (counted if `fresh`).
    fn blocked(&mut self, tx: LocalTxId, fresh: bool) -> Blocked {
        let mut waits_for = Vec::new();
        self.waits_for(tx, &mut waits_for);
        let deadlock = self.cycle_through(tx);
        if fresh && deadlock.is_some() {
            self.stats.deadlocks += 1;
        }
        Blocked { waits_for, deadlock }
    }

    fn cycle_through(&self, tx: LocalTxId) -> Option<Deadlock> {
        deadlock::cycle_through(tx, |waiter, out| self.waits_for(waiter, out))
    }

    /// Appends the txs `tx` waits for (none if it is not waiting).
    fn waits_for(&self, tx: LocalTxId, out: &mut Vec<LocalTxId>) {
        if let Some((row, mode)) = self.txs.get(tx).and_then(|state| state.waiting) {
            self.locks.waits_for(tx, row, mode, out);
        }
    }

    /// `row` as `tx` sees it: its own buffered image first, else the committed value.
    pub(super) fn view(&self, tx: LocalTxId, row: LockKey) -> Option<&Value> {
        let state = self.txs.get(tx).expect("viewing tx is live");
        match state.writes.get(row) {
            Some(image) => image.as_ref(),
            None => self.durable.get(row.table, row.key),
        }
    }

    /// Ends `tx` (already removed from the live set) at `now`: counts its lock-hold time,
    /// releases its locks and queue place, and returns the txs woken, in grant order.
    pub(super) fn finish(&mut self, id: LocalTxId, mut tx: Tx, now: Instant) -> Vec<LocalTxId> {
        self.clock = now;
        self.stats.lock_hold_us += (now - tx.begun_at).as_us();
        let mut grants = std::mem::take(&mut self.grants);
        if let Some((row, _)) = tx.waiting {
            self.stats.lock_wait_us += (now - tx.queued_at).as_us();
            self.locks.cancel_wait(id, row, &mut grants);
        }
        for &row in &tx.locks {
            self.locks.release(id, row, &mut grants);
        }
        let woken = grants.iter().map(|grant| self.wake(*grant)).collect();
        grants.clear();
        self.grants = grants;
        if self.spare_txs.len() < SPARE_TX_MAX {
            tx.writes.clear();
            self.spare_txs.push(tx);
        }
        woken
    }

    /// Hands a granted lock to its waiting tx.
    fn wake(&mut self, grant: Grant) -> LocalTxId {
        let state = self.txs.get_mut(grant.tx).expect("a queued tx is live");
        debug_assert_eq!(state.waiting.map(|(row, _)| row), Some(grant.key));
        state.waiting = None;
        self.stats.lock_wait_us += (self.clock - state.queued_at).as_us();
        if grant.new {
            state.locks.push(grant.key);
        }
        grant.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outcome::Outcome;
    use crate::store::testing::{ACCOUNTS, OWNER, STRANGER, bank};
    use crate::store::value::Bounds;

    const T1: LocalTxId = LocalTxId(1);
    const T2: LocalTxId = LocalTxId(2);

    fn balance(db: &Database, account: u64) -> Option<i64> {
        db.committed(ACCOUNTS, Key(account)).and_then(Value::as_int)
    }

    /// Begins `tx` and adds `delta` to `account`, which must not block.
    fn credit(db: &mut Database, tx: LocalTxId, account: u64, delta: i64) {
        let mut session = db.access(OWNER).expect("owner");
        session.begin(tx, Instant::ZERO).expect("fresh tx");
        let added = session.add(tx, ACCOUNTS, Key(account), delta, Bounds::ANY);
        assert!(added.expect("known tx").is_done());
    }

    #[test]
    fn a_committed_tx_survives_a_crash_and_an_uncommitted_one_does_not() {
        let mut db = bank();
        credit(&mut db, T1, 1, 10);
        db.access(OWNER)
            .expect("owner")
            .commit(T1, Instant::ZERO)
            .expect("known");
        credit(&mut db, T2, 2, 10);
        db.crash();
        db.recover();
        assert_eq!(balance(&db, 1), Some(110));
        assert_eq!(balance(&db, 2), Some(50), "uncommitted write rolled back");
        assert_eq!(db.tx_status(T2), None, "the active tx is gone");
        assert_eq!(db.stats().lost_in_crash, 1);
    }

    #[test]
    fn a_prepared_tx_survives_a_crash_with_its_locks() {
        let mut db = bank();
        credit(&mut db, T1, 1, 10);
        db.access(OWNER).expect("owner").prepare(T1).expect("runnable");
        db.crash();
        db.recover();
        assert_eq!(db.tx_status(T1), Some(TxStatus::Prepared));
        assert_eq!(db.prepared().collect::<Vec<_>>(), [T1]);
        assert_eq!(balance(&db, 1), Some(100), "not applied before the decision");

        let mut session = db.access(OWNER).expect("owner");
        session.begin(T2, Instant::ZERO).expect("fresh tx");
        let read = session.read(T2, ACCOUNTS, Key(1)).expect("known tx");
        assert_eq!(read.blocked().map(|b| b.waits_for.clone()), Some(vec![T1]));
        assert_eq!(session.commit(T1, Instant::ZERO).expect("prepared"), [T2]);
        let read = session.read(T2, ACCOUNTS, Key(1)).expect("known tx");
        assert_eq!(read.done(), Some(Some(&Value::Int(110))));
    }

    #[test]
    fn an_aborted_prepared_tx_leaves_no_trace_even_after_another_crash() {
        let mut db = bank();
        credit(&mut db, T1, 1, 10);
        db.access(OWNER).expect("owner").prepare(T1).expect("runnable");
        db.access(OWNER)
            .expect("owner")
            .abort(T1, Instant::ZERO)
            .expect("known");
        db.crash();
        db.recover();
        assert_eq!(db.prepared().count(), 0);
        assert_eq!(balance(&db, 1), Some(100));
    }

    #[test]
    fn forced_writes_are_one_per_commit_prepare_and_prepared_abort_and_none_otherwise() {
        let mut db = bank().with_cost(CostModel::default());
        credit(&mut db, T1, 1, 1);
        let mut session = db.access(OWNER).expect("owner");
        session.commit(T1, Instant::ZERO).expect("known");
        session.begin(T2, Instant::ZERO).expect("fresh");
        assert!(session.read(T2, ACCOUNTS, Key(1)).expect("known").is_done());
        session.commit(T2, Instant::ZERO).expect("read-only");
        assert_eq!(
            session.stats().forced_writes,
            1,
            "read-only commit forces nothing"
        );
        assert_eq!(db.take_cost(), CostModel::default().of(4, 1));

        credit(&mut db, LocalTxId(3), 1, 1);
        credit(&mut db, LocalTxId(4), 2, 1);
        let mut session = db.access(OWNER).expect("owner");
        session.abort(LocalTxId(3), Instant::ZERO).expect("known");
        session.prepare(LocalTxId(4)).expect("runnable");
        session.abort(LocalTxId(4), Instant::ZERO).expect("known");
        assert_eq!(session.stats().forced_writes, 3, "prepare and its abort record");
    }

    #[test]
    fn a_stranger_is_refused_and_counted() {
        let mut db = bank();
        let refused = db.access(STRANGER).map(|_| ());
        assert_eq!(
            refused,
            Err(AccessDenied {
                owner: OWNER,
                caller: STRANGER
            })
        );
        assert_eq!(db.stats().access_denied, 1);
        assert!(db.access(OWNER).is_ok());
        assert_eq!(db.stats().access_denied, 1);
    }

    #[test]
    fn lock_hold_time_runs_from_begin_to_commit() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        session.begin(T1, Instant::from_us(1_000)).expect("fresh");
        let added = session.add(T1, ACCOUNTS, Key(1), 1, Bounds::ANY).expect("known");
        assert_eq!(added, Outcome::Done(101));
        session.commit(T1, Instant::from_us(3_500)).expect("known");
        assert_eq!(db.stats().lock_hold_us, 2_500);
    }

    #[test]
    fn lock_wait_time_runs_from_queuing_to_grant() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        session.begin(T1, Instant::from_us(1_000)).expect("fresh");
        session.begin(T2, Instant::from_us(1_000)).expect("fresh");
        let first = session.add(T1, ACCOUNTS, Key(1), 1, Bounds::ANY).expect("known");
        assert!(first.is_done());
        let second = session.add(T2, ACCOUNTS, Key(1), 1, Bounds::ANY).expect("known");
        assert!(second.blocked().is_some(), "T2 queues behind T1");
        assert_eq!(session.commit(T1, Instant::from_us(3_000)).expect("known"), [T2]);
        assert_eq!(db.stats().lock_wait_us, 2_000);
    }

    #[test]
    fn lock_wait_time_ends_when_a_waiter_gives_up_or_crashes() {
        let mut db = bank();
        let mut session = db.access(OWNER).expect("owner");
        for tx in [T1, T2, LocalTxId(3)] {
            session.begin(tx, Instant::from_us(1_000)).expect("fresh");
        }
        assert!(
            session
                .add(T1, ACCOUNTS, Key(1), 1, Bounds::ANY)
                .expect("known")
                .is_done()
        );
        for tx in [T2, LocalTxId(3)] {
            let queued = session.add(tx, ACCOUNTS, Key(1), 1, Bounds::ANY).expect("known");
            assert!(queued.blocked().is_some());
        }
        // T2's lock-wait timer fires after 500 µs; the other waiter is lost in a crash later.
        assert_eq!(session.abort(T2, Instant::from_us(1_500)).expect("known"), []);
        db.crash_at(Instant::from_us(4_000));
        assert_eq!(db.stats().lock_wait_us, 500 + 3_000);
    }

    #[test]
    fn declaring_a_table_twice_is_refused() {
        let tables = [("a", Vec::new()), ("a", Vec::new())];
        let refused = Database::new(OWNER, tables).map(|_| ());
        assert_eq!(refused, Err(StoreError::DuplicateTable("a".to_string())));
    }
}

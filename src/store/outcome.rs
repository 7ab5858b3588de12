//! What a data op returns when it is not a misuse: done, blocked on a lock, or refused by a
//! business rule. All three are normal in a simulated system, so they are values, not errors.

use super::deadlock::Deadlock;
use super::tx::LocalTxId;
use super::value::{Bounds, Key, TableId};

/// The result of one data op.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a blocked or refused op changed nothing; the caller must react"]
pub enum Outcome<T> {
    /// The op took effect (in the tx's write set) and produced `T`.
    Done(T),
    /// The op needs a lock another tx holds; nothing changed. The tx is queued and must
    /// retry the same op once a `commit` or `abort` reports it woken, or be aborted.
    Blocked(Blocked),
    /// A business rule refused the op; nothing changed. The tx stays active and keeps its
    /// locks: the caller usually aborts it.
    Violated(Violation),
}

/// Why an op waits, and whether its wait closed a deadlock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The txs this one waits for: conflicting holders, then txs queued ahead of it.
    pub waits_for: Vec<LocalTxId>,
    /// The deadlock this wait closed, if any. Abort its victim to break it, or ignore it
    /// and let lock-wait timeouts do the work.
    pub deadlock: Option<Deadlock>,
}

/// A business rule an op would have broken.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// An `add` would leave the counter outside its bounds (insufficient funds, out of
    /// stock) or overflow it.
    ConstraintViolated {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
        /// The counter as the tx sees it.
        current: i64,
        /// The change asked for.
        delta: i64,
        /// The bounds it would break.
        bounds: Bounds,
    },
    /// An `add` on a row that does not exist.
    NotFound {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
    },
    /// An `insert` of a row that already exists.
    AlreadyExists {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
    },
    /// Under snapshot isolation, a write to a row another tx committed after this one read
    /// it: the tx must abort and may be tried again (first committer wins).
    WriteConflict {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
    },
}

impl<T> Outcome<T> {
    /// The op's result if it took effect.
    pub fn done(self) -> Option<T> {
        match self {
            Outcome::Done(value) => Some(value),
            Outcome::Blocked(_) | Outcome::Violated(_) => None,
        }
    }

    /// True if the op took effect.
    pub fn is_done(&self) -> bool {
        matches!(self, Outcome::Done(_))
    }

    /// The wait, if the op blocked.
    pub fn blocked(&self) -> Option<&Blocked> {
        match self {
            Outcome::Blocked(blocked) => Some(blocked),
            Outcome::Done(_) | Outcome::Violated(_) => None,
        }
    }

    /// The result mapped by `f`, keeping blocked and violated as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Done(value) => Outcome::Done(f(value)),
            Outcome::Blocked(blocked) => Outcome::Blocked(blocked),
            Outcome::Violated(violation) => Outcome::Violated(violation),
        }
    }
}

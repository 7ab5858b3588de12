//! Misuse of the store API, as opposed to business outcomes.
//!
//! A `StoreError` means the caller (the database actor, a service, the model loader) asked
//! for something that cannot make sense: a transaction id it never began, a table that does
//! not exist, an `add` on a record field that is not there. A well-built model never sees
//! one. Everything the simulated system can legitimately run into (a lock held by someone
//! else, insufficient funds, a duplicate key, a stranger asking for data) is a value:
//! [`Outcome`](super::Outcome), [`Violation`](super::Violation), [`AccessDenied`].

use thiserror::Error;

use super::tx::LocalTxId;
use super::value::{Key, TableId};
use crate::sim::ActorId;

/// A call the store cannot carry out because the caller misused the API.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StoreError {
    /// Two tables were declared with one name.
    #[error("table `{0}` is declared twice")]
    DuplicateTable(String),
    /// More tables than a `TableId` can number.
    #[error("too many tables")]
    TooManyTables,
    /// A table id that the schema does not declare.
    #[error("unknown table {0}")]
    UnknownTable(TableId),
    /// `begin` with an id that is already running or prepared.
    #[error("local tx {0} already exists")]
    TxExists(LocalTxId),
    /// An id that is neither running nor prepared (never begun, finished, or lost in a crash).
    #[error("unknown local tx {0}")]
    UnknownTx(LocalTxId),
    /// A data op or `prepare` on a tx that is already prepared.
    #[error("local tx {0} is prepared: only commit or abort may follow")]
    Prepared(LocalTxId),
    /// An op on a tx still queued for a lock on another key; wait for its wake-up or abort it.
    #[error("local tx {0} is waiting for a lock")]
    Waiting(LocalTxId),
    /// An `add` on a value that is not a counter: a record without the field, or an int when
    /// a field was named (or the reverse).
    #[error("{table} {key} has no counter {field:?}")]
    NotACounter {
        /// The table.
        table: TableId,
        /// The row.
        key: Key,
        /// The field asked for (`None`: the value itself).
        field: Option<String>,
    },
    /// A hold asked for an op that changes no single row by a known amount (a `Put`, an
    /// outbox append): only adds, inserts and deletes can be reserved.
    #[error("only adds, inserts and deletes can be held, not {0}")]
    NotHoldable(String),
}

/// A caller other than the owning service asked for the data: database-per-service forbids
/// it. Returned as a value so the refusal can travel back in a message and be counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
#[error("access denied: database of {owner} refused {caller}")]
pub struct AccessDenied {
    /// The service that owns the database.
    pub owner: ActorId,
    /// Who asked.
    pub caller: ActorId,
}

//! The per-service database: keyed tables, local ACID transactions under strict two-phase
//! locking, prepared (in-doubt) txs for 2PC, a write-ahead log with crash semantics, and the
//! idempotency and outbox tables.
//!
//! It is a pure, deterministic data structure, not an actor: a database actor wraps it,
//! turns messages into calls, charges the virtual time each call reports
//! ([`Database::take_cost`]), and owns the lock-wait timers. Start at [`Database`] (life
//! cycle, observers), then [`Session`] (the ops), then `wal.rs` (what survives a crash).
//!
//! **State.** Durable: committed rows, the outbox, prepare records. Volatile: live txs,
//! their write sets, locks and queues. [`Database::crash`] drops the volatile half;
//! [`Database::recover`] brings prepared txs back, prepared, with their exclusive locks.
//!
//! **Forced log writes** (counted in [`StoreStats::forced_writes`], each charged
//! [`CostModel::forced_write_us`]): one per commit that changes something, one per prepare,
//! one per commit or abort of a prepared tx (presumed nothing: the participant logs the
//! decision before forgetting the prepare record), one per `mark_published` that marks
//! anything. None for a read-only commit, nor for aborting a tx that never prepared
//! (updates are deferred: there is nothing to undo).
//!
//! **Invariants.**
//! - Committed data changes only in `commit`; an aborted or crashed tx leaves no trace.
//! - A tx holds every lock it took until it commits or aborts; a prepared tx's exclusive
//!   locks survive crashes.
//! - A woken tx already holds the lock it waited for.
//! - No hash-order iteration, no clock, no randomness: the same calls give the same results.
//!
//! Business outcomes (blocked, constraint violated, access denied) are values; only API
//! misuse is a [`StoreError`].

#![warn(missing_docs)]

mod append_index;
mod concurrency;
mod cost;
mod database;
mod deadlock;
mod error;
mod hash_index;
mod hold;
mod idempotency;
mod lock;
mod outbox;
mod outcome;
mod program;
mod rows;
mod schema;
mod session;
mod stats;
#[cfg(test)]
mod testing;
mod tx;
mod value;
mod wal;

pub use concurrency::{Isolation, Outdated, ReadGuard};
pub use cost::CostModel;
pub use database::Database;
pub use deadlock::Deadlock;
pub use error::{AccessDenied, StoreError};
pub use hold::{HeldChange, Hold};
pub use idempotency::IdempotencyKey;
pub use lock::LockKey;
pub use outbox::{Outbox, OutboxEvent, OutboxId};
pub use outcome::{Blocked, Outcome, Violation};
pub use program::{Op, Progress};
pub use schema::Schema;
pub use session::Session;
pub use stats::StoreStats;
pub use tx::{LocalTxId, TxStatus};
pub use value::{Bounds, Key, Record, TableId, Value};

//! Fixtures shared by the store's unit tests.

use super::database::Database;
use super::value::{Key, TableId, Value};
use crate::sim::ActorId;

/// The service owning the test database.
pub const OWNER: ActorId = ActorId(1);
/// Another service.
pub const STRANGER: ActorId = ActorId(2);
/// The `accounts` table of [`bank`].
pub const ACCOUNTS: TableId = TableId(0);

/// A database with one table, `accounts`: account 1 holds 100, account 2 holds 50.
pub fn bank() -> Database {
    let accounts = [(Key(1), Value::Int(100)), (Key(2), Value::Int(50))];
    Database::new(OWNER, [("accounts", accounts)]).expect("valid schema")
}

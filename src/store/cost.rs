//! How much virtual time database work takes.
//!
//! The store does no real I/O, so it charges time instead: every call that touches data, a
//! lock or the log costs one op, and every forced log write (the fsync a commit or prepare
//! waits for) costs more. The [`Database`](super::Database) adds the charges up as it works;
//! the wrapping actor takes the total with [`Database::take_cost`](super::Database::take_cost)
//! after handling a request and schedules the reply that much later, so 2PC's extra forced
//! writes show up as latency.

use crate::sim::Duration;

/// Virtual time per unit of database work, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CostModel {
    /// One op: a read, a write into the write set, a lock request, a commit's bookkeeping.
    pub op_us: u64,
    /// One forced (synchronous) log write.
    pub forced_write_us: u64,
}

impl CostModel {
    /// Free work, for tests and for models that only count.
    pub const ZERO: CostModel = CostModel {
        op_us: 0,
        forced_write_us: 0,
    };

    /// The time `op_count` ops and `forced_write_count` forced writes take.
    pub fn of(self, op_count: u64, forced_write_count: u64) -> Duration {
        let us = self.op_us.saturating_mul(op_count);
        Duration::from_us(us.saturating_add(self.forced_write_us.saturating_mul(forced_write_count)))
    }
}

impl Default for CostModel {
    /// 200us per op, 1ms per forced write: a fast SSD-backed database, where an fsync
    /// dominates a short transaction.
    fn default() -> Self {
        CostModel {
            op_us: 200,
            forced_write_us: 1_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_of_three_ops_costs_three_ops_and_one_forced_write() {
        assert_eq!(CostModel::default().of(3, 1), Duration::from_us(1_600));
    }
}

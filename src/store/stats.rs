//! Counters a database keeps for reports; they survive crashes (they describe the run, not
//! the database's state).

/// What one database did during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StoreStats {
    /// Local txs begun.
    pub begins: u64,
    /// Local txs committed (one-phase or after prepare).
    pub commits: u64,
    /// Local txs aborted by request (business failure, timeout, deadlock victim, 2PC abort);
    /// txs lost in a crash are not counted here.
    pub aborts: u64,
    /// Local txs prepared (2PC yes votes).
    pub prepares: u64,
    /// Forced log writes; see the module docs for which calls force.
    pub forced_writes: u64,
    /// Lock requests that had to queue.
    pub lock_waits: u64,
    /// Sum over queued lock requests of the virtual time from queuing to grant, or to
    /// giving up (lock timeout, deadlock victim, crash), in microseconds: how long txs
    /// stood still behind others' locks, which `lock_waits` alone cannot tell.
    pub lock_wait_us: u64,
    /// Deadlock cycles, counted once, when the request closing the cycle queued.
    pub deadlocks: u64,
    /// Ops refused by a business constraint (bounds, missing or duplicate key).
    pub violations: u64,
    /// Requests refused because the caller does not own the database.
    pub access_denied: u64,
    /// Crashes, each losing all active txs.
    pub crashes: u64,
    /// Live txs lost in crashes (active or waiting; prepared ones survive).
    pub lost_in_crash: u64,
    /// Sum over finished txs of begin-to-end time, in microseconds: how long locks were held
    /// (a tx holds its locks at most that long under strict 2PL).
    pub lock_hold_us: u64,
    /// Outbox rows marked published.
    pub published: u64,
}

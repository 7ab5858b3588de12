//! The system model: services, their data, and the business transaction, as data.
//!
//! A business transaction is an ordered list of steps; each step is one local transaction on
//! one service (an `Action`) with the compensation that undoes it. A step fails for business
//! reasons when its action would break a bound (insufficient funds, out of stock, no
//! courier). Food delivery, travel booking and a bank transfer are all instances.

use crate::store::{Bounds, CostModel, Key, Op, TableId, Value};

/// A service's index in [`Model::services`] (sorted by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceId(pub u16);

impl ServiceId {
    /// As an index.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A business system: services and the one business transaction they run together.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The model's name (file stem).
    pub name: String,
    /// Services, sorted by name; `ServiceId(i)` is `services[i]`.
    pub services: Vec<ServiceSpec>,
    /// The business transaction's steps, in order.
    pub steps: Vec<StepSpec>,
    /// Tables whose sum an audit request reads, and which the business transaction must
    /// conserve (e.g. money across accounts).
    pub audit: Vec<(ServiceId, TableId)>,
    /// The step whose row the entry service checks on its replica (kept from the other
    /// services' events) before it accepts a transaction: a decision on data that may be
    /// outdated by the replication lag. `None`: no such check.
    pub entry_checks_replica: Option<u16>,
    /// The step the entry asks its service about, with a query to its API, before it starts
    /// a transaction: fresher than a replica, still outdated by the time the step runs.
    /// `None`: no query.
    pub entry_queries: Option<u16>,
}

/// One service and the database it owns.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    /// Name, unique in the model.
    pub name: String,
    /// Its tables.
    pub tables: Vec<TableSpec>,
    /// Time to handle one request, before database work.
    pub processing: crate::net::LatencyDist,
    /// Database operation and log-write costs (their means, when drawn).
    pub db_cost: CostModel,
    /// Distributions the database's times are drawn from per operation and per forced
    /// write, when the model gives them (`None`: `db_cost`'s fixed times).
    pub db_times: Option<DbTimes>,
    /// Its workers and queue (default: unbounded, every call at once).
    pub capacity: Capacity,
    /// How its database isolates reads from others' writes.
    pub isolation: crate::store::Isolation,
    /// How its read-then-write steps guard their reads.
    pub reads: crate::store::ReadGuard,
    /// Instances running it over its one database (at least 1); `capacity` is each one's.
    pub instances: u16,
    /// How calls are spread over its instances.
    pub balance: Balance,
}

/// How a service's calls are spread over its instances (the load balancer in front of them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Balance {
    /// Each call to the next instance up, in turn.
    #[default]
    RoundRobin,
    /// By the request's key: one customer's calls always reach the same instance (none while
    /// it is down).
    ByKey,
    /// To the instance up with the fewest calls running (the lowest index on a tie).
    LeastLoaded,
}

/// A database's times drawn from distributions, one draw per operation and per forced write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DbTimes {
    /// One operation.
    pub op: crate::net::LatencyDist,
    /// One forced log write.
    pub forced_write: crate::net::LatencyDist,
}

/// How many calls a service runs at once, and how many may wait.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// Workers; `None`: as many as there are calls.
    pub workers: Option<u32>,
    /// The longest the queue may grow; `None`: unbounded.
    pub queue_limit: Option<u32>,
}

/// A table with `key_count` rows (keys `0..key_count`) all starting at `initial`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// Name, unique in its service.
    pub name: String,
    /// Rows created at start.
    pub key_count: u64,
    /// Starting value of each row.
    pub initial: i64,
}

/// One step of the business transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepSpec {
    /// Name, for reports and traces.
    pub name: String,
    /// The service that runs it.
    pub service: ServiceId,
    /// What it does.
    pub action: Action,
    /// What undoes it; it must not fail for business reasons.
    pub compensation: Action,
}

/// Which row a step touches, resolved per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// The request's key (a customer, an account).
    Request,
    /// The request's second key (an item, the other account).
    Other,
    /// The global transaction's id (a new order or ticket record).
    Tx,
    /// A fixed row.
    Const(u64),
}

/// A local transaction a step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Add `delta` to an integer row, refusing results outside `bounds`.
    Add {
        /// The table.
        table: TableId,
        /// The row.
        key: KeyRef,
        /// The change (negative to debit or reserve).
        delta: i64,
        /// The business constraint.
        bounds: Bounds,
    },
    /// Insert a row; refused if it exists.
    Insert {
        /// The table.
        table: TableId,
        /// The row.
        key: KeyRef,
        /// Its value.
        value: i64,
    },
    /// Delete a row; deleting a missing row is not an error (so it compensates an insert
    /// that never happened).
    Delete {
        /// The table.
        table: TableId,
        /// The row.
        key: KeyRef,
    },
    /// Read a row, decide on the value read (refused when `read + delta` leaves `bounds`),
    /// and write `read + delta` over it: check-then-act, whose read may be outdated by the
    /// time it writes, depending on the service's isolation and read guard.
    ReadThenWrite {
        /// The table.
        table: TableId,
        /// The row.
        key: KeyRef,
        /// The change decided.
        delta: i64,
        /// The business constraint the decision checks.
        bounds: Bounds,
        /// A second row the decision reads: `bounds` then hold for the two rows' sum.
        also_reads: Option<KeyRef>,
    },
    /// Write an absolute value over a row, whatever it holds: only ever a compensation, the
    /// naive "put it back as it was" that erases what other transactions did to the row since
    /// (a lost update; the commutative opposite `Add` is the countermeasure).
    Set {
        /// The table.
        table: TableId,
        /// The row.
        key: KeyRef,
        /// The value written.
        value: i64,
    },
}

/// The keys a request carries, to resolve [`KeyRef`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestKeys {
    /// [`KeyRef::Request`].
    pub key: u64,
    /// [`KeyRef::Other`].
    pub other: u64,
    /// [`KeyRef::Tx`].
    pub tx: u64,
}

impl KeyRef {
    /// The row for a request.
    pub fn resolve(self, keys: RequestKeys) -> Key {
        Key(match self {
            KeyRef::Request => keys.key,
            KeyRef::Other => keys.other,
            KeyRef::Tx => keys.tx,
            KeyRef::Const(k) => k,
        })
    }
}

impl Action {
    /// The store program for one request.
    pub fn program(&self, keys: RequestKeys) -> Op {
        match self {
            Action::Add {
                table,
                key,
                delta,
                bounds,
            } => Op::Add {
                table: *table,
                key: key.resolve(keys),
                field: None,
                delta: *delta,
                bounds: *bounds,
            },
            Action::Insert { table, key, value } => Op::Insert {
                table: *table,
                key: key.resolve(keys),
                value: Value::Int(*value),
            },
            Action::Delete { table, key } => Op::Delete {
                table: *table,
                key: key.resolve(keys),
            },
            Action::ReadThenWrite {
                table,
                key,
                delta,
                bounds,
                also_reads,
            } => Op::ReadThenWrite {
                table: *table,
                key: key.resolve(keys),
                delta: *delta,
                bounds: *bounds,
                guard: crate::store::ReadGuard::None,
                also_reads: also_reads.map(|k| k.resolve(keys)),
            },
            Action::Set { table, key, value } => Op::Put {
                table: *table,
                key: key.resolve(keys),
                value: Value::Int(*value),
            },
        }
    }

    /// The table it touches.
    pub fn table(&self) -> TableId {
        match self {
            Action::Add { table, .. }
            | Action::Insert { table, .. }
            | Action::Delete { table, .. }
            | Action::ReadThenWrite { table, .. }
            | Action::Set { table, .. } => *table,
        }
    }

    /// The net change to the sum of its table when applied once (inserts count their value,
    /// deletes and sets are unknown and count zero).
    pub fn delta(&self) -> i64 {
        match self {
            Action::Add { delta, .. } | Action::ReadThenWrite { delta, .. } => *delta,
            Action::Insert { value, .. } => *value,
            Action::Delete { .. } | Action::Set { .. } => 0,
        }
    }
}

impl ServiceSpec {
    /// A service with `tables` and every other setting at the model file's default: 200 µs
    /// of processing, the default database costs, unbounded workers, one instance,
    /// serializable isolation. Code that builds models starts here and changes what it
    /// needs, so a new setting has its default in one place.
    pub fn new(name: impl Into<String>, tables: Vec<TableSpec>) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            tables,
            processing: crate::net::LatencyDist::Constant { us: 200 },
            db_cost: CostModel::default(),
            db_times: None,
            capacity: Capacity::default(),
            isolation: crate::store::Isolation::default(),
            reads: crate::store::ReadGuard::default(),
            instances: 1,
            balance: Balance::default(),
        }
    }
}

impl Model {
    /// The service called `name`.
    pub fn service_id(&self, name: &str) -> Option<ServiceId> {
        self.services
            .iter()
            .position(|s| s.name == name)
            .map(|i| ServiceId(i as u16))
    }

    /// The sum the audit tables start with (what a correct system conserves, net of the
    /// transactions' own deltas when they do not cancel out).
    pub fn initial_audit_total(&self) -> i64 {
        self.audit
            .iter()
            .map(|(service, table)| {
                let t = &self.services[service.index()].tables[usize::from(table.0)];
                t.initial * t.key_count as i64
            })
            .sum()
    }

    /// The net change one committed business transaction makes to the audit total.
    pub fn audit_delta_per_commit(&self) -> i64 {
        self.steps
            .iter()
            .filter(|s| self.audit.contains(&(s.service, s.action.table())))
            .map(|s| s.action.delta())
            .sum()
    }
}

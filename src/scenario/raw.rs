//! The file formats, field for field: what serde reads from scenario and model files.
//!
//! Every struct and every enum denies unknown fields (for an enum, in its struct-like
//! variants), so a typo is an error with a position instead of a silently ignored setting.
//! Type names are the names files write (`Broker(...)`, not `BrokerSettings(...)`): ron checks
//! them. Raw types never leave `scenario/`: `validate.rs` turns them into
//! the kernel's types, so the file format can change without touching the core.

use serde::{Deserialize, Serialize};

use crate::duration_text::HumanDuration;

/// A scenario file: one run of one model.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The model file, relative to the scenario file.
    pub model: String,
    /// The master seed (overridable with `--seed`).
    pub seed: u64,
    /// Links and their behaviour.
    #[serde(default)]
    pub network: Network,
    /// The fault schedule.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// When every fault is lifted; after it, work must finish within `converge_within`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_at: Option<HumanDuration>,
    /// When the run ends.
    #[serde(default)]
    pub stop: Stop,
    /// How business transactions run (system models only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::strategy::StrategyChoice>,
    /// What the client sends (system models only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// The gateway's deadline and retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
    /// Service-wide settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Services>,
    /// Broker settings (strategies that use one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<BrokerSettings>,
    /// Which checks must hold (all checks always run and are reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// Workers for actors that are not services (the broker, a coordinator, an
    /// orchestrator), by name: each message then takes `processing` on a worker.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub actors: std::collections::BTreeMap<String, Pace>,
    /// The bounds of swarm testing (`consim sweep --swarm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
}

/// An actor's workers: `Pace(workers: 1, queue: 100, processing: Exponential(mean: "300us"))`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pace {
    /// Messages handled at once.
    pub workers: u32,
    /// Messages that may wait (no limit if absent); a full queue drops the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// Each message's processing time.
    pub processing: ServiceTime,
}

/// What swarm testing may draw for each seed: every field is an upper bound or a switch.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// Faults happen before this time, which is the run's `heal_at` (default: when the
    /// workload is expected to end, at least 100ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<HumanDuration>,
    /// The highest loss rate drawn.
    #[serde(default = "swarm_max_loss")]
    pub max_loss: f64,
    /// The highest duplication rate drawn.
    #[serde(default = "swarm_max_duplicate")]
    pub max_duplicate: f64,
    /// The most crashes (time-scheduled and aimed each) drawn.
    #[serde(default = "swarm_max_crashes")]
    pub max_crashes: u32,
    /// Whether partitions and one-way cuts may be drawn.
    #[serde(default = "yes")]
    pub partitions: bool,
    /// Whether faults aimed at points and messages may be drawn.
    #[serde(default = "yes")]
    pub aimed: bool,
}

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            horizon: None,
            max_loss: swarm_max_loss(),
            max_duplicate: swarm_max_duplicate(),
            max_crashes: swarm_max_crashes(),
            partitions: true,
            aimed: true,
        }
    }
}

fn swarm_max_loss() -> f64 {
    0.05
}

fn swarm_max_duplicate() -> f64 {
    0.03
}

fn swarm_max_crashes() -> u32 {
    2
}

/// The client's requests.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// How many requests the client sends.
    pub requests: u64,
    /// When they arrive.
    pub arrival: Arrival,
    /// Which rows they touch (default uniform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<Keys>,
    /// How many distinct keys requests draw from (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_count: Option<u64>,
    /// Share of read-only audit requests, in [0, 1].
    #[serde(default)]
    pub audit_share: f64,
    /// Share of requests sent without credentials, in [0, 1].
    #[serde(default)]
    pub unauthenticated: f64,
}

/// An arrival process.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Arrival {
    /// One request every `interval`.
    Constant(HumanDuration),
    /// Poisson arrivals at `rate_per_s`.
    Poisson {
        /// Mean requests per virtual second.
        rate_per_s: f64,
    },
    /// `size` requests spread over `within`, a burst every `every`.
    Bursts {
        /// Requests per burst.
        size: u32,
        /// Spread of one burst.
        within: HumanDuration,
        /// Time between burst starts.
        every: HumanDuration,
    },
}

/// Key popularity.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Keys {
    /// Every key equally likely.
    Uniform,
    /// Zipf with this exponent (0 is uniform; 1 is the classic skew).
    Zipf(f64),
}

/// Gateway policy.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Deadline per attempt (default 1s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// Retries after the first attempt (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u16>,
}

/// Settings every service shares.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Services {
    /// How long a local call waits for a lock (default 50ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_timeout: Option<HumanDuration>,
    /// The shared-database anti-pattern: a service's direct write to another's table lands
    /// (default false: refused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_database: bool,
    /// Every service's database isolation, in place of the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<crate::store::Isolation>,
    /// Every service's read guard for read-then-write steps, in place of the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<crate::store::ReadGuard>,
}

/// Broker settings, written `Broker(...)`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename = "Broker", deny_unknown_fields)]
pub struct BrokerSettings {
    /// Redelivery after this long without an ack (default 100ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout: Option<HumanDuration>,
    /// One unacknowledged message per key and subscriber at a time (default false).
    #[serde(default)]
    pub per_key_ordering: bool,
}

/// Checks a scenario requires.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Checks whose violation makes `consim run` exit with code 2.
    #[serde(default)]
    pub must_hold: Vec<CheckName>,
    /// How long after the later of its first change and the last fault heal a transaction
    /// may take to converge (default 5s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converge_within: Option<HumanDuration>,
    /// The most client uncertainty allowed: the share of transactions answered timed out
    /// that then committed or aborted (default: counted, not judged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_client_uncertainty: Option<f64>,
}

/// A check, by name.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum CheckName {
    /// All steps or none.
    Atomicity,
    /// No step applied twice.
    NoDoubleEffect,
    /// Every resource (table a step writes) is conserved.
    Conservation,
    /// Every request reaches an outcome.
    NoLostWork,
    /// No bound broken.
    NoOversell,
    /// Services and read models agree within `converge_within` after the last heal.
    Convergence,
    /// The client was told the truth: committed only if every step applied, aborted only
    /// if none remained.
    ClientAnswers,
    /// No row changed except by its owning service's own steps.
    Ownership,
}

/// The network: a default link and per-pair overrides.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// The link every pair uses unless overridden.
    #[serde(default)]
    pub default: Link,
    /// Overrides for particular pairs.
    #[serde(default)]
    pub links: Vec<LinkOverride>,
}

/// One directed link's behaviour; every field has a default.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Delay distribution (default uniform 0.5–5 ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// Loss probability in [0, 1].
    #[serde(default)]
    pub loss: f64,
    /// Duplication probability in [0, 1].
    #[serde(default)]
    pub duplicate: f64,
    /// Deliver in send order.
    #[serde(default)]
    pub fifo: bool,
}

/// A link for one pair of nodes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sender.
    pub from: String,
    /// Receiver.
    pub to: String,
    /// Also use it from `to` back to `from` (default true).
    #[serde(default = "yes")]
    pub both_ways: bool,
    /// The link.
    pub link: Link,
}

fn yes() -> bool {
    true
}

/// A service time: a fixed duration (`"200us"`) or a distribution.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ServiceTime {
    /// Always this long.
    Fixed(HumanDuration),
    /// Drawn per call from the service's own random stream.
    Drawn(Latency),
}

/// A latency distribution.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Latency {
    /// Always the same.
    Constant(HumanDuration),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Shortest.
        min: HumanDuration,
        /// Longest.
        max: HumanDuration,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean.
        mean: HumanDuration,
        /// Standard deviation.
        std_dev: HumanDuration,
    },
    /// Exponential.
    Exponential {
        /// Mean.
        mean: HumanDuration,
    },
    /// Log-normal.
    LogNormal {
        /// Median.
        median: HumanDuration,
        /// Spread of the underlying normal.
        sigma: f64,
    },
    /// Pareto.
    Pareto {
        /// Minimum.
        scale: HumanDuration,
        /// Tail index.
        shape: f64,
    },
}

/// A scheduled fault.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Fault {
    /// Groups of nodes that cannot reach each other.
    Partition {
        /// Two or more disjoint groups of node names.
        groups: Vec<Vec<String>>,
        /// Start.
        from: HumanDuration,
        /// Heal (never if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<HumanDuration>,
    },
    /// Messages from some nodes to others lost; the other direction works.
    OneWay {
        /// Whose messages are lost.
        senders: Vec<String>,
        /// Who does not get them.
        receivers: Vec<String>,
        /// Start.
        from: HumanDuration,
        /// Heal (never if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<HumanDuration>,
    },
    /// One link down, both directions.
    LinkDown {
        /// One end.
        a: String,
        /// The other end.
        b: String,
        /// Start.
        from: HumanDuration,
        /// Back up (never if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<HumanDuration>,
    },
    /// A node crash, with an optional restart time.
    Crash {
        /// Who.
        node: String,
        /// When.
        at: HumanDuration,
        /// Restart time (stays down if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart: Option<HumanDuration>,
    },
    /// One instance of service `node` crashes at `at` (its calls in flight are lost; the
    /// database and the other instances go on), restarting at `restart` if given.
    CrashInstance {
        /// The service.
        node: String,
        /// Which instance, from 0.
        instance: u16,
        /// When.
        at: HumanDuration,
        /// Restart time (stays down if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart: Option<HumanDuration>,
    },
    /// A node's clock runs fast or slow from `at`.
    ClockDrift {
        /// Whose clock.
        node: String,
        /// From when.
        at: HumanDuration,
        /// Parts per million (positive: fast).
        ppm: i64,
    },
    /// `node` crashes when it reaches protocol `point` (see `consim points`).
    CrashAt {
        /// Who.
        node: String,
        /// Where.
        point: String,
        /// The nth visit (from 1) sets it off.
        #[serde(default = "first")]
        nth: u32,
        /// Only this transaction's visits count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx: Option<u64>,
        /// Restarts this long after the crash (stays down if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart_after: Option<HumanDuration>,
    },
    /// A partition starts when `node` reaches `point`.
    PartitionAt {
        /// Whose point.
        node: String,
        /// Where.
        point: String,
        /// The nth visit (from 1) sets it off.
        #[serde(default = "first")]
        nth: u32,
        /// Only this transaction's visits count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx: Option<u64>,
        /// Two or more disjoint groups of node names.
        groups: Vec<Vec<String>>,
        /// How long it lasts (for good if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lasts: Option<HumanDuration>,
    },
    /// A one-way cut starts when `node` reaches `point`.
    OneWayAt {
        /// Whose point.
        node: String,
        /// Where.
        point: String,
        /// The nth visit (from 1) sets it off.
        #[serde(default = "first")]
        nth: u32,
        /// Only this transaction's visits count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx: Option<u64>,
        /// Whose messages are lost.
        senders: Vec<String>,
        /// Who does not get them.
        receivers: Vec<String>,
        /// How long it lasts (for good if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lasts: Option<HumanDuration>,
    },
    /// The nth message of `kind` from `from` to `to` (`"*"`: any) is dropped, delayed or
    /// duplicated.
    OnMessage {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// Message kind (see `consim points`).
        kind: String,
        /// Which matching message (from 1).
        #[serde(default = "first")]
        nth: u32,
        /// What happens to it.
        effect: MessageEffect,
    },
    /// Service `node` reaches into service `owner`'s database at `at`: adds `delta` to row
    /// `key` of `table` (0: reads it). Refused, unless the database is shared.
    Intrude {
        /// The service that tries.
        node: String,
        /// The service that owns the table.
        owner: String,
        /// The owner's table.
        table: String,
        /// Which row.
        #[serde(default)]
        key: u64,
        /// What to add (0: a read).
        #[serde(default)]
        delta: i64,
        /// When.
        at: HumanDuration,
    },
    /// The same, when `node` reaches protocol `point` for the `nth` time.
    IntrudeAt {
        /// The service that tries.
        node: String,
        /// Where.
        point: String,
        /// Which visit (from 1).
        #[serde(default = "first")]
        nth: u32,
        /// The service that owns the table.
        owner: String,
        /// The owner's table.
        table: String,
        /// Which row.
        #[serde(default)]
        key: u64,
        /// What to add (0: a read).
        #[serde(default)]
        delta: i64,
    },
}

fn first() -> u32 {
    1
}

/// What an aimed message fault does.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
pub enum MessageEffect {
    /// Lost.
    Drop,
    /// Arrives this much later.
    Delay(HumanDuration),
    /// Arrives twice.
    Duplicate,
}

/// When a run ends: quiescence always; these limits too.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// Virtual-time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<HumanDuration>,
    /// Event limit.
    #[serde(default = "default_events")]
    pub events: u64,
    /// Pending-event limit (memory).
    #[serde(default = "default_pending")]
    pub pending: u64,
    /// Limit on the run's record (histories, logs, full trace), in MiB (memory).
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
}

fn default_events() -> u64 {
    100_000_000
}

fn default_pending() -> u64 {
    10_000_000
}

fn default_memory_mb() -> u64 {
    crate::world::Limits::default().max_retained_bytes >> 20
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            time: None,
            events: default_events(),
            pending: default_pending(),
            memory_mb: default_memory_mb(),
        }
    }
}

/// A model file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Model {
    /// Services, their data and the business transaction.
    System(System),
    /// The kernel's reference workload (see `consim::pingmesh`).
    Pingmesh {
        /// Actors.
        nodes: u32,
        /// Message chains in flight.
        chains: u16,
        /// Re-send timeout.
        resend_after: HumanDuration,
    },
}

/// A business system model (`System(...)` in a model file).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// Services by name; ids follow sorted names.
    pub services: std::collections::BTreeMap<String, Service>,
    /// The business transaction's steps, in order.
    pub steps: Vec<Step>,
    /// `(service, table)` pairs an audit sums and transactions must conserve.
    #[serde(default)]
    pub audit: Vec<(String, String)>,
    /// A later step whose row the entry service checks on its replica before accepting an
    /// order (strategies that keep replicas from events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_checks_replica: Option<String>,
    /// A later step the entry asks the step's service about (a query to its API) before
    /// starting a transaction (strategies whose entry can query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_queries: Option<String>,
}

/// A service and its database.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Tables by name; ids follow sorted names.
    pub tables: std::collections::BTreeMap<String, Table>,
    /// Handling time per request (default 200us): a duration, or a distribution in the
    /// forms of link latency (`Exponential(mean: "1ms")`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing: Option<ServiceTime>,
    /// Database costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<Db>,
    /// Calls it runs at once (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// Calls that may wait for a worker; a call finding it full is answered busy (default:
    /// no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<u32>,
    /// How its database isolates a read from others' writes (default Serializable: strict
    /// two-phase locking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<crate::store::Isolation>,
    /// How a read-then-write step guards its read: `ForUpdate` (a locking read) or
    /// `Versioned` (compare and set, retried on conflict); default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<crate::store::ReadGuard>,
    /// Instances running the service over its one database (default 1); `workers` and
    /// `queue` are each instance's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u16>,
    /// How calls are spread over the instances (default RoundRobin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<crate::system::model::Balance>,
}

/// Database operation costs.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Db {
    /// Per operation (default 200us): a duration or a distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<ServiceTime>,
    /// Per forced log write (default 1ms): a duration or a distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_write: Option<ServiceTime>,
}

/// A table: `rows` rows, keys `0..rows`, all starting at `initial`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Number of rows at start.
    pub rows: u64,
    /// Starting value of each row.
    #[serde(default)]
    pub initial: i64,
}

/// One step of the business transaction.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Name for reports.
    pub name: String,
    /// The service that runs it.
    pub service: String,
    /// What it does.
    pub action: Action,
    /// What undoes it (default: the inverse of `action`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation: Option<Action>,
}

/// A local transaction.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Action {
    /// Add `delta` to a row, refused below `min` or above `max`.
    Add {
        /// Table name.
        table: String,
        /// Which row.
        key: KeyRef,
        /// The change.
        delta: i64,
        /// Floor (none if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// Ceiling (none if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// Insert a row.
    Insert {
        /// Table name.
        table: String,
        /// Which row.
        key: KeyRef,
        /// Its value.
        #[serde(default)]
        value: i64,
    },
    /// Delete a row.
    Delete {
        /// Table name.
        table: String,
        /// Which row.
        key: KeyRef,
    },
    /// Read a row, decide on it, write `read + delta` (check-then-act).
    ReadThenWrite {
        /// Table name.
        table: String,
        /// Which row.
        key: KeyRef,
        /// The change.
        delta: i64,
        /// Floor the decision checks (none if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// Ceiling the decision checks (none if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
        /// A second row of the table the decision also reads: the bounds then hold for the
        /// two rows' sum (a rule across rows, which snapshot isolation cannot protect).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        also_reads: Option<KeyRef>,
    },
    /// Overwrite a row with a value (compensations only).
    Set {
        /// Table name.
        table: String,
        /// Which row.
        key: KeyRef,
        /// The value written.
        value: i64,
    },
}

/// Which row a step touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum KeyRef {
    /// The request's key.
    Request,
    /// The request's second key.
    Other,
    /// The transaction id.
    Tx,
    /// A fixed row.
    Const(u64),
}

/// A scenario as RON, in the form users write.
pub fn to_ron(s: &Scenario) -> String {
    let config = ron::ser::PrettyConfig::new()
        .struct_names(true)
        .extensions(ron::extensions::Extensions::IMPLICIT_SOME)
        .indentor("    ".to_string());
    ron::Options::default()
        .to_string_pretty(s, config)
        .expect("a scenario serialises")
        + "\n"
}

//! Consistency strategies: how a business transaction runs across services.
//!
//! Each strategy is one folder behind the [`Strategy`] trait and one line in
//! [`registry::REGISTRY`]; a scenario picks one as a [`StrategyChoice`]. A strategy says
//! which actors it adds (a coordinator, an orchestrator), where the gateway's `Begin` goes,
//! how services publish events (outbox or a dual write) and what they subscribe to, and what
//! each service does on its own ([`crate::system::participant::Participant`]). Services,
//! databases, the gateway and the checks do not know which strategy runs.
//!
//! A strategy can live outside this crate too: implement [`Strategy`] and hand it to a run
//! as a [`StrategyChoice`]. The smallest one sends each `Begin` to the first step's service
//! and lets a participant there do the rest; this one only names itself and its entry, so
//! no step ever runs and every request times out at the gateway: nothing happens, so no
//! check can fail. `exercises/12-write-a-saga-runner/student.rs` is a whole saga written this
//! way, outside `src/`.
//!
//! ```
//! use std::sync::Arc;
//! use consim::assembly::SystemConfig;
//! use consim::sim::{ActorId, TraceLevel};
//! use consim::strategy::{Strategy, StrategyChoice, Wiring};
//! use consim::system::examples::bank_transfer;
//! use consim::net::Probability;
//! use consim::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
//! use consim::world::Limits;
//!
//! #[derive(Debug, serde::Serialize)]
//! struct Nothing;
//!
//! impl Strategy for Nothing {
//!     fn name(&self) -> &'static str {
//!         "nothing"
//!     }
//!     fn entry(&self, wiring: &Wiring) -> ActorId {
//!         wiring.step_service(0)
//!     }
//! }
//!
//! let workload = WorkloadSpec {
//!     request_count: 3,
//!     arrival: ArrivalProcess::Poisson { rate_per_s: 100.0 },
//!     keys: KeyPopularity::Uniform,
//!     key_count: 10,
//!     audit_share: Probability::NEVER,
//! };
//! let config = SystemConfig::new(Arc::new(bank_transfer()), StrategyChoice::new(Nothing), workload);
//! let mut run = config.build(1, TraceLevel::Hash).unwrap();
//! let outcome = run.world.run(Limits::default());
//! assert!(outcome.stop.is_quiescent());
//! assert!(run.check(&outcome).iter().all(|verdict| verdict.holds()));
//! ```

pub mod eventual;
pub mod registry;
pub mod saga_choreographed;
pub mod saga_orchestrated;
pub mod tcc;
#[cfg(test)]
mod testing;
pub mod three_pc;
pub mod two_pc;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use registry::{REGISTRY, Registration};

use crate::broker::TopicId;
use crate::check::{ReadModelFacts, RunFacts};
use crate::sim::ActorId;
use crate::system::history::History;
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{GlobalTxId, Msg, Token, TxOutcome};
use crate::system::participant::Participant;
use crate::system::service::Relay;
use crate::world::Actor;

/// Where every actor of a run sits, known before any is built.
#[derive(Clone, Debug)]
pub struct Wiring {
    /// The system.
    pub model: Arc<Model>,
    /// The gateway's token.
    pub token: Token,
    /// The client.
    pub client: ActorId,
    /// The gateway.
    pub gateway: ActorId,
    /// Services, indexed by `ServiceId`.
    pub services: Vec<ActorId>,
    /// The broker, if the strategy uses one.
    pub broker: Option<ActorId>,
    /// The strategy's own actors, in the order of [`Strategy::extra_actor_names`].
    pub extras: Vec<ActorId>,
}

impl Wiring {
    /// The actor of a model service.
    pub fn service(&self, id: ServiceId) -> ActorId {
        self.services[id.index()]
    }

    /// The actor running step `step`.
    pub fn step_service(&self, step: u16) -> ActorId {
        self.service(self.model.steps[usize::from(step)].service)
    }

    /// How many steps a business transaction has.
    pub fn step_count(&self) -> u16 {
        u16::try_from(self.model.steps.len()).expect("a model has at most u16::MAX steps")
    }

    /// The strategy's first own actor (its coordinator or orchestrator), for a strategy that
    /// names one in [`Strategy::extra_actor_names`].
    pub fn first_extra(&self) -> ActorId {
        *self
            .extras
            .first()
            .expect("the assembly built the actors named by extra_actor_names")
    }

    /// Tells the gateway that `gtx` committed (`commit`) or aborted.
    pub fn report_outcome(&self, ctx: &mut crate::world::Ctx<'_, Msg>, gtx: GlobalTxId, commit: bool) {
        let outcome = if commit {
            TxOutcome::Committed
        } else {
            TxOutcome::Aborted
        };
        ctx.send(self.gateway, Msg::Outcome { gtx, outcome });
    }
}

/// Why a strategy that keeps each step as its own prepared local transaction until the
/// decision (two- and three-phase commit) cannot run `model`, if it cannot: two steps of one
/// service on one table would wait on each other's lock until the lock timeout aborted the
/// transaction, for every request that drew the same row for both.
pub fn prepared_steps_conflict(model: &Model, strategy: &str) -> Option<Problem> {
    let steps = &model.steps;
    for (i, a) in steps.iter().enumerate() {
        if let Some(b) = steps[i + 1..]
            .iter()
            .find(|b| a.service == b.service && a.action.table() == b.action.table())
        {
            let service = &model.services[a.service.index()];
            return Some(Problem::whole(
                format!(
                    "{strategy} cannot run steps `{}` and `{}`: both write table `{}` of service `{}`, and each prepared step would hold its lock until the decision, blocking the other",
                    a.name,
                    b.name,
                    service.tables[usize::from(a.action.table().0)].name,
                    service.name
                ),
                "merge the two steps into one, or pick a saga, eventual consistency or tcc",
            ));
        }
    }
    None
}

/// A strategy with its settings, as a scenario picks it: shared, so scenarios clone cheaply
/// and runs on several threads read one. Its serde form is the scenario file's
/// (`TwoPc(vote_timeout: "50ms")`), read through [`registry::REGISTRY`].
#[derive(Clone, Debug)]
pub struct StrategyChoice(pub Arc<dyn Strategy>);

impl StrategyChoice {
    /// `strategy`, ready to put in a scenario or a [`crate::assembly::SystemConfig`].
    pub fn new(strategy: impl Strategy + 'static) -> StrategyChoice {
        StrategyChoice(Arc::new(strategy))
    }
}

impl std::ops::Deref for StrategyChoice {
    type Target = dyn Strategy;

    fn deref(&self) -> &(dyn Strategy + 'static) {
        &*self.0
    }
}

/// A named place in a protocol where something durable or visible happens (a decision is
/// logged, a vote leaves): what faults will be aimed at, and what `consim points` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolPoint {
    /// The role that reaches it (`coordinator`, `participant`, `service`).
    pub role: &'static str,
    /// Its name, unique within the role.
    pub name: &'static str,
    /// What has just happened when it is reached.
    pub meaning: &'static str,
}

impl ProtocolPoint {
    /// A point of `role`.
    pub const fn new(role: &'static str, name: &'static str, meaning: &'static str) -> Self {
        ProtocolPoint { role, name, meaning }
    }
}

/// The points every service offers whatever the strategy: its primitives'. (A prepared or
/// reserved step is a point of the strategies that prepare or reserve: the service reaches
/// it, under the role those strategies give it.)
pub const SERVICE_POINTS: &[ProtocolPoint] = &[
    ProtocolPoint::new("service", "local_commit", "a step's local transaction committed"),
    ProtocolPoint::new(
        "service",
        "event_published",
        "a committed step's event left for the broker (the relay's first try, or the dual write)",
    ),
    ProtocolPoint::new(
        "service",
        "outbox_relayed",
        "the broker acknowledged an outbox row",
    ),
];

/// The points an actor called `node` can reach under `strategy`: one of the strategy's own
/// actors reaches its role's points (each such role is named after its actor), a service
/// reaches the services' points and those of every other role of the strategy (participant,
/// step owner, backup: the roles it gives services); the client, the gateway and the broker
/// reach none.
pub fn points_of(strategy: &dyn Strategy, node: &str, is_service: bool) -> Vec<ProtocolPoint> {
    let own_actors = strategy.extra_actor_names();
    let roles_point = |point: &&ProtocolPoint| {
        if own_actors.contains(&node) {
            point.role == node
        } else {
            is_service && !own_actors.contains(&point.role)
        }
    };
    let service_points = SERVICE_POINTS.iter().filter(|_| is_service);
    service_points
        .chain(strategy.points().iter().filter(roles_point))
        .copied()
        .collect()
}

/// Every kind of message a run under `strategy` may send, as faults aimed at messages name
/// them: the system's, the broker's when the strategy uses one, the strategy's own.
pub fn message_kinds_sent(strategy: &dyn Strategy) -> Vec<&'static str> {
    use crate::system::msg::{DomainEvent, Msg};
    let mut kinds: Vec<&'static str> = Msg::KINDS.to_vec();
    if strategy.uses_broker() {
        kinds.extend(crate::broker::BrokerMsg::<DomainEvent>::KINDS);
    }
    for kind in strategy.message_kinds() {
        if !kinds.contains(kind) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Something wrong with a strategy's settings or with the model it is asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The setting at fault, if one is (errors point at it in the file).
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Problem {
    /// A problem with setting `field`.
    pub fn at(field: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.to_string()),
            message: message.into(),
            hint: None,
        }
    }

    /// A problem with the strategy as a whole (it does not fit the model).
    pub fn whole(message: impl Into<String>, hint: impl Into<String>) -> Problem {
        Problem {
            field: None,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

/// Everything that keeps `strategy` from running `model`: its own problems, then what the
/// model needs of any strategy (a replica for the entry to decide on).
pub fn misfits(strategy: &dyn Strategy, model: &Model) -> Vec<Problem> {
    let mut problems = strategy.problems(model);
    if model.entry_checks_replica.is_some() && !strategy.keeps_replicas() {
        problems.push(Problem::whole(
            format!(
                "strategy {} keeps no replica of the other services' data, and the model's \
                 `entry_checks_replica` decides on one",
                strategy.name()
            ),
            "use a strategy whose entry consumes every event into a replica (`consim list`), or drop `entry_checks_replica`",
        ));
    }
    if model.entry_queries.is_some() && !strategy.queries_before_start() {
        problems.push(Problem::whole(
            format!(
                "strategy {} has no entry that can query a service before it starts, and the \
                 model's `entry_queries` asks for one",
                strategy.name()
            ),
            "use a strategy whose entry queries (`consim list`), or drop `entry_queries`",
        ));
    }
    problems
}

/// Problems from a settings check that names its field first (`"relay_interval: must be
/// above zero"`): the leading identifier becomes the problem's field.
pub fn problems_from(texts: Vec<String>) -> Vec<Problem> {
    texts
        .into_iter()
        .map(|message| {
            let word = message
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("");
            let field = (!word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .then(|| word.to_string());
            Problem {
                field,
                message,
                hint: None,
            }
        })
        .collect()
}

/// One way to run a business transaction across services. The value is the strategy's
/// settings; its serde form is what scenario files write (see [`Registration::of`]).
pub trait Strategy: std::fmt::Debug + Send + Sync + erased_serde::Serialize {
    /// Stable name: reports, snapshot files, the CLI (its [`Registration::name`]).
    fn name(&self) -> &'static str;

    /// Every problem with the settings, and with running `model` under them; empty when the
    /// run can go ahead. All are reported at once, so a file is fixed in one go. None by
    /// default: settings that cannot be wrong, a strategy that runs any model.
    fn problems(&self, model: &Model) -> Vec<Problem> {
        let _ = model;
        Vec::new()
    }

    /// The protocol points of its roles, beyond the services' own ([`SERVICE_POINTS`]).
    /// None by default.
    fn points(&self) -> &'static [ProtocolPoint] {
        &[]
    }

    /// The names of its own messages (`ProtocolMsg`), indexed by the `kind` it numbers them
    /// with: what faults aimed at a kind of message call them. None by default.
    fn message_kinds(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the run needs a broker.
    fn uses_broker(&self) -> bool {
        false
    }

    /// Names of the strategy's own actors (a coordinator, an orchestrator).
    fn extra_actor_names(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Builds the strategy's own actors, in the order of their names.
    fn extra_actors(&self, wiring: &Wiring) -> Vec<Box<dyn Actor<Msg>>> {
        let _ = wiring;
        Vec::new()
    }

    /// Where the gateway sends `Begin`.
    fn entry(&self, wiring: &Wiring) -> ActorId;

    /// How services get events to the broker.
    fn relay(&self) -> Relay {
        Relay::None
    }

    /// Which actors receive which topics.
    fn subscriptions(&self, wiring: &Wiring) -> BTreeMap<TopicId, Vec<ActorId>> {
        let _ = wiring;
        BTreeMap::new()
    }

    /// A service's own half of the strategy, if it acts on its own.
    fn participant(&self, service: ServiceId, wiring: &Wiring) -> Option<Box<dyn Participant>> {
        let _ = (service, wiring);
        None
    }

    /// What a read model the strategy keeps saw (eventual consistency's entry service keeps
    /// one): the convergence check judges it and the report measures its lag. `None` when it
    /// keeps none (the default).
    fn read_model(&self, history: &History, facts: &RunFacts<'_>) -> Option<ReadModelFacts> {
        let _ = (history, facts);
        None
    }

    /// Whether its entry can ask a step's service about the step before it starts a
    /// transaction (a model's `entry_queries`). No by default.
    fn queries_before_start(&self) -> bool {
        false
    }

    /// Whether its participants mark saga changes pending until the saga ends, so that audits
    /// leave them out (a semantic lock). No by default.
    fn semantic_locks(&self) -> bool {
        false
    }

    /// Whether the entry service keeps a replica of the other services' data from their
    /// events, on which it can decide (a model's `entry_checks_replica`). No by default.
    fn keeps_replicas(&self) -> bool {
        false
    }

    /// Forced log writes by the strategy's own actors (a coordinator's decisions), read from
    /// the run's counters; the services' own are counted by their databases. None by default.
    fn own_forced_writes(&self, counters: &BTreeMap<&'static str, u64>) -> u64 {
        let _ = counters;
        0
    }
}

erased_serde::serialize_trait_object!(Strategy);

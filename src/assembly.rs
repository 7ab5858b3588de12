//! Assembles a business-system run: the model's services, the gateway, the client, the
//! broker and the strategy's own actors, wired into one `World<Msg>`.
//!
//! Actor ids follow a fixed layout (client, gateway, services in model order, broker, the
//! strategy's actors), computed before any actor is built, so every actor can be given the
//! ids it talks to. Faults name actors by these names: `client`, `gateway`, each service's
//! name, `broker`, and the strategy's (`coordinator`, `orchestrator`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::broker::{Broker, BrokerConfig};
use crate::net::{ConfigError, FaultSpec, LinkSpec, Probability};
use crate::sim::{ActorId, Duration, Instant, SeedTree, TraceLevel};
use crate::strategy::{Strategy, StrategyChoice, Wiring};
use crate::system::client::Client;
use crate::system::gateway::{Gateway, GatewayConfig};
use crate::system::history::History;
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{DomainEvent, Msg, Token};
use crate::system::service::{Service, ServiceConfig};
use crate::workload::{WorkloadPlan, WorkloadSpec};
use crate::world::{Actor, World, WorldBuilder};

/// The token the gateway stamps on internal calls in every run.
pub const TOKEN: Token = Token(0x005e_c2e7);
/// The credentials a well-behaved client presents.
pub const CREDENTIALS: u64 = 0x00c1_1e47;

/// Gateway deadline per attempt when a scenario says nothing.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// Gateway retries when a scenario says nothing.
pub const DEFAULT_RETRIES: u16 = 2;
/// Lock-wait timeout when a scenario says nothing.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_ms(50);
/// Broker redelivery timeout when a scenario says nothing.
pub const DEFAULT_BROKER_ACK_TIMEOUT: Duration = Duration::from_ms(100);

/// Everything a business-system run is made of, except the seed.
#[derive(Clone, Debug)]
pub struct SystemConfig {
    /// The system.
    pub model: Arc<Model>,
    /// How business transactions run.
    pub strategy: StrategyChoice,
    /// What the client sends.
    pub workload: WorkloadSpec,
    /// Share of requests sent without credentials.
    pub unauthenticated: Probability,
    /// Gateway deadline per attempt.
    pub request_timeout: Duration,
    /// Gateway retries after the first attempt.
    pub retries: u16,
    /// How long a local call waits for a lock.
    pub lock_timeout: Duration,
    /// Broker redelivery timeout.
    pub broker_ack_timeout: Duration,
    /// Broker per-key ordering.
    pub broker_per_key_ordering: bool,
    /// The default link.
    pub default_link: LinkSpec,
    /// Per-pair links by actor name, one direction each.
    pub links: Vec<(String, String, LinkSpec)>,
    /// The fault schedule.
    pub faults: Vec<FaultSpec>,
    /// How long after the later of its first change and the last heal a transaction may
    /// take to converge (the convergence check).
    pub converge_within: Duration,
    /// When every fault is lifted, if ever: after it, work must finish within
    /// `converge_within` (see `ConvergenceRule::healed_at`).
    pub heal_at: Option<Instant>,
    /// Services' attempts to reach into another service's database, by the service that
    /// attempts them.
    pub intrusions: Vec<(ServiceId, crate::system::service::Intrusion)>,
    /// Crashes of single service instances, by service.
    pub instance_crashes: Vec<(ServiceId, crate::system::service::InstanceCrash)>,
    /// The shared-database anti-pattern: every service's direct write to another's tables
    /// lands (the `ownership` check catches it).
    pub shared_database: bool,
    /// The most client uncertainty the client-answers check allows (`None`: counted only).
    pub max_client_uncertainty: Option<f64>,
    /// Workers for actors that are not services (the broker, the strategy's own), by name.
    pub paces: BTreeMap<String, crate::system::paced::Pace>,
}

/// A built run: the world and where everything sits in it.
pub struct SystemWorld {
    /// The world, ready to run.
    pub world: World<Msg>,
    /// Actor ids.
    pub wiring: Wiring,
    /// What the convergence check holds the run to (from the config's faults and
    /// `converge_within`).
    pub convergence: crate::check::ConvergenceRule,
    /// The strategy, for what it alone measures after the run.
    pub strategy: StrategyChoice,
    /// The most client uncertainty the client-answers check allows.
    pub max_client_uncertainty: Option<f64>,
}

/// Actor names of a run, in id order: `client`, `gateway`, the services, `broker` if the
/// strategy uses one, then the strategy's own actors. Faults and links name actors by these.
pub fn actor_names(model: &Model, strategy: &dyn Strategy) -> Vec<String> {
    let mut names = vec!["client".to_string(), "gateway".to_string()];
    names.extend(model.services.iter().map(|s| s.name.clone()));
    if strategy.uses_broker() {
        names.push("broker".into());
    }
    names.extend(strategy.extra_actor_names().into_iter().map(String::from));
    names
}

impl SystemConfig {
    /// `actor`, behind the workers `paces` gives `name`, if any.
    fn paced(&self, name: &str, actor: Box<dyn Actor<Msg>>) -> Box<dyn Actor<Msg>> {
        match self.paces.get(name) {
            Some(pace) => Box::new(crate::system::paced::Paced::new(actor, *pace)),
            None => actor,
        }
    }

    /// `workload` on `model` under `strategy`, with the defaults a scenario file gets when
    /// it says nothing: gateway timeout 1s and 2 retries, lock timeout 50ms, broker ack timeout 100ms without per-key ordering, every client
    /// authenticated, [`LinkSpec::default`] between every pair, no per-pair links, no faults,
    /// transactions converging within [`crate::check::DEFAULT_CONVERGE_WITHIN`].
    /// Override with `SystemConfig { faults, ..SystemConfig::new(model, strategy, workload) }`.
    pub fn new(model: Arc<Model>, strategy: StrategyChoice, workload: WorkloadSpec) -> Self {
        SystemConfig {
            model,
            strategy,
            workload,
            unauthenticated: Probability::NEVER,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retries: DEFAULT_RETRIES,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            broker_ack_timeout: DEFAULT_BROKER_ACK_TIMEOUT,
            broker_per_key_ordering: false,
            default_link: LinkSpec::default(),
            links: Vec::new(),
            faults: Vec::new(),
            converge_within: crate::check::DEFAULT_CONVERGE_WITHIN,
            heal_at: None,
            intrusions: Vec::new(),
            instance_crashes: Vec::new(),
            shared_database: false,
            max_client_uncertainty: None,
            paces: BTreeMap::new(),
        }
    }

    /// Builds the world for `seed`.
    pub fn build(&self, seed: u64, trace_level: TraceLevel) -> Result<SystemWorld, ConfigError> {
        let model = &self.model;
        let strategy = &self.strategy;
        let service_count = model.services.len() as u32;
        let broker = strategy.uses_broker().then_some(ActorId(2 + service_count));
        let first_extra = 2 + service_count + u32::from(broker.is_some());
        let extra_names = strategy.extra_actor_names();
        let wiring = Wiring {
            model: Arc::clone(model),
            token: TOKEN,
            client: ActorId(0),
            gateway: ActorId(1),
            services: (0..service_count).map(|i| ActorId(2 + i)).collect(),
            broker,
            extras: (0..extra_names.len() as u32)
                .map(|i| ActorId(first_extra + i))
                .collect(),
        };
        let mut builder: WorldBuilder<Msg> = WorldBuilder::new(seed, Some(self.default_link));
        builder.trace_level(trace_level);
        builder.message_size(crate::system::wire::wire_size);
        let plan = WorkloadPlan::draw(&self.workload, SeedTree::new(seed));
        let client = Client::new(
            wiring.gateway,
            CREDENTIALS,
            self.unauthenticated,
            plan.into_requests(),
        );
        builder.add_actor("client", client)?;
        // Each service once, however its audited tables interleave with others' in the
        // model: the gateway waits for one answer per entry, and a service answers once
        // with the sum of all its audited tables.
        let audited: Vec<ActorId> = {
            let ids: BTreeSet<ServiceId> = model.audit.iter().map(|(s, _)| *s).collect();
            ids.into_iter().map(|s| wiring.service(s)).collect()
        };
        let gateway = GatewayConfig {
            token: TOKEN,
            credentials: CREDENTIALS,
            entry: strategy.entry(&wiring),
            audited,
            request_timeout: self.request_timeout,
            retries: self.retries,
        };
        let requests = self.workload.request_count;
        builder.add_actor("gateway", Gateway::new(gateway).with_expected_requests(requests))?;
        for (index, spec) in model.services.iter().enumerate() {
            let id = ServiceId(index as u16);
            let config = ServiceConfig {
                id,
                token: TOKEN,
                broker,
                relay: strategy.relay(),
                lock_timeout: self.lock_timeout,
                intrusions: self
                    .intrusions
                    .iter()
                    .filter(|(by, _)| *by == id)
                    .map(|(_, intrusion)| crate::system::service::Intrusion {
                        owner_actor: wiring.service(intrusion.owner),
                        ..intrusion.clone()
                    })
                    .collect(),
                shared_database: self.shared_database,
                capacity: spec.capacity,
                semantic_locks: strategy.semantic_locks(),
                instance_crashes: self
                    .instance_crashes
                    .iter()
                    .filter(|(of, _)| *of == id)
                    .map(|(_, crash)| *crash)
                    .collect(),
            };
            let participant = strategy.participant(id, &wiring);
            let service = Service::new(config, Arc::clone(model), wiring.service(id), participant)
                .with_expected_requests(requests);
            builder.add_actor(&spec.name, service)?;
        }
        if broker.is_some() {
            let config = BrokerConfig {
                ack_timeout: self.broker_ack_timeout,
                per_key_ordering: self.broker_per_key_ordering,
                subscriptions: strategy.subscriptions(&wiring),
                ..BrokerConfig::default()
            };
            builder.add_boxed_actor(
                "broker",
                self.paced("broker", Box::new(Broker::<DomainEvent>::new(config))),
            )?;
        }
        for (name, actor) in extra_names.iter().zip(strategy.extra_actors(&wiring)) {
            builder.add_boxed_actor(name, self.paced(name, actor))?;
        }
        for (from, to, spec) in &self.links {
            let (a, b) = (builder.topology().resolve(from)?, builder.topology().resolve(to)?);
            builder.link(a, b, *spec);
        }
        let protocol_kinds = self.strategy.message_kinds();
        builder.message_kind(move |msg: &Msg| msg.kind_name(protocol_kinds));
        builder.describe(move |msg: &Msg| crate::system::describe::describe(msg, protocol_kinds));
        if let Some(at) = self.heal_at {
            builder.heal_at(at);
        }
        for fault in &self.faults {
            builder.fault(fault.clone());
        }
        Ok(SystemWorld {
            world: builder.build()?,
            wiring,
            convergence: crate::check::ConvergenceRule::new(self.converge_within, &self.faults)
                .healed_at(self.heal_at),
            strategy: strategy.clone(),
            max_client_uncertainty: self.max_client_uncertainty,
        })
    }
}

impl SystemWorld {
    /// The services, in model order.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.wiring
            .services
            .iter()
            .map(|id| self.world.actor::<Service>(*id).expect("a service sits here"))
    }

    /// The gateway.
    pub fn gateway(&self) -> &Gateway {
        self.world
            .actor::<Gateway>(self.wiring.gateway)
            .expect("the gateway sits here")
    }

    /// Runs every check on the run as it stands (`outcome` says whether it came to rest).
    pub fn check(&self, outcome: &crate::world::RunOutcome) -> Vec<crate::check::Verdict> {
        let history = self.history();
        crate::check::run_all(&self.facts(&history, outcome))
    }

    /// What the checks and the report read: `history` (from [`SystemWorld::history`]) folded
    /// per transaction, with the services' final data.
    pub fn facts<'a>(
        &'a self,
        history: &History,
        outcome: &crate::world::RunOutcome,
    ) -> crate::check::RunFacts<'a> {
        let rows = crate::check::RunFacts::rows_of(self.services().map(Service::db));
        let facts = crate::check::RunFacts::new(
            &self.wiring.model,
            history,
            rows,
            outcome.stop.is_quiescent(),
            outcome.end,
        )
        .with_convergence(self.convergence.observed_heal(self.world.last_heal()))
        .with_unsent_requests(self.client().unsent())
        .with_uncertainty_bound(self.max_client_uncertainty);
        match self.strategy.read_model(history, &facts) {
            Some(view) => facts.with_read_model(view),
            None => facts,
        }
    }

    /// What each actor behind workers (see `SystemConfig::paces`) measured, by name.
    pub fn paced_loads(&self) -> Vec<(String, crate::system::pool::Load)> {
        let now = self.world.now();
        self.world
            .names()
            .iter()
            .enumerate()
            .filter_map(|(i, name)| {
                let paced = self
                    .world
                    .actor::<crate::system::paced::Paced>(ActorId(i as u32))?;
                Some((name.clone(), paced.load(now)))
            })
            .collect()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        self.world
            .actor::<Client>(self.wiring.client)
            .expect("the client sits here")
    }

    /// Everything the client, the gateway and the services recorded, in run order.
    pub fn history(&self) -> History {
        let front = [self.client().history(), self.gateway().history()];
        History::merge(front.into_iter().chain(self.services().map(Service::history)))
    }
}

//! Consistency strategies: how a business transaction runs across services.
//!
//! Each strategy is one file behind the [`Strategy`] trait; [`StrategyKind`] is the closed
//! list a scenario picks from and holds the only `match` over strategies. A strategy says
//! which actors it adds (a coordinator, an orchestrator), where the gateway's `Begin` goes,
//! how services publish events (outbox or a dual write) and what they subscribe to, and what
//! each service does on its own ([`crate::system::participant::Participant`]). Services,
//! databases, the gateway and the checks do not know which strategy runs.

pub mod eventual;
mod kind;
pub mod saga_choreographed;
pub mod saga_orchestrated;
pub mod two_pc;

use std::collections::BTreeMap;

pub use kind::StrategyKind;
use std::sync::Arc;

use crate::broker::TopicId;
use crate::sim::ActorId;
use crate::system::model::{Model, ServiceId};
use crate::system::msg::Msg;
use crate::system::msg::Token;
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
}

/// One way to run a business transaction across services.
pub trait Strategy: std::fmt::Debug {
    /// Stable name: reports, snapshot files, the CLI.
    fn name(&self) -> &'static str;

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

    /// The coordinator in-doubt participants ask, if any.
    fn coordinator(&self, wiring: &Wiring) -> Option<ActorId> {
        let _ = wiring;
        None
    }

    /// The other participants an in-doubt service may ask for the decision (2PC's
    /// cooperative termination); none by default.
    fn cooperative_peers(&self, service: ServiceId, wiring: &Wiring) -> Vec<ActorId> {
        let _ = (service, wiring);
        Vec::new()
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

    /// True when the entry service keeps a read model of the other steps (eventual
    /// consistency's): the convergence check then judges it, and the report measures its lag.
    fn keeps_read_model(&self) -> bool {
        false
    }
}

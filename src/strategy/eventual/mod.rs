//! Eventual consistency through events: the first service commits and answers at once; the
//! other services catch up from its events, and a later business failure is reconciled by
//! compensating events.
//!
//! The service of step 0 (the order service of food delivery) commits its local change and
//! the gateway tells the client `Accepted` right away: availability and latency of one local
//! transaction, whatever the other services are doing. The change reaches the other services
//! asynchronously through the transactional outbox (Richardson, "Pattern: Transactional
//! outbox"), an at-least-once broker and idempotent consumers, each applying its own step
//! (Vogels, "Eventually Consistent", CACM 2009: once updates stop, all replicas converge).
//! A step refused downstream for a business reason is reconciled by compensating events that
//! walk back to step 0, exactly as a choreographed saga does (Garcia-Molina & Salem 1987);
//! the machinery is shared with [`crate::strategy::saga_choreographed`].
//!
//! What it costs is the inconsistency window: between step 0's commit and the last step's
//! commit (or step 0's compensation) the services disagree, and the client was told
//! `Accepted` for something that may still be undone. [`convergence`] sums that window
//! per transaction from a run's facts (`check::RunFacts`, the one fold of its history). With [`Config::read_model`], the entry service also
//! consumes every event to keep a view of the other steps (a read model, as in CQRS);
//! [`read_model`] records when that view saw each change of the services that own the data
//! and whether it ends equal to them; [`crate::check::ReadModel::of`] sums its lag.
//!
//! The read model is also a replica the entry can decide on: with a model's
//! `entry_checks_replica`, the entry accepts a transaction only if its copy of that step's
//! row, kept from the events it consumed, allows it (`saga_choreographed/replica.rs`), and
//! counts the ones it accepted on stale data, which the step's owner then refuses.
//!
//! The broken twins are those of the saga: [`Config::idempotent_consumers`] off applies
//! duplicates twice; [`Config::dual_write`] on loses an event when a service crashes between
//! its commit and its publish, so a replica never converges.
//!
//! # Roles as state machines
//!
//! Step owners follow the table of [`crate::strategy::saga_choreographed`], except for when
//! the gateway is answered:
//!
//! | state   | event                     | action                                                          | next      |
//! |---------|---------------------------|-----------------------------------------------------------------|-----------|
//! | acting  | step 0 committed          | `Outcome::Accepted` to the gateway; `Done(0)` is in the outbox  | applied   |
//! | acting  | step 0 refused            | `Outcome::Aborted` to the gateway; fence step 0                 | refused   |
//! | acting  | step k > 0 committed      | none (the client was answered long ago)                         | applied   |
//! | compensating | step 0 committed     | none: the transaction converged to "nothing happened"           | compensated |
//!
//! The read model at the entry service, one row per `(gtx, step)`; a row only moves forward,
//! so a redelivered or reordered older event never rolls it back:
//!
//! | state       | event delivered     | action                  | next        |
//! |-------------|---------------------|-------------------------|-------------|
//! | unknown     | `Failed(k)`         | record the step refused | refused     |
//! | unknown, refused | `Done(k)`      | record the step applied | applied     |
//! | any         | `Compensated(k)`    | record the step undone  | undone      |
//! | applied     | `Done(k)` again     | none                    | applied     |
//!
//! Participants have no clock, so the read model's rows are the entry service's `Consumed`
//! history records, folded by [`read_model`] after the run: the history is the projection's
//! change log.
//!
//! Start reading at [`Eventual`], then `measure.rs`.

mod measure;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use measure::{Convergence, convergence, read_model};

use crate::broker::TopicId;
use crate::check::{ReadModelFacts, RunFacts};
use crate::sim::{ActorId, Duration};
use crate::strategy::saga_choreographed::{
    Answer, COMPENSATION_STARTED, Choreography, MESSAGE_KINDS, STEP_COMMITTED, relay_of,
    validate_relay_interval,
};
use crate::system::history::History;
use serde::{Deserialize, Serialize};

use crate::strategy::{Problem, ProtocolPoint, Registration, Strategy, Wiring, problems_from};
use crate::system::model::{Model, ServiceId};
use crate::system::participant::Participant;
use crate::system::service::Relay;

/// Settings of eventual consistency through events.
///
/// In a scenario file: `Eventual(relay_interval: "10ms", ...)`, every field optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Eventual", default, deny_unknown_fields)]
pub struct Config {
    /// How often a service's outbox relay publishes pending events (and, four intervals
    /// later, publishes again those the broker has not acknowledged). It is most of the
    /// inconsistency window: each step waits for it once. Unused with [`Config::dual_write`].
    #[serde(with = "crate::duration_text::as_text")]
    pub relay_interval: Duration,
    /// Consumers apply each `(gtx, step, kind)` once, whatever the duplicates (default).
    /// `false` is a BROKEN TWIN: duplicates are applied again and replicas overshoot.
    pub idempotent_consumers: bool,
    /// BROKEN TWIN when `true`: commit, then publish directly once instead of through the
    /// outbox; a crash in between loses the event and a replica never converges.
    /// Default `false`.
    pub dual_write: bool,
    /// The entry service also consumes every event to keep a view of the other steps, so
    /// [`read_model`] can measure its lag (default `true`). Off, the broker delivers fewer
    /// messages and there is no view to measure.
    pub read_model: bool,
}

impl Default for Config {
    /// The correct design: a 10 ms outbox relay, idempotent consumers and a read model.
    fn default() -> Self {
        Config {
            relay_interval: Duration::from_ms(10),
            idempotent_consumers: true,
            dual_write: false,
            read_model: true,
        }
    }
}

impl Config {
    /// Every problem with these settings, each naming its field; empty when they are fine.
    ///
    /// ```
    /// use consim::sim::Duration;
    /// use consim::strategy::eventual::Config;
    ///
    /// assert!(Config::default().validate().is_empty());
    /// let zero = Config { relay_interval: Duration::ZERO, ..Config::default() };
    /// assert!(zero.validate()[0].starts_with("relay_interval"));
    /// ```
    pub fn validate(&self) -> Vec<String> {
        validate_relay_interval(self.relay_interval)
    }

    /// How services get events to the broker under these settings.
    pub fn relay(&self) -> Relay {
        relay_of(self.relay_interval, self.dual_write)
    }
}

/// The eventual-consistency strategy, built from its [`Config`].
/// Eventual in the registry.
pub const REGISTRATION: Registration = Registration::of::<Eventual>(
    "eventual",
    "Eventual",
    &[],
    "eventual consistency: the entry service answers at its own commit and the other steps follow through events",
);

/// `#[serde(transparent)]`: the file form is [`Config`]'s.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Eventual {
    /// Its settings.
    pub config: Config,
}

impl Eventual {
    /// Eventual consistency with `config`.
    pub fn new(config: Config) -> Self {
        Eventual { config }
    }

    fn choreography(&self) -> Choreography {
        Choreography {
            idempotent_consumers: self.config.idempotent_consumers,
            answer_retries: true,
            answer: Answer::AtFirstCommit,
            read_model: self.config.read_model,
            semantic_lock: false,
        }
    }
}

/// Where eventual consistency's step owners do something durable or visible.
const POINTS: &[ProtocolPoint] = &[
    ProtocolPoint::new(
        "step owner",
        "accepted",
        "step 0 committed and the client was answered",
    ),
    STEP_COMMITTED,
    COMPENSATION_STARTED,
];

impl Strategy for Eventual {
    fn name(&self) -> &'static str {
        REGISTRATION.name
    }

    fn points(&self) -> &'static [ProtocolPoint] {
        POINTS
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        MESSAGE_KINDS
    }

    fn problems(&self, _model: &Model) -> Vec<Problem> {
        problems_from(self.config.validate())
    }

    fn uses_broker(&self) -> bool {
        true
    }

    /// Step 0's service commits first and answers.
    fn entry(&self, wiring: &Wiring) -> ActorId {
        wiring.step_service(0)
    }

    fn relay(&self) -> Relay {
        self.config.relay()
    }

    fn subscriptions(&self, wiring: &Wiring) -> BTreeMap<TopicId, Vec<ActorId>> {
        self.choreography().subscriptions(wiring)
    }

    fn participant(&self, service: ServiceId, wiring: &Wiring) -> Option<Box<dyn Participant>> {
        Some(self.choreography().participant(service, wiring))
    }

    /// Its read model is the replica: the entry consumes every event.
    fn keeps_replicas(&self) -> bool {
        self.config.read_model
    }

    fn read_model(&self, history: &History, facts: &RunFacts<'_>) -> Option<ReadModelFacts> {
        self.config.read_model.then(|| read_model(history, facts))
    }
}

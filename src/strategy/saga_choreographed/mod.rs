//! The choreographed saga: no coordinator; each service reacts to the events of the others.
//!
//! A saga (Garcia-Molina & Salem, "Sagas", SIGMOD 1987) runs a long business transaction as a
//! sequence of local transactions T0…Tn, each with a compensation Ci; it either completes, or
//! the steps that ran are undone in reverse order (T0…Tk, then Ck-1…C0). Choreography
//! (Richardson, microservices.io, "Pattern: Saga", choreography-based saga) coordinates the
//! steps with domain events instead of an orchestrator: the service of step 0 runs it when
//! the gateway's `Begin` arrives, and every later step runs when the event of the step before
//! it is delivered by the broker.
//!
//! Events leave a service through the transactional outbox (Richardson, "Pattern:
//! Transactional outbox"): a step's `Done` event is a row written in the same local
//! transaction as the business change, and the service's relay publishes it until the broker
//! acknowledges it, so a committed step is never followed by a lost event. The broker
//! delivers at least once, so consumers are idempotent by `(gtx, step, kind)`.
//! Two broken twins exist to let the checks show the textbook failures:
//! [`Config::idempotent_consumers`] off applies duplicates twice, and [`Config::dual_write`]
//! on commits, then publishes once, so a crash in between loses the event.
//!
//! This module owns the strategy and its [`Config`]; the machinery it shares with
//! [`crate::strategy::eventual`] (who subscribes to what, and the participant each service
//! runs) is in `choreography.rs`. It must not change services, messages or the broker.
//!
//! # Roles as state machines
//!
//! The participant is stateless: the state of a step lives in its service's database (the
//! idempotency table and the outbox), so a crash loses nothing a redelivery cannot redo.
//! One row per `(gtx, step k)` at the service owning step k (`last` is the last step):
//!
//! | state        | event                                    | action                                                                 | next         |
//! |--------------|------------------------------------------|------------------------------------------------------------------------|--------------|
//! | idle         | `Begin` (k = 0) or `Done(k-1)` delivered | run action k; `Done(k)` in the outbox on commit, `Failed(k)` on refusal | acting       |
//! | acting       | committed, k = last                      | `Outcome::Committed` to the gateway                                   | applied      |
//! | acting       | committed, k < last                      | none: `Done(k)` was written with the change                           | applied      |
//! | acting       | refused                                  | `Failed(k)` written; run the fence (compensation k, a no-op); k = 0: `Outcome::Aborted` | refused |
//! | acting       | busy (lock timeout, deadlock)            | run action k again                                                     | acting       |
//! | applied      | `Failed(k+1)` or `Compensated(k+1)`      | run compensation k; `Compensated(k)` in the outbox on commit          | compensating |
//! | applied      | duplicate `Begin` / `Done(k-1)`          | the action replays: no new event; k = last: `Committed` again         | applied      |
//! | compensating | committed, k = 0                         | `Outcome::Aborted` to the gateway                                     | compensated  |
//! | compensating | committed, k > 0                         | none: `Compensated(k)` was written with the undo                      | compensated  |
//! | compensating | busy                                     | run compensation k again                                               | compensating |
//! | k = 0        | a retried `Begin` of a transaction it saw refused or compensated | that `Outcome` to the gateway, no call | same |
//! | k = 0        | another retried `Begin`                  | step 0 again (idempotent); ask the last step's service                 | same         |
//! | k = last     | committed; later asked by the entry      | `Outcome::Committed` to the gateway again                             | applied      |
//! | compensated  | duplicate `Failed/Compensated(k+1)`      | the compensation replays; k = 0: `Aborted` again                      | compensated  |
//! | refused      | duplicate `Begin` / `Done(k-1)`          | the fenced action refuses itself; `Failed(k)` again (replays upstream) | refused      |
//!
//! The ends keep durable notes to answer the gateway's retries: the last step tells the
//! gateway once, and when that `Outcome` is lost, the retried `Begin` reaches the entry,
//! which could otherwise only replay step 0 (at 5% loss 4% of orders were answered "timed
//! out" though they had committed; now 0.2%). The question costs two messages per retry and
//! nothing otherwise.
//!
//! The gateway ignores repeated outcomes, so answering again on a replay is harmless and
//! helps when the first answer was lost.
//!
//! Start reading at [`SagaChoreographed`], then `choreography.rs`.

mod choreography;
mod replica;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub(crate) use choreography::{Answer, COMPENSATION_STARTED, Choreography, MESSAGE_KINDS, STEP_COMMITTED};

use crate::broker::TopicId;
use crate::sim::{ActorId, Duration};
use serde::{Deserialize, Serialize};

use crate::strategy::{Problem, ProtocolPoint, Registration, Strategy, Wiring, problems_from};
use crate::system::model::{Model, ServiceId};
use crate::system::participant::Participant;
use crate::system::service::Relay;

/// Settings of a choreographed saga.
///
/// In a scenario file: `SagaChoreographed(relay_interval: "10ms", ...)`, every field optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "SagaChoreographed", default, deny_unknown_fields)]
pub struct Config {
    /// How often a service's outbox relay publishes pending events (and, four intervals
    /// later, publishes again those the broker has not acknowledged). Shorter moves a saga
    /// faster and sends more duplicates. Unused with [`Config::dual_write`].
    #[serde(with = "crate::duration_text::as_text")]
    pub relay_interval: Duration,
    /// Consumers apply each `(gtx, step, kind)` once, whatever the duplicates (default).
    /// `false` is a BROKEN TWIN: duplicates of an event are applied again, which the
    /// no-double-effect and conservation checks must catch.
    pub idempotent_consumers: bool,
    /// BROKEN TWIN when `true`: a service commits, then publishes the event directly once,
    /// after a processing delay, instead of writing it to the outbox; a crash in between (or
    /// a lost publish) loses the event and leaves the saga half applied. Default `false`.
    pub dual_write: bool,
    /// The entry service answers the gateway's retries with what it knows of the
    /// transaction (default). `false` is a BROKEN TWIN, the behaviour before: a retry re-runs
    /// step 0 and nobody answers it, so a transaction whose final answer was lost is reported
    /// "timed out" though it committed; the client-answers check counts that uncertainty,
    /// and fails it over a scenario's `max_client_uncertainty`.
    pub answer_retries: bool,
    /// Semantic locks (default `false`): each step's change stays marked pending at its
    /// service until the saga completes or the step is compensated, and audits leave pending
    /// changes out, so no audit reads a change a compensation undoes (no dirty read). It
    /// costs one more delivery per service and transaction (the last step's `Done`) and
    /// audits that see a saga's changes only once it is complete.
    pub semantic_lock: bool,
}

impl Default for Config {
    /// The correct design: a 10 ms outbox relay, idempotent consumers, retries answered.
    fn default() -> Self {
        Config {
            relay_interval: Duration::from_ms(10),
            idempotent_consumers: true,
            dual_write: false,
            answer_retries: true,
            semantic_lock: false,
        }
    }
}

impl Config {
    /// Every problem with these settings, each naming its field; empty when they are fine.
    ///
    /// ```
    /// use consim::sim::Duration;
    /// use consim::strategy::saga_choreographed::Config;
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

/// The choreographed saga strategy, built from its [`Config`].
/// SagaChoreographed in the registry.
pub const REGISTRATION: Registration = Registration::of::<SagaChoreographed>(
    "saga_choreographed",
    "SagaChoreographed",
    &["choreography"],
    "choreographed saga: each service reacts to the previous step's event and publishes its own; failures travel back as events",
);

/// `#[serde(transparent)]`: the file form is [`Config`]'s.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SagaChoreographed {
    /// Its settings.
    pub config: Config,
}

impl SagaChoreographed {
    /// A choreographed saga with `config`.
    pub fn new(config: Config) -> Self {
        SagaChoreographed { config }
    }

    fn choreography(&self) -> Choreography {
        Choreography {
            idempotent_consumers: self.config.idempotent_consumers,
            answer_retries: self.config.answer_retries,
            answer: Answer::AtEnd,
            read_model: false,
            semantic_lock: self.config.semantic_lock,
        }
    }
}

/// Where the choreographed saga's step owners do something durable or visible.
const POINTS: &[ProtocolPoint] = &[choreography::STEP_COMMITTED, choreography::COMPENSATION_STARTED];

impl Strategy for SagaChoreographed {
    fn name(&self) -> &'static str {
        REGISTRATION.name
    }

    fn points(&self) -> &'static [ProtocolPoint] {
        POINTS
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        choreography::MESSAGE_KINDS
    }

    fn problems(&self, _model: &Model) -> Vec<Problem> {
        problems_from(self.config.validate())
    }

    /// With `semantic_lock`, its step owners mark changes pending until the saga completes.
    fn semantic_locks(&self) -> bool {
        self.config.semantic_lock
    }

    fn uses_broker(&self) -> bool {
        true
    }

    /// Step 0's service: there is no coordinator to ask.
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
}

/// The relay a choreography uses: the outbox, or the dual-write twin.
pub(crate) fn relay_of(interval: Duration, dual_write: bool) -> Relay {
    if dual_write {
        Relay::DualWrite
    } else {
        Relay::Outbox { interval }
    }
}

/// The longest relay interval accepted: anything longer is almost surely a unit mistake
/// (seconds written for milliseconds) and would stall every saga for that long.
pub(crate) const MAX_RELAY_INTERVAL: Duration = Duration::from_secs(60);

/// Problems with a relay interval, naming the field.
pub(crate) fn validate_relay_interval(interval: Duration) -> Vec<String> {
    let mut problems = Vec::new();
    if interval == Duration::ZERO {
        problems.push("relay_interval: must be above zero (a zero interval would poll without end)".into());
    }
    if interval > MAX_RELAY_INTERVAL {
        problems.push(format!(
            "relay_interval: {interval} is above the limit of {MAX_RELAY_INTERVAL}; every event would wait that long"
        ));
    }
    problems
}

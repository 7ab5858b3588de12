//! Try–confirm–cancel (TCC): every step first *reserves* its change, and only when every
//! reservation succeeded does the coordinator *confirm* them all; otherwise it *cancels*
//! them.
//!
//! Sources: P. Helland, "Life beyond Distributed Transactions: an Apostate's Opinion", CIDR
//! 2007 (tentative operations, confirmed or cancelled); G. Pardon and C. Pautasso, "Atomic
//! Distributed Transactions: a RESTful Design", WWW 2014 (the try/confirm/cancel protocol
//! and its timeouts); and P. O'Neil, "The Escrow Transactional Method", ACM TODS 11(4), 1986,
//! for reservations that bound checks count. The coordinator is an actor of its own,
//! `coordinator`, which is also where the gateway's `Begin` goes.
//!
//! Unlike two-phase commit no lock is held across the network: a try is a local transaction
//! that commits at once, leaving a *hold* (`CallMode::Reserve`, the store's
//! [`crate::store::Hold`]) that every later bound check counts as if it might be confirmed.
//! Other transactions keep selling from what is not held. Unlike a saga nothing is applied
//! before the decision, so no compensation is ever visible and no read sees half a
//! transaction. The price: a reserved amount is unavailable until the decision reaches the
//! service, and the decision is as central as 2PC's.
//!
//! This folder owns the coordinator ([`TccCoordinator`]), the participant that watches holds
//! in each service ([`TccParticipant`]), the expiry message (`msg.rs`) and the settings
//! ([`Config`]). The try, the confirm and the cancel are the services' own `Reserve`,
//! `Confirm` and `Release` calls, each idempotent.
//!
//! # Coordinator, per transaction
//!
//! | state     | event                          | action                                         | next      |
//! |-----------|--------------------------------|------------------------------------------------|-----------|
//! | unknown   | `Begin`                        | `Reserve` to every step; start the try timer   | trying    |
//! | trying    | `Reserved`, not the last       | note it                                        | trying    |
//! | trying    | the last `Reserved`            | start forcing a confirm record                 | forcing   |
//! | trying    | refused, busy, try timer       | lazy cancel record; `Release` to all once; `Outcome` | logged |
//! | trying    | a hold expired                 | as a refusal: cancel                           | logged    |
//! | forcing   | the record is durable          | `Confirm` to all; `Outcome`                    | finishing |
//! | finishing | the retry timer                | `Confirm` again to steps that did not ack      | finishing |
//! | finishing | the last ack                   | end record; forget                             | ended     |
//! | finishing | a hold expired                 | the decision again to that step                | finishing |
//! | logged    | a hold expired                 | the logged decision to that step               | same      |
//! | unknown   | a hold expired                 | presumed cancel: lazy record, `Release`        | logged    |
//! | decided   | `Begin` (a gateway retry)      | `Outcome` again; no second round               | same      |
//! | any       | crash, recovery                | logged and not ended: finishing; else unknown  |           |
//!
//! # Participant (the service), per (transaction, step)
//!
//! | state     | event                          | action                                          | next      |
//! |-----------|--------------------------------|-------------------------------------------------|-----------|
//! | idle      | `Reserve`, fits with the holds | commit a hold (forced), start its timeout, yes  | held      |
//! | idle      | `Reserve`, would break a bound | remember the refusal, vote no                   | refused   |
//! | held      | `Reserve` (a duplicate)        | vote yes again                                  | held      |
//! | held      | `Confirm`                      | apply the hold under the row lock, commit, ack  | confirmed |
//! | held      | `Release`                      | drop the hold, commit, ack                      | released  |
//! | held      | its reservation timeout        | ask the coordinator (`Expired`), again later    | held      |
//! | held      | crash, recovery                | the hold is durable; its timeout resumes        | held      |
//! | idle      | `Release` (before its try)     | fence the step, ack                             | fenced    |
//! | fenced    | `Reserve` (late)               | refuse                                          | fenced    |
//! | confirmed, released | the same call again  | ack (idempotency record)                        | same      |
//!
//! A hold does not release itself when its time is up: the coordinator may have logged a
//! confirm a moment earlier, and a confirm that found the hold gone would leave one step
//! confirmed and another not. The expiry asks instead, and the coordinator cancels if it has
//! not decided. So a hold can outlive its timeout while the coordinator is unreachable: what
//! it blocks is the amount held, never the row.
//!
//! # Costs in the fault-free case
//!
//! For one confirmed transaction with N steps: **4N messages** (N `Reserve`, N votes, N
//! `Confirm`, N acks) and **2N + 1 forced log writes** (N hold commits, the coordinator's
//! confirm record, N confirm commits), as 2PC; a cancel costs the coordinator no forced
//! write. `tests.rs` measures both. What differs is what is held meanwhile: locks for no
//! longer than one local transaction, and amounts for the reservation hold time the report
//! gives.

mod coordinator;
pub mod msg;
mod participant;
#[cfg(test)]
mod tests;

pub use coordinator::{Decision, TccCoordinator};
pub use participant::TccParticipant;

use serde::{Deserialize, Serialize};

use crate::sim::{ActorId, Duration};
use crate::strategy::{Problem, ProtocolPoint, Registration, Strategy, Wiring, problems_from};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::Msg;
use crate::system::participant::Participant;
use crate::world::Actor;

/// Settings of try–confirm–cancel. In a scenario file: `Tcc(try_timeout: "50ms", ...)`, every
/// field optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Tcc", default, deny_unknown_fields)]
pub struct Config {
    /// How long the coordinator waits for every try before it cancels: a try that never
    /// answers (lost, crashed, waiting for a lock) must not keep the others' amounts held.
    #[serde(with = "crate::duration_text::as_text")]
    pub try_timeout: Duration,
    /// How long the coordinator waits before sending a decision again to steps that have not
    /// acked it; each later re-send waits twice as long as the one before, up to 64 times
    /// this, so re-sends that find the steps' queues full do not keep filling them.
    #[serde(with = "crate::duration_text::as_text")]
    pub decision_retry: Duration,
    /// How long the coordinator's forced write of a confirm takes; the confirm is not sent,
    /// nor the outcome reported, before it completes.
    #[serde(with = "crate::duration_text::as_text")]
    pub forced_write: Duration,
    /// How long a hold lasts before its service asks the coordinator to end it (and asks
    /// again every period): the coordinator then cancels the transaction if undecided.
    /// Longer than `try_timeout`, so a transaction still trying is not cancelled by it.
    #[serde(with = "crate::duration_text::as_text")]
    pub reservation_timeout: Duration,
}

impl Default for Config {
    /// A 50 ms try timeout, decisions re-sent every 20 ms, a 1 ms forced write, holds asking
    /// after 200 ms.
    fn default() -> Self {
        Config {
            try_timeout: Duration::from_ms(50),
            decision_retry: Duration::from_ms(20),
            forced_write: Duration::from_ms(1),
            reservation_timeout: Duration::from_ms(200),
        }
    }
}

impl Config {
    /// Every problem with these settings, each naming its field first.
    ///
    /// ```
    /// use consim::sim::Duration;
    /// use consim::strategy::tcc::Config;
    ///
    /// assert!(Config::default().validate().is_empty());
    /// let short = Config { reservation_timeout: Duration::from_ms(10), ..Config::default() };
    /// assert!(short.validate()[0].starts_with("reservation_timeout"));
    /// ```
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.try_timeout == Duration::ZERO {
            problems.push(
                "try_timeout must be positive: with 0 every transaction is cancelled before any try answers"
                    .into(),
            );
        }
        if self.decision_retry == Duration::ZERO {
            problems.push(
                "decision_retry must be positive: with 0 decisions are re-sent forever at one instant".into(),
            );
        }
        if self.reservation_timeout <= self.try_timeout {
            problems.push(format!(
                "reservation_timeout ({}) must be longer than try_timeout ({}): a hold would cancel transactions still trying",
                self.reservation_timeout, self.try_timeout
            ));
        }
        problems
    }
}

/// Try–confirm–cancel in the registry.
pub const REGISTRATION: Registration = Registration::of::<Tcc>(
    "tcc",
    "Tcc",
    &["try_confirm_cancel"],
    "try-confirm-cancel: every step reserves a held amount, then all are confirmed or cancelled; no lock held across the network",
);

/// Try–confirm–cancel as a [`Strategy`]: adds the `coordinator` actor, the entry the gateway
/// sends `Begin` to and the actor expired holds ask.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tcc {
    /// Its settings.
    pub config: Config,
}

/// Where try–confirm–cancel's roles do something durable or visible.
const POINTS: &[ProtocolPoint] = &[
    ProtocolPoint::new("coordinator", "tries_sent", "every step was asked to reserve"),
    ProtocolPoint::new("coordinator", "confirm_logged", "the confirm record is durable"),
    ProtocolPoint::new("coordinator", "decision_sent", "the confirms or cancels left"),
    ProtocolPoint::new("participant", "reserved", "the step's hold is committed"),
    ProtocolPoint::new("participant", "vote_sent", "its answer to the try left"),
    ProtocolPoint::new("participant", "confirmed", "the hold was applied"),
    ProtocolPoint::new("participant", "released", "the hold was dropped"),
    ProtocolPoint::new(
        "participant",
        "hold_expired",
        "the hold outlived its reservation timeout",
    ),
];

impl Strategy for Tcc {
    fn name(&self) -> &'static str {
        REGISTRATION.name
    }

    fn points(&self) -> &'static [ProtocolPoint] {
        POINTS
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        msg::KINDS
    }

    fn problems(&self, _model: &Model) -> Vec<Problem> {
        problems_from(self.config.validate())
    }

    fn extra_actor_names(&self) -> Vec<&'static str> {
        vec!["coordinator"]
    }

    fn extra_actors(&self, wiring: &Wiring) -> Vec<Box<dyn Actor<Msg>>> {
        vec![Box::new(TccCoordinator::new(self.config, wiring.clone()))]
    }

    fn entry(&self, wiring: &Wiring) -> ActorId {
        wiring.first_extra()
    }

    fn own_forced_writes(&self, counters: &std::collections::BTreeMap<&'static str, u64>) -> u64 {
        counters.get(coordinator::FORCED_WRITES).copied().unwrap_or(0)
    }

    fn participant(&self, _service: ServiceId, wiring: &Wiring) -> Option<Box<dyn Participant>> {
        Some(Box::new(TccParticipant::new(
            wiring.first_extra(),
            self.config.reservation_timeout,
        )))
    }
}

//! Three-phase commit (3PC, Skeen): 2PC with a round between the votes and the decision, so
//! that participants can decide without the coordinator when it crashes.
//!
//! Sources: D. Skeen, "Nonblocking Commit Protocols", SIGMOD 1981 (the protocol, its
//! termination protocol, and the assumption it needs: a site that does not answer has
//! crashed); D. Skeen and M. Stonebraker, "A Formal Model of Crash Recovery in a Distributed
//! System", IEEE TSE 9(3), 1983; and I. Keidar and D. Dolev, "Increasing the Resilience of
//! Atomic Commit, at No Additional Cost", PODC 1995, for numbering the coordinators of a
//! transaction so an old one cannot act on what a newer one has read. The coordinator is an
//! actor of its own, `coordinator`, which is also where the gateway's `Begin` goes.
//!
//! Phase one is 2PC's: `CanCommit` is a prepare call, the vote its reply. In phase two the
//! coordinator sends `PreCommit` and waits until every step has forced it to its log; only
//! then does it force its commit record and send `DoCommit`. A step that voted yes and hears
//! nothing for `decision_timeout` becomes a backup coordinator (`backup.rs`): it asks every
//! step what it knows, takes a silent one for crashed, and ends the transaction as the
//! states it heard allow (commit if any step pre-committed, abort if none did). Nobody
//! blocks while the coordinator is down: that is what the extra round buys.
//!
//! What it cannot survive is a partition: a silent step may be alive on the other side, and
//! each side then decides on its own. With the coordinator and some steps pre-committed on
//! one side and an uncertain step alone on the other, one side commits and the other aborts.
//! `scenarios/three_pc_partition.ron` shows it, and the atomicity check catches it.
//!
//! This folder owns the coordinator ([`ThreePcCoordinator`]), the participant with its
//! backup ([`ThreePcParticipant`]), their messages and ballots (`msg.rs`) and the settings
//! ([`Config`]).
//!
//! # Coordinator, per transaction
//!
//! | state         | event                      | action                                          | next          |
//! |---------------|----------------------------|-------------------------------------------------|---------------|
//! | unknown       | `Begin`                    | `CanCommit` (prepare) to every step, vote timer | collecting    |
//! | collecting    | the last yes vote          | `PreCommit` to every step                       | pre-committing|
//! | collecting    | a no vote, the vote timer  | abort once to the others, lazy record, `Outcome`| aborted       |
//! | pre-committing| retry timer                | `PreCommit` again to steps that did not accept  | same          |
//! | pre-committing| the last accept            | force the commit record                         | forcing       |
//! | pre-committing| a step answered a backup   | stop; ask the steps until one has decided       | learning      |
//! | forcing       | the record is durable      | `DoCommit` to all, `Outcome` committed          | finishing     |
//! | finishing     | retry timer / last ack     | `DoCommit` again to the silent / end record     | same / ended  |
//! | learning      | a decision (step or backup)| lazy record, `Outcome`                          | ended         |
//! | decided       | `Begin` (a retry)          | `Outcome` again                                 | same          |
//! | any           | crash, recovery            | logged commit, not ended: finishing; else gone  |               |
//!
//! # Participant (the service), per (transaction, step)
//!
//! | state        | event                                  | action                                         | next          |
//! |--------------|----------------------------------------|------------------------------------------------|---------------|
//! | idle         | `CanCommit`, applies                   | force a prepare record, keep the locks, yes    | uncertain     |
//! | uncertain    | `PreCommit` (ballot ≥ promised)        | force a pre-commit record, ack                 | pre-committed |
//! | any          | a message under a ballot < promised    | `Nack`: a newer coordinator is in charge       | same          |
//! | uncertain, pre-committed | `DoCommit` or abort        | force the decision, commit or abort, ack       | decided       |
//! | uncertain, pre-committed | no decision for `decision_timeout` | become a backup (below)            | same          |
//! | any          | a backup's `StateQuery`                | promise its ballot, answer what it accepted    | same          |
//! | any          | crash, recovery                        | records are durable; a backup at once, which must hear every step | same |
//! | decided      | anything                               | answer with the decision                       | decided       |
//!
//! # Backup, per (transaction, step)
//!
//! | state      | event                                         | action                                              | next      |
//! |------------|-----------------------------------------------|-----------------------------------------------------|-----------|
//! | —          | decision timeout                              | next ballot; `StateQuery` to every step             | asking    |
//! | asking     | a step decided                                | that decision to everyone                           | ended     |
//! | asking     | all answered, or the window ends              | accept the highest-ballot accepted decision (abort if none) at the responders | accepting |
//! | asking     | window ends after a restart, a step silent    | stand down, try again after the timeout             | ended     |
//! | accepting  | every responder accepted                      | decide, tell everyone and the coordinator           | ended     |
//! | any        | a `Nack`                                      | stand down                                          | ended     |
//!
//! # Costs in the fault-free case
//!
//! For one committed transaction with N participants: **6N messages** (`CanCommit`, vote,
//! `PreCommit`, ack, `DoCommit`, ack) and **3N + 1 forced writes** (N prepare records, N
//! pre-commit records, the coordinator's commit record, N commit records): a round trip and
//! N writes more than 2PC, paid on every commit for the crashes it survives. `tests.rs`
//! measures both.

mod backup;
mod coordinator;
pub mod msg;
mod participant;
#[cfg(test)]
mod tests;

pub use coordinator::{LogRecord, ThreePcCoordinator};
pub use participant::{ThreePcParticipant, Timing};

use serde::{Deserialize, Serialize};

use crate::sim::{ActorId, Duration};
use crate::strategy::{Problem, ProtocolPoint, Registration, Strategy, Wiring, problems_from};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::Msg;
use crate::system::participant::Participant;
use crate::world::Actor;

/// Settings of three-phase commit. In a scenario file: `ThreePc(decision_timeout: "150ms",
/// ...)`, every field optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "ThreePc", default, deny_unknown_fields)]
pub struct Config {
    /// How long the coordinator waits for every vote before it aborts.
    #[serde(with = "crate::duration_text::as_text")]
    pub vote_timeout: Duration,
    /// How often the coordinator re-sends `PreCommit` and `DoCommit` to steps that have not
    /// answered.
    #[serde(with = "crate::duration_text::as_text")]
    pub decision_retry: Duration,
    /// How long the coordinator's forced write of its commit record takes.
    #[serde(with = "crate::duration_text::as_text")]
    pub forced_write: Duration,
    /// How long a step that voted yes waits for the next message before it takes over as a
    /// backup. Longer than `vote_timeout`, so a coordinator still collecting votes is not
    /// taken for dead.
    #[serde(with = "crate::duration_text::as_text")]
    pub decision_timeout: Duration,
    /// How often a backup re-sends its questions to steps that have not answered.
    #[serde(with = "crate::duration_text::as_text")]
    pub backup_retry: Duration,
    /// How long a backup waits for answers before it takes a silent step for crashed. Many
    /// `backup_retry`s long, so that a lost message is not taken for a crash.
    #[serde(with = "crate::duration_text::as_text")]
    pub backup_window: Duration,
}

impl Default for Config {
    /// A 50 ms vote timeout, re-sends every 20 ms, a 1 ms forced write; steps take over after
    /// 150 ms, and a backup asks every 5 ms for 40 ms.
    fn default() -> Self {
        Config {
            vote_timeout: Duration::from_ms(50),
            decision_retry: Duration::from_ms(20),
            forced_write: Duration::from_ms(1),
            decision_timeout: Duration::from_ms(150),
            backup_retry: Duration::from_ms(5),
            backup_window: Duration::from_ms(40),
        }
    }
}

impl Config {
    /// Every problem with these settings, each naming its field first.
    ///
    /// ```
    /// use consim::sim::Duration;
    /// use consim::strategy::three_pc::Config;
    ///
    /// assert!(Config::default().validate().is_empty());
    /// let hasty = Config { decision_timeout: Duration::from_ms(20), ..Config::default() };
    /// assert!(hasty.validate()[0].starts_with("decision_timeout"));
    /// ```
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.vote_timeout == Duration::ZERO {
            problems.push(
                "vote_timeout must be positive: with 0 every transaction aborts before any vote".into(),
            );
        }
        if self.decision_retry == Duration::ZERO {
            problems.push(
                "decision_retry must be positive: with 0 messages are re-sent forever at one instant".into(),
            );
        }
        if self.decision_timeout <= self.vote_timeout {
            problems.push(format!(
                "decision_timeout ({}) must be longer than vote_timeout ({}): steps would take over from a coordinator still collecting votes",
                self.decision_timeout, self.vote_timeout
            ));
        }
        if self.backup_retry == Duration::ZERO {
            problems
                .push("backup_retry must be positive: with 0 a backup asks forever at one instant".into());
        }
        if self.backup_window <= self.backup_retry {
            problems.push(format!(
                "backup_window ({}) must be longer than backup_retry ({}): one lost answer would make a live step count as crashed",
                self.backup_window, self.backup_retry
            ));
        }
        problems
    }

    fn timing(&self) -> Timing {
        Timing {
            decision_timeout: self.decision_timeout,
            backup_retry: self.backup_retry,
            backup_window: self.backup_window,
        }
    }
}

/// Three-phase commit in the registry.
pub const REGISTRATION: Registration = Registration::of::<ThreePc>(
    "three_pc",
    "ThreePc",
    &["3pc", "threepc"],
    "three-phase commit: a pre-commit round lets participants finish without a crashed coordinator; a partition can split the decision",
);

/// Three-phase commit as a [`Strategy`]: adds the `coordinator` actor, which is also the
/// entry the gateway sends `Begin` to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ThreePc {
    /// Its settings.
    pub config: Config,
}

/// Where three-phase commit's roles do something durable or visible.
const POINTS: &[ProtocolPoint] = &[
    ProtocolPoint::new(
        "coordinator",
        "prepare_sent",
        "every step was asked to prepare (CanCommit)",
    ),
    ProtocolPoint::new(
        "coordinator",
        "pre_commit_sent",
        "every step voted yes; PreCommit left",
    ),
    ProtocolPoint::new(
        "coordinator",
        "commit_logged",
        "every step accepted; the commit record is durable",
    ),
    ProtocolPoint::new("participant", "prepared", "the step is prepared, its locks held"),
    ProtocolPoint::new("participant", "vote_sent", "its vote left for the coordinator"),
    ProtocolPoint::new("participant", "pre_committed", "its pre-commit record is durable"),
    ProtocolPoint::new("participant", "decided", "the decision was applied"),
    ProtocolPoint::new(
        "backup",
        "took_over",
        "no decision came in time; it asks every step",
    ),
    ProtocolPoint::new("backup", "told_decision", "it decided and told every step"),
];

impl Strategy for ThreePc {
    fn name(&self) -> &'static str {
        REGISTRATION.name
    }

    fn points(&self) -> &'static [ProtocolPoint] {
        POINTS
    }

    fn message_kinds(&self) -> &'static [&'static str] {
        msg::KINDS
    }

    fn problems(&self, model: &Model) -> Vec<Problem> {
        let mut problems = problems_from(self.config.validate());
        problems.extend(crate::strategy::prepared_steps_conflict(model, REGISTRATION.name));
        problems
    }

    fn extra_actor_names(&self) -> Vec<&'static str> {
        vec!["coordinator"]
    }

    fn extra_actors(&self, wiring: &Wiring) -> Vec<Box<dyn Actor<Msg>>> {
        vec![Box::new(ThreePcCoordinator::new(self.config, wiring.clone()))]
    }

    fn entry(&self, wiring: &Wiring) -> ActorId {
        wiring.first_extra()
    }

    fn own_forced_writes(&self, counters: &std::collections::BTreeMap<&'static str, u64>) -> u64 {
        counters.get(coordinator::FORCED_WRITES).copied().unwrap_or(0)
    }

    fn participant(&self, _service: ServiceId, wiring: &Wiring) -> Option<Box<dyn Participant>> {
        let steps = (0..wiring.model.steps.len() as u16)
            .map(|step| wiring.step_service(step))
            .collect();
        Some(Box::new(ThreePcParticipant::new(
            wiring.first_extra(),
            wiring.token,
            steps,
            self.config.timing(),
        )))
    }
}

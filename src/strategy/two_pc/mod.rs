//! Two-phase commit (2PC) with presumed abort: one coordinator asks every step's service to
//! prepare, and commits only if all of them voted yes.
//!
//! Sources: J. Gray and L. Lamport, "Consensus on Transaction Commit", ACM TODS 31(1), 2006
//! (MSR-TR-2003-96, 2004), Section 3, the classic protocol as the F = 0 case of Paxos Commit;
//! and C. Mohan, B. Lindsay and R. Obermarck, "Transaction Management in the R* Distributed
//! Database Management System", ACM TODS 11(4), 1986, for presumed abort, the coordinator's
//! log records and the acks. Each step of the business transaction is one participant (two
//! steps on one service are two participants); the coordinator is an actor of its own,
//! `coordinator`, which is also where the gateway's `Begin` goes.
//!
//! This folder owns the coordinator ([`Coordinator`]), the participant inside each service
//! ([`TwoPcParticipant`]), their messages (`msg.rs`, carried as `ProtocolMsg`s) and the
//! settings ([`Config`]). The service offers the primitives: a `CallMode::Prepare` call
//! keeps its local transaction and locks durable, and the participant's effects resolve or
//! fence the prepared step; the participant applies `Decide`, acknowledges it, and asks
//! (`Query`) while in doubt. Start reading at [`Coordinator`]'s handlers.
//!
//! # Coordinator, per transaction
//!
//! | state      | event                    | action                                        | next       |
//! |------------|--------------------------|-----------------------------------------------|------------|
//! | unknown    | `Begin`                  | `Prepare` to every step; start the vote timer | collecting |
//! | collecting | a yes vote, not the last | note it                                       | collecting |
//! | collecting | the last yes vote        | start forcing a commit record                 | forcing    |
//! | collecting | a no vote, vote timer    | PA: `Decide` abort once, `Outcome`, lazy note | aborted    |
//! | collecting | a no vote, vote timer    | no PA: start forcing an abort record          | forcing    |
//! | forcing    | the record is durable    | `Decide` to all but no-voters, `Outcome`      | finishing  |
//! | finishing  | the retry timer          | `Decide` again to those that did not ack      | finishing  |
//! | finishing  | the last `DecideAck`     | lazy end record; forget                       | ended      |
//! | collecting | `Query`                  | ignore: the participant asks again            | same       |
//! | forcing    | `Query`                  | ignore: the decision is not durable yet       | same       |
//! | finishing  | `Query`                  | `Decide` with the decision                    | same       |
//! | logged     | `Query`                  | `Decide` with the logged decision             | same       |
//! | unknown    | `Query`                  | presumed abort: `Decide` abort, lazy note     | aborted    |
//! | decided    | `Begin` (a retry)        | `Outcome` again; no second round              | same       |
//! | any        | crash, recovery          | logged, not ended: finishing; else aborted    |            |
//!
//! PA is presumed abort. With `log_before_send: false` (the broken twin) there is no forcing
//! state: the decision and the `Outcome` go out at once and the record is written
//! `forced_write` later, so a crash in between leaves participants committed while the
//! recovered coordinator presumes abort.
//!
//! # Participant (the service), per (transaction, step)
//!
//! | state      | event                    | action                                            | next     |
//! |------------|--------------------------|---------------------------------------------------|----------|
//! | idle       | `Prepare`, applies       | force a prepare record, keep the locks, vote yes  | prepared |
//! | idle       | `Prepare`, refused, busy | abort locally, vote no                            | idle     |
//! | prepared   | `Prepare` (a duplicate)  | vote yes again                                    | prepared |
//! | prepared   | `Decide`                 | force a commit or abort record, unlock, ack       | done     |
//! | prepared   | no decision for a while  | `Query`, again every `in_doubt_query_after`       | prepared |
//! | prepared   | crash, recovery          | the prepare record brings the locks back; `Query` | prepared |
//! | idle       | `Decide` abort           | give up a prepare still running, fence, ack       | fenced   |
//! | prepared   | `Decide` abort           | force an abort record, unlock, fence, ack         | done     |
//! | idle, done | `Decide`                 | ack (a duplicate, or never prepared)              | same     |
//!
//! A fenced step votes no to a later `Prepare`, so an abort that overtakes its own prepare
//! cannot be undone by it.
//!
//! A prepared participant cannot decide alone: that is 2PC's blocking. While the coordinator
//! is down, its locks stay held and its in-doubt time grows (`HistoryEvent::Decided`'s
//! `in_doubt_us`).
//!
//! # Costs in the fault-free case
//!
//! For one committed transaction with N participants and the coordinator on its own node:
//! **4N messages** (N `Prepare`, N votes, N `Decide`, N `DecideAck`; the gateway's `Begin`
//! and the `Outcome` are not counted) and **2N + 1 forced log writes** (N prepare records,
//! the coordinator's commit record, N participant commit records; the coordinator's end
//! record is lazy). `tests.rs` measures both for N = 2..6.
//!
//! Gray & Lamport count 3N − 1 messages and N + 1 writes for the same protocol, in a
//! different setting. Their commit starts at an RM that prepares on its own and tells the TM
//! so, which replaces one `Prepare` and one vote with a single message: 1, then N − 1
//! `Prepare`, N − 1 `Prepared` and N `Commit`. They count no acks, which only let the TM
//! forget. And they count the writes a commit waits for (N prepare records and the TM's
//! decision), not the RMs' commit records written after the decision is known.
//!
//! With presumed abort an aborted transaction costs the coordinator no forced write and waits
//! for no ack: a participant that asks about a transaction the coordinator does not know is
//! told abort. (The store still forces a participant's abort record of a prepared local
//! transaction; R*'s presumed-abort participant would not.)
//!
//! # Where this departs from the textbook, and why
//!
//! - The gateway retries `Begin` with the same transaction id, so the coordinator keeps one
//!   small record per transaction in its log (log truncation is not modelled) and answers a
//!   retry from it instead of running a second round. For the same reason a presumed abort
//!   given to a participant is noted lazily in the log: once the coordinator has said abort,
//!   a late `Begin` must not commit the transaction. A transaction forgotten in a crash
//!   before any decision or presumed abort does get a second round when the gateway
//!   retries: participants still prepared vote yes again, so that round decides for all.
//! - Lazy records (end records, abort notes) are written without waiting and survive crashes
//!   in the simulation; only forced records are counted as forced writes.
//! - Cooperative termination (`Config::cooperative_termination`, off by default): an
//!   in-doubt participant asks the other participants as well as the coordinator, and a
//!   participant that applied the decision (services keep a durable record of decisions
//!   applied) answers with it. It only helps when some participant heard the decision: if
//!   all are prepared and none knows, they block anyway, which is 2PC's blocking.

mod coordinator;
pub mod msg;
mod participant;
#[cfg(test)]
mod tests;

pub use coordinator::{Coordinator, CoordinatorStats, LogRecord};
pub use participant::TwoPcParticipant;

use serde::{Deserialize, Serialize};

use crate::sim::{ActorId, Duration};
use crate::strategy::{Problem, ProtocolPoint, Registration, Strategy, Wiring, problems_from};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::Msg;
use crate::system::participant::Participant;
use crate::world::Actor;

/// Settings of two-phase commit. In a scenario file: `TwoPc(vote_timeout: "50ms", ...)`,
/// every field optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "TwoPc", default, deny_unknown_fields)]
pub struct Config {
    /// How long the coordinator waits for every vote before it aborts: a participant that
    /// never answers (lost message, crash, lock wait) must not hold the others forever.
    #[serde(with = "crate::duration_text::as_text")]
    pub vote_timeout: Duration,
    /// How often the coordinator re-sends a decision to participants that have not acked it:
    /// a lost `Decide` would otherwise leave a participant in doubt until it asks.
    #[serde(with = "crate::duration_text::as_text")]
    pub decision_retry: Duration,
    /// How long the coordinator's forced log write takes (an fsync). The decision is not
    /// sent, nor the outcome reported, before it completes; a crash during it loses it.
    #[serde(with = "crate::duration_text::as_text")]
    pub forced_write: Duration,
    /// Presumed abort (Mohan et al.): the coordinator neither forces an abort to its log nor
    /// waits for its acks (participants still force theirs and acknowledge), and a question
    /// about an unknown transaction is answered abort. Off: the coordinator forces aborts and
    /// waits for their acks, like commits.
    pub presumed_abort: bool,
    /// Force the decision to the log before sending it. `false` is the broken twin, a
    /// coordinator that sends its decision first and logs it later: a crash in between makes
    /// it presume abort for a transaction some participants already committed.
    pub log_before_send: bool,
    /// Cooperative termination: an in-doubt participant also asks the other participants,
    /// and one that knows the decision (it applied it) answers, so participants can finish
    /// while the coordinator is down, as long as one of them heard the decision.
    pub cooperative_termination: bool,
    /// How long a prepared participant waits for a decision before it asks (and then asks
    /// again every period): short ends blocking sooner after a lost `Decide`, at the cost of
    /// more queries while the coordinator is down.
    #[serde(with = "crate::duration_text::as_text")]
    pub in_doubt_query_after: Duration,
}

impl Default for Config {
    /// Presumed abort, log before send; a 50 ms vote timeout, decisions re-sent every 20 ms,
    /// a 1 ms forced write (as [`crate::store::CostModel`]'s default), in-doubt participants
    /// asking after 200 ms.
    fn default() -> Self {
        Config {
            vote_timeout: Duration::from_ms(50),
            decision_retry: Duration::from_ms(20),
            forced_write: Duration::from_ms(1),
            presumed_abort: true,
            log_before_send: true,
            cooperative_termination: false,
            in_doubt_query_after: Duration::from_ms(200),
        }
    }
}

impl Config {
    /// Every problem with these settings, each naming its field; empty when they are usable.
    /// A zero vote timeout would abort every transaction before a vote could arrive, and a
    /// zero retry period would re-send decisions forever at one instant.
    ///
    /// ```
    /// use consim::sim::Duration;
    /// use consim::strategy::two_pc::Config;
    ///
    /// assert!(Config::default().validate().is_empty());
    /// let zero = Duration::ZERO;
    /// let broken = Config { vote_timeout: zero, decision_retry: zero, ..Config::default() };
    /// let problems = broken.validate();
    /// assert_eq!(problems.len(), 2);
    /// assert!(problems[0].starts_with("vote_timeout"));
    /// assert!(problems[1].starts_with("decision_retry"));
    /// ```
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.vote_timeout == Duration::ZERO {
            problems.push(
                "vote_timeout must be positive: with 0 every transaction aborts before any vote".into(),
            );
        }
        if self.in_doubt_query_after == Duration::ZERO {
            problems.push(
                "in_doubt_query_after must be positive: with 0 an in-doubt participant asks forever at one instant".into(),
            );
        }
        if self.decision_retry == Duration::ZERO {
            problems.push(
                "decision_retry must be positive: with 0 decisions are re-sent forever at one instant".into(),
            );
        }
        problems
    }
}

/// Two-phase commit in the registry.
pub const REGISTRATION: Registration = Registration::of::<TwoPc>(
    "two_pc",
    "TwoPc",
    &["2pc", "twopc"],
    "two-phase commit: a coordinator prepares every step and commits only if all vote yes; blocks while it is down",
);

/// Two-phase commit as a [`Strategy`]: adds the `coordinator` actor, which is also the entry
/// the gateway sends `Begin` to and the actor in-doubt participants ask.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TwoPc {
    /// Its settings.
    pub config: Config,
}

/// Where two-phase commit's roles do something durable or visible.
const POINTS: &[ProtocolPoint] = &[
    ProtocolPoint::new("coordinator", "prepare_sent", "every step was asked to prepare"),
    ProtocolPoint::new(
        "coordinator",
        "votes_collected",
        "the last vote arrived, or the vote timer fired",
    ),
    ProtocolPoint::new("coordinator", "decision_logged", "the decision record is durable"),
    ProtocolPoint::new("coordinator", "decision_sent", "the decision left for every step"),
    ProtocolPoint::new("participant", "prepared", "the step is prepared, its locks held"),
    ProtocolPoint::new("participant", "vote_sent", "its vote left for the coordinator"),
    ProtocolPoint::new(
        "participant",
        "decided",
        "the decision was applied and its locks released",
    ),
];

impl Strategy for TwoPc {
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
        vec![Box::new(Coordinator::new(self.config, wiring.clone()))]
    }

    fn entry(&self, wiring: &Wiring) -> ActorId {
        wiring.first_extra()
    }

    fn own_forced_writes(&self, counters: &std::collections::BTreeMap<&'static str, u64>) -> u64 {
        counters.get(coordinator::FORCED_WRITES).copied().unwrap_or(0)
    }

    fn participant(&self, service: ServiceId, wiring: &Wiring) -> Option<Box<dyn Participant>> {
        let peers = if self.config.cooperative_termination {
            let me = wiring.service(service);
            let mut peers: Vec<ActorId> = (0..wiring.model.steps.len() as u16)
                .map(|step| wiring.step_service(step))
                .collect();
            peers.sort();
            peers.dedup();
            peers.retain(|p| *p != me);
            peers
        } else {
            Vec::new()
        };
        let coordinator = wiring.first_extra();
        Some(Box::new(TwoPcParticipant::new(
            coordinator,
            peers,
            self.config.in_doubt_query_after,
        )))
    }
}

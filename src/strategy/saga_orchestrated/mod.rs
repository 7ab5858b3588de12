//! The orchestrated saga: one orchestrator runs a business transaction's steps one after
//! another and, when one fails, runs the compensations of those already done in reverse order.
//!
//! Source: H. Garcia-Molina and K. Salem, "Sagas", SIGMOD 1987. A saga is a sequence of local
//! transactions T1..Tn, each with a compensating transaction Ci; the system guarantees that
//! either T1..Tn or T1..Tj, Cj..C1 runs. Compensations must not fail for business reasons, so
//! they are retried until they commit ("backward recovery", section 5 of the paper). The
//! orchestrator here is the paper's "saga execution component", with its saga log.
//!
//! What it owns: the [`Orchestrator`] actor, its durable saga log (per transaction: the
//! current step, the direction and which actions are known committed) and its volatile
//! retry state (attempt counters, timers). What it must not do: touch a service's data other
//! than through [`crate::system::msg::LocalCall`]s, or know how a service implements them.
//! Start reading at [`Orchestrator`]'s state machine below, then `orchestrator.rs`.
//!
//! # The orchestrator as a state machine (per business transaction)
//!
//! `i` is the step being run forward, `j` the step being compensated, `n` the step count.
//! "Call" means: send the step's local call (attempt 1) and arm its deadline (`step_timeout`,
//! or `async_timeout` in [`Invocation::Async`]).
//!
//! | state | event | action | next state |
//! |---|---|---|---|
//! | none | `Begin` | log the saga, call action 0 | Forward(0) |
//! | Finished(o) | `Begin` (a gateway retry) | send `Outcome(o)` again | Finished(o) |
//! | Forward / Compensating | `Begin` (a gateway retry) | nothing: the saga will answer | unchanged |
//! | Forward(i), i < n-1 | `Committed` | log action i committed, call action i+1 | Forward(i+1) |
//! | Forward(n-1) | `Committed` | send `Outcome(Committed)` | Finished(Committed) |
//! | Forward(0) | `Refused` | send `Outcome(Aborted)` | Finished(Aborted) |
//! | Forward(i), i > 0 | `Refused` (business failure) | call compensation i-1 | Compensating(i-1) |
//! | Forward(i) | `Busy` or deadline, attempt < `retry_max` | arm a backoff timer | Forward(i), backing off |
//! | Forward(i), backing off | backoff elapsed | call action i again (attempt + 1) | Forward(i) |
//! | Forward(i) | `Busy` or deadline, attempt = `retry_max` | call compensation i (outcome unknown; fencing makes it safe) | Compensating(i) |
//! | Compensating(j), j > 0 | `Committed` | log action j undone, call compensation j-1 | Compensating(j-1) |
//! | Compensating(0) | `Committed` | send `Outcome(Aborted)` | Finished(Aborted) |
//! | Compensating(j) | `Busy` or deadline | arm a backoff timer, then call again, forever | Compensating(j), backing off |
//! | Compensating(j) | `Busy` or deadline, **broken twin** without compensation retries | abandon compensation j | Compensating(j-1) or Finished(Aborted) |
//! | Forward / Compensating | crash, then restart | call the current step again (attempt 1) | unchanged |
//! | any | a reply for another step or direction (late, duplicate) | nothing | unchanged |
//! | Finished | `outcome_retention` elapsed | forget the saga | none |
//!
//! A refused step is not compensated, as in the paper: its local transaction applied
//! nothing. Late copies of the refused call (network duplicates, earlier attempts) cannot
//! apply afterwards because an idempotent service records the refusal as a fence; the broken
//! twin without idempotency loses that guarantee too.
//!
//! Durable across a crash: the saga log (the state column) and the finished outcomes. A log
//! write is modelled as instantaneous and happens before the call it announces is sent, so a
//! restarted orchestrator re-sends the current call; the services' idempotency makes the
//! repeat harmless.
//!
//! # Sync and async invocation
//!
//! [`Invocation::Sync`] is a request with a timeout: every attempt arms a `step_timeout`
//! deadline, so a lost message costs one short timeout. [`Invocation::Async`] sends the call
//! as a fire-and-forget message and treats the service's reply as an asynchronous completion
//! message; no short per-attempt deadline runs, only a long staleness timer per outstanding
//! call (`async_timeout`), after which the orchestrator sends the call again. Under loss, async recovers later but
//! sends fewer duplicate calls to a slow service.

mod orchestrator;
#[cfg(test)]
mod tests;

use rand::RngExt as _;

pub use orchestrator::Orchestrator;

use serde::{Deserialize, Serialize};

use crate::sim::{ActorId, Duration, Rng};
use crate::strategy::{Problem, ProtocolPoint, Registration, Strategy, Wiring, problems_from};
use crate::system::model::Model;
use crate::system::msg::Msg;
use crate::world::Actor;

/// Settings of the orchestrated saga, with two deliberately broken twins
/// (`compensation_retries: false`, `idempotency: false`) that let the checks show why each
/// safeguard is there.
///
/// In a scenario file: `SagaOrchestrated(step_timeout: "25ms", jitter: Fraction(0.5), ...)`,
/// every field optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "SagaOrchestrated", default, deny_unknown_fields)]
pub struct Config {
    /// How long one attempt of a synchronous call waits for its reply before it counts as
    /// lost. Default 25 ms: a few round trips plus the service's processing.
    #[serde(with = "crate::duration_text::as_text")]
    pub step_timeout: Duration,
    /// Attempts at a step's action before the orchestrator gives up and compensates it (its
    /// outcome is then unknown). At least 1; default 4.
    pub retry_max: u16,
    /// Backoff after the first failed attempt; it doubles after each further failure. Default
    /// 5 ms.
    #[serde(with = "crate::duration_text::as_text")]
    pub backoff_base: Duration,
    /// The backoff never exceeds this, jitter included. Default 100 ms.
    #[serde(with = "crate::duration_text::as_text")]
    pub backoff_cap: Duration,
    /// How much of each backoff is random, so retries from many sagas do not arrive in
    /// lockstep. Default: half of it ("equal jitter").
    pub jitter: Jitter,
    /// Retry a compensation until it commits (the paper's requirement). `false` is the
    /// broken twin "a saga without compensation retries": a compensation that gets no answer
    /// or `Busy` is abandoned and the saga can stay half applied. Default `true`.
    pub compensation_retries: bool,
    /// Mark calls idempotent, so a retried or duplicated call applies once and a compensation
    /// of an action that never arrived fences it. `false` is the broken twin that applies
    /// duplicates twice. Default `true`.
    pub idempotency: bool,
    /// Request/response with a per-attempt timeout, or fire-and-forget messages with a
    /// completion message back. Default [`Invocation::Sync`].
    pub invocation: Invocation,
    /// With [`Invocation::Async`], how long a call may stay unanswered before it is sent
    /// again; much longer than `step_timeout`. Default 250 ms.
    #[serde(with = "crate::duration_text::as_text")]
    pub async_timeout: Duration,
    /// How long a finished saga's outcome is kept to answer gateway retries of the same
    /// transaction; it must outlast the gateway's whole retry schedule, or a late retry
    /// would start the saga afresh. Bounds the log's memory. Default 60 s.
    #[serde(with = "crate::duration_text::as_text")]
    pub outcome_retention: Duration,
}

/// The random part of a backoff. The delay is drawn in `[ceiling - spread, ceiling]`, where
/// the ceiling is `min(backoff_cap, backoff_base * 2^(attempt - 1))`, so jitter never pushes
/// a retry past the cap. Files write `None`, `Fraction(0.5)` or `Max("10ms")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "JitterText", into = "JitterText")]
pub enum Jitter {
    /// No randomness: every saga retries at the same instants.
    None,
    /// The spread is `numerator / denominator` of the ceiling; `1/1` is "full jitter".
    Fraction {
        /// At most `denominator`.
        numerator: u32,
        /// Positive.
        denominator: u32,
    },
    /// The spread is this much, or the whole ceiling if that is smaller.
    Max(Duration),
}

/// The file form of [`Jitter`]: a fraction as a decimal, a maximum as a duration.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename = "Jitter", deny_unknown_fields)]
enum JitterText {
    None,
    Fraction(f64),
    Max(crate::duration_text::HumanDuration),
}

impl TryFrom<JitterText> for Jitter {
    type Error = String;

    fn try_from(text: JitterText) -> Result<Jitter, String> {
        match text {
            JitterText::None => Ok(Jitter::None),
            JitterText::Fraction(f) if (0.0..=1.0).contains(&f) => Ok(Jitter::Fraction {
                numerator: (f * 1000.0).round() as u32,
                denominator: 1000,
            }),
            JitterText::Fraction(f) => Err(format!(
                "jitter fraction {f} is outside [0, 1]: Fraction(0.5) spreads retries over the upper half of each backoff"
            )),
            JitterText::Max(d) => Ok(Jitter::Max(d.0)),
        }
    }
}

impl From<Jitter> for JitterText {
    fn from(jitter: Jitter) -> JitterText {
        match jitter {
            Jitter::None => JitterText::None,
            Jitter::Fraction {
                numerator,
                denominator,
            } => JitterText::Fraction(f64::from(numerator) / f64::from(denominator.max(1))),
            Jitter::Max(d) => JitterText::Max(crate::duration_text::HumanDuration(d)),
        }
    }
}

/// How the orchestrator invokes a step (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Invocation {
    /// A request with a per-attempt timeout (`step_timeout`).
    Sync,
    /// A message; the reply is a completion message; re-sent after `async_timeout`.
    Async,
}

/// The orchestrated saga in the registry.
pub const REGISTRATION: Registration = Registration::of::<SagaOrchestrated>(
    "saga_orchestrated",
    "SagaOrchestrated",
    &["saga", "orchestration"],
    "orchestrated saga: an orchestrator calls each step in turn and compensates the done ones on failure",
);

/// The orchestrated saga strategy: an `orchestrator` actor is the entry point of every
/// business transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SagaOrchestrated {
    /// Its settings.
    pub config: Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            step_timeout: Duration::from_ms(25),
            retry_max: 4,
            backoff_base: Duration::from_ms(5),
            backoff_cap: Duration::from_ms(100),
            jitter: Jitter::Fraction {
                numerator: 1,
                denominator: 2,
            },
            compensation_retries: true,
            idempotency: true,
            invocation: Invocation::Sync,
            async_timeout: Duration::from_ms(250),
            outcome_retention: Duration::from_secs(60),
        }
    }
}

impl Config {
    /// Every problem with these settings, each naming its field; empty when they are usable.
    /// All are reported at once, so a scenario file is fixed in one go.
    ///
    /// ```
    /// use consim::sim::Duration;
    /// use consim::strategy::saga_orchestrated::Config;
    ///
    /// assert!(Config::default().validate().is_empty());
    /// let bad = Config { step_timeout: Duration::ZERO, retry_max: 0, ..Config::default() };
    /// let problems = bad.validate();
    /// assert_eq!(problems.len(), 2);
    /// assert!(problems[0].starts_with("step_timeout"));
    /// ```
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut positive = |field: &str, value: Duration| {
            if value == Duration::ZERO {
                problems.push(format!("{field}: must be positive, got 0"));
            }
        };
        positive("step_timeout", self.step_timeout);
        positive("backoff_base", self.backoff_base);
        positive("async_timeout", self.async_timeout);
        positive("outcome_retention", self.outcome_retention);
        if self.retry_max == 0 {
            problems.push("retry_max: must be at least 1 (the first attempt counts)".into());
        }
        if self.backoff_cap < self.backoff_base {
            problems.push(format!(
                "backoff_cap: {} is below backoff_base {}",
                self.backoff_cap, self.backoff_base
            ));
        }
        if self.async_timeout < self.step_timeout {
            problems.push(format!(
                "async_timeout: {} is shorter than step_timeout {}; an asynchronous call waits longer",
                self.async_timeout, self.step_timeout
            ));
        }
        problems.extend(self.jitter_problem());
        problems
    }

    fn jitter_problem(&self) -> Option<String> {
        match self.jitter {
            Jitter::None => None,
            Jitter::Fraction {
                numerator,
                denominator,
            } if denominator == 0 || numerator > denominator => Some(format!(
                "jitter: fraction {numerator}/{denominator} is outside 0..=1"
            )),
            Jitter::Fraction { .. } => None,
            Jitter::Max(max) if max > self.backoff_cap => Some(format!(
                "jitter: max {max} exceeds backoff_cap {}; the jitter can never be that large",
                self.backoff_cap
            )),
            Jitter::Max(_) => None,
        }
    }

    /// The longest backoff after failed attempt number `attempt` (1-based):
    /// `min(backoff_cap, backoff_base * 2^(attempt - 1))`.
    pub fn backoff_ceiling(&self, attempt: u16) -> Duration {
        let doublings = u32::from(attempt.saturating_sub(1)).min(63);
        let grown = self.backoff_base.as_us().saturating_mul(1 << doublings);
        Duration::from_us(grown.min(self.backoff_cap.as_us()))
    }

    /// The backoff after failed attempt number `attempt`, with jitter drawn from `rng` (the
    /// orchestrator's own stream; nothing is drawn when there is no spread).
    pub fn backoff(&self, attempt: u16, rng: &mut Rng) -> Duration {
        let ceiling = self.backoff_ceiling(attempt).as_us();
        let spread = match self.jitter {
            Jitter::None => 0,
            Jitter::Fraction {
                numerator,
                denominator,
            } => {
                let scaled = u128::from(ceiling) * u128::from(numerator) / u128::from(denominator.max(1));
                u64::try_from(scaled).unwrap_or(ceiling).min(ceiling)
            }
            Jitter::Max(max) => max.as_us().min(ceiling),
        };
        if spread == 0 {
            return Duration::from_us(ceiling);
        }
        Duration::from_us(ceiling - spread + rng.random_range(0..=spread))
    }

    /// How long an attempt may stay unanswered before it counts as lost.
    pub fn deadline(&self) -> Duration {
        match self.invocation {
            Invocation::Sync => self.step_timeout,
            Invocation::Async => self.async_timeout,
        }
    }
}

impl SagaOrchestrated {
    /// The strategy with these settings.
    pub fn new(config: Config) -> Self {
        SagaOrchestrated { config }
    }
}

/// Where the orchestrated saga's roles do something durable or visible.
const POINTS: &[ProtocolPoint] = &[
    ProtocolPoint::new("orchestrator", "saga_logged", "the saga's start is in its log"),
    ProtocolPoint::new(
        "orchestrator",
        "step_called",
        "a step's action or compensation was called",
    ),
    ProtocolPoint::new("orchestrator", "step_committed", "a step's commit is in its log"),
    ProtocolPoint::new(
        "orchestrator",
        "compensation_started",
        "a refusal turned the saga back",
    ),
];

impl Strategy for SagaOrchestrated {
    fn name(&self) -> &'static str {
        REGISTRATION.name
    }

    fn points(&self) -> &'static [ProtocolPoint] {
        POINTS
    }

    fn problems(&self, _model: &Model) -> Vec<Problem> {
        problems_from(self.config.validate())
    }

    fn extra_actor_names(&self) -> Vec<&'static str> {
        vec!["orchestrator"]
    }

    fn extra_actors(&self, wiring: &Wiring) -> Vec<Box<dyn Actor<Msg>>> {
        let problems = self.config.validate();
        assert!(
            problems.is_empty(),
            "saga_orchestrated settings are validated before a run: {problems:?}"
        );
        vec![Box::new(Orchestrator::new(self.config, wiring))]
    }

    fn entry(&self, wiring: &Wiring) -> ActorId {
        wiring.extras[0]
    }

    /// The orchestrator asks the queried step's service before it starts a saga.
    fn queries_before_start(&self) -> bool {
        true
    }
}

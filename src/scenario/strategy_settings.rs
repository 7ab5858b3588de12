//! A scenario's `strategy:` section → a checked [`StrategyKind`].

use crate::strategy::{StrategyKind, eventual, saga_choreographed, saga_orchestrated, two_pc};

use super::duration::HumanDuration;
use super::locate::Step;
use super::raw;
use super::validate::Checker;

/// Applies the written settings over the strategy's defaults and checks them; every problem
/// is reported at the `strategy` field.
pub fn strategy(check: &mut Checker<'_>, raw: &raw::Strategy) -> Option<StrategyKind> {
    let set = |target: &mut crate::sim::Duration, value: &Option<HumanDuration>| {
        if let Some(v) = value {
            *target = v.0;
        }
    };
    let kind = match raw {
        raw::Strategy::TwoPc {
            vote_timeout,
            decision_retry,
            forced_write,
            presumed_abort,
            log_before_send,
            cooperative_termination,
        } => {
            let mut c = two_pc::Config::default();
            set(&mut c.vote_timeout, vote_timeout);
            set(&mut c.decision_retry, decision_retry);
            set(&mut c.forced_write, forced_write);
            c.presumed_abort = presumed_abort.unwrap_or(c.presumed_abort);
            c.log_before_send = log_before_send.unwrap_or(c.log_before_send);
            c.cooperative_termination = cooperative_termination.unwrap_or(c.cooperative_termination);
            StrategyKind::TwoPc(c)
        }
        raw::Strategy::SagaOrchestrated {
            step_timeout,
            retry_max,
            backoff_base,
            backoff_cap,
            jitter,
            compensation_retries,
            idempotency,
            invocation,
            async_timeout,
        } => {
            let mut c = saga_orchestrated::Config::default();
            set(&mut c.step_timeout, step_timeout);
            set(&mut c.backoff_base, backoff_base);
            set(&mut c.backoff_cap, backoff_cap);
            set(&mut c.async_timeout, async_timeout);
            c.retry_max = retry_max.unwrap_or(c.retry_max);
            c.compensation_retries = compensation_retries.unwrap_or(c.compensation_retries);
            c.idempotency = idempotency.unwrap_or(c.idempotency);
            if let Some(invocation) = invocation {
                c.invocation = match invocation {
                    raw::InvocationSetting::Sync => saga_orchestrated::Invocation::Sync,
                    raw::InvocationSetting::Async => saga_orchestrated::Invocation::Async,
                };
            }
            if let Some(jitter) = jitter {
                c.jitter = match *jitter {
                    raw::JitterSetting::None => saga_orchestrated::Jitter::None,
                    raw::JitterSetting::Fraction(f) if (0.0..=1.0).contains(&f) => {
                        saga_orchestrated::Jitter::Fraction {
                            numerator: (f * 1000.0).round() as u32,
                            denominator: 1000,
                        }
                    }
                    raw::JitterSetting::Fraction(f) => {
                        check.error(
                            &[Step::Field("strategy"), Step::Field("jitter")],
                            format!("jitter fraction {f} is outside [0, 1]"),
                            "not a fraction",
                            Some("Fraction(0.5) spreads retries over the upper half of each backoff".into()),
                        );
                        return None;
                    }
                    raw::JitterSetting::Max(d) => saga_orchestrated::Jitter::Max(d.0),
                };
            }
            StrategyKind::SagaOrchestrated(c)
        }
        raw::Strategy::SagaChoreographed {
            relay_interval,
            idempotent_consumers,
            dual_write,
        } => {
            let mut c = saga_choreographed::Config::default();
            set(&mut c.relay_interval, relay_interval);
            c.idempotent_consumers = idempotent_consumers.unwrap_or(c.idempotent_consumers);
            c.dual_write = dual_write.unwrap_or(c.dual_write);
            StrategyKind::SagaChoreographed(c)
        }
        raw::Strategy::Eventual {
            relay_interval,
            idempotent_consumers,
            dual_write,
            read_model,
        } => {
            let mut c = eventual::Config::default();
            set(&mut c.relay_interval, relay_interval);
            c.idempotent_consumers = idempotent_consumers.unwrap_or(c.idempotent_consumers);
            c.dual_write = dual_write.unwrap_or(c.dual_write);
            c.read_model = read_model.unwrap_or(c.read_model);
            StrategyKind::Eventual(c)
        }
    };
    let problems = kind.validate();
    if problems.is_empty() {
        return Some(kind);
    }
    for problem in problems {
        // Point at the field the problem names, when the file has it.
        let field = problem
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .find(|w| w.contains('_') || ["jitter", "invocation"].contains(w));
        let path: Vec<Step<'_>> = match field {
            Some(f) => vec![Step::Field("strategy"), Step::Field(f)],
            None => vec![Step::Field("strategy")],
        };
        check.error(
            &path,
            format!("{} setting: {problem}", kind.name()),
            "invalid setting",
            None,
        );
    }
    None
}

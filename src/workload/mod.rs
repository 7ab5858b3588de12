//! The workload: when requests arrive, which keys they touch, and whether they are audits.
//!
//! This module owns pure generators and the [`WorkloadPlan`] that combines them; it has no
//! actors and reads no clock. The client and gateway actors replay a plan; they do not draw.
//!
//! Everything is drawn up front (style 2.5.2) from the one [`Purpose::Workload`] stream, and
//! from nothing else, so under one seed every strategy sees the same requests at the same
//! instants whatever else it draws, and a plan can be printed or shrunk before the run. Within
//! the stream the plan draws in phases (all arrivals, then all keys, then all audit flags), so
//! changing the key popularity or the audit share never moves an arrival.
//!
//! Start reading at [`WorkloadPlan::draw`]; the generators are in `arrival.rs`, `keys.rs` and
//! `mix.rs`.

pub mod arrival;
pub mod error;
pub mod keys;
pub mod mix;

pub use arrival::ArrivalProcess;
pub use error::WorkloadError;
pub use keys::{KeyPopularity, KeySampler, MAX_ZIPF_KEY_COUNT};
pub use mix::RequestMix;

use crate::net::Probability;
use crate::sim::{Instant, Purpose, SeedTree};

/// Everything that shapes a run's requests, as validated settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkloadSpec {
    /// How many requests the plan holds.
    pub request_count: u64,
    /// How their arrival times are spaced, from [`Instant::ZERO`].
    pub arrival: ArrivalProcess,
    /// How popular each key is.
    pub keys: KeyPopularity,
    /// Keys are `0..key_count` (accounts, products); at least 1.
    pub key_count: u64,
    /// The chance that a request is a read-only audit rather than a business request.
    pub audit_share: Probability,
}

/// One request as planned: when it arrives and what it touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlannedRequest {
    /// When the client issues it.
    pub at: Instant,
    /// The key it touches (for a transfer, the account debited).
    pub key: u64,
    /// A second key, distinct from `key` unless there is only one key, drawn with the same
    /// popularity (for a transfer, the account credited). Always drawn, so requests that do
    /// not use it still leave the stream where it would be.
    pub key2: u64,
    /// True for a read-only audit, false for a business request.
    pub audit: bool,
}

/// A run's whole workload, drawn before the run and replayed by the clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadPlan {
    requests: Vec<PlannedRequest>,
}

impl WorkloadSpec {
    /// Checks every setting and returns all problems, not only the first (style 2.7), each
    /// naming its setting under `workload.`.
    pub fn validate(&self) -> Result<(), Vec<WorkloadError>> {
        let errors: Vec<WorkloadError> = [
            self.arrival.validate("workload.arrival"),
            self.keys.validate("workload.keys", self.key_count),
        ]
        .into_iter()
        .filter_map(Result::err)
        .collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

impl WorkloadPlan {
    /// Draws the plan for `spec` from the workload stream of `seeds`; the same spec and seed
    /// give the same plan, whatever else the run does.
    ///
    /// Draw order is part of the plan's identity: arrivals first, then `key` and `key2` per
    /// request, then the audit flags. Changing it changes every seed's plan.
    ///
    /// # Panics
    ///
    /// If `spec` fails [`WorkloadSpec::validate`]; the scenario layer checks before drawing.
    ///
    /// # Example
    ///
    /// ```
    /// use consim::net::Probability;
    /// use consim::sim::{Duration, SeedTree};
    /// use consim::workload::{ArrivalProcess, KeyPopularity, WorkloadPlan, WorkloadSpec};
    ///
    /// let spec = WorkloadSpec {
    ///     request_count: 3,
    ///     arrival: ArrivalProcess::Constant { interval: Duration::from_ms(10) },
    ///     keys: KeyPopularity::Zipf { exponent: 1.0 },
    ///     key_count: 5,
    ///     audit_share: Probability::NEVER,
    /// };
    /// spec.validate().unwrap();
    /// let plan = WorkloadPlan::draw(&spec, SeedTree::new(42));
    /// assert_eq!(plan.requests().len(), 3);
    /// assert_eq!(plan.requests()[2].at.as_us(), 30_000);
    /// assert!(plan.requests().iter().all(|r| r.key != r.key2 && !r.audit));
    /// assert_eq!(plan, WorkloadPlan::draw(&spec, SeedTree::new(42)));
    /// ```
    pub fn draw(spec: &WorkloadSpec, seeds: SeedTree) -> WorkloadPlan {
        if let Err(errors) = spec.validate() {
            panic!("workload drawn from a spec that was never validated: {errors:?}");
        }
        let keys = KeySampler::new(spec.keys, spec.key_count).expect("the spec was validated");
        let mix = RequestMix::new(spec.audit_share);
        let mut rng = seeds.stream(Purpose::Workload);

        let arrivals = spec.arrival.arrivals(spec.request_count, Instant::ZERO, &mut rng);
        let mut requests: Vec<PlannedRequest> = arrivals
            .into_iter()
            .map(|at| {
                let key = keys.sample(&mut rng);
                let key2 = keys.sample_other(key, &mut rng);
                PlannedRequest {
                    at,
                    key,
                    key2,
                    audit: false,
                }
            })
            .collect();
        for request in &mut requests {
            request.audit = mix.is_audit(&mut rng);
        }
        WorkloadPlan { requests }
    }

    /// The requests in arrival order (ties keep their drawn order).
    pub fn requests(&self) -> &[PlannedRequest] {
        &self.requests
    }

    /// The requests, for a client that takes ownership of its schedule.
    pub fn into_requests(self) -> Vec<PlannedRequest> {
        self.requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Duration;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            request_count: 2_000,
            arrival: ArrivalProcess::Poisson { rate_per_s: 500.0 },
            keys: KeyPopularity::Zipf { exponent: 1.0 },
            key_count: 50,
            audit_share: Probability::ratio("audit", 1, 10).unwrap(),
        }
    }

    #[test]
    fn same_seed_gives_the_same_plan_and_different_seeds_differ() {
        let spec = spec();
        let plan = WorkloadPlan::draw(&spec, SeedTree::new(42));
        assert_eq!(plan.requests().len(), 2_000);
        assert_eq!(plan, WorkloadPlan::draw(&spec, SeedTree::new(42)));
        let other = WorkloadPlan::draw(&spec, SeedTree::new(43));
        let at = |p: &WorkloadPlan| p.requests().iter().map(|r| r.at).collect::<Vec<_>>();
        let keys = |p: &WorkloadPlan| p.requests().iter().map(|r| r.key).collect::<Vec<_>>();
        let audits = |p: &WorkloadPlan| p.requests().iter().map(|r| r.audit).collect::<Vec<_>>();
        assert_ne!(at(&plan), at(&other), "the seed did not change arrivals");
        assert_ne!(keys(&plan), keys(&other), "the seed did not change keys");
        assert_ne!(audits(&plan), audits(&other), "the seed did not change audits");
    }

    #[test]
    fn plans_are_well_formed() {
        let plan = WorkloadPlan::draw(&spec(), SeedTree::new(7));
        let requests = plan.requests();
        assert!(requests.windows(2).all(|p| p[0].at <= p[1].at));
        assert!(requests.iter().all(|r| r.key < 50 && r.key2 < 50));
        assert!(requests.iter().all(|r| r.key != r.key2));
        let audits = requests.iter().filter(|r| r.audit).count();
        // 5 standard errors of a binomial(2000, 0.1): 5 * sqrt(180) ≈ 67.
        assert!((audits as i64 - 200).abs() <= 67, "{audits} audits");
    }

    #[test]
    fn changing_keys_or_audits_leaves_arrivals_untouched() {
        let base = spec();
        let changed = WorkloadSpec {
            keys: KeyPopularity::Uniform,
            key_count: 3,
            audit_share: Probability::NEVER,
            ..base
        };
        let plan = WorkloadPlan::draw(&base, SeedTree::new(5));
        let other = WorkloadPlan::draw(&changed, SeedTree::new(5));
        let at = |p: &WorkloadPlan| p.requests().iter().map(|r| r.at).collect::<Vec<_>>();
        assert_eq!(at(&plan), at(&other));
        assert!(other.requests().iter().all(|r| !r.audit));
    }

    #[test]
    fn one_key_makes_both_keys_the_same() {
        let spec = WorkloadSpec {
            key_count: 1,
            request_count: 10,
            arrival: ArrivalProcess::Constant {
                interval: Duration::from_ms(1),
            },
            ..spec()
        };
        let plan = WorkloadPlan::draw(&spec, SeedTree::new(1));
        assert!(plan.requests().iter().all(|r| r.key == 0 && r.key2 == 0));
    }

    #[test]
    fn an_invalid_spec_reports_every_bad_setting() {
        let spec = WorkloadSpec {
            arrival: ArrivalProcess::Poisson { rate_per_s: 0.0 },
            keys: KeyPopularity::Zipf { exponent: -1.0 },
            ..spec()
        };
        let errors = spec.validate().unwrap_err();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("workload.arrival: "), "{messages:?}");
        assert!(messages[0].contains("`rate_per_s`"), "{messages:?}");
        assert!(messages[1].starts_with("workload.keys: "), "{messages:?}");
        assert!(messages[1].contains("`exponent`"), "{messages:?}");
        assert_eq!(self::spec().validate(), Ok(()));
    }
}

//! When requests arrive: a constant rate, a Poisson process, or periodic bursts.
//!
//! [`ArrivalProcess::arrivals`] draws the whole schedule up front (style 2.5.2), so it can be
//! printed, compared between strategies and shrunk. Poisson gaps need `ln`, which comes from the
//! pure-Rust `libm` crate rather than the platform's maths library, as in `net::latency`: a seed
//! gives the same instants on every machine. Everything else is integer microseconds.

use rand::RngExt as _;

use super::error::WorkloadError;
use crate::net::latency::open_unit;
use crate::sim::{Duration, Instant, Rng};

/// How request arrival times are spaced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArrivalProcess {
    /// One request every `interval`, the first one `interval` after the start; draws nothing,
    /// so it is the baseline where only the system's own randomness varies.
    Constant {
        /// The gap between two requests; must be positive.
        interval: Duration,
    },
    /// A Poisson process: independent exponential gaps with mean `1 / rate_per_s` seconds, the
    /// first one measured from the start. Models many independent clients.
    Poisson {
        /// Mean requests per second; must be positive and finite.
        rate_per_s: f64,
    },
    /// `burst_size` requests at once every `every`: burst `k` starts at `start + k * every`
    /// and its requests fall uniformly (to the microsecond) in `[burst start, burst start +
    /// within)`, all at the burst start when `within` is zero. Models a thundering herd, which
    /// is where contention between strategies shows.
    Bursts {
        /// Requests per burst; at least one. The last burst is cut short when the request
        /// count is not a multiple of it.
        burst_size: u32,
        /// How spread out one burst is; at most `every`, so bursts never overlap.
        within: Duration,
        /// Time between the starts of two bursts; must be positive.
        every: Duration,
    },
}

impl ArrivalProcess {
    /// Checks the settings; `what` names the setting in the error (e.g. `workload.arrival`).
    ///
    /// Rejects what would make arrivals meaningless or the schedule endless: zero intervals,
    /// zero, negative, infinite or NaN rates, empty bursts, and bursts that would overlap.
    pub fn validate(&self, what: &str) -> Result<(), WorkloadError> {
        match *self {
            ArrivalProcess::Constant { interval } if interval == Duration::ZERO => Err(WorkloadError::new(
                what,
                "constant `interval` is zero, so every request would arrive at the same instant",
                "give a positive interval such as 10ms, or use bursts for simultaneous arrivals",
            )),
            ArrivalProcess::Constant { .. } => Ok(()),
            ArrivalProcess::Poisson { rate_per_s } if !(rate_per_s.is_finite() && rate_per_s > 0.0) => {
                Err(WorkloadError::new(
                    what,
                    format!("poisson `rate_per_s` must be a positive finite number, got {rate_per_s}"),
                    "give the mean number of requests per second, e.g. rate_per_s: 100.0",
                ))
            }
            ArrivalProcess::Poisson { .. } => Ok(()),
            ArrivalProcess::Bursts { burst_size: 0, .. } => Err(WorkloadError::new(
                what,
                "bursts `burst_size` is zero, so no request would ever arrive",
                "give at least 1 request per burst",
            )),
            ArrivalProcess::Bursts { every, .. } if every == Duration::ZERO => Err(WorkloadError::new(
                what,
                "bursts `every` is zero, so all bursts would start at the same instant",
                "give the time between burst starts, e.g. every: 1s",
            )),
            ArrivalProcess::Bursts { within, every, .. } if within > every => Err(WorkloadError::new(
                what,
                format!(
                    "bursts `within` ({within}) is longer than `every` ({every}), so bursts would overlap"
                ),
                "make `within` at most `every`, or lengthen `every`",
            )),
            ArrivalProcess::Bursts { .. } => Ok(()),
        }
    }

    /// The first `count` arrival instants after `start`, non-decreasing, drawn from `rng`.
    ///
    /// Returns a whole plan rather than an iterator so the schedule is fixed before the run
    /// and the caller's later draws from the same stream cannot interleave with it. Instants
    /// saturate at [`Instant::MAX`] rather than wrap.
    ///
    /// # Panics
    ///
    /// If the process fails [`ArrivalProcess::validate`]: an unchecked process reaching here
    /// is a bug in the caller (a zero burst size would never finish).
    pub fn arrivals(&self, count: u64, start: Instant, rng: &mut Rng) -> Vec<Instant> {
        if let Err(err) = self.validate("arrival process") {
            panic!("arrivals drawn from a process that was never validated: {err}");
        }
        // The plan is kept in memory; do not let a huge count reserve it all at once.
        let mut plan = Vec::with_capacity(usize::try_from(count.min(1 << 20)).unwrap_or(0));
        match *self {
            ArrivalProcess::Constant { interval } => {
                for index in 1..=count {
                    plan.push(start + Duration::from_us(interval.as_us().saturating_mul(index)));
                }
            }
            ArrivalProcess::Poisson { rate_per_s } => {
                // Accumulate in floating point and round each instant, not each gap: rounding
                // gaps would bias the rate by up to a few percent when gaps are a few µs.
                let mean_gap_us = 1_000_000.0 / rate_per_s;
                let mut since_start_us = 0.0_f64;
                for _ in 0..count {
                    since_start_us += -mean_gap_us * libm::log(open_unit(rng));
                    // `as` saturates (and an infinite sum becomes u64::MAX), so this is monotone.
                    plan.push(start + Duration::from_us(since_start_us.round() as u64));
                }
            }
            ArrivalProcess::Bursts {
                burst_size,
                within,
                every,
            } => {
                let mut remaining = count;
                let mut burst_index = 0u64;
                // At most `count` offsets are ever drawn: a huge burst size must not reserve
                // memory for requests that never come.
                let mut offsets_us = Vec::with_capacity(
                    usize::try_from(count.min(u64::from(burst_size))).expect("at most a u32"),
                );
                while remaining > 0 {
                    let burst_start = start + Duration::from_us(every.as_us().saturating_mul(burst_index));
                    let size = remaining.min(u64::from(burst_size));
                    offsets_us.clear();
                    offsets_us.extend((0..size).map(|_| match within.as_us() {
                        0 => 0,
                        within_us => rng.random_range(0..within_us),
                    }));
                    offsets_us.sort_unstable();
                    plan.extend(
                        offsets_us
                            .iter()
                            .map(|&offset_us| burst_start + Duration::from_us(offset_us)),
                    );
                    remaining -= size;
                    burst_index += 1;
                }
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng as _;

    use super::*;
    use crate::sim::{Purpose, SeedTree};

    fn rng(seed: u64) -> Rng {
        SeedTree::new(seed).stream(Purpose::Workload)
    }

    fn assert_non_decreasing(plan: &[Instant]) {
        for pair in plan.windows(2) {
            assert!(pair[0] <= pair[1], "arrivals go back in time: {pair:?}");
        }
    }

    #[test]
    fn poisson_mean_gap_is_within_five_standard_errors_of_one_over_rate() {
        let count = 100_000u64;
        let rate_per_s = 250.0;
        let start = Instant::from_ms(7);
        let plan = ArrivalProcess::Poisson { rate_per_s }.arrivals(count, start, &mut rng(11));
        assert_eq!(plan.len() as u64, count);
        assert_non_decreasing(&plan);
        assert!(plan[0] > start);
        let mean_gap_us = (plan[plan.len() - 1] - start).as_us() as f64 / count as f64;
        let want_us = 1_000_000.0 / rate_per_s;
        // An exponential's standard deviation equals its mean.
        let standard_error_us = want_us / (count as f64).sqrt();
        assert!(
            (mean_gap_us - want_us).abs() <= 5.0 * standard_error_us,
            "mean gap {mean_gap_us}us, want {want_us}us ± {}us",
            5.0 * standard_error_us
        );
    }

    #[test]
    fn poisson_gaps_vary_rather_than_repeat_the_mean() {
        let plan = ArrivalProcess::Poisson { rate_per_s: 100.0 }.arrivals(1_000, Instant::ZERO, &mut rng(2));
        let mut gaps: Vec<u64> = plan.windows(2).map(|p| (p[1] - p[0]).as_us()).collect();
        gaps.sort_unstable();
        // For an exponential with mean 10ms, the 10th percentile is ~1ms and the 90th ~23ms.
        assert!(gaps[100] < 3_000, "10th percentile {}us", gaps[100]);
        assert!(gaps[900] > 15_000, "90th percentile {}us", gaps[900]);
    }

    #[test]
    fn constant_arrivals_are_exactly_spaced_and_draw_nothing() {
        let start = Instant::from_us(5);
        let mut drawn = rng(1);
        let plan = ArrivalProcess::Constant {
            interval: Duration::from_us(1_500),
        }
        .arrivals(4, start, &mut drawn);
        let want: Vec<Instant> = [1_505, 3_005, 4_505, 6_005]
            .into_iter()
            .map(Instant::from_us)
            .collect();
        assert_eq!(plan, want);
        assert_eq!(drawn.next_u64(), rng(1).next_u64(), "constant arrivals drew");
    }

    #[test]
    fn bursts_put_burst_size_arrivals_in_each_every_window() {
        let every = Duration::from_ms(100);
        let start = Instant::from_ms(3);
        let process = ArrivalProcess::Bursts {
            burst_size: 7,
            within: Duration::from_ms(20),
            every,
        };
        let count = 7 * 50 + 3;
        let plan = process.arrivals(count, start, &mut rng(5));
        assert_eq!(plan.len() as u64, count);
        assert_non_decreasing(&plan);
        let mut per_window = vec![0u32; 51];
        for at in &plan {
            let since_start_us = (*at - start).as_us();
            let window = (since_start_us / every.as_us()) as usize;
            assert!(
                since_start_us % every.as_us() < 20_000,
                "arrival at {at} is outside its burst's spread"
            );
            per_window[window] += 1;
        }
        assert!(per_window[..50].iter().all(|&n| n == 7), "{per_window:?}");
        assert_eq!(per_window[50], 3, "the last burst is cut short");
        assert!(
            plan[..7].windows(2).any(|p| p[0] != p[1]),
            "a burst with a spread put every arrival at one instant"
        );
    }

    #[test]
    fn bursts_without_spread_arrive_at_once() {
        let plan = ArrivalProcess::Bursts {
            burst_size: 3,
            within: Duration::ZERO,
            every: Duration::from_ms(1),
        }
        .arrivals(6, Instant::ZERO, &mut rng(1));
        let want: Vec<Instant> = [0, 0, 0, 1_000, 1_000, 1_000]
            .into_iter()
            .map(Instant::from_us)
            .collect();
        assert_eq!(plan, want);
    }

    #[test]
    fn a_huge_burst_size_with_few_requests_reserves_only_what_it_draws() {
        // Reserving `burst_size` offsets up front would ask for 32 GiB here.
        let plan = ArrivalProcess::Bursts {
            burst_size: u32::MAX,
            within: Duration::from_ms(1),
            every: Duration::from_ms(1),
        }
        .arrivals(3, Instant::ZERO, &mut rng(1));
        assert_eq!(plan.len(), 3);
        assert_non_decreasing(&plan);
    }

    #[test]
    fn invalid_arrival_settings_are_rejected_naming_the_setting() {
        let bad = [
            (
                ArrivalProcess::Constant {
                    interval: Duration::ZERO,
                },
                "`interval`",
            ),
            (ArrivalProcess::Poisson { rate_per_s: 0.0 }, "`rate_per_s`"),
            (ArrivalProcess::Poisson { rate_per_s: -3.0 }, "`rate_per_s`"),
            (ArrivalProcess::Poisson { rate_per_s: f64::NAN }, "`rate_per_s`"),
            (
                ArrivalProcess::Poisson {
                    rate_per_s: f64::INFINITY,
                },
                "`rate_per_s`",
            ),
            (
                ArrivalProcess::Bursts {
                    burst_size: 0,
                    within: Duration::ZERO,
                    every: Duration::from_ms(1),
                },
                "`burst_size`",
            ),
            (
                ArrivalProcess::Bursts {
                    burst_size: 1,
                    within: Duration::ZERO,
                    every: Duration::ZERO,
                },
                "`every`",
            ),
            (
                ArrivalProcess::Bursts {
                    burst_size: 1,
                    within: Duration::from_ms(2),
                    every: Duration::from_ms(1),
                },
                "`within`",
            ),
        ];
        for (process, field) in bad {
            let err = process.validate("workload.arrival").unwrap_err();
            let message = err.to_string();
            assert!(message.starts_with("workload.arrival: "), "{message}");
            assert!(err.problem.contains(field), "{message} does not name {field}");
            assert!(!err.hint.is_empty(), "{message} has no hint");
        }
        let fine = ArrivalProcess::Bursts {
            burst_size: 1,
            within: Duration::from_ms(1),
            every: Duration::from_ms(1),
        };
        assert_eq!(fine.validate("workload.arrival"), Ok(()));
    }
}

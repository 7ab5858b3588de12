//! Latency distributions, sampled to whole microseconds.
//!
//! Heavy-tailed and bell-shaped delays need `ln`, `exp`, `sqrt` and `cos`; they come from the
//! pure-Rust `libm` crate rather than the platform's maths library, whose last-bit results may
//! differ between machines, so a seed gives the same delays everywhere. Every sample is
//! clamped to [0, [`MAX_LATENCY_US`]]: a Pareto tail or a normal's negative side never produces
//! an event in the past or one beyond any run's horizon.

use rand::{Rng as _, RngExt as _};

use super::error::ConfigError;
use crate::sim::{Duration, Rng};

/// The longest delay a sample can take: one hour.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// How long a message spends on a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LatencyDist {
    /// Always the same delay; draws nothing.
    Constant {
        /// The delay.
        us: u64,
    },
    /// Uniform over `min_us..=max_us`; reorders messages whenever the range is wide enough.
    Uniform {
        /// Shortest delay.
        min_us: u64,
        /// Longest delay.
        max_us: u64,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean delay.
        mean_us: f64,
        /// Standard deviation.
        std_dev_us: f64,
    },
    /// Exponential with the given mean (memoryless queueing delay).
    Exponential {
        /// Mean delay.
        mean_us: f64,
    },
    /// Log-normal: `median_us * exp(sigma * z)` for a standard normal `z`.
    LogNormal {
        /// Median delay.
        median_us: f64,
        /// Spread of the underlying normal.
        sigma: f64,
    },
    /// Pareto (power-law tail) with minimum `scale_us` and tail index `shape`.
    Pareto {
        /// Smallest delay.
        scale_us: f64,
        /// Tail index; smaller is heavier.
        shape: f64,
    },
}

impl LatencyDist {
    /// Checks the parameters; `what` names the setting in the error.
    pub fn validate(&self, what: &str) -> Result<(), ConfigError> {
        let problem = match *self {
            LatencyDist::Constant { us } if us > MAX_LATENCY_US => {
                Some(format!("constant latency {us}us exceeds the 1 hour cap"))
            }
            LatencyDist::Constant { .. } => None,
            LatencyDist::Uniform { min_us, max_us } if min_us > max_us => Some(format!(
                "uniform latency has negative width: min {min_us}us is above max {max_us}us"
            )),
            LatencyDist::Uniform { min_us, max_us } if min_us == max_us => Some(format!(
                "uniform latency has zero width ({min_us}us..={max_us}us); use a constant latency instead"
            )),
            LatencyDist::Uniform { max_us, .. } if max_us > MAX_LATENCY_US => {
                Some(format!("uniform latency max {max_us}us exceeds the 1 hour cap"))
            }
            LatencyDist::Uniform { .. } => None,
            LatencyDist::Normal { mean_us, std_dev_us } => {
                positive_or_zero("mean", mean_us).or_else(|| positive("standard deviation", std_dev_us))
            }
            LatencyDist::Exponential { mean_us } => positive("mean", mean_us),
            LatencyDist::LogNormal { median_us, sigma } => {
                positive("median", median_us).or_else(|| positive("sigma", sigma))
            }
            LatencyDist::Pareto { scale_us, shape } => {
                positive("scale", scale_us).or_else(|| positive("shape", shape))
            }
        };
        match problem {
            Some(problem) => Err(ConfigError::BadDistribution {
                what: what.to_string(),
                problem,
            }),
            None => Ok(()),
        }
    }

    /// Whether every draw is the same (and draws nothing from the stream).
    pub fn is_constant(&self) -> bool {
        matches!(self, LatencyDist::Constant { .. })
    }

    /// The distribution's mean, µs (a normal's truncation at zero ignored; a Pareto with
    /// shape at most 1, whose mean is infinite, reports its scale).
    pub fn mean_us(&self) -> f64 {
        match *self {
            LatencyDist::Constant { us } => us as f64,
            LatencyDist::Uniform { min_us, max_us } => (min_us + max_us) as f64 / 2.0,
            LatencyDist::Normal { mean_us, .. } | LatencyDist::Exponential { mean_us } => mean_us,
            LatencyDist::LogNormal { median_us, sigma } => median_us * (sigma * sigma / 2.0).exp(),
            LatencyDist::Pareto { scale_us, shape } if shape > 1.0 => scale_us * shape / (shape - 1.0),
            LatencyDist::Pareto { scale_us, .. } => scale_us,
        }
    }

    /// Draws one delay. The integer shapes are drawn inline, since every send draws one;
    /// the shapes needing floating-point maths are drawn out of line.
    #[inline(always)]
    pub fn sample(&self, rng: &mut Rng) -> Duration {
        match *self {
            LatencyDist::Constant { us } => Duration::from_us(us),
            LatencyDist::Uniform { min_us, max_us } => Duration::from_us(rng.random_range(min_us..=max_us)),
            _ => self.sample_shaped(rng),
        }
    }

    /// [`LatencyDist::sample`] for the float shapes: normal, exponential, log-normal, Pareto.
    #[inline(never)]
    fn sample_shaped(&self, rng: &mut Rng) -> Duration {
        let us = match *self {
            LatencyDist::Constant { .. } | LatencyDist::Uniform { .. } => {
                unreachable!("integer shapes are drawn by `sample`")
            }
            LatencyDist::Normal { mean_us, std_dev_us } => mean_us + std_dev_us * standard_normal(rng),
            LatencyDist::Exponential { mean_us } => -mean_us * libm::log(open_unit(rng)),
            LatencyDist::LogNormal { median_us, sigma } => {
                median_us * libm::exp(sigma * standard_normal(rng))
            }
            LatencyDist::Pareto { scale_us, shape } => scale_us / libm::pow(open_unit(rng), 1.0 / shape),
        };
        Duration::from_us(clamp_to_us(us))
    }
}

fn positive(name: &str, value: f64) -> Option<String> {
    (!(value.is_finite() && value > 0.0)).then(|| format!("{name} must be a positive number, got {value}"))
}

fn positive_or_zero(name: &str, value: f64) -> Option<String> {
    (!(value.is_finite() && value >= 0.0)).then(|| format!("{name} must be zero or more, got {value}"))
}

fn clamp_to_us(us: f64) -> u64 {
    if us.is_nan() || us <= 0.0 {
        0
    } else if us >= MAX_LATENCY_US as f64 {
        MAX_LATENCY_US
    } else {
        us.round() as u64
    }
}

/// A uniform float in (0, 1], from 53 random bits; never zero, so `ln` is finite. Shared with
/// `workload::arrival`, whose Poisson gaps need the same guarantee.
pub(crate) fn open_unit(rng: &mut Rng) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// One standard normal draw by the Box-Muller transform (two uniforms, one result).
fn standard_normal(rng: &mut Rng) -> f64 {
    let u1 = open_unit(rng);
    let u2 = open_unit(rng);
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Purpose, SeedTree};

    fn mean_and_median(dist: LatencyDist) -> (f64, f64) {
        let mut rng = SeedTree::new(7).stream(Purpose::Other(1));
        let mut samples: Vec<u64> = (0..200_000).map(|_| dist.sample(&mut rng).as_us()).collect();
        let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
        samples.sort_unstable();
        (mean, samples[samples.len() / 2] as f64)
    }

    fn assert_near(what: &str, got: f64, want: f64, tolerance: f64) {
        assert!(
            (got - want).abs() <= tolerance * want,
            "{what}: got {got}, want {want} ± {}%",
            tolerance * 100.0
        );
    }

    #[test]
    fn samples_have_the_configured_centre() {
        let (mean, _) = mean_and_median(LatencyDist::Uniform {
            min_us: 1_000,
            max_us: 10_000,
        });
        assert_near("uniform mean", mean, 5_500.0, 0.01);
        let (mean, _) = mean_and_median(LatencyDist::Normal {
            mean_us: 5_000.0,
            std_dev_us: 500.0,
        });
        assert_near("normal mean", mean, 5_000.0, 0.01);
        let (mean, _) = mean_and_median(LatencyDist::Exponential { mean_us: 2_000.0 });
        assert_near("exponential mean", mean, 2_000.0, 0.02);
        let (_, median) = mean_and_median(LatencyDist::LogNormal {
            median_us: 3_000.0,
            sigma: 0.5,
        });
        assert_near("log-normal median", median, 3_000.0, 0.02);
        // Pareto mean is scale * shape / (shape - 1) for shape > 1.
        let (mean, _) = mean_and_median(LatencyDist::Pareto {
            scale_us: 1_000.0,
            shape: 3.0,
        });
        assert_near("pareto mean", mean, 1_500.0, 0.03);
    }

    #[test]
    fn samples_stay_within_bounds() {
        let mut rng = SeedTree::new(3).stream(Purpose::Other(2));
        let normal = LatencyDist::Normal {
            mean_us: 10.0,
            std_dev_us: 1_000.0,
        };
        let pareto = LatencyDist::Pareto {
            scale_us: 1.0,
            shape: 0.01,
        };
        for _ in 0..10_000 {
            assert!(normal.sample(&mut rng).as_us() <= MAX_LATENCY_US);
            assert!(pareto.sample(&mut rng).as_us() <= MAX_LATENCY_US);
        }
    }

    #[test]
    fn impossible_parameters_are_rejected_with_the_setting_named() {
        let bad = [
            LatencyDist::Uniform {
                min_us: 10,
                max_us: 5,
            },
            LatencyDist::Uniform { min_us: 5, max_us: 5 },
            LatencyDist::Normal {
                mean_us: 5.0,
                std_dev_us: 0.0,
            },
            LatencyDist::Normal {
                mean_us: -5.0,
                std_dev_us: 1.0,
            },
            LatencyDist::Exponential { mean_us: -1.0 },
            LatencyDist::LogNormal {
                median_us: 1.0,
                sigma: f64::NAN,
            },
            LatencyDist::Pareto {
                scale_us: 0.0,
                shape: 2.0,
            },
        ];
        for dist in bad {
            let err = dist.validate("link a->b latency").unwrap_err().to_string();
            assert!(err.starts_with("link a->b latency: "), "{err}");
        }
        assert!(LatencyDist::Constant { us: 0 }.validate("x").is_ok());
    }
}

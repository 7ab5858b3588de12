//! Probabilities as integers, so a decision never depends on float rounding.
//!
//! A probability read from a file as `0.01` becomes a threshold out of 2^32 at load time; a
//! decision draws one `u32` and compares. The threshold is exact to 2^-32, far below any rate a
//! run can measure.

use rand::Rng as _;

use super::error::ConfigError;
use crate::sim::Rng;

const ONE: u64 = 1 << 32;

/// The chance of an event (loss, duplication), stored as a threshold out of 2^32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Probability {
    threshold: u64,
}

impl Probability {
    /// Never happens; draws nothing.
    pub const NEVER: Probability = Probability { threshold: 0 };
    /// Always happens.
    pub const ALWAYS: Probability = Probability { threshold: ONE };

    /// `p` in [0, 1]; anything else (or NaN) is a configuration error naming `what`.
    pub fn new(what: &str, p: f64) -> Result<Self, ConfigError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(ConfigError::ProbabilityOutOfRange {
                what: what.to_string(),
                value: p,
            });
        }
        Ok(Probability {
            threshold: (p * ONE as f64).round() as u64,
        })
    }

    /// `numerator / denominator`, e.g. `(1, 1000)`; the denominator must be positive and not
    /// smaller than the numerator.
    pub fn ratio(what: &str, numerator: u64, denominator: u64) -> Result<Self, ConfigError> {
        if denominator == 0 || numerator > denominator {
            return Err(ConfigError::ProbabilityOutOfRange {
                what: what.to_string(),
                value: numerator as f64 / denominator as f64,
            });
        }
        Ok(Probability {
            threshold: ((u128::from(numerator) << 32) / u128::from(denominator)) as u64,
        })
    }

    /// The probability as a float, for reports.
    pub fn as_f64(self) -> f64 {
        self.threshold as f64 / ONE as f64
    }

    /// True when it can never happen; such a decision draws no number.
    pub fn is_never(self) -> bool {
        self.threshold == 0
    }

    /// Decides one trial with one `u32` draw (none when the probability is zero).
    #[inline]
    pub fn sample(self, rng: &mut Rng) -> bool {
        self.threshold != 0 && u64::from(rng.next_u32()) < self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Purpose, SeedTree};

    #[test]
    fn out_of_range_values_are_rejected() {
        for bad in [-0.1, 1.5, f64::NAN] {
            let err = Probability::new("loss", bad).unwrap_err();
            assert!(err.to_string().contains("loss"), "{err}");
        }
        assert!(Probability::ratio("loss", 2, 1).is_err());
        assert!(Probability::ratio("loss", 0, 0).is_err());
    }

    #[test]
    fn never_and_always_are_exact() {
        let mut rng = SeedTree::new(1).stream(Purpose::Other(0));
        assert!((0..1000).all(|_| !Probability::NEVER.sample(&mut rng)));
        assert!((0..1000).all(|_| Probability::ALWAYS.sample(&mut rng)));
        assert_eq!(
            Probability::ratio("x", 1, 4).unwrap(),
            Probability::new("x", 0.25).unwrap()
        );
    }
}

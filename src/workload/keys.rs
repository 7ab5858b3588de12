//! Which key (account, product, row) a request touches: uniform or Zipf-skewed popularity.
//!
//! Skew is what makes strategies differ: with Zipf keys a few hot accounts see most of the
//! conflicts. A [`KeySampler`] turns a [`KeyPopularity`] into a table once, then each draw is
//! one random `u64` and a binary search. The Zipf weights need `pow`, taken from the pure-Rust
//! `libm` crate so a seed picks the same keys on every machine; the table itself is integers,
//! so the decision compares integers (style 2.5.7).

use rand::{Rng as _, RngExt as _};

use super::error::WorkloadError;
use crate::sim::Rng;

/// The most keys a Zipf table may cover: 8 bytes each, so 80 MB at most.
pub const MAX_ZIPF_KEY_COUNT: u64 = 10_000_000;

/// The total weight of a Zipf table: a power of two, so one `u64` draw shifted right is an
/// exact uniform draw over it, with no rejection loop.
const TABLE_TOTAL: u64 = 1 << 63;

/// How popular each key `0..key_count` is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyPopularity {
    /// Every key equally likely: the no-contention baseline.
    Uniform,
    /// Key `k` has weight `1 / (k + 1)^exponent`, so key 0 is the hottest. An exponent of 0 is
    /// uniform; around 1 is typical of real traffic; larger is more skewed.
    Zipf {
        /// Skew; finite and at least 0.
        exponent: f64,
    },
}

/// Draws keys with a given popularity; built once per plan, then cheap per draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySampler {
    key_count: u64,
    table: Table,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Table {
    /// Uniform draws need no table.
    Uniform,
    /// `cumulative[k]` is the total weight of keys `0..=k`; strictly increasing (every key has
    /// weight at least 1, so every key stays drawable and a distinct second key always exists)
    /// and ending at [`TABLE_TOTAL`].
    Cumulative(Vec<u64>),
}

impl KeyPopularity {
    /// Checks the popularity against `key_count`; `what` names the setting in the error.
    ///
    /// Needs the count because a Zipf table is built per key, so it must fit in memory.
    pub fn validate(&self, what: &str, key_count: u64) -> Result<(), WorkloadError> {
        if key_count == 0 {
            return Err(WorkloadError::new(
                what,
                "`key_count` is zero, so a request has no key to touch",
                "give at least 1 key",
            ));
        }
        match *self {
            KeyPopularity::Uniform => Ok(()),
            KeyPopularity::Zipf { exponent } if !(exponent.is_finite() && exponent >= 0.0) => {
                Err(WorkloadError::new(
                    what,
                    format!("zipf `exponent` must be a finite number of at least 0, got {exponent}"),
                    "use 0 for uniform keys, around 1.0 for realistic skew, more for hotter keys",
                ))
            }
            KeyPopularity::Zipf { exponent } if exponent > 0.0 && key_count > MAX_ZIPF_KEY_COUNT => {
                Err(WorkloadError::new(
                    what,
                    format!(
                        "zipf over {key_count} keys needs a table larger than the {MAX_ZIPF_KEY_COUNT} key limit"
                    ),
                    format!("use at most {MAX_ZIPF_KEY_COUNT} keys, or uniform keys"),
                ))
            }
            KeyPopularity::Zipf { .. } => Ok(()),
        }
    }
}

impl KeySampler {
    /// A sampler over keys `0..key_count`; fails when [`KeyPopularity::validate`] would.
    ///
    /// A Zipf table costs one `pow` per key here and nothing per draw.
    pub fn new(popularity: KeyPopularity, key_count: u64) -> Result<Self, WorkloadError> {
        popularity.validate("keys", key_count)?;
        let table = match popularity {
            KeyPopularity::Zipf { exponent } if exponent > 0.0 => {
                Table::Cumulative(zipf_table(exponent, key_count))
            }
            KeyPopularity::Uniform | KeyPopularity::Zipf { .. } => Table::Uniform,
        };
        Ok(KeySampler { key_count, table })
    }

    /// How many keys there are; every draw is below this.
    pub fn key_count(&self) -> u64 {
        self.key_count
    }

    /// Draws one key.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        match &self.table {
            Table::Uniform => rng.random_range(0..self.key_count),
            Table::Cumulative(cumulative) => {
                let point = rng.next_u64() >> 1;
                key_at(cumulative, point)
            }
        }
    }

    /// Draws a key other than `first` with the same relative popularity among the rest (a
    /// transfer's second account), using one draw; returns `first` only when it is the sole
    /// key, and then draws nothing.
    ///
    /// One draw from the remaining weight rather than redrawing until different, so a key that
    /// holds nearly all the weight cannot make this loop for long.
    ///
    /// # Panics
    ///
    /// If `first` is not a key of this sampler.
    pub fn sample_other(&self, first: u64, rng: &mut Rng) -> u64 {
        assert!(
            first < self.key_count,
            "key {first} is outside 0..{}",
            self.key_count
        );
        if self.key_count == 1 {
            return first;
        }
        match &self.table {
            Table::Uniform => {
                let other = rng.random_range(0..self.key_count - 1);
                if other >= first { other + 1 } else { other }
            }
            Table::Cumulative(cumulative) => {
                let index = first as usize;
                let below = if index == 0 { 0 } else { cumulative[index - 1] };
                let width = cumulative[index] - below;
                // Draw over the total without `first`'s slice, then step over that slice.
                let mut point = rng.random_range(0..TABLE_TOTAL - width);
                if point >= below {
                    point += width;
                }
                key_at(cumulative, point)
            }
        }
    }
}

/// The key whose slice of the cumulative table holds `point` (which is below the total).
fn key_at(cumulative: &[u64], point: u64) -> u64 {
    cumulative.partition_point(|&upto| upto <= point) as u64
}

/// The cumulative integer table for Zipf weights `1 / (k + 1)^exponent`, scaled so the total
/// is [`TABLE_TOTAL`] and every key has weight at least 1 (a distortion of at most
/// `key_count / 2^63`, far below anything a run can measure).
fn zipf_table(exponent: f64, key_count: u64) -> Vec<u64> {
    let mut sums = Vec::with_capacity(key_count as usize);
    let mut sum = 0.0_f64;
    for rank in 1..=key_count {
        sum += libm::pow(rank as f64, -exponent);
        sums.push(sum);
    }
    // Spread all but one unit per key by weight; `as` truncates and saturates, and the
    // `min` keeps rounding of the scale from pushing past it, so the table stays monotone.
    let spread = TABLE_TOTAL - key_count;
    let scale = spread as f64 / sum;
    let mut cumulative: Vec<u64> = sums
        .iter()
        .zip(1..)
        .map(|(&partial, floor)| ((partial * scale) as u64).min(spread) + floor)
        .collect();
    *cumulative.last_mut().expect("key_count is at least 1") = TABLE_TOTAL;
    cumulative
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Purpose, SeedTree};

    const DRAWS: u64 = 100_000;

    fn counts(sampler: &KeySampler, seed: u64) -> Vec<u64> {
        let mut rng = SeedTree::new(seed).stream(Purpose::Workload);
        let mut counts = vec![0u64; sampler.key_count() as usize];
        for _ in 0..DRAWS {
            counts[sampler.sample(&mut rng) as usize] += 1;
        }
        counts
    }

    /// Asserts `count` of `DRAWS` is within 5 standard errors of share `p`.
    fn assert_share(what: &str, count: u64, p: f64) {
        let want = p * DRAWS as f64;
        let tolerance = 5.0 * (DRAWS as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (count as f64 - want).abs() <= tolerance,
            "{what}: {count} draws, want {want} ± {tolerance}"
        );
    }

    #[test]
    fn zipf_one_gives_key_zero_its_theoretical_share_and_far_more_than_the_last_key() {
        let key_count = 100;
        let sampler = KeySampler::new(KeyPopularity::Zipf { exponent: 1.0 }, key_count).unwrap();
        let counts = counts(&sampler, 3);
        let harmonic: f64 = (1..=key_count).map(|k| 1.0 / k as f64).sum();
        assert_share("key 0", counts[0], 1.0 / harmonic);
        assert_share("key 1", counts[1], 0.5 / harmonic);
        let last = counts[key_count as usize - 1];
        assert!(
            counts[0] > 30 * last.max(1),
            "key 0 drawn {} times, last key {last}",
            counts[0]
        );
    }

    #[test]
    fn uniform_keys_are_drawn_equally_within_tolerance() {
        for popularity in [KeyPopularity::Uniform, KeyPopularity::Zipf { exponent: 0.0 }] {
            let sampler = KeySampler::new(popularity, 10).unwrap();
            for (key, &count) in counts(&sampler, 4).iter().enumerate() {
                assert_share(&format!("{popularity:?} key {key}"), count, 0.1);
            }
        }
    }

    #[test]
    fn second_key_differs_and_follows_the_popularity_of_the_rest() {
        let sampler = KeySampler::new(KeyPopularity::Zipf { exponent: 1.0 }, 4).unwrap();
        let mut rng = SeedTree::new(8).stream(Purpose::Workload);
        let mut counts = [0u64; 4];
        for _ in 0..DRAWS {
            let other = sampler.sample_other(0, &mut rng);
            assert_ne!(other, 0);
            counts[other as usize] += 1;
        }
        // Without key 0 the weights are 1/2, 1/3, 1/4, which sum to 13/12.
        assert_share("key 1", counts[1], 6.0 / 13.0);
        assert_share("key 2", counts[2], 4.0 / 13.0);
        assert_share("key 3", counts[3], 3.0 / 13.0);

        let uniform = KeySampler::new(KeyPopularity::Uniform, 3).unwrap();
        let mut seen = [false; 3];
        for _ in 0..100 {
            let other = uniform.sample_other(1, &mut rng);
            assert_ne!(other, 1);
            seen[other as usize] = true;
        }
        assert_eq!(seen, [true, false, true]);
    }

    #[test]
    fn second_key_exists_even_when_one_key_holds_almost_all_weight() {
        let sampler = KeySampler::new(KeyPopularity::Zipf { exponent: 200.0 }, 3).unwrap();
        let mut rng = SeedTree::new(1).stream(Purpose::Workload);
        assert!((0..1_000).all(|_| sampler.sample(&mut rng) == 0));
        for _ in 0..1_000 {
            assert_ne!(sampler.sample_other(0, &mut rng), 0);
        }
    }

    #[test]
    fn a_single_key_is_its_own_second_key() {
        for popularity in [KeyPopularity::Uniform, KeyPopularity::Zipf { exponent: 1.0 }] {
            let sampler = KeySampler::new(popularity, 1).unwrap();
            let mut rng = SeedTree::new(1).stream(Purpose::Workload);
            assert_eq!(sampler.sample(&mut rng), 0);
            assert_eq!(sampler.sample_other(0, &mut rng), 0);
        }
    }

    #[test]
    fn invalid_key_settings_are_rejected_naming_the_setting() {
        let bad = [
            (KeyPopularity::Uniform, 0, "`key_count`"),
            (KeyPopularity::Zipf { exponent: 1.0 }, 0, "`key_count`"),
            (KeyPopularity::Zipf { exponent: -0.5 }, 10, "`exponent`"),
            (KeyPopularity::Zipf { exponent: f64::NAN }, 10, "`exponent`"),
            (
                KeyPopularity::Zipf {
                    exponent: f64::INFINITY,
                },
                10,
                "`exponent`",
            ),
            (
                KeyPopularity::Zipf { exponent: 1.0 },
                MAX_ZIPF_KEY_COUNT + 1,
                "zipf over",
            ),
        ];
        for (popularity, key_count, field) in bad {
            let err = popularity.validate("workload.keys", key_count).unwrap_err();
            let message = err.to_string();
            assert!(message.starts_with("workload.keys: "), "{message}");
            assert!(err.problem.contains(field), "{message} does not name {field}");
            assert!(!err.hint.is_empty(), "{message} has no hint");
            assert_eq!(
                KeySampler::new(popularity, key_count).unwrap_err().problem,
                err.problem
            );
        }
    }
}

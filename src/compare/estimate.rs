//! A mean over seeds with its 95% confidence interval.
//!
//! Comparisons run a handful to a few hundred seeds. With 10 or 20 seeds the normal
//! approximation (1.96) understates the interval noticeably, so the half-width uses Student's
//! t quantile for the sample's degrees of freedom (statrs computes it).

use serde::Serialize;

/// Mean and 95% confidence half-width of one metric over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean over the samples.
    pub mean: f64,
    /// Half-width of the 95% confidence interval of the mean, `t(0.975, n-1) s / sqrt(n)`;
    /// 0 with one sample, where no spread can be measured.
    pub ci95: f64,
    /// How many samples (seeds) it is over: a metric some runs cannot measure
    /// (availability without a partition) has fewer than the seeds run.
    pub n: u64,
}

impl Estimate {
    /// The estimate from samples (at least one).
    pub fn of(samples: &[f64]) -> Estimate {
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        if samples.len() < 2 {
            return Estimate {
                mean,
                ci95: 0.0,
                n: samples.len() as u64,
            };
        }
        let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Estimate {
            mean,
            ci95: t_975(samples.len() as u64 - 1) * (variance / n).sqrt(),
            n: samples.len() as u64,
        }
    }

    /// The estimate over the samples that exist; `None` when none does.
    pub fn of_some(samples: impl Iterator<Item = Option<f64>>) -> Option<Estimate> {
        let present: Vec<f64> = samples.flatten().collect();
        (!present.is_empty()).then(|| Estimate::of(&present))
    }

    /// True when the interval excludes zero: for a paired difference, the strategies
    /// differ on this metric at the 5% level.
    pub fn excludes_zero(&self) -> bool {
        self.n >= 2 && self.mean.abs() > self.ci95
    }
}

/// The 0.975 quantile of Student's t with `df` (at least 1) degrees of freedom, from statrs
/// (it replaced a three-decimal table and a series expansion written here).
fn t_975(df: u64) -> f64 {
    use statrs::distribution::{ContinuousCDF as _, StudentsT};
    StudentsT::new(0.0, 1.0, df.max(1) as f64)
        .expect("a positive number of degrees of freedom")
        .inverse_cdf(0.975)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_have_a_mean_and_a_student_t_confidence_interval() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0]);
        assert!((e.mean - 2.5).abs() < 1e-12);
        // s = 1.291, n = 4, t(0.975, 3) = 3.182: 3.182 * 1.291 / 2 = 2.054.
        assert!((e.ci95 - 2.054).abs() < 0.001, "{e:?}");
        assert_eq!(e.n, 4);
        assert_eq!(Estimate::of(&[5.0]).ci95, 0.0);
    }

    #[test]
    fn the_t_quantile_joins_the_table_and_tends_to_the_normal() {
        // The textbook table's values, to its three decimals: t(0.975, 1) = 12.706,
        // t(0.975, 30) = 2.042, t(0.975, 40) = 2.021, t(0.975, 120) = 1.980.
        assert!((t_975(1) - 12.706).abs() < 0.001, "{}", t_975(1));
        assert!((t_975(19) - 2.093).abs() < 0.001, "{}", t_975(19));
        assert!((t_975(30) - 2.042).abs() < 0.001);
        assert!((t_975(31) - 2.040).abs() < 0.001, "{}", t_975(31));
        assert!((t_975(40) - 2.021).abs() < 0.001, "{}", t_975(40));
        assert!((t_975(120) - 1.980).abs() < 0.001, "{}", t_975(120));
        assert!((t_975(1_000_000) - 1.960).abs() < 0.001);
    }

    #[test]
    fn missing_samples_are_skipped_and_none_measured_is_none() {
        assert_eq!(Estimate::of_some([None, None].into_iter()), None);
        let e = Estimate::of_some([Some(2.0), None, Some(4.0)].into_iter()).unwrap();
        assert!((e.mean - 3.0).abs() < 1e-12, "{e:?}");
        assert_eq!(e.n, 2);
    }

    #[test]
    fn an_interval_excludes_zero_only_when_the_mean_is_outside_it() {
        assert!(Estimate::of(&[1.0, 1.1, 0.9]).excludes_zero());
        assert!(!Estimate::of(&[1.0, -1.0, 0.5]).excludes_zero());
        assert!(!Estimate::of(&[3.0]).excludes_zero(), "one sample proves nothing");
    }
}

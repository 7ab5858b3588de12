//! Comparing strategies: the same scenario (workload and faults, by common random numbers)
//! under several strategies and seeds, summarised as means with 95% confidence intervals.
//!
//! Every seed gives every strategy the same arrivals and the same fault schedule, because
//! those are drawn from their own streams (see `sim::rng`); differences between columns are
//! the strategies', not the dice's.

use std::fmt::Write as _;
use std::ops::Range;

use crate::seeds::map_ordered;

use serde::Serialize;

use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::sim::TraceLevel;

/// One run's numbers, as compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    /// Strategy.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// Business transactions started.
    pub started: u64,
    /// Share of started transactions answered committed (or accepted).
    pub committed_share: f64,
    /// Share answered aborted.
    pub aborted_share: f64,
    /// Share that timed out at the gateway.
    pub timed_out_share: f64,
    /// Transactions half applied or in doubt at the end.
    pub stuck_or_in_doubt: u64,
    /// Median end-to-end latency, µs.
    pub latency_p50_us: u64,
    /// 99th percentile latency, µs.
    pub latency_p99_us: u64,
    /// Messages sent per started transaction.
    pub messages_per_tx: f64,
    /// Checks violated (or not judged) in this run, by name.
    pub violated: Vec<String>,
}

/// Mean and 95% confidence half-width of one metric over seeds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean over seeds.
    pub mean: f64,
    /// Half-width of the 95% confidence interval (normal approximation, `1.96 s / sqrt(n)`;
    /// 0 with one seed).
    pub ci95: f64,
}

impl Estimate {
    /// The estimate from samples.
    pub fn of(samples: &[f64]) -> Estimate {
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        if samples.len() < 2 {
            return Estimate { mean, ci95: 0.0 };
        }
        let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Estimate {
            mean,
            ci95: 1.96 * (variance / n).sqrt(),
        }
    }
}

/// One strategy's numbers over all seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategySummary {
    /// Strategy.
    pub strategy: String,
    /// Seeds run.
    pub seeds: u64,
    /// Committed (or accepted) share.
    pub committed_share: Estimate,
    /// Aborted share.
    pub aborted_share: Estimate,
    /// Timed-out share.
    pub timed_out_share: Estimate,
    /// Median latency, µs.
    pub latency_p50_us: Estimate,
    /// 99th percentile latency, µs.
    pub latency_p99_us: Estimate,
    /// Messages per transaction.
    pub messages_per_tx: Estimate,
    /// Seeds with at least one check violated or not judged.
    pub runs_with_violations: u64,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Scenario name.
    pub scenario: String,
    /// First seed and one past the last.
    pub seeds: (u64, u64),
    /// One summary per strategy, in the order asked.
    pub summaries: Vec<StrategySummary>,
    /// Every run.
    pub runs: Vec<RunRow>,
}

/// Runs `scenario` under each of `strategies` for every seed in `seeds`, on `pool`'s
/// threads. Every run is independent, so the result is the same on one thread or many.
pub fn compare(
    scenario: &Scenario,
    strategies: &[String],
    seeds: Range<u64>,
    pool: &rayon::ThreadPool,
) -> Result<Comparison, String> {
    let variants = strategies
        .iter()
        .map(|name| scenario.with_strategy(name))
        .collect::<Result<Vec<_>, _>>()?;
    let jobs: Vec<(&Scenario, u64)> = variants
        .iter()
        .flat_map(|variant| seeds.clone().map(move |seed| (variant, seed)))
        .collect();
    let runs = map_ordered(pool, &jobs, |(variant, seed)| row(variant, *seed));
    let per_strategy = usize::try_from(seeds.end - seeds.start).expect("seed ranges fit in memory");
    let summaries = runs.chunks(per_strategy).map(summarise).collect();
    Ok(Comparison {
        scenario: scenario.name.clone(),
        seeds: (seeds.start, seeds.end),
        summaries,
        runs,
    })
}

fn row(scenario: &Scenario, seed: u64) -> RunRow {
    let report: RunReport = scenario.run(seed, TraceLevel::Off).report;
    let t = report.transactions.clone().unwrap_or_default();
    let started = t.started.max(1) as f64;
    let latency = report.latency_us.unwrap_or_default();
    let violated = report
        .checks
        .iter()
        .filter(|v| !v.holds())
        .map(|v| v.check.name().to_string())
        .collect();
    RunRow {
        strategy: report.strategy.clone().unwrap_or_default(),
        seed,
        started: t.started,
        committed_share: (t.committed + t.accepted) as f64 / started,
        aborted_share: t.aborted as f64 / started,
        timed_out_share: t.timed_out as f64 / started,
        stuck_or_in_doubt: t.stuck_or_in_doubt,
        latency_p50_us: latency.p50,
        latency_p99_us: latency.p99,
        messages_per_tx: report.messages.sent as f64 / started,
        violated,
    }
}

fn summarise(rows: &[RunRow]) -> StrategySummary {
    let metric = |f: fn(&RunRow) -> f64| Estimate::of(&rows.iter().map(f).collect::<Vec<_>>());
    StrategySummary {
        strategy: rows.first().map(|r| r.strategy.clone()).unwrap_or_default(),
        seeds: rows.len() as u64,
        committed_share: metric(|r| r.committed_share),
        aborted_share: metric(|r| r.aborted_share),
        timed_out_share: metric(|r| r.timed_out_share),
        latency_p50_us: metric(|r| r.latency_p50_us as f64),
        latency_p99_us: metric(|r| r.latency_p99_us as f64),
        messages_per_tx: metric(|r| r.messages_per_tx),
        runs_with_violations: rows.iter().filter(|r| !r.violated.is_empty()).count() as u64,
    }
}

impl Comparison {
    /// Side by side, one column per strategy, `mean ± ci95`.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} over seeds {}..{} (95% confidence intervals)",
            self.scenario, self.seeds.0, self.seeds.1
        );
        let _ = write!(out, "{:<24}", "");
        for s in &self.summaries {
            let _ = write!(out, "{:>24}", s.strategy);
        }
        out.push('\n');
        let pct = |e: Estimate| format!("{:.1}% ± {:.1}", e.mean * 100.0, e.ci95 * 100.0);
        let ms = |e: Estimate| format!("{:.2}ms ± {:.2}", e.mean / 1000.0, e.ci95 / 1000.0);
        let num = |e: Estimate| format!("{:.1} ± {:.1}", e.mean, e.ci95);
        let column = |s: &StrategySummary| {
            [
                pct(s.committed_share),
                pct(s.aborted_share),
                pct(s.timed_out_share),
                ms(s.latency_p50_us),
                ms(s.latency_p99_us),
                num(s.messages_per_tx),
                format!("{} of {}", s.runs_with_violations, s.seeds),
            ]
        };
        let columns: Vec<[String; 7]> = self.summaries.iter().map(column).collect();
        let labels = [
            "committed or accepted",
            "aborted",
            "timed out",
            "latency p50",
            "latency p99",
            "messages per tx",
            "runs violating a check",
        ];
        for (row, label) in labels.iter().enumerate() {
            let _ = write!(out, "{label:<24}");
            for cells in &columns {
                let _ = write!(out, "{:>24}", cells[row]);
            }
            out.push('\n');
        }
        out
    }

    /// The comparison as pretty JSON: summaries and every run.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison serialises")
    }

    /// Every run as CSV, one line per (strategy, seed), with a header.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "strategy,seed,started,committed_share,aborted_share,timed_out_share,stuck_or_in_doubt,latency_p50_us,latency_p99_us,messages_per_tx,violated\n",
        );
        for r in &self.runs {
            let _ = writeln!(
                out,
                "{},{},{},{:.6},{:.6},{:.6},{},{},{},{:.3},{}",
                r.strategy,
                r.seed,
                r.started,
                r.committed_share,
                r.aborted_share,
                r.timed_out_share,
                r.stuck_or_in_doubt,
                r.latency_p50_us,
                r.latency_p99_us,
                r.messages_per_tx,
                r.violated.join(";")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_have_a_mean_and_a_confidence_interval() {
        let e = Estimate::of(&[1.0, 2.0, 3.0, 4.0]);
        assert!((e.mean - 2.5).abs() < 1e-12);
        // s = 1.291, n = 4: 1.96 * 1.291 / 2 = 1.265.
        assert!((e.ci95 - 1.265).abs() < 0.001, "{e:?}");
        assert_eq!(Estimate::of(&[5.0]).ci95, 0.0);
    }
}

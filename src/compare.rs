//! Comparing strategies: the same scenario (workload and faults, by common random numbers)
//! under several strategies and seeds, summarised as means with 95% confidence intervals.
//!
//! Every seed gives every strategy the same arrivals and the same fault schedule, because
//! those are drawn from their own streams (see `sim::rng`); differences between columns are
//! the strategies', not the dice's. A metric a run cannot measure (availability without a
//! partition, anomalies without audits) is left out of that metric's mean, and a column
//! with no such run says `n/a`.

use std::fmt::Write as _;
use std::ops::Range;

use serde::Serialize;

use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::seeds::map_ordered;
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
    /// Bytes sent per started transaction.
    pub bytes_per_tx: Option<f64>,
    /// Forced log writes (services and coordinator) per started transaction.
    pub forced_writes_per_tx: Option<f64>,
    /// Time local transactions spent queued for locks, per started transaction, µs.
    pub lock_blocked_us_per_tx: Option<f64>,
    /// The longest a prepared 2PC participant held its locks in doubt, µs.
    pub in_doubt_max_us: u64,
    /// 99th percentile of the inconsistency window (first change to last), µs.
    pub inconsistency_window_p99_us: Option<u64>,
    /// Share of requests sent during a partition answered successfully within the
    /// client's deadline.
    pub availability_during_partition: Option<f64>,
    /// Inconsistent audit reads per 1,000 complete audits.
    pub inconsistent_reads_per_1k: Option<f64>,
    /// Dirty reads per 1,000 reads.
    pub dirty_reads_per_1k: Option<f64>,
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

    /// The estimate over the samples that exist; `None` when none does.
    pub fn of_some(samples: impl Iterator<Item = Option<f64>>) -> Option<Estimate> {
        let present: Vec<f64> = samples.flatten().collect();
        (!present.is_empty()).then(|| Estimate::of(&present))
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
    /// Bytes per transaction.
    pub bytes_per_tx: Option<Estimate>,
    /// Forced log writes per transaction.
    pub forced_writes_per_tx: Option<Estimate>,
    /// Lock-blocked time per transaction, µs.
    pub lock_blocked_us_per_tx: Option<Estimate>,
    /// Longest in-doubt time, µs.
    pub in_doubt_max_us: Estimate,
    /// Inconsistency window p99, µs.
    pub inconsistency_window_p99_us: Option<Estimate>,
    /// Availability during partitions.
    pub availability_during_partition: Option<Estimate>,
    /// Inconsistent audit reads per 1,000 complete audits.
    pub inconsistent_reads_per_1k: Option<Estimate>,
    /// Dirty reads per 1,000 reads.
    pub dirty_reads_per_1k: Option<Estimate>,
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
    let metrics = report.metrics.as_ref();
    let anomalies = report.anomalies.as_ref();
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
        bytes_per_tx: metrics.and_then(|m| m.bytes.per_tx),
        forced_writes_per_tx: metrics.and_then(|m| m.forced_writes.per_tx),
        lock_blocked_us_per_tx: metrics.and_then(|m| m.locks.blocked_us_per_tx),
        in_doubt_max_us: metrics.map_or(0, |m| m.in_doubt.max_us),
        inconsistency_window_p99_us: metrics.and_then(|m| m.inconsistency_window.us.map(|p| p.p99)),
        availability_during_partition: metrics
            .and_then(|m| m.availability.during_partition.as_ref())
            .and_then(|s| s.share),
        inconsistent_reads_per_1k: anomalies.and_then(|a| a.inconsistent_audit_reads.per_1k),
        dirty_reads_per_1k: anomalies.and_then(|a| a.dirty_reads.per_1k),
        violated,
    }
}

fn summarise(rows: &[RunRow]) -> StrategySummary {
    let metric = |f: fn(&RunRow) -> f64| Estimate::of(&rows.iter().map(f).collect::<Vec<_>>());
    let some = |f: fn(&RunRow) -> Option<f64>| Estimate::of_some(rows.iter().map(f));
    StrategySummary {
        strategy: rows.first().map(|r| r.strategy.clone()).unwrap_or_default(),
        seeds: rows.len() as u64,
        committed_share: metric(|r| r.committed_share),
        aborted_share: metric(|r| r.aborted_share),
        timed_out_share: metric(|r| r.timed_out_share),
        latency_p50_us: metric(|r| r.latency_p50_us as f64),
        latency_p99_us: metric(|r| r.latency_p99_us as f64),
        messages_per_tx: metric(|r| r.messages_per_tx),
        bytes_per_tx: some(|r| r.bytes_per_tx),
        forced_writes_per_tx: some(|r| r.forced_writes_per_tx),
        lock_blocked_us_per_tx: some(|r| r.lock_blocked_us_per_tx),
        in_doubt_max_us: metric(|r| r.in_doubt_max_us as f64),
        inconsistency_window_p99_us: some(|r| r.inconsistency_window_p99_us.map(|us| us as f64)),
        availability_during_partition: some(|r| r.availability_during_partition),
        inconsistent_reads_per_1k: some(|r| r.inconsistent_reads_per_1k),
        dirty_reads_per_1k: some(|r| r.dirty_reads_per_1k),
        runs_with_violations: rows.iter().filter(|r| !r.violated.is_empty()).count() as u64,
    }
}

/// How a table cell shows an estimate.
#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Millis,
    Plain,
}

impl Unit {
    fn cell(self, e: Option<Estimate>) -> String {
        let Some(e) = e else { return "n/a".into() };
        match self {
            Unit::Percent => format!("{:.1}% ± {:.1}", e.mean * 100.0, e.ci95 * 100.0),
            Unit::Millis => format!("{:.2}ms ± {:.2}", e.mean / 1000.0, e.ci95 / 1000.0),
            Unit::Plain => format!("{:.1} ± {:.1}", e.mean, e.ci95),
        }
    }
}

/// The table's rows: label, unit, and where the estimate sits in a summary.
type Line = (&'static str, Unit, fn(&StrategySummary) -> Option<Estimate>);

const LINES: [Line; 14] = [
    ("committed or accepted", Unit::Percent, |s| {
        Some(s.committed_share)
    }),
    ("aborted", Unit::Percent, |s| Some(s.aborted_share)),
    ("timed out", Unit::Percent, |s| Some(s.timed_out_share)),
    ("latency p50", Unit::Millis, |s| Some(s.latency_p50_us)),
    ("latency p99", Unit::Millis, |s| Some(s.latency_p99_us)),
    ("messages per tx", Unit::Plain, |s| Some(s.messages_per_tx)),
    ("bytes per tx", Unit::Plain, |s| s.bytes_per_tx),
    ("forced writes per tx", Unit::Plain, |s| s.forced_writes_per_tx),
    ("lock blocked per tx", Unit::Millis, |s| s.lock_blocked_us_per_tx),
    ("longest in doubt", Unit::Millis, |s| Some(s.in_doubt_max_us)),
    ("inconsistency p99", Unit::Millis, |s| {
        s.inconsistency_window_p99_us
    }),
    ("available in partition", Unit::Percent, |s| {
        s.availability_during_partition
    }),
    ("bad audits per 1k", Unit::Plain, |s| s.inconsistent_reads_per_1k),
    ("dirty reads per 1k", Unit::Plain, |s| s.dirty_reads_per_1k),
];

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
        for (label, unit, estimate) in LINES {
            let _ = write!(out, "{label:<24}");
            for s in &self.summaries {
                let _ = write!(out, "{:>24}", unit.cell(estimate(s)));
            }
            out.push('\n');
        }
        let _ = write!(out, "{:<24}", "runs violating a check");
        for s in &self.summaries {
            let _ = write!(
                out,
                "{:>24}",
                format!("{} of {}", s.runs_with_violations, s.seeds)
            );
        }
        out.push('\n');
        out
    }

    /// The comparison as pretty JSON: summaries and every run.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison serialises")
    }

    /// Every run as CSV, one line per (strategy, seed), with a header. A metric the run
    /// could not measure is an empty cell.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "strategy,seed,started,committed_share,aborted_share,timed_out_share,stuck_or_in_doubt,latency_p50_us,latency_p99_us,messages_per_tx,violated,bytes_per_tx,forced_writes_per_tx,lock_blocked_us_per_tx,in_doubt_max_us,inconsistency_window_p99_us,availability_during_partition,inconsistent_reads_per_1k,dirty_reads_per_1k\n",
        );
        let opt = |x: Option<f64>| x.map(|v| format!("{v:.6}")).unwrap_or_default();
        for r in &self.runs {
            let _ = writeln!(
                out,
                "{},{},{},{:.6},{:.6},{:.6},{},{},{},{:.3},{},{},{},{},{},{},{},{},{}",
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
                r.violated.join(";"),
                opt(r.bytes_per_tx),
                opt(r.forced_writes_per_tx),
                opt(r.lock_blocked_us_per_tx),
                r.in_doubt_max_us,
                r.inconsistency_window_p99_us
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                opt(r.availability_during_partition),
                opt(r.inconsistent_reads_per_1k),
                opt(r.dirty_reads_per_1k),
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

    #[test]
    fn a_metric_no_run_measured_is_not_applicable_and_missing_samples_are_skipped() {
        assert_eq!(Estimate::of_some([None, None].into_iter()), None);
        let e = Estimate::of_some([Some(2.0), None, Some(4.0)].into_iter()).unwrap();
        assert!((e.mean - 3.0).abs() < 1e-12, "{e:?}");
        assert_eq!(Unit::Percent.cell(None), "n/a");
        assert_eq!(
            Unit::Millis.cell(Some(Estimate {
                mean: 2_500.0,
                ci95: 100.0
            })),
            "2.50ms ± 0.10"
        );
    }
}

//! Comparing strategies: the same scenario (workload and faults, by common random numbers)
//! under several strategies and seeds, summarised as means with 95% confidence intervals and
//! as paired differences from the first strategy.
//!
//! The columns are [`Variant`]s: usually one scenario under each strategy ([`compare`]), or
//! several scenario files that differ in one setting, such as a saga's synchronous and
//! asynchronous calls ([`compare_variants`]). Either way every column runs the same seeds.
//!
//! Every seed gives every strategy the same arrivals and the same fault schedule, because
//! those are drawn from their own streams (see `sim::rng`); differences between columns are
//! the strategies', not the dice's. That is also why differences are taken per seed
//! (`strategy - baseline` on the same seed) before averaging: the seed-to-seed spread both
//! strategies share cancels, so the paired interval is narrower than the two columns'
//! intervals suggest. A metric a run cannot measure (availability without a partition,
//! anomalies without audits, latency without an answered request) is left out of that
//! metric's mean, and a column with no such run says `n/a`.
//!
//! `estimate.rs` holds the statistics, `metric.rs` the list of metrics, `output.rs` the
//! table, JSON and CSV forms.

mod curve;
mod estimate;
mod metric;
mod output;

use std::ops::Range;

use serde::Serialize;

pub use curve::{Curve, CurvePoint, Vary, parse_vary};
pub use estimate::Estimate;
pub use metric::{Estimates, METRICS, Metric, Unit};

use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::seeds::map_ordered;
use crate::sim::TraceLevel;

/// One column of a comparison: a scenario, with the strategy and settings it runs.
#[derive(Clone, Debug)]
pub struct Variant {
    /// The column's name: the strategy, or the scenario file's stem when files are compared.
    pub label: String,
    /// What runs.
    pub scenario: Scenario,
}

/// One run's numbers, as compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    /// The column ([`Variant::label`]).
    pub variant: String,
    /// Strategy.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// Business transactions started.
    pub started: u64,
    /// Share of started transactions answered committed (or accepted); `None` when none
    /// started, like the other per-transaction figures.
    pub committed_share: Option<f64>,
    /// Share answered aborted.
    pub aborted_share: Option<f64>,
    /// Share that timed out at the gateway.
    pub timed_out_share: Option<f64>,
    /// Transactions half applied or in doubt at the end.
    pub stuck_or_in_doubt: u64,
    /// Median end-to-end latency, µs; `None` when no request was answered.
    pub latency_p50_us: Option<u64>,
    /// 99th percentile latency, µs.
    pub latency_p99_us: Option<u64>,
    /// Messages sent per started transaction.
    pub messages_per_tx: Option<f64>,
    /// Bytes sent per started transaction.
    pub bytes_per_tx: Option<f64>,
    /// Forced log writes (services and coordinator) per started transaction.
    pub forced_writes_per_tx: Option<f64>,
    /// Time local transactions spent queued for locks, per started transaction, µs.
    pub lock_blocked_us_per_tx: Option<f64>,
    /// The longest a prepared 2PC participant held its locks in doubt, µs, counting those
    /// still undecided at the end; `None` when no step was ever prepared (every strategy
    /// but 2PC), so a saga shows `n/a` rather than a flattering zero.
    pub in_doubt_max_us: Option<u64>,
    /// 99th percentile of the inconsistency window (first change to last), µs.
    pub inconsistency_window_p99_us: Option<u64>,
    /// Share of requests sent during a partition answered successfully within the client's
    /// deadline.
    pub availability_during_partition: Option<f64>,
    /// Inconsistent audit reads per 1,000 complete audits.
    pub inconsistent_reads_per_1k: Option<f64>,
    /// Dirty reads per 1,000 reads.
    pub dirty_reads_per_1k: Option<f64>,
    /// Lost updates per 1,000 committed changes.
    pub lost_updates_per_1k: Option<f64>,
    /// How long the read model took, on average, to see a change, µs (`None` without one).
    pub read_model_lag_mean_us: Option<f64>,
    /// Read-then-write decisions written on an outdated read, per 1,000 such decisions
    /// (`None` without read-then-write steps).
    pub outdated_decisions_per_1k: Option<f64>,
    /// Write skews per 1,000 read-then-write decisions.
    pub write_skews_per_1k: Option<f64>,
    /// Reads a later commit changed before their transaction committed, per 1,000 reads.
    pub non_repeatable_reads_per_1k: Option<f64>,
    /// Business requests answered committed or accepted per virtual second.
    pub throughput_per_s: Option<f64>,
    /// Share of the business requests sent (outside partitions) served within the deadline.
    pub availability: Option<f64>,
    /// Checks the scenario requires that were violated (or not judged) in this run, by name
    /// (see `Scenario::required_checks`).
    pub violated: Vec<String>,
}

/// One strategy's numbers over all seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategySummary {
    /// The column ([`Variant::label`]).
    pub variant: String,
    /// Strategy.
    pub strategy: String,
    /// Seeds run.
    pub seeds: u64,
    /// Each metric of [`METRICS`], by key.
    pub metrics: Estimates,
    /// Seeds on which a required check was violated or not judged.
    pub runs_with_violations: u64,
}

/// One column against the baseline (the first column), seed by seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairedDifference {
    /// The column ([`Variant::label`]).
    pub variant: String,
    /// Its strategy.
    pub strategy: String,
    /// The baseline column's label.
    pub baseline: String,
    /// Each metric's `strategy - baseline`, estimated over the seeds where both measured it.
    pub metrics: Estimates,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Scenario name (the names of the files, joined by ` vs `, when files are compared).
    pub scenario: String,
    /// First seed and one past the last.
    pub seeds: (u64, u64),
    /// One summary per strategy, in the order asked.
    pub summaries: Vec<StrategySummary>,
    /// Each strategy after the first against the first, paired by seed.
    pub differences: Vec<PairedDifference>,
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
    let variants = strategy_variants(scenario, strategies)?;
    Ok(compare_variants(&scenario.name, &variants, seeds, pool))
}

/// One variant per strategy named, labelled with the strategy's canonical name (a strategy
/// the file names keeps the file's settings); a strategy named twice is refused.
pub fn strategy_variants(scenario: &Scenario, strategies: &[String]) -> Result<Vec<Variant>, String> {
    let mut variants: Vec<Variant> = Vec::with_capacity(strategies.len());
    for (index, name) in strategies.iter().enumerate() {
        let variant = scenario.with_strategy(name)?;
        let label = variant
            .system_config()
            .map_or("", |c| c.strategy.name())
            .to_string();
        if let Some(earlier) = variants.iter().position(|v| v.label == label) {
            return Err(format!(
                "`{}` and `{}` name the same strategy: give each strategy once",
                strategies[earlier], strategies[index]
            ));
        }
        variants.push(Variant {
            label,
            scenario: variant,
        });
    }
    Ok(variants)
}

/// Runs every variant for every seed in `seeds`, on `pool`'s threads, and compares the
/// columns; `name` heads the table. The first variant is the baseline of the paired
/// differences. Labels are expected to be distinct (the CLI checks).
pub fn compare_variants(
    name: &str,
    variants: &[Variant],
    seeds: Range<u64>,
    pool: &rayon::ThreadPool,
) -> Comparison {
    let jobs: Vec<(&Variant, u64)> = variants
        .iter()
        .flat_map(|variant| seeds.clone().map(move |seed| (variant, seed)))
        .collect();
    let runs = map_ordered(pool, &jobs, |(variant, seed)| row(variant, *seed));
    let per_variant = usize::try_from(seeds.end - seeds.start).expect("seed ranges fit in memory");
    let columns: Vec<&[RunRow]> = runs.chunks(per_variant).collect();
    let summaries = columns.iter().map(|rows| summarise(rows)).collect();
    let differences = match columns.split_first() {
        Some((baseline, others)) => others
            .iter()
            .map(|rows| PairedDifference {
                variant: rows[0].variant.clone(),
                strategy: rows[0].strategy.clone(),
                baseline: baseline[0].variant.clone(),
                metrics: Estimates::paired(rows, baseline),
            })
            .collect(),
        None => Vec::new(),
    };
    Comparison {
        scenario: name.to_string(),
        seeds: (seeds.start, seeds.end),
        summaries,
        differences,
        runs,
    }
}

fn row(variant: &Variant, seed: u64) -> RunRow {
    let report: RunReport = crate::runner::run(&variant.scenario, seed, TraceLevel::Off).report;
    RunRow::of(&variant.label, &variant.scenario, seed, &report)
}

impl RunRow {
    /// The row of one run of `scenario` on `seed`, labelled `label`: its metrics, and the
    /// checks the scenario requires that `report` says failed.
    pub fn of(label: &str, scenario: &Scenario, seed: u64, report: &RunReport) -> RunRow {
        let t = report.transactions.clone().unwrap_or_default();
        let per_tx = |count: u64| (t.started > 0).then(|| count as f64 / t.started as f64);
        let violated = scenario
            .failures(report)
            .map(|v| v.check.name().to_string())
            .collect();
        let metrics = report.metrics.as_ref();
        let anomalies = report.anomalies.as_ref();
        RunRow {
            variant: label.to_string(),
            strategy: report.strategy.clone().unwrap_or_default(),
            seed,
            started: t.started,
            committed_share: per_tx(t.committed + t.accepted),
            aborted_share: per_tx(t.aborted),
            timed_out_share: per_tx(t.timed_out),
            stuck_or_in_doubt: t.stuck_or_in_doubt,
            latency_p50_us: report.latency_us.as_ref().map(|l| l.p50),
            latency_p99_us: report.latency_us.as_ref().map(|l| l.p99),
            messages_per_tx: per_tx(report.messages.sent),
            bytes_per_tx: metrics.and_then(|m| m.bytes.per_tx),
            forced_writes_per_tx: metrics.and_then(|m| m.forced_writes.per_tx),
            lock_blocked_us_per_tx: metrics.and_then(|m| m.locks.blocked_us_per_tx),
            in_doubt_max_us: metrics.and_then(|m| {
                let d = &m.in_doubt;
                (d.decided > 0 || d.still_in_doubt > 0)
                    .then(|| d.max_us.max(d.still_in_doubt_max_us.unwrap_or(0)))
            }),
            inconsistency_window_p99_us: metrics.and_then(|m| m.inconsistency_window.us.map(|p| p.p99)),
            availability_during_partition: metrics
                .and_then(|m| m.availability.during_partition.as_ref())
                .and_then(|s| s.share),
            inconsistent_reads_per_1k: anomalies.and_then(|a| a.inconsistent_audit_reads.per_1k),
            dirty_reads_per_1k: anomalies.and_then(|a| a.dirty_reads.per_1k),
            lost_updates_per_1k: anomalies.and_then(|a| a.lost_updates.per_1k),
            read_model_lag_mean_us: metrics
                .and_then(|m| m.replica_staleness.as_ref())
                .and_then(|s| s.mean_lag_us)
                .map(|us| us as f64),
            outdated_decisions_per_1k: metrics.and_then(|m| m.outdated).and_then(|o| o.per_1k()),
            write_skews_per_1k: metrics
                .and_then(|m| m.outdated)
                .filter(|o| o.decisions > 0)
                .map(|o| o.skews as f64 * 1_000.0 / o.decisions as f64),
            non_repeatable_reads_per_1k: metrics
                .and_then(|m| m.outdated)
                .filter(|o| o.reads > 0)
                .map(|o| o.non_repeatable as f64 * 1_000.0 / o.reads as f64),
            throughput_per_s: metrics.and_then(|m| m.throughput.per_s),
            availability: metrics.and_then(|m| m.availability.outside_partition.share),
            violated,
        }
    }
}

fn summarise(rows: &[RunRow]) -> StrategySummary {
    StrategySummary {
        variant: rows.first().map(|r| r.variant.clone()).unwrap_or_default(),
        strategy: rows.first().map(|r| r.strategy.clone()).unwrap_or_default(),
        seeds: rows.len() as u64,
        metrics: Estimates::over(rows),
        runs_with_violations: rows.iter().filter(|r| !r.violated.is_empty()).count() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(strategy: &str, seed: u64, latency_p50_us: Option<u64>, committed: f64) -> RunRow {
        RunRow {
            variant: strategy.into(),
            strategy: strategy.into(),
            seed,
            started: 10,
            committed_share: Some(committed),
            aborted_share: Some(1.0 - committed),
            timed_out_share: Some(0.0),
            stuck_or_in_doubt: 0,
            latency_p50_us,
            latency_p99_us: latency_p50_us,
            messages_per_tx: Some(4.0),
            bytes_per_tx: None,
            forced_writes_per_tx: None,
            lock_blocked_us_per_tx: None,
            in_doubt_max_us: None,
            inconsistency_window_p99_us: None,
            availability_during_partition: None,
            inconsistent_reads_per_1k: None,
            dirty_reads_per_1k: None,
            lost_updates_per_1k: None,
            read_model_lag_mean_us: None,
            outdated_decisions_per_1k: None,
            write_skews_per_1k: None,
            non_repeatable_reads_per_1k: None,
            throughput_per_s: None,
            availability: None,
            violated: Vec::new(),
        }
    }

    #[test]
    fn paired_differences_cancel_the_spread_both_strategies_share() {
        // The seeds differ a lot, but b is always 10 points above a: the columns' intervals
        // overlap, the paired difference is exactly +10pp with no spread.
        let a: Vec<RunRow> = [0.2, 0.5, 0.8]
            .iter()
            .enumerate()
            .map(|(s, &c)| run("a", s as u64, Some(1000), c))
            .collect();
        let b: Vec<RunRow> = a
            .iter()
            .map(|r| run("b", r.seed, Some(3000), r.committed_share.unwrap() + 0.1))
            .collect();
        let (column_a, column_b) = (Estimates::over(&a), Estimates::over(&b));
        let (ea, eb) = (
            column_a.get("committed_share").unwrap(),
            column_b.get("committed_share").unwrap(),
        );
        assert!(
            eb.mean - eb.ci95 < ea.mean + ea.ci95,
            "the columns alone cannot tell them apart"
        );
        let difference = Estimates::paired(&b, &a).get("committed_share").unwrap();
        assert!(
            (difference.mean - 0.1).abs() < 1e-12 && difference.ci95 < 1e-12,
            "{difference:?}"
        );
        assert!(difference.excludes_zero());
        assert_eq!(
            Estimates::paired(&b, &a).get("latency_p50_us").unwrap().mean,
            2000.0
        );
    }

    #[test]
    fn a_metric_no_run_measured_is_not_applicable_and_partial_ones_count_their_runs() {
        let rows = [
            run("a", 0, None, 1.0),
            run("a", 1, Some(500), 1.0),
            run("a", 2, None, 1.0),
        ];
        let estimates = Estimates::over(&rows);
        let latency = estimates.get("latency_p50_us").unwrap();
        assert_eq!((latency.mean, latency.n), (500.0, 1));
        assert_eq!(estimates.get("availability_during_partition"), None);
        let comparison = Comparison {
            scenario: "s".into(),
            seeds: (0, 3),
            summaries: vec![summarise(&rows)],
            differences: Vec::new(),
            runs: rows.to_vec(),
        };
        let table = comparison.to_table();
        let availability = table
            .lines()
            .find(|l| l.starts_with("available in partition"))
            .unwrap();
        assert!(availability.ends_with("n/a"), "{table}");
        let json: serde_json::Value = serde_json::from_str(&comparison.to_json()).unwrap();
        assert!(json["summaries"][0]["metrics"]["availability_during_partition"].is_null());
        assert_eq!(json["summaries"][0]["metrics"]["latency_p50_us"]["n"], 1);
        let csv = comparison.to_csv();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let first: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        assert_eq!(header.len(), first.len(), "{csv}");
        let column = |key| header.iter().position(|h| *h == key).unwrap();
        assert_eq!(first[column("latency_p50_us")], "", "unmeasured is an empty cell");
        assert_eq!(first[column("messages_per_tx")], "4");
    }
}

//! The metrics a comparison summarises, listed once: the table's rows, the JSON summaries'
//! keys, the paired differences and the CSV columns all walk [`METRICS`], so adding a metric
//! is one line here and one field on [`RunRow`].

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::RunRow;
use super::estimate::Estimate;

/// How a metric's numbers are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A share in [0, 1], shown as a percentage (differences in percentage points).
    Share,
    /// Microseconds, shown as milliseconds.
    Micros,
    /// A plain number.
    Plain,
}

/// One compared metric.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Its key in JSON and CSV, the name of its [`RunRow`] field.
    pub key: &'static str,
    /// Its label in the table.
    pub label: &'static str,
    /// How it is shown.
    pub unit: Unit,
    /// Its value in one run; `None` when the run cannot measure it.
    pub of: fn(&RunRow) -> Option<f64>,
}

/// Every compared metric, in table order.
pub const METRICS: [Metric; 20] = [
    Metric {
        key: "committed_share",
        label: "committed or accepted",
        unit: Unit::Share,
        of: |r| r.committed_share,
    },
    Metric {
        key: "aborted_share",
        label: "aborted",
        unit: Unit::Share,
        of: |r| r.aborted_share,
    },
    Metric {
        key: "timed_out_share",
        label: "timed out",
        unit: Unit::Share,
        of: |r| r.timed_out_share,
    },
    Metric {
        key: "stuck_or_in_doubt",
        label: "stuck or in doubt",
        unit: Unit::Plain,
        of: |r| Some(r.stuck_or_in_doubt as f64),
    },
    Metric {
        key: "latency_p50_us",
        label: "latency p50",
        unit: Unit::Micros,
        of: |r| r.latency_p50_us.map(|us| us as f64),
    },
    Metric {
        key: "latency_p99_us",
        label: "latency p99",
        unit: Unit::Micros,
        of: |r| r.latency_p99_us.map(|us| us as f64),
    },
    Metric {
        key: "messages_per_tx",
        label: "messages per tx",
        unit: Unit::Plain,
        of: |r| r.messages_per_tx,
    },
    Metric {
        key: "bytes_per_tx",
        label: "bytes per tx",
        unit: Unit::Plain,
        of: |r| r.bytes_per_tx,
    },
    Metric {
        key: "forced_writes_per_tx",
        label: "forced writes per tx",
        unit: Unit::Plain,
        of: |r| r.forced_writes_per_tx,
    },
    Metric {
        key: "lock_blocked_us_per_tx",
        label: "lock blocked per tx",
        unit: Unit::Micros,
        of: |r| r.lock_blocked_us_per_tx,
    },
    Metric {
        key: "in_doubt_max_us",
        label: "longest in doubt",
        unit: Unit::Micros,
        of: |r| r.in_doubt_max_us.map(|us| us as f64),
    },
    Metric {
        key: "inconsistency_window_p99_us",
        label: "inconsistency p99",
        unit: Unit::Micros,
        of: |r| r.inconsistency_window_p99_us.map(|us| us as f64),
    },
    Metric {
        key: "availability_during_partition",
        label: "available in partition",
        unit: Unit::Share,
        of: |r| r.availability_during_partition,
    },
    Metric {
        key: "inconsistent_reads_per_1k",
        label: "bad audits per 1k",
        unit: Unit::Plain,
        of: |r| r.inconsistent_reads_per_1k,
    },
    Metric {
        key: "dirty_reads_per_1k",
        label: "dirty reads per 1k",
        unit: Unit::Plain,
        of: |r| r.dirty_reads_per_1k,
    },
    Metric {
        key: "lost_updates_per_1k",
        label: "lost updates per 1k",
        unit: Unit::Plain,
        of: |r| r.lost_updates_per_1k,
    },
    Metric {
        key: "read_model_lag_mean_us",
        label: "read model lag",
        unit: Unit::Micros,
        of: |r| r.read_model_lag_mean_us,
    },
    Metric {
        key: "outdated_decisions_per_1k",
        label: "outdated decisions per 1k",
        unit: Unit::Plain,
        of: |r| r.outdated_decisions_per_1k,
    },
    Metric {
        key: "write_skews_per_1k",
        label: "write skews per 1k",
        unit: Unit::Plain,
        of: |r| r.write_skews_per_1k,
    },
    Metric {
        key: "non_repeatable_reads_per_1k",
        label: "non-repeatable reads per 1k",
        unit: Unit::Plain,
        of: |r| r.non_repeatable_reads_per_1k,
    },
];

/// One estimate per metric of [`METRICS`], in its order; serialised as a JSON object keyed
/// by [`Metric::key`] (`null` for a metric no run measured).
#[derive(Clone, Debug, PartialEq)]
pub struct Estimates(pub Vec<Option<Estimate>>);

impl Estimates {
    /// The estimate of the metric with this key; `None` when no run measured it or the key
    /// is unknown.
    pub fn get(&self, key: &str) -> Option<Estimate> {
        let index = METRICS.iter().position(|m| m.key == key)?;
        self.0.get(index).copied().flatten()
    }

    /// Each metric's estimate over `rows`.
    pub fn over(rows: &[RunRow]) -> Estimates {
        Estimates(
            METRICS
                .iter()
                .map(|m| Estimate::of_some(rows.iter().map(m.of)))
                .collect(),
        )
    }

    /// Each metric's estimate of `row - baseline` over seeds where both runs measured it.
    /// `rows` and `baseline` hold the same seeds in the same order.
    pub fn paired(rows: &[RunRow], baseline: &[RunRow]) -> Estimates {
        Estimates(
            METRICS
                .iter()
                .map(|m| {
                    let differences = rows
                        .iter()
                        .zip(baseline)
                        .map(|(r, b)| Some((m.of)(r)? - (m.of)(b)?));
                    Estimate::of_some(differences)
                })
                .collect(),
        )
    }
}

impl Serialize for Estimates {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(METRICS.len()))?;
        for (metric, estimate) in METRICS.iter().zip(&self.0) {
            map.serialize_entry(metric.key, estimate)?;
        }
        map.end()
    }
}

impl Unit {
    /// A table cell: `mean ± ci95`, or `n/a` when no run measured it.
    pub fn cell(self, estimate: Option<Estimate>) -> String {
        let Some(e) = estimate else { return "n/a".into() };
        let (mean, ci) = self.scaled(e);
        format!(
            "{mean:.prec$}{} ± {ci:.prec$}",
            self.suffix(),
            prec = self.precision()
        )
    }

    /// A difference cell: signed, `*` when the interval excludes zero.
    pub fn difference_cell(self, estimate: Option<Estimate>) -> String {
        let Some(e) = estimate else { return "n/a".into() };
        let (mean, ci) = self.scaled(e);
        let mut out = format!(
            "{mean:+.prec$}{} ± {ci:.prec$}",
            self.difference_suffix(),
            prec = self.precision()
        );
        if e.excludes_zero() {
            let _ = write!(out, " *");
        }
        out
    }

    fn scaled(self, e: Estimate) -> (f64, f64) {
        match self {
            Unit::Share => (e.mean * 100.0, e.ci95 * 100.0),
            Unit::Micros => (e.mean / 1000.0, e.ci95 / 1000.0),
            Unit::Plain => (e.mean, e.ci95),
        }
    }

    fn precision(self) -> usize {
        match self {
            Unit::Share | Unit::Plain => 1,
            Unit::Micros => 2,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Unit::Share => "%",
            Unit::Micros => "ms",
            Unit::Plain => "",
        }
    }

    fn difference_suffix(self) -> &'static str {
        match self {
            Unit::Share => "pp",
            other => other.suffix(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_keys_are_unique() {
        let mut keys: Vec<&str> = METRICS.iter().map(|m| m.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), METRICS.len());
    }

    #[test]
    fn cells_show_units_signs_and_significance() {
        let e = |mean, ci95, n| Some(Estimate { mean, ci95, n });
        assert_eq!(Unit::Share.cell(None), "n/a");
        assert_eq!(Unit::Micros.cell(e(2_500.0, 100.0, 3)), "2.50ms ± 0.10");
        assert_eq!(Unit::Share.cell(e(0.5, 0.01, 3)), "50.0% ± 1.0");
        assert_eq!(Unit::Share.difference_cell(e(-0.2, 0.05, 3)), "-20.0pp ± 5.0 *");
        assert_eq!(Unit::Plain.difference_cell(e(1.0, 3.0, 3)), "+1.0 ± 3.0");
    }
}

//! A comparison as people read it (a table), as programs read it (JSON) and as spreadsheets
//! read it (CSV). All three walk [`METRICS`], so they always show the same metrics.

use std::fmt::Write as _;

use super::metric::METRICS;
use super::{Comparison, RunRow};

/// Width of the label column.
const LABEL_WIDTH: usize = 26;
/// Least width of each column (wider when a label is longer).
const COLUMN_WIDTH: usize = 23;

impl Comparison {
    /// Side by side, one column per strategy: each metric's `mean ± ci95` over seeds, then
    /// each strategy's paired difference from the first, then how many runs broke a
    /// required check.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} over seeds {}..{} (mean ± 95% confidence interval)",
            self.scenario, self.seeds.0, self.seeds.1
        );
        let width = self
            .summaries
            .iter()
            .map(|s| s.variant.len() + 2)
            .fold(COLUMN_WIDTH, usize::max);
        header(&mut out, width, self.summaries.iter().map(|s| s.variant.as_str()));
        for (index, metric) in METRICS.iter().enumerate() {
            let cells = self
                .summaries
                .iter()
                .map(|s| metric.unit.cell(s.metrics.0[index]));
            line(&mut out, width, metric.label, cells);
        }
        let violations = self
            .summaries
            .iter()
            .map(|s| format!("{} of {}", s.runs_with_violations, s.seeds));
        line(&mut out, width, "runs violating a required check", violations);

        if let Some(first) = self.differences.first() {
            let _ = writeln!(
                out,
                "\ndifference from {}, paired by seed (95% CI; * excludes zero)",
                first.baseline
            );
            header(
                &mut out,
                width,
                self.differences.iter().map(|d| d.variant.as_str()),
            );
            for (index, metric) in METRICS.iter().enumerate() {
                let cells = self
                    .differences
                    .iter()
                    .map(|d| metric.unit.difference_cell(d.metrics.0[index]));
                line(&mut out, width, metric.label, cells);
            }
        }
        out
    }

    /// The comparison as pretty JSON: summaries, paired differences and every run.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison serialises")
    }

    /// Every run as CSV, one line per (column, seed), with a header: variant, strategy,
    /// seed, started, each metric of [`METRICS`] by key, then the violated checks separated by
    /// `;`. A metric the run could not measure is an empty cell.
    pub fn to_csv(&self) -> String {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["variant", "strategy", "seed", "started"];
        header.extend(METRICS.iter().map(|metric| metric.key));
        header.push("violated");
        writer.write_record(&header).expect("writing to memory");
        for run in &self.runs {
            writer.write_record(csv_row(run)).expect("writing to memory");
        }
        let bytes = writer.into_inner().expect("writing to memory");
        String::from_utf8(bytes).expect("every field is UTF-8")
    }
}

fn header<'a>(out: &mut String, width: usize, columns: impl Iterator<Item = &'a str>) {
    let _ = write!(out, "{:<LABEL_WIDTH$}", "");
    for column in columns {
        let _ = write!(out, "{column:>width$}");
    }
    out.push('\n');
}

fn line(out: &mut String, width: usize, label: &str, cells: impl Iterator<Item = String>) {
    let _ = write!(out, "{label:<LABEL_WIDTH$}");
    for cell in cells {
        let _ = write!(out, "{cell:>width$}");
    }
    out.push('\n');
}

/// One run's CSV fields; the csv crate quotes a label with a comma or a quote in it (a file
/// name can hold either).
fn csv_row(run: &RunRow) -> Vec<String> {
    let mut row = vec![
        run.variant.clone(),
        run.strategy.to_string(),
        run.seed.to_string(),
        run.started.to_string(),
    ];
    for metric in &METRICS {
        row.push(match (metric.of)(run) {
            // Integers stay integers; ratios keep six decimals.
            Some(value) if value.fract() == 0.0 && value.abs() < 1e15 => (value as i64).to_string(),
            Some(value) => format!("{value:.6}"),
            None => String::new(),
        });
    }
    row.push(run.violated.join(";"));
    row
}

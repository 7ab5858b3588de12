//! A read model's lag, summed from what it saw ([`ReadModelFacts`]): the same figures for any
//! strategy that keeps one, so the report reads them without knowing which strategy ran.

use super::ReadModelFacts;

/// Spans of virtual time: how many, their sum and the longest, in µs. Integers, so a report
/// computes means as it likes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// How many spans.
    pub count: u64,
    /// Their sum, µs.
    pub total_us: u64,
    /// The longest, µs (`None` without spans).
    pub max_us: Option<u64>,
}

impl Span {
    /// The mean span in µs (rounded down), if there was any.
    pub fn mean_us(&self) -> Option<u64> {
        self.total_us.checked_div(self.count)
    }

    /// Counts one more span of `us`.
    pub fn add(&mut self, us: u64) {
        self.count += 1;
        self.total_us += us;
        self.max_us = self.max_us.max(Some(us));
    }
}

/// How the entry service's read model of the other steps kept up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadModel {
    /// Per change of a step after step 0 (applied or undone at its own service), how long
    /// until the read model first saw it.
    pub lag: Span,
    /// Changes the read model never saw.
    pub missed: usize,
    /// `(gtx, step)` rows compared with their owning services at the end.
    pub rows: usize,
    /// Rows on which the read model and the owning service disagree at the end.
    pub mismatches: usize,
}

impl ReadModel {
    /// The lag and final accuracy of a read model, from what it saw.
    pub fn of(view: &ReadModelFacts) -> ReadModel {
        let mut report = ReadModel {
            rows: view.rows,
            mismatches: view.stale.len(),
            ..ReadModel::default()
        };
        for sighting in &view.sightings {
            match sighting.seen {
                Some(seen) => report.lag.add(seen.saturating_since(sighting.changed).as_us()),
                None => report.missed += 1,
            }
        }
        report
    }
}

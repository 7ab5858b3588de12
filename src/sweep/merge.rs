//! `consim merge`: the JSON lines of a sweep's shards, run on different machines, read back
//! as one sweep.
//!
//! A merge is only worth trusting when its inputs are shards of one sweep, so it refuses
//! lines of another scenario, strategy, scenario text (the fingerprint) or seed range, and a
//! seed whose result differs between files (another build ran it). It keeps one outcome per
//! seed (a shard given twice is harmless) and names the seeds of the range that no file has,
//! so a shard that never ran is not mistaken for a clean one.

use std::fmt::Write as _;
use std::ops::Range;

use super::{SeedOutcome, list_failures};

/// Seed ranges listed when naming missing seeds; the count covers the rest.
const LISTED_GAPS: usize = 8;

/// Shards' outcomes merged into one sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// The sweep's scenario name.
    pub scenario: String,
    /// Its strategy, for system models.
    pub strategy: Option<String>,
    /// The sweep's whole seed range.
    pub seeds: Range<u64>,
    /// One outcome per seed, in seed order.
    pub outcomes: Vec<SeedOutcome>,
    /// Lines that repeated a seed with the same result (the same shard given twice).
    pub duplicates: usize,
    /// Seeds of the range that no file has, as maximal runs of consecutive seeds.
    pub missing: Vec<Range<u64>>,
}

/// Where an outcome came from, for error messages.
struct Origin<'a> {
    file: &'a str,
    line: usize,
}

impl std::fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl SeedOutcome {
    /// True when two outcomes of the same seed report the same run. The replay command is
    /// left out: it names the scenario's path, which differs between machines.
    pub fn same_result(&self, other: &SeedOutcome) -> bool {
        self.stop == other.stop
            && self.events == other.events
            && self.virtual_duration_us == other.virtual_duration_us
            && self.trace_hash == other.trace_hash
            && self.failed == other.failed
            && self.first_violation == other.first_violation
    }

    fn sweep_identity(&self) -> String {
        format!(
            "scenario `{}`, strategy {}, fingerprint {}, seeds {}..{}",
            self.scenario,
            self.strategy.as_deref().unwrap_or("none"),
            self.fingerprint,
            self.sweep_range.0,
            self.sweep_range.1
        )
    }
}

/// Merges the JSON lines of shard files, given as (name, text). Errors name the file and
/// line and say what to do.
pub fn merge(files: &[(String, String)]) -> Result<Merged, String> {
    let mut lines: Vec<(SeedOutcome, Origin<'_>)> = Vec::new();
    for (name, text) in files {
        for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let origin = Origin {
                file: name,
                line: index + 1,
            };
            let outcome: SeedOutcome = serde_json::from_str(line).map_err(|e| {
                format!("{origin}: not a sweep outcome ({e}); give the JSON lines of `consim sweep --format jsonl`")
            })?;
            lines.push((outcome, origin));
        }
    }
    let Some((first, first_origin)) = lines.first() else {
        return Err(
            "no outcomes to merge: the files are empty; give the JSON lines of `consim sweep --format jsonl`"
                .into(),
        );
    };
    let identity = first.sweep_identity();
    let range = first.sweep_range.0..first.sweep_range.1;
    for (outcome, origin) in &lines {
        if outcome.sweep_identity() != identity {
            return Err(format!(
                "{origin} comes from another sweep ({}) than {first_origin} ({identity}): merge only the shards of one `consim sweep` command",
                outcome.sweep_identity()
            ));
        }
        if !range.contains(&outcome.seed) {
            return Err(format!(
                "{origin}: seed {} lies outside its sweep's range {}..{}: the line was edited",
                outcome.seed, range.start, range.end
            ));
        }
    }
    let (scenario, strategy) = (first.scenario.clone(), first.strategy.clone());
    lines.sort_by_key(|(outcome, _)| outcome.seed);
    let mut outcomes: Vec<SeedOutcome> = Vec::with_capacity(lines.len());
    let mut kept_from: Vec<Origin<'_>> = Vec::with_capacity(lines.len());
    let mut duplicates = 0;
    let mut conflicts = Vec::new();
    for (outcome, origin) in lines {
        match outcomes.last() {
            Some(last) if last.seed == outcome.seed => {
                if last.same_result(&outcome) {
                    duplicates += 1;
                } else {
                    conflicts.push(format!(
                        "seed {}: {} and {origin} differ (trace hash {} vs {})",
                        outcome.seed,
                        kept_from.last().expect("kept with its outcome"),
                        last.trace_hash.as_deref().unwrap_or("none"),
                        outcome.trace_hash.as_deref().unwrap_or("none"),
                    ));
                }
            }
            _ => {
                outcomes.push(outcome);
                kept_from.push(origin);
            }
        }
    }
    if !conflicts.is_empty() {
        let shown = conflicts.len().min(5);
        return Err(format!(
            "{} seeds have different results in different files; were the shards built from different versions of consim? {}{}",
            conflicts.len(),
            conflicts[..shown].join("; "),
            if conflicts.len() > shown { "; ..." } else { "" }
        ));
    }
    let missing = gaps(&range, outcomes.iter().map(|o| o.seed));
    Ok(Merged {
        scenario,
        strategy,
        seeds: range,
        outcomes,
        duplicates,
        missing,
    })
}

/// The runs of seeds in `range` absent from `present` (increasing, no repeats).
fn gaps(range: &Range<u64>, present: impl Iterator<Item = u64>) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut next = range.start;
    for seed in present {
        if seed > next {
            out.push(next..seed);
        }
        next = seed + 1;
    }
    if next < range.end {
        out.push(next..range.end);
    }
    out
}

impl Merged {
    /// How many seeds of the range no file has.
    pub fn missing_count(&self) -> u64 {
        self.missing.iter().map(|r| r.end - r.start).sum()
    }

    /// The failing seeds' outcomes.
    pub fn failures(&self) -> impl Iterator<Item = &SeedOutcome> {
        self.outcomes.iter().filter(|o| o.failed())
    }

    /// A summary for people: counts, missing seeds, failing seeds with their replay commands.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}{}: {} of {} seeds ({}..{}) merged, {} failing{}",
            self.scenario,
            self.strategy
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            self.outcomes.len(),
            self.seeds.end - self.seeds.start,
            self.seeds.start,
            self.seeds.end,
            self.failures().count(),
            match self.duplicates {
                0 => String::new(),
                n => format!("; {n} repeated lines ignored"),
            }
        );
        if !self.missing.is_empty() {
            let listed: Vec<String> = self
                .missing
                .iter()
                .take(LISTED_GAPS)
                .map(|r| match r.end - r.start {
                    1 => r.start.to_string(),
                    _ => format!("{}..{}", r.start, r.end),
                })
                .collect();
            let _ = writeln!(
                out,
                "  missing {} seeds: {}{} (a shard not run or not given, or one stopped at its first failure)",
                self.missing_count(),
                listed.join(", "),
                if self.missing.len() > LISTED_GAPS {
                    ", ..."
                } else {
                    ""
                }
            );
        }
        list_failures(&mut out, self.failures());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_the_maximal_runs_of_absent_seeds() {
        assert_eq!(gaps(&(0..10), [0, 1, 4, 5, 9].into_iter()), [2..4, 6..9]);
        assert_eq!(gaps(&(3..6), std::iter::empty()), [Range { start: 3, end: 6 }]);
        assert_eq!(gaps(&(0..3), [0, 1, 2].into_iter()), Vec::<Range<u64>>::new());
        assert_eq!(gaps(&(0..3), [1].into_iter()), [0..1, 2..3]);
    }
}

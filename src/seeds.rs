//! Seed ranges, and how many runs are spread over shards (machines) and threads.
//!
//! A run owns its world and its random streams, so runs of different seeds share nothing and
//! may go to any thread: [`map_ordered`] hands them out and puts the results back in input
//! order, so what a sweep or a comparison prints never depends on how many threads ran it.

use std::fmt;
use std::ops::Range;

use rayon::prelude::*;

/// The most seeds one process runs (per strategy, for a comparison): every outcome is kept
/// in memory (a few hundred bytes each), so a larger sweep is spread over shards, each within
/// this limit (see [`check_runs`]); the range itself may be as large as `u64` allows.
pub const MAX_SEEDS: u64 = 10_000_000;

/// Parses a seed range: `7`, `0..100` (end excluded) or `0..=99`. The error says what is
/// accepted.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let hint = "write a seed (7), a range (0..100, end excluded) or an inclusive range (0..=99)";
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{text}` is not a seed range: {hint}"))
    };
    let range = if let Some((a, b)) = text.split_once("..=") {
        number(a)?..number(b)?.checked_add(1).ok_or_else(|| {
            format!(
                "`{text}`: the range ends too high; the highest seed is {}",
                u64::MAX - 1
            )
        })?
    } else if let Some((a, b)) = text.split_once("..") {
        number(a)?..number(b)?
    } else {
        let seed = number(text)?;
        seed..seed.checked_add(1).ok_or_else(|| {
            format!(
                "`{text}`: the seed is too high; the highest seed is {}",
                u64::MAX - 1
            )
        })?
    };
    if range.is_empty() {
        return Err(format!("`{text}` is an empty seed range: {hint}"));
    }
    Ok(range)
}

/// Refuses a shard of `range` with more seeds than one process keeps ([`MAX_SEEDS`]), and
/// says how many shards would do.
pub fn check_runs(range: &Range<u64>, shard: Shard) -> Result<(), String> {
    let runs = shard.len(range);
    if runs <= MAX_SEEDS {
        return Ok(());
    }
    let total = range.end - range.start;
    Err(format!(
        "seeds {}..{} give this process {runs} seeds (shard {shard}); one process runs at most {MAX_SEEDS}: spread the range over at least {} shards with --shard i/n and merge their JSON lines",
        range.start,
        range.end,
        total.div_ceil(MAX_SEEDS)
    ))
}

/// One slice of a seed range, so a batch scheduler can spread a large sweep over machines:
/// shard `i` of `n` takes every `n`-th seed starting with the `i`-th (1-based), which keeps
/// the shards equal in size and cost whatever the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// The whole range: one shard of one.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `i/n` with `1 <= i <= n`; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let hint = "write i/n with 1 <= i <= n, e.g. 3/16 for the third of sixteen shards";
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not a shard: {hint}"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{text}` is not a shard: {hint}"))
        };
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("`{text}` names no shard: {hint}"));
        }
        Ok(Shard { index, count })
    }

    /// How many seeds of `range` this shard runs.
    pub fn len(self, range: &Range<u64>) -> u64 {
        let first = range.start.saturating_add(self.index - 1);
        match range.end.checked_sub(first) {
            Some(span) if span > 0 => (span - 1) / self.count + 1,
            _ => 0,
        }
    }

    /// The seeds of `range` this shard runs, in increasing order.
    pub fn seeds(self, range: Range<u64>) -> impl Iterator<Item = u64> {
        let first = range.start.saturating_add(self.index - 1);
        (first..range.end).step_by(usize::try_from(self.count).unwrap_or(usize::MAX))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A pool of `threads` workers (all cores when `None`). The error says why it failed.
/// The most worker threads per core `--threads` may ask for: runs are CPU-bound, so more
/// only adds switching (100,000 threads drove a two-core machine's load to 750).
pub const MAX_THREADS_PER_CORE: usize = 4;

/// `asked` threads, capped at [`MAX_THREADS_PER_CORE`] per core of a machine with `cores`;
/// with a note saying so when it was capped.
pub fn cap_threads(asked: Option<usize>, cores: usize) -> (Option<usize>, Option<String>) {
    let most = cores.max(1) * MAX_THREADS_PER_CORE;
    match asked {
        Some(n) if n > most => (
            Some(most),
            Some(format!(
                "--threads {n}: using {most} ({MAX_THREADS_PER_CORE} per core of {cores}); runs are CPU-bound, more threads only wait"
            )),
        ),
        other => (other, None),
    }
}

pub fn pool(threads: Option<usize>) -> Result<rayon::ThreadPool, String> {
    if threads == Some(0) {
        return Err("--threads 0: give at least one thread (or leave it out for all cores)".into());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))
}

/// `f` applied to every item on `pool`'s threads; the results come back in input order.
pub fn map_ordered<T: Sync, R: Send>(
    pool: &rayon::ThreadPool,
    items: &[T],
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    pool.install(|| items.par_iter().map(f).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_beyond_four_per_core_are_capped_with_a_note() {
        assert_eq!(cap_threads(Some(8), 2), (Some(8), None));
        assert_eq!(cap_threads(None, 2), (None, None));
        let (threads, note) = cap_threads(Some(100_000), 2);
        assert_eq!(threads, Some(8));
        assert!(note.unwrap().contains("--threads 100000: using 8"));
    }

    #[test]
    fn seed_ranges_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!(parse_seeds("7"), Ok(7..8));
        assert_eq!(parse_seeds("0..100"), Ok(0..100));
        assert_eq!(parse_seeds("0..=99"), Ok(0..100));
        for bad in [
            "",
            "a..b",
            "5..5",
            "9..3",
            "1..=x",
            "18446744073709551615",
            "18446744073709551615..=18446744073709551615",
        ] {
            let err = parse_seeds(bad).unwrap_err();
            assert!(err.contains("seed") || err.contains("too high"), "{bad}: {err}");
        }
    }

    #[test]
    fn shards_parse_and_impossible_ones_say_what_is_accepted() {
        assert_eq!(Shard::parse("3/16"), Ok(Shard { index: 3, count: 16 }));
        assert_eq!(Shard::parse("1/1"), Ok(Shard::WHOLE));
        for bad in ["17/16", "0/16", "3/0", "3", "a/b", "3/16/2", ""] {
            let err = Shard::parse(bad).unwrap_err();
            assert!(err.contains("i/n"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_range_too_large_for_one_process_is_accepted_when_sharded_small_enough() {
        let huge = parse_seeds("0..25000000").expect("any range parses");
        let err = check_runs(&huge, Shard::WHOLE).unwrap_err();
        assert!(err.contains("at least 3 shards with --shard i/n"), "{err}");
        assert_eq!(check_runs(&huge, Shard { index: 2, count: 3 }), Ok(()));
        let all = parse_seeds("0..18446744073709551615").unwrap();
        assert!(check_runs(&all, Shard { index: 9, count: 16 }).is_err());
    }

    #[test]
    fn shards_cover_a_range_once_and_evenly() {
        let range = 10..47;
        let mut all: Vec<u64> = (1..=4)
            .flat_map(|index| Shard { index, count: 4 }.seeds(range.clone()))
            .collect();
        let sizes: Vec<usize> = (1..=4)
            .map(|index| Shard { index, count: 4 }.seeds(range.clone()).count())
            .collect();
        all.sort_unstable();
        assert_eq!(all, range.clone().collect::<Vec<_>>());
        assert!(sizes.iter().all(|&n| n == 9 || n == 10), "{sizes:?}");
        for index in 1..=4 {
            let shard = Shard { index, count: 4 };
            assert_eq!(shard.len(&range), shard.seeds(range.clone()).count() as u64);
        }
        assert_eq!(Shard { index: 5, count: 5 }.len(&(0..3)), 0);
        assert_eq!(Shard { index: 5, count: 5 }.seeds(0..3).count(), 0);
    }

    #[test]
    fn ordered_map_keeps_input_order_on_many_threads() {
        let items: Vec<u64> = (0..1_000).collect();
        let squares = map_ordered(&pool(Some(4)).unwrap(), &items, |x| x * x);
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(pool(Some(0)).is_err());
    }
}

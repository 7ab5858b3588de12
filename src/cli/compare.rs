//! `consim compare`: one scenario under several strategies (or several files) over the same
//! seeds, and with `--vary` the same at each value of one setting: a load curve.

use std::path::{Path, PathBuf};

use consim::sim::TraceLevel;

use super::{CompareFormat, Failure, bad_input, load_scenario_with, worker_pool};

pub(super) fn compare(
    paths: &[PathBuf],
    strategies: Option<&[String]>,
    seeds: &str,
    (format, html): (CompareFormat, Option<&Path>),
    (threads, vary): (Option<usize>, Option<&str>),
) -> Result<(), Failure> {
    let seeds = consim::seeds::parse_seeds(seeds).map_err(bad_input)?;
    if seeds.end - seeds.start > consim::seeds::MAX_SEEDS {
        return Err(bad_input(format!(
            "--seeds {}..{} asks for {} seeds; a comparison runs at most {} per strategy: give fewer seeds (a mean over thousands is already tight)",
            seeds.start,
            seeds.end,
            seeds.end - seeds.start,
            consim::seeds::MAX_SEEDS
        )));
    }
    let pool = worker_pool(threads)?;
    if let Some(vary) = vary {
        return load_curve(paths, strategies, (seeds, &pool), vary, (format, html));
    }
    let (name, variants) = compare_columns(paths, strategies, &[])?;
    let comparison = consim::compare::compare_variants(&name, &variants, seeds.clone(), &pool);
    if let Some(path) = html {
        // Each column's first seed, traced in full, for its latency curve and diagrams.
        let runs: Vec<(String, consim::runner::Run)> = variants
            .iter()
            .map(|v| {
                (
                    v.label.clone(),
                    consim::runner::run(&v.scenario, seeds.start, TraceLevel::Full),
                )
            })
            .collect();
        let title = format!("consim compare: {name}, seeds {}..{}", seeds.start, seeds.end);
        let page = consim::html::compare_page(&title, &comparison, &comparison.to_table(), &runs);
        std::fs::write(path, page).map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    match format {
        CompareFormat::Table => out!("{}", comparison.to_table()),
        CompareFormat::Json => outln!("{}", comparison.to_json()),
        CompareFormat::Csv => out!("{}", comparison.to_csv()),
    }
    match comparison.runs.iter().filter(|r| !r.violated.is_empty()).count() {
        0 => Ok(()),
        n => Err(Failure::RunsFailed(n)),
    }
}

/// The columns of `consim compare`: one file under each strategy asked for (all four by
/// default), or several files, each under the strategies asked for (its own by default),
/// labelled by file stem (and strategy, when several). Also the table's title.
fn compare_columns(
    paths: &[PathBuf],
    strategies: Option<&[String]>,
    extra: &[String],
) -> Result<(String, Vec<consim::compare::Variant>), Failure> {
    use consim::compare::strategy_variants;
    let all: Vec<String> = consim::strategy::registry::names()
        .into_iter()
        .map(String::from)
        .collect();
    if let [path] = paths {
        let scenario = load_scenario_with(path, extra)?;
        let variants = strategy_variants(&scenario, strategies.unwrap_or(&all)).map_err(bad_input)?;
        return Ok((scenario.name, variants));
    }
    let mut columns: Vec<consim::compare::Variant> = Vec::new();
    let mut names = Vec::new();
    for path in paths {
        let scenario = load_scenario_with(path, extra)?;
        let own = [scenario
            .system_config()
            .map_or("", |c| c.strategy.name())
            .to_string()];
        let asked = strategies.unwrap_or(&own);
        for mut variant in strategy_variants(&scenario, asked).map_err(bad_input)? {
            variant.label = match asked.len() {
                1 => scenario.name.clone(),
                _ => format!("{}:{}", scenario.name, variant.label),
            };
            if columns.iter().any(|c| c.label == variant.label) {
                return Err(bad_input(format!(
                    "two columns are named `{}`: compare files with different names",
                    variant.label
                )));
            }
            columns.push(variant);
        }
        names.push(scenario.name);
    }
    Ok((names.join(" vs "), columns))
}

/// `compare --vary`: the comparison at each value of the setting, as a curve.
fn load_curve(
    paths: &[PathBuf],
    strategies: Option<&[String]>,
    (seeds, pool): (std::ops::Range<u64>, &rayon::ThreadPool),
    vary: &str,
    (format, html): (CompareFormat, Option<&Path>),
) -> Result<(), Failure> {
    let vary = consim::compare::parse_vary(vary).map_err(bad_input)?;
    let mut points = Vec::new();
    for value in &vary.values {
        let set = format!("{}={value}", vary.path);
        let (name, variants) = compare_columns(paths, strategies, std::slice::from_ref(&set))?;
        let comparison = consim::compare::compare_variants(&name, &variants, seeds.clone(), pool);
        let number: f64 = value.parse().expect("values are numbers");
        for variant in &variants {
            let rows: Vec<&consim::compare::RunRow> = comparison
                .runs
                .iter()
                .filter(|r| r.variant == variant.label)
                .collect();
            points.push(consim::compare::CurvePoint::of(number, &variant.label, &rows));
        }
    }
    let curve = consim::compare::Curve::new(&vary.path, points);
    if let Some(path) = html {
        let title = format!("consim compare --vary {}", vary.path);
        std::fs::write(path, consim::html::curve_page(&title, &curve))
            .map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    match format {
        CompareFormat::Table => out!("{}", curve.to_table()),
        CompareFormat::Json => outln!("{}", curve.to_json()),
        CompareFormat::Csv => out!("{}", curve.to_csv()),
    }
    Ok(())
}

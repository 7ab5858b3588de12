//! Grading: run each criterion's scenario, from the student's files, on its seeds, and judge.
//!
//! Seeds start at [`Options::seed_base`]: 1 for a student checking their work, a number the
//! teacher keeps to themselves for the class's grades, so passing means the fix works, not
//! that it was tuned to the seeds the student saw. Results never depend on the thread count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::spec::{Criterion, Hint, PREDICTIONS, Predictions};
use super::{Exercise, ExerciseError};
use crate::check::CheckKind;
use crate::compare::{METRICS, RunRow};
use crate::scenario::{MAX_FILE_BYTES, Scenario, ScenarioError, read_bounded};
use crate::seeds::map_ordered;
use crate::sim::TraceLevel;
use crate::strategy::StrategyChoice;

/// Whose files are graded.
#[derive(Clone, Debug)]
pub enum Work {
    /// The exercise as it ships: what the student starts from.
    Starting,
    /// A copy of the exercise's folder: every file the grader reads is taken from it when
    /// it is there.
    Folder(PathBuf),
    /// Single files, each standing for the exercise file of the same name (any name, when
    /// the exercise has one file to edit and one is given).
    Files(Vec<PathBuf>),
}

/// How to grade.
#[derive(Clone, Debug)]
pub struct Options {
    /// The first seed of every criterion (plain and swarm seeds alike).
    pub seed_base: u64,
    /// The strategy that replaces each scenario's (an implement exercise's student code).
    pub strategy: Option<StrategyChoice>,
    /// How the printed commands start: `consim`, or the exercise's own program.
    pub command: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed_base: 1,
            strategy: None,
            command: "consim".into(),
        }
    }
}

/// The grade of one piece of work.
#[derive(Clone, Debug)]
pub struct Grade {
    /// The exercise's folder name.
    pub exercise: String,
    /// What was graded, in words.
    pub graded: String,
    /// One result per criterion, in the spec's order.
    pub results: Vec<CriterionResult>,
}

impl Grade {
    /// True when every criterion passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
}

/// How one criterion went.
#[derive(Clone, Debug)]
pub struct CriterionResult {
    /// The criterion's name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was measured, in one line.
    pub summary: String,
    /// The lowest failing seed, for a Holds criterion that failed.
    pub failing: Option<FailingSeed>,
    /// The advice for what failed.
    pub hint: Option<String>,
}

/// A seed that broke a check, and how to look at it.
#[derive(Clone, Debug)]
pub struct FailingSeed {
    /// The seed.
    pub seed: u64,
    /// True for a swarm seed (faults drawn, not the file's).
    pub swarm: bool,
    /// The first violation, in words.
    pub violation: String,
    /// Commands that replay and explain it.
    pub commands: Vec<String>,
}

/// Grades `work` against `exercise` on `pool`. An error is bad input: a file that does not
/// load, a submitted file the exercise does not have.
pub fn grade(
    exercise: &Exercise,
    work: &Work,
    options: &Options,
    pool: &rayon::ThreadPool,
) -> Result<Grade, ExerciseError> {
    let files = Files::of(exercise, work)?;
    let mut results = Vec::new();
    if !exercise.spec.pinned.is_empty() {
        results.push(files.unchanged(exercise)?);
    }
    for criterion in &exercise.spec.criteria {
        let path = files.path(criterion.scenario());
        let mut scenario = crate::scenario::load_with_sets(&path, criterion.sets())?;
        override_strategy(&mut scenario, options)?;
        let judge = Judge {
            exercise,
            scenario: &scenario,
            path: &path,
            sets: criterion.sets(),
            options,
            pool,
        };
        results.push(match criterion {
            Criterion::Holds {
                name,
                checks,
                seeds,
                swarm,
                ..
            } => {
                let checks: Vec<CheckKind> = checks
                    .iter()
                    .map(|c| crate::scenario::system_setup::check_kind(*c))
                    .collect();
                judge.holds(name, &checks, *seeds, *swarm)?
            }
            Criterion::Metric {
                name,
                metric,
                at_least,
                at_most,
                seeds,
                ..
            } => judge.metric(name, metric, (*at_least, *at_most), *seeds),
            Criterion::Predict {
                name,
                metric,
                answer,
                within,
                seeds,
                ..
            } => {
                let predicted = files.prediction(answer)?;
                judge.predict(name, metric, (answer, predicted), *within, *seeds)
            }
        });
    }
    Ok(Grade {
        exercise: exercise.id.clone(),
        graded: files.described,
        results,
    })
}

/// Puts the student's strategy in place of the scenario's.
fn override_strategy(scenario: &mut Scenario, options: &Options) -> Result<(), ExerciseError> {
    let Some(strategy) = &options.strategy else {
        return Ok(());
    };
    let Some(config) = scenario.system_config_mut() else {
        return Err(ExerciseError::Other(format!(
            "{} runs a pingmesh model: no strategy to replace",
            scenario.path.display()
        )));
    };
    config.strategy = strategy.clone();
    Ok(())
}

/// Where each file the grader reads comes from.
struct Files {
    dir: PathBuf,
    given: BTreeMap<String, PathBuf>,
    described: String,
}

impl Files {
    fn of(exercise: &Exercise, work: &Work) -> Result<Files, ExerciseError> {
        let editable = &exercise.spec.edit;
        let mut given = BTreeMap::new();
        let described = match work {
            Work::Starting => format!("{} (the starting state)", exercise.dir.display()),
            Work::Folder(dir) => {
                if !dir.is_dir() {
                    return Err(ExerciseError::Other(format!("{} is not a folder", dir.display())));
                }
                let mut names: Vec<&str> = exercise.spec.criteria.iter().map(Criterion::scenario).collect();
                names.extend(editable.iter().map(String::as_str));
                names.push(PREDICTIONS);
                for name in names {
                    if dir.join(name).is_file() {
                        given.insert(name.to_string(), dir.join(name));
                    }
                }
                if given.is_empty() {
                    return Err(ExerciseError::Other(format!(
                        "{} holds none of the exercise's files ({}); copy the exercise's folder and edit it",
                        dir.display(),
                        editable.join(", ")
                    )));
                }
                dir.display().to_string()
            }
            Work::Files(paths) => {
                for path in paths {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let as_name = if editable.contains(&name) {
                        name
                    } else if let ([only], [_]) = (editable.as_slice(), paths.as_slice()) {
                        only.clone()
                    } else {
                        return Err(ExerciseError::Other(format!(
                            "{} is not a file of exercise {}; it edits {}",
                            path.display(),
                            exercise.id,
                            editable.join(", ")
                        )));
                    };
                    if !path.is_file() {
                        return Err(ExerciseError::Other(format!(
                            "cannot read {}: no such file",
                            path.display()
                        )));
                    }
                    given.insert(as_name, path.clone());
                }
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        Ok(Files {
            dir: exercise.dir.clone(),
            given,
            described,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.given
            .get(name)
            .cloned()
            .unwrap_or_else(|| self.dir.join(name))
    }

    /// Whether the student left what the exercise pins as it was.
    fn unchanged(&self, exercise: &Exercise) -> Result<CriterionResult, ExerciseError> {
        let pinned = &exercise.spec.pinned;
        let mut changed: Vec<String> = Vec::new();
        let mut scenarios: Vec<&str> = exercise.spec.criteria.iter().map(Criterion::scenario).collect();
        scenarios.sort_unstable();
        scenarios.dedup();
        for pin in pinned {
            if pin.ends_with(".ron") {
                if normalised(&read(&self.path(pin))?) != normalised(&read(&self.dir.join(pin))?) {
                    changed.push(pin.clone());
                }
                continue;
            }
            for name in &scenarios {
                if pin == "strategy_name" {
                    let strategy = |path: &Path| -> Result<Option<&'static str>, ExerciseError> {
                        let loaded = crate::scenario::load(path)?;
                        Ok(loaded.system_config().map(|c| c.strategy.name()))
                    };
                    if strategy(&self.path(name))? != strategy(&self.dir.join(name))? {
                        changed.push(format!("the strategy in {name}"));
                    }
                    continue;
                }
                let field = |path: &Path| -> Result<serde_json::Value, ExerciseError> {
                    let raw: crate::scenario::raw::Scenario =
                        crate::scenario::validate::parse(path, &read(path)?)?;
                    let value = serde_json::to_value(&raw).expect("a scenario serialises");
                    Ok(value.get(pin).cloned().unwrap_or_default())
                };
                if field(&self.path(name))? != field(&self.dir.join(name))? {
                    changed.push(format!("{pin} in {name}"));
                }
            }
        }
        let name = format!("leaves {} as they were", pinned.join(", "));
        let passed = changed.is_empty();
        Ok(CriterionResult {
            name,
            passed,
            summary: if passed {
                "unchanged".into()
            } else {
                format!(
                    "changed: {}; the exercise is to fix the system, not its problem",
                    changed.join(", ")
                )
            },
            failing: None,
            hint: None,
        })
    }

    /// The student's number for `answer`, `None` when not written yet.
    fn prediction(&self, answer: &str) -> Result<Option<f64>, ExerciseError> {
        let path = self.path(PREDICTIONS);
        let source = read(&path)?;
        let Predictions(map) = crate::scenario::validate::parse(&path, &source)?;
        Ok(map.get(answer).copied().flatten())
    }
}

fn read(path: &Path) -> Result<String, ScenarioError> {
    read_bounded(path, MAX_FILE_BYTES).map_err(|e| ScenarioError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// A file's text without `//` comments and whitespace: what an edit must change to count.
fn normalised(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// What judging one criterion needs.
struct Judge<'a> {
    exercise: &'a Exercise,
    scenario: &'a Scenario,
    path: &'a Path,
    /// The criterion's `--set` changes, repeated in the commands it prints.
    sets: &'a [String],
    options: &'a Options,
    pool: &'a rayon::ThreadPool,
}

impl Judge<'_> {
    fn seeds(&self, count: u32) -> Vec<u64> {
        (0..u64::from(count))
            .map(|i| self.options.seed_base + i)
            .collect()
    }

    fn holds(
        &self,
        name: &str,
        checks: &[CheckKind],
        seeds: u32,
        swarm: u32,
    ) -> Result<CriterionResult, ExerciseError> {
        let plain: Vec<(u64, bool)> = self.seeds(seeds).into_iter().map(|s| (s, false)).collect();
        let drawn: Vec<(u64, bool)> = self.seeds(swarm).into_iter().map(|s| (s, true)).collect();
        let jobs: Vec<(u64, bool)> = plain.into_iter().chain(drawn).collect();
        let failures = map_ordered(
            self.pool,
            &jobs,
            |&(seed, swarm)| -> Result<Option<(Vec<CheckKind>, String)>, ScenarioError> {
                let scenario = self.run_scenario(seed, swarm)?;
                let report = crate::runner::run(&scenario, seed, TraceLevel::Hash).report;
                let failed: Vec<&crate::check::Verdict> = report
                    .checks
                    .iter()
                    .filter(|v| checks.contains(&v.check) && !v.holds())
                    .collect();
                Ok(failed.first().map(|first| {
                    let violation = first.violations.first().map_or_else(
                        || format!("{}: {}", first.check.name(), first.notes.join("; ")),
                        |v| {
                            let gtx = v.gtx.map(|g| format!("gtx {g}: ")).unwrap_or_default();
                            format!("{}: {gtx}{}", first.check.name(), v.detail)
                        },
                    );
                    (failed.iter().map(|v| v.check).collect(), violation)
                }))
            },
        );
        let mut outcomes = Vec::with_capacity(jobs.len());
        for outcome in failures {
            outcomes.push(outcome?);
        }
        let failed_plain = outcomes[..seeds as usize].iter().flatten().count();
        let failed_swarm = outcomes[seeds as usize..].iter().flatten().count();
        let names: Vec<&str> = checks.iter().map(|c| c.name()).collect();
        let ran = match swarm {
            0 => format!("{seeds} seeds"),
            _ => format!("{seeds} seeds and {swarm} swarm seeds"),
        };
        let Some(index) = outcomes.iter().position(Option::is_some) else {
            return Ok(CriterionResult {
                name: name.to_string(),
                passed: true,
                summary: format!("{} held on all {ran}", names.join(", ")),
                failing: None,
                hint: None,
            });
        };
        let (seed, swarm_seed) = jobs[index];
        let (failed_checks, violation) = outcomes[index].clone().expect("found failing");
        let mut broke: Vec<&str> = failed_checks.iter().map(|c| c.name()).collect();
        broke.dedup();
        let summary = match (failed_plain, failed_swarm) {
            (p, 0) => format!("{p} of {seeds} seeds broke {}", broke.join(", ")),
            (0, s) => format!(
                "all {seeds} seeds held, but {s} of {swarm} swarm seeds broke {}",
                broke.join(", ")
            ),
            (p, s) => format!(
                "{p} of {seeds} seeds and {s} of {swarm} swarm seeds broke {}",
                broke.join(", ")
            ),
        };
        let gtx = violation_gtx(&violation);
        let hint = self.check_hint(&failed_checks, seed, swarm_seed)?;
        Ok(CriterionResult {
            name: name.to_string(),
            passed: false,
            summary,
            failing: Some(FailingSeed {
                seed,
                swarm: swarm_seed,
                violation,
                commands: self.commands(seed, swarm_seed, gtx),
            }),
            hint,
        })
    }

    /// The scenario a seed runs: the file's, or the seed's swarm draw.
    fn run_scenario(&self, seed: u64, swarm: bool) -> Result<Scenario, ScenarioError> {
        if !swarm {
            return Ok(self.scenario.clone());
        }
        let mut drawn = crate::swarm::swarmed(self.scenario, seed)?.scenario;
        if let (Some(strategy), Some(config)) = (&self.options.strategy, drawn.system_config_mut()) {
            config.strategy = strategy.clone();
        }
        Ok(drawn)
    }

    /// Commands that replay the seed and, when the violation names a transaction, tell its
    /// story (a total that does not add up names none, and has no story to tell).
    fn commands(&self, seed: u64, swarm: bool, gtx: Option<u64>) -> Vec<String> {
        let c = &self.options.command;
        let path = self.path.display();
        let sets: String = self.sets.iter().map(|s| format!(" --set '{s}'")).collect();
        let (replay, story) = if swarm {
            let file = format!("swarm-seed-{seed}.ron");
            (
                format!("{c} run {path} --seed {seed}{sets} --swarm --swarm-out {file}"),
                file,
            )
        } else {
            (
                format!("{c} run {path} --seed {seed}{sets}"),
                format!("{path} --seed {seed}{sets}"),
            )
        };
        let mut commands = vec![format!("replay:  {replay}")];
        if let Some(gtx) = gtx {
            commands.push(format!("explain: {c} explain {story} --gtx {gtx}"));
            commands.push(format!("diagram: {c} diagram {story} --gtx {gtx}"));
        }
        commands
    }

    /// The hint for the checks that failed on `seed`: one keyed by a check and the point an
    /// actor crashed right after in the failing transaction, else one keyed by a check alone.
    fn check_hint(
        &self,
        failed: &[CheckKind],
        seed: u64,
        swarm: bool,
    ) -> Result<Option<String>, ScenarioError> {
        let hints: Vec<&Hint> = self
            .exercise
            .spec
            .hints
            .iter()
            .filter(|h| {
                h.check
                    .is_some_and(|c| failed.contains(&crate::scenario::system_setup::check_kind(c)))
            })
            .collect();
        let points: Vec<&str> = if hints.iter().any(|h| h.point.is_some()) {
            let scenario = self.run_scenario(seed, swarm)?;
            let run = crate::runner::run(&scenario, seed, TraceLevel::Full);
            crate::story::Story::from_run(run, seed, None)
                .map(|story| crate::story::crash_points(&story))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let pointed = hints
            .iter()
            .find(|h| h.point.as_deref().is_some_and(|p| points.contains(&p)));
        let plain = hints.iter().find(|h| h.point.is_none());
        Ok(pointed.or(plain).map(|h| h.text.clone()))
    }

    /// The metric's mean over the seeds, and how many runs measured it.
    fn mean(&self, metric: &str, seeds: u32) -> (Option<f64>, usize) {
        let of = METRICS
            .iter()
            .find(|m| m.key == metric)
            .expect("checked when read")
            .of;
        let values: Vec<Option<f64>> = map_ordered(self.pool, &self.seeds(seeds), |&seed| {
            let report = crate::runner::run(self.scenario, seed, TraceLevel::Off).report;
            of(&RunRow::of("grade", self.scenario, seed, &report))
        });
        let measured: Vec<f64> = values.into_iter().flatten().collect();
        let n = measured.len();
        ((n > 0).then(|| measured.iter().sum::<f64>() / n as f64), n)
    }

    fn metric_hint(&self, metric: &str) -> Option<String> {
        self.exercise
            .spec
            .hints
            .iter()
            .find(|h| h.metric.as_deref() == Some(metric))
            .map(|h| h.text.clone())
    }

    fn metric(
        &self,
        name: &str,
        metric: &str,
        (at_least, at_most): (Option<f64>, Option<f64>),
        seeds: u32,
    ) -> CriterionResult {
        let (mean, measured) = self.mean(metric, seeds);
        let shown = |x: f64| shown(metric, x);
        let wanted = match (at_least, at_most) {
            (Some(lo), Some(hi)) => format!("between {} and {}", shown(lo), shown(hi)),
            (Some(lo), None) => format!("at least {}", shown(lo)),
            (None, Some(hi)) => format!("at most {}", shown(hi)),
            (None, None) => "anything".into(),
        };
        let (passed, summary) = match mean {
            None => (
                false,
                format!("{metric} was measured in none of the {seeds} runs (needed {wanted})"),
            ),
            Some(mean) => {
                let passed = at_least.is_none_or(|lo| mean >= lo) && at_most.is_none_or(|hi| mean <= hi);
                (
                    passed,
                    format!(
                        "{metric} averaged {} over {measured} runs (needed {wanted})",
                        shown(mean)
                    ),
                )
            }
        };
        CriterionResult {
            name: name.to_string(),
            passed,
            summary,
            failing: None,
            hint: (!passed).then(|| self.metric_hint(metric)).flatten(),
        }
    }

    fn predict(
        &self,
        name: &str,
        metric: &str,
        (answer, predicted): (&str, Option<f64>),
        within: super::spec::Tolerance,
        seeds: u32,
    ) -> CriterionResult {
        let fail = |summary: String| CriterionResult {
            name: name.to_string(),
            passed: false,
            summary,
            failing: None,
            hint: self.metric_hint(metric),
        };
        let Some(predicted) = predicted else {
            return fail(format!(
                "no prediction yet: write a number for \"{answer}\" in {PREDICTIONS}"
            ));
        };
        let (Some(measured), _) = self.mean(metric, seeds) else {
            return fail(format!("{metric} was measured in none of the {seeds} runs"));
        };
        // The measured value is not shown: a prediction is made before looking.
        let passed = within.accepts(predicted, measured);
        let verdict = match (passed, predicted < measured) {
            (true, _) => "close enough",
            (false, true) => "too low",
            (false, false) => "too high",
        };
        CriterionResult {
            name: name.to_string(),
            passed,
            summary: format!("you predicted {} for {answer}: {verdict}", number(predicted)),
            failing: None,
            hint: (!passed).then(|| self.metric_hint(metric)).flatten(),
        }
    }
}

/// The transaction a violation line names (`gtx 12: ...`).
fn violation_gtx(violation: &str) -> Option<u64> {
    let rest = violation.split("gtx ").nth(1)?;
    rest.split(':').next()?.trim().parse().ok()
}

/// A value of `metric` in its unit: a share as a percentage, microseconds as milliseconds.
fn shown(metric: &str, x: f64) -> String {
    match METRICS.iter().find(|m| m.key == metric).map(|m| m.unit) {
        Some(crate::compare::Unit::Share) => format!("{}%", number(x * 100.0)),
        Some(crate::compare::Unit::Micros) => format!("{}ms", number(x / 1000.0)),
        _ => number(x),
    }
}

/// A number as people write it: no trailing zeros, at most three decimals.
pub fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

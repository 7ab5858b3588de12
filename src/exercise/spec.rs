//! The grader spec: `grader.ron` in an exercise's folder, what a student's work is judged by.
//!
//! It is data, not code, so a teacher writes a new exercise without touching consim: which
//! files the student edits, the criteria (checks that must hold over seeds, swarm seeds
//! included; metric targets; predictions compared with the run) and the hints, keyed by what
//! failed. Every name in it is checked when it is read, with its place in the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::compare::METRICS;
use crate::scenario::ScenarioError;
use crate::scenario::error::FileError;
use crate::scenario::locate::{Step, locate};
use crate::scenario::raw::CheckName;

/// Most seeds (plain and swarm together) one criterion may run: a grade must end in minutes.
pub const MAX_SEEDS: u32 = 2_000;

/// What kind of work the exercise asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Kind {
    /// Change settings in the scenario or model until the criteria pass.
    Configure,
    /// Write numbers in `predictions.ron` before running; the grader compares them.
    Predict,
    /// Write Rust against the public strategy API; graded by the exercise's own program.
    Implement,
}

impl Kind {
    /// The word `list` and `grade` print.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Configure => "configure",
            Kind::Predict => "predict",
            Kind::Implement => "implement",
        }
    }
}

/// A grader spec, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Grader")]
pub struct Spec {
    /// The kind of exercise.
    pub kind: Kind,
    /// The files the student edits, relative to the exercise's folder; `grade` accepts these
    /// names (or a folder holding them).
    pub edit: Vec<String>,
    /// For an implement exercise, the example program that grades the student's strategy
    /// (`cargo run --release --example NAME`).
    #[serde(default)]
    pub program: Option<String>,
    /// What the student must leave as it is, so the exercise cannot be passed by removing
    /// its problem: fields of the graded scenarios (`faults`, `workload`, `network`, ...) and
    /// whole files (`model.ron`), compared without comments and spacing.
    #[serde(default)]
    pub pinned: Vec<String>,
    /// What must pass, in order.
    pub criteria: Vec<Criterion>,
    /// Advice shown under a failing criterion, the most specific match first.
    #[serde(default)]
    pub hints: Vec<Hint>,
}

/// One thing the grader judges.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Criterion {
    /// Each check holds on every one of `seeds` seeds, and on `swarm` swarm seeds.
    Holds {
        /// What the student reads.
        name: String,
        /// The scenario run, relative to the exercise's folder.
        scenario: String,
        /// Changes made to the student's scenario before it runs, as `--set` takes them
        /// (`faults[0].lasts=60s`): the same system under a harsher fault, so a fix that
        /// only outlasts the file's fault does not pass.
        #[serde(default)]
        set: Vec<String>,
        /// The checks that must hold.
        checks: Vec<CheckName>,
        /// Plain seeds run (the file's faults).
        seeds: u32,
        /// Swarm seeds run (faults drawn per seed, `sweep --swarm`).
        #[serde(default)]
        swarm: u32,
    },
    /// A metric's mean over `seeds` seeds is within a bound.
    Metric {
        /// What the student reads.
        name: String,
        /// The scenario run.
        scenario: String,
        /// A key of `compare`'s metrics (`messages_per_tx`, `lost_updates_per_1k`, ...).
        metric: String,
        /// The mean must be at least this.
        #[serde(default)]
        at_least: Option<f64>,
        /// The mean must be at most this.
        #[serde(default)]
        at_most: Option<f64>,
        /// Seeds run.
        seeds: u32,
    },
    /// The student's prediction (`predictions.ron`, key `answer`) is within `within` of the
    /// metric's mean over `seeds` seeds.
    Predict {
        /// What the student reads.
        name: String,
        /// The scenario run.
        scenario: String,
        /// A key of `compare`'s metrics.
        metric: String,
        /// The key in `predictions.ron`.
        answer: String,
        /// How close is close enough.
        within: Tolerance,
        /// Seeds run.
        seeds: u32,
    },
}

/// How far a prediction may be from the measured value.
#[derive(Clone, Copy, Debug, Deserialize)]
pub enum Tolerance {
    /// At most this far, in the metric's own unit (shares are 0..1, times µs).
    Absolute(f64),
    /// At most this share of the measured value (0.1: 10%).
    Relative(f64),
}

impl Tolerance {
    /// True when `predicted` is close enough to `measured`.
    pub fn accepts(self, predicted: f64, measured: f64) -> bool {
        let allowed = match self {
            Tolerance::Absolute(a) => a,
            Tolerance::Relative(r) => r * measured.abs(),
        };
        // A hair of slack for the mean's floating-point rounding.
        (predicted - measured).abs() <= allowed + 1e-9 * measured.abs().max(1.0)
    }
}

/// Advice for one kind of failure.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    /// Shown when this check fails.
    #[serde(default)]
    pub check: Option<CheckName>,
    /// ... and, when given, only if an actor crashed right after this protocol point in the
    /// failing transaction.
    #[serde(default)]
    pub point: Option<String>,
    /// Shown when a Metric or Predict criterion on this metric fails.
    #[serde(default)]
    pub metric: Option<String>,
    /// The advice.
    pub text: String,
}

impl Criterion {
    /// What the student reads.
    pub fn name(&self) -> &str {
        match self {
            Criterion::Holds { name, .. }
            | Criterion::Metric { name, .. }
            | Criterion::Predict { name, .. } => name,
        }
    }

    /// The `--set` changes made before it runs.
    pub fn sets(&self) -> &[String] {
        match self {
            Criterion::Holds { set, .. } => set,
            Criterion::Metric { .. } | Criterion::Predict { .. } => &[],
        }
    }

    /// The scenario it runs, relative to the exercise's folder.
    pub fn scenario(&self) -> &str {
        match self {
            Criterion::Holds { scenario, .. }
            | Criterion::Metric { scenario, .. }
            | Criterion::Predict { scenario, .. } => scenario,
        }
    }
}

/// The predictions a student writes: `Predictions({"messages_per_tx": 12.0})`, `None` for a
/// number not written yet.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Predictions(pub BTreeMap<String, Option<f64>>);

/// The scenario fields a grader may pin; `strategy_name` pins which strategy runs but not
/// its settings.
pub const SCENARIO_FIELDS: [&str; 13] = [
    "model",
    "seed",
    "network",
    "faults",
    "heal_at",
    "stop",
    "strategy",
    "strategy_name",
    "workload",
    "gateway",
    "services",
    "broker",
    "checks",
];

/// The file predictions are read from, in the exercise's folder or the student's.
pub const PREDICTIONS: &str = "predictions.ron";

/// Reads and checks `grader.ron` (the text `source` of `path`); `dir` is the exercise's
/// folder, where the files it names must be.
pub fn parse(path: &Path, source: &str, dir: &Path) -> Result<Spec, ScenarioError> {
    let spec: Spec = crate::scenario::validate::parse(path, source).map_err(|e| {
        let help = "the grader format is described field by field in exercises/TEACHING.md";
        match e.into_errors() {
            errors if errors.is_empty() => ScenarioError::Unreadable {
                path: path.display().to_string(),
                reason: "unreadable".into(),
            },
            errors => ScenarioError::invalid(errors.into_iter().map(|e| e.with_help(help)).collect()),
        }
    })?;
    let mut errors = Vec::new();
    let mut error = |steps: &[Step<'_>], message: String, help: String| {
        let span = locate(source, steps).unwrap_or(0..source.len().min(1));
        errors.push(FileError::new(path, source, span, message, "here").with_help(help));
    };
    for (i, file) in spec.edit.iter().enumerate() {
        if !dir.join(file).is_file() {
            error(
                &[Step::Field("edit"), Step::Index(i)],
                format!("the exercise has no file `{file}` to edit"),
                format!("name files of {}", dir.display()),
            );
        }
    }
    if spec.kind == Kind::Implement && spec.program.is_none() {
        error(
            &[Step::Field("kind")],
            "an implement exercise needs the `program` that grades it".into(),
            "program: \"exercise_12\", an example in Cargo.toml that calls consim::exercise::program".into(),
        );
    }
    for (i, pin) in spec.pinned.iter().enumerate() {
        let known = if pin.ends_with(".ron") {
            dir.join(pin).is_file()
        } else {
            SCENARIO_FIELDS.contains(&pin.as_str())
        };
        if !known {
            error(
                &[Step::Field("pinned"), Step::Index(i)],
                format!("cannot pin `{pin}`: neither a file of the exercise nor a scenario field"),
                format!(
                    "scenario fields: {}; or a file such as \"model.ron\"",
                    SCENARIO_FIELDS.join(", ")
                ),
            );
        }
    }
    if spec.criteria.is_empty() {
        error(
            &[Step::Field("criteria")],
            "a grader with no criteria passes anything".into(),
            "add a Holds, Metric or Predict criterion".into(),
        );
    }
    for (i, criterion) in spec.criteria.iter().enumerate() {
        let at = |field: &'static str| [Step::Field("criteria"), Step::Index(i), Step::Field(field)];
        if !dir.join(criterion.scenario()).is_file() {
            error(
                &at("scenario"),
                format!("no scenario `{}` in the exercise", criterion.scenario()),
                "scenario paths are relative to the exercise's folder".into(),
            );
        }
        let (seeds, swarm) = match criterion {
            Criterion::Holds { seeds, swarm, .. } => (*seeds, *swarm),
            Criterion::Metric { seeds, .. } | Criterion::Predict { seeds, .. } => (*seeds, 0),
        };
        let total = u64::from(seeds) + u64::from(swarm);
        if total == 0 || total > u64::from(MAX_SEEDS) {
            let help = if total == 0 {
                "a criterion judged on no run passes anything: give it seeds"
            } else {
                "fewer seeds; a grade should end in a minute or two"
            };
            error(
                &at("seeds"),
                format!("{total} seeds in all: a criterion runs between 1 and {MAX_SEEDS}"),
                help.into(),
            );
        }
        match criterion {
            Criterion::Metric {
                metric,
                at_least,
                at_most,
                ..
            } => {
                if let Some(help) = unknown_metric(metric) {
                    error(&at("metric"), format!("unknown metric `{metric}`"), help);
                }
                if at_least.is_none() && at_most.is_none() {
                    error(
                        &at("metric"),
                        "a Metric criterion needs `at_least`, `at_most` or both".into(),
                        "at_most: 12.0".into(),
                    );
                }
            }
            Criterion::Predict { metric, .. } => {
                if let Some(help) = unknown_metric(metric) {
                    error(&at("metric"), format!("unknown metric `{metric}`"), help);
                }
                if !dir.join(PREDICTIONS).is_file() {
                    error(
                        &at("answer"),
                        format!("a Predict criterion needs `{PREDICTIONS}` in the exercise"),
                        "write the blank predictions the student fills in".into(),
                    );
                }
            }
            Criterion::Holds { checks, .. } if checks.is_empty() => error(
                &at("checks"),
                "a Holds criterion with no checks passes anything".into(),
                "checks: [Atomicity, Conservation]".into(),
            ),
            Criterion::Holds { .. } => {}
        }
    }
    for (i, hint) in spec.hints.iter().enumerate() {
        let at = |field: &'static str| [Step::Field("hints"), Step::Index(i), Step::Field(field)];
        if let Some(help) = hint.metric.as_deref().and_then(unknown_metric) {
            error(&at("metric"), "unknown metric in a hint".into(), help);
        }
        if hint.check.is_none() && hint.metric.is_none() {
            error(
                &[Step::Field("hints"), Step::Index(i)],
                "a hint keyed by nothing is never shown".into(),
                "give it a `check` (and maybe a `point`) or a `metric`".into(),
            );
        }
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(ScenarioError::invalid(errors))
    }
}

/// The help for a metric key that is not one of [`METRICS`], or `None` for a known one.
pub fn unknown_metric(key: &str) -> Option<String> {
    if METRICS.iter().any(|m| m.key == key) {
        return None;
    }
    let keys: Vec<&str> = METRICS.iter().map(|m| m.key).collect();
    let nearest = keys
        .iter()
        .min_by_key(|k| strsim::levenshtein(k, key))
        .filter(|k| strsim::levenshtein(k, key) <= 4)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    Some(format!("{nearest}metrics: {}", keys.join(", ")))
}

//! Classroom exercises: a folder each under `exercises/`, with the story (`README.md`), the
//! starting files, and a grader spec (`grader.ron`, see [`spec`]) that judges a student's
//! version of those files by running it, on seeds the teacher may keep secret.
//!
//! The grader reuses what every other command runs on: the runner, the checks, swarm draws
//! and compare's metrics. It only decides which runs to make and what counts as passing, so
//! an exercise is data a teacher writes without touching consim.

pub mod grade;
pub mod output;
pub mod program;
pub mod spec;

use std::path::{Path, PathBuf};

pub use grade::{CriterionResult, FailingSeed, Grade, Options, grade};
pub use spec::{Criterion, Kind, Spec};

use crate::scenario::{MAX_FILE_BYTES, ScenarioError, read_bounded};

/// The folder exercises are read from unless told otherwise.
pub const DEFAULT_ROOT: &str = "exercises";

/// The folder (inside the exercises' root) teachers keep answers and solutions in; never an
/// exercise itself.
pub const TEACHER_DIR: &str = "teacher";

/// One exercise, read and checked.
#[derive(Clone, Debug)]
pub struct Exercise {
    /// Its folder's name: `01-double-charge`.
    pub id: String,
    /// The number its folder name starts with.
    pub number: u32,
    /// The first heading of its README.
    pub title: String,
    /// Its folder.
    pub dir: PathBuf,
    /// Its README, whole.
    pub readme: String,
    /// Its grader.
    pub spec: Spec,
}

/// What went wrong finding or reading an exercise.
#[derive(Debug)]
pub enum ExerciseError {
    /// A file of the exercise is wrong, located.
    File(ScenarioError),
    /// Something else, in one line with its hint.
    Other(String),
}

impl From<ScenarioError> for ExerciseError {
    fn from(e: ScenarioError) -> Self {
        ExerciseError::File(e)
    }
}

/// Every exercise under `root`, by number. A folder without a `grader.ron` is not an
/// exercise (the teacher's folder, for one); one with a broken grader is an error.
pub fn list(root: &Path) -> Result<Vec<Exercise>, ExerciseError> {
    let mut exercises = folders(root)?
        .iter()
        .map(|d| load(d))
        .collect::<Result<Vec<_>, _>>()?;
    exercises.sort_by_key(|e| e.number);
    Ok(exercises)
}

/// The folders under `root` holding a `grader.ron`, by name.
fn folders(root: &Path) -> Result<Vec<PathBuf>, ExerciseError> {
    let entries = std::fs::read_dir(root).map_err(|e| {
        ExerciseError::Other(format!(
            "cannot read the exercises folder {}: {e}; run from the repository root or pass --dir",
            root.display()
        ))
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("grader.ron").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The exercise `id` names under `root`: its folder's name, or its number (`3`, `03`). Only
/// that exercise is read, so one being written does not stop the others.
pub fn find(root: &Path, id: &str) -> Result<Exercise, ExerciseError> {
    let dirs = folders(root)?;
    let id = id.trim_end_matches('/');
    let wanted_number: Option<u32> = id.parse().ok();
    let number_of = |name: &str| -> Option<u32> {
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let name_of = |dir: &PathBuf| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if let Some(dir) = dirs.iter().find(|d| {
        let name = name_of(d);
        name == id || (wanted_number.is_some() && number_of(&name) == wanted_number)
    }) {
        return load(dir);
    }
    let names: Vec<String> = dirs.iter().map(name_of).collect();
    Err(ExerciseError::Other(format!(
        "no exercise `{id}` in {}; exercises: {}",
        root.display(),
        names.join(", ")
    )))
}

/// Reads the exercise in `dir`.
pub fn load(dir: &Path) -> Result<Exercise, ExerciseError> {
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digits: String = id.chars().take_while(char::is_ascii_digit).collect();
    let Ok(number) = digits.parse() else {
        return Err(ExerciseError::Other(format!(
            "exercise folder {} does not start with its number; name it like 01-double-charge",
            dir.display()
        )));
    };
    let read = |name: &str| {
        let path = dir.join(name);
        read_bounded(&path, MAX_FILE_BYTES).map_err(|e| ScenarioError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    let readme = read("README.md")?;
    let title = readme
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or(&id)
        .trim()
        .to_string();
    let grader_path = dir.join("grader.ron");
    let spec = spec::parse(&grader_path, &read("grader.ron")?, dir)?;
    Ok(Exercise {
        id,
        number,
        title,
        dir: dir.to_path_buf(),
        readme,
        spec,
    })
}

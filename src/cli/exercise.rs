//! `consim exercise list | show ID | grade ID [FILES]`: the classroom pack.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use consim::exercise::grade::Work;
use consim::exercise::output::{CsvRow, csv_rows, to_csv, to_text};
use consim::exercise::{self, Exercise, ExerciseError, Kind, Options};

use super::{Failure, bad_input, render, worker_pool};

#[derive(Subcommand, Debug)]
pub(super) enum ExerciseCommand {
    /// The exercises, one line each: number, folder, kind, title.
    List {
        #[command(flatten)]
        root: Root,
    },
    /// An exercise's story and task (its README), the files to edit and what is graded.
    Show {
        /// The exercise: its number or its folder's name.
        id: String,
        #[command(flatten)]
        root: Root,
    },
    /// Grade work: with no files, the exercise as it ships; else the student's files (each
    /// stands for the exercise file of its name) or a copy of the exercise's folder.
    ///
    /// Exit 0 when every criterion passes, 2 when one fails, 1 on bad input.
    Grade(GradeArgs),
}

/// Where exercises are read from.
#[derive(Args, Debug)]
pub(super) struct Root {
    /// The folder holding the exercises.
    #[arg(long, default_value = exercise::DEFAULT_ROOT)]
    dir: PathBuf,
}

#[derive(Args, Debug)]
pub(super) struct GradeArgs {
    /// The exercise: its number or its folder's name.
    id: String,
    /// The student's files, or one folder (a copy of the exercise's).
    files: Vec<PathBuf>,
    #[command(flatten)]
    root: Root,
    /// The first seed of every criterion: keep your own to grade on seeds students have not
    /// seen.
    #[arg(long, default_value_t = 1)]
    seed_base: u64,
    /// Grade a class: every folder in DIR is one student's copy of the exercise, named after
    /// the student. Prints a line per student; see --csv.
    #[arg(long, value_name = "DIR", conflicts_with = "files")]
    batch: Option<PathBuf>,
    /// With --batch, write the results per student and criterion to FILE as CSV (`-`: stdout).
    #[arg(long, value_name = "FILE", requires = "batch")]
    csv: Option<PathBuf>,
    /// Worker threads (default: all cores). Grades do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

pub(super) fn exercise(command: &ExerciseCommand) -> Result<(), Failure> {
    match command {
        ExerciseCommand::List { root } => list(&root.dir),
        ExerciseCommand::Show { id, root } => show(&find(&root.dir, id)?),
        ExerciseCommand::Grade(args) => grade(args),
    }
}

fn failure(e: ExerciseError) -> Failure {
    match e {
        ExerciseError::File(e) => Failure::BadInput(render(e)),
        ExerciseError::Other(message) => bad_input(message),
    }
}

fn find(root: &Path, id: &str) -> Result<Exercise, Failure> {
    exercise::find(root, id).map_err(failure)
}

fn list(root: &Path) -> Result<(), Failure> {
    let all = exercise::list(root).map_err(failure)?;
    for e in &all {
        outln!(
            "{:>3}  {:<34} {:<10} {}",
            e.number,
            e.id,
            e.spec.kind.name(),
            e.title
        );
    }
    outln!(
        "\n{} exercises; `consim exercise show N` for one, `consim exercise grade N` to grade it",
        all.len()
    );
    Ok(())
}

fn show(e: &Exercise) -> Result<(), Failure> {
    outln!("{}", e.readme.trim_end());
    outln!("\n---\nfolder: {}", e.dir.display());
    outln!("you edit: {}", e.spec.edit.join(", "));
    outln!("graded on:");
    for c in &e.spec.criteria {
        outln!("  - {} ({})", c.name(), c.scenario());
    }
    match (&e.spec.kind, &e.spec.program) {
        (Kind::Implement, Some(program)) => outln!("grade: cargo run --release --example {program}"),
        _ => outln!(
            "grade: consim exercise grade {} [your files, or your copy of the folder]",
            e.number
        ),
    }
    Ok(())
}

fn grade(args: &GradeArgs) -> Result<(), Failure> {
    let exercise = find(&args.root.dir, &args.id)?;
    if let (Kind::Implement, Some(program)) = (exercise.spec.kind, &exercise.spec.program) {
        return Err(bad_input(format!(
            "exercise {} is written in Rust, which consim cannot load: grade it with `cargo run --release --example {program}` (it takes --seed-base too)",
            exercise.id
        )));
    }
    let pool = worker_pool(args.threads)?;
    let options = Options {
        seed_base: args.seed_base,
        ..Options::default()
    };
    if let Some(batch) = &args.batch {
        return grade_class(&exercise, batch, args.csv.as_deref(), &options, &pool);
    }
    let work = match args.files.as_slice() {
        [] => Work::Starting,
        [one] if one.is_dir() => Work::Folder(one.clone()),
        files => Work::Files(files.to_vec()),
    };
    let grade = exercise::grade(&exercise, &work, &options, &pool).map_err(failure)?;
    out!("{}", to_text(&exercise, &grade));
    if grade.passed() {
        Ok(())
    } else {
        Err(Failure::CriteriaFailed)
    }
}

/// Grades every student folder in `batch`; a student whose files do not load fails with the
/// error as the detail, and the others are still graded.
fn grade_class(
    exercise: &Exercise,
    batch: &Path,
    csv: Option<&Path>,
    options: &Options,
    pool: &rayon::ThreadPool,
) -> Result<(), Failure> {
    let entries = std::fs::read_dir(batch)
        .map_err(|e| bad_input(format!("cannot read the class folder {}: {e}", batch.display())))?;
    let mut students: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    students.sort();
    if students.is_empty() {
        return Err(bad_input(format!(
            "{} has no student folders; put each student's copy of the exercise in a folder named after them",
            batch.display()
        )));
    }
    let mut rows: Vec<CsvRow> = Vec::new();
    let mut failing = 0;
    for student in &students {
        let name = student
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match exercise::grade(exercise, &Work::Folder(student.clone()), options, pool) {
            Ok(grade) => {
                let passed = grade.results.iter().filter(|r| r.passed).count();
                outln!("{name:<24} {passed} of {} criteria pass", grade.results.len());
                failing += usize::from(!grade.passed());
                rows.extend(csv_rows(&name, &grade));
            }
            Err(e) => {
                let detail = match e {
                    ExerciseError::File(e) if e.errors().is_empty() => e.to_string(),
                    ExerciseError::File(e) => e
                        .errors()
                        .iter()
                        .map(|f| f.summary())
                        .collect::<Vec<_>>()
                        .join("; "),
                    ExerciseError::Other(message) => message,
                };
                outln!("{name:<24} files do not load: {detail}");
                failing += 1;
                rows.push(CsvRow {
                    student: name,
                    exercise: exercise.id.clone(),
                    criterion: "(files)".into(),
                    passed: false,
                    detail,
                    failing_seed: None,
                });
            }
        }
    }
    match csv {
        Some(path) if path == Path::new("-") => out!("{}", to_csv(&rows)),
        Some(path) => std::fs::write(path, to_csv(&rows))
            .map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))?,
        None => {}
    }
    outln!(
        "{} of {} students pass every criterion",
        students.len() - failing,
        students.len()
    );
    if failing > 0 {
        Err(Failure::CriteriaFailed)
    } else {
        Ok(())
    }
}

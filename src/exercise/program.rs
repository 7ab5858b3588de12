//! The program an implement exercise is graded by: an example (in `Cargo.toml`) whose `main`
//! hands the student's strategy to [`main`], which grades it like `consim exercise grade`
//! and tells the story of a failing seed under it.
//!
//! consim cannot load Rust at run time, so the student's code is compiled into this small
//! program instead; everything else (criteria, seeds, hints, output, exit codes) is the same.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::grade::{Options, Work};
use super::{DEFAULT_ROOT, ExerciseError};
use crate::strategy::StrategyChoice;

#[derive(Parser, Debug)]
#[command(about = "Grade a strategy you wrote for a consim exercise, or explain a failing seed.")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Grade the strategy on the exercise's criteria (the default).
    Grade {
        /// The first seed of every criterion (a teacher grades on seeds of their own).
        #[arg(long, default_value_t = 1)]
        seed_base: u64,
        /// The folder exercises are read from.
        #[arg(long, default_value = DEFAULT_ROOT)]
        dir: PathBuf,
    },
    /// Run a scenario under the strategy and print its report.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// The seed.
        #[arg(long)]
        seed: u64,
    },
    /// Tell the story of a failing transaction under the strategy.
    Explain {
        /// The scenario file.
        scenario: PathBuf,
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// The transaction (default: the first one a check found violated).
        #[arg(long)]
        gtx: Option<u64>,
    },
    /// Draw it as a Mermaid sequence diagram.
    Diagram {
        /// The scenario file.
        scenario: PathBuf,
        /// The seed.
        #[arg(long)]
        seed: u64,
        /// The transaction.
        #[arg(long)]
        gtx: Option<u64>,
    },
}

/// Runs the program for exercise `id` (its folder name) with the student's `strategy`, as
/// example `program`. Exit codes as `consim exercise grade`: 0 every criterion passes, 2 one
/// fails, 1 bad input.
pub fn main(id: &str, program: &str, strategy: StrategyChoice) -> ExitCode {
    let cli: Cli = match crate::args::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let command = format!("cargo run --release --example {program} --");
    let result = match cli.command.unwrap_or(Command::Grade {
        seed_base: 1,
        dir: DEFAULT_ROOT.into(),
    }) {
        Command::Grade { seed_base, dir } => grade(id, &dir, seed_base, (program, strategy), command),
        Command::Run { scenario, seed } => load_with(&scenario, strategy).map(|loaded| {
            print!(
                "{}",
                crate::runner::run(&loaded, seed, crate::sim::TraceLevel::Hash)
                    .report
                    .to_table()
            );
        }),
        Command::Explain { scenario, seed, gtx } => {
            story(&scenario, seed, gtx, strategy).map(|s| print!("{}", crate::story::explain(&s)))
        }
        Command::Diagram { scenario, seed, gtx } => story(&scenario, seed, gtx, strategy).and_then(|s| {
            let options = crate::story::DiagramOptions {
                max_lines: 300,
                ..Default::default()
            };
            crate::story::diagram(&s, &options)
                .map(|text| print!("{text}"))
                .map_err(|e| Ended::Bad(ExerciseError::Other(e)))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Ended::Failed) => ExitCode::from(2),
        Err(Ended::Bad(e)) => {
            match e {
                ExerciseError::File(e) => eprintln!("{:?}", miette::Report::new(e)),
                ExerciseError::Other(message) => eprintln!("error: {message}"),
            }
            ExitCode::from(1)
        }
    }
}

/// How the program ends when not with success.
enum Ended {
    Failed,
    Bad(ExerciseError),
}

impl From<ExerciseError> for Ended {
    fn from(e: ExerciseError) -> Self {
        Ended::Bad(e)
    }
}

fn grade(
    id: &str,
    dir: &std::path::Path,
    seed_base: u64,
    (program, strategy): (&str, StrategyChoice),
    command: String,
) -> Result<(), Ended> {
    let exercise = super::find(dir, id)?;
    let options = Options {
        seed_base,
        strategy: Some(strategy),
        command,
    };
    let pool = crate::seeds::pool(crate::seeds::cap_threads(None, available_cores()).0)
        .map_err(ExerciseError::Other)?;
    let mut grade = super::grade(&exercise, &Work::Starting, &options, &pool)?;
    grade.graded = format!("the strategy compiled into {program}, on seeds from {seed_base}");
    print!("{}", super::output::to_text(&exercise, &grade));
    if grade.passed() {
        Ok(())
    } else {
        Err(Ended::Failed)
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The scenario at `path` with the student's strategy in place of its own.
fn load_with(path: &std::path::Path, strategy: StrategyChoice) -> Result<crate::scenario::Scenario, Ended> {
    let mut loaded = crate::scenario::load(path).map_err(ExerciseError::File)?;
    if let Some(config) = loaded.system_config_mut() {
        config.strategy = strategy;
    }
    Ok(loaded)
}

fn story(
    scenario: &std::path::Path,
    seed: u64,
    gtx: Option<u64>,
    strategy: StrategyChoice,
) -> Result<crate::story::Story, Ended> {
    let loaded = load_with(scenario, strategy)?;
    crate::story::Story::of(&loaded, seed, gtx).map_err(|e| Ended::Bad(ExerciseError::Other(e)))
}

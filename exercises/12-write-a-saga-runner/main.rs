//! The program that grades exercise 12: it compiles the student's strategy (`student.rs`)
//! into consim's exercise grader. Run from the repository root:
//!
//! `cargo run --release --example exercise_12` (or `-- grade --seed-base N`,
//! `-- explain exercises/12-write-a-saga-runner/scenario.ron --seed N`).

#[path = "student.rs"]
mod student;

fn main() -> std::process::ExitCode {
    consim::exercise::program::main("12-write-a-saga-runner", "exercise_12", student::strategy())
}

//! Exercise 12's grader on the reference solution: `cargo run --release --example
//! exercise_12_solution`. It must pass, on any `--seed-base`.

#[path = "student.rs"]
mod student;

fn main() -> std::process::ExitCode {
    consim::exercise::program::main(
        "12-write-a-saga-runner",
        "exercise_12_solution",
        student::strategy(),
    )
}

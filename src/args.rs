//! Command-line arguments with consim's exit codes: clap exits 2 on a mistake, which here
//! means "a check failed", so every program of the project parses through [`parse`].

use std::process::ExitCode;

/// The parsed arguments, or the exit code to end with after clap printed its message:
/// success for `--help` and `--version` (answers, not errors), 1 for any other mistake (bad
/// input).
pub fn parse<C: clap::Parser>() -> Result<C, ExitCode> {
    C::try_parse().map_err(|e| {
        let _ = e.print();
        match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
            _ => ExitCode::from(1),
        }
    })
}

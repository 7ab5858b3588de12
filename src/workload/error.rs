//! The one error a workload setting can produce: a value that makes no sense, named and
//! explained.
//!
//! These are the user's mistakes (style 2.7), so each message says which setting is wrong, why,
//! and what would be right. The scenario layer adds file positions on top, which is why the
//! parts are kept as separate fields rather than one preformatted string.

use thiserror::Error;

/// A workload setting the generators refuse to draw from.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{what}: {problem}; {hint}")]
pub struct WorkloadError {
    /// Where the setting lives, as the caller named it (e.g. `workload.arrival`).
    pub what: String,
    /// What is wrong, naming the field (e.g. "`rate_per_s` must be positive, got 0").
    pub problem: String,
    /// What would be right, so the user can fix the file without reading the source.
    pub hint: String,
}

impl WorkloadError {
    /// Builds an error; `what` comes from the caller, the rest from the check that failed.
    pub(crate) fn new(what: &str, problem: impl Into<String>, hint: impl Into<String>) -> Self {
        WorkloadError {
            what: what.to_string(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }
}

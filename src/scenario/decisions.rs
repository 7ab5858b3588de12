//! What a model's entry may decide on before it starts a transaction: a later step's row,
//! on its replica (`entry_checks_replica`) or by asking the step's service
//! (`entry_queries`). Either follows one counter row, so only a step that adds to one row
//! can be named.

use super::locate::Step;
use super::validate::Checker;
use crate::system::model::{Action, StepSpec};

/// The step called `wanted`, after the first, that adds to one row (what a replica can
/// follow and a query can check), or `None` with an error at `field`.
pub fn later_counter_step(
    check: &mut Checker<'_>,
    field: &str,
    wanted: &str,
    steps: &[StepSpec],
) -> Option<u16> {
    let counts = |s: &StepSpec| {
        matches!(
            s.action,
            Action::Add { .. } | Action::ReadThenWrite { also_reads: None, .. }
        )
    };
    let index = steps
        .iter()
        .position(|s| s.name == wanted)
        .filter(|i| *i > 0 && counts(&steps[*i]));
    if index.is_none() {
        let later: Vec<&str> = steps
            .iter()
            .skip(1)
            .filter(|s| counts(s))
            .map(|s| s.name.as_str())
            .collect();
        check.error_at_name(
            &[Step::Field(field)],
            wanted,
            format!("`{wanted}` is not a later step that adds to one row, which the entry could check"),
            "not a checkable step",
            Some(format!("steps the entry could check: {}", later.join(", "))),
        );
    }
    index.map(|i| i as u16)
}

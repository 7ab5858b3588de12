//! Conservation and no oversell: checks about resources and rows.

use super::*;
use crate::system::examples::bank_transfer;

#[test]
fn conservation_is_not_judged_while_a_transfer_is_half_applied() {
    let model = bank_transfer();
    let mut half = History::default();
    commit(&mut half, 1, 7, 0, StepKind::Action);
    let moving = RunFacts::new(&model, &half, rows(900, 1_000), false, Instant::from_ms(1));
    let verdict = conservation(&moving);
    assert!(
        verdict.passed && !verdict.judged && !verdict.holds(),
        "{verdict:?}"
    );
    assert_eq!(
        verdict.notes,
        [
            NOT_JUDGED,
            "bank_a.accounts: total 99900, expected 100000",
            "bank_b.accounts: total 100000, expected 100000",
            "1 transactions still in progress at the end"
        ]
    );
    // At rest, the same state is a violation.
    assert!(!conservation(&facts(&model, &half, rows(900, 1_000))).passed);
}

#[test]
fn conservation_names_the_transaction_that_moved_a_resource_without_completing() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1, 3, 0, StepKind::Action);
    commit(&mut history, 2, 3, 1, StepKind::Action);
    // gtx 7 debited and never credited: bank_a's money is 100 short, and gtx 7 is why.
    commit(&mut history, 5, 7, 0, StepKind::Action);
    let verdict = conservation(&facts(&model, &history, rows(800, 1_100)));
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
    let violation = &verdict.violations[0];
    assert_eq!((violation.gtx, violation.at_us), (Some(7), Some(5)));
    assert_eq!(violation.rows, ["bank_a.accounts[0]"]);
    assert_eq!(
        violation.detail,
        "bank_a.accounts totals 99800, expected 99900 (-100): this transaction moved it -100 where +0 was due (debit=1, credit=0)"
    );
    assert_eq!(violation.events[0].detail, "bank_a: step debit applied");
    assert_eq!(violation.events[0].seq, 5);
}

#[test]
fn conservation_counts_a_step_applied_twice_as_consumed_twice() {
    let model = bank_transfer();
    let mut twice = History::default();
    commit(&mut twice, 1, 3, 0, StepKind::Action);
    commit(&mut twice, 2, 3, 1, StepKind::Action);
    commit(&mut twice, 3, 3, 1, StepKind::Action);
    let verdict = conservation(&facts(&model, &twice, rows(900, 1_200)));
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
    assert_eq!(verdict.violations[0].gtx, Some(3));
    assert!(
        verdict.violations[0]
            .detail
            .ends_with("this transaction moved it +200 where +100 was due (debit=1, credit=2)"),
        "{verdict:?}"
    );
}

#[test]
fn conservation_reports_money_no_recorded_change_explains() {
    let model = bank_transfer();
    let mut done = History::default();
    commit(&mut done, 1, 3, 0, StepKind::Action);
    commit(&mut done, 2, 3, 1, StepKind::Action);
    assert!(conservation(&facts(&model, &done, rows(900, 1_100))).holds());
    let verdict = conservation(&facts(&model, &done, rows(900, 1_000)));
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
    let violation = &verdict.violations[0];
    assert_eq!(violation.gtx, None);
    assert_eq!(violation.rows, ["bank_b.accounts"]);
    assert_eq!(
        violation.detail,
        "bank_b.accounts totals 100000, expected 100100 (-100): -100 not explained by any recorded change"
    );
}

/// Conservation is per resource, not only of what the model audits: a model that audits
/// nothing (like travel booking) is still judged on every table its steps write.
#[test]
fn conservation_judges_every_resource_a_step_writes_even_without_an_audit() {
    let mut model = bank_transfer();
    model.audit.clear();
    let mut half = History::default();
    commit(&mut half, 1, 7, 1, StepKind::Action);
    let verdict = conservation(&facts(&model, &half, rows(1_000, 1_100)));
    assert!(verdict.judged && !verdict.passed, "{verdict:?}");
    assert_eq!(verdict.violations[0].rows, ["bank_b.accounts[0]"]);
}

#[test]
fn no_oversell_fails_when_a_change_takes_a_row_out_of_bounds_even_if_it_is_undone_later() {
    let model = bank_transfer();
    let mut history = History::default();
    // Ten debits of 100 empty account 0; an eleventh takes it to -100, and is compensated.
    for gtx in 0..10 {
        commit(&mut history, 1 + gtx, gtx, 0, StepKind::Action);
    }
    assert!(no_oversell(&facts(&model, &history, rows(0, 1_000))).holds());
    commit(&mut history, 20, 10, 0, StepKind::Action);
    commit(&mut history, 30, 10, 0, StepKind::Compensation);
    // The end state is within bounds; the history is not.
    let verdict = no_oversell(&facts(&model, &history, rows(0, 1_000)));
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
    let violation = &verdict.violations[0];
    assert_eq!((violation.gtx, violation.at_us), (Some(10), Some(20)));
    assert_eq!(violation.rows, ["bank_a.accounts[0]"]);
    assert_eq!(
        violation.detail,
        "step debit took the row to -100, outside the bounds step debit enforces"
    );
    let seqs: Vec<u64> = violation.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [20]);
}

#[test]
fn no_oversell_fails_on_a_row_that_ends_out_of_bounds_with_no_change_to_blame() {
    let model = bank_transfer();
    let history = History::default();
    assert!(no_oversell(&facts(&model, &history, rows(0, 1_000))).passed);
    let verdict = no_oversell(&facts(&model, &history, rows(-100, 1_000)));
    assert!(!verdict.passed);
    let violation = &verdict.violations[0];
    assert_eq!((violation.gtx, violation.at_us), (None, Some(100_000)));
    assert_eq!(violation.rows, ["bank_a.accounts[0]"]);
    assert!(
        violation
            .detail
            .starts_with("ends at -100, outside the bounds step debit enforces"),
        "{verdict:?}"
    );
}

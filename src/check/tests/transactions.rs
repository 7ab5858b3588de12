//! Atomicity, no double effect and no lost work: checks about one transaction each.

use super::*;
use crate::system::examples::bank_transfer;

#[test]
fn atomicity_fails_on_a_half_applied_transfer_and_passes_on_a_compensated_one() {
    let model = bank_transfer();
    let mut half = History::default();
    commit(&mut half, 1, 7, 0, StepKind::Action);
    let verdict = atomicity(&facts(&model, &half, rows(900, 1_000)));
    assert!(!verdict.passed);
    assert_eq!(verdict.violations[0].gtx, Some(7));
    assert_eq!(verdict.violations[0].detail, "half applied: debit=1, credit=0");
    assert_eq!(verdict.violations[0].at_us, Some(1));
    // It names the row and the event (by trace sequence number) that caused it.
    assert_eq!(verdict.violations[0].rows, ["bank_a.accounts[0]"]);
    let events = &verdict.violations[0].events;
    assert_eq!((events.len(), events[0].seq, events[0].at_us), (1, 1, 1));
    assert_eq!(events[0].detail, "bank_a: step debit applied");
    let mut undone = half.clone();
    commit(&mut undone, 2, 7, 0, StepKind::Compensation);
    assert!(atomicity(&facts(&model, &undone, rows(1_000, 1_000))).passed);
}

#[test]
fn atomicity_waits_for_the_run_to_come_to_rest() {
    let model = bank_transfer();
    let mut half = History::default();
    commit(&mut half, 1, 7, 0, StepKind::Action);
    let moving = RunFacts::new(&model, &half, rows(900, 1_000), false, Instant::from_ms(1));
    let verdict = atomicity(&moving);
    assert!(verdict.passed);
    assert_eq!(
        verdict.notes,
        [NOT_JUDGED, "1 transactions still in progress at the end"]
    );
}

#[test]
fn a_run_stopped_with_a_half_applied_transfer_is_not_judged_and_does_not_hold() {
    let model = bank_transfer();
    let mut half = History::default();
    commit(&mut half, 1, 7, 0, StepKind::Action);
    let moving = RunFacts::new(&model, &half, rows(900, 1_000), false, Instant::from_ms(1));
    let verdict = atomicity(&moving);
    assert!(verdict.passed && !verdict.judged, "{verdict:?}");
    assert!(!verdict.holds());
    // The same history at rest is judged, and fails.
    let verdict = atomicity(&facts(&model, &half, rows(900, 1_000)));
    assert!(
        verdict.judged && !verdict.passed && !verdict.holds(),
        "{verdict:?}"
    );
}

#[test]
fn a_run_stopped_with_nothing_in_flight_is_judged() {
    let model = bank_transfer();
    let mut done = History::default();
    commit(&mut done, 1, 3, 0, StepKind::Action);
    commit(&mut done, 2, 3, 1, StepKind::Action);
    let stopped = RunFacts::new(&model, &done, rows(900, 1_000), false, Instant::from_ms(1));
    assert!(stopped.at_rest());
    assert!(atomicity(&stopped).holds());
    // Nothing is in flight, so conservation judges, and money vanished.
    let verdict = conservation(&stopped);
    assert!(verdict.judged && !verdict.passed, "{verdict:?}");
}

#[test]
fn no_double_effect_fails_when_a_duplicate_is_applied_twice() {
    let model = bank_transfer();
    let mut twice = History::default();
    commit(&mut twice, 1, 3, 0, StepKind::Action);
    commit(&mut twice, 2, 3, 1, StepKind::Action);
    assert!(no_double_effect(&facts(&model, &twice, rows(900, 1_100))).passed);
    commit(&mut twice, 3, 3, 1, StepKind::Action);
    let verdict = no_double_effect(&facts(&model, &twice, rows(900, 1_200)));
    assert!(!verdict.passed);
    let violation = &verdict.violations[0];
    assert_eq!(
        violation.detail,
        "step credit applied 2 times, compensated 0 times"
    );
    // It points at the step's row, its last application, and that step's events only.
    assert_eq!((violation.gtx, violation.at_us), (Some(3), Some(3)));
    assert_eq!(violation.rows, ["bank_b.accounts[0]"]);
    let seqs: Vec<u64> = violation.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3]);
    // A compensation applied without its action is a double effect too.
    let mut undone = History::default();
    commit(&mut undone, 1, 4, 0, StepKind::Compensation);
    let verdict = no_double_effect(&facts(&model, &undone, rows(1_100, 1_000)));
    assert_eq!(
        verdict.violations[0].detail,
        "step debit applied 0 times, compensated 1 times"
    );
}

#[test]
fn no_lost_work_reports_in_doubt_stuck_and_unanswered_transactions_with_how_long() {
    let model = bank_transfer();
    let mut history = History::default();
    // gtx 1: prepared at 2 µs, never decided.
    started(&mut history, 1, 1);
    local(
        &mut history,
        2,
        1,
        0,
        StepKind::Action,
        CallMode::Prepare,
        LocalResult::Prepared,
    );
    // gtx 2: started at 3 µs, never answered, nothing applied.
    started(&mut history, 3, 2);
    // gtx 3: debited at 5 µs, never credited; the client was told it timed out.
    started(&mut history, 4, 3);
    commit(&mut history, 5, 3, 0, StepKind::Action);
    ended(&mut history, 9, 3, RequestOutcome::TimedOut);
    let verdict = no_lost_work(&facts(&model, &history, rows(900, 1_000)));
    assert_eq!(verdict.violation_count, 3, "{verdict:?}");
    let [doubt, unanswered, stuck] = &verdict.violations[..] else {
        panic!("{verdict:?}")
    };
    assert_eq!(doubt.gtx, Some(1));
    assert_eq!(doubt.at_us, Some(2));
    assert_eq!(
        doubt.detail,
        "in doubt for 99.998ms at the end: prepared at 2us, never decided; never answered"
    );
    assert_eq!(doubt.rows, ["bank_a.accounts[0]"]);
    let seqs: Vec<(u64, &str)> = doubt.events.iter().map(|e| (e.seq, e.detail.as_str())).collect();
    assert_eq!(
        seqs,
        [
            (1, "gateway: request 1 started"),
            (2, "bank_a: step debit prepared")
        ]
    );
    assert_eq!((unanswered.gtx, unanswered.at_us), (Some(2), Some(3)));
    assert_eq!(
        unanswered.detail,
        "accepted at 3us, never answered: waited 99.997ms to the end"
    );
    assert_eq!(unanswered.events[0].seq, 3);
    assert_eq!((stuck.gtx, stuck.at_us), (Some(3), Some(5)));
    assert_eq!(
        stuck.detail,
        "stuck for 99.995ms at the end: debit=1, credit=0 since 5us; answered timed out"
    );
    assert_eq!(stuck.rows, ["bank_a.accounts[0]"]);
    assert_eq!(
        verdict.notes,
        ["1 in doubt, 1 stuck, 1 never answered, 1 answered as timed out"]
    );
    // Decided, answered and undone, nothing is lost.
    ended(&mut history, 10, 2, RequestOutcome::Aborted);
    let decided = HistoryEvent::Decided {
        mode: CallMode::Prepare,
        service: ServiceId(0),
        gtx: GlobalTxId(1),
        step: 0,
        commit: false,
        in_doubt_us: 9,
    };
    history.record(Instant::from_us(11), 11, ActorId(2), decided);
    ended(&mut history, 12, 1, RequestOutcome::Aborted);
    commit(&mut history, 13, 3, 0, StepKind::Compensation);
    assert!(no_lost_work(&facts(&model, &history, rows(1_000, 1_000))).holds());
}

#[test]
fn no_lost_work_does_not_judge_an_unanswered_request_in_a_run_stopped_at_a_limit() {
    let model = bank_transfer();
    let mut history = History::default();
    started(&mut history, 1, 4);
    let moving = RunFacts::new(&model, &history, rows(1_000, 1_000), false, Instant::from_ms(1));
    let verdict = no_lost_work(&moving);
    assert!(
        verdict.passed && !verdict.judged && !verdict.holds(),
        "{verdict:?}"
    );
    assert_eq!(
        verdict.notes,
        [
            NOT_JUDGED,
            "0 in doubt, 0 stuck, 0 never answered, 0 answered as timed out",
            "1 transactions still in progress at the end"
        ]
    );
    let verdict = no_lost_work(&facts(&model, &history, rows(1_000, 1_000)));
    assert!(verdict.judged && !verdict.passed, "{verdict:?}");
    assert_eq!(
        verdict.violations[0].detail,
        "accepted at 1us, never answered: waited 99.999ms to the end"
    );
}

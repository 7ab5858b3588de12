//! Every check is shown to fail on a history built by hand with the violation it exists to
//! catch, and to pass on the same history without it.

use std::collections::BTreeMap;

use super::*;
use crate::sim::{ActorId, Instant};
use crate::system::examples::bank_transfer;
use crate::system::history::{History, HistoryEvent, RowWrite};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{CallMode, GlobalTxId, LocalResult, RequestId, RequestOutcome, StepKind};

fn local(
    history: &mut History,
    at: u64,
    gtx: u64,
    step: u16,
    kind: StepKind,
    mode: CallMode,
    result: LocalResult,
) {
    let event = HistoryEvent::Local {
        service: ServiceId(step),
        gtx: GlobalTxId(gtx),
        step,
        kind,
        mode,
        result,
        replay: false,
        write: Some(RowWrite {
            table: 0,
            key: 0,
            delta: 0,
        }),
    };
    history.record(Instant::from_us(at), at, ActorId(2), event);
}

fn commit(history: &mut History, at: u64, gtx: u64, step: u16, kind: StepKind) {
    local(
        history,
        at,
        gtx,
        step,
        kind,
        CallMode::Commit,
        LocalResult::Committed,
    );
}

/// Both banks' accounts, with `a` and `b` as the sums of account 0 (the rest at 1,000).
fn rows(a: i64, b: i64) -> Vec<Vec<BTreeMap<u64, i64>>> {
    let bank = |first: i64| {
        vec![
            (0..100)
                .map(|k| (k, if k == 0 { first } else { 1_000 }))
                .collect(),
        ]
    };
    vec![bank(a), bank(b)]
}

fn facts<'a>(model: &'a Model, history: &History, rows: Vec<Vec<BTreeMap<u64, i64>>>) -> RunFacts<'a> {
    RunFacts::new(model, history, rows, true, Instant::from_ms(100))
}

#[test]
fn atomicity_fails_on_a_half_applied_transfer_and_passes_on_a_compensated_one() {
    let model = bank_transfer();
    let mut half = History::default();
    commit(&mut half, 1, 7, 0, StepKind::Action);
    let verdict = atomicity(&facts(&model, &half, rows(900, 1_000)));
    assert!(!verdict.passed);
    assert_eq!(verdict.violations[0].gtx, Some(7));
    assert_eq!(verdict.violations[0].detail, "half applied: debit=1, credit=0");
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
            "audited total 199900, expected 200000",
            "1 transactions still in progress at the end"
        ]
    );
    // At rest, the same state is a violation.
    assert!(!conservation(&facts(&model, &half, rows(900, 1_000))).passed);
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
    assert_eq!(
        verdict.violations[0].detail,
        "step credit applied 2 times, compensated 0 times"
    );
}

#[test]
fn conservation_fails_when_money_appears_or_vanishes() {
    let model = bank_transfer();
    let mut done = History::default();
    commit(&mut done, 1, 3, 0, StepKind::Action);
    commit(&mut done, 2, 3, 1, StepKind::Action);
    assert!(conservation(&facts(&model, &done, rows(900, 1_100))).passed);
    let verdict = conservation(&facts(&model, &done, rows(900, 1_000)));
    assert!(!verdict.passed);
    assert_eq!(
        verdict.violations[0].detail,
        "audited total is 199900, expected 200000 (-100)"
    );
}

#[test]
fn no_lost_work_reports_in_doubt_and_unanswered_transactions() {
    let model = bank_transfer();
    let mut history = History::default();
    let started = |h: &mut History, at: u64, gtx: u64| {
        let event = HistoryEvent::RequestStarted {
            req: RequestId(gtx),
            gtx: Some(GlobalTxId(gtx)),
            audit: false,
        };
        h.record(Instant::from_us(at), at, ActorId(1), event);
    };
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
    started(&mut history, 3, 2);
    let verdict = no_lost_work(&facts(&model, &history, rows(1_000, 1_000)));
    assert_eq!(verdict.violation_count, 2, "{verdict:?}");
    assert!(
        verdict.violations[0].detail.starts_with("in doubt for"),
        "{verdict:?}"
    );
    assert_eq!(verdict.violations[1].detail, "accepted, never answered");
    let ended = HistoryEvent::RequestEnded {
        req: RequestId(2),
        gtx: Some(GlobalTxId(2)),
        outcome: RequestOutcome::Aborted,
        latency_us: 5,
    };
    history.record(Instant::from_us(4), 4, ActorId(1), ended);
    let decided = HistoryEvent::Decided {
        service: ServiceId(0),
        gtx: GlobalTxId(1),
        step: 0,
        commit: false,
        in_doubt_us: 3,
    };
    history.record(Instant::from_us(5), 5, ActorId(2), decided);
    let ended = HistoryEvent::RequestEnded {
        req: RequestId(1),
        gtx: Some(GlobalTxId(1)),
        outcome: RequestOutcome::Aborted,
        latency_us: 5,
    };
    history.record(Instant::from_us(6), 6, ActorId(1), ended);
    assert!(no_lost_work(&facts(&model, &history, rows(1_000, 1_000))).passed);
}

#[test]
fn no_lost_work_does_not_judge_an_unanswered_request_in_a_run_stopped_at_a_limit() {
    let model = bank_transfer();
    let mut history = History::default();
    let event = HistoryEvent::RequestStarted {
        req: RequestId(4),
        gtx: Some(GlobalTxId(4)),
        audit: false,
    };
    history.record(Instant::from_us(1), 1, ActorId(1), event);
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
            "0 in doubt, 0 answered as timed out",
            "1 transactions still in progress at the end"
        ]
    );
    let verdict = no_lost_work(&facts(&model, &history, rows(1_000, 1_000)));
    assert!(verdict.judged && !verdict.passed, "{verdict:?}");
    assert_eq!(verdict.violations[0].detail, "accepted, never answered");
}

#[test]
fn no_oversell_fails_on_a_negative_balance() {
    let model = bank_transfer();
    let history = History::default();
    assert!(no_oversell(&facts(&model, &history, rows(0, 1_000))).passed);
    let verdict = no_oversell(&facts(&model, &history, rows(-100, 1_000)));
    assert!(!verdict.passed);
    assert_eq!(verdict.violations[0].rows, ["bank_a.accounts[0]"]);
}

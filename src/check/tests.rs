//! Every check is shown to fail on a history built by hand with the violation it exists to
//! catch, and to pass on the same history without it.

use std::collections::BTreeMap;

use super::*;
use crate::check::anomaly::anomalies;
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

// ----- convergence --------------------------------------------------------------------------

#[test]
fn convergence_fails_on_a_transfer_that_never_converges_and_on_one_that_converges_late() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1_000, 1, 0, StepKind::Action);
    commit(&mut history, 2_000, 1, 1, StepKind::Action);
    assert!(convergence(&facts(&model, &history, rows(900, 1_100))).holds());
    // gtx 2 converges 6 s after its first change; gtx 3 never does.
    commit(&mut history, 1_000_000, 2, 0, StepKind::Action);
    commit(&mut history, 3_000_000, 3, 0, StepKind::Action);
    commit(&mut history, 7_000_000, 2, 1, StepKind::Action);
    let end = RunFacts::new(&model, &history, rows(700, 1_200), true, Instant::from_ms(8_000));
    let verdict = convergence(&end);
    assert!(verdict.judged && !verdict.passed, "{verdict:?}");
    assert_eq!(verdict.violation_count, 2, "{verdict:?}");
    assert_eq!(verdict.violations[0].gtx, Some(2));
    assert_eq!(verdict.violations[0].at_us, Some(7_000_000));
    assert!(
        verdict.violations[0]
            .detail
            .starts_with("converged 6s after its first change, 1s past its deadline"),
        "{verdict:?}"
    );
    assert_eq!(verdict.violations[1].gtx, Some(3));
    assert_eq!(verdict.violations[1].detail, "never converged: debit=1, credit=0");
    // A partition that healed at 3 s moves gtx 2's deadline to 8 s: only gtx 3 is left.
    let partition = crate::net::FaultSpec::Partition {
        groups: vec![vec!["bank_a".into()], vec!["bank_b".into()]],
        from: Instant::from_ms(500),
        until: Some(Instant::from_ms(3_000)),
    };
    let rule = ConvergenceRule::new(DEFAULT_CONVERGE_WITHIN, &[partition]);
    assert_eq!(rule.last_heal, Some(Instant::from_ms(3_000)));
    let healed = RunFacts::new(&model, &history, rows(700, 1_200), true, Instant::from_ms(8_000))
        .with_convergence(rule);
    let verdict = convergence(&healed);
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
    assert_eq!(verdict.violations[0].gtx, Some(3));
}

#[test]
fn convergence_counts_a_2pc_commit_when_it_is_decided_not_when_it_is_prepared() {
    let model = bank_transfer();
    let mut history = History::default();
    for step in 0..2 {
        local(
            &mut history,
            1_000,
            4,
            step,
            StepKind::Action,
            CallMode::Prepare,
            LocalResult::Prepared,
        );
    }
    let decided = |h: &mut History, at: u64, step: u16| {
        let event = HistoryEvent::Decided {
            service: ServiceId(step),
            gtx: GlobalTxId(4),
            step,
            commit: true,
            in_doubt_us: at - 1_000,
        };
        h.record(Instant::from_us(at), at, ActorId(2), event);
    };
    decided(&mut history, 2_000, 0);
    decided(&mut history, 2_500, 1);
    let facts = facts(&model, &history, rows(900, 1_100));
    let window = &facts.txs[&GlobalTxId(4)].window;
    assert_eq!(window.first_change, Some(Instant::from_us(2_000)));
    assert_eq!(window.span_us(), Some(500));
    let tight = ConvergenceRule {
        within: crate::sim::Duration::from_us(100),
        ..ConvergenceRule::default()
    };
    let verdict = convergence(&facts.clone().with_convergence(tight));
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
}

#[test]
fn convergence_reports_read_model_rows_that_disagree_with_their_source() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1_000, 5, 0, StepKind::Action);
    commit(&mut history, 2_000, 5, 1, StepKind::Action);
    let stale = StaleRow {
        gtx: GlobalTxId(5),
        step: 1,
        at: Some(Instant::from_us(2_000)),
        detail: "read model shows step credit not applied, its service has it applied".into(),
    };
    let view = ReadModelFacts {
        rows: 1,
        stale: vec![stale],
        sightings: Vec::new(),
    };
    let with_view = facts(&model, &history, rows(900, 1_100)).with_read_model(view);
    let verdict = convergence(&with_view);
    assert!(!verdict.passed, "{verdict:?}");
    assert_eq!(verdict.violations[0].rows, ["bank_a.read_model[5, credit]"]);
    let clean = facts(&model, &history, rows(900, 1_100)).with_read_model(ReadModelFacts::default());
    assert!(convergence(&clean).holds());
}

#[test]
fn convergence_is_not_judged_when_a_fault_never_heals_or_the_run_is_moving() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1_000, 6, 0, StepKind::Action);
    let crash = crate::net::FaultSpec::Crash {
        node: "bank_b".into(),
        at: Instant::from_us(500),
        restart_at: None,
    };
    let rule = ConvergenceRule::new(DEFAULT_CONVERGE_WITHIN, &[crash]);
    let verdict = convergence(&facts(&model, &history, rows(900, 1_000)).with_convergence(rule));
    assert!(
        verdict.passed && !verdict.judged && !verdict.holds(),
        "{verdict:?}"
    );
    let moving = RunFacts::new(&model, &history, rows(900, 1_000), false, Instant::from_ms(1));
    let verdict = convergence(&moving);
    assert!(!verdict.judged && verdict.notes[0] == NOT_JUDGED, "{verdict:?}");
}

// ----- anomalies ----------------------------------------------------------------------------

/// Step `step` of `gtx` (an action or its compensation) committed its real change: the
/// bank model's debit of account 0 at bank_a or credit of account 0 at bank_b.
fn transfer_change(history: &mut History, at: u64, gtx: u64, step: u16, kind: StepKind) {
    let delta = match (step, kind) {
        (0, StepKind::Action) | (1, StepKind::Compensation) => -100,
        _ => 100,
    };
    let event = HistoryEvent::Local {
        service: ServiceId(step),
        gtx: GlobalTxId(gtx),
        step,
        kind,
        mode: CallMode::Commit,
        result: LocalResult::Committed,
        replay: false,
        write: Some(RowWrite {
            table: 0,
            key: 0,
            delta,
        }),
    };
    history.record(Instant::from_us(at), at, ActorId(2 + u32::from(step)), event);
}

/// An audit `req` from `start` to `end`: each bank reads `a` and `b`, the gateway sums them.
fn audit(history: &mut History, start: u64, end: u64, req: u64, a: i64, b: i64) {
    let started = HistoryEvent::RequestStarted {
        req: RequestId(req),
        gtx: None,
        audit: true,
    };
    history.record(Instant::from_us(start), start, ActorId(1), started);
    for (service, total) in [(0, a), (1, b)] {
        let read = HistoryEvent::AuditRead {
            service: ServiceId(service),
            req: RequestId(req),
            total,
        };
        history.record(
            Instant::from_us(start + 1),
            start + 1,
            ActorId(2 + u32::from(service)),
            read,
        );
    }
    let done = HistoryEvent::Audit {
        req: RequestId(req),
        total: a + b,
        complete: true,
    };
    history.record(Instant::from_us(end), end, ActorId(1), done);
}

#[test]
fn an_audit_that_sees_a_transfer_half_done_is_an_inconsistent_read() {
    let model = bank_transfer();
    let mut history = History::default();
    audit(&mut history, 1, 3, 1, 100_000, 100_000);
    transfer_change(&mut history, 10, 1, 0, StepKind::Action);
    audit(&mut history, 20, 23, 2, 99_900, 100_000); // debited, not yet credited
    transfer_change(&mut history, 30, 1, 1, StepKind::Action);
    audit(&mut history, 40, 43, 3, 99_900, 100_100);
    let found = anomalies(&facts(&model, &history, rows(900, 1_100)), &history);
    assert_eq!((found.reads, found.complete_audits), (6, 3));
    assert_eq!(found.inconsistent_audit_reads.count, 1, "{found:?}");
    // Per complete audit, not per service read.
    assert_eq!(found.inconsistent_audit_reads.per_1k, Some(1_000.0 / 3.0));
    assert_eq!(found.dirty_reads.count, 0);
    assert_eq!(found.lost_updates.count, 0, "{found:?}");
}

#[test]
fn a_read_between_a_step_and_its_compensation_is_a_dirty_read() {
    let model = bank_transfer();
    let mut history = History::default();
    transfer_change(&mut history, 10, 1, 0, StepKind::Action);
    audit(&mut history, 20, 23, 1, 99_900, 100_000); // sees the debit that is undone below
    transfer_change(&mut history, 30, 1, 0, StepKind::Compensation);
    audit(&mut history, 40, 43, 2, 100_000, 100_000);
    let found = anomalies(&facts(&model, &history, rows(1_000, 1_000)), &history);
    assert_eq!(found.dirty_reads.count, 1, "{found:?}");
    assert_eq!(found.inconsistent_audit_reads.count, 1, "{found:?}");
    assert_eq!(found.dirty_reads.per_1k, Some(1_000.0 / 4.0));
    assert_eq!(found.inconsistent_audit_reads.per_1k, Some(1_000.0 / 2.0));
    // Without the compensation the same read saw a real (if unfinished) change: not dirty.
    let mut kept = History::default();
    transfer_change(&mut kept, 10, 1, 0, StepKind::Action);
    audit(&mut kept, 20, 23, 1, 99_900, 100_000);
    let found = anomalies(&facts(&model, &kept, rows(900, 1_000)), &kept);
    assert_eq!(found.dirty_reads.count, 0, "{found:?}");
}

#[test]
fn a_row_that_lost_a_recorded_change_is_a_lost_update() {
    let model = bank_transfer();
    let mut history = History::default();
    transfer_change(&mut history, 10, 1, 0, StepKind::Action);
    transfer_change(&mut history, 20, 1, 1, StepKind::Action);
    let found = anomalies(&facts(&model, &history, rows(900, 1_100)), &history);
    assert_eq!(found.lost_updates.count, 0, "{found:?}");
    assert_eq!(found.reads, 0);
    assert_eq!(found.dirty_reads.per_1k, None, "no reads, no rate");
    assert_eq!(found.inconsistent_audit_reads.per_1k, None, "no audits, no rate");
    // The credit was overwritten by a writer that never saw it.
    let found = anomalies(&facts(&model, &history, rows(900, 1_000)), &history);
    assert_eq!(found.lost_updates.count, 1, "{found:?}");
    assert_eq!(found.lost_updates.per_1k, Some(1_000.0 / 2.0), "per change");
    assert_eq!(found.lost_update_rows, ["bank_b.accounts[0]"]);
}

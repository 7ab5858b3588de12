//! The anomaly detectors: what audit reads saw, and updates lost.

use super::*;
use crate::system::examples::bank_transfer;

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
            hides_pending: false,
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
fn a_row_whose_final_value_misses_a_recorded_change_is_a_lost_update() {
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

/// A bank where `credit` opens a fixed account 50 at bank_b (undone by closing it) and
/// `top_up` adds to the account the request names: two steps that can meet on one row.
fn opening_bank() -> Model {
    use crate::store::{Bounds, TableId};
    use crate::system::model::{Action, KeyRef, StepSpec};
    let mut model = bank_transfer();
    let (table, key) = (TableId(0), KeyRef::Const(50));
    model.steps[1].action = Action::Insert { table, key, value: 7 };
    model.steps[1].compensation = Action::Delete { table, key };
    model.steps.push(StepSpec {
        name: "top_up".into(),
        service: ServiceId(1),
        action: Action::Add {
            table,
            key: KeyRef::Other,
            delta: 100,
            bounds: Bounds::ANY,
        },
        compensation: Action::Add {
            table,
            key: KeyRef::Other,
            delta: -100,
            bounds: Bounds::ANY,
        },
    });
    model
}

/// Step `step` of `gtx` committed its write to bank_b's account 50.
fn account_50(history: &mut History, at: u64, gtx: u64, step: u16, kind: StepKind) {
    let event = HistoryEvent::Local {
        service: ServiceId(1),
        gtx: GlobalTxId(gtx),
        step,
        kind,
        mode: CallMode::Commit,
        result: LocalResult::Committed,
        replay: false,
        write: Some(RowWrite {
            table: 0,
            key: 50,
            delta: 0,
        }),
    };
    history.record(Instant::from_us(at), at, ActorId(3), event);
}

#[test]
fn a_compensation_that_deletes_a_row_another_transaction_changed_loses_its_update() {
    let model = opening_bank();
    let mut history = History::default();
    // gtx 1 opens account 50 (after deleting the initial one, so the insert can apply).
    account_50(&mut history, 5, 0, 1, StepKind::Compensation);
    account_50(&mut history, 10, 1, 1, StepKind::Action);
    // gtx 2 tops it up by 100, then gtx 1 is undone: closing the account takes gtx 2's 100
    // with it, although gtx 2 never undid it.
    account_50(&mut history, 20, 2, 2, StepKind::Action);
    let mut end = rows(1_000, 1_000);
    end[1][0].insert(50, 107);
    let found = anomalies(&facts(&model, &history, end.clone()), &history);
    assert_eq!(found.lost_updates.count, 0, "{found:?}");
    account_50(&mut history, 30, 1, 1, StepKind::Compensation);
    end[1][0].remove(&50);
    let found = anomalies(&facts(&model, &history, end), &history);
    // The end state agrees with the history: only the erased change is lost.
    assert_eq!(found.lost_updates.count, 1, "{found:?}");
    assert_eq!(found.lost_update_rows, ["bank_b.accounts[50]"]);
    assert_eq!(found.writes, 4);
}

#[test]
fn a_compensation_that_puts_back_an_old_value_loses_the_updates_made_since() {
    use crate::system::model::{Action, KeyRef};
    // bank_b's credit is undone by writing the opening balance back over the row.
    let mut model = bank_transfer();
    let table = crate::store::TableId(0);
    model.steps[1].compensation = Action::Set {
        table,
        key: KeyRef::Other,
        value: 1_000,
    };
    let mut history = History::default();
    transfer_change(&mut history, 10, 1, 1, StepKind::Action); // gtx 1 credits 100
    transfer_change(&mut history, 20, 2, 1, StepKind::Action); // gtx 2 credits 100
    // gtx 2 alone is undone: the commutative undo would leave 1,100, the Set leaves 1,000.
    let mut end = rows(1_000, 1_000);
    transfer_change(&mut history, 30, 2, 1, StepKind::Compensation);
    let found = anomalies(&facts(&model, &history, end.clone()), &history);
    assert_eq!(found.lost_updates.count, 1, "gtx 1's credit is gone: {found:?}");
    assert_eq!(found.lost_update_rows, ["bank_b.accounts[0]"]);
    // Undone when nobody else had touched the row, the Set loses nothing.
    let mut alone = History::default();
    transfer_change(&mut alone, 10, 1, 1, StepKind::Action);
    transfer_change(&mut alone, 20, 1, 1, StepKind::Compensation);
    end[1][0].insert(0, 1_000);
    let found = anomalies(&facts(&model, &alone, end), &alone);
    assert_eq!(found.lost_updates.count, 0, "{found:?}");
}

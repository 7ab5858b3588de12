//! Every check and every anomaly detector is shown to fail on a history built by hand with
//! the violation it exists to catch (asserting the verdict and where it points: transaction,
//! rows, time, events), and to pass on the same history without it.

mod converge;
mod reads;
mod resources;
mod transactions;

use std::collections::BTreeMap;

use super::*;
use crate::sim::{ActorId, Instant};
use crate::system::history::{History, HistoryEvent, RowWrite};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{CallMode, GlobalTxId, LocalResult, RequestId, RequestOutcome, StepKind};

/// A local call of step `step` of `gtx` at service `step`, on row 0 of table 0.
pub(super) fn local(
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

/// Step `step`'s action or compensation of `gtx` committed at `at` µs.
pub(super) fn commit(history: &mut History, at: u64, gtx: u64, step: u16, kind: StepKind) {
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
pub(super) fn rows(a: i64, b: i64) -> Vec<Vec<BTreeMap<u64, i64>>> {
    let bank = |first: i64| {
        vec![
            (0..100)
                .map(|k| (k, if k == 0 { first } else { 1_000 }))
                .collect(),
        ]
    };
    vec![bank(a), bank(b)]
}

/// The facts of a run at rest, ended at 100 ms.
pub(super) fn facts<'a>(
    model: &'a Model,
    history: &History,
    rows: Vec<Vec<BTreeMap<u64, i64>>>,
) -> RunFacts<'a> {
    RunFacts::new(model, history, rows, true, Instant::from_ms(100))
}

/// The gateway started request `gtx` as transaction `gtx`.
pub(super) fn started(history: &mut History, at: u64, gtx: u64) {
    let event = HistoryEvent::RequestStarted {
        req: RequestId(gtx),
        gtx: Some(GlobalTxId(gtx)),
        audit: false,
    };
    history.record(Instant::from_us(at), at, ActorId(1), event);
}

/// The gateway answered request `gtx` with `outcome`.
pub(super) fn ended(history: &mut History, at: u64, gtx: u64, outcome: RequestOutcome) {
    let event = HistoryEvent::RequestEnded {
        req: RequestId(gtx),
        gtx: Some(GlobalTxId(gtx)),
        outcome,
        latency_us: 5,
    };
    history.record(Instant::from_us(at), at, ActorId(1), event);
}

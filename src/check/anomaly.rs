//! Anomalies: the isolation that sagas and events give up, as reads saw it.
//!
//! Reads are the audit reads: the gateway fans an audit out to every service holding audited
//! tables, and each answers with the read-committed sum of its rows at that instant (recorded
//! as [`HistoryEvent::AuditRead`]). Anomalies are measured, not judged: eventual consistency
//! is expected to show some, and how many is the point. Each kind has its own rate, per
//! 1,000 of what it can happen to; kinds are never added together.
//!
//! - **inconsistent audit read**: a complete audit whose total is not the conserved total of
//!   any moment between its start and its answer (the model's initial audited sum plus, per
//!   transaction fully applied by then, its net change to the audited tables): it saw money
//!   half moved, missing or doubled. Per 1,000 complete audits.
//! - **dirty read**: a service's read that saw the effect of a step that was later
//!   compensated: it fell between the step's commit and its compensation at that service, on
//!   an audited table, so it saw data the business transaction never really committed. Per
//!   1,000 service reads.
//! - **lost update**: a committed change that no longer counts in its row although its
//!   transaction never undid it: erased by another transaction's delete (a compensation that
//!   removes a row others had changed since) or overwrite (a `Set` compensation putting back
//!   an old value over them), or missing from the row's final value (a write the history
//!   never recorded overwrote it). Per 1,000 changes. Delta writes under strict two-phase
//!   locking lose none; the detector is there to prove it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::facts::RunFacts;
use crate::store::TableId;
use crate::system::history::{History, HistoryEvent};
use crate::system::model::{Action, ServiceId};
use crate::system::msg::{GlobalTxId, RequestId};

/// Rows a report lists as lost updates at most; the count covers them all.
pub const MAX_LISTED_ROWS: usize = 20;

/// What the reads and writes of one run saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Anomalies {
    /// Audit reads served by services: what dirty reads are counted per.
    pub reads: u64,
    /// Audits that got every service's answer: what inconsistent audit reads are counted per.
    pub complete_audits: u64,
    /// Changes committed (actions and compensations): what lost updates are counted per.
    pub writes: u64,
    /// Complete audits whose total was not the conserved total of any moment they spanned.
    pub inconsistent_audit_reads: AnomalyCount,
    /// Service reads that saw a step later compensated.
    pub dirty_reads: AnomalyCount,
    /// Committed changes lost from their row without being undone.
    pub lost_updates: AnomalyCount,
    /// The first [`MAX_LISTED_ROWS`] rows that lost one, as `service.table[key]`.
    pub lost_update_rows: Vec<String>,
}

/// How often one anomaly happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct AnomalyCount {
    /// How many.
    pub count: u64,
    /// Per 1,000 of what it can happen to (see [`Anomalies`]); `None` when there were none
    /// of those, so no rate.
    pub per_1k: Option<f64>,
}

impl AnomalyCount {
    fn new(count: u64, out_of: u64) -> Self {
        AnomalyCount {
            count,
            per_1k: (out_of > 0).then(|| count as f64 * 1_000.0 / out_of as f64),
        }
    }
}

/// The anomalies of a run: `history` is the merged history `facts` was folded from.
pub fn anomalies(facts: &RunFacts<'_>, history: &History) -> Anomalies {
    let model = facts.model;
    let audited = |service: ServiceId, table: u16| model.audit.contains(&(service, TableId(table)));
    let initial = model.initial_audit_total();
    let delta = model.audit_delta_per_commit();
    // Steps compensated at some point: an action of one is visible only until its undo.
    let compensated = |gtx: GlobalTxId, step: u16| {
        facts
            .txs
            .get(&gtx)
            .is_some_and(|tx| tx.steps[usize::from(step)].compensations > 0)
    };

    let mut changes = facts.changes.iter().peekable();
    let mut fully_applied: i64 = 0;
    let mut audit_started: BTreeMap<RequestId, i64> = BTreeMap::new();
    // Per service, actions visible now whose compensation comes later.
    let mut doomed = vec![0_i64; model.services.len()];
    let (mut reads, mut complete, mut inconsistent, mut dirty) = (0, 0, 0, 0);
    for (index, record) in history.records().iter().enumerate() {
        if let Some(at) = changes.next_if(|c| c.index == index) {
            let change = &at.change;
            fully_applied += i64::from(at.completes);
            if audited(change.service, change.write.table) && compensated(change.gtx, change.step) {
                let open = &mut doomed[change.service.index()];
                *open = (*open + change.sign()).max(0);
            }
            continue;
        }
        match record.event {
            HistoryEvent::RequestStarted { req, audit: true, .. } => {
                audit_started.insert(req, fully_applied);
            }
            HistoryEvent::AuditRead {
                service,
                hides_pending,
                ..
            } => {
                reads += 1;
                dirty += u64::from(!hides_pending && doomed[service.index()] > 0);
            }
            HistoryEvent::Audit {
                req,
                total,
                complete: true,
            } => {
                complete += 1;
                let start = audit_started.get(&req).copied().unwrap_or(fully_applied);
                let (lo, hi) = (start.min(fully_applied), start.max(fully_applied));
                if !conserved_between(total, initial, delta, lo, hi) {
                    inconsistent += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        changes.next().is_none(),
        "the facts' changes come from this history"
    );
    let writes = facts.changes.len() as u64;
    let lost = lost_updates(facts);
    let mut rows = lost.clone();
    rows.dedup();
    rows.truncate(MAX_LISTED_ROWS);
    Anomalies {
        reads,
        complete_audits: complete,
        writes,
        inconsistent_audit_reads: AnomalyCount::new(inconsistent, complete),
        dirty_reads: AnomalyCount::new(dirty, reads),
        lost_updates: AnomalyCount::new(lost.len() as u64, writes),
        lost_update_rows: rows,
    }
}

/// True when `total` is `initial + delta × k` for some count `k` of fully applied
/// transactions in `lo..=hi`.
fn conserved_between(total: i64, initial: i64, delta: i64, lo: i64, hi: i64) -> bool {
    let moved = total - initial;
    if delta == 0 {
        return moved == 0;
    }
    moved % delta == 0 && (lo..=hi).contains(&(moved / delta))
}

/// A row: (service index, table index, key).
type Row = (usize, usize, u64);

/// What the history says a row holds: its value (`None`: no row) and, per transaction, the
/// net of its changes since the row was last created.
#[derive(Clone, Debug, Default)]
struct RowState {
    value: Option<i64>,
    by_tx: BTreeMap<GlobalTxId, i64>,
}

/// Every lost update, as the row that lost it (`service.table[key]`), in row order: a change
/// erased by another transaction's delete, or a row whose final value differs from what the
/// history says it holds.
fn lost_updates(facts: &RunFacts<'_>) -> Vec<String> {
    let model = facts.model;
    let mut rows: BTreeMap<Row, RowState> = BTreeMap::new();
    for (s, service) in model.services.iter().enumerate() {
        for (t, table) in service.tables.iter().enumerate() {
            for key in 0..table.key_count {
                let state = RowState {
                    value: Some(table.initial),
                    by_tx: BTreeMap::new(),
                };
                rows.insert((s, t, key), state);
            }
        }
    }
    let mut erased: Vec<(Row, GlobalTxId)> = Vec::new();
    for at in &facts.changes {
        let change = &at.change;
        let action = change.action(model);
        let row = (
            change.service.index(),
            usize::from(change.write.table),
            change.write.key,
        );
        let state = rows.entry(row).or_default();
        match action {
            // A read-then-write is recorded as the change it decided; a write made on an
            // outdated read shows as a final value missing the changes it overwrote.
            Action::Add { delta, .. } | Action::ReadThenWrite { delta, .. } => {
                state.value = Some(state.value.unwrap_or(0) + delta);
                *state.by_tx.entry(change.gtx).or_default() += delta;
            }
            Action::Insert { value, .. } => {
                state.value = Some(*value);
                state.by_tx = BTreeMap::from([(change.gtx, *value)]);
            }
            Action::Delete { .. } | Action::Set { .. } => {
                // Whatever other transactions changed in the row since it was created (or
                // last overwritten) goes with it, although none of them undid it.
                erased.extend(
                    state
                        .by_tx
                        .iter()
                        .filter(|(gtx, net)| **gtx != change.gtx && **net != 0)
                        .map(|(gtx, _)| (row, *gtx)),
                );
                state.value = match action {
                    Action::Set { value, .. } => Some(*value),
                    _ => None,
                };
                state.by_tx.clear();
            }
        }
    }
    let mut lost: Vec<(Row, Option<GlobalTxId>)> =
        erased.into_iter().map(|(row, gtx)| (row, Some(gtx))).collect();
    let mut actual: BTreeMap<Row, i64> = BTreeMap::new();
    for (s, tables) in facts.final_rows.iter().enumerate() {
        for (t, table) in tables.iter().enumerate() {
            actual.extend(table.iter().map(|(key, value)| ((s, t, *key), *value)));
        }
    }
    let keys: BTreeSet<Row> = rows.keys().chain(actual.keys()).copied().collect();
    for row in keys {
        let expected = rows.get(&row).and_then(|state| state.value);
        if expected != actual.get(&row).copied() {
            lost.push((row, None));
        }
    }
    lost.sort();
    lost.into_iter()
        .map(|((s, t, key), _)| facts.row_name(s, t, key))
        .collect()
}

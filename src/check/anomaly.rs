//! Anomalies: the isolation that sagas and events give up, as reads saw it.
//!
//! Reads are the audit reads: the gateway fans an audit out to every service holding audited
//! tables, and each answers with the read-committed sum of its rows at that instant (recorded
//! as [`HistoryEvent::AuditRead`]). Anomalies are measured, not judged: eventual consistency
//! is expected to show some, and how many is the point. Rates are per 1,000 service reads.
//!
//! - **inconsistent audit read**: a complete audit whose total is not the conserved total of
//!   any moment between its start and its answer (the model's initial audited sum plus, per
//!   transaction fully applied by then, its net change to the audited tables): it saw money
//!   half moved, missing or doubled.
//! - **dirty read**: a service's read that saw the effect of a step that was later
//!   compensated: it fell between the step's commit and its compensation at that service, on
//!   an audited table, so it saw data the business transaction never really committed.
//! - **lost update**: a row whose final value is not its initial value plus every committed
//!   change recorded in the history (an update overwritten without being seen). Delta writes
//!   under strict two-phase locking never lose one; the detector is there to prove it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::facts::RunFacts;
use super::window::{ChangeTracker, TxWindow};
use crate::store::TableId;
use crate::system::history::{History, HistoryEvent};
use crate::system::model::Action;
use crate::system::msg::{GlobalTxId, RequestId, StepKind};

/// Rows a report lists as lost updates at most; the count covers them all.
pub const MAX_LISTED_ROWS: usize = 20;

/// What the reads of one run saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Anomalies {
    /// Audit reads served by services: the denominator of every rate.
    pub reads: u64,
    /// Audits that got every service's answer.
    pub complete_audits: u64,
    /// Complete audits whose total was not the conserved total of any moment they spanned.
    pub inconsistent_audit_reads: AnomalyCount,
    /// Service reads that saw a step later compensated.
    pub dirty_reads: AnomalyCount,
    /// Rows whose final value is not their initial value plus the recorded changes.
    pub lost_updates: u64,
    /// The first [`MAX_LISTED_ROWS`] of those rows, as `service.table[key]`.
    pub lost_update_rows: Vec<String>,
    /// Inconsistent audit reads and dirty reads together, per 1,000 reads (`None` without
    /// reads).
    pub per_1k_reads: Option<f64>,
}

/// How often one anomaly happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct AnomalyCount {
    /// How many.
    pub count: u64,
    /// Per 1,000 reads (`None` without reads).
    pub per_1k_reads: Option<f64>,
}

impl AnomalyCount {
    fn new(count: u64, reads: u64) -> Self {
        AnomalyCount {
            count,
            per_1k_reads: per_1k(count, reads),
        }
    }
}

fn per_1k(count: u64, reads: u64) -> Option<f64> {
    (reads > 0).then(|| count as f64 * 1_000.0 / reads as f64)
}

/// The anomalies of a run: `history` is the merged history `facts` was folded from.
pub fn anomalies(facts: &RunFacts<'_>, history: &History) -> Anomalies {
    let model = facts.model;
    let audited = |service: crate::system::model::ServiceId, table: u16| {
        model.audit.contains(&(service, TableId(table)))
    };
    let initial = model.initial_audit_total();
    let delta = model.audit_delta_per_commit();
    // Steps compensated at some point: an action of one is visible only until its undo.
    let compensated: BTreeSet<(GlobalTxId, u16)> = super::window::changes(history)
        .filter(|(_, _, c)| c.kind == StepKind::Compensation)
        .map(|(_, _, c)| (c.gtx, c.step))
        .collect();

    let mut tracker = ChangeTracker::default();
    let mut windows: BTreeMap<GlobalTxId, TxWindow> = BTreeMap::new();
    let mut fully_applied: i64 = 0;
    let mut audit_started: BTreeMap<RequestId, i64> = BTreeMap::new();
    // Per service, actions visible now whose compensation comes later.
    let mut doomed = vec![0_i64; model.services.len()];
    let (mut reads, mut complete, mut inconsistent, mut dirty) = (0, 0, 0, 0);
    for record in history.records() {
        if let Some(change) = tracker.change(record) {
            let window = windows
                .entry(change.gtx)
                .or_insert_with(|| TxWindow::new(model.steps.len()));
            let before = window.nets.iter().all(|n| *n == 1);
            window.apply(record.at, &change);
            let after = window.nets.iter().all(|n| *n == 1);
            fully_applied += i64::from(after) - i64::from(before);
            if audited(change.service, change.write.table) && compensated.contains(&(change.gtx, change.step))
            {
                let open = &mut doomed[change.service.index()];
                *open = (*open + change.sign()).max(0);
            }
            continue;
        }
        match record.event {
            HistoryEvent::RequestStarted { req, audit: true, .. } => {
                audit_started.insert(req, fully_applied);
            }
            HistoryEvent::AuditRead { service, .. } => {
                reads += 1;
                dirty += u64::from(doomed[service.index()] > 0);
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
    let lost = lost_updates(facts, history);
    Anomalies {
        reads,
        complete_audits: complete,
        inconsistent_audit_reads: AnomalyCount::new(inconsistent, reads),
        dirty_reads: AnomalyCount::new(dirty, reads),
        lost_updates: lost.len() as u64,
        lost_update_rows: lost.into_iter().take(MAX_LISTED_ROWS).collect(),
        per_1k_reads: per_1k(inconsistent + dirty, reads),
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

/// Rows whose final value differs from their initial value with every recorded change
/// applied, as `service.table[key]`, in service, table and key order.
fn lost_updates(facts: &RunFacts<'_>, history: &History) -> Vec<String> {
    let model = facts.model;
    // (service, table, key) → expected value; `None` for a row that should not exist.
    let mut expected: BTreeMap<Row, Option<i64>> = BTreeMap::new();
    for (s, service) in model.services.iter().enumerate() {
        for (t, table) in service.tables.iter().enumerate() {
            for key in 0..table.key_count {
                expected.insert((s, t, key), Some(table.initial));
            }
        }
    }
    for (_, _, change) in super::window::changes(history) {
        let step = &model.steps[usize::from(change.step)];
        let action = match change.kind {
            StepKind::Action => &step.action,
            StepKind::Compensation => &step.compensation,
        };
        let row = (
            change.service.index(),
            usize::from(change.write.table),
            change.write.key,
        );
        let slot = expected.entry(row).or_insert(None);
        *slot = match action {
            Action::Add { delta, .. } => Some(slot.unwrap_or(0) + delta),
            Action::Insert { value, .. } => Some(*value),
            Action::Delete { .. } => None,
        };
    }
    // Per row: (expected, actual).
    let mut rows: BTreeMap<Row, (Option<i64>, Option<i64>)> = expected
        .into_iter()
        .map(|(row, value)| (row, (value, None)))
        .collect();
    for (s, tables) in facts.final_rows.iter().enumerate() {
        for (t, table) in tables.iter().enumerate() {
            for (key, value) in table {
                rows.entry((s, t, *key)).or_insert((None, None)).1 = Some(*value);
            }
        }
    }
    rows.into_iter()
        .filter(|(_, (expected, actual))| expected != actual)
        .map(|((s, t, key), _)| facts.row_name(s, t, key))
        .collect()
}

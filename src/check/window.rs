//! The one fold of a history into changes and inconsistency windows, shared by the
//! convergence check, the anomaly detectors, the report's metrics and the eventual strategy's
//! measurements, so they all count a step as applied by the same rule.
//!
//! A *change* is a step's effect becoming visible at its service: a committed, non-replayed
//! local call that wrote a row (an action counts plus one, a compensation minus one), or a
//! 2PC decision to commit a prepared step (the write its prepare buffered becomes visible
//! then). Prepares and aborts change nothing a reader can see.
//!
//! A transaction's *inconsistency window* runs from its first change to the change after
//! which every step agrees: all applied once, or all undone.

use std::collections::BTreeMap;

use crate::sim::Instant;
use crate::system::history::{History, HistoryEvent, HistoryRecord, RowWrite};
use crate::system::model::ServiceId;
use crate::system::msg::{CallMode, GlobalTxId, LocalResult, StepKind};

/// One step's effect becoming visible at its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// Where.
    pub service: ServiceId,
    /// Which business transaction.
    pub gtx: GlobalTxId,
    /// Which step.
    pub step: u16,
    /// Action (+1) or compensation (−1).
    pub kind: StepKind,
    /// The row and the delta it wrote (for a 2PC commit, what its prepare buffered).
    pub write: RowWrite,
}

impl Change {
    /// +1 for an action, −1 for a compensation.
    pub fn sign(&self) -> i64 {
        match self.kind {
            StepKind::Action => 1,
            StepKind::Compensation => -1,
        }
    }
}

/// Recognises changes in a history read in run order. It remembers what each prepared step
/// wrote, so a later commit decision is a change on that row.
#[derive(Clone, Debug, Default)]
pub struct ChangeTracker {
    prepared: BTreeMap<(GlobalTxId, u16), RowWrite>,
}

impl ChangeTracker {
    /// The change `record` makes visible, if any. Feed every record, in order.
    pub fn change(&mut self, record: &HistoryRecord) -> Option<Change> {
        match record.event {
            HistoryEvent::Local {
                service,
                gtx,
                step,
                kind,
                mode,
                result,
                replay: false,
                write: Some(write),
            } => match (mode, result) {
                (CallMode::Commit, LocalResult::Committed) => Some(Change {
                    service,
                    gtx,
                    step,
                    kind,
                    write,
                }),
                (CallMode::Prepare, LocalResult::Prepared) if kind == StepKind::Action => {
                    self.prepared.insert((gtx, step), write);
                    None
                }
                _ => None,
            },
            HistoryEvent::Decided {
                service,
                gtx,
                step,
                commit,
                ..
            } => {
                let write = self.prepared.remove(&(gtx, step))?;
                commit.then_some(Change {
                    service,
                    gtx,
                    step,
                    kind: StepKind::Action,
                    write,
                })
            }
            _ => None,
        }
    }
}

/// Every change of `history`, in run order, with the index of its record.
pub fn changes(history: &History) -> impl Iterator<Item = (usize, Instant, Change)> + '_ {
    let mut tracker = ChangeTracker::default();
    history
        .records()
        .iter()
        .enumerate()
        .filter_map(move |(index, record)| tracker.change(record).map(|c| (index, record.at, c)))
}

/// Whether every step of a transaction agrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Every step applied exactly once.
    Completed,
    /// Every step undone (or never applied).
    Compensated,
}

/// One transaction's inconsistency window, as the history unfolds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxWindow {
    /// Net applications per step (actions minus compensations).
    pub nets: Vec<i64>,
    /// The first change of any step.
    pub first_change: Option<Instant>,
    /// The last change of any step.
    pub last_change: Option<Instant>,
    /// When the steps last came to agree; `None` while they disagree.
    pub agreed_at: Option<Instant>,
}

impl TxWindow {
    /// A window for a transaction of `step_count` steps, nothing applied.
    pub fn new(step_count: usize) -> Self {
        TxWindow {
            nets: vec![0; step_count],
            ..TxWindow::default()
        }
    }

    /// Applies one change of this transaction at `at`.
    pub fn apply(&mut self, at: Instant, change: &Change) {
        self.nets[usize::from(change.step)] += change.sign();
        self.first_change.get_or_insert(at);
        self.last_change = Some(at);
        self.agreed_at = self.agreement().map(|_| at);
    }

    /// Whether the steps agree now.
    pub fn agreement(&self) -> Option<Agreement> {
        if self.nets.iter().all(|n| *n == 1) {
            Some(Agreement::Completed)
        } else if self.nets.iter().all(|n| *n == 0) {
            Some(Agreement::Compensated)
        } else {
            None
        }
    }

    /// From the first change to agreement, µs; `None` if nothing changed or the steps still
    /// disagree.
    pub fn span_us(&self) -> Option<u64> {
        let (first, agreed) = (self.first_change?, self.agreed_at?);
        Some(agreed.saturating_since(first).as_us())
    }
}

/// Every transaction's window, by transaction, for a model of `step_count` steps.
pub fn windows(history: &History, step_count: usize) -> BTreeMap<GlobalTxId, TxWindow> {
    let mut txs: BTreeMap<GlobalTxId, TxWindow> = BTreeMap::new();
    for (_, at, change) in changes(history) {
        txs.entry(change.gtx)
            .or_insert_with(|| TxWindow::new(step_count))
            .apply(at, &change);
    }
    txs
}

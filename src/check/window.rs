//! What counts as a change, and a transaction's inconsistency window: the one rule the
//! checks, the anomaly detectors, the report's metrics and the eventual strategy's
//! measurements share. [`super::RunFacts::new`] is the one place that folds a history with
//! it; everything else reads what it kept.
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
use crate::system::history::{HistoryEvent, HistoryRecord, RowWrite};
use crate::system::model::{Action, Model, ServiceId};
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
    /// What the model says this change ran: its step's action or compensation.
    pub fn action<'m>(&self, model: &'m Model) -> &'m Action {
        let step = &model.steps[usize::from(self.step)];
        match self.kind {
            StepKind::Action => &step.action,
            StepKind::Compensation => &step.compensation,
        }
    }

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
    /// Observes the next record of a history; returns the change it makes visible, if any.
    /// Every record must be observed, in run order, or a 2PC commit is missed.
    pub fn observe(&mut self, record: &HistoryRecord) -> Option<Change> {
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
                (CallMode::Prepare, LocalResult::Prepared) | (CallMode::Reserve, LocalResult::Reserved)
                    if kind == StepKind::Action =>
                {
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

/// Whether every step of a transaction agrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Every step applied exactly once.
    Completed,
    /// Every step undone (or never applied).
    Compensated,
}

impl Agreement {
    /// The agreement of steps whose net applications (actions minus compensations) are
    /// `nets`, if they agree.
    pub fn of(nets: impl IntoIterator<Item = i64>) -> Option<Agreement> {
        let (mut all_one, mut all_zero) = (true, true);
        for net in nets {
            all_one &= net == 1;
            all_zero &= net == 0;
        }
        match (all_one, all_zero) {
            (true, _) => Some(Agreement::Completed),
            (false, true) => Some(Agreement::Compensated),
            (false, false) => None,
        }
    }
}

/// One transaction's inconsistency window, as the history unfolds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxWindow {
    /// The first change of any step.
    pub first_change: Option<Instant>,
    /// The last change of any step.
    pub last_change: Option<Instant>,
    /// Whether the steps agree after the last change; `None` while they disagree.
    pub agreement: Option<Agreement>,
    /// When the steps last came to agree; `None` while they disagree.
    pub agreed_at: Option<Instant>,
}

impl TxWindow {
    /// Notes a change at `at` after which the steps agree as `agreement` says.
    pub fn changed(&mut self, at: Instant, agreement: Option<Agreement>) {
        self.first_change.get_or_insert(at);
        self.last_change = Some(at);
        self.agreement = agreement;
        self.agreed_at = agreement.map(|_| at);
    }

    /// True when some change happened and the steps disagree after the last one.
    pub fn diverged(&self) -> bool {
        self.first_change.is_some() && self.agreement.is_none()
    }

    /// From the first change to agreement, µs; `None` if nothing changed or the steps still
    /// disagree.
    pub fn span_us(&self) -> Option<u64> {
        let (first, agreed) = (self.first_change?, self.agreed_at?);
        Some(agreed.saturating_since(first).as_us())
    }
}

//! Measuring eventual consistency from a run's history: how long each business transaction
//! left the services disagreeing, and how far the entry service's read model lagged.
//!
//! Both read the merged history only (a check that never changes a run). A step counts as
//! applied by the one rule of [`crate::check::changes`], which the convergence check and the
//! report's inconsistency windows share.

use std::collections::BTreeMap;

use crate::check::{Agreement, StaleRow, changes};
use crate::sim::Instant;
use crate::system::history::{History, HistoryEvent};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{EventKind, GlobalTxId, StepKind};

/// Spans of virtual time: how many, their sum and the longest, in µs. Integers, so a report
/// computes means as it likes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// How many spans.
    pub count: u64,
    /// Their sum, µs.
    pub total_us: u64,
    /// The longest, µs.
    pub max_us: u64,
}

impl Span {
    /// The mean span in µs (rounded down), if there was any.
    pub fn mean_us(&self) -> Option<u64> {
        self.total_us.checked_div(self.count)
    }

    fn add(&mut self, us: u64) {
        self.count += 1;
        self.total_us += us;
        self.max_us = self.max_us.max(us);
    }
}

/// How the business transactions of a run converged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Convergence {
    /// Transactions whose step 0 applied: those the client was (or would have been) told
    /// `Accepted`.
    pub accepted: usize,
    /// Accepted and, at the end, applied at every step.
    pub completed: usize,
    /// Accepted and, at the end, undone at every step (a business failure downstream).
    pub compensated: usize,
    /// Accepted and, at the end, still disagreeing: some step applied, some not, or one
    /// applied twice. Zero once a correct design has come to rest.
    pub diverged: usize,
    /// Per converged transaction, the inconsistency window (the staleness of the replicas):
    /// from step 0's commit to the commit that made every step agree.
    pub window: Span,
}

/// How the entry service's read model of the other steps kept up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadModel {
    /// Per change of a step after step 0 (applied or undone at its own service), how long
    /// until the read model first saw it.
    pub lag: Span,
    /// Changes the read model never saw.
    pub missed: usize,
    /// `(gtx, step)` rows compared with their owning services at the end.
    pub rows: usize,
    /// Rows on which the read model and the owning service disagree at the end.
    pub mismatches: usize,
}

/// The convergence of every business transaction of `history`: the windows of
/// [`crate::check::windows`], summed.
pub fn convergence(history: &History, model: &Model) -> Convergence {
    let mut convergence = Convergence::default();
    for tx in crate::check::windows(history, model.steps.len()).values() {
        if tx.first_change.is_none() {
            continue;
        }
        convergence.accepted += 1;
        match (tx.agreement(), tx.span_us()) {
            (Some(Agreement::Completed), Some(span)) => {
                convergence.completed += 1;
                convergence.window.add(span);
            }
            (Some(Agreement::Compensated), Some(span)) => {
                convergence.compensated += 1;
                convergence.window.add(span);
            }
            _ => convergence.diverged += 1,
        }
    }
    convergence
}

/// The lag and final accuracy of the read model the entry service (step 0's) keeps of the
/// later steps, from the events it consumed. Meaningful with
/// [`super::Config::read_model`] on; off, every change counts as missed.
pub fn read_model(history: &History, model: &Model) -> ReadModel {
    let entry = entry_service(model);
    let view = View::fold(history, entry);
    let mut report = ReadModel::default();
    for (_, at, change) in changes(history) {
        if change.step == 0 {
            continue;
        }
        match view
            .first_seen
            .get(&(change.gtx, change.step, event_kind(change.kind)))
        {
            Some(seen) => report.lag.add(seen.saturating_since(at).as_us()),
            None => report.missed += 1,
        }
    }
    let rows = compare_rows(history, model, &view);
    report.rows = rows.len();
    report.mismatches = rows.iter().filter(|row| row.owner != row.view).count();
    report
}

/// The read-model rows that disagree with their source at the end of `history`: what the
/// convergence check reports for a strategy with a read model.
pub fn read_model_mismatches(history: &History, model: &Model) -> Vec<StaleRow> {
    let view = View::fold(history, entry_service(model));
    compare_rows(history, model, &view)
        .into_iter()
        .filter(|row| row.owner != row.view)
        .map(|row| StaleRow {
            gtx: row.gtx,
            step: row.step,
            at: row.at,
            detail: format!(
                "read model shows step {} {}, its service has it {}",
                model.steps[usize::from(row.step)].name,
                row.view.word(),
                row.owner.word()
            ),
        })
        .collect()
}

fn entry_service(model: &Model) -> ServiceId {
    model
        .steps
        .first()
        .expect("a business transaction has steps")
        .service
}

/// One `(gtx, step)` row: the owner's state and the view's.
struct RowPair {
    gtx: GlobalTxId,
    step: u16,
    at: Option<Instant>,
    owner: StepState,
    view: StepState,
}

/// Every later-step row of every accepted transaction (step 0 applied at some point), owner
/// against view.
fn compare_rows(history: &History, model: &Model, view: &View) -> Vec<RowPair> {
    let mut truth: BTreeMap<(GlobalTxId, u16), RowTruth> = BTreeMap::new();
    for (_, at, change) in changes(history) {
        let row = truth.entry((change.gtx, change.step)).or_default();
        row.net += change.sign();
        row.ever_applied |= change.kind == StepKind::Action;
        row.at = Some(at);
    }
    let accepted: Vec<GlobalTxId> = truth
        .iter()
        .filter(|((_, step), row)| *step == 0 && row.ever_applied)
        .map(|((gtx, _), _)| *gtx)
        .collect();
    let mut rows = Vec::new();
    for gtx in accepted {
        for step in 1..model.steps.len() as u16 {
            let owner = truth.get(&(gtx, step)).copied().unwrap_or_default();
            rows.push(RowPair {
                gtx,
                step,
                at: owner.at,
                owner: owner.state(),
                view: view.state(gtx, step),
            });
        }
    }
    rows
}

/// The event a change's service published with it.
fn event_kind(kind: StepKind) -> EventKind {
    match kind {
        StepKind::Action => EventKind::Done,
        StepKind::Compensation => EventKind::Compensated,
    }
}

/// What the owning service did to one `(gtx, step)`.
#[derive(Clone, Copy, Debug, Default)]
struct RowTruth {
    net: i64,
    ever_applied: bool,
    at: Option<Instant>,
}

/// A step's state as a read model can show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum StepState {
    /// Not applied: never reached, or refused.
    NotApplied,
    /// Applied once.
    Applied,
    /// Applied, then compensated.
    Undone,
    /// Anything a correct run never shows (applied twice, compensated without its action).
    Wrong,
}

impl StepState {
    fn word(self) -> &'static str {
        match self {
            StepState::NotApplied => "not applied",
            StepState::Applied => "applied",
            StepState::Undone => "undone",
            StepState::Wrong => "applied a wrong number of times",
        }
    }
}

impl RowTruth {
    fn state(self) -> StepState {
        match (self.net, self.ever_applied) {
            (0, false) => StepState::NotApplied,
            (1, _) => StepState::Applied,
            (0, true) => StepState::Undone,
            _ => StepState::Wrong,
        }
    }
}

/// The entry service's read model: per `(gtx, step)` the most advanced event it consumed,
/// and when it first consumed each event.
#[derive(Debug, Default)]
struct View {
    latest: BTreeMap<(GlobalTxId, u16), EventKind>,
    first_seen: BTreeMap<(GlobalTxId, u16, EventKind), Instant>,
}

impl View {
    fn fold(history: &History, entry: ServiceId) -> View {
        let mut view = View::default();
        for record in history.records() {
            let HistoryEvent::Consumed { service, event } = record.event else {
                continue;
            };
            if service != entry {
                continue;
            }
            view.first_seen
                .entry((event.gtx, event.step, event.kind))
                .or_insert(record.at);
            let latest = view.latest.entry((event.gtx, event.step)).or_insert(event.kind);
            if rank(event.kind) > rank(*latest) {
                *latest = event.kind;
            }
        }
        view
    }

    fn state(&self, gtx: GlobalTxId, step: u16) -> StepState {
        match self.latest.get(&(gtx, step)) {
            None | Some(EventKind::Failed) => StepState::NotApplied,
            Some(EventKind::Done) => StepState::Applied,
            Some(EventKind::Compensated) => StepState::Undone,
        }
    }
}

/// How far along a step an event puts a read-model row: refused, then applied, then undone.
/// A row only moves forward, so a redelivered or reordered older event never rolls it back.
fn rank(kind: EventKind) -> u8 {
    match kind {
        EventKind::Failed => 0,
        EventKind::Done => 1,
        EventKind::Compensated => 2,
    }
}

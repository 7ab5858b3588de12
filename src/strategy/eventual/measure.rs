//! Measuring eventual consistency: how long each business transaction left the services
//! disagreeing, and how far the entry service's read model lagged.
//!
//! Both read a run's [`RunFacts`], the one fold of its history (a step counts as applied by
//! the rule the checks and the report share); only the read model's own view (the events the
//! entry service consumed) is folded here, once, into [`ReadModelFacts`], which the
//! convergence check and the report's staleness then read.

use std::collections::BTreeMap;

use crate::check::{Agreement, ReadModelFacts, RunFacts, Sighting, Span, StaleRow};
use crate::sim::Instant;
use crate::system::history::{History, HistoryEvent};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{EventKind, GlobalTxId, StepKind};

/// How the business transactions of a run converged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Convergence {
    /// Transactions that changed any row. Step 0 commits before anything else under this
    /// strategy, so these are the transactions whose step 0 applied and were reported
    /// `Accepted` (the client may have seen a timeout instead, when that report came late or
    /// was lost).
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

/// The convergence of every business transaction of a run: its facts' windows, summed.
pub fn convergence(facts: &RunFacts<'_>) -> Convergence {
    let mut convergence = Convergence::default();
    for tx in facts.txs.values() {
        let window = &tx.window;
        if window.first_change.is_none() {
            continue;
        }
        convergence.accepted += 1;
        match (window.agreement, window.span_us()) {
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

/// What the entry service's (step 0's) read model of the later steps saw, from the events it
/// consumed: per change of a later step when it saw it, and the rows that disagree with
/// their source at the end. Meaningful with [`super::Config::read_model`] on; off, every
/// change counts as missed.
pub fn read_model(history: &History, facts: &RunFacts<'_>) -> ReadModelFacts {
    let model = facts.model;
    let view = View::fold(history, entry_service(model));
    let sightings = facts
        .changes
        .iter()
        .filter(|c| c.change.step != 0)
        .map(|c| {
            let (gtx, step, kind) = (c.change.gtx, c.change.step, event_kind(c.change.kind));
            Sighting {
                gtx,
                step,
                changed: c.at,
                seen: view.first_seen.get(&(gtx, step, kind)).copied(),
                caught_up: view.caught_up(gtx, step, kind),
            }
        })
        .collect();
    let rows = compare_rows(facts, &view);
    let stale = rows
        .iter()
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
        .collect();
    ReadModelFacts {
        rows: rows.len(),
        stale,
        sightings,
    }
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
fn compare_rows(facts: &RunFacts<'_>, view: &View) -> Vec<RowPair> {
    let mut rows = Vec::new();
    for (gtx, tx) in &facts.txs {
        if tx.steps.first().is_none_or(|s| s.actions == 0) {
            continue;
        }
        for (step, tally) in tx.steps.iter().enumerate().skip(1) {
            let step = step as u16;
            rows.push(RowPair {
                gtx: *gtx,
                step,
                at: tally.changed_at,
                owner: StepState::of(tally.net(), tally.actions > 0),
                view: view.state(*gtx, step),
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
    /// The state of a step applied `net` times net, `ever_applied` if its action ever took.
    fn of(net: i64, ever_applied: bool) -> StepState {
        match (net, ever_applied) {
            (0, false) => StepState::NotApplied,
            (1, _) => StepState::Applied,
            (0, true) => StepState::Undone,
            _ => StepState::Wrong,
        }
    }

    fn word(self) -> &'static str {
        match self {
            StepState::NotApplied => "not applied",
            StepState::Applied => "applied",
            StepState::Undone => "undone",
            StepState::Wrong => "applied a wrong number of times",
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

    /// When the view first showed `kind` or a later state of the row.
    fn caught_up(&self, gtx: GlobalTxId, step: u16, kind: EventKind) -> Option<Instant> {
        [EventKind::Failed, EventKind::Done, EventKind::Compensated]
            .into_iter()
            .filter(|later| rank(*later) >= rank(kind))
            .filter_map(|later| self.first_seen.get(&(gtx, step, later)).copied())
            .min()
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

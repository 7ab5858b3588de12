//! What the checks read: a run's history folded once, per transaction and step, plus the
//! services' final data.
//!
//! [`RunFacts::new`] is the one fold of a history: it recognises every change with
//! [`ChangeTracker`], keeps them in run order ([`RunFacts::changes`]), and per transaction
//! tallies its steps, its inconsistency window and the trail of events a violation points
//! at. The checks, the anomaly detectors, the report's metrics and the eventual strategy's
//! measurements read these facts instead of folding the history again.

use std::collections::BTreeMap;

use super::convergence::{ConvergenceRule, ReadModelFacts};
use super::window::{Agreement, Change, ChangeTracker, TxWindow};
use crate::sim::Instant;
use crate::system::history::{History, HistoryEvent, HistoryRecord};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{CallMode, GlobalTxId, LocalResult, RequestId, RequestOutcome, StepKind};

/// Everything the checks need about one finished run.
#[derive(Clone, Debug)]
pub struct RunFacts<'a> {
    /// The system.
    pub model: &'a Model,
    /// Per transaction, what happened to each step.
    pub txs: BTreeMap<GlobalTxId, TxFacts>,
    /// Every change of the run, in run order.
    pub changes: Vec<ChangeAt>,
    /// Final committed rows: `[service][table]` → key → value.
    pub final_rows: Vec<Vec<BTreeMap<u64, i64>>>,
    /// Whether the run ended with no events left. Checks that need the run at rest judge
    /// only then, or when no transaction is in flight (see [`RunFacts::at_rest`]).
    pub quiescent: bool,
    /// When the run ended.
    pub end: Instant,
    /// What the convergence check holds the run to (default: [`ConvergenceRule::default`]).
    pub convergence: ConvergenceRule,
    /// What the strategy's read model saw and how it ended, when it keeps one (`None`: no
    /// read model to judge).
    pub read_model: Option<ReadModelFacts>,
    /// Requests of the workload the client never sent: a run stopped by a limit before its
    /// work was done is not at rest even with nothing in flight (0 unless told).
    pub unsent_requests: u64,
    /// Direct writes by another actor that landed in a service's database (the shared
    /// database anti-pattern), in run order.
    pub foreign_writes: Vec<ForeignWrite>,
    /// Direct accesses to a service's database that it refused.
    pub refused_accesses: u64,
    /// The most client uncertainty (answered timed out, then finished) the scenario allows,
    /// as a share of the transactions started; `None`: counted only.
    pub max_client_uncertainty: Option<f64>,
}

/// A change to a service's row that no step of that service made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignWrite {
    /// When.
    pub at: Instant,
    /// Its place in the run.
    pub seq: u64,
    /// The owner.
    pub service: crate::system::model::ServiceId,
    /// The service that wrote.
    pub by: crate::system::model::ServiceId,
    /// The transaction it was working on, if any.
    pub during: Option<GlobalTxId>,
    /// The owner's table.
    pub table: u16,
    /// The row.
    pub key: u64,
    /// What it added.
    pub delta: i64,
}

/// One change, where it sits in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeAt {
    /// The index of its record in the merged history, to interleave it with other records.
    pub index: usize,
    /// When.
    pub at: Instant,
    /// The trace sequence number of the event during which it happened.
    pub seq: u64,
    /// What changed.
    pub change: Change,
    /// +1 when this change made its transaction fully applied (every step once), −1 when it
    /// made a fully applied one stop being so, 0 otherwise: the anomaly detectors sum it
    /// into the conserved total of each moment.
    pub completes: i8,
}

/// What happened to one business transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxFacts {
    /// Per step.
    pub steps: Vec<StepTally>,
    /// The client's request it runs, once the gateway started it.
    pub req: Option<RequestId>,
    /// When the gateway started it.
    pub started: Option<Instant>,
    /// The trace sequence number of the event that started it.
    pub started_seq: u64,
    /// How the gateway answered, if it did.
    pub outcome: Option<RequestOutcome>,
    /// When the gateway answered.
    pub answered: Option<Instant>,
    /// Some step's action was refused for a business reason (a bound, an existing row):
    /// an abort then is the system's answer, not its failure.
    pub refused: bool,
    /// When something last happened to one of its steps: applied, undone, prepared,
    /// decided or refused.
    pub last_change: Option<Instant>,
    /// Its inconsistency window: when its steps changed and when they came to agree.
    pub window: TxWindow,
    /// The events that made it what it is, in run order, each with the trace sequence
    /// number a user finds it by (`consim run --trace`): what a violation points at.
    pub trail: Vec<TxEvent>,
}

/// One event of one step of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxEvent {
    /// When.
    pub at: Instant,
    /// The trace sequence number of the event during which it happened.
    pub seq: u64,
    /// Where.
    pub service: ServiceId,
    /// Which step.
    pub step: u16,
    /// What happened.
    pub change: TxChange,
    /// The row written, as (table, key), when known.
    pub row: Option<(u16, u64)>,
}

/// What happened to a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxChange {
    /// Its action committed in one phase.
    Applied,
    /// Its action was prepared (2PC yes vote).
    Prepared,
    /// A prepared action was decided commit.
    Committed,
    /// A prepared action was decided abort.
    Aborted,
    /// Its compensation committed.
    Compensated,
    /// Its action was refused for a business reason.
    Refused,
}

impl TxChange {
    /// In words, for violation messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TxChange::Applied => "applied",
            TxChange::Prepared => "prepared",
            TxChange::Committed => "committed after prepare",
            TxChange::Aborted => "aborted after prepare",
            TxChange::Compensated => "compensated",
            TxChange::Refused => "refused",
        }
    }
}

/// One step of one transaction: how often its action and compensation were applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepTally {
    /// Actions applied (committed, or prepared and then committed), not counting replays.
    pub actions: u32,
    /// Compensations applied.
    pub compensations: u32,
    /// Prepared and not yet decided (in doubt) at the end.
    pub in_doubt: bool,
    /// When it was prepared, if it is in doubt.
    pub prepared_at: Option<Instant>,
    /// When its action or compensation last took effect.
    pub changed_at: Option<Instant>,
}

impl TxFacts {
    /// A transaction of `step_count` steps nothing has happened to.
    pub fn new(step_count: usize) -> Self {
        TxFacts {
            steps: vec![StepTally::default(); step_count],
            ..TxFacts::default()
        }
    }

    /// Some steps applied and others not, net of compensations.
    pub fn half_applied(&self) -> bool {
        self.steps.windows(2).any(|pair| pair[0].net() != pair[1].net())
    }

    /// Some steps applied and others never (or undone): work left half done. A step
    /// applied twice is not stuck; no_double_effect reports it.
    pub fn stuck(&self) -> bool {
        self.steps.iter().any(|s| s.net() >= 1) && self.steps.iter().any(|s| s.net() <= 0)
    }

    /// Whether its steps agree now (all applied once, or all undone).
    pub fn agreement(&self) -> Option<Agreement> {
        Agreement::of(self.steps.iter().map(StepTally::net))
    }

    /// Some step prepared and not yet decided.
    pub fn in_doubt(&self) -> bool {
        self.steps.iter().any(|s| s.in_doubt)
    }

    /// The gateway started it and has not answered.
    pub fn unanswered(&self) -> bool {
        self.started.is_some() && self.outcome.is_none()
    }

    /// Still moving, as far as the end of the history shows: half applied, in doubt or
    /// unanswered. In a run at rest such a transaction is stuck; in a run stopped at a limit
    /// it may yet finish.
    pub fn in_flight(&self) -> bool {
        self.half_applied() || self.in_doubt() || self.unanswered()
    }

    /// Applies one change (from `record`) to its step, its window and its trail; returns
    /// how it moved the transaction in or out of being fully applied (see
    /// [`ChangeAt::completes`]).
    fn apply(&mut self, record: &HistoryRecord, change: &Change) -> i8 {
        let before = self.agreement() == Some(Agreement::Completed);
        let tally = &mut self.steps[usize::from(change.step)];
        let event = match change.kind {
            StepKind::Action if matches!(record.event, HistoryEvent::Decided { .. }) => {
                tally.actions += 1;
                tally.in_doubt = false;
                tally.prepared_at = None;
                TxChange::Committed
            }
            StepKind::Action => {
                tally.actions += 1;
                TxChange::Applied
            }
            StepKind::Compensation => {
                tally.compensations += 1;
                TxChange::Compensated
            }
        };
        tally.changed_at = Some(record.at);
        let agreement = self.agreement();
        self.window.changed(record.at, agreement);
        self.last_change = Some(record.at);
        self.trail.push(TxEvent {
            at: record.at,
            seq: record.seq,
            service: change.service,
            step: change.step,
            change: event,
            row: Some((change.write.table, change.write.key)),
        });
        let after = agreement == Some(Agreement::Completed);
        i8::from(after) - i8::from(before)
    }

    /// The row step `step` prepared, from its trail.
    fn prepared_row(&self, step: u16) -> Option<(u16, u64)> {
        self.trail
            .iter()
            .rev()
            .find(|e| e.step == step && e.change == TxChange::Prepared)
            .and_then(|e| e.row)
    }
}

impl StepTally {
    /// Actions minus compensations: 1 applied, 0 not (or undone), anything else is wrong.
    pub fn net(&self) -> i64 {
        i64::from(self.actions) - i64::from(self.compensations)
    }
}

impl<'a> RunFacts<'a> {
    /// Folds a merged history, once: every change (by the rule of [`ChangeTracker`]), each
    /// transaction's steps, window and trail; `final_rows` is each service's committed data.
    pub fn new(
        model: &'a Model,
        history: &History,
        final_rows: Vec<Vec<BTreeMap<u64, i64>>>,
        quiescent: bool,
        end: Instant,
    ) -> Self {
        let mut txs: BTreeMap<GlobalTxId, TxFacts> = BTreeMap::new();
        let mut changes = Vec::new();
        let (mut foreign_writes, mut refused_accesses) = (Vec::new(), 0);
        let mut tracker = ChangeTracker::default();
        let step_count = model.steps.len();
        for (index, record) in history.records().iter().enumerate() {
            if let Some(change) = tracker.observe(record) {
                let tx = tx_entry(&mut txs, step_count, change.gtx);
                let completes = tx.apply(record, &change);
                changes.push(ChangeAt {
                    index,
                    at: record.at,
                    seq: record.seq,
                    change,
                    completes,
                });
                continue;
            }
            match record.event {
                HistoryEvent::Local {
                    service,
                    gtx,
                    step,
                    kind: StepKind::Action,
                    mode,
                    result,
                    replay: false,
                    write,
                } => {
                    let change = match (mode, result) {
                        (CallMode::Prepare, LocalResult::Prepared)
                        | (CallMode::Reserve, LocalResult::Reserved)
                            if write.is_some() =>
                        {
                            TxChange::Prepared
                        }
                        // A confirm finding nothing held is no business refusal of the step.
                        (CallMode::Confirm, _) => continue,
                        (_, LocalResult::Refused) => TxChange::Refused,
                        _ => continue,
                    };
                    let tx = tx_entry(&mut txs, step_count, gtx);
                    tx.last_change = Some(record.at);
                    let tally = &mut tx.steps[usize::from(step)];
                    if change == TxChange::Prepared {
                        tally.in_doubt = true;
                        tally.prepared_at = Some(record.at);
                    } else {
                        tx.refused = true;
                    }
                    tx.trail.push(TxEvent {
                        at: record.at,
                        seq: record.seq,
                        service,
                        step,
                        change,
                        row: write.map(|w| (w.table, w.key)),
                    });
                }
                HistoryEvent::Decided {
                    service,
                    gtx,
                    step,
                    commit,
                    ..
                } => {
                    // A commit of a recorded prepare is a change (above); this is an abort,
                    // or a commit of a prepare that wrote nothing: either ends the doubt.
                    let tx = tx_entry(&mut txs, step_count, gtx);
                    tx.last_change = Some(record.at);
                    let tally = &mut tx.steps[usize::from(step)];
                    tally.in_doubt = false;
                    tally.prepared_at = None;
                    if commit {
                        continue;
                    }
                    let row = tx.prepared_row(step);
                    tx.trail.push(TxEvent {
                        at: record.at,
                        seq: record.seq,
                        service,
                        step,
                        change: TxChange::Aborted,
                        row,
                    });
                }
                HistoryEvent::RequestStarted {
                    req, gtx: Some(gtx), ..
                } => {
                    let tx = tx_entry(&mut txs, step_count, gtx);
                    tx.req = Some(req);
                    tx.started = Some(record.at);
                    tx.started_seq = record.seq;
                }
                HistoryEvent::RequestEnded {
                    gtx: Some(gtx),
                    outcome,
                    ..
                } => {
                    let tx = tx_entry(&mut txs, step_count, gtx);
                    tx.outcome = Some(outcome);
                    tx.answered = Some(record.at);
                }
                HistoryEvent::ForeignWrite {
                    service,
                    by,
                    during,
                    table,
                    key,
                    delta,
                } => foreign_writes.push(ForeignWrite {
                    at: record.at,
                    seq: record.seq,
                    service,
                    by,
                    during,
                    table,
                    key,
                    delta,
                }),
                HistoryEvent::AccessRefused { .. } => refused_accesses += 1,
                _ => {}
            }
        }
        RunFacts {
            model,
            txs,
            changes,
            final_rows,
            quiescent,
            end,
            convergence: ConvergenceRule::default(),
            read_model: None,
            unsent_requests: 0,
            foreign_writes,
            refused_accesses,
            max_client_uncertainty: None,
        }
    }

    /// Holds the client-answers check to at most `bound` client uncertainty.
    pub fn with_uncertainty_bound(mut self, bound: Option<f64>) -> Self {
        self.max_client_uncertainty = bound;
        self
    }

    /// Holds the run to `rule` in the convergence check.
    pub fn with_convergence(mut self, rule: ConvergenceRule) -> Self {
        self.convergence = rule;
        self
    }

    /// Notes that the client never sent `unsent` of its planned requests.
    pub fn with_unsent_requests(mut self, unsent: u64) -> Self {
        self.unsent_requests = unsent;
        self
    }

    /// Judges a read model too: what it saw and how it ended.
    pub fn with_read_model(mut self, read_model: ReadModelFacts) -> Self {
        self.read_model = Some(read_model);
        self
    }

    /// Final committed rows of every service of a finished run.
    pub fn rows_of(
        services: impl IntoIterator<Item = &'a crate::store::Database>,
    ) -> Vec<Vec<BTreeMap<u64, i64>>> {
        services
            .into_iter()
            .map(|db| {
                let tables = db.schema().tables().count();
                (0..tables)
                    .map(|t| {
                        db.rows(crate::store::TableId(t as u16))
                            .filter_map(|(k, v)| v.as_int().map(|v| (k.0, v)))
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }

    /// Transactions in flight at the end (see [`TxFacts::in_flight`]).
    pub fn in_flight(&self) -> usize {
        self.txs.values().filter(|tx| tx.in_flight()).count()
    }

    /// True when the end state is final: the run came to rest, or it stopped at a limit with
    /// its whole workload sent and no transaction in flight. Checks about the end state judge
    /// only then: a run stopped before its work was done proves nothing, even when nothing
    /// had started yet.
    pub fn at_rest(&self) -> bool {
        self.quiescent || (self.in_flight() == 0 && self.unsent_requests == 0)
    }

    /// What each step of `tx` amounts to, net of compensations, as `step=net` joined by
    /// commas: how a violation says which steps a transaction left applied.
    pub fn step_nets(&self, tx: &TxFacts) -> String {
        let nets: Vec<String> = self
            .model
            .steps
            .iter()
            .zip(&tx.steps)
            .map(|(step, tally)| format!("{}={}", step.name, tally.net()))
            .collect();
        nets.join(", ")
    }

    /// The rows `gtx` wrote and the events that changed it (at most [`MAX_EVENTS`] of
    /// them, the latest), so a violation about it can be found in the trace.
    pub fn located(&self, gtx: GlobalTxId) -> (Vec<String>, Vec<super::EventRef>) {
        self.located_where(gtx, |_| true)
    }

    /// Like [`RunFacts::located`], keeping only the trail's events `keep` accepts.
    pub fn located_where(
        &self,
        gtx: GlobalTxId,
        keep: impl Fn(&TxEvent) -> bool,
    ) -> (Vec<String>, Vec<super::EventRef>) {
        let Some(tx) = self.txs.get(&gtx) else {
            return (Vec::new(), Vec::new());
        };
        let trail: Vec<&TxEvent> = tx.trail.iter().filter(|e| keep(e)).collect();
        let mut rows: Vec<String> = trail
            .iter()
            .filter_map(|e| {
                e.row
                    .map(|(table, key)| self.row_name(e.service.index(), table.into(), key))
            })
            .collect();
        rows.sort();
        rows.dedup();
        let skip = trail.len().saturating_sub(MAX_EVENTS);
        let events = trail[skip..].iter().map(|e| self.event_ref(e)).collect();
        (rows, events)
    }

    /// One trail event as a violation lists it.
    pub fn event_ref(&self, e: &TxEvent) -> super::EventRef {
        super::EventRef {
            at_us: e.at.as_us(),
            seq: e.seq,
            detail: format!(
                "{}: step {} {}",
                self.model.services[e.service.index()].name,
                self.model.steps[usize::from(e.step)].name,
                e.change.as_str()
            ),
        }
    }

    /// `service.table[key]`, for violation messages.
    pub fn row_name(&self, service: usize, table: usize, key: u64) -> String {
        let spec = &self.model.services[service];
        format!("{}.{}[{key}]", spec.name, spec.tables[table].name)
    }
}

/// Events listed per violation; the latest are kept.
pub const MAX_EVENTS: usize = 12;

/// The facts of `gtx`, created on first sight.
fn tx_entry(txs: &mut BTreeMap<GlobalTxId, TxFacts>, step_count: usize, gtx: GlobalTxId) -> &mut TxFacts {
    txs.entry(gtx).or_insert_with(|| TxFacts::new(step_count))
}

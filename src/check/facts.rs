//! What the checks read: a run's history folded per transaction and step, plus final data.

use std::collections::BTreeMap;

use super::convergence::{ConvergenceRule, StaleRow};
use super::window::TxWindow;
use crate::sim::Instant;
use crate::system::history::{History, HistoryEvent};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{CallMode, GlobalTxId, LocalResult, RequestOutcome, StepKind};

/// Everything the checks need about one finished run.
#[derive(Clone, Debug)]
pub struct RunFacts<'a> {
    /// The system.
    pub model: &'a Model,
    /// Per transaction, what happened to each step.
    pub txs: BTreeMap<GlobalTxId, TxFacts>,
    /// Final committed rows: `[service][table]` → key → value.
    pub final_rows: Vec<Vec<BTreeMap<u64, i64>>>,
    /// Whether the run ended with no events left. Checks that need the run at rest judge
    /// only then, or when no transaction is in flight (see [`RunFacts::at_rest`]).
    pub quiescent: bool,
    /// When the run ended.
    pub end: Instant,
    /// What the convergence check holds the run to (default: [`ConvergenceRule::default`]).
    pub convergence: ConvergenceRule,
    /// Rows of a read model that disagree with their source at the end, when the strategy
    /// keeps one (`None`: no read model to judge).
    pub stale_read_model: Option<Vec<StaleRow>>,
}

/// What happened to one business transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxFacts {
    /// Per step.
    pub steps: Vec<StepTally>,
    /// When the gateway started it.
    pub started: Option<Instant>,
    /// How the gateway answered, if it did.
    pub outcome: Option<RequestOutcome>,
    /// The last time anything happened to it.
    pub last_change: Option<Instant>,
    /// Its inconsistency window: when its steps changed and when they came to agree.
    pub window: TxWindow,
    /// The changes that made it what it is, in run order, each with the trace sequence
    /// number a user finds it by (`consim run --trace`): what a violation points at.
    pub trail: Vec<TxEvent>,
}

/// One change to one step of a transaction.
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
}

impl TxFacts {
    /// Some steps applied and others not, net of compensations.
    pub fn half_applied(&self) -> bool {
        self.steps.windows(2).any(|pair| pair[0].net() != pair[1].net())
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
}

impl StepTally {
    /// Actions minus compensations: 1 applied, 0 not (or undone), anything else is wrong.
    pub fn net(&self) -> i64 {
        i64::from(self.actions) - i64::from(self.compensations)
    }
}

impl<'a> RunFacts<'a> {
    /// Folds a merged history; `final_rows` is each service's committed data.
    pub fn new(
        model: &'a Model,
        history: &History,
        final_rows: Vec<Vec<BTreeMap<u64, i64>>>,
        quiescent: bool,
        end: Instant,
    ) -> Self {
        let mut txs: BTreeMap<GlobalTxId, TxFacts> = BTreeMap::new();
        let step_count = model.steps.len();
        for record in history.records() {
            match &record.event {
                HistoryEvent::Local {
                    service,
                    gtx,
                    step,
                    kind,
                    mode,
                    result,
                    replay: false,
                    write: Some(write),
                } => {
                    let tx = tx_entry(&mut txs, step_count, *gtx, record.at);
                    let tally = &mut tx.steps[usize::from(*step)];
                    let change = match (kind, mode, result) {
                        (StepKind::Action, CallMode::Commit, LocalResult::Committed) => {
                            tally.actions += 1;
                            TxChange::Applied
                        }
                        (StepKind::Action, CallMode::Prepare, LocalResult::Prepared) => {
                            tally.in_doubt = true;
                            tally.prepared_at = Some(record.at);
                            TxChange::Prepared
                        }
                        (StepKind::Compensation, _, LocalResult::Committed) => {
                            tally.compensations += 1;
                            TxChange::Compensated
                        }
                        _ => continue,
                    };
                    tx.trail.push(TxEvent {
                        at: record.at,
                        seq: record.seq,
                        service: *service,
                        step: *step,
                        change,
                        row: Some((write.table, write.key)),
                    });
                }
                HistoryEvent::Decided {
                    service,
                    gtx,
                    step,
                    commit,
                    ..
                } => {
                    let tx = tx_entry(&mut txs, step_count, *gtx, record.at);
                    let tally = &mut tx.steps[usize::from(*step)];
                    tally.in_doubt = false;
                    tally.prepared_at = None;
                    if *commit {
                        tally.actions += 1;
                    }
                    let row = tx
                        .trail
                        .iter()
                        .rev()
                        .find(|e| e.step == *step && e.change == TxChange::Prepared)
                        .and_then(|e| e.row);
                    tx.trail.push(TxEvent {
                        at: record.at,
                        seq: record.seq,
                        service: *service,
                        step: *step,
                        change: if *commit {
                            TxChange::Committed
                        } else {
                            TxChange::Aborted
                        },
                        row,
                    });
                }
                HistoryEvent::RequestStarted { gtx: Some(gtx), .. } => {
                    tx_entry(&mut txs, step_count, *gtx, record.at).started = Some(record.at);
                }
                HistoryEvent::RequestEnded {
                    gtx: Some(gtx),
                    outcome,
                    ..
                } => {
                    tx_entry(&mut txs, step_count, *gtx, record.at).outcome = Some(*outcome);
                }
                _ => {}
            }
        }
        for (gtx, window) in super::window::windows(history, step_count) {
            txs.entry(gtx)
                .or_insert_with(|| TxFacts {
                    steps: vec![StepTally::default(); step_count],
                    ..TxFacts::default()
                })
                .window = window;
        }
        RunFacts {
            model,
            txs,
            final_rows,
            quiescent,
            end,
            convergence: ConvergenceRule::default(),
            stale_read_model: None,
        }
    }

    /// Holds the run to `rule` in the convergence check.
    pub fn with_convergence(mut self, rule: ConvergenceRule) -> Self {
        self.convergence = rule;
        self
    }

    /// Judges a read model too: `stale` are its rows that disagree with their source.
    pub fn with_read_model(mut self, stale: Vec<StaleRow>) -> Self {
        self.stale_read_model = Some(stale);
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
    /// no transaction in flight. Checks about the end state judge only then.
    pub fn at_rest(&self) -> bool {
        self.quiescent || self.in_flight() == 0
    }

    /// The rows `gtx` wrote and the events that changed it (at most [`MAX_EVENTS`] of
    /// them, the latest), so a violation about it can be found in the trace.
    pub fn located(&self, gtx: GlobalTxId) -> (Vec<String>, Vec<super::EventRef>) {
        let Some(tx) = self.txs.get(&gtx) else {
            return (Vec::new(), Vec::new());
        };
        let mut rows: Vec<String> = tx
            .trail
            .iter()
            .filter_map(|e| {
                e.row
                    .map(|(table, key)| self.row_name(e.service.index(), table.into(), key))
            })
            .collect();
        rows.sort();
        rows.dedup();
        let skip = tx.trail.len().saturating_sub(MAX_EVENTS);
        let events = tx.trail[skip..]
            .iter()
            .map(|e| super::EventRef {
                at_us: e.at.as_us(),
                seq: e.seq,
                detail: format!(
                    "{}: step {} {}",
                    self.model.services[e.service.index()].name,
                    self.model.steps[usize::from(e.step)].name,
                    e.change.as_str()
                ),
            })
            .collect();
        (rows, events)
    }

    /// `service.table[key]`, for violation messages.
    pub fn row_name(&self, service: usize, table: usize, key: u64) -> String {
        let spec = &self.model.services[service];
        format!("{}.{}[{key}]", spec.name, spec.tables[table].name)
    }
}

/// Events listed per violation; the latest are kept.
pub const MAX_EVENTS: usize = 12;

/// The facts of `gtx`, created on first sight; notes `at` as its latest change.
fn tx_entry(
    txs: &mut BTreeMap<GlobalTxId, TxFacts>,
    step_count: usize,
    gtx: GlobalTxId,
    at: Instant,
) -> &mut TxFacts {
    let tx = txs.entry(gtx).or_insert_with(|| TxFacts {
        steps: vec![StepTally::default(); step_count],
        ..TxFacts::default()
    });
    tx.last_change = Some(at);
    tx
}

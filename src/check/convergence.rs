//! The convergence check: once the last fault heals, every business transaction's services
//! agree (all steps applied, or all undone) within a stated time, and a read model catches up
//! with each change of its source within that time and ends equal to it.
//!
//! A transaction's clock starts at its first change or at the last heal, whichever is later:
//! a partition may hold a transaction apart as long as it lasts, and the promise is only about
//! what happens after. A fault that never heals leaves nothing to promise, so the check does
//! not judge such a run.

use super::facts::RunFacts;
use super::{CheckKind, Verdict, Violation, at_us};
use crate::net::FaultSpec;
use crate::sim::{Duration, Instant};
use crate::system::msg::GlobalTxId;

/// How long after the later of its first change and the last heal a transaction may take to
/// converge when a scenario says nothing: long enough for retries with backoff and broker
/// redeliveries on a healthy network, short enough to catch a replica that never catches up.
pub const DEFAULT_CONVERGE_WITHIN: Duration = Duration::from_secs(5);

/// What the convergence check holds a run to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvergenceRule {
    /// The stated time (scenario `checks: Checks(converge_within: "5s")`).
    pub within: Duration,
    /// When the last fault healed (partition `until`, link back up, crash `restart`); `None`
    /// when there was no fault to heal.
    pub last_heal: Option<Instant>,
    /// False when some fault never heals: convergence is then not promised, nor judged.
    pub faults_heal: bool,
    /// When every fault was lifted (`heal_at`), if the scenario says: from then on the run
    /// must also finish its work (`no_lost_work`) within `within`.
    pub heal_at: Option<Instant>,
}

impl Default for ConvergenceRule {
    /// [`DEFAULT_CONVERGE_WITHIN`] and no faults.
    fn default() -> Self {
        ConvergenceRule {
            within: DEFAULT_CONVERGE_WITHIN,
            last_heal: None,
            faults_heal: true,
            heal_at: None,
        }
    }
}

impl ConvergenceRule {
    /// The rule for a run with `faults`, allowing `within` after the last heal. Clock drift
    /// is not a fault that heals or stops convergence; it is ignored.
    pub fn new(within: Duration, faults: &[FaultSpec]) -> Self {
        let mut rule = ConvergenceRule {
            within,
            ..ConvergenceRule::default()
        };
        for fault in faults {
            let heal = match fault {
                FaultSpec::Partition { until, .. }
                | FaultSpec::OneWay { until, .. }
                | FaultSpec::LinkDown { until, .. } => *until,
                FaultSpec::Crash { restart_at, .. } => *restart_at,
                // When an aimed fault goes off is known only once the run has gone there:
                // the run's last observed heal counts too (`observed_heal`). One that lasts
                // for good, if it goes off, is never healed.
                FaultSpec::AtPoint(fault) if fault.effect.lasts_for_good() => None,
                FaultSpec::AtPoint(_) | FaultSpec::OnMessage(_) | FaultSpec::ClockDrift { .. } => continue,
            };
            match heal {
                Some(at) => rule.last_heal = rule.last_heal.max(Some(at)),
                None => rule.faults_heal = false,
            }
        }
        rule
    }

    /// The rule when every fault is lifted at `heal_at`: whatever never healed by itself
    /// heals then, so convergence is judged from it.
    pub fn healed_at(mut self, heal_at: Option<Instant>) -> Self {
        if let Some(at) = heal_at {
            self.heal_at = Some(at);
            self.faults_heal = true;
            self.last_heal = Some(self.last_heal.map_or(at, |heal| heal.min(at)));
        }
        self
    }

    /// The latest a transaction started at `started` may settle (end its work, answer its
    /// client) once faults are lifted at `heal_at`; `None` without `heal_at`.
    pub fn settle_by(&self, started: Instant) -> Option<Instant> {
        self.heal_at.map(|heal| heal.max(started) + self.within)
    }

    /// Takes the last heal the run itself saw (a restart or a cut ending, at a scheduled time
    /// or after an aimed fault) into account.
    pub fn observed_heal(mut self, at: Option<Instant>) -> Self {
        self.last_heal = self.last_heal.max(at);
        self
    }

    /// The latest a transaction whose first change was at `first` may converge.
    pub fn deadline(&self, first: Instant) -> Instant {
        first.max(self.last_heal.unwrap_or(Instant::ZERO)) + self.within
    }
}

/// What a strategy's read model did, as the checks and the report read it: the strategy
/// (`strategy::eventual`) folds its own view, and `assembly` hands the result over, so the
/// checks need not know which strategy keeps one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadModelFacts {
    /// `(gtx, step)` rows compared with their source at the end.
    pub rows: usize,
    /// Rows that disagree with their source at the end.
    pub stale: Vec<StaleRow>,
    /// Per change at a source, when the read model saw it.
    pub sightings: Vec<Sighting>,
}

/// One change at a source service and when a read model saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// The transaction.
    pub gtx: GlobalTxId,
    /// The step that changed at its service.
    pub step: u16,
    /// When it changed there.
    pub changed: Instant,
    /// When the read model first saw this very change (`None`: never, e.g. it saw only a
    /// later one): what the staleness metric measures.
    pub seen: Option<Instant>,
    /// When the read model first showed this change or a later state of the row (`None`:
    /// never): what the convergence check holds to the stated time.
    pub caught_up: Option<Instant>,
}

/// One row of a read model that disagrees with the service owning its data at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleRow {
    /// The transaction the row is about.
    pub gtx: GlobalTxId,
    /// The step whose state the read model shows.
    pub step: u16,
    /// The owning service's last change to the step, if any.
    pub at: Option<Instant>,
    /// What the owner and the view say, in words.
    pub detail: String,
}

/// Every transaction converged within the stated time after the later of its first change
/// and the last heal, and the read model (if any) ends equal to its source. Judged when the
/// run is at rest and every fault heals.
pub fn convergence(facts: &RunFacts<'_>) -> Verdict {
    let rule = facts.convergence;
    let at_rest = facts.at_rest();
    let judged = at_rest && rule.faults_heal;
    let mut violations = Vec::new();
    let (mut converged, mut longest) = (0_u64, 0_u64);
    for (gtx, tx) in &facts.txs {
        let window = &tx.window;
        let Some(first) = window.first_change else {
            continue;
        };
        match (window.agreement, window.agreed_at) {
            (Some(_), Some(agreed)) => {
                converged += 1;
                longest = longest.max(agreed.saturating_since(first).as_us());
                let deadline = rule.deadline(first);
                if judged && agreed > deadline {
                    let (rows, events) = facts.located(*gtx);
                    violations.push(Violation {
                        gtx: Some(gtx.0),
                        rows,
                        at_us: at_us(agreed),
                        detail: format!(
                            "converged {} after its first change, {} past its deadline ({} after {})",
                            agreed.saturating_since(first),
                            agreed.saturating_since(deadline),
                            rule.within,
                            first.max(rule.last_heal.unwrap_or(Instant::ZERO)),
                        ),
                        events,
                    });
                }
            }
            _ if judged => {
                let nets = facts.step_nets(tx);
                let (rows, events) = facts.located(*gtx);
                violations.push(Violation {
                    gtx: Some(gtx.0),
                    rows,
                    at_us: window.last_change.and_then(at_us),
                    detail: format!("never converged: {nets}"),
                    events,
                });
            }
            _ => {}
        }
    }
    if let (true, Some(view)) = (judged, &facts.read_model) {
        violations.extend(read_model_violations(facts, view));
    }
    let heal = match (rule.faults_heal, rule.last_heal) {
        (false, _) => "a fault never heals".to_string(),
        (true, Some(at)) => format!("last heal at {at}"),
        (true, None) => "no fault to heal".to_string(),
    };
    let mut notes = vec![format!(
        "{converged} transactions converged, longest window {}; allowed {} after the later of the first change and the last heal ({heal})",
        Duration::from_us(longest),
        rule.within
    )];
    if let Some(view) = &facts.read_model {
        let late = view.sightings.iter().filter(|s| late(rule, s)).count();
        notes.push(format!(
            "read model: {late} changes caught up late or never, {} rows disagree with their source at the end",
            view.stale.len()
        ));
    }
    let mut verdict = Verdict::new(CheckKind::Convergence, violations, notes);
    if !at_rest {
        verdict = verdict.judged_if(false);
        verdict.notes.push(format!(
            "{} transactions still in progress at the end",
            facts.in_flight()
        ));
    } else if !judged {
        verdict.judged = false;
        verdict.notes.insert(
            0,
            "not judged: a fault never heals, so nothing is promised".into(),
        );
    }
    verdict
}

/// True when a read model caught up with `sighting` after its deadline (or never did).
fn late(rule: ConvergenceRule, sighting: &Sighting) -> bool {
    sighting
        .caught_up
        .is_none_or(|seen| seen > rule.deadline(sighting.changed))
}

/// A read model's rows that caught up late, then those that disagree at the end.
fn read_model_violations(facts: &RunFacts<'_>, view: &ReadModelFacts) -> Vec<Violation> {
    let rule = facts.convergence;
    let Some(entry) = facts.model.steps.first().map(|s| s.service.index()) else {
        return Vec::new();
    };
    let service = &facts.model.services[entry].name;
    let row = |gtx: GlobalTxId, step: u16| {
        format!(
            "{service}.read_model[{}, {}]",
            gtx.0,
            facts.model.steps[usize::from(step)].name
        )
    };
    let events = |gtx: GlobalTxId, step: u16| facts.located_where(gtx, |e| e.step == step).1;
    let mut violations = Vec::new();
    // A change never caught up with is a stale row at the end, reported below.
    for sighting in view
        .sightings
        .iter()
        .filter(|s| s.caught_up.is_some() && late(rule, s))
    {
        let seen = sighting.caught_up.expect("filtered");
        let deadline = rule.deadline(sighting.changed);
        violations.push(Violation {
            gtx: Some(sighting.gtx.0),
            rows: vec![row(sighting.gtx, sighting.step)],
            at_us: at_us(seen),
            detail: format!(
                "read model caught up {} after its source changed at {}, {} past its deadline",
                seen.saturating_since(sighting.changed),
                sighting.changed,
                seen.saturating_since(deadline)
            ),
            events: events(sighting.gtx, sighting.step),
        });
    }
    for stale in &view.stale {
        violations.push(Violation {
            gtx: Some(stale.gtx.0),
            rows: vec![row(stale.gtx, stale.step)],
            at_us: stale.at.and_then(at_us),
            detail: stale.detail.clone(),
            events: events(stale.gtx, stale.step),
        });
    }
    violations
}

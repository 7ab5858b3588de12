//! The convergence check: once the last fault heals, every business transaction's services
//! agree (all steps applied, or all undone) within a stated time, and a read model ends equal
//! to its source.
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
}

impl Default for ConvergenceRule {
    /// [`DEFAULT_CONVERGE_WITHIN`] and no faults.
    fn default() -> Self {
        ConvergenceRule {
            within: DEFAULT_CONVERGE_WITHIN,
            last_heal: None,
            faults_heal: true,
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
                FaultSpec::Partition { until, .. } | FaultSpec::LinkDown { until, .. } => *until,
                FaultSpec::Crash { restart_at, .. } => *restart_at,
                FaultSpec::ClockDrift { .. } => continue,
            };
            match heal {
                Some(at) => rule.last_heal = rule.last_heal.max(Some(at)),
                None => rule.faults_heal = false,
            }
        }
        rule
    }

    /// The latest a transaction whose first change was at `first` may converge.
    pub fn deadline(&self, first: Instant) -> Instant {
        first.max(self.last_heal.unwrap_or(Instant::ZERO)) + self.within
    }
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
        match (window.agreement(), window.agreed_at) {
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
                let nets: Vec<String> = facts
                    .model
                    .steps
                    .iter()
                    .zip(&window.nets)
                    .map(|(step, net)| format!("{}={net}", step.name))
                    .collect();
                let (rows, events) = facts.located(*gtx);
                violations.push(Violation {
                    gtx: Some(gtx.0),
                    rows,
                    at_us: window.last_change.and_then(at_us),
                    detail: format!("never converged: {}", nets.join(", ")),
                    events,
                });
            }
            _ => {}
        }
    }
    let entry = facts.model.steps.first().map(|s| s.service.index());
    if let (true, Some(stale), Some(entry)) = (judged, &facts.stale_read_model, entry) {
        let service = &facts.model.services[entry].name;
        for row in stale {
            violations.push(Violation {
                gtx: Some(row.gtx.0),
                rows: vec![format!(
                    "{service}.read_model[{}, {}]",
                    row.gtx.0,
                    facts.model.steps[usize::from(row.step)].name
                )],
                at_us: row.at.and_then(at_us),
                detail: row.detail.clone(),
                events: Vec::new(),
            });
        }
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
    if let Some(stale) = &facts.stale_read_model {
        notes.push(format!(
            "read model: {} rows disagree with their source",
            stale.len()
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

//! What the client was told against what the transaction did.
//!
//! A client that hears "committed" acts on it (ships the order), one that hears "aborted"
//! tries again elsewhere: either answer is a promise about every step. "Accepted" promises
//! only that the work will be finished or undone later, and "timed out" promises nothing;
//! but a "timed out" for a transaction that then committed or aborted leaves the client
//! guessing, so those are counted: client uncertainty.

use super::facts::RunFacts;
use super::invariant::in_flight_note;
use super::window::Agreement;
use super::{CheckKind, Verdict, Violation, at_us};
use crate::system::msg::RequestOutcome;

/// Every "committed" the gateway answered is a transaction whose every step applied, and
/// every "aborted" one where no step remained applied. Judged when the run is at rest. Its
/// notes count the "timed out" answers for transactions that then committed or aborted.
pub fn client_answers(facts: &RunFacts<'_>) -> Verdict {
    let judged = facts.at_rest();
    let mut violations = Vec::new();
    let (mut uncertain_committed, mut uncertain_aborted) = (0u64, 0u64);
    for (gtx, tx) in &facts.txs {
        let Some(answer) = tx.outcome else {
            continue;
        };
        let nets = tx.steps.iter().map(|s| s.net());
        let wrong = match answer {
            RequestOutcome::Committed => nets.clone().any(|net| net <= 0),
            RequestOutcome::Aborted => nets.clone().any(|net| net >= 1),
            RequestOutcome::TimedOut => {
                match tx.agreement() {
                    Some(Agreement::Completed) => uncertain_committed += 1,
                    Some(Agreement::Compensated) if tx.last_change.is_some() => uncertain_aborted += 1,
                    _ => {}
                }
                false
            }
            RequestOutcome::Accepted | RequestOutcome::Unauthorized | RequestOutcome::AuditDone => false,
        };
        if !judged || !wrong || tx.in_doubt() {
            continue;
        }
        let (rows, events) = facts.located(*gtx);
        let said = match answer {
            RequestOutcome::Committed => "committed",
            _ => "aborted",
        };
        violations.push(Violation {
            gtx: Some(gtx.0),
            rows,
            at_us: tx.answered.and_then(at_us),
            detail: format!("the client was told {said}, but: {}", facts.step_nets(tx)),
            events,
        });
    }
    let uncertain = uncertain_committed + uncertain_aborted;
    let started = facts.txs.values().filter(|tx| tx.started.is_some()).count() as u64;
    if let Some(bound) = facts.max_client_uncertainty
        && judged
        && started > 0
        && uncertain as f64 / started as f64 > bound
    {
        violations.push(Violation {
            gtx: None,
            rows: Vec::new(),
            at_us: None,
            detail: format!(
                "client uncertainty {:.2}% ({uncertain} of {started} transactions answered timed out, then finished) is over the scenario's max_client_uncertainty {:.2}%",
                uncertain as f64 / started as f64 * 100.0,
                bound * 100.0
            ),
            events: Vec::new(),
        });
    }
    let mut notes = in_flight_note(facts, judged);
    if uncertain > 0 {
        notes.push(format!(
            "client uncertainty: {} transactions answered timed out then committed, {} then aborted",
            uncertain_committed, uncertain_aborted
        ));
    }
    Verdict::new(CheckKind::ClientAnswers, violations, notes).judged_if(judged)
}

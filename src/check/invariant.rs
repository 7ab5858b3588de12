//! The invariants about one transaction each, one function per check: atomicity, no double
//! effect, no lost work. Conservation (`conservation.rs`) and no oversell (`oversell.rs`) are
//! about resources and rows.

use super::facts::{MAX_EVENTS, RunFacts};
use super::{CheckKind, EventRef, Verdict, Violation, at_us};
use crate::sim::Instant;
use crate::system::msg::RequestOutcome;

/// Every finished transaction applied all its steps or none, net of compensations. Judged
/// only when the run is at rest ([`RunFacts::at_rest`]): a transaction still moving is not a
/// violation yet, and a run stopped with work in flight is not judged.
pub fn atomicity(facts: &RunFacts<'_>) -> Verdict {
    let judged = facts.at_rest();
    let mut violations = Vec::new();
    for (gtx, tx) in &facts.txs {
        // In doubt is not finished: no_lost_work reports it.
        if !judged || tx.in_doubt() || !tx.half_applied() {
            continue;
        }
        let applied = facts.step_nets(tx);
        let (rows, events) = facts.located(*gtx);
        violations.push(Violation {
            gtx: Some(gtx.0),
            rows,
            at_us: tx.last_change.and_then(at_us),
            detail: format!("half applied: {}", applied),
            events,
        });
    }
    Verdict::new(CheckKind::Atomicity, violations, in_flight_note(facts, judged)).judged_if(judged)
}

/// How many transactions were still moving when a check could not judge.
pub(super) fn in_flight_note(facts: &RunFacts<'_>, judged: bool) -> Vec<String> {
    if judged {
        Vec::new()
    } else {
        let mut note = format!("{} transactions still in progress at the end", facts.in_flight());
        if facts.unsent_requests > 0 {
            note.push_str(&format!(
                ", {} planned requests never sent",
                facts.unsent_requests
            ));
        }
        vec![note]
    }
}

/// No step's action or compensation took effect more than once in one transaction. Each
/// violation names the step's rows and lists that step's events.
pub fn no_double_effect(facts: &RunFacts<'_>) -> Verdict {
    let mut violations = Vec::new();
    for (gtx, tx) in &facts.txs {
        for (index, tally) in tx.steps.iter().enumerate() {
            if tally.actions > 1 || tally.compensations > 1 || tally.net() < 0 {
                let (rows, events) = facts.located_where(*gtx, |e| usize::from(e.step) == index);
                violations.push(Violation {
                    gtx: Some(gtx.0),
                    rows,
                    at_us: tally.changed_at.and_then(at_us),
                    detail: format!(
                        "step {} applied {} times, compensated {} times",
                        facts.model.steps[index].name, tally.actions, tally.compensations
                    ),
                    events,
                });
            }
        }
    }
    Verdict::new(CheckKind::NoDoubleEffect, violations, Vec::new())
}

/// Every accepted request (a transaction the gateway started) reached an outcome; what did
/// not is reported with how long: in doubt (prepared, never decided), stuck (some steps
/// applied, others never, at rest), or never answered (at rest). In doubt is reported
/// whether the run is at rest or not; the others only at rest ([`RunFacts::at_rest`]).
pub fn no_lost_work(facts: &RunFacts<'_>) -> Verdict {
    let judged = facts.at_rest();
    let mut violations = Vec::new();
    let (mut in_doubt, mut stuck, mut unanswered, mut timed_out, mut late) = (0, 0, 0, 0, 0);
    for (gtx, tx) in &facts.txs {
        timed_out += u64::from(tx.outcome == Some(RequestOutcome::TimedOut));
        let answer = match tx.outcome {
            None => "never answered".to_string(),
            Some(outcome) => format!("answered {}", outcome_word(outcome)),
        };
        let (at, detail) = if let Some(prepared) = tx.steps.iter().filter_map(|s| s.prepared_at).min() {
            in_doubt += 1;
            let detail = format!(
                "in doubt for {} at the end: prepared at {prepared}, never decided; {answer}",
                facts.end.saturating_since(prepared)
            );
            (prepared, detail)
        } else if judged && tx.stuck() {
            stuck += 1;
            let last = tx.last_change.unwrap_or(facts.end);
            let applied = facts.step_nets(tx);
            let detail = format!(
                "stuck for {} at the end: {} since {last}; {answer}",
                facts.end.saturating_since(last),
                applied
            );
            (last, detail)
        } else if judged && tx.unanswered() {
            unanswered += 1;
            let started = tx.started.unwrap_or(facts.end);
            let detail = format!(
                "accepted at {started}, never answered: waited {} to the end",
                facts.end.saturating_since(started)
            );
            (started, detail)
        } else if let Some((settled, deadline)) = late_settling(facts, tx) {
            late += 1;
            let detail = format!(
                "settled at {settled}, after {deadline}: faults were lifted at {}, and work must finish within {}; {answer}",
                facts.convergence.heal_at.unwrap_or(Instant::ZERO),
                facts.convergence.within
            );
            (settled, detail)
        } else {
            continue;
        };
        let (rows, mut events) = facts.located(*gtx);
        if let Some(started) = tx.started {
            let start = EventRef {
                at_us: started.as_us(),
                seq: tx.started_seq,
                detail: format!(
                    "gateway: request {} started",
                    tx.req.map_or_else(|| "?".to_string(), |r| r.0.to_string())
                ),
            };
            // The start first, then the latest of the rest.
            if events.len() == MAX_EVENTS {
                events.remove(0);
            }
            events.insert(0, start);
        }
        violations.push(Violation {
            gtx: Some(gtx.0),
            rows,
            at_us: at_us(at),
            detail,
            events,
        });
    }
    let mut notes = vec![format!(
        "{in_doubt} in doubt, {stuck} stuck, {unanswered} never answered, {timed_out} answered as timed out"
    )];
    if let Some(heal) = facts.convergence.heal_at {
        notes.push(format!(
            "{late} settled later than {} after the faults were lifted at {heal}",
            facts.convergence.within
        ));
    }
    notes.extend(in_flight_note(facts, judged));
    Verdict::new(CheckKind::NoLostWork, violations, notes).judged_if(judged)
}

/// When faults are lifted at `heal_at`, a transaction must settle (its last change and its
/// answer behind it) within `converge_within` of the later of that and its start: the run's
/// liveness. `(settled, deadline)` for one that did not.
fn late_settling(facts: &RunFacts<'_>, tx: &super::facts::TxFacts) -> Option<(Instant, Instant)> {
    let deadline = facts.convergence.settle_by(tx.started?)?;
    let settled = tx.last_change.max(tx.answered)?;
    (settled > deadline).then_some((settled, deadline))
}

/// An answer in words, for violation messages.
fn outcome_word(outcome: RequestOutcome) -> &'static str {
    match outcome {
        RequestOutcome::Committed => "committed",
        RequestOutcome::Aborted => "aborted",
        RequestOutcome::Accepted => "accepted",
        RequestOutcome::TimedOut => "timed out",
        RequestOutcome::Unauthorized => "unauthorized",
        RequestOutcome::AuditDone => "audit done",
    }
}

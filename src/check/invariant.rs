//! The invariants, one function each.

use super::facts::RunFacts;
use super::{CheckKind, Verdict, Violation, at_us};
use crate::system::model::Action;
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
        let applied: Vec<String> = facts
            .model
            .steps
            .iter()
            .zip(&tx.steps)
            .map(|(step, tally)| format!("{}={}", step.name, tally.net()))
            .collect();
        let (rows, events) = facts.located(*gtx);
        violations.push(Violation {
            gtx: Some(gtx.0),
            rows,
            at_us: tx.last_change.and_then(at_us),
            detail: format!("half applied: {}", applied.join(", ")),
            events,
        });
    }
    Verdict::new(CheckKind::Atomicity, violations, in_flight_note(facts, judged)).judged_if(judged)
}

/// How many transactions were still moving when a check could not judge.
fn in_flight_note(facts: &RunFacts<'_>, judged: bool) -> Vec<String> {
    if judged {
        Vec::new()
    } else {
        vec![format!(
            "{} transactions still in progress at the end",
            facts.in_flight()
        )]
    }
}

/// No step's action or compensation took effect more than once in one transaction.
pub fn no_double_effect(facts: &RunFacts<'_>) -> Verdict {
    let mut violations = Vec::new();
    for (gtx, tx) in &facts.txs {
        for (index, tally) in tx.steps.iter().enumerate() {
            if tally.actions > 1 || tally.compensations > 1 || tally.net() < 0 {
                let (rows, events) = facts.located(*gtx);
                violations.push(Violation {
                    gtx: Some(gtx.0),
                    rows,
                    at_us: tx.last_change.and_then(at_us),
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

/// The audited total (e.g. all money) equals its start plus what fully applied transactions
/// moved. A half-applied or doubly applied transaction shows up as a difference.
pub fn conservation(facts: &RunFacts<'_>) -> Verdict {
    let model = facts.model;
    if model.audit.is_empty() {
        return Verdict::new(
            CheckKind::Conservation,
            Vec::new(),
            vec!["the model audits no table".into()],
        );
    }
    let fully_applied = facts
        .txs
        .values()
        .filter(|tx| tx.steps.iter().all(|s| s.net() == 1))
        .count() as i64;
    let expected = model.initial_audit_total() + fully_applied * model.audit_delta_per_commit();
    let actual: i64 = model
        .audit
        .iter()
        .map(|(service, table)| {
            facts.final_rows[service.index()][usize::from(table.0)]
                .values()
                .sum::<i64>()
        })
        .sum();
    let judged = facts.at_rest();
    let mut violations = Vec::new();
    if judged && actual != expected {
        let rows = model
            .audit
            .iter()
            .map(|(s, t)| {
                format!(
                    "{}.{}",
                    model.services[s.index()].name,
                    model.services[s.index()].tables[usize::from(t.0)].name
                )
            })
            .collect();
        violations.push(Violation {
            gtx: None,
            rows,
            at_us: at_us(facts.end),
            detail: format!(
                "audited total is {actual}, expected {expected} ({:+})",
                actual - expected
            ),
            events: Vec::new(),
        });
    }
    let mut notes = vec![format!("audited total {actual}, expected {expected}")];
    notes.extend(in_flight_note(facts, judged));
    Verdict::new(CheckKind::Conservation, violations, notes).judged_if(judged)
}

/// Every accepted request reached an outcome; transactions left in doubt (prepared,
/// undecided) at the end are reported with how long. "Accepted, never answered" is judged
/// only when the run is at rest ([`RunFacts::at_rest`]); in doubt is reported either way.
pub fn no_lost_work(facts: &RunFacts<'_>) -> Verdict {
    let judged = facts.at_rest();
    let mut violations = Vec::new();
    let (mut in_doubt, mut timed_out) = (0, 0);
    for (gtx, tx) in &facts.txs {
        if let Some(prepared) = tx.steps.iter().filter_map(|s| s.prepared_at).min() {
            in_doubt += 1;
            violations.push(Violation {
                gtx: Some(gtx.0),
                rows: Vec::new(),
                at_us: at_us(prepared),
                detail: format!(
                    "in doubt for {} at the end (prepared, never decided)",
                    facts.end - prepared
                ),
                events: Vec::new(),
            });
            continue;
        }
        if tx.outcome == Some(RequestOutcome::TimedOut) {
            timed_out += 1;
        }
        if judged && tx.unanswered() {
            violations.push(Violation {
                gtx: Some(gtx.0),
                rows: Vec::new(),
                at_us: tx.started.and_then(at_us),
                detail: "accepted, never answered".into(),
                events: Vec::new(),
            });
        }
    }
    let mut notes = vec![format!("{in_doubt} in doubt, {timed_out} answered as timed out")];
    notes.extend(in_flight_note(facts, judged));
    Verdict::new(CheckKind::NoLostWork, violations, notes).judged_if(judged)
}

/// No row ends below the floor (or above the ceiling) that a step's action enforces on its
/// table: no negative stock, balance or courier count.
pub fn no_oversell(facts: &RunFacts<'_>) -> Verdict {
    let mut violations = Vec::new();
    for step in &facts.model.steps {
        let Action::Add { table, bounds, .. } = step.action else {
            continue;
        };
        let service = step.service.index();
        for (key, value) in &facts.final_rows[service][usize::from(table.0)] {
            if bounds.apply(*value, 0).is_none() {
                violations.push(Violation {
                    gtx: None,
                    rows: vec![facts.row_name(service, usize::from(table.0), *key)],
                    at_us: at_us(facts.end),
                    detail: format!("value {value} is outside the bounds step {} enforces", step.name),
                    events: Vec::new(),
                });
            }
        }
    }
    violations.dedup();
    Verdict::new(CheckKind::NoOversell, violations, Vec::new())
}

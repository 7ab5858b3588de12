//! Conservation, per resource: every table a step writes (stock, seats, couriers, money in an
//! account table, orders) ends at its initial total plus what the committed transactions
//! consumed or added, once each.
//!
//! A transaction counts as committed when every step applied (at least once); it is then
//! expected to have moved each resource by its steps' deltas, once. Any other transaction is
//! expected to have moved nothing. A resource whose final total differs is a violation, and
//! the transactions whose recorded changes moved it otherwise than expected (half applied,
//! applied twice, compensated without their action) are named as its causes, each with its
//! rows and events; what they do not explain is reported on its own (a write the history
//! never recorded).

use std::collections::BTreeMap;

use super::facts::RunFacts;
use super::invariant::in_flight_note;
use super::{CheckKind, Verdict, Violation, at_us};
use crate::sim::Instant;
use crate::store::TableId;
use crate::system::model::{Action, ServiceId};
use crate::system::msg::{GlobalTxId, StepKind};

/// A resource: one table of one service.
type Resource = (ServiceId, TableId);

/// Every resource ends at its initial total plus the committed transactions' deltas. Judged
/// only when the run is at rest ([`RunFacts::at_rest`]).
pub fn conservation(facts: &RunFacts<'_>) -> Verdict {
    let model = facts.model;
    let judged = facts.at_rest();
    let mut violations = Vec::new();
    let mut notes = Vec::new();
    for resource in resources(facts) {
        let (service, table) = resource;
        let name = resource_name(facts, resource);
        if model.steps.iter().any(|s| {
            s.service == service && s.action.table() == table && matches!(s.action, Action::Delete { .. })
        }) {
            notes.push(format!(
                "{name}: not judged, a step's action deletes rows of unknown value"
            ));
            continue;
        }
        let spec = &model.services[service.index()].tables[usize::from(table.0)];
        let initial = spec.initial * spec.key_count as i64;
        // Per transaction: (moved by its recorded changes, when it last moved it).
        let mut moved: BTreeMap<GlobalTxId, (i64, Instant)> = BTreeMap::new();
        for c in &facts.changes {
            if (c.change.service, TableId(c.change.write.table)) == resource {
                let entry = moved.entry(c.change.gtx).or_insert((0, c.at));
                entry.0 += effect(facts, &c.change);
                entry.1 = c.at;
            }
        }
        let per_commit: i64 = model
            .steps
            .iter()
            .filter(|s| s.service == service && s.action.table() == table)
            .map(|s| s.action.delta())
            .sum();
        let mut expected = initial;
        let mut causes = Vec::new();
        for (gtx, tx) in &facts.txs {
            let committed = tx.steps.iter().all(|s| s.net() >= 1);
            let want = if committed { per_commit } else { 0 };
            expected += want;
            let (got, last) = moved.get(gtx).copied().unwrap_or((0, Instant::ZERO));
            if got != want {
                causes.push((*gtx, got, want, last));
            }
        }
        let actual: i64 = facts.final_rows[service.index()][usize::from(table.0)]
            .values()
            .sum();
        notes.push(format!("{name}: total {actual}, expected {expected}"));
        if !judged || actual == expected {
            continue;
        }
        let headline = format!(
            "{name} totals {actual}, expected {expected} ({:+})",
            actual - expected
        );
        let mut explained = 0;
        for (gtx, got, want, last) in causes {
            explained += got - want;
            let tx = &facts.txs[&gtx];
            let nets = facts.step_nets(tx);
            let (rows, events) = facts.located_where(gtx, |e| {
                e.service == service && e.row.is_some_and(|(t, _)| TableId(t) == table)
            });
            violations.push(Violation {
                gtx: Some(gtx.0),
                rows,
                at_us: at_us(last),
                detail: format!(
                    "{headline}: this transaction moved it {got:+} where {want:+} was due ({nets})"
                ),
                events,
            });
        }
        let unexplained = actual - expected - explained;
        if unexplained != 0 {
            violations.push(Violation {
                gtx: None,
                rows: vec![name.clone()],
                at_us: at_us(facts.end),
                detail: format!("{headline}: {unexplained:+} not explained by any recorded change"),
                events: Vec::new(),
            });
        }
    }
    if notes.is_empty() {
        notes.push("no step writes a table".into());
    }
    notes.extend(in_flight_note(facts, judged));
    Verdict::new(CheckKind::Conservation, violations, notes).judged_if(judged)
}

/// The tables the steps write, actions and compensations, in service and table order.
fn resources(facts: &RunFacts<'_>) -> Vec<Resource> {
    let mut resources: Vec<Resource> = facts
        .model
        .steps
        .iter()
        .flat_map(|s| [(s.service, s.action.table()), (s.service, s.compensation.table())])
        .collect();
    resources.sort();
    resources.dedup();
    resources
}

/// `service.table`.
fn resource_name(facts: &RunFacts<'_>, (service, table): Resource) -> String {
    let spec = &facts.model.services[service.index()];
    format!("{}.{}", spec.name, spec.tables[usize::from(table.0)].name)
}

/// What a change adds to its table's total: an add its delta, an insert its value, a
/// compensating delete the value its action inserted.
fn effect(facts: &RunFacts<'_>, change: &super::Change) -> i64 {
    match (change.action(facts.model), change.kind) {
        (Action::Add { delta, .. } | Action::ReadThenWrite { delta, .. }, _) => *delta,
        (Action::Insert { value, .. }, _) => *value,
        // A compensation meant to undo its action: judged as if it had, so what it erased of
        // other transactions' changes shows as a total off by that much.
        (Action::Delete { .. } | Action::Set { .. }, StepKind::Compensation) => {
            -facts.model.steps[usize::from(change.step)].action.delta()
        }
        // Resources written by a deleting action are not judged (see above).
        (Action::Delete { .. } | Action::Set { .. }, StepKind::Action) => 0,
    }
}

//! No oversell: no row is ever outside the bounds a step's action enforces on its table (no
//! negative stock, balance or courier count), at any moment of the run, not only at its end.
//!
//! The check replays every recorded change on its row, from the model's initial values, and
//! reports each time a change takes a row out of bounds: the transaction, the row, the time
//! and the step's events. A row that ends out of bounds although the replay says it should
//! not is reported too, without a transaction (a write the history never recorded).

use std::collections::BTreeMap;

use super::facts::RunFacts;
use super::{CheckKind, Verdict, Violation, at_us};
use crate::store::Bounds;
use crate::system::model::Action;

/// A row: (service index, table index, key).
type Row = (usize, usize, u64);

/// No change ever took a row outside the bounds its table's steps enforce, and no row ends
/// outside them.
pub fn no_oversell(facts: &RunFacts<'_>) -> Verdict {
    let model = facts.model;
    // Per (service, table): the bounds steps enforce on it, with the step's name.
    let mut bounds: BTreeMap<(usize, usize), Vec<(&str, Bounds)>> = BTreeMap::new();
    for step in &model.steps {
        // A rule across two rows (`also_reads`) bounds their sum, not either row.
        if let Action::Add { table, bounds: b, .. }
        | Action::ReadThenWrite {
            table,
            bounds: b,
            also_reads: None,
            ..
        } = step.action
        {
            let entry = bounds
                .entry((step.service.index(), usize::from(table.0)))
                .or_default();
            entry.push((step.name.as_str(), b));
        }
    }
    let outside = |table: (usize, usize), value: i64| {
        bounds
            .get(&table)
            .and_then(|list| list.iter().find(|(_, b)| b.apply(value, 0).is_none()))
            .map(|(name, _)| *name)
    };
    let mut violations = Vec::new();
    // Replayed values of the rows changes touched (`None`: no such row), and whether each is
    // out of bounds now.
    let mut values: BTreeMap<Row, (Option<i64>, bool)> = BTreeMap::new();
    for c in &facts.changes {
        let change = &c.change;
        let table = (change.service.index(), usize::from(change.write.table));
        if !bounds.contains_key(&table) {
            continue;
        }
        let row = (table.0, table.1, change.write.key);
        let (value, was_out) = values.entry(row).or_insert_with(|| (initial(facts, row), false));
        *value = match change.action(model) {
            Action::Add { delta, .. } | Action::ReadThenWrite { delta, .. } => {
                Some(value.unwrap_or(0) + delta)
            }
            Action::Insert { value, .. } | Action::Set { value, .. } => Some(*value),
            Action::Delete { .. } => None,
        };
        let broken = value.and_then(|v| outside(table, v).map(|step| (v, step)));
        if let (Some((v, step)), false) = (broken, *was_out) {
            let (_, events) = facts.located_where(change.gtx, |e| e.step == change.step && e.at <= c.at);
            violations.push(Violation {
                gtx: Some(change.gtx.0),
                rows: vec![facts.row_name(row.0, row.1, row.2)],
                at_us: at_us(c.at),
                detail: format!(
                    "step {} took the row to {v}, outside the bounds step {step} enforces",
                    model.steps[usize::from(change.step)].name
                ),
                events,
            });
        }
        *was_out = broken.is_some();
    }
    for &(s, t) in bounds.keys() {
        for (key, value) in &facts.final_rows[s][t] {
            let Some(step) = outside((s, t), *value) else {
                continue;
            };
            let replayed = values
                .get(&(s, t, *key))
                .map_or((initial(facts, (s, t, *key)), false), |v| *v);
            if replayed.1 && replayed.0 == Some(*value) {
                continue; // reported when the change that took it there happened
            }
            violations.push(Violation {
                gtx: None,
                rows: vec![facts.row_name(s, t, *key)],
                at_us: at_us(facts.end),
                detail: format!(
                    "ends at {value}, outside the bounds step {step} enforces, and no recorded change took it there"
                ),
                events: Vec::new(),
            });
        }
    }
    Verdict::new(CheckKind::NoOversell, violations, Vec::new())
}

/// A row's value at the start: the table's initial value for keys it creates, none beyond.
fn initial(facts: &RunFacts<'_>, (s, t, key): Row) -> Option<i64> {
    let table = &facts.model.services[s].tables[t];
    (key < table.key_count).then_some(table.initial)
}

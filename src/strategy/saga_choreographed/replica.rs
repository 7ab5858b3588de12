//! The entry service's replica of one later step's rows, kept from the events it consumes
//! with a read model, and the decision it makes on it before accepting a transaction
//! (`Model::entry_checks_replica`): "is this dish still in stock?" asked of a copy that is
//! only as fresh as the last event that reached it.
//!
//! The replica holds, per row of the checked step, the net change its events reported (its
//! action's delta per `Done`, undone per `Compensated`), each event once whatever the
//! broker's duplicates. A transaction it accepts and the owner later refuses (`Failed`) was
//! accepted on outdated data: that is the decision's cost, counted, and paid for by the
//! compensations that walk back to the entry.

use std::collections::{BTreeMap, BTreeSet};

use crate::store::Bounds;
use crate::system::model::{Action, KeyRef, Model, RequestKeys};
use crate::system::msg::{DomainEvent, EventKind, GlobalTxId};

/// The replica of step `step`'s rows at the entry.
#[derive(Debug)]
pub(crate) struct Replica {
    step: u16,
    key: KeyRef,
    initial: i64,
    delta: i64,
    bounds: Bounds,
    /// Net change per row key, from the events seen.
    changes: BTreeMap<u64, i64>,
    /// Events applied, once each.
    seen: BTreeSet<(GlobalTxId, EventKind)>,
    /// What it said of each transaction: a retried `Begin` gets the same answer, although
    /// the replica has moved since (the transaction's own step may be in it by then).
    said: BTreeMap<GlobalTxId, Verdict>,
}

/// What the replica said about a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The checked step would stay within its bounds, as far as the replica knows.
    Allows,
    /// It would not: the entry refuses the transaction at once.
    Refuses,
}

impl Replica {
    /// The replica the model asks of its entry, if it asks for one on a counter step.
    pub fn of(model: &Model) -> Option<Replica> {
        let step = model.entry_checks_replica?;
        let spec = &model.steps[usize::from(step)];
        let (table, key, delta, bounds) = match spec.action {
            Action::Add {
                table,
                key,
                delta,
                bounds,
            }
            | Action::ReadThenWrite {
                table,
                key,
                delta,
                bounds,
                also_reads: None,
            } => (table, key, delta, bounds),
            _ => return None,
        };
        let initial = model.services[spec.service.index()].tables[usize::from(table.0)].initial;
        Some(Replica {
            step,
            key,
            initial,
            delta,
            bounds,
            changes: BTreeMap::new(),
            seen: BTreeSet::new(),
            said: BTreeMap::new(),
        })
    }

    /// Whether the checked step of transaction `gtx` with `keys` would keep its row within
    /// bounds, by the replica, and whether this is the first time it was asked: the first
    /// answer for `gtx` is the answer for good.
    pub fn decide(&mut self, gtx: GlobalTxId, keys: RequestKeys) -> (Verdict, bool) {
        if let Some(said) = self.said.get(&gtx) {
            return (*said, false);
        }
        let row = self.key.resolve(keys).0;
        let value = self.initial + self.changes.get(&row).copied().unwrap_or(0);
        let verdict = match self.bounds.apply(value, self.delta) {
            Some(_) => Verdict::Allows,
            None => Verdict::Refuses,
        };
        self.said.insert(gtx, verdict);
        (verdict, true)
    }

    /// Takes in an event; true when it shows a transaction accepted on outdated data (the
    /// checked step was refused after the replica allowed it), once per transaction.
    pub fn observe(&mut self, event: &DomainEvent) -> bool {
        if event.step != self.step || !self.seen.insert((event.gtx, event.kind)) {
            return false;
        }
        let row = self.key.resolve(event.keys).0;
        let change = self.changes.entry(row).or_insert(0);
        match event.kind {
            EventKind::Done => *change += self.delta,
            EventKind::Compensated => *change -= self.delta,
            EventKind::Failed => return true,
        }
        false
    }

    /// Bytes it keeps that grow with the run.
    pub fn retained_bytes(&self) -> usize {
        self.changes.len() * 24 + self.seen.len() * 16 + self.said.len() * 16
    }
}

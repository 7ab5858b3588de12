//! Semantic locks: a saga step's change marked *pending* at its service until the saga
//! ends, and left out of what other transactions read (Garcia-Molina and Salem's
//! countermeasure; Richardson's `*_PENDING` states). Here the readers are audits: an audit
//! read of a service with semantic locks sums its rows minus every pending change, so it
//! never sees a change a compensation later undoes (no dirty read), at the price of not
//! seeing a change until its whole saga is done.
//!
//! The strategy's participant marks a step when its action commits, unmarks it when its
//! compensation commits, and unmarks a transaction when it learns the saga is complete. The
//! marks are durable, like the data they qualify.

use std::collections::BTreeMap;

use super::Service;
use crate::system::msg::{GlobalTxId, LocalCall};

/// The pending changes of one service: `(gtx, step)` → the audited amount it changed (zero
/// for a table no audit reads).
#[derive(Debug, Default)]
pub(super) struct PendingMarks {
    marks: BTreeMap<(GlobalTxId, u16), i64>,
}

impl Service {
    /// Marks the change `call` committed pending, with what it adds to an audited table.
    pub(super) fn mark_pending(&mut self, call: &LocalCall) {
        let action = &self.model.steps[usize::from(call.step)].action;
        let audited = self.model.audit.contains(&(self.config.id, action.table()));
        let amount = if audited { action.delta() } else { 0 };
        self.pending.marks.insert((call.gtx, call.step), amount);
    }

    /// Unmarks step `step` of `gtx`, or every step of `gtx` here when `None`.
    pub(super) fn clear_pending(&mut self, gtx: GlobalTxId, step: Option<u16>) {
        match step {
            Some(step) => {
                self.pending.marks.remove(&(gtx, step));
            }
            None => self.pending.marks.retain(|(g, _), _| *g != gtx),
        }
    }

    /// What the pending changes add to the audited tables: an audit leaves it out.
    pub(super) fn pending_audited(&self) -> i64 {
        self.pending.marks.values().sum()
    }

    /// How many changes are marked pending now: none once every saga is over.
    pub fn pending_marks(&self) -> usize {
        self.pending.marks.len()
    }

    /// Bytes the marks keep.
    pub(super) fn pending_bytes(&self) -> usize {
        self.pending.marks.len() * 32
    }
}

//! Ownership: no row changed except by its owning service's own steps.
//!
//! Each service owns its data, and only its steps change it; an actor reaching into another
//! service's database is refused (and counted here). Under the shared-database anti-pattern
//! the write lands, and each such change is a violation naming the row and who wrote it.

use super::facts::RunFacts;
use super::{CheckKind, EventRef, Verdict, Violation, at_us};

/// Judges the run's direct writes to other services' databases.
pub fn ownership(facts: &RunFacts<'_>) -> Verdict {
    let violations = facts
        .foreign_writes
        .iter()
        .map(|write| {
            let owner = &facts.model.services[write.service.index()];
            let table = owner
                .tables
                .get(usize::from(write.table))
                .map_or("?", |t| t.name.as_str());
            let row = format!("{}.{table}[{}]", owner.name, write.key);
            let detail = format!(
                "{row} changed by {:+} by {}, not by a step of {}: its database is shared",
                write.delta,
                facts.model.services[write.by.index()].name,
                owner.name
            );
            Violation {
                gtx: write.during.map(|g| g.0),
                rows: vec![row],
                at_us: at_us(write.at),
                detail,
                events: vec![EventRef {
                    at_us: write.at.as_us(),
                    seq: write.seq,
                    detail: format!("{}: direct write landed", owner.name),
                }],
            }
        })
        .collect();
    let notes = vec![format!(
        "{} direct accesses refused, {} landed",
        facts.refused_accesses,
        facts.foreign_writes.len()
    )];
    Verdict::new(CheckKind::Ownership, violations, notes)
}

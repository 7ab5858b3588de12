//! Deadlock detection over the wait-for graph.
//!
//! A waiting tx waits for the holders it conflicts with and for the txs queued ahead of it
//! (see [`LockTable::waits_for`](super::lock::LockTable)). Only waiting txs have outgoing
//! edges, and a tx waits on one row at a time, so a cycle can only be closed by the request
//! that just queued: checking from that tx at block time finds every deadlock as it forms.
//! The victim is the youngest tx of the cycle (the largest id), a fixed rule so a seed gives
//! the same victim on every run; the youngest has usually done the least work.

use std::collections::BTreeSet;

use super::tx::LocalTxId;

/// A cycle in the wait-for graph and the tx to abort to break it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deadlock {
    /// The txs of the cycle, starting from the one the search began at; each waits for the
    /// next, and the last for the first.
    pub cycle: Vec<LocalTxId>,
    /// The youngest tx of the cycle (largest id): abort it to break the cycle.
    pub victim: LocalTxId,
}

/// The first cycle through `start`, exploring successors in the order `waits_for` lists
/// them; `waits_for(tx, out)` appends the txs `tx` waits for (none if it is not waiting).
pub(super) fn cycle_through(
    start: LocalTxId,
    mut waits_for: impl FnMut(LocalTxId, &mut Vec<LocalTxId>),
) -> Option<Deadlock> {
    let mut successors = |tx: LocalTxId| {
        let mut out = Vec::new();
        waits_for(tx, &mut out);
        out
    };
    let mut visited = BTreeSet::from([start]);
    let mut path = vec![(start, successors(start), 0usize)];
    while let Some((_, next_txs, next_index)) = path.last_mut() {
        let Some(&next) = next_txs.get(*next_index) else {
            path.pop();
            continue;
        };
        *next_index += 1;
        if next == start {
            let cycle: Vec<LocalTxId> = path.iter().map(|(tx, _, _)| *tx).collect();
            let victim = *cycle.iter().max().expect("a cycle has a member");
            return Some(Deadlock { cycle, victim });
        }
        if visited.insert(next) {
            path.push((next, successors(next), 0));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph as adjacency lists indexed by tx id.
    fn search(start: u64, edges: &[&[u64]]) -> Option<Deadlock> {
        cycle_through(LocalTxId(start), |tx, out| {
            let targets = edges.get(tx.0 as usize).copied().unwrap_or(&[]);
            out.extend(targets.iter().map(|&t| LocalTxId(t)));
        })
    }

    #[test]
    fn a_cycle_is_found_and_its_youngest_member_is_the_victim() {
        // 1 -> 2 -> 3 -> 1, with a dead end 2 -> 4.
        let found = search(1, &[&[], &[2], &[4, 3], &[1], &[]]).expect("a cycle");
        assert_eq!(found.cycle, [LocalTxId(1), LocalTxId(2), LocalTxId(3)]);
        assert_eq!(found.victim, LocalTxId(3));
    }

    #[test]
    fn a_chain_of_waits_is_not_a_deadlock() {
        assert_eq!(search(1, &[&[], &[2], &[3], &[]]), None);
        // A cycle that does not pass through the start is another tx's business.
        assert_eq!(search(1, &[&[], &[2], &[3], &[2]]), None);
    }
}

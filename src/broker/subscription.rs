//! One subscriber's durable view of one topic: which stored messages it has not acked yet,
//! and how many delivery attempts each has had.
//!
//! **Invariant:** `by_key` indexes exactly the offsets in `unacked`, so the oldest unacked
//! message of a key (the only one per-key ordering may deliver) is found without a scan.

use std::collections::{BTreeMap, BTreeSet};

use super::protocol::Offset;
use crate::sim::{ActorId, IdMap};

/// A subscriber's queue on one topic. Durable: it survives a broker crash, which is what
/// lets the broker redeliver every unacked message on recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Subscription {
    subscriber: ActorId,
    /// Offset → the message's key and the deliveries made so far (0: not delivered yet); a
    /// window of slots over the unacked offsets ([`IdMap`]).
    unacked: IdMap<Offset, Unacked>,
    /// Key → its unacked offsets, oldest first.
    by_key: BTreeMap<u64, BTreeSet<Offset>>,
}

/// What the subscription remembers of one message it has not acked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Unacked {
    key: u64,
    attempts: u32,
}

impl Subscription {
    /// An empty queue for `subscriber`.
    pub(super) fn new(subscriber: ActorId) -> Self {
        Subscription {
            subscriber,
            unacked: IdMap::new(),
            by_key: BTreeMap::new(),
        }
    }

    /// Who the queue delivers to.
    pub(super) fn subscriber(&self) -> ActorId {
        self.subscriber
    }

    /// Messages not yet acked by the subscriber.
    pub(super) fn unacked_count(&self) -> usize {
        self.unacked.len()
    }

    /// Adds a newly stored message; true when it is the oldest unacked message of its key,
    /// i.e. per-key ordering may deliver it at once.
    pub(super) fn enqueue(&mut self, offset: Offset, key: u64) -> bool {
        let previous = self.unacked.insert(offset, Unacked { key, attempts: 0 });
        assert!(previous.is_none(), "offset {offset} enqueued twice");
        let offsets = self.by_key.entry(key).or_default();
        offsets.insert(offset);
        offsets.len() == 1
    }

    /// Removes the message the subscriber acked and returns its key; `None` when it was not
    /// unacked (a second ack of a duplicate delivery, or an ack for another subscription).
    pub(super) fn ack(&mut self, offset: Offset) -> Option<u64> {
        let Unacked { key, .. } = self.unacked.remove(offset)?;
        let offsets = self
            .by_key
            .get_mut(&key)
            .expect("by_key indexes every unacked offset");
        offsets.remove(&offset);
        if offsets.is_empty() {
            self.by_key.remove(&key);
        }
        Some(key)
    }

    /// The oldest unacked message of `key`, which per-key ordering delivers next.
    pub(super) fn head_of_key(&self, key: u64) -> Option<Offset> {
        self.by_key.get(&key)?.first().copied()
    }

    /// Deliveries made so far of `offset`, or `None` once it is acked.
    pub(super) fn attempts(&self, offset: Offset) -> Option<u32> {
        self.unacked.get(offset).map(|unacked| unacked.attempts)
    }

    /// Counts one more delivery of `offset` and returns its number (1 for the first). Kept
    /// durable so attempt numbers keep rising across crashes and consumers can tell that a
    /// redelivery after a restart may be a duplicate.
    pub(super) fn record_attempt(&mut self, offset: Offset) -> u32 {
        let unacked = self
            .unacked
            .get_mut(offset)
            .expect("only unacked messages are delivered");
        unacked.attempts += 1;
        unacked.attempts
    }

    /// What to deliver when nothing is in flight (after a restart), in offset order: every
    /// unacked message, or with per-key ordering only the oldest of each key.
    pub(super) fn deliverable(&self, per_key_ordering: bool) -> Vec<Offset> {
        if !per_key_ordering {
            return self.unacked.keys().collect();
        }
        let mut heads: Vec<Offset> = self
            .by_key
            .values()
            .filter_map(|offsets| offsets.first().copied())
            .collect();
        heads.sort_unstable();
        heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription_with(messages: &[(u64, u64)]) -> Subscription {
        let mut subscription = Subscription::new(ActorId(3));
        for &(offset, key) in messages {
            subscription.enqueue(Offset(offset), key);
        }
        subscription
    }

    #[test]
    fn per_key_ordering_delivers_only_the_oldest_message_of_each_key() {
        let mut subscription = subscription_with(&[(0, 7), (1, 8), (2, 7), (3, 7)]);
        assert_eq!(subscription.deliverable(true), vec![Offset(0), Offset(1)]);
        assert_eq!(subscription.deliverable(false).len(), 4);
        assert_eq!(subscription.ack(Offset(0)), Some(7));
        assert_eq!(subscription.head_of_key(7), Some(Offset(2)));
        assert_eq!(subscription.deliverable(true), vec![Offset(1), Offset(2)]);
    }

    #[test]
    fn a_second_ack_of_the_same_offset_is_reported_as_stale() {
        let mut subscription = subscription_with(&[(0, 1)]);
        assert_eq!(subscription.record_attempt(Offset(0)), 1);
        assert_eq!(subscription.record_attempt(Offset(0)), 2);
        assert_eq!(subscription.ack(Offset(0)), Some(1));
        assert_eq!(subscription.ack(Offset(0)), None);
        assert_eq!(subscription.attempts(Offset(0)), None);
        assert_eq!(subscription.head_of_key(1), None);
        assert_eq!(subscription.unacked_count(), 0);
    }
}

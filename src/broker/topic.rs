//! A topic: its stored messages and its subscriptions, all durable.
//!
//! **Invariant:** a message is stored exactly as long as some subscription has it unacked,
//! and `unacked_by` counts those subscriptions. So memory follows what is in flight, not
//! the length of the run, and a message nobody subscribed to is not kept at all.

use super::protocol::Offset;
use super::subscription::Subscription;
use crate::sim::{ActorId, IdMap};

/// One topic's durable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Topic<P> {
    /// The offset the next stored message gets.
    next_offset: u64,
    /// Stored messages not yet acked by every subscription that existed when they arrived:
    /// a window of slots from the oldest unacked offset to the newest ([`IdMap`]).
    messages: IdMap<Offset, Stored<P>>,
    /// In subscription order, which is the order a message is delivered to subscribers.
    subscriptions: Vec<Subscription>,
}

impl<P> Topic<P> {
    /// Bytes the stored messages take (see `Actor::retained_bytes`).
    pub fn retained_bytes(&self) -> usize {
        self.messages.retained_bytes()
    }
}

/// A stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored<P> {
    key: u64,
    payload: P,
    /// Subscriptions that still have to ack it.
    unacked_by: usize,
}

/// What one delivery sends: read from the store, with its attempt number already counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Delivery<P> {
    /// The message's key.
    pub(super) key: u64,
    /// Which attempt this is (1 for the first).
    pub(super) attempt: u32,
    /// A copy of the stored payload.
    pub(super) payload: P,
}

impl<P: Clone> Topic<P> {
    /// A topic with the given subscribers (duplicates ignored) and no messages.
    pub(super) fn new(subscribers: &[ActorId]) -> Self {
        let mut topic = Topic {
            next_offset: 0,
            messages: IdMap::new(),
            subscriptions: Vec::new(),
        };
        for &subscriber in subscribers {
            topic.subscribe(subscriber);
        }
        topic
    }

    /// Adds a subscription that receives messages stored from now on; false if `subscriber`
    /// was already subscribed.
    pub(super) fn subscribe(&mut self, subscriber: ActorId) -> bool {
        if self.subscription(subscriber).is_some() {
            return false;
        }
        self.subscriptions.push(Subscription::new(subscriber));
        true
    }

    /// Subscribers in subscription order.
    pub(super) fn subscribers(&self) -> impl Iterator<Item = ActorId> + '_ {
        self.subscriptions.iter().map(Subscription::subscriber)
    }

    /// Messages stored (not yet acked by every subscription).
    pub(super) fn stored_count(&self) -> usize {
        self.messages.len()
    }

    /// `subscriber`'s queue, if it subscribed.
    pub(super) fn subscription(&self, subscriber: ActorId) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|subscription| subscription.subscriber() == subscriber)
    }

    /// Stores a published message for every current subscription. Returns its offset and
    /// the subscribers it may be delivered to at once (all of them, or with per-key ordering
    /// those with nothing older of the same key unacked); `None` when the topic has no
    /// subscriber, in which case nothing is stored since nobody could ever ack it.
    pub(super) fn append(
        &mut self,
        key: u64,
        payload: P,
        per_key_ordering: bool,
    ) -> Option<(Offset, Vec<ActorId>)> {
        if self.subscriptions.is_empty() {
            return None;
        }
        let offset = Offset(self.next_offset);
        self.next_offset += 1;
        let mut deliver_now = Vec::with_capacity(self.subscriptions.len());
        for subscription in &mut self.subscriptions {
            let head_of_key = subscription.enqueue(offset, key);
            if head_of_key || !per_key_ordering {
                deliver_now.push(subscription.subscriber());
            }
        }
        let unacked_by = self.subscriptions.len();
        let stored = Stored {
            key,
            payload,
            unacked_by,
        };
        self.messages.insert(offset, stored);
        Some((offset, deliver_now))
    }

    /// Counts a delivery of `offset` to `subscriber` and returns what to send; `None` when
    /// `subscriber` has no such unacked message.
    pub(super) fn start_delivery(&mut self, subscriber: ActorId, offset: Offset) -> Option<Delivery<P>> {
        let subscription = self.subscription_mut(subscriber)?;
        subscription.attempts(offset)?;
        let attempt = subscription.record_attempt(offset);
        let stored = self
            .messages
            .get(offset)
            .expect("a message stays stored while a subscription has it unacked");
        Some(Delivery {
            key: stored.key,
            attempt,
            payload: stored.payload.clone(),
        })
    }

    /// Records `subscriber`'s ack of `offset` and forgets the message once every subscription
    /// has acked it. Returns the message's key, or `None` if the ack was stale (already
    /// acked, or not `subscriber`'s message).
    pub(super) fn ack(&mut self, subscriber: ActorId, offset: Offset) -> Option<u64> {
        let key = self.subscription_mut(subscriber)?.ack(offset)?;
        let stored = self
            .messages
            .get_mut(offset)
            .expect("a message stays stored while a subscription has it unacked");
        stored.unacked_by -= 1;
        if stored.unacked_by == 0 {
            self.messages.remove(offset);
        }
        Some(key)
    }

    fn subscription_mut(&mut self, subscriber: ActorId) -> Option<&mut Subscription> {
        self.subscriptions
            .iter_mut()
            .find(|subscription| subscription.subscriber() == subscriber)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_forgotten_once_every_subscriber_acked_it() {
        let (a, b) = (ActorId(1), ActorId(2));
        let mut topic = Topic::new(&[a, b, a]);
        assert_eq!(topic.subscribers().collect::<Vec<_>>(), vec![a, b]);
        let (offset, deliver_now) = topic.append(9, "event", false).unwrap();
        assert_eq!(deliver_now, vec![a, b]);
        assert_eq!(topic.start_delivery(a, offset).unwrap().attempt, 1);
        assert_eq!(topic.ack(a, offset), Some(9));
        assert_eq!(topic.ack(a, offset), None, "a second ack is stale");
        assert_eq!(topic.stored_count(), 1, "b has not acked yet");
        assert_eq!(topic.ack(b, offset), Some(9));
        assert_eq!(topic.stored_count(), 0);
        assert!(topic.start_delivery(b, offset).is_none());
    }

    #[test]
    fn a_topic_without_subscribers_stores_nothing() {
        let mut topic = Topic::new(&[]);
        assert_eq!(topic.append(1, 42u64, false), None);
        assert_eq!(topic.stored_count(), 0);
    }
}

//! How a broker behaves: its ack timeout, its ordering and deduplication switches, and the
//! subscriptions it starts with.

use std::collections::BTreeMap;

use super::protocol::TopicId;
use crate::sim::{ActorId, Duration};

/// A broker's settings. The defaults are the plain at-least-once broker: no ordering, no
/// deduplication, so duplicates and reordering reach consumers as they would in production.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
    /// How long a delivery may stay unacknowledged before it is sent again. Shorter finds
    /// lost messages sooner and makes more duplicates.
    pub ack_timeout: Duration,
    /// Per (subscription, key), at most one delivery outstanding: a key's next message waits
    /// until the previous one is acked, so each subscriber first sees a key's messages in
    /// publish order. Off, messages are delivered as they arrive and the network may reorder
    /// them.
    pub per_key_ordering: bool,
    /// Drop a `Publish` whose (publisher, publish_id) was already stored, instead of storing
    /// it again under a new offset. Off by default because duplicates are the normal case an
    /// asynchronous design must survive. On, the broker remembers every id it has seen, so
    /// its memory grows with the number of distinct publishes (a real broker bounds this
    /// with a window).
    pub dedupe_publishes: bool,
    /// Subscriptions that exist from the start (topic → subscribers, in delivery order),
    /// like queues declared in a broker's configuration file. More can be added at run time
    /// with [`super::BrokerMsg::Subscribe`].
    pub subscriptions: BTreeMap<TopicId, Vec<ActorId>>,
}

impl Default for BrokerConfig {
    /// A 100 ms ack timeout, no ordering, no deduplication, no subscriptions.
    fn default() -> Self {
        BrokerConfig {
            ack_timeout: Duration::from_ms(100),
            per_key_ordering: false,
            dedupe_publishes: false,
            subscriptions: BTreeMap::new(),
        }
    }
}

impl BrokerConfig {
    /// Adds `subscriber` to `topic`'s static subscriptions (once, however often it is
    /// called), for building configurations in one expression.
    pub fn subscribe(mut self, topic: TopicId, subscriber: ActorId) -> Self {
        let subscribers = self.subscriptions.entry(topic).or_default();
        if !subscribers.contains(&subscriber) {
            subscribers.push(subscriber);
        }
        self
    }
}

//! The broker's protocol: the messages publishers, subscribers and the broker exchange, and
//! the envelope trait that carries them inside an application's own message type.
//!
//! Publish/ack and deliver/ack follow the at-least-once contract of the transactional outbox
//! (Richardson, "Pattern: Transactional outbox") and of brokers such as RabbitMQ: a sender
//! repeats until it gets an ack, so every message arrives at least once and possibly more.

use std::fmt;

use crate::sim::ActorId;

/// A topic's number, given by the model loader; messages are published to a topic and
/// delivered to every subscription of that topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicId(pub u32);

/// A stored message's position in its topic: assigned at publish, in arrival order, never
/// reused. It names one delivery for acks; a re-published duplicate gets a new offset, which
/// is why consumers dedupe on their payload's identity, not on the offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub u64);

/// A topic's offsets come from its counter: dense, so maps of them are windows of slots
/// ([`crate::sim::IdMap`]).
impl crate::sim::DenseId for Offset {
    fn to_index(self) -> u64 {
        self.0
    }

    fn from_index(index: u64) -> Self {
        Offset(index)
    }
}

impl<P> BrokerMsg<P> {
    /// The names [`BrokerMsg::kind_name`] gives, the ones a fault can aim at (a `Redeliver`
    /// is a timer, never sent).
    pub const KINDS: &'static [&'static str] = &[
        "Publish",
        "PublishAck",
        "Subscribe",
        "SubscribeAck",
        "Deliver",
        "Ack",
    ];

    /// Its variant's name, for faults aimed at a kind of message.
    pub fn kind_name(&self) -> &'static str {
        match self {
            BrokerMsg::Publish { .. } => "Publish",
            BrokerMsg::PublishAck { .. } => "PublishAck",
            BrokerMsg::Subscribe { .. } => "Subscribe",
            BrokerMsg::SubscribeAck { .. } => "SubscribeAck",
            BrokerMsg::Deliver { .. } => "Deliver",
            BrokerMsg::Ack { .. } => "Ack",
            BrokerMsg::Redeliver { .. } => "Redeliver",
        }
    }
}

/// Everything a broker sends or receives. `P` is the application's event payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerMsg<P> {
    /// Publisher → broker: store `payload` on `topic`. Repeated until acknowledged, so the
    /// broker receives duplicates as a matter of course.
    Publish {
        /// Where to publish.
        topic: TopicId,
        /// What the event is about; the unit of per-key ordering.
        key: u64,
        /// The publisher's idempotence key (e.g. its outbox row id), echoed in the ack and
        /// used for deduplication when the broker is configured to dedupe.
        publish_id: u64,
        /// The event.
        payload: P,
    },
    /// Broker → publisher: the message `publish_id` is stored durably (or was a duplicate
    /// already stored); the publisher may forget it.
    PublishAck {
        /// The id from the acknowledged `Publish`.
        publish_id: u64,
    },
    /// Subscriber → broker: deliver messages published to `topic` from now on. Idempotent.
    Subscribe {
        /// The topic to follow.
        topic: TopicId,
    },
    /// Broker → subscriber: the subscription exists (and is durable).
    SubscribeAck {
        /// The topic now followed.
        topic: TopicId,
    },
    /// Broker → subscriber: one delivery attempt of a stored message. Repeated until acked.
    Deliver {
        /// The topic it was published to.
        topic: TopicId,
        /// The key it was published with.
        key: u64,
        /// Its position in the topic; echo it in the [`BrokerMsg::Ack`].
        offset: Offset,
        /// 1 for the first delivery to this subscriber, then 2, 3…; it keeps counting across
        /// broker crashes, so a consumer can tell a possible duplicate.
        attempt: u32,
        /// The event.
        payload: P,
    },
    /// Subscriber → broker: the delivery at `offset` was processed; do not redeliver it.
    Ack {
        /// The topic of the delivery.
        topic: TopicId,
        /// The offset of the delivery.
        offset: Offset,
    },
    /// A timer payload of the broker, never sent: the delivery `attempt` of `offset` to
    /// `subscriber` was not acked within the ack timeout. Part of the protocol only because
    /// timers carry the world's message type.
    Redeliver {
        /// The topic of the delivery.
        topic: TopicId,
        /// Who has not acked.
        subscriber: ActorId,
        /// Which message.
        offset: Offset,
        /// Which attempt the timer was set for; a later attempt makes it stale.
        attempt: u32,
    },
}

/// How an application's message type carries broker messages, so a [`super::Broker`] can
/// live in a world whose messages are the application's enum (`M::wrap` to send,
/// `M::unwrap` to receive) instead of forcing one message type on every actor.
pub trait BrokerEnvelope<P>: Sized {
    /// Puts a broker message into the envelope.
    fn wrap(msg: BrokerMsg<P>) -> Self;

    /// Takes the broker message out, or gives the message back if it is not one.
    fn unwrap(self) -> Result<BrokerMsg<P>, Self>;
}

/// The identity envelope, for worlds in which every message is a broker message (tests).
impl<P> BrokerEnvelope<P> for BrokerMsg<P> {
    fn wrap(msg: BrokerMsg<P>) -> Self {
        msg
    }

    fn unwrap(self) -> Result<BrokerMsg<P>, Self> {
        Ok(self)
    }
}

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "topic#{}", self.0)
    }
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

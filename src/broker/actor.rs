//! The broker actor: handles publishes, subscriptions and acks, and redelivers what is not
//! acked in time.
//!
//! Its state is split the way a crash splits it (stateright's `State` vs `Storage`):
//! [`Durable`] is what a real broker fsyncs before it acks a publish; [`Volatile`] is the
//! in-flight bookkeeping a crash wipes along with the kernel's timers.

use std::collections::{BTreeMap, BTreeSet};

use super::config::BrokerConfig;
use super::protocol::{BrokerEnvelope, BrokerMsg, Offset, TopicId};
use super::stats::{BrokerStats, Counted};
use super::topic::Topic;
use crate::sim::ActorId;
use crate::world::{Actor, Ctx, Message, TimerId};

/// An at-least-once message broker: publishers hand it events, it stores them durably and
/// delivers each to every subscriber of the topic until that subscriber acks it.
///
/// `P` is the event payload; the broker lives in any world whose message type carries
/// [`BrokerMsg<P>`] (see [`BrokerEnvelope`]).
///
/// ```
/// use consim::broker::{Broker, BrokerConfig, BrokerMsg, TopicId};
/// use consim::net::LinkSpec;
/// use consim::sim::ActorId;
/// use consim::world::{Limits, WorldBuilder};
///
/// let config = BrokerConfig::default().subscribe(TopicId(0), ActorId(1));
/// let mut builder = WorldBuilder::<BrokerMsg<u64>>::new(7, Some(LinkSpec::reliable(1_000)));
/// let broker = builder.add_actor("broker", Broker::<u64>::new(config)).unwrap();
/// let mut world = builder.build().unwrap();
/// assert!(world.run(Limits::default()).stop.is_quiescent());
/// let broker = world.actor::<Broker<u64>>(broker).unwrap();
/// assert_eq!(broker.subscribers(TopicId(0)), vec![ActorId(1)]);
/// assert_eq!(broker.stored_count(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Broker<P> {
    config: BrokerConfig,
    durable: Durable<P>,
    volatile: Volatile,
}

/// What survives a crash: topics with their stored messages and subscriptions, the
/// publish ids seen (when deduplicating) and the counters.
#[derive(Clone, Debug)]
struct Durable<P> {
    topics: BTreeMap<TopicId, Topic<P>>,
    /// (publisher, publish_id) of every stored publish; empty unless `dedupe_publishes`.
    seen_publishes: BTreeSet<(ActorId, u64)>,
    stats: BrokerStats,
}

/// What a crash loses: which deliveries are outstanding and their redelivery timers.
#[derive(Clone, Debug, Default)]
struct Volatile {
    in_flight: BTreeMap<DeliveryKey, TimerId>,
}

/// Names one outstanding delivery.
type DeliveryKey = (TopicId, ActorId, Offset);

impl<P: Message> Broker<P> {
    /// A broker with `config`'s static subscriptions and nothing stored.
    pub fn new(config: BrokerConfig) -> Self {
        let topics = config
            .subscriptions
            .iter()
            .map(|(&topic, subscribers)| (topic, Topic::new(subscribers)))
            .collect();
        Broker {
            config,
            durable: Durable {
                topics,
                seen_publishes: BTreeSet::new(),
                stats: BrokerStats::default(),
            },
            volatile: Volatile::default(),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Its counters since time zero (they survive crashes).
    pub fn stats(&self) -> &BrokerStats {
        &self.durable.stats
    }

    /// Messages stored over all topics: those some subscriber has not acked. Zero once
    /// everything published was processed, which is how tests see memory stay bounded.
    pub fn stored_count(&self) -> usize {
        self.durable.topics.values().map(Topic::stored_count).sum()
    }

    /// Deliveries sent and awaiting an ack (volatile: zero right after a crash).
    pub fn in_flight_count(&self) -> usize {
        self.volatile.in_flight.len()
    }

    /// Messages on `topic` that `subscriber` has not acked (zero if not subscribed).
    pub fn unacked_count(&self, topic: TopicId, subscriber: ActorId) -> usize {
        self.durable
            .topics
            .get(&topic)
            .and_then(|topic| topic.subscription(subscriber))
            .map_or(0, |subscription| subscription.unacked_count())
    }

    /// `topic`'s subscribers in subscription order.
    pub fn subscribers(&self, topic: TopicId) -> Vec<ActorId> {
        self.durable
            .topics
            .get(&topic)
            .map_or_else(Vec::new, |topic| topic.subscribers().collect())
    }

    /// Stores a publish (unless it is a known duplicate), acks it, and delivers it to the
    /// subscribers that may have it now. The ack is sent only after the message is durable.
    fn publish<M: Message + BrokerEnvelope<P>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        src: ActorId,
        topic_id: TopicId,
        key: u64,
        publish_id: u64,
        payload: P,
    ) {
        let durable = &mut self.durable;
        if self.config.dedupe_publishes && !durable.seen_publishes.insert((src, publish_id)) {
            durable.stats.record(ctx, Counted::DuplicatePublish);
            ctx.note("duplicate publish dropped", None);
            send(ctx, src, BrokerMsg::PublishAck { publish_id });
            return;
        }
        let topic = durable.topics.entry(topic_id).or_insert_with(|| Topic::new(&[]));
        let stored = topic.append(key, payload, self.config.per_key_ordering);
        let counted = match stored {
            Some(_) => Counted::Published,
            None => Counted::Unrouted,
        };
        durable.stats.record(ctx, counted);
        send(ctx, src, BrokerMsg::PublishAck { publish_id });
        if let Some((offset, deliver_now)) = stored {
            for subscriber in deliver_now {
                self.deliver(ctx, topic_id, subscriber, offset);
            }
        }
    }

    /// Adds a subscription (idempotent) and confirms it.
    fn subscribe<M: Message + BrokerEnvelope<P>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        src: ActorId,
        topic: TopicId,
    ) {
        self.durable
            .topics
            .entry(topic)
            .or_insert_with(|| Topic::new(&[]))
            .subscribe(src);
        send(ctx, src, BrokerMsg::SubscribeAck { topic });
    }

    /// Completes `src`'s delivery of `offset`: stops its redelivery and, with per-key
    /// ordering, delivers the key's next message.
    fn ack<M: Message + BrokerEnvelope<P>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        src: ActorId,
        topic_id: TopicId,
        offset: Offset,
    ) {
        let acked = self
            .durable
            .topics
            .get_mut(&topic_id)
            .and_then(|topic| topic.ack(src, offset));
        let Some(key) = acked else {
            self.durable.stats.record(ctx, Counted::StaleAck);
            return;
        };
        self.durable.stats.record(ctx, Counted::Acked);
        if let Some(timer) = self.volatile.in_flight.remove(&(topic_id, src, offset)) {
            ctx.cancel_timer(timer);
        }
        if self.config.per_key_ordering {
            let next = self.durable.topics[&topic_id]
                .subscription(src)
                .and_then(|subscription| subscription.head_of_key(key));
            if let Some(next) = next {
                self.deliver(ctx, topic_id, src, next);
            }
        }
    }

    /// The ack timeout of delivery `attempt` expired: send the message again, unless it was
    /// acked or delivered again since the timer was set.
    fn redeliver<M: Message + BrokerEnvelope<P>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        topic_id: TopicId,
        subscriber: ActorId,
        offset: Offset,
        attempt: u32,
    ) {
        let current = self
            .durable
            .topics
            .get(&topic_id)
            .and_then(|topic| topic.subscription(subscriber))
            .and_then(|subscription| subscription.attempts(offset));
        if current != Some(attempt) {
            return;
        }
        self.volatile.in_flight.remove(&(topic_id, subscriber, offset));
        self.deliver(ctx, topic_id, subscriber, offset);
    }

    /// After a restart nothing is in flight: deliver every unacked message again (with
    /// per-key ordering, the oldest of each key).
    fn deliver_all_unacked<M: Message + BrokerEnvelope<P>>(&mut self, ctx: &mut Ctx<'_, M>) {
        let mut pending = Vec::new();
        for (&topic_id, topic) in &self.durable.topics {
            for subscriber in topic.subscribers() {
                let subscription = topic.subscription(subscriber).expect("listed above");
                for offset in subscription.deliverable(self.config.per_key_ordering) {
                    pending.push((topic_id, subscriber, offset));
                }
            }
        }
        for (topic_id, subscriber, offset) in pending {
            self.deliver(ctx, topic_id, subscriber, offset);
        }
    }

    /// Sends one delivery attempt and arms its redelivery timer. Does nothing if that
    /// delivery is already outstanding, so at most one attempt per message is in flight.
    fn deliver<M: Message + BrokerEnvelope<P>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        topic_id: TopicId,
        subscriber: ActorId,
        offset: Offset,
    ) {
        let delivery_key = (topic_id, subscriber, offset);
        if self.volatile.in_flight.contains_key(&delivery_key) {
            return;
        }
        let delivery = self
            .durable
            .topics
            .get_mut(&topic_id)
            .and_then(|topic| topic.start_delivery(subscriber, offset))
            .expect("only unacked messages of existing subscriptions are delivered");
        let attempt = delivery.attempt;
        let msg = BrokerMsg::Deliver {
            topic: topic_id,
            key: delivery.key,
            offset,
            attempt,
            payload: delivery.payload,
        };
        send(ctx, subscriber, msg);
        let timeout = BrokerMsg::Redeliver {
            topic: topic_id,
            subscriber,
            offset,
            attempt,
        };
        let timer = ctx.set_timer(self.config.ack_timeout, M::wrap(timeout));
        self.volatile.in_flight.insert(delivery_key, timer);
        self.durable.stats.record(ctx, Counted::Delivered);
        if attempt > 1 {
            self.durable.stats.record(ctx, Counted::Redelivered);
        }
    }
}

impl<M, P> Actor<M> for Broker<P>
where
    M: Message + BrokerEnvelope<P>,
    P: Message,
{
    fn on_start(&mut self, _ctx: &mut Ctx<'_, M>) {
        // Static subscriptions were set up by `new`; nothing is stored yet.
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, M>, src: ActorId, msg: M) {
        let me = ctx.me();
        match M::unwrap(msg) {
            Ok(BrokerMsg::Publish {
                topic,
                key,
                publish_id,
                payload,
            }) => self.publish(ctx, src, topic, key, publish_id, payload),
            Ok(BrokerMsg::Subscribe { topic }) => self.subscribe(ctx, src, topic),
            Ok(BrokerMsg::Ack { topic, offset }) => self.ack(ctx, src, topic, offset),
            Ok(other) => panic!(
                "broker {me} received {other:?} from {src}: only Publish, Subscribe and Ack are sent to a broker"
            ),
            Err(other) => {
                panic!("broker {me} received a message that is not a broker message from {src}: {other:?}")
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, M>, msg: M) {
        match M::unwrap(msg) {
            Ok(BrokerMsg::Redeliver {
                topic,
                subscriber,
                offset,
                attempt,
            }) => self.redeliver(ctx, topic, subscriber, offset, attempt),
            other => panic!("broker {} never sets a timer {other:?}", ctx.me()),
        }
    }

    fn retained_bytes(&self) -> usize {
        let topics: usize = self.durable.topics.values().map(Topic::retained_bytes).sum();
        topics + crate::world::footprint::map_bytes::<(ActorId, u64), ()>(self.durable.seen_publishes.len())
    }

    fn on_crash(&mut self, _now: crate::sim::Instant) {
        // The kernel cancels the redelivery timers; forget what they stood for.
        self.volatile = Volatile::default();
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, M>) {
        self.deliver_all_unacked(ctx);
    }
}

/// Sends a broker message in the world's envelope.
fn send<M: Message + BrokerEnvelope<P>, P>(ctx: &mut Ctx<'_, M>, dst: ActorId, msg: BrokerMsg<P>) {
    ctx.send(dst, M::wrap(msg));
}

//! The broker in a real world: a tiny publisher and tiny consumers over lossy, reordering
//! links, with crashes. Each test checks what consumers observed, so a broker that loses,
//! reorders or fails to redeliver a message makes it fail.

use std::collections::{BTreeMap, BTreeSet};

use super::{Broker, BrokerConfig, BrokerMsg, Offset, TopicId};
use crate::net::{FaultSpec, LatencyDist, LinkSpec, Probability};
use crate::sim::{ActorId, Duration, Instant};
use crate::world::{Actor, Ctx, Limits, World, WorldBuilder};

type Msg = BrokerMsg<u64>;

const TOPIC: TopicId = TopicId(1);
const BROKER: ActorId = ActorId(0);
const PUBLISHER: ActorId = ActorId(1);

/// Publishes `messages` (key, payload) with publish id = index, the i-th at `spacing * i`,
/// and re-publishes each every `resend_after` until it is acked, as an outbox relay does.
#[derive(Debug)]
struct Publisher {
    messages: Vec<(u64, u64)>,
    spacing: Duration,
    resend_after: Duration,
    acked: BTreeSet<u64>,
    publish_count: u64,
}

/// Records every delivery and acks it, except attempts up to `ignore_attempts_up_to`.
/// With `subscribe_after`, it subscribes to [`TOPIC`] at that time instead of relying on
/// the broker's static configuration.
#[derive(Debug, Default)]
struct Consumer {
    ignore_attempts_up_to: u32,
    subscribe_after: Option<Duration>,
    subscribed: bool,
    receipts: Vec<Receipt>,
}

/// One delivery as the consumer saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Receipt {
    at: Instant,
    offset: Offset,
    key: u64,
    payload: u64,
    attempt: u32,
    acked: bool,
}

impl Publisher {
    fn new(messages: Vec<(u64, u64)>, spacing: Duration) -> Self {
        Publisher {
            messages,
            spacing,
            resend_after: Duration::from_ms(50),
            acked: BTreeSet::new(),
            publish_count: 0,
        }
    }

    fn payloads(&self) -> BTreeSet<u64> {
        self.messages.iter().map(|&(_, payload)| payload).collect()
    }
}

impl Actor<Msg> for Publisher {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for (index, &(key, payload)) in self.messages.iter().enumerate() {
            let publish = Msg::Publish {
                topic: TOPIC,
                key,
                publish_id: index as u64,
                payload,
            };
            // The timer's payload is the message to (re-)send, so the publisher needs no
            // timer type of its own.
            let after = Duration::from_us(self.spacing.as_us() * index as u64);
            ctx.set_timer(after, publish);
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        match msg {
            Msg::PublishAck { publish_id } => {
                self.acked.insert(publish_id);
            }
            other => panic!("publisher received {other:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Publish { publish_id, .. } = msg else {
            panic!("publisher set no timer {msg:?}");
        };
        if self.acked.contains(&publish_id) {
            return;
        }
        self.publish_count += 1;
        ctx.send(BROKER, msg);
        ctx.set_timer(self.resend_after, msg);
    }

    fn on_crash(&mut self, _now: Instant) {
        // Never crashed in these tests; its state stands for a durable outbox.
    }
}

impl Consumer {
    fn acking() -> Self {
        Consumer::default()
    }

    fn ignoring_first_attempt() -> Self {
        Consumer {
            ignore_attempts_up_to: 1,
            ..Consumer::default()
        }
    }

    /// Payloads it acked, i.e. processed.
    fn processed(&self) -> BTreeSet<u64> {
        let acked = self.receipts.iter().filter(|receipt| receipt.acked);
        acked.map(|receipt| receipt.payload).collect()
    }

    /// How often each offset was delivered to it.
    fn receipts_per_offset(&self) -> BTreeMap<Offset, usize> {
        let mut counts = BTreeMap::new();
        for receipt in &self.receipts {
            *counts.entry(receipt.offset).or_insert(0) += 1;
        }
        counts
    }

    /// The distinct offsets each payload arrived under.
    fn offsets_per_payload(&self) -> BTreeMap<u64, BTreeSet<Offset>> {
        let mut offsets: BTreeMap<u64, BTreeSet<Offset>> = BTreeMap::new();
        for receipt in &self.receipts {
            offsets.entry(receipt.payload).or_default().insert(receipt.offset);
        }
        offsets
    }

    /// Per key, payloads in the order they were first received (duplicates left out).
    fn first_receipt_order(&self) -> BTreeMap<u64, Vec<u64>> {
        let mut seen = BTreeSet::new();
        let mut order: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for receipt in &self.receipts {
            if seen.insert(receipt.payload) {
                order.entry(receipt.key).or_default().push(receipt.payload);
            }
        }
        order
    }
}

impl Actor<Msg> for Consumer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if let Some(after) = self.subscribe_after {
            // As with the publisher, the timer carries the message to send.
            ctx.set_timer(after, Msg::Subscribe { topic: TOPIC });
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, msg: Msg) {
        match msg {
            Msg::Deliver {
                topic,
                key,
                offset,
                attempt,
                payload,
            } => {
                let acked = attempt > self.ignore_attempts_up_to;
                self.receipts.push(Receipt {
                    at: ctx.now(),
                    offset,
                    key,
                    payload,
                    attempt,
                    acked,
                });
                if acked {
                    ctx.send(src, Msg::Ack { topic, offset });
                }
            }
            Msg::SubscribeAck { .. } => self.subscribed = true,
            other => panic!("consumer received {other:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        ctx.send(BROKER, msg);
    }

    fn on_crash(&mut self, _now: Instant) {
        // Never crashed in these tests.
    }
}

/// A finished run: the world and how many consumers it had.
struct Run {
    world: World<Msg>,
    consumer_count: usize,
}

impl Run {
    fn broker(&self) -> &Broker<u64> {
        self.world.actor(BROKER).expect("actor 0 is the broker")
    }

    fn publisher(&self) -> &Publisher {
        self.world.actor(PUBLISHER).expect("actor 1 is the publisher")
    }

    fn consumers(&self) -> impl Iterator<Item = &Consumer> {
        (0..self.consumer_count).map(|index| {
            self.world
                .actor(consumer_id(index))
                .expect("actors 2.. are consumers")
        })
    }

    /// Checks that every consumer processed every published payload and that the broker
    /// kept nothing afterwards.
    fn assert_everything_processed(&self) {
        let published = self.publisher().payloads();
        for (index, consumer) in self.consumers().enumerate() {
            let processed = consumer.processed();
            let missing: Vec<_> = published.difference(&processed).collect();
            assert!(
                missing.is_empty(),
                "seed {}: consumer {index} never processed {missing:?}",
                self.world.seed()
            );
        }
        assert_eq!(self.broker().stored_count(), 0, "acked messages are removed");
        assert_eq!(self.broker().in_flight_count(), 0);
    }
}

fn consumer_id(index: usize) -> ActorId {
    ActorId(2 + index as u32)
}

/// Broker config with every consumer statically subscribed to [`TOPIC`].
fn subscribed(consumer_count: usize) -> BrokerConfig {
    (0..consumer_count).fold(BrokerConfig::default(), |config, index| {
        config.subscribe(TOPIC, consumer_id(index))
    })
}

/// A link with uniform latency in `min_ms..=max_ms` that loses `numerator/denominator`.
fn link(min_ms: u64, max_ms: u64, loss: (u64, u64), fifo: bool) -> LinkSpec {
    LinkSpec {
        latency: LatencyDist::Uniform {
            min_us: min_ms * 1_000,
            max_us: max_ms * 1_000,
        },
        loss: Probability::ratio("test loss", loss.0, loss.1).expect("a valid ratio"),
        duplicate: Probability::NEVER,
        fifo,
    }
}

/// `count` messages over `key_count` keys, payload `100 + index`.
fn messages(count: u64, key_count: u64) -> Vec<(u64, u64)> {
    (0..count).map(|i| (i % key_count, 100 + i)).collect()
}

/// Builds the world (broker, publisher, consumers, then `customize`) and runs it to
/// quiescence: every publish acked and every delivery acked, or the test fails.
fn run(
    seed: u64,
    config: BrokerConfig,
    publisher: Publisher,
    consumers: Vec<Consumer>,
    default_link: LinkSpec,
    customize: impl FnOnce(&mut WorldBuilder<Msg>),
) -> Run {
    let mut builder = WorldBuilder::new(seed, Some(default_link));
    let broker = builder.add_actor("broker", Broker::<u64>::new(config));
    assert_eq!(broker.unwrap(), BROKER);
    assert_eq!(builder.add_actor("publisher", publisher).unwrap(), PUBLISHER);
    let consumer_count = consumers.len();
    for (index, consumer) in consumers.into_iter().enumerate() {
        let id = builder.add_actor(&format!("consumer{index}"), consumer);
        assert_eq!(id.unwrap(), consumer_id(index));
    }
    customize(&mut builder);
    let mut world = builder.build().expect("a valid test world");
    let outcome = world.run(Limits::until(Instant::from_ms(600_000)));
    assert!(outcome.stop.is_quiescent(), "seed {seed}: {}", outcome.stop);
    Run {
        world,
        consumer_count,
    }
}

#[test]
fn every_published_message_reaches_every_subscriber_under_20_percent_loss() {
    for seed in 1..=5 {
        let publisher = Publisher::new(messages(40, 4), Duration::from_ms(2));
        let consumers = vec![Consumer::acking(), Consumer::acking()];
        let lossy = link(1, 10, (1, 5), false);
        let run = run(seed, subscribed(2), publisher, consumers, lossy, |_| {});
        run.assert_everything_processed();
        let stats = run.broker().stats();
        assert!(stats.redelivered > 0, "seed {seed}: loss forced redelivery");
        assert!(
            run.publisher().publish_count > 40,
            "seed {seed}: loss forced re-publishing"
        );
        assert_eq!(run.world.counters()["broker.delivered"], stats.delivered);
    }
}

#[test]
fn an_unacknowledged_delivery_is_redelivered_after_the_ack_timeout() {
    let publisher = Publisher::new(vec![(7, 100)], Duration::ZERO);
    let consumers = vec![Consumer::ignoring_first_attempt()];
    let reliable = LinkSpec::reliable(1_000);
    let run = run(1, subscribed(1), publisher, consumers, reliable, |_| {});
    let consumer = run.consumers().next().unwrap();
    let [first, second] = consumer.receipts[..] else {
        panic!("expected two deliveries, got {:?}", consumer.receipts);
    };
    assert_eq!((first.offset, first.attempt, first.acked), (Offset(0), 1, false));
    assert_eq!(
        (second.offset, second.attempt, second.acked),
        (Offset(0), 2, true)
    );
    let ack_timeout = run.broker().config().ack_timeout;
    assert_eq!(second.at - first.at, ack_timeout);
    let stats = run.broker().stats();
    assert_eq!((stats.delivered, stats.redelivered, stats.acked), (2, 1, 1));
    run.assert_everything_processed();
}

#[test]
fn every_published_message_is_delivered_across_a_broker_crash_and_restart() {
    let (crash_at, restart_at) = (Instant::from_ms(50), Instant::from_ms(150));
    for seed in 1..=3 {
        let publisher = Publisher::new(messages(30, 3), Duration::from_ms(5));
        // Ignoring first attempts leaves deliveries in flight when the broker crashes: only
        // the durable queue and `on_recover` can bring them back.
        let consumers = vec![
            Consumer::ignoring_first_attempt(),
            Consumer::ignoring_first_attempt(),
        ];
        let lossy = link(1, 10, (1, 10), false);
        let run = run(seed, subscribed(2), publisher, consumers, lossy, |builder| {
            builder.fault(FaultSpec::Crash {
                node: "broker".into(),
                at: crash_at,
                restart_at: Some(restart_at),
            });
        });
        assert_eq!(run.world.stats().crashes, 1);
        run.assert_everything_processed();
        let consumer = run.consumers().next().unwrap();
        let crossed_the_crash = consumer.processed().into_iter().filter(|&payload| {
            let first_seen = consumer.receipts.iter().find(|r| r.payload == payload);
            first_seen.is_some_and(|receipt| receipt.at < crash_at)
        });
        assert!(
            crossed_the_crash.count() > 0,
            "seed {seed}: some message delivered before the crash was processed after it"
        );
    }
}

/// Five keys, twenty messages each, published at once in order over a reliable FIFO link;
/// the broker's links to the consumers reorder (1–30 ms) and lose 10%.
fn ordering_run(per_key_ordering: bool) -> Run {
    let messages = (0..20)
        .flat_map(|seq| (0..5).map(move |key| (key, key * 1_000 + seq)))
        .collect();
    let publisher = Publisher::new(messages, Duration::ZERO);
    let config = BrokerConfig {
        per_key_ordering,
        ..subscribed(2)
    };
    let consumers = vec![Consumer::acking(), Consumer::acking()];
    let reordering = link(1, 30, (1, 10), false);
    run(3, config, publisher, consumers, reordering, |builder| {
        let in_order = link(1, 10, (0, 1), true);
        builder.link(PUBLISHER, BROKER, in_order);
        builder.link(BROKER, PUBLISHER, in_order);
    })
}

fn in_publish_order(order: &BTreeMap<u64, Vec<u64>>) -> bool {
    order
        .values()
        .all(|payloads| payloads.windows(2).all(|pair| pair[0] < pair[1]))
}

#[test]
fn per_key_ordering_delivers_each_key_in_publish_order_despite_random_latency() {
    let run = ordering_run(true);
    run.assert_everything_processed();
    assert!(run.broker().stats().redelivered > 0, "loss was exercised");
    for consumer in run.consumers() {
        let order = consumer.first_receipt_order();
        for (key, payloads) in &order {
            let published: Vec<u64> = (0..20).map(|seq| key * 1_000 + seq).collect();
            assert_eq!(payloads, &published, "key {key}");
        }
        assert!(in_publish_order(&order));
    }
}

#[test]
fn without_per_key_ordering_random_latency_reorders_a_key() {
    let run = ordering_run(false);
    run.assert_everything_processed();
    let reordered = run
        .consumers()
        .filter(|consumer| !in_publish_order(&consumer.first_receipt_order()));
    assert!(
        reordered.count() > 0,
        "same seed as the ordered run: without ordering some key arrives out of order"
    );
}

#[test]
fn at_least_once_is_not_exactly_once_when_acks_are_lost() {
    let publisher = Publisher::new(messages(20, 2), Duration::from_ms(2));
    let consumers = vec![Consumer::acking()];
    let lossless = link(1, 10, (0, 1), false);
    let run = run(1, subscribed(1), publisher, consumers, lossless, |builder| {
        builder.link(consumer_id(0), BROKER, link(1, 10, (1, 3), false));
    });
    run.assert_everything_processed();
    let consumer = run.consumers().next().unwrap();
    let duplicated = consumer.receipts_per_offset().into_values().max();
    assert!(
        duplicated >= Some(2),
        "a lost ack makes the broker deliver the same message again"
    );
    assert!(run.broker().stats().redelivered > 0);
}

/// Twenty messages whose publish acks are lost half the time, so the publisher re-publishes.
fn republishing_run(dedupe_publishes: bool) -> Run {
    let publisher = Publisher::new(messages(20, 2), Duration::from_ms(2));
    let config = BrokerConfig {
        dedupe_publishes,
        ..subscribed(1)
    };
    let lossless = link(1, 10, (0, 1), false);
    run(
        1,
        config,
        publisher,
        vec![Consumer::acking()],
        lossless,
        |builder| {
            builder.link(BROKER, PUBLISHER, link(1, 10, (1, 2), false));
        },
    )
}

#[test]
fn a_republished_message_is_stored_twice_unless_dedupe_is_on() {
    let run = republishing_run(false);
    run.assert_everything_processed();
    let consumer = run.consumers().next().unwrap();
    let stored_twice = consumer.offsets_per_payload().into_values().map(|o| o.len());
    assert!(stored_twice.max() >= Some(2), "a re-publish is a new message");
    assert!(run.broker().stats().published > 20);
    assert_eq!(run.broker().stats().duplicate_publishes, 0);

    let run = republishing_run(true);
    run.assert_everything_processed();
    let consumer = run.consumers().next().unwrap();
    let offsets = consumer.offsets_per_payload();
    assert!(offsets.values().all(|offsets| offsets.len() == 1));
    assert_eq!(run.broker().stats().published, 20);
    assert!(run.broker().stats().duplicate_publishes > 0);
}

#[test]
fn a_consumer_that_subscribes_at_run_time_gets_only_later_messages() {
    let publisher = Publisher::new(messages(5, 1), Duration::from_ms(10));
    let consumer = Consumer {
        subscribe_after: Some(Duration::from_ms(15)),
        ..Consumer::default()
    };
    let reliable = LinkSpec::reliable(1_000);
    let run = run(
        1,
        BrokerConfig::default(),
        publisher,
        vec![consumer],
        reliable,
        |_| {},
    );
    let consumer = run.consumers().next().unwrap();
    assert!(consumer.subscribed);
    assert_eq!(run.broker().subscribers(TOPIC), vec![consumer_id(0)]);
    assert_eq!(consumer.processed(), BTreeSet::from([102, 103, 104]));
    assert_eq!(
        run.broker().stats().unrouted,
        2,
        "published before anyone listened"
    );
    assert_eq!(run.broker().stored_count(), 0);
}

//! What a broker counts: kept in the broker (durable, for tests and reports of one broker)
//! and mirrored into the world's run-wide counters (`broker.*`, summed over brokers).

use crate::world::{Ctx, Message};

/// A broker's counters since time zero; durable, so a crash does not reset them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// `Publish` messages stored (duplicates included unless deduplication is on).
    pub published: u64,
    /// `Publish` messages dropped as already stored (only with `dedupe_publishes`).
    pub duplicate_publishes: u64,
    /// `Publish` messages to a topic without subscribers: acked, not stored.
    pub unrouted: u64,
    /// `Deliver` messages sent, first attempts and redeliveries alike.
    pub delivered: u64,
    /// The part of `delivered` that were second or later attempts (after an ack timeout or
    /// a broker restart): each is a possible duplicate for the consumer.
    pub redelivered: u64,
    /// Acks that completed a delivery (one per subscriber and stored message).
    pub acked: u64,
    /// Acks for deliveries already acked: the trace of duplicates reaching consumers.
    pub stale_acks: u64,
}

/// One countable thing a broker does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Counted {
    Published,
    DuplicatePublish,
    Unrouted,
    Delivered,
    Redelivered,
    Acked,
    StaleAck,
}

impl BrokerStats {
    /// Counts `what` here and in the world's counter of the same name.
    pub(super) fn record<M: Message>(&mut self, ctx: &mut Ctx<'_, M>, what: Counted) {
        let (field, name) = match what {
            Counted::Published => (&mut self.published, "broker.published"),
            Counted::DuplicatePublish => (&mut self.duplicate_publishes, "broker.duplicate_publishes"),
            Counted::Unrouted => (&mut self.unrouted, "broker.unrouted"),
            Counted::Delivered => (&mut self.delivered, "broker.delivered"),
            Counted::Redelivered => (&mut self.redelivered, "broker.redelivered"),
            Counted::Acked => (&mut self.acked, "broker.acked"),
            Counted::StaleAck => (&mut self.stale_acks, "broker.stale_acks"),
        };
        *field += 1;
        ctx.count(name, 1);
    }
}

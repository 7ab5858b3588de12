//! Getting committed events to the broker: the transactional outbox and its relay, or the
//! dual write of the broken twin.

use crate::broker::{BrokerMsg, TopicId};
use crate::sim::Duration;
use crate::store::{LocalTxId, OutboxEvent, OutboxId};
use crate::system::history::HistoryEvent;
use crate::system::msg::{DomainEvent, GlobalTxId, Msg};
use crate::system::timer::TimerMsg;
use crate::world::Ctx;

use super::Service;

/// How a service gets its committed events to the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relay {
    /// It publishes nothing.
    None,
    /// Transactional outbox: events are rows written with the business change; a relay
    /// publishes pending rows every `interval` until the broker acknowledges them.
    Outbox {
        /// Polling interval.
        interval: Duration,
    },
    /// Broken twin: commit, then publish directly once, with a crash possible in between.
    DualWrite,
}

impl Service {
    /// Gets an event out after a call ended: with an outbox, a commit's event is already a row
    /// (written with the business change) and a refusal's event gets a small local tx of its
    /// own; a dual write publishes after a processing delay, so a crash can fall in between.
    pub(super) fn emit(&mut self, ctx: &mut Ctx<'_, Msg>, event: Option<DomainEvent>, in_outbox: bool) {
        let Some(event) = event else { return };
        match self.config.relay {
            Relay::None => {}
            Relay::Outbox { .. } if in_outbox => self.arm_relay(ctx),
            Relay::Outbox { .. } => self.write_outbox_row(ctx, event),
            Relay::DualWrite => {
                let processing = self.model.services[self.config.id.index()]
                    .processing
                    .sample(ctx.rng());
                ctx.set_timer(processing, Msg::Timer(TimerMsg::DualWrite { event }));
            }
        }
    }

    /// The second write of a dual write: publish once, no outbox, no retry.
    pub(super) fn dual_write(&mut self, ctx: &mut Ctx<'_, Msg>, event: DomainEvent) {
        let broker = self.config.broker.expect("a dual write needs a broker");
        ctx.count("service.dual_writes", 1);
        let publish_id = (u64::from(self.config.id.0) << 48) | self.next_local;
        self.next_local += 1;
        let service = self.config.id;
        self.record(ctx, HistoryEvent::Published { service, event });
        ctx.send(broker, publish(event, publish_id));
        self.reach(ctx, "event_published", Some(event.gtx));
    }

    pub(super) fn write_outbox_row(&mut self, ctx: &mut Ctx<'_, Msg>, event: DomainEvent) {
        let local = LocalTxId(self.next_local);
        self.next_local += 1;
        let mut session = self.db.access(ctx.me()).expect("owner");
        session.begin(local, ctx.now()).expect("fresh");
        session.append_outbox(local, encode_event(event)).expect("active");
        session.commit(local, ctx.now()).expect("commits");
        // Bookkeeping of an ended call: its time is not charged to the next one.
        let _ = self.db.take_cost();
        self.arm_relay(ctx);
    }

    /// Schedules a relay tick unless one is pending (outbox relays only).
    pub(super) fn arm_relay(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if let Relay::Outbox { interval } = self.config.relay
            && !self.relay_armed
        {
            self.relay_armed = true;
            ctx.set_timer(interval, Msg::Timer(TimerMsg::RelayTick));
        }
    }

    // ----- outbox relay --------------------------------------------------------------------

    pub(super) fn relay_tick(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.relay_armed = false;
        let Relay::Outbox { interval } = self.config.relay else {
            return;
        };
        let broker = self.config.broker.expect("an outbox relay needs a broker");
        let now = ctx.now();
        let resend_after = Duration::from_us(interval.as_us().saturating_mul(4));
        let due: Vec<(OutboxId, DomainEvent)> = self
            .db
            .outbox()
            .pending()
            .filter(|(id, _)| {
                self.relay_sent_at
                    .get(*id)
                    .is_none_or(|sent| now - *sent >= resend_after)
            })
            .filter_map(|(id, row)| decode_event(row).map(|e| (id, e)))
            .collect();
        for (id, event) in due {
            let first = self.relay_sent_at.insert(id, now).is_none();
            if first {
                let service = self.config.id;
                self.record(ctx, HistoryEvent::Published { service, event });
            }
            let publish_id = (u64::from(self.config.id.0) << 48) | id.0;
            ctx.send(broker, publish(event, publish_id));
            if first {
                self.reach(ctx, "event_published", Some(event.gtx));
            }
        }
        if !self.db.outbox().is_empty() {
            self.arm_relay(ctx);
        }
    }

    pub(super) fn published(&mut self, ctx: &mut Ctx<'_, Msg>, publish_id: u64) {
        if self.config.relay == Relay::DualWrite {
            return;
        }
        let id = OutboxId(publish_id & ((1 << 48) - 1));
        self.relay_sent_at.remove(id);
        let mut session = self.db.access(ctx.me()).expect("owner");
        session.mark_published(&[id]);
        // The relay works in the background: its log writes delay no call.
        let _ = self.db.take_cost();
        self.reach(ctx, "outbox_relayed", None);
    }
}

fn publish(event: DomainEvent, publish_id: u64) -> Msg {
    Msg::Broker(BrokerMsg::Publish {
        topic: event.topic(),
        key: event.gtx.0,
        publish_id,
        payload: event,
    })
}

/// An event as an outbox row.
pub fn encode_event(event: DomainEvent) -> OutboxEvent {
    OutboxEvent {
        topic: event.topic().0,
        key: crate::store::Key(event.gtx.0),
        payload: [
            event.keys.key,
            event.keys.other,
            event.keys.tx,
            u64::from(event.step),
        ],
    }
}

/// The event an outbox row holds.
pub fn decode_event(row: &OutboxEvent) -> Option<DomainEvent> {
    let kind = DomainEvent::kind_of_topic(TopicId(row.topic))?;
    let [key, other, tx, step] = row.payload;
    Some(DomainEvent {
        kind,
        gtx: GlobalTxId(row.key.0),
        step: u16::try_from(step).ok()?,
        keys: crate::system::model::RequestKeys { key, other, tx },
    })
}

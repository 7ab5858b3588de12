//! Pingmesh: the kernel's reference workload, used by its benchmark and determinism tests.
//!
//! `node_count` actors pass `chain_count` message chains around: each delivery of a hop is
//! acknowledged to its sender and answered by the next hop to a random other actor. A sender
//! re-sends a hop whose acknowledgement has not arrived within the re-send timeout, and a
//! receiver acknowledges duplicates without forwarding them again, so the number of chains
//! in flight stays constant whatever the network loses. It exercises every kernel path a
//! protocol uses: sends, random draws, loss, timers, and timer cancellation.
//!
//! [`Recovery::SenderDrawsLoss`] is the lighter pingmesh of the peers' figures
//! (`../shared/perf-anchors.md`): no acknowledgements; the sender draws the loss itself and
//! sends a lost hop again after the re-send delay. It lets the kernel be measured on exactly
//! the workload those figures were taken on.

use rand::RngExt as _;

use crate::net::{ConfigError, LatencyDist, LinkSpec, Probability};
use crate::sim::{ActorId, Duration};
use crate::world::{Actor, Ctx, TimerId, World, WorldBuilder};

/// A pingmesh message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ping {
    /// Hop number `hop` of chain `chain`.
    Hop {
        /// Which chain.
        chain: u16,
        /// How many hops the chain has made.
        hop: u32,
    },
    /// The receiver got that hop.
    Ack {
        /// Which chain.
        chain: u16,
        /// Which hop.
        hop: u32,
    },
    /// Timer payload: re-send the hop to `dst`.
    Resend {
        /// Which chain.
        chain: u16,
        /// Which hop.
        hop: u32,
        /// To whom.
        dst: ActorId,
    },
}

impl Ping {
    /// Every pingmesh message on the wire: a 16-byte header (as `system::wire`), a kind, a
    /// chain (2) and a hop (4). A constant, so the kernel's reports count bytes too.
    pub const WIRE_BYTES: u32 = 16 + 1 + 2 + 4;

    /// [`Ping::WIRE_BYTES`], as a `WorldBuilder::message_size` function.
    pub fn wire_size(_: &Ping) -> u32 {
        Ping::WIRE_BYTES
    }
}

/// The shape of a pingmesh run.
#[derive(Clone, Copy, Debug)]
pub struct PingmeshConfig {
    /// Actors.
    pub node_count: u32,
    /// Chains in flight (spread evenly over the actors at start).
    pub chain_count: u16,
    /// Link delay.
    pub latency: LatencyDist,
    /// Link loss.
    pub loss: Probability,
    /// How long a sender waits for an acknowledgement before re-sending.
    pub resend_after: Duration,
    /// How a lost hop is noticed and sent again.
    pub recovery: Recovery,
}

/// How a pingmesh notices a lost hop. The two give different event mixes, so a kernel figure
/// must say which one it was measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Every hop is acknowledged and re-sent when its acknowledgement is late: a protocol
    /// an actor can run on a network that hides its losses. Per delivery: an ack, a timer
    /// set and a timer cancelled.
    Acknowledged,
    /// The sender draws the loss (`loss`) itself and, for a lost hop, sets a timer that sends
    /// it again after `resend_after`; the links lose nothing. Per delivery: three random
    /// draws (destination, loss, delay) and one event, as in the peers' pingmesh.
    SenderDrawsLoss,
}

impl Default for PingmeshConfig {
    /// The benchmark's shape: 8 actors, 64 chains, uniform 1–10 ms, 1% loss, 50 ms re-send.
    fn default() -> Self {
        PingmeshConfig {
            node_count: 8,
            chain_count: 64,
            latency: LatencyDist::Uniform {
                min_us: 1_000,
                max_us: 10_000,
            },
            loss: Probability::ratio("pingmesh loss", 1, 100).expect("1/100 is a probability"),
            resend_after: Duration::from_ms(50),
            recovery: Recovery::Acknowledged,
        }
    }
}

impl PingmeshConfig {
    /// The peers' pingmesh of `../shared/perf-anchors.md`: the default shape with
    /// [`Recovery::SenderDrawsLoss`].
    pub fn anchor() -> Self {
        PingmeshConfig {
            recovery: Recovery::SenderDrawsLoss,
            ..PingmeshConfig::default()
        }
    }
}

/// One pingmesh participant. Its chain bookkeeping is volatile: a crash forgets it.
#[derive(Debug)]
pub struct PingActor {
    config: PingmeshConfig,
    /// Per chain: one more than the last hop received (0: none yet).
    next_expected: Vec<u32>,
    /// Per chain: the hop this actor sent and awaits an ack for, with its re-send timer.
    awaiting_ack: Vec<Option<(u32, TimerId)>>,
    /// Hops this actor received for the first time (durable: survives a crash).
    pub first_deliveries: u64,
}

impl PingActor {
    /// A participant of a mesh shaped by `config`.
    pub fn new(config: PingmeshConfig) -> Self {
        let chains = usize::from(config.chain_count);
        PingActor {
            config,
            next_expected: vec![0; chains],
            awaiting_ack: vec![None; chains],
            first_deliveries: 0,
        }
    }

    fn send_hop(&mut self, ctx: &mut Ctx<'_, Ping>, chain: u16, hop: u32, dst: ActorId) {
        if self.config.recovery == Recovery::SenderDrawsLoss {
            if self.config.loss.sample(ctx.rng()) {
                ctx.set_timer(self.config.resend_after, Ping::Resend { chain, hop, dst });
            } else {
                ctx.send(dst, Ping::Hop { chain, hop });
            }
            return;
        }
        ctx.send(dst, Ping::Hop { chain, hop });
        let timer = ctx.set_timer(self.config.resend_after, Ping::Resend { chain, hop, dst });
        if let Some((_, old)) = self.awaiting_ack[usize::from(chain)].replace((hop, timer)) {
            ctx.cancel_timer(old);
        }
    }

    fn random_other(&self, ctx: &mut Ctx<'_, Ping>) -> ActorId {
        let me = ctx.me().0;
        let pick = ctx.rng().random_range(0..self.config.node_count - 1);
        ActorId(if pick >= me { pick + 1 } else { pick })
    }
}

impl Actor<Ping> for PingActor {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Ping>) {
        let n = self.config.node_count as u16;
        let me = ctx.me().0 as u16;
        for chain in (me..self.config.chain_count).step_by(usize::from(n)) {
            let dst = self.random_other(ctx);
            self.send_hop(ctx, chain, 0, dst);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Ping>, src: ActorId, msg: Ping) {
        match msg {
            Ping::Hop { chain, hop } => {
                if self.config.recovery == Recovery::Acknowledged {
                    ctx.send(src, Ping::Ack { chain, hop });
                }
                let expected = &mut self.next_expected[usize::from(chain)];
                if hop < *expected {
                    return; // a duplicate: acknowledged again, not forwarded again
                }
                *expected = hop + 1;
                self.first_deliveries += 1;
                let dst = self.random_other(ctx);
                self.send_hop(ctx, chain, hop + 1, dst);
            }
            Ping::Ack { chain, hop } => {
                let slot = &mut self.awaiting_ack[usize::from(chain)];
                if let Some((awaited, timer)) = *slot
                    && awaited == hop
                {
                    *slot = None;
                    ctx.cancel_timer(timer);
                }
            }
            Ping::Resend { .. } => unreachable!("Resend is a timer payload, never sent"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Ping>, msg: Ping) {
        if let Ping::Resend { chain, hop, dst } = msg {
            self.send_hop(ctx, chain, hop, dst);
        }
    }

    fn on_crash(&mut self, _now: crate::sim::Instant) {
        self.next_expected.fill(0);
        self.awaiting_ack.fill(None);
    }

    fn on_recover(&mut self, _ctx: &mut Ctx<'_, Ping>) {
        // Chains this actor was carrying are lost with it; it keeps answering the others.
    }
}

/// Builds a pingmesh world; `customize` may add faults or change the trace level before
/// the world is checked and built.
pub fn build(
    seed: u64,
    config: PingmeshConfig,
    customize: impl FnOnce(&mut WorldBuilder<Ping>),
) -> Result<World<Ping>, ConfigError> {
    let link = LinkSpec {
        latency: config.latency,
        loss: match config.recovery {
            Recovery::Acknowledged => config.loss,
            Recovery::SenderDrawsLoss => Probability::NEVER,
        },
        duplicate: Probability::NEVER,
        fifo: false,
    };
    let mut builder = WorldBuilder::new(seed, Some(link));
    for i in 0..config.node_count {
        builder.add_actor(&format!("n{i}"), PingActor::new(config))?;
    }
    customize(&mut builder);
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::TraceLevel;
    use crate::world::Limits;

    #[test]
    fn the_anchor_mesh_sends_no_acks_resends_about_one_hop_in_a_hundred_and_keeps_its_chains() {
        let config = PingmeshConfig::anchor();
        let mut world = build(5, config, |b| {
            b.trace_level(TraceLevel::Off);
        })
        .expect("valid pingmesh");
        world.run(Limits {
            max_events: 200_000,
            ..Limits::default()
        });
        let stats = *world.stats();
        assert_eq!(stats.delivered + stats.timers_fired, 200_000);
        assert_eq!(
            stats.dropped_total(),
            0,
            "the links lose nothing: the sender draws the loss"
        );
        let in_flight = stats.sent - stats.delivered;
        assert!(in_flight <= u64::from(config.chain_count));
        let resend_share = stats.timers_fired as f64 / (stats.sent + stats.timers_fired) as f64;
        assert!((0.007..0.013).contains(&resend_share), "re-sends: {resend_share}");
        // Every chain is a hop in flight or a lost hop waiting for its re-send timer.
        assert_eq!(world.pending_count(), usize::from(config.chain_count));
    }

    #[test]
    fn the_acknowledged_mesh_acknowledges_every_delivered_hop() {
        let mut world = build(5, PingmeshConfig::default(), |b| {
            b.trace_level(TraceLevel::Off);
        })
        .expect("valid pingmesh");
        world.run(Limits {
            max_events: 20_000,
            ..Limits::default()
        });
        let hops: u64 = (0..8)
            .map(|i| {
                world
                    .actor::<PingActor>(ActorId(i))
                    .expect("a pinger")
                    .first_deliveries
            })
            .sum();
        assert!(
            world.stats().sent > 2 * hops - 64,
            "every hop is answered by an ack and a next hop"
        );
    }
}

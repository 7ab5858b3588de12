//! A recording context: call one actor's handler directly and read back what it asked for,
//! with no world around it (stateright's `Out` is the model).
//!
//! The probe owns the same core a world has, with a reliable, instant network and no
//! faults; a handler gets a real [`Ctx`] on it, so its timers can be cancelled and its
//! counters counted as in a run. [`Probe::take`] then lists the messages it sent and the
//! timers still armed, in the order it asked for them.

use std::collections::BTreeMap;

use super::actor::{Ctx, Message};
use super::core::{Core, Life};
use super::event::Event;
use super::stats::NetStats;
use crate::net::{LinkSpec, Network, Topology};
use crate::sim::{ActorId, Duration, EventQueue, Instant, Purpose, SeedTree, Trace, TraceLevel};

/// What a handler asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum Asked<M> {
    /// A message to `dst`.
    Send {
        /// The addressee.
        dst: ActorId,
        /// The message.
        msg: M,
    },
    /// A timer that fires `after` from now, unless cancelled.
    Timer {
        /// How long from now.
        after: Duration,
        /// Its payload.
        msg: M,
    },
}

/// A stand-in world of `actors` actors for calling handlers one at a time.
pub struct Probe<M: Message> {
    core: Core<M>,
}

impl<M: Message> Probe<M> {
    /// A probe for actors `0..actors`, at virtual time `now`.
    pub fn new(actors: u32, now: Instant) -> Self {
        let mut topology = Topology::new(Some(LinkSpec::reliable(0)));
        for i in 0..actors {
            topology.add_node(&format!("a{i}")).expect("distinct names");
        }
        let seeds = SeedTree::new(0);
        let up = Life {
            up: true,
            ..Life::default()
        };
        Probe {
            core: Core {
                now,
                current_seq: 0,
                queue: EventQueue::new(),
                network: Network::new(&topology),
                net_rngs: (0..actors).map(|i| seeds.stream(Purpose::Network(i))).collect(),
                actor_rngs: (0..actors).map(|i| seeds.stream(Purpose::Actor(i))).collect(),
                lives: vec![up; actors as usize],
                trace: Trace::new(TraceLevel::Off),
                stats: NetStats::default(),
                counters: BTreeMap::new(),
                message_size: None,
                message_kind: None,
                describe: None,
                cuts: Vec::new(),
                cut_active: Vec::new(),
                aimed_points: Vec::new(),
                points_matter: false,
                careful_sends: false,
                crashed_in_handler: Vec::new(),
                last_heal: None,
            },
        }
    }

    /// The context a handler of actor `me` is called with.
    pub fn ctx(&mut self, me: ActorId) -> Ctx<'_, M> {
        Ctx {
            core: &mut self.core,
            me,
        }
    }

    /// Everything asked for since the last call, in the order asked, sends and timers not
    /// cancelled.
    pub fn take(&mut self) -> Vec<Asked<M>> {
        let mut asked = Vec::new();
        let mut by_seq = Vec::new();
        while let Some(popped) = self.core.queue.pop() {
            by_seq.push(popped);
        }
        by_seq.sort_by_key(|p| p.seq);
        for popped in by_seq {
            match popped.event {
                Event::Deliver { dst, msg, .. } => asked.push(Asked::Send { dst, msg }),
                Event::Timer { msg, .. } => asked.push(Asked::Timer {
                    after: popped.at - self.core.now,
                    msg,
                }),
                Event::Fault(_) => {}
            }
        }
        asked
    }

    /// The run-wide counters the handlers added to.
    pub fn counters(&self) -> &BTreeMap<&'static str, u64> {
        &self.core.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_and_armed_timers_come_back_in_the_order_asked_and_a_cancelled_timer_does_not() {
        let mut probe: Probe<u32> = Probe::new(3, Instant::from_ms(10));
        {
            let mut ctx = probe.ctx(ActorId(1));
            let late = ctx.set_timer(Duration::from_ms(5), 100);
            ctx.send(ActorId(2), 7);
            ctx.set_timer(Duration::from_ms(1), 101);
            ctx.count("probe.test", 2);
            assert!(ctx.cancel_timer(late));
            ctx.send(ActorId(0), 8);
        }
        assert_eq!(
            probe.take(),
            [
                Asked::Send {
                    dst: ActorId(2),
                    msg: 7
                },
                Asked::Timer {
                    after: Duration::from_ms(1),
                    msg: 101
                },
                Asked::Send {
                    dst: ActorId(0),
                    msg: 8
                },
            ]
        );
        assert_eq!(probe.counters().get("probe.test"), Some(&2));
        assert!(probe.take().is_empty());
    }
}

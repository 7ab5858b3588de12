//! The world's state minus the actors: what a [`super::Ctx`] may touch.
//!
//! Split from the actor list so a handler can hold `&mut` to its actor and to the core at
//! once, and apply its sends and timers directly, with no command buffer in between.

use std::collections::BTreeMap;

use super::actor::Message;
use super::event::Event;
use super::stats::NetStats;
use crate::net::{AimedEffect, AimedPoint, Cut, DropReason, FaultAction, Network, Verdict};
use crate::sim::{ActorId, Duration, EventQueue, Instant, Rng, Trace, TraceKind};

/// Names a message's kind for aimed message faults; boxed so it can carry what it needs
/// (a strategy's names for its own messages).
pub type MessageKind<M> = Box<dyn Fn(&M) -> &'static str>;

/// Describes a message for the full trace (kind, transaction, step, fields as JSON).
pub type Describe<M> = Box<dyn Fn(&M) -> crate::sim::Described>;

/// Lifecycle of one actor.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Life {
    pub(crate) up: bool,
    /// Bumped on every crash; timers of an earlier incarnation never fire.
    pub(crate) incarnation: u32,
    /// Clock drift in parts per million (positive: the clock runs fast).
    pub(crate) drift_ppm: i64,
}

impl Life {
    /// The virtual time a local delay of `after` really takes on this actor's clock.
    #[inline]
    pub(crate) fn real_delay(&self, after: Duration) -> Duration {
        if self.drift_ppm == 0 {
            return after;
        }
        let scaled = u128::from(after.as_us()) * 1_000_000 / (1_000_000 + self.drift_ppm) as u128;
        Duration::from_us(u64::try_from(scaled).unwrap_or(u64::MAX))
    }
}

pub(crate) struct Core<M> {
    pub(crate) now: Instant,
    /// Sequence number of the event being handled, recorded with drops decided at send time.
    pub(crate) current_seq: u64,
    pub(crate) queue: EventQueue<Event<M>>,
    pub(crate) network: Network,
    pub(crate) net_rngs: Vec<Rng>,
    pub(crate) actor_rngs: Vec<Rng>,
    pub(crate) lives: Vec<Life>,
    pub(crate) trace: Trace,
    pub(crate) stats: NetStats,
    pub(crate) counters: BTreeMap<&'static str, u64>,
    /// Estimates a message's size on the wire, for `NetStats::bytes_sent`; `None` counts
    /// nothing, without a call per send.
    pub(crate) message_size: Option<fn(&M) -> u32>,
    /// Names a message's kind for aimed message faults (asked only while one waits).
    pub(crate) message_kind: Option<MessageKind<M>>,
    /// Describes a message for a full trace (`Debug` text without it).
    pub(crate) describe: Option<Describe<M>>,
    /// The plan's cuts, which aimed partitions start.
    pub(crate) cuts: Vec<Cut>,
    /// Which cuts are in force: each starts and ends once, and `heal_at` ends the rest.
    pub(crate) cut_active: Vec<bool>,
    /// Faults waiting for an actor to reach a point.
    pub(crate) aimed_points: Vec<AimedPoint>,
    /// Whether a point reached can change anything: a fault aims at points, or the full
    /// trace keeps them. Otherwise a point costs one test.
    pub(crate) points_matter: bool,
    /// Whether sends take the careful path: an aimed message fault waits, or an aimed crash
    /// took the handler's actor down (until the handler returns).
    pub(crate) careful_sends: bool,
    /// Actors an aimed fault crashed in the handler running now; the world calls their
    /// `on_crash` when the handler returns.
    pub(crate) crashed_in_handler: Vec<ActorId>,
    /// When the last fault ended (a restart or a cut healing), if one has.
    pub(crate) last_heal: Option<Instant>,
}

impl<M: Message> Core<M> {
    /// Passes a message through the network and schedules what survives. Everything aimed
    /// (a fault waiting for a message, a sender crashed at a point in this handler) is behind
    /// one test of `careful_sends`, so a run without aimed faults pays one branch per send.
    #[inline]
    pub(crate) fn send(&mut self, src: ActorId, dst: ActorId, msg: M) {
        let verdict = if self.careful_sends {
            match self.aimed_verdict(src, dst, &msg) {
                Some(verdict) => verdict,
                None => return,
            }
        } else {
            self.stats.sent += 1;
            if let Some(size) = self.message_size {
                self.stats.bytes_sent += u64::from(size(&msg));
            }
            let rng = &mut self.net_rngs[src.index()];
            self.network.decide(src, dst, self.now, rng)
        };
        match verdict {
            Verdict::Deliver { at, duplicate_at } => {
                if self.trace.is_full() {
                    self.trace_send(src, dst, &msg, (at, duplicate_at));
                }
                match duplicate_at {
                    None => {
                        self.queue.push(at, Event::Deliver { src, dst, msg });
                    }
                    Some(dup_at) => {
                        self.stats.duplicated += 1;
                        let copy = msg.clone();
                        self.queue.push(at, Event::Deliver { src, dst, msg });
                        self.queue.push(dup_at, Event::Deliver { src, dst, msg: copy });
                    }
                }
            }
            Verdict::Drop(reason) => self.drop_message(src, dst, reason, &msg),
        }
    }

    /// [`Core::send`]'s careful path: nothing when the sender crashed at a point earlier in
    /// this handler (the send never happened), else the verdict, an aimed fault's included.
    #[inline(never)]
    fn aimed_verdict(&mut self, src: ActorId, dst: ActorId, msg: &M) -> Option<Verdict> {
        if !self.lives[src.index()].up {
            return None;
        }
        self.stats.sent += 1;
        if let Some(size) = self.message_size {
            self.stats.bytes_sent += u64::from(size(msg));
        }
        let aimed = match self.message_kind {
            Some(ref kind) if self.network.aims_at_messages() => self.network.aim(src, dst, kind(msg)),
            _ => None,
        };
        let rng = &mut self.net_rngs[src.index()];
        Some(match aimed {
            None => self.network.decide(src, dst, self.now, rng),
            Some(effect) => self.network.decide_aimed((src, dst), self.now, rng, effect),
        })
    }

    /// Keeps the `Send` lines of a message about to be pushed (its copy's too), each naming
    /// the `seq` its delivery will have: the queue hands out sequence numbers in push order.
    #[inline(never)]
    fn trace_send(
        &mut self,
        src: ActorId,
        dst: ActorId,
        msg: &M,
        (_, duplicate_at): (Instant, Option<Instant>),
    ) {
        let first = self.queue.next_seq();
        let copies = if duplicate_at.is_some() { 2 } else { 1 };
        for copy in 0..copies {
            self.trace.record_send(
                self.now,
                self.current_seq,
                (src, dst, first + copy),
                msg,
                self.describe.as_deref(),
            );
        }
    }

    /// `actor` reached protocol point `point` (for transaction `tx`): kept in a full trace
    /// (not hashed: a point is a consequence of events already hashed), and counted against
    /// the aimed point faults, whose effects happen at once.
    #[inline(never)]
    pub(crate) fn reach_point(&mut self, actor: ActorId, point: &'static str, tx: Option<u64>) {
        self.trace.note(
            self.now,
            self.current_seq,
            TraceKind::Point,
            Some(actor),
            point,
            tx,
        );
        for index in 0..self.aimed_points.len() {
            if let Some(effect) = self.aimed_points[index].visit(actor, point, tx) {
                self.set_off(actor, effect);
            }
        }
    }

    /// Carries out an aimed point fault's effect: a crash takes the actor down now (its later
    /// sends and timers in this handler vanish), a cut starts now; each schedules its end.
    fn set_off(&mut self, actor: ActorId, effect: AimedEffect) {
        let (node, note, end) = match effect {
            AimedEffect::Crash { restart_after } => {
                let life = &mut self.lives[actor.index()];
                if !life.up {
                    return;
                }
                life.up = false;
                life.incarnation += 1;
                self.stats.crashes += 1;
                self.crashed_in_handler.push(actor);
                self.careful_sends = true;
                (
                    Some(actor),
                    "crash",
                    restart_after.map(|d| (d, FaultAction::Restart(actor))),
                )
            }
            AimedEffect::Cut { cut, lasts } => {
                self.set_cut(cut, true);
                (None, "partition", lasts.map(|d| (d, FaultAction::CutEnd(cut))))
            }
        };
        self.trace.record::<()>(
            self.now,
            self.current_seq,
            TraceKind::Fault,
            node,
            None,
            note,
            None,
        );
        if let Some((after, action)) = end {
            self.queue.push(self.now + after, Event::Fault(action));
        }
    }

    /// Starts or ends cut `cut`, unless it already is in that state (a scheduled end after
    /// `heal_at` ended it, say).
    pub(crate) fn set_cut(&mut self, cut: u32, active: bool) -> bool {
        let slot = &mut self.cut_active[cut as usize];
        if *slot == active {
            return false;
        }
        *slot = active;
        self.network.apply_cut(&self.cuts[cut as usize], active);
        if !active {
            self.last_heal = Some(self.now);
        }
        true
    }

    /// Counts and traces a lost message.
    pub(crate) fn drop_message(&mut self, src: ActorId, dst: ActorId, reason: DropReason, msg: &M) {
        self.stats.count_drop(reason);
        self.trace.record_described(
            self.now,
            self.current_seq,
            TraceKind::Drop,
            (Some(src), Some(dst), reason.as_str()),
            Some(msg),
            self.describe.as_deref(),
        );
    }
}

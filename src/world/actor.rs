//! The actor trait and its context, the only door an actor has to the world.

use std::any::Any;
use std::fmt::Debug;
use std::hash::Hash;

use super::core::Core;
use super::event::Event;
use crate::sim::{ActorId, Duration, EventKey, Instant, Rng};

/// What a message (or timer payload) must be: cloned for duplicates, printed in full traces,
/// hashed into the trace hash.
pub trait Message: Clone + Debug + Hash + 'static {}

impl<T: Clone + Debug + Hash + 'static> Message for T {}

/// A participant in the simulation: a service, a database, a broker, a client.
///
/// Handlers run one at a time, to completion, at one virtual instant; an actor affects the
/// world only through its [`Ctx`]. State an actor keeps in its fields is *volatile* unless
/// the actor says otherwise: [`Actor::on_crash`] must drop it, and only what the actor
/// deliberately keeps (its durable state, e.g. a committed log) survives into
/// [`Actor::on_recover`]. The kernel cancels a crashed actor's timers and drops messages that
/// arrive while it is down.
pub trait Actor<M: Message>: Any {
    /// Called once, at time zero, in actor-id order.
    fn on_start(&mut self, ctx: &mut Ctx<'_, M>);

    /// A message from `src` arrived.
    fn on_message(&mut self, ctx: &mut Ctx<'_, M>, src: ActorId, msg: M);

    /// A timer set with [`Ctx::set_timer`] fired, carrying the payload it was set with.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, M>, msg: M) {
        let _ = (ctx, msg);
    }

    /// The actor crashed at `now`: forget volatile state, keep durable state. No context: a
    /// crashed actor cannot send. Required, so that every actor decides what survives; the
    /// time is there for actors that measure up to the crash (a service's database ends its
    /// lock waits at it).
    fn on_crash(&mut self, now: Instant);

    /// Bytes this actor keeps that grow with the run's length (its history, durable logs,
    /// per-request records), estimated from their lengths. The world sums them to end a run
    /// before it exhausts memory ([`super::Limits::max_retained_bytes`]). An actor whose
    /// state stays bounded keeps the default, 0.
    fn retained_bytes(&self) -> usize {
        0
    }

    /// The actor restarted after a crash; rebuild volatile state from durable state. By
    /// default it starts over as at time zero.
    fn on_recover(&mut self, ctx: &mut Ctx<'_, M>) {
        self.on_start(ctx);
    }
}

/// Names a pending timer so it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(EventKey);

/// An actor's handle on the world during one handler call.
pub struct Ctx<'a, M: Message> {
    pub(super) core: &'a mut Core<M>,
    pub(super) me: ActorId,
}

impl<M: Message> Ctx<'_, M> {
    /// The current virtual time.
    #[inline]
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// The queue sequence number of the event being handled: with [`Ctx::now`], a total
    /// order over everything that happens in a run (histories merge by it).
    #[inline]
    pub fn event_seq(&self) -> u64 {
        self.core.current_seq
    }

    /// This actor's id.
    #[inline]
    pub fn me(&self) -> ActorId {
        self.me
    }

    /// Sends `msg` to `dst` through the network, which may delay, drop or duplicate it.
    /// A send after this actor crashed at an aimed point in the same handler never happens.
    #[inline]
    pub fn send(&mut self, dst: ActorId, msg: M) {
        self.core.send(self.me, dst, msg);
    }

    /// Delivers `msg` back to this actor after `after` as measured by its own clock (clock
    /// drift applies). Timers never cross the network and die with a crash.
    pub fn set_timer(&mut self, after: Duration, msg: M) -> TimerId {
        let life = &self.core.lives[self.me.index()];
        // Set after a crash at an aimed point in this handler: an earlier incarnation's,
        // so it never fires (incarnations only grow).
        let incarnation = life.incarnation.wrapping_sub(u32::from(!life.up));
        let at = self.core.now + life.real_delay(after);
        let key = self.core.queue.push(
            at,
            Event::Timer {
                actor: self.me,
                incarnation,
                msg,
            },
        );
        TimerId(key)
    }

    /// Cancels one of this actor's pending timers; false if it already fired, was cancelled,
    /// or belongs to another actor.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        let mine = matches!(
            self.core.queue.get(timer.0),
            Some(Event::Timer { actor, .. }) if *actor == self.me
        );
        mine && self.core.queue.cancel(timer.0)
    }

    /// This actor's own random stream; other actors' draws never shift it.
    #[inline]
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.core.actor_rngs[self.me.index()]
    }

    /// Says this actor reached protocol point `point` (for transaction `tx`): a line in a
    /// full trace, and where faults aimed at the point go off. A crash aimed here takes the
    /// actor down at once: what the handler does after this call is lost, as if it had
    /// crashed between two instructions. So call it right after what the point names became
    /// true (durable or sent), before anything the point says has not happened yet.
    /// An actor already crashed in this handler reaches nothing more: its trace would
    /// otherwise claim steps the crash prevented.
    #[inline]
    pub fn point(&mut self, point: &'static str, tx: Option<u64>) {
        if self.core.points_matter && !self.crashed() {
            self.core.reach_point(self.me, point, tx);
        }
    }

    /// Leaves a line in a full trace saying what this actor noticed and absorbed (`what`:
    /// `deduplicated`, `duplicate dropped`), for transaction `tx`: otherwise a retry it
    /// recognised would leave no trace at all. Not hashed, like a point.
    #[inline]
    pub fn note(&mut self, what: &'static str, tx: Option<u64>) {
        let core = &mut *self.core;
        core.trace.note(
            core.now,
            core.current_seq,
            crate::sim::TraceKind::Note,
            Some(self.me),
            what,
            tx,
        );
    }

    /// Whether a fault aimed at a point crashed this actor during this handler: what it
    /// would do next must not happen (durable changes included).
    #[inline]
    pub fn crashed(&self) -> bool {
        !self.core.lives[self.me.index()].up
    }

    /// Adds `amount` to the run-wide counter `name` (reports list every counter).
    pub fn count(&mut self, name: &'static str, amount: u64) {
        *self.core.counters.entry(name).or_insert(0) += amount;
    }
}

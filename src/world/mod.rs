//! The world: actors on the network, driven by the event loop.
//!
//! [`WorldBuilder`] collects actors (one per topology node), links and faults, validates
//! them and builds a [`World`]. [`World::run`] is the loop: pop the earliest event, advance
//! virtual time to it, record it in the trace, and hand it to the one actor it concerns.
//!
//! **Invariant:** only `World::run` pops the queue and calls actor handlers. Depends on
//! `sim` and `net`; knows nothing of databases, services or strategies.

mod actor;
mod core;
mod event;
pub mod footprint;
mod probe;
mod run;
mod stats;

use std::any::Any;
use std::collections::BTreeMap;

pub use actor::{Actor, Ctx, Message, TimerId};
pub use probe::{Asked, Probe};
pub use run::{Limits, RETAINED_CHECK_EVERY, RunOutcome, StopReason};
pub use stats::NetStats;

use self::core::{Core, Life};
pub use self::core::{Describe, MessageKind};
use crate::net::{ConfigError, DropReason, FaultAction, FaultPlan, FaultSpec, LinkSpec, Network, Topology};
use crate::sim::{ActorId, EventQueue, Instant, Purpose, SeedTree, Trace, TraceKind, TraceLevel};
use event::Event;

/// Collects what a run is made of, then checks it all at once in [`WorldBuilder::build`].
pub struct WorldBuilder<M: Message> {
    seed: u64,
    topology: Topology,
    actors: Vec<Box<dyn Actor<M>>>,
    faults: Vec<FaultSpec>,
    trace_level: TraceLevel,
    message_size: Option<fn(&M) -> u32>,
    message_kind: Option<MessageKind<M>>,
    describe: Option<Describe<M>>,
    heal_at: Option<Instant>,
}

impl<M: Message> WorldBuilder<M> {
    /// A world seeded with `seed`, where node pairs without an explicit link use
    /// `default_link` (`None`: they cannot talk).
    pub fn new(seed: u64, default_link: Option<LinkSpec>) -> Self {
        WorldBuilder {
            seed,
            topology: Topology::new(default_link),
            actors: Vec::new(),
            faults: Vec::new(),
            trace_level: TraceLevel::default(),
            message_size: None,
            message_kind: None,
            describe: None,
            heal_at: None,
        }
    }

    /// Adds an actor as a new node called `name`.
    pub fn add_actor(&mut self, name: &str, actor: impl Actor<M>) -> Result<ActorId, ConfigError> {
        self.add_boxed_actor(name, Box::new(actor))
    }

    /// Adds an already boxed actor (when the concrete type is chosen at run time).
    pub fn add_boxed_actor(&mut self, name: &str, actor: Box<dyn Actor<M>>) -> Result<ActorId, ConfigError> {
        let id = self.topology.add_node(name)?;
        self.actors.push(actor);
        Ok(id)
    }

    /// Overrides the link from `src` to `dst` (one direction).
    pub fn link(&mut self, src: ActorId, dst: ActorId, spec: LinkSpec) -> &mut Self {
        self.topology.set_link(src, dst, spec);
        self
    }

    /// Schedules a fault.
    pub fn fault(&mut self, spec: FaultSpec) -> &mut Self {
        self.faults.push(spec);
        self
    }

    /// Sets how much the trace keeps (default: the hash only).
    pub fn trace_level(&mut self, level: TraceLevel) -> &mut Self {
        self.trace_level = level;
        self
    }

    /// Sets how bytes sent are counted: `size` estimates one message's size on the wire
    /// (default: every message counts 0 bytes). Observes only; it changes no run.
    pub fn message_size(&mut self, size: fn(&M) -> u32) -> &mut Self {
        self.message_size = Some(size);
        self
    }

    /// Sets how messages are named for aimed message faults (`FaultSpec::OnMessage`): `kind`
    /// returns the name those faults give (`"Prepare"`, `"Vote"`). Needed only by them.
    pub fn message_kind(&mut self, kind: impl Fn(&M) -> &'static str + 'static) -> &mut Self {
        self.message_kind = Some(Box::new(kind));
        self
    }

    /// Sets how a full trace describes messages: their kind, transaction, step and fields as
    /// JSON (default: `Debug` text). Observes only; it changes no run.
    pub fn describe(&mut self, describe: impl Fn(&M) -> crate::sim::Described + 'static) -> &mut Self {
        self.describe = Some(Box::new(describe));
        self
    }

    /// Lifts every fault at `at` (see [`FaultAction::HealAll`]): what follows is the run's
    /// liveness phase, in which the system must finish its work.
    pub fn heal_at(&mut self, at: Instant) -> &mut Self {
        self.heal_at = Some(at);
        self
    }

    /// The topology so far (names, links), e.g. to resolve names.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Validates links and faults and builds the world.
    pub fn build(self) -> Result<World<M>, ConfigError> {
        self.topology.validate()?;
        let mut plan = FaultPlan::compile(&self.faults, &self.topology)?;
        if let Some(at) = self.heal_at {
            // Last among the faults of its instant: a fault at the same time is lifted too.
            let index = plan.events.partition_point(|(t, _)| *t <= at);
            plan.events.insert(index, (at, FaultAction::HealAll));
        }
        if !plan.messages.is_empty() && self.message_kind.is_none() {
            return Err(ConfigError::BadFault {
                what: "a fault on a message".to_string(),
                problem: "this world does not name its messages' kinds, so no fault can aim at one"
                    .to_string(),
            });
        }
        let mut network = Network::new(&self.topology);
        network.aim_at_messages(plan.messages.clone());
        let seeds = SeedTree::new(self.seed);
        let n = self.actors.len() as u32;
        let mut queue = EventQueue::new();
        for &(at, action) in &plan.events {
            queue.push(at, Event::Fault(action));
        }
        let core = Core {
            now: Instant::ZERO,
            current_seq: 0,
            queue,
            network,
            net_rngs: (0..n).map(|i| seeds.stream(Purpose::Network(i))).collect(),
            actor_rngs: (0..n).map(|i| seeds.stream(Purpose::Actor(i))).collect(),
            lives: vec![
                Life {
                    up: true,
                    ..Life::default()
                };
                n as usize
            ],
            trace: Trace::new(self.trace_level),
            stats: NetStats::default(),
            counters: BTreeMap::new(),
            message_size: self.message_size,
            message_kind: self.message_kind,
            describe: self.describe,
            cuts: plan.cuts.clone(),
            cut_active: vec![false; plan.cuts.len()],
            aimed_points: plan.points.clone(),
            points_matter: !plan.points.is_empty() || self.trace_level == TraceLevel::Full,
            careful_sends: !plan.messages.is_empty(),
            crashed_in_handler: Vec::new(),
            last_heal: None,
        };
        Ok(World {
            seed: self.seed,
            names: self.topology.names(),
            topology: self.topology,
            plan,
            actors: self.actors,
            core,
            started: false,
            event_count: 0,
            next_retained_check: 0,
        })
    }
}

/// A built simulation: actors, network, faults and the pending events.
pub struct World<M: Message> {
    seed: u64,
    names: Vec<String>,
    topology: Topology,
    plan: FaultPlan,
    actors: Vec<Box<dyn Actor<M>>>,
    core: Core<M>,
    started: bool,
    event_count: u64,
    /// The event count at which [`Limits::max_retained_bytes`] is checked next.
    next_retained_check: u64,
}

impl<M: Message> World<M> {
    /// Runs until quiescence or a limit. The first call starts every actor at time zero;
    /// later calls continue where the previous one stopped.
    pub fn run(&mut self, limits: Limits) -> RunOutcome {
        if !self.started {
            self.started = true;
            for index in 0..self.actors.len() {
                let mut ctx = Ctx {
                    core: &mut self.core,
                    me: ActorId(index as u32),
                };
                self.actors[index].on_start(&mut ctx);
            }
            self.finish_aimed_crashes();
        }
        let until = limits.until.unwrap_or(Instant::MAX);
        let event_limit_at = self.event_count.saturating_add(limits.max_events);
        let stop = loop {
            // One comparison per event for the two limits counted in events: the event
            // limit and the next check of the record's size, whichever comes first. The
            // checks keep their order (events, pending, record), so a run that meets two
            // limits at once names the same one.
            if self.event_count >= event_limit_at.min(self.next_retained_check) {
                if self.event_count >= event_limit_at {
                    break StopReason::EventLimit(limits.max_events);
                }
                if self.core.queue.len() > limits.max_pending {
                    break StopReason::PendingLimit(limits.max_pending);
                }
                // Keyed to the absolute event count, so the check points (and so where a
                // run stops) do not depend on how the run was split into `run` calls.
                self.next_retained_check = self.event_count + RETAINED_CHECK_EVERY;
                if self.retained_bytes() > limits.max_retained_bytes {
                    break StopReason::RecordLimit(limits.max_retained_bytes);
                }
            }
            if self.core.queue.len() > limits.max_pending {
                break StopReason::PendingLimit(limits.max_pending);
            }
            let Some(next) = self.core.queue.pop_until(until) else {
                if self.core.queue.is_empty() {
                    break StopReason::Quiescent;
                }
                self.core.now = until;
                break StopReason::TimeLimit(until);
            };
            debug_assert!(next.at >= self.core.now, "event scheduled in the past");
            self.core.now = next.at;
            self.core.current_seq = next.seq;
            if self.dispatch(next.event) {
                self.event_count += 1;
            }
            if !self.core.crashed_in_handler.is_empty() {
                self.finish_aimed_crashes();
            }
        };
        RunOutcome {
            stop,
            end: self.core.now,
            event_count: self.event_count,
            trace_hash: self.core.trace.hash(),
        }
    }

    /// Handles one event; false for a stale timer of an earlier incarnation (not an event).
    #[inline]
    fn dispatch(&mut self, event: Event<M>) -> bool {
        let core = &mut self.core;
        let (now, seq) = (core.now, core.current_seq);
        match event {
            Event::Deliver { src, dst, msg } => {
                if !core.lives[dst.index()].up {
                    core.drop_message(src, dst, DropReason::Crashed, &msg);
                    return true;
                }
                core.stats.delivered += 1;
                core.trace.record_described(
                    now,
                    seq,
                    TraceKind::Deliver,
                    (Some(src), Some(dst), ""),
                    Some(&msg),
                    core.describe.as_deref(),
                );
                let mut ctx = Ctx { core, me: dst };
                self.actors[dst.index()].on_message(&mut ctx, src, msg);
            }
            Event::Timer {
                actor,
                incarnation,
                msg,
            } => {
                let life = core.lives[actor.index()];
                if !life.up || life.incarnation != incarnation {
                    return false;
                }
                core.stats.timers_fired += 1;
                core.trace.record_described(
                    now,
                    seq,
                    TraceKind::Timer,
                    (Some(actor), None, ""),
                    Some(&msg),
                    core.describe.as_deref(),
                );
                let mut ctx = Ctx { core, me: actor };
                self.actors[actor.index()].on_timer(&mut ctx, msg);
            }
            Event::Fault(action) => self.apply_fault(action),
        }
        true
    }

    /// Lets the actors an aimed fault crashed during the last handler forget their volatile
    /// state, now that the handler has returned.
    fn finish_aimed_crashes(&mut self) {
        for id in std::mem::take(&mut self.core.crashed_in_handler) {
            self.actors[id.index()].on_crash(self.core.now);
        }
        self.core.careful_sends = self.core.network.aims_at_messages();
    }

    fn apply_fault(&mut self, action: FaultAction) {
        let core = &mut self.core;
        let node = match action {
            FaultAction::CutStart(cut) | FaultAction::CutEnd(cut) => {
                if !core.set_cut(cut, matches!(action, FaultAction::CutStart(_))) {
                    return;
                }
                None
            }
            FaultAction::HealAll => {
                self.heal_all();
                return;
            }
            // A plan never crashes a crashed actor nor restarts a live one (`FaultPlan`
            // rejects overlapping windows); stay safe if one did.
            FaultAction::Crash(id) if !core.lives[id.index()].up => None,
            FaultAction::Restart(id) if core.lives[id.index()].up => None,
            FaultAction::Crash(id) => {
                let life = &mut core.lives[id.index()];
                life.up = false;
                life.incarnation += 1;
                core.stats.crashes += 1;
                self.actors[id.index()].on_crash(core.now);
                Some(id)
            }
            FaultAction::Restart(id) => {
                core.lives[id.index()].up = true;
                core.last_heal = Some(core.now);
                core.stats.restarts += 1;
                Some(id)
            }
            FaultAction::Drift(id, ppm) => {
                core.lives[id.index()].drift_ppm = ppm;
                Some(id)
            }
        };
        let note = action.note(&self.plan);
        core.trace.record::<()>(
            core.now,
            core.current_seq,
            TraceKind::Fault,
            node,
            None,
            note,
            None,
        );
        if let (FaultAction::Restart(id), Some(_)) = (action, node) {
            let mut ctx = Ctx { core, me: id };
            self.actors[id.index()].on_recover(&mut ctx);
        }
    }

    /// `heal_at`: ends every cut, restarts every crashed actor, resets every clock, and
    /// disarms what is aimed; the links stop losing and duplicating.
    fn heal_all(&mut self) {
        let core = &mut self.core;
        for cut in 0..core.cut_active.len() {
            core.set_cut(cut as u32, false);
        }
        core.network.heal_links();
        core.aimed_points.clear();
        core.careful_sends = false;
        core.last_heal = Some(core.now);
        core.trace.record::<()>(
            core.now,
            core.current_seq,
            TraceKind::Fault,
            None,
            None,
            "heal-all",
            None,
        );
        for index in 0..self.actors.len() {
            let id = ActorId(index as u32);
            self.core.lives[index].drift_ppm = 0;
            if !self.core.lives[index].up {
                self.apply_fault(FaultAction::Restart(id));
            }
        }
    }

    /// The master seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Current virtual time.
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// Actor names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The topology the network was built from.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// When the last fault so far ended (a restart, a cut healing), if one has: the time a
    /// system may start converging from, aimed faults included.
    pub fn last_heal(&self) -> Option<Instant> {
        self.core.last_heal
    }

    /// The checked fault schedule.
    pub fn fault_plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Message and lifecycle counters.
    pub fn stats(&self) -> &NetStats {
        &self.core.stats
    }

    /// Counters actors recorded with [`Ctx::count`], by name.
    pub fn counters(&self) -> &BTreeMap<&'static str, u64> {
        &self.core.counters
    }

    /// The trace.
    pub fn trace(&self) -> &Trace {
        &self.core.trace
    }

    /// Events pending in the queue.
    pub fn pending_count(&self) -> usize {
        self.core.queue.len()
    }

    /// What the run keeps for its record, in bytes: every actor's
    /// [`Actor::retained_bytes`] and the full trace's entries. An estimate from lengths,
    /// not the allocator's count, so it is the same on every machine, build and thread.
    pub fn retained_bytes(&self) -> u64 {
        let actors: usize = self.actors.iter().map(|a| a.retained_bytes()).sum();
        actors as u64 + self.core.trace.retained_bytes()
    }

    /// Whether an actor is up (not crashed).
    pub fn is_up(&self, id: ActorId) -> bool {
        self.core.lives[id.index()].up
    }

    /// The actor `id` as its concrete type, to inspect its state after (or between) runs.
    pub fn actor<A: Actor<M>>(&self, id: ActorId) -> Option<&A> {
        let actor: &dyn Any = self.actors.get(id.index())?.as_ref();
        actor.downcast_ref::<A>()
    }
}

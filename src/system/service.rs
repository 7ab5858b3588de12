//! The service actor: one business service and the database it owns.
//!
//! A service runs local calls (a step's action or compensation) as local transactions on its
//! own database, in commit or prepare mode, idempotently by `(gtx, step, kind)` when asked.
//! An idempotent compensation first looks its action up: if the action never applied (its
//! request was lost, or is still on its way), the compensation changes nothing and leaves a
//! fence, so the late action refuses itself instead of applying after its undo. That is what
//! lets a saga compensate a step whose outcome it never learned.
//! A call's database operations run at once; the call then holds its locks for the
//! processing time plus the database's cost before it commits (or prepares) and replies, so
//! contention and in-doubt time show up in virtual time. A call that meets a lock waits, with
//! a lock-wait timeout; a deadlock aborts its youngest member.
//!
//! It also relays its outbox to the broker (or, as the broken twin, writes to the broker
//! right after committing: a dual write), consumes broker deliveries through its strategy's
//! [`Participant`], answers audit reads with read-committed sums, and refuses calls without
//! the gateway's token and any direct access to its database by another actor.
//!
//! Durable across a crash: the database's durable half, the prepared-call index, the local
//! transaction counter and the history log. Volatile: calls in progress, relay bookkeeping.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::broker::{BrokerMsg, TopicId};
use crate::sim::{ActorId, Duration, IdMap, Instant};
use crate::store::{Database, IdempotencyKey, LocalTxId, Op, OutboxEvent, OutboxId, Outcome, Value};
use crate::system::history::{History, HistoryEvent, RowWrite};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{
    CallMode, DomainEvent, GlobalTxId, LocalCall, LocalResult, Msg, StepKind, StrategyMsg, Token,
};
use crate::system::participant::{Effect, Participant};
use crate::system::timer::TimerMsg;
use crate::world::{Actor, Ctx, TimerId};

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

/// A service's wiring and settings.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Which service of the model.
    pub id: ServiceId,
    /// The token valid calls carry.
    pub token: Token,
    /// The broker, if the strategy uses one.
    pub broker: Option<ActorId>,
    /// The 2PC coordinator an in-doubt participant asks, if any.
    pub coordinator: Option<ActorId>,
    /// How events reach the broker.
    pub relay: Relay,
    /// How long a call waits for a lock before giving up as busy.
    pub lock_timeout: Duration,
    /// How long a prepared call waits for a decision before asking the coordinator.
    pub in_doubt_query_after: Duration,
}

/// One business service.
#[derive(Debug)]
pub struct Service {
    config: ServiceConfig,
    model: Arc<Model>,
    db: Database,
    participant: Option<Box<dyn Participant>>,
    /// Participants to ask too while in doubt (2PC cooperative termination).
    peers: Vec<ActorId>,
    // Durable.
    next_local: u64,
    /// 2PC decisions applied here, so a peer in doubt can be told (cooperative termination).
    decided: IdMap<GlobalTxId, bool>,
    prepared: BTreeMap<(GlobalTxId, u16), Prepared>,
    history: History,
    // Volatile. Local tx ids come from `next_local` and outbox ids from the database's
    // counter: dense, so these maps are windows of slots ([`IdMap`]).
    active: IdMap<LocalTxId, Active>,
    relay_sent_at: IdMap<OutboxId, Instant>,
    /// The pending in-doubt query timer of each prepared step, cancelled by its decision.
    in_doubt_timers: BTreeMap<(GlobalTxId, u16), TimerId>,
    /// Prepared steps whose decision is being forced to the log.
    deciding: std::collections::BTreeSet<(GlobalTxId, u16)>,
    /// A relay tick is scheduled. The relay sleeps while the outbox is empty, so a quiet
    /// system comes to rest instead of polling forever.
    relay_armed: bool,
}

#[derive(Clone, Copy, Debug)]
struct Prepared {
    local: LocalTxId,
    since: Instant,
}

#[derive(Debug)]
struct Active {
    call: LocalCall,
    reply: Reply,
    phase: Phase,
    lock_timer: Option<TimerId>,
    write: Option<RowWrite>,
}

/// Who hears how a call ended.
#[derive(Clone, Copy, Debug)]
enum Reply {
    /// A `LocalReply` to this actor.
    Caller(ActorId),
    /// The participant, and then an ack of this broker delivery.
    Broker {
        topic: TopicId,
        offset: crate::broker::Offset,
    },
    /// The participant only.
    Participant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Looking the call up in the idempotency table.
    CheckReplay,
    /// A compensation looks up its action: applied, never applied, or fenced.
    CheckAction,
    /// A compensation of an action that never applied: it changes nothing, and the fence it
    /// leaves makes the action refuse itself if it arrives late.
    NoOp,
    /// An action whose compensation already ran (fenced): refused, applies nothing.
    Fenced,
    /// Applying the step's write.
    Apply,
    /// Done executing; commits or prepares when its time is up.
    Ready,
    /// A duplicate of a call already applied.
    Replay,
    /// Refused for a business reason; aborts when its time is up.
    Refused,
}

impl Service {
    /// A service of `model` with a fresh database; `owner` is the actor id it will have.
    pub fn new(
        config: ServiceConfig,
        model: Arc<Model>,
        owner: ActorId,
        participant: Option<Box<dyn Participant>>,
    ) -> Self {
        let spec = &model.services[config.id.index()];
        let tables = spec.tables.iter().map(|t| {
            let rows = (0..t.key_count).map(|k| (crate::store::Key(k), Value::Int(t.initial)));
            (t.name.as_str(), rows.collect::<Vec<_>>())
        });
        let db = Database::new(owner, tables)
            .expect("model tables are unique")
            .with_cost(spec.db_cost);
        Service {
            config,
            db,
            participant,
            peers: Vec::new(),
            next_local: 0,
            decided: IdMap::new(),
            prepared: BTreeMap::new(),
            history: History::default(),
            active: IdMap::new(),
            relay_sent_at: IdMap::new(),
            relay_armed: false,
            in_doubt_timers: BTreeMap::new(),
            deciding: std::collections::BTreeSet::new(),
            model,
        }
    }

    /// Makes this service ask `peers` too when in doubt, and answer their questions
    /// (cooperative termination of 2PC).
    pub fn with_peers(mut self, peers: Vec<ActorId>) -> Self {
        self.peers = peers;
        self
    }

    /// Makes room in the history for a run of `requests` requests: about two records per
    /// request for each step this service runs (the call, then a decision, a publication or
    /// a consumption, depending on the strategy).
    pub fn with_expected_requests(mut self, requests: u64) -> Self {
        let own_steps = self
            .model
            .steps
            .iter()
            .filter(|s| s.service == self.config.id)
            .count();
        self.history
            .reserve(requests.saturating_mul(2 * own_steps as u64));
        self
    }

    /// The database, for checks and reports after a run.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// What this service did.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Which service of the model it is.
    pub fn id(&self) -> ServiceId {
        self.config.id
    }

    /// Steps still prepared and waiting for a decision (in doubt).
    pub fn in_doubt_count(&self) -> usize {
        self.prepared.len()
    }

    fn record(&mut self, ctx: &Ctx<'_, Msg>, event: HistoryEvent) {
        self.history.record(ctx.now(), ctx.event_seq(), ctx.me(), event);
    }

    fn token_ok(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, token: Token) -> bool {
        if token == self.config.token {
            return true;
        }
        ctx.count("service.token_rejected", 1);
        let service = self.config.id;
        self.record(ctx, HistoryEvent::TokenRejected { service, caller: src });
        false
    }

    // ----- running local calls -------------------------------------------------------------

    fn start_call(&mut self, ctx: &mut Ctx<'_, Msg>, call: LocalCall, reply: Reply) {
        if call.mode == CallMode::Prepare && self.prepared.contains_key(&(call.gtx, call.step)) {
            // A retried prepare of a step already prepared: vote again.
            self.finish(ctx, call, reply, LocalResult::Prepared);
            return;
        }
        let local = LocalTxId(self.next_local);
        self.next_local += 1;
        let mut session = self.db.access(ctx.me()).expect("a service owns its database");
        session.begin(local, ctx.now()).expect("fresh local tx id");
        let phase = if call.idempotent {
            Phase::CheckReplay
        } else {
            Phase::Apply
        };
        self.active.insert(
            local,
            Active {
                call,
                reply,
                phase,
                lock_timer: None,
                write: None,
            },
        );
        self.advance(ctx, local);
    }

    /// Runs a call's operations until they finish, block or are refused.
    fn advance(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
        let me = ctx.me();
        loop {
            let active = self.active.get(local).expect("advancing an active call");
            let call = active.call;
            let outcome = match active.phase {
                Phase::CheckReplay => {
                    let mut session = self.db.access(me).expect("owner");
                    let outcome = session
                        .check_idempotency(local, idempotency_key(&call))
                        .expect("active tx");
                    outcome.map(|seen| match seen {
                        Some(value) if *value == Value::Int(FENCE) => Phase::Fenced,
                        Some(_) => Phase::Replay,
                        None if call.kind == StepKind::Compensation => Phase::CheckAction,
                        None => Phase::Apply,
                    })
                }
                Phase::CheckAction => {
                    let action = LocalCall {
                        kind: StepKind::Action,
                        ..call
                    };
                    let mut session = self.db.access(me).expect("owner");
                    let outcome = session
                        .check_idempotency(local, idempotency_key(&action))
                        .expect("active tx");
                    let phase = outcome.map(|seen| match seen {
                        Some(value) if *value == Value::Int(FENCE) => Phase::NoOp,
                        Some(_) => Phase::Apply,
                        None => Phase::Fenced, // placeholder: fenced below, then a no-op
                    });
                    if let Outcome::Done(Phase::Fenced) = phase {
                        let fenced =
                            session.record_idempotency(local, idempotency_key(&action), Value::Int(FENCE));
                        assert!(
                            fenced.expect("active tx").is_done(),
                            "the call holds the action's row"
                        );
                        ctx.count("service.compensations_without_action", 1);
                        Outcome::Done(Phase::NoOp)
                    } else {
                        phase
                    }
                }
                Phase::Apply => self.apply(me, local, &call).map(|()| Phase::Ready),
                Phase::Ready | Phase::Replay | Phase::Refused | Phase::NoOp | Phase::Fenced => return,
            };
            match outcome {
                Outcome::Done(next) => {
                    self.active.get_mut(local).expect("active").phase = next;
                    if next == Phase::NoOp
                        && let (Some(event), Relay::Outbox { .. }) = (
                            call.emit_on_commit.map(|kind| call.event(kind)),
                            self.config.relay,
                        )
                    {
                        // A no-op compensation still tells the others it is done.
                        let mut session = self.db.access(me).expect("owner");
                        session
                            .append_outbox(local, encode_event(event))
                            .expect("active tx");
                    }
                    if !matches!(next, Phase::Apply | Phase::CheckAction) {
                        return self.schedule_completion(ctx, local);
                    }
                }
                Outcome::Violated(_) => {
                    self.active.get_mut(local).expect("active").phase = Phase::Refused;
                    return self.schedule_completion(ctx, local);
                }
                Outcome::Blocked(blocked) => {
                    if let Some(deadlock) = blocked.deadlock {
                        ctx.count("service.deadlocks", 1);
                        self.give_up(ctx, deadlock.victim);
                        // Either we were the victim, or the victim's locks went to us and
                        // `wake` has already carried us on.
                        if deadlock.victim == local || !self.db.is_waiting(local) {
                            return;
                        }
                    }
                    let timer = ctx.set_timer(
                        self.config.lock_timeout,
                        Msg::Timer(TimerMsg::LockTimeout { local: local.0 }),
                    );
                    self.active
                        .get_mut(local)
                        .expect("a waiting call is active")
                        .lock_timer = Some(timer);
                    return;
                }
            }
        }
    }

    /// Applies the call's write (and outbox row); records what it changed.
    fn apply(&mut self, me: ActorId, local: LocalTxId, call: &LocalCall) -> Outcome<()> {
        let step = &self.model.steps[usize::from(call.step)];
        let action = match call.kind {
            StepKind::Action => &step.action,
            StepKind::Compensation => &step.compensation,
        };
        let op = action.program(call.keys);
        let write = match &op {
            Op::Add {
                table, key, delta, ..
            } => Some(RowWrite {
                table: table.0,
                key: key.0,
                delta: *delta,
            }),
            Op::Insert { table, key, .. } => Some(RowWrite {
                table: table.0,
                key: key.0,
                delta: action.delta(),
            }),
            // The deleted value is not read; a delete counts as applied with no known delta.
            Op::Delete { table, key } => Some(RowWrite {
                table: table.0,
                key: key.0,
                delta: 0,
            }),
            _ => None,
        };
        let mut session = self.db.access(me).expect("owner");
        let outcome = session
            .apply(local, &op)
            .expect("a valid program on an active tx");
        if outcome.is_done() {
            if let (Some(event), Relay::Outbox { .. }) = (
                call.emit_on_commit.map(|kind| call.event(kind)),
                self.config.relay,
            ) {
                session
                    .append_outbox(local, encode_event(event))
                    .expect("active tx");
            }
            self.active.get_mut(local).expect("active").write = write;
        }
        outcome
    }

    /// Arms the call's completion: processing, the database work done so far, and the work
    /// its end will do (recording the idempotency key and forcing the commit or prepare
    /// record), so the call holds its locks until its log write is durable and the reply
    /// leaves only then. The end's actual cost is then discarded in `complete`.
    fn schedule_completion(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
        let active = self.active.get(local).expect("completing an active call");
        let (call, phase) = (active.call, active.phase);
        let (ops, forced) = match phase {
            Phase::Ready | Phase::NoOp => (u64::from(call.idempotent), 1),
            Phase::Refused if call.idempotent && call.kind == StepKind::Action => (1, 1),
            Phase::Replay | Phase::Refused | Phase::Fenced => (0, 0),
            Phase::CheckReplay | Phase::CheckAction | Phase::Apply => {
                unreachable!("only finished calls complete")
            }
        };
        let processing = self.model.services[self.config.id.index()].processing;
        let delay = processing + self.db.take_cost() + self.db.cost_model().of(ops, forced);
        ctx.set_timer(delay, Msg::Timer(TimerMsg::LocalDone { local: local.0 }));
    }

    /// A call's time is up: commit, prepare or abort it, record it and tell whoever waits.
    fn complete(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
        let Some(active) = self.active.remove(local) else {
            return;
        };
        let (call, now, me) = (active.call, ctx.now(), ctx.me());
        let mut session = self.db.access(me).expect("owner");
        let (result, woken, write) = match active.phase {
            Phase::Ready if call.mode == CallMode::Prepare => {
                if call.idempotent {
                    let recorded = session.record_idempotency(local, idempotency_key(&call), Value::Int(1));
                    assert!(
                        recorded.expect("active tx").is_done(),
                        "the call holds its idempotency row"
                    );
                }
                session.prepare(local).expect("active tx prepares");
                self.prepared
                    .insert((call.gtx, call.step), Prepared { local, since: now });
                if self.config.coordinator.is_some() {
                    let timer = TimerMsg::InDoubt {
                        gtx: call.gtx,
                        step: call.step,
                    };
                    let id = ctx.set_timer(self.config.in_doubt_query_after, Msg::Timer(timer));
                    self.in_doubt_timers.insert((call.gtx, call.step), id);
                }
                (LocalResult::Prepared, Vec::new(), active.write)
            }
            Phase::Ready | Phase::NoOp => {
                if call.idempotent {
                    let recorded = session.record_idempotency(local, idempotency_key(&call), Value::Int(1));
                    assert!(
                        recorded.expect("active tx").is_done(),
                        "the call holds its idempotency row"
                    );
                }
                let woken = session.commit(local, now).expect("active tx commits");
                (LocalResult::Committed, woken, active.write)
            }
            Phase::Replay => {
                let woken = session.commit(local, now).expect("read-only commit");
                let result = if self.prepared.contains_key(&(call.gtx, call.step)) {
                    LocalResult::Prepared
                } else {
                    LocalResult::Committed
                };
                (result, woken, None)
            }
            Phase::Refused if call.idempotent && call.kind == StepKind::Action => {
                // Remember the refusal as a fence (the refused write changed nothing): a
                // duplicate refuses itself the same way, and a compensation is a no-op.
                let fenced = session.record_idempotency(local, idempotency_key(&call), Value::Int(FENCE));
                assert!(
                    fenced.expect("active tx").is_done(),
                    "the call holds its idempotency row"
                );
                let woken = session.commit(local, now).expect("a fence commits");
                (LocalResult::Refused, woken, None)
            }
            Phase::Refused | Phase::Fenced => {
                let woken = session.abort(local, now).expect("active tx aborts");
                (LocalResult::Refused, woken, None)
            }
            Phase::CheckReplay | Phase::CheckAction | Phase::Apply => {
                unreachable!("only finished calls complete")
            }
        };
        // Charged ahead, in `schedule_completion`.
        let _ = self.db.take_cost();
        // A fenced call was recognised by the idempotency table too (its compensation or an
        // earlier refusal left the fence): a replay, so the history tells its refusal apart
        // from a business refusal.
        let replay = matches!(active.phase, Phase::Replay | Phase::Fenced);
        let service = self.config.id;
        let (gtx, step, kind, mode) = (call.gtx, call.step, call.kind, call.mode);
        self.record(
            ctx,
            HistoryEvent::Local {
                service,
                gtx,
                step,
                kind,
                mode,
                result,
                replay,
                write,
            },
        );
        if result == LocalResult::Committed && !replay {
            self.emit(ctx, call.emit_on_commit.map(|kind| call.event(kind)), true);
        }
        if result == LocalResult::Refused {
            self.emit(ctx, call.emit_on_refusal.map(|kind| call.event(kind)), false);
        }
        self.finish(ctx, call, active.reply, result);
        self.wake(ctx, woken);
    }

    /// Gets an event out after a call ended: with an outbox, a commit's event is already a row
    /// (written with the business change) and a refusal's event gets a small local tx of its
    /// own; a dual write publishes after a processing delay, so a crash can fall in between.
    fn emit(&mut self, ctx: &mut Ctx<'_, Msg>, event: Option<DomainEvent>, in_outbox: bool) {
        let Some(event) = event else { return };
        match self.config.relay {
            Relay::None => {}
            Relay::Outbox { .. } if in_outbox => self.arm_relay(ctx),
            Relay::Outbox { .. } => self.write_outbox_row(ctx, event),
            Relay::DualWrite => {
                let processing = self.model.services[self.config.id.index()].processing;
                ctx.set_timer(processing, Msg::Timer(TimerMsg::DualWrite { event }));
            }
        }
    }

    /// The second write of a dual write: publish once, no outbox, no retry.
    fn dual_write(&mut self, ctx: &mut Ctx<'_, Msg>, event: DomainEvent) {
        let broker = self.config.broker.expect("a dual write needs a broker");
        ctx.count("service.dual_writes", 1);
        let publish_id = (u64::from(self.config.id.0) << 48) | self.next_local;
        self.next_local += 1;
        let service = self.config.id;
        self.record(ctx, HistoryEvent::Published { service, event });
        ctx.send(broker, publish(event, publish_id));
    }

    fn write_outbox_row(&mut self, ctx: &mut Ctx<'_, Msg>, event: DomainEvent) {
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
    fn arm_relay(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if let Relay::Outbox { interval } = self.config.relay
            && !self.relay_armed
        {
            self.relay_armed = true;
            ctx.set_timer(interval, Msg::Timer(TimerMsg::RelayTick));
        }
    }

    /// Tells whoever waits for `call` how it ended.
    fn finish(&mut self, ctx: &mut Ctx<'_, Msg>, call: LocalCall, reply: Reply, result: LocalResult) {
        match reply {
            Reply::Caller(caller) => {
                let msg = Msg::LocalReply {
                    gtx: call.gtx,
                    step: call.step,
                    kind: call.kind,
                    result,
                };
                ctx.send(caller, msg);
            }
            // A busy call did nothing: leave the delivery unacknowledged so the broker
            // redelivers it, rather than retrying here too (which would run it twice).
            Reply::Broker { .. } if result == LocalResult::Busy => {}
            Reply::Broker { topic, offset } => {
                self.participant_done(ctx, call, result);
                // A busy call did nothing: leave the delivery unacknowledged so the broker
                // redelivers it, rather than trusting a retry that a crash would forget.
                if result != LocalResult::Busy
                    && let Some(broker) = self.config.broker
                {
                    ctx.send(broker, Msg::Broker(BrokerMsg::Ack { topic, offset }));
                }
            }
            Reply::Participant => self.participant_done(ctx, call, result),
        }
    }

    fn participant_done(&mut self, ctx: &mut Ctx<'_, Msg>, call: LocalCall, result: LocalResult) {
        if let Some(participant) = self.participant.as_mut() {
            let effects = participant.on_local_done(call, result);
            self.apply_effects(ctx, effects, None);
        }
    }

    fn apply_effects(&mut self, ctx: &mut Ctx<'_, Msg>, effects: Vec<Effect>, mut delivery: Option<Reply>) {
        for effect in effects {
            match effect {
                Effect::Run(call) => {
                    let reply = delivery.take().unwrap_or(Reply::Participant);
                    self.start_call(ctx, call, reply);
                }
                Effect::Send(dst, msg) => ctx.send(dst, msg),
            }
        }
        // A delivery that started no local call is acknowledged at once.
        if let (Some(Reply::Broker { topic, offset }), Some(broker)) = (delivery, self.config.broker) {
            ctx.send(broker, Msg::Broker(BrokerMsg::Ack { topic, offset }));
        }
    }

    /// Gives up a call as busy (lock timeout or deadlock victim), releasing its locks.
    fn give_up(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
        let Some(active) = self.active.remove(local) else {
            return;
        };
        if let Some(timer) = active.lock_timer {
            ctx.cancel_timer(timer);
        }
        let mut session = self.db.access(ctx.me()).expect("owner");
        let woken = session.abort(local, ctx.now()).expect("active tx aborts");
        let call = active.call;
        let service = self.config.id;
        let event = HistoryEvent::Local {
            service,
            gtx: call.gtx,
            step: call.step,
            kind: call.kind,
            mode: call.mode,
            result: LocalResult::Busy,
            replay: false,
            write: None,
        };
        self.record(ctx, event);
        // A duplicate prepare that timed out behind its own prepared original is a yes vote,
        // not a no: the step is prepared.
        let result = if call.mode == CallMode::Prepare && self.prepared.contains_key(&(call.gtx, call.step)) {
            LocalResult::Prepared
        } else {
            LocalResult::Busy
        };
        self.finish(ctx, call, active.reply, result);
        self.wake(ctx, woken);
    }

    fn wake(&mut self, ctx: &mut Ctx<'_, Msg>, woken: Vec<LocalTxId>) {
        for local in woken {
            if let Some(active) = self.active.get_mut(local) {
                if let Some(timer) = active.lock_timer.take() {
                    ctx.cancel_timer(timer);
                }
                self.advance(ctx, local);
            }
        }
    }

    // ----- 2PC decisions -------------------------------------------------------------------

    /// A 2PC decision for a prepared step: force it to the log (locks stay held meanwhile),
    /// then apply it and acknowledge (`decision_forced`). A decision for a step not prepared
    /// here (a duplicate, or one never prepared) is acknowledged at once.
    fn decide(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, gtx: GlobalTxId, step: u16, commit: bool) {
        if !self.prepared.contains_key(&(gtx, step)) {
            if !commit {
                self.fence_unprepared(ctx, gtx, step);
            }
            ctx.send(src, Msg::Strategy(StrategyMsg::DecideAck { gtx, step }));
            return;
        }
        if self.deciding.insert((gtx, step)) {
            let force = self.db.cost_model().of(0, 1);
            let timer = TimerMsg::DecisionForced {
                gtx,
                step,
                commit,
                coordinator: src,
            };
            ctx.set_timer(force, Msg::Timer(timer));
        }
    }

    /// An abort decided before this step prepared (its vote was late): give up a prepare
    /// still in progress, and fence the action so a prepare arriving later votes no at once
    /// instead of holding locks in doubt until it asks.
    fn fence_unprepared(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let late: Vec<LocalTxId> = self
            .active
            .iter()
            .filter(|(_, a)| a.call.gtx == gtx && a.call.step == step && a.call.mode == CallMode::Prepare)
            .map(|(local, _)| local)
            .collect();
        for local in late {
            self.give_up(ctx, local);
        }
        let local = LocalTxId(self.next_local);
        self.next_local += 1;
        let action = idempotency_key_of(gtx, step, StepKind::Action);
        let now = ctx.now();
        let mut session = self.db.access(ctx.me()).expect("owner");
        session.begin(local, now).expect("fresh local tx id");
        let fenced = match session.check_idempotency(local, action).expect("active tx") {
            // Never seen: fence it. Already applied or fenced: nothing to do.
            Outcome::Done(None) => session
                .record_idempotency(local, action, Value::Int(FENCE))
                .expect("active tx")
                .is_done(),
            _ => false,
        };
        // A duplicate prepare that got the row first keeps it; it will ask, as before.
        let woken = if fenced {
            session.commit(local, now).expect("a fence commits")
        } else {
            session.abort(local, now).expect("aborts")
        };
        let _ = self.db.take_cost(); // bookkeeping of a decided transaction
        if fenced {
            ctx.count("service.aborted_steps_fenced", 1);
        }
        self.wake(ctx, woken);
    }

    fn decision_forced(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        gtx: GlobalTxId,
        step: u16,
        commit: bool,
        coordinator: ActorId,
    ) {
        self.deciding.remove(&(gtx, step));
        let Some(prepared) = self.prepared.remove(&(gtx, step)) else {
            return;
        };
        if let Some(timer) = self.in_doubt_timers.remove(&(gtx, step)) {
            ctx.cancel_timer(timer);
        }
        let now = ctx.now();
        let mut session = self.db.access(ctx.me()).expect("owner");
        let woken = if commit {
            session.commit(prepared.local, now).expect("prepared tx commits")
        } else {
            session.abort(prepared.local, now).expect("prepared tx aborts")
        };
        let _ = self.db.take_cost(); // charged ahead, in `decide`
        if !self.peers.is_empty() {
            self.decided.insert(gtx, commit);
        }
        let in_doubt_us = (now - prepared.since).as_us();
        let service = self.config.id;
        self.record(
            ctx,
            HistoryEvent::Decided {
                service,
                gtx,
                step,
                commit,
                in_doubt_us,
            },
        );
        ctx.count("service.in_doubt_us", in_doubt_us);
        self.wake(ctx, woken);
        if !commit {
            // The aborted prepare took its idempotency record with it: fence the step so a
            // duplicate or late prepare votes no instead of preparing again.
            self.fence_unprepared(ctx, gtx, step);
        }
        ctx.send(coordinator, Msg::Strategy(StrategyMsg::DecideAck { gtx, step }));
        // With cooperative termination the decision may have come from a peer: the
        // coordinator, whose own decision was dropped while this one was forced, hears too.
        if let Some(own) = self.config.coordinator
            && own != coordinator
        {
            ctx.send(own, Msg::Strategy(StrategyMsg::DecideAck { gtx, step }));
        }
    }

    // ----- outbox relay --------------------------------------------------------------------

    fn relay_tick(&mut self, ctx: &mut Ctx<'_, Msg>) {
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
            if self.relay_sent_at.insert(id, now).is_none() {
                let service = self.config.id;
                self.record(ctx, HistoryEvent::Published { service, event });
            }
            let publish_id = (u64::from(self.config.id.0) << 48) | id.0;
            ctx.send(broker, publish(event, publish_id));
        }
        if !self.db.outbox().is_empty() {
            self.arm_relay(ctx);
        }
    }

    fn published(&mut self, ctx: &mut Ctx<'_, Msg>, publish_id: u64) {
        if self.config.relay == Relay::DualWrite {
            return;
        }
        let id = OutboxId(publish_id & ((1 << 48) - 1));
        self.relay_sent_at.remove(id);
        let mut session = self.db.access(ctx.me()).expect("owner");
        session.mark_published(&[id]);
        // The relay works in the background: its log writes delay no call.
        let _ = self.db.take_cost();
    }

    fn audit_total(&self) -> i64 {
        self.model
            .audit
            .iter()
            .filter(|(service, _)| *service == self.config.id)
            .flat_map(|(_, table)| self.db.rows(*table).filter_map(|(_, v)| v.as_int()))
            .sum()
    }
}

impl Actor<Msg> for Service {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if !self.db.outbox().is_empty() {
            self.arm_relay(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, msg: Msg) {
        match msg {
            Msg::Local(call) => {
                if self.token_ok(ctx, src, call.token) {
                    self.start_call(ctx, call, Reply::Caller(src));
                } else {
                    let result = LocalResult::Unauthorized;
                    ctx.send(
                        src,
                        Msg::LocalReply {
                            gtx: call.gtx,
                            step: call.step,
                            kind: call.kind,
                            result,
                        },
                    );
                }
            }
            Msg::Begin { gtx, keys, token } => {
                if self.token_ok(ctx, src, token)
                    && let Some(participant) = self.participant.as_mut()
                {
                    let effects = participant.on_begin(gtx, keys, token);
                    self.apply_effects(ctx, effects, None);
                }
            }
            Msg::Strategy(StrategyMsg::Decide {
                gtx,
                step,
                commit,
                token,
            }) => {
                if self.token_ok(ctx, src, token) {
                    self.decide(ctx, src, gtx, step, commit);
                }
            }
            Msg::AuditRead { req, token } => {
                if self.token_ok(ctx, src, token) {
                    let total = self.audit_total();
                    let service = self.config.id;
                    // A record of the run only: no message, no draw.
                    self.record(ctx, HistoryEvent::AuditRead { service, req, total });
                    ctx.send(src, Msg::AuditReply { req, total });
                }
            }
            Msg::DirectDbAccess { .. } => {
                if self.db.access(src).is_err() {
                    ctx.count("service.direct_access_refused", 1);
                    let service = self.config.id;
                    self.record(ctx, HistoryEvent::AccessRefused { service, caller: src });
                }
            }
            Msg::Broker(BrokerMsg::Deliver {
                topic,
                offset,
                payload,
                ..
            }) => {
                let service = self.config.id;
                self.record(
                    ctx,
                    HistoryEvent::Consumed {
                        service,
                        event: payload,
                    },
                );
                let token = self.config.token;
                let delivery = Some(Reply::Broker { topic, offset });
                match self.participant.as_mut() {
                    Some(participant) => {
                        let effects = participant.on_event(payload, token);
                        self.apply_effects(ctx, effects, delivery);
                    }
                    None => self.apply_effects(ctx, Vec::new(), delivery),
                }
            }
            Msg::Broker(BrokerMsg::PublishAck { publish_id }) => self.published(ctx, publish_id),
            Msg::Strategy(StrategyMsg::Query { gtx, step }) => {
                // A peer in doubt asks; answer only with a decision applied here.
                if let Some(&commit) = self.decided.get(gtx) {
                    ctx.count("service.cooperative_answers", 1);
                    let token = self.config.token;
                    ctx.send(
                        src,
                        Msg::Strategy(StrategyMsg::Decide {
                            gtx,
                            step,
                            commit,
                            token,
                        }),
                    );
                }
            }
            Msg::Strategy(StrategyMsg::DecideAck { .. }) => {} // a peer applied our answer
            Msg::Broker(_) | Msg::LocalReply { .. } => {
                ctx.count("service.unexpected_messages", 1);
            }
            other => panic!("service got a message it never expects: {other:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Timer(timer) = msg else {
            unreachable!("timers carry TimerMsg")
        };
        match timer {
            TimerMsg::LocalDone { local } => self.complete(ctx, LocalTxId(local)),
            TimerMsg::LockTimeout { local } => {
                let local = LocalTxId(local);
                if let Some(active) = self.active.get_mut(local) {
                    active.lock_timer = None;
                }
                // Only a call still waiting for a lock gives up.
                if self.db.is_waiting(local) {
                    ctx.count("service.lock_timeouts", 1);
                    self.give_up(ctx, local);
                }
            }
            TimerMsg::InDoubt { gtx, step } => {
                if self.prepared.contains_key(&(gtx, step))
                    && let Some(coordinator) = self.config.coordinator
                {
                    ctx.count("service.in_doubt_queries", 1);
                    ctx.send(coordinator, Msg::Strategy(StrategyMsg::Query { gtx, step }));
                    for &peer in &self.peers {
                        ctx.send(peer, Msg::Strategy(StrategyMsg::Query { gtx, step }));
                    }
                    let again = Msg::Timer(TimerMsg::InDoubt { gtx, step });
                    let id = ctx.set_timer(self.config.in_doubt_query_after, again);
                    self.in_doubt_timers.insert((gtx, step), id);
                }
            }
            TimerMsg::DecisionForced {
                gtx,
                step,
                commit,
                coordinator,
            } => self.decision_forced(ctx, gtx, step, commit, coordinator),
            TimerMsg::RelayTick => self.relay_tick(ctx),
            TimerMsg::DualWrite { event } => self.dual_write(ctx, event),
            other => unreachable!("not a service timer: {other:?}"),
        }
    }

    fn retained_bytes(&self) -> usize {
        self.history.retained_bytes() + self.db.retained_bytes() + self.decided.retained_bytes()
    }

    fn on_crash(&mut self, now: Instant) {
        self.db.crash_at(now);
        let _ = self.db.take_cost(); // work lost with the crash delays nobody
        self.active.clear();
        self.relay_sent_at.clear();
        self.relay_armed = false;
        self.in_doubt_timers.clear();
        self.deciding.clear();
        if let Some(participant) = self.participant.as_mut() {
            participant.on_crash();
        }
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.db.recover();
        let _ = self.db.take_cost(); // recovery happens before any call is served
        self.on_start(ctx);
        if self.config.coordinator.is_some() {
            let in_doubt: Vec<(GlobalTxId, u16)> = self.prepared.keys().copied().collect();
            for (gtx, step) in in_doubt {
                ctx.set_timer(Duration::ZERO, Msg::Timer(TimerMsg::InDoubt { gtx, step }));
            }
        }
    }
}

/// The value an action's idempotency row holds once its compensation ran first.
const FENCE: i64 = -1;

/// The idempotency key of a call: one per `(gtx, step, kind)`.
fn idempotency_key(call: &LocalCall) -> IdempotencyKey {
    idempotency_key_of(call.gtx, call.step, call.kind)
}

/// The idempotency key of `(gtx, step, kind)`.
fn idempotency_key_of(gtx: GlobalTxId, step: u16, kind: StepKind) -> IdempotencyKey {
    let kind = match kind {
        StepKind::Action => 0,
        StepKind::Compensation => 1,
    };
    IdempotencyKey((gtx.0 << 17) | (u64::from(step) << 1) | kind)
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

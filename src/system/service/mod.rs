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

mod armed;
mod call;
mod capacity;
mod instances;
mod intrusion;
mod pending;
mod prepared;
mod publish;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::system::model::Capacity;
pub use crate::system::pool::Load;
pub use instances::InstanceCrash;
pub use intrusion::{Intrusion, IntrusionTime};
pub use publish::{Relay, decode_event, encode_event};

use crate::broker::BrokerMsg;
use crate::sim::{ActorId, Duration, IdMap, Instant};
use crate::store::{Database, LocalTxId, OutboxId, Value};
use crate::system::history::{History, HistoryEvent};
use crate::system::model::{Model, ServiceId};
use crate::system::msg::{GlobalTxId, LocalCall, LocalResult, Msg, Token};
use crate::system::participant::{Effect, Participant, PreparedStep, ServiceView};
use crate::system::timer::TimerMsg;
use crate::world::{Actor, Ctx};

use call::{Active, Reply};

/// Marks a participant timer armed by `Effect::Wait`, which is not in `participant_timers`.
const UNTRACKED: u8 = 0x80;

/// A service's wiring and settings.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Which service of the model.
    pub id: ServiceId,
    /// The token valid calls carry.
    pub token: Token,
    /// The broker, if the strategy uses one.
    pub broker: Option<ActorId>,
    /// How events reach the broker.
    pub relay: Relay,
    /// How long a call waits for a lock before giving up as busy.
    pub lock_timeout: Duration,
    /// Its attempts to reach into other services' databases (see `intrusion.rs`).
    pub intrusions: Vec<Intrusion>,
    /// The shared-database anti-pattern: another actor's direct write to its tables lands.
    pub shared_database: bool,
    /// Each instance's workers and queue (default: unbounded).
    pub capacity: Capacity,
    /// Crashes of single instances the scenario asks for.
    pub instance_crashes: Vec<InstanceCrash>,
    /// Its strategy marks saga changes pending, and audits leave them out.
    pub semantic_locks: bool,
}

/// One business service.
#[derive(Debug)]
pub struct Service {
    config: ServiceConfig,
    model: Arc<Model>,
    db: Database,
    participant: Option<Box<dyn Participant>>,
    // Durable.
    next_local: u64,
    prepared: BTreeMap<(GlobalTxId, u16), PreparedStep>,
    history: History,
    // Volatile. Local tx ids come from `next_local` and outbox ids from the database's
    // counter: dense, so these maps are windows of slots ([`IdMap`]).
    active: IdMap<LocalTxId, Active>,
    relay_sent_at: IdMap<OutboxId, Instant>,
    /// A buffer the participant's hooks write their effects into, reused so a hook on the
    /// hot path allocates nothing (a hook inside another's effects gets a fresh one).
    effects: Vec<Effect>,
    /// The participant's armed timers by `(gtx, step, tag)`, so it can disarm them.
    participant_timers: armed::ArmedTimers,
    /// A relay tick is scheduled. The relay sleeps while the outbox is empty, so a quiet
    /// system comes to rest instead of polling forever.
    relay_armed: bool,
    /// Visits of the points its intrusions are aimed at, per intrusion.
    intrusion_visits: Vec<u32>,
    /// Its instances, each with its workers and queue (one, unless the model says).
    instances: Vec<instances::Instance>,
    /// The instance round robin tries next.
    next_instance: u16,
    /// Durable: changes marked pending by semantic locks.
    pending: pending::PendingMarks,
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
            .with_cost(spec.db_cost)
            .with_isolation(spec.isolation, spec.reads == crate::store::ReadGuard::Versioned);
        let intrusion_visits = vec![0; config.intrusions.len()];
        let instances = (0..spec.instances.max(1))
            .map(|_| instances::Instance {
                up: true,
                pool: config
                    .capacity
                    .workers
                    .map(|_| crate::system::pool::Pool::new(config.capacity)),
                running: 0,
            })
            .collect();
        Service {
            config,
            db,
            participant,
            next_local: 0,
            prepared: BTreeMap::new(),
            history: History::default(),
            active: IdMap::new(),
            relay_sent_at: IdMap::new(),
            relay_armed: false,
            intrusion_visits,
            instances,
            next_instance: 0,
            pending: pending::PendingMarks::default(),
            participant_timers: armed::ArmedTimers::default(),
            effects: Vec::new(),
            model,
        }
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

    // ----- the participant ------------------------------------------------------------------

    /// What the participant may read of this service now.
    fn view<'a>(
        ctx: &Ctx<'_, Msg>,
        token: Token,
        db: &Database,
        prepared: &'a BTreeMap<(GlobalTxId, u16), PreparedStep>,
    ) -> ServiceView<'a> {
        ServiceView {
            now: ctx.now(),
            me: ctx.me(),
            token,
            forced_write: db.cost_model().of(0, 1),
            prepared,
        }
    }

    fn participant_done(&mut self, ctx: &mut Ctx<'_, Msg>, call: LocalCall, result: LocalResult) {
        if let Some(participant) = self.participant.as_mut() {
            let effects = participant.on_local_done(call, result);
            self.apply_effects(ctx, effects, None);
        }
    }

    fn apply_effects(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        effects: impl IntoIterator<Item = Effect>,
        mut delivery: Option<Reply>,
    ) {
        for effect in effects {
            match effect {
                Effect::Point(point, gtx) => {
                    self.reach(ctx, point, Some(gtx));
                    if ctx.crashed() {
                        return;
                    }
                }
                Effect::Run(call) => {
                    let reply = delivery.take().unwrap_or(Reply::Participant);
                    self.admit(ctx, call, reply);
                }
                Effect::Send(dst, msg) => ctx.send(dst, msg),
                Effect::SetTimer {
                    gtx,
                    step,
                    tag,
                    arg,
                    after,
                } => {
                    let timer = TimerMsg::Strategy {
                        gtx,
                        step,
                        attempt: arg,
                        tag,
                    };
                    let id = ctx.set_timer(after, Msg::Timer(timer));
                    if let Some(old) = self.participant_timers.insert(gtx, step, tag, id) {
                        ctx.cancel_timer(old);
                    }
                }
                Effect::Wait {
                    gtx,
                    step,
                    tag,
                    arg,
                    after,
                } => {
                    debug_assert!(tag < UNTRACKED, "participant timer tags stay below 128");
                    let timer = TimerMsg::Strategy {
                        gtx,
                        step,
                        attempt: arg,
                        tag: tag | UNTRACKED,
                    };
                    ctx.set_timer(after, Msg::Timer(timer));
                }
                Effect::CancelTimer { gtx, step, tag } => {
                    if let Some(id) = self.participant_timers.remove(gtx, step, tag) {
                        ctx.cancel_timer(id);
                    }
                }
                Effect::ResolvePrepared { gtx, step, commit } => {
                    self.resolve_prepared(ctx, gtx, step, commit)
                }
                Effect::Fence { gtx, step } => self.fence_unprepared(ctx, gtx, step),
                Effect::ForceRecord => {
                    self.db.force_record();
                    let _ = self.db.take_cost(); // the participant waited for it already
                }
                Effect::Count(name, by) => ctx.count(name, by),
                Effect::MarkPending(call) => self.mark_pending(&call),
                Effect::ClearPending(gtx, step) => self.clear_pending(gtx, step),
            }
        }
        // A delivery that started no local call is acknowledged at once.
        if let (Some(Reply::Broker { topic, offset }), Some(broker)) = (delivery, self.config.broker) {
            ctx.send(broker, Msg::Broker(BrokerMsg::Ack { topic, offset }));
        }
    }

    /// The sum of this service's audited tables, read committed.
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
        if ctx.now() == Instant::ZERO {
            self.arm_intrusions(ctx);
        }
        self.arm_instance_crashes(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, msg: Msg) {
        match msg {
            Msg::Local(call) => {
                if self.token_ok(ctx, src, call.token) {
                    self.admit(ctx, call, Reply::Caller(src));
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
            Msg::Protocol(protocol) => {
                if let Some(token) = protocol.token
                    && !self.token_ok(ctx, src, token)
                {
                    return;
                }
                let view = Self::view(ctx, self.config.token, &self.db, &self.prepared);
                match self.participant.as_mut() {
                    Some(participant) => {
                        let mut out = std::mem::take(&mut self.effects);
                        participant.on_message(src, protocol, &view, &mut out);
                        self.apply_effects(ctx, out.drain(..), None);
                        self.effects = out;
                    }
                    None => ctx.count("service.unexpected_messages", 1),
                }
            }
            Msg::AuditRead { req, token } => {
                if self.token_ok(ctx, src, token) {
                    // Changes still pending under a semantic lock are not there yet.
                    let total = self.audit_total() - self.pending_audited();
                    let service = self.config.id;
                    let hides_pending = self.config.semantic_locks;
                    // A record of the run only: no message, no draw.
                    let read = HistoryEvent::AuditRead {
                        service,
                        req,
                        total,
                        hides_pending,
                    };
                    self.record(ctx, read);
                    ctx.send(src, Msg::AuditReply { req, total });
                }
            }
            Msg::DirectDbAccess {
                by,
                during,
                table,
                key,
                delta,
            } => self.on_direct_access(ctx, (src, by, during), (table, key, delta)),
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
            TimerMsg::LocalDone { local, .. } => self.complete(ctx, LocalTxId(local)),
            TimerMsg::LockTimeout { local, .. } => {
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
            TimerMsg::Strategy {
                gtx,
                step,
                attempt,
                tag,
            } => {
                let tag = if tag & UNTRACKED != 0 {
                    tag & !UNTRACKED
                } else {
                    self.participant_timers.remove(gtx, step, tag);
                    tag
                };
                let view = Self::view(ctx, self.config.token, &self.db, &self.prepared);
                if let Some(participant) = self.participant.as_mut() {
                    let mut out = std::mem::take(&mut self.effects);
                    participant.on_timer(gtx, step, tag, attempt, &view, &mut out);
                    self.apply_effects(ctx, out.drain(..), None);
                    self.effects = out;
                }
            }
            TimerMsg::RelayTick => self.relay_tick(ctx),
            TimerMsg::Intrude { index } => self.intrude(ctx, index as usize, None),
            TimerMsg::DualWrite { event } => self.dual_write(ctx, event),
            TimerMsg::Instance { instance, up } => self.instance_event(ctx, instance, up),
            other => unreachable!("not a service timer: {other:?}"),
        }
    }

    fn retained_bytes(&self) -> usize {
        let participant = self.participant.as_ref().map_or(0, |p| p.retained_bytes());
        self.history.retained_bytes() + self.db.retained_bytes() + participant + self.pending_bytes()
    }

    fn on_crash(&mut self, now: Instant) {
        self.db.crash_at(now);
        let _ = self.db.take_cost(); // work lost with the crash delays nobody
        self.active.clear();
        for instance in &mut self.instances {
            instance.running = 0;
            if let Some(pool) = instance.pool.as_mut() {
                pool.crash(now);
            }
        }
        self.relay_sent_at.clear();
        self.relay_armed = false;
        self.participant_timers.clear();
        if let Some(participant) = self.participant.as_mut() {
            participant.on_crash();
        }
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.db.recover();
        let _ = self.db.take_cost(); // recovery happens before any call is served
        self.on_start(ctx);
        let view = Self::view(ctx, self.config.token, &self.db, &self.prepared);
        if let Some(participant) = self.participant.as_mut() {
            let mut out = std::mem::take(&mut self.effects);
            participant.on_recover(&view, &mut out);
            self.apply_effects(ctx, out.drain(..), None);
            self.effects = out;
        }
    }
}

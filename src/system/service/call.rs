//! Running a local call: idempotency check, the step's write, completion after processing
//! and database time, and telling whoever waits.

use crate::sim::{ActorId, Instant};
use crate::store::{IdempotencyKey, Key, LocalTxId, Op, Outcome, Value, Violation};
use crate::system::history::{HistoryEvent, RowWrite};
use crate::system::msg::{CallMode, GlobalTxId, LocalCall, LocalResult, Msg, StepKind};
use crate::system::timer::TimerMsg;
use crate::world::{Ctx, TimerId};

use super::{Relay, Service, encode_event};
use crate::broker::{BrokerMsg, TopicId};
use crate::system::participant::PreparedStep;

#[derive(Debug)]
pub(super) struct Active {
    pub(super) call: LocalCall,
    /// When it arrived (before any wait for a worker): its response time starts here.
    pub(super) arrived: Instant,
    pub(super) reply: Reply,
    pub(super) phase: Phase,
    pub(super) lock_timer: Option<TimerId>,
    pub(super) write: Option<RowWrite>,
    /// The instance running it.
    pub(super) instance: u16,
}

/// Who hears how a call ended.
#[derive(Clone, Copy, Debug)]
pub(super) enum Reply {
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
pub(super) enum Phase {
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
    // ----- running local calls -------------------------------------------------------------

    /// Runs `call`, which arrived at `arrived`, on a worker of `instance` [`Service::admit`]
    /// gave it.
    pub(super) fn start_call(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        (call, reply): (LocalCall, Reply),
        instance: u16,
        arrived: Instant,
    ) {
        self.instances[usize::from(instance)].running += 1;
        if let Some(result) = self.pending_vote(&call) {
            // A retried prepare or reserve of a step already pending: vote again.
            self.finish(ctx, call, reply, result);
            self.release(ctx, instance, arrived);
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
                arrived,
                reply,
                phase,
                lock_timer: None,
                write: None,
                instance,
            },
        );
        self.advance(ctx, local);
    }

    /// Runs a call's operations until they finish, block or are refused.
    pub(super) fn advance(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
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
                Outcome::Violated(Violation::WriteConflict { .. }) => {
                    // Snapshot isolation's first committer won: not a business refusal, a
                    // transaction to abort now and try again, like a deadlock victim.
                    ctx.count("service.write_conflicts", 1);
                    return self.give_up(ctx, local);
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
                        Msg::Timer(TimerMsg::LockTimeout {
                            local: local.0,
                            gtx: call.gtx,
                            step: call.step,
                        }),
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
    pub(super) fn apply(&mut self, me: ActorId, local: LocalTxId, call: &LocalCall) -> Outcome<()> {
        let step = &self.model.steps[usize::from(call.step)];
        let action = match call.kind {
            StepKind::Action => &step.action,
            StepKind::Compensation => &step.compensation,
        };
        let mut op = action.program(call.keys);
        if let Op::ReadThenWrite { guard, .. } = &mut op {
            *guard = self.model.services[self.config.id.index()].reads;
        }
        let write = match &op {
            Op::Add {
                table, key, delta, ..
            }
            | Op::ReadThenWrite {
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
            // The deleted or overwritten value is not read; the write counts as applied with no
            // known delta.
            Op::Delete { table, key } | Op::Put { table, key, .. } => Some(RowWrite {
                table: table.0,
                key: key.0,
                delta: 0,
            }),
            _ => None,
        };
        let mut session = self.db.access(me).expect("owner");
        let hold = hold_key(call.gtx, call.step);
        let outcome = match call.mode {
            // A query runs the action as if to commit; `complete` aborts it.
            CallMode::Commit | CallMode::Prepare | CallMode::Check => session.apply(local, &op),
            // A reservation holds the change decided, as a delta, whatever way it is written.
            CallMode::Reserve => session.hold(local, hold, &op.as_delta()),
            // Nothing held: never reserved, or already released. A confirm must not apply.
            CallMode::Confirm => session.confirm_hold(local, hold).map(|held| match held {
                Outcome::Done(None) => Outcome::Violated(Violation::NotFound {
                    table: action.table(),
                    key: Key(hold.0),
                }),
                other => other.map(drop),
            }),
            // Nothing held is nothing to release (the confirm came first, or no reserve).
            CallMode::Release => session.release_hold(local, hold).map(|held| held.map(drop)),
        }
        .expect("a valid program on an active tx");
        // A hold's end changes data through its decision (`Decided`), not as a step's write.
        let write = write.filter(|_| !matches!(call.mode, CallMode::Confirm | CallMode::Release));
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
    pub(super) fn schedule_completion(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
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
        // A constant draws nothing, so fixed times leave the actor's stream as it was.
        let processing = self.model.services[self.config.id.index()]
            .processing
            .sample(ctx.rng());
        let database = match self.model.services[self.config.id.index()].db_times {
            None => self.db.take_cost() + self.db.cost_model().of(ops, forced),
            // One draw per operation and per forced write, done and about to be done.
            Some(times) => {
                let (done_ops, done_forced) = self.db.take_work();
                let rng = ctx.rng();
                let ops: u64 = (0..done_ops + ops).map(|_| times.op.sample(rng).as_us()).sum();
                let forced: u64 = (0..done_forced + forced)
                    .map(|_| times.forced_write.sample(rng).as_us())
                    .sum();
                crate::sim::Duration::from_us(ops + forced)
            }
        };
        let delay = processing + database;
        let done = TimerMsg::LocalDone {
            local: local.0,
            gtx: call.gtx,
            step: call.step,
        };
        ctx.set_timer(delay, Msg::Timer(done));
    }

    /// A call's time is up: commit, prepare or abort it, record it and tell whoever waits.
    pub(super) fn complete(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
        let Some(active) = self.active.remove(local) else {
            return;
        };
        let (call, now, me) = (active.call, ctx.now(), ctx.me());
        let mut session = self.db.access(me).expect("owner");
        let (result, woken, write) = match active.phase {
            // A query: it would have committed; nothing is kept.
            Phase::Ready if call.mode == CallMode::Check => {
                let woken = session.abort(local, now).expect("active tx aborts");
                (LocalResult::Committed, woken, None)
            }
            Phase::Ready if call.mode == CallMode::Prepare => {
                if call.idempotent {
                    let recorded = session.record_idempotency(local, idempotency_key(&call), Value::Int(1));
                    assert!(
                        recorded.expect("active tx").is_done(),
                        "the call holds its idempotency row"
                    );
                }
                session.prepare(local).expect("active tx prepares");
                let prepared = PreparedStep {
                    local,
                    since: now,
                    held: false,
                };
                self.prepared.insert((call.gtx, call.step), prepared);
                (LocalResult::Prepared, Vec::new(), active.write)
            }
            Phase::Ready if call.mode == CallMode::Reserve => {
                if call.idempotent {
                    let recorded = session.record_idempotency(local, idempotency_key(&call), Value::Int(1));
                    assert!(
                        recorded.expect("active tx").is_done(),
                        "the call holds its idempotency row"
                    );
                }
                let woken = session.commit(local, now).expect("active tx commits");
                let held = PreparedStep {
                    local,
                    since: now,
                    held: true,
                };
                self.prepared.insert((call.gtx, call.step), held);
                (LocalResult::Reserved, woken, active.write)
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
                ctx.note("deduplicated", Some(call.gtx.0));
                let woken = session.commit(local, now).expect("read-only commit");
                let result = self.pending_vote(&call).unwrap_or(LocalResult::Committed);
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
        if call.mode == CallMode::Check {
            // A query changed nothing: no history, no event, no point; only the answer.
            let _ = write;
            self.finish(ctx, call, active.reply, result);
            self.wake(ctx, woken);
            self.release(ctx, active.instance, active.arrived);
            return;
        }
        if matches!(result, LocalResult::Prepared | LocalResult::Reserved)
            && active.phase == Phase::Ready
            && let Some(participant) = self.participant.as_mut()
        {
            // The participant learns of every prepare, whoever asked for it (its timers
            // start here), before the vote leaves.
            let mut out = std::mem::take(&mut self.effects);
            participant.on_prepared(call.gtx, call.step, &mut out);
            self.apply_effects(ctx, out.drain(..), None);
            self.effects = out;
        }
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
            if matches!(mode, CallMode::Confirm | CallMode::Release) {
                self.end_hold(ctx, gtx, step, mode == CallMode::Confirm);
            }
            self.emit(ctx, call.emit_on_commit.map(|kind| call.event(kind)), true);
        }
        if result == LocalResult::Refused {
            self.emit(ctx, call.emit_on_refusal.map(|kind| call.event(kind)), false);
        }
        // Durable now, nothing told yet: where a crash aimed at the commit falls.
        if !replay {
            let point = match result {
                LocalResult::Committed => Some(match mode {
                    CallMode::Confirm => "confirmed",
                    CallMode::Release => "released",
                    _ => "local_commit",
                }),
                LocalResult::Prepared => Some("prepared"),
                LocalResult::Reserved => Some("reserved"),
                _ => None,
            };
            if let Some(point) = point {
                self.reach(ctx, point, Some(gtx));
                if ctx.crashed() {
                    return;
                }
            }
        }
        self.finish(ctx, call, active.reply, result);
        self.wake(ctx, woken);
        self.release(ctx, active.instance, active.arrived);
    }

    /// Tells whoever waits for `call` how it ended.
    pub(super) fn finish(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        call: LocalCall,
        reply: Reply,
        result: LocalResult,
    ) {
        match reply {
            Reply::Caller(caller) => {
                let msg = Msg::LocalReply {
                    gtx: call.gtx,
                    step: call.step,
                    kind: call.kind,
                    result,
                };
                ctx.send(caller, msg);
                if call.mode.is_pending() {
                    self.reach(ctx, "vote_sent", Some(call.gtx));
                }
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

    /// Gives up a call as busy (lock timeout or deadlock victim), releasing its locks.
    pub(super) fn give_up(&mut self, ctx: &mut Ctx<'_, Msg>, local: LocalTxId) {
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
        let result = self.pending_vote(&call).unwrap_or(LocalResult::Busy);
        self.finish(ctx, call, active.reply, result);
        self.wake(ctx, woken);
        self.release(ctx, active.instance, active.arrived);
    }

    /// The vote a prepare or reserve call of a step already pending here gets again: yes.
    fn pending_vote(&self, call: &LocalCall) -> Option<LocalResult> {
        if !call.mode.is_pending() {
            return None;
        }
        let pending = self.prepared.get(&(call.gtx, call.step))?;
        Some(if pending.held {
            LocalResult::Reserved
        } else {
            LocalResult::Prepared
        })
    }

    pub(super) fn wake(&mut self, ctx: &mut Ctx<'_, Msg>, woken: Vec<LocalTxId>) {
        for local in woken {
            if let Some(active) = self.active.get_mut(local) {
                if let Some(timer) = active.lock_timer.take() {
                    ctx.cancel_timer(timer);
                }
                self.advance(ctx, local);
            }
        }
    }
}

/// The value an action's idempotency row holds once its compensation ran first.
pub(super) const FENCE: i64 = -1;

/// The idempotency key of a call: one per `(gtx, step, kind)`, and one more per step for
/// the confirm of its hold (its reserve has the action's, its release the compensation's).
fn idempotency_key(call: &LocalCall) -> IdempotencyKey {
    if call.mode == CallMode::Confirm {
        return IdempotencyKey((call.gtx.0 << 18) | (u64::from(call.step) << 2) | 2);
    }
    idempotency_key_of(call.gtx, call.step, call.kind)
}

/// The idempotency key of `(gtx, step, kind)`.
pub(super) fn idempotency_key_of(gtx: GlobalTxId, step: u16, kind: StepKind) -> IdempotencyKey {
    let kind = match kind {
        StepKind::Action => 0,
        StepKind::Compensation => 1,
    };
    IdempotencyKey((gtx.0 << 18) | (u64::from(step) << 2) | kind)
}

/// The id of step `step` of `gtx`'s hold in the service's database.
pub(super) fn hold_key(gtx: GlobalTxId, step: u16) -> Key {
    Key((gtx.0 << 16) | u64::from(step))
}

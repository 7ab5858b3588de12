//! The orchestrator actor: runs each saga through the state machine of the module
//! documentation.
//!
//! Handlers look a saga up, let `decide` move its log one transition, and
//! carry out the resulting `Command` (a call, a backoff, an outcome). Fault-free, a step
//! costs one map lookup, one timer set and one timer cancelled; nothing is allocated per
//! message and nothing is formatted.

use std::collections::{BTreeMap, VecDeque};

use super::Config;
use crate::sim::{ActorId, IdMap, Instant};
use crate::strategy::Wiring;
use crate::system::model::RequestKeys;
use crate::system::msg::{CallMode, GlobalTxId, LocalCall, LocalResult, Msg, StepKind, Token, TxOutcome};
use crate::system::timer::TimerMsg;
use crate::world::{Actor, Ctx, TimerId};

/// Timer tag bit: set for a backoff, clear for an attempt's deadline.
const TAG_BACKOFF: u8 = 1;
/// Timer tag bit: set when the saga is compensating.
const TAG_COMPENSATING: u8 = 2;
/// Timer tag bit: set for a query's deadline (before the saga starts).
const TAG_QUERY: u8 = 4;

/// The saga execution component: the entry actor of every business transaction.
#[derive(Debug)]
pub struct Orchestrator {
    plan: Plan,
    // Durable: the saga log. Keyed by the gateway's dense transaction ids, so both maps are
    // windows of slots ([`IdMap`]) spanning the sagas in flight or recently finished.
    running: IdMap<GlobalTxId, Saga>,
    finished: IdMap<GlobalTxId, TxOutcome>,
    /// Finished sagas in the order they finished, to forget them after `outcome_retention`.
    finished_order: VecDeque<(Instant, GlobalTxId)>,
    /// Volatile: transactions whose query (the model's `entry_queries`) is in flight, before
    /// their saga starts.
    querying: BTreeMap<GlobalTxId, Query>,
}

/// A query in flight: what the saga will need, and its attempt and deadline.
#[derive(Clone, Copy, Debug)]
struct Query {
    keys: RequestKeys,
    attempt: u16,
    timer: TimerId,
}

/// What does not change during a run: settings and where to send things.
#[derive(Debug)]
struct Plan {
    config: Config,
    gateway: ActorId,
    token: Token,
    /// The actor running each step, indexed by step.
    step_actors: Vec<ActorId>,
    /// The step whose service the orchestrator asks before starting a saga, if any.
    query_step: Option<u16>,
}

/// One running saga: its durable log entry and its volatile retry state.
#[derive(Clone, Copy, Debug)]
struct Saga {
    log: SagaLog,
    /// Volatile: the attempt in flight (1-based) at the current step; 0 after a crash.
    attempt: u16,
    /// Volatile: the pending deadline or backoff timer.
    timer: Option<TimerId>,
}

/// What the orchestrator writes down before each call it makes.
#[derive(Clone, Copy, Debug)]
struct SagaLog {
    keys: RequestKeys,
    /// Forward: the step being run; compensating: the step being compensated.
    step: u16,
    compensating: bool,
    /// Bit `i`: step `i`'s action is known committed and not yet compensated.
    committed: u64,
    /// It started on a query's yes: a refusal of the queried step then shows the query's
    /// answer was outdated by the time the step ran.
    queried: bool,
}

/// What a transition asks the orchestrator to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    /// Call the (new) current step, attempt 1.
    Call,
    /// Wait a backoff, then call the current step again.
    Backoff,
    /// The saga is over.
    Finish(TxOutcome),
}

impl Orchestrator {
    /// An orchestrator for the run `wiring` describes.
    pub fn new(config: Config, wiring: &Wiring) -> Self {
        let step_count = wiring.model.steps.len();
        assert!(
            (1..=64).contains(&step_count),
            "a saga has 1 to 64 steps (the log keeps one bit per step), this model has {step_count}"
        );
        let plan = Plan {
            config,
            gateway: wiring.gateway,
            token: wiring.token,
            step_actors: (0..step_count as u16).map(|s| wiring.step_service(s)).collect(),
            query_step: wiring.model.entry_queries,
        };
        Orchestrator {
            plan,
            running: IdMap::new(),
            finished: IdMap::new(),
            finished_order: VecDeque::new(),
            querying: BTreeMap::new(),
        }
    }

    /// Sagas started and not yet finished (after a quiet run: stuck ones).
    pub fn unfinished_count(&self) -> usize {
        self.running.len()
    }

    /// Finished sagas whose outcome is still kept for gateway retries.
    pub fn finished_count(&self) -> usize {
        self.finished.len()
    }

    // ----- events --------------------------------------------------------------------------

    fn on_begin(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys, token: Token) {
        if token != self.plan.token {
            ctx.count("saga_orchestrated.token_rejected", 1);
            return;
        }
        if let Some(&outcome) = self.finished.get(gtx) {
            ctx.count("saga_orchestrated.outcomes_resent", 1);
            ctx.send(self.plan.gateway, Msg::Outcome { gtx, outcome });
            return;
        }
        if self.running.contains_key(gtx) || self.querying.contains_key(&gtx) {
            // A gateway retry of a saga still running or asked about: it answers when done.
            return;
        }
        if self.plan.query_step.is_some() {
            return self.send_query(ctx, gtx, keys, 1);
        }
        self.start(ctx, gtx, keys, false);
    }

    /// Logs a new saga and calls its first step.
    fn start(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys, queried: bool) {
        let saga = Saga {
            log: SagaLog {
                keys,
                step: 0,
                compensating: false,
                committed: 0,
                queried,
            },
            attempt: 0,
            timer: None,
        };
        self.running.insert(gtx, saga);
        ctx.point("saga_logged", Some(gtx.0));
        if let Some(saga) = self.running.get_mut(gtx)
            && !ctx.crashed()
        {
            self.plan.call(ctx, gtx, saga);
        }
    }

    /// Asks the queried step's service whether the step would commit now (attempt
    /// `attempt`), and arms the query's deadline.
    fn send_query(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys, attempt: u16) {
        let step = self.plan.query_step.expect("asked only with a query step");
        let call = LocalCall {
            gtx,
            step,
            kind: StepKind::Action,
            mode: CallMode::Check,
            keys,
            idempotent: false,
            emit_on_commit: None,
            emit_on_refusal: None,
            token: self.plan.token,
        };
        ctx.send(self.plan.step_actors[usize::from(step)], Msg::Local(call));
        ctx.count("saga_orchestrated.queries", 1);
        let deadline = TimerMsg::Strategy {
            gtx,
            step,
            attempt,
            tag: TAG_QUERY,
        };
        let timer = ctx.set_timer(self.plan.config.step_timeout, Msg::Timer(deadline));
        self.querying.insert(gtx, Query { keys, attempt, timer });
    }

    /// The query's answer: start the saga on a yes, abort it on a no; busy waits for the
    /// deadline to ask again.
    fn on_query_reply(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, result: LocalResult) {
        let yes = match result {
            LocalResult::Committed => true,
            LocalResult::Refused => false,
            _ => return,
        };
        let Some(query) = self.querying.remove(&gtx) else {
            return;
        };
        ctx.cancel_timer(query.timer);
        if yes {
            self.start(ctx, gtx, query.keys, true);
        } else {
            ctx.count("saga_orchestrated.refused_on_query", 1);
            self.finish(ctx, gtx, TxOutcome::Aborted);
        }
    }

    /// No answer to a query in time: ask again, up to `retry_max` more times, then abort.
    fn on_query_deadline(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, attempt: u16) {
        let Some(query) = self.querying.get(&gtx).copied() else {
            return;
        };
        if query.attempt != attempt {
            return;
        }
        if attempt <= self.plan.config.retry_max {
            return self.send_query(ctx, gtx, query.keys, attempt + 1);
        }
        self.querying.remove(&gtx);
        ctx.count("saga_orchestrated.queries_given_up", 1);
        self.finish(ctx, gtx, TxOutcome::Aborted);
    }

    fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        gtx: GlobalTxId,
        step: u16,
        kind: StepKind,
        result: LocalResult,
    ) {
        if self.querying.contains_key(&gtx) && Some(step) == self.plan.query_step && kind == StepKind::Action
        {
            return self.on_query_reply(ctx, gtx, result);
        }
        let Some(saga) = self.running.get_mut(gtx) else {
            return; // a late or duplicate reply to a finished saga
        };
        if saga.log.step != step || saga.log.compensating != (kind == StepKind::Compensation) {
            return; // a late or duplicate reply to an earlier call
        }
        if result == LocalResult::Refused
            && saga.log.queried
            && !saga.log.compensating
            && Some(step) == self.plan.query_step
        {
            ctx.count("saga_orchestrated.refused_after_query", 1);
        }
        let result = match result {
            LocalResult::Committed | LocalResult::Refused | LocalResult::Busy => result,
            LocalResult::Prepared | LocalResult::Reserved | LocalResult::Unauthorized => {
                unreachable!("the orchestrator sends commit-mode calls with the gateway's token")
            }
        };
        if result == LocalResult::Busy {
            ctx.count("saga_orchestrated.busy", 1);
        }
        if let Some(outcome) = self.plan.transition(ctx, gtx, saga, Some(result)) {
            self.finish(ctx, gtx, outcome);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16, attempt: u16, tag: u8) {
        if tag & TAG_QUERY != 0 {
            return self.on_query_deadline(ctx, gtx, attempt);
        }
        let Some(saga) = self.running.get_mut(gtx) else {
            return;
        };
        let current = saga.log.step == step
            && saga.attempt == attempt
            && saga.log.compensating == (tag & TAG_COMPENSATING != 0);
        if !current {
            return; // cancelled timers never fire; this only guards against a logic slip
        }
        saga.timer = None;
        if tag & TAG_BACKOFF != 0 {
            self.plan.send_attempt(ctx, gtx, saga, attempt.saturating_add(1));
        } else {
            ctx.count("saga_orchestrated.deadlines", 1);
            if let Some(outcome) = self.plan.transition(ctx, gtx, saga, None) {
                self.finish(ctx, gtx, outcome);
            }
        }
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, outcome: TxOutcome) {
        self.running.remove(gtx);
        self.finished.insert(gtx, outcome);
        let now = ctx.now();
        self.finished_order.push_back((now, gtx));
        self.forget_old_outcomes(now);
        ctx.send(self.plan.gateway, Msg::Outcome { gtx, outcome });
    }

    /// Forgets outcomes older than `outcome_retention`: memory follows what is in flight, not
    /// the length of the run.
    fn forget_old_outcomes(&mut self, now: Instant) {
        while let Some(&(at, gtx)) = self.finished_order.front() {
            if now - at < self.plan.config.outcome_retention {
                break;
            }
            self.finished_order.pop_front();
            self.finished.remove(gtx);
        }
    }
}

impl Plan {
    fn last_step(&self) -> u16 {
        (self.step_actors.len() - 1) as u16
    }

    /// Moves a saga one transition on the result of its current call (`None`: no answer in
    /// time) and carries out what follows, except finishing: that outcome is returned.
    fn transition(
        &self,
        ctx: &mut Ctx<'_, Msg>,
        gtx: GlobalTxId,
        saga: &mut Saga,
        result: Option<LocalResult>,
    ) -> Option<TxOutcome> {
        if let Some(timer) = saga.timer.take() {
            ctx.cancel_timer(timer);
        }
        match decide(self, (gtx, &mut saga.log), saga.attempt, result, ctx) {
            Command::Call => self.call(ctx, gtx, saga),
            Command::Backoff => {
                ctx.count("saga_orchestrated.retries", 1);
                let delay = self.config.backoff(saga.attempt, ctx.rng());
                let timer = TimerMsg::Strategy {
                    gtx,
                    step: saga.log.step,
                    attempt: saga.attempt,
                    tag: TAG_BACKOFF | tag_of(&saga.log),
                };
                saga.timer = Some(ctx.set_timer(delay, Msg::Timer(timer)));
            }
            Command::Finish(outcome) => return Some(outcome),
        }
        None
    }

    /// Calls the saga's current step afresh (attempt 1).
    fn call(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, saga: &mut Saga) {
        self.send_attempt(ctx, gtx, saga, 1);
    }

    /// Sends attempt `attempt` of the current call and arms its deadline.
    fn send_attempt(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, saga: &mut Saga, attempt: u16) {
        let log = &saga.log;
        let call = LocalCall {
            gtx,
            step: log.step,
            kind: if log.compensating {
                StepKind::Compensation
            } else {
                StepKind::Action
            },
            mode: CallMode::Commit,
            keys: log.keys,
            idempotent: self.config.idempotency,
            emit_on_commit: None,
            emit_on_refusal: None,
            token: self.token,
        };
        ctx.send(self.step_actors[usize::from(log.step)], Msg::Local(call));
        ctx.point("step_called", Some(gtx.0));
        let timer = TimerMsg::Strategy {
            gtx,
            step: log.step,
            attempt,
            tag: tag_of(log),
        };
        saga.attempt = attempt;
        saga.timer = Some(ctx.set_timer(self.config.deadline(), Msg::Timer(timer)));
    }
}

/// The state machine's transition on the result of the current call (`None`: no answer
/// before the deadline). Updates the log and says what to do next.
fn decide(
    plan: &Plan,
    (gtx, log): (GlobalTxId, &mut SagaLog),
    attempt: u16,
    result: Option<LocalResult>,
    ctx: &mut Ctx<'_, Msg>,
) -> Command {
    let (config, step) = (&plan.config, log.step);
    match (log.compensating, result) {
        (false, Some(LocalResult::Committed)) => {
            log.committed |= 1 << step;
            ctx.point("step_committed", Some(gtx.0));
            if step == plan.last_step() {
                return Command::Finish(TxOutcome::Committed);
            }
            log.step += 1;
            Command::Call
        }
        (false, Some(LocalResult::Refused)) => {
            // A business failure: nothing applied here, and an idempotent service remembers
            // the refusal as a fence, so late copies of this call refuse too. Undo the steps
            // before it.
            if step == 0 {
                return Command::Finish(TxOutcome::Aborted);
            }
            ctx.count("saga_orchestrated.compensations", 1);
            log.compensating = true;
            log.step -= 1;
            ctx.point("compensation_started", Some(gtx.0));
            Command::Call
        }
        (false, _) if attempt < config.retry_max => Command::Backoff,
        (false, _) => {
            // Still unknown after every attempt: compensate this step too. If the action
            // never applied, its compensation is a no-op that fences a late action.
            ctx.count("saga_orchestrated.gave_up", 1);
            ctx.count("saga_orchestrated.compensations", 1);
            log.compensating = true;
            ctx.point("compensation_started", Some(gtx.0));
            Command::Call
        }
        (true, Some(LocalResult::Committed | LocalResult::Refused)) => {
            // A compensation never fails for a business reason; a refusal would be a model
            // error, and retrying it could not help.
            if result == Some(LocalResult::Refused) {
                ctx.count("saga_orchestrated.compensations_refused", 1);
            }
            compensated(log)
        }
        (true, _) if config.compensation_retries => Command::Backoff,
        (true, _) => {
            ctx.count("saga_orchestrated.compensations_abandoned", 1);
            compensated(log)
        }
    }
}

/// The current compensation is done (or abandoned): move to the step before it.
fn compensated(log: &mut SagaLog) -> Command {
    log.committed &= !(1 << log.step);
    if log.step == 0 {
        return Command::Finish(TxOutcome::Aborted);
    }
    log.step -= 1;
    Command::Call
}

fn tag_of(log: &SagaLog) -> u8 {
    if log.compensating { TAG_COMPENSATING } else { 0 }
}

impl Actor<Msg> for Orchestrator {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        match msg {
            Msg::Begin { gtx, keys, token } => self.on_begin(ctx, gtx, keys, token),
            Msg::LocalReply {
                gtx,
                step,
                kind,
                result,
            } => self.on_reply(ctx, gtx, step, kind, result),
            _ => ctx.count("saga_orchestrated.unexpected_messages", 1),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        match msg {
            Msg::Timer(TimerMsg::Strategy {
                gtx,
                step,
                attempt,
                tag,
            }) => self.on_timer(ctx, gtx, step, attempt, tag),
            other => unreachable!("not an orchestrator timer: {other:?}"),
        }
    }

    fn retained_bytes(&self) -> usize {
        use crate::world::footprint::vec_bytes;
        self.running.retained_bytes()
            + self.finished.retained_bytes()
            + vec_bytes::<(Instant, GlobalTxId)>(self.finished_order.len())
    }

    fn on_crash(&mut self, _now: Instant) {
        // The log survives; attempt counters, timers and queries do not (the kernel drops
        // the timers; a gateway retry asks again).
        self.querying.clear();
        for saga in self.running.values_mut() {
            saga.attempt = 0;
            saga.timer = None;
        }
    }

    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let mut resumed = 0;
        for (gtx, saga) in self.running.iter_mut() {
            self.plan.call(ctx, gtx, saga);
            resumed += 1;
        }
        if resumed > 0 {
            ctx.count("saga_orchestrated.resumed", resumed);
        }
    }
}

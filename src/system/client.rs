//! The client: replays a workload plan drawn before the run, one request per planned
//! arrival, whatever the system does (an open workload: slow answers do not slow arrivals).
//!
//! It records in its history when it sent each request and when it got the first answer, so
//! availability and end-to-end latency are measured where a user would measure them: a
//! request lost on the way to the gateway, or an answer lost on the way back, counts.

use crate::net::Probability;
use crate::sim::{ActorId, Duration, Instant};
use crate::system::history::{History, HistoryEvent};
use crate::system::msg::{ClientRequest, Msg, RequestId};
use crate::system::timer::TimerMsg;
use crate::workload::PlannedRequest;
use crate::world::{Actor, Ctx};

/// The client actor.
#[derive(Debug)]
pub struct Client {
    gateway: ActorId,
    credentials: u64,
    unauthenticated: Probability,
    plan: Vec<PlannedRequest>,
    /// Responses received, duplicates included (durable: a record of the run).
    pub responses: u64,
    /// Per planned request, when it was sent, until its first answer takes it (a record of
    /// the run: it survives crashes).
    sent: Vec<Option<Instant>>,
    history: History,
}

impl Client {
    /// A client sending `plan` to `gateway` with `credentials`, leaving them out of a share
    /// `unauthenticated` of requests (drawn from the client's own stream).
    pub fn new(
        gateway: ActorId,
        credentials: u64,
        unauthenticated: Probability,
        plan: Vec<PlannedRequest>,
    ) -> Self {
        let plan_len = plan.len() as u64;
        Client {
            gateway,
            credentials,
            unauthenticated,
            sent: vec![None; plan.len()],
            plan,
            responses: 0,
            history: {
                let mut history = History::default();
                history.reserve(2 * plan_len);
                history
            },
        }
    }

    /// What the client saw: each request sent and its first answer.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Planned requests it has not sent yet: a run stopped by a limit before the workload
    /// was done leaves some.
    pub fn unsent(&self) -> u64 {
        let sent = self
            .history
            .records()
            .iter()
            .filter(|r| matches!(r.event, crate::system::history::HistoryEvent::ClientSent { .. }))
            .count();
        (self.plan.len() - sent) as u64
    }

    fn schedule(&self, ctx: &mut Ctx<'_, Msg>, index: usize) {
        if let Some(request) = self.plan.get(index) {
            let after = Duration::from_us(request.at.as_us().saturating_sub(ctx.now().as_us()));
            ctx.set_timer(after, Msg::Timer(TimerMsg::Arrival { index: index as u32 }));
        }
    }
}

impl Actor<Msg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.schedule(ctx, 0);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        let Msg::Response { req, outcome } = msg else {
            return;
        };
        self.responses += 1;
        let slot = usize::try_from(req.0).ok().and_then(|i| self.sent.get_mut(i));
        // Never sent (a stray answer) or already answered (a duplicate): nothing to record.
        let Some(sent_at) = slot.and_then(Option::take) else {
            return;
        };
        let latency_us = (ctx.now() - sent_at).as_us();
        let event = HistoryEvent::ClientAnswered {
            req,
            outcome,
            latency_us,
        };
        self.history.record(ctx.now(), ctx.event_seq(), ctx.me(), event);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        let Msg::Timer(TimerMsg::Arrival { index }) = msg else {
            unreachable!("clients only set arrival timers")
        };
        let planned = self.plan[index as usize];
        let anonymous = self.unauthenticated.sample(ctx.rng());
        let request = ClientRequest {
            req: RequestId(u64::from(index)),
            key: planned.key,
            other: planned.key2,
            audit: planned.audit,
            credentials: (!anonymous).then_some(self.credentials),
        };
        ctx.send(self.gateway, Msg::Request(request));
        self.sent[index as usize] = Some(ctx.now());
        let event = HistoryEvent::ClientSent {
            req: request.req,
            audit: request.audit,
            authenticated: !anonymous,
        };
        self.history.record(ctx.now(), ctx.event_seq(), ctx.me(), event);
        self.schedule(ctx, index as usize + 1);
    }

    fn retained_bytes(&self) -> usize {
        use crate::world::footprint::vec_bytes;
        vec_bytes::<PlannedRequest>(self.plan.len())
            + vec_bytes::<Option<Instant>>(self.sent.len())
            + self.history.retained_bytes()
    }

    fn on_crash(&mut self, _now: Instant) {}

    /// Resumes with the first request due from now on: those due while it was down were
    /// never sent (the client was down), and none is sent twice.
    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let next = self.plan.partition_point(|request| request.at < now);
        self.schedule(ctx, next);
    }
}

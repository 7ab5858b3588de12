//! The client: replays a workload plan drawn before the run, one request per planned
//! arrival, whatever the system does (an open workload: slow answers do not slow arrivals).

use crate::net::Probability;
use crate::sim::{ActorId, Duration};
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
    /// Responses received, by outcome order of arrival (durable: a record of the run).
    pub responses: u64,
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
        Client {
            gateway,
            credentials,
            unauthenticated,
            plan,
            responses: 0,
        }
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

    fn on_message(&mut self, _ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        if let Msg::Response { .. } = msg {
            self.responses += 1;
        }
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
        self.schedule(ctx, index as usize + 1);
    }

    fn retained_bytes(&self) -> usize {
        crate::world::footprint::vec_bytes::<PlannedRequest>(self.plan.len())
    }

    fn on_crash(&mut self) {}

    /// Resumes with the first request due from now on: those due while it was down were
    /// never sent (the client was down), and none is sent twice.
    fn on_recover(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let now = ctx.now();
        let next = self.plan.partition_point(|request| request.at < now);
        self.schedule(ctx, next);
    }
}

//! The API gateway: the single entry point clients talk to.
//!
//! It authenticates clients (a request without valid credentials is refused and counted),
//! gives each business request a global transaction id and a deadline, hands it to the
//! strategy's entry actor, retries with the same id when the deadline passes, and answers
//! the client. Audit requests fan out to every service holding audited tables and sum their
//! read-committed answers, which is how isolation anomalies become visible.

use crate::sim::{ActorId, Duration, IdMap, Instant};
use crate::system::history::{History, HistoryEvent};
use crate::system::model::RequestKeys;
use crate::system::msg::{ClientRequest, GlobalTxId, Msg, RequestId, RequestOutcome, Token, TxOutcome};
use crate::system::timer::TimerMsg;
use crate::world::{Actor, Ctx, TimerId};

/// The gateway's wiring and policy.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Stamped on every internal call.
    pub token: Token,
    /// What a client must present.
    pub credentials: u64,
    /// Where business requests go: the strategy's entry actor.
    pub entry: ActorId,
    /// Services an audit reads.
    pub audited: Vec<ActorId>,
    /// How long to wait for an outcome before retrying.
    pub request_timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u16,
}

/// The gateway actor.
#[derive(Debug)]
pub struct Gateway {
    config: GatewayConfig,
    // Durable: transaction ids are never reused, and a request seen before a crash is still
    // the same request after it.
    next_gtx: u64,
    /// Requests seen, with their answer once given: a duplicated or retried request is the
    /// same request (the request id is the client's idempotency key), never a new order.
    /// Request and transaction ids are dense (the client's plan index, the gateway's
    /// counter), so these maps are windows of slots ([`IdMap`]).
    seen: IdMap<RequestId, Option<RequestOutcome>>,
    // Volatile: a crashed gateway forgets what it was waiting for.
    pending: IdMap<GlobalTxId, Pending>,
    audits: IdMap<RequestId, PendingAudit>,
    // A record of the run.
    history: History,
}

#[derive(Debug)]
struct Pending {
    req: RequestId,
    client: ActorId,
    keys: RequestKeys,
    attempt: u16,
    started: Instant,
    timer: TimerId,
}

#[derive(Debug)]
struct PendingAudit {
    client: ActorId,
    started: Instant,
    answered: Vec<ActorId>,
    total: i64,
    deadline: TimerId,
}

impl Gateway {
    /// A gateway with this policy.
    pub fn new(config: GatewayConfig) -> Self {
        Gateway {
            config,
            next_gtx: 0,
            pending: IdMap::new(),
            audits: IdMap::new(),
            seen: IdMap::new(),
            history: History::default(),
        }
    }

    /// Makes room in the history for a run of `requests` requests: two records each (its
    /// start and its answer).
    pub fn with_expected_requests(mut self, requests: u64) -> Self {
        self.history.reserve(requests.saturating_mul(2));
        self
    }

    /// What the gateway saw: requests, outcomes, latencies, audits.
    pub fn history(&self) -> &History {
        &self.history
    }

    fn record(&mut self, ctx: &Ctx<'_, Msg>, event: HistoryEvent) {
        self.history.record(ctx.now(), ctx.event_seq(), ctx.me(), event);
    }

    fn answer(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        client: ActorId,
        req: RequestId,
        gtx: Option<GlobalTxId>,
        started: Instant,
        outcome: RequestOutcome,
    ) {
        self.seen.insert(req, Some(outcome));
        let latency_us = (ctx.now() - started).as_us();
        self.record(
            ctx,
            HistoryEvent::RequestEnded {
                req,
                gtx,
                outcome,
                latency_us,
            },
        );
        ctx.send(client, Msg::Response { req, outcome });
    }

    fn on_request(&mut self, ctx: &mut Ctx<'_, Msg>, client: ActorId, request: ClientRequest) {
        let req = request.req;
        match self.seen.get(req) {
            Some(Some(outcome)) => {
                ctx.count("gateway.duplicate_requests", 1);
                ctx.note("duplicate request answered again", None);
                ctx.send(
                    client,
                    Msg::Response {
                        req,
                        outcome: *outcome,
                    },
                );
                return;
            }
            Some(None) => {
                ctx.count("gateway.duplicate_requests", 1);
                ctx.note("duplicate request dropped", None);
                return;
            }
            None => {
                self.seen.insert(req, None);
            }
        }
        if request.credentials != Some(self.config.credentials) {
            ctx.count("gateway.unauthorized", 1);
            self.record(
                ctx,
                HistoryEvent::RequestStarted {
                    req,
                    gtx: None,
                    audit: request.audit,
                },
            );
            self.answer(ctx, client, req, None, ctx.now(), RequestOutcome::Unauthorized);
            return;
        }
        if request.audit {
            self.record(
                ctx,
                HistoryEvent::RequestStarted {
                    req,
                    gtx: None,
                    audit: true,
                },
            );
            if self.config.audited.is_empty() {
                // A model that audits nothing: the (empty) sum is known at once.
                self.record(
                    ctx,
                    HistoryEvent::Audit {
                        req,
                        total: 0,
                        complete: true,
                    },
                );
                self.answer(ctx, client, req, None, ctx.now(), RequestOutcome::AuditDone);
                return;
            }
            for &service in &self.config.audited {
                ctx.send(
                    service,
                    Msg::AuditRead {
                        req,
                        token: self.config.token,
                    },
                );
            }
            let deadline = ctx.set_timer(
                self.config.request_timeout,
                Msg::Timer(TimerMsg::AuditDeadline { req }),
            );
            let audit = PendingAudit {
                client,
                started: ctx.now(),
                answered: Vec::new(),
                total: 0,
                deadline,
            };
            self.audits.insert(req, audit);
            return;
        }
        let gtx = GlobalTxId(self.next_gtx);
        self.next_gtx += 1;
        ctx.count("gateway.started", 1);
        self.record(
            ctx,
            HistoryEvent::RequestStarted {
                req,
                gtx: Some(gtx),
                audit: false,
            },
        );
        let keys = RequestKeys {
            key: request.key,
            other: request.other,
            tx: gtx.0,
        };
        let timer = self.begin(ctx, gtx, keys, 0);
        self.pending.insert(
            gtx,
            Pending {
                req,
                client,
                keys,
                attempt: 0,
                started: ctx.now(),
                timer,
            },
        );
    }

    fn begin(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, keys: RequestKeys, attempt: u16) -> TimerId {
        ctx.send(
            self.config.entry,
            Msg::Begin {
                gtx,
                keys,
                token: self.config.token,
            },
        );
        ctx.set_timer(
            self.config.request_timeout,
            Msg::Timer(TimerMsg::GatewayDeadline { gtx, attempt }),
        )
    }

    fn on_outcome(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, outcome: TxOutcome) {
        let Some(pending) = self.pending.remove(gtx) else {
            ctx.count("gateway.late_outcomes", 1);
            return;
        };
        ctx.cancel_timer(pending.timer);
        let outcome = match outcome {
            TxOutcome::Committed => RequestOutcome::Committed,
            TxOutcome::Aborted => RequestOutcome::Aborted,
            TxOutcome::Accepted => RequestOutcome::Accepted,
        };
        self.answer(
            ctx,
            pending.client,
            pending.req,
            Some(gtx),
            pending.started,
            outcome,
        );
    }

    fn on_deadline(&mut self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, attempt: u16) {
        let Some(pending) = self.pending.get(gtx) else {
            return;
        };
        if pending.attempt != attempt {
            return;
        }
        if attempt < self.config.retries {
            ctx.count("gateway.retries", 1);
            let keys = pending.keys;
            let timer = self.begin(ctx, gtx, keys, attempt + 1);
            let pending = self.pending.get_mut(gtx).expect("still pending");
            pending.attempt = attempt + 1;
            pending.timer = timer;
        } else {
            ctx.count("gateway.timeouts", 1);
            let pending = self.pending.remove(gtx).expect("still pending");
            self.answer(
                ctx,
                pending.client,
                pending.req,
                Some(gtx),
                pending.started,
                RequestOutcome::TimedOut,
            );
        }
    }

    fn on_audit_reply(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, req: RequestId, total: i64) {
        let Some(audit) = self.audits.get_mut(req) else {
            return;
        };
        if audit.answered.contains(&src) {
            return;
        }
        audit.answered.push(src);
        audit.total += total;
        if audit.answered.len() == self.config.audited.len() {
            let audit = self.audits.remove(req).expect("present");
            ctx.cancel_timer(audit.deadline);
            self.record(
                ctx,
                HistoryEvent::Audit {
                    req,
                    total: audit.total,
                    complete: true,
                },
            );
            self.answer(
                ctx,
                audit.client,
                req,
                None,
                audit.started,
                RequestOutcome::AuditDone,
            );
        }
    }

    fn on_audit_deadline(&mut self, ctx: &mut Ctx<'_, Msg>, req: RequestId) {
        let Some(audit) = self.audits.remove(req) else {
            return;
        };
        self.record(
            ctx,
            HistoryEvent::Audit {
                req,
                total: audit.total,
                complete: false,
            },
        );
        self.answer(
            ctx,
            audit.client,
            req,
            None,
            audit.started,
            RequestOutcome::TimedOut,
        );
    }
}

impl Actor<Msg> for Gateway {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, src: ActorId, msg: Msg) {
        match msg {
            Msg::Request(request) => self.on_request(ctx, src, request),
            Msg::Outcome { gtx, outcome } => self.on_outcome(ctx, gtx, outcome),
            Msg::AuditReply { req, total } => self.on_audit_reply(ctx, src, req, total),
            other => {
                ctx.count("gateway.unexpected_messages", 1);
                debug_assert!(
                    matches!(other, Msg::Broker(_) | Msg::LocalReply { .. } | Msg::Protocol(_)),
                    "{other:?}"
                );
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, msg: Msg) {
        match msg {
            Msg::Timer(TimerMsg::GatewayDeadline { gtx, attempt }) => self.on_deadline(ctx, gtx, attempt),
            Msg::Timer(TimerMsg::AuditDeadline { req }) => self.on_audit_deadline(ctx, req),
            other => unreachable!("not a gateway timer: {other:?}"),
        }
    }

    fn retained_bytes(&self) -> usize {
        self.history.retained_bytes()
            + self.seen.retained_bytes()
            + self.pending.retained_bytes()
            + self.audits.retained_bytes()
    }

    fn on_crash(&mut self, _now: Instant) {
        self.pending.clear();
        self.audits.clear();
    }

    fn on_recover(&mut self, _ctx: &mut Ctx<'_, Msg>) {}
}

//! The machinery a choreographed saga and eventual consistency share: who subscribes to
//! which event, and the participant each service runs (one for every step it owns).
//!
//! The two strategies differ only in when the gateway hears about a business transaction
//! ([`Answer`]) and in whether the entry service keeps a read model of the other steps.

use crate::strategy::ProtocolPoint;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::broker::TopicId;
use crate::sim::{ActorId, IdMap};
use crate::strategy::Wiring;
use crate::system::model::{Model, RequestKeys, ServiceId};
use crate::system::msg::{
    CallMode, DomainEvent, EventKind, GlobalTxId, LocalCall, LocalResult, Msg, ProtocolMsg, StepKind, Token,
    TxOutcome,
};
use crate::system::participant::{Effect, Participant};

/// When the gateway is told how a business transaction went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A saga answers once the end is known: `Committed` when the last step commits,
    /// `Aborted` when step 0 is refused or compensated.
    AtEnd,
    /// Eventual consistency answers `Accepted` as soon as step 0 commits (`Aborted` if it is
    /// refused); the rest happens, or is undone, in the background.
    AtFirstCommit,
}

/// How a choreography is set up; built by each strategy from its own config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choreography {
    /// Consumers dedupe by `(gtx, step, kind)`; off is the broken twin.
    pub idempotent_consumers: bool,
    /// The entry answers the gateway's retries with what it knows; off is the broken twin
    /// (a retry re-runs step 0 and nobody answers it).
    pub answer_retries: bool,
    /// When the gateway is answered.
    pub answer: Answer,
    /// The entry service also consumes every domain event, to keep a read model of the
    /// other steps (eventual consistency's replica of the state it does not own).
    pub read_model: bool,
    /// Step changes stay marked pending until the saga completes (`service/pending.rs`):
    /// every step owner also hears the last step's `Done`, which unmarks the transaction.
    pub semantic_lock: bool,
}

impl Choreography {
    /// Who receives which topic: `Done(k)` goes to the owner of step k+1 (run it),
    /// `Failed(k)` and `Compensated(k)` to the owner of step k-1 (undo it); with a read model,
    /// the entry service receives every topic too. Each subscriber is listed once per topic,
    /// so a service owning both ends of an event gets it once.
    pub fn subscriptions(&self, wiring: &Wiring) -> BTreeMap<TopicId, Vec<ActorId>> {
        let step_count = step_count(&wiring.model);
        let mut subscriptions = BTreeMap::new();
        for step in 0..step_count {
            if step + 1 < step_count {
                let next = wiring.step_service(step + 1);
                subscribe(
                    &mut subscriptions,
                    DomainEvent::topic_of(EventKind::Done, step),
                    next,
                );
            }
            if step > 0 {
                let previous = wiring.step_service(step - 1);
                subscribe(
                    &mut subscriptions,
                    DomainEvent::topic_of(EventKind::Failed, step),
                    previous,
                );
                subscribe(
                    &mut subscriptions,
                    DomainEvent::topic_of(EventKind::Compensated, step),
                    previous,
                );
            }
        }
        if self.semantic_lock {
            let done = DomainEvent::topic_of(EventKind::Done, step_count - 1);
            for step in 0..step_count - 1 {
                subscribe(&mut subscriptions, done, wiring.step_service(step));
            }
        }
        if self.read_model {
            let entry = wiring.step_service(0);
            for step in 0..step_count {
                for kind in [EventKind::Done, EventKind::Failed, EventKind::Compensated] {
                    subscribe(&mut subscriptions, DomainEvent::topic_of(kind, step), entry);
                }
            }
        }
        subscriptions
    }

    /// The participant of `service`: it runs every step the service owns.
    pub fn participant(&self, service: ServiceId, wiring: &Wiring) -> Box<dyn Participant> {
        Box::new(StepOwner {
            service,
            model: Arc::clone(&wiring.model),
            gateway: wiring.gateway,
            idempotent_consumers: self.idempotent_consumers,
            answer_retries: self.answer_retries,
            answer: self.answer,
            last_owner: wiring.step_service(step_count(&wiring.model) - 1),
            known: IdMap::new(),
            semantic_lock: self.semantic_lock,
            // The entry keeps a replica when it consumes every event and the model asks it
            // to decide on one.
            replica: (self.read_model && wiring.step_service(0) == wiring.service(service))
                .then(|| super::replica::Replica::of(&wiring.model))
                .flatten(),
        })
    }
}

/// A service's half of a choreography: it turns `Begin` and delivered events into local
/// calls of the steps it owns, and reacts when they end (see the module docs of
/// [`crate::strategy::saga_choreographed`] for the state machine). In a saga that answers at
/// the end, the services at both ends also keep, durably, what they know of each
/// transaction, to answer the gateway's retries: the last step tells the gateway once, and if
/// that `Outcome` is lost, a retried `Begin` reaches the entry, which asks the last step's
/// service (only then: a retry costs two messages, a transaction that needs none costs
/// nothing).
#[derive(Debug)]
pub(crate) struct StepOwner {
    service: ServiceId,
    model: Arc<Model>,
    gateway: ActorId,
    idempotent_consumers: bool,
    answer_retries: bool,
    answer: Answer,
    /// The service of the last step, which the entry asks on a retry.
    last_owner: ActorId,
    /// Durable, in a saga that answers at the end: at the entry, transactions begun and
    /// those it saw end aborted (step 0 refused or compensated); at the last step's service,
    /// those that committed.
    known: IdMap<GlobalTxId, Known>,
    /// At the entry, with a read model: its replica of the step the model checks before
    /// accepting (durable, as a read model's table is).
    replica: Option<super::replica::Replica>,
    /// Marks each step's change pending until the saga completes ([`Choreography`]).
    semantic_lock: bool,
}

/// What a step owner knows of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    /// The entry ran its first `Begin`.
    Begun,
    /// It ended so.
    Ended(TxOutcome),
}

/// The entry asks the last step's service whether a transaction committed (`ProtocolMsg`
/// kind; the answer goes straight to the gateway).
const ASK_COMMITTED: u8 = 0;

/// A step owner's step committed: a point of every strategy built on the choreography.
pub const STEP_COMMITTED: ProtocolPoint = ProtocolPoint::new(
    "step owner",
    "step_committed",
    "its step committed, its event in the outbox",
);

/// A failure event turned a step owner back: a point of every choreography too.
pub const COMPENSATION_STARTED: ProtocolPoint = ProtocolPoint::new(
    "step owner",
    "compensation_started",
    "a failure event turned it back",
);

/// The names of the choreography's own messages, indexed by their `kind` numbers.
pub const MESSAGE_KINDS: &[&str] = &["AskCommitted"];

impl StepOwner {
    /// What an event asks of this service: `Done(k)` runs step k+1 here if this service owns
    /// it; `Failed(k)` and `Compensated(k)` undo step k-1 here if this service owns it.
    /// Anything else (read-model events, events of steps owned elsewhere) needs no local call.
    fn react(&mut self, event: DomainEvent, token: Token) -> Vec<Effect> {
        let (gtx, keys) = (event.gtx, event.keys);
        match event.kind {
            EventKind::Done => {
                let next = event.step + 1;
                if next <= self.last_step() && self.owns(next) {
                    return vec![self.action(gtx, next, keys, token, self.idempotent_consumers)];
                }
            }
            EventKind::Failed | EventKind::Compensated => {
                if let Some(previous) = event.step.checked_sub(1)
                    && self.owns(previous)
                {
                    let turned_back = Effect::Point("compensation_started", gtx);
                    return vec![turned_back, self.compensation(gtx, previous, keys, token)];
                }
            }
        }
        Vec::new()
    }

    fn owns(&self, step: u16) -> bool {
        self.model
            .steps
            .get(usize::from(step))
            .is_some_and(|spec| spec.service == self.service)
    }

    fn last_step(&self) -> u16 {
        step_count(&self.model) - 1
    }

    /// Step `step`'s action: `Done` goes out with the change, `Failed` on a refusal.
    fn action(
        &self,
        gtx: GlobalTxId,
        step: u16,
        keys: RequestKeys,
        token: Token,
        idempotent: bool,
    ) -> Effect {
        Effect::Run(LocalCall {
            gtx,
            step,
            kind: StepKind::Action,
            mode: CallMode::Commit,
            keys,
            idempotent,
            emit_on_commit: Some(EventKind::Done),
            emit_on_refusal: Some(EventKind::Failed),
            token,
        })
    }

    /// Step `step`'s compensation: `Compensated` goes out with the undo.
    fn compensation(&self, gtx: GlobalTxId, step: u16, keys: RequestKeys, token: Token) -> Effect {
        Effect::Run(LocalCall {
            gtx,
            step,
            kind: StepKind::Compensation,
            mode: CallMode::Commit,
            keys,
            idempotent: self.idempotent_consumers,
            emit_on_commit: Some(EventKind::Compensated),
            emit_on_refusal: None,
            token,
        })
    }

    /// After a refusal, an idempotent compensation of the refused action: the action never
    /// applied, so the service records a fence and changes nothing, and a late duplicate of
    /// the action then refuses itself instead of applying after the saga has turned back.
    /// It emits nothing, which is how [`is_fence`] tells it from a real undo.
    fn fence(refused: LocalCall) -> Effect {
        Effect::Run(LocalCall {
            kind: StepKind::Compensation,
            idempotent: true,
            emit_on_commit: None,
            emit_on_refusal: None,
            ..refused
        })
    }

    fn tell_gateway(&self, gtx: GlobalTxId, outcome: TxOutcome) -> Effect {
        Effect::Send(self.gateway, Msg::Outcome { gtx, outcome })
    }

    fn action_committed(&mut self, call: LocalCall) -> Vec<Effect> {
        // The mark goes with the commit, before a crash aimed at the point could separate
        // them; the last step's change completes the saga and needs none.
        if self.semantic_lock && call.step != self.last_step() {
            let mut effects = vec![Effect::MarkPending(call)];
            effects.extend(self.action_committed_unmarked(call));
            return effects;
        }
        self.action_committed_unmarked(call)
    }

    fn action_committed_unmarked(&mut self, call: LocalCall) -> Vec<Effect> {
        let committed = Effect::Point("step_committed", call.gtx);
        if self.answer == Answer::AtEnd && call.step == self.last_step() {
            self.known.insert(call.gtx, Known::Ended(TxOutcome::Committed));
        }
        let outcome = match self.answer {
            Answer::AtEnd if call.step == self.last_step() => TxOutcome::Committed,
            Answer::AtFirstCommit if call.step == 0 => TxOutcome::Accepted,
            Answer::AtEnd | Answer::AtFirstCommit => return vec![committed],
        };
        let mut effects = vec![committed, self.tell_gateway(call.gtx, outcome)];
        if outcome == TxOutcome::Accepted {
            effects.push(Effect::Point("accepted", call.gtx));
        }
        effects
    }

    fn action_refused(&mut self, call: LocalCall) -> Vec<Effect> {
        let mut effects = Vec::new();
        if call.idempotent {
            effects.push(Self::fence(call));
        }
        if call.step == 0 {
            self.learn(call.gtx, TxOutcome::Aborted);
            effects.push(self.tell_gateway(call.gtx, TxOutcome::Aborted));
        }
        effects
    }

    fn compensation_committed(&mut self, call: LocalCall) -> Vec<Effect> {
        // An undone change is no longer pending (a fence undid nothing, and clears nothing).
        let mut effects = Vec::new();
        if self.semantic_lock && !is_fence(&call) {
            effects.push(Effect::ClearPending(call.gtx, Some(call.step)));
        }
        if is_fence(&call) || call.step != 0 || self.answer != Answer::AtEnd {
            return effects;
        }
        self.learn(call.gtx, TxOutcome::Aborted);
        effects.push(self.tell_gateway(call.gtx, TxOutcome::Aborted));
        effects
    }

    /// The entry of a saga that answers at the end notes how `gtx` ended.
    fn learn(&mut self, gtx: GlobalTxId, outcome: TxOutcome) {
        if self.answer == Answer::AtEnd && self.owns(0) {
            self.known.insert(gtx, Known::Ended(outcome));
        }
    }
}

impl Participant for StepOwner {
    /// Runs step 0. The gateway's retries carry the same `gtx`, so the action is idempotent
    /// whatever [`Choreography::idempotent_consumers`] says: the twin breaks only the
    /// consumers of broker events.
    fn on_begin(&mut self, gtx: GlobalTxId, keys: RequestKeys, token: Token) -> Vec<Effect> {
        if !self.owns(0) {
            return Vec::new();
        }
        if let Some(replica) = &mut self.replica {
            // A retried `Begin` gets the first answer again, counted once.
            let (verdict, first) = replica.decide(gtx, keys);
            let refuses = verdict == super::replica::Verdict::Refuses;
            let mut out: Vec<Effect> = match (first, refuses) {
                (false, _) => Vec::new(),
                (true, true) => vec![Effect::Count("eventual.refused_on_replica", 1)],
                (true, false) => vec![Effect::Count("eventual.accepted_on_replica", 1)],
            };
            out.push(match refuses {
                true => self.tell_gateway(gtx, TxOutcome::Aborted),
                false => self.action(gtx, 0, keys, token, true),
            });
            return out;
        }
        if self.answer != Answer::AtEnd || !self.answer_retries {
            return vec![self.action(gtx, 0, keys, token, true)];
        }
        match self.known.get(gtx).copied() {
            // A retry of a transaction the entry saw abort: the gateway missed its outcome.
            Some(Known::Ended(outcome)) => vec![
                Effect::Count("saga_choreographed.retries_answered", 1),
                self.tell_gateway(gtx, outcome),
            ],
            // A retry of one still running or committed: step 0 again (idempotent), and ask
            // the last step's service, which answers the gateway if it committed.
            Some(Known::Begun) => {
                let ask = ProtocolMsg {
                    gtx,
                    step: self.last_step(),
                    kind: ASK_COMMITTED,
                    wire_bytes: u8::try_from(crate::system::wire::ID).expect("small"),
                    arg: 0,
                    token: None,
                };
                vec![
                    Effect::Count("saga_choreographed.retries_asked", 1),
                    Effect::Send(self.last_owner, Msg::Protocol(ask)),
                    self.action(gtx, 0, keys, token, true),
                ]
            }
            None => {
                self.known.insert(gtx, Known::Begun);
                vec![self.action(gtx, 0, keys, token, true)]
            }
        }
    }

    /// The entry asks whether a transaction committed: if its last step did here, the
    /// gateway is told again.
    fn on_message(
        &mut self,
        _src: ActorId,
        msg: ProtocolMsg,
        _service: &crate::system::participant::ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        if msg.kind == ASK_COMMITTED && self.known.get(msg.gtx) == Some(&Known::Ended(TxOutcome::Committed)) {
            out.push(Effect::Count("saga_choreographed.retries_answered", 1));
            out.push(self.tell_gateway(msg.gtx, TxOutcome::Committed));
        }
    }

    /// An event updates the entry's replica, if it keeps one, then moves the saga
    /// ([`StepOwner::react`]).
    fn on_event(&mut self, event: DomainEvent, token: Token) -> Vec<Effect> {
        // The replica takes the event in first; the event still moves the saga below.
        let outdated = self.replica.as_mut().is_some_and(|r| r.observe(&event));
        let mut out = Vec::new();
        if outdated {
            out.push(Effect::Count("eventual.accepted_on_outdated_replica", 1));
        }
        // The last step's `Done`: the saga is complete, nothing here is pending any more.
        if self.semantic_lock && event.kind == EventKind::Done && event.step == self.last_step() {
            out.push(Effect::ClearPending(event.gtx, None));
        }
        out.extend(self.react(event, token));
        out
    }

    fn on_local_done(&mut self, call: LocalCall, result: LocalResult) -> Vec<Effect> {
        match (call.kind, result) {
            // Nothing was applied (a lock timeout). For a broker delivery the service does not
            // call this hook: the unacknowledged delivery comes back. A call started by
            // `Begin` has no delivery behind it, so it is tried again here.
            (_, LocalResult::Busy) => vec![Effect::Run(call)],
            (StepKind::Action, LocalResult::Committed) => self.action_committed(call),
            (StepKind::Action, LocalResult::Refused) => self.action_refused(call),
            (StepKind::Compensation, LocalResult::Committed) => self.compensation_committed(call),
            // A compensation is never refused (it has no bounds and is never fenced); calls
            // carry the right token and never prepare.
            (
                _,
                LocalResult::Refused
                | LocalResult::Prepared
                | LocalResult::Reserved
                | LocalResult::Unauthorized,
            ) => Vec::new(),
        }
    }

    fn retained_bytes(&self) -> usize {
        self.replica
            .as_ref()
            .map_or(0, super::replica::Replica::retained_bytes)
            + self.known.retained_bytes()
    }
}

/// Whether `call` is the fence [`StepOwner::fence`] runs after a refusal.
fn is_fence(call: &LocalCall) -> bool {
    call.kind == StepKind::Compensation && call.emit_on_commit.is_none()
}

#[cfg(test)]
fn event(kind: EventKind, gtx: GlobalTxId, step: u16, keys: RequestKeys) -> DomainEvent {
    DomainEvent {
        kind,
        gtx,
        step,
        keys,
    }
}

fn step_count(model: &Model) -> u16 {
    let count = u16::try_from(model.steps.len()).expect("a model has fewer than 65536 steps");
    assert!(count > 0, "a business transaction has at least one step");
    count
}

fn subscribe(subscriptions: &mut BTreeMap<TopicId, Vec<ActorId>>, topic: TopicId, subscriber: ActorId) {
    let subscribers = subscriptions.entry(topic).or_default();
    if !subscribers.contains(&subscriber) {
        subscribers.push(subscriber);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assembly::TOKEN;
    use crate::strategy::saga_choreographed::testing::wiring;
    use crate::system::examples::{bank_transfer, food_delivery};

    const GTX: GlobalTxId = GlobalTxId(7);
    const KEYS: RequestKeys = RequestKeys {
        key: 1,
        other: 2,
        tx: 7,
    };

    /// A participant as `Choreography::participant` builds it, concrete so tests can call it.
    fn owner(model: Model, service: u16, answer: Answer) -> StepOwner {
        StepOwner {
            service: ServiceId(service),
            model: Arc::new(model),
            gateway: ActorId(1),
            idempotent_consumers: true,
            answer_retries: true,
            answer,
            last_owner: ActorId(9),
            known: IdMap::new(),
            replica: None,
            semantic_lock: false,
        }
    }

    fn runs(effects: &[Effect]) -> Vec<(u16, StepKind, bool)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Run(call) => Some((call.step, call.kind, call.emit_on_commit.is_some())),
                _ => None,
            })
            .collect()
    }

    fn outcomes(effects: &[Effect]) -> Vec<TxOutcome> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(_, Msg::Outcome { outcome, .. }) => Some(*outcome),
                _ => None,
            })
            .collect()
    }

    fn done(step: u16) -> DomainEvent {
        event(EventKind::Done, GTX, step, KEYS)
    }

    #[test]
    fn each_event_is_routed_to_the_owner_of_the_step_it_moves() {
        // food_delivery: order (step 0) → payment (1) → restaurant (2) → delivery (3).
        let wiring = wiring(food_delivery());
        let saga = Choreography {
            answer_retries: true,
            idempotent_consumers: true,
            answer: Answer::AtEnd,
            read_model: false,
            semantic_lock: false,
        };
        let subscriptions = saga.subscriptions(&wiring);
        let to = |kind, step| subscriptions.get(&DomainEvent::topic_of(kind, step)).cloned();
        assert_eq!(to(EventKind::Done, 0), Some(vec![wiring.step_service(1)]));
        assert_eq!(to(EventKind::Done, 2), Some(vec![wiring.step_service(3)]));
        assert_eq!(
            to(EventKind::Done, 3),
            None,
            "nobody acts on the last step's event"
        );
        assert_eq!(to(EventKind::Failed, 3), Some(vec![wiring.step_service(2)]));
        assert_eq!(to(EventKind::Compensated, 1), Some(vec![wiring.step_service(0)]));
        assert_eq!(
            to(EventKind::Failed, 0),
            None,
            "step 0's refusal is answered directly"
        );
        let with_view = Choreography {
            answer_retries: true,
            read_model: true,
            ..saga
        };
        let subscriptions = with_view.subscriptions(&wiring);
        assert_eq!(subscriptions.len(), 12, "every (kind, step) topic");
        assert_eq!(
            subscriptions[&DomainEvent::topic_of(EventKind::Compensated, 1)],
            vec![wiring.step_service(0)],
            "the entry is listed once even when it also acts on the event"
        );
    }

    #[test]
    fn a_refused_step_fences_itself_and_only_step_zero_answers_aborted() {
        let mut bank_b = owner(bank_transfer(), 1, Answer::AtEnd);
        let effects = bank_b.on_event(done(0), TOKEN);
        assert_eq!(runs(&effects), [(1, StepKind::Action, true)]);
        let Effect::Run(credit) = effects[0] else {
            unreachable!()
        };
        assert_eq!(credit.emit_on_refusal, Some(EventKind::Failed));
        let refused = bank_b.on_local_done(credit, LocalResult::Refused);
        assert_eq!(
            runs(&refused),
            [(1, StepKind::Compensation, false)],
            "a fence, emitting nothing"
        );
        assert!(outcomes(&refused).is_empty());
        let Effect::Run(fence) = refused[0] else {
            unreachable!()
        };
        assert!(
            bank_b.on_local_done(fence, LocalResult::Committed).is_empty(),
            "a fence is no undo"
        );

        let mut bank_a = owner(bank_transfer(), 0, Answer::AtEnd);
        let begin = bank_a.on_begin(GTX, KEYS, TOKEN);
        let Effect::Run(debit) = begin[0] else {
            unreachable!()
        };
        let refused = bank_a.on_local_done(debit, LocalResult::Refused);
        assert_eq!(runs(&refused), [(0, StepKind::Compensation, false)]);
        assert_eq!(outcomes(&refused), [TxOutcome::Aborted]);
    }

    #[test]
    fn compensation_walks_back_one_step_per_event_and_step_zero_answers_aborted() {
        let mut bank_a = owner(bank_transfer(), 0, Answer::AtEnd);
        let failed = event(EventKind::Failed, GTX, 1, KEYS);
        let effects = bank_a.on_event(failed, TOKEN);
        assert_eq!(runs(&effects), [(0, StepKind::Compensation, true)]);
        let Some(&Effect::Run(undo)) = effects.iter().find(|e| matches!(e, Effect::Run(_))) else {
            unreachable!()
        };
        assert_eq!(undo.emit_on_commit, Some(EventKind::Compensated));
        assert_eq!(
            outcomes(&bank_a.on_local_done(undo, LocalResult::Committed)),
            [TxOutcome::Aborted]
        );
        assert!(
            bank_a.on_event(done(1), TOKEN).is_empty(),
            "no step follows the last"
        );
        let mut bank_b = owner(bank_transfer(), 1, Answer::AtEnd);
        assert!(
            bank_b.on_event(failed, TOKEN).is_empty(),
            "bank_b owns no step before 1"
        );
    }

    #[test]
    fn the_saga_answers_at_the_last_commit_and_eventual_at_the_first() {
        let mut saga_b = owner(bank_transfer(), 1, Answer::AtEnd);
        let Effect::Run(credit) = saga_b.on_event(done(0), TOKEN)[0] else {
            unreachable!()
        };
        assert_eq!(
            outcomes(&saga_b.on_local_done(credit, LocalResult::Committed)),
            [TxOutcome::Committed]
        );
        let mut saga_a = owner(bank_transfer(), 0, Answer::AtEnd);
        let Effect::Run(debit) = saga_a.on_begin(GTX, KEYS, TOKEN)[0] else {
            unreachable!()
        };
        assert!(outcomes(&saga_a.on_local_done(debit, LocalResult::Committed)).is_empty());

        let mut eventual_a = owner(bank_transfer(), 0, Answer::AtFirstCommit);
        assert_eq!(
            outcomes(&eventual_a.on_local_done(debit, LocalResult::Committed)),
            [TxOutcome::Accepted]
        );
        let mut eventual_b = owner(bank_transfer(), 1, Answer::AtFirstCommit);
        assert!(outcomes(&eventual_b.on_local_done(credit, LocalResult::Committed)).is_empty());
        let undo = LocalCall {
            kind: StepKind::Compensation,
            ..debit
        };
        assert!(
            eventual_a.on_local_done(undo, LocalResult::Committed).is_empty(),
            "eventual answered long ago"
        );
    }

    #[test]
    fn a_busy_call_is_run_again_unchanged() {
        let mut bank_a = owner(bank_transfer(), 0, Answer::AtEnd);
        let Effect::Run(debit) = bank_a.on_begin(GTX, KEYS, TOKEN)[0] else {
            unreachable!()
        };
        assert_eq!(
            bank_a.on_local_done(debit, LocalResult::Busy),
            [Effect::Run(debit)]
        );
    }

    #[test]
    fn a_retry_asks_the_last_step_s_service_which_answers_if_it_committed() {
        let model = food_delivery();
        let last = step_count(&model) - 1;
        let mut entry = owner(model.clone(), 1, Answer::AtEnd); // order owns step 0
        // The first `Begin` runs step 0 and asks nobody.
        let first = entry.on_begin(GTX, KEYS, TOKEN);
        assert_eq!(runs(&first), [(0, StepKind::Action, true)]);
        assert!(!first.iter().any(|e| matches!(e, Effect::Send(..))));
        // A retry runs step 0 again (idempotent) and asks the last step's service.
        let retry = entry.on_begin(GTX, KEYS, TOKEN);
        let ask = retry
            .iter()
            .find_map(|e| match e {
                Effect::Send(to, Msg::Protocol(ask)) => Some((*to, *ask)),
                _ => None,
            })
            .expect("the retry asks");
        assert_eq!(ask.0, ActorId(9));
        // The last step's service answers the gateway only once its step committed.
        let mut last_owner = owner(model, 0, Answer::AtEnd); // delivery owns the last step
        let view_prepared = std::collections::BTreeMap::new();
        let view = crate::system::participant::ServiceView {
            now: crate::sim::Instant::ZERO,
            me: ActorId(9),
            token: TOKEN,
            forced_write: crate::sim::Duration::from_ms(1),
            prepared: &view_prepared,
        };
        let mut out = Vec::new();
        last_owner.on_message(ActorId(5), ask.1, &view, &mut out);
        assert!(outcomes(&out).is_empty(), "not committed yet: no answer");
        let call = LocalCall {
            gtx: GTX,
            step: last,
            kind: StepKind::Action,
            mode: CallMode::Commit,
            keys: KEYS,
            idempotent: true,
            emit_on_commit: Some(EventKind::Done),
            emit_on_refusal: Some(EventKind::Failed),
            token: TOKEN,
        };
        assert_eq!(
            outcomes(&last_owner.on_local_done(call, LocalResult::Committed)),
            [TxOutcome::Committed]
        );
        last_owner.on_message(ActorId(5), ask.1, &view, &mut out);
        assert_eq!(outcomes(&out), [TxOutcome::Committed]);
    }
}

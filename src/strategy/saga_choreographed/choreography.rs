//! The machinery a choreographed saga and eventual consistency share: who subscribes to
//! which event, and the participant each service runs (one for every step it owns).
//!
//! The two strategies differ only in when the gateway hears about a business transaction
//! ([`Answer`]) and in whether the entry service keeps a read model of the other steps.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::broker::TopicId;
use crate::sim::{ActorId, IdMap};
use crate::strategy::Wiring;
use crate::system::model::{Model, RequestKeys, ServiceId};
use crate::system::msg::{
    CallMode, DomainEvent, EventKind, GlobalTxId, LocalCall, LocalResult, Msg, StepKind, Token, TxOutcome,
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
    /// When the gateway is answered.
    pub answer: Answer,
    /// The entry service also consumes every domain event, to keep a read model of the
    /// other steps (eventual consistency's replica of the state it does not own).
    pub read_model: bool,
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
        if self.answer == Answer::AtEnd && step_count > 1 {
            // The entry answers the gateway's retries: it must hear that the last step
            // committed, since that step's own `Outcome` may be the message that was lost.
            let last = DomainEvent::topic_of(EventKind::Done, step_count - 1);
            subscribe(&mut subscriptions, last, wiring.step_service(0));
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
            answer: self.answer,
            known: IdMap::new(),
        })
    }
}

/// A service's half of a choreography: it turns `Begin` and delivered events into local
/// calls of the steps it owns, and reacts when they end (see the module docs of
/// [`crate::strategy::saga_choreographed`] for the state machine). The entry service also
/// keeps, durably, how each transaction ended as far as it knows, to answer the gateway's
/// retries: the last step tells the gateway once, and if that message is lost, the retried
/// `Begin` that reaches the entry is the only one left to answer it.
#[derive(Debug)]
pub(crate) struct StepOwner {
    service: ServiceId,
    model: Arc<Model>,
    gateway: ActorId,
    idempotent_consumers: bool,
    answer: Answer,
    /// Durable, at the entry of a saga that answers at the end: transactions whose end it
    /// knows (the last step committed, or step 0 was refused or compensated).
    known: IdMap<GlobalTxId, TxOutcome>,
}

impl StepOwner {
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

    fn action_committed(&self, call: LocalCall) -> Vec<Effect> {
        let outcome = match self.answer {
            Answer::AtEnd if call.step == self.last_step() => TxOutcome::Committed,
            Answer::AtFirstCommit if call.step == 0 => TxOutcome::Accepted,
            Answer::AtEnd | Answer::AtFirstCommit => return Vec::new(),
        };
        vec![self.tell_gateway(call.gtx, outcome)]
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
        if is_fence(&call) || call.step != 0 || self.answer != Answer::AtEnd {
            return Vec::new();
        }
        self.learn(call.gtx, TxOutcome::Aborted);
        vec![self.tell_gateway(call.gtx, TxOutcome::Aborted)]
    }

    /// The entry of a saga that answers at the end notes how `gtx` ended.
    fn learn(&mut self, gtx: GlobalTxId, outcome: TxOutcome) {
        if self.answer == Answer::AtEnd && self.owns(0) {
            self.known.insert(gtx, outcome);
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
        if let Some(&outcome) = self.known.get(gtx) {
            // A retry of a transaction that ended: the gateway missed its outcome.
            return vec![
                Effect::Count("saga_choreographed.retries_answered", 1),
                self.tell_gateway(gtx, outcome),
            ];
        }
        vec![self.action(gtx, 0, keys, token, true)]
    }

    /// `Done(k)` runs step k+1 here if this service owns it; `Failed(k)` and `Compensated(k)`
    /// undo step k-1 here if this service owns it. Anything else (read-model events, events
    /// of steps owned elsewhere) needs no local call.
    fn on_event(&mut self, event: DomainEvent, token: Token) -> Vec<Effect> {
        let (gtx, keys) = (event.gtx, event.keys);
        match event.kind {
            EventKind::Done if event.step == self.last_step() => {
                self.learn(gtx, TxOutcome::Committed);
            }
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
                    return vec![self.compensation(gtx, previous, keys, token)];
                }
            }
        }
        Vec::new()
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
        self.known.retained_bytes()
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
            answer,
            known: IdMap::new(),
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
            idempotent_consumers: true,
            answer: Answer::AtEnd,
            read_model: false,
        };
        let subscriptions = saga.subscriptions(&wiring);
        let to = |kind, step| subscriptions.get(&DomainEvent::topic_of(kind, step)).cloned();
        assert_eq!(to(EventKind::Done, 0), Some(vec![wiring.step_service(1)]));
        assert_eq!(to(EventKind::Done, 2), Some(vec![wiring.step_service(3)]));
        assert_eq!(
            to(EventKind::Done, 3),
            Some(vec![wiring.step_service(0)]),
            "only the entry hears the last step's event, to answer the gateway's retries"
        );
        assert_eq!(to(EventKind::Failed, 3), Some(vec![wiring.step_service(2)]));
        assert_eq!(to(EventKind::Compensated, 1), Some(vec![wiring.step_service(0)]));
        assert_eq!(
            to(EventKind::Failed, 0),
            None,
            "step 0's refusal is answered directly"
        );
        let with_view = Choreography {
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
        let Effect::Run(undo) = effects[0] else {
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
        assert!(saga_a.on_local_done(debit, LocalResult::Committed).is_empty());

        let mut eventual_a = owner(bank_transfer(), 0, Answer::AtFirstCommit);
        assert_eq!(
            outcomes(&eventual_a.on_local_done(debit, LocalResult::Committed)),
            [TxOutcome::Accepted]
        );
        let mut eventual_b = owner(bank_transfer(), 1, Answer::AtFirstCommit);
        assert!(
            eventual_b
                .on_local_done(credit, LocalResult::Committed)
                .is_empty()
        );
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
    fn the_entry_answers_a_retry_of_a_transaction_it_knows_ended() {
        let mut entry = owner(food_delivery(), 1, Answer::AtEnd); // order owns step 0
        let last = step_count(&food_delivery()) - 1;
        // Nothing known: a retried `Begin` runs step 0 again (idempotently).
        assert_eq!(
            runs(&entry.on_begin(GTX, KEYS, TOKEN)),
            [(0, StepKind::Action, true)]
        );
        assert!(outcomes(&entry.on_begin(GTX, KEYS, TOKEN)).is_empty());
        // The last step's `Done` reaches the entry: it now answers retries itself.
        assert!(
            entry
                .on_event(event(EventKind::Done, GTX, last, KEYS), TOKEN)
                .is_empty()
        );
        let told = Msg::Outcome {
            gtx: GTX,
            outcome: TxOutcome::Committed,
        };
        assert!(
            entry
                .on_begin(GTX, KEYS, TOKEN)
                .contains(&Effect::Send(ActorId(1), told))
        );
    }
}

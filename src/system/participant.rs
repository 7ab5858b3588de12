//! How a strategy plugs into a service: the [`Participant`] hooks, the [`Effect`]s they ask
//! for, and the [`ServiceView`] they may read.
//!
//! A service offers protocol-neutral primitives: run a step as a local transaction (commit
//! or prepare mode, idempotent by `(gtx, step, kind)`), commit or abort a prepared step,
//! fence a step so it refuses itself if it arrives later, publish through its outbox or by a
//! dual write, answer audits. It does not know which protocol drives them. A strategy whose
//! services act on their own (a choreography, a 2PC participant) gives each service a
//! participant; the service calls its hooks and carries out the effects they return, in
//! order. A hook is tested by calling it and reading the effects: no world is built.

use crate::sim::{ActorId, Duration, Instant};
use crate::system::model::RequestKeys;
use crate::system::msg::{DomainEvent, GlobalTxId, LocalCall, LocalResult, Msg, ProtocolMsg, Token};

/// What a participant hook asks its service to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Run this local call here; `on_local_done` is told how it ended.
    Run(LocalCall),
    /// The service reached protocol point `0` of its role for this transaction (see
    /// `ProtocolPoint`). A crash aimed at it ends the handler here: the effects after it
    /// are not carried out, so put it after the durable change it names and before what
    /// tells anyone.
    Point(&'static str, GlobalTxId),
    /// Send a message (e.g. an outcome to the gateway).
    Send(ActorId, Msg),
    /// Arm the participant's timer `tag` for `(gtx, step)` after `after`; it comes back to
    /// [`Participant::on_timer`]. Arming a `(gtx, step, tag)` that is armed replaces it.
    SetTimer {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
        /// The participant's own timer kind.
        tag: u8,
        /// A number that comes back with the timer (a decision, an attempt).
        arg: u16,
        /// When.
        after: Duration,
    },
    /// Arm a timer that nobody will disarm or replace, for a wait that always ends in
    /// [`Participant::on_timer`] (a log force): it costs the service no bookkeeping, which
    /// `SetTimer` pays on two-phase commit's path. The tag must be below 128.
    Wait {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
        /// The participant's own timer kind.
        tag: u8,
        /// A number that comes back with the timer.
        arg: u16,
        /// When.
        after: Duration,
    },
    /// Disarm timer `tag` of `(gtx, step)`, if armed.
    CancelTimer {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
        /// The participant's own timer kind.
        tag: u8,
    },
    /// Commit (or abort) the local transaction step `step` of `gtx` prepared here, releasing
    /// its locks; the service records how long it was in doubt. Nothing happens if it is not
    /// prepared here.
    ResolvePrepared {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
        /// Commit, or abort.
        commit: bool,
    },
    /// Give up a prepare of this step still running, and fence the step's action so a late
    /// or duplicate call refuses itself instead of applying after the transaction ended.
    Fence {
        /// Which transaction.
        gtx: GlobalTxId,
        /// Which step.
        step: u16,
    },
    /// Force a record of the participant's own to the service's log (a 3PC pre-commit
    /// record): counted with the database's forced writes. Its time is the participant's to
    /// wait, with a timer of `ServiceView::forced_write`.
    ForceRecord,
    /// Add to one of the run's counters.
    Count(&'static str, u64),
    /// Mark the change this committed call made pending: audits leave it out until it is
    /// unmarked (a semantic lock, `service/pending.rs`).
    MarkPending(LocalCall),
    /// Unmark a step of a transaction (`Some`: its compensation committed) or all of it
    /// here (`None`: the saga is complete).
    ClearPending(GlobalTxId, Option<u16>),
}

/// What a participant may read of its service when it decides.
#[derive(Clone, Copy, Debug)]
pub struct ServiceView<'a> {
    /// The virtual time.
    pub now: Instant,
    /// The service's actor.
    pub me: ActorId,
    /// The gateway's token, for calls the participant makes.
    pub token: Token,
    /// How long one forced log write takes on this service's database.
    pub forced_write: Duration,
    /// Steps prepared or held here and not yet resolved.
    pub prepared: &'a std::collections::BTreeMap<(GlobalTxId, u16), PreparedStep>,
}

/// A step pending a decision in a service: either prepared (its local transaction holds its
/// locks and buffered write durably until [`Effect::ResolvePrepared`]) or held (a committed
/// hold that a `Confirm` or `Release` call ends).
#[derive(Clone, Copy, Debug)]
pub struct PreparedStep {
    /// The local transaction that prepared or reserved it.
    pub local: crate::store::LocalTxId,
    /// When it prepared or reserved.
    pub since: Instant,
    /// A hold (`CallMode::Reserve`) rather than a prepared transaction.
    pub held: bool,
}

impl ServiceView<'_> {
    /// Whether step `step` of `gtx` is prepared here and unresolved.
    pub fn is_prepared(&self, gtx: GlobalTxId, step: u16) -> bool {
        self.prepared.get(&(gtx, step)).is_some_and(|p| !p.held)
    }

    /// Whether step `step` of `gtx` is held here (reserved, neither confirmed nor released).
    pub fn is_held(&self, gtx: GlobalTxId, step: u16) -> bool {
        self.prepared.get(&(gtx, step)).is_some_and(|p| p.held)
    }
}

/// A strategy's half inside one service. Its state is volatile unless it says otherwise:
/// `on_crash` is called when the service crashes. Every hook has a default that does nothing
/// (a `Begin` it does not expect is counted), so a participant implements what its protocol
/// uses: a commit protocol's participant never gets `Begin` or events, a choreography's
/// never gets protocol messages.
pub trait Participant: std::fmt::Debug + Send + 'static {
    /// The gateway's `Begin` reached this service (it is the strategy's entry point). By
    /// default counted as unexpected: the strategy's entry is elsewhere.
    fn on_begin(&mut self, gtx: GlobalTxId, keys: RequestKeys, token: Token) -> Vec<Effect> {
        let _ = (gtx, keys, token);
        vec![Effect::Count("service.unexpected_messages", 1)]
    }

    /// The broker delivered `event` (possibly again).
    fn on_event(&mut self, event: DomainEvent, token: Token) -> Vec<Effect> {
        let _ = (event, token);
        Vec::new()
    }

    /// A local call this participant asked for ended.
    fn on_local_done(&mut self, call: LocalCall, result: LocalResult) -> Vec<Effect> {
        let _ = (call, result);
        Vec::new()
    }

    /// The strategy's own message arrived from `src` (a token it carries was checked).
    /// This hook and the three below push their effects into `out`, a buffer the service
    /// reuses: they run on 2PC's hot path, where a vector per call cost a tenth of a run.
    fn on_message(
        &mut self,
        src: ActorId,
        msg: ProtocolMsg,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let _ = (src, msg, service, out);
    }

    /// A timer this participant armed fired.
    fn on_timer(
        &mut self,
        gtx: GlobalTxId,
        step: u16,
        tag: u8,
        arg: u16,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        let _ = (gtx, step, tag, arg, service, out);
    }

    /// A call in prepare or reserve mode, whoever sent it, prepared or reserved step `step`
    /// of `gtx` here.
    fn on_prepared(&mut self, gtx: GlobalTxId, step: u16, out: &mut Vec<Effect>) {
        let _ = (gtx, step, out);
    }

    /// The service crashed.
    fn on_crash(&mut self) {}

    /// The service restarted; its durable state (prepared steps among it) is back.
    fn on_recover(&mut self, service: &ServiceView<'_>, out: &mut Vec<Effect>) {
        let _ = (service, out);
    }

    /// Bytes this participant keeps that grow with the run.
    fn retained_bytes(&self) -> usize {
        0
    }
}

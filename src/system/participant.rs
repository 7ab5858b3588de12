//! How a strategy plugs into a service: the [`Participant`] hooks and the [`Effect`]s they
//! ask for.
//!
//! A service knows how to run local calls, prepare and decide, relay its outbox and consume
//! broker deliveries; it does not know which strategy runs. A strategy that needs services
//! to act on their own (a choreographed saga, eventual consistency) gives each service a
//! participant that turns a `Begin` or a consumed event into local calls, and reacts when
//! those calls end.

use crate::sim::ActorId;
use crate::system::model::RequestKeys;
use crate::system::msg::{DomainEvent, GlobalTxId, LocalCall, LocalResult, Msg, Token};

/// What a participant hook asks its service to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Run this local call here; `on_local_done` is told how it ended.
    Run(LocalCall),
    /// Send a message (e.g. an outcome to the gateway).
    Send(ActorId, Msg),
}

/// A strategy's half inside one service. Its state is volatile unless it says otherwise:
/// `on_crash` is called when the service crashes.
pub trait Participant: std::fmt::Debug + 'static {
    /// The gateway's `Begin` reached this service (it is the strategy's entry point).
    fn on_begin(&mut self, gtx: GlobalTxId, keys: RequestKeys, token: Token) -> Vec<Effect>;

    /// The broker delivered `event` (possibly again).
    fn on_event(&mut self, event: DomainEvent, token: Token) -> Vec<Effect>;

    /// A local call this participant asked for ended.
    fn on_local_done(&mut self, call: LocalCall, result: LocalResult) -> Vec<Effect>;

    /// The service crashed.
    fn on_crash(&mut self) {}
}

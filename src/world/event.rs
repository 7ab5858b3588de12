//! The closed vocabulary of the run loop: everything that can happen is one of these.

use crate::net::FaultAction;
use crate::sim::ActorId;

/// One pending event. A new kind is a compile error wherever events are handled.
#[derive(Debug)]
pub(crate) enum Event<M> {
    /// A message arriving at `dst`.
    Deliver { src: ActorId, dst: ActorId, msg: M },
    /// A timer of `actor`, set during its incarnation `incarnation` (stale after a crash).
    Timer {
        actor: ActorId,
        incarnation: u32,
        msg: M,
    },
    /// A scheduled fault.
    Fault(FaultAction),
}

//! TCC's half inside each service: it watches the service's holds and asks the coordinator
//! to end one that outlived its reservation timeout.
//!
//! The try, the confirm and the cancel are the service's own `Reserve`, `Confirm` and
//! `Release` calls, which the coordinator sends; this half never changes data. Why a hold does
//! not simply release itself when its time is up: the coordinator may have decided to confirm
//! a moment before, and a confirm arriving after the release would find nothing to apply, so
//! one step would be confirmed and another not. Asking lets the coordinator, the only one that
//! decides, cancel the transaction if it has not decided yet, which is what the timeout means.

use crate::sim::{ActorId, Duration};
use crate::system::msg::{GlobalTxId, ProtocolMsg};
use crate::system::participant::{Effect, Participant, ServiceView};

use super::msg::{EXPIRE, Expired};

/// One service's TCC participant.
#[derive(Debug)]
pub struct TccParticipant {
    coordinator: ActorId,
    reservation_timeout: Duration,
}

impl TccParticipant {
    /// A participant whose holds ask `coordinator` after `reservation_timeout`.
    pub fn new(coordinator: ActorId, reservation_timeout: Duration) -> Self {
        TccParticipant {
            coordinator,
            reservation_timeout,
        }
    }

    fn expire_after(&self, gtx: GlobalTxId, step: u16, after: Duration) -> Effect {
        Effect::SetTimer {
            gtx,
            step,
            tag: EXPIRE,
            arg: 0,
            after,
        }
    }
}

impl Participant for TccParticipant {
    /// The coordinator sends local calls, never protocol messages, to services.
    fn on_message(
        &mut self,
        _src: ActorId,
        _msg: ProtocolMsg,
        _service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        out.push(Effect::Count("tcc.unexpected_messages", 1));
    }

    /// A hold's time is up: if it is still held, ask the coordinator to end it, and ask
    /// again a timeout later (the question, or its answer, may be lost).
    fn on_timer(
        &mut self,
        gtx: GlobalTxId,
        step: u16,
        _tag: u8,
        _arg: u16,
        service: &ServiceView<'_>,
        out: &mut Vec<Effect>,
    ) {
        if !service.is_held(gtx, step) {
            return;
        }
        out.push(Effect::Count("tcc.expired_holds", 1));
        out.push(Effect::Point("hold_expired", gtx));
        out.push(Effect::Send(self.coordinator, Expired { gtx, step }.into_msg()));
        out.push(self.expire_after(gtx, step, self.reservation_timeout));
    }

    /// A try reserved step `step` of `gtx` here: its reservation timeout starts.
    fn on_prepared(&mut self, gtx: GlobalTxId, step: u16, out: &mut Vec<Effect>) {
        out.push(self.expire_after(gtx, step, self.reservation_timeout));
    }

    /// Holds are durable, their timers are not: each gets what was left of its timeout.
    fn on_recover(&mut self, service: &ServiceView<'_>, out: &mut Vec<Effect>) {
        for (&(gtx, step), pending) in service.prepared.iter().filter(|(_, p)| p.held) {
            let deadline = pending.since + self.reservation_timeout;
            let left = deadline.saturating_since(service.now);
            out.push(self.expire_after(gtx, step, left));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sim::Instant;
    use crate::store::LocalTxId;
    use crate::system::msg::Token;
    use crate::system::participant::PreparedStep;

    const GTX: GlobalTxId = GlobalTxId(3);

    fn view(prepared: &BTreeMap<(GlobalTxId, u16), PreparedStep>, now_ms: u64) -> ServiceView<'_> {
        ServiceView {
            now: Instant::from_ms(now_ms),
            me: ActorId(5),
            token: Token(1),
            forced_write: Duration::from_ms(1),
            prepared,
        }
    }

    fn held(since_ms: u64) -> BTreeMap<(GlobalTxId, u16), PreparedStep> {
        let step = PreparedStep {
            local: LocalTxId(0),
            since: Instant::from_ms(since_ms),
            held: true,
        };
        BTreeMap::from([((GTX, 1), step)])
    }

    #[test]
    fn a_hold_still_held_at_its_timeout_asks_the_coordinator_and_asks_again_later() {
        let mut participant = TccParticipant::new(ActorId(9), Duration::from_ms(300));
        let mut out = Vec::new();
        participant.on_prepared(GTX, 1, &mut out);
        assert!(matches!(out[0], Effect::SetTimer { after, .. } if after == Duration::from_ms(300)));
        out.clear();
        let holds = held(0);
        participant.on_timer(GTX, 1, EXPIRE, 0, &view(&holds, 300), &mut out);
        let asked = Expired { gtx: GTX, step: 1 }.into_msg();
        assert!(out.contains(&Effect::Send(ActorId(9), asked)));
        assert!(
            out.iter().any(|e| matches!(e, Effect::SetTimer { .. })),
            "asks again later"
        );
    }

    #[test]
    fn a_hold_already_ended_asks_nothing() {
        let mut participant = TccParticipant::new(ActorId(9), Duration::from_ms(300));
        let mut out = Vec::new();
        participant.on_timer(GTX, 1, EXPIRE, 0, &view(&BTreeMap::new(), 300), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn after_a_crash_each_hold_waits_only_what_was_left_of_its_timeout() {
        let mut participant = TccParticipant::new(ActorId(9), Duration::from_ms(300));
        let mut out = Vec::new();
        let holds = held(100);
        participant.on_recover(&view(&holds, 250), &mut out);
        assert_eq!(
            out,
            vec![Effect::SetTimer {
                gtx: GTX,
                step: 1,
                tag: EXPIRE,
                arg: 0,
                after: Duration::from_ms(150),
            }]
        );
    }
}

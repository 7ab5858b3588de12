//! How a full trace describes a business run's messages: each line names the transaction
//! and step it concerns, the message's kind, and its fields as a JSON object, so a tool (or a
//! person with `jq`) reads them without parsing Rust's `Debug` text.

use serde_json::{Value, json};

use crate::broker::BrokerMsg;
use crate::sim::Described;
use crate::system::msg::{DomainEvent, LocalResult, Msg, RequestOutcome, TxOutcome};
use crate::system::timer::TimerMsg;

/// `msg` described; `protocol` names the strategy's own message kinds (see
/// `Strategy::message_kinds`).
pub fn describe(msg: &Msg, protocol: &[&'static str]) -> Described {
    let kind = match msg {
        Msg::Timer(timer) => timer_kind(timer),
        other => other.kind_name(protocol),
    };
    let (tx, step, fields) = parts(msg);
    Described {
        kind,
        tx,
        step,
        fields: fields.to_string(),
    }
}

/// The transaction, the step and the fields of `msg`.
fn parts(msg: &Msg) -> (Option<u64>, Option<u16>, Value) {
    match msg {
        Msg::Request(r) => (
            None,
            None,
            json!({"req": r.req.0, "key": r.key, "other": r.other, "audit": r.audit, "authenticated": r.credentials.is_some()}),
        ),
        Msg::Response { req, outcome } => (
            None,
            None,
            json!({"req": req.0, "outcome": request_outcome(*outcome)}),
        ),
        Msg::Begin { gtx, keys, .. } => (Some(gtx.0), None, json!({"key": keys.key, "other": keys.other})),
        Msg::Outcome { gtx, outcome } => (Some(gtx.0), None, json!({"outcome": tx_outcome(*outcome)})),
        Msg::Local(call) => (
            Some(call.gtx.0),
            Some(call.step),
            json!({
                "kind": format!("{:?}", call.kind),
                "mode": format!("{:?}", call.mode),
                "idempotent": call.idempotent,
                "emit_on_commit": call.emit_on_commit.map(|k| format!("{k:?}")),
            }),
        ),
        Msg::LocalReply {
            gtx,
            step,
            kind,
            result,
        } => (
            Some(gtx.0),
            Some(*step),
            json!({"kind": format!("{kind:?}"), "result": local_result(*result)}),
        ),
        Msg::AuditRead { req, .. } => (None, None, json!({"req": req.0})),
        Msg::AuditReply { req, total } => (None, None, json!({"req": req.0, "total": total})),
        Msg::DirectDbAccess {
            by,
            during,
            table,
            key,
            delta,
        } => (
            during.map(|g| g.0),
            None,
            json!({"by_service": by.0, "table": table, "key": key, "delta": delta}),
        ),
        Msg::Protocol(p) => (
            Some(p.gtx.0),
            Some(p.step),
            json!({"arg": p.arg, "with_token": p.token.is_some()}),
        ),
        Msg::Broker(b) => broker(b),
        Msg::Timer(t) => timer(t),
    }
}

fn broker(msg: &BrokerMsg<DomainEvent>) -> (Option<u64>, Option<u16>, Value) {
    let event = |e: &DomainEvent| json!({"kind": format!("{:?}", e.kind), "gtx": e.gtx.0, "step": e.step});
    match msg {
        BrokerMsg::Publish {
            topic,
            key,
            publish_id,
            payload,
        } => (
            Some(payload.gtx.0),
            Some(payload.step),
            json!({"topic": topic.0, "key": key, "publish_id": publish_id, "event": event(payload)}),
        ),
        BrokerMsg::PublishAck { publish_id } => (None, None, json!({"publish_id": publish_id})),
        BrokerMsg::Subscribe { topic } | BrokerMsg::SubscribeAck { topic } => {
            (None, None, json!({"topic": topic.0}))
        }
        BrokerMsg::Deliver {
            topic,
            key,
            offset,
            attempt,
            payload,
        } => (
            Some(payload.gtx.0),
            Some(payload.step),
            json!({"topic": topic.0, "key": key, "offset": offset.0, "attempt": attempt, "event": event(payload)}),
        ),
        BrokerMsg::Ack { topic, offset } => (None, None, json!({"topic": topic.0, "offset": offset.0})),
        BrokerMsg::Redeliver {
            topic,
            subscriber,
            offset,
            attempt,
        } => (
            None,
            None,
            json!({"topic": topic.0, "subscriber": subscriber.0, "offset": offset.0, "attempt": attempt}),
        ),
    }
}

fn timer(timer: &TimerMsg) -> (Option<u64>, Option<u16>, Value) {
    match timer {
        TimerMsg::LocalDone { local, gtx, step } | TimerMsg::LockTimeout { local, gtx, step } => {
            (Some(gtx.0), Some(*step), json!({"local": local}))
        }
        TimerMsg::RelayTick => (None, None, json!({})),
        TimerMsg::DualWrite { event } => (
            Some(event.gtx.0),
            Some(event.step),
            json!({"event": format!("{:?}", event.kind)}),
        ),
        TimerMsg::Arrival { index } => (None, None, json!({"index": index})),
        TimerMsg::GatewayDeadline { gtx, attempt } => (Some(gtx.0), None, json!({"attempt": attempt})),
        TimerMsg::AuditDeadline { req } => (None, None, json!({"req": req.0})),
        TimerMsg::Strategy {
            gtx,
            step,
            attempt,
            tag,
        } => (Some(gtx.0), Some(*step), json!({"attempt": attempt, "tag": tag})),
        TimerMsg::Intrude { index } => (None, None, json!({"intrusion": index})),
        TimerMsg::Paced { slot } => (None, None, json!({"slot": slot})),
        TimerMsg::Instance { instance, up } => (None, None, json!({"instance": instance, "up": up})),
    }
}

/// A timer's kind: the name of its variant.
fn timer_kind(timer: &TimerMsg) -> &'static str {
    match timer {
        TimerMsg::LocalDone { .. } => "LocalDone",
        TimerMsg::LockTimeout { .. } => "LockTimeout",
        TimerMsg::RelayTick => "RelayTick",
        TimerMsg::DualWrite { .. } => "DualWrite",
        TimerMsg::Arrival { .. } => "Arrival",
        TimerMsg::GatewayDeadline { .. } => "GatewayDeadline",
        TimerMsg::AuditDeadline { .. } => "AuditDeadline",
        TimerMsg::Strategy { .. } => "StrategyTimer",
        TimerMsg::Intrude { .. } => "Intrude",
        TimerMsg::Paced { .. } => "Processed",
        TimerMsg::Instance { .. } => "Instance",
    }
}

fn local_result(result: LocalResult) -> &'static str {
    match result {
        LocalResult::Committed => "committed",
        LocalResult::Prepared => "prepared",
        LocalResult::Refused => "refused",
        LocalResult::Busy => "busy",
        LocalResult::Unauthorized => "unauthorized",
        LocalResult::Reserved => "reserved",
    }
}

fn tx_outcome(outcome: TxOutcome) -> &'static str {
    match outcome {
        TxOutcome::Committed => "committed",
        TxOutcome::Aborted => "aborted",
        TxOutcome::Accepted => "accepted",
    }
}

fn request_outcome(outcome: RequestOutcome) -> &'static str {
    match outcome {
        RequestOutcome::Committed => "committed",
        RequestOutcome::Aborted => "aborted",
        RequestOutcome::Accepted => "accepted",
        RequestOutcome::TimedOut => "timed_out",
        RequestOutcome::Unauthorized => "unauthorized",
        RequestOutcome::AuditDone => "audit_done",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::msg::{GlobalTxId, StepKind};

    #[test]
    fn a_local_call_and_its_completion_timer_name_their_transaction_and_step() {
        let reply = Msg::LocalReply {
            gtx: GlobalTxId(542),
            step: 1,
            kind: StepKind::Action,
            result: LocalResult::Committed,
        };
        let d = describe(&reply, &[]);
        assert_eq!((d.kind, d.tx, d.step), ("LocalReply", Some(542), Some(1)));
        let fields: Value = serde_json::from_str(&d.fields).unwrap();
        assert_eq!(fields["result"], "committed");
        let done = Msg::Timer(TimerMsg::LocalDone {
            local: 934,
            gtx: GlobalTxId(542),
            step: 0,
        });
        let d = describe(&done, &[]);
        assert_eq!((d.kind, d.tx, d.step), ("LocalDone", Some(542), Some(0)));
        assert_eq!(serde_json::from_str::<Value>(&d.fields).unwrap()["local"], 934);
    }
}

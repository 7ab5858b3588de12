//! A full trace as Chrome trace-event JSON, which ui.perfetto.dev and chrome://tracing open:
//! a track per actor; messages as flow arrows from their send to their delivery; local
//! transactions (their locks held) and in-doubt periods as slices; faults, drops and protocol
//! points as instants. Timestamps are virtual microseconds, the format's own unit.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::sim::{TraceEntry, TraceKind};

/// The trace `entries` (of a run whose actors are `names`) as a Chrome trace-event document.
pub fn chrome_trace(entries: &[TraceEntry], names: &[String]) -> Value {
    let mut events =
        vec![json!({"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "consim run"}})];
    for (index, name) in names.iter().enumerate() {
        events.push(
            json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": index + 1, "args": {"name": name}}),
        );
    }
    // Slices open per (actor, transaction, step): local transactions and in-doubt periods.
    let mut open_local: BTreeMap<(usize, u64, u16), ()> = BTreeMap::new();
    let mut open_doubt: BTreeMap<(usize, u64), ()> = BTreeMap::new();
    for e in entries {
        let ts = e.at.as_us();
        let src = e.src.map(|a| a.index());
        let dst = e.dst.map(|a| a.index());
        let args = json!({"gtx": e.tx, "step": e.step, "fields": e.detail});
        match e.kind {
            TraceKind::Send => {
                let (Some(src), Some(flow)) = (src, e.flow) else {
                    continue;
                };
                events.push(json!({"ph": "X", "name": format!("send {}", e.msg_kind), "cat": "message", "pid": 1, "tid": src + 1, "ts": ts, "dur": 1, "args": args}));
                events.push(json!({"ph": "s", "name": "message", "cat": "message", "id": flow, "pid": 1, "tid": src + 1, "ts": ts}));
            }
            TraceKind::Deliver => {
                let Some(dst) = dst else { continue };
                events.push(json!({"ph": "X", "name": e.msg_kind, "cat": "message", "pid": 1, "tid": dst + 1, "ts": ts, "dur": 1, "args": args}));
                events.push(json!({"ph": "f", "bp": "e", "name": "message", "cat": "message", "id": e.seq, "pid": 1, "tid": dst + 1, "ts": ts}));
                if let (Some(gtx), Some(step)) = (e.tx, e.step)
                    && crate::system::msg::Msg::LOCAL_CALL_KINDS.contains(&e.msg_kind)
                    && open_local.insert((dst, gtx, step), ()).is_none()
                {
                    events.push(slice(
                        "b",
                        "local tx (locks held)",
                        local_id(dst, gtx, step),
                        dst,
                        ts,
                        gtx,
                    ));
                }
            }
            TraceKind::Timer => {
                let Some(actor) = src else { continue };
                events.push(json!({"ph": "X", "name": format!("timer {}", e.msg_kind), "cat": "timer", "pid": 1, "tid": actor + 1, "ts": ts, "dur": 1, "args": args}));
                if let (Some(gtx), Some(step)) = (e.tx, e.step)
                    && e.msg_kind == "LocalDone"
                    && open_local.remove(&(actor, gtx, step)).is_some()
                {
                    events.push(slice(
                        "e",
                        "local tx (locks held)",
                        local_id(actor, gtx, step),
                        actor,
                        ts,
                        gtx,
                    ));
                }
            }
            TraceKind::Drop => {
                let actor = src.or(dst).unwrap_or(0);
                events.push(instant(
                    &format!("lost {} ({})", e.msg_kind, e.note),
                    actor,
                    ts,
                    "t",
                    args,
                ));
                // Lost on arrival (the receiver was down): the flow from its send ends here.
                if let (Some(dst), "crashed") = (dst, e.note) {
                    events.push(json!({"ph": "f", "bp": "e", "name": "message", "cat": "message", "id": e.seq, "pid": 1, "tid": dst + 1, "ts": ts}));
                }
            }
            TraceKind::Fault => match src {
                Some(actor) => events.push(instant(&e.note.to_uppercase(), actor, ts, "t", json!({}))),
                None => events.push(instant(&e.note.to_uppercase(), 0, ts, "g", json!({}))),
            },
            TraceKind::Point | TraceKind::Note => {
                let Some(actor) = src else { continue };
                events.push(instant(e.note, actor, ts, "t", json!({"gtx": e.tx})));
                if let (TraceKind::Point, Some(gtx)) = (e.kind, e.tx) {
                    match e.note {
                        "prepared" | "reserved" if open_doubt.insert((actor, gtx), ()).is_none() => {
                            events.push(slice("b", "in doubt", doubt_id(actor, gtx), actor, ts, gtx));
                        }
                        "decided" | "confirmed" | "released"
                            if open_doubt.remove(&(actor, gtx)).is_some() =>
                        {
                            events.push(slice("e", "in doubt", doubt_id(actor, gtx), actor, ts, gtx));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}

fn local_id(actor: usize, gtx: u64, step: u16) -> String {
    format!("local:{actor}:{gtx}:{step}")
}

fn doubt_id(actor: usize, gtx: u64) -> String {
    format!("doubt:{actor}:{gtx}")
}

/// One end of an async slice (`b` begin, `e` end) on `actor`'s track.
fn slice(phase: &str, name: &str, id: String, actor: usize, ts: u64, gtx: u64) -> Value {
    json!({"ph": phase, "name": name, "cat": name, "id": id, "pid": 1, "tid": actor + 1, "ts": ts, "args": {"gtx": gtx}})
}

/// An instant on `actor`'s track (`scope` `t`), or across the run (`g`).
fn instant(name: &str, actor: usize, ts: u64, scope: &str, args: Value) -> Value {
    json!({"ph": "i", "name": name, "s": scope, "pid": 1, "tid": actor + 1, "ts": ts, "args": args})
}

//! `consim diagram`: a transaction (or a time window) as a Mermaid `sequenceDiagram`, the
//! text GitHub and most Markdown viewers draw: delivered messages as arrows, lost ones as
//! crossed arrows, faults and protocol points as notes.

use std::fmt::Write as _;

use super::Story;
use crate::sim::{Instant, TraceEntry, TraceKind};

/// What to draw.
#[derive(Clone, Debug, Default)]
pub struct DiagramOptions {
    /// Only these actors (by name); all when empty.
    pub actors: Vec<String>,
    /// Nothing before.
    pub from: Option<Instant>,
    /// Nothing after.
    pub until: Option<Instant>,
    /// The longest diagram drawn, in lines: a longer one is refused with a message.
    pub max_lines: usize,
    /// Draw protocol points and notes too.
    pub points: bool,
}

/// The story as a Mermaid sequence diagram, or why it is not drawn (too long, or empty).
pub fn diagram(story: &Story, options: &DiagramOptions) -> Result<String, String> {
    let keep = |e: &&&TraceEntry| {
        let named = |actor: Option<crate::sim::ActorId>| {
            actor.is_none_or(|a| {
                options.actors.is_empty() || options.actors.contains(&story.run.names[a.index()])
            })
        };
        named(e.src)
            && named(e.dst)
            && options.from.is_none_or(|from| e.at >= from)
            && options.until.is_none_or(|until| e.at <= until)
            && (options.points || !matches!(e.kind, TraceKind::Point | TraceKind::Note))
    };
    let lines: Vec<&TraceEntry> = story.lines().into_iter().filter(|e| keep(&e)).collect();
    if lines.is_empty() {
        return Err("nothing to draw: no event of that transaction passes the filters".into());
    }
    let mut actors: Vec<usize> = Vec::new();
    for e in &lines {
        for a in [e.src, e.dst].into_iter().flatten() {
            if !actors.contains(&a.index()) {
                actors.push(a.index());
            }
        }
    }
    let length = 1 + actors.len() + lines.len();
    if length > options.max_lines {
        return Err(format!(
            "the diagram would have {length} lines, more than --max-lines {}: narrow it with --actors, --from and --until, or raise the cap",
            options.max_lines
        ));
    }
    let mut out = String::from("sequenceDiagram\n");
    for a in &actors {
        let _ = writeln!(out, "    participant {}", story.run.names[*a]);
    }
    for e in lines {
        let (src, dst) = (story.name(e.src), story.name(e.dst));
        let step = e.step.map(|s| format!(" step {s}")).unwrap_or_default();
        let _ = match e.kind {
            TraceKind::Deliver => writeln!(out, "    {src}->>{dst}: {}{step} ({})", e.msg_kind, e.at),
            TraceKind::Drop => writeln!(
                out,
                "    {src}-x{dst}: {}{step} lost: {} ({})",
                e.msg_kind, e.note, e.at
            ),
            TraceKind::Timer => writeln!(out, "    Note over {src}: timer {}{step} ({})", e.msg_kind, e.at),
            TraceKind::Fault if e.src.is_some() => {
                writeln!(out, "    Note over {src}: {} ({})", e.note.to_uppercase(), e.at)
            }
            TraceKind::Fault => {
                let mut all = actors.iter().map(|a| story.run.names[*a].as_str());
                let (first, last) = (all.clone().next().unwrap_or("-"), all.next_back().unwrap_or("-"));
                writeln!(
                    out,
                    "    Note over {first},{last}: {} ({})",
                    e.note.to_uppercase(),
                    e.at
                )
            }
            TraceKind::Point | TraceKind::Note => {
                writeln!(out, "    Note right of {src}: {} ({})", e.note, e.at)
            }
            // A story's lines hold deliveries, not sends.
            TraceKind::Send => Ok(()),
        };
    }
    Ok(out)
}

//! A transaction's sequence diagram as SVG, drawn with plotters' primitives: a lifeline per
//! actor, each delivered message an arrow, each lost one a red line ending in a cross, faults
//! and points as notes on their actor's lifeline.

use plotters::prelude::*;

use crate::runner::Run;
use crate::sim::TraceKind;
use crate::story::lines_of;

/// Pixels between lifelines, and per event.
const COLUMN: i32 = 170;
const ROW: i32 = 22;
/// The most events drawn; the rest are summarised.
const MAX_ROWS: usize = 120;

/// The SVG of transaction `gtx` in `run`, or an empty string when it has no lines.
pub fn sequence_svg(run: &Run, gtx: u64) -> String {
    let lines = lines_of(run, gtx);
    if lines.is_empty() {
        return String::new();
    }
    let mut actors: Vec<usize> = Vec::new();
    for e in &lines {
        for a in [e.src, e.dst].into_iter().flatten() {
            if !actors.contains(&a.index()) {
                actors.push(a.index());
            }
        }
    }
    let shown = lines.len().min(MAX_ROWS);
    let width = (COLUMN * actors.len() as i32).max(300) as u32;
    let height = (60 + ROW * (shown as i32 + 2)) as u32;
    let x = |actor: Option<crate::sim::ActorId>| {
        let column = actor
            .and_then(|a| actors.iter().position(|x| *x == a.index()))
            .unwrap_or(0);
        COLUMN / 2 + COLUMN * column as i32
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        let text = |size: i32, colour: RGBColor| {
            ("sans-serif", size)
                .into_font()
                .color(&colour)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Bottom,
                ))
        };
        let draw = || -> Result<(), Box<dyn std::error::Error>> {
            root.fill(&WHITE)?;
            for (column, actor) in actors.iter().enumerate() {
                let cx = COLUMN / 2 + COLUMN * column as i32;
                root.draw(&Text::new(run.names[*actor].clone(), (cx, 24), text(14, BLACK)))?;
                root.draw(&PathElement::new(
                    vec![(cx, 30), (cx, height as i32 - 10)],
                    RGBColor(180, 180, 180),
                ))?;
            }
            for (row, e) in lines.iter().take(shown).enumerate() {
                let y = 50 + ROW * row as i32;
                let step = e.step.map(|s| format!(" #{s}")).unwrap_or_default();
                match e.kind {
                    TraceKind::Deliver | TraceKind::Drop => {
                        let (from, to) = (x(e.src), x(e.dst));
                        let lost = e.kind == TraceKind::Drop;
                        let colour = if lost { RGBColor(200, 30, 30) } else { BLACK };
                        root.draw(&PathElement::new(
                            vec![(from, y), (to, y)],
                            colour.stroke_width(if lost { 1 } else { 2 }),
                        ))?;
                        let head = if to >= from { -6 } else { 6 };
                        if lost {
                            root.draw(&PathElement::new(
                                vec![(to - 5, y - 5), (to + 5, y + 5)],
                                colour.stroke_width(2),
                            ))?;
                            root.draw(&PathElement::new(
                                vec![(to - 5, y + 5), (to + 5, y - 5)],
                                colour.stroke_width(2),
                            ))?;
                        } else {
                            root.draw(&PathElement::new(
                                vec![(to + head, y - 4), (to, y), (to + head, y + 4)],
                                colour.stroke_width(2),
                            ))?;
                        }
                        let label = if lost {
                            format!("{}{step} lost ({})", e.msg_kind, e.note)
                        } else {
                            format!("{}{step} {}", e.msg_kind, e.at)
                        };
                        root.draw(&Text::new(label, ((from + to) / 2, y - 2), text(11, colour)))?;
                    }
                    _ => {
                        let label = match e.kind {
                            TraceKind::Timer => format!("timer {}{step} {}", e.msg_kind, e.at),
                            TraceKind::Fault => format!("{} {}", e.note.to_uppercase(), e.at),
                            _ => format!("{} {}", e.note, e.at),
                        };
                        let colour = if e.kind == TraceKind::Fault {
                            RGBColor(200, 30, 30)
                        } else {
                            RGBColor(90, 90, 90)
                        };
                        root.draw(&Text::new(label, (x(e.src), y + 4), text(11, colour)))?;
                    }
                }
            }
            if lines.len() > shown {
                let y = 50 + ROW * shown as i32;
                root.draw(&Text::new(
                    format!("... {} more events", lines.len() - shown),
                    (width as i32 / 2, y),
                    text(12, BLACK),
                ))?;
            }
            root.present()?;
            Ok(())
        };
        if draw().is_err() {
            return String::new();
        }
    }
    out
}

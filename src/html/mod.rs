//! The HTML report: one self-contained file (styles, charts and diagrams inline, nothing
//! loaded from the network) for `consim run --html` and `consim compare --html`.
//!
//! Charts are plotters' SVG (`charts.rs`); a transaction's sequence diagram is SVG too
//! (`sequence.rs`), drawn for every listed transaction and shown when chosen. A few lines of
//! script switch diagrams, and mark the page ready (`data-ready`) or broken (`data-error`)
//! so a headless browser can tell.

mod charts;
mod sequence;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::compare::Comparison;
use crate::runner::Run;
use crate::sim::TraceKind;

pub use sequence::sequence_svg;

/// Transactions listed with a diagram, besides the violated ones.
const LISTED: u64 = 30;

/// Buckets of the time series.
const BUCKETS: f64 = 60.0;

/// The report page of one run (traced in full), with `title` as its heading.
pub fn run_page(title: &str, run: &Run) -> String {
    let report = &run.report;
    let mut body = String::new();
    let _ = writeln!(body, "<pre class=\"report\">{}</pre>", escape(&report.to_table()));
    let label = report.strategy.clone().unwrap_or_else(|| report.model.clone());
    let client = client_view(run);
    body += "<section class=\"charts\">";
    body += &charts::latency_cdf(&[(label, client.latencies.clone())]);
    if let Some(t) = &report.transactions {
        let outcomes = [
            ("committed", t.committed),
            ("aborted", t.aborted),
            ("accepted", t.accepted),
            ("timed out", t.timed_out),
            ("stuck/in doubt", t.stuck_or_in_doubt),
        ];
        let values: Vec<(String, f64)> = outcomes.iter().map(|(l, v)| (l.to_string(), *v as f64)).collect();
        body += &charts::bars("outcomes", "transactions", &values);
    }
    if let Some(window) = report.metrics.as_ref().and_then(|m| m.inconsistency_window.us) {
        let values: Vec<(String, f64)> = [
            ("p50", window.p50),
            ("p95", window.p95),
            ("p99", window.p99),
            ("max", window.max),
        ]
        .iter()
        .map(|(l, us)| (l.to_string(), *us as f64 / 1000.0))
        .collect();
        body += &charts::bars("inconsistency window", "ms", &values);
    }
    let faults = fault_windows(run);
    body += &charts::over_time(
        "throughput (answered committed or accepted per s)",
        "per s",
        &client.throughput,
        &faults,
    );
    body += &charts::over_time(
        "availability (share of answers that served)",
        "share",
        &client.availability,
        &faults,
    );
    body += "</section>";
    body += &transactions(run);
    page(title, &body)
}

/// The comparison page: the table, each column's latency CDF and outcomes (from `runs`, one
/// run per column traced in full, on the first seed), and the paired differences.
pub fn compare_page(title: &str, comparison: &Comparison, table: &str, runs: &[(String, Run)]) -> String {
    let mut body = format!("<pre class=\"report\">{}</pre>", escape(table));
    body += "<section class=\"charts\">";
    let latencies: Vec<(String, Vec<u64>)> = runs
        .iter()
        .map(|(label, run)| (label.clone(), client_view(run).latencies))
        .collect();
    body += &charts::latency_cdf(&latencies);
    let committed: Vec<(String, f64)> = comparison
        .summaries
        .iter()
        .map(|s| {
            (
                s.variant.clone(),
                s.metrics.get("committed_share").map_or(0.0, |e| e.mean * 100.0),
            )
        })
        .collect();
    body += &charts::bars("committed or accepted (mean over seeds)", "%", &committed);
    for (key, label, scale) in [
        (
            "latency_p99_us",
            "p99 latency, ms: difference from the first column, 95% interval",
            1e-3,
        ),
        (
            "messages_per_tx",
            "messages per transaction: difference from the first column",
            1.0,
        ),
        (
            "committed_share",
            "committed or accepted, %: difference from the first column",
            100.0,
        ),
    ] {
        let values: Vec<(String, f64, f64)> = comparison
            .differences
            .iter()
            .filter_map(|d| {
                d.metrics
                    .get(key)
                    .map(|e| (d.variant.clone(), e.mean * scale, e.ci95 * scale))
            })
            .collect();
        if !values.is_empty() {
            body += &charts::differences(label, &values);
        }
    }
    body += "</section>";
    for (label, run) in runs {
        let _ = write!(body, "<h2>{}</h2>", escape(label));
        body += &transactions(run);
    }
    page(title, &body)
}

/// The load-curve page: the table, and throughput, p99 latency and availability against the
/// varied setting, one line per strategy.
pub fn curve_page(title: &str, curve: &crate::compare::Curve) -> String {
    let mut body = format!(
        "<pre class=\"report\">{}</pre><section class=\"charts\">",
        escape(&curve.to_table())
    );
    let series = |of: &dyn Fn(&crate::compare::CurvePoint) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
        curve
            .saturation
            .iter()
            .map(|(strategy, _)| {
                let points = curve
                    .points
                    .iter()
                    .filter(|p| &p.strategy == strategy)
                    .filter_map(|p| of(p).map(|y| (p.value, y)))
                    .collect();
                (strategy.clone(), points)
            })
            .collect()
    };
    body += &charts::lines(
        "throughput",
        &curve.setting,
        "per s",
        &series(&|p| p.throughput_per_s),
    );
    body += &charts::lines(
        "p99 latency",
        &curve.setting,
        "ms",
        &series(&|p| p.latency_p99_us.map(|us| us / 1000.0)),
    );
    body += &charts::lines(
        "available",
        &curve.setting,
        "%",
        &series(&|p| p.availability.map(|a| a * 100.0)),
    );
    body += "</section>";
    page(title, &body)
}

/// What the client saw, from the trace: latencies of answered requests (µs), and per time
/// bucket the throughput (per s) and the share of answers that served the request.
struct ClientView {
    latencies: Vec<u64>,
    throughput: Vec<(f64, f64)>,
    availability: Vec<(f64, f64)>,
}

fn client_view(run: &Run) -> ClientView {
    let field = |detail: &str, name: &str| -> Option<serde_json::Value> {
        serde_json::from_str::<serde_json::Value>(detail)
            .ok()
            .map(|v| v[name].clone())
    };
    let mut sent: BTreeMap<u64, u64> = BTreeMap::new();
    let mut answers: Vec<(u64, String, u64)> = Vec::new();
    for e in run.trace.entries() {
        match (e.kind, e.msg_kind) {
            (TraceKind::Send, "Request") => {
                if let Some(req) = field(&e.detail, "req").and_then(|v| v.as_u64()) {
                    sent.entry(req).or_insert(e.at.as_us());
                }
            }
            (TraceKind::Deliver, "Response") => {
                let req = field(&e.detail, "req").and_then(|v| v.as_u64());
                let outcome = field(&e.detail, "outcome").and_then(|v| v.as_str().map(String::from));
                if let (Some(req), Some(outcome)) = (req, outcome) {
                    answers.push((req, outcome, e.at.as_us()));
                }
            }
            _ => {}
        }
    }
    let end = run.report.virtual_duration_us.max(1) as f64;
    let width = end / BUCKETS;
    let mut served = vec![0u64; BUCKETS as usize + 1];
    let mut answered = vec![0u64; BUCKETS as usize + 1];
    let mut latencies = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (req, outcome, at) in &answers {
        if !seen.insert(*req) {
            continue; // The first answer counts, as the client records it.
        }
        let bucket = (*at as f64 / width) as usize;
        answered[bucket.min(BUCKETS as usize)] += 1;
        if matches!(outcome.as_str(), "committed" | "accepted" | "aborted") {
            served[bucket.min(BUCKETS as usize)] += 1;
        }
        if outcome != "timed_out"
            && let Some(from) = sent.get(req)
        {
            latencies.push(at - from);
        }
    }
    let ms = |bucket: usize| (bucket as f64 + 0.5) * width / 1000.0;
    let throughput = served
        .iter()
        .enumerate()
        .map(|(b, n)| (ms(b), *n as f64 / (width / 1e6)))
        .collect();
    let availability = answered
        .iter()
        .zip(&served)
        .enumerate()
        .filter(|(_, (a, _))| **a > 0)
        .map(|(b, (a, s))| (ms(b), *s as f64 / *a as f64))
        .collect();
    ClientView {
        latencies,
        throughput,
        availability,
    }
}

/// When faults were in force (ms): partitions and cuts to their heal, crashes to their
/// restart, everything to `heal-all`.
fn fault_windows(run: &Run) -> Vec<(f64, f64)> {
    let end = run.report.virtual_duration_us as f64 / 1000.0;
    let mut open: Vec<(Option<crate::sim::ActorId>, &str, f64)> = Vec::new();
    let mut windows = Vec::new();
    for e in run.trace.entries().iter().filter(|e| e.kind == TraceKind::Fault) {
        let at = e.at.as_us() as f64 / 1000.0;
        match e.note {
            "partition" | "link-down" | "crash" => open.push((e.src, e.note, at)),
            "heal" | "link-up" | "restart" => {
                let started = match e.note {
                    "heal" => "partition",
                    "link-up" => "link-down",
                    _ => "crash",
                };
                if let Some(i) = open
                    .iter()
                    .position(|(src, kind, _)| *kind == started && (started != "crash" || *src == e.src))
                {
                    windows.push((open.remove(i).2, at));
                }
            }
            "heal-all" => windows.extend(open.drain(..).map(|(_, _, from)| (from, at))),
            _ => {}
        }
    }
    windows.extend(open.into_iter().map(|(_, _, from)| (from, end)));
    windows
}

/// The transaction chooser: the violated ones first, then the first few; each drawn.
fn transactions(run: &Run) -> String {
    let mut listed: Vec<(u64, Option<String>)> = Vec::new();
    for verdict in &run.report.checks {
        for v in &verdict.violations {
            if let Some(gtx) = v.gtx
                && !listed.iter().any(|(g, _)| *g == gtx)
            {
                listed.push((gtx, Some(format!("{}: {}", verdict.check, v.detail))));
            }
        }
    }
    let known: std::collections::BTreeSet<u64> = run.trace.entries().iter().filter_map(|e| e.tx).collect();
    for gtx in known.into_iter().take(LISTED as usize) {
        if !listed.iter().any(|(g, _)| *g == gtx) {
            listed.push((gtx, None));
        }
    }
    if listed.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section class=\"transactions\"><h2>Transactions</h2>");
    let violated: Vec<&(u64, Option<String>)> = listed.iter().filter(|(_, v)| v.is_some()).collect();
    if !violated.is_empty() {
        out += "<ul class=\"violations\">";
        for (gtx, why) in &violated {
            let _ = write!(
                out,
                "<li><a href=\"#gtx-{gtx}\">gtx {gtx}</a>: {}</li>",
                escape(why.as_deref().unwrap_or(""))
            );
        }
        out += "</ul>";
    }
    out += "<label>transaction <select id=\"tx\">";
    for (gtx, why) in &listed {
        let mark = if why.is_some() { " (violated)" } else { "" };
        let _ = write!(out, "<option value=\"gtx-{gtx}\">gtx {gtx}{mark}</option>");
    }
    out += "</select></label>";
    for (gtx, _) in &listed {
        let _ = write!(
            out,
            "<div class=\"diagram\" id=\"gtx-{gtx}\" hidden>{}</div>",
            sequence_svg(run, *gtx)
        );
    }
    out + "</section>"
}

/// The page around `body`: inline style and script only.
fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
pre.report {{ background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }}
section.charts svg {{ margin: 0.5em; border: 1px solid #ddd; }}
div.diagram {{ overflow-x: auto; border: 1px solid #ddd; margin-top: 0.5em; }}
ul.violations li {{ color: #a00; }}
</style></head>
<body>
<h1>{title}</h1>
{body}
<script>
window.addEventListener('error', function (e) {{ document.body.dataset.error = String(e.message); }});
(function () {{
  var chooser = document.getElementById('tx');
  function show(id) {{
    document.querySelectorAll('div.diagram').forEach(function (d) {{ d.hidden = d.id !== id; }});
    if (chooser) {{ chooser.value = id; }}
  }}
  if (chooser) {{
    chooser.addEventListener('change', function () {{ show(chooser.value); }});
    window.addEventListener('hashchange', function () {{ show(location.hash.slice(1)); }});
    show(location.hash ? location.hash.slice(1) : chooser.value);
  }}
  document.body.dataset.ready = '1';
}})();
</script>
</body></html>
"#,
        title = escape(title)
    )
}

/// `text` safe inside HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

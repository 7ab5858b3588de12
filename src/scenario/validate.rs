//! Raw file contents → checked kernel configuration, collecting every mistake with its place.

use std::path::Path;

use super::error::{FileError, ScenarioError, offset_of};
use super::locate::{Step, locate, locate_string};
use super::raw;
use crate::net::{ConfigError, FaultPlan, FaultSpec, LatencyDist, LinkSpec, Probability, Topology};
use crate::sim::{Duration, Instant};

/// Parses RON text into `T`, turning ron's position into a located error. Optional fields
/// are written bare (`until: "3s"`, not `until: Some("3s")`).
pub fn parse<T: serde::de::DeserializeOwned>(file: &Path, source: &str) -> Result<T, ScenarioError> {
    let options = ron::Options::default().with_default_extension(
        ron::extensions::Extensions::IMPLICIT_SOME | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
    );
    options.from_str(source).map_err(|e| {
        let start = offset_of(source, e.span.start.line, e.span.start.col);
        let end = offset_of(source, e.span.end.line, e.span.end.col).max(start);
        let end = if end == start {
            next_char_end(source, start)
        } else {
            end
        };
        let message = e.code.to_string();
        // serde names an untagged enum's failure by the type; say what the field takes.
        let (message, help) = if message.contains("untagged enum ServiceTime") {
            (
                "not a service time".to_string(),
                "a duration (\"200us\") or a distribution: Constant(\"2ms\"), Uniform(min:, max:), Normal(mean:, std_dev:), Exponential(mean:), LogNormal(median:, sigma:), Pareto(scale:, shape:)",
            )
        } else {
            (message, "the file format is documented field by field in README.md (\"Scenario files\")")
        };
        let error = FileError::new(file, source, start..end, message, "here").with_help(help);
        ScenarioError::invalid(vec![error])
    })
}

fn next_char_end(source: &str, start: usize) -> usize {
    source[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8())
}

/// Collects located errors against one file.
pub struct Checker<'a> {
    file: &'a Path,
    source: &'a str,
    /// Errors found so far.
    pub errors: Vec<FileError>,
}

impl<'a> Checker<'a> {
    /// A checker for `source`, the text of `file`.
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        Checker {
            file,
            source,
            errors: Vec::new(),
        }
    }

    /// The text being checked.
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// Records an error at the value `path` leads to (the whole file if it cannot be found).
    pub fn error(
        &mut self,
        path: &[Step<'_>],
        message: impl Into<String>,
        label: &str,
        help: Option<String>,
    ) {
        let span = locate(self.source, path).unwrap_or(0..self.source.len().min(1));
        self.push(span, message.into(), label, help);
    }

    /// Records an error at the quoted `name` inside the value `path` leads to.
    pub fn error_at_name(
        &mut self,
        path: &[Step<'_>],
        name: &str,
        message: impl Into<String>,
        label: &str,
        help: Option<String>,
    ) {
        let within = locate(self.source, path).unwrap_or(0..self.source.len());
        let span = locate_string(self.source, within.clone(), name).unwrap_or(within);
        self.push(span, message.into(), label, help);
    }

    fn push(&mut self, span: std::ops::Range<usize>, message: String, label: &str, help: Option<String>) {
        let mut error = FileError::new(self.file, self.source, span, message, label);
        if let Some(help) = help {
            error = error.with_help(help);
        }
        self.errors.push(error);
    }
}

/// Turns a raw link into a `LinkSpec`, reporting bad probabilities and distributions at
/// `path` (the link's place in the file).
pub fn link(check: &mut Checker<'_>, raw: &raw::Link, path: &[Step<'_>], what: &str) -> LinkSpec {
    let mut spec = LinkSpec::default();
    for (field, value, target) in [
        ("loss", raw.loss, &mut spec.loss),
        ("duplicate", raw.duplicate, &mut spec.duplicate),
    ] {
        match Probability::new(&format!("{what} {field}"), value) {
            Ok(p) => *target = p,
            Err(e) => check.error(
                &[path, &[Step::Field(field)]].concat(),
                e.to_string(),
                "not a probability",
                Some("write a number from 0.0 (never) to 1.0 (always), e.g. 0.01 for 1%".into()),
            ),
        }
    }
    spec.fifo = raw.fifo;
    if let Some(latency) = &raw.latency
        && let Some(dist) = distribution(
            check,
            latency,
            &[path, &[Step::Field("latency")]].concat(),
            &format!("{what} latency"),
        )
    {
        spec.latency = dist;
    }
    spec
}

/// A raw distribution (a link's latency, a service's processing time) checked; `None`, with
/// the error reported at `path`, when its parameters are impossible.
pub fn distribution(
    check: &mut Checker<'_>,
    raw: &raw::Latency,
    path: &[Step<'_>],
    what: &str,
) -> Option<LatencyDist> {
    let dist = latency_dist(raw);
    match dist.validate(what) {
        Ok(()) => Some(dist),
        Err(e) => {
            check.error(
                path,
                e.to_string(),
                "impossible distribution",
                Some("forms: Constant(\"2ms\"), Uniform(min: \"1ms\", max: \"10ms\"), Normal(mean:, std_dev:), Exponential(mean:), LogNormal(median:, sigma:), Pareto(scale:, shape:)".into()),
            );
            None
        }
    }
}

fn us(d: &crate::duration_text::HumanDuration) -> u64 {
    d.0.as_us()
}

fn latency_dist(raw: &raw::Latency) -> LatencyDist {
    match raw {
        raw::Latency::Constant(d) => LatencyDist::Constant { us: us(d) },
        raw::Latency::Uniform { min, max } => LatencyDist::Uniform {
            min_us: us(min),
            max_us: us(max),
        },
        raw::Latency::Normal { mean, std_dev } => LatencyDist::Normal {
            mean_us: us(mean) as f64,
            std_dev_us: us(std_dev) as f64,
        },
        raw::Latency::Exponential { mean } => LatencyDist::Exponential {
            mean_us: us(mean) as f64,
        },
        raw::Latency::LogNormal { median, sigma } => LatencyDist::LogNormal {
            median_us: us(median) as f64,
            sigma: *sigma,
        },
        raw::Latency::Pareto { scale, shape } => LatencyDist::Pareto {
            scale_us: us(scale) as f64,
            shape: *shape,
        },
    }
}

/// Converts the raw faults, checking each against the topology and reporting every bad one
/// at its place; returns the faults that passed.
pub fn faults(
    check: &mut Checker<'_>,
    raw: &[raw::Fault],
    topology: &Topology,
    targets: &super::aim::Targets,
) -> Vec<FaultSpec> {
    let at = |d: &crate::duration_text::HumanDuration| Instant::ZERO + d.0;
    let mut good = Vec::new();
    for (index, fault) in raw.iter().enumerate() {
        let spec = match fault {
            raw::Fault::Partition { groups, from, until } => FaultSpec::Partition {
                groups: groups.clone(),
                from: at(from),
                until: until.as_ref().map(at),
            },
            raw::Fault::OneWay {
                senders,
                receivers,
                from,
                until,
            } => FaultSpec::OneWay {
                senders: senders.clone(),
                receivers: receivers.clone(),
                from: at(from),
                until: until.as_ref().map(at),
            },
            raw::Fault::LinkDown { a, b, from, until } => FaultSpec::LinkDown {
                a: a.clone(),
                b: b.clone(),
                from: at(from),
                until: until.as_ref().map(at),
            },
            raw::Fault::Crash {
                node,
                at: when,
                restart,
            } => FaultSpec::Crash {
                node: node.clone(),
                at: at(when),
                restart_at: restart.as_ref().map(at),
            },
            raw::Fault::ClockDrift { node, at: when, ppm } => FaultSpec::ClockDrift {
                node: node.clone(),
                at: at(when),
                drift_ppm: *ppm,
            },
            aimed => match super::aim::spec(aimed) {
                Some(spec) => spec,
                // An intrusion or an instance's crash: a service's act, checked with the system.
                None => continue,
            },
        };
        let path = [Step::Field("faults"), Step::Index(index)];
        match FaultPlan::check_fault(index, &spec, topology) {
            Ok(_) if targets.check(check, &path, &spec) => good.push(spec),
            Ok(_) => {}
            Err(e) => report_fault_error(check, &path, fault, e),
        }
    }
    if let Err(e) = FaultPlan::compile(&good, topology) {
        check.error(
            &[Step::Field("faults")],
            e.to_string(),
            "conflicting faults",
            Some("a node must restart before it can crash again".into()),
        );
    }
    good
}

/// The swarm section's bounds: rates in [0, 1], a horizon above zero.
pub fn swarm(check: &mut Checker<'_>, swarm: &raw::Swarm) {
    for (field, value) in [
        ("max_loss", swarm.max_loss),
        ("max_duplicate", swarm.max_duplicate),
    ] {
        if !(0.0..=1.0).contains(&value) {
            check.error(
                &[Step::Field("swarm"), Step::Field(field)],
                format!("`{field}` is {value}, outside [0, 1]"),
                "not a probability",
                Some("a rate like 0.05 (5%)".into()),
            );
        }
    }
    if let Some(horizon) = swarm.horizon {
        nonzero(
            check,
            horizon.0,
            &[Step::Field("swarm"), Step::Field("horizon")],
            "the swarm horizon",
        );
    }
}

/// Every time-scheduled fault must start before `heal_at`, which lifts them all: one that
/// starts later would be a fault in the liveness phase.
pub fn faults_start_before(check: &mut Checker<'_>, faults: &[raw::Fault], heal_at: Instant) {
    for (index, fault) in faults.iter().enumerate() {
        let (start, field) = match fault {
            raw::Fault::Partition { from, .. }
            | raw::Fault::OneWay { from, .. }
            | raw::Fault::LinkDown { from, .. } => (from, "from"),
            raw::Fault::Crash { at, .. }
            | raw::Fault::CrashInstance { at, .. }
            | raw::Fault::ClockDrift { at, .. }
            | raw::Fault::Intrude { at, .. } => (at, "at"),
            raw::Fault::CrashAt { .. }
            | raw::Fault::PartitionAt { .. }
            | raw::Fault::OneWayAt { .. }
            | raw::Fault::OnMessage { .. }
            | raw::Fault::IntrudeAt { .. } => continue,
        };
        let start = Instant::ZERO + start.0;
        if start >= heal_at {
            check.error(
                &[Step::Field("faults"), Step::Index(index), Step::Field(field)],
                format!(
                    "fault #{} starts at {start}, not before `heal_at` ({heal_at}), which lifts every fault",
                    index + 1
                ),
                "after heal_at",
                Some("start it earlier, or move `heal_at` later".into()),
            );
        }
    }
}

fn report_fault_error(check: &mut Checker<'_>, path: &[Step<'_>], fault: &raw::Fault, error: ConfigError) {
    match &error {
        ConfigError::UnknownNode {
            name,
            suggestion,
            known,
        } => {
            let help = match suggestion {
                Some(s) => format!("did you mean `{s}`? defined nodes: {}", known.join(", ")),
                None => format!("defined nodes: {}", known.join(", ")),
            };
            check.error_at_name(
                path,
                name,
                format!("unknown node `{name}`"),
                "not a node of the model",
                Some(help),
            );
        }
        ConfigError::EmptyWindow { .. } => {
            check.error(
                &[path, &[Step::Field("until")]].concat(),
                error.to_string(),
                "not after `from`",
                Some(
                    "a fault must end after it starts; leave `until` out for a fault that never heals".into(),
                ),
            );
        }
        _ => {
            let field = match fault {
                raw::Fault::Crash { .. } => Some("restart"),
                raw::Fault::ClockDrift { .. } => Some("ppm"),
                raw::Fault::Partition { .. } => Some("groups"),
                raw::Fault::OneWay { .. } => Some("senders"),
                raw::Fault::PartitionAt { .. } => Some("groups"),
                raw::Fault::OneWayAt { .. } => Some("senders"),
                raw::Fault::LinkDown { .. }
                | raw::Fault::CrashAt { .. }
                | raw::Fault::OnMessage { .. }
                | raw::Fault::Intrude { .. }
                | raw::Fault::IntrudeAt { .. }
                | raw::Fault::CrashInstance { .. } => None,
            };
            let full: Vec<Step<'_>> = match field {
                Some(f) => [path, &[Step::Field(f)]].concat(),
                None => path.to_vec(),
            };
            check.error(&full, error.to_string(), "invalid fault", None);
        }
    }
}

/// Reports an unknown node name at its place inside `path`, with the likely intended name.
pub fn unknown_node(check: &mut Checker<'_>, path: &[Step<'_>], name: &str, error: &ConfigError) {
    let help = match error {
        ConfigError::UnknownNode {
            suggestion: Some(s),
            known,
            ..
        } => {
            format!("did you mean `{s}`? defined nodes: {}", known.join(", "))
        }
        ConfigError::UnknownNode { known, .. } => format!("defined nodes: {}", known.join(", ")),
        other => other.to_string(),
    };
    check.error_at_name(
        path,
        name,
        format!("unknown node `{name}`"),
        "not a node of the model",
        Some(help),
    );
}

/// The `Stop` section as kernel limits.
pub fn limits(stop: &raw::Stop) -> crate::world::Limits {
    crate::world::Limits {
        until: stop.time.map(|d| Instant::ZERO + d.0),
        max_events: stop.events,
        max_pending: usize::try_from(stop.pending).unwrap_or(usize::MAX),
        max_retained_bytes: stop.memory_mb.saturating_mul(1 << 20),
    }
}

/// A duration that must not be zero (timeouts, intervals).
pub fn nonzero(check: &mut Checker<'_>, value: Duration, path: &[Step<'_>], what: &str) {
    if value == Duration::ZERO {
        check.error(
            path,
            format!("{what} must be longer than zero"),
            "zero",
            Some("write a positive duration like \"50ms\"".into()),
        );
    }
}

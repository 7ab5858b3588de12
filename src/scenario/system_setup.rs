//! Checking the system sections of a scenario: strategy, workload, gateway, services,
//! broker and checks.

use std::sync::Arc;

use crate::assembly;
use crate::check::CheckKind;
use crate::net::Probability;
use crate::system::model::{KeyRef, Model as SystemModel};
use crate::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};

use super::locate::Step;
use super::raw;
use super::validate::{Checker, nonzero};

/// The most requests a workload may send: the whole plan is drawn and kept in memory before
/// the run.
pub const MAX_REQUESTS: u64 = 100_000_000;

/// Checks the system sections into the configuration the run is built from (its network
/// and faults are the caller's to fill in) and the checks that must hold; `None` if anything
/// is wrong (the checker has the errors).
pub fn setup(
    check: &mut Checker<'_>,
    raw: &raw::Scenario,
    model: &Arc<SystemModel>,
) -> Option<(assembly::SystemConfig, Vec<CheckKind>)> {
    let errors_before = check.errors.len();
    let strategy = match &raw.strategy {
        Some(choice) => {
            let problems = crate::strategy::misfits(&**choice, model);
            for problem in &problems {
                let at_field = problem
                    .field
                    .as_deref()
                    .map(|f| [Step::Field("strategy"), Step::Field(f)]);
                let path: &[Step<'_>] = match &at_field {
                    Some(path) if super::locate::locate(check.source(), path).is_some() => path,
                    _ => &[Step::Field("strategy")],
                };
                let (message, label) = match problem.field {
                    Some(_) => (
                        format!("{} setting: {}", choice.name(), problem.message),
                        "invalid setting",
                    ),
                    None => (problem.message.clone(), "does not fit the model"),
                };
                check.error(path, message, label, problem.hint.clone());
            }
            problems.is_empty().then(|| choice.clone())
        }
        None => {
            let names = crate::strategy::REGISTRY
                .iter()
                .map(|r| format!("{}()", r.file_name))
                .collect::<Vec<_>>()
                .join(", ");
            check.error(
                &[Step::Field("model")],
                "a system model needs a strategy",
                "no strategy given",
                Some(format!("add `strategy:` with one of: {names}")),
            );
            None
        }
    };
    let workload = match &raw.workload {
        Some(w) => workload(check, w)
            .filter(|spec| keys_fit(check, w, spec.key_count, model))
            .filter(|spec| plan_fits(check, spec.request_count, raw.stop.memory_mb)),
        None => {
            check.error(
                &[Step::Field("model")],
                "a system model needs a workload",
                "no workload given",
                Some("add workload: Workload(requests: 1000, arrival: Poisson(rate_per_s: 500.0))".into()),
            );
            None
        }
    };
    let unauthenticated = raw.workload.as_ref().map_or(Probability::NEVER, |w| {
        probability(
            check,
            w.unauthenticated,
            &[Step::Field("workload"), Step::Field("unauthenticated")],
            "workload unauthenticated",
        )
    });
    let gateway = raw.gateway.as_ref();
    let request_timeout = gateway
        .and_then(|g| g.timeout)
        .map_or(assembly::DEFAULT_REQUEST_TIMEOUT, |d| d.0);
    nonzero(
        check,
        request_timeout,
        &[Step::Field("gateway"), Step::Field("timeout")],
        "gateway timeout",
    );
    let services = raw.services.as_ref();
    let lock_timeout = services
        .and_then(|s| s.lock_timeout)
        .map_or(assembly::DEFAULT_LOCK_TIMEOUT, |d| d.0);
    nonzero(
        check,
        lock_timeout,
        &[Step::Field("services"), Step::Field("lock_timeout")],
        "lock_timeout",
    );

    let broker = raw.broker.as_ref();
    let broker_ack_timeout = broker
        .and_then(|b| b.ack_timeout)
        .map_or(assembly::DEFAULT_BROKER_ACK_TIMEOUT, |d| d.0);
    nonzero(
        check,
        broker_ack_timeout,
        &[Step::Field("broker"), Step::Field("ack_timeout")],
        "broker ack_timeout",
    );
    let must_hold = raw
        .checks
        .as_ref()
        .map_or_else(Vec::new, |c| c.must_hold.iter().map(|n| check_kind(*n)).collect());
    let converge_within = raw
        .checks
        .as_ref()
        .and_then(|c| c.converge_within)
        .map_or(crate::check::DEFAULT_CONVERGE_WITHIN, |d| d.0);
    nonzero(
        check,
        converge_within,
        &[Step::Field("checks"), Step::Field("converge_within")],
        "converge_within",
    );
    let max_client_uncertainty = raw.checks.as_ref().and_then(|c| c.max_client_uncertainty);
    if let Some(bound) = max_client_uncertainty
        && !(0.0..=1.0).contains(&bound)
    {
        check.error(
            &[Step::Field("checks"), Step::Field("max_client_uncertainty")],
            format!("max_client_uncertainty {bound} is outside [0, 1]"),
            "not a share",
            Some("a share of the transactions, e.g. 0.01 for 1%".into()),
        );
    }
    if check.errors.len() != errors_before {
        return None;
    }
    let config = assembly::SystemConfig {
        unauthenticated,
        request_timeout,
        retries: gateway
            .and_then(|g| g.retries)
            .unwrap_or(assembly::DEFAULT_RETRIES),
        lock_timeout,
        broker_ack_timeout,
        broker_per_key_ordering: broker.is_some_and(|b| b.per_key_ordering),
        converge_within,
        shared_database: services.is_some_and(|s| s.shared_database),
        max_client_uncertainty,
        ..assembly::SystemConfig::new(databases(model, services), strategy?, workload?)
    };
    Some((config, must_hold))
}

/// The model with the scenario's isolation and read guard, when it gives them, in place of
/// every service's own: a deployment setting, to compare on one model.
fn databases(model: &Arc<SystemModel>, services: Option<&raw::Services>) -> Arc<SystemModel> {
    let (isolation, reads) = services.map_or((None, None), |s| (s.isolation, s.reads));
    if isolation.is_none() && reads.is_none() {
        return Arc::clone(model);
    }
    let mut changed = SystemModel::clone(model);
    for service in &mut changed.services {
        service.isolation = isolation.unwrap_or(service.isolation);
        service.reads = reads.unwrap_or(service.reads);
    }
    Arc::new(changed)
}

fn probability(check: &mut Checker<'_>, value: f64, path: &[Step<'_>], what: &str) -> Probability {
    Probability::new(what, value).unwrap_or_else(|e| {
        check.error(
            path,
            e.to_string(),
            "not a probability",
            Some("write a number from 0.0 to 1.0, e.g. 0.05 for 5%".into()),
        );
        Probability::NEVER
    })
}

fn workload(check: &mut Checker<'_>, raw: &raw::Workload) -> Option<WorkloadSpec> {
    let arrival = match raw.arrival {
        raw::Arrival::Constant(interval) => ArrivalProcess::Constant { interval: interval.0 },
        raw::Arrival::Poisson { rate_per_s } => ArrivalProcess::Poisson { rate_per_s },
        raw::Arrival::Bursts { size, within, every } => ArrivalProcess::Bursts {
            burst_size: size,
            within: within.0,
            every: every.0,
        },
    };
    let keys = match raw.keys {
        None | Some(raw::Keys::Uniform) => KeyPopularity::Uniform,
        Some(raw::Keys::Zipf(exponent)) => KeyPopularity::Zipf { exponent },
    };
    let audit_share = probability(
        check,
        raw.audit_share,
        &[Step::Field("workload"), Step::Field("audit_share")],
        "workload audit_share",
    );
    let too_many = raw.requests > MAX_REQUESTS;
    if too_many {
        check.error(
            &[Step::Field("workload"), Step::Field("requests")],
            format!("workload requests {} is more than {MAX_REQUESTS}", raw.requests),
            "too many requests",
            Some(format!(
                "the request plan is kept in memory; send at most {MAX_REQUESTS} requests per run"
            )),
        );
    }
    let spec = WorkloadSpec {
        request_count: raw.requests,
        arrival,
        keys,
        key_count: raw.key_count.unwrap_or(100),
        audit_share,
    };
    match spec.validate() {
        Ok(()) => (!too_many).then_some(spec),
        Err(errors) => {
            for e in errors {
                let field = e.what.strip_prefix("workload.").unwrap_or("requests");
                let message = format!("{}: {}", e.what, e.problem);
                check.error(
                    &[Step::Field("workload"), Step::Field(field)],
                    message,
                    "invalid workload",
                    Some(e.hint.clone()),
                );
            }
            None
        }
    }
}

/// Reports a `key_count` larger than a table whose rows requests need: a step that adds to or
/// deletes the request's key (or its second key) needs that row to exist. True if it fits.
/// Bytes the client keeps per planned request before the run starts: the request, and when
/// it was sent.
pub const PLAN_BYTES_PER_REQUEST: u64 = (std::mem::size_of::<crate::workload::PlannedRequest>()
    + std::mem::size_of::<Option<crate::sim::Instant>>()) as u64;

/// Whether the request plan, drawn whole before the run, fits in `stop.memory_mb`: it counts
/// against the limit like everything else the run keeps, and is refused here before it is
/// allocated (10^8 requests would take gigabytes, then stop at event 0).
fn plan_fits(check: &mut Checker<'_>, requests: u64, memory_mb: u64) -> bool {
    let plan = requests.saturating_mul(PLAN_BYTES_PER_REQUEST);
    let limit = memory_mb.saturating_mul(1 << 20);
    if plan <= limit {
        return true;
    }
    check.error(
        &[Step::Field("workload"), Step::Field("requests")],
        format!(
            "the request plan of {requests} requests takes {} MiB, more than stop.memory_mb ({memory_mb} MiB)",
            plan.div_ceil(1 << 20)
        ),
        "plan larger than the memory limit",
        Some(format!(
            "send at most {} requests, or raise `stop: Stop(memory_mb: ...)`",
            limit / PLAN_BYTES_PER_REQUEST
        )),
    );
    false
}

fn keys_fit(check: &mut Checker<'_>, raw: &raw::Workload, key_count: u64, model: &SystemModel) -> bool {
    let tightest = model
        .steps
        .iter()
        .flat_map(|step| [&step.action, &step.compensation].map(|action| (step, action)))
        .filter_map(|(step, action)| {
            let (table, key) = super::system_model::needed_row(model, step.service, action)?;
            let table = &model.services[step.service.index()].tables[table.index()];
            matches!(key, KeyRef::Request | KeyRef::Other).then_some((step, key, table))
        })
        .min_by_key(|(_, _, table)| table.key_count);
    let Some((step, key, table)) = tightest else {
        return true;
    };
    if key_count <= table.key_count {
        return true;
    }
    let service = &model.services[step.service.index()].name;
    let (path, written) = match raw.key_count {
        Some(_) => (&[Step::Field("workload"), Step::Field("key_count")][..], ""),
        None => (&[Step::Field("workload")][..], " (the default)"),
    };
    check.error(
        path,
        format!(
            "workload key_count {key_count}{written} is more than the {} rows of table `{service}.{}`",
            table.key_count, table.name
        ),
        "more keys than rows",
        Some(format!(
            "step `{}` needs the row of key {key:?} to exist; use key_count: {} or fewer, or give the \
             table more rows",
            step.name, table.key_count
        )),
    );
    false
}

/// The check a file names.
pub fn check_kind(name: raw::CheckName) -> CheckKind {
    match name {
        raw::CheckName::Atomicity => CheckKind::Atomicity,
        raw::CheckName::NoDoubleEffect => CheckKind::NoDoubleEffect,
        raw::CheckName::Conservation => CheckKind::Conservation,
        raw::CheckName::NoLostWork => CheckKind::NoLostWork,
        raw::CheckName::NoOversell => CheckKind::NoOversell,
        raw::CheckName::Convergence => CheckKind::Convergence,
        raw::CheckName::ClientAnswers => CheckKind::ClientAnswers,
        raw::CheckName::Ownership => CheckKind::Ownership,
    }
}

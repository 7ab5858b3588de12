//! Checking a `System(...)` model file: names become ids, compensations are derived, and
//! every mistake is located.

use crate::net::LatencyDist;
use crate::net::error::closest_name;
use crate::store::{Bounds, CostModel, TableId};
use crate::system::model::{Action, KeyRef, Model, ServiceId, ServiceSpec, StepSpec, TableSpec};

use super::locate::Step;
use super::raw;
use super::validate::Checker;

/// Actor names every run may use whatever its strategy.
const FIXED_ACTOR_NAMES: [&str; 4] = ["client", "gateway", "broker", "runner"];

/// Actor names a service may not take: the fixed ones, and every registered strategy's own
/// actors (a coordinator, an orchestrator), so a model runs under any strategy.
pub fn reserved_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = FIXED_ACTOR_NAMES.to_vec();
    for strategy in crate::strategy::registry::defaults() {
        names.extend(strategy.extra_actor_names());
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// The most steps a business transaction may have: a strategy may keep a transaction's steps
/// as bits of a `u64` (the orchestrated saga's log does).
pub const MAX_STEPS: usize = 64;

/// The most rows a table may start with: every row is created in memory before the run.
pub const MAX_ROWS: u64 = 10_000_000;

/// Most instances a service may run.
pub const MAX_INSTANCES: u16 = 64;

/// Checks a raw system and builds the model (`None` if anything was wrong; the checker has
/// the errors).
pub fn system(check: &mut Checker<'_>, raw: &raw::System, name: &str) -> Option<Model> {
    let errors_before = check.errors.len();
    let names: Vec<&str> = raw.services.keys().map(String::as_str).collect();
    let mut services = Vec::new();
    for (service_name, service) in &raw.services {
        let reserved = reserved_names();
        if reserved.contains(&service_name.as_str()) {
            check.error_at_name(
                &[Step::Field("services")],
                service_name,
                format!("`{service_name}` is reserved for an actor consim adds"),
                "reserved name",
                Some(format!("rename the service; reserved: {}", reserved.join(", "))),
            );
        }
        if service.tables.is_empty() {
            check.error_at_name(&[Step::Field("services")], service_name, format!("service `{service_name}` has no table"), "no data", Some("a service owns at least one table: tables: {\"accounts\": Table(rows: 100, initial: 1000)}".into()));
        }
        for (table_name, table) in &service.tables {
            let path = [
                Step::Field("services"),
                Step::Key(service_name),
                Step::Field("tables"),
                Step::Key(table_name),
            ];
            self::table(check, &path, &format!("{service_name}.{table_name}"), table);
        }
        let db = service.db.as_ref();
        let default_cost = CostModel::default();
        let db_path = [
            Step::Field("services"),
            Step::Key(service_name),
            Step::Field("db"),
        ];
        let op_path = [&db_path[..], &[Step::Field("op")]].concat();
        let forced_path = [&db_path[..], &[Step::Field("forced_write")]].concat();
        let op = service_time(
            check,
            &db.and_then(|d| d.op.clone()),
            (&op_path, &format!("{service_name} db op")),
            default_cost.op_us,
        );
        let forced = service_time(
            check,
            &db.and_then(|d| d.forced_write.clone()),
            (&forced_path, &format!("{service_name} db forced_write")),
            default_cost.forced_write_us,
        );
        services.push(ServiceSpec {
            name: service_name.clone(),
            tables: service
                .tables
                .iter()
                .map(|(t, table)| TableSpec {
                    name: t.clone(),
                    key_count: table.rows,
                    initial: table.initial,
                })
                .collect(),
            processing: service_time(
                check,
                &service.processing,
                (
                    &[
                        Step::Field("services"),
                        Step::Key(service_name),
                        Step::Field("processing"),
                    ],
                    &format!("{service_name} processing"),
                ),
                200,
            ),
            db_cost: CostModel {
                op_us: op.mean_us().round() as u64,
                forced_write_us: forced.mean_us().round() as u64,
            },
            db_times: (!op.is_constant() || !forced.is_constant()).then_some(crate::system::model::DbTimes {
                op,
                forced_write: forced,
            }),
            capacity: crate::system::model::Capacity {
                workers: service.workers,
                queue_limit: service.queue,
            },
            isolation: service.isolation.unwrap_or_default(),
            reads: service.reads.unwrap_or_default(),
            instances: service.instances.unwrap_or(1),
            balance: service.balance.unwrap_or_default(),
        });
        if let Some(count) = service.instances.filter(|n| !(1..=MAX_INSTANCES).contains(n)) {
            check.error(
                &[
                    Step::Field("services"),
                    Step::Key(service_name),
                    Step::Field("instances"),
                ],
                format!("{count} instances: a service runs 1 to {MAX_INSTANCES}"),
                "instances",
                Some("leave `instances` out for one".into()),
            );
        }
        if service.workers == Some(0) {
            check.error(
                &[
                    Step::Field("services"),
                    Step::Key(service_name),
                    Step::Field("workers"),
                ],
                "a service with 0 workers runs nothing",
                "zero",
                Some("give it at least 1 worker, or leave `workers` out for no limit".into()),
            );
        }
    }
    if raw.steps.is_empty() {
        check.error(
            &[Step::Field("steps")],
            "the business transaction has no step",
            "empty",
            Some("list at least one Step(name:, service:, action:)".into()),
        );
    }
    if raw.steps.len() > MAX_STEPS {
        check.error(
            &[Step::Field("steps"), Step::Index(MAX_STEPS)],
            format!(
                "the business transaction has {} steps, more than {MAX_STEPS}",
                raw.steps.len()
            ),
            "one step too many",
            Some(format!(
                "strategies keep a transaction's steps in a 64-bit set; keep at most {MAX_STEPS} steps"
            )),
        );
    }
    // Rows some step inserts, by (service, table, key): Add and Delete on them need no row at
    // start (the Delete that compensates an Insert).
    let inserted: Vec<(&str, &str, raw::KeyRef)> = raw
        .steps
        .iter()
        .flat_map(|step| {
            [Some(&step.action), step.compensation.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(move |action| match action {
                    raw::Action::Insert { table, key, .. } => {
                        Some((step.service.as_str(), table.as_str(), *key))
                    }
                    raw::Action::Add { .. }
                    | raw::Action::Delete { .. }
                    | raw::Action::Set { .. }
                    | raw::Action::ReadThenWrite { .. } => None,
                })
        })
        .collect();
    let mut steps = Vec::new();
    for (index, step) in raw.steps.iter().enumerate() {
        let path = [Step::Field("steps"), Step::Index(index)];
        let Some(service) = resolve_service(check, &path, &step.service, &names) else {
            continue;
        };
        let tables: Vec<&str> = raw.services[&step.service]
            .tables
            .keys()
            .map(String::as_str)
            .collect();
        // An Add or Delete on a `Const` row needs the row: in the table from the start, or
        // inserted by a step. An unknown table is reported by `action`.
        let const_row_exists = |check: &mut Checker<'_>, path: &[Step<'_>], action: &raw::Action| {
            let Some((table, k)) = const_row(action) else {
                return;
            };
            let Some(rows) = raw.services[&step.service].tables.get(table).map(|t| t.rows) else {
                return;
            };
            let row = (step.service.as_str(), table, raw::KeyRef::Const(k));
            if k >= rows && !inserted.contains(&row) {
                missing_row(check, path, table, k, rows);
            }
        };
        let action_path = [path[0], path[1], Step::Field("action")];
        let action = self::action(check, &action_path, &step.action, &tables, &step.service)
            .filter(|_| !set_action(check, &action_path, &step.action, &step.name));
        const_row_exists(check, &action_path, &step.action);
        let compensation = match &step.compensation {
            Some(raw) => {
                let comp_path = [path[0], path[1], Step::Field("compensation")];
                let compensation = self::action(check, &comp_path, raw, &tables, &step.service);
                let refusable = refusable(check, &comp_path, raw, &step.name);
                const_row_exists(check, &comp_path, raw);
                compensation.filter(|_| !refusable)
            }
            None => action
                .as_ref()
                .and_then(|action| inverse(check, &path, action, &step.name)),
        };
        let (Some(action), Some(compensation)) = (action, compensation) else {
            continue;
        };
        steps.push(StepSpec {
            name: step.name.clone(),
            service,
            action,
            compensation,
        });
    }
    let mut audit = Vec::new();
    for (index, (service_name, table_name)) in raw.audit.iter().enumerate() {
        let path = [Step::Field("audit"), Step::Index(index)];
        let Some(service) = resolve_service(check, &path, service_name, &names) else {
            continue;
        };
        let tables: Vec<&str> = raw.services[service_name]
            .tables
            .keys()
            .map(String::as_str)
            .collect();
        if let Some(table) = resolve_table(check, &path, table_name, &tables, service_name) {
            audit.push((service, table));
        }
    }
    let entry_checks_replica = raw.entry_checks_replica.as_deref().and_then(|wanted| {
        super::decisions::later_counter_step(check, "entry_checks_replica", wanted, &steps)
    });
    let entry_queries = raw
        .entry_queries
        .as_deref()
        .and_then(|wanted| super::decisions::later_counter_step(check, "entry_queries", wanted, &steps));
    (check.errors.len() == errors_before).then(|| Model {
        name: name.to_string(),
        services,
        steps,
        audit,
        entry_checks_replica,
        entry_queries,
    })
}

/// The table and row `action` needs to exist when it runs: Add and Delete need their row,
/// unless a step of `model` inserts it (the Delete that compensates an Insert). `None` for an
/// Insert, which creates its row.
pub fn needed_row(model: &Model, service: ServiceId, action: &Action) -> Option<(TableId, KeyRef)> {
    let (table, key) = match *action {
        Action::Add { table, key, .. }
        | Action::Delete { table, key }
        | Action::Set { table, key, .. }
        | Action::ReadThenWrite { table, key, .. } => (table, key),
        Action::Insert { .. } => return None,
    };
    let inserted = model
        .steps
        .iter()
        .filter(|step| step.service == service)
        .flat_map(|step| [&step.action, &step.compensation])
        .any(|a| matches!(*a, Action::Insert { table: t, key: k, .. } if (t, k) == (table, key)));
    (!inserted).then_some((table, key))
}

fn resolve_service(
    check: &mut Checker<'_>,
    path: &[Step<'_>],
    name: &str,
    names: &[&str],
) -> Option<ServiceId> {
    match names.iter().position(|n| *n == name) {
        Some(index) => Some(ServiceId(index as u16)),
        None => {
            let help = match closest_name(name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? defined services: {}", names.join(", ")),
                None => format!("defined services: {}", names.join(", ")),
            };
            check.error_at_name(
                path,
                name,
                format!("unknown service `{name}`"),
                "not a service of this model",
                Some(help),
            );
            None
        }
    }
}

fn resolve_table(
    check: &mut Checker<'_>,
    path: &[Step<'_>],
    name: &str,
    tables: &[&str],
    service: &str,
) -> Option<TableId> {
    match tables.iter().position(|t| *t == name) {
        Some(index) => Some(TableId(index as u16)),
        None => {
            let help = match closest_name(name, tables.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? tables of `{service}`: {}", tables.join(", ")),
                None => format!("tables of `{service}`: {}", tables.join(", ")),
            };
            check.error_at_name(
                path,
                name,
                format!("service `{service}` has no table `{name}`"),
                "unknown table",
                Some(help),
            );
            None
        }
    }
}

/// The bounds `min` and `max` make (none given: unbounded), or `None` with an error when
/// they leave no value between them.
fn bounds(check: &mut Checker<'_>, path: &[Step<'_>], min: Option<i64>, max: Option<i64>) -> Option<Bounds> {
    let bounds = Bounds {
        min: min.unwrap_or(i64::MIN),
        max: max.unwrap_or(i64::MAX),
    };
    if bounds.min > bounds.max {
        check.error(
            path,
            format!("min {} is above max {}", bounds.min, bounds.max),
            "empty bounds",
            None,
        );
        return None;
    }
    Some(bounds)
}

fn action(
    check: &mut Checker<'_>,
    path: &[Step<'_>],
    raw: &raw::Action,
    tables: &[&str],
    service: &str,
) -> Option<Action> {
    Some(match raw {
        raw::Action::Add {
            table,
            key,
            delta,
            min,
            max,
        } => {
            let table = resolve_table(check, path, table, tables, service)?;
            let bounds = bounds(check, path, *min, *max)?;
            Action::Add {
                table,
                key: key_ref(*key),
                delta: *delta,
                bounds,
            }
        }
        raw::Action::Insert { table, key, value } => Action::Insert {
            table: resolve_table(check, path, table, tables, service)?,
            key: key_ref(*key),
            value: *value,
        },
        raw::Action::Delete { table, key } => Action::Delete {
            table: resolve_table(check, path, table, tables, service)?,
            key: key_ref(*key),
        },
        raw::Action::ReadThenWrite {
            table,
            key,
            delta,
            min,
            max,
            also_reads,
        } => {
            let table = resolve_table(check, path, table, tables, service)?;
            let bounds = bounds(check, path, *min, *max)?;
            Action::ReadThenWrite {
                table,
                key: key_ref(*key),
                delta: *delta,
                bounds,
                also_reads: also_reads.map(key_ref),
            }
        }
        raw::Action::Set { table, key, value } => Action::Set {
            table: resolve_table(check, path, table, tables, service)?,
            key: key_ref(*key),
            value: *value,
        },
    })
}

/// The compensation written by default: the opposite change, with no bounds (undoing must
/// not fail), or the delete of an inserted row. A delete has none: re-inserting the row could
/// be refused. `path` is the step's place, for errors.
fn inverse(check: &mut Checker<'_>, path: &[Step<'_>], action: &Action, step: &str) -> Option<Action> {
    match *action {
        // The commutative undo of a read-then-write: give back what it took, whatever the
        // row holds by then.
        Action::Add {
            table, key, delta, ..
        }
        | Action::ReadThenWrite {
            table, key, delta, ..
        } => match delta.checked_neg() {
            Some(opposite) => Some(Action::Add {
                table,
                key,
                delta: opposite,
                bounds: Bounds::ANY,
            }),
            None => {
                check.error(
                    &[path, &[Step::Field("action"), Step::Field("delta")]].concat(),
                    format!("step `{step}` adds {delta}, which has no opposite in a 64-bit integer"),
                    "cannot be undone",
                    Some(format!(
                        "the default compensation adds -delta; use a delta above {}",
                        i64::MIN
                    )),
                );
                None
            }
        },
        Action::Insert { table, key, .. } => Some(Action::Delete { table, key }),
        // A Set action is refused where it is read (`set_action`); nothing more to say.
        Action::Set { .. } => None,
        Action::Delete { .. } => {
            check.error(
                path,
                format!("step `{step}` deletes a row and has no compensation"),
                "no compensation",
                Some(
                    "a deleted row cannot be restored safely (an Insert could be refused); \
                     delete rows in compensations, or write an Add without bounds"
                        .into(),
                ),
            );
            None
        }
    }
}

/// Reports a Set written as a step's action: overwriting a row is only offered as a
/// compensation (the naive undo), since an action's effect must be known to judge it. True if
/// it was reported.
fn set_action(check: &mut Checker<'_>, path: &[Step<'_>], raw: &raw::Action, step: &str) -> bool {
    if !matches!(raw, raw::Action::Set { .. }) {
        return false;
    }
    check.error(
        path,
        format!("step `{step}` has a Set as its action; a Set is only a compensation"),
        "not an action",
        Some("write the action as an Add, an Insert or a Delete".into()),
    );
    true
}

/// Reports a written compensation that could be refused for business reasons (a bounded Add,
/// an Insert): a saga that cannot undo a step leaves it half done. True if it was reported.
fn refusable(check: &mut Checker<'_>, path: &[Step<'_>], raw: &raw::Action, step: &str) -> bool {
    let help = "a compensation must not fail for business reasons: write an Add without min or max, \
                or a Delete";
    match raw {
        raw::Action::Add { min, max, .. } | raw::Action::ReadThenWrite { min, max, .. }
            if min.is_some() || max.is_some() =>
        {
            let bound = if min.is_some() { "min" } else { "max" };
            check.error(
                &[path, &[Step::Field(bound)]].concat(),
                format!("the compensation of step `{step}` has a `{bound}`, so it could be refused"),
                "bounded compensation",
                Some(help.into()),
            );
            true
        }
        raw::Action::Insert { .. } => {
            check.error(
                path,
                format!(
                    "the compensation of step `{step}` inserts a row, which is refused if the row exists"
                ),
                "can be refused",
                Some(help.into()),
            );
            true
        }
        raw::Action::Add { .. }
        | raw::Action::Delete { .. }
        | raw::Action::Set { .. }
        | raw::Action::ReadThenWrite { .. } => false,
    }
}

/// Checks a table's size: every row is materialised, and an audit sums them.
fn table(check: &mut Checker<'_>, path: &[Step<'_>], name: &str, table: &raw::Table) {
    if table.rows > MAX_ROWS {
        check.error(
            &[path, &[Step::Field("rows")]].concat(),
            format!("table `{name}` has {} rows, more than {MAX_ROWS}", table.rows),
            "too many rows",
            Some(format!(
                "every row is created in memory at start; use at most {MAX_ROWS} rows"
            )),
        );
    } else if i64::try_from(table.rows)
        .ok()
        .and_then(|rows| rows.checked_mul(table.initial))
        .is_none()
    {
        check.error(
            &[path, &[Step::Field("initial")]].concat(),
            format!(
                "table `{name}` overflows: {} rows of {} sum beyond a 64-bit integer",
                table.rows, table.initial
            ),
            "overflows",
            Some(format!(
                "audits sum the rows; keep rows × initial within ±{}",
                i64::MAX
            )),
        );
    }
}

/// The table and row of an Add or Delete on a `Const` key: rows those need to exist.
fn const_row(raw: &raw::Action) -> Option<(&str, u64)> {
    match *raw {
        raw::Action::Add {
            ref table,
            key: raw::KeyRef::Const(k),
            ..
        }
        | raw::Action::Delete {
            ref table,
            key: raw::KeyRef::Const(k),
        }
        | raw::Action::Set {
            ref table,
            key: raw::KeyRef::Const(k),
            ..
        } => Some((table.as_str(), k)),
        _ => None,
    }
}

/// Reports that row `k` of `table` (with `rows` rows) is missing for the action at `path`.
fn missing_row(check: &mut Checker<'_>, path: &[Step<'_>], table: &str, k: u64, rows: u64) {
    let help = match rows {
        0 => format!("table `{table}` starts empty; insert row {k} in a step, or give the table rows"),
        _ => format!(
            "Add and Delete need their row: use Const(0) to Const({}), or insert row {k} in a step",
            rows - 1
        ),
    };
    check.error(
        &[path, &[Step::Field("key")]].concat(),
        format!("row {k} is not in table `{table}`, which has {rows} rows (keys 0..{rows})"),
        "no such row",
        Some(help),
    );
}

fn key_ref(raw: raw::KeyRef) -> KeyRef {
    match raw {
        raw::KeyRef::Request => KeyRef::Request,
        raw::KeyRef::Other => KeyRef::Other,
        raw::KeyRef::Tx => KeyRef::Tx,
        raw::KeyRef::Const(k) => KeyRef::Const(k),
    }
}

/// A service time as a distribution: absent, its default (`default_us`, fixed); fixed; or
/// drawn, checked (an impossible one reported at `path`, naming it `what`).
fn service_time(
    check: &mut Checker<'_>,
    raw: &Option<raw::ServiceTime>,
    (path, what): (&[Step<'_>], &str),
    default_us: u64,
) -> LatencyDist {
    match raw {
        None => LatencyDist::Constant { us: default_us },
        Some(raw::ServiceTime::Fixed(d)) => LatencyDist::Constant { us: d.0.as_us() },
        Some(raw::ServiceTime::Drawn(dist)) => super::validate::distribution(check, dist, path, what)
            .unwrap_or(LatencyDist::Constant { us: default_us }),
    }
}

/// The scenario's `actors` workers, checked: only the broker (for strategies with one) and
/// the strategy's own actors take them (services get theirs from the model).
pub fn paces(
    check: &mut Checker<'_>,
    raw: &std::collections::BTreeMap<String, raw::Pace>,
    strategy: &crate::strategy::StrategyChoice,
) -> std::collections::BTreeMap<String, crate::system::paced::Pace> {
    let mut allowed: Vec<&str> = strategy.extra_actor_names();
    if strategy.uses_broker() {
        allowed.push("broker");
    }
    let mut out = std::collections::BTreeMap::new();
    for (name, pace) in raw {
        let path = [Step::Field("actors"), Step::Key(name)];
        if !allowed.contains(&name.as_str()) {
            let help = match closest_name(name, allowed.iter().copied()) {
                Some(near) => format!("did you mean `{near}`? actors that take workers here: {}", allowed.join(", ")),
                None if allowed.is_empty() => "this strategy has no broker and no actors of its own; services take `workers` in the model".into(),
                None => format!("actors that take workers here: {} (services take `workers` in the model)", allowed.join(", ")),
            };
            check.error(
                &path,
                format!("`{name}` cannot be given workers here"),
                "not the broker or the strategy's actor",
                Some(help),
            );
            continue;
        }
        if pace.workers == 0 {
            check.error(
                &[&path[..], &[Step::Field("workers")]].concat(),
                "0 workers handle nothing",
                "zero",
                Some("at least 1".into()),
            );
            continue;
        }
        let at = [&path[..], &[Step::Field("processing")]].concat();
        let processing = service_time(
            check,
            &Some(pace.processing.clone()),
            (&at, &format!("{name} processing")),
            0,
        );
        out.insert(
            name.clone(),
            crate::system::paced::Pace {
                capacity: crate::system::model::Capacity {
                    workers: Some(pace.workers),
                    queue_limit: pace.queue,
                },
                processing,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The model `source` describes, or the messages of its errors.
    fn check(source: &str) -> Result<Model, Vec<String>> {
        let path = Path::new("model.ron");
        let messages =
            |errors: &[crate::scenario::FileError]| errors.iter().map(|e| e.message.clone()).collect();
        let raw: raw::Model =
            super::super::validate::parse(path, source).map_err(|e| messages(e.errors()))?;
        let raw::Model::System(raw) = raw else {
            panic!("a system model expected")
        };
        let mut checker = Checker::new(path, source);
        system(&mut checker, &raw, "model").ok_or_else(|| messages(&checker.errors))
    }

    #[test]
    fn a_row_a_step_inserts_needs_no_row_at_start() {
        let model = check(
            r#"System(
                services: {"order": Service(tables: {"orders": Table(rows: 0)})},
                steps: [
                    Step(name: "fixed", service: "order", action: Insert(table: "orders", key: Const(7), value: 1)),
                    Step(name: "own", service: "order", action: Insert(table: "orders", key: Request, value: 1)),
                ],
            )"#,
        )
        .expect("the deletes that compensate inserts need no row");
        for step in &model.steps {
            assert!(matches!(step.compensation, Action::Delete { .. }), "{step:?}");
            assert_eq!(
                needed_row(&model, step.service, &step.compensation),
                None,
                "{step:?}"
            );
            assert_eq!(needed_row(&model, step.service, &step.action), None, "{step:?}");
        }
    }

    #[test]
    fn an_add_needs_its_row_and_is_undone_by_the_unbounded_opposite() {
        let model = check(
            r#"System(
                services: {"bank": Service(tables: {"accounts": Table(rows: 3, initial: 10)})},
                steps: [Step(name: "debit", service: "bank", action: Add(table: "accounts", key: Const(2), delta: -4, min: 0))],
            )"#,
        )
        .expect("row 2 exists");
        let step = &model.steps[0];
        assert_eq!(
            step.compensation,
            Action::Add {
                table: TableId(0),
                key: KeyRef::Const(2),
                delta: 4,
                bounds: Bounds::ANY,
            }
        );
        assert_eq!(
            needed_row(&model, step.service, &step.action),
            Some((TableId(0), KeyRef::Const(2)))
        );
    }

    #[test]
    fn every_mistake_in_a_step_is_reported_not_only_the_first() {
        let errors = check(
            r#"System(
                services: {"bank": Service(tables: {"accounts": Table(rows: 3)})},
                steps: [Step(
                    name: "debit",
                    service: "bank",
                    action: Add(table: "acounts", key: Request, delta: -4),
                    compensation: Add(table: "accounts", key: Const(3), delta: 4, min: 0),
                )],
            )"#,
        )
        .expect_err("three mistakes");
        assert_eq!(
            errors,
            [
                "service `bank` has no table `acounts`",
                "the compensation of step `debit` has a `min`, so it could be refused",
                "row 3 is not in table `accounts`, which has 3 rows (keys 0..3)",
            ]
        );
    }
}

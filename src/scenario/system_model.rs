//! Checking a `System(...)` model file: names become ids, compensations are derived, and
//! every mistake is located.

use crate::net::error::closest_name;
use crate::sim::Duration;
use crate::store::{Bounds, CostModel, TableId};
use crate::system::model::{Action, KeyRef, Model, ServiceId, ServiceSpec, StepSpec, TableSpec};

use super::locate::Step;
use super::raw;
use super::validate::Checker;

/// Actor names the assembly uses; a service may not take one.
pub const RESERVED_NAMES: [&str; 6] = [
    "client",
    "gateway",
    "broker",
    "coordinator",
    "orchestrator",
    "runner",
];

/// Checks a raw system and builds the model (`None` if anything was wrong; the checker has
/// the errors).
pub fn system(check: &mut Checker<'_>, raw: &raw::System, name: &str) -> Option<Model> {
    let errors_before = check.errors.len();
    let names: Vec<&str> = raw.services.keys().map(String::as_str).collect();
    let mut services = Vec::new();
    for (service_name, service) in &raw.services {
        if RESERVED_NAMES.contains(&service_name.as_str()) {
            check.error_at_name(
                &[Step::Field("services")],
                service_name,
                format!("`{service_name}` is reserved for an actor consim adds"),
                "reserved name",
                Some(format!(
                    "rename the service; reserved: {}",
                    RESERVED_NAMES.join(", ")
                )),
            );
        }
        if service.tables.is_empty() {
            check.error_at_name(&[Step::Field("services")], service_name, format!("service `{service_name}` has no table"), "no data", Some("a service owns at least one table: tables: {\"accounts\": Table(rows: 100, initial: 1000)}".into()));
        }
        let db = service.db.as_ref();
        let default_cost = CostModel::default();
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
            processing: service.processing.map_or(Duration::from_us(200), |d| d.0),
            db_cost: CostModel {
                op_us: db.and_then(|d| d.op).map_or(default_cost.op_us, |d| d.0.as_us()),
                forced_write_us: db
                    .and_then(|d| d.forced_write)
                    .map_or(default_cost.forced_write_us, |d| d.0.as_us()),
            },
        });
    }
    if raw.steps.is_empty() {
        check.error(
            &[Step::Field("steps")],
            "the business transaction has no step",
            "empty",
            Some("list at least one Step(name:, service:, action:)".into()),
        );
    }
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
        let action_path = [path[0], path[1], Step::Field("action")];
        let Some(action) = action(check, &action_path, &step.action, &tables, &step.service) else {
            continue;
        };
        let compensation = match &step.compensation {
            Some(raw) => {
                let comp_path = [path[0], path[1], Step::Field("compensation")];
                let Some(compensation) = self::action(check, &comp_path, raw, &tables, &step.service) else {
                    continue;
                };
                compensation
            }
            None => match inverse(&action) {
                Some(compensation) => compensation,
                None => {
                    check.error(
                        &path,
                        format!("step `{}` deletes a row and has no compensation", step.name),
                        "no compensation",
                        Some(
                            "a delete cannot be undone automatically; write compensation: Insert(...)".into(),
                        ),
                    );
                    continue;
                }
            },
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
    (check.errors.len() == errors_before).then(|| Model {
        name: name.to_string(),
        services,
        steps,
        audit,
    })
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
    })
}

/// The compensation written by default: the opposite change, with no bounds (undoing must
/// not fail), or the delete of an inserted row.
fn inverse(action: &Action) -> Option<Action> {
    match action {
        Action::Add {
            table, key, delta, ..
        } => Some(Action::Add {
            table: *table,
            key: *key,
            delta: -delta,
            bounds: Bounds::ANY,
        }),
        Action::Insert { table, key, .. } => Some(Action::Delete {
            table: *table,
            key: *key,
        }),
        Action::Delete { .. } => None,
    }
}

fn key_ref(raw: raw::KeyRef) -> KeyRef {
    match raw {
        raw::KeyRef::Request => KeyRef::Request,
        raw::KeyRef::Other => KeyRef::Other,
        raw::KeyRef::Tx => KeyRef::Tx,
        raw::KeyRef::Const(k) => KeyRef::Const(k),
    }
}

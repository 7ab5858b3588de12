//! Faults aimed at protocol points and at messages, checked against what the run's actors can
//! reach: a point the node never reaches or a message kind nobody sends is a typo that would
//! otherwise make the fault silently never go off.

use std::collections::BTreeMap;

use super::locate::Step;
use super::validate::Checker;
use crate::net::error::closest_name;
use crate::net::{FaultSpec, MessageEffect, PointEffect, PointFault};
use crate::system::model::Model;

/// What faults can aim at in one scenario: each node's points, and the message kinds.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    points: BTreeMap<String, Vec<&'static str>>,
    kinds: Vec<&'static str>,
    /// False when the strategy itself did not load: its points are unknown, and the
    /// strategy's own error is the one to read.
    checked: bool,
}

impl Targets {
    /// The actors and the points each can reach, by name.
    pub fn points(&self) -> &BTreeMap<String, Vec<&'static str>> {
        &self.points
    }

    /// The message kinds sent.
    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }

    /// Nodes that reach no point and send no named message (a pingmesh).
    pub fn none(names: &[String]) -> Targets {
        Targets {
            points: names.iter().map(|n| (n.clone(), Vec::new())).collect(),
            kinds: Vec::new(),
            checked: true,
        }
    }

    /// Nothing is checked.
    pub fn unchecked() -> Targets {
        Targets::default()
    }

    /// A business system's: each actor's points under `strategy`, every message kind it
    /// sends (the system's, the broker's if it uses one, the strategy's own).
    pub fn of_system(model: &Model, strategy: &dyn crate::strategy::Strategy, names: &[String]) -> Targets {
        let points = names
            .iter()
            .map(|name| {
                let is_service = model.services.iter().any(|s| &s.name == name);
                let points = crate::strategy::points_of(strategy, name, is_service);
                (name.clone(), points.iter().map(|p| p.name).collect())
            })
            .collect();
        let kinds = crate::strategy::message_kinds_sent(strategy);
        Targets {
            points,
            kinds,
            checked: true,
        }
    }

    /// Checks the names an aimed fault uses, reporting each unknown one at its place;
    /// false if any is unknown. Time-scheduled faults name neither.
    pub fn check(&self, check: &mut Checker<'_>, path: &[Step<'_>], spec: &FaultSpec) -> bool {
        if !self.checked {
            return true;
        }
        match spec {
            FaultSpec::AtPoint(fault) => self.check_point(check, path, fault),
            FaultSpec::OnMessage(fault) => {
                if self.kinds.contains(&fault.kind.as_str()) {
                    return true;
                }
                let help = if self.kinds.is_empty() {
                    "this model's actors send no named messages".to_string()
                } else {
                    known_help(&fault.kind, &self.kinds, "kinds")
                };
                check.error_at_name(
                    path,
                    &fault.kind,
                    format!("no message of kind `{}` is sent in this run", fault.kind),
                    "unknown message kind",
                    Some(help),
                );
                false
            }
            _ => true,
        }
    }

    pub(crate) fn check_point(&self, check: &mut Checker<'_>, path: &[Step<'_>], fault: &PointFault) -> bool {
        let Some(points) = self.points.get(&fault.node) else {
            return true; // An unknown node: reported by the topology check.
        };
        if points.contains(&fault.point.as_str()) {
            return true;
        }
        let help = if points.is_empty() {
            let reaching: Vec<&str> = self
                .points
                .iter()
                .filter(|(_, p)| !p.is_empty())
                .map(|(n, _)| n.as_str())
                .collect();
            if reaching.is_empty() {
                "no actor of this model reaches a protocol point".to_string()
            } else {
                format!("actors with points: {}", reaching.join(", "))
            }
        } else {
            known_help(&fault.point, points, "its points") + " (`consim points` lists them all)"
        };
        check.error_at_name(
            path,
            &fault.point,
            format!("`{}` never reaches a point `{}`", fault.node, fault.point),
            "unknown point",
            Some(help),
        );
        false
    }
}

/// The help for a name not among `known` (`what` names the list): the nearest one, then
/// them all.
fn known_help(name: &str, known: &[&str], what: &str) -> String {
    match closest_name(name, known.iter().copied()) {
        Some(near) => format!("did you mean `{near}`? {what}: {}", known.join(", ")),
        None => format!("{what}: {}", known.join(", ")),
    }
}

/// The spec of an aimed raw fault (`None` for a time-scheduled one).
pub fn spec(fault: &super::raw::Fault) -> Option<FaultSpec> {
    use super::raw::Fault;
    let point = |node: &String, point: &String, nth: &u32, tx: &Option<u64>, effect| {
        FaultSpec::AtPoint(PointFault {
            node: node.clone(),
            point: point.clone(),
            nth: *nth,
            tx: *tx,
            effect,
        })
    };
    Some(match fault {
        Fault::CrashAt {
            node,
            point: at,
            nth,
            tx,
            restart_after,
        } => point(
            node,
            at,
            nth,
            tx,
            PointEffect::Crash {
                restart_after: restart_after.map(|d| d.0),
            },
        ),
        Fault::PartitionAt {
            node,
            point: at,
            nth,
            tx,
            groups,
            lasts,
        } => point(
            node,
            at,
            nth,
            tx,
            PointEffect::Partition {
                groups: groups.clone(),
                lasts: lasts.map(|d| d.0),
            },
        ),
        Fault::OneWayAt {
            node,
            point: at,
            nth,
            tx,
            senders,
            receivers,
            lasts,
        } => point(
            node,
            at,
            nth,
            tx,
            PointEffect::OneWay {
                senders: senders.clone(),
                receivers: receivers.clone(),
                lasts: lasts.map(|d| d.0),
            },
        ),
        Fault::OnMessage {
            from,
            to,
            kind,
            nth,
            effect,
        } => FaultSpec::OnMessage(crate::net::MessageFault {
            from: from.clone(),
            to: to.clone(),
            kind: kind.clone(),
            nth: *nth,
            effect: match effect {
                super::raw::MessageEffect::Drop => MessageEffect::Drop,
                super::raw::MessageEffect::Delay(d) => MessageEffect::Delay(d.0),
                super::raw::MessageEffect::Duplicate => MessageEffect::Duplicate,
            },
        }),
        _ => return None,
    })
}

/// A pingmesh has no services to reach into one another's data, nor instances to crash.
pub fn no_intrusions(check: &mut Checker<'_>, faults: &[super::raw::Fault]) {
    use super::raw::Fault;
    for (index, fault) in faults.iter().enumerate() {
        if matches!(
            fault,
            Fault::Intrude { .. } | Fault::IntrudeAt { .. } | Fault::CrashInstance { .. }
        ) {
            check.error(
                &[Step::Field("faults"), Step::Index(index)],
                "a pingmesh has no services, so none can reach into another's database or lose an instance",
                "no services",
                Some("intrusions and instance crashes need a system model".into()),
            );
        }
    }
}

/// The scenario's intrusions, by the service that attempts them: names resolved against the
/// model (services, the owner's tables), the point against what the service reaches, each
/// mistake reported at its place.
pub fn intrusions(
    check: &mut Checker<'_>,
    faults: &[super::raw::Fault],
    model: &Model,
    targets: &Targets,
) -> Vec<(crate::system::model::ServiceId, crate::system::service::Intrusion)> {
    use super::raw::Fault;
    use crate::system::service::{Intrusion, IntrusionTime};
    let mut out = Vec::new();
    for (index, fault) in faults.iter().enumerate() {
        let path = [Step::Field("faults"), Step::Index(index)];
        let (node, owner, table, key, delta, when) = match fault {
            Fault::Intrude {
                node,
                owner,
                table,
                key,
                delta,
                at,
            } => (
                node,
                owner,
                table,
                *key,
                *delta,
                IntrusionTime::At(crate::sim::Instant::ZERO + at.0),
            ),
            Fault::IntrudeAt {
                node,
                point,
                nth,
                owner,
                table,
                key,
                delta,
            } => {
                if *nth == 0 {
                    check.error(
                        &[&path[..], &[Step::Field("nth")]].concat(),
                        "`nth` counts from 1",
                        "zero",
                        Some("the first visit is nth: 1".into()),
                    );
                    continue;
                }
                let aimed = PointFault {
                    node: node.clone(),
                    point: point.clone(),
                    nth: *nth,
                    tx: None,
                    effect: crate::net::PointEffect::Crash { restart_after: None },
                };
                if !targets.check_point(check, &path, &aimed) {
                    continue;
                }
                let when = IntrusionTime::Point {
                    point: point.clone(),
                    nth: *nth,
                };
                (node, owner, table, *key, *delta, when)
            }
            _ => continue,
        };
        let service = |check: &mut Checker<'_>, name: &str| {
            let found = model.services.iter().position(|s| s.name == name);
            if found.is_none() {
                let names: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
                let help = known_help(name, &names, "services");
                check.error_at_name(
                    &path,
                    name,
                    format!("`{name}` is not a service of the model"),
                    "not a service",
                    Some(help),
                );
            }
            found.map(|i| crate::system::model::ServiceId(i as u16))
        };
        let (Some(by), Some(owner_id)) = (service(check, node), service(check, owner)) else {
            continue;
        };
        if by == owner_id {
            check.error(
                &[&path[..], &[Step::Field("owner")]].concat(),
                format!("`{node}` owns that table: reaching into it is no intrusion"),
                "its own",
                Some("name another service's table".into()),
            );
            continue;
        }
        let tables = &model.services[owner_id.index()].tables;
        let Some(table_id) = tables.iter().position(|t| &t.name == table) else {
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            let help = known_help(table, &names, &format!("tables of {owner}"));
            check.error_at_name(
                &path,
                table,
                format!("`{owner}` has no table `{table}`"),
                "no such table",
                Some(help),
            );
            continue;
        };
        out.push((
            by,
            Intrusion {
                owner: owner_id,
                owner_actor: crate::sim::ActorId(0),
                table: crate::store::TableId(table_id as u16),
                key,
                delta,
                when,
            },
        ));
    }
    out
}

//! `CrashInstance` faults: one instance of a service goes down, its database and the other
//! instances do not. They are the service's business, like intrusions: checked here against
//! the model (a service, an instance it has) and handed to the service through its config,
//! never to the kernel's fault plan.

use super::locate::Step;
use super::raw::Fault;
use super::validate::Checker;
use crate::sim::Instant;
use crate::system::model::{Model, ServiceId};
use crate::system::service::InstanceCrash;

/// The scenario's instance crashes, by service; every bad one reported at its place.
pub fn crashes(check: &mut Checker<'_>, faults: &[Fault], model: &Model) -> Vec<(ServiceId, InstanceCrash)> {
    let mut out = Vec::new();
    for (index, fault) in faults.iter().enumerate() {
        let Fault::CrashInstance {
            node,
            instance,
            at,
            restart,
        } = fault
        else {
            continue;
        };
        let path = [Step::Field("faults"), Step::Index(index)];
        let Some(service) = model.service_id(node) else {
            let names: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
            check.error_at_name(
                &path,
                node,
                format!("`{node}` is not a service, so it has no instances"),
                "not a service",
                Some(format!("services: {}", names.join(", "))),
            );
            continue;
        };
        let count = model.services[service.index()].instances;
        if *instance >= count {
            check.error(
                &[&path[..], &[Step::Field("instance")]].concat(),
                format!(
                    "`{node}` runs {count} instance(s), numbered from 0: there is no instance {instance}"
                ),
                "no such instance",
                Some(format!(
                    "give `{node}` `instances: {}` in the model, or crash 0..{count}",
                    instance + 1
                )),
            );
            continue;
        }
        let (at, restart) = (Instant::ZERO + at.0, restart.map(|r| Instant::ZERO + r.0));
        if restart.is_some_and(|r| r <= at) {
            check.error(
                &[&path[..], &[Step::Field("restart")]].concat(),
                format!(
                    "instance {instance} of `{node}` restarts at {} before it crashes at {at}",
                    restart.expect("some")
                ),
                "not after `at`",
                Some("restart it after it crashes, or leave `restart` out".into()),
            );
            continue;
        }
        out.push((
            service,
            InstanceCrash {
                instance: *instance,
                at,
                restart,
            },
        ));
    }
    out
}

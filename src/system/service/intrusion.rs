//! Data ownership, tried: a service that reaches into another service's database.
//!
//! Each service owns its data; only its own steps change it. A scenario can make a service
//! *attempt* a direct read or write of another's table (at a time, or when it reaches a
//! protocol point), as code in a real system might. The owner refuses it and records the
//! attempt; only under the shared-database anti-pattern (`services: Services(shared_database:
//! true)`: every service's tables in one database, reachable by all) does the write land,
//! recorded as a foreign write that the `ownership` check reports.

use super::Service;
use crate::sim::{ActorId, Instant};
use crate::store::{Bounds, Key, LocalTxId, Outcome, TableId};
use crate::system::history::HistoryEvent;
use crate::system::model::ServiceId;
use crate::system::msg::{GlobalTxId, Msg};
use crate::system::timer::TimerMsg;
use crate::world::Ctx;

/// One attempt of this service to touch another's table directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intrusion {
    /// The service that owns the table.
    pub owner: ServiceId,
    /// The owner's actor (`assembly` sets it from the wiring).
    pub owner_actor: ActorId,
    /// Which of its tables.
    pub table: TableId,
    /// Which row.
    pub key: u64,
    /// What to add to it (0: a read).
    pub delta: i64,
    /// When it is attempted.
    pub when: IntrusionTime,
}

/// When an intrusion is attempted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntrusionTime {
    /// At a virtual time.
    At(Instant),
    /// The `nth` time (from 1) the service reaches protocol point `point`.
    Point {
        /// The point.
        point: String,
        /// Which visit.
        nth: u32,
    },
}

impl Service {
    /// Arms the timers of the intrusions due at a time (at start only: a crash before one
    /// loses it, as it would lose the code about to run it).
    pub(super) fn arm_intrusions(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for (index, intrusion) in self.config.intrusions.iter().enumerate() {
            if let IntrusionTime::At(at) = intrusion.when {
                let after = at.saturating_since(ctx.now());
                ctx.set_timer(after, Msg::Timer(TimerMsg::Intrude { index: index as u32 }));
            }
        }
    }

    /// Reaches protocol point `point` for `gtx`: tells the world (where aimed faults go
    /// off), then attempts the intrusions aimed at this visit, unless a fault crashed it.
    pub(super) fn reach(&mut self, ctx: &mut Ctx<'_, Msg>, point: &'static str, gtx: Option<GlobalTxId>) {
        ctx.point(point, gtx.map(|g| g.0));
        if self.config.intrusions.is_empty() || ctx.crashed() {
            return;
        }
        for index in 0..self.config.intrusions.len() {
            let IntrusionTime::Point { point: aimed, nth } = &self.config.intrusions[index].when else {
                continue;
            };
            if aimed != point {
                continue;
            }
            let visits = &mut self.intrusion_visits[index];
            *visits += 1;
            if *visits == *nth {
                self.intrude(ctx, index, gtx);
            }
        }
    }

    /// Attempts intrusion `index`: a message straight to the owner's database.
    pub(super) fn intrude(&mut self, ctx: &mut Ctx<'_, Msg>, index: usize, during: Option<GlobalTxId>) {
        let intrusion = &self.config.intrusions[index];
        ctx.count("service.direct_access_attempts", 1);
        let msg = Msg::DirectDbAccess {
            by: self.config.id,
            during,
            table: intrusion.table.0,
            key: intrusion.key,
            delta: intrusion.delta,
        };
        ctx.send(intrusion.owner_actor, msg);
    }

    /// Another actor reached into this service's database: refused and recorded, unless the
    /// database is shared, when the write lands (in a local transaction of its own, within
    /// no bounds: the intruder knows nothing of this service's rules) and is recorded as a
    /// foreign write.
    pub(super) fn on_direct_access(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        (caller, by, during): (ActorId, ServiceId, Option<GlobalTxId>),
        (table, key, delta): (u16, u64, i64),
    ) {
        let service = self.config.id;
        // The store itself refuses (and counts) any session but its owner's.
        if !self.config.shared_database && self.db.access(caller).is_err() {
            ctx.count("service.direct_access_refused", 1);
            self.record(ctx, HistoryEvent::AccessRefused { service, caller });
            return;
        }
        if delta == 0 {
            ctx.count("service.direct_reads", 1);
            return;
        }
        let local = LocalTxId(self.next_local);
        self.next_local += 1;
        let (now, me) = (ctx.now(), ctx.me());
        let mut session = self.db.access(me).expect("owner");
        session.begin(local, now).expect("a fresh local tx");
        let applied = matches!(
            session.add(local, TableId(table), Key(key), delta, Bounds::ANY),
            Ok(Outcome::Done(_))
        );
        let woken = if applied {
            session.commit(local, now).expect("an active tx commits")
        } else {
            // Locked by a step in progress, or no such row: the write is lost.
            session.abort(local, now).expect("an active tx aborts")
        };
        let _ = self.db.take_cost();
        if applied {
            ctx.count("service.foreign_writes", 1);
            let write = HistoryEvent::ForeignWrite {
                service,
                by,
                during,
                table,
                key,
                delta,
            };
            self.record(ctx, write);
        }
        self.wake(ctx, woken);
    }
}

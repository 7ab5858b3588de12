//! The bundled models, built in code: for tests and benches that should not depend on file
//! loading, and as the reference the RON files in `models/` are checked against.

use crate::store::{Bounds, TableId};
use crate::system::model::{Action, KeyRef, Model, ServiceId, ServiceSpec, StepSpec, TableSpec};

fn service(name: &str, tables: &[(&str, u64, i64)]) -> ServiceSpec {
    let tables = tables
        .iter()
        .map(|(table, key_count, initial)| TableSpec {
            name: (*table).into(),
            key_count: *key_count,
            initial: *initial,
        })
        .collect();
    ServiceSpec::new(name, tables)
}

/// A step that adds `delta` to a row (refusing to go below zero) and compensates with the
/// opposite change.
fn add_step(name: &str, service: u16, key: KeyRef, delta: i64) -> StepSpec {
    let table = TableId(0);
    StepSpec {
        name: name.into(),
        service: ServiceId(service),
        action: Action::Add {
            table,
            key,
            delta,
            bounds: Bounds::at_least(0),
        },
        compensation: Action::Add {
            table,
            key,
            delta: -delta,
            bounds: Bounds::ANY,
        },
    }
}

/// Money moves from an account at `bank_a` to one at `bank_b`; the audit sums both banks,
/// which every finished transfer conserves. 100 accounts of 1,000 at each bank, transfers
/// of 100.
pub fn bank_transfer() -> Model {
    Model {
        name: "bank_transfer".into(),
        services: vec![
            service("bank_a", &[("accounts", 100, 1_000)]),
            service("bank_b", &[("accounts", 100, 1_000)]),
        ],
        steps: vec![
            add_step("debit", 0, KeyRef::Request, -100),
            add_step("credit", 1, KeyRef::Other, 100),
        ],
        audit: vec![(ServiceId(0), TableId(0)), (ServiceId(1), TableId(0))],
        entry_checks_replica: None,
        entry_queries: None,
    }
}

/// The food-delivery system of the source material: an order is created, the customer is
/// charged, the restaurant reserves the dish, a courier of the zone is assigned. Services
/// sorted by name: delivery, order, payment, restaurant.
pub fn food_delivery() -> Model {
    let create_order = StepSpec {
        name: "create_order".into(),
        service: ServiceId(1),
        action: Action::Insert {
            table: TableId(0),
            key: KeyRef::Tx,
            value: 1,
        },
        compensation: Action::Delete {
            table: TableId(0),
            key: KeyRef::Tx,
        },
    };
    Model {
        name: "food_delivery".into(),
        services: vec![
            service("delivery", &[("couriers", 200, 50)]),
            service("order", &[("orders", 0, 0)]),
            service("payment", &[("accounts", 200, 2000)]),
            service("restaurant", &[("stock", 200, 100)]),
        ],
        steps: vec![
            create_order,
            add_step("charge_payment", 2, KeyRef::Request, -25),
            add_step("reserve_dish", 3, KeyRef::Other, -1),
            add_step("assign_courier", 0, KeyRef::Other, -1),
        ],
        audit: vec![(ServiceId(2), TableId(0))],
        entry_checks_replica: None,
        entry_queries: None,
    }
}

/// The classic saga example: book a flight seat, a hotel room and a car, or none.
/// Services sorted by name: car, flight, hotel.
pub fn travel_booking() -> Model {
    Model {
        name: "travel_booking".into(),
        services: vec![
            service("car", &[("cars", 10, 20)]),
            service("flight", &[("seats", 10, 60)]),
            service("hotel", &[("rooms", 10, 40)]),
        ],
        steps: vec![
            add_step("book_flight", 1, KeyRef::Request, -1),
            add_step("book_hotel", 2, KeyRef::Other, -1),
            add_step("rent_car", 0, KeyRef::Request, -1),
        ],
        audit: Vec::new(),
        entry_checks_replica: None,
        entry_queries: None,
    }
}

//! What a table holds: integer keys mapped to integer or record values, and the bounds a
//! numeric change must respect.
//!
//! Keys and table ids are small integers so that lock keys and write-set entries are plain
//! `Copy` data; strings appear only in table names (the [`Schema`](super::Schema)) and in
//! record field names, which come from the model.

use std::collections::BTreeMap;
use std::fmt;

/// A table's index in its database, assigned in the order tables were declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId(pub u16);

/// A row's key within a table: an account number, a product id, an order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub u64);

/// Row keys are mostly dense (`0..key_count`, transaction ids), which the table storage
/// (`store/rows.rs`) takes advantage of.
impl crate::sim::DenseId for Key {
    fn to_index(self) -> u64 {
        self.0
    }

    fn from_index(index: u64) -> Self {
        Key(index)
    }
}

/// A record's named integer fields, e.g. a stock row `{ available: 5, reserved: 2 }`.
pub type Record = BTreeMap<String, i64>;

/// A row's value: most business state is one counter (a balance, a stock level); rows that
/// need several counters are records.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// One integer, e.g. a balance in cents.
    Int(i64),
    /// Named integer fields.
    Record(Record),
}

/// The range a numeric value must stay in after an [`add`](super::Session::add): the
/// business constraint (a balance never below zero, stock never above capacity). Both ends
/// are inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bounds {
    /// The smallest allowed value.
    pub min: i64,
    /// The largest allowed value.
    pub max: i64,
}

impl TableId {
    /// The id as an index into per-table vectors.
    #[inline]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl Value {
    /// The integer, if this is an [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Record(_) => None,
        }
    }

    /// One field of a record, if this is a record that has it.
    pub fn field(&self, name: &str) -> Option<i64> {
        match self {
            Value::Record(fields) => fields.get(name).copied(),
            Value::Int(_) => None,
        }
    }

    /// The counter an `add` changes: the value itself (`field: None`) or one record field.
    pub(super) fn counter_mut(&mut self, field: Option<&str>) -> Option<&mut i64> {
        match (self, field) {
            (Value::Int(n), None) => Some(n),
            (Value::Record(fields), Some(name)) => fields.get_mut(name),
            _ => None,
        }
    }

    /// Read-only twin of [`Value::counter_mut`].
    pub(super) fn counter(&self, field: Option<&str>) -> Option<i64> {
        match field {
            None => self.as_int(),
            Some(name) => self.field(name),
        }
    }
}

impl Bounds {
    /// No constraint beyond what an `i64` can hold.
    pub const ANY: Bounds = Bounds {
        min: i64::MIN,
        max: i64::MAX,
    };

    /// At least `min`: "the balance must stay >= 0" is `Bounds::at_least(0)`.
    pub const fn at_least(min: i64) -> Self {
        Bounds { min, max: i64::MAX }
    }

    /// At most `max`, e.g. a capacity.
    pub const fn at_most(max: i64) -> Self {
        Bounds { min: i64::MIN, max }
    }

    /// Between `min` and `max`, both included.
    pub const fn between(min: i64, max: i64) -> Self {
        Bounds { min, max }
    }

    /// `current + delta` if it fits (no overflow, within the bounds).
    pub fn apply(self, current: i64, delta: i64) -> Option<i64> {
        current
            .checked_add(delta)
            .filter(|next| (self.min..=self.max).contains(next))
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds::ANY
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table#{}", self.0)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_results_outside_the_range_and_overflow() {
        let non_negative = Bounds::at_least(0);
        assert_eq!(non_negative.apply(10, -10), Some(0));
        assert_eq!(non_negative.apply(10, -11), None);
        assert_eq!(Bounds::ANY.apply(i64::MAX, 1), None);
        assert_eq!(Bounds::between(0, 5).apply(4, 2), None);
    }

    #[test]
    fn a_counter_is_the_int_itself_or_a_named_record_field() {
        let mut stock = Value::Record(Record::from([("available".to_string(), 3)]));
        assert_eq!(stock.counter(Some("available")), Some(3));
        assert_eq!(stock.counter(None), None);
        *stock.counter_mut(Some("available")).expect("field exists") -= 1;
        assert_eq!(stock.field("available"), Some(2));
        assert_eq!(Value::Int(7).counter(None), Some(7));
        assert_eq!(Value::Int(7).counter(Some("available")), None);
    }
}

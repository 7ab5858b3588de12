//! Storage for a declared table's committed rows: a window of slots for the dense keys, an
//! ordered side map for the rest.
//!
//! Row keys are mostly dense: a table declared with `key_count` rows holds keys
//! `0..key_count`, and a table filled by `KeyRef::Tx` inserts gets the gateway's transaction
//! ids, one after the other. Every local call looks its row up and every commit writes it,
//! so a window of slots ([`IdMap`]) beats a B-tree walk there. But a model may also name a
//! far-off row (`KeyRef::Const`, a request key from a wide key space), and a window reaching
//! it would hold a slot for every key in between. So the window only grows while it stays
//! at most about twice as wide as the rows ever put in it; a key it cannot take without
//! growing past that goes to a `BTreeMap` instead. Each key lives in one place, and
//! iteration merges both in key order, as one `BTreeMap` would.

use std::collections::BTreeMap;
use std::iter::Peekable;

use super::value::{Key, Value};
use crate::sim::IdMap;

/// Slots the window may span beyond twice the rows ever put in it: room for a few holes
/// before the first rows arrive.
const SLACK: u64 = 64;

/// A table's committed rows, in key order; see the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Rows {
    /// The dense keys.
    dense: IdMap<Key, Value>,
    /// Rows ever inserted into `dense` under a new key: the window may span at most twice
    /// that (plus [`SLACK`]), so its memory is bounded by the table's writes.
    dense_inserts: u64,
    /// Keys the window could not take; disjoint from `dense`'s.
    sparse: BTreeMap<Key, Value>,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.dense.len() + self.sparse.len()
    }

    /// The row of `key`.
    #[inline]
    pub fn get(&self, key: Key) -> Option<&Value> {
        if let Some(value) = self.dense.get(key) {
            return Some(value);
        }
        if self.sparse.is_empty() {
            return None;
        }
        self.sparse.get(&key)
    }

    /// Sets the row of `key`, returning the value it replaces.
    pub fn insert(&mut self, key: Key, value: Value) -> Option<Value> {
        if !self.sparse.is_empty()
            && let Some(slot) = self.sparse.get_mut(&key)
        {
            return Some(std::mem::replace(slot, value));
        }
        if let Some(slot) = self.dense.get_mut(key) {
            return Some(std::mem::replace(slot, value));
        }
        let limit = 2 * (self.dense_inserts + 1) + SLACK;
        if self.dense.span_with(key) <= limit {
            self.dense_inserts += 1;
            self.dense.insert(key, value)
        } else {
            self.sparse.insert(key, value)
        }
    }

    /// Removes the row of `key`, returning its value.
    pub fn remove(&mut self, key: Key) -> Option<Value> {
        if let Some(value) = self.dense.remove(key) {
            return Some(value);
        }
        if self.sparse.is_empty() {
            return None;
        }
        self.sparse.remove(&key)
    }

    /// The rows in key order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &Value)> {
        Merge {
            dense: self.dense.iter().peekable(),
            sparse: self.sparse.iter().map(|(key, value)| (*key, value)).peekable(),
        }
    }

    /// Bytes the rows take, for the world's bound on a run's record: the window's slots and
    /// the side map's entries.
    pub fn retained_bytes(&self) -> usize {
        self.dense.retained_bytes() + crate::world::footprint::map_bytes::<Key, Value>(self.sparse.len())
    }
}

impl FromIterator<(Key, Value)> for Rows {
    fn from_iter<I: IntoIterator<Item = (Key, Value)>>(rows: I) -> Self {
        let mut table = Rows::default();
        for (key, value) in rows {
            table.insert(key, value);
        }
        table
    }
}

/// Equal when they hold the same rows, wherever each is kept.
impl PartialEq for Rows {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Rows {}

/// Two key-ordered iterators with disjoint keys, merged in key order.
struct Merge<A: Iterator, B: Iterator> {
    dense: Peekable<A>,
    sparse: Peekable<B>,
}

impl<'a, A, B> Iterator for Merge<A, B>
where
    A: Iterator<Item = (Key, &'a Value)>,
    B: Iterator<Item = (Key, &'a Value)>,
{
    type Item = (Key, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.dense.peek(), self.sparse.peek()) {
            (Some((a, _)), Some((b, _))) if b < a => self.sparse.next(),
            (Some(_), _) => self.dense.next(),
            (None, _) => self.sparse.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Purpose, SeedTree};
    use rand::Rng as _;

    #[test]
    fn declared_rows_and_transaction_ids_stay_in_the_window() {
        let mut rows: Rows = (0..200).map(|k| (Key(k), Value::Int(1))).collect();
        for gtx in 200..5_000 {
            rows.insert(Key(gtx), Value::Int(2));
        }
        assert!(rows.sparse.is_empty());
        assert_eq!(rows.dense.span(), 5_000);
    }

    #[test]
    fn a_far_off_key_goes_to_the_side_map_and_iteration_stays_in_key_order() {
        let mut rows: Rows = (0..10).map(|k| (Key(k), Value::Int(k as i64))).collect();
        rows.insert(Key(u64::MAX), Value::Int(-1));
        rows.insert(Key(1 << 40), Value::Int(-2));
        assert_eq!(rows.dense.span(), 10, "the window did not stretch to reach them");
        assert_eq!(rows.sparse.len(), 2);
        let keys: Vec<u64> = rows.iter().map(|(key, _)| key.0).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert_eq!(rows.get(Key(1 << 40)), Some(&Value::Int(-2)));
        assert_eq!(rows.remove(Key(u64::MAX)), Some(Value::Int(-1)));
        assert_eq!(rows.len(), 11);
    }

    /// Random inserts and removes over a dense range and a wide one, against a `BTreeMap`.
    #[test]
    fn behaves_like_a_btree_map_and_keeps_its_window_bounded() {
        let mut rng = SeedTree::new(3).stream(Purpose::Other(2));
        let mut rows = Rows::default();
        let mut model: BTreeMap<Key, Value> = BTreeMap::new();
        for step in 0..20_000i64 {
            let key = match rng.next_u32() % 4 {
                0 => Key(u64::from(rng.next_u32())),
                _ => Key(u64::from(rng.next_u32() % 1_000)),
            };
            if rng.next_u32().is_multiple_of(3) {
                assert_eq!(rows.remove(key), model.remove(&key));
            } else {
                assert_eq!(
                    rows.insert(key, Value::Int(step)),
                    model.insert(key, Value::Int(step))
                );
            }
            assert_eq!(rows.get(key), model.get(&key));
        }
        assert!(rows.iter().eq(model.iter().map(|(key, value)| (*key, value))));
        assert_eq!(rows.len(), model.len());
        assert!(rows.dense.span() as u64 <= 2 * rows.dense_inserts + SLACK);
    }
}

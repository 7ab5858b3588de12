//! Storage for the idempotency table: a map whose keys arrive nearly in increasing order.
//!
//! Idempotency keys grow with the global transaction id, so a service records them almost
//! in order (calls of nearby transactions overtake each other by a few places) and looks up
//! mostly recent ones. A sorted array suits that: an insert lands at or near the end (a
//! short shift), a lookup is a binary search whose first steps always touch the same few
//! cache lines and whose last steps touch the recent, cache-warm end. The table grows with
//! the run, so this matters: a B-tree walk, or a hash probe into a table of every record
//! ever made, costs a cache miss per lookup, three per call.
//!
//! A key that arrives far behind the end (a retry after a long timeout) goes to a small
//! ordered side map instead of shifting much of the array.

use std::collections::BTreeMap;

use super::value::Key;

/// An insert at most this many places before the end shifts the array; further back, it
/// goes to the side map. 256 keys are 2 KiB: a shift that stays cheap.
const NEAR_END: usize = 256;

/// A map from [`Key`] to `V` for keys that arrive nearly in order; see the module docs.
#[derive(Clone, Debug)]
pub(super) struct AppendIndex<V> {
    /// Sorted, distinct; `values[i]` belongs to `keys[i]`. Keys apart from values so a
    /// search reads only keys.
    keys: Vec<Key>,
    values: Vec<V>,
    /// Keys that arrived far behind the end; disjoint from `keys`.
    late: BTreeMap<Key, V>,
}

impl<V> AppendIndex<V> {
    /// An empty index.
    pub fn new() -> Self {
        AppendIndex {
            keys: Vec::new(),
            values: Vec::new(),
            late: BTreeMap::new(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len() + self.late.len()
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: Key) -> Option<&V> {
        if let Some(index) = self.position(key) {
            return Some(&self.values[index]);
        }
        if self.late.is_empty() {
            return None;
        }
        self.late.get(&key)
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: Key, value: V) -> Option<V> {
        let at = self.lower_bound(key);
        if self.keys.get(at) == Some(&key) {
            return Some(std::mem::replace(&mut self.values[at], value));
        }
        if self.keys.len() - at > NEAR_END {
            return self.late.insert(key, value);
        }
        if let Some(old) = self.late.get_mut(&key) {
            // Rare: a late key written again; it stays where it is.
            return Some(std::mem::replace(old, value));
        }
        self.keys.insert(at, key);
        self.values.insert(at, value);
        None
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: Key) -> Option<V> {
        match self.position(key) {
            Some(index) => {
                self.keys.remove(index);
                Some(self.values.remove(index))
            }
            None => self.late.remove(&key),
        }
    }

    /// Every entry, in no particular order.
    fn iter(&self) -> impl Iterator<Item = (Key, &V)> {
        let sorted = self.keys.iter().copied().zip(&self.values);
        sorted.chain(self.late.iter().map(|(k, v)| (*k, v)))
    }

    #[inline]
    fn position(&self, key: Key) -> Option<usize> {
        let at = self.lower_bound(key);
        (self.keys.get(at) == Some(&key)).then_some(at)
    }

    /// The index of the first key `>= key`, galloping back from the end (1, 2, 4… places)
    /// and then searching the last stride: a recent key is found among the warm last cache
    /// lines in a few steps, where a plain binary search would start from the cold middle.
    #[inline]
    fn lower_bound(&self, key: Key) -> usize {
        let keys = &self.keys;
        // Invariant: every key in `keys[above..]` is `>= key`.
        let mut above = keys.len();
        let mut stride = 1;
        while above > 0 {
            let probe = above.saturating_sub(stride);
            if keys[probe] < key {
                let window = &keys[probe + 1..above];
                return probe + 1 + window.partition_point(|k| *k < key);
            }
            above = probe;
            stride *= 2;
        }
        0
    }
}

impl<V> Default for AppendIndex<V> {
    fn default() -> Self {
        AppendIndex::new()
    }
}

/// Equal when they map the same keys to equal values, wherever each key is kept.
impl<V: PartialEq> PartialEq for AppendIndex<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V: Eq> Eq for AppendIndex<V> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearly_ordered_and_far_late_keys_agree_with_a_btree_map() {
        let mut index = AppendIndex::new();
        let mut model = BTreeMap::new();
        let mut state = 11u64;
        for step in 0..20_000u64 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            // Mostly recent keys, some from far back, a few removals.
            let back = match state >> 60 {
                0 => (state >> 20) % 10_000,
                _ => (state >> 20) % 40,
            };
            let key = Key((step * 4).saturating_sub(back * 4) + (state >> 40) % 4);
            if (state >> 8).is_multiple_of(16) {
                assert_eq!(index.remove(key), model.remove(&key));
            } else {
                assert_eq!(index.insert(key, step), model.insert(key, step));
            }
            assert_eq!(index.get(key), model.get(&key));
        }
        assert_eq!(index.len(), model.len());
        for (key, value) in &model {
            assert_eq!(index.get(*key), Some(value));
        }
        assert!(!index.late.is_empty(), "the test reaches the side map");
    }

    #[test]
    fn equality_ignores_where_a_key_is_kept() {
        let mut a = AppendIndex::new();
        let mut b = AppendIndex::new();
        for k in 0..1_000 {
            a.insert(Key(k), k);
        }
        for k in (0..1_000).rev() {
            b.insert(Key(k), k);
        }
        assert!(!b.late.is_empty());
        assert_eq!(a, b);
        b.insert(Key(3), 0);
        assert_ne!(a, b);
    }
}

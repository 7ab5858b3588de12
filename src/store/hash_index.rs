//! A lookup table with a fixed hash, for the store's hot maps: live txs by id, locks by row,
//! idempotency records by key.
//!
//! Why not `BTreeMap`: these maps are touched several times per op, and the idempotency
//! table grows with the run, so a B-tree's O(log n) node walks dominated a service's time.
//! Why not `std::collections::HashMap`: its hasher is seeded per process, which clippy.toml
//! bans so that no run can depend on it. This table's hash is a fixed multiplication, so
//! the same calls lay it out the same way on every run and every machine; still, callers
//! use [`HashIndex::values`] only where order does not matter (counting, summing) and sort
//! when it does.
//!
//! Open addressing with linear probing, at most half full, with backward-shift deletion
//! (no tombstones), so a lookup stops at the first empty slot.

use std::fmt;

use super::lock::LockKey;
use super::tx::LocalTxId;
use super::value::Key;

/// A key with a fixed, process-independent hash.
pub(super) trait FixedHash: Copy + Eq {
    /// The hash; its high bits choose the slot, so they must mix every bit of the key.
    fn fixed_hash(self) -> u64;
}

/// A map from `K` to `V` for lookups; see the module docs.
#[derive(Clone)]
pub(super) struct HashIndex<K, V> {
    /// A power-of-two number of slots, or none before the first insert.
    slots: Vec<Option<(K, V)>>,
    len: usize,
}

/// Fibonacci hashing's multiplier (2^64 / golden ratio): spreads nearby keys apart.
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
/// Slots of the first allocation.
const MIN_SLOTS: usize = 16;

impl<K: FixedHash, V> HashIndex<K, V> {
    /// An empty table; allocates on the first insert.
    pub fn new() -> Self {
        HashIndex {
            slots: Vec::new(),
            len: 0,
        }
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: K) -> Option<&V> {
        let slot = self.find(key)?;
        self.slots[slot].as_ref().map(|(_, v)| v)
    }

    /// The value of `key`, mutable.
    #[inline]
    pub fn get_mut(&mut self, key: K) -> Option<&mut V> {
        let slot = self.find(key)?;
        self.slots[slot].as_mut().map(|(_, v)| v)
    }

    /// True if `key` has a value.
    #[inline]
    pub fn contains_key(&self, key: K) -> bool {
        self.find(key).is_some()
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(slot) = self.find(key) {
            let (_, old) = self.slots[slot].as_mut().expect("found");
            return Some(std::mem::replace(old, value));
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(key, value);
        self.len += 1;
        None
    }

    /// The value of `key`, inserting `make()` first if absent; true if it inserted. One
    /// probe where `get_mut` then `insert` would take two.
    #[inline]
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> (&mut V, bool) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut slot = self.home(key);
        loop {
            match &self.slots[slot] {
                Some((k, _)) if *k == key => break,
                Some(_) => slot = (slot + 1) & mask,
                None => {
                    self.slots[slot] = Some((key, make()));
                    self.len += 1;
                    let (_, value) = self.slots[slot].as_mut().expect("just placed");
                    return (value, true);
                }
            }
        }
        let (_, value) = self.slots[slot].as_mut().expect("found");
        (value, false)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: K) -> Option<V> {
        let found = self.find(key)?;
        let (_, value) = self.slots[found].take().expect("found");
        self.len -= 1;
        // Backward shift: pull later entries of the probe run into the hole unless their
        // home lies cyclically in (hole, next], where they already are reachable.
        let mask = self.slots.len() - 1;
        let mut hole = found;
        let mut next = (found + 1) & mask;
        while let Some((k, _)) = &self.slots[next] {
            let home = self.home(*k);
            let stays = (next.wrapping_sub(home) & mask) < (next.wrapping_sub(hole) & mask);
            if !stays {
                self.slots[hole] = self.slots[next].take();
                hole = next;
            }
            next = (next + 1) & mask;
        }
        Some(value)
    }

    /// Every value, in slot order: deterministic, but meaningless; use only where order
    /// does not matter.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.slots.iter().flatten().map(|(_, v)| v)
    }

    /// Every entry, in slot order (see [`HashIndex::values`]).
    pub fn iter(&self) -> impl Iterator<Item = (K, &V)> {
        self.slots.iter().flatten().map(|(k, v)| (*k, v))
    }

    /// Removes every entry, keeping the allocation.
    pub fn clear(&mut self) {
        self.slots.iter_mut().for_each(|slot| *slot = None);
        self.len = 0;
    }

    #[inline]
    fn home(&self, key: K) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (key.fixed_hash().wrapping_mul(MULTIPLIER) >> (64 - bits)) as usize
    }

    #[inline]
    fn find(&self, key: K) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = self.home(key);
        loop {
            match &self.slots[slot] {
                None => return None,
                Some((k, _)) if *k == key => return Some(slot),
                Some(_) => slot = (slot + 1) & mask,
            }
        }
    }

    /// Puts an absent key in the first free slot of its probe run.
    fn place(&mut self, key: K, value: V) {
        let mask = self.slots.len() - 1;
        let mut slot = self.home(key);
        while self.slots[slot].is_some() {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = Some((key, value));
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, Vec::with_capacity(size));
        self.slots.resize_with(size, || None);
        for (key, value) in old.into_iter().flatten() {
            self.place(key, value);
        }
    }
}

impl<K: FixedHash, V> Default for HashIndex<K, V> {
    fn default() -> Self {
        HashIndex::new()
    }
}

/// Equal when they map the same keys to equal values, whatever the layout.
impl<K: FixedHash, V: PartialEq> PartialEq for HashIndex<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: FixedHash, V: Eq> Eq for HashIndex<K, V> {}

/// Shown as a map, in slot order.
impl<K: FixedHash + fmt::Debug, V: fmt::Debug> fmt::Debug for HashIndex<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FixedHash for Key {
    #[inline]
    fn fixed_hash(self) -> u64 {
        self.0
    }
}

impl FixedHash for LocalTxId {
    #[inline]
    fn fixed_hash(self) -> u64 {
        self.0
    }
}

impl FixedHash for LockKey {
    #[inline]
    fn fixed_hash(self) -> u64 {
        // Mixing the key first keeps rows of different tables with nearby keys apart.
        self.key.0.wrapping_mul(MULTIPLIER) ^ u64::from(self.table.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_lookups_and_removals_agree_with_a_btree_map() {
        let mut index = HashIndex::new();
        let mut model = std::collections::BTreeMap::new();
        // A deterministic mix of inserts and removals over colliding and spread keys.
        let mut state = 7u64;
        for step in 0..20_000u64 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let key = Key((state >> 33) % 500 * if step % 3 == 0 { 1 << 17 } else { 1 });
            if state % 5 < 2 {
                assert_eq!(index.remove(key), model.remove(&key));
            } else {
                assert_eq!(index.insert(key, step), model.insert(key, step));
            }
            assert_eq!(index.len(), model.len());
        }
        for (key, value) in &model {
            assert_eq!(index.get(*key), Some(value));
        }
        let mut entries: Vec<_> = index.iter().map(|(k, v)| (k, *v)).collect();
        entries.sort();
        assert_eq!(entries, model.into_iter().collect::<Vec<_>>());
        index.clear();
        assert_eq!((index.len(), index.get(Key(0))), (0, None));
    }

    #[test]
    fn equality_ignores_insertion_order() {
        let mut a = HashIndex::new();
        let mut b = HashIndex::new();
        for k in 0..40 {
            a.insert(Key(k), k);
            b.insert(Key(39 - k), 39 - k);
        }
        assert_eq!(a, b);
        b.insert(Key(3), 0);
        assert_ne!(a, b);
    }
}

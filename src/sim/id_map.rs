//! A map for ids handed out by a counter (transaction ids, request ids, outbox ids, broker
//! offsets): a window of slots indexed by `id - base`.
//!
//! Why not a `BTreeMap`: the maps of in-flight work keyed by such ids are read and written
//! on nearly every message, and their live keys sit in a narrow, sliding window (new ids at
//! the top, finished ones leaving from the bottom). A window of slots makes every get, insert
//! and remove O(1), with no node to search or rebalance and the recent entries side by side
//! in memory. Iteration goes by id, as a `BTreeMap`'s does, so swapping one for the other
//! changes no event order; only the record-size estimate differs (it counts the empty slots
//! of the window), which can move the check point at which a memory limit stops a run.
//!
//! The cost is memory for the gaps: the window spans from the smallest live id to the
//! largest, holes included. Removing the smallest (or largest) entry trims the empty slots
//! at that end, so a window whose old entries finish stays as wide as what is in flight.
//! Use it only where ids are dense; a key space with wide gaps (row keys a model picks,
//! caller-chosen ids) belongs in a `BTreeMap`.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;

/// A key an [`IdMap`] can index by: a newtype over a counter.
pub trait DenseId: Copy {
    /// The id as a number; ids handed out one after the other differ by one.
    fn to_index(self) -> u64;
    /// The id whose number is `index`.
    fn from_index(index: u64) -> Self;
}

impl DenseId for u64 {
    fn to_index(self) -> u64 {
        self
    }

    fn from_index(index: u64) -> Self {
        index
    }
}

/// A map from dense ids to values, iterated in id order. See the module documentation for
/// when it beats a `BTreeMap`.
///
/// ```
/// use consim::sim::IdMap;
///
/// let mut map: IdMap<u64, &str> = IdMap::new();
/// map.insert(7, "seven");
/// map.insert(5, "five");
/// assert_eq!(map.get(7), Some(&"seven"));
/// assert_eq!(map.remove(5), Some("five"));
/// assert_eq!(map.iter().collect::<Vec<_>>(), [(7, &"seven")]);
/// ```
#[derive(Clone)]
pub struct IdMap<K, V> {
    /// The id of `slots[0]`.
    base: u64,
    /// One slot per id from `base`; the first and the last are always occupied (when any is).
    slots: VecDeque<Option<V>>,
    /// Occupied slots.
    len: usize,
    key: PhantomData<K>,
}

impl<K: DenseId, V> IdMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        IdMap {
            base: 0,
            slots: VecDeque::new(),
            len: 0,
            key: PhantomData,
        }
    }

    /// Entries in the map.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the map has no entry.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value of `id`, if present.
    #[inline]
    pub fn get(&self, id: K) -> Option<&V> {
        let offset = self.offset(id)?;
        self.slots.get(offset)?.as_ref()
    }

    /// The value of `id` for changing, if present.
    #[inline]
    pub fn get_mut(&mut self, id: K) -> Option<&mut V> {
        let offset = self.offset(id)?;
        self.slots.get_mut(offset)?.as_mut()
    }

    /// True when `id` has a value.
    #[inline]
    pub fn contains_key(&self, id: K) -> bool {
        self.get(id).is_some()
    }

    /// Sets the value of `id`; returns the one it replaces. Widens the window to reach `id`.
    pub fn insert(&mut self, id: K, value: V) -> Option<V> {
        let index = id.to_index();
        if self.len == 0 {
            // Nothing to keep: start the window at `id` however far the last one was.
            self.slots.clear();
            self.base = index;
        } else if index < self.base {
            let gap = usize::try_from(self.base - index).expect("an id window fits in memory");
            self.slots.reserve(gap);
            for _ in 0..gap {
                self.slots.push_front(None);
            }
            self.base = index;
        }
        let offset = usize::try_from(index - self.base).expect("an id window fits in memory");
        if offset >= self.slots.len() {
            self.slots.resize_with(offset + 1, || None);
        }
        let previous = self.slots[offset].replace(value);
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// Removes `id`'s value and returns it; trims the empty slots this leaves at either end
    /// of the window.
    pub fn remove(&mut self, id: K) -> Option<V> {
        let offset = self.offset(id)?;
        let value = self.slots.get_mut(offset)?.take()?;
        self.len -= 1;
        if self.len == 0 {
            self.slots.clear();
        } else if offset == 0 {
            while let Some(None) = self.slots.front() {
                self.slots.pop_front();
                self.base += 1;
            }
        } else if offset + 1 == self.slots.len() {
            while let Some(None) = self.slots.back() {
                self.slots.pop_back();
            }
        }
        Some(value)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }

    /// Entries in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (K, &V)> + '_ {
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(offset, slot)| Some((K::from_index(base + offset as u64), slot.as_ref()?)))
    }

    /// Entries in id order, values mutable.
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (K, &mut V)> + '_ {
        let base = self.base;
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(move |(offset, slot)| Some((K::from_index(base + offset as u64), slot.as_mut()?)))
    }

    /// Ids in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = K> + '_ {
        self.iter().map(|(id, _)| id)
    }

    /// Values in id order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + '_ {
        self.slots.iter().filter_map(Option::as_ref)
    }

    /// Values in id order, mutable.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + '_ {
        self.slots.iter_mut().filter_map(Option::as_mut)
    }

    /// Slots the window holds: the entries plus the holes between them.
    pub fn span(&self) -> usize {
        self.slots.len()
    }

    /// How many slots the window would span once `id` is in it: what a caller that bounds
    /// its window (keeping far-off ids elsewhere) checks before inserting.
    pub fn span_with(&self, id: K) -> u64 {
        let index = id.to_index();
        if self.len == 0 {
            return 1;
        }
        let last = self.base + self.slots.len() as u64 - 1;
        (index.max(last) - index.min(self.base)).saturating_add(1)
    }

    /// Bytes the window takes, for `Actor::retained_bytes`: every slot, holes included, since
    /// holes cost as much as entries (an estimate from lengths, like `world::footprint`'s).
    pub fn retained_bytes(&self) -> usize {
        self.slots.len() * size_of::<Option<V>>()
    }

    fn offset(&self, id: K) -> Option<usize> {
        usize::try_from(id.to_index().checked_sub(self.base)?).ok()
    }
}

impl<K: DenseId, V> Default for IdMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Equal when they hold the same entries, however wide their windows.
impl<K: DenseId, V: PartialEq> PartialEq for IdMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self
                .iter()
                .map(|(id, v)| (id.to_index(), v))
                .eq(other.iter().map(|(id, v)| (id.to_index(), v)))
    }
}

impl<K: DenseId, V: Eq> Eq for IdMap<K, V> {}

/// Printed as a map of its entries, like a `BTreeMap`.
impl<K: DenseId + fmt::Debug, V: fmt::Debug> fmt::Debug for IdMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sim::{Purpose, SeedTree};
    use rand::Rng as _;

    #[test]
    fn removing_the_oldest_entries_slides_the_window_up() {
        let mut map: IdMap<u64, u64> = IdMap::new();
        for id in 100..110 {
            map.insert(id, id * 2);
        }
        assert_eq!(map.span(), 10);
        map.remove(101);
        assert_eq!(map.span(), 10, "a hole inside the window stays");
        map.remove(100);
        assert_eq!(map.span(), 8, "the hole at the bottom goes with the oldest entry");
        map.remove(109);
        assert_eq!(map.span(), 7);
        assert_eq!(map.keys().collect::<Vec<_>>(), (102..109).collect::<Vec<_>>());
        assert_eq!(map.get(101), None);
        assert_eq!(map.get(5), None, "below the window");
        assert_eq!(map.get(500), None, "above the window");
        assert_eq!(map.span_with(105), 7, "inside");
        assert_eq!(map.span_with(100), 9, "below");
        assert_eq!(map.span_with(110), 9, "above");
    }

    #[test]
    fn an_id_below_the_window_widens_it_downwards() {
        let mut map: IdMap<u64, &str> = IdMap::new();
        map.insert(10, "ten");
        map.insert(7, "seven");
        assert_eq!(map.span(), 4);
        assert_eq!(map.iter().collect::<Vec<_>>(), [(7, &"seven"), (10, &"ten")]);
        assert_eq!(map.insert(7, "SEVEN"), Some("seven"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn an_emptied_map_starts_its_next_window_at_the_next_id() {
        let mut map: IdMap<u64, ()> = IdMap::new();
        map.insert(3, ());
        map.remove(3);
        map.insert(1_000_000, ());
        assert_eq!(map.span(), 1);
        assert_eq!(map.retained_bytes(), size_of::<Option<()>>());
    }

    #[test]
    fn maps_with_the_same_entries_are_equal_whatever_their_windows() {
        let mut a: IdMap<u64, u8> = IdMap::new();
        let mut b: IdMap<u64, u8> = IdMap::new();
        a.insert(1, 1);
        a.insert(2, 2);
        a.remove(1);
        b.insert(2, 2);
        assert_eq!(a, b);
        b.insert(3, 3);
        assert_ne!(a, b);
        assert_eq!(format!("{b:?}"), "{2: 2, 3: 3}");
    }

    /// Random inserts, removes and lookups, mostly near the top of a rising counter as the
    /// simulator's ids are, against a `BTreeMap` doing the same.
    #[test]
    fn behaves_like_a_btree_map_under_random_operations() {
        for seed in 0..20 {
            let mut rng = SeedTree::new(seed).stream(Purpose::Other(1));
            let mut map: IdMap<u64, u32> = IdMap::new();
            let mut model: BTreeMap<u64, u32> = BTreeMap::new();
            let mut next = 0u64;
            for step in 0..5_000u32 {
                let id = match rng.next_u32() % 8 {
                    0..=2 => {
                        next += 1 + u64::from(rng.next_u32() % 3);
                        next
                    }
                    3..=5 => next.saturating_sub(u64::from(rng.next_u32() % 64)),
                    6 => u64::from(rng.next_u32()) % (next + 1),
                    _ => next + u64::from(rng.next_u32() % 16),
                };
                match rng.next_u32() % 3 {
                    0 => assert_eq!(map.insert(id, step), model.insert(id, step)),
                    1 => assert_eq!(map.remove(id), model.remove(&id)),
                    _ => {
                        assert_eq!(map.get(id), model.get(&id));
                        if let Some(value) = map.get_mut(id) {
                            *value += 1;
                            *model.get_mut(&id).expect("the model agrees") += 1;
                        }
                    }
                }
                assert_eq!(map.len(), model.len());
                if step % 97 == 0 {
                    assert!(map.iter().eq(model.iter().map(|(id, v)| (*id, v))));
                    let (first, last) = (model.keys().next(), model.keys().next_back());
                    let span = first.map_or(0, |f| last.expect("non-empty") - f + 1);
                    assert_eq!(map.span() as u64, span, "the window is exactly first..=last");
                }
            }
            for value in map.values_mut() {
                *value = 0;
            }
            assert!(map.values().all(|v| *v == 0));
            map.clear();
            assert!(map.is_empty() && map.span() == 0);
        }
    }
}

//! Estimates of what actors keep, for [`super::Limits::max_retained_bytes`]: from lengths
//! and type sizes, never from the allocator, so the estimate (and where a run stops on it)
//! is the same on every machine, build and thread.

use std::mem::size_of;

/// Bytes `len` items of `T` take in a `Vec` (its spare capacity not counted).
pub fn vec_bytes<T>(len: usize) -> usize {
    len * size_of::<T>()
}

/// Bytes `len` entries take in a `BTreeMap<K, V>` (a set: `V = ()`): key and value plus
/// about a word of node overhead each.
pub fn map_bytes<K, V>(len: usize) -> usize {
    len * (size_of::<K>() + size_of::<V>() + size_of::<usize>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_grow_with_length_and_entry_size() {
        assert_eq!(vec_bytes::<u64>(10), 80);
        assert_eq!(map_bytes::<u64, u32>(10), 10 * (8 + 4 + size_of::<usize>()));
        assert_eq!(map_bytes::<u64, ()>(0), 0);
    }
}

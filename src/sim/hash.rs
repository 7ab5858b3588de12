//! A stable 64-bit hasher for trace hashes.
//!
//! `std`'s `DefaultHasher` is explicitly allowed to change between Rust releases, and a trace
//! hash that changes with the compiler would make "same seed, same run" unverifiable. This is
//! a fixed, documented function: each 8-byte word is folded in with a rotate, xor and multiply
//! (the FxHash step), and `finish` applies the murmur3 finaliser so that nearby inputs spread
//! over all 64 bits. Its output is part of the trace format; changing it is a breaking change
//! caught by the golden-hash tests.

use std::hash::Hasher;

const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

/// A `Hasher` whose output depends only on the bytes written, on every platform and build.
#[derive(Clone, Copy, Debug, Default)]
pub struct StableHasher {
    state: u64,
}

impl StableHasher {
    /// A hasher in its initial state.
    pub fn new() -> Self {
        StableHasher { state: 0 }
    }

    fn fold(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        let mut h = self.state;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.fold(u64::from_le_bytes(chunk.try_into().expect("chunk of 8")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length goes into the top byte so "ab" and "ab\0" differ.
            word[7] ^= rest.len() as u8;
            self.fold(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.fold(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.fold(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.fold(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.fold(i);
    }

    fn write_usize(&mut self, i: usize) {
        // Fixed width so 32- and 64-bit hosts agree.
        self.fold(i as u64);
    }

    fn write_isize(&mut self, i: isize) {
        // Derived `Hash` writes enum discriminants as isize; fix the width here too.
        self.fold(i as i64 as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash_of(value: impl Hash) -> u64 {
        let mut h = StableHasher::new();
        value.hash(&mut h);
        h.finish()
    }

    #[test]
    fn output_is_pinned() {
        // A golden value: if this changes, every recorded trace hash changes with it.
        assert_eq!(hash_of((1u64, "deliver", 7u32)), 0x816d_c623_3350_54a1);
    }

    #[test]
    fn small_changes_change_the_hash() {
        assert_ne!(hash_of("ab"), hash_of("ab\0"));
        assert_ne!(hash_of((1u64, 2u64)), hash_of((2u64, 1u64)));
    }
}

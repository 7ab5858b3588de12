//! Which of the wheel's buckets hold events, as a two-level bitmap.
//!
//! The queue's ticks are short (most hold no event), so finding the next tick with work must
//! not walk them one by one: one bit per bucket, and one summary bit per 64-bucket word, give
//! the next occupied bucket with two or three `trailing_zeros`, whatever the gap.

/// One bit per bucket of a wheel of `64 * 64` buckets.
pub(super) struct Occupancy {
    /// Bit `i % 64` of word `i / 64` is set when bucket `i` holds an event.
    words: [u64; WORDS],
    /// Bit `w` is set when word `w` is not zero.
    summary: u64,
}

/// Buckets the bitmap covers: 64 words of 64 bits.
pub(super) const BUCKETS: usize = 64 * WORDS;

const WORDS: usize = 64;

impl Occupancy {
    /// No bucket occupied.
    pub(super) fn new() -> Self {
        Occupancy {
            words: [0; WORDS],
            summary: 0,
        }
    }

    /// Marks bucket `index` occupied.
    #[inline]
    pub(super) fn set(&mut self, index: usize) {
        let word = index / 64;
        self.words[word] |= 1 << (index % 64);
        self.summary |= 1 << word;
    }

    /// Marks bucket `index` empty. Without a branch: whether the word empties is as hard
    /// to predict as whether a bucket holds a second event.
    #[inline]
    pub(super) fn clear(&mut self, index: usize) {
        let word = index / 64;
        let bits = self.words[word] & !(1 << (index % 64));
        self.words[word] = bits;
        self.summary &= !(u64::from(bits == 0) << word);
    }

    /// The first occupied bucket from `start` to the end of `start`'s 64-bucket word: where
    /// the next event nearly always is, found with one `trailing_zeros`.
    #[inline]
    pub(super) fn next_in_word(&self, start: usize) -> Option<usize> {
        let here = self.words[start / 64] & (u64::MAX << (start % 64));
        (here != 0).then(|| start - start % 64 + here.trailing_zeros() as usize)
    }

    /// How many buckets after `start` (0 for `start` itself, wrapping around the wheel) the
    /// first occupied bucket is; `None` when none is.
    #[inline]
    pub(super) fn distance_to_next(&self, start: usize) -> Option<usize> {
        if let Some(found) = self.next_in_word(start) {
            return Some(found - start);
        }
        let word = start / 64;
        // Later words first, then from the wheel's start (wrapping), this word's low bits last.
        let later = self.summary & (u64::MAX << word << 1);
        let found_word = if later != 0 {
            later.trailing_zeros() as usize
        } else if self.summary != 0 {
            self.summary.trailing_zeros() as usize
        } else {
            return None;
        };
        let found = found_word * 64 + self.words[found_word].trailing_zeros() as usize;
        Some((found + BUCKETS - start) % BUCKETS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance by walking bucket after bucket, as the bitmap must agree with.
    fn walk(set: &[usize], start: usize) -> Option<usize> {
        (0..BUCKETS).find(|d| set.contains(&((start + d) % BUCKETS)))
    }

    #[test]
    fn finds_the_next_occupied_bucket_like_a_walk_would() {
        let patterns: [&[usize]; 6] = [
            &[],
            &[0],
            &[BUCKETS - 1],
            &[5, 70, 4000],
            &[63, 64, 127, 128],
            &[1000, 1001, 3000],
        ];
        for set in patterns {
            let mut occupancy = Occupancy::new();
            for &i in set {
                occupancy.set(i);
            }
            for start in (0..BUCKETS).step_by(7).chain([63, 64, 70, 71, BUCKETS - 1]) {
                let found = occupancy.distance_to_next(start);
                assert_eq!(found, walk(set, start), "{set:?} from {start}");
            }
        }
    }

    #[test]
    fn clearing_the_last_bucket_of_a_word_clears_its_summary_bit() {
        let mut occupancy = Occupancy::new();
        occupancy.set(70);
        occupancy.set(71);
        occupancy.clear(70);
        assert_eq!(occupancy.distance_to_next(0), Some(71));
        occupancy.clear(71);
        assert_eq!(occupancy.summary, 0);
        assert_eq!(occupancy.distance_to_next(0), None);
    }
}

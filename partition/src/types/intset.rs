//! An intset: a sorted array of distinct integers, all stored at the narrowest width (2, 4 or 8
//! bytes) that fits the largest one, the compact encoding of small sets of integers (the same
//! idea as Redis's `intset.c`).
//!
//! Why: 5 small integers cost 10 bytes instead of a table and five nodes. Lookups are binary
//! searches; inserts and removals shift the tail, which `set-max-intset-entries` keeps short.
//! The width only grows: an insert that does not fit re-encodes everything once (an
//! "upgrade"); removals never narrow it, as in Redis.

/// Sorted distinct integers packed at one width, in one exactly sized buffer whose first byte
/// is the width: one pointer and a length, so a small set lives inside the keyspace's value
/// (no box around it). An empty, never-upgraded intset holds no allocation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntSet {
    /// `[width][elements …]`, width in bytes per element: 2, 4 or 8 (no buffer at all while
    /// empty and never upgraded).
    buf: Box<[u8]>,
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The narrowest width that holds `v`.
fn width_of(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn width(&self) -> u8 {
        self.buf.first().copied().unwrap_or(0)
    }

    /// The packed elements (past the width byte).
    #[inline]
    fn data(&self) -> &[u8] {
        self.buf.get(1..).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        match self.width() {
            0 => 0,
            w => self.data().len() / w as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.data().is_empty()
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The element at `index` (0-based, ascending order).
    pub fn get(&self, index: usize) -> i64 {
        let w = self.width() as usize;
        let b = &self.data()[index * w..index * w + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        }
    }

    /// `Ok(index)` of `v`, or `Err(index)` where it would be inserted.
    pub fn search(&self, v: i64) -> Result<usize, usize> {
        if width_of(v) > self.width() {
            // Wider than every element: it sorts before all of them or after all of them.
            return Err(if v < 0 { 0 } else { self.len() });
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Adds `v`; false if it was already present.
    pub fn insert(&mut self, v: i64) -> bool {
        let w = width_of(v);
        if w > self.width() {
            self.upgrade(w);
        }
        let index = match self.search(v) {
            Ok(_) => return false,
            Err(i) => i,
        };
        let w = self.width() as usize;
        // Exact growth: a set of a few integers stays a few bytes (Redis reallocs the same way).
        let mut data = std::mem::take(&mut self.buf).into_vec();
        data.reserve_exact(w);
        let at = 1 + index * w;
        let old_len = data.len();
        data.resize(old_len + w, 0);
        data.copy_within(at..old_len, at + w);
        data[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
        self.buf = data.into_boxed_slice();
        true
    }

    /// Re-encodes every element at width `w`.
    fn upgrade(&mut self, w: u8) {
        let mut data = Vec::with_capacity(1 + (self.len() + 1) * w as usize);
        data.push(w);
        for v in self.iter() {
            data.extend_from_slice(&v.to_le_bytes()[..w as usize]);
        }
        self.buf = data.into_boxed_slice();
    }

    /// Removes `v`; false if it was absent.
    pub fn remove(&mut self, v: i64) -> bool {
        let Ok(index) = self.search(v) else { return false };
        let w = self.width() as usize;
        let mut data = std::mem::take(&mut self.buf).into_vec();
        data.drain(1 + index * w..1 + index * w + w);
        self.buf = data.into_boxed_slice();
        true
    }

    /// Gives back spare capacity: a no-op, the buffer is always exactly as long as its data.
    pub fn shrink_to_fit(&mut self) {}

    /// Removes and returns the element at `index`.
    pub fn remove_at(&mut self, index: usize) -> i64 {
        let v = self.get(index);
        self.remove(v);
        v
    }

    /// Elements in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn widths_upgrade_and_order_holds() {
        let mut s = IntSet::new();
        assert!(s.insert(5));
        assert!(!s.insert(5));
        assert!(s.insert(-3));
        assert_eq!(s.heap_bytes(), 5);
        assert!(s.insert(100_000));
        assert_eq!(s.width(), 4);
        assert!(s.insert(i64::MIN));
        assert!(s.insert(i64::MAX));
        assert_eq!(s.width(), 8);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 100_000, i64::MAX]);
        assert!(s.contains(100_000));
        assert!(!s.contains(6));
        assert!(s.remove(i64::MIN));
        assert!(!s.remove(i64::MIN));
        assert_eq!(s.len(), 4);
        // Wider than the current width and absent.
        let mut t = IntSet::new();
        t.insert(1);
        assert!(!t.contains(1 << 40));
        assert!(!t.contains(-(1 << 40)));
    }

    #[test]
    fn matches_a_model_under_random_operations() {
        let mut x = 0x9E3779B97F4A7C15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut s = IntSet::new();
        let mut model = BTreeSet::new();
        for _ in 0..20_000 {
            let r = rand();
            let v = match r % 4 {
                0 => (r >> 8) as i64 % 100,
                1 => (r >> 8) as i16 as i64,
                2 => (r >> 8) as i32 as i64,
                _ => (r >> 2) as i64,
            };
            if rand() % 3 == 0 {
                assert_eq!(s.remove(v), model.remove(&v));
            } else {
                assert_eq!(s.insert(v), model.insert(v));
            }
            assert_eq!(s.len(), model.len());
        }
        assert_eq!(s.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
        for v in model.clone() {
            assert!(s.contains(v));
        }
    }
}

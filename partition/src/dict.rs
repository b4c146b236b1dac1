//! A chained hash table whose cursor scan keeps Redis's SCAN guarantee: an element present for
//! the whole of a scan is returned at least once, even when the table grows or shrinks between
//! calls. That is why the keyspace does not use `std`'s `HashMap`, whose iteration order is lost
//! on resize.
//!
//! Buckets are a power of two and an element lives in bucket `hash & mask`; the cursor walks the
//! bucket index with its bits reversed (Pieter Noordhuis's algorithm, used by Redis's `dictScan`),
//! so that the buckets already visited at one size map onto buckets already visited at any other
//! size. Resizing rehashes the whole table at once: tables are per hash slot, so each one is small.

use std::sync::OnceLock;

/// The process-wide hash seed: random per process, so hash flooding cannot be prepared offline.
fn hasher() -> &'static ahash::RandomState {
    static STATE: OnceLock<ahash::RandomState> = OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new)
}

/// Asks the CPU to start loading the cache line at `ptr` without waiting for it.
#[inline(always)]
pub fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// The hash a key is stored under (also the input of the `prefetch_*` steps).
pub fn hash(key: &[u8]) -> u64 {
    hasher().hash_one(key)
}

/// Longest key kept inside its node.
pub const KEY_INLINE: usize = 22;

/// A stored key. Keys up to [`KEY_INLINE`] bytes (most real keys) live inside the node
/// itself: one allocation per entry instead of two, and a lookup compares the key without
/// another pointer chase (and cache miss). 24 bytes, so that a keyspace node (key, 32-byte
/// entry, chain link) is 64 bytes, a jemalloc size class, where a 32-byte key made it 80.
#[derive(Clone)]
pub enum Key {
    Inline { len: u8, data: [u8; KEY_INLINE] },
    Heap(Box<[u8]>),
}

impl Default for Key {
    fn default() -> Self {
        Key::Inline { len: 0, data: [0; KEY_INLINE] }
    }
}

impl Key {
    pub fn from_slice(key: &[u8]) -> Key {
        if key.len() <= KEY_INLINE {
            let mut data = [0u8; KEY_INLINE];
            data[..key.len()].copy_from_slice(key);
            Key::Inline { len: key.len() as u8, data }
        } else {
            Key::Heap(key.into())
        }
    }

    /// True when the key needed an allocation of its own (memory accounting).
    pub fn spilled(&self) -> bool {
        matches!(self, Key::Heap(_))
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline { len, data } => &data[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Key {}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

struct Node<V> {
    key: Key,
    value: V,
    next: Option<Box<Node<V>>>,
}

/// A map from byte-string keys to `V` with a resize-safe scan cursor and random sampling.
pub struct Dict<V> {
    buckets: Vec<Option<Box<Node<V>>>>,
    len: usize,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Dict { buckets: Vec::new(), len: 0 }
    }
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        if self.len == 0 {
            return None;
        }
        let mut node = self.buckets[hash(key) as usize & self.mask()].as_deref();
        while let Some(n) = node {
            if &*n.key == key {
                return Some(&n.value);
            }
            node = n.next.as_deref();
        }
        None
    }

    /// Prefetch step 1: the bucket array (call after the `Dict` itself is in cache).
    pub fn prefetch_bucket(&self, hash: u64) {
        if self.len > 0 {
            prefetch(&self.buckets[hash as usize & self.mask()]);
        }
    }

    /// Prefetch step 2: the first node of the key's chain (call after
    /// [`Dict::prefetch_bucket`] had time to land).
    pub fn prefetch_node(&self, hash: u64) {
        if self.len > 0 {
            if let Some(node) = self.buckets[hash as usize & self.mask()].as_deref() {
                prefetch(node);
            }
        }
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.len == 0 {
            return None;
        }
        let i = hash(key) as usize & self.mask();
        let mut node = self.buckets[i].as_deref_mut();
        while let Some(n) = node {
            if &*n.key == key {
                return Some(&mut n.value);
            }
            node = n.next.as_deref_mut();
        }
        None
    }

    /// The stored key equal to `key` together with its value.
    pub fn get_key_value(&self, key: &[u8]) -> Option<(&[u8], &V)> {
        if self.len == 0 {
            return None;
        }
        let mut node = self.buckets[hash(key) as usize & self.mask()].as_deref();
        while let Some(n) = node {
            if &*n.key == key {
                return Some((&n.key, &n.value));
            }
            node = n.next.as_deref();
        }
        None
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        if let Some(slot) = self.get_mut(key) {
            return Some(std::mem::replace(slot, value));
        }
        self.insert_new(Key::from_slice(key), value);
        None
    }

    /// Inserts `key`, which the caller knows is absent: one hash lookup fewer than
    /// [`Dict::insert`].
    pub fn insert_absent(&mut self, key: &[u8], value: V) {
        debug_assert!(!self.contains_key(key));
        self.insert_new(Key::from_slice(key), value);
    }

    /// The value for `key`, inserting `make()` first when absent. The flag is true if inserted.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> (&mut V, bool) {
        // Two lookups on the insert path keep the borrow checker happy without unsafe code.
        let inserted = if self.contains_key(key) {
            false
        } else {
            self.insert_new(Key::from_slice(key), make());
            true
        };
        (self.get_mut(key).expect("present"), inserted)
    }

    fn insert_new(&mut self, key: Key, value: V) {
        if self.len >= self.buckets.len() {
            self.resize((self.len + 1).next_power_of_two().max(4));
        }
        let i = hash(&key) as usize & self.mask();
        let next = self.buckets[i].take();
        self.buckets[i] = Some(Box::new(Node { key, value, next }));
        self.len += 1;
    }

    /// Removes `key`, returning the stored key and value.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Key, V)> {
        if self.len == 0 {
            return None;
        }
        let i = hash(key) as usize & self.mask();
        let mut link = &mut self.buckets[i];
        loop {
            match link {
                None => return None,
                Some(n) if &*n.key == key => {
                    let mut node = link.take().expect("matched Some");
                    *link = node.next.take();
                    self.len -= 1;
                    self.maybe_shrink();
                    return Some((node.key, node.value));
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn maybe_shrink(&mut self) {
        if self.len == 0 {
            self.buckets = Vec::new();
        } else if self.buckets.len() > 4 && self.len * 8 < self.buckets.len() {
            self.resize(self.len.next_power_of_two().max(4));
        }
    }

    fn resize(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.buckets, (0..size).map(|_| None).collect());
        let mask = size - 1;
        for mut head in old {
            while let Some(mut node) = head {
                head = node.next.take();
                let i = hash(&node.key) as usize & mask;
                node.next = self.buckets[i].take();
                self.buckets[i] = Some(node);
            }
        }
    }

    pub fn clear(&mut self) {
        // Drop chains iteratively: a long chain dropped recursively could overflow the stack.
        for head in self.buckets.iter_mut() {
            let mut cur = head.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
        self.buckets = Vec::new();
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.buckets.iter().flat_map(|head| {
            let mut node = head.as_deref();
            std::iter::from_fn(move || {
                let n = node?;
                node = n.next.as_deref();
                Some((&*n.key, &n.value))
            })
        })
    }

    /// Visits one bucket (and so every element in it) for `cursor` and returns the next cursor;
    /// 0 when the scan is complete. Start with 0.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &V)) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = self.mask() as u64;
        let mut node = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(n) = node {
            visit(&n.key, &n.value);
            node = n.next.as_deref();
        }
        // Increment the reversed cursor: set the unmasked bits, reverse, add one, reverse back.
        let mut v = cursor | !mask;
        v = v.reverse_bits().wrapping_add(1).reverse_bits();
        v
    }

    /// An element chosen at random (uniform over buckets, then over the chain), given random
    /// numbers from `rand`.
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<(&[u8], &V)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask() as u64;
        loop {
            let mut node = self.buckets[(rand() & mask) as usize].as_deref();
            let mut chain = Vec::new();
            while let Some(n) = node {
                chain.push(n);
                node = n.next.as_deref();
            }
            if !chain.is_empty() {
                let n = chain[(rand() % chain.len() as u64) as usize];
                return Some((&n.key, &n.value));
            }
        }
    }

    /// Approximate heap bytes held by the table itself (buckets and nodes, not key/value heaps).
    pub fn overhead_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<usize>()
            + self.len * std::mem::size_of::<Node<V>>()
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_small_and_round_trip() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        for n in [0, 1, KEY_INLINE, KEY_INLINE + 1, 100] {
            let k: Vec<u8> = (0..n as u8).collect();
            let key = Key::from_slice(&k);
            assert_eq!(&*key, &k[..]);
            assert_eq!(key.spilled(), n > KEY_INLINE);
        }
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::new();
        for i in 0..1000u32 {
            assert_eq!(d.insert(format!("k{i}").as_bytes(), i), None);
        }
        assert_eq!(d.len(), 1000);
        assert_eq!(d.insert(b"k5", 50), Some(5));
        assert_eq!(d.get(b"k5"), Some(&50));
        for i in 0..1000u32 {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert!(d.is_empty());
        assert_eq!(d.remove(b"k1"), None);
    }

    #[test]
    fn scan_returns_every_stable_element_while_the_table_resizes() {
        let mut d = Dict::new();
        for i in 0..500u32 {
            d.insert(format!("stable{i}").as_bytes(), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = d.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            // Grow hard, then shrink hard, while the scan is in progress.
            if step < 20 {
                for j in 0..200 {
                    d.insert(format!("tmp{step}-{j}").as_bytes(), ());
                }
            } else {
                for s in 0..20 {
                    for j in 0..200 {
                        d.remove(format!("tmp{s}-{j}").as_bytes());
                    }
                }
            }
            step += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500u32 {
            assert!(seen.contains(format!("stable{i}").as_bytes()), "missing stable{i}");
        }
    }

    #[test]
    fn random_finds_elements() {
        let mut d = Dict::new();
        d.insert(b"only", 1);
        let mut x = 12345u64;
        let (k, v) = d
            .random(|| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                x >> 33
            })
            .unwrap();
        assert_eq!((k, *v), (&b"only"[..], 1));
    }
}

//! The list type: a quicklist, i.e. a deque of [`Listpack`] nodes, as Redis 7.0 stores every
//! list (OBJECT ENCODING always says `quicklist`).
//!
//! Why this shape: pushing and popping at either end touches one small node (O(1) amortized,
//! the node is at most a few KB), elements are packed a few bytes each, and a lookup by index
//! skips whole nodes by their entry counts.
//!
//! Node size follows `list-max-listpack-size` (the list's `fill`, read once when the list is
//! created, as Redis does): a negative value caps each node's bytes (-1..-5: 4, 8, 16, 32,
//! 64 KB), a positive one caps its entry count (and then the bytes at 8 KB, Redis's safety
//! limit). A single element larger than the cap gets a node of its own. Invariants: no node is
//! empty, and a node with more than one entry is within the cap.
//!
//! `list-compress-depth` is accepted by the config but nodes are never compressed.

use std::collections::VecDeque;

use super::listpack::{Elem, Listpack};

/// Bytes a listpack header and terminator take in Redis; counted so nodes hold about as much
/// as Redis's do.
const NODE_OVERHEAD: usize = 7;

/// Byte cap of a node for `fill` -1..=-5.
const BYTE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Byte cap of a node when `fill` counts entries (Redis's `SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;

/// Largest positive `fill` (Redis's `FILL_MAX`).
const FILL_MAX: i64 = (1 << 15) - 1;

/// An end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Front,
    Back,
}

/// A list of byte strings.
#[derive(Debug, Clone)]
pub struct List {
    nodes: VecDeque<Listpack>,
    len: usize,
    /// `list-max-listpack-size` at creation, clamped to -5..=32767.
    fill: i16,
}

impl Default for List {
    fn default() -> Self {
        List::new(-2)
    }
}

/// Lists are equal when they hold the same elements, however they are split into nodes.
impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

/// Upper bound of the bytes `value` takes as a listpack entry (its text is never shorter than
/// its integer encoding).
fn entry_bytes(value: &[u8]) -> usize {
    let n = value.len();
    let header = if n <= 63 {
        1
    } else if n <= 4095 {
        2
    } else {
        5
    };
    let payload = header + n;
    let backlen = match payload {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    };
    payload + backlen
}

impl List {
    /// An empty list whose nodes are sized by `fill` (`list-max-listpack-size`).
    pub fn new(fill: i64) -> List {
        List { nodes: VecDeque::new(), len: 0, fill: fill.clamp(-5, FILL_MAX) as i16 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes held, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Listpack>()
            + self.nodes.iter().map(Listpack::heap_bytes).sum::<usize>()
    }

    /// Number of nodes (for tests and memory reports).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// True when a node of `bytes` packed bytes and `count` entries is within the cap.
    fn fits(&self, bytes: usize, count: usize) -> bool {
        if count <= 1 {
            return true;
        }
        let bytes = bytes + NODE_OVERHEAD;
        if self.fill < 0 {
            bytes <= BYTE_LIMITS[(-self.fill - 1) as usize]
        } else {
            bytes <= SAFETY_LIMIT && count <= self.fill as usize
        }
    }

    /// True when `value` may join `node` without a new node.
    fn room_for(&self, node: &Listpack, value: &[u8]) -> bool {
        self.fits(node.bytes() + entry_bytes(value), node.len() + 1)
    }

    pub fn push(&mut self, end: End, value: &[u8]) {
        match end {
            End::Front => self.push_front(value),
            End::Back => self.push_back(value),
        }
    }

    pub fn push_front(&mut self, value: &[u8]) {
        self.len += 1;
        if let Some(node) = self.nodes.front() {
            if self.room_for(node, value) {
                self.nodes[0].push_front(value);
                return;
            }
            // The full node stops growing: give back its spare capacity once.
            self.nodes[0].shrink_to_fit();
        }
        let mut node = Listpack::new();
        node.push_back(value);
        self.nodes.push_front(node);
    }

    pub fn push_back(&mut self, value: &[u8]) {
        self.len += 1;
        if let Some(node) = self.nodes.back() {
            if self.room_for(node, value) {
                let last = self.nodes.len() - 1;
                self.nodes[last].push_back(value);
                return;
            }
            let last = self.nodes.len() - 1;
            self.nodes[last].shrink_to_fit();
        }
        let mut node = Listpack::new();
        node.push_back(value);
        self.nodes.push_back(node);
    }

    /// The element at `end`.
    pub fn peek(&self, end: End) -> Option<Elem<'_>> {
        match end {
            End::Front => self.nodes.front().map(|n| n.get(0)),
            End::Back => self.nodes.back().and_then(|n| n.last().map(|p| n.get(p))),
        }
    }

    /// Removes the element at `end`; false when the list is empty. Read it first with
    /// [`List::peek`]: replies borrow it from the node instead of copying it.
    pub fn pop(&mut self, end: End) -> bool {
        match end {
            End::Front => self.remove_front(1) == 1,
            End::Back => self.remove_back(1) == 1,
        }
    }

    /// Removes up to `n` elements from the front; returns how many.
    pub fn remove_front(&mut self, mut n: usize) -> usize {
        let total = n.min(self.len);
        n = total;
        while n > 0 {
            let node = &mut self.nodes[0];
            if node.len() <= n {
                n -= node.len();
                self.nodes.pop_front();
            } else {
                node.delete(0, n);
                n = 0;
            }
        }
        self.len -= total;
        total
    }

    /// Removes up to `n` elements from the back; returns how many.
    pub fn remove_back(&mut self, mut n: usize) -> usize {
        let total = n.min(self.len);
        n = total;
        while n > 0 {
            let last = self.nodes.len() - 1;
            let node = &mut self.nodes[last];
            if node.len() <= n {
                n -= node.len();
                self.nodes.pop_back();
            } else {
                let pos = node.seek(-(n as i64)).expect("node holds more than n entries");
                node.delete(pos, n);
                n = 0;
            }
        }
        self.len -= total;
        total
    }

    /// The node holding element `index` (< len) and the index within it, walking from the
    /// nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.len);
        if index < self.len / 2 {
            let mut skipped = 0;
            for (i, node) in self.nodes.iter().enumerate() {
                if index < skipped + node.len() {
                    return (i, index - skipped);
                }
                skipped += node.len();
            }
        } else {
            let mut first = self.len;
            for (i, node) in self.nodes.iter().enumerate().rev() {
                first -= node.len();
                if index >= first {
                    return (i, index - first);
                }
            }
        }
        unreachable!("index {index} within length {}", self.len)
    }

    /// Turns a Redis index (negative counts from the end) into a position, if in range.
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let i = if index < 0 { index.checked_add(self.len as i64)? } else { index };
        (0..self.len as i64).contains(&i).then_some(i as usize)
    }

    /// The element at `index` (negative counts from the end).
    pub fn get(&self, index: i64) -> Option<Elem<'_>> {
        let (n, i) = self.locate(self.resolve(index)?);
        let node = &self.nodes[n];
        Some(node.get(node.seek(i as i64)?))
    }

    /// Replaces the element at `index` (< len).
    pub fn set(&mut self, index: usize, value: &[u8]) {
        let (n, i) = self.locate(index);
        let node = &mut self.nodes[n];
        let pos = node.seek(i as i64).expect("located entry");
        node.replace(pos, value);
        self.split_oversized(n);
    }

    /// Inserts `value` before the element at `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        if index == 0 {
            return self.push_front(value);
        }
        if index >= self.len {
            return self.push_back(value);
        }
        let (n, i) = self.locate(index);
        // Inserting before a node's first entry is appending to the previous node when it
        // has room: no split needed.
        if i == 0 && self.room_for(&self.nodes[n - 1], value) {
            self.nodes[n - 1].push_back(value);
        } else {
            let node = &mut self.nodes[n];
            let pos = node.seek(i as i64).expect("located entry");
            node.insert(pos, value);
            self.split_oversized(n);
        }
        self.len += 1;
    }

    /// Splits node `n` until every piece is within the cap (each piece keeps at least one
    /// entry).
    fn split_oversized(&mut self, mut n: usize) {
        loop {
            let node = &self.nodes[n];
            if self.fits(node.bytes(), node.len()) {
                return;
            }
            // The longest prefix that fits, and at least one entry.
            let mut keep = 0;
            let mut pos = node.first();
            while let Some(p) = pos {
                let next = node.next(p);
                if !self.fits(next.unwrap_or(node.bytes()), keep + 1) {
                    break;
                }
                keep += 1;
                pos = next;
            }
            let keep = keep.max(1);
            if keep >= node.len() {
                return;
            }
            let tail = self.nodes[n].split_off(keep);
            self.nodes[n].shrink_to_fit();
            self.nodes.insert(n + 1, tail);
            n += 1;
        }
    }

    /// Merges neighbouring nodes whose entries fit in one node (after removals in the middle
    /// left small nodes behind).
    fn merge_small_nodes(&mut self) {
        let mut i = 0;
        while i + 1 < self.nodes.len() {
            let (a, b) = (&self.nodes[i], &self.nodes[i + 1]);
            if self.fits(a.bytes() + b.bytes(), a.len() + b.len()) {
                let mut b = self.nodes.remove(i + 1).expect("neighbour exists");
                self.nodes[i].append(&mut b);
            } else {
                i += 1;
            }
        }
    }

    /// Elements front to back (reversible).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Elem<'_>> + '_ {
        self.nodes.iter().flat_map(Listpack::iter)
    }

    /// Elements from index `start` (< len) to the end, front to back.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (n, i) = if start < self.len { self.locate(start) } else { (self.nodes.len(), 0) };
        self.nodes.range(n..).flat_map(Listpack::iter).skip(i)
    }

    /// Elements from index `end` (< len) back to the front.
    pub fn iter_rev_from(&self, end: usize) -> impl Iterator<Item = Elem<'_>> + '_ {
        let (upto, skip) = if end < self.len {
            let (n, i) = self.locate(end);
            (n + 1, self.nodes[n].len() - 1 - i)
        } else {
            (0, 0)
        };
        self.nodes.range(..upto).rev().flat_map(|node| node.iter().rev()).skip(skip)
    }

    /// Index of the first element equal to `value`.
    pub fn position(&self, value: &[u8]) -> Option<usize> {
        let mut skipped = 0;
        for node in &self.nodes {
            if let Some(pos) = node.find(node.first(), value, 0) {
                return Some(skipped + node.iter_pos().take_while(|&(p, _)| p < pos).count());
            }
            skipped += node.len();
        }
        None
    }

    /// Removes up to `limit` elements equal to `value` (0: all of them), scanning from `from`;
    /// returns how many.
    pub fn remove_matching(&mut self, value: &[u8], limit: usize, from: End) -> usize {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut removed = 0;
        let count = self.nodes.len();
        for k in 0..count {
            if removed == limit {
                break;
            }
            let n = match from {
                End::Front => k,
                End::Back => count - 1 - k,
            };
            let node = &mut self.nodes[n];
            match from {
                End::Front => {
                    let mut pos = node.first();
                    while let Some(p) = pos {
                        if removed == limit {
                            break;
                        }
                        if node.get(p).eq_bytes(value) {
                            pos = node.delete(p, 1);
                            removed += 1;
                        } else {
                            pos = node.next(p);
                        }
                    }
                }
                End::Back => {
                    let mut pos = node.last();
                    while let Some(p) = pos {
                        if removed == limit {
                            break;
                        }
                        // The entries before `p` keep their positions when `p` goes.
                        let before = node.prev(p);
                        if node.get(p).eq_bytes(value) {
                            node.delete(p, 1);
                            removed += 1;
                        }
                        pos = before;
                    }
                }
            }
        }
        if removed > 0 {
            self.len -= removed;
            self.nodes.retain(|n| !n.is_empty());
            self.merge_small_nodes();
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn texts(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    /// Checks the invariants: lengths add up, no empty node, multi-entry nodes within the cap.
    fn check(l: &List) {
        assert_eq!(l.nodes.iter().map(Listpack::len).sum::<usize>(), l.len);
        for node in &l.nodes {
            assert!(!node.is_empty());
            assert!(l.fits(node.bytes(), node.len()), "node over the cap: {} bytes", node.bytes());
        }
    }

    fn random_value(rng: &mut SmallRng) -> Vec<u8> {
        match rng.random_range(0..10) {
            0..=3 => rng.random_range(-1000i64..100_000).to_string().into_bytes(),
            4 => vec![b'x'; rng.random_range(0..3000)],
            5 => i64::MIN.to_string().into_bytes(),
            _ => (0..rng.random_range(0..12)).map(|_| rng.random_range(b'a'..=b'e')).collect(),
        }
    }

    #[test]
    fn pushes_and_pops_at_both_ends() {
        let mut l = List::new(-2);
        l.push_back(b"b");
        l.push_front(b"a");
        l.push_back(b"12");
        assert_eq!(texts(&l), [b"a".to_vec(), b"b".to_vec(), b"12".to_vec()]);
        assert_eq!(l.peek(End::Back), Some(Elem::Int(12)));
        assert!(l.pop(End::Back));
        assert_eq!(l.peek(End::Front), Some(Elem::Str(b"a")));
        assert!(l.pop(End::Front));
        assert!(l.pop(End::Front));
        assert!(!l.pop(End::Front));
        assert!(l.is_empty());
        assert_eq!(l.node_count(), 0);
    }

    #[test]
    fn nodes_follow_fill() {
        let mut l = List::new(-1);
        for _ in 0..10_000 {
            l.push_back(b"0123456789");
        }
        check(&l);
        // 12 bytes an entry, 4 KB a node.
        assert!(l.node_count() >= 10_000 * 12 / 4096 && l.node_count() < 40, "{}", l.node_count());
        let mut l = List::new(5);
        for i in 0..23 {
            l.push_front(i.to_string().as_bytes());
        }
        check(&l);
        assert_eq!(l.node_count(), 5);
        // A huge element gets a node of its own.
        let mut l = List::new(-2);
        l.push_back(b"a");
        l.push_back(&vec![b'h'; 100_000]);
        l.push_back(b"b");
        check(&l);
        assert_eq!(l.node_count(), 3);
        assert_eq!(l.get(1).unwrap().text_len(), 100_000);
        // Out-of-range fills are clamped as Redis clamps them.
        assert_eq!(List::new(-100).fill, -5);
        assert_eq!(List::new(1 << 40).fill, FILL_MAX as i16);
        let mut l = List::new(0);
        l.push_back(b"a");
        l.push_back(b"b");
        assert_eq!(l.node_count(), 2);
    }

    #[test]
    fn index_access_and_iteration_ranges() {
        let mut l = List::new(3);
        for i in 0..20 {
            l.push_back(i.to_string().as_bytes());
        }
        for i in 0..20i64 {
            assert_eq!(l.get(i), Some(Elem::Int(i)));
            assert_eq!(l.get(i - 20), Some(Elem::Int(i)));
        }
        assert_eq!(l.get(20), None);
        assert_eq!(l.get(-21), None);
        assert_eq!(l.get(i64::MIN), None);
        let from: Vec<i64> = l.iter_from(7).map(|e| e.as_int().unwrap()).collect();
        assert_eq!(from, (7..20).collect::<Vec<_>>());
        let back: Vec<i64> = l.iter_rev_from(7).map(|e| e.as_int().unwrap()).collect();
        assert_eq!(back, (0..=7).rev().collect::<Vec<_>>());
        assert_eq!(l.iter_from(20).count(), 0);
        assert_eq!(l.iter_rev_from(20).count(), 0);
        assert_eq!(l.position(b"13"), Some(13));
        assert_eq!(l.position(b"013"), None);
    }

    #[test]
    fn inserting_and_setting_split_full_nodes() {
        let mut l = List::new(-1);
        for _ in 0..1000 {
            l.push_back(b"abcdefgh");
        }
        l.insert(500, &vec![b'z'; 3000]);
        l.set(10, &vec![b'y'; 4000]);
        check(&l);
        assert_eq!(l.len(), 1001);
        assert_eq!(l.get(500).unwrap().text_len(), 3000);
        assert_eq!(l.get(10).unwrap().text_len(), 4000);
        assert_eq!(l.get(11), Some(Elem::Str(b"abcdefgh")));
    }

    #[test]
    fn lists_equal_by_elements() {
        let mut a = List::new(2);
        let mut b = List::new(-5);
        for v in ["a", "b", "c"] {
            a.push_back(v.as_bytes());
            b.push_back(v.as_bytes());
        }
        assert_ne!(a.node_count(), b.node_count());
        assert_eq!(a, b);
        b.pop(End::Back);
        assert_ne!(a, b);
    }

    /// Random operations against a `VecDeque` model, with several node caps.
    #[test]
    fn random_operations_match_a_deque() {
        for (seed, fill) in [(1u64, -2i64), (2, -1), (3, 4), (4, 1), (5, -5), (6, 0)] {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut l = List::new(fill);
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..4000 {
                let len = model.len();
                match rng.random_range(0..12) {
                    0 | 1 => {
                        let v = random_value(&mut rng);
                        l.push_front(&v);
                        model.push_front(v);
                    }
                    2 | 3 => {
                        let v = random_value(&mut rng);
                        l.push_back(&v);
                        model.push_back(v);
                    }
                    4 => {
                        let end = if rng.random() { End::Front } else { End::Back };
                        let want = match end {
                            End::Front => model.pop_front(),
                            End::Back => model.pop_back(),
                        };
                        assert_eq!(l.peek(end).map(|e| e.to_vec()), want);
                        assert_eq!(l.pop(end), want.is_some());
                    }
                    5 => {
                        let n = rng.random_range(0..30);
                        let end = if rng.random() { End::Front } else { End::Back };
                        let got = match end {
                            End::Front => l.remove_front(n),
                            End::Back => l.remove_back(n),
                        };
                        assert_eq!(got, n.min(len));
                        for _ in 0..got {
                            match end {
                                End::Front => model.pop_front(),
                                End::Back => model.pop_back(),
                            };
                        }
                    }
                    6 => {
                        let i = rng.random_range(0..=len);
                        let v = random_value(&mut rng);
                        l.insert(i, &v);
                        model.insert(i, v);
                    }
                    7 if len > 0 => {
                        let i = rng.random_range(0..len);
                        let v = random_value(&mut rng);
                        l.set(i, &v);
                        model[i] = v;
                    }
                    8 if len > 0 => {
                        let i = rng.random_range(-(len as i64) * 2..len as i64 * 2);
                        let want = l.resolve(i).map(|j| model[j].clone());
                        assert_eq!(l.get(i).map(|e| e.to_vec()), want);
                    }
                    9 => {
                        let v = random_value(&mut rng);
                        let limit = rng.random_range(0..4);
                        let end = if rng.random() { End::Front } else { End::Back };
                        let got = l.remove_matching(&v, limit, end);
                        let limit = if limit == 0 { usize::MAX } else { limit };
                        let mut removed = 0;
                        let keep: Vec<bool> = match end {
                            End::Front => model
                                .iter()
                                .map(|x| {
                                    let hit = *x == v && removed < limit;
                                    removed += hit as usize;
                                    !hit
                                })
                                .collect(),
                            End::Back => {
                                let mut k: Vec<bool> = model
                                    .iter()
                                    .rev()
                                    .map(|x| {
                                        let hit = *x == v && removed < limit;
                                        removed += hit as usize;
                                        !hit
                                    })
                                    .collect();
                                k.reverse();
                                k
                            }
                        };
                        let mut it = keep.iter();
                        model.retain(|_| *it.next().unwrap());
                        assert_eq!(got, removed);
                    }
                    10 if len > 0 => {
                        let v = model[rng.random_range(0..len)].clone();
                        assert_eq!(l.position(&v), model.iter().position(|x| *x == v));
                        let i = rng.random_range(0..len);
                        let fwd: Vec<Vec<u8>> = l.iter_from(i).map(|e| e.to_vec()).collect();
                        assert_eq!(fwd, model.range(i..).cloned().collect::<Vec<_>>());
                        let back: Vec<Vec<u8>> = l.iter_rev_from(i).map(|e| e.to_vec()).collect();
                        assert_eq!(back, model.range(..=i).rev().cloned().collect::<Vec<_>>());
                    }
                    _ => {
                        let rev: Vec<Vec<u8>> = l.iter().rev().map(|e| e.to_vec()).collect();
                        assert_eq!(rev, model.iter().rev().cloned().collect::<Vec<_>>());
                    }
                }
                assert_eq!(l.len(), model.len(), "seed {seed} step {step}");
                if step % 50 == 0 {
                    check(&l);
                    assert_eq!(texts(&l), model.iter().cloned().collect::<Vec<_>>());
                }
            }
            check(&l);
            assert_eq!(texts(&l), model.iter().cloned().collect::<Vec<_>>());
        }
    }
}

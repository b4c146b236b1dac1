//! An indexable skiplist ordered by (score, member): the order-statistic half of a large sorted
//! set (the other half is the member → score map in [`super::zset`]).
//!
//! Every link carries a *span*, the number of level-0 steps it jumps, so rank ↔ node lookups
//! are O(log n) like insertion and deletion (the structure of Redis's `zskiplist`, after Pugh).
//! Nodes live in an arena indexed by `u32` instead of behind raw pointers: safe code, and one
//! allocation per node (its member). Every node's tower of levels is contiguous in one array,
//! `levels`, and a node's id is the index of its level 0 there, so a search step is one load
//! from that array: the links, their spans and their targets' scores, whatever the node's
//! height. (With each node's levels in a small vector, a step read the node and then, for
//! the tall nodes that make up the upper levels, a second heap block: two cache misses per
//! step, 44 % of ZADD's time.) The rest of a node (member, score, backward link) lives in a
//! parallel array, touched only on score ties and at the end of a search. Index 0 is the
//! header, which is never a link target, so 0 doubles as "no node".

use crate::dict::Key;

/// Tallest tower; with p = 1/4 that covers 2^64 elements.
const MAX_LEVEL: usize = 32;

/// "No node": the header's index, which no link points to.
pub const NIL: u32 = 0;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Level {
    forward: u32,
    /// Level-0 steps from this node to `forward`.
    span: u32,
    /// The score of `forward`, cached here: a search compares against it without touching
    /// the next node (a cache miss on large sets) unless it moves there or scores tie.
    score: f64,
}

/// What a node holds besides its levels.
#[derive(Clone, Debug, Default)]
struct Meta {
    /// Inline up to 22 bytes: a score tie compares members without another cache miss.
    member: Key,
    score: f64,
    backward: u32,
    height: u8,
}

/// The skiplist. Node ids (`u32`) stay valid until that node is deleted.
#[derive(Clone, Debug)]
pub struct SkipList {
    /// Node `x`'s level `i` is `levels[x + i]`, for `i < meta[x].height`.
    levels: Vec<Level>,
    /// Indexed like `levels`; only the slot of a node's id (its level 0) is used.
    meta: Vec<Meta>,
    /// Freed towers by height - 1, reused by nodes of the same height.
    free: Vec<Vec<u32>>,
    tail: u32,
    len: u32,
    level: usize,
    rng: u64,
}

impl Default for SkipList {
    fn default() -> Self {
        Self::new()
    }
}

/// True when (`s`, `m`) sorts before (`score`, `member`).
#[inline]
fn before(s: f64, m: &[u8], score: f64, member: &[u8]) -> bool {
    s < score || (s == score && m < member)
}

impl SkipList {
    pub fn new() -> Self {
        let mut meta = vec![Meta::default(); MAX_LEVEL];
        meta[0].height = MAX_LEVEL as u8;
        SkipList {
            levels: vec![Level { forward: NIL, span: 0, score: 0.0 }; MAX_LEVEL],
            meta,
            free: Vec::new(),
            tail: NIL,
            len: 0,
            level: 1,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let members: usize =
            self.meta.iter().filter(|m| m.member.spilled()).map(|m| m.member.len()).sum();
        let free: usize = self.free.iter().map(|f| f.capacity() * 4).sum();
        self.levels.capacity() * std::mem::size_of::<Level>()
            + self.meta.capacity() * std::mem::size_of::<Meta>()
            + free
            + members
    }

    #[inline]
    fn fwd(&self, x: u32, i: usize) -> u32 {
        self.levels[x as usize + i].forward
    }

    #[inline]
    fn span(&self, x: u32, i: usize) -> u32 {
        self.levels[x as usize + i].span
    }

    /// The member and score of node `id`.
    #[inline]
    pub fn get(&self, id: u32) -> (&[u8], f64) {
        let n = &self.meta[id as usize];
        (&n.member, n.score)
    }

    pub fn first(&self) -> Option<u32> {
        Some(self.fwd(NIL, 0)).filter(|&x| x != NIL)
    }

    pub fn last(&self) -> Option<u32> {
        Some(self.tail).filter(|&x| x != NIL)
    }

    #[inline]
    pub fn next(&self, id: u32) -> Option<u32> {
        Some(self.fwd(id, 0)).filter(|&x| x != NIL)
    }

    #[inline]
    pub fn prev(&self, id: u32) -> Option<u32> {
        Some(self.meta[id as usize].backward).filter(|&x| x != NIL)
    }

    fn random_level(&mut self) -> usize {
        // xorshift64*: levels only need to be unpredictable-looking, not secret.
        let mut level = 1;
        loop {
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
            if level < MAX_LEVEL && (r & 0xFFFF) < 0xFFFF / 4 {
                level += 1;
            } else {
                return level;
            }
        }
    }

    /// A new node of `height` levels (all unlinked); its id.
    fn alloc(&mut self, height: usize, member: Key, score: f64) -> u32 {
        let unlinked = Level { forward: NIL, span: 0, score: 0.0 };
        let id = match self.free.get_mut(height - 1).and_then(Vec::pop) {
            Some(id) => {
                self.levels[id as usize..id as usize + height].fill(unlinked);
                id
            }
            None => {
                let id = self.levels.len();
                self.levels.resize(id + height, unlinked);
                self.meta.resize_with(id + height, Meta::default);
                id as u32
            }
        };
        self.meta[id as usize] = Meta { member, score, backward: NIL, height: height as u8 };
        id
    }

    /// For each level, the last node before (`score`, `member`), and its rank.
    fn find_update(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [NIL; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = NIL;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let l = self.levels[x as usize + i];
                if l.forward == NIL
                    || l.score > score
                    || (l.score == score && *self.meta[l.forward as usize].member >= *member)
                {
                    break;
                }
                rank[i] += l.span;
                x = l.forward;
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// Inserts a member that is not present. Returns its node id.
    pub fn insert(&mut self, score: f64, member: &[u8]) -> u32 {
        self.insert_boxed(score, Key::from_slice(member))
    }

    fn insert_boxed(&mut self, score: f64, member: Key) -> u32 {
        let (mut update, mut rank) = self.find_update(score, &member);
        let level = self.random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = NIL;
                self.levels[i].span = self.len;
            }
            self.level = level;
        }
        let id = self.alloc(level, member, score);
        for i in 0..level {
            let u = update[i] as usize;
            let ul = self.levels[u + i];
            let steps = rank[0] - rank[i];
            self.levels[id as usize + i] =
                Level { forward: ul.forward, span: ul.span - steps, score: ul.score };
            self.levels[u + i] = Level { forward: id, span: steps + 1, score };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(level) {
            self.levels[u as usize + i].span += 1;
        }
        self.meta[id as usize].backward = update[0];
        match self.fwd(id, 0) {
            NIL => self.tail = id,
            f => self.meta[f as usize].backward = id,
        }
        self.len += 1;
        id
    }

    /// Unlinks node `x` given its predecessors and frees it; returns its member.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) -> Key {
        let xl = self.meta[x as usize].height as usize;
        for (i, &u) in update.iter().enumerate().take(self.level) {
            if i < xl && self.fwd(u, i) == x {
                let l = self.levels[x as usize + i];
                let ul = &mut self.levels[u as usize + i];
                ul.span = ul.span + l.span - 1;
                ul.forward = l.forward;
                ul.score = l.score;
            } else {
                self.levels[u as usize + i].span -= 1;
            }
        }
        let back = self.meta[x as usize].backward;
        match self.fwd(x, 0) {
            NIL => self.tail = back,
            f => self.meta[f as usize].backward = back,
        }
        while self.level > 1 && self.fwd(NIL, self.level - 1) == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        let node = &mut self.meta[x as usize];
        let member = std::mem::take(&mut node.member);
        let height = node.height as usize;
        if self.len == 0 {
            // Give the arena back once empty (it is never shrunk otherwise).
            self.levels.truncate(MAX_LEVEL);
            self.levels.shrink_to_fit();
            self.meta.truncate(MAX_LEVEL);
            self.meta.shrink_to_fit();
            self.free = Vec::new();
        } else {
            if self.free.len() < height {
                self.free.resize_with(height, Vec::new);
            }
            self.free[height - 1].push(x);
        }
        member
    }

    /// Deletes (`score`, `member`); false if absent.
    pub fn delete(&mut self, score: f64, member: &[u8]) -> bool {
        let (update, _) = self.find_update(score, member);
        let x = self.fwd(update[0], 0);
        if x == NIL
            || self.meta[x as usize].score != score
            || *self.meta[x as usize].member != *member
        {
            return false;
        }
        self.unlink(x, &update);
        true
    }

    /// Changes the score of the present (`score`, `member`) to `new`. Moves the node only when
    /// its position changes.
    pub fn update_score(&mut self, score: f64, member: &[u8], new: f64) {
        let (update, _) = self.find_update(score, member);
        let x = self.fwd(update[0], 0);
        debug_assert!(x != NIL && *self.meta[x as usize].member == *member);
        let back = self.meta[x as usize].backward;
        let next = self.fwd(x, 0);
        let fits_before = back == NIL || {
            let b = &self.meta[back as usize];
            before(b.score, &b.member, new, member)
        };
        let fits_after = next == NIL || {
            let n = &self.meta[next as usize];
            before(new, member, n.score, &n.member)
        };
        if fits_before && fits_after {
            self.meta[x as usize].score = new;
            let xl = self.meta[x as usize].height as usize;
            for (i, &u) in update.iter().enumerate().take(xl) {
                self.levels[u as usize + i].score = new;
            }
            return;
        }
        let boxed = self.unlink(x, &update);
        self.insert_boxed(new, boxed);
    }

    /// 1-based rank of (`score`, `member`), if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut x = NIL;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.levels[x as usize + i];
                if l.forward == NIL
                    || l.score > score
                    || (l.score == score && *self.meta[l.forward as usize].member > *member)
                {
                    break;
                }
                rank += l.span as usize;
                x = l.forward;
            }
            if x != NIL && *self.meta[x as usize].member == *member {
                return Some(rank);
            }
        }
        None
    }

    /// The node at 1-based `rank`.
    pub fn by_rank(&self, rank: usize) -> Option<u32> {
        if rank == 0 || rank > self.len() {
            return None;
        }
        let mut x = NIL;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL || traversed + self.span(x, i) as usize > rank {
                    break;
                }
                traversed += self.span(x, i) as usize;
                x = f;
            }
            if traversed == rank {
                return Some(x);
            }
        }
        None
    }

    /// The last node for which `holds` is true (`holds` must hold for a prefix of the list),
    /// `NIL` when none, with the number of nodes up to and including it.
    fn last_holding(&self, holds: impl Fn(f64, &[u8]) -> bool) -> (u32, usize) {
        let mut x = NIL;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL {
                    break;
                }
                let n = &self.meta[f as usize];
                if !holds(n.score, &n.member) {
                    break;
                }
                traversed += self.span(x, i) as usize;
                x = f;
            }
        }
        (x, traversed)
    }

    /// The first node for which `below` is false (`below` must hold for a prefix of the
    /// list), with its 1-based rank.
    pub fn first_where_not(&self, below: impl Fn(f64, &[u8]) -> bool) -> Option<(u32, usize)> {
        let (x, traversed) = self.last_holding(below);
        let f = self.fwd(x, 0);
        (f != NIL).then_some((f, traversed + 1))
    }

    /// The last node for which `within` holds (`within` must hold for a prefix of the list),
    /// with its 1-based rank.
    pub fn last_where(&self, within: impl Fn(f64, &[u8]) -> bool) -> Option<(u32, usize)> {
        let (x, traversed) = self.last_holding(within);
        (x != NIL).then_some((x, traversed))
    }

    /// Deletes the nodes of 1-based ranks `start..=end`, handing each member to `removed`.
    pub fn delete_rank_range(&mut self, start: usize, end: usize, mut removed: impl FnMut(&[u8])) {
        if start == 0 || start > end {
            return;
        }
        let mut update = [NIL; MAX_LEVEL];
        let mut x = NIL;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let f = self.fwd(x, i);
                if f == NIL || traversed + self.span(x, i) as usize >= start {
                    break;
                }
                traversed += self.span(x, i) as usize;
                x = f;
            }
            update[i] = x;
        }
        let mut rank = traversed + 1;
        let mut x = self.fwd(x, 0);
        while x != NIL && rank <= end {
            let next = self.fwd(x, 0);
            let member = self.unlink(x, &update);
            removed(&member);
            rank += 1;
            x = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// (score bits made orderable, member) model.
    type Model = BTreeSet<(OrdF64, Vec<u8>)>;

    #[derive(Clone, Copy, PartialEq, PartialOrd, Debug)]
    struct OrdF64(f64);
    impl Eq for OrdF64 {}
    #[allow(clippy::derive_ord_xor_partial_ord)]
    impl Ord for OrdF64 {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            self.0.partial_cmp(&o.0).expect("no NaN")
        }
    }

    fn check(sl: &SkipList, model: &Model) {
        assert_eq!(sl.len(), model.len());
        let got: Vec<(f64, Vec<u8>)> = std::iter::successors(sl.first(), |&x| sl.next(x))
            .map(|x| (sl.get(x).1, sl.get(x).0.to_vec()))
            .collect();
        let want: Vec<(f64, Vec<u8>)> = model.iter().map(|(s, m)| (s.0, m.clone())).collect();
        assert_eq!(got, want);
        let back: Vec<u32> = std::iter::successors(sl.last(), |&x| sl.prev(x)).collect();
        assert_eq!(back.len(), model.len());
        for (i, (s, m)) in model.iter().enumerate() {
            assert_eq!(sl.rank(s.0, m), Some(i + 1));
            let id = sl.by_rank(i + 1).unwrap();
            assert_eq!(sl.get(id), (&m[..], s.0));
        }
        assert_eq!(sl.by_rank(model.len() + 1), None);
        // Every link's cached score is its target's score.
        let mut x = NIL;
        loop {
            let levels = if x == NIL { sl.level } else { sl.meta[x as usize].height as usize };
            for l in &sl.levels[x as usize..x as usize + levels] {
                if l.forward != NIL {
                    assert_eq!(l.score, sl.meta[l.forward as usize].score);
                }
            }
            match sl.next(x) {
                Some(n) => x = n,
                None => break,
            }
        }
    }

    #[test]
    fn freed_towers_are_reused() {
        let mut sl = SkipList::new();
        for i in 0..1000 {
            sl.insert(i as f64, format!("m{i}").as_bytes());
        }
        let arena = sl.levels.len();
        for round in 0..20_000u64 {
            let i = round.wrapping_mul(2654435761) % 1000;
            let m = format!("m{i}");
            let score = sl.get(sl.by_rank(1).unwrap()).1 - 1.0;
            let (_, old) = std::iter::successors(sl.first(), |&x| sl.next(x))
                .map(|x| sl.get(x))
                .find(|(member, _)| *member == m.as_bytes())
                .unwrap();
            sl.update_score(old, m.as_bytes(), score);
        }
        assert_eq!(sl.len(), 1000);
        // Heights are random, so the pool of each height drifts a little; it does not grow
        // with the number of moves.
        assert!(
            sl.levels.len() < arena * 2,
            "{} slots for {} at the start",
            sl.levels.len(),
            arena
        );
    }

    #[test]
    fn randomized_against_a_btreeset() {
        let mut sl = SkipList::new();
        let mut model = Model::new();
        let mut seed = 42u64;
        let mut rnd = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            seed >> 33
        };
        for step in 0..6000 {
            let member = format!("m{}", rnd() % 300).into_bytes();
            let score = (rnd() % 20) as f64;
            let present = model.iter().find(|(_, m)| *m == member).cloned();
            match (rnd() % 4, present) {
                (0 | 1, None) => {
                    sl.insert(score, &member);
                    model.insert((OrdF64(score), member));
                }
                (2, Some((s, m))) => {
                    sl.update_score(s.0, &m, score);
                    model.remove(&(s, m.clone()));
                    model.insert((OrdF64(score), m));
                }
                (_, Some((s, m))) => {
                    assert!(sl.delete(s.0, &m));
                    assert!(!sl.delete(s.0, &m));
                    model.remove(&(s, m));
                }
                _ => {}
            }
            if step % 500 == 0 {
                check(&sl, &model);
            }
            if step % 1000 == 999 {
                let (a, b) = (rnd() as usize % 40 + 1, rnd() as usize % 40 + 1);
                let (start, end) = (a.min(b), a.max(b));
                let mut removed = Vec::new();
                sl.delete_rank_range(start, end, |m| removed.push(m.to_vec()));
                let gone: Vec<_> =
                    model.iter().skip(start - 1).take(end - start + 1).cloned().collect();
                assert_eq!(removed, gone.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>());
                for g in gone {
                    model.remove(&g);
                }
            }
            // Range searches agree with the model.
            let lo = (rnd() % 20) as f64;
            let first = sl.first_where_not(|s, _| s < lo).map(|(x, r)| (sl.get(x).0.to_vec(), r));
            let want = model
                .iter()
                .enumerate()
                .find(|(_, (s, _))| s.0 >= lo)
                .map(|(i, (_, m))| (m.clone(), i + 1));
            assert_eq!(first, want);
            let last = sl.last_where(|s, _| s <= lo).map(|(x, r)| (sl.get(x).0.to_vec(), r));
            let want = model
                .iter()
                .enumerate()
                .rfind(|(_, (s, _))| s.0 <= lo)
                .map(|(i, (_, m))| (m.clone(), i + 1));
            assert_eq!(last, want);
        }
        check(&sl, &model);
        let n = sl.len();
        sl.delete_rank_range(1, n, |_| {});
        assert!(sl.is_empty());
        assert_eq!(sl.first(), None);
        assert_eq!(sl.last(), None);
    }
}

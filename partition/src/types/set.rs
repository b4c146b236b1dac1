//! The set type: unique members (SADD …).
//!
//! Two encodings, as in Redis 7.0 (which has no listpack sets):
//! - `intset`: an [`IntSet`] while every member is an integer (canonical decimal text, as
//!   Redis's `string2ll` reads it) and there are at most `set-max-intset-entries` of them.
//! - `hashtable`: a [`Dict`] of members otherwise. Conversion is one way.
//!
//! Other families (sorted-set ZUNION/ZINTER with set inputs, SORT) read sets through
//! [`Set::len`], [`Set::contains`] and [`Set::iter`] (members as [`Elem`]: integers or bytes).

use super::intset::IntSet;
use super::listpack::Elem;
use crate::dict::Dict;

pub enum Set {
    Ints(IntSet),
    Table(Box<Dict<()>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Ints(IntSet::new())
    }
}

impl Clone for Set {
    fn clone(&self) -> Self {
        match self {
            Set::Ints(s) => Set::Ints(s.clone()),
            Set::Table(d) => {
                let mut copy = Dict::new();
                for (m, _) in d.iter() {
                    copy.insert(m, ());
                }
                Set::Table(Box::new(copy))
            }
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.encoding() == other.encoding()
            && self.len() == other.len()
            && self.iter().all(|m| other.contains(m.bytes(&mut itoa::Buffer::new())))
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|m| String::from_utf8_lossy(&m.to_vec()).into_owned()))
            .finish()
    }
}

/// Redis's `isSdsRepresentableAsLongLong`: the member as an integer, if it is one.
fn as_int(member: &[u8]) -> Option<i64> {
    if member.len() > 20 {
        return None;
    }
    protocol::number::parse_i64(member)
}

impl Set {
    /// An empty set in the encoding Redis's `setTypeCreate` picks for its first member.
    pub fn for_member(first: &[u8]) -> Set {
        if as_int(first).is_some() {
            Set::Ints(IntSet::new())
        } else {
            Set::Table(Box::default())
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Ints(s) => s.len(),
            Set::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Ints(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held, for memory accounting: the intset's array, or the table's buckets and
    /// nodes plus members too long to live inside their nodes.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Set::Ints(s) => s.heap_bytes(),
            Set::Table(d) => {
                let spilled: usize = d
                    .iter()
                    .map(|(m, _)| if m.len() > crate::dict::KEY_INLINE { m.len() } else { 0 })
                    .sum();
                std::mem::size_of::<Dict<()>>() + d.overhead_bytes() + spilled
            }
        }
    }

    /// True if `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(member).is_some_and(|v| s.contains(v)),
            Set::Table(d) => d.contains_key(member),
        }
    }

    /// Adds `member`; true if it is new. Converts to a table when the member is not an
    /// integer or the intset would exceed `max_intset` members.
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Set::Ints(s) = self {
            match as_int(member) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match self {
            Set::Table(d) => {
                if d.contains_key(member) {
                    false
                } else {
                    d.insert(member, ());
                    true
                }
            }
            Set::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Ints(s) => as_int(member).is_some_and(|v| s.remove(v)),
            Set::Table(d) => d.remove(member).is_some(),
        }
    }

    /// Converts to the table encoding (no-op when already there).
    pub fn convert(&mut self) {
        if let Set::Ints(s) = self {
            let mut d = Dict::new();
            let mut buf = itoa::Buffer::new();
            for v in s.iter() {
                d.insert(buf.format(v).as_bytes(), ());
            }
            *self = Set::Table(Box::new(d));
        }
    }

    /// Members: ascending for an intset, table order otherwise.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Set::Ints(s) => Iter::Ints { set: s, next: 0 },
            Set::Table(d) => Iter::Table(Box::new(d.iter().map(|(m, _)| m))),
        }
    }

    /// A random member, given random numbers from `rand`.
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<Elem<'_>> {
        match self {
            Set::Ints(s) if s.is_empty() => None,
            Set::Ints(s) => Some(Elem::Int(s.get((rand() % s.len() as u64) as usize))),
            Set::Table(d) => d.random(rand).map(|(m, _)| Elem::Str(m)),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, mut rand: impl FnMut() -> u64) -> Option<Vec<u8>> {
        match self {
            Set::Ints(s) if s.is_empty() => None,
            Set::Ints(s) => {
                let v = s.remove_at((rand() % s.len() as u64) as usize);
                Some(itoa::Buffer::new().format(v).as_bytes().to_vec())
            }
            Set::Table(d) => {
                let m = d.random(rand)?.0.to_vec();
                d.remove(&m);
                Some(m)
            }
        }
    }

    /// One step of SSCAN: an intset is returned whole with cursor 0 (as Redis does); a table
    /// visits buckets from `cursor` until `count` members were seen (or `count * 10` buckets).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Elem)) -> u64 {
        match self {
            Set::Ints(_) => {
                self.iter().for_each(visit);
                0
            }
            Set::Table(d) => {
                let mut cursor = cursor;
                let mut seen = 0;
                let mut budget = count.saturating_mul(10);
                loop {
                    cursor = d.scan(cursor, |m, _| {
                        seen += 1;
                        visit(Elem::Str(m));
                    });
                    budget -= 1;
                    if cursor == 0 || budget == 0 || seen >= count {
                        return cursor;
                    }
                }
            }
        }
    }

    /// Gives back spare capacity after a batch of changes.
    pub fn shrink(&mut self) {
        if let Set::Ints(s) = self {
            s.shrink_to_fit();
        }
    }
}

/// Iterator over a set's members.
pub enum Iter<'a> {
    Ints { set: &'a IntSet, next: usize },
    Table(Box<dyn Iterator<Item = &'a [u8]> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            Iter::Ints { set, next } => {
                if *next >= set.len() {
                    return None;
                }
                *next += 1;
                Some(Elem::Int(set.get(*next - 1)))
            }
            Iter::Table(it) => it.next().map(Elem::Str),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn stays_small() {
        assert!(std::mem::size_of::<Set>() <= 16);
    }

    #[test]
    fn encodings_follow_redis() {
        let mut s = Set::for_member(b"1");
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"1", 3));
        assert!(!s.add(b"1", 3));
        assert!(s.add(b"-2", 3));
        assert!(s.add(b"3", 3));
        assert_eq!(s.encoding(), "intset");
        assert!(s.add(b"4", 3));
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::for_member(b"1");
        s.add(b"1", 512);
        // Not canonical integers: strings.
        s.add(b"01", 512);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"01"));
        assert_eq!(Set::for_member(b"+1").encoding(), "hashtable");
        assert_eq!(s.clone(), s);
    }

    #[test]
    fn matches_a_model_under_random_operations() {
        let mut x = 0x853C49E6748FEA9Bu64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for max in [8usize, 512] {
            let mut s = Set::default();
            let mut model = BTreeSet::new();
            for step in 0..4000 {
                let r = rand();
                let member = if step > 3000 && r % 50 == 0 {
                    format!("m{}", r % 7).into_bytes()
                } else {
                    format!("{}", (r >> 8) as i64 % 300).into_bytes()
                };
                match rand() % 4 {
                    0 => assert_eq!(s.remove(&member), model.remove(&member)),
                    1 => {
                        if let Some(m) = s.pop_random(&mut rand) {
                            assert!(model.remove(&m));
                        }
                    }
                    _ => assert_eq!(s.add(&member, max), model.insert(member)),
                }
                assert_eq!(s.len(), model.len());
            }
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            loop {
                cursor = s.scan(cursor, 5, |m| {
                    seen.insert(m.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen, model);
            assert_eq!(s.iter().map(|m| m.to_vec()).collect::<BTreeSet<_>>(), model);
        }
    }
}

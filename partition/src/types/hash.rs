//! The hash type: field/value pairs (HSET …).
//!
//! Two encodings, as in Redis 7.0:
//! - `listpack`: fields and values alternate in one [`Listpack`], while the hash has at most
//!   `hash-max-listpack-entries` fields and no field or value longer than
//!   `hash-max-listpack-value` bytes. A five-field hash is one small allocation.
//! - `hashtable`: a [`Dict`] from field to value once either limit is passed. Conversion is one
//!   way (Redis never converts back), so OBJECT ENCODING answers as redis-server does.
//!
//! A `Hash` is 16 bytes and lives unboxed in the keyspace value: the listpack is one pointer to
//! an exactly sized buffer, and only the table is boxed.

use super::listpack::{Elem, Listpack};
use crate::dict::Dict;
use crate::value::StrBuf;

/// The conversion thresholds (`hash-max-listpack-entries`, `hash-max-listpack-value`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Limits { max_entries: 512, max_value: 64 }
    }
}

pub enum Hash {
    /// field, value, field, value …
    Listpack(Listpack),
    Table(Box<Dict<StrBuf>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::new())
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self {
            Hash::Listpack(lp) => Hash::Listpack(lp.clone()),
            Hash::Table(d) => {
                let mut copy = Dict::new();
                for (f, v) in d.iter() {
                    copy.insert(f, v.clone());
                }
                Hash::Table(Box::new(copy))
            }
        }
    }
}

impl PartialEq for Hash {
    fn eq(&self, other: &Self) -> bool {
        self.encoding() == other.encoding()
            && self.len() == other.len()
            && self.iter().all(|(f, v)| {
                let mut buf = itoa::Buffer::new();
                other.get(f.bytes(&mut buf)).is_some_and(|o| o == v || o.eq_bytes(&v.to_vec()))
            })
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |e: Elem| String::from_utf8_lossy(&e.to_vec()).into_owned();
        f.debug_map().entries(self.iter().map(|(k, v)| (text(k), text(v)))).finish()
    }
}

/// Gives back a listpack's spare capacity when it is large: growth doubles the buffer, and a
/// small hash should cost what it holds.
fn trim(lp: &mut Listpack) {
    if lp.heap_bytes() > lp.bytes() + lp.bytes() / 8 + 8 {
        lp.shrink_to_fit();
    }
}

impl Hash {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.len() / 2,
            Hash::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held, for memory accounting: the listpack buffer, or the table's buckets and
    /// nodes plus the fields and values too long to live inside their nodes.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Hash::Listpack(lp) => lp.heap_bytes(),
            Hash::Table(d) => {
                let spilled: usize = d
                    .iter()
                    .map(|(f, v)| {
                        let f = if f.len() > crate::dict::KEY_INLINE { f.len() } else { 0 };
                        let v = if v.spilled() { v.capacity() } else { 0 };
                        f + v
                    })
                    .sum();
                std::mem::size_of::<Dict<StrBuf>>() + d.overhead_bytes() + spilled
            }
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<Elem<'_>> {
        match self {
            Hash::Listpack(lp) => {
                let pos = lp.find(lp.first(), field, 1)?;
                Some(lp.get(lp.next(pos).expect("a field is followed by its value")))
            }
            Hash::Table(d) => d.get(field).map(|v| Elem::Str(v)),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => lp.find(lp.first(), field, 1).is_some(),
            Hash::Table(d) => d.contains_key(field),
        }
    }

    /// Redis's `hashTypeTryConversion`: converts to a table before a write when any of the
    /// strings about to be stored is longer than the listpack allows.
    pub fn convert_for<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>, limits: Limits) {
        if matches!(self, Hash::Listpack(_))
            && items.into_iter().any(|s| s.len() > limits.max_value)
        {
            self.convert();
        }
    }

    /// Sets `field` to `value`; true if the field is new. Converts to a table when a string is
    /// too long for the listpack or the hash outgrows it.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if let Hash::Listpack(_) = self {
            if field.len() > limits.max_value || value.len() > limits.max_value {
                self.convert();
            }
        }
        match self {
            Hash::Listpack(lp) => {
                if let Some(pos) = lp.find(lp.first(), field, 1) {
                    let vpos = lp.next(pos).expect("a field is followed by its value");
                    lp.replace(vpos, value);
                    return false;
                }
                lp.insert_pair(lp.bytes(), field, value);
                if lp.len() / 2 > limits.max_entries {
                    self.convert();
                }
                true
            }
            Hash::Table(d) => {
                if let Some(v) = d.get_mut(field) {
                    *v = StrBuf::from_slice(value);
                    false
                } else {
                    d.insert(field, StrBuf::from_slice(value));
                    true
                }
            }
        }
    }

    /// Removes `field`; true if it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(lp) => match lp.find(lp.first(), field, 1) {
                Some(pos) => {
                    lp.delete(pos, 2);
                    true
                }
                None => false,
            },
            Hash::Table(d) => d.remove(field).is_some(),
        }
    }

    /// Gives back spare capacity: call once at the end of a command that changed the hash, so
    /// a batch of writes grows the buffer by doubling and shrinks it once.
    pub fn trim(&mut self) {
        if let Hash::Listpack(lp) = self {
            trim(lp);
        }
    }

    /// Converts to the table encoding (no-op when already there).
    pub fn convert(&mut self) {
        if let Hash::Listpack(lp) = self {
            let mut d = Dict::new();
            let mut it = lp.iter();
            let mut fbuf = itoa::Buffer::new();
            let mut vbuf = itoa::Buffer::new();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                d.insert(f.bytes(&mut fbuf), StrBuf::from_slice(v.bytes(&mut vbuf)));
            }
            *self = Hash::Table(Box::new(d));
        }
    }

    /// (field, value) pairs: in insertion order for a listpack, table order otherwise.
    pub fn iter(&self) -> Iter<'_> {
        match self {
            Hash::Listpack(lp) => Iter::Listpack(lp.iter()),
            Hash::Table(d) => Iter::Table(Box::new(d.iter())),
        }
    }

    /// A random (field, value) pair, given random numbers from `rand`.
    pub fn random(&self, mut rand: impl FnMut() -> u64) -> Option<(Elem<'_>, Elem<'_>)> {
        match self {
            Hash::Listpack(lp) => {
                if lp.is_empty() {
                    return None;
                }
                let i = rand() % (lp.len() / 2) as u64;
                let pos = lp.seek(2 * i as i64)?;
                Some((lp.get(pos), lp.get(lp.next(pos)?)))
            }
            Hash::Table(d) => d.random(rand).map(|(f, v)| (Elem::Str(f), Elem::Str(v))),
        }
    }

    /// One step of HSCAN: a listpack is returned whole with cursor 0 (as Redis does); a table
    /// visits buckets from `cursor` until `count` pairs were seen (or `count * 10` buckets).
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(Elem, Elem)) -> u64 {
        match self {
            Hash::Listpack(_) => {
                for (f, v) in self.iter() {
                    visit(f, v);
                }
                0
            }
            Hash::Table(d) => {
                let mut cursor = cursor;
                let mut seen = 0;
                let mut budget = count.saturating_mul(10);
                loop {
                    // Redis counts fields and values alike against COUNT.
                    cursor = d.scan(cursor, |f, v| {
                        seen += 2;
                        visit(Elem::Str(f), Elem::Str(v));
                    });
                    budget -= 1;
                    if cursor == 0 || budget == 0 || seen >= count {
                        return cursor;
                    }
                }
            }
        }
    }
}

/// Iterator over a hash's (field, value) pairs.
pub enum Iter<'a> {
    Listpack(super::listpack::Iter<'a>),
    Table(Box<dyn Iterator<Item = (&'a [u8], &'a StrBuf)> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Elem<'a>, Elem<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Listpack(it) => Some((it.next()?, it.next()?)),
            Iter::Table(it) => it.next().map(|(f, v)| (Elem::Str(f), Elem::Str(v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn limits(max_entries: usize, max_value: usize) -> Limits {
        Limits { max_entries, max_value }
    }

    #[test]
    fn stays_small() {
        assert!(std::mem::size_of::<Hash>() <= 16);
    }

    #[test]
    fn converts_at_the_thresholds() {
        let l = limits(3, 8);
        let mut h = Hash::new();
        for i in 0..3 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", l));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.set(b"f0", b"12345678", l));
        assert_eq!(h.encoding(), "listpack");
        assert!(h.set(b"f3", b"v", l));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"f0").unwrap().to_vec(), b"12345678");
        let mut h = Hash::new();
        h.set(b"f", b"123456789", l);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.set(b"f", b"1", l);
        h.convert_for([&b"123456789"[..]], l);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.clone(), h);
    }

    #[test]
    fn matches_a_model_under_random_operations() {
        let mut x = 0x2545F4914F6CDD1Du64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for max_entries in [4usize, 64, 512] {
            let l = limits(max_entries, 16);
            let mut h = Hash::new();
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            for _ in 0..3000 {
                let field = format!("{}", rand() % 100).into_bytes();
                let r = rand();
                let value = if r % 5 == 0 {
                    vec![b'x'; (r % 20) as usize]
                } else {
                    format!("{}", r as i64 % 1000).into_bytes()
                };
                if rand() % 3 == 0 {
                    assert_eq!(h.remove(&field), model.remove(&field).is_some());
                } else {
                    assert_eq!(h.set(&field, &value, l), model.insert(field, value).is_none());
                }
                assert_eq!(h.len(), model.len());
            }
            for (f, v) in &model {
                assert_eq!(&h.get(f).unwrap().to_vec(), v);
            }
            let mut seen = HashMap::new();
            let mut cursor = 0;
            loop {
                cursor = h.scan(cursor, 10, |f, v| {
                    seen.insert(f.to_vec(), v.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen, model);
            if let Some((f, v)) = h.random(&mut rand) {
                assert_eq!(model.get(&f.to_vec()), Some(&v.to_vec()));
            }
        }
    }
}

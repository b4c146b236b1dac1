//! DEBUG DIGEST and DEBUG DIGEST-VALUE: an order-independent checksum of the dataset, computed
//! exactly as Redis 7.0's `debug.c` computes it, so tests can prove that a master and a replica
//! hold the same data — and that our server holds what redis-server holds for the same
//! commands.
//!
//! The construction (SHA-1 throughout, digests are 20 bytes):
//! - *xor* `x` into `d`: `d ^= SHA1(x)`. Order-independent: used for unordered things.
//! - *mix* `x` into `d`: `d = SHA1(d ^ SHA1(x))`. Order-dependent: used for sequences.
//! - A value's digest, starting from zeros: mix its type (Redis's `OBJ_*` number as 4 bytes
//!   big-endian), then by type: a string's text is mixed; a list's elements are mixed head to
//!   tail; a set's members are xored; for each sorted-set member and hash field a fresh
//!   element digest gets member/field then score text/value mixed in, and is itself xored in
//!   (its SHA-1, like any other data: not the 20 bytes as they are). Scores
//!   are C's `%.17g` of the double (`inf`, `-inf`; for a listpack the double parsed back from
//!   its stored text, as `zzlGetScore` reads it). Integers (an `int` string, intset members,
//!   listpack integer entries) count as their decimal text, so the result does not depend on
//!   the encoding. Last, `!!expire!!` is xored in when the key has a deadline (whatever it
//!   is). A HyperLogLog is a string.
//! - A key's digest: mix the key name into zeros, then the value's digest steps on top.
//! - The dataset's: zeros for an empty keyspace; otherwise mix the database number (0, 4
//!   bytes big-endian) into zeros and xor in every key's digest (again its SHA-1).
//!
//! Keys past their deadline but not yet deleted are included, as Redis walks its dict without
//! checking expiry.

use sha1::{Digest as _, Sha1};

use crate::keyspace::Keyspace;
use crate::types::hash::Hash;
use crate::types::listpack::Elem;
use crate::types::set::Set;
use crate::types::zset::ScoreText;
use crate::value::Value;

/// A 20-byte SHA-1 based digest.
pub type Digest = [u8; 20];

/// Redis's `OBJ_*` type numbers, mixed into every value's digest.
const OBJ_STRING: u32 = 0;
const OBJ_LIST: u32 = 1;
const OBJ_SET: u32 = 2;
const OBJ_ZSET: u32 = 3;
const OBJ_HASH: u32 = 4;

/// `digest ^= SHA1(data)`.
fn xor(digest: &mut Digest, data: &[u8]) {
    let hash = Sha1::digest(data);
    digest.iter_mut().zip(hash.iter()).for_each(|(d, h)| *d ^= h);
}

/// `digest = SHA1(digest ^ SHA1(data))`.
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    let hash = Sha1::digest(&digest[..]);
    digest.copy_from_slice(&hash);
}

fn mix_elem(digest: &mut Digest, e: Elem) {
    mix(digest, e.bytes(&mut itoa::Buffer::new()));
}

fn xor_elem(digest: &mut Digest, e: Elem) {
    xor(digest, e.bytes(&mut itoa::Buffer::new()));
}

/// The digest of the whole keyspace (DEBUG DIGEST).
pub fn dataset(keyspace: &Keyspace) -> Digest {
    let mut total = [0u8; 20];
    if keyspace.is_empty() {
        return total;
    }
    // The database number: rcluster has database 0 only.
    mix(&mut total, &0u32.to_be_bytes());
    for (key, entry) in keyspace.iter() {
        let mut d = [0u8; 20];
        mix(&mut d, key);
        value_into(&mut d, &entry.value, keyspace.expire_at(key).is_some());
        xor(&mut total, &d);
    }
    total
}

/// The digest of the value at `key`, zeros when there is none (DEBUG DIGEST-VALUE). The key
/// name is not part of it; its deadline's presence is.
pub fn value(keyspace: &Keyspace, key: &[u8]) -> Digest {
    let mut d = [0u8; 20];
    // Looked up without the expiry check (`now` 0 expires nothing): like Redis, a debugging
    // command sees logically expired keys.
    if let Some(entry) = keyspace.peek(key, 0) {
        value_into(&mut d, &entry.value, keyspace.expire_at(key).is_some());
    }
    d
}

/// Redis's `xorObjectDigest`: steps `value` (and the presence of a deadline) into `d`.
fn value_into(d: &mut Digest, value: &Value, has_expiry: bool) {
    let kind = match value {
        Value::Int(_) | Value::Str { .. } => OBJ_STRING,
        Value::List(_) => OBJ_LIST,
        Value::Set(_) => OBJ_SET,
        Value::ZSet(_) => OBJ_ZSET,
        Value::Hash(_) => OBJ_HASH,
    };
    mix(d, &kind.to_be_bytes());
    match value {
        Value::Int(i) => mix_elem(d, Elem::Int(*i)),
        Value::Str { data, .. } => mix(d, data),
        Value::List(list) => list.iter().for_each(|e| mix_elem(d, e)),
        Value::Set(set) => match set {
            Set::Ints(ints) => ints.iter().for_each(|v| xor_elem(d, Elem::Int(v))),
            Set::Table(t) => t.iter().for_each(|(m, _)| xor(d, m)),
        },
        Value::ZSet(zset) => {
            for (member, score) in zset.iter() {
                let mut e = [0u8; 20];
                mix_elem(&mut e, member);
                mix(&mut e, &ScoreText::g17(score));
                xor(d, &e);
            }
        }
        Value::Hash(hash) => {
            let mut pair = |field: Elem, value: Elem| {
                let mut e = [0u8; 20];
                mix_elem(&mut e, field);
                mix_elem(&mut e, value);
                xor(d, &e);
            };
            match hash {
                Hash::Listpack(_) => hash.iter().for_each(|(f, v)| pair(f, v)),
                Hash::Table(t) => t.iter().for_each(|(f, v)| pair(Elem::Str(f), Elem::Str(v))),
            }
        }
    }
    if has_expiry {
        xor(d, b"!!expire!!");
    }
}

/// A digest as Redis prints it: 40 lowercase hex digits.
pub fn hex(digest: &Digest) -> String {
    use std::fmt::Write;
    digest.iter().fold(String::with_capacity(40), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Entry;
    use crate::types::list::List;
    use crate::types::zset::{Limits, ZSet};

    fn put(ks: &mut Keyspace, key: &[u8], value: Value) {
        ks.set(key, Entry::new(value, 0));
    }

    #[test]
    fn empty_dataset_is_zeros() {
        assert_eq!(hex(&dataset(&Keyspace::new())), "0".repeat(40));
        assert_eq!(value(&Keyspace::new(), b"missing"), [0; 20]);
    }

    /// Figures from redis-server 7.0.15 for the same data.
    #[test]
    fn matches_redis() {
        let mut ks = Keyspace::new();
        put(&mut ks, b"foo", Value::string(b"bar"));
        assert_eq!(hex(&value(&ks, b"foo")), "68467c70ae30376e7ce005bcc8827f5ba7fd67dc");
        assert_eq!(hex(&dataset(&ks)), "d2ab4820c1be0580ea28efbfe8bfa1dc05bb802a");
        // Integers digest as their text, whatever the encoding.
        let want = "655ac46b180ad2f61a3cee25f0b1780fa2ec879a";
        put(&mut ks, b"n", Value::Int(12));
        assert_eq!(hex(&value(&ks, b"n")), want);
        put(&mut ks, b"n", Value::raw_string(b"12".to_vec()));
        assert_eq!(hex(&value(&ks, b"n")), want);
        // A skiplist keeps -0 apart from 0 (`%.17g` prints "-0").
        let skiplist = Limits { entries: 0, value: 64 };
        for (score, want) in [
            (-0.0, "aa66151a75d42f177dce99dcb02453641c77f6d8"),
            (0.0, "669bd9943b43e6b31f3ab60847ee6a38dd154aba"),
        ] {
            let mut z = ZSet::new();
            z.insert(b"m", score, skiplist);
            assert_eq!(z.encoding(), "skiplist");
            put(&mut ks, b"z", Value::ZSet(z));
            assert_eq!(hex(&value(&ks, b"z")), want);
        }
    }

    #[test]
    fn order_matters_for_lists_only() {
        let list = |items: &[&[u8]]| {
            let mut l = List::new(-2);
            items.iter().for_each(|i| l.push_back(i));
            Value::List(Box::new(l))
        };
        let mut a = Keyspace::new();
        put(&mut a, b"l", list(&[b"a", b"b"]));
        let mut b = Keyspace::new();
        put(&mut b, b"l", list(&[b"b", b"a"]));
        assert_ne!(dataset(&a), dataset(&b));

        let zset = |items: &[(&[u8], f64)], limits| {
            let mut z = ZSet::new();
            items.iter().for_each(|&(m, s)| z.insert(m, s, limits));
            Value::ZSet(z)
        };
        let items: &[(&[u8], f64)] = &[(b"a", 1.0), (b"b", 0.5), (b"c", f64::INFINITY)];
        let mut small = Keyspace::new();
        put(&mut small, b"z", zset(items, Limits { entries: 128, value: 64 }));
        let mut big = Keyspace::new();
        put(&mut big, b"z", zset(items, Limits { entries: 1, value: 64 }));
        assert_eq!(dataset(&small), dataset(&big), "listpack and skiplist digest the same");
        put(&mut big, b"other", Value::string(b"x"));
        put(&mut small, b"other", Value::string(b"x"));
        assert_eq!(dataset(&small), dataset(&big), "key order does not matter");
        small.set_expire(b"other", 10);
        assert_ne!(dataset(&small), dataset(&big), "a deadline counts");
        big.set_expire(b"other", 20);
        assert_eq!(dataset(&small), dataset(&big), "its value does not");
    }
}

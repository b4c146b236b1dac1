//! The keyspace: every key with its value, indexed by hash slot, plus the expiry index.
//!
//! Keys live in one [`Dict`] per hash slot (16384), so one slot's keys can be counted and listed
//! without a full scan (CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT, and later slot migration), and
//! SCAN walks slot by slot with a cursor that survives resizes. Expiry deadlines (Unix ms) live in
//! a separate dict, as in Redis, so active expiry samples only keys that have a TTL and a lookup
//! pays for the TTL check only while some key has one.

use protocol::slot::{key_hash_slot, SLOT_COUNT};

use crate::dict::Dict;
use crate::value::Value;

/// A stored value with its access metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// LRU clock (seconds, 24 bits) of the last access, as Redis keeps in `robj.lru`.
    pub lru: u32,
}

impl Entry {
    pub fn new(value: Value, lru: u32) -> Self {
        Entry { value, lru }
    }
}

/// Bits of a SCAN cursor that hold the slot; the rest is the slot dict's own cursor.
const SLOT_BITS: u32 = 14;

pub struct Keyspace {
    slots: Vec<Dict<Entry>>,
    expires: Dict<u64>,
    len: usize,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace {
            slots: (0..SLOT_COUNT).map(|_| Dict::new()).collect(),
            expires: Dict::new(),
            len: 0,
        }
    }
}

/// What a key looks like at an instant: present or not, after lazy expiry.
impl Keyspace {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of keys with an expiry set.
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    fn dict(&self, key: &[u8]) -> &Dict<Entry> {
        &self.slots[key_hash_slot(key) as usize]
    }

    fn dict_mut(&mut self, key: &[u8]) -> &mut Dict<Entry> {
        &mut self.slots[key_hash_slot(key) as usize]
    }

    /// True when `key` has a deadline at or before `now_ms`.
    pub fn is_expired(&self, key: &[u8], now_ms: u64) -> bool {
        !self.expires.is_empty() && self.expires.get(key).is_some_and(|&at| at <= now_ms)
    }

    /// Deletes `key` if its deadline has passed. Returns true when it did.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: u64) -> bool {
        if self.is_expired(key, now_ms) {
            self.remove(key);
            true
        } else {
            false
        }
    }

    /// The live entry for `key` (expired keys are deleted on the way: lazy expiry).
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.expire_if_needed(key, now_ms);
        self.dict_mut(key).get_mut(key)
    }

    /// Read-only lookup that treats an expired key as absent without deleting it.
    pub fn peek(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        if self.is_expired(key, now_ms) {
            return None;
        }
        self.dict(key).get(key)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Stores `value` under `key`, replacing any value and clearing any expiry (SET semantics).
    pub fn set(&mut self, key: &[u8], entry: Entry) {
        if self.dict_mut(key).insert(key, entry).is_none() {
            self.len += 1;
        }
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
    }

    /// Stores `value` under `key`, keeping the existing expiry (KEEPTTL / in-place updates).
    pub fn set_keep_ttl(&mut self, key: &[u8], entry: Entry) {
        if self.dict_mut(key).insert(key, entry).is_none() {
            self.len += 1;
        }
    }

    /// The entry for `key`, created with `make` when absent. Expired keys count as absent.
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        now_ms: u64,
        make: impl FnOnce() -> Entry,
    ) -> (&mut Entry, bool) {
        self.expire_if_needed(key, now_ms);
        let (entry, inserted) =
            self.slots[key_hash_slot(key) as usize].get_or_insert_with(key, make);
        if inserted {
            self.len += 1;
        }
        (entry, inserted)
    }

    /// Deletes `key` (whether expired or not) and returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (_, entry) = self.dict_mut(key).remove(key)?;
        self.len -= 1;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(entry)
    }

    /// The expiry deadline of `key` (Unix ms), if any. Does not check that the key exists.
    pub fn expire_at(&self, key: &[u8]) -> Option<u64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Sets the deadline of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) {
        debug_assert!(self.dict(key).contains_key(key));
        self.expires.insert(key, at_ms);
    }

    /// Removes the deadline of `key`; true if it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.expires.remove(key).is_some()
    }

    /// Deletes every key.
    pub fn clear(&mut self) {
        for d in &mut self.slots {
            d.clear();
        }
        self.expires.clear();
        self.len = 0;
    }

    /// Takes everything out, leaving an empty keyspace (FLUSHALL ASYNC frees it elsewhere).
    pub fn take(&mut self) -> Keyspace {
        std::mem::take(self)
    }

    pub fn count_in_slot(&self, slot: u16) -> usize {
        self.slots.get(slot as usize).map_or(0, Dict::len)
    }

    /// Up to `count` keys of one slot.
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> Vec<Vec<u8>> {
        self.slots
            .get(slot as usize)
            .map(|d| d.iter().take(count).map(|(k, _)| k.to_vec()).collect())
            .unwrap_or_default()
    }

    /// Every (key, entry), expired or not, slot by slot.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.slots.iter().flat_map(Dict::iter)
    }

    /// One step of SCAN: visits at least `count` elements' worth of buckets (whole buckets, so
    /// possibly more) starting at `cursor`, and returns the next cursor (0 = done). The cursor is
    /// the slot in the low 14 bits and that slot's dict cursor above them.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &Entry)) -> u64 {
        let mut slot = (cursor & ((1 << SLOT_BITS) - 1)) as usize;
        let mut inner = cursor >> SLOT_BITS;
        let mut visited = 0usize;
        // Bound the empty buckets walked per call, as Redis does (count * 10).
        let mut budget = count.max(1).saturating_mul(10);
        while slot < SLOT_COUNT {
            let dict = &self.slots[slot];
            if dict.is_empty() {
                slot += 1;
                inner = 0;
                budget = budget.saturating_sub(1);
            } else {
                inner = dict.scan(inner, |k, e| {
                    visited += 1;
                    visit(k, e)
                });
                budget = budget.saturating_sub(1);
                if inner == 0 {
                    slot += 1;
                }
            }
            if visited >= count || budget == 0 {
                break;
            }
        }
        if slot >= SLOT_COUNT {
            0
        } else {
            (inner << SLOT_BITS) | slot as u64
        }
    }

    /// A random live-or-expired key (the caller re-checks expiry), using `rand` for randomness.
    pub fn random_key(&self, mut rand: impl FnMut() -> u64) -> Option<Vec<u8>> {
        if self.len == 0 {
            return None;
        }
        // Try random slots first; with few keys, fall back to the next non-empty slot.
        let mut slot = (rand() % SLOT_COUNT as u64) as usize;
        for _ in 0..16 {
            if !self.slots[slot].is_empty() {
                break;
            }
            slot = (rand() % SLOT_COUNT as u64) as usize;
        }
        while self.slots[slot].is_empty() {
            slot = (slot + 1) % SLOT_COUNT;
        }
        self.slots[slot].random(&mut rand).map(|(k, _)| k.to_vec())
    }

    /// A random key that has an expiry, with its deadline (active expiry sampling).
    pub fn random_volatile(&self, rand: impl FnMut() -> u64) -> Option<(Vec<u8>, u64)> {
        self.expires.random(rand).map(|(k, &at)| (k.to_vec(), at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn entry(s: &str) -> Entry {
        Entry::new(Value::string(s.as_bytes()), 0)
    }

    #[test]
    fn lazy_expiry_removes_the_key() {
        let mut ks = Keyspace::new();
        ks.set(b"k", entry("v"));
        ks.set_expire(b"k", 100);
        assert!(ks.get(b"k", 99).is_some());
        assert!(ks.get(b"k", 100).is_none());
        assert_eq!(ks.len(), 0);
        assert_eq!(ks.volatile_len(), 0);
    }

    #[test]
    fn set_clears_the_ttl() {
        let mut ks = Keyspace::new();
        ks.set(b"k", entry("v"));
        ks.set_expire(b"k", 100);
        ks.set(b"k", entry("w"));
        assert_eq!(ks.expire_at(b"k"), None);
    }

    #[test]
    fn scan_covers_every_slot_and_key() {
        let mut ks = Keyspace::new();
        for i in 0..5000 {
            ks.set(format!("key:{i}").as_bytes(), entry("x"));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = ks.scan(cursor, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 5000);
    }

    #[test]
    fn slot_index_counts_and_lists() {
        let mut ks = Keyspace::new();
        ks.set(b"{user}:1", entry("a"));
        ks.set(b"{user}:2", entry("b"));
        let slot = key_hash_slot(b"user");
        assert_eq!(ks.count_in_slot(slot), 2);
        assert_eq!(ks.keys_in_slot(slot, 1).len(), 1);
    }
}

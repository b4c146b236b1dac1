//! The keyspace: every key with its value, indexed by hash slot, plus the expiry index.
//!
//! Keys live in one [`Dict`] per hash slot (16384), so one slot's keys can be counted and listed
//! without a full scan (CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT, and later slot migration), and
//! SCAN walks slot by slot with a cursor that survives resizes. Expiry deadlines (Unix ms) live in
//! a separate dict, as in Redis, so active expiry samples only keys that have a TTL and a lookup
//! pays for the TTL check only while some key has one.

use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use protocol::slot::{key_hash_slot, SLOT_COUNT};

use crate::dict::Dict;
use crate::time::lru_clock;
use crate::value::Value;

/// The LFU counter of a new key (Redis's `LFU_INIT_VAL`), so new keys are not evicted at once.
pub const LFU_INIT_VAL: u8 = 5;

/// Redis's default `lfu-log-factor`: how slowly the logarithmic access counter grows.
const LFU_LOG_FACTOR: f64 = 10.0;

/// The largest value of the 24-bit LRU clock.
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// A stored value with its access metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// LRU clock (seconds, 24 bits) of the last access, as Redis keeps in `robj.lru`.
    pub lru: u32,
    /// Logarithmic access-frequency counter (Redis's LFU counter, 0..=255), decayed by idle
    /// time when read. Kept alongside `lru` (Redis overlays the two) so switching policies
    /// loses neither.
    pub freq: u8,
}

impl Entry {
    pub fn new(value: Value, lru: u32) -> Self {
        Entry { value, lru, freq: LFU_INIT_VAL }
    }

    /// Records an access at `now_ms`: refreshes the LRU clock and bumps the LFU counter (after
    /// decaying it by the idle time), as Redis's `lookupKey` does unless told not to touch.
    pub fn touch(&mut self, now_ms: u64) {
        let counter = self.lfu_counter(now_ms, 1);
        self.freq = lfu_log_incr(counter, rand::random::<f64>());
        self.lru = lru_clock(now_ms);
    }

    /// Milliseconds since the last access, from the 24-bit LRU clock (Redis's
    /// `estimateObjectIdleTime`, which also handles the clock wrapping).
    pub fn idle_ms(&self, now_ms: u64) -> u64 {
        let now = lru_clock(now_ms);
        let secs = if now >= self.lru { now - self.lru } else { now + (LRU_CLOCK_MAX - self.lru) };
        secs as u64 * 1000
    }

    /// The LFU counter decayed by one for every `decay_minutes` idle (Redis's
    /// `LFUDecrAndReturn`; a decay time of 0 disables decay).
    pub fn lfu_counter(&self, now_ms: u64, decay_minutes: u64) -> u8 {
        if decay_minutes == 0 {
            return self.freq;
        }
        let periods = self.idle_ms(now_ms) / 60_000 / decay_minutes;
        self.freq.saturating_sub(periods.min(255) as u8)
    }
}

/// Redis's `LFULogIncr`: increments `counter` with probability `1 / ((counter - 5) * 10 + 1)`,
/// given a uniform random `r` in [0, 1).
fn lfu_log_incr(counter: u8, r: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    if r < 1.0 / (base * LFU_LOG_FACTOR + 1.0) {
        counter + 1
    } else {
        counter
    }
}

/// Drops `value` on the lazy-free thread instead of the caller's (FLUSHALL ASYNC, UNLINK of
/// big values), so freeing millions of allocations does not stall command execution. One
/// long-lived thread, like Redis's lazyfree bio thread: repeated async flushes queue up rather
/// than spawn a thread each. Falls back to dropping inline if that thread cannot be started.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    type Garbage = Box<dyn Send>;
    static QUEUE: OnceLock<Option<Mutex<mpsc::Sender<Garbage>>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Garbage>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for garbage in rx {
                    drop(garbage);
                }
            })
            .ok()
            .map(|_| Mutex::new(tx))
    });
    let garbage: Garbage = Box::new(value);
    if let Some(tx) = queue {
        let tx = tx.lock().unwrap_or_else(|e| e.into_inner());
        // A send fails only if the thread is gone; the value then comes back and drops here.
        let _ = tx.send(garbage);
    }
}

/// Bits of a SCAN cursor that hold the slot; the rest is the slot dict's own cursor.
const SLOT_BITS: u32 = 14;

/// Every key of the server with its value and expiry deadline, indexed by hash slot.
pub struct Keyspace {
    slots: Vec<Dict<Entry>>,
    expires: Dict<u64>,
    len: usize,
    /// Keys deleted by lazy expiry since the last [`Keyspace::take_expired`].
    expired: u64,
    /// The names of those keys, kept only while someone needs them (`expired` keyspace
    /// events, WATCH): see [`Keyspace::log_expired`].
    expired_log: Vec<Vec<u8>>,
    /// Whether lazy expiry records the names of the keys it deletes.
    pub log_expired: bool,
    /// Keys created since the last [`Keyspace::take_created`], recorded only while `new`
    /// keyspace events are enabled ([`Keyspace::log_created`]).
    created_log: Vec<Vec<u8>>,
    pub log_created: bool,
    /// How deadlines are enforced (see [`ExpiryMode`]).
    pub expiry: ExpiryMode,
}

/// How the keyspace treats keys past their deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryMode {
    /// Deleted when found (lazy expiry): a master, a standalone server.
    #[default]
    Delete,
    /// Reported as absent but kept: a replica deletes a key only when its master's `DEL`
    /// arrives, so that it never diverges from the master, yet never shows a stale key.
    Hide,
    /// Alive whatever the deadline: loading the AOF, and a replica applying its master's
    /// stream — a replayed command must see the keys it saw when it ran (the master wrote a
    /// `DEL` when a key really expired).
    Paused,
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace {
            slots: (0..SLOT_COUNT).map(|_| Dict::new()).collect(),
            expires: Dict::new(),
            len: 0,
            expired: 0,
            expired_log: Vec::new(),
            log_expired: false,
            created_log: Vec::new(),
            log_created: false,
            expiry: ExpiryMode::Delete,
        }
    }
}

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

    /// Starts loading the memory that looking up `keys` will touch, in three overlapped steps
    /// (slot table entry, bucket, first node), so that a pipelined batch pays for its cache
    /// misses together instead of one after another. Lookups are dependent loads: without this,
    /// each key costs three serial trips to memory, which profiles showed as most of the CPU
    /// time at pipeline 16.
    pub fn prefetch<'k>(&self, keys: impl Iterator<Item = &'k [u8]> + Clone) {
        let spots: smallvec::SmallVec<[(usize, u64); 32]> =
            keys.map(|k| (key_hash_slot(k) as usize, crate::dict::hash(k))).take(32).collect();
        for &(slot, _) in &spots {
            crate::dict::prefetch(&self.slots[slot]);
        }
        for &(slot, hash) in &spots {
            self.slots[slot].prefetch_bucket(hash);
        }
        for &(slot, hash) in &spots {
            self.slots[slot].prefetch_node(hash);
        }
    }

    fn dict_mut(&mut self, key: &[u8]) -> &mut Dict<Entry> {
        &mut self.slots[key_hash_slot(key) as usize]
    }

    /// True when `key` has a deadline before `now_ms`. A key is still alive during the very
    /// millisecond of its deadline, as in Redis's `keyIsExpired` (`now > when`).
    pub fn is_expired(&self, key: &[u8], now_ms: u64) -> bool {
        !self.expires.is_empty()
            && self.expiry != ExpiryMode::Paused
            && self.expires.get(key).is_some_and(|&at| at < now_ms)
    }

    /// Deletes `key` if its deadline has passed. Returns true when the key counts as absent
    /// for that reason (deleted, or in [`ExpiryMode::Hide`] kept but hidden); a deletion is
    /// counted for INFO's `expired_keys` (see [`Keyspace::take_expired`]).
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: u64) -> bool {
        if self.is_expired(key, now_ms) {
            if self.expiry == ExpiryMode::Hide {
                return true;
            }
            self.remove(key);
            self.expired += 1;
            if self.log_expired {
                self.expired_log.push(key.to_vec());
            }
            true
        } else {
            false
        }
    }

    /// The number of keys lazy expiry deleted since the last call, resetting the count. The
    /// owner of the stats folds it into `expired_keys`.
    pub fn take_expired(&mut self) -> u64 {
        std::mem::take(&mut self.expired)
    }

    /// Counts a new key (and records it for `new` events when asked to).
    fn created(&mut self, key: &[u8]) {
        self.len += 1;
        if self.log_created {
            self.created_log.push(key.to_vec());
        }
    }

    /// The keys created since the last call (only while [`Keyspace::log_created`] is on).
    pub fn take_created(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.created_log)
    }

    /// The names of the keys lazy expiry deleted since the last call (only while
    /// [`Keyspace::log_expired`] is on).
    pub fn take_expired_log(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.expired_log)
    }

    /// The live entry for `key` (expired keys are deleted on the way: lazy expiry).
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.dict_mut(key).get_mut(key)
    }

    /// The entry for `key` without checking its expiry: for callers that just ran
    /// [`Keyspace::expire_if_needed`] themselves and want a single lookup.
    pub fn get_unchecked(&mut self, key: &[u8]) -> Option<&mut Entry> {
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
            self.created(key);
        }
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
    }

    /// Stores `value` under `key`, keeping the existing expiry (KEEPTTL / in-place updates).
    pub fn set_keep_ttl(&mut self, key: &[u8], entry: Entry) {
        if self.dict_mut(key).insert(key, entry).is_none() {
            self.created(key);
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
            if self.log_created {
                self.created_log.push(key.to_vec());
            }
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
    /// The lazy-expiry count stays with `self`.
    pub fn take(&mut self) -> Keyspace {
        let expired = self.take_expired();
        let log = self.take_expired_log();
        let (log_expired, log_created) = (self.log_expired, self.log_created);
        let old = std::mem::take(self);
        self.expired = expired;
        self.expired_log = log;
        self.log_expired = log_expired;
        self.log_created = log_created;
        old
    }

    pub fn count_in_slot(&self, slot: u16) -> usize {
        self.slots.get(slot as usize).map_or(0, Dict::len)
    }

    /// Up to `count` keys of one slot.
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> Vec<Vec<u8>> {
        self.slot_keys(slot).take(count).map(<[u8]>::to_vec).collect()
    }

    /// The keys of one slot, expired or not (an out-of-range slot has none).
    pub fn slot_keys(&self, slot: u16) -> impl Iterator<Item = &[u8]> {
        self.slots.get(slot as usize).into_iter().flat_map(|d| d.iter().map(|(k, _)| k))
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
        // Bound the buckets walked per call, as Redis does (count * 10). Empty slots are free:
        // skipping one is a length check, and charging for them would make a small keyspace
        // take hundreds of calls to scan where Redis takes one.
        let mut budget = count.max(1).saturating_mul(10);
        while slot < SLOT_COUNT {
            let dict = &self.slots[slot];
            if dict.is_empty() {
                slot += 1;
                inner = 0;
                continue;
            }
            inner = dict.scan(inner, |k, e| {
                visited += 1;
                visit(k, e)
            });
            budget = budget.saturating_sub(1);
            if inner == 0 {
                slot += 1;
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

    /// Like [`Keyspace::scan`] within one slot only: `inner` is that slot's dict cursor, and
    /// the result is the next one (0 = the slot is done).
    pub fn scan_slot(
        &self,
        slot: u16,
        mut inner: u64,
        count: usize,
        mut visit: impl FnMut(&[u8], &Entry),
    ) -> u64 {
        let Some(dict) = self.slots.get(slot as usize) else { return 0 };
        let mut visited = 0usize;
        let mut budget = count.max(1).saturating_mul(10);
        loop {
            inner = dict.scan(inner, |k, e| {
                visited += 1;
                visit(k, e)
            });
            budget -= 1;
            if inner == 0 || visited >= count || budget == 0 {
                return inner;
            }
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
        // Alive during the millisecond of its deadline, like Redis.
        assert!(ks.get(b"k", 100).is_some());
        assert_eq!(ks.take_expired(), 0);
        assert!(ks.get(b"k", 101).is_none());
        assert_eq!(ks.len(), 0);
        assert_eq!(ks.volatile_len(), 0);
        assert_eq!(ks.take_expired(), 1);
        assert_eq!(ks.take_expired(), 0);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        assert_eq!(lfu_log_incr(5, 0.99), 6, "at the initial value every access counts");
        assert_eq!(lfu_log_incr(6, 0.5), 6, "then with probability 1/11");
        assert_eq!(lfu_log_incr(6, 0.05), 7);
        assert_eq!(lfu_log_incr(255, 0.0), 255);
        let mut e = entry("v");
        e.lru = lru_clock(1_000_000);
        e.freq = 10;
        assert_eq!(e.lfu_counter(1_000_000 + 59_000, 1), 10);
        assert_eq!(e.lfu_counter(1_000_000 + 3 * 60_000, 1), 7);
        assert_eq!(e.lfu_counter(1_000_000 + 3 * 60_000, 0), 10);
        assert_eq!(e.lfu_counter(1_000_000 + 3600 * 1000, 1), 0);
    }

    #[test]
    fn idle_time_survives_the_lru_clock_wrapping() {
        let mut e = entry("v");
        e.lru = LRU_CLOCK_MAX - 10;
        // 20 s later the 24-bit clock has wrapped to 9.
        let now_ms = ((1u64 << 24) + 9) * 1000;
        assert_eq!(lru_clock(now_ms), 9);
        assert_eq!(e.idle_ms(now_ms), 19_000);
    }

    #[test]
    fn background_drop_runs_the_destructor() {
        struct Flag(std::sync::mpsc::Sender<()>);
        impl Drop for Flag {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        drop_in_background(Flag(tx));
        rx.recv_timeout(std::time::Duration::from_secs(5)).expect("dropped in the background");
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

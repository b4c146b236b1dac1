//! Everything commands read and change, behind the one command lock.
//!
//! Commands run one at a time, as in Redis: a connection takes the lock once per batch of
//! pipelined commands, runs them, and releases it, while parsing and socket I/O happen outside
//! the lock on every core. Serial execution is what makes MULTI/EXEC atomic and what will give
//! replication one total order of writes.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use crate::blocking::Blocked;
use crate::client::BufferLimit;
use crate::config::Config;
use crate::evict::{Eviction, Policy};
use crate::keyspace::Keyspace;
use crate::pubsub::PubSub;

/// Counters that INFO stats / commandstats / errorstats report (CONFIG RESETSTAT zeroes them).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub total_commands: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    /// Per command name: (calls, total microseconds, rejected, failed).
    pub per_command: HashMap<&'static str, CommandStats, ahash::RandomState>,
    /// Error replies sent (`total_error_replies`).
    pub total_error_replies: u64,
    /// Error replies by code, the first word of the error (`errorstat_ERR:count=3`).
    pub errors: BTreeMap<String, u64>,
    /// Set once [`MAX_ERROR_CODES`] distinct codes were seen: Redis then stops tracking new
    /// ones so a client cannot grow the table without bound.
    pub errors_overflowed: bool,
}

/// The most distinct error codes tracked, as Redis's `ERROR_STATS_NUMBER`.
pub const MAX_ERROR_CODES: usize = 128;

impl Stats {
    /// Counts an error reply; `text` is the reply without its `-`.
    pub fn record_error(&mut self, text: &[u8]) {
        self.total_error_replies += 1;
        let code_len = text.iter().position(|&c| c == b' ').unwrap_or(text.len());
        let code = String::from_utf8_lossy(&text[..code_len]);
        if let Some(n) = self.errors.get_mut(code.as_ref()) {
            *n += 1;
        } else if self.errors.len() < MAX_ERROR_CODES && !self.errors_overflowed {
            self.errors.insert(code.into_owned(), 1);
        } else {
            self.errors_overflowed = true;
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStats {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// One SLOWLOG entry.
#[derive(Debug, Clone)]
pub struct SlowlogEntry {
    pub id: u64,
    pub unix_secs: u64,
    pub micros: u64,
    /// The arguments, each cut to 128 bytes and at most 32 of them, as Redis records them.
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub client_name: String,
}

#[derive(Debug, Default)]
pub struct Slowlog {
    pub next_id: u64,
    pub entries: VecDeque<SlowlogEntry>,
}

pub struct State {
    pub keyspace: Keyspace,
    /// Changes since the last save (INFO persistence `rdb_changes_since_last_save`).
    pub dirty: u64,
    pub stats: Stats,
    pub slowlog: Slowlog,
    pub rng: SmallRng,
    /// Unix seconds of the last successful save (LASTSAVE).
    pub lastsave: u64,
    /// The last `used_memory` estimate and when it was made (see [`State::used_memory`]).
    memory_estimate: Option<(std::time::Instant, usize)>,
    /// The highest `used_memory` seen (INFO `used_memory_peak`).
    pub peak_memory: usize,
    /// `notify-keyspace-events` as [`crate::notify`] flags, mirrored from the config so that
    /// a write checks one integer.
    pub notify_flags: u16,
    /// Watched keys → the clients watching them (WATCH).
    pub watched: HashMap<Vec<u8>, Vec<Watcher>, ahash::RandomState>,
    /// Clients whose watched keys were modified: their EXEC fails.
    pub watch_touched: HashSet<u64, ahash::RandomState>,
    /// Pub/Sub subscriptions (keyspace notifications are published through them too).
    pub pubsub: PubSub,
    /// Clients parked by blocking commands.
    pub blocked: Blocked,
    /// `maxmemory` and the eviction policy.
    pub eviction: Eviction,
    /// The compact-encoding limits, read by every write that may convert a value.
    pub encodings: Encodings,
    /// The commands that replay the changes of the running batch (AOF, replicas).
    pub propagation: crate::propagate::Propagation,
    /// What the control plane decided about this server (role, lease, slots).
    pub fence: crate::fence::Fence,
    /// Writes not yet durable, by key (while replies are gated).
    pub in_flight: crate::in_flight::InFlight,
}

/// The compact-encoding limits (`*-max-listpack-*`, `set-max-intset-entries`,
/// `hll-sparse-max-bytes`), mirrored from the config by [`State::configure`] so that HSET,
/// ZADD, LPUSH, PFADD … read plain fields instead of locking and parsing the config.
#[derive(Debug, Clone, Copy)]
pub struct Encodings {
    pub hash: crate::types::hash::Limits,
    pub zset: crate::types::zset::Limits,
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`, taken by a list when it is created.
    pub list_max_listpack_size: i64,
    pub hll_sparse_max_bytes: usize,
}

impl Default for Encodings {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Encodings {
            hash: crate::types::hash::Limits::default(),
            zset: crate::types::zset::Limits { entries: 128, value: 64 },
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            hll_sparse_max_bytes: 3000,
        }
    }
}

/// A client watching a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watcher {
    pub client: u64,
    /// The key was already logically expired when WATCH ran: its deletion by expiry is then
    /// no change (Redis's `watchedKey.expired`).
    pub expired_at_watch: bool,
}

impl State {
    pub fn new() -> Self {
        State {
            keyspace: Keyspace::new(),
            dirty: 0,
            stats: Stats::default(),
            slowlog: Slowlog::default(),
            rng: SmallRng::from_os_rng(),
            lastsave: crate::time::unix_ms() / 1000,
            memory_estimate: None,
            peak_memory: 0,
            notify_flags: 0,
            watched: HashMap::default(),
            watch_touched: HashSet::default(),
            pubsub: PubSub::default(),
            blocked: Blocked::default(),
            eviction: Eviction::default(),
            encodings: Encodings::default(),
            propagation: crate::propagate::Propagation::default(),
            fence: crate::fence::Fence::default(),
            in_flight: Default::default(),
        }
    }

    /// `used_memory`: an estimate of the bytes the dataset holds, computed as MEMORY USAGE
    /// computes it for each key (the key, its value and its table entry, with allocations
    /// rounded up to the allocator's size classes — [`crate::cmd::server::key_memory`]) plus
    /// the hash tables' bucket arrays (a power of two of 8-byte buckets per slot table, as
    /// `Dict` sizes them) plus a fixed baseline for the 16384 slot tables themselves and the
    /// server's own structures. It walks every key, so it is cached for one second: INFO
    /// stays cheap when polled, and the figure is at most a second old.
    pub fn used_memory(&mut self) -> usize {
        const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);
        if let Some((at, bytes)) = self.memory_estimate {
            if at.elapsed() < MAX_AGE {
                return bytes;
            }
        }
        let bytes = self.estimate_memory();
        self.memory_estimate = Some((std::time::Instant::now(), bytes));
        self.peak_memory = self.peak_memory.max(bytes);
        bytes
    }

    /// Forgets the cached `used_memory` (after FLUSHALL, DEBUG commands, tests).
    pub fn invalidate_memory_estimate(&mut self) {
        self.memory_estimate = None;
    }

    fn estimate_memory(&self) -> usize {
        /// What an empty server holds: the slot table vector and its empty dicts, the command
        /// registry, buffers of the runtime (measured order of magnitude, like Redis's
        /// `used_memory_startup`).
        const BASELINE: usize = 16384 * 32 + 256 * 1024;
        let mut bytes = BASELINE;
        for (key, entry) in self.keyspace.iter() {
            bytes += crate::cmd::server::key_memory(key, &entry.value);
        }
        for slot in 0..protocol::slot::SLOT_COUNT as u16 {
            let n = self.keyspace.count_in_slot(slot);
            if n > 0 {
                bytes += n.next_power_of_two() * std::mem::size_of::<usize>();
            }
        }
        // The expiry index: one entry (key copy + deadline + node) per volatile key.
        bytes += self.keyspace.volatile_len() * 48;
        bytes
    }

    /// Turns propagation on or off (the AOF was switched, a replication backlog was made).
    pub fn set_propagation(&mut self, enabled: bool) {
        self.propagation.enabled = enabled;
        self.refresh_expiry_log();
    }

    /// Takes the settings commands consult on every write from the config (at start-up and
    /// after every CONFIG SET), so the write path reads plain fields instead of the config.
    pub fn configure(&mut self, config: &Config) {
        let events = config.get("notify-keyspace-events").unwrap_or_default();
        self.notify_flags = crate::notify::parse_flags(&events);
        let limits = config.get("client-output-buffer-limit").unwrap_or_default();
        self.pubsub.limit = BufferLimit::parse(&limits, "pubsub");
        let number = |name: &str| config.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        self.eviction.maxmemory = number("maxmemory") as usize;
        self.eviction.samples = number("maxmemory-samples") as usize;
        self.eviction.lfu_decay_time = number("lfu-decay-time");
        let size = |name: &str| number(name).min(usize::MAX as u64) as usize;
        self.encodings = Encodings {
            hash: crate::types::hash::Limits {
                max_entries: size("hash-max-listpack-entries"),
                max_value: size("hash-max-listpack-value"),
            },
            zset: crate::types::zset::Limits {
                entries: size("zset-max-listpack-entries"),
                value: size("zset-max-listpack-value"),
            },
            set_max_intset_entries: size("set-max-intset-entries"),
            list_max_listpack_size: config
                .get("list-max-listpack-size")
                .and_then(|v| v.parse().ok())
                .unwrap_or(-2),
            hll_sparse_max_bytes: size("hll-sparse-max-bytes"),
        };
        self.eviction.policy = Policy::parse(&config.get("maxmemory-policy").unwrap_or_default());
        self.refresh_expiry_log();
        self.keyspace.log_created = crate::notify::enabled(self.notify_flags, crate::notify::NEW);
    }

    /// Lazy expiry records the keys it deletes only while `expired` events, WATCH or
    /// propagation (which writes their `DEL`) need them.
    pub fn refresh_expiry_log(&mut self) {
        self.keyspace.log_expired = !self.watched.is_empty()
            || self.propagation.enabled
            || crate::notify::enabled(self.notify_flags, crate::notify::EXPIRED);
    }

    /// See [`crate::cmd::Ctx::signal_modified`].
    pub fn signal_modified(&mut self, key: &[u8]) {
        if !self.watched.is_empty() {
            if let Some(watchers) = self.watched.get_mut(key) {
                let exists = self.keyspace.peek(key, 0).is_some();
                for w in watchers.iter_mut() {
                    if w.expired_at_watch && !exists {
                        // Deleting a key that was already expired changes nothing.
                        w.expired_at_watch = false;
                    } else {
                        self.watch_touched.insert(w.client);
                    }
                }
            }
        }
        if !self.blocked.is_empty() {
            self.blocked.signal(key);
        }
    }

    /// FLUSHALL / FLUSHDB: every watched key that exists is about to change (Redis's
    /// `touchAllWatchedKeysInDb`). Call before emptying the keyspace.
    pub fn signal_flush(&mut self) {
        let keyspace = &self.keyspace;
        for (key, watchers) in &self.watched {
            if keyspace.peek(key, 0).is_some() {
                self.watch_touched.extend(watchers.iter().map(|w| w.client));
            }
        }
    }

    /// See [`crate::cmd::Ctx::notify`].
    pub fn notify(&mut self, class: u16, event: &str, key: &[u8]) {
        // A key's creation is announced before what the command did to it, as Redis's dbAdd
        // publishes `new` before the command's own event.
        self.flush_created();
        if !crate::notify::enabled(self.notify_flags, class) {
            return;
        }
        self.publish_event(event, key);
    }

    /// Publishes the `new` events of keys created since the last call.
    pub fn flush_created(&mut self) {
        if self.keyspace.log_created {
            for created in self.keyspace.take_created() {
                self.publish_event("new", &created);
            }
        }
    }

    /// Publishes one keyspace event on the channels `notify-keyspace-events` enables.
    fn publish_event(&mut self, event: &str, key: &[u8]) {
        use crate::notify::{KEYEVENT, KEYSPACE};
        if self.pubsub.is_empty() {
            return;
        }
        if self.notify_flags & KEYSPACE != 0 {
            let mut channel = b"__keyspace@0__:".to_vec();
            channel.extend_from_slice(key);
            self.pubsub.publish(false, &channel, event.as_bytes());
        }
        if self.notify_flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@0__:{event}");
            self.pubsub.publish(false, channel.as_bytes(), key);
        }
    }

    /// Moves the keys lazy expiry deleted into INFO's `expired_keys`, and sends what their
    /// deletion means to others: WATCH invalidation and `expired` events.
    pub fn fold_expired(&mut self) {
        self.stats.expired_keys += self.keyspace.take_expired();
        if self.keyspace.log_expired {
            for key in self.keyspace.take_expired_log() {
                self.key_expired(&key);
            }
        }
    }

    /// An expired key was deleted (lazily or by the active cycle): replicas and the AOF learn
    /// it as a `DEL`, as Redis propagates expiry.
    pub fn key_expired(&mut self, key: &[u8]) {
        self.propagation.push(&[&b"DEL"[..], key]);
        self.signal_modified(key);
        self.notify(crate::notify::EXPIRED, "expired", key);
    }

    /// A random number, for sampling.
    pub fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

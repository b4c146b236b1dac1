//! `maxmemory` and eviction, as Redis's `performEvictions`: before a command runs, while memory
//! is over the limit, delete keys chosen by `maxmemory-policy`, approximately: each round
//! samples `maxmemory-samples` keys and keeps the best candidates seen so far in a small pool
//! (Redis's eviction pool), so repeated rounds converge on the keys that are truly idlest,
//! least frequently used or nearest to expiring, without ever sorting the keyspace.
//!
//! With `noeviction`, or when nothing can be evicted (a `volatile-*` policy and no key with a
//! TTL), commands that may grow memory get `-OOM command not allowed when used memory >
//! 'maxmemory'.` while reads keep working.

use std::time::{Duration, Instant};

use crate::state::State;

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Candidates kept between rounds (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// The longest one command spends evicting before it runs anyway (Redis's eviction time
/// limit at the default tenacity): a huge overshoot is worked off over several commands
/// instead of stalling one client.
const TIME_LIMIT: Duration = Duration::from_micros(500);

/// Eviction settings (mirrored from the config) and the candidate pool.
#[derive(Debug, Default)]
pub struct Eviction {
    /// `maxmemory` in bytes; 0 disables the limit.
    pub maxmemory: usize,
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `lfu-decay-time` in minutes.
    pub lfu_decay_time: u64,
    /// (score, key): higher scores are better victims. Sorted ascending.
    pool: Vec<(u64, Vec<u8>)>,
}

/// The outcome of [`State::perform_evictions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evicted {
    /// Memory is within the limit (or there is no limit).
    Ok,
    /// Over the limit still, but evicting goes on at the next command.
    Running,
    /// Over the limit and nothing more can be evicted.
    Fail,
}

impl State {
    /// Memory counted against `maxmemory`.
    pub fn memory_for_eviction(&mut self) -> usize {
        match crate::alloc::allocated() {
            Some(bytes) => bytes,
            None => self.used_memory(),
        }
    }

    /// Evicts keys until memory is within `maxmemory`, within a time budget.
    pub fn perform_evictions(&mut self, now_ms: u64) -> Evicted {
        let limit = self.eviction.maxmemory;
        if limit == 0 || self.memory_for_eviction() <= limit {
            return Evicted::Ok;
        }
        if self.eviction.policy == Policy::NoEviction {
            return Evicted::Fail;
        }
        let started = Instant::now();
        while self.memory_for_eviction() > limit {
            let Some(victim) = self.pick_victim(now_ms) else {
                return Evicted::Fail;
            };
            if let Some(entry) = self.keyspace.remove(&victim) {
                self.stats.evicted_keys += 1;
                // Replicas do not evict on their own: they learn the eviction as a DEL.
                self.propagation.push(&[&b"DEL"[..], &victim[..]]);
                self.signal_modified(&victim);
                self.notify(crate::notify::EVICTED, "evicted", &victim);
                // Freed here, as Redis does with its default `lazyfree-lazy-eviction no`: the
                // loop measures memory after each victim, and a victim still queued for the
                // lazy-free thread would look unfreed — under load the loop then evicted every
                // candidate and answered -OOM with the memory about to come back.
                drop(entry);
            }
            if started.elapsed() > TIME_LIMIT {
                return if self.memory_for_eviction() > limit {
                    Evicted::Running
                } else {
                    Evicted::Ok
                };
            }
        }
        Evicted::Ok
    }

    /// The next key to evict under the current policy, if any key qualifies.
    fn pick_victim(&mut self, now_ms: u64) -> Option<Vec<u8>> {
        let policy = self.eviction.policy;
        if policy.volatile_only() && self.keyspace.volatile_len() == 0 {
            return None;
        }
        if self.keyspace.is_empty() {
            return None;
        }
        if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            let rng = &mut self.rng;
            let mut rand = || rand::RngCore::next_u64(rng);
            return if policy == Policy::VolatileRandom {
                self.keyspace.random_volatile(&mut rand).map(|(k, _)| k)
            } else {
                self.keyspace.random_key(&mut rand)
            };
        }
        // Sample into the pool, then take the best candidate that still qualifies.
        for _ in 0..self.eviction.samples.max(1) {
            let rng = &mut self.rng;
            let mut rand = || rand::RngCore::next_u64(rng);
            let key = if policy.volatile_only() {
                self.keyspace.random_volatile(&mut rand).map(|(k, _)| k)
            } else {
                self.keyspace.random_key(&mut rand)
            };
            let Some(key) = key else { break };
            if let Some(score) = self.eviction_score(&key, now_ms) {
                self.pool_insert(score, key);
            }
        }
        while let Some((_, key)) = self.eviction.pool.pop() {
            // The pool may hold keys deleted or changed since they were sampled.
            if self.eviction_score(&key, now_ms).is_some() {
                return Some(key);
            }
        }
        None
    }

    /// How good a victim `key` is under the current policy (higher is better); `None` when it
    /// no longer exists or no longer qualifies.
    fn eviction_score(&self, key: &[u8], now_ms: u64) -> Option<u64> {
        let entry = self.keyspace.peek(key, now_ms)?;
        let ttl = self.keyspace.expire_at(key);
        let policy = self.eviction.policy;
        if policy.volatile_only() && ttl.is_none() {
            return None;
        }
        Some(match policy {
            Policy::AllKeysLru | Policy::VolatileLru => entry.idle_ms(now_ms),
            Policy::AllKeysLfu | Policy::VolatileLfu => {
                255 - entry.lfu_counter(now_ms, self.eviction.lfu_decay_time) as u64
            }
            // The sooner it expires, the better a victim.
            Policy::VolatileTtl => u64::MAX - ttl.unwrap_or(u64::MAX),
            Policy::NoEviction | Policy::AllKeysRandom | Policy::VolatileRandom => 0,
        })
    }

    fn pool_insert(&mut self, score: u64, key: Vec<u8>) {
        let pool = &mut self.eviction.pool;
        if pool.iter().any(|(_, k)| *k == key) {
            return;
        }
        if pool.len() == POOL_SIZE {
            if score <= pool[0].0 {
                return;
            }
            pool.remove(0);
        }
        let at = pool.partition_point(|(s, _)| *s <= score);
        pool.insert(at, (score, key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Entry;
    use crate::value::Value;

    #[test]
    fn the_pool_keeps_the_best_candidates() {
        let mut state = State::new();
        for i in 0..40u64 {
            state.pool_insert(i % 20, format!("k{i}").into_bytes());
        }
        let scores: Vec<u64> = state.eviction.pool.iter().map(|(s, _)| *s).collect();
        assert_eq!(scores.len(), POOL_SIZE);
        assert!(scores.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*scores.last().unwrap(), 19);
        assert!(scores[0] >= 12);
    }

    #[test]
    fn volatile_ttl_picks_the_nearest_deadline() {
        let mut state = State::new();
        state.eviction.policy = Policy::VolatileTtl;
        state.eviction.samples = 64;
        for i in 0..10u64 {
            let key = format!("k{i}");
            state.keyspace.set(key.as_bytes(), Entry::new(Value::Int(1), 0));
            state.keyspace.set_expire(key.as_bytes(), 10_000 + i * 1000);
        }
        state.keyspace.set(b"persistent", Entry::new(Value::Int(1), 0));
        assert_eq!(state.pick_victim(5_000).as_deref(), Some(&b"k0"[..]));
    }

    #[test]
    fn volatile_policies_find_nothing_without_ttls() {
        let mut state = State::new();
        state.eviction.policy = Policy::VolatileLru;
        state.keyspace.set(b"a", Entry::new(Value::Int(1), 0));
        assert_eq!(state.pick_victim(0), None);
    }
}

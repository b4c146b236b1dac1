//! Everything commands read and change, behind the one command lock.
//!
//! Commands run one at a time, as in Redis: a connection takes the lock once per batch of
//! pipelined commands, runs them, and releases it, while parsing and socket I/O happen outside
//! the lock on every core. Serial execution is what makes MULTI/EXEC atomic and what will give
//! replication one total order of writes.

use std::collections::{HashMap, VecDeque};

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};

use crate::keyspace::Keyspace;

/// Counters that INFO stats / commandstats report.
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
    pub per_command: HashMap<&'static str, CommandStats>,
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
        }
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

//! Writes not yet durable, by key: what a reply must wait for before it is sent.
//!
//! While replies are gated (sync replication with an in-sync set, or `appendfsync always`), a
//! write is acknowledged only once its offset is durable — and a read must not show a value
//! that is not durable yet either, or a client could read what a failover then erases
//! (DESIGN.md, "Roles, leases and failover", point 4). So the server keeps, for each key, the
//! offset of its last write still in flight: a read of that key waits for that offset, a read
//! of any other key answers at once. Reads that see the whole keyspace (DBSIZE, KEYS, SCAN)
//! wait for every write before them.
//!
//! Entries are dropped once the durable offset passes them; the table holds at most what is
//! in flight.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Default)]
pub struct InFlight {
    /// Key → offset after its last write.
    last_write: HashMap<Vec<u8>, u64, ahash::RandomState>,
    /// The same writes in offset order, for pruning.
    order: VecDeque<(u64, Vec<u8>)>,
}

impl InFlight {
    /// `key` was written; the write ends at stream offset `offset`.
    pub fn record(&mut self, key: &[u8], offset: u64) {
        match self.last_write.get_mut(key) {
            Some(at) => *at = offset,
            None => {
                self.last_write.insert(key.to_vec(), offset);
            }
        }
        self.order.push_back((offset, key.to_vec()));
    }

    /// The offset a read of `key` must wait for (0: nothing in flight).
    pub fn pending(&self, key: &[u8]) -> u64 {
        if self.last_write.is_empty() {
            return 0;
        }
        self.last_write.get(key).copied().unwrap_or(0)
    }

    /// Forgets writes that are durable now (everything up to `durable`).
    pub fn prune(&mut self, durable: u64) {
        while let Some((at, _)) = self.order.front() {
            if *at > durable {
                break;
            }
            let (at, key) = self.order.pop_front().expect("front exists");
            if self.last_write.get(&key) == Some(&at) {
                self.last_write.remove(&key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.last_write.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last_write.is_empty()
    }

    /// Forgets everything (gating was switched off).
    pub fn clear(&mut self) {
        self.last_write.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wait_for_the_last_write_of_their_key_only() {
        let mut f = InFlight::default();
        f.record(b"a", 10);
        f.record(b"b", 20);
        f.record(b"a", 30);
        assert_eq!(f.pending(b"a"), 30);
        assert_eq!(f.pending(b"b"), 20);
        assert_eq!(f.pending(b"c"), 0);
        f.prune(20);
        assert_eq!(f.pending(b"a"), 30, "a's later write is still in flight");
        assert_eq!(f.pending(b"b"), 0);
        f.prune(30);
        assert!(f.is_empty());
    }
}

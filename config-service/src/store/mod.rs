//! Persistent storage for openraft, in one sled database per config server.
//!
//! openraft 0.9's storage-v2 API splits storage in two: the log store ([`LogStore`]: entries,
//! vote, committed and purged log ids) and the state machine ([`StateMachineStore`]: the
//! applied [`ClusterMap`](crate::map::ClusterMap) and its snapshots). Both live in the same
//! sled database (sled allows one open handle per directory, and one database means one
//! `flush` makes everything durable), but each purpose has its own tree:
//!
//! | tree | keys | values |
//! |---|---|---|
//! | `logs` | log index, 8 bytes big-endian | a JSON [`openraft::Entry`] |
//! | `log_meta` | `vote`, `committed`, `last_purged` | JSON |
//! | `state_machine` | `applied`, `snapshot` | JSON (see [`state_machine`]) |
//!
//! Why trees per purpose: the `logs` tree then holds nothing but entries, so "the last entry"
//! is `last()`, and purge and truncation are key ranges that cannot touch anything else.
//! Big-endian keys make sled's byte order the numeric order of indexes.
//!
//! JSON rather than a binary format: the volume is tiny (decisions, not data) and a human can
//! read a dump of the database while debugging an incident.
//!
//! Every I/O or decoding failure is returned as openraft's [`StorageError`] naming what was
//! being read or written; nothing here panics on bad bytes. openraft treats a storage error as
//! fatal for the node, which is the right reaction to a disk that lies.

// openraft's `StorageError` is large, and the storage traits fix it as the error type; helpers
// return it too so that `?` carries it unchanged.
#![allow(clippy::result_large_err)]

mod log;
pub mod state_machine;

use std::path::Path;
use std::time::{Duration, Instant};

use openraft::{AnyError, StorageError, StorageIOError};

pub use self::log::LogStore;
pub use self::state_machine::{SnapshotBuilder, StateMachineStore};
use crate::RaftNodeId;

/// Shorthand for the results of the storage traits.
pub type StorageResult<T> = Result<T, StorageError<RaftNodeId>>;

const LOGS_TREE: &str = "logs";
const LOG_META_TREE: &str = "log_meta";
const STATE_MACHINE_TREE: &str = "state_machine";

/// Opens (or creates) the database in `dir` and returns both halves of the storage, recovered
/// to what was last flushed: the log, the vote, the committed log id, and the state machine as
/// of the last applied entry.
pub fn open(dir: &Path) -> StorageResult<(LogStore, StateMachineStore)> {
    let db = open_db(dir).map_err(|e| StorageIOError::read(&e))?;
    let tree = |name| db.open_tree(name).map_err(|e| StorageIOError::read(&e));
    let log = LogStore::new(db.clone(), tree(LOGS_TREE)?, tree(LOG_META_TREE)?);
    let state_machine = StateMachineStore::open(db.clone(), tree(STATE_MACHINE_TREE)?)?;
    Ok((log, state_machine))
}

/// How long `open` waits for a database that is still locked by a handle being dropped.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens the sled database in `dir`.
///
/// No periodic flusher thread: every write that must be durable flushes itself. Even so, sled
/// releases its file lock only when its last internal handle goes (a background flush can hold
/// one for a moment after the store is dropped), so a store closed and reopened within one
/// process — a restart in a test — may find the lock still held: that case is retried for
/// [`LOCK_WAIT`]. Another live process holding the directory is still an error after that.
fn open_db(dir: &Path) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(dir).flush_every_ms(None).open() {
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// The key of log entry `index`: big-endian, so that sled's byte order is index order.
fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index a key of the `logs` tree stands for; an error (not a panic) for a malformed key.
fn key_index(key: &[u8]) -> Result<u64, AnyError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| AnyError::error(format!("log key of {} bytes, expected 8", key.len())))?;
    Ok(u64::from_be_bytes(bytes))
}

/// Encodes a value stored by this module.
fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, AnyError> {
    serde_json::to_vec(value).map_err(|e| AnyError::new(&e))
}

/// Decodes a value stored by this module.
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, AnyError> {
    serde_json::from_slice(bytes).map_err(|e| AnyError::new(&e))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use openraft::storage::{RaftLogStorage, RaftStateMachine};
    use openraft::testing::log_id;
    use openraft::{Entry, EntryPayload, Membership, RaftLogReader, RaftSnapshotBuilder, Vote};

    use super::*;
    use crate::map::{Command, Response};
    use crate::TypeConfig;

    fn entry(index: u64, payload: EntryPayload<TypeConfig>) -> Entry<TypeConfig> {
        Entry { log_id: log_id(1, 1, index), payload }
    }

    fn register(addr: &str) -> EntryPayload<TypeConfig> {
        EntryPayload::Normal(Command::RegisterNode { addr: addr.into() })
    }

    /// Everything written before a clean close is there after reopening: log entries, purge
    /// point, vote, committed id, applied map and membership, and the current snapshot.
    #[tokio::test]
    async fn a_reopened_store_finds_everything_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let membership = Membership::new(vec![BTreeSet::from([1])], None);
        let entries = vec![
            entry(1, EntryPayload::Blank),
            entry(2, EntryPayload::Membership(membership.clone())),
            entry(3, register("10.0.0.1:7000")),
            entry(4, register("10.0.0.2:7000")),
            entry(5, register("10.0.0.3:7000")),
        ];
        let vote = Vote::new_committed(1, 1);
        let (snapshot_meta, map) = {
            let (mut log, mut sm) = open(dir.path()).unwrap();
            log.append_flushed(entries.clone()).await.unwrap();
            log.save_vote(&vote).await.unwrap();
            log.save_committed(Some(log_id(1, 1, 4))).await.unwrap();
            let replies = sm.apply(entries[..4].to_vec()).await.unwrap();
            assert_eq!(replies[3], Ok(Response::NodeRegistered { node: 1, new: true }));
            let snapshot = sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
            log.purge(log_id(1, 1, 2)).await.unwrap();
            (snapshot.meta, sm.map())
        };

        let (mut log, mut sm) = open(dir.path()).unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(1, 1, 2)));
        assert_eq!(state.last_log_id, Some(log_id(1, 1, 5)));
        assert_eq!(log.try_get_log_entries(0..).await.unwrap(), entries[2..].to_vec());
        assert_eq!(log.read_vote().await.unwrap(), Some(vote));
        assert_eq!(log.read_committed().await.unwrap(), Some(log_id(1, 1, 4)));

        let (applied, stored_membership) = sm.applied_state().await.unwrap();
        assert_eq!(applied, Some(log_id(1, 1, 4)));
        assert_eq!(stored_membership.log_id(), &Some(log_id(1, 1, 2)));
        assert_eq!(stored_membership.membership(), &membership);
        assert_eq!(sm.map(), map);
        assert_eq!(sm.map().nodes.len(), 2);
        let current = sm.get_current_snapshot().await.unwrap().expect("a snapshot");
        assert_eq!(current.meta, snapshot_meta);
        let snapshot_map: crate::map::ClusterMap = decode(current.snapshot.get_ref()).unwrap();
        assert_eq!(snapshot_map, *map);

        // And it goes on from there: the next entry applies on top of the recovered map.
        let replies = sm.apply([entries[4].clone()]).await.unwrap();
        assert_eq!(replies, vec![Ok(Response::NodeRegistered { node: 2, new: true })]);
    }

    /// A snapshot installed on another store replaces its map and survives reopening it.
    #[tokio::test]
    async fn an_installed_snapshot_survives_a_restart() {
        let (leader_dir, follower_dir) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (_log, mut leader) = open(leader_dir.path()).unwrap();
        leader.apply([entry(1, register("10.0.0.1:7000"))]).await.unwrap();
        let snapshot = leader.get_snapshot_builder().await.build_snapshot().await.unwrap();
        {
            let (_log, mut follower) = open(follower_dir.path()).unwrap();
            let mut updates = follower.subscribe();
            follower.install_snapshot(&snapshot.meta, snapshot.snapshot).await.unwrap();
            assert!(updates.has_changed().unwrap(), "an installed snapshot is published");
            assert_eq!(*updates.borrow_and_update(), leader.map());
        }
        let (_log, mut follower) = open(follower_dir.path()).unwrap();
        assert_eq!(follower.map(), leader.map());
        assert_eq!(follower.applied_state().await.unwrap().0, Some(log_id(1, 1, 1)));
        let current = follower.get_current_snapshot().await.unwrap().expect("a snapshot");
        assert_eq!(current.meta, snapshot.meta);
    }

    /// Bytes that are not what this module wrote are a storage error, not a panic.
    #[tokio::test]
    async fn corrupt_records_are_storage_errors() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = open_db(dir.path()).unwrap();
            db.open_tree(LOGS_TREE).unwrap().insert(index_key(1), b"not json".to_vec()).unwrap();
            db.open_tree(LOG_META_TREE).unwrap().insert(b"vote", b"{".to_vec()).unwrap();
            db.flush().unwrap();
        }
        let (mut log, _sm) = open(dir.path()).unwrap();
        assert!(log.get_log_state().await.is_err());
        assert!(log.try_get_log_entries(0..).await.is_err());
        assert!(log.read_vote().await.is_err());
    }

    #[test]
    fn index_keys_sort_numerically() {
        let mut keys: Vec<[u8; 8]> = [300u64, 2, 1 << 40, 0, 255, 256].map(index_key).to_vec();
        keys.sort();
        let indexes: Vec<u64> = keys.iter().map(|k| key_index(k).unwrap()).collect();
        assert_eq!(indexes, [0, 2, 255, 256, 300, 1 << 40]);
    }

    #[test]
    fn a_malformed_key_is_an_error() {
        assert!(key_index(b"abc").is_err());
    }
}

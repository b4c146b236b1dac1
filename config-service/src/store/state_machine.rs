//! The state machine store: the applied cluster map, and its snapshots.
//!
//! Two records in the `state_machine` tree:
//! - `applied`: the map together with the last applied log id and the last membership, written
//!   and flushed after every applied batch. The map is small (slots are stored as runs) and
//!   changes only on decisions, so persisting it whole is cheap, and a restart finds the state
//!   machine exactly where it was instead of rebuilding it from a snapshot plus a replay.
//! - `snapshot`: the current snapshot, a [`StoredSnapshot`]: openraft's [`SnapshotMeta`] (last
//!   included log id, membership, a unique id) and the data, which is the JSON of the
//!   [`ClusterMap`] alone. It is what a lagging follower is sent and what lets the log be
//!   purged; installing one replaces both records in one atomic batch.
//!
//! Readers outside Raft (the HTTP API, controllers) never lock the state machine: every change
//! is published as a new `Arc<ClusterMap>` on a watch channel ([`StateMachineStore::subscribe`]),
//! which also lets a routing long-poll wait for the next epoch.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend,
    RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{decode, encode, StorageResult};
use crate::map::{Applied, ClusterMap, Response};
use crate::{RaftNode, RaftNodeId, TypeConfig};

const APPLIED: &[u8] = b"applied";
const SNAPSHOT: &[u8] = b"snapshot";

/// The state machine as it is persisted under `applied`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AppliedState {
    last_applied: Option<LogId<RaftNodeId>>,
    last_membership: StoredMembership<RaftNodeId, RaftNode>,
    map: Arc<ClusterMap>,
}

/// A snapshot as it is persisted under `snapshot`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSnapshot {
    pub meta: SnapshotMeta<RaftNodeId, RaftNode>,
    /// The JSON of the [`ClusterMap`].
    pub data: Vec<u8>,
}

/// The cluster map as openraft's state machine, persisted in sled.
#[derive(Debug)]
pub struct StateMachineStore {
    db: sled::Db,
    tree: sled::Tree,
    state: AppliedState,
    published: watch::Sender<Arc<ClusterMap>>,
}

impl StateMachineStore {
    /// Loads the state machine from `tree`: the `applied` record, or an empty map.
    pub(super) fn open(db: sled::Db, tree: sled::Tree) -> StorageResult<Self> {
        let state: AppliedState =
            match tree.get(APPLIED).map_err(|e| StorageIOError::read_state_machine(&e))? {
                Some(bytes) => decode(&bytes).map_err(StorageIOError::read_state_machine)?,
                None => AppliedState::default(),
            };
        let (published, _) = watch::channel(state.map.clone());
        Ok(StateMachineStore { db, tree, state, published })
    }

    /// The map as last applied.
    pub fn map(&self) -> Arc<ClusterMap> {
        self.state.map.clone()
    }

    /// A receiver that sees every newly applied map (each batch of entries, each installed
    /// snapshot). It stays valid after openraft takes the state machine.
    pub fn subscribe(&self) -> watch::Receiver<Arc<ClusterMap>> {
        self.published.subscribe()
    }

    fn read_snapshot(&self) -> StorageResult<Option<StoredSnapshot>> {
        match self.tree.get(SNAPSHOT).map_err(|e| StorageIOError::read_snapshot(None, &e))? {
            None => Ok(None),
            Some(bytes) => {
                Ok(Some(decode(&bytes).map_err(|e| StorageIOError::read_snapshot(None, e))?))
            }
        }
    }

    async fn flush(&self, subject: ErrorSubject<RaftNodeId>) -> StorageResult<()> {
        flush(&self.db, subject).await
    }
}

async fn flush(db: &sled::Db, subject: ErrorSubject<RaftNodeId>) -> StorageResult<()> {
    db.flush_async()
        .await
        .map_err(|e| StorageIOError::new(subject, ErrorVerb::Write, AnyError::new(&e)))?;
    Ok(())
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<RaftNodeId>>, StoredMembership<RaftNodeId, RaftNode>)> {
        Ok((self.state.last_applied, self.state.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Applied>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        for entry in entries {
            self.state.last_applied = Some(entry.log_id);
            let reply = match entry.payload {
                EntryPayload::Blank => Ok(Response::None),
                EntryPayload::Normal(cmd) => {
                    let reply = Arc::make_mut(&mut self.state.map).apply(cmd);
                    if let Err(rejection) = &reply {
                        tracing::info!(log_id = %entry.log_id, %rejection, "command rejected");
                    }
                    reply
                }
                EntryPayload::Membership(membership) => {
                    self.state.last_membership =
                        StoredMembership::new(Some(entry.log_id), membership);
                    Ok(Response::None)
                }
            };
            replies.push(reply);
        }
        if replies.is_empty() {
            return Ok(replies);
        }
        let bytes = encode(&self.state).map_err(StorageIOError::write_state_machine)?;
        self.tree.insert(APPLIED, bytes).map_err(|e| StorageIOError::write_state_machine(&e))?;
        self.flush(ErrorSubject::StateMachine).await?;
        self.published.send_replace(self.state.map.clone());
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder { db: self.db.clone(), tree: self.tree.clone(), state: self.state.clone() }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<RaftNodeId, RaftNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let data = snapshot.into_inner();
        let signature = Some(meta.signature());
        let map: ClusterMap =
            decode(&data).map_err(|e| StorageIOError::read_snapshot(signature.clone(), e))?;
        let state = AppliedState {
            last_applied: meta.last_log_id,
            last_membership: meta.last_membership.clone(),
            map: Arc::new(map),
        };
        let stored = StoredSnapshot { meta: meta.clone(), data };
        let write_err = |e| StorageIOError::write_snapshot(signature.clone(), e);
        let mut batch = sled::Batch::default();
        batch.insert(SNAPSHOT, encode(&stored).map_err(write_err)?);
        batch.insert(APPLIED, encode(&state).map_err(write_err)?);
        self.tree.apply_batch(batch).map_err(|e| write_err(AnyError::new(&e)))?;
        self.flush(ErrorSubject::Snapshot(signature.clone())).await?;
        tracing::info!(snapshot = %meta.snapshot_id, last_log_id = ?meta.last_log_id, "installed a snapshot");
        self.state = state;
        self.published.send_replace(self.state.map.clone());
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        Ok(self.read_snapshot()?.map(|stored| Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        }))
    }
}

/// Builds a snapshot of the state machine as it was when openraft asked for the builder, so
/// applying can go on while the snapshot is written.
#[derive(Debug)]
pub struct SnapshotBuilder {
    db: sled::Db,
    tree: sled::Tree,
    state: AppliedState,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<RaftNodeId>> {
        let data = encode(&*self.state.map).map_err(StorageIOError::read_state_machine)?;
        // sled's generated ids are unique across restarts, so two snapshots of the same log id
        // never share an id.
        let seq = self.db.generate_id().map_err(|e| StorageIOError::write_snapshot(None, &e))?;
        let snapshot_id = match self.state.last_applied {
            Some(last) => format!("{}-{}-{seq}", last.leader_id, last.index),
            None => format!("--{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.state.last_applied,
            last_membership: self.state.last_membership.clone(),
            snapshot_id,
        };
        let signature = Some(meta.signature());
        let stored = StoredSnapshot { meta: meta.clone(), data };
        let bytes =
            encode(&stored).map_err(|e| StorageIOError::write_snapshot(signature.clone(), e))?;
        self.tree
            .insert(SNAPSHOT, bytes)
            .map_err(|e| StorageIOError::write_snapshot(signature.clone(), &e))?;
        flush(&self.db, ErrorSubject::Snapshot(signature)).await?;
        tracing::info!(snapshot = %meta.snapshot_id, "built a snapshot");
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(stored.data)) })
    }
}

//! The Raft log store: entries, vote, committed and last-purged log ids.
//!
//! Durability rules (what openraft relies on):
//! - an append is reported complete (the `LogFlushed` callback) only after sled has flushed it;
//! - the vote is flushed before `save_vote` returns: a node must never vote twice in a term,
//!   even across a crash;
//! - `last_purged` is written and flushed *before* the entries are deleted, so a crash between
//!   the two leaves entries that are already covered by `last_purged` (harmless: the log state
//!   reports the greater of the two) rather than a hole nobody knows about;
//! - the committed log id is written but not flushed on its own: it is only an optimisation
//!   (how much to re-apply at startup), and the next flush carries it anyway.

use std::fmt::Debug;
use std::ops::RangeBounds;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    AnyError, Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, StorageIOError,
    Vote,
};

use super::{decode, encode, index_key, key_index, StorageResult};
use crate::{RaftNodeId, TypeConfig};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";

/// The Raft log in sled. Cloning is cheap (sled handles are reference-counted); the clone is
/// also the log reader openraft hands to replication tasks.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: sled::Db,
    logs: sled::Tree,
    meta: sled::Tree,
}

impl LogStore {
    pub(super) fn new(db: sled::Db, logs: sled::Tree, meta: sled::Tree) -> Self {
        LogStore { db, logs, meta }
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        err: fn(AnyError) -> StorageIOError<RaftNodeId>,
    ) -> StorageResult<Option<T>> {
        match self.meta.get(key).map_err(|e| err(AnyError::new(&e)))? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode(&bytes).map_err(err)?)),
        }
    }

    fn write_meta<T: serde::Serialize>(
        &self,
        key: &[u8],
        value: &T,
        err: fn(AnyError) -> StorageIOError<RaftNodeId>,
    ) -> StorageResult<()> {
        let bytes = encode(value).map_err(err)?;
        self.meta.insert(key, bytes).map_err(|e| err(AnyError::new(&e)))?;
        Ok(())
    }

    async fn flush(&self, subject: ErrorSubject<RaftNodeId>) -> StorageResult<()> {
        self.db
            .flush_async()
            .await
            .map_err(|e| StorageIOError::new(subject, ErrorVerb::Write, AnyError::new(&e)))?;
        Ok(())
    }

    /// Writes `entries` as one atomic batch and returns once they are flushed. The body of
    /// `append`, callable without openraft's callback (which only openraft can make).
    pub(crate) async fn append_flushed(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> StorageResult<()> {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let bytes =
                encode(&entry).map_err(|e| StorageIOError::write_log_entry(entry.log_id, e))?;
            batch.insert(&index_key(entry.log_id.index), bytes);
        }
        self.logs.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        self.flush(ErrorSubject::Logs).await
    }

    /// Removes the entries with keys in `range`, as one atomic batch.
    fn remove_range(&self, range: impl RangeBounds<[u8; 8]>) -> StorageResult<()> {
        let mut batch = sled::Batch::default();
        for key in self.logs.range(range).keys() {
            batch.remove(key.map_err(|e| StorageIOError::read_logs(&e))?);
        }
        self.logs.apply_batch(batch).map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    /// Decodes one `logs` item, checking that the entry is stored under its own index.
    fn decode_entry(
        item: sled::Result<(sled::IVec, sled::IVec)>,
    ) -> StorageResult<Entry<TypeConfig>> {
        let (key, value) = item.map_err(|e| StorageIOError::read_logs(&e))?;
        let index = key_index(&key).map_err(StorageIOError::read_logs)?;
        let entry: Entry<TypeConfig> =
            decode(&value).map_err(|e| StorageIOError::read_log_at_index(index, e))?;
        if entry.log_id.index != index {
            let msg = format!("entry {} stored under index {index}", entry.log_id);
            return Err(StorageIOError::read_log_at_index(index, AnyError::error(msg)).into());
        }
        Ok(entry)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let start = range.start_bound().map(|&i| index_key(i));
        let end = range.end_bound().map(|&i| index_key(i));
        self.logs.range((start, end)).map(Self::decode_entry).collect()
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_entry = match self.logs.last().map_err(|e| StorageIOError::read_logs(&e))? {
            None => None,
            Some(item) => Some(Self::decode_entry(Ok(item))?.log_id),
        };
        let last_purged_log_id: Option<LogId<RaftNodeId>> =
            self.read_meta(LAST_PURGED, StorageIOError::read_logs)?;
        // After a crash between purge's two steps, entries at or below `last_purged` may
        // remain; the purged id is then the later of the two.
        let last_log_id = last_entry.max(last_purged_log_id);
        Ok(LogState { last_purged_log_id, last_log_id })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<RaftNodeId>) -> StorageResult<()> {
        self.write_meta(VOTE, vote, StorageIOError::write_vote)?;
        self.flush(ErrorSubject::Vote).await
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<RaftNodeId>>> {
        self.read_meta(VOTE, StorageIOError::read_vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<RaftNodeId>>) -> StorageResult<()> {
        self.write_meta(COMMITTED, &committed, StorageIOError::write)
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<RaftNodeId>>> {
        Ok(self.read_meta::<Option<LogId<RaftNodeId>>>(COMMITTED, StorageIOError::read)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        match self.append_flushed(entries).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(err) => {
                callback.log_io_completed(Err(std::io::Error::other(err.to_string())));
                Err(err)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<RaftNodeId>) -> StorageResult<()> {
        tracing::debug!(%log_id, "truncating the log from here on");
        self.remove_range(index_key(log_id.index)..)?;
        self.flush(ErrorSubject::Logs).await
    }

    async fn purge(&mut self, log_id: LogId<RaftNodeId>) -> StorageResult<()> {
        tracing::debug!(%log_id, "purging the log up to here");
        self.write_meta(LAST_PURGED, &log_id, StorageIOError::write_logs)?;
        self.flush(ErrorSubject::Logs).await?;
        self.remove_range(..=index_key(log_id.index))?;
        self.flush(ErrorSubject::Logs).await
    }
}

//! The write log: the propagated command stream (see [`crate::propagate`]) as byte offsets,
//! shared by everyone who consumes it — the AOF writer, and replicas through the replication
//! backlog. Offsets are Redis's `master_repl_offset`: the number of stream bytes ever written.
//!
//! The log holds the stream as the buffers batches appended (reference-counted, never
//! copied) and keeps what a consumer has not read yet, plus the last `retain` bytes (the
//! replication backlog, from which a replica that reconnects continues with PSYNC).
//!
//! Appends happen under the command lock, so the order of the log is the order in which
//! commands ran. Readers take only the log's own lock, briefly, to clone buffer handles.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

/// A registered reader of the log; what it has not consumed is kept for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReaderId(u64);

#[derive(Debug, Default)]
struct Inner {
    /// Buffers with the offset of their first byte, oldest first.
    chunks: VecDeque<(u64, Bytes)>,
    /// Offset of the first byte still held.
    start: u64,
    /// Offset after the last byte written.
    end: u64,
    /// Bytes of history to keep even when every reader has consumed them.
    retain: u64,
    /// Each reader's position: everything before it has been consumed.
    readers: BTreeMap<ReaderId, u64>,
    next_reader: u64,
    /// Counts [`WriteLog::wake`] calls, so a waiter cannot miss one that came between its
    /// last look and its wait.
    wakes: u64,
}

/// The log. See the module documentation.
#[derive(Debug)]
pub struct WriteLog {
    inner: Mutex<Inner>,
    /// Wakes readers on threads (the AOF writer).
    appended: Condvar,
    /// The end offset, for readers on the runtime.
    end: watch::Sender<u64>,
}

impl Default for WriteLog {
    fn default() -> Self {
        WriteLog::new(0)
    }
}

impl WriteLog {
    /// An empty log whose next byte has offset `offset`.
    pub fn new(offset: u64) -> WriteLog {
        WriteLog {
            inner: Mutex::new(Inner { start: offset, end: offset, ..Inner::default() }),
            appended: Condvar::new(),
            end: watch::channel(offset).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a batch's stream; returns the offset after it.
    pub fn append(&self, bytes: Bytes) -> u64 {
        if bytes.is_empty() {
            return self.end();
        }
        let mut inner = self.lock();
        let at = inner.end;
        inner.end += bytes.len() as u64;
        inner.chunks.push_back((at, bytes));
        let end = inner.end;
        inner.trim();
        drop(inner);
        self.appended.notify_all();
        self.end.send_replace(end);
        end
    }

    /// The offset after the last byte written (`master_repl_offset`).
    pub fn end(&self) -> u64 {
        self.lock().end
    }

    /// The offset of the oldest byte still held (`repl_backlog_first_byte_offset` − 1 in
    /// Redis's one-based counting).
    pub fn start(&self) -> u64 {
        self.lock().start
    }

    /// A receiver of the end offset, marked changed by every append.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.end.subscribe()
    }

    /// Keeps at least the last `bytes` of the stream for readers that come later.
    pub fn set_retain(&self, bytes: u64) {
        let mut inner = self.lock();
        inner.retain = bytes;
        inner.trim();
    }

    /// Restarts the log at `offset`, dropping everything held (a replica that resynced from
    /// scratch continues at its master's offset). Readers are moved to the new start.
    pub fn reset(&self, offset: u64) {
        let mut inner = self.lock();
        inner.chunks.clear();
        inner.start = offset;
        inner.end = offset;
        for pos in inner.readers.values_mut() {
            *pos = offset;
        }
        drop(inner);
        self.end.send_replace(offset);
    }

    /// Registers a reader that starts at `from`; `None` when `from` is no longer held (or not
    /// yet written).
    pub fn add_reader(&self, from: u64) -> Option<ReaderId> {
        let mut inner = self.lock();
        if from < inner.start || from > inner.end {
            return None;
        }
        let id = ReaderId(inner.next_reader);
        inner.next_reader += 1;
        inner.readers.insert(id, from);
        Some(id)
    }

    pub fn remove_reader(&self, id: ReaderId) {
        let mut inner = self.lock();
        inner.readers.remove(&id);
        inner.trim();
    }

    /// The reader's position.
    pub fn position(&self, id: ReaderId) -> Option<u64> {
        self.lock().readers.get(&id).copied()
    }

    /// What the reader has not consumed, at most up to offset `until`, as buffer handles, and
    /// the offset after them. Consuming is a separate step ([`WriteLog::consume`]), so a
    /// reader that fails to write what it read keeps it.
    pub fn read(&self, id: ReaderId, until: u64) -> (Vec<Bytes>, u64) {
        let inner = self.lock();
        let Some(&from) = inner.readers.get(&id) else { return (Vec::new(), 0) };
        let until = until.min(inner.end);
        let mut out = Vec::new();
        // The first chunk that ends after `from`.
        let first = inner.chunks.partition_point(|(at, b)| at + b.len() as u64 <= from);
        for (at, bytes) in inner.chunks.iter().skip(first) {
            if *at >= until {
                break;
            }
            let lo = from.saturating_sub(*at) as usize;
            let hi = ((until - at) as usize).min(bytes.len());
            out.push(bytes.slice(lo..hi));
        }
        (out, until.max(from))
    }

    /// The reader has consumed everything before `offset`.
    pub fn consume(&self, id: ReaderId, offset: u64) {
        let mut inner = self.lock();
        if let Some(pos) = inner.readers.get_mut(&id) {
            *pos = (*pos).max(offset);
        }
        inner.trim();
    }

    /// The number of [`WriteLog::wake`] calls so far (pass it to [`WriteLog::wait_past`]).
    pub fn wakes(&self) -> u64 {
        self.lock().wakes
    }

    /// Blocks the calling thread until the log ends after `offset`, [`WriteLog::wake`] was
    /// called since `wakes` was read, or `timeout` passes; returns the end offset.
    pub fn wait_past(&self, offset: u64, wakes: u64, timeout: Duration) -> u64 {
        let inner = self.lock();
        let (inner, _) = self
            .appended
            .wait_timeout_while(inner, timeout, |i| i.end <= offset && i.wakes == wakes)
            .unwrap_or_else(|e| e.into_inner());
        inner.end
    }

    /// Wakes threads blocked in [`WriteLog::wait_past`] (to tell them to stop or rotate).
    pub fn wake(&self) {
        self.lock().wakes += 1;
        self.appended.notify_all();
    }
}

impl Inner {
    /// Drops the chunks nobody needs: every reader is past them and they are older than the
    /// retained history.
    fn trim(&mut self) {
        let needed = self.readers.values().copied().min().unwrap_or(self.end);
        let keep_from = needed.min(self.end.saturating_sub(self.retain));
        while let Some((at, bytes)) = self.chunks.front() {
            let chunk_end = at + bytes.len() as u64;
            if chunk_end > keep_from {
                break;
            }
            self.start = chunk_end;
            self.chunks.pop_front();
        }
        if self.chunks.is_empty() {
            self.start = self.end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concat(parts: &[Bytes]) -> Vec<u8> {
        parts.iter().flat_map(|b| b.iter().copied()).collect()
    }

    #[test]
    fn offsets_count_bytes() {
        let log = WriteLog::new(100);
        assert_eq!(log.append(Bytes::from_static(b"abc")), 103);
        assert_eq!(log.append(Bytes::new()), 103);
        assert_eq!(log.append(Bytes::from_static(b"de")), 105);
        assert_eq!(log.end(), 105);
    }

    #[test]
    fn a_reader_sees_everything_after_its_start_in_order() {
        let log = WriteLog::new(0);
        log.set_retain(100);
        log.append(Bytes::from_static(b"hello "));
        let r = log.add_reader(2).unwrap();
        log.append(Bytes::from_static(b"world"));
        let (parts, end) = log.read(r, u64::MAX);
        assert_eq!(concat(&parts), b"llo world");
        assert_eq!(end, 11);
        // Reading again without consuming gives the same bytes.
        let (again, _) = log.read(r, 7);
        assert_eq!(concat(&again), b"llo w");
        log.consume(r, 7);
        let (rest, _) = log.read(r, u64::MAX);
        assert_eq!(concat(&rest), b"orld");
    }

    #[test]
    fn consumed_history_is_dropped_unless_retained() {
        let log = WriteLog::new(0);
        let r = log.add_reader(0).unwrap();
        log.append(Bytes::from_static(b"aaaa"));
        log.append(Bytes::from_static(b"bbbb"));
        log.consume(r, 8);
        assert_eq!(log.start(), 8, "nobody needs the bytes");
        assert!(log.add_reader(4).is_none(), "a reader cannot start before the history");
        log.set_retain(5);
        log.append(Bytes::from_static(b"cccc"));
        log.consume(r, 12);
        assert_eq!(log.start(), 8, "the last chunk that holds the retained bytes stays");
        let late = log.add_reader(8).unwrap();
        assert_eq!(concat(&log.read(late, u64::MAX).0), b"cccc");
    }

    #[test]
    fn a_slow_reader_keeps_what_it_has_not_read() {
        let log = WriteLog::new(0);
        let slow = log.add_reader(0).unwrap();
        for _ in 0..100 {
            log.append(Bytes::from_static(b"x"));
        }
        assert_eq!(log.start(), 0);
        log.remove_reader(slow);
        assert_eq!(log.start(), 100);
    }

    #[test]
    fn reset_moves_everything_to_the_new_offset() {
        let log = WriteLog::new(0);
        let r = log.add_reader(0).unwrap();
        log.append(Bytes::from_static(b"old"));
        log.reset(500);
        assert_eq!(log.end(), 500);
        assert_eq!(log.position(r), Some(500));
        log.append(Bytes::from_static(b"new"));
        assert_eq!(concat(&log.read(r, u64::MAX).0), b"new");
    }

    #[test]
    fn waiting_threads_wake_on_append() {
        let log = std::sync::Arc::new(WriteLog::new(0));
        let l = log.clone();
        let wakes = log.wakes();
        let t = std::thread::spawn(move || l.wait_past(0, wakes, Duration::from_secs(10)));
        // Whether the thread waits before or after this append, it returns the new end.
        log.append(Bytes::from_static(b"x"));
        assert_eq!(t.join().unwrap(), 1);
        let wakes = log.wakes();
        let l = log.clone();
        let t = std::thread::spawn(move || l.wait_past(1, wakes, Duration::from_secs(10)));
        log.wake();
        assert_eq!(t.join().unwrap(), 1, "a wake ends the wait without an append");
    }
}

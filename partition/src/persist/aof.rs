//! The AOF writer: a thread that appends the write log to the current incremental AOF file
//! and syncs it to disk as `appendfsync` asks.
//!
//! - `always`: every round of writes is followed by `fsync`, and the offset it covered is
//!   published; clients' replies wait for it (see [`crate::server::Server::wait_durable`]).
//!   Rounds group whatever all clients wrote meanwhile, so one `fsync` acknowledges many
//!   clients' writes (group commit), not one.
//! - `everysec`: `fsync` at most once a second; a crash loses at most about a second.
//! - `no`: the kernel decides.
//!
//! A failed write or `fsync` (disk full, I/O error) does not lose the stream: it stays in the
//! write log, a partial write is cut off the file again (so no torn command is left in the
//! middle of the file), and the write is retried every second. Meanwhile the server refuses
//! writes with `-MISCONF` ([`AofWriter::error`]) instead of acknowledging what is not on disk,
//! and under `always` the clients waiting for the failed round are disconnected without a
//! reply (their writes' outcome is unknown, not acknowledged).

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::write_log::{ReaderId, WriteLog};

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    Always = 0,
    EverySec = 1,
    No = 2,
}

impl Fsync {
    pub fn parse(text: &str) -> Fsync {
        match text {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// How far the AOF is on disk, as `always` clients wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Synced {
    /// Write-log offset up to which the file is written and synced.
    pub offset: u64,
    /// The last round failed: writes beyond `offset` are not on disk.
    pub failed: bool,
}

/// What the thread is asked to do besides appending.
#[derive(Default)]
struct Control {
    /// Switch to a new incremental file once the log up to `at` is in the current one.
    rotate: Option<(u64, File)>,
    stop: bool,
}

/// The writer's shared half.
pub struct AofWriter {
    log: Arc<WriteLog>,
    reader: ReaderId,
    fsync: AtomicU8,
    control: Mutex<Control>,
    /// The last write or fsync error (`aof_last_write_status`), `None` when fine.
    error: Mutex<Option<String>>,
    failing: Arc<AtomicBool>,
    synced: watch::Sender<Synced>,
    /// Bytes in the current incremental file.
    incr_size: AtomicU64,
    /// Write-log offset the current incremental file starts at.
    thread: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AofWriter {
    /// Starts appending the log from offset `from` to `file` (whose current length is
    /// `size`).
    /// `failing` mirrors [`AofWriter::error`] for the write path, which reads it per command.
    pub fn start(
        log: Arc<WriteLog>,
        from: u64,
        file: File,
        size: u64,
        fsync: Fsync,
        failing: Arc<AtomicBool>,
    ) -> Arc<Self> {
        let reader = log.add_reader(from).expect("the AOF starts at the log's end");
        let writer = Arc::new(AofWriter {
            log,
            reader,
            fsync: AtomicU8::new(fsync as u8),
            control: Mutex::new(Control::default()),
            error: Mutex::new(None),
            failing,
            synced: watch::channel(Synced { offset: from, failed: false }).0,
            incr_size: AtomicU64::new(size),
            thread: Mutex::new(None),
        });
        let w = writer.clone();
        let handle = std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || w.run(file, from))
            .expect("spawn the AOF writer thread");
        *lock(&writer.thread) = Some(handle);
        writer
    }

    pub fn set_fsync(&self, fsync: Fsync) {
        self.fsync.store(fsync as u8, Ordering::Relaxed);
        self.log.wake();
    }

    pub fn fsync(&self) -> Fsync {
        Fsync::from_u8(self.fsync.load(Ordering::Relaxed))
    }

    /// The last write error, while writes are failing (`-MISCONF`).
    pub fn error(&self) -> Option<String> {
        lock(&self.error).clone()
    }

    /// Watches how far the file is synced.
    pub fn synced(&self) -> watch::Receiver<Synced> {
        self.synced.subscribe()
    }

    /// Size of the current incremental file.
    pub fn incr_size(&self) -> u64 {
        self.incr_size.load(Ordering::Relaxed)
    }

    /// Bytes of the log not yet written to the file (`aof_buffer_length`).
    pub fn pending(&self) -> u64 {
        let at = self.log.position(self.reader).unwrap_or(0);
        self.log.end().saturating_sub(at)
    }

    /// From log offset `at` on, writes go to `file` (a rewrite's new incremental file). The
    /// caller holds the command lock, so `at` is exactly where its snapshot stands.
    pub fn rotate(&self, at: u64, file: File) {
        lock(&self.control).rotate = Some((at, file));
        self.log.wake();
    }

    /// Writes and syncs everything appended so far, then stops the thread.
    pub fn stop(&self) {
        lock(&self.control).stop = true;
        self.log.wake();
        if let Some(handle) = lock(&self.thread).take() {
            let _ = handle.join();
        }
        self.log.remove_reader(self.reader);
    }

    fn set_error(&self, e: Option<String>) {
        let mut error = lock(&self.error);
        match (&*error, &e) {
            (None, Some(text)) => {
                error!(cause = %text, "error writing to the AOF; writes are refused until it is solved")
            }
            (Some(_), None) => info!("AOF write error looks solved, writes are accepted again"),
            _ => {}
        }
        self.failing.store(e.is_some(), Ordering::Relaxed);
        *error = e;
    }

    /// The thread: append, sync, rotate, until stopped.
    fn run(&self, mut file: File, mut written: u64) {
        let mut size = self.incr_size();
        let mut unsynced = false;
        let mut last_sync = Instant::now();
        loop {
            let wakes = self.log.wakes();
            let (rotate_at, stop) = {
                let c = lock(&self.control);
                (c.rotate.as_ref().map(|(at, _)| *at), c.stop)
            };
            let (parts, until) = self.log.read(self.reader, rotate_at.unwrap_or(u64::MAX));
            if !parts.is_empty() {
                match append(&mut file, &parts, size) {
                    Ok(n) => {
                        size += n;
                        self.incr_size.store(size, Ordering::Relaxed);
                        written = until;
                        self.log.consume(self.reader, until);
                        unsynced = true;
                    }
                    Err(e) => {
                        self.fail(e);
                        if stop {
                            return;
                        }
                        self.pause_after_error();
                        continue;
                    }
                }
            }
            let fsync = self.fsync();
            let sync_now = unsynced
                && (fsync == Fsync::Always
                    || stop
                    || rotate_at == Some(written)
                    || (fsync == Fsync::EverySec && last_sync.elapsed() >= Duration::from_secs(1)));
            if sync_now {
                if let Err(e) = file.sync_data() {
                    self.fail(e);
                    if stop {
                        return;
                    }
                    self.pause_after_error();
                    continue;
                }
                unsynced = false;
                last_sync = Instant::now();
            }
            // Under `always` the published offset is what is synced; otherwise what is
            // written (nobody waits for it then).
            if !unsynced || fsync != Fsync::Always {
                if self.error().is_some() {
                    self.set_error(None);
                }
                self.synced.send_if_modified(|s| {
                    let next = Synced { offset: written, failed: false };
                    let changed = *s != next;
                    *s = next;
                    changed
                });
            }
            if rotate_at == Some(written) {
                if let Some((_, next)) = lock(&self.control).rotate.take() {
                    file = next;
                    size = 0;
                    self.incr_size.store(0, Ordering::Relaxed);
                }
                continue;
            }
            if stop && self.log.end() <= written {
                return;
            }
            let wait = if unsynced && fsync == Fsync::EverySec {
                Duration::from_secs(1).saturating_sub(last_sync.elapsed())
            } else {
                Duration::from_secs(1)
            };
            self.log.wait_past(written, wakes, wait);
        }
    }

    fn fail(&self, e: std::io::Error) {
        self.set_error(Some(describe(&e)));
        // Clients waiting for this round under `always` must not be acknowledged.
        self.synced.send_modify(|s| s.failed = true);
    }

    /// Waits a second (or until stopped) before retrying a failed write.
    fn pause_after_error(&self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline && !lock(&self.control).stop {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An I/O error as C's `strerror` words it ("No space left on device"), which is what Redis
/// puts in its `-MISCONF` error.
fn describe(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Appends `parts` to `file`, whose length is `size`; on failure the file is cut back to
/// `size`, so the next attempt does not leave half a command in the middle of the file.
fn append(file: &mut File, parts: &[bytes::Bytes], size: u64) -> std::io::Result<u64> {
    let mut n = 0u64;
    for part in parts {
        if let Err(e) = file.write_all(part) {
            if let Err(trunc) = file.set_len(size) {
                warn!(cause = %trunc, "could not remove a partial write from the AOF");
            }
            return Err(e);
        }
        n += part.len() as u64;
    }
    Ok(n)
}

//! Persistence: the snapshot file, the append-only file (AOF), and the background children
//! that write snapshots, as Redis 7 has them.
//!
//! - **Snapshot** (`dbfilename` in `dir`): SAVE writes it in the foreground, BGSAVE and the
//!   `save` points from a forked child ([`fork`]), SHUTDOWN before exiting.
//! - **AOF** (`appendonly yes`): a folder `appenddirname` with a base snapshot and incremental
//!   files of commands, listed by a manifest ([`manifest`]). The write log is appended to the
//!   current incremental file by [`aof::AofWriter`]. A rewrite (BGREWRITEAOF, or automatic once
//!   the AOF has grown by `auto-aof-rewrite-percentage` over `auto-aof-rewrite-min-size`)
//!   starts a new incremental file at the instant a child snapshots the dataset, then makes
//!   that snapshot the new base; no write is ever lost to a rewrite because every write after
//!   the snapshot's instant is in the new incremental file.
//! - **Start-up** loads the AOF when it is on (base, then each incremental file,
//!   [`replay`]), else the snapshot.
//! - **Errors**: a write to disk that fails makes the server refuse writes with `-MISCONF`
//!   ([`Persistence::write_error`]) until it succeeds again.
//!
//! # Layout
//! - [`snapshot`]: the snapshot format.
//! - [`manifest`]: the AOF's manifest and file names.
//! - [`aof`]: the AOF writer thread and `appendfsync`.
//! - [`replay`]: loading an incremental file, torn tails and corruption.
//! - [`fork`]: background children.

pub mod aof;
pub mod fork;
pub mod manifest;
pub mod replay;
pub mod snapshot;

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use self::aof::{AofWriter, Fsync};
use self::manifest::{Manifest, Part};
use crate::error::{Error, Result};
use crate::server::Server;
use crate::state::State;

/// The error Redis sends when writes are refused because the last background save failed.
const BGSAVE_ERROR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The AOF while it is on.
struct Aof {
    writer: Arc<AofWriter>,
    dir: PathBuf,
    prefix: String,
    manifest: Manifest,
    /// Size of the base file plus the incremental files before the current one.
    earlier_size: u64,
    /// The AOF's size right after the last rewrite (`aof_base_size`), which automatic
    /// rewrites measure growth against.
    base_size: u64,
}

impl Aof {
    fn current_size(&self) -> u64 {
        self.earlier_size + self.writer.incr_size()
    }
}

/// A background child at work.
struct Job {
    pid: i32,
    started: Instant,
    kind: JobKind,
}

enum JobKind {
    /// BGSAVE: `tmp` becomes the snapshot file.
    Save { tmp: PathBuf, dest: PathBuf },
    /// AOF rewrite: `tmp` becomes base `seq`, with the incremental file `seq` started when the
    /// child was forked.
    Rewrite { tmp: PathBuf, seq: u64 },
    /// A snapshot for a replica's full resync: whoever waits is told how it went.
    Replica { tmp: PathBuf, done: tokio::sync::oneshot::Sender<bool> },
}

/// Counters INFO persistence reports.
#[derive(Debug, Clone)]
pub struct Stats {
    pub rdb_saves: u64,
    pub last_bgsave_ok: bool,
    pub last_bgsave_secs: i64,
    /// When the last BGSAVE was tried (a failed one is retried after 5 s, as in Redis).
    pub last_bgsave_try: Option<Instant>,
    pub aof_rewrites: u64,
    pub last_rewrite_ok: bool,
    pub last_rewrite_secs: i64,
    pub rewrite_failures_in_a_row: u64,
    /// BGREWRITEAOF arrived while a BGSAVE ran: started when the child is done.
    pub rewrite_scheduled: bool,
    /// BGSAVE SCHEDULE arrived while a rewrite ran: started when the child is done.
    pub bgsave_scheduled: bool,
    /// Keys in the last snapshot or base loaded at start-up.
    pub loaded_keys: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            rdb_saves: 0,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            last_bgsave_try: None,
            aof_rewrites: 0,
            last_rewrite_ok: true,
            last_rewrite_secs: -1,
            rewrite_failures_in_a_row: 0,
            rewrite_scheduled: false,
            bgsave_scheduled: false,
            loaded_keys: 0,
        }
    }
}

/// What INFO persistence shows.
pub struct Info {
    pub stats: Stats,
    pub bgsave_in_progress: bool,
    pub rewrite_in_progress: bool,
    pub current_job_secs: i64,
    pub aof_enabled: bool,
    pub aof_write_error: Option<String>,
    pub aof_current_size: u64,
    pub aof_base_size: u64,
    pub aof_buffer_length: u64,
}

/// Persistence state, shared by commands, the cron and shutdown.
#[derive(Default)]
pub struct Persistence {
    aof: Mutex<Option<Aof>>,
    job: Mutex<Option<Job>>,
    stats: Mutex<Stats>,
    /// The AOF writer's last write or fsync failed (set by the writer thread).
    aof_failing: Arc<AtomicBool>,
    /// The last BGSAVE failed and `stop-writes-on-bgsave-error` applies.
    bgsave_failing: AtomicBool,
    /// The AOF is on with `appendfsync always`: replies wait for the disk.
    always: AtomicBool,
    /// How long the last `fork()` held the command lock (µs), and how many there were (INFO
    /// stats `latest_fork_usec`, `total_forks`): the pause clients see.
    latest_fork_usec: AtomicU64,
    total_forks: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// SHUTDOWN's say on saving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShutdownSave {
    /// Save when `save` points are configured.
    #[default]
    Default,
    Save,
    NoSave,
}

impl Persistence {
    /// Loads the dataset (the AOF when `appendonly yes`, else the snapshot) and starts the AOF
    /// writer. Runs before the server accepts clients.
    pub fn start(&self, server: &Server) -> Result<()> {
        let (dir, aof_on, dirname, prefix, dbfilename, truncate_ok, fsync) = {
            let c = server.config();
            (
                c.dir.clone(),
                c.get("appendonly").as_deref() == Some("yes"),
                c.get("appenddirname").unwrap_or_default(),
                c.get("appendfilename").unwrap_or_default(),
                c.get("dbfilename").unwrap_or_default(),
                c.get("aof-load-truncated").as_deref() != Some("no"),
                Fsync::parse(&c.get("appendfsync").unwrap_or_default()),
            )
        };
        std::fs::create_dir_all(&dir)?;
        let started = Instant::now();
        let mut state = server.lock();
        state.keyspace.expiry = crate::keyspace::ExpiryMode::Paused;
        let loaded = if aof_on {
            let aof_dir = dir.join(&dirname);
            load_aof(server, &mut state, &aof_dir, &prefix, &dir.join(&dbfilename), truncate_ok)
                .map(|m| Some((aof_dir, m)))
        } else {
            let path = dir.join(&dbfilename);
            if path.exists() {
                load_snapshot(&mut state, &path, true).map(|_| None)
            } else {
                Ok(None)
            }
        };
        state.keyspace.expiry = crate::keyspace::ExpiryMode::Delete;
        let manifest = loaded?;
        let keys = state.keyspace.len() as u64;
        lock(&self.stats).loaded_keys = keys;
        // Loading ran commands; they are not the clients' commands.
        state.stats = Default::default();
        state.dirty = 0;
        if keys > 0 || aof_on {
            info!(keys, ms = started.elapsed().as_millis() as u64, aof = aof_on, "data loaded");
        }
        if let Some((aof_dir, manifest)) = manifest {
            let current = manifest.incrs.last().expect("an incremental file").clone();
            let file = open_append(&aof_dir.join(&current.name))?;
            let size = file.metadata()?.len();
            let writer = AofWriter::start(
                server.write_log.clone(),
                server.write_log.end(),
                file,
                size,
                fsync,
                self.aof_failing.clone(),
            );
            let mut aof =
                Aof { writer, dir: aof_dir, prefix, manifest, earlier_size: 0, base_size: 0 };
            aof.earlier_size = aof.current_size_on_disk_except_last()?;
            aof.base_size = aof.current_size();
            *lock(&self.aof) = Some(aof);
            self.always.store(fsync == Fsync::Always, Ordering::Relaxed);
            state.set_propagation(true);
        }
        Ok(())
    }

    /// Why writes are refused now (`-MISCONF …`), if they are.
    pub fn write_error(&self) -> Option<String> {
        if self.aof_failing.load(Ordering::Relaxed) {
            let guard = lock(&self.aof);
            let text = guard.as_ref().and_then(|a| a.writer.error());
            return Some(format!(
                "MISCONF Errors writing to the AOF file: {}",
                text.unwrap_or_else(|| "unknown error".into())
            ));
        }
        if self.bgsave_failing.load(Ordering::Relaxed) {
            return Some(BGSAVE_ERROR.to_string());
        }
        None
    }

    /// Whether replies must wait for [`Persistence::synced`] (read on every reply batch).
    pub fn gates_replies(&self) -> bool {
        self.always.load(Ordering::Relaxed)
    }

    /// Under `appendfsync always`, what clients' replies wait for.
    pub fn synced(&self) -> Option<tokio::sync::watch::Receiver<aof::Synced>> {
        let guard = lock(&self.aof);
        let aof = guard.as_ref()?;
        (aof.writer.fsync() == Fsync::Always).then(|| aof.writer.synced())
    }

    pub fn aof_enabled(&self) -> bool {
        lock(&self.aof).is_some()
    }

    /// CONFIG SET appendfsync.
    pub fn set_fsync(&self, fsync: Fsync) {
        if let Some(aof) = lock(&self.aof).as_ref() {
            aof.writer.set_fsync(fsync);
            self.always.store(fsync == Fsync::Always, Ordering::Relaxed);
        }
    }

    pub fn rewrite_in_progress(&self) -> bool {
        self.busy() == Some("rewrite")
    }

    /// BGSAVE SCHEDULE during a rewrite: the save starts once the rewrite ends.
    pub fn schedule_bgsave(&self) {
        lock(&self.stats).bgsave_scheduled = true;
    }

    fn busy(&self) -> Option<&'static str> {
        lock(&self.job).as_ref().map(|j| match j.kind {
            JobKind::Save { .. } => "save",
            JobKind::Rewrite { .. } => "rewrite",
            JobKind::Replica { .. } => "replica",
        })
    }

    /// A background child is at work (one at a time, as in Redis).
    pub fn child_running(&self) -> bool {
        self.busy().is_some()
    }

    /// Forks a child that writes the snapshot of `state` to `path` for a replica's full
    /// resync; the receiver learns whether it succeeded. The caller holds the command lock
    /// and checked [`Persistence::child_running`] under it.
    pub fn fork_for_replica(
        &self,
        server: &Server,
        state: &State,
        path: &Path,
    ) -> std::io::Result<tokio::sync::oneshot::Receiver<bool>> {
        let pid = self.fork_snapshot(server, state, path)?;
        let (done, rx) = tokio::sync::oneshot::channel();
        let kind = JobKind::Replica { tmp: path.to_path_buf(), done };
        self.track(server, Job { pid, started: Instant::now(), kind });
        Ok(rx)
    }

    /// After a replica replaced its whole dataset (full resync), the AOF is rebuilt on it:
    /// a new base from the state now and a new incremental file from the log's current
    /// offset, written in the foreground (the replica is loading anyway) so that no crash can
    /// leave old files mixed with the new stream.
    pub fn rebase(&self, server: &Server, state: &State) -> Result<()> {
        let mut guard = lock(&self.aof);
        let Some(aof) = guard.as_mut() else { return Ok(()) };
        let seq = aof.manifest.last_incr_seq() + 1;
        let base = manifest::base_name(&aof.prefix, seq);
        write_snapshot_file(state, server, &aof.dir.join(&base))?;
        let incr = manifest::incr_name(&aof.prefix, seq);
        let file = open_append(&aof.dir.join(&incr))?;
        aof.writer.rotate(server.write_log.end(), file);
        let next = Manifest {
            base: Some(Part { name: base, seq }),
            incrs: vec![Part { name: incr, seq }],
        };
        next.store(&aof.dir, &aof.prefix)?;
        let old = std::mem::replace(&mut aof.manifest, next);
        let replaced: Vec<PathBuf> =
            old.base.iter().chain(old.incrs.iter()).map(|p| aof.dir.join(&p.name)).collect();
        aof.earlier_size = aof.current_size_on_disk_except_last()?;
        aof.base_size = aof.earlier_size;
        drop(guard);
        remove_replaced(replaced);
        Ok(())
    }

    /// SAVE: writes the snapshot in the foreground (every client waits, as in Redis).
    pub fn save(&self, server: &Server, state: &mut State) -> std::result::Result<(), String> {
        if self.busy() == Some("save") {
            return Err("ERR Background save already in progress".into());
        }
        let (dir, name) = {
            let c = server.config();
            (c.dir.clone(), c.get("dbfilename").unwrap_or_default())
        };
        let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
        let result = write_snapshot_file(state, server, &tmp)
            .and_then(|_| std::fs::rename(&tmp, dir.join(&name)).map_err(Error::from))
            .and_then(|_| manifest::sync_dir(&dir).map_err(Error::from));
        match result {
            Ok(()) => {
                self.saved(state, true, 0);
                info!("DB saved on disk");
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                warn!(cause = %e, "failed saving the snapshot");
                Err(format!("ERR {e}"))
            }
        }
    }

    /// Records the end of a save.
    fn saved(&self, state: &mut State, ok: bool, secs: i64) {
        let mut stats = lock(&self.stats);
        stats.last_bgsave_ok = ok;
        if ok {
            stats.rdb_saves += 1;
            stats.last_bgsave_secs = secs;
            state.dirty = 0;
            state.lastsave = crate::time::unix_ms() / 1000;
            self.bgsave_failing.store(false, Ordering::Relaxed);
        }
    }

    /// BGSAVE: a child writes the snapshot while clients are served.
    pub fn bgsave(&self, server: &Server, state: &mut State) -> std::result::Result<(), String> {
        match self.busy() {
            Some("save") => return Err("ERR Background save already in progress".into()),
            Some(_) => {
                return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into())
            }
            None => {}
        }
        let (dir, name) = {
            let c = server.config();
            (c.dir.clone(), c.get("dbfilename").unwrap_or_default())
        };
        {
            let mut stats = lock(&self.stats);
            stats.last_bgsave_try = Some(Instant::now());
            stats.bgsave_scheduled = false;
        }
        let tmp = dir.join(format!("temp-bgsave-{}.rdb", std::process::id()));
        let pid = self.fork_snapshot(server, state, &tmp).map_err(|e| {
            lock(&self.stats).last_bgsave_ok = false;
            format!("ERR {e}")
        })?;
        info!(pid, "background saving started");
        self.track(
            server,
            Job { pid, started: Instant::now(), kind: JobKind::Save { tmp, dest: dir.join(name) } },
        );
        Ok(())
    }

    /// BGREWRITEAOF. Returns false when it was scheduled after a running BGSAVE.
    pub fn bgrewriteaof(
        &self,
        server: &Server,
        state: &mut State,
    ) -> std::result::Result<bool, String> {
        if lock(&self.aof).is_none() {
            return Err("ERR Background append only file rewriting needs appendonly yes".into());
        }
        match self.busy() {
            Some("rewrite") => {
                return Err("ERR Background append only file rewriting already in progress".into())
            }
            Some(_) => {
                lock(&self.stats).rewrite_scheduled = true;
                return Ok(false);
            }
            None => {}
        }
        self.start_rewrite(server, state).map_err(|e| format!("ERR {e}"))?;
        Ok(true)
    }

    /// Starts an AOF rewrite: a new incremental file from this instant, and a child writing
    /// the snapshot of this instant as the next base.
    fn start_rewrite(&self, server: &Server, state: &mut State) -> Result<()> {
        // The snapshot includes the batch that is running; so must the old files.
        server.publish(state);
        let mut guard = lock(&self.aof);
        let aof = guard.as_mut().ok_or_else(|| Error::Load("the AOF is off".into()))?;
        let seq = aof.manifest.last_incr_seq() + 1;
        let name = manifest::incr_name(&aof.prefix, seq);
        let file = open_append(&aof.dir.join(&name))?;
        manifest::sync_dir(&aof.dir)?;
        let mut next = aof.manifest.clone();
        next.incrs.push(Part { name, seq });
        next.store(&aof.dir, &aof.prefix)?;
        aof.earlier_size = aof.current_size();
        aof.manifest = next;
        aof.writer.rotate(server.write_log.end(), file);
        let tmp = aof.dir.join(format!("temp-rewriteaof-bg-{}.snap", std::process::id()));
        drop(guard);
        lock(&self.stats).rewrite_scheduled = false;
        let pid = match self.fork_snapshot(server, state, &tmp) {
            Ok(pid) => pid,
            Err(e) => {
                self.rewrite_done(false, 0);
                return Err(e.into());
            }
        };
        info!(pid, "background append only file rewriting started");
        self.track(
            server,
            Job { pid, started: Instant::now(), kind: JobKind::Rewrite { tmp, seq } },
        );
        Ok(())
    }

    fn rewrite_done(&self, ok: bool, secs: i64) {
        let mut stats = lock(&self.stats);
        stats.last_rewrite_ok = ok;
        if ok {
            stats.aof_rewrites += 1;
            stats.last_rewrite_secs = secs;
            stats.rewrite_failures_in_a_row = 0;
        } else {
            stats.rewrite_failures_in_a_row += 1;
        }
    }

    /// `latest_fork_usec` and `total_forks`.
    pub fn fork_stats(&self) -> (u64, u64) {
        (self.latest_fork_usec.load(Ordering::Relaxed), self.total_forks.load(Ordering::Relaxed))
    }

    /// Forks a child that writes the snapshot of `state` to `path`.
    fn fork_snapshot(&self, server: &Server, state: &State, path: &Path) -> std::io::Result<i32> {
        let meta = snapshot_meta(server);
        let path = path.to_path_buf();
        // Opened before the fork so that the child does as little as possible.
        let file = File::create(&path)?;
        let keyspace = &state.keyspace;
        let started = Instant::now();
        let pid = fork::spawn(move || write_snapshot_to(keyspace, &meta, file).is_ok())?;
        self.latest_fork_usec.store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.total_forks.fetch_add(1, Ordering::Relaxed);
        Ok(pid)
    }

    /// Waits for the job's child on a blocking thread, then finishes the job.
    fn track(&self, server: &Server, job: Job) {
        let pid = job.pid;
        *lock(&self.job) = Some(job);
        let server = server.arc();
        tokio::task::spawn_blocking(move || {
            let exit = fork::wait(pid);
            server.persistence.job_ended(&server, pid, exit);
        });
    }

    /// A child ended: installs what it wrote, or records the failure.
    fn job_ended(&self, server: &Server, pid: i32, exit: std::io::Result<fork::Exit>) {
        let Some(job) = lock(&self.job).take_if(|j| j.pid == pid) else { return };
        let secs = job.started.elapsed().as_secs() as i64;
        let ok = matches!(exit, Ok(fork::Exit::Success));
        if !ok {
            warn!(pid, exit = ?exit, "background child failed");
        }
        match job.kind {
            JobKind::Save { tmp, dest } => {
                let installed = ok
                    && std::fs::rename(&tmp, &dest)
                        .and_then(|_| dest.parent().map_or(Ok(()), manifest::sync_dir))
                        .is_ok();
                if !installed {
                    let _ = std::fs::remove_file(&tmp);
                }
                let stop_writes = {
                    let c = server.config();
                    c.get("stop-writes-on-bgsave-error").as_deref() == Some("yes")
                        && !c.get("save").unwrap_or_default().trim().is_empty()
                };
                let mut state = server.lock();
                self.saved(&mut state, installed, secs);
                if installed {
                    info!("background saving terminated with success");
                } else if stop_writes {
                    self.bgsave_failing.store(true, Ordering::Relaxed);
                }
            }
            JobKind::Replica { tmp, done } => {
                if !ok {
                    let _ = std::fs::remove_file(&tmp);
                }
                let _ = done.send(ok);
            }
            JobKind::Rewrite { tmp, seq } => {
                let installed = ok && self.install_rewrite(&tmp, seq).is_ok();
                if !installed {
                    let _ = std::fs::remove_file(&tmp);
                } else {
                    info!("background AOF rewrite finished successfully");
                }
                self.rewrite_done(installed, secs);
            }
        }
    }

    /// Makes the rewrite's snapshot base `seq` and drops the files it replaces.
    fn install_rewrite(&self, tmp: &Path, seq: u64) -> Result<()> {
        let mut guard = lock(&self.aof);
        let aof = guard.as_mut().ok_or_else(|| Error::Load("the AOF was turned off".into()))?;
        let base = manifest::base_name(&aof.prefix, seq);
        std::fs::rename(tmp, aof.dir.join(&base))?;
        let keep: Vec<Part> = aof.manifest.incrs.iter().filter(|p| p.seq >= seq).cloned().collect();
        let next = Manifest { base: Some(Part { name: base, seq }), incrs: keep };
        next.store(&aof.dir, &aof.prefix)?;
        let old = std::mem::replace(&mut aof.manifest, next);
        let replaced = old.base.iter().chain(old.incrs.iter().filter(|p| p.seq < seq));
        let replaced: Vec<PathBuf> = replaced.map(|p| aof.dir.join(&p.name)).collect();
        aof.earlier_size = aof.current_size_on_disk_except_last()?;
        aof.base_size = aof.current_size();
        drop(guard);
        remove_replaced(replaced);
        Ok(())
    }

    /// Background duties, every 100 ms: `save` points, scheduled and automatic rewrites.
    pub fn cron(&self, server: &Server) {
        if self.busy().is_some() {
            return;
        }
        let (save_points, percentage, min_size) = {
            let c = server.config();
            (
                parse_save_points(&c.get("save").unwrap_or_default()),
                c.get_i64("auto-aof-rewrite-percentage").unwrap_or(0).max(0) as u64,
                c.get_i64("auto-aof-rewrite-min-size").unwrap_or(0).max(0) as u64,
            )
        };
        let (scheduled, bgsave_scheduled, last_ok, last_try) = {
            let s = lock(&self.stats);
            (s.rewrite_scheduled, s.bgsave_scheduled, s.last_bgsave_ok, s.last_bgsave_try)
        };
        let grown = lock(&self.aof).as_ref().is_some_and(|aof| {
            let size = aof.current_size();
            let base = aof.base_size.max(1);
            percentage > 0
                && size > min_size
                && (size * 100 / base).saturating_sub(100) >= percentage
        });
        if scheduled || grown {
            let mut state = server.lock();
            if let Err(e) = self.start_rewrite(server, &mut state) {
                warn!(cause = %e, "could not start the AOF rewrite");
            }
            return;
        }
        let now_secs = crate::time::unix_ms() / 1000;
        let mut state = server.lock();
        let due = bgsave_scheduled
            || save_points.iter().any(|&(secs, changes)| {
                state.dirty >= changes
                && now_secs.saturating_sub(state.lastsave) >= secs
                // A failed save is retried after 5 s, not on every tick.
                && (last_ok || last_try.is_none_or(|t| t.elapsed() > Duration::from_secs(5)))
            });
        if due {
            info!("save point reached: saving");
            if let Err(e) = self.bgsave(server, &mut state) {
                warn!(cause = %e, "background save failed to start");
            }
        }
    }

    /// At shutdown: stops a running child, writes and syncs the AOF, and saves the snapshot
    /// when asked to (or when `save` points are configured).
    pub fn shutdown(&self, server: &Server, mode: ShutdownSave) {
        if let Some(job) = lock(&self.job).take() {
            fork::kill(job.pid);
            let _ = fork::wait(job.pid);
            let tmp = match &job.kind {
                JobKind::Save { tmp, .. }
                | JobKind::Rewrite { tmp, .. }
                | JobKind::Replica { tmp, .. } => tmp.clone(),
            };
            let _ = std::fs::remove_file(tmp);
        }
        let mut state = server.lock();
        server.publish(&mut state);
        if let Some(aof) = lock(&self.aof).as_ref() {
            aof.writer.stop();
            info!("AOF written and synced");
        }
        let save_points = !server.config().get("save").unwrap_or_default().trim().is_empty();
        let save = match mode {
            ShutdownSave::Save => true,
            ShutdownSave::NoSave => false,
            ShutdownSave::Default => save_points,
        };
        if save {
            if let Err(e) = self.save(server, &mut state) {
                warn!(cause = %e, "could not save the snapshot at shutdown");
            }
        }
    }

    /// What INFO persistence shows.
    pub fn info(&self) -> Info {
        let job = lock(&self.job);
        let aof = lock(&self.aof);
        Info {
            stats: lock(&self.stats).clone(),
            bgsave_in_progress: matches!(job.as_ref().map(|j| &j.kind), Some(JobKind::Save { .. })),
            rewrite_in_progress: matches!(
                job.as_ref().map(|j| &j.kind),
                Some(JobKind::Rewrite { .. })
            ),
            current_job_secs: job.as_ref().map_or(-1, |j| j.started.elapsed().as_secs() as i64),
            aof_enabled: aof.is_some(),
            aof_write_error: aof.as_ref().and_then(|a| a.writer.error()),
            aof_current_size: aof.as_ref().map_or(0, |a| a.current_size()),
            aof_base_size: aof.as_ref().map_or(0, |a| a.base_size),
            aof_buffer_length: aof.as_ref().map_or(0, |a| a.writer.pending()),
        }
    }
}

impl Aof {
    /// Sizes of the base and of every incremental file but the current one, from disk.
    fn current_size_on_disk_except_last(&self) -> std::io::Result<u64> {
        let n = self.manifest.incrs.len().saturating_sub(1);
        let parts = self.manifest.base.iter().chain(self.manifest.incrs[..n].iter());
        let mut total = 0;
        for p in parts {
            total += std::fs::metadata(self.dir.join(&p.name)).map_or(0, |m| m.len());
        }
        Ok(total)
    }
}

/// Loads the AOF in `aof_dir`, creating it when missing (from the snapshot at
/// `snapshot_path` if there is one, so turning the AOF on keeps the data).
fn load_aof(
    server: &Server,
    state: &mut State,
    aof_dir: &Path,
    prefix: &str,
    snapshot_path: &Path,
    truncate_ok: bool,
) -> Result<Manifest> {
    let manifest_path = aof_dir.join(manifest::file_name(prefix));
    let manifest = if manifest_path.exists() {
        let text = std::fs::read_to_string(&manifest_path)?;
        let m = Manifest::parse(&text)
            .map_err(|e| Error::Load(format!("{}: {e}", manifest_path.display())))?;
        if let Some(base) = &m.base {
            load_snapshot(state, &aof_dir.join(&base.name), false)?;
        }
        for (i, incr) in m.incrs.iter().enumerate() {
            let path = aof_dir.join(&incr.name);
            let last = i + 1 == m.incrs.len();
            if !path.exists() && last {
                // A crash right after the manifest named a new file, before it existed.
                continue;
            }
            let done = replay::replay(server, state, &path, last && truncate_ok)
                .map_err(|e| Error::Load(e.to_string()))?;
            if done.truncated {
                warn!(
                    file = %path.display(),
                    offset = done.valid_len,
                    "!!! the AOF ends with an incomplete command: truncating it at the last valid command"
                );
                OpenOptions::new().write(true).open(&path)?.set_len(done.valid_len)?;
            }
        }
        if m.incrs.is_empty() {
            let mut m = m;
            let seq = 1;
            m.incrs.push(Part { name: manifest::incr_name(prefix, seq), seq });
            m.store(aof_dir, prefix)?;
            m
        } else {
            m
        }
    } else {
        std::fs::create_dir_all(aof_dir)?;
        let mut m = Manifest::default();
        if snapshot_path.exists() {
            load_snapshot(state, snapshot_path, true)?;
            // The AOF is being made from data loaded some other way: its base is a
            // snapshot of that data, written now (no client is connected yet).
            let name = manifest::base_name(prefix, 1);
            write_snapshot_file(state, server, &aof_dir.join(&name))?;
            m.base = Some(Part { name, seq: 1 });
        }
        m.incrs.push(Part { name: manifest::incr_name(prefix, 1), seq: 1 });
        m.store(aof_dir, prefix)?;
        m
    };
    Ok(manifest)
}

/// Deletes AOF files a new manifest no longer lists. Called after the `aof` lock is released:
/// freeing a large file's blocks takes milliseconds, and INFO and the cron, which take that
/// lock from the event loop, must not wait for it (the manifest already no longer names the
/// files, so a crash meanwhile only leaves garbage, never a wrong load).
fn remove_replaced(paths: Vec<PathBuf>) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

/// `save` points: (seconds, changes) pairs.
fn parse_save_points(text: &str) -> Vec<(u64, u64)> {
    let words: Vec<u64> = text.split_ascii_whitespace().filter_map(|w| w.parse().ok()).collect();
    words.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn snapshot_meta(server: &Server) -> snapshot::Meta {
    snapshot::Meta {
        created_unix_ms: crate::time::unix_ms(),
        repl_id: server.replication.ids().replid,
        repl_offset: server.write_log.end(),
        aux: vec![("redis-ver".into(), crate::REDIS_VERSION.into())],
    }
}

/// Writes a snapshot to `file` and syncs it. Safe in a forked child: no lock, no logging.
fn write_snapshot_to(
    keyspace: &crate::keyspace::Keyspace,
    meta: &snapshot::Meta,
    file: File,
) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, file);
    snapshot::write(keyspace, meta, &mut w)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Writes the snapshot of `state` to `path` in the foreground.
fn write_snapshot_file(state: &State, server: &Server, path: &Path) -> Result<()> {
    let file = File::create(path)?;
    write_snapshot_to(&state.keyspace, &snapshot_meta(server), file)?;
    Ok(())
}

/// Loads the snapshot at `path` into `state`; `drop_expired`: keys already past their
/// deadline are left out (the dump file), else kept (an AOF base, whose incremental files may
/// still name them).
fn load_snapshot(state: &mut State, path: &Path, drop_expired: bool) -> Result<snapshot::Meta> {
    let file = File::open(path)?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let encodings = state.encodings;
    let now = crate::time::unix_ms();
    snapshot::load(&mut r, &mut state.keyspace, &encodings, now, drop_expired)
        .map_err(|e| Error::Load(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_points() {
        assert_eq!(parse_save_points("3600 1 300 100"), vec![(3600, 1), (300, 100)]);
        assert!(parse_save_points("").is_empty());
    }
}

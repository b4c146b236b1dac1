//! Master → replica replication, as Redis does it: a replica connects, says where it is
//! (`PSYNC replid offset`), and gets either the rest of the stream from the backlog
//! (`+CONTINUE`) or a snapshot followed by the stream (`+FULLRESYNC`). Offsets are byte
//! offsets of the write log ([`crate::write_log`]): a replica's own log carries its master's
//! bytes unchanged, so its offset *is* the master's, and a promoted replica continues the same
//! offset space (its old master's replication id becomes its `replid2`, so the other replicas
//! continue with a partial resync).
//!
//! In **sync** mode (`replication sync`, the default) a write is acknowledged to its client only
//! once every replica of the **in-sync set** has acknowledged the write's offset
//! ([`Replication::all_in_sync_acked`]); with an empty in-sync set (a server no control plane
//! manages) writes are acknowledged at once, as in Redis.
//!
//! # Layout
//! - this module: the replication state shared by commands and links (ids, role, replicas and
//!   their acknowledgements, the in-sync set), INFO replication and ROLE.
//! - [`master`]: serving one replica (PSYNC, snapshot transfer, the stream, its ACKs).
//! - [`replica`]: the link to our master (handshake, loading, applying, ACKs, reconnecting).

pub mod master;
pub mod replica;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// A random 40-hex-digit replication id.
pub fn random_id() -> String {
    (0..40).map(|_| format!("{:x}", rand::random::<u8>() & 0xf)).collect()
}

/// The id Redis shows when there is no second id.
pub const NO_ID: &str = "0000000000000000000000000000000000000000";

/// The replication history this server can continue: `replid` up to now, and `replid2` (the
/// history of its former master) up to `second_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub replid: String,
    pub replid2: String,
    pub second_offset: Option<u64>,
}

/// A client parked by WAIT: released once `replicas` replicas acknowledged `offset`, or at
/// `deadline_ms` (Unix ms; `None`: never).
#[derive(Debug, Clone, Copy)]
pub struct WaitRequest {
    pub offset: u64,
    pub replicas: usize,
    pub deadline_ms: Option<u64>,
}

/// How a replica's link to its master is doing (ROLE's and INFO's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    /// Receiving the snapshot.
    Sync,
    Connected,
}

/// This server's place: a master, or a replica of `host:port`.
#[derive(Debug, Clone)]
pub enum Role {
    Master,
    Replica(Upstream),
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
    pub link: LinkState,
    /// Last byte received from the master.
    pub last_io: Instant,
    /// Ends the link task when set.
    pub cancel: watch::Sender<bool>,
}

/// One replica as its master sees it.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    pub addr: SocketAddr,
    /// The port it listens on (REPLCONF listening-port): with its IP, its identity in the
    /// in-sync set.
    pub listening_port: u16,
    /// The IP (or host name) it announced (REPLCONF ip-address, Redis's
    /// `replica-announce-ip`): what the cluster reaches it at, when not the connection's.
    pub announced_ip: Option<String>,
    /// `wait_bgsave`, `send_bulk` or `online`, as Redis's INFO says.
    pub state: &'static str,
    /// The offset it acknowledged last.
    pub acked: u64,
    pub last_ack: Instant,
    /// Whether the replica sent a `REPLCONF ACK` on this link yet (until then `acked` is
    /// what the master assumed when the link started, e.g. a partial resync's offset).
    pub ack_seen: bool,
}

impl ReplicaInfo {
    /// The IP it announced, or its connection's.
    pub fn ip(&self) -> String {
        self.announced_ip.clone().unwrap_or_else(|| self.addr.ip().to_string())
    }

    /// `ip:listening-port`, how the in-sync set names it.
    pub fn name(&self) -> String {
        format!("{}:{}", self.ip(), self.listening_port)
    }
}

struct Inner {
    ids: Ids,
    role: Role,
    replicas: BTreeMap<u64, ReplicaInfo>,
    /// The in-sync set the control plane committed: replicas (`ip:port`) whose
    /// acknowledgements writes wait for in sync mode (see [`crate::role`]).
    in_sync: Vec<String>,
    /// Replicas waited for on top of `in_sync` while this master asks for them to join it
    /// (DESIGN.md, point 4: from the moment a replica is asked for, writes wait for it too).
    joining: Vec<String>,
    /// Since when each in-sync replica has lagged behind what a client waits for (for
    /// `isr-timeout-ms`), and the ones reported to the control plane as gone quiet.
    lagging_since: BTreeMap<String, Instant>,
    reported_lagging: Vec<String>,
    /// The highest offset each replica (`ip:port`) acknowledged while this server was its
    /// master: kept when its connection drops, since what it acknowledged it has.
    acked_by: BTreeMap<String, u64>,
    /// Bytes of writes discarded when this server, once a master, resynced from a new master.
    pub discarded_bytes: u64,
}

/// Replication state. See the module documentation.
pub struct Replication {
    inner: Mutex<Inner>,
    /// Bumped on every acknowledgement and every in-sync set change: what sync-mode writes and
    /// WAIT wait on.
    changes: watch::Sender<u64>,
    /// A replica (refuses client writes while `replica-read-only`): read on every write.
    replica: AtomicBool,
    /// The backlog exists (a replica attached once): writes are propagated.
    backlog: AtomicBool,
    /// `replication sync` and a non-empty in-sync set: replies wait for the in-sync set.
    gating: AtomicBool,
    /// `replication sync` (mirrored from the config).
    sync_mode: AtomicBool,
    /// Times this server stopped being a master. A reply computed while it was a master
    /// must not be sent once it is not: its writes may be discarded by the resync.
    demotions: AtomicU64,
    /// INFO stats `sync_full`, `sync_partial_ok`, `sync_partial_err`.
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

impl Default for Replication {
    fn default() -> Self {
        Replication {
            inner: Mutex::new(Inner {
                ids: Ids { replid: random_id(), replid2: NO_ID.into(), second_offset: None },
                role: Role::Master,
                replicas: BTreeMap::new(),
                in_sync: Vec::new(),
                joining: Vec::new(),
                lagging_since: BTreeMap::new(),
                reported_lagging: Vec::new(),
                acked_by: BTreeMap::new(),
                discarded_bytes: 0,
            }),
            changes: watch::channel(0).0,
            replica: AtomicBool::new(false),
            backlog: AtomicBool::new(false),
            gating: AtomicBool::new(false),
            sync_mode: AtomicBool::new(true),
            demotions: AtomicU64::new(0),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
        }
    }
}

impl Replication {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    pub fn ids(&self) -> Ids {
        self.lock().ids.clone()
    }

    pub fn set_ids(&self, ids: Ids) {
        self.lock().ids = ids;
    }

    pub fn role(&self) -> Role {
        self.lock().role.clone()
    }

    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    pub fn backlog_active(&self) -> bool {
        self.backlog.load(Ordering::Relaxed)
    }

    pub fn set_backlog_active(&self) {
        self.backlog.store(true, Ordering::Relaxed);
    }

    /// Becomes a replica of `upstream` (the caller started its link task).
    pub fn set_replica_of(&self, upstream: Upstream) {
        let mut inner = self.lock();
        match &inner.role {
            Role::Replica(old) => {
                old.cancel.send_replace(true);
            }
            Role::Master => {
                self.demotions.fetch_add(1, Ordering::SeqCst);
            }
        }
        inner.role = Role::Replica(upstream);
        inner.acked_by.clear();
        inner.joining.clear();
        self.replica.store(true, Ordering::SeqCst);
        drop(inner);
        self.changed();
    }

    /// Counts demotions (see [`Replication::demotions`]): read when a batch runs, compared
    /// before its replies go out.
    pub fn generation(&self) -> u64 {
        self.demotions.load(Ordering::SeqCst)
    }

    /// Becomes a master (REPLICAOF NO ONE, a promotion): the history so far becomes
    /// `replid2`, continued under a new id, so the old master's other replicas can continue
    /// from here with a partial resync. Returns whether the role changed.
    pub fn set_master(&self, offset: u64) -> bool {
        let mut inner = self.lock();
        let Role::Replica(old) = &inner.role else { return false };
        old.cancel.send_replace(true);
        inner.role = Role::Master;
        let old_id = std::mem::replace(&mut inner.ids.replid, random_id());
        inner.ids.replid2 = old_id;
        inner.ids.second_offset = Some(offset);
        self.replica.store(false, Ordering::Relaxed);
        true
    }

    /// The link's state changed (replica side).
    pub fn set_link(&self, link: LinkState) {
        let mut inner = self.lock();
        if let Role::Replica(up) = &mut inner.role {
            up.link = link;
            up.last_io = Instant::now();
        }
    }

    /// Bytes arrived from the master (replica side).
    pub fn touch_link(&self) {
        if let Role::Replica(up) = &mut self.lock().role {
            up.last_io = Instant::now();
        }
    }

    pub fn add_discarded(&self, bytes: u64) {
        self.lock().discarded_bytes += bytes;
    }

    pub fn discarded_bytes(&self) -> u64 {
        self.lock().discarded_bytes
    }

    // ---- the master's replicas ----

    pub fn add_replica(&self, id: u64, info: ReplicaInfo) {
        self.lock().replicas.insert(id, info);
        self.changed();
    }

    pub fn update_replica(&self, id: u64, f: impl FnOnce(&mut ReplicaInfo)) {
        let mut inner = self.lock();
        if let Some(r) = inner.replicas.get_mut(&id) {
            f(r);
            if r.state == "online" {
                let (name, acked) = (r.name(), r.acked);
                let best = inner.acked_by.entry(name).or_insert(acked);
                *best = (*best).max(acked);
            }
        }
        drop(inner);
        self.changed();
    }

    pub fn remove_replica(&self, id: u64) {
        self.lock().replicas.remove(&id);
        self.changed();
    }

    pub fn replicas(&self) -> Vec<ReplicaInfo> {
        self.lock().replicas.values().cloned().collect()
    }

    /// Receiver marked changed by every acknowledgement or in-sync set change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Waits until `request` is satisfied or its deadline passes; returns the number of
    /// replicas that acknowledged its offset.
    pub async fn wait(&self, request: WaitRequest) -> usize {
        let mut changes = self.subscribe();
        loop {
            let acked = self.acked_count(request.offset);
            if acked >= request.replicas {
                return acked;
            }
            let left = request.deadline_ms.map(|at| at.saturating_sub(crate::time::unix_ms()));
            if left == Some(0) {
                return acked;
            }
            let sleep = async {
                match left {
                    Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = changes.changed() => {}
                _ = sleep => {}
            }
        }
    }

    /// Replicas online that acknowledged `offset` (WAIT).
    pub fn acked_count(&self, offset: u64) -> usize {
        self.lock().replicas.values().filter(|r| r.state == "online" && r.acked >= offset).count()
    }

    // ---- the in-sync set ----

    /// The replicas replies wait for: the committed in-sync set and the replicas asked to
    /// join it.
    pub fn in_sync(&self) -> Vec<String> {
        self.lock().waited_for().cloned().collect()
    }

    /// The in-sync set the control plane committed.
    pub fn committed_in_sync(&self) -> Vec<String> {
        self.lock().in_sync.clone()
    }

    /// Replicas waited for while this master asks for them to join the in-sync set.
    pub fn joining(&self) -> Vec<String> {
        self.lock().joining.clone()
    }

    /// Replaces the in-sync set (the control plane decided it).
    pub fn set_in_sync(&self, members: Vec<String>) {
        let mut inner = self.lock();
        inner.in_sync = members;
        self.members_changed(inner);
    }

    /// Starts waiting for `member` on top of the committed set (it is about to be asked for).
    pub fn add_joining(&self, member: String) {
        let mut inner = self.lock();
        if !inner.joining.contains(&member) {
            inner.joining.push(member);
        }
        self.members_changed(inner);
    }

    /// Stops waiting for `member` unless the committed set holds it.
    pub fn remove_joining(&self, member: &str) {
        let mut inner = self.lock();
        inner.joining.retain(|m| m != member);
        self.members_changed(inner);
    }

    fn members_changed(&self, mut inner: MutexGuard<'_, Inner>) {
        let waited: Vec<String> = inner.waited_for().cloned().collect();
        inner.lagging_since.retain(|m, _| waited.contains(m));
        inner.reported_lagging.retain(|m| waited.contains(m));
        self.refresh_gating(&inner);
        drop(inner);
        self.changed();
    }

    /// `replication sync|async` changed.
    pub fn set_sync_mode(&self, sync: bool) {
        self.sync_mode.store(sync, Ordering::Relaxed);
        let inner = self.lock();
        self.refresh_gating(&inner);
        drop(inner);
        self.changed();
    }

    fn refresh_gating(&self, inner: &Inner) {
        let on = self.sync_mode.load(Ordering::Relaxed)
            && !(inner.in_sync.is_empty() && inner.joining.is_empty());
        self.gating.store(on, Ordering::Relaxed);
    }

    /// Whether replies wait for the in-sync set (sync mode with a non-empty set); read on
    /// every reply batch.
    pub fn gates_replies(&self) -> bool {
        self.gating.load(Ordering::Relaxed)
    }

    /// Waits until every in-sync replica acknowledged `offset` (or the set no longer gates).
    /// False when this server was demoted meanwhile (after `generation`): the writes waited
    /// for may be discarded, so they must not be acknowledged.
    pub async fn wait_in_sync(&self, offset: u64, isr_timeout: Duration, generation: u64) -> bool {
        let mut changes = self.subscribe();
        loop {
            if self.generation() != generation {
                return false;
            }
            if !self.gates_replies() || self.all_in_sync_acked(offset, isr_timeout) {
                return true;
            }
            // Woken by acknowledgements and set changes; the tick lets a laggard be reported
            // once `isr-timeout-ms` has passed.
            tokio::select! {
                _ = changes.changed() => {}
                _ = tokio::time::sleep(isr_timeout.min(Duration::from_millis(100))) => {}
            }
        }
    }

    /// True once every member of the in-sync set (and every replica joining it) has
    /// acknowledged `offset`. A member that has lagged for longer than `isr_timeout` is
    /// reported (see [`Replication::reported_lagging`]) — but still waited for: only the
    /// control plane may take it out of the set, or an acknowledged write could be missing
    /// from a replica it then promotes.
    pub fn all_in_sync_acked(&self, offset: u64, isr_timeout: Duration) -> bool {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let mut all = true;
        // `Inner::waited_for`, spelled out: the loop updates other fields of `inner`.
        let joining = inner.joining.iter().filter(|m| !inner.in_sync.contains(m));
        for member in inner.in_sync.iter().chain(joining) {
            let acked = inner.acked_by.get(member).copied();
            if acked.is_some_and(|a| a >= offset) {
                // Caught up: no longer lagging, and no longer reported as such.
                inner.lagging_since.remove(member);
                inner.reported_lagging.retain(|m| m != member);
                continue;
            }
            all = false;
            let since = *inner.lagging_since.entry(member.clone()).or_insert_with(Instant::now);
            if since.elapsed() >= isr_timeout && !inner.reported_lagging.contains(member) {
                tracing::warn!(replica = %member, "in-sync replica stopped acknowledging: asking for it to leave the in-sync set");
                inner.reported_lagging.push(member.clone());
            }
        }
        all
    }

    /// The lowest offset every in-sync replica acknowledged (0 when one never did).
    pub fn in_sync_floor(&self) -> u64 {
        let inner = self.lock();
        inner
            .waited_for()
            .map(|m| inner.acked_by.get(m).copied().unwrap_or(0))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// In-sync replicas that stopped acknowledging for longer than `isr-timeout-ms`: the
    /// control plane is asked to take them out of the set.
    pub fn reported_lagging(&self) -> Vec<String> {
        self.lock().reported_lagging.clone()
    }
}

impl Inner {
    /// The committed in-sync set, then the joining replicas it does not hold.
    fn waited_for(&self) -> impl Iterator<Item = &String> {
        self.in_sync.iter().chain(self.joining.iter().filter(|m| !self.in_sync.contains(m)))
    }
}

/// Writes INFO's replication section (Redis 7.0's fields, plus rcluster's in-sync set).
pub fn write_info(server: &crate::server::Server, out: &mut String) {
    use std::fmt::Write as _;
    let mut line = |name: &str, value: &dyn std::fmt::Display| {
        let _ = write!(out, "{name}:{value}\r\n");
    };
    let repl = &server.replication;
    let ids = repl.ids();
    let offset = server.write_log.end();
    let replicas = repl.replicas();
    match repl.role() {
        Role::Master => line("role", &"master"),
        Role::Replica(up) => {
            line("role", &"slave");
            line("master_host", &up.host);
            line("master_port", &up.port);
            let up_now = up.link == LinkState::Connected;
            line("master_link_status", &if up_now { "up" } else { "down" });
            line("master_last_io_seconds_ago", &up.last_io.elapsed().as_secs());
            line("master_sync_in_progress", &((up.link == LinkState::Sync) as u8));
            line("slave_read_repl_offset", &offset);
            line("slave_repl_offset", &offset);
            line("slave_priority", &100);
            let ro = server.config().get("replica-read-only").as_deref() == Some("yes");
            line("slave_read_only", &(ro as u8));
            line("replica_announced", &1);
        }
    }
    line("connected_slaves", &replicas.len());
    for (i, r) in replicas.iter().enumerate() {
        let lag = r.last_ack.elapsed().as_secs();
        let text = format!(
            "ip={},port={},state={},offset={},lag={lag}",
            r.ip(),
            r.listening_port,
            r.state,
            r.acked
        );
        line(&format!("slave{i}"), &text);
    }
    line("master_failover_state", &"no-failover");
    line("master_replid", &ids.replid);
    line("master_replid2", &ids.replid2);
    line("master_repl_offset", &offset);
    line("second_repl_offset", &ids.second_offset.map_or(-1, |o| o as i64 + 1));
    let active = repl.backlog_active();
    line("repl_backlog_active", &(active as u8));
    line("repl_backlog_size", &server.config().get("repl-backlog-size").unwrap_or_default());
    let start = server.write_log.start();
    line("repl_backlog_first_byte_offset", &if active { start + 1 } else { 0 });
    line("repl_backlog_histlen", &if active { offset - start } else { 0 });
    line("rcluster_in_sync", &repl.committed_in_sync().join(","));
    line("rcluster_in_sync_joining", &repl.joining().join(","));
    line("rcluster_discarded_bytes", &repl.discarded_bytes());
}

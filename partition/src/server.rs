//! The server: shared state, the accept loop, background tasks and graceful shutdown.

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::client::ClientRegistry;
use crate::config::Config;
use crate::connection;
use crate::error::Result;
use crate::persist::{Persistence, ShutdownSave};
use crate::state::State;
use crate::write_log::WriteLog;

/// How long connections get to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Connection-level counters (outside the command lock).
#[derive(Debug, Default)]
pub struct NetStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Socket reads and writes (INFO `total_reads_processed` / `total_writes_processed`).
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
}

impl NetStats {
    /// CONFIG RESETSTAT.
    pub fn reset(&self) {
        for c in [
            &self.connections_received,
            &self.rejected_connections,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.reads_processed,
            &self.writes_processed,
        ] {
            c.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Instantaneous rates (INFO `instantaneous_ops_per_sec`, `instantaneous_input_kbps`...), as
/// Redis computes them: the average over the last 16 samples taken every 100 ms.
#[derive(Debug, Default)]
pub struct Rates {
    samples: [(u64, u64, u64); RATE_SAMPLES],
    next: usize,
    last: Option<(Instant, u64, u64, u64)>,
}

const RATE_SAMPLES: usize = 16;

impl Rates {
    /// Records the counters' current totals (commands, input bytes, output bytes).
    pub fn sample(&mut self, now: Instant, commands: u64, input: u64, output: u64) {
        if let Some((at, c, i, o)) = self.last {
            let ms = now.duration_since(at).as_millis().max(1) as u64;
            let per_sec = |now: u64, then: u64| now.saturating_sub(then) * 1000 / ms;
            self.samples[self.next] = (per_sec(commands, c), per_sec(input, i), per_sec(output, o));
            self.next = (self.next + 1) % RATE_SAMPLES;
        }
        self.last = Some((now, commands, input, output));
    }

    /// (ops/sec, input bytes/sec, output bytes/sec), averaged.
    pub fn current(&self) -> (u64, u64, u64) {
        let n = RATE_SAMPLES as u64;
        let sum = self.samples.iter().fold((0, 0, 0), |a, s| (a.0 + s.0, a.1 + s.1, a.2 + s.2));
        (sum.0 / n, sum.1 / n, sum.2 / n)
    }
}

/// State shared by every connection and background task.
pub struct Server {
    state: Mutex<State>,
    config: RwLock<Config>,
    /// Bumped on every configuration change, so connections re-read what applies to them
    /// (idle timeout, `proto-max-bulk-len`).
    config_version: watch::Sender<u64>,
    pub clients: ClientRegistry,
    pub net: NetStats,
    pub rates: Mutex<Rates>,
    pub started: Instant,
    /// Unix milliseconds at start.
    pub started_unix_ms: u64,
    /// A random 40-hex-digit id of this process run (INFO `run_id`).
    pub run_id: String,
    /// The port actually bound (INFO `tcp_port`, CLUSTER answers).
    pub port: u16,
    shutdown: watch::Sender<bool>,
    /// `slowlog-log-slower-than`, mirrored from the config: every command reads it, and an
    /// atomic load is cheaper than the config lock on that path.
    slowlog_threshold: AtomicI64,
    /// The propagated command stream, by offset (the AOF and replicas read it).
    pub write_log: Arc<WriteLog>,
    /// Snapshot, AOF and background children.
    pub persistence: Persistence,
    /// Replication ids, role, replicas and the in-sync set.
    pub replication: crate::replication::Replication,
    /// What SHUTDOWN said about saving.
    shutdown_save: Mutex<ShutdownSave>,
    /// This server, for work that outlives the command that started it (a background save).
    me: std::sync::Weak<Server>,
}

fn random_hex40() -> String {
    (0..40).map(|_| format!("{:x}", rand::random::<u8>() & 0xf)).collect()
}

impl Server {
    pub fn new(config: Config, port: u16) -> Arc<Server> {
        let (shutdown, _) = watch::channel(false);
        let (config_version, _) = watch::channel(0);
        let slowlog_threshold = AtomicI64::new(config.slowlog_log_slower_than);
        Arc::new_cyclic(|me| Server {
            me: me.clone(),
            state: Mutex::new({
                let mut state = State::new();
                state.configure(&config);
                state
            }),
            config: RwLock::new(config),
            config_version,
            clients: ClientRegistry::default(),
            net: NetStats::default(),
            rates: Mutex::new(Rates::default()),
            started: Instant::now(),
            started_unix_ms: crate::time::unix_ms(),
            run_id: random_hex40(),
            port,
            shutdown,
            slowlog_threshold,
            write_log: Arc::new(WriteLog::default()),
            persistence: Persistence::default(),
            replication: Default::default(),
            shutdown_save: Mutex::new(ShutdownSave::Default),
        })
    }

    /// Takes the command lock. A panic inside a command must not wedge the server, so a
    /// poisoned lock is recovered (the panicking command's partial effects are what Redis would
    /// also have left after an assertion, but Redis would have exited).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> RwLockReadGuard<'_, Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    /// `slowlog-log-slower-than` in microseconds (negative: the slow log is off).
    pub fn slowlog_threshold(&self) -> i64 {
        self.slowlog_threshold.load(Ordering::Relaxed)
    }

    /// Changes the configuration and tells every connection to re-read it.
    pub fn update_config<T>(&self, f: impl FnOnce(&mut Config) -> T) -> T {
        let mut config = self.config.write().unwrap_or_else(|e| e.into_inner());
        let result = f(&mut config);
        self.slowlog_threshold.store(config.slowlog_log_slower_than, Ordering::Relaxed);
        self.replication.set_sync_mode(config.get("replication").as_deref() != Some("async"));
        drop(config);
        self.config_version.send_modify(|v| *v += 1);
        result
    }

    /// A receiver that is marked changed after every [`Server::update_config`].
    pub fn config_changes(&self) -> watch::Receiver<u64> {
        self.config_version.subscribe()
    }

    /// A counted reference to this server.
    pub fn arc(&self) -> Arc<Server> {
        self.me.upgrade().expect("a server is only reached through its Arc")
    }

    /// Begins a graceful shutdown (SHUTDOWN, signals).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Begins a graceful shutdown that saves (or not) as SHUTDOWN SAVE|NOSAVE asked.
    pub fn shutdown_saving(&self, save: ShutdownSave) {
        *self.shutdown_save.lock().unwrap_or_else(|e| e.into_inner()) = save;
        self.shutdown();
    }

    /// Moves the commands propagated under the lock `state` is into the write log; returns
    /// the log's end offset when anything was moved. Callers hold the command lock, so the
    /// log's order is the execution order.
    pub fn publish(&self, state: &mut State) -> Option<u64> {
        if state.propagation.is_empty() {
            return None;
        }
        Some(self.write_log.append(state.propagation.take()))
    }

    /// Waits until what the write log holds up to `offset` is as durable as the server
    /// promises before replying: on disk under `appendfsync always`, on every in-sync replica
    /// in sync mode. False when that failed, or when the server was demoted after the replies
    /// were computed (`generation`, see [`crate::replication::Replication::generation`]): the
    /// replies must not be sent, the writes' outcome is unknown.
    pub async fn wait_durable(&self, offset: u64, generation: u64) -> bool {
        if self.replication.generation() != generation {
            // Demoted since the replies were computed: what they acknowledge may be discarded.
            return false;
        }
        if let Some(mut synced) = self.persistence.synced() {
            loop {
                let now = *synced.borrow_and_update();
                if now.offset >= offset {
                    break;
                }
                if now.failed || synced.changed().await.is_err() {
                    return false;
                }
            }
        }
        if self.replication.gates_replies() {
            let ms = self.config().get_i64("isr-timeout-ms").unwrap_or(1000).max(1) as u64;
            let isr_timeout = Duration::from_millis(ms);
            return self.replication.wait_in_sync(offset, isr_timeout, generation).await;
        }
        true
    }

    /// The write-log offset up to which everything is as durable as promised (what
    /// [`Server::wait_durable`] waits for), for pruning [`crate::in_flight`].
    pub fn durable_offset(&self) -> u64 {
        let mut durable = self.write_log.end();
        if let Some(synced) = self.persistence.synced() {
            durable = durable.min(synced.borrow().offset);
        }
        if self.replication.gates_replies() {
            durable = durable.min(self.replication.in_sync_floor());
        }
        durable
    }

    /// Whether replies must wait for [`Server::wait_durable`]: the AOF under `always`, or
    /// replicas in sync mode.
    pub fn gates_replies(&self) -> bool {
        self.persistence.gates_replies() || self.replication.gates_replies()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Serves clients on `listeners` until `shutdown` completes or a client sends SHUTDOWN.
/// This is the entry point of the binary and of in-process tests alike.
pub async fn run(
    listeners: Vec<TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let port =
        listeners.first().and_then(|l| l.local_addr().ok()).map_or(config.port, |a| a.port());
    let server = Server::new(config, port);
    serve(server, listeners, shutdown).await
}

/// Like [`run`], with a server made by the caller (tests inspect it).
pub async fn serve(
    server: Arc<Server>,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    // Under a control plane (`config-endpoints`): checked before anything starts.
    let managed = !server.config().config_endpoints().is_empty();
    let heartbeat = if managed {
        Some(crate::heartbeat::Heartbeat::new(&server).map_err(crate::Error::Config)?)
    } else {
        None
    };
    server.persistence.start(&server)?;
    server
        .replication
        .set_sync_mode(server.config().get("replication").as_deref() != Some("async"));
    for l in &listeners {
        info!(addr = %l.local_addr()?, "partition server listening");
    }
    let mut tasks = JoinSet::new();
    tasks.spawn(crate::expire::active_expiry(server.clone()));
    tasks.spawn(sample_rates(server.clone()));
    tasks.spawn(persistence_cron(server.clone()));
    tasks.spawn(crate::replication::master::ping_replicas(server.clone()));
    // A role the control plane gave survives restarts; a master comes back without a lease.
    crate::role::restore(&server, &mut server.lock()).map_err(crate::Error::Load)?;
    let replicaof = server.config().get("replicaof").unwrap_or_default();
    if let [host, port] = replicaof.split_ascii_whitespace().collect::<Vec<_>>()[..] {
        if let Ok(port) = port.parse() {
            crate::replication::replica::start(&server, &mut server.lock(), host.to_string(), port);
        }
    }
    if let Some(heartbeat) = heartbeat {
        tasks.spawn(heartbeat.run(server.clone()));
    }
    let mut stop = server.shutdown_signal();
    let mut accepts = JoinSet::new();
    for listener in listeners {
        accepts.spawn(accept_loop(server.clone(), listener));
    }
    tokio::pin!(shutdown);
    tokio::select! {
        _ = &mut shutdown => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    info!("shutting down");
    server.shutdown();
    // Stop accepting first (the listeners close when their tasks end), then close clients.
    accepts.abort_all();
    while accepts.join_next().await.is_some() {}
    for client in server.clients.all() {
        client.kill();
    }
    // Connections see the shutdown signal (or their kill) and close; the registry signals
    // when the last one has unregistered. Bounded: a connection stuck writing to a client
    // that does not read must not hold the process.
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, server.clients.wait_empty()).await;
    if drained.is_err() {
        warn!(
            clients = server.clients.len(),
            "connections still open at the end of the grace period"
        );
    }
    tasks.abort_all();
    let save = *server.shutdown_save.lock().unwrap_or_else(|e| e.into_inner());
    let s = server.clone();
    // Blocking file work (the AOF's last fsync, a snapshot) off the runtime's threads.
    let _ = tokio::task::spawn_blocking(move || s.persistence.shutdown(&s, save)).await;
    Ok(())
}

/// Runs the persistence duties (`save` points, AOF rewrites) ten times a second.
async fn persistence_cron(server: Arc<Server>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        server.persistence.cron(&server);
    }
}

async fn accept_loop(server: Arc<Server>, listener: TcpListener) {
    loop {
        let (socket, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(cause = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        server.net.connections_received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(connection::handle(server.clone(), socket, addr));
    }
}

/// Samples the counters behind the instantaneous rates every 100 ms.
async fn sample_rates(server: Arc<Server>) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let commands = server.lock().stats.total_commands;
        let input = server.net.net_input_bytes.load(Relaxed);
        let output = server.net.net_output_bytes.load(Relaxed);
        server.rates.lock().unwrap_or_else(|e| e.into_inner()).sample(
            Instant::now(),
            commands,
            input,
            output,
        );
    }
}

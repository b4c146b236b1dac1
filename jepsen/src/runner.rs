//! One test run, start to finish: a fresh compose cluster, concurrent clients recording every
//! operation, the nemesis cycling faults in and out, healing, final reads, the checker, and the
//! run's folder.
//!
//! The run's folder holds `history.jsonl` (written as operations happen, so a crashed run
//! still leaves its history), `nemesis.json` (the fault timeline), `results.json` (the
//! verdict, counts and anomalies), `logs/<service>.log` for every container and the report's
//! plots (`latency.svg`, `rate.svg`, `timeline.txt`).
//!
//! Time line of a run: clients start; the nemesis waits `quiet`, installs a fault for `fault`,
//! heals, and repeats until `time_limit`; then everything is healed, clients go on for
//! `recovery` so the cluster settles, they stop, and one more process makes the final reads
//! (retried until they succeed or `FINAL_READS_WITHIN` passes).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin_api::{AdminClient, ClusterState};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::checker::{CheckResult, Counts, Validity};
use crate::client::Conn;
use crate::compose::{Compose, ComposeOptions};
use crate::error::{Error, Result};
use crate::history::{Op, Recorder};
use crate::nemesis::{Nemesis, NemesisKind, Target};
use crate::report;
use crate::timeline::{FaultStatus, Timeline};
use crate::workload::{self, Completion, Generator, Invocation, WorkloadKind};

/// How long the final reads may take, retries included.
const FINAL_READS_WITHIN: Duration = Duration::from_secs(60);
/// How long the cluster may take to be healthy again after the last heal.
const HEALTHY_AFTER_HEAL_WITHIN: Duration = Duration::from_secs(60);
/// The first process id of the final reader (clients count up from 0).
const FINAL_READER: u64 = 1 << 32;

/// Everything a run is parameterised by.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub workload: WorkloadKind,
    pub nemesis: NemesisKind,
    /// What `kill` and `pause` act on.
    pub target: Target,
    /// The config service's `--replication`: `sync` (the claim) or `async` (the canary).
    pub replication: String,
    pub time_limit: Duration,
    /// Logical clients, each with its own connection.
    pub concurrency: usize,
    /// Total operations per second over all clients.
    pub rate: f64,
    pub op_timeout: Duration,
    /// Keys in use at a time.
    pub keys: usize,
    /// Healthy time before each fault.
    pub quiet: Duration,
    /// How long each fault lasts.
    pub fault: Duration,
    /// Time after the last heal during which clients continue.
    pub recovery: Duration,
    /// The folder runs are written under; each run gets a subfolder.
    pub out: PathBuf,
    pub compose_file: PathBuf,
    pub seed: u64,
    /// Leave the cluster running after the run (for inspection).
    pub keep: bool,
}

/// What `results.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResults {
    pub valid: Validity,
    pub workload: String,
    pub nemesis: String,
    pub target: String,
    pub replication: String,
    pub time_limit_s: f64,
    pub concurrency: usize,
    pub seed: u64,
    pub operations: usize,
    pub counts: Counts,
    pub faults: FaultCounts,
    /// Whether the cluster reported healthy after the last heal.
    pub recovered: bool,
    /// Final reads that never succeeded (their keys could not be judged).
    pub final_reads_missing: usize,
    pub check: CheckResult,
}

/// How many faults of each status the nemesis produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FaultCounts {
    pub installed: usize,
    pub skipped: usize,
    pub indeterminate: usize,
}

/// A finished run.
#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub results: RunResults,
}

/// What every client shares.
struct Shared {
    kind: WorkloadKind,
    generator: Mutex<Box<dyn Generator>>,
    recorder: Mutex<Recorder<File>>,
    addr: String,
    op_timeout: Duration,
    /// Pause between one client's operations.
    interval: Duration,
    concurrency: u64,
}

impl Shared {
    fn record(&self, op: Op) -> Result<Op> {
        self.recorder.lock().expect("recorder lock").record(op)
    }
}

/// Runs one test.
pub async fn run(opts: RunOptions) -> Result<RunOutcome> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("{}-{}-{}-{stamp}", opts.workload, opts.nemesis, opts.replication);
    let dir = opts.out.join(&name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    info!(dir = %dir.display(), "run folder");

    let mut compose = Compose::new(ComposeOptions {
        file: opts.compose_file.clone(),
        project: format!("jepsen{}", std::process::id()),
        replication: opts.replication.clone(),
    })
    .await?;
    info!(project = compose.project(), "starting the cluster");
    let started = compose.up().await;
    let outcome = match started {
        Ok(()) => drive(&opts, &compose, &dir).await,
        Err(e) => Err(e),
    };
    if let Err(e) = compose.collect_logs(&dir).await {
        warn!(cause = %e, "collecting container logs failed");
    }
    if !opts.keep {
        if let Err(e) = compose.down().await {
            warn!(cause = %e, "removing the cluster failed");
        }
    }
    let results = outcome?;
    Ok(RunOutcome { dir, results })
}

/// The run proper, on a healthy cluster.
async fn drive(opts: &RunOptions, compose: &Compose, dir: &Path) -> Result<RunResults> {
    let admin = AdminClient::new(vec![format!("127.0.0.1:{}", compose.admin_port)])
        .timeout(Duration::from_secs(2));
    let addr = format!("127.0.0.1:{}", compose.redis_port);
    wait_writable(&addr).await?;

    let start = Instant::now();
    let history_path = dir.join("history.jsonl");
    let recorder = Recorder::new(crate::history::HistoryWriter::create(&history_path)?, start);
    let per_client = opts.rate / opts.concurrency.max(1) as f64;
    let shared = Arc::new(Shared {
        kind: opts.workload,
        generator: Mutex::new(workload::generator(opts.workload, opts.keys)),
        recorder: Mutex::new(recorder),
        addr,
        op_timeout: opts.op_timeout,
        interval: Duration::from_secs_f64(1.0 / per_client.max(0.001)),
        concurrency: opts.concurrency as u64,
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let clients: Vec<_> = (0..opts.concurrency as u64)
        .map(|process| {
            let shared = shared.clone();
            let stop = stop_rx.clone();
            let seed = opts.seed.wrapping_add(process);
            tokio::spawn(async move { client(process, seed, shared, stop).await })
        })
        .collect();

    // The nemesis, on this task.
    let mut timeline = Timeline::default();
    let mut nemesis = Nemesis::new(opts.nemesis, opts.target, compose, admin.clone(), start);
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x6e656d65);
    let end = start + opts.time_limit;
    let mut heal_failures = Vec::new();
    if opts.nemesis != NemesisKind::None {
        while Instant::now() + opts.quiet < end {
            tokio::time::sleep(opts.quiet).await;
            let mut fault = nemesis.start(&mut rng).await;
            info!(nemesis = %fault.nemesis, status = ?fault.status, what = %fault.description, "fault");
            let until = (Instant::now() + opts.fault).min(end);
            tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
            if let Err(e) = nemesis.heal(Some(&mut fault)).await {
                heal_failures.push(e.to_string());
            }
            info!(nemesis = %fault.nemesis, "healed");
            timeline.faults.push(fault);
        }
    }
    tokio::time::sleep(end.saturating_duration_since(Instant::now())).await;
    // The final heal, whatever state the cycles left.
    if let Err(e) = nemesis.heal(None).await {
        heal_failures.push(e.to_string());
    }
    if !heal_failures.is_empty() {
        // A fault the harness could not undo taints everything after it.
        return Err(Error::Cluster(format!("healing failed: {}", heal_failures.join("; "))));
    }
    timeline.write(&dir.join("nemesis.json"))?;

    tokio::time::sleep(opts.recovery).await;
    let _ = stop_tx.send(true);
    for c in clients {
        c.await.map_err(|e| Error::Cluster(format!("a client task failed: {e}")))??;
    }
    let recovered = wait_healthy(&admin, opts.replication == "sync").await;
    let final_reads_missing = final_reads(&shared).await?;

    let shared = Arc::into_inner(shared).expect("every client has stopped");
    let (history, _) = shared.recorder.into_inner().expect("recorder lock").finish()?;
    let operations = history.operations()?;
    let check = workload::checker(opts.workload).check(&operations)?;
    let results = RunResults {
        valid: check.valid,
        workload: opts.workload.to_string(),
        nemesis: opts.nemesis.to_string(),
        target: opts.target.to_string(),
        replication: opts.replication.clone(),
        time_limit_s: opts.time_limit.as_secs_f64(),
        concurrency: opts.concurrency,
        seed: opts.seed,
        operations: operations.len(),
        counts: Counts::of(&operations),
        faults: FaultCounts {
            installed: count(&timeline, FaultStatus::Installed),
            skipped: count(&timeline, FaultStatus::Skipped),
            indeterminate: count(&timeline, FaultStatus::Indeterminate),
        },
        recovered,
        final_reads_missing,
        check,
    };
    let path = dir.join("results.json");
    let json = serde_json::to_vec_pretty(&results)
        .map_err(|source| Error::Json { file: path.display().to_string(), source })?;
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
    // The plots are for people; a run whose report cannot be drawn still has its verdict.
    let options = report::Options { timeout: Some(opts.op_timeout), ..Default::default() };
    match report::render_with(dir, &options) {
        Ok(rendered) => info!(%rendered, "report"),
        Err(e) => warn!(cause = %e, "drawing the report failed"),
    }
    Ok(results)
}

fn count(timeline: &Timeline, status: FaultStatus) -> usize {
    timeline.faults.iter().filter(|f| f.status == status).count()
}

/// One logical client: draws operations, runs them, records invoke and completion. After an
/// unknown outcome it becomes a new process (Jepsen's convention: the old one may still have
/// that operation in flight) on a new connection.
async fn client(
    mut process: u64,
    seed: u64,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conn: Option<Conn> = None;
    // Spread the clients' first operations over one interval.
    let jitter = shared.interval.mul_f64(rng.random_range(0.0..1.0));
    tokio::time::sleep(jitter).await;
    while !*stop.borrow() {
        let inv = shared.generator.lock().expect("generator lock").next(&mut rng);
        let (completion, broken) = invoke(&shared, process, &mut conn, &inv).await?;
        if broken {
            conn = None;
        }
        if matches!(completion, Completion::Info(_)) {
            process += shared.concurrency;
        }
        let pause = shared.interval.mul_f64(rng.random_range(0.5..1.5));
        tokio::time::sleep(pause).await;
    }
    Ok(())
}

/// Records and runs one operation; its completion and whether the connection must go.
async fn invoke(
    shared: &Shared,
    process: u64,
    conn: &mut Option<Conn>,
    inv: &Invocation,
) -> Result<(Completion, bool)> {
    let op = shared.record(Op::invoke(process, inv.f, Some(&inv.key), inv.value.clone()))?;
    if conn.is_none() {
        match Conn::connect(&shared.addr, shared.op_timeout).await {
            Ok(c) => *conn = Some(c),
            Err(e) => {
                // Nothing was sent.
                let completion = Completion::Fail(format!("connect: {e}"));
                shared.record(op.fail(format!("connect: {e}")))?;
                return Ok((completion, true));
            }
        }
    }
    let c = conn.as_mut().expect("connected above");
    let completion = workload::apply(shared.kind, c, inv).await;
    let broken = matches!(completion, Completion::Info(_));
    match &completion {
        Completion::Ok(value) => shared.record(op.ok(value.clone()))?,
        Completion::Fail(why) => shared.record(op.fail(why.clone()))?,
        Completion::Info(why) => shared.record(op.info(why.clone()))?,
    };
    Ok((completion, broken))
}

/// The final reads, each retried until it succeeds; how many never did.
async fn final_reads(shared: &Shared) -> Result<usize> {
    let reads = shared.generator.lock().expect("generator lock").final_reads();
    let deadline = Instant::now() + FINAL_READS_WITHIN;
    let mut process = FINAL_READER;
    let mut conn = None;
    let mut missing = 0;
    for inv in &reads {
        loop {
            let (completion, broken) = invoke(shared, process, &mut conn, inv).await?;
            if broken {
                conn = None;
            }
            match completion {
                Completion::Ok(_) => break,
                Completion::Info(_) => process += 1,
                Completion::Fail(_) => {}
            }
            if Instant::now() >= deadline {
                missing += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(missing)
}

/// Waits until a write through the proxies succeeds: the cluster has formed.
async fn wait_writable(addr: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        match Conn::connect(addr, Duration::from_secs(2)).await {
            Ok(mut c) => match c.call(&["SET", "jepsen:ready", "1"]).await {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(Error::Cluster(format!("no write through {addr} succeeded within 60 s: {last}")))
}

/// Waits until every shard has a healthy master and every replica is healthy and linked (and
/// in sync, in sync mode: async replicas never join an in-sync set); whether it happened in
/// time.
async fn wait_healthy(admin: &AdminClient, sync: bool) -> bool {
    let deadline = Instant::now() + HEALTHY_AFTER_HEAL_WITHIN;
    while Instant::now() < deadline {
        if let Ok(view) = admin.cluster().await {
            let replicas_ok = view
                .shards
                .iter()
                .flat_map(|s| &s.replicas)
                .all(|r| r.healthy && r.link_up && (r.in_sync || !sync));
            let serving = !matches!(view.state, ClusterState::Empty | ClusterState::Unavailable);
            if serving && replicas_ok {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

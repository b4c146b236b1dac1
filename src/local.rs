//! `rcluster local`: a whole cluster on 127.0.0.1 — three config servers, `shards` × (master +
//! replica) partition servers and the proxies — each its own child process of this binary, so
//! that a user can `kill -9` any one of them and watch the cluster heal.
//!
//! The supervisor starts the children, waits until the cluster is formed and healthy, prints
//! the endpoints, then follows the children: a child that dies is reported (and with
//! `--respawn` started again after a delay, so the user sees it rejoin). Ctrl-C or SIGTERM
//! stops every child (SIGTERM, then SIGKILL after a grace period); children also get SIGTERM
//! from the kernel if the supervisor itself dies (`PR_SET_PDEATHSIG`), so none is left behind.
//!
//! Everything lives under `--dir`: one folder per child, their logs in `logs/`, and
//! `local.json`, the topology of the first run. A re-run on the same folder uses that topology
//! (the cluster map names the servers by address, so the ports must not move) and comes back
//! with the same data: partition servers run with the AOF on.

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// `rcluster local …`
#[derive(Debug, Clone, clap::Args)]
pub struct LocalArgs {
    /// Where every server keeps its data and log.
    #[arg(long, default_value = "./data")]
    pub dir: PathBuf,
    /// Shards (each a master and a replica). Default: the plan's, or 3.
    #[arg(long)]
    pub shards: Option<u32>,
    /// Proxies. Default: 2 (a plan's proxy count is for a real deployment; pass --proxies to
    /// run them all).
    #[arg(long)]
    pub proxies: Option<u32>,
    /// A plan (16GB, 32GB, 64GB, 128GB, 256GB): its shard count and per-shard maxmemory.
    #[arg(long)]
    pub plan: Option<String>,
    /// sync: a write is acknowledged once the shard's in-sync replica has it (no acknowledged
    /// write is lost in a failover); async: Redis's behaviour.
    #[arg(long, value_enum, default_value = "sync")]
    pub replication: config_service::config::ReplicationMode,
    /// The first proxy's port; the others follow.
    #[arg(long, default_value_t = 6379)]
    pub proxy_port: u16,
    /// The first partition server's port; the others follow.
    #[arg(long, default_value_t = 7000)]
    pub partition_port: u16,
    /// The first config server's port; the others follow.
    #[arg(long, default_value_t = 9000)]
    pub config_port: u16,
    /// Start a child that died again after this delay (off: report it only).
    #[arg(long)]
    pub respawn: bool,
    #[arg(long, default_value_t = 2000)]
    pub respawn_delay_ms: u64,
    /// How long to wait for the cluster to form.
    #[arg(long, default_value_t = 60)]
    pub ready_timeout_secs: u64,
}

/// The topology of a local cluster, kept in `<dir>/local.json` by the first run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Topology {
    shards: u32,
    proxies: u32,
    maxmemory: u64,
    plan: Option<String>,
    replication: String,
    proxy_port: u16,
    partition_port: u16,
    config_port: u16,
}

const CONFIG_SERVERS: u16 = 3;
const TOPOLOGY_FILE: &str = "local.json";

impl Topology {
    fn from_args(args: &LocalArgs) -> anyhow::Result<Topology> {
        let plan = match &args.plan {
            Some(name) => Some(admin_api::types::plan(name).with_context(|| {
                let names: Vec<&str> = admin_api::types::PLANS.iter().map(|p| p.name).collect();
                format!("unknown plan {name:?}; the plans are {}", names.join(", "))
            })?),
            None => None,
        };
        let shards = args.shards.or(plan.map(|p| p.shards)).unwrap_or(3);
        let proxies = args.proxies.unwrap_or(2);
        if shards == 0 || shards > 64 {
            bail!("--shards must be within 1-64 on one machine, not {shards}");
        }
        if proxies > 16 {
            bail!("--proxies must be within 0-16, not {proxies}");
        }
        let replication = match args.replication {
            config_service::config::ReplicationMode::Sync => "sync",
            config_service::config::ReplicationMode::Async => "async",
        };
        Ok(Topology {
            shards,
            proxies,
            maxmemory: plan.map_or(0, |p| p.maxmemory),
            plan: plan.map(|p| p.name.to_string()),
            replication: replication.into(),
            proxy_port: args.proxy_port,
            partition_port: args.partition_port,
            config_port: args.config_port,
        })
    }

    fn config_ports(&self) -> Vec<u16> {
        (0..CONFIG_SERVERS).map(|i| self.config_port + i).collect()
    }

    fn partition_ports(&self) -> Vec<u16> {
        (0..self.shards as u16 * 2).map(|i| self.partition_port + i).collect()
    }

    fn proxy_ports(&self) -> Vec<u16> {
        (0..self.proxies as u16).map(|i| self.proxy_port + i).collect()
    }

    fn config_urls(&self) -> Vec<String> {
        self.config_ports().iter().map(|p| format!("http://127.0.0.1:{p}")).collect()
    }
}

/// One child: what to run, and the process while it runs.
struct Member {
    name: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    /// When a dead child is to be started again (`--respawn`).
    restart_at: Option<Instant>,
}

impl Member {
    fn start(&mut self, exe: &Path) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = Command::new(exe);
        command.args(&self.args).stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        // SAFETY: prctl and setpgid only change this (forked, not yet exec'd) child's own
        // process attributes; both are async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                // Die with the supervisor, however it dies.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which
                // then stops the children in order.
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        self.child = Some(command.spawn().with_context(|| format!("starting {}", self.name))?);
        self.restart_at = None;
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

/// Runs the local cluster until Ctrl-C / SIGTERM.
pub fn run(args: LocalArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(args.dir.join("logs"))
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let wanted = Topology::from_args(&args)?;
    let topology = load_or_store_topology(&args.dir, &wanted)?;
    let exe = std::env::current_exe().context("finding this binary")?;
    let mut members = members(&args.dir, &topology);

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }

    for member in &mut members {
        member.start(&exe)?;
    }
    let ready = wait_until_healthy(&topology, &mut members, &stop, args.ready_timeout_secs);
    match ready {
        Ok(()) => print_endpoints(&args.dir, &topology, &members),
        Err(e) => {
            stop_all(&mut members);
            return Err(e);
        }
    }

    while !stop.load(Ordering::Relaxed) {
        follow(&exe, &mut members, &args);
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("stopping {} processes…", members.iter().filter(|m| m.child.is_some()).count());
    stop_all(&mut members);
    println!("stopped; data kept in {}", args.dir.display());
    Ok(())
}

/// The stored topology, or `wanted` stored as the first run's. A later run that asks for
/// another topology is told so: the cluster map names servers by address, so a different
/// layout would need a new folder.
fn load_or_store_topology(dir: &Path, wanted: &Topology) -> anyhow::Result<Topology> {
    let path = dir.join(TOPOLOGY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let stored: Topology = serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not a topology this version reads", path.display())
            })?;
            if stored != *wanted {
                eprintln!(
                    "note: {} holds a cluster made with other settings; using those ({} shards, {} proxies); \
                     use another --dir for a new cluster",
                    dir.display(),
                    stored.shards,
                    stored.proxies
                );
            }
            Ok(stored)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = serde_json::to_vec_pretty(wanted)?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Ok(wanted.clone())
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Every child of `topology`: config servers first (the others wait for them anyway).
fn members(dir: &Path, topology: &Topology) -> Vec<Member> {
    let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let logs = abs(dir.join("logs"));
    let urls = topology.config_urls().join(",");
    let peers: Vec<String> = topology
        .config_ports()
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
        .collect();
    let mut members = Vec::new();
    for (i, port) in topology.config_ports().into_iter().enumerate() {
        let id = i + 1;
        let mut args: Vec<String> = vec![
            "config-service".into(),
            "--id".into(),
            id.to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--peers".into(),
            peers.join(","),
            "--dir".into(),
            abs(dir.join(format!("config-{id}"))).display().to_string(),
            "--init-shards".into(),
            topology.shards.to_string(),
            "--replication".into(),
            topology.replication.clone(),
        ];
        if let Some(plan) = &topology.plan {
            args.extend(["--init-plan".into(), plan.clone()]);
        }
        members.push(Member {
            name: format!("config-{id} (:{port})"),
            args,
            log: logs.join(format!("config-{id}.log")),
            child: None,
            restart_at: None,
        });
    }
    for port in topology.partition_ports() {
        let data = abs(dir.join(format!("partition-{port}")));
        let _ = std::fs::create_dir_all(&data);
        members.push(Member {
            name: format!("partition :{port}"),
            args: vec![
                "partition".into(),
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--dir".into(),
                data.display().to_string(),
                "--appendonly".into(),
                "yes".into(),
                "--replication".into(),
                topology.replication.clone(),
                "--config-endpoints".into(),
                urls.clone(),
                "--announce-addr".into(),
                format!("127.0.0.1:{port}"),
            ],
            log: logs.join(format!("partition-{port}.log")),
            child: None,
            restart_at: None,
        });
    }
    for port in topology.proxy_ports() {
        members.push(Member {
            name: format!("proxy :{port}"),
            args: vec![
                "proxy".into(),
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--config-endpoints".into(),
                urls.clone(),
            ],
            log: logs.join(format!("proxy-{port}.log")),
            child: None,
            restart_at: None,
        });
    }
    members
}

/// Waits until the config service reports a healthy cluster, every proxy accepts connections
/// and no child died on the way.
fn wait_until_healthy(
    topology: &Topology,
    members: &mut [Member],
    stop: &AtomicBool,
    timeout_secs: u64,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let admin = admin_api::AdminClient::new(topology.config_urls()).timeout(Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    print!("starting {} processes ", members.len());
    let _ = std::io::stdout().flush();
    let mut dots = Instant::now();
    loop {
        for member in members.iter_mut() {
            if let Some(status) = member.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                println!();
                bail!(
                    "{} exited during start-up ({}); see {}",
                    member.name,
                    describe(status),
                    member.log.display()
                );
            }
        }
        if stop.load(Ordering::Relaxed) {
            println!();
            bail!("interrupted");
        }
        let healthy = runtime
            .block_on(admin.cluster())
            .is_ok_and(|view| view.state == admin_api::types::ClusterState::Healthy);
        let proxies_up = topology
            .proxy_ports()
            .iter()
            .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
        if healthy && proxies_up {
            println!(" ready");
            return Ok(());
        }
        if Instant::now() > deadline {
            println!();
            bail!(
                "the cluster was not healthy within {timeout_secs} s; logs are in the logs/ folder"
            );
        }
        if dots.elapsed() > Duration::from_millis(500) {
            print!(".");
            let _ = std::io::stdout().flush();
            dots = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn print_endpoints(dir: &Path, topology: &Topology, members: &[Member]) {
    let proxies: Vec<String> =
        topology.proxy_ports().iter().map(|p| format!("127.0.0.1:{p}")).collect();
    println!();
    println!(
        "rcluster is running: {} shards (master + replica each, replication {}), {} config servers, {} proxies",
        topology.shards, topology.replication, CONFIG_SERVERS, topology.proxies
    );
    if let Some(first) = topology.proxy_ports().first() {
        println!("  connect:     redis-cli -p {first}        (proxies: {})", proxies.join(", "));
    }
    println!("  admin API:   {}        rcluster admin status", topology.config_urls()[0]);
    println!("  data, logs:  {}", dir.display());
    println!();
    println!("  {:<22} {:>8}", "process", "pid");
    for m in members {
        println!("  {:<22} {:>8}", m.name, m.pid().map_or_else(|| "-".into(), |p| p.to_string()));
    }
    println!();
    println!("kill -9 any of them to watch the cluster fail over; Ctrl-C stops everything.");
}

/// Reports children that died and, with `--respawn`, starts them again after the delay.
fn follow(exe: &Path, members: &mut [Member], args: &LocalArgs) {
    for member in members.iter_mut() {
        if let Some(child) = member.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let pid = child.id();
                member.child = None;
                let again = if args.respawn {
                    member.restart_at =
                        Some(Instant::now() + Duration::from_millis(args.respawn_delay_ms));
                    format!("; restarting it in {} ms", args.respawn_delay_ms)
                } else {
                    String::new()
                };
                println!("{} (pid {pid}) exited: {}{again}", member.name, describe(status));
            }
        }
        if member.restart_at.is_some_and(|at| Instant::now() >= at) {
            match member.start(exe) {
                Ok(()) => println!("{} restarted (pid {})", member.name, member.pid().unwrap_or(0)),
                Err(e) => {
                    println!("{} could not be restarted: {e:#}", member.name);
                    member.restart_at = None;
                }
            }
        }
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(9)) => "killed (SIGKILL)".into(),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "unknown".into(),
    }
}

/// SIGTERM to every child (proxies first, config servers last, so nothing fails over on the
/// way down), then SIGKILL to those still running after a grace period.
fn stop_all(members: &mut [Member]) {
    for member in members.iter().rev() {
        if let Some(pid) = member.pid() {
            // SAFETY: kill(2) on a child we spawned and have not reaped.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for member in members.iter_mut().rev() {
        if let Some(mut child) = member.child.take() {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> LocalArgs {
        LocalArgs {
            dir: "./data".into(),
            shards: None,
            proxies: None,
            plan: None,
            replication: config_service::config::ReplicationMode::Sync,
            proxy_port: 6379,
            partition_port: 7000,
            config_port: 9000,
            respawn: false,
            respawn_delay_ms: 2000,
            ready_timeout_secs: 60,
        }
    }

    #[test]
    fn the_default_topology_is_three_shards_and_two_proxies() {
        let t = Topology::from_args(&args()).unwrap();
        assert_eq!((t.shards, t.proxies, t.maxmemory), (3, 2, 0));
        assert_eq!(t.partition_ports(), vec![7000, 7001, 7002, 7003, 7004, 7005]);
        assert_eq!(t.proxy_ports(), vec![6379, 6380]);
        assert_eq!(t.config_urls()[2], "http://127.0.0.1:9002");
    }

    #[test]
    fn a_plan_sets_shards_and_memory_and_flags_override() {
        let mut a = args();
        a.plan = Some("32gb".into());
        let t = Topology::from_args(&a).unwrap();
        assert_eq!((t.shards, t.maxmemory, t.plan.as_deref()), (8, 4 << 30, Some("32GB")));
        a.shards = Some(2);
        assert_eq!(Topology::from_args(&a).unwrap().shards, 2);
        a.plan = Some("3GB".into());
        let e = Topology::from_args(&a).unwrap_err().to_string();
        assert!(e.contains("unknown plan") && e.contains("16GB"), "{e}");
    }

    #[test]
    fn members_cover_every_process_with_its_own_folder_and_log() {
        let t = Topology::from_args(&args()).unwrap();
        let dir = std::env::temp_dir().join(format!("rcluster-local-unit-{}", std::process::id()));
        let m = members(&dir, &t);
        assert_eq!(m.len(), 3 + 6 + 2);
        assert_eq!(m[0].args[..3], ["config-service", "--id", "1"]);
        assert!(m[3].args.windows(2).any(|w| w == ["--announce-addr", "127.0.0.1:7000"]));
        assert!(m[3].args.windows(2).any(|w| w == ["--appendonly", "yes"]));
        assert_eq!(m[10].args[..3], ["proxy", "--port", "6380"]);
        let logs: std::collections::BTreeSet<&PathBuf> = m.iter().map(|m| &m.log).collect();
        assert_eq!(logs.len(), m.len(), "one log per process");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Cluster control: the project's own `docker-compose.yml` driven through the docker CLI.
//!
//! A run owns one compose project with a unique name and free host ports, so it never touches
//! a cluster someone else runs (or the CI's compose test). [`Compose::up`] starts it from
//! scratch (`down -v` first: no data survives from an earlier run), waits until every service
//! reports healthy, and [`Compose::down`] removes it with its volumes. Containers are addressed
//! by service name (`partition-3`); their ids, PIDs and addresses come from `docker inspect`.
//!
//! Both `docker compose` (v2) and the standalone `docker-compose` (v1) work: the first one found
//! is used. The images must exist (`bash docker/build.sh`); nothing is pulled.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;

use crate::error::{Error, Result};

/// How long one docker CLI call may take before it counts as hung.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `up` waits for every service to be healthy.
const HEALTHY_WITHIN: Duration = Duration::from_secs(180);

/// The services of the compose file, by role.
pub const CONFIG_SERVICES: [&str; 3] = ["config-1", "config-2", "config-3"];
pub const PARTITION_SERVICES: [&str; 6] =
    ["partition-1", "partition-2", "partition-3", "partition-4", "partition-5", "partition-6"];
pub const PROXY_SERVICES: [&str; 2] = ["proxy-1", "proxy-2"];
/// The load balancer clients connect through; it stands for the clients' side of the network
/// and is never partitioned.
pub const LB_SERVICE: &str = "lb";

/// Every service that nemeses may partition, kill or pause.
pub fn cluster_services() -> Vec<&'static str> {
    CONFIG_SERVICES
        .iter()
        .chain(PARTITION_SERVICES.iter())
        .chain(PROXY_SERVICES.iter())
        .copied()
        .collect()
}

/// Where and how to run the compose project.
#[derive(Debug, Clone)]
pub struct ComposeOptions {
    /// The compose file (the repository's `docker-compose.yml`).
    pub file: PathBuf,
    /// The compose project name; unique per run.
    pub project: String,
    /// `sync` or `async`: the config service's `--replication`.
    pub replication: String,
}

/// A running (or about to run) compose project.
#[derive(Debug)]
pub struct Compose {
    opts: ComposeOptions,
    program: Vec<String>,
    /// Host port of the load balancer's Redis endpoint (the proxies).
    pub redis_port: u16,
    /// Host port of the load balancer's admin endpoint (any config server).
    pub admin_port: u16,
    metrics_ports: [u16; 2],
    /// Container ids by service, filled by `up`.
    ids: BTreeMap<String, String>,
}

impl Compose {
    /// Picks the compose program and free host ports.
    pub async fn new(opts: ComposeOptions) -> Result<Compose> {
        let v2 = Command::new("docker")
            .args(["compose", "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        let program = if v2.is_ok_and(|s| s.success()) {
            vec!["docker".to_string(), "compose".to_string()]
        } else {
            vec!["docker-compose".to_string()]
        };
        let ports = free_ports(4)?;
        Ok(Compose {
            opts,
            program,
            redis_port: ports[0],
            admin_port: ports[1],
            metrics_ports: [ports[2], ports[3]],
            ids: BTreeMap::new(),
        })
    }

    /// The project's name.
    pub fn project(&self) -> &str {
        &self.opts.project
    }

    /// Runs `compose <args>` for this project; the output on success.
    pub async fn compose(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..])
            .args(["-p", &self.opts.project, "-f"])
            .arg(&self.opts.file)
            .args(args)
            .env("RCLUSTER_PORT", self.redis_port.to_string())
            .env("RCLUSTER_ADMIN_PORT", self.admin_port.to_string())
            .env("RCLUSTER_PROXY1_METRICS_PORT", self.metrics_ports[0].to_string())
            .env("RCLUSTER_PROXY2_METRICS_PORT", self.metrics_ports[1].to_string())
            .env("RCLUSTER_REPLICATION", &self.opts.replication);
        run(cmd, &format!("compose {}", args.join(" "))).await
    }

    /// Starts the project from nothing and waits until every service is healthy.
    pub async fn up(&mut self) -> Result<()> {
        self.compose(&["down", "-v", "--remove-orphans"]).await?;
        self.compose(&["up", "-d"]).await?;
        let mut services = cluster_services();
        services.push(LB_SERVICE);
        for service in services {
            let id = self.compose(&["ps", "-q", service]).await?;
            let id = id.trim();
            if id.is_empty() {
                return Err(Error::Cluster(format!("service {service} has no container")));
            }
            self.ids.insert(service.to_string(), id.to_string());
        }
        self.wait_healthy(HEALTHY_WITHIN).await
    }

    /// Waits until every container with a healthcheck reports healthy.
    pub async fn wait_healthy(&self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let mut unhealthy = Vec::new();
            for (service, id) in &self.ids {
                let status = docker(&[
                    "inspect",
                    "-f",
                    "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
                    id,
                ])
                .await?;
                let status = status.trim();
                if status != "healthy" && status != "running" {
                    unhealthy.push(format!("{service}={status}"));
                }
            }
            if unhealthy.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Cluster(format!(
                    "not healthy within {within:?}: {}",
                    unhealthy.join(", ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The container id of a service.
    pub fn id(&self, service: &str) -> Result<&str> {
        self.ids
            .get(service)
            .map(String::as_str)
            .ok_or_else(|| Error::Cluster(format!("no container for service {service}")))
    }

    /// The host PID of a service's main process (0 when the container is not running).
    pub async fn pid(&self, service: &str) -> Result<u32> {
        let out = self.inspect(service, "{{.State.Pid}}").await?;
        out.trim().parse().map_err(|_| Error::Cluster(format!("{service}: bad pid {out:?}")))
    }

    /// The service's address on the project network.
    pub async fn ip(&self, service: &str) -> Result<String> {
        let out = docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            self.id(service)?,
        ])
        .await?;
        out.split_whitespace()
            .next()
            .map(str::to_string)
            .ok_or_else(|| Error::Cluster(format!("{service} has no address")))
    }

    /// `docker <verb> <container>` for a service: `kill` (SIGKILL), `start`, `pause`,
    /// `unpause`.
    pub async fn container(&self, verb: &str, service: &str) -> Result<()> {
        let id = self.id(service)?.to_string();
        let args: Vec<&str> = match verb {
            "kill" => vec!["kill", "-s", "KILL", &id],
            _ => vec![verb, &id],
        };
        docker(&args).await.map(drop)
    }

    /// `docker inspect -f <format>` of a service's container.
    async fn inspect(&self, service: &str, format: &str) -> Result<String> {
        docker(&["inspect", "-f", format, self.id(service)?]).await
    }

    /// Whether a service's container is running and not paused.
    pub async fn running(&self, service: &str) -> Result<bool> {
        Ok(self.inspect(service, "{{.State.Status}}").await?.trim() == "running")
    }

    /// Whether a service's container is paused.
    pub async fn paused(&self, service: &str) -> Result<bool> {
        Ok(self.inspect(service, "{{.State.Status}}").await?.trim() == "paused")
    }

    /// Writes every container's log to `<dir>/logs/<service>.log`.
    pub async fn collect_logs(&self, dir: &Path) -> Result<()> {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
        for (service, id) in &self.ids {
            let mut cmd = Command::new("docker");
            cmd.args(["logs", "--timestamps", id]);
            let out = tokio::time::timeout(DOCKER_TIMEOUT, cmd.output())
                .await
                .map_err(|_| Error::Cluster(format!("docker logs {service} hung")))?
                .map_err(|e| Error::Cluster(format!("docker logs {service}: {e}")))?;
            let mut text = out.stdout;
            text.extend_from_slice(&out.stderr);
            let path = logs.join(format!("{service}.log"));
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// Removes the project and its volumes.
    pub async fn down(&self) -> Result<()> {
        self.compose(&["down", "-v", "--remove-orphans", "-t", "5"]).await.map(drop)
    }
}

/// Runs `docker <args>`; its stdout on success.
pub async fn docker(args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("docker");
    cmd.args(args);
    run(cmd, &format!("docker {}", args.join(" "))).await
}

async fn run(mut cmd: Command, what: &str) -> Result<String> {
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(DOCKER_TIMEOUT, cmd.output())
        .await
        .map_err(|_| Error::Cluster(format!("{what}: no answer in {DOCKER_TIMEOUT:?}")))?
        .map_err(|e| Error::Cluster(format!("{what}: {e}")))?;
    if !out.status.success() {
        return Err(Error::Cluster(format!(
            "{what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `n` distinct free TCP ports on the host (bound then released: a race with other programs
/// is possible but harmless, compose then fails to start and says so).
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::Cluster(format!("no free port: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::Cluster(format!("no free port: {e}")))
}

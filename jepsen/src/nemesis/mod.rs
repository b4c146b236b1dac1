//! Nemeses: the faults a run injects, and healing them.
//!
//! A nemesis acts in cycles the runner schedules: [`Nemesis::start`] installs one fault and
//! returns its [`Fault`] record (installed, skipped when there is nothing to act on, or
//! indeterminate when a command to install it failed half-way), and [`Nemesis::heal`] undoes
//! it. [`Nemesis::heal`] is also called once at the end of the run, whatever happened; it
//! heals everything the nemesis can have done (every partition rule, every killed or paused
//! container), not just the last fault.
//!
//! | name | fault |
//! |---|---|
//! | `none` | nothing (a baseline run) |
//! | `partition-master` | one shard master cut off from every config and partition server (its replica too); the proxies still reach it |
//! | `partition-config-leader` | the config service's leader cut off from every other service |
//! | `partition-halves` | the services split at random into a majority and a minority |
//! | `bridge` | two halves that only a bridge service connects |
//! | `kill` | `kill -9` of one `--target` (master, replica, config, proxy), restarted at heal |
//! | `pause` | SIGSTOP of one `--target` (`docker pause`), SIGCONT at heal |
//! | `mix` | each cycle one of the above at random (kill and pause with a random target) |

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use admin_api::AdminClient;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};

use crate::compose::{
    cluster_services, Compose, CONFIG_SERVICES, PARTITION_SERVICES, PROXY_SERVICES,
};
use crate::error::Result;
use crate::net;
use crate::timeline::{Fault, FaultStatus};
use crate::topology;

/// The nemeses the runner knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NemesisKind {
    None,
    PartitionMaster,
    PartitionConfigLeader,
    PartitionHalves,
    Bridge,
    Kill,
    Pause,
    Mix,
}

impl FromStr for NemesisKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "none" => NemesisKind::None,
            "partition-master" => NemesisKind::PartitionMaster,
            "partition-config-leader" => NemesisKind::PartitionConfigLeader,
            "partition-halves" => NemesisKind::PartitionHalves,
            "bridge" => NemesisKind::Bridge,
            "kill" => NemesisKind::Kill,
            "pause" => NemesisKind::Pause,
            "mix" => NemesisKind::Mix,
            _ => {
                return Err(format!(
                    "unknown nemesis {s:?}: none, partition-master, partition-config-leader, \
                     partition-halves, bridge, kill, pause or mix"
                ))
            }
        })
    }
}

impl fmt::Display for NemesisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NemesisKind::None => "none",
            NemesisKind::PartitionMaster => "partition-master",
            NemesisKind::PartitionConfigLeader => "partition-config-leader",
            NemesisKind::PartitionHalves => "partition-halves",
            NemesisKind::Bridge => "bridge",
            NemesisKind::Kill => "kill",
            NemesisKind::Pause => "pause",
            NemesisKind::Mix => "mix",
        })
    }
}

/// Which kind of service `kill` and `pause` act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Master,
    Replica,
    Config,
    Proxy,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "master" => Target::Master,
            "replica" => Target::Replica,
            "config" => Target::Config,
            "proxy" => Target::Proxy,
            _ => return Err(format!("unknown target {s:?}: master, replica, config or proxy")),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Master => "master",
            Target::Replica => "replica",
            Target::Config => "config",
            Target::Proxy => "proxy",
        })
    }
}

/// A nemesis bound to a cluster.
pub struct Nemesis<'a> {
    kind: NemesisKind,
    target: Target,
    compose: &'a Compose,
    admin: AdminClient,
    start: Instant,
    /// Containers killed or paused and not yet brought back.
    killed: Vec<String>,
    paused: Vec<String>,
}

impl<'a> Nemesis<'a> {
    /// `start` is the run's time origin (the history's clock).
    pub fn new(
        kind: NemesisKind,
        target: Target,
        compose: &'a Compose,
        admin: AdminClient,
        start: Instant,
    ) -> Self {
        Nemesis { kind, target, compose, admin, start, killed: vec![], paused: vec![] }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Installs one fault.
    pub async fn start(&mut self, rng: &mut StdRng) -> Fault {
        let begin = self.now();
        let (kind, target) = match self.kind {
            NemesisKind::Mix => {
                const KINDS: [NemesisKind; 6] = [
                    NemesisKind::PartitionMaster,
                    NemesisKind::PartitionConfigLeader,
                    NemesisKind::PartitionHalves,
                    NemesisKind::Bridge,
                    NemesisKind::Kill,
                    NemesisKind::Pause,
                ];
                const TARGETS: [Target; 4] =
                    [Target::Master, Target::Replica, Target::Config, Target::Proxy];
                (*KINDS.choose(rng).unwrap(), *TARGETS.choose(rng).unwrap())
            }
            other => (other, self.target),
        };
        let (status, description) = match self.install(kind, target, rng).await {
            Ok(Some(description)) => (FaultStatus::Installed, description),
            Ok(None) => (FaultStatus::Skipped, format!("{kind}: nothing to act on")),
            Err(e) => (FaultStatus::Indeterminate, format!("{kind}: {e}")),
        };
        Fault { nemesis: kind.to_string(), description, start: begin, end: None, status }
    }

    /// Heals everything this nemesis may have done; stamps `fault`'s end when given.
    pub async fn heal(&mut self, fault: Option<&mut Fault>) -> Result<()> {
        let mut first_error = None;
        let services: Vec<String> = cluster_services().into_iter().map(String::from).collect();
        if let Err(e) = net::heal(self.compose, &services).await {
            first_error.get_or_insert(e);
        }
        for service in std::mem::take(&mut self.paused) {
            // A pause that failed half-way ("unable to freeze", seen under load) leaves the
            // container running, and unpausing it is an error: only what is paused is resumed.
            let paused = self.compose.paused(&service).await;
            let resumed = match paused {
                Ok(true) => self.compose.container("unpause", &service).await,
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = resumed {
                first_error.get_or_insert(e);
            }
        }
        for service in std::mem::take(&mut self.killed) {
            if let Err(e) = self.compose.container("start", &service).await {
                first_error.get_or_insert(e);
            }
        }
        if let Some(fault) = fault {
            fault.end = Some(self.now());
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Installs a fault of `kind`; its description, or `None` when there was nothing to do.
    async fn install(
        &mut self,
        kind: NemesisKind,
        target: Target,
        rng: &mut StdRng,
    ) -> Result<Option<String>> {
        let all: Vec<String> = cluster_services().into_iter().map(String::from).collect();
        match kind {
            NemesisKind::None | NemesisKind::Mix => Ok(None),
            NemesisKind::PartitionMaster => {
                let topo = topology::read(&self.admin).await?;
                let Some(victim) = topo.masters().choose(rng).cloned() else {
                    return Ok(None);
                };
                // The proxies are the clients' side of the network: they keep reaching the
                // master, so clients keep writing to a master that can no longer replicate
                // or hear from the config service — the case that loses writes in Redis.
                let servers: Vec<String> = CONFIG_SERVICES
                    .iter()
                    .chain(PARTITION_SERVICES.iter())
                    .map(|s| s.to_string())
                    .collect();
                net::apply(self.compose, &net::isolate(&victim, &servers)).await?;
                Ok(Some(format!(
                    "cut {victim} (a shard master) off from every config and partition server"
                )))
            }
            NemesisKind::PartitionConfigLeader => {
                let topo = topology::read(&self.admin).await?;
                let Some(victim) = topo.config_leader else {
                    return Ok(None);
                };
                net::apply(self.compose, &net::isolate(&victim, &all)).await?;
                Ok(Some(format!("isolate {victim} (the config leader)")))
            }
            NemesisKind::PartitionHalves => {
                let mut nodes = all;
                nodes.shuffle(rng);
                let (minority, majority) = nodes.split_at(nodes.len() / 2);
                net::apply(self.compose, &net::split(minority, majority)).await?;
                Ok(Some(format!("minority {minority:?} | majority {majority:?}")))
            }
            NemesisKind::Bridge => {
                let mut nodes = all;
                nodes.shuffle(rng);
                net::apply(self.compose, &net::bridge(&nodes)).await?;
                let mid = nodes.len() / 2;
                Ok(Some(format!(
                    "{:?} | bridge {} | {:?}",
                    &nodes[..mid],
                    nodes[mid],
                    &nodes[mid + 1..]
                )))
            }
            NemesisKind::Kill => {
                let Some(victim) = self.pick(target, rng).await? else {
                    return Ok(None);
                };
                self.killed.push(victim.clone());
                self.compose.container("kill", &victim).await?;
                Ok(Some(format!("kill -9 {victim} ({target})")))
            }
            NemesisKind::Pause => {
                let Some(victim) = self.pick(target, rng).await? else {
                    return Ok(None);
                };
                self.paused.push(victim.clone());
                self.compose.container("pause", &victim).await?;
                Ok(Some(format!("pause {victim} ({target})")))
            }
        }
    }

    /// A running service of the target kind, chosen at random.
    async fn pick(&self, target: Target, rng: &mut StdRng) -> Result<Option<String>> {
        let candidates: Vec<String> = match target {
            Target::Master => topology::read(&self.admin).await?.masters(),
            Target::Replica => topology::read(&self.admin).await?.replicas(),
            Target::Config => CONFIG_SERVICES.iter().map(|s| s.to_string()).collect(),
            Target::Proxy => PROXY_SERVICES.iter().map(|s| s.to_string()).collect(),
        };
        let mut running = Vec::new();
        for c in candidates {
            if self.compose.running(&c).await? {
                running.push(c);
            }
        }
        Ok(running.choose(rng).cloned())
    }
}

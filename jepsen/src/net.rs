//! Network partitions made with real packet filtering between containers.
//!
//! A partition is a *grudge*, as Jepsen calls it: for each service, the services whose packets
//! it drops. Rules go into the container's own network namespace, entered from the host with
//! `nsenter -t <pid> -n iptables …` — the images are `FROM scratch`, so nothing runs inside the
//! container but rcluster itself. Only inbound packets are dropped (`INPUT -s <ip> -j DROP`);
//! grudges are symmetric, so both directions of every cut link go silent, and established TCP
//! connections stall rather than reset, as they do when a real network fails.
//!
//! Healing flushes `INPUT` in every container's namespace. A container restarted meanwhile has
//! a fresh namespace and no rules; one that is not running is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::compose::Compose;
use crate::error::{Error, Result};

/// How long one `nsenter … iptables` call may take.
const IPTABLES_TIMEOUT: Duration = Duration::from_secs(10);

/// For each service, the services it drops packets from.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// A grudge that cuts every link between the two groups (and none inside either).
pub fn split(a: &[String], b: &[String]) -> Grudge {
    let mut grudge = Grudge::new();
    for x in a {
        grudge.entry(x.clone()).or_default().extend(b.iter().cloned());
    }
    for y in b {
        grudge.entry(y.clone()).or_default().extend(a.iter().cloned());
    }
    grudge
}

/// A grudge that cuts `victim` off from every service in `others`.
pub fn isolate(victim: &str, others: &[String]) -> Grudge {
    let rest: Vec<String> = others.iter().filter(|o| *o != victim).cloned().collect();
    split(&[victim.to_string()], &rest)
}

/// Jepsen's bridge: two halves that cannot talk to each other, and one node that talks to
/// both. `nodes` is split as `[a…, bridge, b…]` around its middle element.
pub fn bridge(nodes: &[String]) -> Grudge {
    let mid = nodes.len() / 2;
    let (a, rest) = nodes.split_at(mid);
    let b = rest.get(1..).unwrap_or_default();
    split(a, b)
}

/// Puts a grudge in place. Rules are added, so an earlier grudge stays until [`heal`].
pub async fn apply(compose: &Compose, grudge: &Grudge) -> Result<()> {
    let mut ips = BTreeMap::new();
    for service in grudge.values().flatten() {
        if !ips.contains_key(service) {
            ips.insert(service.clone(), compose.ip(service).await?);
        }
    }
    for (service, sources) in grudge {
        let pid = compose.pid(service).await?;
        if pid == 0 {
            continue; // not running: nothing reaches it anyway
        }
        for source in sources {
            let ip = &ips[source];
            iptables(pid, &["-A", "INPUT", "-s", ip, "-j", "DROP"]).await?;
        }
    }
    Ok(())
}

/// Removes every rule from every running container of `services`.
pub async fn heal(compose: &Compose, services: &[String]) -> Result<()> {
    for service in services {
        let pid = compose.pid(service).await?;
        if pid != 0 {
            iptables(pid, &["-F", "INPUT"]).await?;
        }
    }
    Ok(())
}

async fn iptables(pid: u32, args: &[&str]) -> Result<()> {
    let mut cmd = Command::new("nsenter");
    cmd.args(["-t", &pid.to_string(), "-n", "iptables", "-w"])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let what = format!("nsenter -t {pid} -n iptables {}", args.join(" "));
    let out = tokio::time::timeout(IPTABLES_TIMEOUT, cmd.output())
        .await
        .map_err(|_| Error::Cluster(format!("{what}: no answer in {IPTABLES_TIMEOUT:?}")))?
        .map_err(|e| Error::Cluster(format!("{what}: {e} (needs root, nsenter and iptables)")))?;
    if !out.status.success() {
        return Err(Error::Cluster(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_split_cuts_every_link_across_and_none_within() {
        let g = split(&names(&["a", "b"]), &names(&["c"]));
        assert_eq!(g["a"], BTreeSet::from(["c".to_string()]));
        assert_eq!(g["b"], BTreeSet::from(["c".to_string()]));
        assert_eq!(g["c"], BTreeSet::from(["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn isolation_cuts_the_victim_from_all_others_only() {
        let g = isolate("b", &names(&["a", "b", "c"]));
        assert_eq!(g["b"], BTreeSet::from(["a".to_string(), "c".to_string()]));
        assert_eq!(g["a"], BTreeSet::from(["b".to_string()]));
        assert_eq!(g["c"], BTreeSet::from(["b".to_string()]));
    }

    #[test]
    fn the_bridge_node_keeps_both_halves() {
        let g = bridge(&names(&["a", "b", "x", "c", "d"]));
        assert!(!g.contains_key("x"), "the bridge drops nothing: {g:?}");
        assert!(g.values().all(|s| !s.contains("x")), "nobody drops the bridge: {g:?}");
        assert_eq!(g["a"], BTreeSet::from(["c".to_string(), "d".to_string()]));
        assert_eq!(g["d"], BTreeSet::from(["a".to_string(), "b".to_string()]));
    }
}

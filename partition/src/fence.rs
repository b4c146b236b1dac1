//! Fenced roles: what the control plane decides about this server, and the rules that keep a
//! replaced master from serving (DESIGN.md, "Roles, leases and failover").
//!
//! The control plane sets, in one step, the role (master of shard S at `shard_epoch` E, or
//! replica of host:port), the lease, the slots the shard owns, the routes to the other shards'
//! masters, and the in-sync set. From then on:
//!
//! - a master serves data commands only while its **lease** is valid; without one it answers
//!   `-TRYAGAIN`, so a master cut off from the control plane stops before anyone replaces it
//!   (the control plane waits longer than a lease before promoting);
//! - a key in a slot the shard does not own gets `-MOVED <slot> <host:port>` (or
//!   `-CLUSTERDOWN` when nobody is known to own it);
//! - an instruction with a lower `shard_epoch` than the last one is ignored;
//! - the role survives restarts (it is stored next to the data), and a restarted master comes
//!   back without a lease.
//!
//! A server the control plane never fenced is unaffected: it behaves as `redis-server`.
//! Leases are deadlines on the monotonic clock (`Instant`), never on the wall clock.

use std::path::Path;
use std::time::{Duration, Instant};

use protocol::command::{flags, CommandSpec};
use protocol::slot::{key_hash_slot, SLOT_COUNT};
use serde::{Deserialize, Serialize};

/// The role the control plane gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Assigned {
    Master,
    Replica { host: String, port: u16 },
}

/// What the control plane decided; stored with the data (not the lease, which is meaningless
/// after a restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub shard: u32,
    pub shard_epoch: u64,
    pub role: Assigned,
    /// The slots this shard owns, as inclusive ranges.
    pub slots: Vec<(u16, u16)>,
    /// The in-sync set (`ip:port` of replicas), for a master.
    pub in_sync: Vec<String>,
}

/// Where the other shards' slots are, for `-MOVED`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    pub epoch: u64,
    /// Inclusive slot ranges and the address of their master.
    pub ranges: Vec<(u16, u16, String)>,
}

/// The fence, kept in the state so that the per-command check takes no lock of its own.
#[derive(Debug, Default)]
pub struct Fence {
    decision: Option<Decision>,
    /// Owned slots, one bit each, for the per-command check.
    owned: Vec<u64>,
    lease_until: Option<Instant>,
    routes: Routes,
}

/// Why a command may not run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `-TRYAGAIN …`: a master without a valid lease.
    NoLease,
    /// `-MOVED slot addr`.
    Moved(u16, String),
    /// `-CLUSTERDOWN …`: nobody is known to own the slot.
    Unowned,
}

impl Refusal {
    pub fn text(&self) -> String {
        match self {
            Refusal::NoLease => {
                "TRYAGAIN this master has no valid lease: it may have been replaced".into()
            }
            Refusal::Moved(slot, addr) => format!("MOVED {slot} {addr}"),
            Refusal::Unowned => "CLUSTERDOWN Hash slot not served".into(),
        }
    }
}

/// What applying a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Taken; `role_changed` says whether the role itself changed (master ↔ replica, or a
    /// different master to follow).
    Taken { role_changed: bool },
    /// Ignored: older than what is in force.
    Stale { current: u64 },
}

impl Fence {
    /// Whether a control plane has taken charge of this server.
    pub fn is_fenced(&self) -> bool {
        self.decision.is_some()
    }

    pub fn decision(&self) -> Option<&Decision> {
        self.decision.as_ref()
    }

    pub fn lease_left(&self) -> Option<Duration> {
        self.lease_until.map(|at| at.saturating_duration_since(Instant::now()))
    }

    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Applies `decision` with a lease until `lease_until` (masters). Ignored when its
    /// `shard_epoch` is lower than the one in force.
    pub fn apply(&mut self, decision: Decision, lease_until: Option<Instant>) -> Applied {
        if let Some(current) = &self.decision {
            if decision.shard_epoch < current.shard_epoch {
                return Applied::Stale { current: current.shard_epoch };
            }
        }
        let role_changed = self.decision.as_ref().is_none_or(|d| d.role != decision.role);
        self.owned = vec![0; SLOT_COUNT / 64];
        for &(lo, hi) in &decision.slots {
            for slot in lo..=hi.min(SLOT_COUNT as u16 - 1) {
                self.owned[slot as usize / 64] |= 1 << (slot % 64);
            }
        }
        self.lease_until = match decision.role {
            Assigned::Master => lease_until,
            Assigned::Replica { .. } => None,
        };
        self.decision = Some(decision);
        Applied::Taken { role_changed }
    }

    /// Renews a master's lease; false when `shard_epoch` is not the one in force (a renewal
    /// for an older decision must not revive it).
    pub fn renew(&mut self, shard_epoch: u64, until: Instant) -> bool {
        match &self.decision {
            Some(d) if d.shard_epoch == shard_epoch && d.role == Assigned::Master => {
                self.lease_until = Some(self.lease_until.map_or(until, |t| t.max(until)));
                true
            }
            _ => false,
        }
    }

    /// Replaces the routes to other shards (ignored when older than the ones held).
    pub fn set_routes(&mut self, routes: Routes) -> bool {
        if routes.epoch < self.routes.epoch {
            return false;
        }
        self.routes = routes;
        true
    }

    /// Replaces the in-sync set of the decision in force; false when `shard_epoch` is stale.
    pub fn set_in_sync(&mut self, shard_epoch: u64, members: Vec<String>) -> bool {
        match &mut self.decision {
            Some(d) if d.shard_epoch == shard_epoch => {
                d.in_sync = members;
                true
            }
            _ => false,
        }
    }

    pub fn owns(&self, slot: u16) -> bool {
        self.owned.get(slot as usize / 64).is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    /// Whether the command `spec` with `args` may run: data commands need a lease on a master
    /// and keys in owned slots. `None` when it may.
    /// Whether this server may run `spec` now, for a connection that did or did not send
    /// READONLY (`readonly`).
    pub fn check(
        &self,
        spec: &CommandSpec,
        args: &[bytes::Bytes],
        readonly: bool,
    ) -> Option<Refusal> {
        let decision = self.decision.as_ref()?;
        // WATCH reads no data but only means something on the keys' master: as in Redis
        // Cluster, it is redirected like a read, so a proxy with a stale table learns of it
        // before it pins a connection for the transaction.
        let data = spec.has(flags::WRITE) || spec.has(flags::READONLY) || spec.name == "watch";
        if !data {
            return None;
        }
        if decision.role == Assigned::Master
            && self.lease_until.is_none_or(|at| Instant::now() >= at)
        {
            return Some(Refusal::NoLease);
        }
        // A replica serves reads only to connections that asked for possibly stale data
        // (READONLY); anything else goes to its master, as in Redis Cluster. Without this, a
        // proxy whose table still names a demoted master read from it as from the master —
        // between its demotion and the end of its resync it holds writes the shard never
        // acknowledged, or misses ones it did (found by the Jepsen register workload under
        // partition-halves).
        let redirect_to_master = match &decision.role {
            Assigned::Replica { host, port }
                if !(readonly && spec.has(flags::READONLY) && !spec.has(flags::WRITE)) =>
            {
                Some((host, *port))
            }
            _ => None,
        };
        for slot in key_slots(spec, args) {
            if let Some((host, port)) = redirect_to_master {
                return Some(Refusal::Moved(slot, protocol::addr::join_host_port(host, port)));
            }
            if !self.owns(slot) {
                return Some(match self.owner(slot) {
                    Some(addr) => Refusal::Moved(slot, addr.to_string()),
                    None => Refusal::Unowned,
                });
            }
        }
        None
    }

    fn owner(&self, slot: u16) -> Option<&str> {
        self.routes
            .ranges
            .iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&slot))
            .map(|(_, _, addr)| addr.as_str())
    }
}

/// The hash slots of a command's keys.
fn key_slots(spec: &CommandSpec, args: &[bytes::Bytes]) -> Vec<u16> {
    crate::cmd::key_indices(spec, args).into_iter().map(|i| key_hash_slot(&args[i])).collect()
}

/// Parses slot ranges written `0-5460,5461,6000-6100` (`-` alone: none).
pub fn parse_slots(text: &str) -> Result<Vec<(u16, u16)>, String> {
    if text == "-" || text.is_empty() {
        return Ok(Vec::new());
    }
    let slot = |s: &str| -> Result<u16, String> {
        s.parse::<u16>()
            .ok()
            .filter(|&n| (n as usize) < SLOT_COUNT)
            .ok_or_else(|| format!("invalid slot '{s}'"))
    };
    text.split(',')
        .map(|part| match part.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (slot(lo)?, slot(hi)?);
                if lo > hi {
                    return Err(format!("invalid slot range '{part}'"));
                }
                Ok((lo, hi))
            }
            None => slot(part).map(|s| (s, s)),
        })
        .collect()
}

/// The file next to the data that keeps the decision across restarts.
pub const FILE: &str = "rcluster-role.json";

/// Stores the decision in `dir` atomically.
pub fn store(dir: &Path, decision: &Decision) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(decision).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("temp-{FILE}"));
    let mut f = std::fs::File::create(&tmp)?;
    std::io::Write::write_all(&mut f, &text)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(FILE))?;
    crate::persist::manifest::sync_dir(dir)
}

/// The decision stored in `dir`, if any.
pub fn load(dir: &Path) -> Result<Option<Decision>, String> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn master(epoch: u64, slots: &str) -> Decision {
        Decision {
            shard: 1,
            shard_epoch: epoch,
            role: Assigned::Master,
            slots: parse_slots(slots).unwrap(),
            in_sync: vec![],
        }
    }

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    fn spec(name: &str) -> &'static CommandSpec {
        protocol::command::lookup(name.as_bytes()).unwrap()
    }

    #[test]
    fn an_unfenced_server_refuses_nothing() {
        let f = Fence::default();
        assert_eq!(f.check(spec("set"), &args(&["SET", "k", "v"]), false), None);
    }

    #[test]
    fn a_master_without_a_lease_refuses_reads_and_writes_but_not_ping() {
        let mut f = Fence::default();
        f.apply(master(1, "0-16383"), None);
        assert_eq!(f.check(spec("get"), &args(&["GET", "k"]), false), Some(Refusal::NoLease));
        assert_eq!(f.check(spec("set"), &args(&["SET", "k", "v"]), false), Some(Refusal::NoLease));
        assert_eq!(f.check(spec("dbsize"), &args(&["DBSIZE"]), false), Some(Refusal::NoLease));
        assert_eq!(f.check(spec("ping"), &args(&["PING"]), false), None);
        assert!(f.renew(1, Instant::now() + Duration::from_secs(10)));
        assert_eq!(f.check(spec("get"), &args(&["GET", "k"]), false), None);
        assert!(!f.renew(0, Instant::now() + Duration::from_secs(10)), "stale renewal");
        // An expired lease is no lease.
        let mut f = Fence::default();
        f.apply(master(1, "0-16383"), Some(Instant::now()));
        assert_eq!(f.check(spec("get"), &args(&["GET", "k"]), false), Some(Refusal::NoLease));
    }

    #[test]
    fn a_replica_redirects_to_its_master_unless_the_connection_is_readonly() {
        let mut f = Fence::default();
        let replica = Decision {
            role: Assigned::Replica { host: "10.0.0.1".into(), port: 7001 },
            ..master(2, "0-16383")
        };
        f.apply(replica, None);
        let foo = key_hash_slot(b"foo");
        let moved = Some(Refusal::Moved(foo, "10.0.0.1:7001".into()));
        assert_eq!(f.check(spec("get"), &args(&["GET", "foo"]), false), moved);
        assert_eq!(f.check(spec("set"), &args(&["SET", "foo", "v"]), false), moved);
        assert_eq!(f.check(spec("watch"), &args(&["WATCH", "foo"]), false), moved);
        // READONLY connections read from the replica, and still write on the master.
        assert_eq!(f.check(spec("get"), &args(&["GET", "foo"]), true), None);
        assert_eq!(f.check(spec("set"), &args(&["SET", "foo", "v"]), true), moved);
        // Keyless commands answer where they are asked.
        assert_eq!(f.check(spec("dbsize"), &args(&["DBSIZE"]), false), None);
        let v6 = Decision {
            role: Assigned::Replica { host: "::1".into(), port: 7001 },
            ..master(3, "0-16383")
        };
        f.apply(v6, None);
        assert_eq!(
            f.check(spec("get"), &args(&["GET", "foo"]), false),
            Some(Refusal::Moved(foo, "[::1]:7001".into()))
        );
    }

    #[test]
    fn keys_outside_the_owned_slots_are_moved() {
        let mut f = Fence::default();
        let slot = key_hash_slot(b"foo");
        let lease = Some(Instant::now() + Duration::from_secs(10));
        f.apply(master(1, &format!("{}", slot)), lease);
        assert_eq!(f.check(spec("get"), &args(&["GET", "foo"]), false), None);
        assert_eq!(f.check(spec("get"), &args(&["GET", "bar"]), false), Some(Refusal::Unowned));
        f.set_routes(Routes { epoch: 3, ranges: vec![(0, 16383, "10.0.0.2:7001".into())] });
        let bar = key_hash_slot(b"bar");
        assert_eq!(
            f.check(spec("mget"), &args(&["MGET", "foo", "bar"]), false),
            Some(Refusal::Moved(bar, "10.0.0.2:7001".into()))
        );
        // Keys found through key specs (movable keys) are checked too.
        assert_eq!(
            f.check(spec("zunionstore"), &args(&["ZUNIONSTORE", "foo", "2", "foo", "bar"]), false),
            Some(Refusal::Moved(bar, "10.0.0.2:7001".into()))
        );
        assert!(!f.set_routes(Routes { epoch: 2, ranges: vec![] }), "older routes are ignored");
        // WATCH is redirected like a read: it only means something on the keys' master.
        assert_eq!(f.check(spec("watch"), &args(&["WATCH", "foo"]), false), None);
        assert_eq!(
            f.check(spec("watch"), &args(&["WATCH", "foo", "bar"]), false),
            Some(Refusal::Moved(bar, "10.0.0.2:7001".into()))
        );
    }

    #[test]
    fn older_decisions_are_ignored() {
        let mut f = Fence::default();
        assert_eq!(f.apply(master(5, "0-100"), None), Applied::Taken { role_changed: true });
        assert_eq!(f.apply(master(4, "0-16383"), None), Applied::Stale { current: 5 });
        assert!(!f.owns(200));
        assert_eq!(f.apply(master(5, "0-200"), None), Applied::Taken { role_changed: false });
        assert!(f.owns(200));
    }

    #[test]
    fn slot_ranges_parse_strictly() {
        assert_eq!(parse_slots("0-5,7").unwrap(), vec![(0, 5), (7, 7)]);
        assert_eq!(parse_slots("-").unwrap(), vec![]);
        for bad in ["5-1", "16384", "x", "1-"] {
            assert!(parse_slots(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_decision_survives_in_its_file() {
        let dir = std::env::temp_dir().join(format!("fence-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load(&dir).unwrap(), None);
        let d = master(7, "0-10");
        store(&dir, &d).unwrap();
        assert_eq!(load(&dir).unwrap(), Some(d));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

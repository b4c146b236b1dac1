//! The heartbeat client: how a partition server is driven by the config service
//! (DESIGN.md, "Roles, leases and failover"). With `config-endpoints` set, a task sends a
//! [`PartitionHeartbeat`] every `heartbeat-ms` and follows the reply:
//!
//! - the reply's assignment becomes a fenced [`Decision`], applied through [`crate::role`];
//!   a master's lease is counted from the instant the heartbeat was **sent**, never from when
//!   the reply arrived, so the config leader (which counts its failover timeout from when it
//!   received the heartbeat) only ever replaces a master whose lease has run out;
//! - the routing table becomes the routes behind `-MOVED`; `maxmemory` and the cluster's
//!   replication mode (`replication sync|async`) are applied;
//! - nothing extends a lease locally: a server that reaches no config service keeps trying,
//!   and its lease runs out on its own (the fence then answers `-TRYAGAIN`).
//!
//! One request is in flight at a time. The client starts with the first endpoint, moves to
//! the next on a connection error, a timeout or a 5xx answer, and follows a 421 answer to the
//! leader it names at once when that is one of its endpoints ([`Endpoints`]).
//!
//! A master in sync mode also asks for changes of its in-sync set ([`InSyncRequests`],
//! DESIGN.md point 4): to drop a replica that stopped acknowledging (it is still waited for
//! until the reply shows the new set), and to add one that caught up — waited for *before*
//! it is asked for, so that every write acknowledged from then on is on it too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::error_body::ErrorBody;
/// The endpoint rotation lives in `protocol` so the proxy follows the same rules.
pub use protocol::heartbeat::Endpoints;
use protocol::heartbeat::{
    AssignedRole, Assignment, PartitionHeartbeat, PartitionHeartbeatReply, ReportedRole,
    PARTITION_PATH,
};
use protocol::routing::RoutingTable;
use tracing::{info, warn};

use crate::fence::{Assigned, Decision, Routes};
use crate::replication::{LinkState, Role};
use crate::role::Followed;
use crate::server::Server;

/// The longest a heartbeat request may take (whatever `heartbeat-ms` is): well under a lease,
/// so that a hung config node is left for another before the lease runs out.
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// How far behind the master's end a replica may be and still count as caught up (it is
/// then waited for; writes wait at most for this much to reach it).
const CAUGHT_UP_BYTES: u64 = 64 * 1024;

/// How long a replica whose joining the config service refused is left alone.
const REFUSED_BACKOFF: Duration = Duration::from_secs(1);

/// How often an outage is logged again while it lasts.
const LOG_EVERY: Duration = Duration::from_secs(10);

pub use protocol::addr::split_host_port;

/// The decision an assignment stands for, and a master's lease (ms, counted from when the
/// heartbeat was sent).
pub fn decision_from(a: &Assignment) -> Result<(Decision, Option<u64>), String> {
    let mut slots = Vec::with_capacity(a.slots.len());
    for range in &a.slots {
        if !range.is_valid() {
            return Err(format!("invalid slot range {}-{}", range.start, range.end));
        }
        slots.push((range.start, range.end));
    }
    let (role, in_sync, lease) = match &a.role {
        AssignedRole::Master { lease_ms, in_sync } => {
            (Assigned::Master, in_sync.clone(), Some(*lease_ms))
        }
        AssignedRole::Replica { master } => {
            let (host, port) = split_host_port(master)
                .ok_or_else(|| format!("invalid master address '{master}'"))?;
            (Assigned::Replica { host: host.to_string(), port }, Vec::new(), None)
        }
    };
    Ok((Decision { shard: a.shard, shard_epoch: a.shard_epoch, role, slots, in_sync }, lease))
}

/// Where the other shards' slots are (for `-MOVED`): every shard of `table` but `own`.
pub fn routes_from(table: &RoutingTable, own: Option<u32>) -> Routes {
    let ranges = table
        .shards
        .iter()
        .filter(|s| Some(s.id) != own && !s.master.is_empty())
        .flat_map(|s| {
            s.slots.iter().filter(|r| r.is_valid()).map(|r| (r.start, r.end, s.master.clone()))
        })
        .collect();
    Routes { epoch: table.epoch, ranges }
}

/// A replica this master waits for while asking for it to join the in-sync set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Joining {
    member: String,
    /// The master's end offset when it started waiting for the replica: once the replica has
    /// acknowledged it, it holds every write acknowledged without it.
    mark: u64,
    /// Asked for in a heartbeat: only a reply may settle it now.
    requested: bool,
}

/// What the master knows of one replica, for [`InSyncRequests`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaView {
    pub name: String,
    /// The offset it acknowledged itself (`None`: no `REPLCONF ACK` yet on this link).
    pub acked: Option<u64>,
}

/// What a step of [`InSyncRequests::plan`] asks replication to do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Replicas to stop waiting for (they were never asked for).
    pub drop: Vec<String>,
    /// A replica to wait for from now on; call [`InSyncRequests::started`] with the end
    /// offset read after replication waits for it.
    pub add: Option<String>,
    /// The in-sync set to ask for (`None`: the committed one is right).
    pub request: Option<Vec<String>>,
}

/// The master's side of in-sync set changes. See the module documentation.
#[derive(Debug, Default)]
pub struct InSyncRequests {
    joining: Vec<Joining>,
    /// Replicas whose joining was refused, and until when they are left alone.
    refused: Vec<(String, Instant)>,
}

impl InSyncRequests {
    /// Replicas this master waits for on top of the committed set.
    pub fn joining(&self) -> Vec<String> {
        self.joining.iter().map(|j| j.member.clone()).collect()
    }

    /// One heartbeat's worth: `committed` is the set in force, `lagging` the replicas that
    /// stopped acknowledging, `replicas` the connected ones, `end` the write log's end.
    pub fn plan(
        &mut self,
        committed: &[String],
        lagging: &[String],
        replicas: &[ReplicaView],
        end: u64,
        now: Instant,
    ) -> Plan {
        let mut plan = Plan::default();
        self.refused.retain(|(_, until)| *until > now);
        // A joining replica that stopped acknowledging before it was asked for: nobody else
        // knows it was waited for, so it is simply no longer waited for.
        self.joining.retain(|j| {
            let keep = j.requested || !lagging.contains(&j.member);
            if !keep {
                plan.drop.push(j.member.clone());
            }
            keep
        });
        let acked =
            |name: &str| replicas.iter().filter(|r| r.name == name).filter_map(|r| r.acked).max();
        // One new candidate per heartbeat: a replica streaming and caught up.
        plan.add = replicas
            .iter()
            .filter(|r| {
                !committed.contains(&r.name)
                    && !lagging.contains(&r.name)
                    && !self.joining.iter().any(|j| j.member == r.name)
                    && !self.refused.iter().any(|(m, _)| *m == r.name)
            })
            .find(|r| r.acked.is_some_and(|a| a.saturating_add(CAUGHT_UP_BYTES) >= end))
            .map(|r| r.name.clone());
        let mut wanted: Vec<String> =
            committed.iter().filter(|m| !lagging.contains(m)).cloned().collect();
        for j in &mut self.joining {
            if lagging.contains(&j.member) {
                continue;
            }
            if j.requested || acked(&j.member).is_some_and(|a| a >= j.mark) {
                j.requested = true;
                wanted.push(j.member.clone());
            }
        }
        let same = wanted.len() == committed.len() && wanted.iter().all(|m| committed.contains(m));
        plan.request = (!same).then_some(wanted);
        plan
    }

    /// Replication now waits for `member`; `mark` is the end offset read after that.
    pub fn started(&mut self, member: String, mark: u64) {
        self.joining.push(Joining { member, mark, requested: false });
    }

    /// A reply showed the committed set: joining replicas it holds are in; the ones asked for
    /// that it lacks were refused. Returns the ones to stop waiting for on top of it.
    pub fn settled(&mut self, committed: &[String], now: Instant) -> Vec<String> {
        let mut done = Vec::new();
        self.joining.retain(|j| {
            let settled = committed.contains(&j.member) || j.requested;
            if settled {
                done.push(j.member.clone());
            }
            !settled
        });
        for member in &done {
            if !committed.contains(member) {
                self.refused.push((member.clone(), now + REFUSED_BACKOFF));
            }
        }
        done
    }

    /// The server is no longer a master: nothing is joining.
    pub fn clear(&mut self) -> Vec<String> {
        std::mem::take(&mut self.joining).into_iter().map(|j| j.member).collect()
    }
}

/// Why a heartbeat got no usable reply.
#[derive(Debug)]
enum Failure {
    /// Connection error, timeout, 5xx, an unreadable reply: try the next endpoint.
    Unreachable(String),
    /// Any other refusal (a 4xx): our request is at fault; the same endpoint is asked again.
    Refused(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(e) | Failure::Refused(e) => f.write_str(e),
        }
    }
}

/// Logs the config service's reachability when it changes, and an outage again every
/// [`LOG_EVERY`] while it lasts — not every failed heartbeat.
#[derive(Debug, Default)]
struct Health {
    reachable: Option<bool>,
    failures: u64,
    last_warning: Option<Instant>,
}

impl Health {
    fn reached(&mut self, endpoint: &str) {
        if self.reachable != Some(true) {
            info!(endpoint, failures = self.failures, "heartbeats answered by the config service");
        }
        self.reachable = Some(true);
        self.failures = 0;
    }

    fn failed(&mut self, endpoint: &str, cause: &Failure) {
        self.failures += 1;
        let due = self.last_warning.is_none_or(|at| at.elapsed() >= LOG_EVERY);
        if self.reachable != Some(false) || due {
            warn!(endpoint, cause = %cause, failures = self.failures, "heartbeat failed: no config service answers (a master's lease runs out on its own)");
            self.last_warning = Some(Instant::now());
        }
        self.reachable = Some(false);
    }
}

/// The heartbeat client and control loop. See the module documentation.
pub struct Heartbeat {
    /// This server's identity: its `announce-addr`.
    addr: String,
    endpoints: Endpoints,
    http: reqwest::Client,
    in_sync: InSyncRequests,
    health: Health,
    /// The last stale shard_epoch warned about (one warning per epoch, not per heartbeat).
    stale_warned: Option<u64>,
    spare_logged: bool,
    /// This process started as a master from its role file and has had no lease since.
    restarted: bool,
}

impl Heartbeat {
    /// From the configuration (`config-endpoints`, `announce-addr`); the error says what is
    /// wrong with them.
    pub fn new(server: &Server) -> Result<Heartbeat, String> {
        let config = server.config();
        let list = config.config_endpoints();
        if list.is_empty() {
            return Err("config-endpoints is empty".into());
        }
        if let Some(bad) = list.iter().find(|e| !e.starts_with("http://")) {
            return Err(format!("config-endpoints: '{bad}' is not an http:// URL"));
        }
        let addr = config.announce_addr(server.port);
        if split_host_port(&addr).is_none() {
            return Err(format!("announce-addr: '{addr}' is not host:port"));
        }
        // The cluster's HTTP is on its private network: no proxy from the environment.
        let http = reqwest::Client::builder().no_proxy().build().map_err(|e| e.to_string())?;
        Ok(Heartbeat {
            addr,
            endpoints: Endpoints::new(list),
            http,
            in_sync: InSyncRequests::default(),
            health: Health::default(),
            stale_warned: None,
            spare_logged: false,
            restarted: false,
        })
    }

    /// Heartbeats every `heartbeat-ms` until the task is aborted (at shutdown).
    pub async fn run(mut self, server: Arc<Server>) {
        info!(addr = %self.addr, endpoint = self.endpoints.current(), "heartbeating the config service");
        // A master role found on disk: this process restarted as a master (see
        // `PartitionHeartbeat::restarted`), until a lease says the config service kept it.
        self.restarted = server.lock().fence.decision().is_some_and(|d| d.role == Assigned::Master);
        let mut period = heartbeat_period(&server);
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = heartbeat_period(&server);
            if now != period {
                period = now;
                tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
            }
            self.beat(&server, period).await;
        }
    }

    /// One heartbeat: report, send, follow the reply.
    async fn beat(&mut self, server: &Server, period: Duration) {
        let report = self.report(server);
        let timeout = (period * 5).min(MAX_REQUEST_TIMEOUT).max(period);
        // The lease is counted from here: before the request leaves.
        let sent = Instant::now();
        match self.exchange(&report, timeout).await {
            Ok(reply) => {
                self.health.reached(self.endpoints.current());
                self.follow(server, reply, sent);
            }
            Err(failure) => {
                self.health.failed(self.endpoints.current(), &failure);
                if matches!(failure, Failure::Unreachable(_)) {
                    let from = self.endpoints.current().to_string();
                    self.endpoints.rotate();
                    if self.endpoints.current() != from {
                        info!(from = %from, to = self.endpoints.current(), "trying another config endpoint");
                    }
                }
            }
        }
    }

    /// What is in force here, and the in-sync set this master wants.
    fn report(&mut self, server: &Server) -> PartitionHeartbeat {
        let mut state = server.lock();
        let repl = &server.replication;
        let role = match state.fence.decision() {
            None => ReportedRole::Unassigned,
            Some(d) => match &d.role {
                Assigned::Master => {
                    ReportedRole::Master { shard: d.shard, shard_epoch: d.shard_epoch }
                }
                Assigned::Replica { host, port } => ReportedRole::Replica {
                    shard: d.shard,
                    shard_epoch: d.shard_epoch,
                    master: format!("{host}:{port}"),
                    link_up: matches!(repl.role(), Role::Replica(up) if up.link == LinkState::Connected),
                },
            },
        };
        let master = matches!(role, ReportedRole::Master { .. }) && !repl.is_replica();
        let in_sync_request = if master {
            self.plan_in_sync(server)
        } else {
            for member in self.in_sync.clear() {
                repl.remove_joining(&member);
            }
            None
        };
        let used_memory =
            crate::alloc::allocated().map_or_else(|| state.used_memory() as u64, |b| b as u64);
        PartitionHeartbeat {
            addr: self.addr.clone(),
            role,
            // A replica's log carries its master's bytes: its end is how far it applied.
            offset: server.write_log.end(),
            replid: repl.ids().replid,
            used_memory,
            keys: state.keyspace.len() as u64,
            restarted: self.restarted && master,
            in_sync_request,
        }
    }

    /// The master's in-sync request (under the command lock, so that a replica starts being
    /// waited for between two batches: every write after the mark waits for it).
    fn plan_in_sync(&mut self, server: &Server) -> Option<Vec<String>> {
        let repl = &server.replication;
        let sync = server.config().get("replication").as_deref() != Some("async");
        let replicas: Vec<ReplicaView> = if sync {
            repl.replicas()
                .into_iter()
                .filter(|r| r.state == "online")
                .map(|r| ReplicaView { name: r.name(), acked: r.ack_seen.then_some(r.acked) })
                .collect()
        } else {
            // Async mode waits for nobody: no replica is added.
            Vec::new()
        };
        let committed = repl.committed_in_sync();
        let lagging = repl.reported_lagging();
        let end = server.write_log.end();
        let plan = self.in_sync.plan(&committed, &lagging, &replicas, end, Instant::now());
        for member in &plan.drop {
            info!(replica = %member, "a replica joining the in-sync set stopped acknowledging: no longer waited for");
            repl.remove_joining(member);
        }
        if let Some(member) = plan.add {
            repl.add_joining(member.clone());
            let mark = server.write_log.end();
            info!(replica = %member, mark, "a caught-up replica is waited for: asking for it to join the in-sync set once it has every write up to the mark");
            self.in_sync.started(member, mark);
        }
        plan.request
    }

    /// Sends `report` to the current endpoint, following 421 redirects at once.
    async fn exchange(
        &mut self,
        report: &PartitionHeartbeat,
        timeout: Duration,
    ) -> Result<PartitionHeartbeatReply, Failure> {
        // A redirect loop (nodes that disagree on the leader) ends at the next heartbeat.
        for _ in 0..=self.endpoints.len() + 1 {
            let url = format!("{}{PARTITION_PATH}", self.endpoints.current());
            let sent = self.http.post(&url).json(report).timeout(timeout).send().await;
            let response = sent.map_err(|e| Failure::Unreachable(error_chain(&e)))?;
            let status = response.status();
            if status.is_success() {
                return response
                    .json::<PartitionHeartbeatReply>()
                    .await
                    .map_err(|e| Failure::Unreachable(format!("unreadable reply: {e}")));
            }
            let body: Option<ErrorBody> = response.json().await.ok();
            let what = body.as_ref().map_or_else(String::new, |b| format!(": {}", b.error));
            if status.as_u16() == 421 {
                if let Some(leader) = body.and_then(|b| b.leader) {
                    let from = self.endpoints.current().to_string();
                    self.endpoints.redirect(&leader);
                    info!(from = %from, to = self.endpoints.current(), "following the config leader");
                    continue;
                }
                return Err(Failure::Unreachable(format!("{status}, no leader known{what}")));
            }
            return Err(if status.is_server_error() {
                Failure::Unreachable(format!("{status}{what}"))
            } else {
                Failure::Refused(format!("{status}{what}"))
            });
        }
        Err(Failure::Unreachable("too many redirects".into()))
    }

    /// Follows a reply to the heartbeat sent at `sent`.
    fn follow(&mut self, server: &Server, reply: PartitionHeartbeatReply, sent: Instant) {
        let mut state = server.lock();
        let own = reply.assignment.as_ref().map(|a| a.shard);
        state.fence.set_routes(routes_from(&reply.routing, own));
        let Some(assignment) = reply.assignment else {
            if !self.spare_logged {
                self.spare_logged = true;
                if state.fence.is_fenced() {
                    warn!(node = reply.node, "the config service gives this server no place any more: its lease is not renewed");
                } else {
                    info!(node = reply.node, "registered with the config service, no role yet");
                }
            }
            return;
        };
        self.spare_logged = false;
        let (decision, lease_ms) = match decision_from(&assignment) {
            Ok(d) => d,
            Err(e) => {
                warn!(cause = %e, "ignoring an assignment that cannot be followed");
                return;
            }
        };
        let committed = decision.in_sync.clone();
        let is_master = decision.role == Assigned::Master;
        if !is_master || lease_ms.is_some_and(|ms| ms > 0) {
            // Kept as master with a lease, or made a replica: the restart has been dealt with.
            self.restarted = false;
        }
        let lease_until = lease_ms.map(|ms| sent + Duration::from_millis(ms));
        match crate::role::follow(server, &mut state, decision, lease_until) {
            Ok(Followed::Stale { current }) => {
                if self.stale_warned != Some(assignment.shard_epoch) {
                    self.stale_warned = Some(assignment.shard_epoch);
                    warn!(
                        shard_epoch = assignment.shard_epoch,
                        current, "ignoring an assignment older than the one in force"
                    );
                }
                return;
            }
            Ok(Followed::Applied { role_changed }) => {
                info!(shard = assignment.shard, shard_epoch = assignment.shard_epoch, role = ?assignment.role, role_changed, "took the config service's assignment");
            }
            Ok(Followed::InSyncChanged) => {
                info!(in_sync = ?committed, "the config service committed a new in-sync set");
            }
            Ok(Followed::Renewed) => {}
            Err(e) => warn!(cause = %e, "applying the config service's assignment"),
        }
        crate::role::set_maxmemory(server, &mut state, assignment.maxmemory);
        crate::role::set_replication(server, assignment.replication);
        if is_master {
            for member in self.in_sync.settled(&committed, Instant::now()) {
                server.replication.remove_joining(&member);
            }
        }
    }
}

/// `heartbeat-ms`.
fn heartbeat_period(server: &Server) -> Duration {
    Duration::from_millis(server.config().get_i64("heartbeat-ms").unwrap_or(100).max(1) as u64)
}

/// A reqwest error with its causes (its own text is only "error sending request").
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::routing::{ShardRoute, SlotRange};

    fn assignment(role: AssignedRole) -> Assignment {
        Assignment {
            shard: 2,
            shard_epoch: 9,
            role,
            slots: vec![SlotRange::new(0, 99), SlotRange::new(200, 200)],
            maxmemory: 0,
            replication: Default::default(),
        }
    }

    #[test]
    fn an_assignment_becomes_a_decision() {
        let master =
            assignment(AssignedRole::Master { lease_ms: 1000, in_sync: vec!["r:1".into()] });
        let (d, lease) = decision_from(&master).unwrap();
        assert_eq!(
            d,
            Decision {
                shard: 2,
                shard_epoch: 9,
                role: Assigned::Master,
                slots: vec![(0, 99), (200, 200)],
                in_sync: vec!["r:1".into()],
            }
        );
        assert_eq!(lease, Some(1000));
        let replica = assignment(AssignedRole::Replica { master: "10.0.0.1:7001".into() });
        let (d, lease) = decision_from(&replica).unwrap();
        assert_eq!(d.role, Assigned::Replica { host: "10.0.0.1".into(), port: 7001 });
        assert_eq!((d.in_sync.len(), lease), (0, None));
        let v6 = assignment(AssignedRole::Replica { master: "[::1]:7001".into() });
        assert_eq!(
            decision_from(&v6).unwrap().0.role,
            Assigned::Replica { host: "::1".into(), port: 7001 }
        );
        for bad in ["nohost", "h:x", ":7000"] {
            let a = assignment(AssignedRole::Replica { master: bad.into() });
            assert!(decision_from(&a).is_err(), "{bad}");
        }
        let mut a = assignment(AssignedRole::Replica { master: "h:1".into() });
        a.slots = vec![SlotRange::new(5, 4)];
        assert!(decision_from(&a).is_err());
        a.slots = vec![SlotRange::new(0, 16384)];
        assert!(decision_from(&a).is_err());
    }

    #[test]
    fn routes_name_the_other_shards_masters() {
        let table = RoutingTable {
            epoch: 5,
            shards: vec![
                ShardRoute {
                    id: 0,
                    shard_epoch: 1,
                    master: "a:1".into(),
                    replicas: vec![],
                    slots: vec![SlotRange::new(0, 8191)],
                },
                ShardRoute {
                    id: 1,
                    shard_epoch: 1,
                    master: "b:1".into(),
                    replicas: vec!["c:1".into()],
                    slots: vec![SlotRange::new(8192, 9000), SlotRange::new(9001, 16383)],
                },
            ],
        };
        let routes = routes_from(&table, Some(0));
        assert_eq!(routes.epoch, 5);
        assert_eq!(
            routes.ranges,
            vec![(8192, 9000, "b:1".to_string()), (9001, 16383, "b:1".to_string())]
        );
        assert_eq!(routes_from(&table, None).ranges.len(), 3);
    }

    fn view(name: &str, acked: Option<u64>) -> ReplicaView {
        ReplicaView { name: name.into(), acked }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_lagging_member_is_asked_out_and_waited_for_until_the_reply() {
        let mut r = InSyncRequests::default();
        let now = Instant::now();
        let committed = names(&["b:1", "c:1"]);
        let plan = r.plan(&committed, &names(&["b:1"]), &[view("c:1", Some(10))], 10, now);
        assert_eq!(plan.request, Some(names(&["c:1"])));
        assert_eq!((plan.add, plan.drop.len()), (None, 0));
        // Nothing to ask for once the committed set is right.
        let plan = r.plan(&names(&["c:1"]), &[], &[view("c:1", Some(10))], 10, now);
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn a_caught_up_replica_is_waited_for_before_it_is_asked_for() {
        let mut r = InSyncRequests::default();
        let now = Instant::now();
        // Far behind, or no ACK of its own yet: not a candidate.
        let plan = r.plan(&[], &[], &[view("b:1", Some(0))], 1 << 20, now);
        assert_eq!(plan, Plan::default());
        let plan = r.plan(&[], &[], &[view("b:1", None)], 10, now);
        assert_eq!(plan, Plan::default());
        // Caught up: waited for first, not yet asked for.
        let plan = r.plan(&[], &[], &[view("b:1", Some(90))], 100, now);
        assert_eq!(plan.add.as_deref(), Some("b:1"));
        assert_eq!(plan.request, None);
        r.started("b:1".into(), 120);
        // Asked for once it acknowledged the mark, and again until a reply settles it.
        let plan = r.plan(&[], &[], &[view("b:1", Some(110))], 130, now);
        assert_eq!((plan.add, plan.request), (None, None));
        let plan = r.plan(&[], &[], &[view("b:1", Some(120))], 130, now);
        assert_eq!(plan.request, Some(names(&["b:1"])));
        let plan = r.plan(&[], &[], &[], 130, now);
        assert_eq!(plan.request, Some(names(&["b:1"])), "asked for even while disconnected");
        // The reply commits it: it is waited for as a member from now on.
        assert_eq!(r.settled(&names(&["b:1"]), now), names(&["b:1"]));
        assert!(r.joining().is_empty());
        let plan = r.plan(&names(&["b:1"]), &[], &[view("b:1", Some(130))], 130, now);
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn a_refused_join_falls_back_to_the_committed_set() {
        let mut r = InSyncRequests::default();
        let now = Instant::now();
        r.started("b:1".into(), 10);
        let plan = r.plan(&[], &[], &[view("b:1", Some(10))], 10, now);
        assert_eq!(plan.request, Some(names(&["b:1"])));
        // The reply's committed set lacks it: no longer waited for, left alone a while.
        assert_eq!(r.settled(&[], now), names(&["b:1"]));
        let plan = r.plan(&[], &[], &[view("b:1", Some(10))], 10, now);
        assert_eq!(plan, Plan::default());
        let later = now + REFUSED_BACKOFF + Duration::from_millis(1);
        let plan = r.plan(&[], &[], &[view("b:1", Some(10))], 10, later);
        assert_eq!(plan.add.as_deref(), Some("b:1"));
        // A joining replica that lags before it was asked for is dropped at once; a reply
        // does not settle one never asked for.
        let mut r = InSyncRequests::default();
        r.started("b:1".into(), 10);
        assert!(r.settled(&[], now).is_empty());
        let plan = r.plan(&[], &names(&["b:1"]), &[], 10, now);
        assert_eq!(plan.drop, names(&["b:1"]));
        assert!(r.joining().is_empty());
    }
}

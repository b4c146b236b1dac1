//! The heartbeat loop against a fake config service (axum on a loopback port, answering what
//! the test sets): registration, the lease counted from the heartbeat and running out when
//! the service goes quiet, -MOVED from the routing table, 421 redirects and unreachable
//! endpoints, a master/replica pair assigned and then flipped at a higher shard_epoch (a stale
//! assignment ignored), maxmemory from the assignment, in-sync shrink and expand requests,
//! and REPLCONF ip-address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use protocol::error_body::ErrorBody;
use protocol::heartbeat::{
    AssignedRole, Assignment, PartitionHeartbeat, PartitionHeartbeatReply, Replication,
    ReportedRole, PARTITION_PATH,
};
use protocol::routing::{RoutingTable, ShardRoute, SlotRange};
use protocol::slot::key_hash_slot;

use crate::replication::{info_field, Con};
use crate::util::*;

/// How the fake answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Answer,
    /// Never answers (the request times out): a config service cut off.
    Hang,
    /// 421 naming this leader.
    Redirect(String),
}

/// A heartbeat the fake received.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    hb: PartitionHeartbeat,
    answered: bool,
}

#[derive(Debug)]
struct FakeState {
    mode: Mode,
    /// The assignment given to each server, by address.
    assignments: HashMap<String, Assignment>,
    routing: RoutingTable,
    /// Heartbeats carrying an in-sync request that names this replica are held unanswered
    /// (a commit that takes a while).
    hold_requests_naming: Option<String>,
    received: Vec<Received>,
}

/// The fake config service; stops when dropped.
struct Fake {
    addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn heartbeat(
    State(fake): State<Arc<Mutex<FakeState>>>,
    Json(hb): Json<PartitionHeartbeat>,
) -> Response {
    let at = Instant::now();
    let (mode, reply) = {
        let mut s = fake.lock().unwrap();
        let held = s
            .hold_requests_naming
            .as_ref()
            .is_some_and(|m| hb.in_sync_request.as_ref().is_some_and(|r| r.contains(m)));
        let mode = if held { Mode::Hang } else { s.mode.clone() };
        let node = s.received.iter().position(|r| r.hb.addr == hb.addr).unwrap_or(s.received.len());
        let reply = PartitionHeartbeatReply {
            node: node as u64,
            assignment: s.assignments.get(&hb.addr).cloned(),
            routing: s.routing.clone(),
        };
        s.received.push(Received { at, hb, answered: mode == Mode::Answer });
        (mode, reply)
    };
    match mode {
        Mode::Answer => Json(reply).into_response(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Mode::Redirect(leader) => {
            let body = ErrorBody {
                error: "not the leader".into(),
                code: protocol::error_body::NOT_LEADER.into(),
                field: None,
                leader: Some(leader),
            };
            (StatusCode::MISDIRECTED_REQUEST, Json(body)).into_response()
        }
    }
}

impl Fake {
    async fn start() -> Fake {
        let state = Arc::new(Mutex::new(FakeState {
            mode: Mode::Answer,
            assignments: HashMap::new(),
            routing: RoutingTable::default(),
            hold_requests_naming: None,
            received: Vec::new(),
        }));
        let app = Router::new()
            .route(PARTITION_PATH, axum::routing::post(heartbeat))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fake { addr, state, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn set(&self, f: impl FnOnce(&mut FakeState)) {
        f(&mut self.state.lock().unwrap());
    }

    fn from(&self, addr: &str) -> Vec<Received> {
        let s = self.state.lock().unwrap();
        s.received.iter().filter(|r| r.hb.addr == addr).cloned().collect()
    }

    /// Waits until a heartbeat from `addr` satisfies `cond`; returns it.
    async fn must_receive(
        &self,
        addr: &str,
        what: &str,
        cond: impl Fn(&Received) -> bool,
    ) -> Received {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(r) = self.from(addr).into_iter().find(|r| cond(r)) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{addr} never sent {what}: {:?}",
                self.from(addr).last()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn all_slots() -> Vec<SlotRange> {
    vec![SlotRange::new(0, 16383)]
}

fn master(shard_epoch: u64, lease_ms: u64, in_sync: &[&str]) -> Assignment {
    Assignment {
        shard: 0,
        shard_epoch,
        role: AssignedRole::Master {
            lease_ms,
            in_sync: in_sync.iter().map(|s| s.to_string()).collect(),
        },
        slots: all_slots(),
        maxmemory: 0,
        replication: Replication::Sync,
    }
}

fn replica(shard_epoch: u64, of: &str) -> Assignment {
    Assignment {
        shard: 0,
        shard_epoch,
        role: AssignedRole::Replica { master: of.into() },
        slots: all_slots(),
        maxmemory: 0,
        replication: Replication::Sync,
    }
}

fn one_shard(epoch: u64, master: &str) -> RoutingTable {
    RoutingTable {
        epoch,
        shards: vec![ShardRoute {
            id: 0,
            shard_epoch: epoch,
            master: master.into(),
            replicas: vec![],
            slots: all_slots(),
        }],
    }
}

/// A server heartbeating `fake` every 50 ms.
async fn start_managed(fake: &Fake, extra: &[&str]) -> TestServer {
    let url = fake.url();
    let mut args = vec!["--config-endpoints", url.as_str(), "--heartbeat-ms", "50"];
    args.extend_from_slice(extra);
    start_server_with(&args).await
}

/// Waits until `addr` reports being master of shard 0 at `shard_epoch` (the fence holds the
/// assignment).
async fn must_be_master(fake: &Fake, addr: &str, shard_epoch: u64) {
    let role = ReportedRole::Master { shard: 0, shard_epoch };
    fake.must_receive(addr, "its role as master", |r| r.hb.role == role).await;
}

/// Waits until `addr` reports following `master` at `shard_epoch` with its link up.
async fn must_be_replica(fake: &Fake, addr: &str, shard_epoch: u64, master: &str) {
    let role =
        ReportedRole::Replica { shard: 0, shard_epoch, master: master.into(), link_up: true };
    fake.must_receive(addr, "its role as a linked replica", |r| r.hb.role == role).await;
}

fn addr_of(srv: &TestServer) -> String {
    format!("127.0.0.1:{}", srv.port())
}

/// Waits until a SET on `con` succeeds.
async fn must_accept_writes(con: &mut Con, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match cmd::<()>(con, &["SET", key, "v"]).await {
            Ok(()) => return,
            Err(e) => assert!(Instant::now() < deadline, "writes never accepted: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until GET `key` on `con` answers `value`.
async fn must_read(con: &mut Con, key: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = cmd::<Option<String>>(con, &["GET", key]).await;
        if matches!(&got, Ok(Some(v)) if v == value) {
            return;
        }
        assert!(Instant::now() < deadline, "GET {key} never answered {value}: {got:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_master_serves_while_heartbeats_are_answered_and_stops_within_its_lease() {
    let fake = Fake::start().await;
    let srv = start_managed(&fake, &[]).await;
    let me = addr_of(&srv);
    // It registers: unassigned, under its announce address.
    let first = fake.must_receive(&me, "a heartbeat", |_| true).await;
    assert_eq!(first.hb.role, ReportedRole::Unassigned);
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "k", "unfenced"]).await.unwrap();
    // Made master with a 1 s lease: it serves.
    const LEASE_MS: u64 = 1000;
    fake.set(|s| {
        s.assignments.insert(me.clone(), master(1, LEASE_MS, &[]));
        s.routing = one_shard(1, &me);
    });
    must_be_master(&fake, &me, 1).await;
    must_accept_writes(&mut con, "k").await;
    let v: String = cmd(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v");
    // The config service goes quiet: within the lease the master stops.
    fake.set(|s| s.mode = Mode::Hang);
    let quiet = Instant::now();
    let first_refusal = loop {
        match cmd::<()>(&mut con, &["SET", "k", "late"]).await {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.code(), Some("TRYAGAIN"), "{e}");
                break Instant::now();
            }
        }
        assert!(quiet.elapsed() < Duration::from_secs(10), "the master never stopped");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let last_answered =
        fake.from(&me).iter().filter(|r| r.answered).map(|r| r.at).max().expect("answered");
    // The lease ran from before the last answered heartbeat was received.
    let slack = Duration::from_millis(250);
    assert!(
        first_refusal <= last_answered + Duration::from_millis(LEASE_MS) + slack,
        "first -TRYAGAIN {:?} after the last answered heartbeat",
        first_refusal - last_answered
    );
    let err = cmd::<Option<String>>(&mut con, &["GET", "k"]).await.unwrap_err();
    assert_eq!(err.code(), Some("TRYAGAIN"));
    // Heartbeats go on; answered again, it serves again.
    fake.set(|s| s.mode = Mode::Answer);
    must_accept_writes(&mut con, "k").await;
}

#[tokio::test]
async fn keys_of_other_shards_are_moved_to_the_master_the_routing_table_names() {
    let fake = Fake::start().await;
    let srv = start_managed(&fake, &[]).await;
    let me = addr_of(&srv);
    let foo = key_hash_slot(b"foo");
    let bar = key_hash_slot(b"bar");
    assert!(foo > bar);
    let mut a = master(3, 10_000, &[]);
    a.slots = vec![SlotRange::new(foo, foo)];
    a.maxmemory = 100 << 20;
    a.replication = Replication::Async;
    fake.set(|s| {
        s.assignments.insert(me.clone(), a);
        s.routing = RoutingTable {
            epoch: 4,
            shards: vec![
                ShardRoute {
                    id: 0,
                    shard_epoch: 3,
                    master: me.clone(),
                    replicas: vec![],
                    slots: vec![SlotRange::new(foo, foo)],
                },
                ShardRoute {
                    id: 1,
                    shard_epoch: 1,
                    master: "10.1.2.3:7001".into(),
                    replicas: vec![],
                    slots: vec![SlotRange::new(0, foo - 1), SlotRange::new(foo + 1, 16383)],
                },
            ],
        };
    });
    let mut con = srv.client().await;
    must_be_master(&fake, &me, 3).await;
    must_accept_writes(&mut con, "foo").await;
    let err = cmd::<Option<String>>(&mut con, &["GET", "bar"]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("An error was signalled by the server - Moved: {bar} 10.1.2.3:7001")
    );
    // The shard's maxmemory is applied as CONFIG SET would.
    let got: Vec<String> = cmd(&mut con, &["CONFIG", "GET", "maxmemory"]).await.unwrap();
    assert_eq!(got, vec!["maxmemory".to_string(), (100u64 << 20).to_string()]);
    // So is the cluster's replication mode (the server started in its default, sync).
    let got: Vec<String> = cmd(&mut con, &["CONFIG", "GET", "replication"]).await.unwrap();
    assert_eq!(got, vec!["replication".to_string(), "async".to_string()]);
}

#[tokio::test]
async fn heartbeats_skip_an_unreachable_endpoint_and_follow_a_redirect_to_the_leader() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let follower = Fake::start().await;
    let leader = Fake::start().await;
    follower.set(|s| s.mode = Mode::Redirect(leader.addr.to_string()));
    // The leader is configured last: the follower's 421 moves the server there at once.
    let endpoints = format!("http://{closed},{},{}", follower.url(), leader.url());
    let srv = start_server_with(&["--config-endpoints", &endpoints, "--heartbeat-ms", "50"]).await;
    let me = addr_of(&srv);
    leader.set(|s| {
        s.assignments.insert(me.clone(), master(1, 10_000, &[]));
        s.routing = one_shard(1, &me);
    });
    let mut con = srv.client().await;
    must_be_master(&leader, &me, 1).await;
    must_accept_writes(&mut con, "k").await;
    // From then on the leader gets every heartbeat.
    let seen = follower.from(&me).len();
    let before = leader.from(&me).len();
    let deadline = Instant::now() + Duration::from_secs(15);
    while leader.from(&me).len() < before + 5 {
        assert!(Instant::now() < deadline, "the leader stopped getting heartbeats");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(follower.from(&me).len(), seen, "the follower is no longer asked");
    assert!(seen >= 1);
}

#[tokio::test]
async fn a_leader_hint_that_is_not_configured_is_not_followed() {
    // The server reaches the config service only through its configured endpoints (a relay,
    // a NAT): a hint naming another address moves it to the next configured endpoint.
    let follower = Fake::start().await;
    let leader = Fake::start().await;
    let unreachable = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    follower.set(|s| s.mode = Mode::Redirect(unreachable.to_string()));
    let endpoints = format!("{},{}", follower.url(), leader.url());
    let srv = start_server_with(&["--config-endpoints", &endpoints, "--heartbeat-ms", "50"]).await;
    let me = addr_of(&srv);
    leader.set(|s| {
        s.assignments.insert(me.clone(), master(1, 10_000, &[]));
        s.routing = one_shard(1, &me);
    });
    must_be_master(&leader, &me, 1).await;
}

#[tokio::test]
async fn a_pair_is_assigned_flipped_at_a_higher_shard_epoch_and_stale_assignments_ignored() {
    let fake = Fake::start().await;
    let a = start_managed(&fake, &[]).await;
    let b = start_managed(&fake, &[]).await;
    let (aa, ba) = (addr_of(&a), addr_of(&b));
    fake.must_receive(&aa, "a heartbeat", |_| true).await;
    fake.must_receive(&ba, "a heartbeat", |_| true).await;
    fake.set(|s| {
        s.assignments.insert(aa.clone(), master(1, 10_000, &[]));
        s.assignments.insert(ba.clone(), replica(1, &aa));
        s.routing = one_shard(1, &aa);
    });
    let (mut ac, mut bc) = (a.client().await, b.client().await);
    must_be_master(&fake, &aa, 1).await;
    must_accept_writes(&mut ac, "k").await;
    let _: () = cmd(&mut ac, &["SET", "from-a", "1"]).await.unwrap();
    must_be_replica(&fake, &ba, 1, &aa).await;
    // As in Redis Cluster, a replica sends keyed commands to its master, and serves reads only
    // to a connection that said READONLY.
    let err = cmd::<Option<String>>(&mut bc, &["GET", "from-a"]).await.unwrap_err();
    assert_eq!(err.code(), Some("MOVED"));
    let _: () = cmd(&mut bc, &["READONLY"]).await.unwrap();
    must_read(&mut bc, "from-a", "1").await;
    let err = cmd::<()>(&mut bc, &["SET", "x", "1"]).await.unwrap_err();
    assert_eq!(err.code(), Some("MOVED"));
    assert!(err.to_string().ends_with(&aa), "{err}");
    // Flipped at shard_epoch 2: B masters, A follows B.
    fake.set(|s| {
        s.assignments.insert(ba.clone(), master(2, 10_000, &[]));
        s.assignments.insert(aa.clone(), replica(2, &ba));
        s.routing = one_shard(2, &ba);
    });
    must_be_master(&fake, &ba, 2).await;
    must_accept_writes(&mut bc, "k").await;
    let _: () = cmd(&mut bc, &["SET", "from-b", "2"]).await.unwrap();
    must_be_replica(&fake, &aa, 2, &ba).await;
    let _: () = cmd(&mut ac, &["READONLY"]).await.unwrap();
    must_read(&mut ac, "from-b", "2").await;
    must_read(&mut ac, "from-a", "1").await;
    assert_eq!(info_field(&mut ac, "replication", "master_port").await, b.port().to_string());
    // A stale assignment (shard_epoch 1) changes nothing.
    fake.set(|s| {
        s.assignments.insert(aa.clone(), master(1, 10_000, &[]));
    });
    let after = fake.from(&aa).len();
    let deadline = Instant::now() + Duration::from_secs(15);
    while fake.from(&aa).len() < after + 5 {
        assert!(Instant::now() < deadline, "no more heartbeats");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let last = fake.from(&aa).pop().unwrap();
    assert!(
        matches!(last.hb.role, ReportedRole::Replica { shard_epoch: 2, .. }),
        "{:?}",
        last.hb.role
    );
    assert_eq!(info_field(&mut ac, "replication", "role").await, "slave");
    let err = cmd::<()>(&mut ac, &["SET", "x", "1"]).await.unwrap_err();
    assert_eq!(err.code(), Some("MOVED"), "a write on the replica goes to its master");
    assert!(err.to_string().ends_with(&ba), "{err}");
}

#[tokio::test]
async fn the_in_sync_set_shrinks_and_grows_by_request() {
    let fake = Fake::start().await;
    let a = start_managed(&fake, &["--replication", "sync", "--isr-timeout-ms", "300"]).await;
    let b_dir = test_dir().display().to_string();
    let b = start_managed(&fake, &["--dir", &b_dir]).await;
    let (aa, ba) = (addr_of(&a), addr_of(&b));
    let b_port = b.port();
    fake.set(|s| {
        s.assignments.insert(aa.clone(), master(1, 10_000, &[&ba]));
        s.assignments.insert(ba.clone(), replica(1, &aa));
        s.routing = one_shard(1, &aa);
    });
    let (mut ac, mut bc) = (a.client().await, b.client().await);
    must_be_master(&fake, &aa, 1).await;
    must_be_replica(&fake, &ba, 1, &aa).await;
    let _: () = cmd(&mut ac, &["SET", "x", "1"]).await.unwrap();
    let _: () = cmd(&mut bc, &["READONLY"]).await.unwrap();
    let v: String = cmd(&mut bc, &["GET", "x"]).await.unwrap();
    assert_eq!(v, "1", "acknowledged once the in-sync replica had it");
    // The replica names itself by its announce address: the in-sync set's name for it.
    let slave0 = info_field(&mut ac, "replication", "slave0").await;
    assert!(slave0.starts_with(&format!("ip=127.0.0.1,port={b_port},")), "{slave0}");

    // B goes away: a write waits; past isr-timeout-ms A asks for B to leave the set, and the
    // write waits until the reply shows the set without B.
    drop(bc);
    b.stop().await.unwrap();
    let mut writer = a.client().await;
    let pending = tokio::spawn(async move { cmd::<()>(&mut writer, &["SET", "y", "2"]).await });
    let asked = fake
        .must_receive(&aa, "a request to drop B", |r| r.hb.in_sync_request == Some(vec![]))
        .await;
    let until = asked.at + Duration::from_millis(300);
    while Instant::now() < until {
        assert!(!pending.is_finished(), "acknowledged before the set without B was committed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!pending.is_finished(), "acknowledged before the set without B was committed");
    fake.set(|s| {
        s.assignments.insert(aa.clone(), master(1, 10_000, &[]));
    });
    tokio::time::timeout(Duration::from_secs(10), pending).await.unwrap().unwrap().unwrap();
    assert_eq!(info_field(&mut ac, "replication", "rcluster_in_sync").await, "");

    // B comes back on its address: once caught up, A waits for it and asks for it to rejoin.
    // The fake holds that request (a slow commit); every write acknowledged meanwhile is
    // already on B.
    fake.set(|s| s.hold_requests_naming = Some(ba.clone()));
    let listener = bind_again(b_port).await;
    let b = start_server_on(
        listener,
        &["--config-endpoints", &fake.url(), "--heartbeat-ms", "50", "--dir", &b_dir],
    )
    .await;
    let mut bc = b.client().await;
    let _: () = cmd(&mut bc, &["READONLY"]).await.unwrap();
    let asked = fake
        .must_receive(&aa, "a request to add B", |r| r.hb.in_sync_request == Some(vec![ba.clone()]))
        .await;
    assert!(!asked.answered);
    assert_eq!(info_field(&mut ac, "replication", "rcluster_in_sync_joining").await, ba);
    for i in 0..20 {
        let (k, v) = (format!("j{i}"), i.to_string());
        let _: () = cmd(&mut ac, &["SET", &k, &v]).await.unwrap();
        let on_b: Option<String> = cmd(&mut bc, &["GET", &k]).await.unwrap();
        assert_eq!(on_b.as_deref(), Some(v.as_str()), "acknowledged before B had it");
    }
    // Committed: B is a member.
    fake.set(|s| {
        s.hold_requests_naming = None;
        s.assignments.insert(aa.clone(), master(1, 10_000, &[&ba]));
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let in_sync = info_field(&mut ac, "replication", "rcluster_in_sync").await;
        let joining = info_field(&mut ac, "replication", "rcluster_in_sync_joining").await;
        if in_sync == ba && joining.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "B never became a member: {in_sync} / {joining}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _: () = cmd(&mut ac, &["SET", "z", "3"]).await.unwrap();
    let v: String = cmd(&mut bc, &["GET", "z"]).await.unwrap();
    assert_eq!(v, "3");
}

/// Binds 127.0.0.1:`port` again (a restarted server on its old address).
async fn bind_again(port: u16) -> tokio::net::TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => return l,
            Err(e) => assert!(Instant::now() < deadline, "cannot bind port {port} again: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn replicas_announce_their_address_with_replconf_ip_address() {
    let m = start_server().await;
    let port = m.port().to_string();
    let r = start_server_with(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--replica-announce-ip",
        "10.9.8.7",
    ])
    .await;
    let mut mc = m.client().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let want = format!("ip=10.9.8.7,port={},state=online", r.port());
    loop {
        let text: String = cmd(&mut mc, &["INFO", "replication"]).await.unwrap();
        if text.contains(&want) {
            break;
        }
        assert!(Instant::now() < deadline, "no {want} in {text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let role: redis::Value = cmd(&mut mc, &["ROLE"]).await.unwrap();
    assert!(format!("{role:?}").contains("10.9.8.7"), "{role:?}");
    // Under a control plane, a replica names itself by its announce-addr.
    let fake = Fake::start().await;
    let _r2 = start_managed(
        &fake,
        &["--replicaof", "127.0.0.1", &port, "--announce-addr", "127.0.0.2:1234"],
    )
    .await;
    fake.must_receive("127.0.0.2:1234", "a heartbeat", |_| true).await;
    loop {
        let text: String = cmd(&mut mc, &["INFO", "replication"]).await.unwrap();
        if text.contains("ip=127.0.0.2,port=1234,state=online") {
            break;
        }
        assert!(Instant::now() < deadline, "the announce address is not used: {text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

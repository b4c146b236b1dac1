//! Test helpers: config servers in-process, each on its own runtime and thread so that one can
//! be killed outright (its runtime dropped with every task in it: no graceful shutdown, as with
//! `kill -9`) and restarted on the same address and data directory; and fake partition servers
//! that heartbeat over HTTP and obey the replies.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use config_service::Config;
use protocol::error_body::ErrorBody;
use protocol::heartbeat::{
    AssignedRole, PartitionHeartbeat, PartitionHeartbeatReply, ReportedRole,
};
use serde::de::DeserializeOwned;
use tempfile::TempDir;

/// The election timeout the tests run with (lower bound; the upper bound is twice it).
pub const ELECTION_MS: u64 = 300;

/// One config server.
pub struct TestNode {
    pub id: u64,
    pub addr: String,
    pub config: Config,
    running: Option<(std::thread::JoinHandle<()>, tokio::sync::oneshot::Sender<()>)>,
}

impl TestNode {
    /// Starts the server on `listener`.
    fn start(config: Config, listener: StdListener) -> Self {
        let addr = listener.local_addr().unwrap().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let cfg = config.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                listener.set_nonblocking(true).unwrap();
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    result = config_service::run(listener, cfg, std::future::pending()) => {
                        result.expect("config server failed");
                    }
                    _ = stopped => {}
                }
            });
            // Drops every task (Raft's, the server's) and waits for them to go, so that the
            // database's lock is released before a restart opens it again.
            runtime.shutdown_timeout(Duration::from_secs(5));
        });
        TestNode { id: config.id, addr, config, running: Some((thread, stop)) }
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Kills the server: every task of it is dropped at once.
    pub fn kill(&mut self) {
        if let Some((thread, stop)) = self.running.take() {
            let _ = stop.send(());
            thread.join().expect("the config server's thread panicked");
        }
    }

    /// Starts it again on the same address and data directory.
    pub fn restart(&mut self) {
        assert!(!self.is_running());
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match StdListener::bind(&self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("rebinding {}: {e}", self.addr),
            }
        };
        *self = TestNode::start(self.config.clone(), listener);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        // Not `kill`: a panic while the test is already failing would abort the run.
        if let Some((thread, stop)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

/// A Raft group of config servers on loopback.
pub struct TestGroup {
    pub nodes: Vec<TestNode>,
    pub dir: TempDir,
}

/// The settings every test node starts from.
pub fn base_config(id: u64, addr: &str, peers: Vec<(u64, String)>, dir: PathBuf) -> Config {
    let mut c = Config::new(id, addr.to_string(), peers, dir);
    c.election_timeout_ms = ELECTION_MS;
    c
}

/// Starts `n` config servers forming one group; `edit` adjusts each one's config.
pub fn start_group(n: usize, edit: impl Fn(&mut Config)) -> TestGroup {
    let dir = tempfile::tempdir().unwrap();
    let listeners: Vec<StdListener> =
        (0..n).map(|_| StdListener::bind("127.0.0.1:0").unwrap()).collect();
    let peers: Vec<(u64, String)> = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.local_addr().unwrap().to_string()))
        .collect();
    let nodes = listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let id = i as u64 + 1;
            let addr = listener.local_addr().unwrap().to_string();
            let mut config =
                base_config(id, &addr, peers.clone(), dir.path().join(format!("c{id}")));
            edit(&mut config);
            TestNode::start(config, listener)
        })
        .collect();
    TestGroup { nodes, dir }
}

/// Starts a node that will be added to the group later (`--join`).
pub fn start_joining(group: &TestGroup, id: u64) -> TestNode {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut config =
        base_config(id, &addr, vec![(id, addr.clone())], group.dir.path().join(format!("c{id}")));
    config.join = true;
    TestNode::start(config, listener)
}

impl TestGroup {
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().filter(|n| n.is_running()).map(TestNode::url).collect()
    }

    pub fn admin(&self) -> admin_api::AdminClient {
        admin_api::AdminClient::new(self.urls()).timeout(Duration::from_secs(10))
    }

    /// The index (in `nodes`) of the leader that every running node agrees on, waiting up to
    /// `within`.
    pub async fn must_agree_on_leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            let mut leaders = Vec::new();
            for node in self.nodes.iter().filter(|n| n.is_running()) {
                let health: Option<serde_json::Value> =
                    get_json(&format!("{}/healthz", node.url())).await.ok();
                leaders.push(health.and_then(|h| h["leader"].as_str().map(str::to_string)));
            }
            if let Some(Some(leader)) = leaders.first() {
                if leaders.iter().all(|l| l.as_deref() == Some(leader)) {
                    if let Some(i) =
                        self.nodes.iter().position(|n| &n.addr == leader && n.is_running())
                    {
                        return i;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no agreed leader within {within:?}: {leaders:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap()
}

/// GETs `url` and decodes JSON; an error status is `Err` with the error body.
pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, (u16, String)> {
    let reply = http().get(url).send().await.map_err(|e| (0, e.to_string()))?;
    let status = reply.status().as_u16();
    let text = reply.text().await.map_err(|e| (status, e.to_string()))?;
    if status >= 300 {
        return Err((status, text));
    }
    serde_json::from_str(&text).map_err(|e| (status, format!("{e}: {text}")))
}

/// POSTs JSON to `url`; an error status is `Err((status, body))`.
pub async fn post_json<B: serde::Serialize, T: DeserializeOwned>(
    url: &str,
    body: &B,
) -> Result<T, (u16, String)> {
    let reply = http().post(url).json(body).send().await.map_err(|e| (0, e.to_string()))?;
    let status = reply.status().as_u16();
    let text = reply.text().await.map_err(|e| (status, e.to_string()))?;
    if status >= 300 {
        return Err((status, text));
    }
    serde_json::from_str(&text).map_err(|e| (status, format!("{e}: {text}")))
}

/// What a fake partition server currently believes and reports.
#[derive(Debug, Clone)]
pub struct FakeState {
    pub addr: String,
    pub node: Option<u64>,
    pub role: ReportedRole,
    pub offset: u64,
    /// The last lease granted (ms), 0 when none.
    pub lease_ms: u64,
    /// Whether it heartbeats at all (false: a crashed or cut-off server).
    pub alive: bool,
    /// The in-sync set it asks for, as a master.
    pub in_sync_request: Option<Vec<String>>,
    /// It reports a restart as master (until it gets a lease or a replica role).
    pub restarted: bool,
    pub replies: u64,
    /// The replication mode of the last assignment.
    pub replication: Option<protocol::heartbeat::Replication>,
}

/// A fake partition server: heartbeats every 100 ms to whichever config server leads
/// (following 421 answers, skipping dead endpoints) and takes the role it is given.
pub struct FakePartition {
    pub state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakePartition {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakePartition {
    pub fn spawn(addr: &str, endpoints: Vec<String>) -> FakePartition {
        let state = Arc::new(Mutex::new(FakeState {
            addr: addr.to_string(),
            node: None,
            role: ReportedRole::Unassigned,
            offset: 0,
            lease_ms: 0,
            alive: true,
            in_sync_request: None,
            restarted: false,
            replies: 0,
            replication: None,
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_millis(800))
                .build()
                .unwrap();
            let mut current = 0usize;
            let mut base = endpoints[0].clone();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let report = {
                    let s = shared.lock().unwrap();
                    if !s.alive {
                        continue;
                    }
                    PartitionHeartbeat {
                        addr: s.addr.clone(),
                        role: s.role.clone(),
                        offset: s.offset,
                        replid: String::new(),
                        used_memory: 0,
                        keys: 0,
                        restarted: s.restarted,
                        in_sync_request: s.in_sync_request.clone(),
                    }
                };
                let url = format!("{base}{}", protocol::heartbeat::PARTITION_PATH);
                let reply = match client.post(&url).json(&report).send().await {
                    Ok(r) => r,
                    Err(_) => {
                        current = (current + 1) % endpoints.len();
                        base = endpoints[current].clone();
                        continue;
                    }
                };
                let status = reply.status().as_u16();
                if status == 421 {
                    if let Ok(ErrorBody { leader: Some(leader), .. }) = reply.json().await {
                        base = format!("http://{leader}");
                    }
                    continue;
                }
                if status != 200 {
                    current = (current + 1) % endpoints.len();
                    base = endpoints[current].clone();
                    continue;
                }
                let Ok(reply) = reply.json::<PartitionHeartbeatReply>().await else { continue };
                let mut s = shared.lock().unwrap();
                if !s.alive {
                    continue;
                }
                s.node = Some(reply.node);
                s.replies += 1;
                if let Some(a) = reply.assignment {
                    s.replication = Some(a.replication);
                    match a.role {
                        AssignedRole::Master { lease_ms, .. } => {
                            s.role =
                                ReportedRole::Master { shard: a.shard, shard_epoch: a.shard_epoch };
                            s.lease_ms = lease_ms;
                        }
                        AssignedRole::Replica { master } => {
                            s.role = ReportedRole::Replica {
                                shard: a.shard,
                                shard_epoch: a.shard_epoch,
                                master,
                                link_up: true,
                            };
                            s.lease_ms = 0;
                            s.restarted = false;
                        }
                    }
                }
            }
        });
        FakePartition { state, task }
    }

    pub fn set_alive(&self, alive: bool) {
        self.state.lock().unwrap().alive = alive;
    }

    pub fn snapshot(&self) -> FakeState {
        self.state.lock().unwrap().clone()
    }
}

/// Polls `f` every 20 ms until it returns `Some`, failing after `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(t) = f().await {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a config group and `n` fake partition servers, and creates a cluster of `n / 2`
/// shards from them; returns once every fake holds its assigned role (masters with a lease).
pub async fn start_cluster(n: u16, edit: impl Fn(&mut Config)) -> (TestGroup, Vec<FakePartition>) {
    let group = start_group(3, edit);
    group.must_agree_on_leader(Duration::from_secs(10)).await;
    let fakes: Vec<FakePartition> = (0..n)
        .map(|i| FakePartition::spawn(&format!("127.0.0.1:{}", 7000 + i), group.urls()))
        .collect();
    wait_for("every fake to register", Duration::from_secs(10), || async {
        fakes.iter().all(|f| f.snapshot().node.is_some()).then_some(())
    })
    .await;
    let req = admin_api::types::CreateClusterRequest {
        plan: Some("16GB".into()),
        shards: Some(u32::from(n / 2)),
        ..Default::default()
    };
    group.admin().create_cluster(&req).await.expect("create the cluster");
    wait_for("every fake to take its role", Duration::from_secs(10), || async {
        fakes
            .iter()
            .all(|f| {
                let s = f.snapshot();
                matches!(s.role, ReportedRole::Replica { .. }) || s.lease_ms > 0
            })
            .then_some(())
    })
    .await;
    // And the leader has heard every replica report its new role (a failover needs that).
    wait_for("every replica's report", Duration::from_secs(10), || async {
        let shards = group.admin().shards().await.ok()?;
        shards.iter().flat_map(|s| &s.replicas).all(|r| r.link_up && r.healthy).then_some(())
    })
    .await;
    (group, fakes)
}

/// The current routing table, read from any running config server.
pub async fn routing(group: &TestGroup) -> protocol::routing::RoutingTable {
    for url in group.urls() {
        if let Ok(t) = get_json(&format!("{url}{}", protocol::routing::PATH)).await {
            return t;
        }
    }
    panic!("no config server answered the routing table")
}

/// The index in `fakes` of the fake with RESP address `addr`.
pub fn fake_at(fakes: &[FakePartition], addr: &str) -> usize {
    fakes.iter().position(|f| f.snapshot().addr == addr).expect("a fake at that address")
}

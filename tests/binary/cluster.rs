//! A whole cluster of real processes — three `rcluster config-service` and `rcluster partition`
//! servers with `--config-endpoints` — formed without a manual step (`--init-shards`), then
//! broken: a master killed with `kill -9`, a master cut off from the config service only, a
//! replica killed. Every acknowledged write must survive each of them.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admin_api::types::{CreateClusterRequest, ShardView};
use admin_api::AdminClient;
use protocol::routing::RoutingTable;

use crate::free_port;

/// A child process, killed with SIGKILL when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One partition server: its port, data directory and (while it runs) its process.
struct Partition {
    port: u16,
    dir: PathBuf,
    endpoints: String,
    proc: Option<Proc>,
}

impl Partition {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_rcluster"))
            .args([
                "partition",
                "--port",
                &self.port.to_string(),
                "--dir",
                self.dir.to_str().unwrap(),
            ])
            .args(["--save", "", "--loglevel", "warning"])
            .args(["--config-endpoints", &self.endpoints])
            .args(["--announce-addr", &format!("127.0.0.1:{}", self.port)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a partition server");
        crate::must_connect(self.port);
        self.proc = Some(Proc(child));
    }

    fn kill(&mut self) {
        self.proc.take();
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The cluster: config servers and partition servers.
struct Cluster {
    _config: Vec<Proc>,
    config_urls: Vec<String>,
    partitions: Vec<Partition>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Three config servers with `--init-shards shards`, and `shards × 2` partition servers
    /// whose config endpoints are `endpoints(i, urls)` (the urls, or relays in front of them).
    fn start(shards: u32, endpoints: impl Fn(usize, &[String]) -> String) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let peers: Vec<String> =
            ports.iter().enumerate().map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1)).collect();
        let config = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let child = Command::new(env!("CARGO_BIN_EXE_rcluster"))
                    .args(["config-service", "--id", &(i + 1).to_string()])
                    .args(["--listen", &format!("127.0.0.1:{port}"), "--peers", &peers.join(",")])
                    .args(["--dir", dir.path().join(format!("c{i}")).to_str().unwrap()])
                    .args(["--init-shards", &shards.to_string()])
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start a config server");
                Proc(child)
            })
            .collect();
        let config_urls: Vec<String> =
            ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
        let partitions = (0..shards as usize * 2)
            .map(|i| {
                let port = free_port();
                let mut p = Partition {
                    port,
                    dir: dir.path().join(format!("p{port}")),
                    endpoints: endpoints(i, &config_urls),
                    proc: None,
                };
                std::fs::create_dir_all(&p.dir).unwrap();
                p.start();
                p
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let cluster = Cluster { _config: config, config_urls, partitions, runtime, _dir: dir };
        cluster.must_be_healthy(Duration::from_secs(30));
        cluster
    }

    fn admin(&self) -> AdminClient {
        AdminClient::new(self.config_urls.clone()).timeout(Duration::from_secs(5))
    }

    fn shards(&self) -> Vec<ShardView> {
        self.runtime.block_on(self.admin().shards()).expect("GET /v1/shards")
    }

    fn routing(&self) -> RoutingTable {
        self.runtime.block_on(async {
            for url in &self.config_urls {
                let client = reqwest::Client::builder().no_proxy().build().unwrap();
                if let Ok(r) = client.get(format!("{url}/v1/routing")).send().await {
                    if let Ok(t) = r.json::<RoutingTable>().await {
                        return t;
                    }
                }
            }
            panic!("no config server answered /v1/routing")
        })
    }

    /// Waits until every shard has a healthy master whose replicas are healthy and in sync
    /// and the masters accept writes.
    fn must_be_healthy(&self, within: Duration) {
        wait_until("a healthy cluster", within, || {
            let Ok(view) = self.runtime.block_on(self.admin().cluster()) else { return false };
            if view.state != admin_api::types::ClusterState::Healthy {
                return false;
            }
            let table = self.routing();
            view.shards
                .iter()
                .all(|s| writable(&s.master.addr, &keys_of(&table, s.id, "probe", 1)[0]))
        });
    }

    fn partition(&self, addr: &str) -> usize {
        self.partitions.iter().position(|p| p.addr() == addr).expect("a partition at that address")
    }
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn con(addr: &str) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
    let c = client.get_connection_with_timeout(Duration::from_secs(2)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

/// Whether `addr` acknowledges a write of `key` now (a master with a lease that owns it).
fn writable(addr: &str, key: &str) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://{addr}/")) else { return false };
    let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(500)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    redis::cmd("SET").arg(key).arg("probe").query::<String>(&mut c).is_ok()
}

/// Keys of `shard` in `table`: `count` of them, `prefix`-named.
fn keys_of(table: &RoutingTable, shard: u32, prefix: &str, count: usize) -> Vec<String> {
    let route = table.shards.iter().find(|s| s.id == shard).unwrap();
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| route.slots.iter().any(|r| r.contains(protocol::key_hash_slot(k.as_bytes()))))
        .take(count)
        .collect()
}

/// The role ROLE reports ("master" / "slave"), or None when the server does not answer.
fn role(addr: &str) -> Option<String> {
    let client = redis::Client::open(format!("redis://{addr}/")).ok()?;
    let mut c = client.get_connection_with_timeout(Duration::from_millis(300)).ok()?;
    let v: redis::Value = redis::cmd("ROLE").query(&mut c).ok()?;
    match v {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// One write as the writer saw it: the key, the outcome (the error's code first) and when the
/// reply came.
type WriteRecord = (String, Result<(), String>, Instant);

/// A writer thread: SETs `keys[i] = i` one after the other on `addr` until stopped, noting
/// each reply with its time.
struct Writer {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<WriteRecord>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(addr: &str, keys: Vec<String>) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l, addr) = (stop.clone(), log.clone(), addr.to_string());
        let thread = std::thread::spawn(move || {
            let mut c = con(&addr);
            for key in keys.iter().cycle() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let r = redis::cmd("SET").arg(key).arg(key).query::<String>(&mut c);
                let outcome = match r {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // A broken connection: reconnect (the outcome of that write is unknown,
                        // it is logged as an error, so it is not counted as acknowledged).
                        if e.is_io_error() || e.is_timeout() {
                            std::thread::sleep(Duration::from_millis(5));
                            if let Ok(client) = redis::Client::open(format!("redis://{addr}/")) {
                                if let Ok(new) =
                                    client.get_connection_with_timeout(Duration::from_millis(300))
                                {
                                    c = new;
                                    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                                }
                            }
                        }
                        // The server's error code first ("TRYAGAIN …"), then the text.
                        Err(format!("{} {e}", e.code().unwrap_or("-")))
                    }
                };
                l.lock().unwrap().push((key.clone(), outcome, Instant::now()));
            }
        });
        Writer { stop, log, thread: Some(thread) }
    }

    fn acknowledged(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, r, _)| r.is_ok())
            .map(|(k, _, _)| k.clone())
            .collect()
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Every key in `keys` is on the server at `addr`, master or replica.
fn must_hold(addr: &str, keys: &[String]) {
    let mut c = con(addr);
    // A replica serves reads only to a READONLY connection (else -MOVED to its master).
    let _: String = redis::cmd("READONLY").query(&mut c).unwrap();
    let mut missing = Vec::new();
    for key in keys {
        let v: Option<String> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
        if v.as_deref() != Some(key.as_str()) {
            missing.push(key.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost on {addr}: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn a_three_shard_cluster_forms_itself_and_admin_status_shows_it() {
    let cluster = Cluster::start(3, |_, urls| urls.join(","));
    let out = Command::new(env!("CARGO_BIN_EXE_rcluster"))
        .args(["admin", "--endpoints", &cluster.config_urls.join(","), "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("healthy"), "{text}");
    let shards = cluster.shards();
    assert_eq!(shards.len(), 3);
    assert_eq!(shards.iter().map(|s| s.slot_count).sum::<usize>(), protocol::SLOT_COUNT);
    for shard in &shards {
        assert_eq!(shard.replicas.len(), 1);
        assert!(shard.replicas[0].in_sync && shard.replicas[0].link_up, "{shard:?}");
    }
    // Creating it again by hand is refused: it exists.
    let again = cluster
        .runtime
        .block_on(cluster.admin().create_cluster(&CreateClusterRequest::for_plan("16GB")));
    assert_eq!(again.unwrap_err().status().map(|s| s.as_u16()), Some(409));
}

#[test]
fn a_killed_master_is_replaced_by_its_replica_and_rejoins_as_one() {
    let mut cluster = Cluster::start(2, |_, urls| urls.join(","));
    let before = cluster.routing();
    let shard = before.shards[0].clone();
    let keys = keys_of(&before, 0, "k", 200);
    let mut writer = Writer::start(&shard.master, keys);
    wait_until("some acknowledged writes", Duration::from_secs(10), || {
        writer.acknowledged().len() >= 100
    });

    // A long-poll for the next epoch, from before the kill.
    let poll_url =
        format!("{}/v1/routing?after={}&wait_ms=20000", cluster.config_urls[1], before.epoch);
    let poll = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            client.get(poll_url).send().await.unwrap().json::<RoutingTable>().await.unwrap()
        })
    });
    let old = cluster.partition(&shard.master);
    cluster.partitions[old].kill();
    writer.stop();
    let acknowledged = writer.acknowledged();

    let polled = poll.join().unwrap();
    assert_eq!(polled.epoch, before.epoch + 1, "{polled:?}");
    let after = &polled.shards[0];
    assert_eq!(after.master, shard.replicas[0], "the in-sync replica is promoted");
    assert_eq!(after.shard_epoch, shard.shard_epoch + 1);
    assert_eq!(polled.shards[1], before.shards[1]);
    let probe = keys_of(&polled, 0, "probe", 1).remove(0);
    wait_until("the new master to accept writes", Duration::from_secs(5), || {
        writable(&after.master, &probe)
    });
    must_hold(&after.master, &acknowledged);

    // The old master comes back and follows the new one.
    cluster.partitions[old].start();
    wait_until("the old master to become a replica", Duration::from_secs(10), || {
        role(&shard.master).as_deref() == Some("slave")
    });
    cluster.must_be_healthy(Duration::from_secs(20));
    let shards = cluster.shards();
    assert_eq!(shards[0].replicas[0].addr, shard.master);
    assert!(shards[0].replicas[0].in_sync, "it rejoined the in-sync set: {:?}", shards[0]);
    must_hold(&shard.master, &acknowledged);
}

#[test]
fn a_replica_killed_leaves_the_in_sync_set_and_rejoins_when_back() {
    let mut cluster = Cluster::start(1, |_, urls| urls.join(","));
    let table = cluster.routing();
    let shard = table.shards[0].clone();
    let replica = cluster.partition(&shard.replicas[0]);
    cluster.partitions[replica].kill();
    let killed = Instant::now();
    // Writes continue: the first one waits for the replica until the master asks for it to
    // leave the in-sync set (isr-timeout-ms) and that is committed.
    let mut c = con(&shard.master);
    let keys = keys_of(&table, 0, "r", 50);
    for key in &keys {
        let _: String = redis::cmd("SET")
            .arg(key)
            .arg(key)
            .query(&mut c)
            .expect("a write with the replica gone");
    }
    assert!(killed.elapsed() < Duration::from_secs(5), "writes stalled for {:?}", killed.elapsed());
    let shards = cluster.shards();
    assert!(!shards[0].replicas[0].in_sync, "{:?}", shards[0]);

    cluster.partitions[replica].start();
    cluster.must_be_healthy(Duration::from_secs(20));
    assert!(cluster.shards()[0].replicas[0].in_sync);
    must_hold(&shard.replicas[0], &keys);
}

/// A TCP relay the test can cut: connections through it are closed and new ones refused.
struct Relay {
    addr: String,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (c, o, upstream) =
            (cut.clone(), open.clone(), upstream.trim_start_matches("http://").to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                o.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { addr, cut, open }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[test]
fn a_master_cut_off_from_the_config_service_stops_before_its_replica_is_promoted() {
    // Every partition server reaches the config service through relays; the test cuts the
    // master's, leaving its clients and its replica connected.
    let relays: Arc<Mutex<Vec<Vec<Relay>>>> = Arc::default();
    let r = relays.clone();
    let cluster = Cluster::start(1, move |_, urls| {
        let set: Vec<Relay> = urls.iter().map(|u| Relay::start(u)).collect();
        let endpoints =
            set.iter().map(|r| format!("http://{}", r.addr)).collect::<Vec<_>>().join(",");
        r.lock().unwrap().push(set);
        endpoints
    });
    let table = cluster.routing();
    let shard = table.shards[0].clone();
    let master = cluster.partition(&shard.master);
    let keys = keys_of(&table, 0, "c", 500);
    let writer = Writer::start(&shard.master, keys);
    wait_until("some acknowledged writes", Duration::from_secs(10), || {
        writer.acknowledged().len() >= 100
    });

    let cut_at = Instant::now();
    for relay in &relays.lock().unwrap()[master] {
        relay.cut();
    }
    // Watch the replica until it is promoted.
    let promoted_at = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if role(&shard.replicas[0]).as_deref() == Some("master") {
                break Instant::now();
            }
            assert!(Instant::now() < deadline, "the replica was never promoted");
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    let mut writer = writer;
    writer.stop();
    let log = writer.log.lock().unwrap().clone();
    let refused_at = log
        .iter()
        .find(|(_, r, at)| *at > cut_at && matches!(r, Err(e) if e.starts_with("TRYAGAIN")))
        .map(|(_, _, at)| *at)
        .unwrap_or_else(|| {
            let errors: std::collections::BTreeSet<&String> =
                log.iter().filter_map(|(_, r, _)| r.as_ref().err()).collect();
            panic!("the cut-off master never refused a write; errors seen: {errors:?}")
        });
    let last_ok = log.iter().filter(|(_, r, _)| r.is_ok()).map(|(_, _, at)| *at).max().unwrap();
    assert!(
        refused_at < promoted_at,
        "the old master refused writes only {:?} after the promotion",
        refused_at - promoted_at
    );
    assert!(last_ok < promoted_at, "the old master acknowledged a write after the promotion");
    eprintln!(
        "cut → first refusal {:?}, cut → promotion {:?}",
        refused_at - cut_at,
        promoted_at - cut_at
    );
    // Every acknowledged write is on the new master, which takes writes.
    let acknowledged = writer.acknowledged();
    assert!(acknowledged.len() >= 100);
    let probe = keys_of(&table, 0, "probe", 1).remove(0);
    wait_until("the new master to accept writes", Duration::from_secs(5), || {
        writable(&shard.replicas[0], &probe)
    });
    must_hold(&shard.replicas[0], &acknowledged);

    // Healed, the old master rejoins as a replica.
    for relay in &relays.lock().unwrap()[master] {
        relay.heal();
    }
    wait_until("the old master to follow the new one", Duration::from_secs(10), || {
        role(&shard.master).as_deref() == Some("slave")
    });
}

#[test]
fn a_master_restarted_at_once_does_not_come_back_as_master() {
    // Restarted before the failure detector noticed, with no AOF: its data is gone. It must
    // not serve as master again; its in-sync replica, which has every acknowledged write, is
    // promoted instead.
    let mut cluster = Cluster::start(1, |_, urls| urls.join(","));
    let table = cluster.routing();
    let shard = table.shards[0].clone();
    let keys = keys_of(&table, 0, "q", 300);
    let mut c = con(&shard.master);
    for key in &keys {
        let _: String = redis::cmd("SET").arg(key).arg(key).query(&mut c).unwrap();
    }
    let old = cluster.partition(&shard.master);
    cluster.partitions[old].kill();
    cluster.partitions[old].start();
    wait_until("the replica to be promoted", Duration::from_secs(5), || {
        role(&shard.replicas[0]).as_deref() == Some("master")
    });
    wait_until("the restarted server to follow it", Duration::from_secs(10), || {
        role(&shard.master).as_deref() == Some("slave")
    });
    let probe = keys_of(&table, 0, "probe", 1).remove(0);
    wait_until("the new master to accept writes", Duration::from_secs(5), || {
        writable(&shard.replicas[0], &probe)
    });
    must_hold(&shard.replicas[0], &keys);
    cluster.must_be_healthy(Duration::from_secs(20));
    must_hold(&shard.master, &keys);
}

#[test]
fn a_proxy_cut_off_from_the_config_service_keeps_serving_with_its_last_table() {
    let cluster = Cluster::start(2, |_, urls| urls.join(","));
    // The proxy alone reaches the config service through relays the test cuts; the partition
    // servers keep their leases.
    let relays: Vec<Relay> = cluster.config_urls.iter().map(|u| Relay::start(u)).collect();
    let endpoints =
        relays.iter().map(|r| format!("http://{}", r.addr)).collect::<Vec<_>>().join(",");
    let port = free_port();
    let _proxy = Proc(
        Command::new(env!("CARGO_BIN_EXE_rcluster"))
            .args(["proxy", "--port", &port.to_string(), "--config-endpoints", &endpoints])
            .args(["--heartbeat-ms", "200"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a proxy"),
    );
    let proxy = format!("127.0.0.1:{port}");
    let table = cluster.routing();
    let keys: Vec<String> =
        [0, 1].iter().flat_map(|&shard| keys_of(&table, shard, "p", 20)).collect();
    wait_until("the proxy to route to every shard", Duration::from_secs(10), || {
        keys.iter().all(|k| writable(&proxy, k))
    });

    for relay in &relays {
        relay.cut();
    }
    // Longer than several heartbeats and routing polls: every one of them now fails, and the
    // proxy must go on routing with the table it has.
    let cut_at = Instant::now();
    let mut c = con(&proxy);
    let mut round = 0;
    while cut_at.elapsed() < Duration::from_secs(3) {
        for key in &keys {
            let value = format!("{key}-{round}");
            let set: redis::RedisResult<String> =
                redis::cmd("SET").arg(key).arg(&value).query(&mut c);
            assert_eq!(set.as_deref(), Ok("OK"), "SET {key} {:?} after the cut", cut_at.elapsed());
            let got: Option<String> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
            assert_eq!(got.as_deref(), Some(value.as_str()));
        }
        round += 1;
    }
    // A new client is served too (nothing depends on the config service per connection).
    let mut fresh = con(&proxy);
    let pong: String = redis::cmd("PING").query(&mut fresh).unwrap();
    assert_eq!(pong, "PONG");
    // The values landed on the shards' masters themselves.
    for shard in &table.shards {
        let mut m = con(&shard.master);
        for key in keys_of(&table, shard.id, "p", 20) {
            let got: Option<String> = redis::cmd("GET").arg(&key).query(&mut m).unwrap();
            assert_eq!(got, Some(format!("{key}-{}", round - 1)));
        }
    }
}

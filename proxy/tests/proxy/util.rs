//! Test helpers: partition servers and a proxy started in-process on 127.0.0.1:0 through the
//! same entry points the binary uses, `redis` crate clients, raw RESP.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use protocol::routing::{RoutingTable, ShardRoute, SlotRange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A fresh, empty directory for one test's files.
pub fn test_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rcluster-proxy-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

/// A partition server running in this process; stopped when dropped.
pub struct TestPartition {
    pub addr: SocketAddr,
    pub server: Arc<partition::Server>,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<partition::Result<()>>>,
}

impl TestPartition {
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        connect(self.addr).await
    }

    /// Stops the server and waits until it has (its clients are disconnected).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.serving.take().expect("serving").await;
    }
}

impl Drop for TestPartition {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a partition server with redis-server style arguments (no persistence).
pub async fn start_partition(args: &[&str]) -> TestPartition {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    start_partition_with(listener, args).await
}

/// A default partition server on `listener`.
/// Two partitions where A is fenced as the master of slots 0-8191 and routes the rest to B
/// (so A answers -MOVED for them); B is unfenced.
pub async fn start_fenced_pair() -> (TestPartition, TestPartition) {
    let a = start_partition(&["--rcluster-secret", "s"]).await;
    let b = start_partition(&[]).await;
    let mut ca = a.client().await;
    let _: () = cmd(&mut ca, &["rcluster", "auth", "s"]).await.unwrap();
    let _: () = cmd(
        &mut ca,
        &["rcluster", "role", "master", "0", "1", "lease", "600000", "slots", "0-8191"],
    )
    .await
    .unwrap();
    let route = format!("8192-16383={}", b.addr);
    let _: () = cmd(&mut ca, &["rcluster", "routes", "1", &route]).await.unwrap();
    (a, b)
}

pub async fn start_partition_on(listener: TcpListener) -> TestPartition {
    start_partition_with(listener, &[]).await
}

async fn start_partition_with(listener: TcpListener, args: &[&str]) -> TestPartition {
    let addr = listener.local_addr().expect("addr");
    let mut all: Vec<String> =
        vec!["--dir".into(), test_dir().display().to_string(), "--save".into(), String::new()];
    all.extend(args.iter().map(|a| a.to_string()));
    let config = partition::Config::from_args(&all).expect("partition config");
    let server = partition::Server::new(config, addr.port());
    let (tx, rx) = oneshot::channel::<()>();
    let s = server.clone();
    let serving = tokio::spawn(async move {
        partition::serve(s, vec![listener], async {
            let _ = rx.await;
        })
        .await
    });
    TestPartition { addr, server, stop: Some(tx), serving: Some(serving) }
}

/// A proxy running in this process; stopped when dropped.
pub struct TestProxy {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl TestProxy {
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        connect(self.addr).await
    }

    pub async fn raw(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connect to proxy")
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A routing table giving `masters` equal slot ranges, in order.
pub fn even_table(epoch: u64, masters: &[SocketAddr]) -> RoutingTable {
    RoutingTable {
        epoch,
        shards: masters
            .iter()
            .zip(SlotRange::split_even(masters.len()))
            .enumerate()
            .map(|(i, (m, r))| ShardRoute {
                id: i as u32,
                shard_epoch: 1,
                master: m.to_string(),
                replicas: vec![],
                slots: vec![r],
            })
            .collect(),
    }
}

/// A proxy config with `table` as its routing file.
pub fn routing_file_config(table: &RoutingTable) -> proxy::Config {
    let path = test_dir().join("routing.json");
    std::fs::write(&path, serde_json::to_vec(table).expect("json")).expect("write routing file");
    proxy::Config { routing_file: Some(path), ..proxy::Config::default() }
}

/// Starts a proxy with `table` as its routing file; `edit` adjusts the config.
pub async fn start_proxy(table: &RoutingTable, edit: impl FnOnce(&mut proxy::Config)) -> TestProxy {
    let mut config = routing_file_config(table);
    edit(&mut config);
    start_proxy_with(config).await
}

/// Starts a proxy with `config` on 127.0.0.1:0.
pub async fn start_proxy_with(config: proxy::Config) -> TestProxy {
    spawn_proxy(config, None).await
}

/// Starts a proxy with `config` on 127.0.0.1:0 and its `/metrics` on another port 0; returns
/// the metrics endpoint's address too.
pub async fn start_proxy_with_metrics(config: proxy::Config) -> (TestProxy, SocketAddr) {
    let metrics = TcpListener::bind("127.0.0.1:0").await.expect("bind metrics");
    let addr = metrics.local_addr().expect("addr");
    (spawn_proxy(config, Some(metrics)).await, addr)
}

async fn spawn_proxy(config: proxy::Config, metrics: Option<TcpListener>) -> TestProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        // Without a listener given, `run` binds --metrics-port itself (if set).
        match metrics {
            Some(metrics) => proxy::run_with(listener, Some(metrics), config, shutdown).await,
            None => proxy::run(listener, config, shutdown).await,
        }
        .expect("proxy run")
    });
    TestProxy { addr, stop: Some(tx) }
}

/// Three partition servers behind a proxy, slots split evenly.
pub struct Cluster {
    pub partitions: Vec<TestPartition>,
    pub proxy: TestProxy,
}

pub async fn start_cluster() -> Cluster {
    let mut partitions = Vec::new();
    for _ in 0..3 {
        partitions.push(start_partition(&[]).await);
    }
    let addrs: Vec<SocketAddr> = partitions.iter().map(|p| p.addr).collect();
    let proxy = start_proxy(&even_table(1, &addrs), |_| {}).await;
    Cluster { partitions, proxy }
}

impl Cluster {
    /// The partition that owns `key` under the even split.
    pub fn owner_of(&self, key: &str) -> &TestPartition {
        &self.partitions[even_owner(key.as_bytes(), 3)]
    }
}

/// The shard of `shards` that owns `key` under an even split ([`even_table`]).
pub fn even_owner(key: &[u8], shards: usize) -> usize {
    let slot = protocol::key_hash_slot(key);
    SlotRange::split_even(shards).iter().position(|r| r.contains(slot)).expect("range")
}

/// A multiplexed `redis` crate connection.
pub async fn connect(addr: SocketAddr) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://{addr}/"))
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

/// Runs one command with the `redis` crate.
pub async fn cmd<T: redis::FromRedisValue>(
    con: &mut redis::aio::MultiplexedConnection,
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query_async(con).await
}

/// Encodes a command as a RESP multibulk.
pub fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    out
}

/// Sends `bytes` and reads until at least `expected` bytes came (or EOF, or 5 s passed).
pub async fn must_exchange(stream: &mut TcpStream, bytes: &[u8], expected: usize) -> Vec<u8> {
    stream.write_all(bytes).await.expect("write");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < expected {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// Sends one command on a raw connection and asserts the exact reply bytes.
pub async fn must_send(s: &mut TcpStream, args: &[&str], expected: &[u8]) {
    let got = must_exchange(s, &resp(args), expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "reply to {args:?}"
    );
}

/// Waits for `cond` to hold, checking every 10 ms, failing the test after `within`.
pub async fn must_wait_for(within: Duration, mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Keys whose slots are spread over all three shards of an even split.
pub fn spread_keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key:{i}")).collect()
}

/// A `redis-server` (Debian's package) on a free loopback port, the model the proxy's answers
/// are compared with; killed when dropped.
pub struct RedisServer {
    pub addr: SocketAddr,
    child: std::process::Child,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `redis-server` without persistence and waits (5 s at most) until it answers.
pub async fn start_redis_server() -> RedisServer {
    // The port is free when picked; another process taking it meanwhile fails the wait below.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly"])
        .arg("no")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is installed (Debian's redis-server package)");
    let server = RedisServer { addr: SocketAddr::from(([127, 0, 0, 1], port)), child };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(mut s) = TcpStream::connect(server.addr).await {
            if must_exchange(&mut s, &resp(&["PING"]), 7).await == b"+PONG\r\n" {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends one command on a raw connection and reads one whole reply (5 s at most).
pub async fn must_frame(stream: &mut TcpStream, args: &[&[u8]]) -> protocol::Frame {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    stream.write_all(&out).await.expect("write");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = bytes::BytesMut::new();
    let limits = protocol::FrameLimits::default();
    loop {
        if let Some(frame) = protocol::Frame::parse(&mut buf, &limits).expect("a valid reply") {
            return frame;
        }
        let n = tokio::time::timeout_at(deadline, stream.read_buf(&mut buf))
            .await
            .expect("a reply within 5 s")
            .expect("read");
        assert!(n > 0, "connection closed before the reply to {:?}", args.first());
    }
}

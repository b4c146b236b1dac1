//! Test helpers: start a server in-process through the same `serve` entry point the binary
//! uses, connect clients, send raw bytes.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use partition::{Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A server running in this process; stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<partition::Result<()>>>,
}

impl TestServer {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// A multiplexed `redis` crate connection.
    pub async fn client(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("connect")
    }

    /// Shuts the server down as SIGTERM would and waits until it has finished (the AOF synced,
    /// the snapshot saved when configured). Returns what `serve` returned.
    pub async fn stop(mut self) -> partition::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.serving.take().expect("serving").await.expect("serve task")
    }

    /// A raw TCP connection for byte-level tests.
    pub async fn raw(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connect")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server with default settings on 127.0.0.1:0.
pub async fn start_server() -> TestServer {
    start_server_with(&[]).await
}

/// Starts a server configured with redis-server style arguments (`["--requirepass", "pw"]`).
pub async fn start_server_with(args: &[&str]) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    start_server_on(listener, args).await
}

/// Like [`start_server_with`], serving on `listener` (a restart on the same port).
pub async fn start_server_on(listener: TcpListener, args: &[&str]) -> TestServer {
    crate::ALLOCATOR.activate();
    let config = test_config(args);
    let addr = listener.local_addr().expect("addr");
    let server = Server::new(config, addr.port());
    let (tx, rx) = oneshot::channel::<()>();
    let s = server.clone();
    let serving = tokio::spawn(async move {
        partition::serve(s, vec![listener], async {
            let _ = rx.await;
        })
        .await
    });
    TestServer { addr, server, stop: Some(tx), serving: Some(serving) }
}

/// A fresh, empty directory for one test's data files.
pub fn test_dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rcluster-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

/// A config from redis-server style arguments; unless they say otherwise, the server keeps
/// its files in a directory of its own and has no `save` points, so tests never load or
/// leave each other's data.
pub fn test_config(args: &[&str]) -> Config {
    let mut all: Vec<String> = Vec::new();
    // A config file, if any, comes first.
    let (file, args) = match args.first() {
        Some(first) if !first.starts_with("--") => (Some(*first), &args[1..]),
        _ => (None, args),
    };
    all.extend(file.map(str::to_string));
    if !args.iter().any(|a| a.eq_ignore_ascii_case("--dir")) {
        all.extend(["--dir".to_string(), test_dir().display().to_string()]);
    }
    if !args.iter().any(|a| a.eq_ignore_ascii_case("--save")) {
        all.extend(["--save".to_string(), String::new()]);
    }
    all.extend(args.iter().map(|a| a.to_string()));
    Config::from_args(&all).expect("config")
}

/// Sends `bytes` and reads until `expected` bytes arrived or `deadline` passed; returns what came.
pub async fn must_exchange(stream: &mut TcpStream, bytes: &[u8], expected: usize) -> Vec<u8> {
    stream.write_all(bytes).await.expect("write");
    must_read(stream, expected).await
}

/// Reads until at least `expected` bytes arrived (or EOF / 5 s deadline).
pub async fn must_read(stream: &mut TcpStream, expected: usize) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    while got.len() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => break,
        }
    }
    got
}

/// True when the peer closed the connection within 5 s.
pub async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// Runs one command with the `redis` crate and returns its value.
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

/// Waits for `cond` to hold, checking every 10 ms, failing the test after `within`.
pub async fn must_wait_for(within: Duration, mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Encodes a command as a RESP multibulk.
pub fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    out
}

/// Sends one command on a raw connection and asserts the exact reply bytes.
pub async fn must_send(s: &mut TcpStream, args: &[&str], expected: &[u8]) {
    let got = Box::pin(must_exchange(s, &resp(args), expected.len())).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "reply to {args:?}"
    );
}

/// A redis-server of Debian's package on a free port, stopped when dropped: the reference the
/// differential tests compare against.
pub struct ReferenceRedis {
    child: std::process::Child,
    pub port: u16,
}

impl Drop for ReferenceRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a reference redis-server (installed by `.ci/run`) and waits until it accepts.
pub fn start_reference_redis() -> ReferenceRedis {
    start_reference_redis_with(&[])
}

/// Like [`start_reference_redis`], with more redis-server arguments
/// (`["--enable-debug-command", "yes"]`).
pub fn start_reference_redis_with(args: &[&str]) -> ReferenceRedis {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--appendonly", "no", "--loglevel", "warning"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server must be installed (see .ci/run)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    ReferenceRedis { child, port }
}

/// Sends HELLO 3 and consumes its whole reply.
pub async fn switch_to_resp3(s: &mut TcpStream) {
    s.write_all(&resp(&["HELLO", "3"])).await.unwrap();
    let mut got = Vec::new();
    while !got.ends_with(b"modules\r\n*0\r\n") {
        let more = must_read(s, 1).await;
        assert!(!more.is_empty(), "HELLO reply cut short: {got:?}");
        got.extend(more);
    }
}

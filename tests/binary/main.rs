//! The `rcluster` binary itself: `rcluster partition` starts from redis-server style arguments,
//! serves clients, and shuts down gracefully on SIGTERM; and what only a real process can show:
//! acknowledged writes surviving `kill -9` ([`durability`]).

mod cluster;
mod compose;
mod durability;
mod local;
mod sync_replication;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn must_connect(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::yield_now();
            }
            Err(e) => panic!("server did not come up on {port}: {e}"),
        }
    }
}

fn roundtrip(stream: &mut TcpStream, request: &[u8], expect: &[u8]) {
    stream.write_all(request).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = vec![0u8; expect.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, expect, "reply to {:?}", String::from_utf8_lossy(request));
}

#[test]
fn partition_serves_and_stops_on_sigterm() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("rcluster-bin-test-{port}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_rcluster"))
        .args(["partition", "--port", &port.to_string(), "--dir", dir.to_str().unwrap()])
        .args(["--requirepass", "pw", "--loglevel", "warning"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rcluster");
    let mut s = must_connect(port);
    roundtrip(&mut s, b"*1\r\n$4\r\nPING\r\n", b"-NOAUTH Authentication required.\r\n");
    roundtrip(&mut s, b"AUTH pw\r\n", b"+OK\r\n");
    roundtrip(
        &mut s,
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"+OK\r\n$1\r\nv\r\n",
    );

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "rcluster did not exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "exit status {exit:?}");
    // The client connection was closed by the shutdown.
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn maxclients_is_fitted_to_the_open_files_limit() {
    let port = free_port();
    // A hard limit of 300 descriptors cannot hold 1000 clients: like redis-server, the server
    // lowers maxclients to the limit minus 32 reserved descriptors instead of failing accepts.
    let script = format!(
        "ulimit -Sn 100 && ulimit -Hn 300 && exec {} partition --port {port} --maxclients 1000 --loglevel warning",
        env!("CARGO_BIN_EXE_rcluster")
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rcluster");
    let mut s = must_connect(port);
    let request = b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nmaxclients\r\n";
    roundtrip(&mut s, request, b"*2\r\n$10\r\nmaxclients\r\n$3\r\n268\r\n");
    child.kill().unwrap();
    child.wait().unwrap();
}

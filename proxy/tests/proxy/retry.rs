//! Retries: MOVED leads to the named server, TRYAGAIN is retried until the master has a lease,
//! and a connection that breaks after a command was sent is retried for a read but answered
//! with an error for a write (never a second write).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use protocol::RequestParser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::util::{
    cmd, even_table, must_exchange, must_send, resp, start_fenced_pair, start_partition,
    start_proxy,
};

/// A key in the upper half of the slots (8192-16383).
const UPPER: &str = "foo"; // slot 12182
/// A key in the lower half.
const LOWER: &str = "bar"; // slot 5061

#[tokio::test]
async fn moved_leads_the_proxy_to_the_owner() {
    assert!(protocol::key_hash_slot(UPPER.as_bytes()) >= 8192);
    assert!(protocol::key_hash_slot(LOWER.as_bytes()) < 8192);
    // A is fenced: it owns 0-8191 and knows B owns the rest.
    let (a, b) = start_fenced_pair().await;
    // The proxy's (stale) table sends everything to A.
    let proxy = start_proxy(&even_table(1, &[a.addr]), |_| {}).await;
    let mut con = proxy.client().await;
    let _: () = cmd(&mut con, &["set", UPPER, "on-b"]).await.unwrap();
    let _: () = cmd(&mut con, &["set", LOWER, "on-a"]).await.unwrap();
    let v: String = cmd(&mut con, &["get", UPPER]).await.unwrap();
    assert_eq!(v, "on-b");
    let mut cb = b.client().await;
    let on_b: Option<String> = cmd(&mut cb, &["get", UPPER]).await.unwrap();
    assert_eq!(on_b.as_deref(), Some("on-b"));
    let on_b: Option<String> = cmd(&mut cb, &["get", LOWER]).await.unwrap();
    assert_eq!(on_b, None);
    // A split command follows MOVED per part too.
    let vals: Vec<String> =
        redis::cmd("mget").arg(UPPER).arg(LOWER).query_async(&mut con).await.unwrap();
    assert_eq!(vals, vec!["on-b".to_string(), "on-a".to_string()]);
}

#[tokio::test]
async fn tryagain_is_retried_until_the_master_has_a_lease() {
    let a = start_partition(&["--rcluster-secret", "s"]).await;
    let mut ca = a.client().await;
    let _: () = cmd(&mut ca, &["rcluster", "auth", "s"]).await.unwrap();
    // A master without a lease answers TRYAGAIN.
    let _: () =
        cmd(&mut ca, &["rcluster", "role", "master", "0", "1", "slots", "0-16383"]).await.unwrap();
    let proxy = start_proxy(&even_table(1, &[a.addr]), |c| c.retry_deadline_ms = 10_000).await;
    let mut con = proxy.client().await;
    let write = tokio::spawn(async move { cmd::<String>(&mut con, &["set", "k", "v"]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!write.is_finished(), "the write waits for the lease");
    let _: () = cmd(&mut ca, &["rcluster", "lease", "1", "600000"]).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), write).await.unwrap().unwrap();
    assert_eq!(reply.unwrap(), "OK");
    // With a short deadline the client gets the TRYAGAIN itself.
    let _: () =
        cmd(&mut ca, &["rcluster", "role", "master", "0", "2", "slots", "0-16383"]).await.unwrap();
    let proxy = start_proxy(&even_table(1, &[a.addr]), |c| c.retry_deadline_ms = 200).await;
    let mut con = proxy.client().await;
    let err = cmd::<String>(&mut con, &["get", "k"]).await.unwrap_err();
    assert_eq!(err.code(), Some("TRYAGAIN"), "{err}");
}

/// A backend that closes its first connection after reading one command (without answering)
/// and answers later connections: `+OK` to SET, `$2\r\nv2\r\n` to GET. Counts commands.
async fn start_flaky_backend() -> (std::net::SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sets = Arc::new(AtomicUsize::new(0));
    let gets = Arc::new(AtomicUsize::new(0));
    let (s, g) = (sets.clone(), gets.clone());
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let kill = std::mem::take(&mut first);
            let (s, g) = (s.clone(), g.clone());
            tokio::spawn(async move {
                let mut parser = RequestParser::default();
                let mut buf = BytesMut::new();
                loop {
                    match sock.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    while let Ok(Some(args)) = parser.parse(&mut buf, true) {
                        let set = args[0].eq_ignore_ascii_case(b"set");
                        if set {
                            s.fetch_add(1, Ordering::SeqCst);
                        } else {
                            g.fetch_add(1, Ordering::SeqCst);
                        }
                        if kill {
                            // Dies with the command received and not answered.
                            return;
                        }
                        let reply: &[u8] = if set { b"+OK\r\n" } else { b"$2\r\nv2\r\n" };
                        if sock.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, sets, gets)
}

#[tokio::test]
async fn a_broken_connection_retries_reads_and_fails_writes() {
    let (addr, _sets, gets) = start_flaky_backend().await;
    let proxy = start_proxy(&even_table(1, &[addr]), |c| c.backend_connections = 1).await;
    let mut con = proxy.client().await;
    let v: String = cmd(&mut con, &["get", "k"]).await.unwrap();
    assert_eq!(v, "v2");
    assert_eq!(gets.load(Ordering::SeqCst), 2, "the read was sent again");

    let (addr, sets, _gets) = start_flaky_backend().await;
    let proxy = start_proxy(&even_table(1, &[addr]), |c| c.backend_connections = 1).await;
    let mut con = proxy.client().await;
    let err = cmd::<String>(&mut con, &["set", "k", "v"]).await.unwrap_err();
    assert!(err.to_string().contains("outcome is unknown"), "{err}");
    assert_eq!(sets.load(Ordering::SeqCst), 1, "the write was not sent twice");
    // The next write goes over a new connection.
    let ok: String = cmd(&mut con, &["set", "k", "v"]).await.unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(sets.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_backend_is_retried_until_it_listens() {
    // Reserve a port, free it, and start the backend on it only later.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let proxy = start_proxy(&even_table(1, &[addr]), |c| c.retry_deadline_ms = 10_000).await;
    let mut con = proxy.client().await;
    let write = tokio::spawn(async move { cmd::<String>(&mut con, &["set", "k", "v"]).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!write.is_finished());
    let listener = TcpListener::bind(addr).await.unwrap();
    let _p = crate::util::start_partition_on(listener).await;
    let reply = tokio::time::timeout(Duration::from_secs(5), write).await.unwrap().unwrap();
    assert_eq!(reply.unwrap(), "OK");
}

#[tokio::test]
async fn transactions_watch_and_blocking_commands_follow_moved() {
    // A owns 0-8191 and answers MOVED to B for the rest; the proxy's stale table says A.
    let (a, b) = start_fenced_pair().await;
    let proxy = start_proxy(&even_table(1, &[a.addr]), |_| {}).await;
    let mut s = proxy.raw().await;
    let key = format!("{{{UPPER}}}k");
    // An unwatched transaction A discarded for MOVED runs on B.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", &key, "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["incr", &key], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"*2\r\n+OK\r\n:2\r\n").await;
    let mut cb = b.client().await;
    let on_b: Option<String> = cmd(&mut cb, &["get", &key]).await.unwrap();
    assert_eq!(on_b.as_deref(), Some("2"));
    // A watched transaction is not sent elsewhere. If the WATCH followed a MOVED, EXEC runs
    // on B; if the stale owner took the WATCH (the partition server does not redirect WATCH),
    // EXEC fails as a watched transaction does — a null reply — and applies nothing.
    must_send(&mut s, &["watch", &key], b"+OK\r\n").await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", &key, "mine"], b"+QUEUED\r\n").await;
    let got = must_exchange(&mut s, &resp(&["exec"]), 5).await;
    let on_b: String = cmd(&mut cb, &["get", &key]).await.unwrap();
    match &got[..] {
        b"*1\r\n+OK\r\n" => assert_eq!(on_b, "mine"),
        b"*-1\r\n" => assert_eq!(on_b, "2"),
        other => panic!("EXEC answered {}", String::from_utf8_lossy(other)),
    }
    // A blocking pop follows MOVED to B, where a push wakes it.
    let list = format!("{{{UPPER}}}list");
    let mut waiter = proxy.client().await;
    let l = list.clone();
    let pop =
        tokio::spawn(
            async move { cmd::<(String, String)>(&mut waiter, &["blpop", &l, "0"]).await },
        );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let info: String = cmd(&mut cb, &["info", "clients"]).await.unwrap();
        if info.contains("blocked_clients:1") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the pop never blocked on B");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _: i64 = cmd(&mut cb, &["rpush", &list, "v"]).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), pop).await.unwrap().unwrap().unwrap();
    assert_eq!(got, (list, "v".to_string()));
}

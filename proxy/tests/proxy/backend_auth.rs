//! `--backend-password`: every backend connection (shared, transaction, blocking) sends AUTH
//! first; the clients' own password is the proxy's, never forwarded.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::util::*;

async fn start_protected(n: usize) -> Vec<TestPartition> {
    let mut partitions = Vec::new();
    for _ in 0..n {
        partitions.push(start_partition(&["--requirepass", "backend-secret"]).await);
    }
    partitions
}

#[tokio::test]
async fn every_kind_of_backend_connection_authenticates() {
    let partitions = start_protected(3).await;
    let addrs: Vec<SocketAddr> = partitions.iter().map(|p| p.addr).collect();
    let proxy = start_proxy(&even_table(1, &addrs), |c| {
        c.requirepass = "client-secret".into();
        c.backend_password = Some("backend-secret".into());
    })
    .await;
    // The backends really want a password.
    let mut direct = tokio::net::TcpStream::connect(partitions[0].addr).await.unwrap();
    must_send(&mut direct, &["GET", "k"], b"-NOAUTH Authentication required.\r\n").await;

    let mut s = proxy.raw().await;
    must_send(&mut s, &["GET", "k"], b"-NOAUTH Authentication required.\r\n").await;
    // The backends' password is not the clients'.
    let got = must_exchange(&mut s, &resp(&["AUTH", "backend-secret"]), 10).await;
    assert!(got.starts_with(b"-WRONGPASS"), "{}", String::from_utf8_lossy(&got));
    must_send(&mut s, &["AUTH", "client-secret"], b"+OK\r\n").await;
    // Shared connections, on every shard.
    for k in spread_keys(12) {
        must_send(&mut s, &["SET", &k, "v"], b"+OK\r\n").await;
    }
    let mut mget = vec!["MGET"];
    let keys = spread_keys(12);
    mget.extend(keys.iter().map(String::as_str));
    let want: Vec<u8> = [b"*12\r\n".to_vec(), b"$1\r\nv\r\n".repeat(12)].concat();
    must_send(&mut s, &mget, &want).await;
    // A transaction (dedicated connection, WATCH pinned), then a blocking pop.
    must_send(&mut s, &["WATCH", "{t}a"], b"+OK\r\n").await;
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["RPUSH", "{t}list", "x"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["EXEC"], b"*1\r\n:1\r\n").await;
    must_send(&mut s, &["BLPOP", "{t}list", "1"], b"*2\r\n$7\r\n{t}list\r\n$1\r\nx\r\n").await;
    // RESP3 clients use connections of their own (HELLO 3 after AUTH).
    let mut s3 = proxy.raw().await;
    let hello =
        must_exchange(&mut s3, &resp(&["HELLO", "3", "AUTH", "default", "client-secret"]), 8).await;
    assert!(hello.starts_with(b"%"), "{}", String::from_utf8_lossy(&hello));
    must_send(&mut s3, &["GET", &keys[5]], b"$1\r\nv\r\n").await;
    must_send(&mut s3, &["BLPOP", "{t}list", "0.05"], b"_\r\n").await;
}

#[tokio::test]
async fn a_wrong_backend_password_gives_clients_a_clear_error_soon() {
    let partitions = start_protected(1).await;
    let proxy = start_proxy(&even_table(1, &[partitions[0].addr]), |c| {
        c.backend_password = Some("not-it".into());
        c.retry_deadline_ms = 300;
    })
    .await;
    let mut s = proxy.raw().await;
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["SET", "k", "v"], b"+QUEUED\r\n").await;
    // A shared connection, a transaction's, a blocking command's.
    for args in [&["EXEC"][..], &["GET", "k"], &["BLPOP", "k", "0"]] {
        let started = Instant::now();
        let a: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let got = match must_frame(&mut s, &a).await {
            protocol::Frame::Error(text) => String::from_utf8(text.to_vec()).unwrap(),
            other => panic!("{args:?}: {other:?}"),
        };
        assert!(got.contains("refused the proxy's password"), "{args:?}: {got}");
        assert!(got.contains("WRONGPASS"), "the backend's reason is shown: {got}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}

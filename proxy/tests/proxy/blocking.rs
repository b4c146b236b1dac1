//! Blocking commands through the proxy: each on a dedicated backend connection, woken by a
//! push through another proxy, timeouts honoured, one slot needed, a cap on the dedicated
//! connections, and the backend's blocked client gone when the proxy's client goes.

use std::time::Duration;

use tokio::time::Instant;

use crate::util::{
    cmd, even_table, must_exchange, must_send, resp, start_cluster, start_proxy, Cluster, TestProxy,
};

/// A second proxy in front of the same partitions.
async fn second_proxy(cluster: &Cluster, edit: impl FnOnce(&mut proxy::Config)) -> TestProxy {
    let addrs: Vec<_> = cluster.partitions.iter().map(|p| p.addr).collect();
    start_proxy(&even_table(1, &addrs), edit).await
}

/// The owner of `key` reports `want` blocked clients, within 5 s.
async fn must_see_blocked(cluster: &Cluster, key: &str, want: i64) {
    let mut owner = cluster.owner_of(key).client().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text: String = cmd(&mut owner, &["info", "clients"]).await.unwrap();
        let n: i64 = text
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("blocked_clients");
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "{n} blocked clients on the owner of {key}, not {want}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn blpop_through_one_proxy_is_woken_by_lpush_through_another() {
    let cluster = start_cluster().await;
    let other = second_proxy(&cluster, |_| {}).await;
    let mut waiter = cluster.proxy.client().await;
    let blpop = tokio::spawn(async move {
        let got: (String, String) = cmd(&mut waiter, &["blpop", "jobs", "0"]).await.unwrap();
        (got, waiter)
    });
    must_see_blocked(&cluster, "jobs", 1).await;
    // Other clients of the same proxy are not held up by the blocked one.
    let mut same = cluster.proxy.client().await;
    let _: () = cmd(&mut same, &["set", "jobs:meta", "x"]).await.unwrap();
    let mut pusher = other.client().await;
    let n: i64 = cmd(&mut pusher, &["lpush", "jobs", "j1"]).await.unwrap();
    assert_eq!(n, 1);
    let (got, mut waiter) =
        tokio::time::timeout(Duration::from_secs(5), blpop).await.expect("woken").unwrap();
    assert_eq!(got, ("jobs".to_string(), "j1".to_string()));
    must_see_blocked(&cluster, "jobs", 0).await;
    // The other blocking families, each woken the same way.
    let zpop = tokio::spawn(async move {
        let got: (String, String, String) =
            cmd(&mut waiter, &["bzpopmin", "z", "0"]).await.unwrap();
        (got, waiter)
    });
    must_see_blocked(&cluster, "z", 1).await;
    let _: i64 = cmd(&mut pusher, &["zadd", "z", "2", "m"]).await.unwrap();
    let (got, mut waiter) =
        tokio::time::timeout(Duration::from_secs(5), zpop).await.expect("woken").unwrap();
    assert_eq!(got, ("z".to_string(), "m".to_string(), "2".to_string()));
    let _: i64 = cmd(&mut pusher, &["rpush", "{l}src", "a", "b"]).await.unwrap();
    let moved: String =
        cmd(&mut waiter, &["blmove", "{l}src", "{l}dst", "left", "right", "0"]).await.unwrap();
    assert_eq!(moved, "a");
    let moved: String = cmd(&mut waiter, &["brpoplpush", "{l}src", "{l}dst", "0"]).await.unwrap();
    assert_eq!(moved, "b");
    let dst: Vec<String> = cmd(&mut pusher, &["lrange", "{l}dst", "0", "-1"]).await.unwrap();
    assert_eq!(dst, vec!["b", "a"]);
}

#[tokio::test]
async fn timeouts_are_honoured_and_keys_need_one_slot() {
    let cluster = start_cluster().await;
    let mut s = cluster.proxy.raw().await;
    let started = Instant::now();
    must_send(&mut s, &["blpop", "empty", "0.3"], b"*-1\r\n").await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300), "returned after {waited:?}");
    assert!(waited < Duration::from_secs(3), "returned after {waited:?}");
    must_send(&mut s, &["blmpop", "0.1", "1", "empty", "left"], b"*-1\r\n").await;
    must_send(
        &mut s,
        &["brpop", "a", "b", "1"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    must_send(&mut s, &["blpop", "l", "x"], b"-ERR timeout is not a float or out of range\r\n")
        .await;
    // A pipeline after a blocking command runs after it, as in Redis.
    let batch = [
        resp(&["blpop", "{b}l", "0.05"]),
        resp(&["rpush", "{b}l", "v"]),
        resp(&["blpop", "{b}l", "0"]),
    ]
    .concat();
    let want = b"*-1\r\n:1\r\n*2\r\n$4\r\n{b}l\r\n$1\r\nv\r\n";
    let got = must_exchange(&mut s, &batch, want.len()).await;
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[tokio::test]
async fn dedicated_connections_are_capped_and_closed_when_the_client_goes() {
    let cluster = start_cluster().await;
    let capped = second_proxy(&cluster, |c| c.max_blocking_connections = 1).await;
    let mut first = capped.raw().await;
    first.write_all_resp(&["blpop", "q", "0"]).await;
    must_see_blocked(&cluster, "q", 1).await;
    let mut second = capped.raw().await;
    let got = must_exchange(&mut second, &resp(&["brpop", "q", "0"]), 10).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("-ERR 'brpop' cannot block through the proxy now"), "{text}");
    assert!(text.contains("--max-blocking-connections"), "{text}");
    // Non-blocking commands still go.
    must_send(&mut second, &["lpush", "other", "x"], b":1\r\n").await;
    // The client goes away: the backend's blocked client goes too, and the slot is free again.
    drop(first);
    must_see_blocked(&cluster, "q", 0).await;
    let started = Instant::now();
    must_send(&mut second, &["brpop", "q", "0.1"], b"*-1\r\n").await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    // Nothing was popped by the abandoned BLPOP.
    must_send(&mut second, &["lpush", "q", "v"], b":1\r\n").await;
    must_send(&mut second, &["lrange", "q", "0", "-1"], b"*1\r\n$1\r\nv\r\n").await;
}

/// Sends a command without waiting for its reply.
trait WriteResp {
    async fn write_all_resp(&mut self, args: &[&str]);
}

impl WriteResp for tokio::net::TcpStream {
    async fn write_all_resp(&mut self, args: &[&str]) {
        use tokio::io::AsyncWriteExt;
        self.write_all(&resp(args)).await.expect("write");
    }
}

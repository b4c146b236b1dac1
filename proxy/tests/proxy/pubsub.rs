//! Pub/Sub through the proxy: channels by slot across proxies, patterns on every shard with
//! each message delivered once, shard channels, PUBSUB merged over shards, RESP2 Pub/Sub mode
//! exactly as redis-server 7 answers it, RESP3 pushes, subscriptions that survive a failover
//! and a broken backend connection, and output-buffer limits that cut slow clients.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use protocol::routing::RoutingTable;
use protocol::{Frame, FrameLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::util::{
    cmd, even_owner, even_table, must_send, resp, routing_file_config, start_cluster,
    start_partition, start_proxy, start_proxy_with, start_proxy_with_metrics, Cluster, TestProxy,
};

/// A raw client connection that reads whole RESP frames.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    async fn to(proxy: &TestProxy) -> Raw {
        Raw { stream: proxy.raw().await, buf: BytesMut::new() }
    }

    async fn send(&mut self, args: &[&str]) {
        self.stream.write_all(&resp(args)).await.expect("write");
    }

    /// The next frame, within 5 s.
    async fn frame(&mut self) -> Frame {
        self.frame_within(Duration::from_secs(5)).await
    }

    async fn frame_within(&mut self, within: Duration) -> Frame {
        let deadline = Instant::now() + within;
        loop {
            if let Some(f) = Frame::parse(&mut self.buf, &FrameLimits::default()).expect("frame") {
                return f;
            }
            let n = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a frame in time")
                .expect("read");
            assert!(n > 0, "the proxy closed the connection");
        }
    }

    /// The next frame flattened to words.
    async fn words(&mut self) -> Vec<String> {
        words(&self.frame().await)
    }

    /// Sends `args` and asserts the next frames flatten to `expected`, one per element.
    async fn must_get(&mut self, args: &[&str], expected: &[&[&str]]) {
        self.send(args).await;
        for want in expected {
            assert_eq!(self.words().await, *want, "reply to {args:?}");
        }
    }
}

/// A frame as words: bulks and simple strings as text, integers as `:n`, nulls as `nil`,
/// errors as `-text`, aggregates flattened (a push is prefixed with `>`).
fn words(f: &Frame) -> Vec<String> {
    let mut out = Vec::new();
    flatten(f, &mut out);
    out
}

fn flatten(f: &Frame, out: &mut Vec<String>) {
    match f {
        Frame::Simple(b) | Frame::Bulk(b) => out.push(String::from_utf8_lossy(b).into_owned()),
        Frame::Error(b) => out.push(format!("-{}", String::from_utf8_lossy(b))),
        Frame::Integer(n) => out.push(format!(":{n}")),
        Frame::NullBulk | Frame::NullArray | Frame::Null => out.push("nil".into()),
        Frame::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        Frame::Push(items) => {
            out.push(">".into());
            items.iter().for_each(|i| flatten(i, out));
        }
        other => out.push(format!("{other:?}")),
    }
}

/// A name starting with `prefix` whose slot is on shard `shard` of an even 3-way split.
fn name_on(prefix: &str, shard: usize) -> String {
    (0..).map(|i| format!("{prefix}{i}")).find(|n| even_owner(n.as_bytes(), 3) == shard).unwrap()
}

async fn second_proxy(cluster: &Cluster) -> TestProxy {
    let addrs: Vec<_> = cluster.partitions.iter().map(|p| p.addr).collect();
    start_proxy(&even_table(1, &addrs), |_| {}).await
}

/// One INFO field of the proxy's `proxy` section.
async fn info_field(proxy: &TestProxy, field: &str) -> i64 {
    let mut con = proxy.client().await;
    let text: String = cmd(&mut con, &["info", "proxy"]).await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {text}"))
}

async fn must_see_info(proxy: &TestProxy, field: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = info_field(proxy, field).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{field} is {got}, not {want}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn subscribe_through_one_proxy_publish_through_another() {
    let cluster = start_cluster().await;
    let other = second_proxy(&cluster).await;
    let channels: Vec<String> = (0..3).map(|s| name_on("ch", s)).collect();
    let mut sub = Raw::to(&cluster.proxy).await;
    let mut args = vec!["subscribe"];
    args.extend(channels.iter().map(String::as_str));
    args.push(&channels[0]);
    sub.send(&args).await;
    for (i, c) in channels.iter().enumerate() {
        assert_eq!(sub.words().await, ["subscribe", c, &format!(":{}", i + 1)]);
    }
    assert_eq!(sub.words().await, ["subscribe", &channels[0], ":3"], "a repeat counts once");
    // Confirmed means the owners have the subscriptions already (asked without waiting).
    for (shard, c) in channels.iter().enumerate() {
        let mut owner = cluster.partitions[shard].client().await;
        let n: Vec<redis::Value> = cmd(&mut owner, &["pubsub", "numsub", c]).await.unwrap();
        assert_eq!(redis::from_redis_value::<i64>(&n[1]).unwrap(), 1, "{c} on its owner");
    }
    // CLIENT LIST shows it as Redis does: type pubsub, flag P, its counts.
    let mut admin = cluster.proxy.client().await;
    let list: String = cmd(&mut admin, &["client", "list", "type", "pubsub"]).await.unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains(" flags=P db=0 sub=3 psub=0 ssub=0 "), "{list}");
    let list: String = cmd(&mut admin, &["client", "list", "type", "normal"]).await.unwrap();
    assert!(!list.contains("flags=P"), "{list}");
    let mut publisher = other.client().await;
    for (i, c) in channels.iter().enumerate() {
        // The channel's master has one receiver: the subscribing proxy.
        let n: i64 = cmd(&mut publisher, &["publish", c, &format!("m{i}")]).await.unwrap();
        assert_eq!(n, 1, "receivers of {c}");
    }
    for (i, c) in channels.iter().enumerate() {
        assert_eq!(sub.words().await, ["message", c, &format!("m{i}")]);
    }
    // Nothing arrives twice: the next frame is the next message.
    let _: i64 = cmd(&mut publisher, &["publish", &channels[2], "last"]).await.unwrap();
    assert_eq!(sub.words().await, ["message", &channels[2], "last"]);
    // Only the owner of each channel's slot holds the subscription.
    for (shard, c) in channels.iter().enumerate() {
        for (i, p) in cluster.partitions.iter().enumerate() {
            let mut con = p.client().await;
            let got: Vec<(String, i64)> = redis::cmd("pubsub")
                .arg("numsub")
                .arg(c)
                .query_async::<Vec<redis::Value>>(&mut con)
                .await
                .unwrap()
                .chunks(2)
                .map(|p| {
                    (
                        redis::from_redis_value(&p[0]).unwrap(),
                        redis::from_redis_value(&p[1]).unwrap(),
                    )
                })
                .collect();
            assert_eq!(got, vec![(c.clone(), i64::from(i == shard))], "{c} on shard {i}");
        }
    }
    // Unsubscribing from everything leaves Pub/Sub mode and closes the backend links.
    sub.send(&["unsubscribe"]).await;
    let mut left = Vec::new();
    for _ in 0..3 {
        let w = sub.words().await;
        assert_eq!(w[0], "unsubscribe");
        left.push(w[2].clone());
    }
    assert_eq!(left, [":2", ":1", ":0"]);
    must_send(&mut sub.stream, &["get", "nothing"], b"$-1\r\n").await;
    must_see_info(&cluster.proxy, "pubsub_backend_connections", 0).await;
    must_see_info(&cluster.proxy, "pubsub_channels", 0).await;
    // The link's UNSUBSCRIBE (or its closing) reaches the backend soon after.
    let deadline = Instant::now() + Duration::from_secs(5);
    while cmd::<i64>(&mut publisher, &["publish", &channels[0], "gone"]).await.unwrap() != 0 {
        assert!(Instant::now() < deadline, "the backend still has a subscriber");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn psubscribe_delivers_each_message_once_from_every_shard() {
    let cluster = start_cluster().await;
    let other = second_proxy(&cluster).await;
    let mut sub = Raw::to(&cluster.proxy).await;
    sub.must_get(&["psubscribe", "news.*"], &[&["psubscribe", "news.*", ":1"]]).await;
    // Also one channel directly: a message matching both arrives as message and pmessage.
    let direct = name_on("news.", 1);
    sub.must_get(&["subscribe", &direct], &[&["subscribe", &direct, ":2"]]).await;
    must_see_info(&cluster.proxy, "pubsub_backend_connections", 3).await;
    let mut publisher = other.client().await;
    let channels: Vec<String> = (0..3).map(|s| name_on("news.", s)).collect();
    for c in &channels {
        let _: i64 = cmd(&mut publisher, &["publish", c, &format!("on {c}")]).await.unwrap();
    }
    let _: i64 = cmd(&mut publisher, &["publish", "other", "not matched"]).await.unwrap();
    let _: i64 = cmd(&mut publisher, &["publish", &channels[0], "end"]).await.unwrap();
    let mut got: HashMap<Vec<String>, usize> = HashMap::new();
    loop {
        let w = sub.words().await;
        let end = w.last().map(String::as_str) == Some("end");
        *got.entry(w).or_default() += 1;
        if end {
            break;
        }
    }
    let mut want: HashMap<Vec<String>, usize> = HashMap::new();
    for c in &channels {
        want.insert(vec!["pmessage".into(), "news.*".into(), c.clone(), format!("on {c}")], 1);
    }
    want.insert(vec!["message".into(), direct.clone(), format!("on {direct}")], 1);
    want.insert(vec!["pmessage".into(), "news.*".into(), channels[0].clone(), "end".into()], 1);
    assert_eq!(got, want, "every message exactly once");
    // Every shard has the pattern once; a single Redis would count one pattern.
    let mut con = cluster.proxy.client().await;
    let n: i64 = cmd(&mut con, &["pubsub", "numpat"]).await.unwrap();
    assert_eq!(n, 1);
    sub.must_get(&["punsubscribe"], &[&["punsubscribe", "news.*", ":1"]]).await;
    sub.must_get(&["unsubscribe"], &[&["unsubscribe", &direct, ":0"]]).await;
    must_see_info(&cluster.proxy, "pubsub_backend_connections", 0).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cmd::<i64>(&mut con, &["pubsub", "numpat"]).await.unwrap() != 0 {
        assert!(Instant::now() < deadline, "a backend still has the pattern");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn ssubscribe_and_spublish_go_by_slot() {
    let cluster = start_cluster().await;
    let other = second_proxy(&cluster).await;
    let a = name_on("s", 0);
    let b = name_on("s", 2);
    let mut sub = Raw::to(&cluster.proxy).await;
    sub.must_get(&["subscribe", "plain"], &[&["subscribe", "plain", ":1"]]).await;
    // Shard channels count apart from channels and patterns, as in Redis.
    sub.must_get(&["ssubscribe", &a, &b], &[&["ssubscribe", &a, ":1"], &["ssubscribe", &b, ":2"]])
        .await;
    let mut publisher = other.client().await;
    let n: i64 = cmd(&mut publisher, &["spublish", &b, "to b"]).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(sub.words().await, ["smessage", &b, "to b"]);
    // A PUBLISH does not reach shard channel subscribers (nor SPUBLISH channel ones).
    let n: i64 = cmd(&mut publisher, &["publish", &a, "not shard"]).await.unwrap();
    assert_eq!(n, 0);
    let _: i64 = cmd(&mut publisher, &["spublish", "plain", "not plain"]).await.unwrap();
    let _: i64 = cmd(&mut publisher, &["spublish", &a, "to a"]).await.unwrap();
    assert_eq!(sub.words().await, ["smessage", &a, "to a"]);
    let owner_of_b = &cluster.partitions[2];
    let mut con = owner_of_b.client().await;
    let chans: Vec<String> = cmd(&mut con, &["pubsub", "shardchannels"]).await.unwrap();
    assert_eq!(chans, vec![b.clone()]);
    sub.must_get(&["sunsubscribe", &b], &[&["sunsubscribe", &b, ":1"]]).await;
    sub.must_get(&["sunsubscribe", "never"], &[&["sunsubscribe", "never", ":1"]]).await;
    sub.must_get(&["sunsubscribe"], &[&["sunsubscribe", &a, ":0"]]).await;
    // Still subscribed to `plain`: RESP2 Pub/Sub mode goes on.
    sub.must_get(&["sunsubscribe"], &[&["sunsubscribe", "nil", ":0"]]).await;
    sub.send(&["get", "x"]).await;
    assert!(sub.words().await[0].starts_with("-ERR Can't execute 'get'"));
}

#[tokio::test]
async fn pubsub_introspection_is_merged_over_shards() {
    let cluster = start_cluster().await;
    let other = second_proxy(&cluster).await;
    let c0 = name_on("room", 0);
    let c2 = name_on("room", 2);
    let mut s1 = Raw::to(&cluster.proxy).await;
    let mut s2 = Raw::to(&cluster.proxy).await;
    let mut s3 = Raw::to(&other).await;
    s1.must_get(&["subscribe", &c0, &c2], &[&["subscribe", &c0, ":1"], &["subscribe", &c2, ":2"]])
        .await;
    s2.must_get(&["subscribe", &c0], &[&["subscribe", &c0, ":1"]]).await;
    s2.must_get(&["psubscribe", "p1"], &[&["psubscribe", "p1", ":2"]]).await;
    s3.must_get(&["subscribe", &c0], &[&["subscribe", &c0, ":1"]]).await;
    s3.must_get(
        &["psubscribe", "p1", "p2"],
        &[&["psubscribe", "p1", ":2"], &["psubscribe", "p2", ":3"]],
    )
    .await;
    s3.must_get(&["ssubscribe", "sc"], &[&["ssubscribe", "sc", ":1"]]).await;
    let mut con = cluster.proxy.client().await;
    let mut chans: Vec<String> = cmd(&mut con, &["pubsub", "channels"]).await.unwrap();
    chans.sort();
    let mut want = vec![c0.clone(), c2.clone()];
    want.sort();
    assert_eq!(chans, want);
    let chans: Vec<String> = cmd(&mut con, &["pubsub", "channels", &c2]).await.unwrap();
    assert_eq!(chans, vec![c2.clone()]);
    let chans: Vec<String> = cmd(&mut con, &["pubsub", "shardchannels"]).await.unwrap();
    assert_eq!(chans, vec!["sc".to_string()]);
    // Two clients of this proxy and one of the other on c0; the other proxy counts once.
    let counts: Vec<redis::Value> =
        cmd(&mut con, &["pubsub", "numsub", &c0, &c2, "none"]).await.unwrap();
    let counts: Vec<String> = counts.iter().map(|v| redis::from_redis_value(v).unwrap()).collect();
    assert_eq!(counts, [c0.as_str(), "3", c2.as_str(), "1", "none", "0"]);
    let counts: Vec<redis::Value> = cmd(&mut con, &["pubsub", "shardnumsub", "sc"]).await.unwrap();
    let counts: Vec<String> = counts.iter().map(|v| redis::from_redis_value(v).unwrap()).collect();
    assert_eq!(counts, ["sc", "1"]);
    // p1 and p2, each on every shard: two distinct patterns.
    let n: i64 = cmd(&mut con, &["pubsub", "numpat"]).await.unwrap();
    assert_eq!(n, 2);
    let mut raw = cluster.proxy.raw().await;
    must_send(
        &mut raw,
        &["pubsub", "channels", "a", "b"],
        b"-ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP.\r\n",
    )
    .await;
    let help: Vec<String> = cmd(&mut con, &["pubsub", "help"]).await.unwrap();
    assert!(help[0].starts_with("PUBSUB <subcommand>"), "{help:?}");
    must_send(
        &mut raw,
        &["pubsub", "numpat", "x"],
        b"-ERR wrong number of arguments for 'pubsub|numpat' command\r\n",
    )
    .await;
}

#[tokio::test]
async fn resp2_pubsub_mode_is_redis_servers() {
    let cluster = start_cluster().await;
    let mut s = Raw::to(&cluster.proxy).await;
    // Byte for byte what redis-server 7.0.15 answers.
    must_send(&mut s.stream, &["unsubscribe"], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n").await;
    must_send(&mut s.stream, &["punsubscribe"], b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n")
        .await;
    must_send(
        &mut s.stream,
        &["subscribe"],
        b"-ERR wrong number of arguments for 'subscribe' command\r\n",
    )
    .await;
    must_send(&mut s.stream, &["subscribe", "a"], b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        .await;
    must_send(
        &mut s.stream,
        &["get", "x"],
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    )
    .await;
    must_send(
        &mut s.stream,
        &["pubsub", "numpat"],
        b"-ERR Can't execute 'pubsub|numpat': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    )
    .await;
    must_send(&mut s.stream, &["ping"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
    must_send(&mut s.stream, &["ping", "hi"], b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n").await;
    for (args, name) in [(&["hello", "3"][..], "hello"), (&["client", "id"], "client|id")] {
        let want = format!(
            "-ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
             RESET are allowed in this context\r\n"
        );
        must_send(&mut s.stream, args, want.as_bytes()).await;
    }
    must_send(
        &mut s.stream,
        &["psubscribe", "p*"],
        b"*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n",
    )
    .await;
    must_send(
        &mut s.stream,
        &["ssubscribe", "s1"],
        b"*3\r\n$10\r\nssubscribe\r\n$2\r\ns1\r\n:1\r\n",
    )
    .await;
    must_send(&mut s.stream, &["unsubscribe"], b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n")
        .await;
    must_send(
        &mut s.stream,
        &["punsubscribe", "p*", "q*"],
        b"*3\r\n$12\r\npunsubscribe\r\n$2\r\np*\r\n:0\r\n*3\r\n$12\r\npunsubscribe\r\n$2\r\nq*\r\n:0\r\n",
    )
    .await;
    // Still subscribed to a shard channel.
    let got = crate::util::must_exchange(&mut s.stream, &resp(&["multi"]), 10).await;
    assert!(got.starts_with(b"-ERR Can't execute 'multi'"), "{}", String::from_utf8_lossy(&got));
    must_send(&mut s.stream, &["sunsubscribe"], b"*3\r\n$12\r\nsunsubscribe\r\n$2\r\ns1\r\n:0\r\n")
        .await;
    must_send(&mut s.stream, &["get", "x"], b"$-1\r\n").await;
    // A pipeline, and names repeated or never subscribed, as redis-server answers them.
    let mut pipeline = resp(&["subscribe", "x", "y"]);
    pipeline.extend(resp(&["unsubscribe", "y", "x", "z", "z"]));
    let want =
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\ny\r\n:2\r\n\
        *3\r\n$11\r\nunsubscribe\r\n$1\r\ny\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n\
        *3\r\n$11\r\nunsubscribe\r\n$1\r\nz\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nz\r\n:0\r\n";
    let got = crate::util::must_exchange(&mut s.stream, &pipeline, want.len()).await;
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    // RESET leaves Pub/Sub mode without confirmations.
    must_send(&mut s.stream, &["subscribe", "a"], b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        .await;
    must_send(&mut s.stream, &["reset"], b"+RESET\r\n").await;
    must_send(&mut s.stream, &["get", "x"], b"$-1\r\n").await;
    must_see_info(&cluster.proxy, "pubsub_channels", 0).await;
    // Inside MULTI, Pub/Sub is refused (a transaction runs on one shard).
    must_send(&mut s.stream, &["multi"], b"+OK\r\n").await;
    let got = crate::util::must_exchange(&mut s.stream, &resp(&["subscribe", "z"]), 10).await;
    assert!(
        got.starts_with(b"-ERR 'subscribe' is not supported"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    must_send(&mut s.stream, &["discard"], b"+OK\r\n").await;
    // QUIT is allowed in Pub/Sub mode.
    must_send(&mut s.stream, &["subscribe", "a"], b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n")
        .await;
    must_send(&mut s.stream, &["quit"], b"+OK\r\n").await;
    must_see_info(&cluster.proxy, "pubsub_channels", 0).await;
    must_see_info(&cluster.proxy, "pubsub_backend_connections", 0).await;
}

#[tokio::test]
async fn resp3_subscribers_get_pushes_and_run_other_commands() {
    let cluster = start_cluster().await;
    let mut s = Raw::to(&cluster.proxy).await;
    s.send(&["hello", "3"]).await;
    assert!(matches!(s.frame().await, Frame::Map(_)));
    must_send(&mut s.stream, &["subscribe", "c"], b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n")
        .await;
    must_send(&mut s.stream, &["get", "x"], b"_\r\n").await;
    must_send(&mut s.stream, &["ping"], b"+PONG\r\n").await;
    let mut publisher = cluster.proxy.client().await;
    let _: i64 = cmd(&mut publisher, &["publish", "c", "hi"]).await.unwrap();
    assert_eq!(s.words().await, [">", "message", "c", "hi"]);
    must_send(&mut s.stream, &["unsubscribe"], b">3\r\n$11\r\nunsubscribe\r\n$1\r\nc\r\n:0\r\n")
        .await;
    must_send(&mut s.stream, &["unsubscribe"], b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n").await;
    // Back to RESP2 while subscribed: messages follow the protocol.
    must_send(
        &mut s.stream,
        &["psubscribe", "c*"],
        b">3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:1\r\n",
    )
    .await;
    s.send(&["hello", "2"]).await;
    assert!(matches!(s.frame().await, Frame::Array(_)));
    let _: i64 = cmd(&mut publisher, &["publish", "cc", "two"]).await.unwrap();
    let f = s.frame().await;
    assert!(matches!(f, Frame::Array(_)), "{f:?}");
    assert_eq!(words(&f), ["pmessage", "c*", "cc", "two"]);
}

/// A stand-in for the config service: `GET /v1/routing` long-polls the table in `tables`.
async fn start_routing_service(tables: watch::Receiver<RoutingTable>) -> SocketAddr {
    use axum::extract::{Query, State};
    use axum::routing::get;
    async fn routing(
        State(mut tables): State<watch::Receiver<RoutingTable>>,
        Query(q): Query<HashMap<String, u64>>,
    ) -> axum::Json<RoutingTable> {
        let after = q.get("after").copied().unwrap_or(0);
        let wait = Duration::from_millis(q.get("wait_ms").copied().unwrap_or(0));
        let _ = tokio::time::timeout(wait, tables.wait_for(|t| t.epoch > after)).await;
        let table = tables.borrow().clone();
        axum::Json(table)
    }
    let app = axum::Router::new().route(protocol::routing::PATH, get(routing)).with_state(tables);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Once `proxy` routes by `epoch`, publishes `again{i}` on `channel` until `sub` receives one
/// of them both as `message` and as `pmessage` of `pattern` again (within 15 s; a
/// confirmation or anything else but a message fails the test: the client must not notice
/// the re-subscription; messages published during the switch may be lost), then checks that
/// one more publish arrives exactly once as each.
async fn must_receive_again(
    proxy: &TestProxy,
    epoch: i64,
    publisher: &mut redis::aio::MultiplexedConnection,
    sub: &mut Raw,
    channel: &str,
    pattern: &str,
) {
    must_see_info(proxy, "routing_epoch", epoch).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got: HashMap<String, usize> = HashMap::new();
    'publishing: for i in 0.. {
        assert!(Instant::now() < deadline, "no message on {channel} after the switch");
        let msg = format!("again{i}");
        let _: redis::RedisResult<i64> = cmd(publisher, &["publish", channel, &msg]).await;
        let until = Instant::now() + Duration::from_millis(200);
        while let Ok(f) = tokio::time::timeout_at(until, sub.frame()).await {
            let w = words(&f);
            assert!(w[0] == "message" || w[0] == "pmessage", "no confirmation again: {w:?}");
            let n = got.entry(w.last().cloned().unwrap_or_default()).or_default();
            *n += 1;
            if *n == 2 {
                break 'publishing;
            }
        }
    }
    let _: i64 = cmd(publisher, &["publish", channel, "check"]).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let w = sub.words().await;
        assert!(w[0] == "message" || w[0] == "pmessage", "{w:?}");
        if w.last().map(String::as_str) == Some("check") {
            seen.push(w);
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            vec!["message".to_string(), channel.to_string(), "check".into()],
            vec!["pmessage".to_string(), pattern.to_string(), channel.to_string(), "check".into()],
        ]
    );
    // And nothing twice: the next frame is the next message.
    let _: i64 = cmd(publisher, &["publish", "unrelated", "x"]).await.unwrap();
    let _: i64 = cmd(publisher, &["publish", channel, "final"]).await.unwrap();
    let mut finals = 0;
    while finals < 2 {
        let w = sub.words().await;
        assert_ne!(w.last().map(String::as_str), Some("check"), "a message came twice");
        if w.last().map(String::as_str) == Some("final") {
            finals += 1;
        }
    }
}

#[tokio::test]
async fn subscriptions_survive_a_failover_and_a_broken_link() {
    let mut partitions = Vec::new();
    for _ in 0..3 {
        partitions.push(start_partition(&[]).await);
    }
    let spare = start_partition(&[]).await;
    let addrs: Vec<SocketAddr> = partitions.iter().map(|p| p.addr).collect();
    let (tables, rx) = watch::channel(even_table(1, &addrs));
    let service = start_routing_service(rx).await;
    let proxy = start_proxy_with(proxy::Config {
        config_endpoints: vec![format!("http://{service}")],
        ..proxy::Config::default()
    })
    .await;
    let channel = name_on("ev", 1);
    let mut sub = Raw::to(&proxy).await;
    // The proxy may still be fetching its first table: the confirmation waits for placement.
    sub.must_get(&["subscribe", &channel], &[&["subscribe", &channel, ":1"]]).await;
    sub.must_get(&["psubscribe", "ev*"], &[&["psubscribe", "ev*", ":2"]]).await;
    let mut publisher = proxy.client().await;
    let n: i64 = cmd(&mut publisher, &["publish", &channel, "before"]).await.unwrap();
    assert_eq!(n, 2, "the channel and the pattern, once each");
    assert_eq!(sub.words().await, ["message", &channel, "before"]);
    assert_eq!(sub.words().await, ["pmessage", "ev*", &channel, "before"]);

    // Failover: shard 1's master dies and the spare becomes its master (epoch 2).
    let dead = partitions.remove(1);
    dead.stop().await;
    let mut moved = even_table(2, &[addrs[0], spare.addr, addrs[2]]);
    moved.shards[1].shard_epoch = 2;
    tables.send_replace(moved);
    must_receive_again(&proxy, 2, &mut publisher, &mut sub, &channel, "ev*").await;
    let mut on_spare = spare.client().await;
    let numsub: Vec<redis::Value> =
        cmd(&mut on_spare, &["pubsub", "numsub", &channel]).await.unwrap();
    assert_eq!(redis::from_redis_value::<i64>(&numsub[1]).unwrap(), 1);

    // A broken subscriber connection (the backend kills it) is restored on the same master.
    let _: i64 = cmd(&mut on_spare, &["client", "kill", "type", "pubsub"]).await.unwrap();
    must_receive_again(&proxy, 2, &mut publisher, &mut sub, &channel, "ev*").await;

    // A routing change with the old master alive: shard 1's slots go to the first server. The
    // subscription moves there and the spare, out of the table, is left with nothing.
    let mut merged = even_table(3, &[addrs[0], addrs[0], addrs[2]]);
    merged.shards[1].shard_epoch = 3;
    tables.send_replace(merged);
    must_receive_again(&proxy, 3, &mut publisher, &mut sub, &channel, "ev*").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let numsub: Vec<redis::Value> =
            cmd(&mut on_spare, &["pubsub", "numsub", &channel]).await.unwrap();
        let numpat: i64 = cmd(&mut on_spare, &["pubsub", "numpat"]).await.unwrap();
        if redis::from_redis_value::<i64>(&numsub[1]).unwrap() == 0 && numpat == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the spare still has the subscriptions");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    must_see_info(&proxy, "pubsub_backend_connections", 2).await;
    must_send(&mut sub.stream, &["ping"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
}

#[tokio::test]
async fn a_slow_subscriber_is_cut_at_its_output_buffer_limit() {
    let partition = start_partition(&[]).await;
    let limit = 1 << 20;
    let mut config = routing_file_config(&even_table(1, &[partition.addr]));
    config.client_output_buffer_limit_pubsub = "1mb 512kb 60".parse().unwrap();
    let (proxy, metrics) = start_proxy_with_metrics(config).await;
    let mut slow = Raw::to(&proxy).await;
    slow.must_get(&["subscribe", "flood"], &[&["subscribe", "flood", ":1"]]).await;
    // A subscriber that keeps reading is not cut.
    let mut fast = Raw::to(&proxy).await;
    fast.must_get(&["subscribe", "flood"], &[&["subscribe", "flood", ":1"]]).await;
    let fast_reader = tokio::spawn(async move {
        let mut got = 0usize;
        loop {
            let w = fast.words().await;
            if w[2] == "stop" {
                return (got, fast);
            }
            got += 1;
        }
    });
    let mut publisher = partition.client().await;
    let payload = "x".repeat(64 * 1024);
    let mut sent = 0usize;
    // The slow one never reads: its socket buffers fill, then the proxy's queue, then it is cut.
    while info_field(&proxy, "pubsub_output_limit_disconnections").await == 0 {
        assert!(sent < 4000, "never cut after {sent} messages");
        for _ in 0..16 {
            let _: i64 = cmd(&mut publisher, &["publish", "flood", &payload]).await.unwrap();
            sent += 1;
        }
    }
    let peak = info_field(&proxy, "pubsub_queued_bytes_peak").await;
    assert!(peak < limit as i64, "a subscriber's queue reached {peak} bytes");
    assert!(peak > (limit / 2) as i64, "the queue never grew: {peak}");
    // The slow subscriber's connection is closed (after what the kernel had buffered).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = tokio::time::timeout_at(deadline, slow.stream.read(&mut buf))
            .await
            .expect("the slow subscriber is disconnected")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
    }
    let _: i64 = cmd(&mut publisher, &["publish", "flood", "stop"]).await.unwrap();
    let (got, _fast) = tokio::time::timeout(Duration::from_secs(10), fast_reader)
        .await
        .expect("the fast subscriber gets everything")
        .unwrap();
    assert_eq!(got, sent, "the fast subscriber got every message");
    must_see_info(&proxy, "pubsub_queued_bytes", 0).await;
    must_see_info(&proxy, "pubsub_channels", 1).await;
    let text = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "rcluster_proxy_output_limit_disconnections_total{class=\"pubsub\"} 1",
        "rcluster_proxy_output_limit_disconnections_total{class=\"normal\"} 0",
        "rcluster_proxy_pubsub_queued_bytes 0",
        "rcluster_proxy_pubsub_backend_connections 1",
        "rcluster_proxy_pubsub_subscriptions{kind=\"channel\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn a_normal_client_is_cut_at_its_output_buffer_limit() {
    let partition = start_partition(&[]).await;
    let proxy = start_proxy(&even_table(1, &[partition.addr]), |c| {
        c.client_output_buffer_limit_normal = "1mb 0 0".parse().unwrap();
    })
    .await;
    let mut con = proxy.client().await;
    let big = "y".repeat(2 << 20);
    let _: () = cmd(&mut con, &["set", "big", &big]).await.unwrap();
    let _: () = cmd(&mut con, &["set", "small", "s"]).await.unwrap();
    let mut raw = proxy.raw().await;
    must_send(&mut raw, &["get", "small"], b"$1\r\ns\r\n").await;
    let got = crate::util::must_exchange(&mut raw, &resp(&["get", "big"]), 1).await;
    assert!(got.is_empty(), "the reply past the limit was not sent: {} bytes", got.len());
    must_see_info(&proxy, "normal_output_limit_disconnections", 1).await;
    // Without a limit (the default) the same reply goes through.
    let unlimited = start_proxy(&even_table(1, &[partition.addr]), |_| {}).await;
    let mut con = unlimited.client().await;
    let v: String = cmd(&mut con, &["get", "big"]).await.unwrap();
    assert_eq!(v.len(), big.len());
}

/// A backend that confirms each SUBSCRIBE only once `release` is true; counts them.
async fn start_slow_confirming_backend(release: watch::Receiver<bool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut release = release.clone();
            tokio::spawn(async move {
                let mut parser = protocol::RequestParser::default();
                let mut buf = BytesMut::new();
                loop {
                    match sock.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    while let Ok(Some(args)) = parser.parse(&mut buf, true) {
                        if !args[0].eq_ignore_ascii_case(b"subscribe") {
                            continue;
                        }
                        let _ = release.wait_for(|r| *r).await;
                        let name = String::from_utf8_lossy(&args[1]).into_owned();
                        let reply =
                            format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{name}\r\n:1\r\n", name.len());
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_confirmation_waits_until_the_backend_has_the_subscription() {
    let (release, rx) = watch::channel(false);
    let backend = start_slow_confirming_backend(rx).await;
    let proxy = start_proxy(&even_table(1, &[backend]), |c| c.retry_deadline_ms = 20_000).await;
    let mut sub = Raw::to(&proxy).await;
    sub.send(&["subscribe", "c"]).await;
    let early = tokio::time::timeout(Duration::from_millis(300), sub.frame()).await;
    assert!(early.is_err(), "confirmed before the backend was: {early:?}");
    release.send_replace(true);
    assert_eq!(sub.words().await, ["subscribe", "c", ":1"]);
    // A second client of the same channel is confirmed at once: the proxy has it already.
    let mut second = Raw::to(&proxy).await;
    second.must_get(&["subscribe", "c"], &[&["subscribe", "c", ":1"]]).await;
}

/// A backend whose first connection confirms subscriptions and then falls silent (reads, never
/// answers, never closes), and whose later connections confirm and at once deliver one
/// `message` "from the new link" on the channel.
async fn start_silent_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let silent = std::mem::take(&mut first);
            tokio::spawn(async move {
                let mut parser = protocol::RequestParser::default();
                let mut buf = BytesMut::new();
                let mut confirmed = false;
                loop {
                    match sock.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    while let Ok(Some(args)) = parser.parse(&mut buf, true) {
                        if !args[0].eq_ignore_ascii_case(b"subscribe") || (silent && confirmed) {
                            continue;
                        }
                        confirmed = true;
                        let name = String::from_utf8_lossy(&args[1]).into_owned();
                        let mut reply =
                            format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{name}\r\n:1\r\n", name.len());
                        if !silent {
                            reply += &format!(
                                "*3\r\n$7\r\nmessage\r\n${}\r\n{name}\r\n$13\r\nfrom new link\r\n",
                                name.len()
                            );
                        }
                        if sock.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_silent_backend_link_is_replaced() {
    let backend = start_silent_backend().await;
    let proxy = start_proxy(&even_table(1, &[backend]), |_| {}).await;
    let mut sub = Raw::to(&proxy).await;
    sub.must_get(&["subscribe", "c"], &[&["subscribe", "c", ":1"]]).await;
    // Unanswered PINGs (every 2 s, 2 allowed) give the link up; the new one delivers.
    let got = sub.frame_within(Duration::from_secs(15)).await;
    assert_eq!(words(&got), ["message", "c", "from new link"], "and no second confirmation");
}

#[tokio::test]
async fn a_healthy_link_outlives_its_pings() {
    let partition = start_partition(&[]).await;
    let proxy = start_proxy(&even_table(1, &[partition.addr]), |_| {}).await;
    let mut sub = Raw::to(&proxy).await;
    sub.must_get(&["subscribe", "c"], &[&["subscribe", "c", ":1"]]).await;
    let mut con = partition.client().await;
    let link = |list: String| {
        let ids: Vec<String> =
            list.lines().filter_map(|l| l.split(' ').next().map(str::to_string)).collect();
        assert_eq!(ids.len(), 1, "one subscriber connection: {list}");
        ids[0].clone()
    };
    let first = link(cmd(&mut con, &["client", "list", "type", "pubsub"]).await.unwrap());
    // Past several PING rounds (every 2 s) the same connection carries the subscription.
    let until = Instant::now() + Duration::from_secs(7);
    while Instant::now() < until {
        let now = link(cmd(&mut con, &["client", "list", "type", "pubsub"]).await.unwrap());
        assert_eq!(now, first, "the link was replaced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _: i64 = cmd(&mut con, &["publish", "c", "still"]).await.unwrap();
    assert_eq!(sub.words().await, ["message", "c", "still"]);
}

#[tokio::test]
async fn a_normal_client_over_its_soft_limit_for_too_long_is_cut() {
    let partition = start_partition(&[]).await;
    let proxy = start_proxy(&even_table(1, &[partition.addr]), |c| {
        c.client_output_buffer_limit_normal = "0 1mb 1".parse().unwrap();
    })
    .await;
    let mut con = proxy.client().await;
    let big = "z".repeat(32 << 20);
    let _: () = cmd(&mut con, &["set", "big", &big]).await.unwrap();
    // A reader gets the reply: it is over the soft limit only for as long as the write takes.
    let v: String = cmd(&mut con, &["get", "big"]).await.unwrap();
    assert_eq!(v.len(), big.len());
    // One that does not read stays over it (past what the kernel buffers) and is cut.
    let mut slow = proxy.raw().await;
    slow.write_all(&resp(&["get", "big"])).await.unwrap();
    let started = Instant::now();
    must_see_info(&proxy, "normal_output_limit_disconnections", 1).await;
    assert!(started.elapsed() >= Duration::from_secs(1), "cut before its soft seconds");
}

#[tokio::test]
async fn many_subscribers_share_one_backend_subscription() {
    let cluster = start_cluster().await;
    let channel = name_on("crowd", 0);
    let mut subs = Vec::new();
    for _ in 0..200 {
        let mut s = Raw::to(&cluster.proxy).await;
        s.must_get(&["subscribe", &channel], &[&["subscribe", &channel, ":1"]]).await;
        subs.push(s);
    }
    let mut owner = cluster.partitions[0].client().await;
    let n: Vec<redis::Value> = cmd(&mut owner, &["pubsub", "numsub", &channel]).await.unwrap();
    assert_eq!(redis::from_redis_value::<i64>(&n[1]).unwrap(), 1, "one backend subscriber");
    let mut con = cluster.proxy.client().await;
    let n: Vec<redis::Value> = cmd(&mut con, &["pubsub", "numsub", &channel]).await.unwrap();
    assert_eq!(redis::from_redis_value::<i64>(&n[1]).unwrap(), 200, "as a single Redis counts");
    assert_eq!(info_field(&cluster.proxy, "pubsub_backend_connections").await, 1);
    let _: i64 = cmd(&mut con, &["publish", &channel, "to all"]).await.unwrap();
    for s in &mut subs {
        assert_eq!(s.words().await, ["message", &channel, "to all"]);
    }
    // They leave one by one; the last one's going releases the backend subscription.
    for s in &mut subs {
        s.must_get(&["unsubscribe"], &[&["unsubscribe", &channel, ":0"]]).await;
    }
    must_see_info(&cluster.proxy, "pubsub_backend_connections", 0).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n: Vec<redis::Value> = cmd(&mut owner, &["pubsub", "numsub", &channel]).await.unwrap();
        if redis::from_redis_value::<i64>(&n[1]).unwrap() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the backend still has the subscription");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn subscriber_links_authenticate_with_the_backend_password() {
    let mut partitions = Vec::new();
    for _ in 0..3 {
        partitions.push(start_partition(&["--requirepass", "backend-secret"]).await);
    }
    let addrs: Vec<SocketAddr> = partitions.iter().map(|p| p.addr).collect();
    let proxy = start_proxy(&even_table(1, &addrs), |c| {
        c.backend_password = Some("backend-secret".into());
    })
    .await;
    let mut sub = Raw::to(&proxy).await;
    let c = name_on("locked", 2);
    sub.must_get(&["subscribe", &c], &[&["subscribe", &c, ":1"]]).await;
    sub.must_get(&["psubscribe", "lock*"], &[&["psubscribe", "lock*", ":2"]]).await;
    must_see_info(&proxy, "pubsub_backend_connections", 3).await;
    let mut publisher = proxy.client().await;
    let n: i64 = cmd(&mut publisher, &["publish", &c, "in"]).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(sub.words().await, ["message", &c, "in"]);
    assert_eq!(sub.words().await, ["pmessage", "lock*", &c, "in"]);
    let mut con = proxy.client().await;
    let n: i64 = cmd(&mut con, &["pubsub", "numpat"]).await.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn keyspace_notifications_come_from_the_shard_of_the_key() {
    let cluster = start_cluster().await;
    for p in &cluster.partitions {
        let mut con = p.client().await;
        let _: () =
            cmd(&mut con, &["config", "set", "notify-keyspace-events", "KEA"]).await.unwrap();
    }
    let keys: Vec<String> = (0..3).map(|s| name_on("note", s)).collect();
    let watched = format!("__keyspace@0__:{}", keys[2]);
    let mut sub = Raw::to(&cluster.proxy).await;
    sub.must_get(
        &["subscribe", &watched, "__keyevent@0__:set"],
        &[&["subscribe", &watched, ":1"], &["subscribe", "__keyevent@0__:set", ":2"]],
    )
    .await;
    let mut con = cluster.proxy.client().await;
    for k in &keys {
        let _: () = cmd(&mut con, &["set", k, "v"]).await.unwrap();
    }
    let _: () = cmd(&mut con, &["set", &keys[0], "last"]).await.unwrap();
    let mut got: HashMap<Vec<String>, usize> = HashMap::new();
    let mut sets = 0;
    while sets < 4 {
        let w = sub.words().await;
        if w[1] == "__keyevent@0__:set" {
            sets += 1;
        }
        *got.entry(w).or_default() += 1;
    }
    let mut want: HashMap<Vec<String>, usize> = HashMap::new();
    want.insert(vec!["message".into(), watched.clone(), "set".into()], 1);
    for (k, n) in [(&keys[0], 2), (&keys[1], 1), (&keys[2], 1)] {
        want.insert(vec!["message".into(), "__keyevent@0__:set".into(), k.clone()], n);
    }
    assert_eq!(got, want, "each event once, from the key's shard");
}

//! What the proxy answers itself: CLUSTER as a one-node cluster, connection commands, AUTH,
//! HELLO 3, and clear errors for what it does not route.

use crate::util::{cmd, even_table, must_send, start_cluster, start_partition, start_proxy};

#[tokio::test]
async fn cluster_commands_describe_one_node_owning_every_slot() {
    let cluster = start_cluster().await;
    let mut con = cluster.proxy.client().await;
    let slot: i64 = cmd(&mut con, &["cluster", "keyslot", "foo"]).await.unwrap();
    assert_eq!(slot, 12182);
    let slot: i64 = cmd(&mut con, &["cluster", "keyslot", "{user1000}.following"]).await.unwrap();
    assert_eq!(slot, protocol::key_hash_slot(b"user1000") as i64);
    let slots: redis::Value = cmd(&mut con, &["cluster", "slots"]).await.unwrap();
    let addr = cluster.proxy.addr;
    let redis::Value::Array(ranges) = slots else { panic!("{slots:?}") };
    assert_eq!(ranges.len(), 1);
    let redis::Value::Array(range) = &ranges[0] else { panic!() };
    assert_eq!(range[0], redis::Value::Int(0));
    assert_eq!(range[1], redis::Value::Int(16383));
    let redis::Value::Array(node) = &range[2] else { panic!() };
    assert_eq!(node[0], redis::Value::BulkString(addr.ip().to_string().into_bytes()));
    assert_eq!(node[1], redis::Value::Int(addr.port() as i64));
    let myid: String = cmd(&mut con, &["cluster", "myid"]).await.unwrap();
    assert_eq!(myid.len(), 40);
    let info: String = cmd(&mut con, &["cluster", "info"]).await.unwrap();
    assert!(info.contains("cluster_state:ok"), "{info}");
    let nodes: String = cmd(&mut con, &["cluster", "nodes"]).await.unwrap();
    assert!(nodes.starts_with(&format!("{myid} {addr}@")), "{nodes}");
    assert!(nodes.contains("myself,master") && nodes.trim_end().ends_with("0-16383"));
    let shards: redis::Value = cmd(&mut con, &["cluster", "shards"]).await.unwrap();
    assert!(format!("{shards:?}").contains("online"));
    let _: () = cmd(&mut con, &["readonly"]).await.unwrap();
    let _: () = cmd(&mut con, &["readwrite"]).await.unwrap();
}

#[tokio::test]
async fn connection_commands_are_answered_by_the_proxy() {
    let cluster = start_cluster().await;
    let mut s = cluster.proxy.raw().await;
    must_send(&mut s, &["PING"], b"+PONG\r\n").await;
    must_send(&mut s, &["PING", "hi"], b"$2\r\nhi\r\n").await;
    must_send(&mut s, &["ECHO", "x y"], b"$3\r\nx y\r\n").await;
    must_send(&mut s, &["SELECT", "0"], b"+OK\r\n").await;
    must_send(&mut s, &["SELECT", "1"], b"-ERR DB index is out of range\r\n").await;
    must_send(&mut s, &["CLIENT", "SETNAME", "me"], b"+OK\r\n").await;
    must_send(&mut s, &["CLIENT", "GETNAME"], b"$2\r\nme\r\n").await;
    must_send(
        &mut s,
        &["COMMAND", "COUNT"],
        format!(":{}\r\n", protocol::command::TABLE.len()).as_bytes(),
    )
    .await;
    must_send(&mut s, &["GET"], b"-ERR wrong number of arguments for 'get' command\r\n").await;
    must_send(
        &mut s,
        &["NOSUCH", "a"],
        b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n",
    )
    .await;
    // Inline commands work too.
    let got = crate::util::must_exchange(&mut s, b"PING\r\n", 7).await;
    assert_eq!(got, b"+PONG\r\n");
    must_send(&mut s, &["QUIT"], b"+OK\r\n").await;
    let got = crate::util::must_exchange(&mut s, b"", 1).await;
    assert!(got.is_empty(), "the connection is closed after QUIT");
}

#[tokio::test]
async fn commands_the_proxy_cannot_route_get_errors_naming_them() {
    let cluster = start_cluster().await;
    let mut con = cluster.proxy.client().await;
    for args in [&["wait", "1", "0"][..], &["monitor"], &["replicaof", "no", "one"]] {
        let err = cmd::<()>(&mut con, args).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("'{}'", args[0])), "{args:?}: {text}");
        assert!(text.contains("not supported through the proxy"), "{args:?}: {text}");
    }
    // TIME goes to a backend.
    let (secs, _micros): (i64, i64) = cmd(&mut con, &["time"]).await.unwrap();
    assert!(secs > 1_600_000_000);
}

#[tokio::test]
async fn requirepass_and_hello_3() {
    let p = start_partition(&[]).await;
    let proxy = start_proxy(&even_table(1, &[p.addr]), |c| c.requirepass = "pw".into()).await;
    let mut s = proxy.raw().await;
    must_send(&mut s, &["GET", "a"], b"-NOAUTH Authentication required.\r\n").await;
    must_send(
        &mut s,
        &["AUTH", "nope"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    must_send(&mut s, &["AUTH", "pw"], b"+OK\r\n").await;
    must_send(&mut s, &["SET", "a", "1"], b"+OK\r\n").await;
    // RESP3: the proxy's own replies and the backends' both speak it.
    let hello = crate::util::must_exchange(&mut s, &crate::util::resp(&["HELLO", "3"]), 100).await;
    assert!(hello.starts_with(b"%7\r\n"), "{}", String::from_utf8_lossy(&hello));
    must_send(&mut s, &["HSET", "h", "f", "v"], b":1\r\n").await;
    must_send(&mut s, &["HGETALL", "h"], b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n").await;
    must_send(&mut s, &["GET", "missing"], b"_\r\n").await;
    must_send(&mut s, &["MGET", "a", "missing"], b"*2\r\n$1\r\n1\r\n_\r\n").await;
    // Back to RESP2 on the same connection.
    let _ = crate::util::must_exchange(&mut s, &crate::util::resp(&["HELLO", "2"]), 100).await;
    must_send(&mut s, &["GET", "missing"], b"$-1\r\n").await;
    must_send(&mut s, &["HGETALL", "h"], b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n").await;
    // HELLO with AUTH authenticates a fresh connection.
    let mut s = proxy.raw().await;
    let hello = crate::util::must_exchange(
        &mut s,
        &crate::util::resp(&["HELLO", "3", "AUTH", "default", "pw"]),
        100,
    )
    .await;
    assert!(hello.starts_with(b"%7\r\n"), "{}", String::from_utf8_lossy(&hello));
    must_send(&mut s, &["GET", "a"], b"$1\r\n1\r\n").await;
}

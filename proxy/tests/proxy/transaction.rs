//! MULTI/EXEC/DISCARD/WATCH/UNWATCH through the proxy: replies byte for byte as redis-server
//! gives them, transactions within one slot run whole, cross-slot ones are refused before
//! anything is applied, WATCH pins a connection that EXEC/DISCARD/UNWATCH/disconnect release.

use std::time::Duration;

use tokio::time::Instant;

use crate::util::{cmd, must_exchange, must_send, resp, start_cluster, start_proxy, Cluster};

/// The `connected_clients` of a partition's INFO.
async fn info_field(con: &mut redis::aio::MultiplexedConnection, field: &str) -> i64 {
    let text: String = cmd(con, &["info", "clients"]).await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

#[tokio::test]
async fn a_transaction_in_one_slot_runs_whole_with_redis_replies() {
    let cluster = start_cluster().await;
    let mut s = cluster.proxy.raw().await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "{t}a", "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["incr", "{t}b"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["ping"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["get", "{t}a"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"*4\r\n+OK\r\n:1\r\n+PONG\r\n$1\r\n1\r\n").await;
    // It ran on the owner of the slot.
    let mut owner = cluster.owner_of("t").client().await;
    let v: String = cmd(&mut owner, &["get", "{t}a"]).await.unwrap();
    assert_eq!(v, "1");
    // An empty transaction, and the errors outside one.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["exec"], b"*0\r\n").await;
    must_send(&mut s, &["exec"], b"-ERR EXEC without MULTI\r\n").await;
    must_send(&mut s, &["discard"], b"-ERR DISCARD without MULTI\r\n").await;
    // Pipelined with what comes before: the transaction sees it.
    let batch = [
        resp(&["set", "{p}n", "10"]),
        resp(&["multi"]),
        resp(&["incr", "{p}n"]),
        resp(&["exec"]),
        resp(&["get", "{p}n"]),
    ]
    .concat();
    let want = b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n:11\r\n$2\r\n11\r\n";
    let got = must_exchange(&mut s, &batch, want.len()).await;
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[tokio::test]
async fn errors_while_queuing_abort_exec_as_in_redis_and_apply_nothing() {
    let cluster = start_cluster().await;
    let mut s = cluster.proxy.raw().await;
    const ABORT: &[u8] = b"-EXECABORT Transaction discarded because of previous errors.\r\n";
    // Keys in two slots: refused when the second slot shows up.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "a", "1"], b"+QUEUED\r\n").await;
    must_send(
        &mut s,
        &["set", "b", "2"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    must_send(&mut s, &["exec"], ABORT).await;
    let mut con = cluster.proxy.client().await;
    let got: Option<String> = cmd(&mut con, &["get", "a"]).await.unwrap();
    assert_eq!(got, None, "nothing of a refused transaction is applied");
    // One command with keys in two slots.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(
        &mut s,
        &["mset", "a", "1", "b", "2"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    must_send(&mut s, &["exec"], ABORT).await;
    // Unknown command and wrong arity, with Redis's texts; nested MULTI and WATCH inside MULTI
    // are errors that do not abort.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["multi"], b"-ERR MULTI calls can not be nested\r\n").await;
    must_send(&mut s, &["watch", "a"], b"-ERR WATCH inside MULTI is not allowed\r\n").await;
    must_send(&mut s, &["set", "a", "1"], b"+QUEUED\r\n").await;
    must_send(
        &mut s,
        &["foo", "x"],
        b"-ERR unknown command 'foo', with args beginning with: 'x' \r\n",
    )
    .await;
    must_send(&mut s, &["exec"], ABORT).await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["get"], b"-ERR wrong number of arguments for 'get' command\r\n").await;
    must_send(&mut s, &["exec"], ABORT).await;
    // A command that runs at once but fails the arity check aborts too.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "a", "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec", "x"], b"-ERR wrong number of arguments for 'exec' command\r\n")
        .await;
    must_send(&mut s, &["exec"], ABORT).await;
    // What the proxy cannot put in one shard's transaction is named.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    let got = must_exchange(&mut s, &resp(&["keys", "*"]), 10).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("-ERR 'keys' is not supported through the proxy"), "{text}");
    must_send(&mut s, &["exec"], ABORT).await;
    let got: Option<String> = cmd(&mut con, &["get", "a"]).await.unwrap();
    assert_eq!(got, None);
    // DISCARD drops the queue.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "a", "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["discard"], b"+OK\r\n").await;
    must_send(&mut s, &["get", "a"], b"$-1\r\n").await;
}

#[tokio::test]
async fn watch_aborts_exec_when_another_client_writes_the_key() {
    let cluster = start_cluster().await;
    let mut s = cluster.proxy.raw().await;
    let mut other = cluster.proxy.client().await;
    // Untouched: EXEC runs.
    must_send(&mut s, &["watch", "{w}k"], b"+OK\r\n").await;
    must_send(&mut s, &["get", "{w}k"], b"$-1\r\n").await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "{w}k", "mine"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"*1\r\n+OK\r\n").await;
    // Written by someone else between WATCH and EXEC: EXEC answers a null array.
    must_send(&mut s, &["watch", "{w}k", "{w}j"], b"+OK\r\n").await;
    let _: () = cmd(&mut other, &["set", "{w}k", "theirs"]).await.unwrap();
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "{w}k", "mine again"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"*-1\r\n").await;
    let v: String = cmd(&mut other, &["get", "{w}k"]).await.unwrap();
    assert_eq!(v, "theirs");
    // Watched keys and the transaction's keys must share the slot.
    must_send(
        &mut s,
        &["watch", "a", "b"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    must_send(&mut s, &["watch", "{w}k"], b"+OK\r\n").await;
    must_send(
        &mut s,
        &["watch", "a"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(
        &mut s,
        &["set", "a", "1"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["exec"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    // UNWATCH forgets: a later write by someone else no longer aborts.
    must_send(&mut s, &["watch", "{w}k"], b"+OK\r\n").await;
    must_send(&mut s, &["unwatch"], b"+OK\r\n").await;
    let _: () = cmd(&mut other, &["set", "{w}k", "again"]).await.unwrap();
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "a", "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"*1\r\n+OK\r\n").await;
}

/// The connections a partition sees from the proxy: its pooled ones plus any pinned one.
async fn must_count_clients(cluster: &Cluster, key: &str, want: i64, what: &str) {
    let mut owner = cluster.owner_of(key).client().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = info_field(&mut owner, "connected_clients").await;
        if n == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {n} connections, not {want}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn pinned_connections_are_released_on_discard_unwatch_and_disconnect_and_reused_after_exec() {
    let cluster = start_cluster().await;
    let mut s = cluster.proxy.raw().await;
    must_send(&mut s, &["set", "{r}k", "1"], b"+OK\r\n").await;
    // The proxy's pooled connections to the owner, without the counting connection itself.
    let mut owner = cluster.owner_of("r").client().await;
    let base = info_field(&mut owner, "connected_clients").await - 1;
    drop(owner);
    must_send(&mut s, &["watch", "{r}k"], b"+OK\r\n").await;
    must_count_clients(&cluster, "r", base + 2, "WATCH pins a connection").await;
    must_send(&mut s, &["unwatch"], b"+OK\r\n").await;
    must_count_clients(&cluster, "r", base + 1, "UNWATCH closes it").await;
    must_send(&mut s, &["watch", "{r}k"], b"+OK\r\n").await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["discard"], b"+OK\r\n").await;
    must_count_clients(&cluster, "r", base + 1, "DISCARD closes it").await;
    must_send(&mut s, &["watch", "{r}k"], b"+OK\r\n").await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["exec"], b"*0\r\n").await;
    // After EXEC the connection is as new: kept for the next transaction, not a new one.
    must_count_clients(&cluster, "r", base + 2, "EXEC keeps it for reuse").await;
    must_send(&mut s, &["watch", "{r}k"], b"+OK\r\n").await;
    must_count_clients(&cluster, "r", base + 2, "WATCH reuses it").await;
    drop(s);
    must_count_clients(&cluster, "r", base + 1, "a disconnect closes it").await;
    let mut s = cluster.proxy.raw().await;
    for _ in 0..3 {
        must_send(&mut s, &["multi"], b"+OK\r\n").await;
        must_send(&mut s, &["incr", "{r}n"], b"+QUEUED\r\n").await;
        let _ = must_exchange(&mut s, &resp(&["exec"]), 8).await;
        must_count_clients(&cluster, "r", base + 2, "EXECs share one kept connection").await;
    }
    // The backend closes every connection of the proxy: the kept one is found closed and the
    // next transaction still runs, on a new connection.
    let mut owner = cluster.owner_of("r").client().await;
    let killed: i64 = cmd(&mut owner, &["client", "kill", "skipme", "yes"]).await.unwrap();
    assert!(killed >= 3, "{killed}");
    drop(owner);
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["incr", "{r}n"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"*1\r\n:4\r\n").await;
}

#[tokio::test]
async fn the_queue_is_bounded() {
    let cluster = start_cluster().await;
    let addrs: Vec<_> = cluster.partitions.iter().map(|p| p.addr).collect();
    let proxy = start_proxy(&crate::util::even_table(1, &addrs), |c| c.multi_max_bytes = 300).await;
    let mut s = proxy.raw().await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    let big = "x".repeat(150);
    must_send(&mut s, &["set", "{q}a", &big], b"+QUEUED\r\n").await;
    let got = must_exchange(&mut s, &resp(&["set", "{q}b", &big]), 10).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("-ERR the transaction's queued commands exceed"), "{text}");
    assert!(text.contains("--multi-max-bytes"), "{text}");
    must_send(
        &mut s,
        &["exec"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    must_send(&mut s, &["get", "{q}a"], b"$-1\r\n").await;
}

#[tokio::test]
async fn resp3_transactions_and_commands_the_proxy_cannot_queue() {
    let cluster = start_cluster().await;
    let mut s = cluster.proxy.raw().await;
    let hello = must_exchange(&mut s, &resp(&["hello", "3"]), 100).await;
    assert!(hello.starts_with(b"%7\r\n"), "{}", String::from_utf8_lossy(&hello));
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["hset", "{h}h", "f", "v"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["hgetall", "{h}h"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["get", "{h}missing"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"*3\r\n:1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n_\r\n").await;
    // A watched key changed: RESP3's null.
    let mut other = cluster.proxy.client().await;
    must_send(&mut s, &["watch", "{h}h"], b"+OK\r\n").await;
    let _: i64 = cmd(&mut other, &["hset", "{h}h", "g", "w"]).await.unwrap();
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["del", "{h}h"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["exec"], b"_\r\n").await;
    // What the proxy answers from its own state cannot be part of a backend's transaction.
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(
        &mut s,
        &["client", "setname", "x"],
        b"-ERR 'client|setname' is not supported through the proxy: the proxy answers it itself, \
          and a transaction runs on a backend, so not inside MULTI\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["exec"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    let n: i64 = cmd(&mut other, &["hlen", "{h}h"]).await.unwrap();
    assert_eq!(n, 2);
}

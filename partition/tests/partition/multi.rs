//! Transactions: MULTI/EXEC/DISCARD/WATCH/UNWATCH, replies byte for byte as redis-server 7.0.15
//! gives them.
use std::time::Duration;

use crate::util::*;

#[tokio::test]
async fn queued_commands_run_at_exec_and_runtime_errors_do_not_abort() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["MULTI"], b"-ERR MULTI calls can not be nested\r\n").await;
    must_send(&mut s, &["WATCH", "x"], b"-ERR WATCH inside MULTI is not allowed\r\n").await;
    must_send(&mut s, &["SET", "a", "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["INCR", "a"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["BITFIELD", "a", "GET", "u8", "0"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["GETRANGE", "a", "0", "-1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["INCRBY", "a", "x"], b"+QUEUED\r\n").await;
    must_send(
        &mut s,
        &["EXEC"],
        b"*5\r\n+OK\r\n:2\r\n*1\r\n:50\r\n$1\r\n2\r\n-ERR value is not an integer or out of range\r\n",
    )
    .await;
    must_send(&mut s, &["EXEC"], b"-ERR EXEC without MULTI\r\n").await;
    must_send(&mut s, &["DISCARD"], b"-ERR DISCARD without MULTI\r\n").await;
    must_send(&mut s, &["GET", "a"], b"$1\r\n2\r\n").await;
}

#[tokio::test]
async fn errors_while_queuing_abort_exec() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["FOO"], b"-ERR unknown command 'FOO', with args beginning with: \r\n")
        .await;
    must_send(&mut s, &["SET", "a"], b"-ERR wrong number of arguments for 'set' command\r\n").await;
    must_send(&mut s, &["SET", "b", "1"], b"+QUEUED\r\n").await;
    must_send(
        &mut s,
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    must_send(&mut s, &["GET", "b"], b"$-1\r\n").await;
    // Commands that may not run inside a transaction doom it too.
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["SHUTDOWN"], b"-ERR Command not allowed inside a transaction\r\n").await;
    must_send(
        &mut s,
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
    // DISCARD drops the queue.
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["SET", "c", "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["DISCARD"], b"+OK\r\n").await;
    must_send(&mut s, &["EXISTS", "c"], b":0\r\n").await;
}

#[tokio::test]
async fn watch_is_invalidated_by_another_clients_write() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    must_send(&mut a, &["SET", "k", "1"], b"+OK\r\n").await;
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    must_send(&mut b, &["INCR", "k"], b":2\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["SET", "k", "100"], b"+QUEUED\r\n").await;
    must_send(&mut a, &["EXEC"], b"*-1\r\n").await;
    must_send(&mut a, &["GET", "k"], b"$1\r\n2\r\n").await;
    // The failed EXEC unwatched everything: the next transaction goes through.
    must_send(&mut b, &["INCR", "k"], b":3\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["SET", "k", "100"], b"+QUEUED\r\n").await;
    must_send(&mut a, &["EXEC"], b"*1\r\n+OK\r\n").await;
    // In RESP3 the aborted EXEC is a null.
    switch_to_resp3(&mut a).await;
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    must_send(&mut b, &["DEL", "k"], b":1\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["EXEC"], b"_\r\n").await;
}

#[tokio::test]
async fn watch_sees_own_writes_unwatch_and_discard() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    // A client's own write before MULTI also counts.
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    must_send(&mut a, &["SET", "k", "x"], b"+OK\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["EXEC"], b"*-1\r\n").await;
    // UNWATCH forgets the key.
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    must_send(&mut a, &["UNWATCH"], b"+OK\r\n").await;
    must_send(&mut b, &["SET", "k", "y"], b"+OK\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["EXEC"], b"*0\r\n").await;
    // DISCARD unwatches too.
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["DISCARD"], b"+OK\r\n").await;
    must_send(&mut b, &["SET", "k", "z"], b"+OK\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["EXEC"], b"*0\r\n").await;
    // A write to an unrelated key does not matter.
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    must_send(&mut b, &["SET", "other", "1"], b"+OK\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["GET", "k"], b"+QUEUED\r\n").await;
    must_send(&mut a, &["EXEC"], b"*1\r\n$1\r\nz\r\n").await;
}

#[tokio::test]
async fn watch_is_invalidated_by_expiry_and_flush() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    must_send(&mut a, &["SET", "k", "v", "PX", "30"], b"+OK\r\n").await;
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    // Wait until the key is gone for everyone (lazy expiry deletes it on this read).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = must_exchange(&mut b, &resp(&["EXISTS", "k"]), 4).await;
        if got == b":0\r\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "key never expired");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["EXEC"], b"*-1\r\n").await;
    // FLUSHALL touches watched keys that exist…
    must_send(&mut a, &["SET", "k", "v"], b"+OK\r\n").await;
    must_send(&mut a, &["WATCH", "k"], b"+OK\r\n").await;
    must_send(&mut b, &["FLUSHALL"], b"+OK\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["EXEC"], b"*-1\r\n").await;
    // …but not those that did not exist (Redis 7.0).
    must_send(&mut a, &["WATCH", "missing"], b"+OK\r\n").await;
    must_send(&mut b, &["FLUSHALL"], b"+OK\r\n").await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["EXEC"], b"*0\r\n").await;
}

#[tokio::test]
async fn a_disconnected_watcher_leaves_nothing_behind() {
    let srv = start_server().await;
    {
        let mut a = srv.raw().await;
        must_send(&mut a, &["WATCH", "k1", "k2"], b"+OK\r\n").await;
        must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    }
    must_wait_for(Duration::from_secs(5), || srv.server.lock().watched.is_empty(), "unwatch").await;
    assert!(srv.server.lock().watch_touched.is_empty());
}

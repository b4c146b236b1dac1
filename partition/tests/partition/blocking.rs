//! The blocking machinery, through the sorted-set pops (the list family's blocking commands
//! use the same path): wake-ups, first come first served, timeouts, MULTI, disconnection.
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::util::*;

/// Waits until the server has `n` clients parked.
async fn wait_blocked(srv: &TestServer, n: usize) {
    must_wait_for(
        Duration::from_secs(5),
        || srv.server.lock().blocked.len() == n,
        "blocked clients",
    )
    .await;
}

#[tokio::test]
async fn a_write_wakes_the_blocked_client() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    // A pipelined command behind the blocking one waits for it.
    a.write_all(&[resp(&["BZPOPMIN", "z", "0"]), resp(&["PING"])].concat()).await.unwrap();
    wait_blocked(&srv, 1).await;
    let info = must_exchange(&mut b, &resp(&["INFO", "clients"]), 100).await;
    assert!(String::from_utf8_lossy(&info).contains("blocked_clients:1"));
    must_send(&mut b, &["ZADD", "z", "1", "a"], b":1\r\n").await;
    let expected: &[u8] = b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n+PONG\r\n";
    assert_eq!(
        String::from_utf8_lossy(&must_read(&mut a, expected.len()).await),
        String::from_utf8_lossy(expected)
    );
    // The popped set was emptied, so it is gone.
    must_send(&mut b, &["EXISTS", "z"], b":0\r\n").await;
    wait_blocked(&srv, 0).await;
}

#[tokio::test]
async fn clients_are_served_first_come_first_served() {
    let srv = start_server().await;
    let mut first = srv.raw().await;
    let mut second = srv.raw().await;
    let mut writer = srv.raw().await;
    first.write_all(&resp(&["BZPOPMIN", "z", "0"])).await.unwrap();
    wait_blocked(&srv, 1).await;
    second.write_all(&resp(&["BZPOPMIN", "z", "0"])).await.unwrap();
    wait_blocked(&srv, 2).await;
    // One element: the first waiter gets it, the second keeps waiting.
    must_send(&mut writer, &["ZADD", "z", "1", "a"], b":1\r\n").await;
    let got = must_read(&mut first, 10).await;
    assert_eq!(got, b"*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n");
    wait_blocked(&srv, 1).await;
    // A newcomer that does not block cannot take what is pushed for the waiter: the waiter is
    // served right after the write, before any other command.
    let mut newcomer = srv.raw().await;
    writer.write_all(&resp(&["ZADD", "z", "2", "b"])).await.unwrap();
    must_send(&mut newcomer, &["ZPOPMIN", "z"], b"*0\r\n").await;
    let got = must_read(&mut second, 10).await;
    assert_eq!(got, b"*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n");
}

#[tokio::test]
async fn timeouts_answer_null_and_zero_waits_forever() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let started = Instant::now();
    must_send(&mut a, &["BZPOPMIN", "z", "0.2"], b"*-1\r\n").await;
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(190), "answered after {waited:?}");
    assert!(waited < Duration::from_secs(3), "answered after {waited:?}");
    wait_blocked(&srv, 0).await;
    must_send(&mut a, &["BZPOPMIN", "z", "-1"], b"-ERR timeout is negative\r\n").await;
    must_send(&mut a, &["BZPOPMIN", "z", "x"], b"-ERR timeout is not a float or out of range\r\n")
        .await;
    // RESP3 times out with a null.
    let mut c = srv.raw().await;
    switch_to_resp3(&mut c).await;
    must_send(&mut c, &["BZPOPMAX", "z", "0.05"], b"_\r\n").await;
}

#[tokio::test]
async fn inside_multi_a_blocking_pop_does_not_wait_and_exec_wakes_waiters() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["BZPOPMIN", "z", "0"], b"+QUEUED\r\n").await;
    must_send(&mut a, &["EXEC"], b"*1\r\n*-1\r\n").await;
    // A push inside a transaction wakes the waiter after EXEC.
    b.write_all(&resp(&["BZPOPMAX", "z", "0"])).await.unwrap();
    wait_blocked(&srv, 1).await;
    must_send(&mut a, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut a, &["ZADD", "z", "1", "a", "2", "b"], b"+QUEUED\r\n").await;
    must_send(&mut a, &["ZREM", "z", "a"], b"+QUEUED\r\n").await;
    must_send(&mut a, &["EXEC"], b"*2\r\n:2\r\n:1\r\n").await;
    let got = must_read(&mut b, 10).await;
    assert_eq!(got, b"*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n");
}

#[tokio::test]
async fn a_blocked_client_that_disconnects_leaves_nothing_behind() {
    let srv = start_server().await;
    {
        let mut a = srv.raw().await;
        a.write_all(&resp(&["BZPOPMIN", "z1", "z2", "0"])).await.unwrap();
        wait_blocked(&srv, 1).await;
    }
    wait_blocked(&srv, 0).await;
    let mut b = srv.raw().await;
    // The data stays for whoever comes next.
    must_send(&mut b, &["ZADD", "z2", "1", "a"], b":1\r\n").await;
    must_send(&mut b, &["ZCARD", "z2"], b":1\r\n").await;
    // A key that becomes another type does not wake a sorted-set waiter (as Redis 7.0).
    let mut c = srv.raw().await;
    c.write_all(&resp(&["BZPOPMIN", "s", "0"])).await.unwrap();
    wait_blocked(&srv, 1).await;
    must_send(&mut b, &["SET", "s", "x"], b"+OK\r\n").await;
    must_send(&mut b, &["DEL", "s"], b":1\r\n").await;
    must_send(&mut b, &["ZADD", "s", "5", "m"], b":1\r\n").await;
    assert_eq!(must_read(&mut c, 10).await, b"*3\r\n$1\r\ns\r\n$1\r\nm\r\n$1\r\n5\r\n");
}

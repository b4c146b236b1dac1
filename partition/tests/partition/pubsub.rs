//! Pub/Sub and keyspace notifications, byte for byte as redis-server 7.0.15 sends them, and the
//! output buffer limit that protects the server from subscribers that do not read.
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::util::*;

#[tokio::test]
async fn subscribe_publish_and_resp2_restrictions() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    must_send(&mut a, &["UNSUBSCRIBE"], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n").await;
    must_send(
        &mut a,
        &["SUBSCRIBE", "a", "b"],
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    )
    .await;
    must_send(
        &mut a,
        &["GET", "x"],
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    )
    .await;
    must_send(&mut a, &["PING"], b"*2\r\n$4\r\npong\r\n$0\r\n\r\n").await;
    must_send(&mut a, &["PING", "x"], b"*2\r\n$4\r\npong\r\n$1\r\nx\r\n").await;
    must_send(&mut a, &["PSUBSCRIBE", "a*"], b"*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:3\r\n")
        .await;
    must_send(&mut b, &["PUBLISH", "a", "hi"], b":2\r\n").await;
    let expected: &[u8] = b"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$2\r\nhi\r\n";
    assert_eq!(must_read(&mut a, expected.len()).await, expected);
    must_send(&mut b, &["PUBSUB", "NUMPAT"], b":1\r\n").await;
    must_send(
        &mut b,
        &["PUBSUB", "NUMSUB", "a", "zz"],
        b"*4\r\n$1\r\na\r\n:1\r\n$2\r\nzz\r\n:0\r\n",
    )
    .await;
    must_send(&mut b, &["PUBSUB", "CHANNELS", "b*"], b"*1\r\n$1\r\nb\r\n").await;
    must_send(
        &mut a,
        &["UNSUBSCRIBE", "b", "zz"],
        b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$2\r\nzz\r\n:2\r\n",
    )
    .await;
    must_send(&mut a, &["PUNSUBSCRIBE"], b"*3\r\n$12\r\npunsubscribe\r\n$2\r\na*\r\n:1\r\n").await;
    must_send(&mut a, &["UNSUBSCRIBE"], b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n").await;
    // Out of Pub/Sub mode, every command works again.
    must_send(&mut a, &["GET", "x"], b"$-1\r\n").await;
    must_send(&mut b, &["PUBLISH", "a", "hi"], b":0\r\n").await;
}

#[tokio::test]
async fn resp3_subscribers_get_push_messages_and_run_any_command() {
    let srv = start_server().await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    let hello = must_exchange(&mut a, &resp(&["HELLO", "3"]), 100).await;
    assert!(hello.starts_with(b"%7\r\n"));
    must_send(&mut a, &["SUBSCRIBE", "c"], b">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n").await;
    must_send(&mut a, &["GET", "x"], b"_\r\n").await;
    must_send(&mut b, &["PUBLISH", "c", "m"], b":1\r\n").await;
    let expected: &[u8] = b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n";
    assert_eq!(must_read(&mut a, expected.len()).await, expected);
    // Shard channels are separate, with their own count.
    must_send(&mut a, &["SSUBSCRIBE", "s"], b">3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n").await;
    must_send(&mut b, &["PUBLISH", "s", "m"], b":0\r\n").await;
    must_send(&mut b, &["SPUBLISH", "s", "m"], b":1\r\n").await;
    let expected: &[u8] = b">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nm\r\n";
    assert_eq!(must_read(&mut a, expected.len()).await, expected);
    must_send(&mut b, &["PUBSUB", "SHARDNUMSUB", "s"], b"*2\r\n$1\r\ns\r\n:1\r\n").await;
    must_send(&mut b, &["PUBSUB", "SHARDCHANNELS"], b"*1\r\n$1\r\ns\r\n").await;
    // RESET leaves every subscription.
    must_send(&mut a, &["RESET"], b"+RESET\r\n").await;
    must_send(&mut b, &["PUBLISH", "c", "m"], b":0\r\n").await;
    must_send(&mut b, &["SPUBLISH", "s", "m"], b":0\r\n").await;
}

#[tokio::test]
async fn keyspace_notifications() {
    let srv = start_server().await;
    let mut sub = srv.raw().await;
    let mut b = srv.raw().await;
    must_send(&mut b, &["CONFIG", "SET", "notify-keyspace-events", "KEA"], b"+OK\r\n").await;
    must_send(
        &mut sub,
        &["PSUBSCRIBE", "__key*__:*"],
        b"*3\r\n$10\r\npsubscribe\r\n$10\r\n__key*__:*\r\n:1\r\n",
    )
    .await;
    must_send(&mut b, &["SET", "foo", "bar", "EX", "100"], b"+OK\r\n").await;
    must_send(&mut b, &["DEL", "foo"], b":1\r\n").await;
    let event = |channel: &str, message: &str| {
        format!(
            "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n${}\r\n{channel}\r\n${}\r\n{message}\r\n",
            channel.len(),
            message.len()
        )
    };
    let expected = [
        event("__keyspace@0__:foo", "set"),
        event("__keyevent@0__:set", "foo"),
        event("__keyspace@0__:foo", "expire"),
        event("__keyevent@0__:expire", "foo"),
        event("__keyspace@0__:foo", "del"),
        event("__keyevent@0__:del", "foo"),
    ]
    .concat();
    let got = must_read(&mut sub, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&got), expected);
    // `n` announces new keys, before the command's own event.
    must_send(&mut b, &["CONFIG", "SET", "notify-keyspace-events", "En$"], b"+OK\r\n").await;
    must_send(&mut b, &["SET", "fresh", "1"], b"+OK\r\n").await;
    must_send(&mut b, &["SET", "fresh", "2"], b"+OK\r\n").await;
    let expected = [
        event("__keyevent@0__:new", "fresh"),
        event("__keyevent@0__:set", "fresh"),
        event("__keyevent@0__:set", "fresh"),
    ]
    .concat();
    let got = must_read(&mut sub, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&got), expected);
    // Expiry is reported as `expired`, and only the classes asked for are sent.
    must_send(&mut b, &["CONFIG", "SET", "notify-keyspace-events", "Ex"], b"+OK\r\n").await;
    must_send(&mut b, &["SET", "gone", "1", "PX", "1"], b"+OK\r\n").await;
    let expected = event("__keyevent@0__:expired", "gone");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < expected.len() {
        // Reading the key makes lazy expiry delete it; the active cycle may get there first.
        must_exchange(&mut b, &resp(&["GET", "gone"]), 5).await;
        got.extend(read_available(&mut sub).await);
        assert!(std::time::Instant::now() < deadline, "no expired event");
    }
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

/// Whatever arrives within 50 ms.
async fn read_available(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
        Ok(Ok(n)) => buf[..n].to_vec(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn a_subscriber_that_does_not_read_is_disconnected_at_its_limit() {
    let srv = start_server().await;
    let mut publisher = srv.raw().await;
    must_send(
        &mut publisher,
        &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 0 0"],
        b"+OK\r\n",
    )
    .await;
    let mut slow = srv.raw().await;
    must_send(&mut slow, &["SUBSCRIBE", "c"], b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n").await;
    // 100 KB messages into a subscriber that never reads: socket buffers fill, then the
    // outbox, then the server must cut it off instead of buffering without bound.
    let message = "x".repeat(100 * 1024);
    let mut receivers = 1;
    for _ in 0..2000 {
        let got = must_exchange(&mut publisher, &resp(&["PUBLISH", "c", &message]), 4).await;
        receivers = if got == b":1\r\n" { 1 } else { 0 };
        if receivers == 0 {
            break;
        }
    }
    assert_eq!(receivers, 0, "the slow subscriber was never disconnected");
    // It is really gone: its connection is closed after what was already sent.
    assert!(closed_by_peer(&mut slow).await);
    must_send(&mut publisher, &["PUBSUB", "NUMSUB", "c"], b"*2\r\n$1\r\nc\r\n:0\r\n").await;
}

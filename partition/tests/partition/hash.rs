//! Tests of the hash command family. Expected replies are what redis-server 7.0.15 sends for the
//! same commands (checked side by side while writing them).
use crate::string::{must_reply, must_reply_args, resp3};
use crate::util::*;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn encoding(server: &TestServer, key: &[u8]) -> &'static str {
    let state = server.server.lock();
    state.keyspace.peek(key, partition::time::unix_ms()).expect("key").value.encoding()
}

#[tokio::test]
async fn set_get_and_delete() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "HSET h a 1 b 2 c 3", ":3\r\n").await;
    must_reply(&mut s, "HSET h a", "-ERR wrong number of arguments for 'hset' command\r\n").await;
    must_reply(&mut s, "HSET h a 1 b", "-ERR wrong number of arguments for 'hset' command\r\n")
        .await;
    must_reply(&mut s, "HMSET h a", "-ERR wrong number of arguments for 'hmset' command\r\n").await;
    must_reply(&mut s, "HMSET h a 9", "+OK\r\n").await;
    must_reply(&mut s, "HSET h a 9 d 4", ":1\r\n").await;
    must_reply(&mut s, "HSETNX h a 5", ":0\r\n").await;
    must_reply(&mut s, "HSETNX h z 5", ":1\r\n").await;
    must_reply(&mut s, "HGET h a", "$1\r\n9\r\n").await;
    must_reply(&mut s, "HGET h nope", "$-1\r\n").await;
    must_reply(&mut s, "HGET nokey a", "$-1\r\n").await;
    must_reply(&mut s, "HMGET h a nope z", "*3\r\n$1\r\n9\r\n$-1\r\n$1\r\n5\r\n").await;
    must_reply(&mut s, "HMGET nokey a b", "*2\r\n$-1\r\n$-1\r\n").await;
    must_reply(&mut s, "HEXISTS h a", ":1\r\n").await;
    must_reply(&mut s, "HEXISTS h q", ":0\r\n").await;
    must_reply(&mut s, "HEXISTS nokey q", ":0\r\n").await;
    must_reply(&mut s, "HLEN h", ":5\r\n").await;
    must_reply(&mut s, "HLEN nokey", ":0\r\n").await;
    must_reply(&mut s, "HSTRLEN h b", ":1\r\n").await;
    must_reply(&mut s, "HSTRLEN h q", ":0\r\n").await;
    must_reply(&mut s, "HSTRLEN nokey q", ":0\r\n").await;
    must_reply(&mut s, "HKEYS h", "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nz\r\n")
        .await;
    must_reply(&mut s, "HVALS h", "*5\r\n$1\r\n9\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n")
        .await;
    must_reply(&mut s, "HKEYS nokey", "*0\r\n").await;
    must_reply(&mut s, "HGETALL nokey", "*0\r\n").await;
    must_reply(&mut s, "HDEL h nope", ":0\r\n").await;
    must_reply(&mut s, "HDEL nokey a", ":0\r\n").await;
    must_reply(&mut s, "HDEL h a b nope", ":2\r\n").await;
    must_reply(
        &mut s,
        "HGETALL h",
        "*6\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nz\r\n$1\r\n5\r\n",
    )
    .await;
    must_reply(&mut s, "HDEL h c d z", ":3\r\n").await;
    must_reply(&mut s, "EXISTS h", ":0\r\n").await;
    must_reply(&mut s, "HGET", "-ERR wrong number of arguments for 'hget' command\r\n").await;
    // Binary-safe fields and values.
    must_reply_args(&mut s, &[b"HSET", b"bin", b"f\r\n\0", b"v\0"], b":1\r\n").await;
    must_reply_args(&mut s, &[b"HGET", b"bin", b"f\r\n\0"], b"$2\r\nv\0\r\n").await;
}

#[tokio::test]
async fn wrong_type() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SET str x", "+OK\r\n").await;
    for c in [
        "HSET str a 1",
        "HSETNX str a 1",
        "HGET str a",
        "HMGET str a",
        "HDEL str a",
        "HEXISTS str a",
        "HLEN str",
        "HSTRLEN str a",
        "HKEYS str",
        "HVALS str",
        "HGETALL str",
        "HINCRBY str a 1",
        "HINCRBYFLOAT str a 1",
        "HRANDFIELD str",
        "HRANDFIELD str 3",
        "HSCAN str 0",
    ] {
        must_reply(&mut s, c, WRONGTYPE).await;
    }
    must_reply(&mut s, "HSET h a 1", ":1\r\n").await;
    must_reply(&mut s, "GET h", WRONGTYPE).await;
    must_reply(&mut s, "TYPE h", "+hash\r\n").await;
}

#[tokio::test]
async fn counters() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "HINCRBY h a 10", ":10\r\n").await;
    must_reply(&mut s, "HINCRBY h a -3", ":7\r\n").await;
    must_reply(&mut s, "HINCRBY h a x", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "HSET h s abc big 9223372036854775807", ":2\r\n").await;
    must_reply(&mut s, "HINCRBY h s 1", "-ERR hash value is not an integer\r\n").await;
    must_reply(&mut s, "HINCRBY h big 1", "-ERR increment or decrement would overflow\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h f 1.5", "$3\r\n1.5\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h f 0.1", "$3\r\n1.6\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h big 1", "$19\r\n9223372036854775808\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h s 1", "-ERR hash value is not a float\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h f inf", "-ERR value is NaN or Infinity\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h f x", "-ERR value is not a valid float\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h3 f 10.50", "$4\r\n10.5\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h3 f 5.0e3", "$6\r\n5010.5\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h3 f -5.0e3", "$4\r\n10.5\r\n").await;
    // Nothing was created by the failing calls.
    must_reply(&mut s, "HINCRBY h4 f x", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "EXISTS h4", ":0\r\n").await;
}

#[tokio::test]
async fn encoding_converts_at_the_thresholds() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    must_reply(&mut s, &format!("HSET h f {v64}"), ":1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING h", "$8\r\nlistpack\r\n").await;
    must_reply(&mut s, &format!("HSET h g {v65}"), ":1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING h", "$9\r\nhashtable\r\n").await;
    must_reply(&mut s, &format!("HSETNX h2 {v65} v"), ":1\r\n").await;
    assert_eq!(encoding(&server, b"h2"), "hashtable");
    must_reply(&mut s, &format!("HINCRBYFLOAT h3 {v65} 1"), "$1\r\n1\r\n").await;
    assert_eq!(encoding(&server, b"h3"), "hashtable");
    // Entries: 512 by default; CONFIG SET changes the limit for later writes.
    let mut args = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..512 {
        args.push(format!("f{i}"));
        args.push(i.to_string());
    }
    let args_ref: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    must_reply_args(&mut s, &args_ref, b":512\r\n").await;
    assert_eq!(encoding(&server, b"big"), "listpack");
    must_reply(&mut s, "HSET big one more", ":1\r\n").await;
    assert_eq!(encoding(&server, b"big"), "hashtable");
    // Never converts back.
    must_reply(&mut s, "HDEL big one", ":1\r\n").await;
    assert_eq!(encoding(&server, b"big"), "hashtable");
    must_reply(&mut s, "CONFIG SET hash-max-listpack-entries 2", "+OK\r\n").await;
    must_reply(&mut s, "HSET small a 1 b 2", ":2\r\n").await;
    assert_eq!(encoding(&server, b"small"), "listpack");
    must_reply(&mut s, "HSET small c 3", ":1\r\n").await;
    assert_eq!(encoding(&server, b"small"), "hashtable");
    must_reply(&mut s, "CONFIG SET hash-max-ziplist-value 3", "+OK\r\n").await;
    must_reply(&mut s, "HSET tiny a 1234", ":1\r\n").await;
    assert_eq!(encoding(&server, b"tiny"), "hashtable");
    must_reply(&mut s, "HGET tiny a", "$4\r\n1234\r\n").await;
}

#[tokio::test]
async fn randfield() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "HRANDFIELD nokey", "$-1\r\n").await;
    must_reply(&mut s, "HRANDFIELD nokey 3", "*0\r\n").await;
    must_reply(&mut s, "HSET h a 1 b 2", ":2\r\n").await;
    must_reply(&mut s, "HRANDFIELD h 5", "*2\r\n$1\r\na\r\n$1\r\nb\r\n").await;
    must_reply(
        &mut s,
        "HRANDFIELD h 5 WITHVALUES",
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    )
    .await;
    must_reply(&mut s, "HRANDFIELD h 0", "*0\r\n").await;
    must_reply(&mut s, "HRANDFIELD h 1 withvalues x", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "HRANDFIELD h 1 foo", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "HRANDFIELD h x", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(
        &mut s,
        "HRANDFIELD h -9223372036854775808",
        "-ERR value is out of range, value must between -9223372036854775807 and \
         9223372036854775807\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "HRANDFIELD nokey -9223372036854775807 WITHVALUES",
        "-ERR value is out of range\r\n",
    )
    .await;
    let mut con = server.client().await;
    let one: String = cmd(&mut con, &["HRANDFIELD", "h"]).await.unwrap();
    assert!(one == "a" || one == "b");
    let many: Vec<String> = cmd(&mut con, &["HRANDFIELD", "h", "-10"]).await.unwrap();
    assert_eq!(many.len(), 10);
    assert!(many.iter().all(|f| f == "a" || f == "b"));
    let pairs: Vec<String> = cmd(&mut con, &["HRANDFIELD", "h", "-3", "WITHVALUES"]).await.unwrap();
    assert_eq!(pairs.len(), 6);
    for p in pairs.chunks(2) {
        assert!(p == ["a", "1"] || p == ["b", "2"], "{p:?}");
    }
    // Distinct picks from larger hashes, in both encodings.
    for (key, n) in [("lp", 100), ("ht", 1000)] {
        let mut args = vec!["HSET".to_string(), key.to_string()];
        for i in 0..n {
            args.push(format!("f{i}"));
            args.push(format!("v{i}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _: i64 = cmd(&mut con, &args).await.unwrap();
        for count in ["5", "50", "90"] {
            let got: Vec<String> = cmd(&mut con, &["HRANDFIELD", key, count]).await.unwrap();
            let distinct: std::collections::HashSet<_> = got.iter().collect();
            assert_eq!(distinct.len(), count.parse::<usize>().unwrap());
        }
    }
    // RESP3: pairs.
    let mut s3 = resp3(&server).await;
    must_reply(
        &mut s3,
        "HRANDFIELD h 2 WITHVALUES",
        "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    )
    .await;
    must_reply(&mut s3, "HRANDFIELD nokey", "_\r\n").await;
    must_reply(&mut s3, "HGETALL h", "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n").await;
    must_reply(&mut s3, "HGETALL nokey", "%0\r\n").await;
}

#[tokio::test]
async fn scan() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "HSCAN nokey 0 foo", "*2\r\n$1\r\n0\r\n*0\r\n").await;
    must_reply(&mut s, "HSCAN nokey x", "-ERR invalid cursor\r\n").await;
    must_reply(&mut s, "HSET h f1 v1 f2 v2", ":2\r\n").await;
    must_reply(
        &mut s,
        "HSCAN h 0",
        "*2\r\n$1\r\n0\r\n*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n",
    )
    .await;
    must_reply(&mut s, "HSCAN h 0 MATCH *1", "*2\r\n$1\r\n0\r\n*2\r\n$2\r\nf1\r\n$2\r\nv1\r\n")
        .await;
    must_reply(&mut s, "HSCAN h 0 COUNT 0", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "HSCAN h 0 COUNT x", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "HSCAN h 0 TYPE hash", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "HSCAN h 0 MATCH", "-ERR syntax error\r\n").await;
    // A table is walked with the cursor; every field comes back.
    let mut con = server.client().await;
    for i in 0..1000 {
        let _: i64 = cmd(&mut con, &["HSET", "big", &format!("f{i}"), "v"]).await.unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) =
            cmd(&mut con, &["HSCAN", "big", &cursor, "COUNT", "20"]).await.unwrap();
        assert!(items.len() <= 200);
        for pair in items.chunks(2) {
            assert_eq!(pair[1], "v");
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

#[tokio::test]
async fn generic_commands_see_hashes() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "HSET h a 1", ":1\r\n").await;
    must_reply(&mut s, "SET str x", "+OK\r\n").await;
    must_reply(&mut s, "SCAN 0 TYPE hash", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nh\r\n").await;
    must_reply(&mut s, "COPY h h2", ":1\r\n").await;
    must_reply(&mut s, "HSET h a 2", ":0\r\n").await;
    must_reply(&mut s, "HGET h2 a", "$1\r\n1\r\n").await;
    must_reply(&mut s, "RENAME h2 h3", "+OK\r\n").await;
    must_reply(&mut s, "HGET h3 a", "$1\r\n1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING h3", "$8\r\nlistpack\r\n").await;
    let mut con = server.client().await;
    let usage: i64 = cmd(&mut con, &["MEMORY", "USAGE", "h3"]).await.unwrap();
    assert!(usage > 0 && usage < 200, "{usage}");
    must_reply(&mut s, "DEL h3 h", ":2\r\n").await;
}

#[tokio::test]
async fn events() {
    let server = start_server_with(&["--notify-keyspace-events", "KEA"]).await;
    let mut sub = server.raw().await;
    must_send(
        &mut sub,
        &["PSUBSCRIBE", "__keyevent@0__:*"],
        b"*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n",
    )
    .await;
    let mut s = server.raw().await;
    must_reply(&mut s, "HSET h a 1", ":1\r\n").await;
    must_reply(&mut s, "HINCRBY h a 1", ":2\r\n").await;
    must_reply(&mut s, "HINCRBYFLOAT h a 1", "$1\r\n3\r\n").await;
    must_reply(&mut s, "HSETNX h b 1", ":1\r\n").await;
    must_reply(&mut s, "HDEL h a b", ":2\r\n").await;
    let mut got = String::new();
    let want = ["hset", "hincrby", "hincrbyfloat", "hset", "hdel", "del"];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !got.contains("__keyevent@0__:del\r\n") && std::time::Instant::now() < deadline {
        got.push_str(&String::from_utf8_lossy(&must_read(&mut sub, 1).await));
    }
    let events: Vec<&str> = got
        .split("__keyevent@0__:")
        .skip(1)
        .filter_map(|p| p.split("\r\n").next())
        .filter(|e| *e != "*")
        .collect();
    assert_eq!(events, want);
}

//! Tests of the set command family. Expected replies are what redis-server 7.0.15 sends for the
//! same commands (checked side by side while writing them).
use std::collections::HashSet;

use crate::string::{must_reply, resp3};
use crate::util::*;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn encoding(server: &TestServer, key: &[u8]) -> &'static str {
    let state = server.server.lock();
    state.keyspace.peek(key, partition::time::unix_ms()).expect("key").value.encoding()
}

#[tokio::test]
async fn add_remove_and_membership() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SADD s 3 1 2", ":3\r\n").await;
    must_reply(&mut s, "SADD s 1", ":0\r\n").await;
    must_reply(&mut s, "SMEMBERS s", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "SMEMBERS nokey", "*0\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING s", "$6\r\nintset\r\n").await;
    must_reply(&mut s, "SISMEMBER s 1", ":1\r\n").await;
    must_reply(&mut s, "SISMEMBER s 9", ":0\r\n").await;
    must_reply(&mut s, "SISMEMBER nokey 1", ":0\r\n").await;
    must_reply(&mut s, "SMISMEMBER s 1 9 a", "*3\r\n:1\r\n:0\r\n:0\r\n").await;
    must_reply(&mut s, "SMISMEMBER nokey 1", "*1\r\n:0\r\n").await;
    must_reply(
        &mut s,
        "SMISMEMBER s",
        "-ERR wrong number of arguments for 'smismember' command\r\n",
    )
    .await;
    must_reply(&mut s, "SCARD s", ":3\r\n").await;
    must_reply(&mut s, "SCARD nokey", ":0\r\n").await;
    must_reply(&mut s, "SREM s 9", ":0\r\n").await;
    must_reply(&mut s, "SREM s 1 9", ":1\r\n").await;
    must_reply(&mut s, "SREM nokey 1", ":0\r\n").await;
    must_reply(&mut s, "SREM s 2 3", ":2\r\n").await;
    must_reply(&mut s, "EXISTS s", ":0\r\n").await;
    must_reply(&mut s, "SADD s", "-ERR wrong number of arguments for 'sadd' command\r\n").await;
    must_reply(&mut s, "SET str x", "+OK\r\n").await;
    for c in [
        "SADD str 1",
        "SREM str 1",
        "SCARD str",
        "SISMEMBER str 1",
        "SMISMEMBER str 1",
        "SMEMBERS str",
        "SRANDMEMBER str",
        "SRANDMEMBER str 1",
        "SPOP str",
        "SPOP str 1",
        "SMOVE str s m",
        "SINTER nokey str",
        "SUNION nokey str",
        "SDIFF nokey str",
        "SINTERCARD 2 s str",
        "SINTERSTORE d str",
        "SSCAN str 0",
    ] {
        must_reply(&mut s, c, WRONGTYPE).await;
    }
    must_reply(&mut s, "EXISTS d", ":0\r\n").await;
}

#[tokio::test]
async fn encoding_converts_at_the_thresholds() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let mut con = server.client().await;
    let members: Vec<String> = (0..512).map(|i| (i * 1000).to_string()).collect();
    let mut args = vec!["SADD", "s"];
    args.extend(members.iter().map(String::as_str));
    let added: i64 = cmd(&mut con, &args).await.unwrap();
    assert_eq!(added, 512);
    assert_eq!(encoding(&server, b"s"), "intset");
    must_reply(&mut s, "SADD s 1", ":1\r\n").await;
    assert_eq!(encoding(&server, b"s"), "hashtable");
    must_reply(&mut s, "SREM s 1", ":1\r\n").await;
    assert_eq!(encoding(&server, b"s"), "hashtable");
    // Not integers in canonical form: strings.
    must_reply(&mut s, "SADD a 1 2", ":2\r\n").await;
    must_reply(&mut s, "SADD a 01", ":1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING a", "$9\r\nhashtable\r\n").await;
    must_reply(&mut s, "SADD b x", ":1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING b", "$9\r\nhashtable\r\n").await;
    // Wide integers stay in the intset.
    must_reply(&mut s, "SADD w 1 -9223372036854775808 9223372036854775807", ":3\r\n").await;
    must_reply(
        &mut s,
        "SMEMBERS w",
        "*3\r\n$20\r\n-9223372036854775808\r\n$1\r\n1\r\n$19\r\n9223372036854775807\r\n",
    )
    .await;
    assert_eq!(encoding(&server, b"w"), "intset");
    must_reply(&mut s, "CONFIG SET set-max-intset-entries 2", "+OK\r\n").await;
    must_reply(&mut s, "SADD c 1 2", ":2\r\n").await;
    assert_eq!(encoding(&server, b"c"), "intset");
    must_reply(&mut s, "SADD c 3", ":1\r\n").await;
    assert_eq!(encoding(&server, b"c"), "hashtable");
    // STORE results are encoded as Redis builds them.
    must_reply(&mut s, "SUNIONSTORE d w", ":3\r\n").await;
    assert_eq!(encoding(&server, b"d"), "hashtable");
    must_reply(&mut s, "CONFIG SET set-max-intset-entries 512", "+OK\r\n").await;
    must_reply(&mut s, "SUNIONSTORE d c", ":3\r\n").await;
    assert_eq!(encoding(&server, b"d"), "intset");
}

#[tokio::test]
async fn algebra() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SADD s 3 1 2", ":3\r\n").await;
    must_reply(&mut s, "SADD t a b 1", ":3\r\n").await;
    must_reply(&mut s, "SINTER s t", "*1\r\n$1\r\n1\r\n").await;
    must_reply(&mut s, "SINTER s", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "SINTER nokey s", "*0\r\n").await;
    must_reply(&mut s, "SDIFF s t", "*2\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "SDIFF nokey s", "*0\r\n").await;
    must_reply(&mut s, "SUNION s nokey", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    let mut con = server.client().await;
    let mut union: Vec<String> = cmd(&mut con, &["SUNION", "s", "t"]).await.unwrap();
    union.sort();
    assert_eq!(union, ["1", "2", "3", "a", "b"]);
    must_reply(&mut s, "SINTERSTORE d s t", ":1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING d", "$6\r\nintset\r\n").await;
    must_reply(&mut s, "SUNIONSTORE d s nokey", ":3\r\n").await;
    must_reply(&mut s, "SDIFFSTORE d t s", ":2\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING d", "$9\r\nhashtable\r\n").await;
    must_reply(&mut s, "EXPIRE d 100", ":1\r\n").await;
    must_reply(&mut s, "SUNIONSTORE d s", ":3\r\n").await;
    must_reply(&mut s, "TTL d", ":-1\r\n").await;
    must_reply(&mut s, "SINTERSTORE d s nokey", ":0\r\n").await;
    must_reply(&mut s, "EXISTS d", ":0\r\n").await;
    must_reply(&mut s, "SET str x", "+OK\r\n").await;
    must_reply(&mut s, "SDIFFSTORE str s s", ":0\r\n").await;
    must_reply(&mut s, "EXISTS str", ":0\r\n").await;
    must_reply(&mut s, "SINTERCARD 2 s t", ":1\r\n").await;
    must_reply(&mut s, "SINTERCARD 1 s LIMIT 2", ":2\r\n").await;
    must_reply(&mut s, "SINTERCARD 1 s LIMIT 0", ":3\r\n").await;
    must_reply(&mut s, "SINTERCARD 2 s nokey", ":0\r\n").await;
    must_reply(&mut s, "SINTERCARD 0 a", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(&mut s, "SINTERCARD x a", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(
        &mut s,
        "SINTERCARD 2 a",
        "-ERR Number of keys can't be greater than number of args\r\n",
    )
    .await;
    must_reply(&mut s, "SINTERCARD 1 a LIMIT -1", "-ERR LIMIT can't be negative\r\n").await;
    must_reply(&mut s, "SINTERCARD 1 a LIMIT x", "-ERR LIMIT can't be negative\r\n").await;
    must_reply(&mut s, "SINTERCARD 1 a foo", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SINTERCARD 1 a LIMIT", "-ERR syntax error\r\n").await;
    let mut s3 = resp3(&server).await;
    must_reply(&mut s3, "SMEMBERS s", "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s3, "SMEMBERS nokey", "~0\r\n").await;
    must_reply(&mut s3, "SINTER nokey s", "~0\r\n").await;
    must_reply(&mut s3, "SDIFF s t", "~2\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
}

#[tokio::test]
async fn random_members_and_pop() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SRANDMEMBER nokey", "$-1\r\n").await;
    must_reply(&mut s, "SRANDMEMBER nokey 5", "*0\r\n").await;
    must_reply(&mut s, "SADD s 1 2 3", ":3\r\n").await;
    must_reply(&mut s, "SRANDMEMBER s 5", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "SRANDMEMBER s 0", "*0\r\n").await;
    must_reply(&mut s, "SRANDMEMBER s 1 2", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SRANDMEMBER s x y", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SRANDMEMBER s x", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(
        &mut s,
        "SRANDMEMBER s -9223372036854775808",
        "-ERR value is out of range, value must between -9223372036854775807 and \
         9223372036854775807\r\n",
    )
    .await;
    must_reply(&mut s, "SPOP nokey", "$-1\r\n").await;
    must_reply(&mut s, "SPOP nokey 3", "*0\r\n").await;
    must_reply(&mut s, "SPOP s 0", "*0\r\n").await;
    must_reply(&mut s, "SPOP s -1", "-ERR value is out of range, must be positive\r\n").await;
    must_reply(&mut s, "SPOP s x", "-ERR value is out of range, must be positive\r\n").await;
    must_reply(&mut s, "SPOP s 1 2", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SPOP s 5", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "EXISTS s", ":0\r\n").await;
    let mut con = server.client().await;
    for (key, prefix) in [("ints", ""), ("strs", "m")] {
        let members: Vec<String> = (0..100).map(|i| format!("{prefix}{i}")).collect();
        let mut args = vec!["SADD", key];
        args.extend(members.iter().map(String::as_str));
        let _: i64 = cmd(&mut con, &args).await.unwrap();
        let all: HashSet<String> = members.iter().cloned().collect();
        for count in ["5", "50", "99"] {
            let got: Vec<String> = cmd(&mut con, &["SRANDMEMBER", key, count]).await.unwrap();
            let distinct: HashSet<String> = got.iter().cloned().collect();
            assert_eq!(distinct.len(), count.parse::<usize>().unwrap());
            assert!(distinct.is_subset(&all));
        }
        let got: Vec<String> = cmd(&mut con, &["SRANDMEMBER", key, "-300"]).await.unwrap();
        assert_eq!(got.len(), 300);
        assert!(got.iter().all(|m| all.contains(m)));
        // SPOP's three cases: few popped, most popped, all popped.
        let mut popped: HashSet<String> = HashSet::new();
        let one: String = cmd(&mut con, &["SPOP", key]).await.unwrap();
        popped.insert(one);
        for count in ["10", "85"] {
            let got: Vec<String> = cmd(&mut con, &["SPOP", key, count]).await.unwrap();
            assert_eq!(got.len(), count.parse::<usize>().unwrap());
            for m in got {
                assert!(popped.insert(m));
            }
        }
        let card: i64 = cmd(&mut con, &["SCARD", key]).await.unwrap();
        assert_eq!(card, 4);
        let rest: Vec<String> = cmd(&mut con, &["SPOP", key, "1000"]).await.unwrap();
        popped.extend(rest);
        assert_eq!(popped, all);
        let exists: i64 = cmd(&mut con, &["EXISTS", key]).await.unwrap();
        assert_eq!(exists, 0);
    }
    let mut s3 = resp3(&server).await;
    must_reply(&mut s3, "SADD r 1 2", ":2\r\n").await;
    must_reply(&mut s3, "SRANDMEMBER r 5", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n").await;
    must_reply(&mut s3, "SPOP nokey 2", "~0\r\n").await;
    must_reply(&mut s3, "SPOP nokey", "_\r\n").await;
    must_reply(&mut s3, "SPOP r 5", "~2\r\n$1\r\n1\r\n$1\r\n2\r\n").await;
}

#[tokio::test]
async fn smove() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SET str x", "+OK\r\n").await;
    must_reply(&mut s, "SADD s 1 2", ":2\r\n").await;
    must_reply(&mut s, "SMOVE nokey str m", ":0\r\n").await;
    must_reply(&mut s, "SMOVE s str 2", WRONGTYPE).await;
    must_reply(&mut s, "SMOVE s s 2", ":1\r\n").await;
    must_reply(&mut s, "SMOVE s s 99", ":0\r\n").await;
    must_reply(&mut s, "SMOVE s d 99", ":0\r\n").await;
    must_reply(&mut s, "SMOVE s d 2", ":1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING d", "$6\r\nintset\r\n").await;
    must_reply(&mut s, "SMOVE s d 1", ":1\r\n").await;
    must_reply(&mut s, "EXISTS s", ":0\r\n").await;
    must_reply(&mut s, "SMEMBERS d", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "SADD t a", ":1\r\n").await;
    must_reply(&mut s, "SMOVE t d a", ":1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING d", "$9\r\nhashtable\r\n").await;
}

#[tokio::test]
async fn scan() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SSCAN nokey 0", "*2\r\n$1\r\n0\r\n*0\r\n").await;
    must_reply(&mut s, "SADD s 3 1 2", ":3\r\n").await;
    must_reply(&mut s, "SSCAN s 0", "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n")
        .await;
    must_reply(&mut s, "SSCAN s 0 MATCH 2", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "SSCAN s 0 COUNT 0", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SSCAN s 0 TYPE set", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SSCAN s x", "-ERR invalid cursor\r\n").await;
    let mut con = server.client().await;
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let mut args = vec!["SADD", "big"];
    args.extend(members.iter().map(String::as_str));
    let _: i64 = cmd(&mut con, &args).await.unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) =
            cmd(&mut con, &["SSCAN", "big", &cursor, "COUNT", "20"]).await.unwrap();
        seen.extend(items);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
}

#[tokio::test]
async fn generic_commands_see_sets() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SADD s 1", ":1\r\n").await;
    must_reply(&mut s, "HSET h a 1", ":1\r\n").await;
    must_reply(&mut s, "SCAN 0 TYPE set", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\ns\r\n").await;
    must_reply(&mut s, "TYPE s", "+set\r\n").await;
    must_reply(&mut s, "COPY s s2", ":1\r\n").await;
    must_reply(&mut s, "SADD s 2", ":1\r\n").await;
    must_reply(&mut s, "SCARD s2", ":1\r\n").await;
    must_reply(&mut s, "RENAME s2 s3", "+OK\r\n").await;
    must_reply(&mut s, "SMEMBERS s3", "*1\r\n$1\r\n1\r\n").await;
    let mut con = server.client().await;
    let usage: i64 = cmd(&mut con, &["MEMORY", "USAGE", "s3"]).await.unwrap();
    assert!(usage > 0 && usage < 200, "{usage}");
    must_reply(&mut s, "DEL s s3", ":2\r\n").await;
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
    for (c, r) in [
        ("SADD s 1 2 3", ":3\r\n"),
        ("SPOP s 3", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("SADD a 1", ":1\r\n"),
        ("SADD b 2", ":1\r\n"),
        ("SINTERSTORE d a b", ":0\r\n"),
        ("SUNIONSTORE d a b", ":2\r\n"),
        ("SINTERSTORE d a b", ":0\r\n"),
        ("SMOVE a b 1", ":1\r\n"),
        ("SREM b 1 2", ":2\r\n"),
        ("SADD zz 1", ":1\r\n"),
    ] {
        must_reply(&mut s, c, r).await;
    }
    let mut got = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !got.contains("\r\nzz\r\n") && std::time::Instant::now() < deadline {
        got.push_str(&String::from_utf8_lossy(&must_read(&mut sub, 1).await));
    }
    let events: Vec<&str> = got
        .split("__keyevent@0__:")
        .skip(1)
        .filter_map(|p| p.split("\r\n").next())
        .filter(|e| *e != "*")
        .collect();
    assert_eq!(
        events,
        [
            "sadd",
            "spop",
            "del",
            "sadd",
            "sadd",
            "sunionstore",
            "del",
            "srem",
            "del",
            "sadd",
            "srem",
            "del",
            "sadd"
        ]
    );
}

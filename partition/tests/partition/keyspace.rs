//! Keyspace, expiry and CLUSTER slot commands: replies (RESP2 and RESP3, byte for byte where
//! Redis's exact text matters), lazy and active expiry, SCAN's guarantee under concurrent
//! writes, FLUSHALL ASYNC.
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;

use crate::util::*;

/// Encodes a command as a RESP array of bulk strings.
/// Sends one command on a raw connection and asserts the exact reply bytes.
///
/// The future is boxed: `must_read` keeps a 64 KiB buffer across an await, and a test with
/// dozens of unboxed calls overflows the test thread's stack in debug builds.
fn must_reply<'a>(
    stream: &'a mut TcpStream,
    args: &'a [&'a str],
    expected: &'a str,
) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(async move {
        let got = must_exchange(stream, &resp(args), expected.len()).await;
        assert_eq!(String::from_utf8_lossy(&got), expected, "reply to {args:?}");
    })
}

/// Sends `bytes` and returns at least `expected` bytes of reply (boxed, see [`must_reply`]).
fn must_exchange_boxed<'a>(
    stream: &'a mut TcpStream,
    bytes: Vec<u8>,
    expected: usize,
) -> Pin<Box<dyn Future<Output = Vec<u8>> + 'a>> {
    Box::pin(async move { must_exchange(stream, &bytes, expected).await })
}

/// Sends `bytes` and reads until the received bytes end with `suffix` (5 s at most).
fn must_exchange_until<'a>(
    stream: &'a mut TcpStream,
    bytes: Vec<u8>,
    suffix: &'a [u8],
) -> Pin<Box<dyn Future<Output = Vec<u8>> + 'a>> {
    Box::pin(async move {
        let mut got = must_exchange(stream, &bytes, 1).await;
        while !got.ends_with(suffix) {
            let more = must_read(stream, 1).await;
            assert!(!more.is_empty(), "no reply ending in {:?}", String::from_utf8_lossy(suffix));
            got.extend_from_slice(&more);
        }
        got
    })
}

/// The reply of one single-line command (integer, status or error) on a raw connection.
fn line_of<'a>(
    stream: &'a mut TcpStream,
    args: &'a [&'a str],
) -> Pin<Box<dyn Future<Output = String> + 'a>> {
    Box::pin(async move {
        let got = must_exchange(stream, &resp(args), 3).await;
        let mut text = String::from_utf8_lossy(&got).into_owned();
        while !text.ends_with("\r\n") {
            text.push_str(&String::from_utf8_lossy(&must_read(stream, 1).await));
        }
        text
    })
}

/// A full SCAN with the given options, as a set of keys.
async fn must_scan_all(
    con: &mut redis::aio::MultiplexedConnection,
    opts: &[&str],
) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..1_000_000 {
        let mut args = vec!["SCAN", &cursor];
        args.extend_from_slice(opts);
        let (next, keys): (String, Vec<String>) = cmd(con, &args).await.expect("scan");
        seen.extend(keys);
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
    panic!("SCAN did not finish");
}

#[tokio::test]
async fn del_unlink_exists_type() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["MSET", "a", "1", "b", "x", "c", "y"], "+OK\r\n").await;
    must_reply(&mut s, &["EXISTS", "a", "a", "b", "nope"], ":3\r\n").await;
    must_reply(&mut s, &["TYPE", "a"], "+string\r\n").await;
    must_reply(&mut s, &["TYPE", "nope"], "+none\r\n").await;
    must_reply(&mut s, &["DEL", "a", "a", "nope"], ":1\r\n").await;
    must_reply(&mut s, &["UNLINK", "b", "c", "b"], ":2\r\n").await;
    must_reply(&mut s, &["EXISTS", "a", "b", "c"], ":0\r\n").await;
    must_reply(&mut s, &["DBSIZE"], ":0\r\n").await;
    must_reply(&mut s, &["DEL"], "-ERR wrong number of arguments for 'del' command\r\n").await;
    must_reply(&mut s, &["EXISTS"], "-ERR wrong number of arguments for 'exists' command\r\n")
        .await;
    must_reply(
        &mut s,
        &["TYPE", "a", "b"],
        "-ERR wrong number of arguments for 'type' command\r\n",
    )
    .await;
    // UNLINK of a big value frees it on the lazy-free thread; the key is gone at once.
    let big = "x".repeat(200_000);
    must_reply(&mut s, &["SET", "big", &big], "+OK\r\n").await;
    must_reply(&mut s, &["UNLINK", "big"], ":1\r\n").await;
    must_reply(&mut s, &["EXISTS", "big"], ":0\r\n").await;
}

#[tokio::test]
async fn reads_count_hits_and_misses_like_redis() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["SET", "k", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["EXISTS", "k", "x", "y"], ":1\r\n").await;
    must_reply(&mut s, &["TYPE", "x"], "+none\r\n").await;
    must_reply(&mut s, &["TTL", "x"], ":-2\r\n").await;
    must_reply(&mut s, &["OBJECT", "ENCODING", "x"], "$-1\r\n").await;
    must_reply(&mut s, &["TOUCH", "k"], ":1\r\n").await;
    // Write lookups (DEL, RENAME, EXPIRE) are not counted.
    must_reply(&mut s, &["RENAME", "k", "k2"], "+OK\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k2", "100"], ":1\r\n").await;
    let stats = ts.server.lock().stats.clone();
    assert_eq!((stats.keyspace_hits, stats.keyspace_misses), (2, 5));
}

#[tokio::test]
async fn rename_moves_value_and_ttl() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["RENAME", "nope", "x"], "-ERR no such key\r\n").await;
    must_reply(&mut s, &["RENAMENX", "nope", "x"], "-ERR no such key\r\n").await;
    must_reply(&mut s, &["SET", "a", "1"], "+OK\r\n").await;
    must_reply(&mut s, &["RENAME", "a", "a"], "+OK\r\n").await;
    must_reply(&mut s, &["RENAMENX", "a", "a"], ":0\r\n").await;
    must_reply(&mut s, &["PEXPIRE", "a", "100000"], ":1\r\n").await;
    must_reply(&mut s, &["RENAME", "a", "b"], "+OK\r\n").await;
    must_reply(&mut s, &["EXISTS", "a"], ":0\r\n").await;
    must_reply(&mut s, &["TTL", "b"], ":100\r\n").await;
    must_reply(&mut s, &["SET", "c", "3"], "+OK\r\n").await;
    must_reply(&mut s, &["RENAMENX", "b", "c"], ":0\r\n").await;
    must_reply(&mut s, &["RENAMENX", "b", "d"], ":1\r\n").await;
    must_reply(&mut s, &["TTL", "d"], ":100\r\n").await;
    // RENAME over a key with a TTL: the destination gets the source's (absent) TTL.
    must_reply(&mut s, &["RENAME", "c", "d"], "+OK\r\n").await;
    must_reply(&mut s, &["TTL", "d"], ":-1\r\n").await;
    must_reply(&mut s, &["GET", "d"], "$1\r\n3\r\n").await;
    must_reply(&mut s, &["DBSIZE"], ":1\r\n").await;
}

#[tokio::test]
async fn keys_matches_globs_and_skips_expired_keys() {
    let ts = start_server().await;
    let mut con = ts.client().await;
    for k in ["hello", "hallo", "hxllo", "hllo", "heeeello", "{t}:1", "{t}:2", "a*b"] {
        let _: () = cmd(&mut con, &["SET", k, "v"]).await.unwrap();
    }
    let keys = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let got: Vec<String> = cmd(&mut con, &["KEYS", "h?llo"]).await.unwrap();
    assert_eq!(keys(got), ["hallo", "hello", "hxllo"]);
    let got: Vec<String> = cmd(&mut con, &["KEYS", "h*llo"]).await.unwrap();
    assert_eq!(keys(got).len(), 5);
    let got: Vec<String> = cmd(&mut con, &["KEYS", "h[^e]llo"]).await.unwrap();
    assert_eq!(keys(got), ["hallo", "hxllo"]);
    let got: Vec<String> = cmd(&mut con, &["KEYS", "h[a-e]llo"]).await.unwrap();
    assert_eq!(keys(got), ["hallo", "hello"]);
    let got: Vec<String> = cmd(&mut con, &["KEYS", "a\\*b"]).await.unwrap();
    assert_eq!(got, ["a*b"]);
    // A hash-tag pattern walks only its slot, with the same answer.
    let got: Vec<String> = cmd(&mut con, &["KEYS", "{t}:*"]).await.unwrap();
    assert_eq!(keys(got), ["{t}:1", "{t}:2"]);
    let got: Vec<String> = cmd(&mut con, &["KEYS", "*"]).await.unwrap();
    assert_eq!(got.len(), 8);
    // Expired keys are not listed even before anything deletes them.
    ts.server.update_config(|c| c.active_expire = false);
    let _: () = cmd(&mut con, &["SET", "gone", "v", "PX", "1"]).await.unwrap();
    let deadline = partition::time::unix_ms() + 5;
    must_wait_for(Duration::from_secs(5), || partition::time::unix_ms() > deadline, "deadline")
        .await;
    let got: Vec<String> = cmd(&mut con, &["KEYS", "g*"]).await.unwrap();
    assert!(got.is_empty());
    let size: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    assert_eq!(size, 9, "DBSIZE counts keys not yet deleted, like Redis");
}

#[tokio::test]
async fn scan_options_and_errors() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["SCAN", "0"], "*2\r\n$1\r\n0\r\n*0\r\n").await;
    for bad in ["x", " 0", "+", "0x1", "18446744073709551616"] {
        must_reply(&mut s, &["SCAN", bad], "-ERR invalid cursor\r\n").await;
    }
    must_reply(&mut s, &["SCAN", "0", "COUNT", "0"], "-ERR syntax error\r\n").await;
    must_reply(&mut s, &["SCAN", "0", "COUNT", "-1"], "-ERR syntax error\r\n").await;
    must_reply(
        &mut s,
        &["SCAN", "0", "COUNT", "x"],
        "-ERR value is not an integer or out of range\r\n",
    )
    .await;
    must_reply(&mut s, &["SCAN", "0", "MATCH"], "-ERR syntax error\r\n").await;
    must_reply(&mut s, &["SCAN", "0", "FOO", "bar"], "-ERR syntax error\r\n").await;
    must_reply(&mut s, &["SET", "k", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["SCAN", "0", "TYPE", "STRING"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n")
        .await;
    must_reply(&mut s, &["SCAN", "0", "TYPE", "hash"], "*2\r\n$1\r\n0\r\n*0\r\n").await;
    // Redis accepts an empty or negative cursor (strtoul): "" is 0.
    must_reply(&mut s, &["SCAN", "", "MATCH", "k"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n").await;

    let mut con = ts.client().await;
    for i in 0..500 {
        let _: () = cmd(&mut con, &["SET", &format!("key:{i}"), "v"]).await.unwrap();
    }
    for i in 0..30 {
        let _: () = cmd(&mut con, &["SET", &format!("{{tag}}:{i}"), "v"]).await.unwrap();
    }
    assert_eq!(must_scan_all(&mut con, &[]).await.len(), 531);
    assert_eq!(must_scan_all(&mut con, &["COUNT", "3"]).await.len(), 531);
    assert_eq!(must_scan_all(&mut con, &["MATCH", "key:1*"]).await.len(), 111);
    let tagged = must_scan_all(&mut con, &["MATCH", "{tag}:*", "COUNT", "5"]).await;
    assert_eq!(tagged.len(), 30);
    assert_eq!(must_scan_all(&mut con, &["MATCH", "{tag}:7"]).await.len(), 1);
    // A large COUNT finishes in one call.
    let (next, keys): (String, Vec<String>) =
        cmd(&mut con, &["SCAN", "0", "COUNT", "10000"]).await.unwrap();
    assert_eq!((next.as_str(), keys.len()), ("0", 531));
}

/// SCAN's guarantee: every key present for the whole scan is returned, however the table
/// grows and shrinks meanwhile. Another client inserts and deletes while we scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_returns_every_stable_key_under_concurrent_writes() {
    let ts = start_server().await;
    let mut con = ts.client().await;
    // Half the stable keys share one hot slot whose table the writer grows and shrinks by
    // thousands of keys (several resizes each way); the rest are spread over all slots.
    let stable: Vec<String> = (0..1000)
        .map(|i| format!("{{hot}}:stable:{i}"))
        .chain((0..1000).map(|i| format!("stable:{i}")))
        .collect();
    let mut mset = vec!["MSET"];
    for k in &stable {
        mset.push(k);
        mset.push("v");
    }
    let _: () = cmd(&mut con, &mset).await.unwrap();
    for seed in 0..6u64 {
        let stop = Arc::new(AtomicBool::new(false));
        let mut writer = ts.client().await;
        let stop_writer = stop.clone();
        let churn = tokio::spawn(async move {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let mut round = 0u64;
            let mut previous: Vec<String> = Vec::new();
            while !stop_writer.load(Ordering::Relaxed) {
                // Add a burst, then delete the previous one: the per-slot tables keep growing
                // and shrinking while the total stays bounded.
                let n = rng.random_range(100..6000);
                let burst: Vec<String> =
                    (0..n).map(|j| format!("{{hot}}:tmp:{seed}:{round}:{j}")).collect();
                let mut args = vec!["MSET"];
                for k in &burst {
                    args.push(k);
                    args.push("v");
                }
                let _: () = cmd(&mut writer, &args).await.unwrap();
                if !previous.is_empty() {
                    let mut del = vec!["DEL"];
                    del.extend(previous.iter().map(String::as_str));
                    let deleted: i64 = cmd(&mut writer, &del).await.unwrap();
                    assert_eq!(deleted as usize, previous.len());
                }
                previous = burst;
                round += 1;
            }
            round
        });
        let count = [1, 2, 5, 10, 37, 100][seed as usize].to_string();
        let seen = must_scan_all(&mut con, &["COUNT", &count]).await;
        stop.store(true, Ordering::Relaxed);
        let rounds = churn.await.unwrap();
        assert!(rounds > 0, "the writer ran during the scan");
        for k in &stable {
            assert!(seen.contains(k), "seed {seed}: SCAN missed {k}");
        }
        let _: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    }
}

#[tokio::test]
async fn randomkey_dbsize_flush() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["RANDOMKEY"], "$-1\r\n").await;
    must_reply(&mut s, &["SET", "only", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["RANDOMKEY"], "$4\r\nonly\r\n").await;
    must_reply(&mut s, &["DBSIZE"], ":1\r\n").await;
    must_reply(&mut s, &["FLUSHDB", "x"], "-ERR syntax error\r\n").await;
    must_reply(&mut s, &["FLUSHALL", "sync", "async"], "-ERR syntax error\r\n").await;
    must_reply(&mut s, &["FLUSHDB", "SYNC"], "+OK\r\n").await;
    must_reply(&mut s, &["DBSIZE"], ":0\r\n").await;
    must_reply(&mut s, &["MSET", "a", "1", "b", "2"], "+OK\r\n").await;
    must_reply(&mut s, &["FLUSHALL"], "+OK\r\n").await;
    must_reply(&mut s, &["DBSIZE"], ":0\r\n").await;
    // RANDOMKEY never returns an expired key: it deletes it and picks again.
    ts.server.update_config(|c| c.active_expire = false);
    must_reply(&mut s, &["SET", "gone", "v", "PX", "1"], "+OK\r\n").await;
    must_reply(&mut s, &["SET", "live", "v"], "+OK\r\n").await;
    let deadline = partition::time::unix_ms() + 5;
    must_wait_for(Duration::from_secs(5), || partition::time::unix_ms() > deadline, "deadline")
        .await;
    for _ in 0..20 {
        must_reply(&mut s, &["RANDOMKEY"], "$4\r\nlive\r\n").await;
    }
}

#[tokio::test]
async fn flushall_async_empties_at_once_and_frees_in_the_background() {
    let ts = start_server().await;
    let mut con = ts.client().await;
    for chunk in 0..20 {
        let mut args = vec!["MSET".to_string()];
        for i in 0..5000 {
            args.push(format!("k:{chunk}:{i}"));
            args.push("value".into());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let _: () = cmd(&mut con, &refs).await.unwrap();
    }
    let size: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    assert_eq!(size, 100_000);
    let ok: String = cmd(&mut con, &["FLUSHALL", "ASYNC"]).await.unwrap();
    assert_eq!(ok, "OK");
    let size: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    assert_eq!(size, 0);
    // The server keeps working on a fresh keyspace meanwhile.
    let _: () = cmd(&mut con, &["SET", "k:0:0", "new"]).await.unwrap();
    let v: String = cmd(&mut con, &["GET", "k:0:0"]).await.unwrap();
    assert_eq!(v, "new");
    let ok: String = cmd(&mut con, &["FLUSHDB", "ASYNC"]).await.unwrap();
    assert_eq!(ok, "OK");
    let size: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    assert_eq!(size, 0);
    // With lazyfree-lazy-user-flush, a plain FLUSHALL is asynchronous too.
    ts.server.update_config(|c| {
        c.other.insert("lazyfree-lazy-user-flush".into(), "yes".into());
    });
    let _: () = cmd(&mut con, &["SET", "x", "1"]).await.unwrap();
    let ok: String = cmd(&mut con, &["FLUSHALL"]).await.unwrap();
    assert_eq!(ok, "OK");
    assert!(ts.server.lock().keyspace.is_empty());
}

#[tokio::test]
async fn touch_and_object() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["SET", "s", "str"], "+OK\r\n").await;
    must_reply(&mut s, &["SET", "n", "100"], "+OK\r\n").await;
    must_reply(&mut s, &["SET", "big", "12345"], "+OK\r\n").await;
    must_reply(&mut s, &["SET", "long", &"x".repeat(45)], "+OK\r\n").await;
    must_reply(&mut s, &["OBJECT", "ENCODING", "s"], "$6\r\nembstr\r\n").await;
    must_reply(&mut s, &["OBJECT", "ENCODING", "n"], "$3\r\nint\r\n").await;
    must_reply(&mut s, &["OBJECT", "ENCODING", "long"], "$3\r\nraw\r\n").await;
    must_reply(&mut s, &["OBJECT", "ENCODING", "nope"], "$-1\r\n").await;
    must_reply(&mut s, &["OBJECT", "REFCOUNT", "n"], ":2147483647\r\n").await;
    must_reply(&mut s, &["OBJECT", "REFCOUNT", "big"], ":1\r\n").await;
    must_reply(&mut s, &["OBJECT", "REFCOUNT", "s"], ":1\r\n").await;
    must_reply(
        &mut s,
        &["OBJECT", "FREQ", "s"],
        "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note \
         that when switching between policies at runtime LRU and LFU data will take some time \
         to adjust.\r\n",
    )
    .await;
    must_reply(
        &mut s,
        &["OBJECT", "FOO", "s"],
        "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n",
    )
    .await;
    must_reply(
        &mut s,
        &["OBJECT", "ENCODING"],
        "-ERR wrong number of arguments for 'object|encoding' command\r\n",
    )
    .await;
    must_reply(&mut s, &["OBJECT"], "-ERR wrong number of arguments for 'object' command\r\n")
        .await;
    let help =
        must_exchange_until(&mut s, resp(&["OBJECT", "HELP"]), b"Prints this help.\r\n").await;
    let help = String::from_utf8_lossy(&help);
    assert!(help.starts_with("*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]."));
    assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));

    // IDLETIME comes from the access clock; TOUCH resets it, EXISTS/TYPE/OBJECT do not.
    let now = partition::time::unix_ms();
    ts.server.lock().keyspace.get(b"s", now).unwrap().lru =
        partition::time::lru_clock(now - 30_000);
    must_reply(&mut s, &["EXISTS", "s"], ":1\r\n").await;
    must_reply(&mut s, &["TYPE", "s"], "+string\r\n").await;
    let idle = line_of(&mut s, &["OBJECT", "IDLETIME", "s"]).await;
    assert!(idle == ":30\r\n" || idle == ":31\r\n", "{idle}");
    must_reply(&mut s, &["TOUCH", "s", "nope", "s"], ":2\r\n").await;
    must_reply(&mut s, &["OBJECT", "IDLETIME", "s"], ":0\r\n").await;

    // Under an LFU policy FREQ works and IDLETIME is refused.
    ts.server.update_config(|c| {
        c.other.insert("maxmemory-policy".into(), "allkeys-lfu".into());
    });
    must_reply(&mut s, &["SET", "f", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["OBJECT", "FREQ", "f"], ":5\r\n").await;
    must_reply(&mut s, &["TOUCH", "f"], ":1\r\n").await;
    must_reply(&mut s, &["OBJECT", "FREQ", "f"], ":6\r\n").await;
    must_reply(&mut s, &["OBJECT", "FREQ", "nope"], "$-1\r\n").await;
    must_reply(
        &mut s,
        &["OBJECT", "IDLETIME", "f"],
        "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when \
         switching between policies at runtime LRU and LFU data will take some time to \
         adjust.\r\n",
    )
    .await;
    // With a memory limit and an LFU policy, integers are no longer shared.
    ts.server.update_config(|c| {
        c.other.insert("maxmemory".into(), "100mb".into());
    });
    must_reply(&mut s, &["OBJECT", "REFCOUNT", "n"], ":1\r\n").await;
}

#[tokio::test]
async fn copy() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["SET", "a", "1"], "+OK\r\n").await;
    must_reply(&mut s, &["PEXPIRE", "a", "100000"], ":1\r\n").await;
    must_reply(&mut s, &["COPY", "a", "a"], "-ERR source and destination objects are the same\r\n")
        .await;
    must_reply(&mut s, &["COPY", "nope", "b"], ":0\r\n").await;
    must_reply(&mut s, &["COPY", "a", "b"], ":1\r\n").await;
    must_reply(&mut s, &["TTL", "b"], ":100\r\n").await;
    must_reply(&mut s, &["SET", "c", "x"], "+OK\r\n").await;
    must_reply(&mut s, &["COPY", "a", "c"], ":0\r\n").await;
    must_reply(&mut s, &["GET", "c"], "$1\r\nx\r\n").await;
    must_reply(&mut s, &["COPY", "a", "c", "REPLACE"], ":1\r\n").await;
    must_reply(&mut s, &["GET", "c"], "$1\r\n1\r\n").await;
    must_reply(&mut s, &["COPY", "a", "d", "DB", "0"], ":1\r\n").await;
    must_reply(&mut s, &["COPY", "a", "e", "DB", "1"], "-ERR DB index is out of range\r\n").await;
    must_reply(
        &mut s,
        &["COPY", "a", "e", "DB", "x"],
        "-ERR value is not an integer or out of range\r\n",
    )
    .await;
    must_reply(
        &mut s,
        &["COPY", "a", "e", "DB", "99999999999"],
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    )
    .await;
    must_reply(&mut s, &["COPY", "a", "e", "DB"], "-ERR syntax error\r\n").await;
    must_reply(&mut s, &["COPY", "a", "e", "FOO"], "-ERR syntax error\r\n").await;
    must_reply(&mut s, &["COPY", "a"], "-ERR wrong number of arguments for 'copy' command\r\n")
        .await;
    // The copy is independent of the original.
    must_reply(&mut s, &["INCR", "a"], ":2\r\n").await;
    must_reply(&mut s, &["GET", "b"], "$1\r\n1\r\n").await;
}

#[tokio::test]
async fn expire_family() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["EXPIRE", "nope", "10"], ":0\r\n").await;
    must_reply(&mut s, &["TTL", "nope"], ":-2\r\n").await;
    must_reply(&mut s, &["PTTL", "nope"], ":-2\r\n").await;
    must_reply(&mut s, &["EXPIRETIME", "nope"], ":-2\r\n").await;
    must_reply(&mut s, &["PERSIST", "nope"], ":0\r\n").await;
    must_reply(&mut s, &["SET", "k", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["TTL", "k"], ":-1\r\n").await;
    must_reply(&mut s, &["PEXPIRETIME", "k"], ":-1\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "100", "XX"], ":0\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "100", "GT"], ":0\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "100", "NX"], ":1\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "200", "NX"], ":0\r\n").await;
    must_reply(&mut s, &["TTL", "k"], ":100\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "50", "GT"], ":0\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "300", "gt"], ":1\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "400", "LT"], ":0\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "200", "lt", "xx"], ":1\r\n").await;
    must_reply(&mut s, &["TTL", "k"], ":200\r\n").await;
    let pttl = line_of(&mut s, &["PTTL", "k"]).await;
    let pttl: i64 = pttl[1..pttl.len() - 2].parse().unwrap();
    assert!((199_000..=200_000).contains(&pttl), "{pttl}");
    must_reply(&mut s, &["PERSIST", "k"], ":1\r\n").await;
    must_reply(&mut s, &["PERSIST", "k"], ":0\r\n").await;
    must_reply(&mut s, &["TTL", "k"], ":-1\r\n").await;
    // LT with no TTL counts the TTL as infinite: the new one is smaller.
    must_reply(&mut s, &["EXPIRE", "k", "100", "LT"], ":1\r\n").await;

    must_reply(&mut s, &["EXPIREAT", "k", "33177117420"], ":1\r\n").await;
    must_reply(&mut s, &["EXPIRETIME", "k"], ":33177117420\r\n").await;
    must_reply(&mut s, &["PEXPIRETIME", "k"], ":33177117420000\r\n").await;
    must_reply(&mut s, &["PEXPIREAT", "k", "33177117420499"], ":1\r\n").await;
    must_reply(&mut s, &["EXPIRETIME", "k"], ":33177117420\r\n").await;
    must_reply(&mut s, &["PEXPIREAT", "k", "33177117420500"], ":1\r\n").await;
    must_reply(&mut s, &["EXPIRETIME", "k"], ":33177117421\r\n").await;

    let incompatible = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    must_reply(&mut s, &["EXPIRE", "k", "10", "NX", "XX"], incompatible).await;
    must_reply(&mut s, &["EXPIRE", "k", "10", "NX", "GT"], incompatible).await;
    must_reply(&mut s, &["PEXPIRE", "k", "10", "lt", "nx"], incompatible).await;
    must_reply(
        &mut s,
        &["EXPIRE", "k", "10", "GT", "LT"],
        "-ERR GT and LT options at the same time are not compatible\r\n",
    )
    .await;
    must_reply(&mut s, &["EXPIRE", "k", "10", "FOO"], "-ERR Unsupported option FOO\r\n").await;
    // Options are checked before the number.
    must_reply(&mut s, &["EXPIRE", "k", "x", "FOO"], "-ERR Unsupported option FOO\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "x"], "-ERR value is not an integer or out of range\r\n")
        .await;
    for (name, t) in [
        ("expire", "9223372036854775807"),
        ("expire", "9223372036854775"),
        ("pexpire", "9223372036854775807"),
        ("expireat", "9223372036854776"),
        ("expire", "-9223372036854775808"),
    ] {
        must_reply(
            &mut s,
            &[name, "k", t],
            &format!("-ERR invalid expire time in '{name}' command\r\n"),
        )
        .await;
    }
    must_reply(&mut s, &["PEXPIREAT", "k", "9223372036854775807"], ":1\r\n").await;
    must_reply(&mut s, &["PEXPIRETIME", "k"], ":9223372036854775807\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k"], "-ERR wrong number of arguments for 'expire' command\r\n")
        .await;
    must_reply(&mut s, &["TTL"], "-ERR wrong number of arguments for 'ttl' command\r\n").await;

    // A deadline in the past deletes the key and still answers 1.
    must_reply(&mut s, &["EXPIRE", "k", "-1"], ":1\r\n").await;
    must_reply(&mut s, &["EXISTS", "k"], ":0\r\n").await;
    must_reply(&mut s, &["SET", "k", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["PEXPIREAT", "k", "1"], ":1\r\n").await;
    must_reply(&mut s, &["EXISTS", "k"], ":0\r\n").await;
    must_reply(&mut s, &["SET", "k", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["EXPIRE", "k", "0"], ":1\r\n").await;
    must_reply(&mut s, &["DBSIZE"], ":0\r\n").await;
}

#[tokio::test]
async fn lazy_expiry_in_every_command() {
    let ts = start_server().await;
    ts.server.update_config(|c| c.active_expire = false);
    let mut s = ts.raw().await;
    // Each case: make "e" expire, then run one command that must treat it as absent.
    let cases: &[(&[&str], &str)] = &[
        (&["EXISTS", "e"], ":0\r\n"),
        (&["TYPE", "e"], "+none\r\n"),
        (&["TTL", "e"], ":-2\r\n"),
        (&["PTTL", "e"], ":-2\r\n"),
        (&["EXPIRETIME", "e"], ":-2\r\n"),
        (&["PERSIST", "e"], ":0\r\n"),
        (&["EXPIRE", "e", "100"], ":0\r\n"),
        (&["DEL", "e"], ":0\r\n"),
        (&["UNLINK", "e"], ":0\r\n"),
        (&["TOUCH", "e"], ":0\r\n"),
        (&["RENAME", "e", "f"], "-ERR no such key\r\n"),
        (&["RENAMENX", "e", "f"], "-ERR no such key\r\n"),
        (&["COPY", "e", "f"], ":0\r\n"),
        (&["OBJECT", "ENCODING", "e"], "$-1\r\n"),
        (&["KEYS", "e"], "*0\r\n"),
        (&["SCAN", "0", "MATCH", "e"], "*2\r\n$1\r\n0\r\n*0\r\n"),
        (&["RANDOMKEY"], "$-1\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, &["SET", "e", "v", "PX", "1"], "+OK\r\n").await;
        let deadline = partition::time::unix_ms() + 5;
        must_wait_for(Duration::from_secs(5), || partition::time::unix_ms() > deadline, "deadline")
            .await;
        must_reply(&mut s, command, expected).await;
        // KEYS only hides the key; everything else deletes it on the way.
        if command[0] != "KEYS" {
            assert!(ts.server.lock().keyspace.is_empty(), "{command:?} left the expired key");
        }
        must_reply(&mut s, &["FLUSHALL"], "+OK\r\n").await;
    }
    // Also as a destination: an expired destination is free for RENAMENX and COPY.
    must_reply(&mut s, &["SET", "src", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["SET", "e", "v", "PX", "1"], "+OK\r\n").await;
    let deadline = partition::time::unix_ms() + 5;
    must_wait_for(Duration::from_secs(5), || partition::time::unix_ms() > deadline, "deadline")
        .await;
    must_reply(&mut s, &["COPY", "src", "e"], ":1\r\n").await;
    must_reply(&mut s, &["TTL", "e"], ":-1\r\n").await;
    // Lazily expired keys count in INFO's expired_keys (folded in by the commands).
    assert!(ts.server.lock().stats.expired_keys >= cases.len() as u64);
}

#[tokio::test]
async fn active_expiry_deletes_keys_nobody_reads() {
    let ts = start_server().await;
    let mut con = ts.client().await;
    for i in 0..50 {
        let _: () = cmd(&mut con, &["SET", &format!("t{i}"), "v", "PX", "50"]).await.unwrap();
    }
    let _: () = cmd(&mut con, &["SET", "keep", "v"]).await.unwrap();
    let server = ts.server.clone();
    must_wait_for(
        Duration::from_secs(10),
        || server.lock().keyspace.len() == 1,
        "the active cycle to delete the expired keys",
    )
    .await;
    let state = ts.server.lock();
    assert_eq!(state.stats.expired_keys, 50);
    assert_eq!(state.keyspace.volatile_len(), 0);
}

#[tokio::test]
async fn active_expiry_can_be_switched_off() {
    let ts = start_server().await;
    ts.server.update_config(|c| c.active_expire = false);
    let mut con = ts.client().await;
    let _: () = cmd(&mut con, &["SET", "t", "v", "PX", "50"]).await.unwrap();
    // Several cycles (hz 10) pass after the deadline; nothing deletes the key.
    let deadline = partition::time::unix_ms() + 400;
    must_wait_for(Duration::from_secs(5), || partition::time::unix_ms() > deadline, "deadline")
        .await;
    assert_eq!(ts.server.lock().keyspace.len(), 1);
    let v: Option<String> = cmd(&mut con, &["GET", "t"]).await.unwrap();
    assert_eq!(v, None);
    assert_eq!(ts.server.lock().keyspace.len(), 0);
}

#[tokio::test]
async fn cluster_slot_commands() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    must_reply(&mut s, &["CLUSTER", "KEYSLOT", "foo"], ":12182\r\n").await;
    must_reply(&mut s, &["CLUSTER", "keyslot", "{user}:1"], ":5474\r\n").await;
    must_reply(&mut s, &["CLUSTER", "KEYSLOT", ""], ":0\r\n").await;
    must_reply(&mut s, &["MSET", "{user}:1", "a", "{user}:2", "b", "foo", "c"], "+OK\r\n").await;
    must_reply(&mut s, &["CLUSTER", "COUNTKEYSINSLOT", "5474"], ":2\r\n").await;
    must_reply(&mut s, &["CLUSTER", "COUNTKEYSINSLOT", "0"], ":0\r\n").await;
    must_reply(&mut s, &["CLUSTER", "GETKEYSINSLOT", "12182", "10"], "*1\r\n$3\r\nfoo\r\n").await;
    must_reply(&mut s, &["CLUSTER", "GETKEYSINSLOT", "12182", "0"], "*0\r\n").await;
    let two =
        must_exchange_boxed(&mut s, resp(&["CLUSTER", "GETKEYSINSLOT", "5474", "9"]), 32).await;
    let two = String::from_utf8_lossy(&two);
    assert!(two.starts_with("*2\r\n") && two.contains("{user}:1") && two.contains("{user}:2"));
    let one =
        must_exchange_boxed(&mut s, resp(&["CLUSTER", "GETKEYSINSLOT", "5474", "1"]), 18).await;
    let one = String::from_utf8_lossy(&one);
    assert!(one == "*1\r\n$8\r\n{user}:1\r\n" || one == "*1\r\n$8\r\n{user}:2\r\n", "{one}");
    must_reply(&mut s, &["CLUSTER", "COUNTKEYSINSLOT", "16384"], "-ERR Invalid slot\r\n").await;
    must_reply(&mut s, &["CLUSTER", "COUNTKEYSINSLOT", "-1"], "-ERR Invalid slot\r\n").await;
    let not_int = "-ERR value is not an integer or out of range\r\n";
    must_reply(&mut s, &["CLUSTER", "COUNTKEYSINSLOT", "x"], not_int).await;
    must_reply(&mut s, &["CLUSTER", "GETKEYSINSLOT", "x", "1"], not_int).await;
    must_reply(&mut s, &["CLUSTER", "GETKEYSINSLOT", "1", "x"], not_int).await;
    let invalid = "-ERR Invalid slot or number of keys\r\n";
    must_reply(&mut s, &["CLUSTER", "GETKEYSINSLOT", "16384", "1"], invalid).await;
    must_reply(&mut s, &["CLUSTER", "GETKEYSINSLOT", "1", "-1"], invalid).await;
    must_reply(
        &mut s,
        &["CLUSTER", "GETKEYSINSLOT", "1"],
        "-ERR wrong number of arguments for 'cluster|getkeysinslot' command\r\n",
    )
    .await;
    must_reply(&mut s, &["CLUSTER", "FOO"], "-ERR unknown subcommand 'FOO'. Try CLUSTER HELP.\r\n")
        .await;
    must_reply(&mut s, &["CLUSTER"], "-ERR wrong number of arguments for 'cluster' command\r\n")
        .await;
}

#[tokio::test]
async fn resp3_reply_types() {
    let ts = start_server().await;
    let mut s = ts.raw().await;
    // HELLO's map has no fixed length: pipeline a PING and read up to its reply.
    let mut bytes = resp(&["HELLO", "3"]);
    bytes.extend_from_slice(&resp(&["PING"]));
    let got = must_exchange_until(&mut s, bytes, b"+PONG\r\n").await;
    assert!(got.starts_with(b"%"));
    must_reply(&mut s, &["RANDOMKEY"], "_\r\n").await;
    must_reply(&mut s, &["OBJECT", "ENCODING", "nope"], "_\r\n").await;
    must_reply(&mut s, &["TYPE", "nope"], "+none\r\n").await;
    must_reply(&mut s, &["SET", "k", "v"], "+OK\r\n").await;
    must_reply(&mut s, &["SCAN", "0"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n").await;
    must_reply(&mut s, &["KEYS", "*"], "*1\r\n$1\r\nk\r\n").await;
    must_reply(&mut s, &["TTL", "k"], ":-1\r\n").await;
}

//! List command tests. Expected replies are the exact bytes redis-server 7.0.15 sent for the
//! same command sequences (captured side by side while writing them).
use std::collections::VecDeque;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use tokio::net::TcpStream;

use crate::string::{must_reply, must_reply_args, resp3};
use crate::util::*;

/// Nodes of the list at `key`, read from the server's state.
fn node_count(server: &TestServer, key: &[u8]) -> usize {
    let state = server.server.lock();
    let entry = state.keyspace.peek(key, partition::time::unix_ms()).expect("key");
    entry.value.as_list().expect("a list").node_count()
}

/// LPUSH/RPUSH/…X and LPOP/RPOP with and without a count; WRONGTYPE, arity, bad counts.
#[tokio::test]
async fn pushes_and_pops() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "lpush l a b c", ":3\r\n").await;
    must_reply(&mut s, "rpush l 1 2 3", ":6\r\n").await;
    must_reply(
        &mut s,
        "lrange l 0 -1",
        "*6\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    )
    .await;
    must_reply(&mut s, "lpushx l x", ":7\r\n").await;
    must_reply(&mut s, "rpushx l y z", ":9\r\n").await;
    must_reply(&mut s, "lpushx nokey a", ":0\r\n").await;
    must_reply(&mut s, "rpushx nokey a b", ":0\r\n").await;
    must_reply(&mut s, "exists nokey", ":0\r\n").await;
    must_reply(&mut s, "llen l", ":9\r\n").await;
    must_reply(&mut s, "lpop l", "$1\r\nx\r\n").await;
    must_reply(&mut s, "rpop l", "$1\r\nz\r\n").await;
    must_reply(&mut s, "lpop l 2", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n").await;
    must_reply(&mut s, "rpop l 3", "*3\r\n$1\r\ny\r\n$1\r\n3\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "lpop l 0", "*0\r\n").await;
    must_reply(&mut s, "rpop l 0", "*0\r\n").await;
    must_reply(&mut s, "lpop l 100", "*2\r\n$1\r\na\r\n$1\r\n1\r\n").await;
    must_reply(&mut s, "exists l", ":0\r\n").await;
    must_reply(&mut s, "rpush l only", ":1\r\n").await;
    must_reply(&mut s, "rpop l 1", "*1\r\n$4\r\nonly\r\n").await;
    must_reply(&mut s, "exists l", ":0\r\n").await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lpush s a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "rpush s a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lpushx s a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "rpushx s a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lpop s",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "rpop s 1",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lpop s 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lpop s -1", "-ERR value is out of range, must be positive\r\n").await;
    must_reply(&mut s, "lpop l -1", "-ERR value is out of range, must be positive\r\n").await;
    must_reply(&mut s, "lpop l abc", "-ERR value is out of range, must be positive\r\n").await;
    must_reply(&mut s, "rpop l 1.5", "-ERR value is out of range, must be positive\r\n").await;
    must_reply(&mut s, "lpop l 1 2", "-ERR wrong number of arguments for 'lpop' command\r\n").await;
    must_reply(&mut s, "rpop l 1 2 3", "-ERR wrong number of arguments for 'rpop' command\r\n")
        .await;
    must_reply(&mut s, "lpush l", "-ERR wrong number of arguments for 'lpush' command\r\n").await;
    must_reply(&mut s, "rpushx l", "-ERR wrong number of arguments for 'rpushx' command\r\n").await;
    must_reply(&mut s, "lpop", "-ERR wrong number of arguments for 'lpop' command\r\n").await;
    must_reply(
        &mut s,
        "llen s",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "llen nokey", ":0\r\n").await;
    must_reply(&mut s, "llen l a", "-ERR wrong number of arguments for 'llen' command\r\n").await;
}

/// The null shapes of missing keys and empty results: `$-1` / `*-1` in RESP2, `_` in RESP3.
#[tokio::test]
async fn null_replies_in_both_protocols() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "lpop nokey", "$-1\r\n").await;
    must_reply(&mut s, "lpop nokey 0", "*-1\r\n").await;
    must_reply(&mut s, "rpop nokey 3", "*-1\r\n").await;
    must_reply(&mut s, "rpush l a b", ":2\r\n").await;
    must_reply(&mut s, "lpop l 0", "*0\r\n").await;
    must_reply(&mut s, "rpop l 5", "*2\r\n$1\r\nb\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "lindex nokey 0", "$-1\r\n").await;
    must_reply(&mut s, "lindex l 7", "$-1\r\n").await;
    must_reply(&mut s, "lpos nokey a", "$-1\r\n").await;
    must_reply(&mut s, "lpos nokey a count 0", "*0\r\n").await;
    must_reply(&mut s, "lpos l zz", "$-1\r\n").await;
    must_reply(&mut s, "lpos l zz count 0", "*0\r\n").await;
    must_reply(&mut s, "lmpop 1 nokey left", "*-1\r\n").await;
    must_reply(&mut s, "lmove nokey l left left", "$-1\r\n").await;
    must_reply(&mut s, "rpoplpush nokey l", "$-1\r\n").await;
    must_reply(&mut s, "lrange nokey 0 -1", "*0\r\n").await;
    let mut s = resp3(&server).await;
    must_reply(&mut s, "flushall", "+OK\r\n").await;
    must_reply(&mut s, "lpop nokey", "_\r\n").await;
    must_reply(&mut s, "lpop nokey 0", "_\r\n").await;
    must_reply(&mut s, "rpop nokey 3", "_\r\n").await;
    must_reply(&mut s, "rpush l a b", ":2\r\n").await;
    must_reply(&mut s, "lpop l 0", "*0\r\n").await;
    must_reply(&mut s, "rpop l 5", "*2\r\n$1\r\nb\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "lindex nokey 0", "_\r\n").await;
    must_reply(&mut s, "lindex l 7", "_\r\n").await;
    must_reply(&mut s, "lpos nokey a", "_\r\n").await;
    must_reply(&mut s, "lpos nokey a count 0", "*0\r\n").await;
    must_reply(&mut s, "lpos l zz", "_\r\n").await;
    must_reply(&mut s, "lpos l zz count 0", "*0\r\n").await;
    must_reply(&mut s, "lmpop 1 nokey left", "_\r\n").await;
    must_reply(&mut s, "lmove nokey l left left", "_\r\n").await;
    must_reply(&mut s, "rpoplpush nokey l", "_\r\n").await;
    must_reply(&mut s, "lrange nokey 0 -1", "*0\r\n").await;
}

/// LRANGE, LINDEX, LSET, LLEN: negative and out-of-range indices, which error wins.
#[tokio::test]
async fn index_and_range() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "rpush l a b c d e", ":5\r\n").await;
    must_reply(
        &mut s,
        "lrange l 0 -1",
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lrange l -100 100",
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    )
    .await;
    must_reply(&mut s, "lrange l 1 -2", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n").await;
    must_reply(&mut s, "lrange l -2 -1", "*2\r\n$1\r\nd\r\n$1\r\ne\r\n").await;
    must_reply(&mut s, "lrange l 2 1", "*0\r\n").await;
    must_reply(&mut s, "lrange l 5 10", "*0\r\n").await;
    must_reply(
        &mut s,
        "lrange l -9223372036854775808 9223372036854775807",
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    )
    .await;
    must_reply(&mut s, "lrange l 0 0", "*1\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "lrange nokey 0 -1", "*0\r\n").await;
    must_reply(&mut s, "lrange nokey a b", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "lrange l a 1", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "lrange l 0 1.0", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "lindex l 0", "$1\r\na\r\n").await;
    must_reply(&mut s, "lindex l 4", "$1\r\ne\r\n").await;
    must_reply(&mut s, "lindex l 5", "$-1\r\n").await;
    must_reply(&mut s, "lindex l -1", "$1\r\ne\r\n").await;
    must_reply(&mut s, "lindex l -5", "$1\r\na\r\n").await;
    must_reply(&mut s, "lindex l -6", "$-1\r\n").await;
    must_reply(&mut s, "lindex l -9223372036854775808", "$-1\r\n").await;
    must_reply(&mut s, "lindex l 9223372036854775807", "$-1\r\n").await;
    must_reply(&mut s, "lindex l abc", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "lindex nokey abc", "$-1\r\n").await;
    must_reply(&mut s, "lset l 0 A", "+OK\r\n").await;
    must_reply(&mut s, "lset l -1 E", "+OK\r\n").await;
    must_reply(&mut s, "lset l 5 x", "-ERR index out of range\r\n").await;
    must_reply(&mut s, "lset l -6 x", "-ERR index out of range\r\n").await;
    must_reply(&mut s, "lset l abc x", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "lset nokey 0 x", "-ERR no such key\r\n").await;
    must_reply(&mut s, "lset nokey abc x", "-ERR no such key\r\n").await;
    must_reply(
        &mut s,
        "lrange l 0 -1",
        "*5\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nE\r\n",
    )
    .await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lrange s 0 -1",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lrange s a 1", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(
        &mut s,
        "lindex s 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lindex s abc",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lset s 0 x",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lset s abc x",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "rpush n 1 -2 300 70000 -9223372036854775808 9223372036854775807 01 +1 1.5",
        ":9\r\n",
    )
    .await;
    must_reply(&mut s, "lrange n 0 -1", "*9\r\n$1\r\n1\r\n$2\r\n-2\r\n$3\r\n300\r\n$5\r\n70000\r\n$20\r\n-9223372036854775808\r\n$19\r\n9223372036854775807\r\n$2\r\n01\r\n$2\r\n+1\r\n$3\r\n1.5\r\n").await;
    must_reply(&mut s, "lset n 1 99999999999999999999", "+OK\r\n").await;
    must_reply(&mut s, "lindex n 1", "$20\r\n99999999999999999999\r\n").await;
    must_reply(&mut s, "lset n 0 x", "+OK\r\n").await;
    must_reply(&mut s, "lindex n 0", "$1\r\nx\r\n").await;
}

/// LINSERT, LREM (negative count from the tail), LTRIM; keys emptied are deleted.
#[tokio::test]
async fn insert_remove_trim() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "rpush l a b c a b c", ":6\r\n").await;
    must_reply(&mut s, "linsert l before b X", ":7\r\n").await;
    must_reply(&mut s, "linsert l after c Y", ":8\r\n").await;
    must_reply(&mut s, "linsert l BEFORE a Z", ":9\r\n").await;
    must_reply(&mut s, "linsert l AFTER zz Q", ":-1\r\n").await;
    must_reply(&mut s, "linsert l middle a Q", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "linsert nokey before a b", ":0\r\n").await;
    must_reply(&mut s, "linsert nokey middle a b", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "exists nokey", ":0\r\n").await;
    must_reply(&mut s, "lrange l 0 -1", "*9\r\n$1\r\nZ\r\n$1\r\na\r\n$1\r\nX\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nY\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n").await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "linsert s before a b",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "linsert s middle a b", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lrem l 1 a", ":1\r\n").await;
    must_reply(&mut s, "lrem l -1 c", ":1\r\n").await;
    must_reply(&mut s, "lrem l 0 b", ":2\r\n").await;
    must_reply(&mut s, "lrem l 0 zz", ":0\r\n").await;
    must_reply(
        &mut s,
        "lrange l 0 -1",
        "*5\r\n$1\r\nZ\r\n$1\r\nX\r\n$1\r\nc\r\n$1\r\nY\r\n$1\r\na\r\n",
    )
    .await;
    must_reply(&mut s, "lrem l abc a", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "lrem nokey abc a", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "lrem nokey 1 a", ":0\r\n").await;
    must_reply(
        &mut s,
        "lrem s 1 a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lrem s abc a", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "lrem l -9223372036854775808 X", ":1\r\n").await;
    must_reply(&mut s, "lrem l 9223372036854775807 Y", ":1\r\n").await;
    must_reply(&mut s, "lrange l 0 -1", "*3\r\n$1\r\nZ\r\n$1\r\nc\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "lrem l 0 Z", ":1\r\n").await;
    must_reply(&mut s, "lrem l 0 a", ":1\r\n").await;
    must_reply(&mut s, "lrem l 0 c", ":1\r\n").await;
    must_reply(&mut s, "exists l", ":0\r\n").await;
    must_reply(&mut s, "rpush t 1 2 3 4 5 6 7 8 9", ":9\r\n").await;
    must_reply(&mut s, "ltrim t 1 -2", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lrange t 0 -1",
        "*7\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n",
    )
    .await;
    must_reply(&mut s, "ltrim t -3 100", "+OK\r\n").await;
    must_reply(&mut s, "lrange t 0 -1", "*3\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n").await;
    must_reply(&mut s, "ltrim t 0 0", "+OK\r\n").await;
    must_reply(&mut s, "lrange t 0 -1", "*1\r\n$1\r\n6\r\n").await;
    must_reply(&mut s, "ltrim t -9223372036854775808 9223372036854775807", "+OK\r\n").await;
    must_reply(&mut s, "lrange t 0 -1", "*1\r\n$1\r\n6\r\n").await;
    must_reply(&mut s, "ltrim t 1 0", "+OK\r\n").await;
    must_reply(&mut s, "exists t", ":0\r\n").await;
    must_reply(&mut s, "ltrim nokey 0 1", "+OK\r\n").await;
    must_reply(&mut s, "ltrim nokey a 1", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(
        &mut s,
        "ltrim s 0 1",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "ltrim s a 1", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "rpush t 1 2 3", ":3\r\n").await;
    must_reply(&mut s, "ltrim t 5 10", "+OK\r\n").await;
    must_reply(&mut s, "exists t", ":0\r\n").await;
    must_reply(&mut s, "rpush t 1 2 3", ":3\r\n").await;
    must_reply(&mut s, "ltrim t 2 1", "+OK\r\n").await;
    must_reply(&mut s, "exists t", ":0\r\n").await;
}

/// LPOS with RANK, COUNT, MAXLEN, including Redis 7.0's arithmetic on RANK i64::MIN.
#[tokio::test]
async fn lpos_options() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "rpush l a b c a b c a", ":7\r\n").await;
    must_reply(&mut s, "lpos l a", ":0\r\n").await;
    must_reply(&mut s, "lpos l c", ":2\r\n").await;
    must_reply(&mut s, "lpos l zz", "$-1\r\n").await;
    must_reply(&mut s, "lpos l a rank 2", ":3\r\n").await;
    must_reply(&mut s, "lpos l a rank -1", ":6\r\n").await;
    must_reply(&mut s, "lpos l a rank -3", ":0\r\n").await;
    must_reply(&mut s, "lpos l a rank 4", "$-1\r\n").await;
    must_reply(&mut s, "lpos l a rank -4", "$-1\r\n").await;
    must_reply(&mut s, "lpos l a rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "lpos l a rank -9223372036854775808", ":6\r\n").await;
    must_reply(&mut s, "lpos l a rank -9223372036854775807", "$-1\r\n").await;
    must_reply(&mut s, "lpos l a rank 9223372036854775807", "$-1\r\n").await;
    must_reply(&mut s, "lpos l a rank abc", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "lpos l a count 0", "*3\r\n:0\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count 1", "*1\r\n:0\r\n").await;
    must_reply(&mut s, "lpos l a count 2 rank 2", "*2\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count 0 rank -1", "*3\r\n:6\r\n:3\r\n:0\r\n").await;
    must_reply(&mut s, "lpos l a count 0 maxlen 4", "*2\r\n:0\r\n:3\r\n").await;
    must_reply(&mut s, "lpos l a count 0 rank -1 maxlen 1", "*1\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count 1 rank 5", "*0\r\n").await;
    must_reply(&mut s, "lpos l a rank -2 maxlen 3", "$-1\r\n").await;
    must_reply(&mut s, "lpos l a rank -9223372036854775808 count 2", "*3\r\n:6\r\n:3\r\n:0\r\n")
        .await;
    must_reply(&mut s, "lpos l a rank -9223372036854775808 count 0", "*3\r\n:6\r\n:3\r\n:0\r\n")
        .await;
    must_reply(&mut s, "lpos l a count 9223372036854775807", "*3\r\n:0\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a maxlen 0 count 1", "*1\r\n:0\r\n").await;
    must_reply(&mut s, "lpos l b rank -1 count 1 maxlen 2", "*0\r\n").await;
    must_reply(&mut s, "lpos l b rank -1 count 1 maxlen 3", "*1\r\n:4\r\n").await;
    must_reply(&mut s, "lpos l a rank 1 rank 2", ":3\r\n").await;
    must_reply(&mut s, "lpos l a RANK 2 COUNT 5 MAXLEN 7", "*2\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count -1", "-ERR COUNT can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a maxlen -1", "-ERR MAXLEN can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a count abc", "-ERR COUNT can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a maxlen abc", "-ERR MAXLEN can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a rank", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lpos l a count", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lpos l a foo 1", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lpos l a rank 0 count -1", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "lpos l a count -1 rank 0", "-ERR COUNT can't be negative\r\n").await;
    must_reply(&mut s, "lpos nokey a", "$-1\r\n").await;
    must_reply(&mut s, "lpos nokey a count 0", "*0\r\n").await;
    must_reply(&mut s, "lpos nokey a rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lpos s a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lpos s a count 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lpos s a rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "lpos l", "-ERR wrong number of arguments for 'lpos' command\r\n").await;
    let mut s = resp3(&server).await;
    must_reply(&mut s, "flushall", "+OK\r\n").await;
    must_reply(&mut s, "rpush l a b c a b c a", ":7\r\n").await;
    must_reply(&mut s, "lpos l a", ":0\r\n").await;
    must_reply(&mut s, "lpos l c", ":2\r\n").await;
    must_reply(&mut s, "lpos l zz", "_\r\n").await;
    must_reply(&mut s, "lpos l a rank 2", ":3\r\n").await;
    must_reply(&mut s, "lpos l a rank -1", ":6\r\n").await;
    must_reply(&mut s, "lpos l a rank -3", ":0\r\n").await;
    must_reply(&mut s, "lpos l a rank 4", "_\r\n").await;
    must_reply(&mut s, "lpos l a rank -4", "_\r\n").await;
    must_reply(&mut s, "lpos l a rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "lpos l a rank -9223372036854775808", ":6\r\n").await;
    must_reply(&mut s, "lpos l a rank -9223372036854775807", "_\r\n").await;
    must_reply(&mut s, "lpos l a rank 9223372036854775807", "_\r\n").await;
    must_reply(&mut s, "lpos l a rank abc", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "lpos l a count 0", "*3\r\n:0\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count 1", "*1\r\n:0\r\n").await;
    must_reply(&mut s, "lpos l a count 2 rank 2", "*2\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count 0 rank -1", "*3\r\n:6\r\n:3\r\n:0\r\n").await;
    must_reply(&mut s, "lpos l a count 0 maxlen 4", "*2\r\n:0\r\n:3\r\n").await;
    must_reply(&mut s, "lpos l a count 0 rank -1 maxlen 1", "*1\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count 1 rank 5", "*0\r\n").await;
    must_reply(&mut s, "lpos l a rank -2 maxlen 3", "_\r\n").await;
    must_reply(&mut s, "lpos l a rank -9223372036854775808 count 2", "*3\r\n:6\r\n:3\r\n:0\r\n")
        .await;
    must_reply(&mut s, "lpos l a rank -9223372036854775808 count 0", "*3\r\n:6\r\n:3\r\n:0\r\n")
        .await;
    must_reply(&mut s, "lpos l a count 9223372036854775807", "*3\r\n:0\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a maxlen 0 count 1", "*1\r\n:0\r\n").await;
    must_reply(&mut s, "lpos l b rank -1 count 1 maxlen 2", "*0\r\n").await;
    must_reply(&mut s, "lpos l b rank -1 count 1 maxlen 3", "*1\r\n:4\r\n").await;
    must_reply(&mut s, "lpos l a rank 1 rank 2", ":3\r\n").await;
    must_reply(&mut s, "lpos l a RANK 2 COUNT 5 MAXLEN 7", "*2\r\n:3\r\n:6\r\n").await;
    must_reply(&mut s, "lpos l a count -1", "-ERR COUNT can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a maxlen -1", "-ERR MAXLEN can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a count abc", "-ERR COUNT can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a maxlen abc", "-ERR MAXLEN can't be negative\r\n").await;
    must_reply(&mut s, "lpos l a rank", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lpos l a count", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lpos l a foo 1", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lpos l a rank 0 count -1", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "lpos l a count -1 rank 0", "-ERR COUNT can't be negative\r\n").await;
    must_reply(&mut s, "lpos nokey a", "_\r\n").await;
    must_reply(&mut s, "lpos nokey a count 0", "*0\r\n").await;
    must_reply(&mut s, "lpos nokey a rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lpos s a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lpos s a count 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lpos s a rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n").await;
    must_reply(&mut s, "lpos l", "-ERR wrong number of arguments for 'lpos' command\r\n").await;
}

/// LMOVE and RPOPLPUSH, between keys and rotating one key, type checks on both keys.
#[tokio::test]
async fn lmove_and_rpoplpush() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "rpush src a b c", ":3\r\n").await;
    must_reply(&mut s, "lmove src dst left right", "$1\r\na\r\n").await;
    must_reply(&mut s, "lmove src dst right left", "$1\r\nc\r\n").await;
    must_reply(&mut s, "lrange dst 0 -1", "*2\r\n$1\r\nc\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "lmove src dst LEFT LEFT", "$1\r\nb\r\n").await;
    must_reply(&mut s, "exists src", ":0\r\n").await;
    must_reply(&mut s, "lrange dst 0 -1", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "lmove src dst left left", "$-1\r\n").await;
    must_reply(&mut s, "rpoplpush dst dst", "$1\r\na\r\n").await;
    must_reply(&mut s, "lrange dst 0 -1", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n").await;
    must_reply(&mut s, "lmove dst dst left right", "$1\r\na\r\n").await;
    must_reply(&mut s, "lrange dst 0 -1", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "rpoplpush dst other", "$1\r\na\r\n").await;
    must_reply(&mut s, "lrange other 0 -1", "*1\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "lmove dst dst foo left", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmove dst dst left foo", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmove nokey dst foo left", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmove nokey dst left left", "$-1\r\n").await;
    must_reply(&mut s, "rpoplpush nokey dst", "$-1\r\n").await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lmove s dst left left",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lmove dst s left left",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "rpoplpush dst s",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "rpoplpush s dst",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lmove nokey s left left", "$-1\r\n").await;
    must_reply(&mut s, "lrange dst 0 -1", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n").await;
    must_reply(&mut s, "del dst", ":1\r\n").await;
    must_reply(&mut s, "rpush one x", ":1\r\n").await;
    must_reply(&mut s, "lmove one one left right", "$1\r\nx\r\n").await;
    must_reply(&mut s, "lrange one 0 -1", "*1\r\n$1\r\nx\r\n").await;
    must_reply(&mut s, "rpoplpush one one", "$1\r\nx\r\n").await;
    must_reply(&mut s, "llen one", ":1\r\n").await;
}

/// LMPOP: numkeys, LEFT|RIGHT, COUNT and their errors; the first non-empty key wins.
#[tokio::test]
async fn lmpop_parsing_and_replies() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "rpush l a b c", ":3\r\n").await;
    must_reply(&mut s, "rpush l2 1 2 3 4", ":4\r\n").await;
    must_reply(&mut s, "lmpop 2 nokey l left", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n").await;
    must_reply(
        &mut s,
        "lmpop 2 l l2 right count 10",
        "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
    )
    .await;
    must_reply(&mut s, "exists l", ":0\r\n").await;
    must_reply(
        &mut s,
        "lmpop 2 l l2 left count 2",
        "*2\r\n$2\r\nl2\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
    )
    .await;
    must_reply(&mut s, "lmpop 1 l2 RIGHT COUNT 1", "*2\r\n$2\r\nl2\r\n*1\r\n$1\r\n4\r\n").await;
    must_reply(&mut s, "lmpop 1 l2 left", "*2\r\n$2\r\nl2\r\n*1\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "lmpop 3 a b c left", "*-1\r\n").await;
    must_reply(&mut s, "rpush l a b c", ":3\r\n").await;
    must_reply(&mut s, "lmpop 0 l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop -1 l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop abc l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 2 l left", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l middle", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count 0", "-ERR count should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count -1", "-ERR count should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count abc", "-ERR count should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count 1 count 1", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l left foo", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 9223372036854775807 l left", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lmpop 1 s left",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lmpop 2 nokey s left",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lmpop 2 l s left", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n").await;
    must_reply(
        &mut s,
        "lmpop 1 l right count 9223372036854775807",
        "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
    )
    .await;
    must_reply(&mut s, "lmpop 1 l", "-ERR wrong number of arguments for 'lmpop' command\r\n").await;
    let mut s = resp3(&server).await;
    must_reply(&mut s, "flushall", "+OK\r\n").await;
    must_reply(&mut s, "rpush l a b c", ":3\r\n").await;
    must_reply(&mut s, "rpush l2 1 2 3 4", ":4\r\n").await;
    must_reply(&mut s, "lmpop 2 nokey l left", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n").await;
    must_reply(
        &mut s,
        "lmpop 2 l l2 right count 10",
        "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
    )
    .await;
    must_reply(&mut s, "exists l", ":0\r\n").await;
    must_reply(
        &mut s,
        "lmpop 2 l l2 left count 2",
        "*2\r\n$2\r\nl2\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
    )
    .await;
    must_reply(&mut s, "lmpop 1 l2 RIGHT COUNT 1", "*2\r\n$2\r\nl2\r\n*1\r\n$1\r\n4\r\n").await;
    must_reply(&mut s, "lmpop 1 l2 left", "*2\r\n$2\r\nl2\r\n*1\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "lmpop 3 a b c left", "_\r\n").await;
    must_reply(&mut s, "rpush l a b c", ":3\r\n").await;
    must_reply(&mut s, "lmpop 0 l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop -1 l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop abc l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 2 l left", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l middle", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count 0", "-ERR count should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count -1", "-ERR count should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count abc", "-ERR count should be greater than 0\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count 1 count 1", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l left foo", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 1 l left count", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "lmpop 9223372036854775807 l left", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "set s x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "lmpop 1 s left",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "lmpop 2 nokey s left",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "lmpop 2 l s left", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n").await;
    must_reply(
        &mut s,
        "lmpop 1 l right count 9223372036854775807",
        "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
    )
    .await;
    must_reply(&mut s, "lmpop 1 l", "-ERR wrong number of arguments for 'lmpop' command\r\n").await;
}

/// The blocking pops and moves when a key has elements, WRONGTYPE, and timeout errors (parsed before the keys are looked at).
#[tokio::test]
async fn blocking_commands_served_at_once() {
    let server = start_server().await;
    let mut s = server.raw().await;
    blocking_sequence(&mut s).await;
    // The same replies in RESP3.
    let mut s = resp3(&server).await;
    must_reply(&mut s, "flushall", "+OK\r\n").await;
    blocking_sequence(&mut s).await;
}

/// The commands of `blocking_commands_served_at_once`, from an empty keyspace.
async fn blocking_sequence(s: &mut TcpStream) {
    must_reply(s, "rpush l a b c", ":3\r\n").await;
    must_reply(s, "rpush l2 1 2 3 4", ":4\r\n").await;
    must_reply(s, "blpop nokey l l2 0", "*2\r\n$1\r\nl\r\n$1\r\na\r\n").await;
    must_reply(s, "brpop l2 l 1.5", "*2\r\n$2\r\nl2\r\n$1\r\n4\r\n").await;
    must_reply(s, "blpop l 0", "*2\r\n$1\r\nl\r\n$1\r\nb\r\n").await;
    must_reply(s, "brpop l 0", "*2\r\n$1\r\nl\r\n$1\r\nc\r\n").await;
    must_reply(s, "exists l", ":0\r\n").await;
    must_reply(
        s,
        "blmpop 0 2 nokey l2 right count 2",
        "*2\r\n$2\r\nl2\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n",
    )
    .await;
    must_reply(s, "blmpop 0.5 1 l2 left", "*2\r\n$2\r\nl2\r\n*1\r\n$1\r\n1\r\n").await;
    must_reply(s, "rpush l2 p q", ":2\r\n").await;
    must_reply(s, "blmove l2 dst left right 0", "$1\r\np\r\n").await;
    must_reply(s, "exists l2", ":1\r\n").await;
    must_reply(s, "rpush l2 x y", ":3\r\n").await;
    must_reply(s, "brpoplpush l2 dst 0", "$1\r\ny\r\n").await;
    must_reply(s, "lrange dst 0 -1", "*2\r\n$1\r\ny\r\n$1\r\np\r\n").await;
    must_reply(s, "set s x", "+OK\r\n").await;
    must_reply(
        s,
        "blpop s 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        s,
        "brpop nokey s 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(s, "blpop l2 s 0", "*2\r\n$2\r\nl2\r\n$1\r\nq\r\n").await;
    must_reply(
        s,
        "blmove s dst left left 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        s,
        "blmove l2 s left left 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        s,
        "brpoplpush s dst 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        s,
        "brpoplpush l2 s 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        s,
        "blmpop 0 2 nokey s left",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(s, "blpop l -1", "-ERR timeout is negative\r\n").await;
    must_reply(s, "blpop l abc", "-ERR timeout is not a float or out of range\r\n").await;
    must_reply(s, "blpop l inf", "-ERR timeout is negative\r\n").await;
    must_reply(s, "brpop l -0.5", "-ERR timeout is negative\r\n").await;
    must_reply(s, "brpoplpush l x -1", "-ERR timeout is negative\r\n").await;
    must_reply(s, "brpoplpush l x abc", "-ERR timeout is not a float or out of range\r\n").await;
    must_reply(s, "blmove l x foo left -1", "-ERR syntax error\r\n").await;
    must_reply(s, "blmove l x left foo -1", "-ERR syntax error\r\n").await;
    must_reply(s, "blmove l x left left -1", "-ERR timeout is negative\r\n").await;
    must_reply(s, "blmove l x left left abc", "-ERR timeout is not a float or out of range\r\n")
        .await;
    must_reply(s, "blmpop -1 1 l left", "-ERR timeout is negative\r\n").await;
    must_reply(s, "blmpop abc 0 l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(s, "blmpop abc 1 l middle", "-ERR syntax error\r\n").await;
    must_reply(s, "blmpop 0 1 nokey left count 0", "-ERR count should be greater than 0\r\n").await;
    must_reply(s, "blmpop 0 0 l left", "-ERR numkeys should be greater than 0\r\n").await;
    must_reply(s, "blmpop 0 1 l left count 1 count 2", "-ERR syntax error\r\n").await;
    must_reply(s, "blpop l", "-ERR wrong number of arguments for 'blpop' command\r\n").await;
    must_reply(s, "blmpop 0 1", "-ERR wrong number of arguments for 'blmpop' command\r\n").await;
}

/// Elements are binary-safe and may be large; a large one sits in a node of its own.
#[tokio::test]
async fn binary_and_large_elements() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let big = vec![b'x'; 200_000];
    must_reply_args(&mut s, &[b"RPUSH", b"l", b"a\r\n\0b", b""], b":2\r\n").await;
    must_reply_args(&mut s, &[b"RPUSH", b"l", &big, b"-0", b"007"], b":5\r\n").await;
    must_reply(&mut s, "LINDEX l 0", "$5\r\na\r\n\0b\r\n").await;
    must_reply(&mut s, "LINDEX l 1", "$0\r\n\r\n").await;
    let mut expected = b"$200000\r\n".to_vec();
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"\r\n");
    must_reply_args(&mut s, &[b"LINDEX", b"l", b"2"], &expected).await;
    must_reply(&mut s, "LRANGE l 3 4", "*2\r\n$2\r\n-0\r\n$3\r\n007\r\n").await;
    must_reply(&mut s, "LPOS l 007", ":4\r\n").await;
    must_reply(&mut s, "LPOS l 7", "$-1\r\n").await;
    assert_eq!(node_count(&server, b"l"), 3);
    must_reply(&mut s, "OBJECT ENCODING l", "$9\r\nquicklist\r\n").await;
    must_reply(&mut s, "TYPE l", "+list\r\n").await;
}

/// `list-max-listpack-size` sizes the nodes of lists created after it is set; a list keeps the
/// size it was created with, as in Redis 7.0. `list-compress-depth` is accepted.
#[tokio::test]
async fn node_size_follows_the_config() {
    let server = start_server_with(&["--list-max-listpack-size", "4"]).await;
    let mut s = server.raw().await;
    must_reply(&mut s, "RPUSH a 1 2 3 4 5 6 7 8 9 10", ":10\r\n").await;
    assert_eq!(node_count(&server, b"a"), 3);
    must_reply(&mut s, "CONFIG SET list-max-listpack-size -2 list-compress-depth 1", "+OK\r\n")
        .await;
    must_reply(&mut s, "RPUSH b 1 2 3 4 5 6 7 8 9 10", ":10\r\n").await;
    assert_eq!(node_count(&server, b"b"), 1);
    must_reply(&mut s, "RPUSH a 11 12 13", ":13\r\n").await;
    assert_eq!(node_count(&server, b"a"), 4);
    // Emptying every node deletes the key.
    must_reply(&mut s, "LTRIM a 1 0", "+OK\r\n").await;
    must_reply(&mut s, "EXISTS a", ":0\r\n").await;
}

/// Random commands against a `VecDeque` model over a real connection, with small nodes so
/// that splits and merges happen.
#[tokio::test]
async fn random_commands_match_a_model() {
    let server = start_server_with(&["--list-max-listpack-size", "3"]).await;
    let mut con = server.client().await;
    let mut rng = SmallRng::seed_from_u64(7);
    let mut model: VecDeque<String> = VecDeque::new();
    let values = ["a", "b", "c", "10", "-5", "long-element-long-element"];
    for _ in 0..1500 {
        let v = values[rng.random_range(0..values.len())];
        let len = model.len() as i64;
        match rng.random_range(0..9) {
            0 => {
                let n: i64 = cmd(&mut con, &["LPUSH", "k", v]).await.unwrap();
                model.push_front(v.into());
                assert_eq!(n, model.len() as i64);
            }
            1 => {
                let n: i64 = cmd(&mut con, &["RPUSH", "k", v, v]).await.unwrap();
                model.push_back(v.into());
                model.push_back(v.into());
                assert_eq!(n, model.len() as i64);
            }
            2 => {
                let got: Option<String> = cmd(&mut con, &["LPOP", "k"]).await.unwrap();
                assert_eq!(got, model.pop_front());
            }
            3 => {
                let n = rng.random_range(1..5);
                let got: Option<Vec<String>> =
                    cmd(&mut con, &["RPOP", "k", &n.to_string()]).await.unwrap();
                let want: Vec<String> = (0..n).map_while(|_| model.pop_back()).collect();
                assert_eq!(got, (!want.is_empty() || len > 0).then_some(want));
            }
            4 => {
                let after = rng.random::<bool>();
                let pivot = values[rng.random_range(0..values.len())];
                let got: i64 = cmd(
                    &mut con,
                    &["LINSERT", "k", if after { "AFTER" } else { "BEFORE" }, pivot, v],
                )
                .await
                .unwrap();
                let want = match model.iter().position(|x| x == pivot) {
                    Some(i) => {
                        model.insert(i + usize::from(after), v.into());
                        model.len() as i64
                    }
                    None if len == 0 => 0,
                    None => -1,
                };
                assert_eq!(got, want);
            }
            5 if len > 0 => {
                let i = rng.random_range(-len..len);
                let _: () = cmd(&mut con, &["LSET", "k", &i.to_string(), v]).await.unwrap();
                let at = if i < 0 { i + len } else { i } as usize;
                model[at] = v.into();
            }
            6 => {
                let count = rng.random_range(-2i64..3);
                let got: i64 = cmd(&mut con, &["LREM", "k", &count.to_string(), v]).await.unwrap();
                let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
                let mut hits: Vec<usize> =
                    model.iter().enumerate().filter(|(_, x)| *x == v).map(|(i, _)| i).collect();
                if count < 0 {
                    hits.reverse();
                }
                hits.truncate(limit);
                hits.sort_unstable();
                for &i in hits.iter().rev() {
                    model.remove(i);
                }
                assert_eq!(got, hits.len() as i64);
            }
            7 => {
                let start = rng.random_range(-3i64..3);
                let stop = rng.random_range(-3i64..40);
                let _: () = cmd(&mut con, &["LTRIM", "k", &start.to_string(), &stop.to_string()])
                    .await
                    .unwrap();
                let s = if start < 0 { (start + len).max(0) } else { start };
                let e = if stop < 0 { stop + len } else { stop }.min(len - 1);
                model = if s > e || s >= len {
                    VecDeque::new()
                } else {
                    model.range(s as usize..=e as usize).cloned().collect()
                };
            }
            _ => {
                let i = rng.random_range(-len - 1..len + 1);
                let got: Option<String> =
                    cmd(&mut con, &["LINDEX", "k", &i.to_string()]).await.unwrap();
                let at = if i < 0 { i + len } else { i };
                assert_eq!(got, (0..len).contains(&at).then(|| model[at as usize].clone()));
            }
        }
        let exists: i64 = cmd(&mut con, &["EXISTS", "k"]).await.unwrap();
        assert_eq!(exists, i64::from(!model.is_empty()));
    }
    let all: Vec<String> = cmd(&mut con, &["LRANGE", "k", "0", "-1"]).await.unwrap();
    assert_eq!(all, model.iter().cloned().collect::<Vec<_>>());
}

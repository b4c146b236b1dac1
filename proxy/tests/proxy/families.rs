//! Every data family through the proxy gives the same replies as a partition server directly.

use crate::util::{start_cluster, start_partition};

/// Runs each command against a lone partition server and through the proxy (in front of
/// three), and compares the replies (errors included).
async fn must_match(commands: &[&[&str]]) {
    let direct = start_partition(&[]).await;
    let cluster = start_cluster().await;
    let mut d = direct.client().await;
    let mut p = cluster.proxy.client().await;
    for args in commands {
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        let want: redis::RedisResult<redis::Value> = c.query_async(&mut d).await;
        let got: redis::RedisResult<redis::Value> = c.query_async(&mut p).await;
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "reply to {args:?}");
    }
}

#[tokio::test]
async fn strings() {
    must_match(&[
        &["set", "s1", "hello"],
        &["get", "s1"],
        &["append", "s1", " world"],
        &["strlen", "s1"],
        &["getrange", "s1", "0", "4"],
        &["set", "n", "10"],
        &["incr", "n"],
        &["incrby", "n", "5"],
        &["decr", "n"],
        &["incrbyfloat", "n", "1.5"],
        &["incr", "s1"],
        &["setnx", "s1", "x"],
        &["set", "e", "v", "ex", "100"],
        &["ttl", "e"],
        &["getdel", "e"],
        &["get", "e"],
        &["getset", "s1", "new"],
        &["type", "s1"],
        &["get", "missing"],
        &["setrange", "s2", "3", "abc"],
        &["get", "s2"],
    ])
    .await;
}

#[tokio::test]
async fn hashes() {
    must_match(&[
        &["hset", "h", "a", "1", "b", "2", "c", "3"],
        &["hget", "h", "a"],
        &["hmget", "h", "a", "x", "c"],
        &["hincrby", "h", "a", "10"],
        &["hlen", "h"],
        &["hexists", "h", "b"],
        &["hdel", "h", "b"],
        &["hgetall", "h"],
        &["hkeys", "h"],
        &["hvals", "h"],
        &["hsetnx", "h", "a", "9"],
        &["hstrlen", "h", "a"],
        &["get", "h"],
    ])
    .await;
}

#[tokio::test]
async fn lists() {
    must_match(&[
        &["rpush", "l", "a", "b", "c", "d"],
        &["lpush", "l", "z"],
        &["lrange", "l", "0", "-1"],
        &["llen", "l"],
        &["lindex", "l", "2"],
        &["lset", "l", "0", "y"],
        &["lpop", "l"],
        &["rpop", "l", "2"],
        &["linsert", "l", "before", "b", "q"],
        &["lrem", "l", "1", "q"],
        &["ltrim", "l", "0", "0"],
        &["lrange", "l", "0", "-1"],
        &["lpos", "l", "a"],
        &["rpush", "{l}2", "x"],
        &["lmove", "{l}2", "{l}3", "left", "right"],
        &["lrange", "{l}3", "0", "-1"],
    ])
    .await;
}

#[tokio::test]
async fn sets() {
    must_match(&[
        &["sadd", "st", "a", "b", "c"],
        &["sadd", "st", "a"],
        &["scard", "st"],
        &["sismember", "st", "b"],
        &["smismember", "st", "a", "x"],
        &["srem", "st", "b"],
        &["sadd", "{t}1", "1", "2", "3"],
        &["sadd", "{t}2", "2", "3", "4"],
        &["sinterstore", "{t}3", "{t}1", "{t}2"],
        &["scard", "{t}3"],
        &["sintercard", "2", "{t}1", "{t}2"],
        &["smove", "{t}1", "{t}2", "1"],
        &["scard", "{t}2"],
    ])
    .await;
}

#[tokio::test]
async fn sorted_sets() {
    must_match(&[
        &["zadd", "z", "1", "a", "2", "b", "3", "c"],
        &["zscore", "z", "b"],
        &["zincrby", "z", "2.5", "a"],
        &["zrange", "z", "0", "-1", "withscores"],
        &["zrangebyscore", "z", "2", "+inf"],
        &["zrank", "z", "c"],
        &["zrevrank", "z", "c"],
        &["zcard", "z"],
        &["zcount", "z", "-inf", "3"],
        &["zrem", "z", "b"],
        &["zpopmin", "z"],
        &["zadd", "{z}1", "1", "x", "2", "y"],
        &["zadd", "{z}2", "5", "y"],
        &["zunionstore", "{z}3", "2", "{z}1", "{z}2"],
        &["zrange", "{z}3", "0", "-1", "withscores"],
        &["zinter", "2", "{z}1", "{z}2", "withscores"],
    ])
    .await;
}

//! Tests of SORT and SORT_RO. Expected replies are what redis-server 7.0.15 sends for the same
//! commands (captured from it while writing them).
use crate::string::{must_reply, must_reply_args, resp3};
use crate::util::*;

#[tokio::test]
async fn numeric_alpha_and_desc() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "RPUSH l 3 1 2 1 10 -5 1.5", ":7\r\n").await;
    must_reply(
        &mut s,
        "SORT l",
        "*7\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT l DESC",
        "*7\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n2\r\n$3\r\n1.5\r\n$1\r\n1\r\n$1\r\n1\r\n$2\r\n-5\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT l ALPHA",
        "*7\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT l ALPHA DESC",
        "*7\r\n$1\r\n3\r\n$1\r\n2\r\n$2\r\n10\r\n$3\r\n1.5\r\n$1\r\n1\r\n$1\r\n1\r\n$2\r\n-5\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT_RO l desc alpha asc",
        "*7\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n",
    )
    .await;
    // Equal values order by their bytes, reversed by DESC.
    must_reply(&mut s, "RPUSH n 1.0 1 01 1e0 0x1 2 +1", ":7\r\n").await;
    must_reply(&mut s, "SORT n", "*7\r\n$2\r\n+1\r\n$2\r\n01\r\n$3\r\n0x1\r\n$1\r\n1\r\n$3\r\n1.0\r\n$3\r\n1e0\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "SORT n DESC", "*7\r\n$1\r\n2\r\n$3\r\n1e0\r\n$3\r\n1.0\r\n$1\r\n1\r\n$3\r\n0x1\r\n$2\r\n01\r\n$2\r\n+1\r\n").await;
    // strtod syntax: hexadecimal and inf are numbers, trailing junk, NaN and underflow are not.
    must_reply(&mut s, "RPUSH odd inf 0x10 -inf 1e-5", ":4\r\n").await;
    must_reply(&mut s, "SORT odd", "*4\r\n$4\r\n-inf\r\n$4\r\n1e-5\r\n$4\r\n0x10\r\n$3\r\ninf\r\n")
        .await;
    must_reply(&mut s, "RPUSH bad 1 a 2", ":3\r\n").await;
    must_reply(&mut s, "SORT bad", "-ERR One or more scores can't be converted into double\r\n")
        .await;
    must_reply(
        &mut s,
        "SORT bad LIMIT 0 1",
        "-ERR One or more scores can't be converted into double\r\n",
    )
    .await;
    must_reply(&mut s, "SORT bad ALPHA", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "RPUSH nan nan", ":1\r\n").await;
    must_reply(&mut s, "SORT nan", "-ERR One or more scores can't be converted into double\r\n")
        .await;
    must_reply(&mut s, "RPUSH tiny 4e-320", ":1\r\n").await;
    must_reply(&mut s, "SORT tiny", "-ERR One or more scores can't be converted into double\r\n")
        .await;
    must_reply(&mut s, "RPUSH huge 1.8e308", ":1\r\n").await;
    must_reply(&mut s, "SORT huge", "-ERR One or more scores can't be converted into double\r\n")
        .await;
    must_reply(&mut s, "SORT nokey", "*0\r\n").await;
    must_reply(&mut s, "SORT nokey ALPHA DESC LIMIT 0 1", "*0\r\n").await;
}

#[tokio::test]
async fn limit_edges() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "RPUSH l 3 1 2 1 10 -5 1.5", ":7\r\n").await;
    must_reply(&mut s, "SORT l LIMIT 2 3", "*3\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "SORT l LIMIT -3 2", "*2\r\n$2\r\n-5\r\n$1\r\n1\r\n").await;
    must_reply(
        &mut s,
        "SORT l LIMIT 2 -1",
        "*5\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l LIMIT 6 2", "*1\r\n$2\r\n10\r\n").await;
    must_reply(&mut s, "SORT l LIMIT 7 2", "*0\r\n").await;
    must_reply(&mut s, "SORT l LIMIT 0 0", "*0\r\n").await;
    must_reply(
        &mut s,
        "SORT l LIMIT 2 9223372036854775807",
        "*5\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l LIMIT -9223372036854775808 1", "*1\r\n$2\r\n-5\r\n").await;
    must_reply(&mut s, "SORT l DESC LIMIT 1 2", "*2\r\n$1\r\n3\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "SORT l LIMIT x 1", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(
        &mut s,
        "SORT l LIMIT 1 9223372036854775808",
        "-ERR value is not an integer or out of range\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l LIMIT 1", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SORT l LIMIT 1 2 3", "-ERR syntax error\r\n").await;
}

#[tokio::test]
async fn by_string_keys_and_hash_fields() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "RPUSH l b a c d", ":4\r\n").await;
    must_reply(&mut s, "MSET w_a 3 w_b 1 w_c 2 o_a A o_c C", "+OK\r\n").await;
    must_reply(&mut s, "HSET h_a f 10 g x", ":2\r\n").await;
    must_reply(&mut s, "HSET h_b f 5", ":1\r\n").await;
    must_reply(&mut s, "RPUSH w_d 1", ":1\r\n").await;
    // A missing key (or one of another type) sorts as 0, or first with ALPHA.
    must_reply(&mut s, "SORT l BY w_*", "*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n").await;
    must_reply(&mut s, "SORT l BY w_* DESC", "*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n")
        .await;
    must_reply(&mut s, "SORT l BY w_* ALPHA", "*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n")
        .await;
    must_reply(
        &mut s,
        "SORT l BY w_* ALPHA DESC",
        "*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l BY h_*->f", "*4\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\na\r\n")
        .await;
    must_reply(
        &mut s,
        "SORT l BY h_*->g ALPHA",
        "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\na\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l BY o_* ALPHA", "*4\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nc\r\n")
        .await;
    must_reply(&mut s, "SORT l BY o_* ALPHA LIMIT 1 2", "*2\r\n$1\r\nd\r\n$1\r\na\r\n").await;
    // "->" with nothing after it is part of the key name.
    must_reply(&mut s, "SORT l BY w_*->", "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n")
        .await;
    must_reply(&mut s, "SORT l BY w_* LIMIT 1 2 GET w_*", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "RPUSH bad x", ":1\r\n").await;
    must_reply(&mut s, "SET w_x oops", "+OK\r\n").await;
    must_reply(
        &mut s,
        "SORT bad BY w_*",
        "-ERR One or more scores can't be converted into double\r\n",
    )
    .await;
    must_reply(&mut s, "SORT bad BY w_* ALPHA", "*1\r\n$1\r\nx\r\n").await;
}

#[tokio::test]
async fn get_patterns() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "RPUSH l b a c d", ":4\r\n").await;
    must_reply(&mut s, "MSET o_a A o_c C", "+OK\r\n").await;
    must_reply(&mut s, "HSET h_a f 10", ":1\r\n").await;
    must_reply(&mut s, "HSET h_b f 5", ":1\r\n").await;
    must_reply(&mut s, "SORT l ALPHA GET #", "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n")
        .await;
    must_reply(&mut s, "SORT l BY h_*->f GET # GET o_* GET h_*->f GET nokey GET h_*->", "*20\r\n$1\r\nc\r\n$1\r\nC\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\nd\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\nb\r\n$-1\r\n$1\r\n5\r\n$-1\r\n$-1\r\n$1\r\na\r\n$1\r\nA\r\n$2\r\n10\r\n$-1\r\n$-1\r\n").await;
    must_reply(
        &mut s,
        "SORT l ALPHA GET o_* GET # LIMIT 1 2",
        "*4\r\n$-1\r\n$1\r\nb\r\n$1\r\nC\r\n$1\r\nc\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l ALPHA GET o_*->", "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n").await;
    must_reply(
        &mut s,
        "SORT l ALPHA GET h_*->f GET h_*->f",
        "*8\r\n$2\r\n10\r\n$2\r\n10\r\n$1\r\n5\r\n$1\r\n5\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT l BY nosort GET o_* DESC",
        "*4\r\n$-1\r\n$1\r\nC\r\n$1\r\nA\r\n$-1\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT l GET o",
        "-ERR One or more scores can't be converted into double\r\n",
    )
    .await;
}

#[tokio::test]
async fn by_nosort_keeps_the_source_order() {
    let server = start_server().await;
    let mut s = server.raw().await;
    // List: original order, DESC reverses it, LIMIT applies to that order.
    must_reply(&mut s, "RPUSH l 3 1 2 x", ":4\r\n").await;
    must_reply(&mut s, "SORT l BY nosort", "*4\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\nx\r\n")
        .await;
    must_reply(
        &mut s,
        "SORT l BY nosort DESC",
        "*4\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l BY nosort LIMIT 1 2", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n").await;
    must_reply(&mut s, "SORT l BY nosort DESC LIMIT 1 2", "*2\r\n$1\r\n2\r\n$1\r\n1\r\n").await;
    must_reply(&mut s, "SORT l BY nosort LIMIT 4 1", "*0\r\n").await;
    must_reply(
        &mut s,
        "SORT l BY nosort LIMIT 2 9223372036854775807",
        "*2\r\n$1\r\n2\r\n$1\r\nx\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT l BY constant ALPHA",
        "*4\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\nx\r\n",
    )
    .await;
    // Sorted set: score order; plain SORT sorts the members.
    must_reply(&mut s, "ZADD z 1 c 2 a 3 b 4 d 5 e", ":5\r\n").await;
    must_reply(
        &mut s,
        "SORT z BY nosort",
        "*5\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\ne\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT z BY nosort DESC",
        "*5\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n",
    )
    .await;
    must_reply(&mut s, "SORT z BY nosort LIMIT 1 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n").await;
    must_reply(&mut s, "SORT z BY nosort DESC LIMIT 1 2", "*2\r\n$1\r\nd\r\n$1\r\nb\r\n").await;
    must_reply(&mut s, "SORT z BY nosort DESC LIMIT 4 10", "*1\r\n$1\r\nc\r\n").await;
    must_reply(&mut s, "SORT z BY nosort LIMIT 5 1", "*0\r\n").await;
    must_reply(&mut s, "SORT z ALPHA DESC LIMIT 1 3", "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n")
        .await;
    must_reply(&mut s, "SORT z", "-ERR One or more scores can't be converted into double\r\n")
        .await;
    must_reply(&mut s, "OBJECT ENCODING z", "$8\r\nskiplist\r\n").await;
    // Set of integers: iteration order (ascending), DESC ignored; with STORE sorted by bytes.
    must_reply(&mut s, "SADD s 5 3 10 1", ":4\r\n").await;
    must_reply(&mut s, "SORT s", "*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n$2\r\n10\r\n").await;
    must_reply(&mut s, "SORT s BY nosort", "*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n$2\r\n10\r\n")
        .await;
    must_reply(
        &mut s,
        "SORT s BY nosort DESC",
        "*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n$2\r\n10\r\n",
    )
    .await;
    must_reply(&mut s, "SORT s BY nosort LIMIT 1 2", "*2\r\n$1\r\n3\r\n$1\r\n5\r\n").await;
    must_reply(&mut s, "SORT s BY nosort STORE d", ":4\r\n").await;
    must_reply(&mut s, "LRANGE d 0 -1", "*4\r\n$1\r\n1\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n5\r\n")
        .await;
    must_reply(&mut s, "SORT s BY nosort DESC LIMIT 1 2 STORE d", ":2\r\n").await;
    must_reply(&mut s, "LRANGE d 0 -1", "*2\r\n$1\r\n3\r\n$2\r\n10\r\n").await;
}

#[tokio::test]
async fn store() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "RPUSH l 2 1 3", ":3\r\n").await;
    must_reply(&mut s, "SET d x", "+OK\r\n").await;
    must_reply(&mut s, "EXPIRE d 100", ":1\r\n").await;
    must_reply(&mut s, "SORT l STORE d", ":3\r\n").await;
    must_reply(&mut s, "TYPE d", "+list\r\n").await;
    must_reply(&mut s, "LRANGE d 0 -1", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "TTL d", ":-1\r\n").await;
    must_reply(&mut s, "OBJECT ENCODING d", "$9\r\nquicklist\r\n").await;
    must_reply(&mut s, "SORT l STORE d GET # GET nokey_* DESC", ":6\r\n").await;
    must_reply(
        &mut s,
        "LRANGE d 0 -1",
        "*6\r\n$1\r\n3\r\n$0\r\n\r\n$1\r\n2\r\n$0\r\n\r\n$1\r\n1\r\n$0\r\n\r\n",
    )
    .await;
    must_reply(&mut s, "SORT l LIMIT 5 1 STORE d", ":0\r\n").await;
    must_reply(&mut s, "EXISTS d", ":0\r\n").await;
    must_reply(&mut s, "SORT nokey STORE d", ":0\r\n").await;
    must_reply(&mut s, "SORT l STORE l", ":3\r\n").await;
    must_reply(&mut s, "LRANGE l 0 -1", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
    must_reply(&mut s, "SORT l STORE", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SORT_RO l STORE d", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SORT_RO l BY nosort DESC", "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n").await;
    must_reply(&mut s, "SORT l STORE a STORE b", ":3\r\n").await;
    must_reply(&mut s, "EXISTS a", ":0\r\n").await;
    must_reply(&mut s, "LRANGE b 0 -1", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n").await;
}

#[tokio::test]
async fn errors() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SET str x", "+OK\r\n").await;
    must_reply(&mut s, "HSET h a 1", ":1\r\n").await;
    must_reply(
        &mut s,
        "SORT str",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT h BY nosort",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "SORT_RO str ALPHA",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "SORT str LIMIT a b", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "SORT str foo", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SORT l ASC foo", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SORT l GET", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SORT l BY", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SORT", "-ERR wrong number of arguments for 'sort' command\r\n").await;
    must_reply(&mut s, "SORT_RO", "-ERR wrong number of arguments for 'sort_ro' command\r\n").await;
}

#[tokio::test]
async fn resp3_shapes() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    must_reply(&mut s, "RPUSH l b a", ":2\r\n").await;
    must_reply(&mut s, "SORT l ALPHA GET # GET x_*", "*4\r\n$1\r\na\r\n_\r\n$1\r\nb\r\n_\r\n")
        .await;
    must_reply(&mut s, "SORT l ALPHA STORE d", ":2\r\n").await;
    must_reply(&mut s, "SORT l ALPHA LIMIT 0 0", "*0\r\n").await;
    must_reply(
        &mut s,
        "SORT l LIMIT 0 0",
        "-ERR One or more scores can't be converted into double\r\n",
    )
    .await;
}

/// Bytes after a NUL are ignored where Redis handles C strings (ALPHA comparison without
/// STORE, numbers, `#`), and kept elsewhere (keys built from patterns, STORE comparison).
#[tokio::test]
async fn nul_bytes_follow_c_strings() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply_args(&mut s, &[b"RPUSH", b"y", b"a\0b", b"a\0a", b"a", b"a\0"], b":4\r\n").await;
    let list_order = b"*4\r\n$3\r\na\0b\r\n$3\r\na\0a\r\n$1\r\na\r\n$2\r\na\0\r\n";
    must_reply_args(&mut s, &[b"SORT", b"y", b"ALPHA"], list_order).await;
    must_reply_args(&mut s, &[b"SORT", b"y", b"ALPHA", b"DESC"], list_order).await;
    must_reply_args(&mut s, &[b"SORT", b"y", b"ALPHA", b"STORE", b"yy"], b":4\r\n").await;
    must_reply_args(
        &mut s,
        &[b"LRANGE", b"yy", b"0", b"-1"],
        b"*4\r\n$1\r\na\r\n$2\r\na\0\r\n$3\r\na\0a\r\n$3\r\na\0b\r\n",
    )
    .await;
    must_reply_args(&mut s, &[b"RPUSH", b"n", b"5\0x", b"3"], b":2\r\n").await;
    must_reply_args(&mut s, &[b"SORT", b"n"], b"*2\r\n$1\r\n3\r\n$3\r\n5\0x\r\n").await;
    must_reply_args(&mut s, &[b"MSET", b"k_a\0b", b"1", b"k_a", b"2"], b"+OK\r\n").await;
    must_reply_args(
        &mut s,
        &[b"SORT", b"y", b"BY", b"nosort", b"GET", b"k_*"],
        b"*4\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n$-1\r\n",
    )
    .await;
    must_reply_args(&mut s, &[b"SORT", b"y", b"BY", b"nosort", b"GET", b"#\0zz"], list_order).await;
    must_reply_args(&mut s, &[b"SORT", b"y", b"BY", b"no\0*", b"ALPHA"], list_order).await;
}

//! String command tests. Expected replies are the exact bytes redis-server 7.0 sends for the
//! same commands (checked side by side while writing them).
use std::time::Duration;

use tokio::net::TcpStream;

use crate::util::*;

/// Encodes `args` as a RESP command.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends one command and asserts the exact reply bytes.
pub async fn must_reply_args(s: &mut TcpStream, args: &[&[u8]], expected: &[u8]) {
    // Boxed: `must_read` keeps a 64 KiB buffer in its future, and debug builds copy futures
    // on the stack; a test with many calls would overflow the test thread's stack.
    let got = Box::pin(must_exchange(s, &encode(args), expected.len())).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "reply to {:?}",
        args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>()
    );
}

/// Sends one command, its arguments separated by single spaces, and asserts the exact reply.
pub async fn must_reply(s: &mut TcpStream, command: &str, expected: &str) {
    let args: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
    must_reply_args(s, &args, expected.as_bytes()).await;
}

/// A raw connection that has switched to RESP3.
pub async fn resp3(server: &TestServer) -> TcpStream {
    let mut s = server.raw().await;
    let hello = Box::pin(must_exchange(&mut s, &encode(&[b"HELLO", b"3"]), 1)).await;
    // The HELLO map is long; drain it so the next reply starts clean.
    let mut got = hello;
    while !got.windows(7).any(|w| w == b"modules") {
        got.extend(Box::pin(must_read(&mut s, 1)).await);
    }
    while !got.ends_with(b"*0\r\n") {
        got.extend(Box::pin(must_read(&mut s, 1)).await);
    }
    s
}

fn encoding(server: &TestServer, key: &[u8]) -> &'static str {
    let state = server.server.lock();
    state.keyspace.peek(key, partition::time::unix_ms()).expect("key").value.encoding()
}

fn expire_at(server: &TestServer, key: &[u8]) -> Option<u64> {
    server.server.lock().keyspace.expire_at(key)
}

#[tokio::test]
async fn get_and_set() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "GET k", "$-1\r\n").await;
    must_reply(&mut s, "SET k hello", "+OK\r\n").await;
    must_reply(&mut s, "GET k", "$5\r\nhello\r\n").await;
    must_reply(&mut s, "SET k 123", "+OK\r\n").await;
    must_reply(&mut s, "GET k", "$3\r\n123\r\n").await;
    must_reply_args(&mut s, &[b"SET", b"e", b""], b"+OK\r\n").await;
    must_reply(&mut s, "GET e", "$0\r\n\r\n").await;
    must_reply(&mut s, "SET k", "-ERR wrong number of arguments for 'set' command\r\n").await;
    must_reply(&mut s, "GET a b", "-ERR wrong number of arguments for 'get' command\r\n").await;
    // Binary-safe values.
    must_reply_args(&mut s, &[b"SET", b"bin", b"a\r\n\0b"], b"+OK\r\n").await;
    must_reply(&mut s, "GET bin", "$5\r\na\r\n\0b\r\n").await;
}

#[tokio::test]
async fn set_conditions_and_get_option() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SET k v NX", "+OK\r\n").await;
    must_reply(&mut s, "SET k w NX", "$-1\r\n").await;
    must_reply(&mut s, "SET k w XX", "+OK\r\n").await;
    must_reply(&mut s, "SET m w XX", "$-1\r\n").await;
    must_reply(&mut s, "SET k x NX XX", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k x XX NX", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k x GET", "$1\r\nw\r\n").await;
    must_reply(&mut s, "SET new x GET", "$-1\r\n").await;
    // With GET, an aborted SET replies the old value only.
    must_reply(&mut s, "SET k y NX GET", "$1\r\nx\r\n").await;
    must_reply(&mut s, "SET none y XX GET", "$-1\r\n").await;
    must_reply(&mut s, "GET k", "$1\r\nx\r\n").await;
    must_reply(&mut s, "SET k z GET GET", "$1\r\nx\r\n").await;
    must_reply(&mut s, "SET k v foo", "-ERR syntax error\r\n").await;
}

#[tokio::test]
async fn set_expiry_options() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let invalid = "-ERR invalid expire time in 'set' command\r\n";
    must_reply(&mut s, "SET k v EX 0", invalid).await;
    must_reply(&mut s, "SET k v EX -1", invalid).await;
    must_reply(&mut s, "SET k v PX 0", invalid).await;
    must_reply(&mut s, "SET k v EX 9223372036854775807", invalid).await;
    must_reply(&mut s, "SET k v PX 9223372036854775807", invalid).await;
    must_reply(&mut s, "SET k v EXAT 9223372036854776", invalid).await;
    must_reply(&mut s, "SET k v EX abc", "-ERR value is not an integer or out of range\r\n").await;
    // Syntax is checked before the expire value.
    must_reply(&mut s, "SET k v EX abc FOO", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k v EX", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k v EX 10 PX 10", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k v EX 1 KEEPTTL", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k v KEEPTTL PXAT 1", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k v PERSIST", "-ERR syntax error\r\n").await;
    assert_eq!(server.server.lock().keyspace.len(), 0, "failed SETs must not write");

    let before = partition::time::unix_ms();
    must_reply(&mut s, "SET k v EX 100", "+OK\r\n").await;
    let at = expire_at(&server, b"k").expect("ttl");
    assert!(at >= before + 100_000 && at <= partition::time::unix_ms() + 100_000);
    must_reply(&mut s, "SET k v EX 10 EX 20", "+OK\r\n").await;
    assert!(expire_at(&server, b"k").unwrap() >= before + 20_000);
    must_reply(&mut s, "SET k w KEEPTTL", "+OK\r\n").await;
    assert!(expire_at(&server, b"k").is_some(), "KEEPTTL keeps the deadline");
    must_reply(&mut s, "SET k w", "+OK\r\n").await;
    assert_eq!(expire_at(&server, b"k"), None, "a plain SET clears it");
    must_reply(&mut s, "SET k v PXAT 32503680000000", "+OK\r\n").await;
    assert_eq!(expire_at(&server, b"k"), Some(32503680000000));
    must_reply(&mut s, "SET k v exat 32503680000", "+OK\r\n").await;
    assert_eq!(expire_at(&server, b"k"), Some(32503680000000));

    // The key really expires.
    must_reply(&mut s, "SET short v PX 50", "+OK\r\n").await;
    must_reply(&mut s, "GET short", "$1\r\nv\r\n").await;
    let srv = server.server.clone();
    must_wait_for(
        Duration::from_secs(5),
        || srv.lock().keyspace.peek(b"short", partition::time::unix_ms()).is_none(),
        "the key to expire",
    )
    .await;
    must_reply(&mut s, "GET short", "$-1\r\n").await;
}

#[tokio::test]
async fn setnx_setex_psetex() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SETNX k 1", ":1\r\n").await;
    must_reply(&mut s, "SETNX k 2", ":0\r\n").await;
    must_reply(&mut s, "GET k", "$1\r\n1\r\n").await;
    must_reply(&mut s, "SETEX e 100 v", "+OK\r\n").await;
    assert!(expire_at(&server, b"e").is_some());
    must_reply(&mut s, "SETEX e 0 v", "-ERR invalid expire time in 'setex' command\r\n").await;
    must_reply(&mut s, "SETEX e x v", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "PSETEX p 100000 v", "+OK\r\n").await;
    must_reply(&mut s, "PSETEX p -1 v", "-ERR invalid expire time in 'psetex' command\r\n").await;
    must_reply(&mut s, "GET p", "$1\r\nv\r\n").await;
    must_reply(&mut s, "SETEX e 10", "-ERR wrong number of arguments for 'setex' command\r\n")
        .await;
}

#[tokio::test]
async fn getset_getdel() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "GETSET k 1", "$-1\r\n").await;
    must_reply(&mut s, "SET k 1 EX 100", "+OK\r\n").await;
    must_reply(&mut s, "GETSET k 2", "$1\r\n1\r\n").await;
    assert_eq!(expire_at(&server, b"k"), None, "GETSET clears the TTL");
    must_reply(&mut s, "GETDEL k", "$1\r\n2\r\n").await;
    must_reply(&mut s, "GETDEL k", "$-1\r\n").await;
    must_reply(&mut s, "GET k", "$-1\r\n").await;
}

#[tokio::test]
async fn getex_options() {
    let server = start_server().await;
    let mut s = server.raw().await;
    // A missing key answers null before its expire time is even read.
    must_reply(&mut s, "GETEX k EX abc", "$-1\r\n").await;
    must_reply(&mut s, "GETEX k FOO", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "SET k v", "+OK\r\n").await;
    must_reply(&mut s, "GETEX k", "$1\r\nv\r\n").await;
    must_reply(&mut s, "GETEX k EX abc", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "GETEX k EX 0", "-ERR invalid expire time in 'getex' command\r\n").await;
    must_reply(&mut s, "GETEX k KEEPTTL", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "GETEX k NX", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "GETEX k PERSIST EX 10", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "GETEX k EX 10 PERSIST", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "GETEX k EX 100", "$1\r\nv\r\n").await;
    assert!(expire_at(&server, b"k").is_some());
    must_reply(&mut s, "GETEX k PERSIST", "$1\r\nv\r\n").await;
    assert_eq!(expire_at(&server, b"k"), None);
    must_reply(&mut s, "GETEX k PXAT 32503680000000", "$1\r\nv\r\n").await;
    assert_eq!(expire_at(&server, b"k"), Some(32503680000000));
    // A deadline already passed deletes the key, after replying with it.
    must_reply(&mut s, "GETEX k EXAT 1", "$1\r\nv\r\n").await;
    must_reply(&mut s, "GET k", "$-1\r\n").await;
}

#[tokio::test]
async fn mget_mset_msetnx() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "MSET a 1 b 2", "+OK\r\n").await;
    must_reply(&mut s, "MGET a b c", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n").await;
    must_reply(&mut s, "MSET a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n").await;
    must_reply(&mut s, "MSETNX c 1 a 2", ":0\r\n").await;
    must_reply(&mut s, "MSETNX x", "-ERR wrong number of arguments for 'msetnx' command\r\n").await;
    must_reply(&mut s, "MSETNX c 3 d 4", ":1\r\n").await;
    must_reply(&mut s, "MGET a c d", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n").await;
    must_reply(&mut s, "MGET", "-ERR wrong number of arguments for 'mget' command\r\n").await;
    // MSET clears TTLs like SET.
    must_reply(&mut s, "SET t v EX 100", "+OK\r\n").await;
    must_reply(&mut s, "MSET t w", "+OK\r\n").await;
    assert_eq!(expire_at(&server, b"t"), None);
}

#[tokio::test]
async fn counters() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "INCR n", ":1\r\n").await;
    must_reply(&mut s, "INCRBY n 10", ":11\r\n").await;
    must_reply(&mut s, "DECR n", ":10\r\n").await;
    must_reply(&mut s, "DECRBY n -5", ":15\r\n").await;
    must_reply(&mut s, "DECRBY x 3", ":-3\r\n").await;
    must_reply(&mut s, "INCRBY n 1.5", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "DECRBY n -9223372036854775808", "-ERR decrement would overflow\r\n").await;
    must_reply(&mut s, "SET big 9223372036854775807", "+OK\r\n").await;
    must_reply(&mut s, "INCR big", "-ERR increment or decrement would overflow\r\n").await;
    must_reply(&mut s, "SET small -9223372036854775808", "+OK\r\n").await;
    must_reply(&mut s, "DECR small", "-ERR increment or decrement would overflow\r\n").await;
    for bad in ["abc", "01", "+1", "1.0", "-0", "1e3"] {
        must_reply(&mut s, &format!("SET bad {bad}"), "+OK\r\n").await;
        must_reply(&mut s, "INCR bad", "-ERR value is not an integer or out of range\r\n").await;
    }
    // Text that became an integer by APPEND still counts.
    must_reply(&mut s, "SET t 12", "+OK\r\n").await;
    must_reply(&mut s, "APPEND t 3", ":3\r\n").await;
    must_reply(&mut s, "INCR t", ":124\r\n").await;
    assert_eq!(encoding(&server, b"t"), "int");
    // INCR keeps the TTL.
    must_reply(&mut s, "SET c 1 EX 100", "+OK\r\n").await;
    must_reply(&mut s, "INCR c", ":2\r\n").await;
    assert!(expire_at(&server, b"c").is_some());
}

#[tokio::test]
async fn incrbyfloat_prints_like_redis() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "INCRBYFLOAT f 10.5", "$4\r\n10.5\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT f 0.1", "$4\r\n10.6\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT f -5", "$3\r\n5.6\r\n").await;
    must_reply(&mut s, "SET g 1", "+OK\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT g -1.1", "$4\r\n-0.1\r\n").await;
    // Redis's long double noise is reproduced, not hidden.
    must_reply(&mut s, "SET h 1000.1", "+OK\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT h 0", "$22\r\n1000.09999999999999998\r\n").await;
    must_reply(&mut s, "SET e 5.0e3", "+OK\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT e 2.0e2", "$4\r\n5200\r\n").await;
    // The result is a plain string: `embstr`, never `int`.
    assert_eq!(encoding(&server, b"e"), "embstr");
    let nan = "-ERR increment would produce NaN or Infinity\r\n";
    must_reply(&mut s, "INCRBYFLOAT e inf", nan).await;
    must_reply(&mut s, "SET m 1e4932", "+OK\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT m 1e4932", nan).await;
    must_reply(&mut s, "INCRBYFLOAT e nan", "-ERR value is not a valid float\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT e abc", "-ERR value is not a valid float\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT e 1e99999", "-ERR value is not a valid float\r\n").await;
    must_reply(&mut s, "SET t abc", "+OK\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT t 1", "-ERR value is not a valid float\r\n").await;
    must_reply(&mut s, "GET e", "$4\r\n5200\r\n").await;
    // INCRBYFLOAT keeps the TTL.
    must_reply(&mut s, "SET c 1 EX 100", "+OK\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT c 1", "$1\r\n2\r\n").await;
    assert!(expire_at(&server, b"c").is_some());
}

#[tokio::test]
async fn append_and_strlen() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "APPEND k hello", ":5\r\n").await;
    assert_eq!(encoding(&server, b"k"), "embstr", "APPEND to a new key encodes like SET");
    must_reply(&mut s, "APPEND k world", ":10\r\n").await;
    assert_eq!(encoding(&server, b"k"), "raw");
    must_reply(&mut s, "GET k", "$10\r\nhelloworld\r\n").await;
    must_reply(&mut s, "STRLEN k", ":10\r\n").await;
    must_reply(&mut s, "STRLEN missing", ":0\r\n").await;
    must_reply(&mut s, "SET n -1234", "+OK\r\n").await;
    must_reply(&mut s, "STRLEN n", ":5\r\n").await;
    must_reply(&mut s, "APPEND n 5", ":6\r\n").await;
    must_reply(&mut s, "GET n", "$6\r\n-12345\r\n").await;
    must_reply(&mut s, "APPEND i 42", ":2\r\n").await;
    assert_eq!(encoding(&server, b"i"), "int");
}

#[tokio::test]
async fn getrange_clamps_like_redis() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SET k Thisisastring", "+OK\r\n").await;
    must_reply(&mut s, "GETRANGE k 0 3", "$4\r\nThis\r\n").await;
    must_reply(&mut s, "GETRANGE k -3 -1", "$3\r\ning\r\n").await;
    must_reply(&mut s, "GETRANGE k 0 -1", "$13\r\nThisisastring\r\n").await;
    must_reply(&mut s, "GETRANGE k 10 100", "$3\r\ning\r\n").await;
    must_reply(&mut s, "GETRANGE k -1 -5", "$0\r\n\r\n").await;
    must_reply(&mut s, "GETRANGE k 5 3", "$0\r\n\r\n").await;
    must_reply(&mut s, "GETRANGE k -100 2", "$3\r\nThi\r\n").await;
    must_reply(&mut s, "GETRANGE k -100 -50", "$1\r\nT\r\n").await;
    must_reply(&mut s, "GETRANGE k 100 200", "$0\r\n\r\n").await;
    must_reply(
        &mut s,
        "GETRANGE k -9223372036854775808 9223372036854775807",
        "$13\r\nThisisastring\r\n",
    )
    .await;
    must_reply(&mut s, "GETRANGE k a 1", "-ERR value is not an integer or out of range\r\n").await;
    must_reply(&mut s, "GETRANGE missing 0 -1", "$0\r\n\r\n").await;
    must_reply(&mut s, "SUBSTR k 0 3", "$4\r\nThis\r\n").await;
    must_reply(&mut s, "SET n 123456", "+OK\r\n").await;
    must_reply(&mut s, "GETRANGE n 1 3", "$3\r\n234\r\n").await;
    must_reply_args(&mut s, &[b"SET", b"e", b""], b"+OK\r\n").await;
    must_reply(&mut s, "GETRANGE e 0 -1", "$0\r\n\r\n").await;
}

#[tokio::test]
async fn setrange_pads_and_limits() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SETRANGE k 5 hello", ":10\r\n").await;
    must_reply(&mut s, "GET k", "$10\r\n\0\0\0\0\0hello\r\n").await;
    assert_eq!(encoding(&server, b"k"), "raw");
    must_reply(&mut s, "SETRANGE k 0 HE", ":10\r\n").await;
    must_reply(&mut s, "GET k", "$10\r\nHE\0\0\0hello\r\n").await;
    must_reply(&mut s, "SETRANGE k -1 x", "-ERR offset is out of range\r\n").await;
    must_reply(&mut s, "SETRANGE k x x", "-ERR value is not an integer or out of range\r\n").await;
    must_reply_args(&mut s, &[b"SETRANGE", b"k", b"0", b""], b":10\r\n").await;
    // Setting nothing on a missing key creates nothing, whatever the offset.
    must_reply_args(&mut s, &[b"SETRANGE", b"m", b"536870912", b""], b":0\r\n").await;
    must_reply(&mut s, "GET m", "$-1\r\n").await;
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    must_reply(&mut s, "SETRANGE k 536870912 x", too_big).await;
    must_reply(&mut s, "SETRANGE m 536870912 x", too_big).await;
    must_reply(&mut s, "SETRANGE m 9223372036854775807 x", too_big).await;
    must_reply(&mut s, "SET n 1234", "+OK\r\n").await;
    must_reply(&mut s, "SETRANGE n 1 x", ":4\r\n").await;
    must_reply(&mut s, "GET n", "$4\r\n1x34\r\n").await;
}

#[tokio::test]
async fn lcs_replies() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "MSET a ohmytext b mynewtext", "+OK\r\n").await;
    must_reply(&mut s, "LCS a b", "$6\r\nmytext\r\n").await;
    must_reply(&mut s, "LCS a b LEN", ":6\r\n").await;
    let idx = "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
               *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n";
    must_reply(&mut s, "LCS a b IDX", idx).await;
    let min = "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
               $3\r\nlen\r\n:6\r\n";
    must_reply(&mut s, "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN", min).await;
    must_reply(
        &mut s,
        "LCS a b LEN IDX",
        "-ERR If you want both the length and indexes, please just use IDX.\r\n",
    )
    .await;
    must_reply(&mut s, "LCS a b FOO", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "LCS a b MINMATCHLEN", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "LCS a b MINMATCHLEN x", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "LCS a missing", "$0\r\n\r\n").await;
    must_reply(&mut s, "LCS x y IDX", "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n").await;

    let mut r3 = resp3(&server).await;
    let idx3 = "%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
                $3\r\nlen\r\n:6\r\n";
    must_reply(&mut r3, "LCS a b IDX MINMATCHLEN 3", idx3).await;
}

#[tokio::test]
async fn resp3_replies() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    must_reply(&mut s, "GET k", "_\r\n").await;
    must_reply(&mut s, "SET k v NX", "+OK\r\n").await;
    must_reply(&mut s, "SET k v NX", "_\r\n").await;
    must_reply(&mut s, "MGET k x", "*2\r\n$1\r\nv\r\n_\r\n").await;
    must_reply(&mut s, "GETDEL x", "_\r\n").await;
    must_reply(&mut s, "GETEX x", "_\r\n").await;
    must_reply(&mut s, "INCRBYFLOAT f 1.5", "$3\r\n1.5\r\n").await;
}

#[tokio::test]
async fn encodings_follow_redis() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let long = "x".repeat(45);
    must_reply(&mut s, "MSET i 123 e abc n 0123", "+OK\r\n").await;
    must_reply(&mut s, &format!("SET r {long}"), "+OK\r\n").await;
    must_reply(&mut s, &format!("SET x44 {}", &long[..44]), "+OK\r\n").await;
    assert_eq!(encoding(&server, b"i"), "int");
    assert_eq!(encoding(&server, b"e"), "embstr");
    assert_eq!(encoding(&server, b"n"), "embstr");
    assert_eq!(encoding(&server, b"r"), "raw");
    assert_eq!(encoding(&server, b"x44"), "embstr");
    must_reply(&mut s, "SETRANGE e 0 A", ":3\r\n").await;
    assert_eq!(encoding(&server, b"e"), "raw");
    must_reply(&mut s, "SETBIT i 0 0", ":0\r\n").await;
    assert_eq!(encoding(&server, b"i"), "raw");
}

#[tokio::test]
async fn stats_and_dirty_counters() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let counters = || {
        let st = server.server.lock();
        (st.stats.keyspace_hits, st.stats.keyspace_misses, st.dirty)
    };
    let (h0, m0, d0) = counters();
    must_reply(&mut s, "GET k", "$-1\r\n").await;
    must_reply(&mut s, "SET k v", "+OK\r\n").await;
    must_reply(&mut s, "GET k", "$1\r\nv\r\n").await;
    must_reply(&mut s, "MGET k x", "*2\r\n$1\r\nv\r\n$-1\r\n").await;
    // Writes that look the key up do not count as hits or misses.
    must_reply(&mut s, "INCR n", ":1\r\n").await;
    must_reply(&mut s, "APPEND k w", ":2\r\n").await;
    // Nothing changed: no dirty increment.
    must_reply(&mut s, "SET k v NX", "$-1\r\n").await;
    let (h, m, d) = counters();
    assert_eq!((h - h0, m - m0, d - d0), (2, 2, 3));
}

//! Bitmap command tests. Expected replies are the exact bytes redis-server 7.0 sends for the
//! same commands (checked side by side while writing them).
use crate::string::{must_reply, must_reply_args, resp3};
use crate::util::*;

/// Like `must_reply`, for replies that are not UTF-8.
async fn must_reply_bytes(s: &mut tokio::net::TcpStream, command: &str, expected: &[u8]) {
    let args: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
    must_reply_args(s, &args, expected).await;
}

const OFFSET_ERR: &str = "-ERR bit offset is not an integer or out of range\r\n";

#[tokio::test]
async fn setbit_and_getbit() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SETBIT k 7 1", ":0\r\n").await;
    must_reply(&mut s, "SETBIT k 7 1", ":1\r\n").await;
    must_reply(&mut s, "GET k", "$1\r\n\x01\r\n").await;
    must_reply(&mut s, "GETBIT k 7", ":1\r\n").await;
    must_reply(&mut s, "GETBIT k 6", ":0\r\n").await;
    must_reply(&mut s, "GETBIT k 100", ":0\r\n").await;
    must_reply(&mut s, "GETBIT missing 0", ":0\r\n").await;
    must_reply(&mut s, "SETBIT k 23 0", ":0\r\n").await;
    must_reply(&mut s, "STRLEN k", ":3\r\n").await;
    let bit_err = "-ERR bit is not an integer or out of range\r\n";
    must_reply(&mut s, "SETBIT k 0 2", bit_err).await;
    must_reply(&mut s, "SETBIT k 0 -1", bit_err).await;
    must_reply(&mut s, "SETBIT k 0 x", bit_err).await;
    // The integer `1` is read as its text "1" (0x31).
    must_reply(&mut s, "SET n 1", "+OK\r\n").await;
    must_reply(&mut s, "GETBIT n 2", ":1\r\n").await;
    must_reply(&mut s, "GETBIT n 7", ":1\r\n").await;
    must_reply(&mut s, "SETBIT n 6 1", ":0\r\n").await;
    must_reply(&mut s, "GET n", "$1\r\n3\r\n").await;
}

#[tokio::test]
async fn bit_offsets_are_limited() {
    let server = start_server().await;
    let mut s = server.raw().await;
    for bad in ["-1", "4294967296", "x", "#1", "9223372036854775807"] {
        must_reply(&mut s, &format!("SETBIT k {bad} 1"), OFFSET_ERR).await;
        must_reply(&mut s, &format!("GETBIT k {bad}"), OFFSET_ERR).await;
    }
    assert_eq!(server.server.lock().keyspace.len(), 0, "refused offsets allocate nothing");
    // The last bit of a 512 MB string is accepted: one allocation, refused beyond it.
    must_reply(&mut s, "GETBIT k 4294967295", ":0\r\n").await;
    let server = start_server_with(&["--proto-max-bulk-len", "1mb"]).await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SETBIT k 8388607 1", ":0\r\n").await;
    must_reply(&mut s, "STRLEN k", ":1048576\r\n").await;
    must_reply(&mut s, "SETBIT k 8388608 1", OFFSET_ERR).await;
    must_reply(
        &mut s,
        "SETRANGE k 1048576 x",
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "APPEND k x",
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    )
    .await;
}

#[tokio::test]
async fn bitcount_ranges() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "SET k foobar", "+OK\r\n").await;
    must_reply(&mut s, "BITCOUNT k", ":26\r\n").await;
    must_reply(&mut s, "BITCOUNT k 0 0", ":4\r\n").await;
    must_reply(&mut s, "BITCOUNT k 1 1", ":6\r\n").await;
    must_reply(&mut s, "BITCOUNT k 1 1 BYTE", ":6\r\n").await;
    must_reply(&mut s, "BITCOUNT k 5 30 BIT", ":17\r\n").await;
    must_reply(&mut s, "BITCOUNT k -2 -1 bit", ":1\r\n").await;
    must_reply(&mut s, "BITCOUNT k -1 -1", ":4\r\n").await;
    must_reply(&mut s, "BITCOUNT k 0 100", ":26\r\n").await;
    must_reply(&mut s, "BITCOUNT k 3 1", ":0\r\n").await;
    must_reply(&mut s, "BITCOUNT k 1", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITCOUNT k 1 2 3", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITCOUNT k a b", "-ERR value is not an integer or out of range\r\n").await;
    // An empty negative range answers 0 before the unit is read.
    must_reply(&mut s, "BITCOUNT k -1 -2 FOO", ":0\r\n").await;
    // A missing key answers 0 before the arguments are read.
    must_reply(&mut s, "BITCOUNT missing a b", ":0\r\n").await;
    must_reply_args(&mut s, &[b"SET", b"e", b""], b"+OK\r\n").await;
    must_reply(&mut s, "BITCOUNT e 0 -1 BIT", ":0\r\n").await;
}

#[tokio::test]
async fn bitpos_ranges() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "BITPOS missing 1", ":-1\r\n").await;
    must_reply(&mut s, "BITPOS missing 0", ":0\r\n").await;
    must_reply(&mut s, "BITPOS missing 2", "-ERR The bit argument must be 1 or 0.\r\n").await;
    must_reply(&mut s, "BITPOS missing x", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply_args(&mut s, &[b"SET", b"k", b"\xff\xf0\x00"], b"+OK\r\n").await;
    must_reply(&mut s, "BITPOS k 0", ":12\r\n").await;
    must_reply(&mut s, "BITPOS k 1", ":0\r\n").await;
    must_reply(&mut s, "BITPOS k 0 2 -1", ":16\r\n").await;
    must_reply(&mut s, "BITPOS k 0 7 15 BIT", ":12\r\n").await;
    must_reply_args(&mut s, &[b"SET", b"o", b"\xff\xff\xff"], b"+OK\r\n").await;
    // Without an end the string is taken as padded with zeros; with one it is not.
    must_reply(&mut s, "BITPOS o 0", ":24\r\n").await;
    must_reply(&mut s, "BITPOS o 0 0", ":24\r\n").await;
    must_reply(&mut s, "BITPOS o 0 0 -1", ":-1\r\n").await;
    must_reply_args(&mut s, &[b"SET", b"z", b"\x00\xff\xf0"], b"+OK\r\n").await;
    must_reply(&mut s, "BITPOS z 1 2 -1 BYTE", ":16\r\n").await;
    must_reply(&mut s, "BITPOS z 1 7 15 BIT", ":8\r\n").await;
    must_reply(&mut s, "BITPOS z 1 0 1 FOO", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITPOS z 1 0 1 BIT x", "-ERR syntax error\r\n").await;
}

#[tokio::test]
async fn bitop_operations() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "MSET a abc b xyzw", "+OK\r\n").await;
    must_reply(&mut s, "BITOP AND d a b", ":4\r\n").await;
    must_reply(&mut s, "GET d", "$4\r\n``b\0\r\n").await;
    must_reply(&mut s, "BITOP OR d a b", ":4\r\n").await;
    must_reply(&mut s, "GET d", "$4\r\ny{{w\r\n").await;
    must_reply(&mut s, "BITOP XOR d a b missing", ":4\r\n").await;
    must_reply(&mut s, "GET d", "$4\r\n\x19\x1b\x19w\r\n").await;
    must_reply(&mut s, "BITOP NOT d a", ":3\r\n").await;
    must_reply_bytes(&mut s, "GET d", b"$3\r\n\x9e\x9d\x9c\r\n").await;
    must_reply(
        &mut s,
        "BITOP NOT d a b",
        "-ERR BITOP NOT must be called with a single source key.\r\n",
    )
    .await;
    must_reply(&mut s, "BITOP FOO d a", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITOP AND d", "-ERR wrong number of arguments for 'bitop' command\r\n")
        .await;
    // An empty result deletes the destination.
    must_reply(&mut s, "BITOP AND d nope1 nope2", ":0\r\n").await;
    must_reply(&mut s, "GET d", "$-1\r\n").await;
    must_reply(&mut s, "SET n 123", "+OK\r\n").await;
    must_reply(&mut s, "BITOP NOT d n", ":3\r\n").await;
    must_reply_bytes(&mut s, "GET d", b"$3\r\n\xce\xcd\xcc\r\n").await;
    // The destination is a fresh value: its TTL is gone.
    must_reply(&mut s, "SET t v EX 100", "+OK\r\n").await;
    must_reply(&mut s, "BITOP OR t a", ":3\r\n").await;
    assert_eq!(server.server.lock().keyspace.expire_at(b"t"), None);
}

#[tokio::test]
async fn bitfield_operations() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "BITFIELD k", "*0\r\n").await;
    must_reply(&mut s, "BITFIELD k GET u8 0", "*1\r\n:0\r\n").await;
    assert_eq!(server.server.lock().keyspace.len(), 0, "GET alone creates nothing");
    must_reply(&mut s, "BITFIELD k SET u8 0 255 GET u8 0", "*2\r\n:0\r\n:255\r\n").await;
    must_reply(
        &mut s,
        "BITFIELD k INCRBY u2 100 1 OVERFLOW SAT INCRBY i8 100 1",
        "*2\r\n:1\r\n:65\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "BITFIELD o OVERFLOW FAIL INCRBY u8 0 300 OVERFLOW WRAP INCRBY u8 0 300 \
         OVERFLOW SAT INCRBY u8 0 300 INCRBY i8 8 -1000 SET u8 16 -1 OVERFLOW WRAP SET i8 24 200",
        "*6\r\n$-1\r\n:44\r\n:255\r\n:-128\r\n:0\r\n:0\r\n",
    )
    .await;
    must_reply_bytes(&mut s, "GET o", b"$4\r\n\xff\x80\xff\xc8\r\n").await;
    must_reply(&mut s, "BITFIELD h SET i8 #2 -1 GET u4 #4", "*2\r\n:0\r\n:15\r\n").await;
    must_reply(&mut s, "STRLEN h", ":3\r\n").await;
    must_reply(
        &mut s,
        "BITFIELD k SET i64 0 -1 GET i64 0 GET u63 0",
        "*3\r\n:-72057594037927936\r\n:-1\r\n:9223372036854775807\r\n",
    )
    .await;
}

#[tokio::test]
async fn bitfield_errors() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let type_err = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
                    supported but i64 is.\r\n";
    for bad in ["u64", "i65", "i0", "x8", "u", "i-1"] {
        must_reply(&mut s, &format!("BITFIELD k GET {bad} 0"), type_err).await;
    }
    must_reply(&mut s, "BITFIELD k GET u8 -1", OFFSET_ERR).await;
    must_reply(&mut s, "BITFIELD k GET u8 #-1", OFFSET_ERR).await;
    must_reply(&mut s, "BITFIELD k SET u8 4294967296 1", OFFSET_ERR).await;
    must_reply(&mut s, "BITFIELD k SET u8 0 x", "-ERR value is not an integer or out of range\r\n")
        .await;
    must_reply(&mut s, "BITFIELD k GET", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITFIELD k SET u8 0", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITFIELD k FOO", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITFIELD k OVERFLOW", "-ERR syntax error\r\n").await;
    must_reply(&mut s, "BITFIELD k OVERFLOW foo", "-ERR Invalid OVERFLOW type specified\r\n").await;
    assert_eq!(server.server.lock().keyspace.len(), 0, "failed BITFIELDs write nothing");
    must_reply(&mut s, "BITFIELD_RO k GET u8 0", "*1\r\n:0\r\n").await;
    must_reply(
        &mut s,
        "BITFIELD_RO k SET u8 0 1",
        "-ERR BITFIELD_RO only supports the GET subcommand\r\n",
    )
    .await;
    must_reply(&mut s, "BITFIELD_RO k GET u8 0 FOO", "-ERR syntax error\r\n").await;
}

#[tokio::test]
async fn bitfield_fail_is_null_in_resp3() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    must_reply(&mut s, "BITFIELD k OVERFLOW FAIL SET u8 0 256 SET u8 0 7", "*2\r\n_\r\n:0\r\n")
        .await;
}

#[tokio::test]
async fn bit_writes_count_as_changes() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let dirty = || server.server.lock().dirty;
    let d0 = dirty();
    must_reply(&mut s, "SETBIT k 0 1", ":0\r\n").await;
    must_reply(&mut s, "SETBIT k 0 1", ":1\r\n").await; // unchanged
    must_reply(&mut s, "BITFIELD k SET u1 0 1", "*1\r\n:1\r\n").await; // unchanged
    must_reply(&mut s, "BITFIELD k SET u1 0 0 SET u1 1 1", "*2\r\n:1\r\n:0\r\n").await;
    assert_eq!(dirty() - d0, 3);
}

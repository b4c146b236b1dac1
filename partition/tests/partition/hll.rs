//! HyperLogLog command tests. Every expected reply, and every GET of a sketch (exact bytes, or
//! an FNV-1a digest of them for the 12 KB dense ones), is what redis-server 7.0.15 returned for
//! the same commands.
use crate::string::{must_reply, must_reply_args};
use crate::util::*;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// GET of `key` as raw bytes, and its length.
async fn must_get(con: &mut redis::aio::MultiplexedConnection, key: &str) -> (usize, u64) {
    let v: Vec<u8> = cmd(con, &["GET", key]).await.expect("GET");
    (v.len(), fnv1a(&v))
}

/// Sparse sketches byte for byte, the cached cardinality in the header, and the errors.
#[tokio::test]
async fn sparse_bytes_cache_and_errors() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "pfadd h", ":1\r\n").await;
    must_reply_args(
        &mut s,
        &[b"get", b"h"],
        b"$18\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\r\n",
    )
    .await;
    must_reply(&mut s, "pfadd h a", ":1\r\n").await;
    must_reply_args(
        &mut s,
        &[b"get", b"h"],
        b"$21\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80q\xa6\x84NW\r\n",
    )
    .await;
    must_reply(&mut s, "pfcount h", ":1\r\n").await;
    must_reply_args(
        &mut s,
        &[b"get", b"h"],
        b"$21\r\nHYLL\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00q\xa6\x84NW\r\n",
    )
    .await;
    must_reply(&mut s, "pfadd h b c", ":1\r\n").await;
    must_reply_args(&mut s, &[b"get", b"h"], b"$27\r\nHYLL\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ\r\n").await;
    must_reply(&mut s, "pfadd h a b", ":0\r\n").await;
    must_reply(&mut s, "pfcount h nokey", ":3\r\n").await;
    must_reply(&mut s, "pfcount nokey", ":0\r\n").await;
    must_reply(&mut s, "pfcount nokey nokey2", ":0\r\n").await;
    must_reply(&mut s, "pfmerge d h nokey", "+OK\r\n").await;
    must_reply_args(&mut s, &[b"get", b"d"], b"$27\r\nHYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ\r\n").await;
    must_reply(&mut s, "pfcount d", ":3\r\n").await;
    must_reply(&mut s, "set s 1", "+OK\r\n").await;
    must_reply(&mut s, "pfadd s a", "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n")
        .await;
    must_reply(&mut s, "pfcount s", "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n")
        .await;
    must_reply(
        &mut s,
        "pfmerge s h",
        "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "pfmerge h s",
        "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n",
    )
    .await;
    must_reply(&mut s, "set s2 abc", "+OK\r\n").await;
    must_reply(&mut s, "pfcount s2", "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n")
        .await;
    must_reply(
        &mut s,
        "pfcount h s2",
        "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n",
    )
    .await;
    must_reply(&mut s, "lpush l a", ":1\r\n").await;
    must_reply(
        &mut s,
        "pfadd l a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "pfcount l",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "pfcount h l",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "pfmerge h l",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(
        &mut s,
        "pfmerge l h",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
    must_reply(&mut s, "pfmerge", "-ERR wrong number of arguments for 'pfmerge' command\r\n").await;
    must_reply(&mut s, "pfcount", "-ERR wrong number of arguments for 'pfcount' command\r\n").await;
    must_reply(&mut s, "pfadd", "-ERR wrong number of arguments for 'pfadd' command\r\n").await;
}

/// A corrupt sparse sketch is reported, never trusted.
#[tokio::test]
async fn corrupt_sketch_is_detected() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let bad = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01";
    must_reply_args(&mut s, &[b"SET", b"bad", bad], b"+OK\r\n").await;
    let err = b"-INVALIDOBJ Corrupted HLL object detected\r\n";
    must_reply_args(&mut s, &[b"PFCOUNT", b"bad"], err).await;
    must_reply_args(&mut s, &[b"PFADD", b"bad", b"zz"], err).await;
    must_reply_args(&mut s, &[b"PFCOUNT", b"bad", b"other"], err).await;
    must_reply_args(&mut s, &[b"PFMERGE", b"x", b"bad"], err).await;
    must_reply(&mut s, "EXISTS x", ":0\r\n").await;
}

/// Sparse to dense promotion (by register value and by `hll-sparse-max-bytes`), PFMERGE into
/// sparse and dense targets, and union counts: the bytes and estimates redis-server gives.
#[tokio::test]
async fn dense_merge_and_estimates_match_redis() {
    let server = start_server().await;
    let mut con = server.client().await;
    for i in (0..3000).step_by(100) {
        let mut args = vec!["PFADD".to_string(), "dense".into()];
        args.extend((i..i + 100).map(|j| format!("e{j}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _: i64 = cmd(&mut con, &args).await.unwrap();
    }
    assert_eq!(must_get(&mut con, "dense").await, (12304, 0x1b31e02ee1b56bce));
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "dense"]).await.unwrap(), 2979);
    assert_eq!(must_get(&mut con, "dense").await, (12304, 0xb581fa7fa1f68d1c));

    for j in 0..200 {
        let _: i64 = cmd(&mut con, &["PFADD", "sp", &format!("s{j}")]).await.unwrap();
    }
    assert_eq!(must_get(&mut con, "sp").await, (506, 0x61d6b73f867e3190));
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "sp"]).await.unwrap(), 201);
    let mut args = vec!["PFADD".to_string(), "sp2".into()];
    args.extend((150..260).map(|j| format!("s{j}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _: i64 = cmd(&mut con, &args).await.unwrap();
    let _: () = cmd(&mut con, &["PFMERGE", "m", "sp", "sp2"]).await.unwrap();
    assert_eq!(must_get(&mut con, "m").await, (618, 0xb3449a734aa8d241));
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "m"]).await.unwrap(), 261);
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "sp", "sp2", "nokey"]).await.unwrap(), 261);
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "sp", "dense"]).await.unwrap(), 3183);
    let _: () = cmd(&mut con, &["PFMERGE", "md", "sp", "dense"]).await.unwrap();
    assert_eq!(must_get(&mut con, "md").await, (12304, 0x61915ef591ab3f8e));
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "md"]).await.unwrap(), 3183);

    let _: () = cmd(&mut con, &["CONFIG", "SET", "hll-sparse-max-bytes", "100"]).await.unwrap();
    for j in 0..40 {
        let _: i64 = cmd(&mut con, &["PFADD", "p", &format!("x{j}")]).await.unwrap();
    }
    assert_eq!(must_get(&mut con, "p").await, (12304, 0x9e1dc25501003a2a));
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "p"]).await.unwrap(), 40);

    let mut args = vec!["PFADD".to_string(), "big".into()];
    args.extend((0..100_000).map(|i| format!("b{i}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _: i64 = cmd(&mut con, &args).await.unwrap();
    assert_eq!(cmd::<i64>(&mut con, &["PFCOUNT", "big"]).await.unwrap(), 101362);
}

//! DEBUG DIGEST and DEBUG DIGEST-VALUE against redis-server 7.0.15: the same data of every type
//! and encoding loaded into both, and the replies compared byte for byte — the proof that two
//! servers hold the same data rests on these being Redis's exact digests.
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::frame::{check, Check, FrameLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::*;

/// A command's arguments.
type Args = Vec<Vec<u8>>;

/// A key and the commands that build it.
type Group = (Vec<u8>, Vec<Args>);

/// A raw connection that returns each reply's exact bytes.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    async fn connect(addr: impl tokio::net::ToSocketAddrs) -> Conn {
        Conn { stream: TcpStream::connect(addr).await.expect("connect"), buf: BytesMut::new() }
    }

    /// Sends one command and returns the bytes of its reply (5 s deadline).
    async fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).await.expect("write");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Check::Complete(len) = check(&self.buf, &FrameLimits::default()).expect("RESP") {
                return self.buf.split_to(len).to_vec();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let mut chunk = [0u8; 65536];
            let n = tokio::time::timeout(left, self.stream.read(&mut chunk))
                .await
                .unwrap_or_else(|_| panic!("no reply to {:?}", text(args)))
                .expect("read");
            assert!(n > 0, "connection closed after {:?}", text(args));
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn text(args: &[Vec<u8>]) -> Vec<String> {
    args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// A command from words (split on spaces) and binary arguments.
fn cmd(words: &str) -> Vec<Vec<u8>> {
    words.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

fn cmd_with(words: &str, more: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut c = cmd(words);
    c.extend(more);
    c
}

/// The test data: per key, the commands that build it. Every type, every encoding (listpack
/// and hashtable hashes, quicklists over many nodes, intset and hashtable sets, listpack and
/// skiplist sorted sets), integers, binary and empty strings, infinite, fractional and
/// negative-zero scores, keys with a TTL.
fn data() -> Vec<Group> {
    let n = |range: std::ops::Range<i32>, f: fn(i32) -> String| -> Vec<Vec<u8>> {
        range.map(|i| f(i).into_bytes()).collect()
    };
    let long = "L".repeat(70);
    let groups: Vec<(&str, Vec<Args>)> = vec![
        ("str", vec![cmd("SET str hello")]),
        ("int", vec![cmd("SET int 12345")]),
        ("negint", vec![cmd("SET negint -9223372036854775808")]),
        ("notint", vec![cmd("SET notint 007")]),
        ("empty", vec![cmd_with("SET empty", [vec![]])]),
        ("", vec![cmd_with("SET", [vec![], b"the empty key".to_vec()])]),
        ("bin", vec![cmd_with("SET bin", [b"\x00\xff\r\n bin".to_vec()])]),
        ("long", vec![cmd_with("SET long", [long.clone().into_bytes()])]),
        ("counter", vec![cmd("INCR counter"), cmd("INCRBY counter 41")]),
        ("app", vec![cmd("APPEND app abc"), cmd("APPEND app 123")]),
        ("sr", vec![cmd("SETRANGE sr 5 x")]),
        ("fl", vec![cmd("INCRBYFLOAT fl 1.5"), cmd("INCRBYFLOAT fl 0.1")]),
        ("hll", vec![cmd("PFADD hll a b c d e f")]),
        ("list", vec![cmd_with("RPUSH list a b 1 -2 a", [vec![]]), cmd("LPUSH list z 99")]),
        ("biglist", vec![cmd_with("RPUSH biglist", n(0..3000, |i| format!("element:{i}")))]),
        ("intlist", vec![cmd_with("RPUSH intlist", n(-100..100, |i| (i * 1000).to_string()))]),
        ("setint", vec![cmd("SADD setint 1 2 3 -5 100000 9223372036854775807")]),
        ("setstr", vec![cmd_with("SADD setstr a b c", [vec![], b"\x00".to_vec()])]),
        ("setmixed", vec![cmd("SADD setmixed 1 a 2")]),
        ("setbig", vec![cmd_with("SADD setbig", n(0..600, |i| i.to_string()))]),
        ("hsmall", vec![cmd_with("HSET hsmall f v n 42", [vec![], vec![]])]),
        (
            "hbig",
            vec![cmd_with(
                "HSET hbig",
                (0..600).flat_map(|i| [format!("f{i}").into_bytes(), (i * 7).to_string().into()]),
            )],
        ),
        ("hlong", vec![cmd_with("HSET hlong a 1 f", [long.clone().into_bytes()])]),
        ("zsmall", vec![cmd("ZADD zsmall 1 a 2.5 b inf c -inf d 0.1 e 1e17 f -3 g 123456789 h")]),
        (
            "zbig",
            vec![
                cmd_with(
                    "ZADD zbig",
                    (0..200).flat_map(|i| {
                        [format!("{}", i as f64 / 3.0).into(), format!("m{i}").into()]
                    }),
                ),
                cmd("ZADD zbig -0 negzero +inf top -inf bottom 1e-300 tiny 5e-324 denormal"),
            ],
        ),
        ("zlong", vec![cmd_with("ZADD zlong 2 x 1", [long.clone().into_bytes()])]),
        ("zneg0", vec![cmd("ZADD zneg0 -0 m")]),
        ("zinc", vec![cmd("ZINCRBY zinc 1.1 m"), cmd("ZINCRBY zinc 2.2 m")]),
        ("ttl:str", vec![cmd("SET ttl:str v EX 1000")]),
        ("ttl:list", vec![cmd("RPUSH ttl:list a b"), cmd("EXPIRE ttl:list 1000")]),
        ("ttl:hash", vec![cmd("HSET ttl:hash f v"), cmd("PEXPIREAT ttl:hash 4000000000000")]),
        ("ttl:zset", vec![cmd("ZADD ttl:zset 1 a 2 b"), cmd("EXPIRE ttl:zset 5000")]),
    ];
    groups.into_iter().map(|(k, cmds)| (k.as_bytes().to_vec(), cmds)).collect()
}

/// The same data built in another order: keys in reverse, and the members of each SADD, HSET
/// and ZADD reversed (lists keep their order: it is their content).
fn data_reordered() -> Vec<Group> {
    let mut groups = data();
    groups.reverse();
    for (_, cmds) in &mut groups {
        for c in cmds.iter_mut() {
            let name = String::from_utf8_lossy(&c[0]).to_ascii_uppercase();
            let step = match name.as_str() {
                "SADD" => 1,
                "HSET" | "ZADD" => 2,
                _ => continue,
            };
            let mut items: Vec<Args> = c[2..].chunks(step).map(<[_]>::to_vec).collect();
            items.reverse();
            c.truncate(2);
            c.extend(items.into_iter().flatten());
        }
    }
    groups
}

/// Our server and redis-server, both with DEBUG enabled.
struct Pair {
    _reference: ReferenceRedis,
    _ours: TestServer,
    redis: Conn,
    us: Conn,
}

impl Pair {
    async fn start() -> Pair {
        let reference = start_reference_redis_with(&["--enable-debug-command", "yes"]);
        let ours = start_server_with(&["--enable-debug-command", "yes"]).await;
        let redis = Conn::connect(("127.0.0.1", reference.port)).await;
        let us = Conn::connect(ours.addr).await;
        Pair { _reference: reference, _ours: ours, redis, us }
    }

    /// Runs `args` on both and asserts identical replies; returns ours.
    async fn both(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let theirs = self.redis.call(args).await;
        let ours = self.us.call(args).await;
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "reply to {:?}",
            text(args)
        );
        ours
    }

    async fn load(&mut self, groups: &[Group]) {
        for (_, cmds) in groups {
            for c in cmds {
                self.both(c).await;
            }
        }
    }

    /// DEBUG DIGEST on both (asserted equal), and DEBUG DIGEST-VALUE of `keys`.
    async fn digests(&mut self, keys: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        let all = self.both(&cmd("DEBUG DIGEST")).await;
        let values = self.both(&cmd_with("DEBUG DIGEST-VALUE", keys.iter().cloned())).await;
        (all, values)
    }
}

fn status(digest_hex: &str) -> Vec<u8> {
    format!("+{digest_hex}\r\n").into_bytes()
}

#[tokio::test]
async fn digests_match_redis_for_every_type() {
    let mut p = Pair::start().await;
    // Empty: 40 zeros, and zeros for a missing key.
    let zeros = "0".repeat(40);
    assert_eq!(p.both(&cmd("DEBUG DIGEST")).await, status(&zeros));
    let missing = p.both(&cmd("DEBUG DIGEST-VALUE nokey")).await;
    assert_eq!(missing, [b"*1\r\n".to_vec(), status(&zeros)].concat());
    assert_eq!(p.both(&cmd("DEBUG DIGEST-VALUE")).await, b"*0\r\n");

    let groups = data();
    p.load(&groups).await;
    // The data covers the encodings it claims to (asserted equal to Redis's as well).
    for (key, want) in [
        ("int", "int"),
        ("str", "embstr"),
        ("long", "raw"),
        ("biglist", "quicklist"),
        ("setint", "intset"),
        ("setbig", "hashtable"),
        ("hsmall", "listpack"),
        ("hbig", "hashtable"),
        ("hlong", "hashtable"),
        ("zsmall", "listpack"),
        ("zbig", "skiplist"),
        ("zlong", "skiplist"),
    ] {
        let reply = p.both(&cmd(&format!("OBJECT ENCODING {key}"))).await;
        assert_eq!(reply, format!("${}\r\n{want}\r\n", want.len()).into_bytes(), "{key}");
    }

    let mut keys: Vec<Vec<u8>> = groups.iter().map(|(k, _)| k.clone()).collect();
    keys.push(b"missing".to_vec());
    let (all, values) = p.digests(&keys).await;
    assert_ne!(all, status(&zeros));
    let per_key = values.split(|&b| b == b'\n').filter(|l| l.starts_with(b"+")).count();
    assert_eq!(per_key, keys.len());

    // -0 and 0 are the same score to ZADD, which then changes nothing: the digest keeps
    // "-0" on both servers.
    p.both(&cmd("ZADD zbig 0 negzero")).await;
    assert_eq!(p.digests(&[]).await.0, all);

    // One element changed, anywhere, changes the digest (and the same way on both servers).
    let mut last = all;
    for change in [
        "LSET biglist 1500 changed",
        "LSET list 0 changed",
        "HSET hbig f7 changed",
        "HSET hsmall n 43",
        "ZADD zsmall 2.6 b",
        "ZADD zbig 1.5 negzero",
        "SADD setint 7",
        "SADD setbig x",
        "SETRANGE str 0 j",
        "INCR counter",
        "PERSIST ttl:str",
        "EXPIRE str 100",
        "PFADD hll z",
    ] {
        p.both(&cmd(change)).await;
        let (now, _) = p.digests(&[]).await;
        assert_ne!(now, last, "{change} changed nothing");
        last = now;
    }
}

#[tokio::test]
async fn digests_do_not_depend_on_insertion_order() {
    let mut p = Pair::start().await;
    p.load(&data()).await;
    let keys: Vec<Vec<u8>> = data().into_iter().map(|(k, _)| k).collect();
    let first = p.digests(&keys).await;
    p.both(&cmd("FLUSHALL")).await;
    p.load(&data_reordered()).await;
    assert_eq!(p.digests(&keys).await, first);
    // But the order of a list's elements is part of it.
    p.both(&cmd("RPUSH l a b")).await;
    let (ab, _) = p.digests(&[]).await;
    p.both(&cmd("DEL l")).await;
    p.both(&cmd("RPUSH l b a")).await;
    let (ba, _) = p.digests(&[]).await;
    assert_ne!(ab, ba);
}

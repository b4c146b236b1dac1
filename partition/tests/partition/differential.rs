//! The randomized differential test: one random command sequence sent to our server and to
//! Debian's redis-server 7.0.15, replies compared one by one, byte for byte (after sorting the
//! replies whose order Redis leaves unspecified). Seeded; set `DIFF_SEED` to replay a failure,
//! `DIFF_COMMANDS` to run longer. Bounded in time.
//!
//! Each family contributes a generator of commands over a small pool of keys, so that keys
//! collide, change type (WRONGTYPE paths), empty out and convert encodings.
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::frame::{Frame, FrameLimits};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::util::*;

/// How long one run may take at most.
const TIME_LIMIT: Duration = Duration::from_secs(25);

/// A command generator with its random source.
struct Gen {
    rng: StdRng,
}

impl Gen {
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.random_range(0..from.len())]
    }

    fn int(&mut self, lo: i64, hi: i64) -> String {
        self.rng.random_range(lo..=hi).to_string()
    }

    /// A key of the shared pool: families write to the same names, so types collide.
    fn key(&mut self) -> String {
        format!("k{}", self.rng.random_range(0..6))
    }

    /// A value: short text, integers (the `int` encodings), or longer text.
    fn value(&mut self) -> String {
        match self.rng.random_range(0..10) {
            0..=3 => self.pick(&["a", "b", "c", "hello", "", "x y"]).to_string(),
            4..=7 => self.int(-20, 1000),
            8 => "v".repeat(self.rng.random_range(40..80)),
            _ => self.pick(&["3.5", "-0", "1e3", "inf", "12345678901234567890"]).to_string(),
        }
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.random_range(0..100) < percent
    }
}

/// A generated command and how its reply is compared.
struct Command {
    args: Vec<String>,
    /// The reply is a collection whose order Redis does not specify: compare sorted.
    unordered: bool,
}

fn ordered(args: Vec<String>) -> Command {
    Command { args, unordered: false }
}

fn strings(g: &mut Gen) -> Command {
    let k = g.key();
    let v = g.value();
    let args: Vec<String> = match g.rng.random_range(0..20) {
        0 => vec!["SET".into(), k, v],
        1 => {
            let opt = g.pick(&["NX", "XX", "GET", "KEEPTTL"]).to_string();
            vec!["SET".into(), k, v, opt]
        }
        2 => vec!["GET".into(), k],
        3 => vec!["INCR".into(), k],
        4 => vec!["INCRBY".into(), k, g.int(-100, 100)],
        5 => vec!["DECRBY".into(), k, g.value()],
        6 => vec!["INCRBYFLOAT".into(), k, g.pick(&["1.5", "-0.25", "1e2", "x", "3"]).into()],
        7 => vec!["APPEND".into(), k, v],
        8 => vec!["STRLEN".into(), k],
        9 => vec!["GETRANGE".into(), k, g.int(-5, 5), g.int(-5, 10)],
        10 => vec!["SETRANGE".into(), k, g.int(0, 20), v],
        11 => vec!["MSET".into(), k, v, g.key(), g.value()],
        12 => vec!["MGET".into(), k, g.key(), g.key()],
        13 => vec!["GETSET".into(), k, v],
        14 => vec!["GETDEL".into(), k],
        15 => vec!["SETNX".into(), k, v],
        16 => vec!["MSETNX".into(), k, v, g.key(), g.value()],
        17 => vec!["LCS".into(), k, g.key()],
        18 => vec!["SETBIT".into(), k, g.int(0, 100), g.pick(&["0", "1", "2"]).into()],
        _ => vec!["BITCOUNT".into(), k],
    };
    ordered(args)
}

fn keyspace(g: &mut Gen) -> Command {
    let k = g.key();
    let args: Vec<String> = match g.rng.random_range(0..14) {
        0 => vec!["DEL".into(), k, g.key()],
        1 => vec!["EXISTS".into(), k, g.key()],
        2 => vec!["TYPE".into(), k],
        3 => vec!["RENAME".into(), k, g.key()],
        4 => vec!["RENAMENX".into(), k, g.key()],
        5 => vec!["COPY".into(), k, g.key(), "REPLACE".into()],
        6 => vec!["OBJECT".into(), "ENCODING".into(), k],
        7 => vec!["UNLINK".into(), k],
        // Absolute deadlines far away keep replies independent of timing.
        8 => vec!["EXPIREAT".into(), k, g.int(4_000_000_000, 4_000_000_100)],
        9 => vec!["EXPIRETIME".into(), k],
        10 => vec!["PERSIST".into(), k],
        11 => vec!["DBSIZE".into()],
        12 => return Command { args: vec!["KEYS".into(), "*".into()], unordered: true },
        _ => vec!["TOUCH".into(), k],
    };
    ordered(args)
}

/// A score: integers, fractions, infinities, and a bad one now and then.
fn score(g: &mut Gen) -> String {
    match g.rng.random_range(0..10) {
        0 => g.pick(&["inf", "-inf", "+inf", "1.5", "-0.5", "1e-3", "nan", "x"]).into(),
        _ => g.int(-5, 20),
    }
}

/// A score range bound: inclusive, exclusive, infinite.
fn score_bound(g: &mut Gen) -> String {
    match g.rng.random_range(0..6) {
        0 => "-inf".into(),
        1 => "+inf".into(),
        2 => format!("({}", g.int(-5, 20)),
        _ => g.int(-5, 20),
    }
}

/// A lex range bound.
fn lex_bound(g: &mut Gen) -> String {
    let m = member(g);
    g.pick(&["-", "+", "[", "(", "x"]).to_string() + if g.chance(60) { &m } else { "" }
}

/// A member: few enough that they collide; some long enough to leave the compact encoding.
fn member(g: &mut Gen) -> String {
    match g.rng.random_range(0..12) {
        0 => "m".repeat(70),
        1..=3 => g.int(0, 30),
        _ => format!("m{}", g.rng.random_range(0..20)),
    }
}

/// A sorted set whose members all have score 0: lexicographic ranges are only defined on
/// those (with mixed scores Redis's answer depends on its skiplist's random levels).
fn lex_key(g: &mut Gen) -> String {
    format!("lex{}", g.rng.random_range(0..2))
}

fn zsets(g: &mut Gen) -> Command {
    if g.chance(20) {
        return lex_zsets(g);
    }
    let k = g.key();
    let range_opts = |g: &mut Gen, args: &mut Vec<String>, scores_ok: bool| {
        if scores_ok && g.chance(40) {
            args.push("WITHSCORES".into());
        }
        if g.chance(30) {
            args.extend(["LIMIT".into(), g.int(-1, 3), g.int(-2, 5)]);
        }
    };
    let args: Vec<String> = match g.rng.random_range(0..24) {
        0..=3 => {
            let mut args = vec!["ZADD".into(), k];
            for _ in 0..g.rng.random_range(0..2) {
                args.push(g.pick(&["NX", "XX", "GT", "LT", "CH", "INCR"]).into());
            }
            for _ in 0..g.rng.random_range(1..4) {
                args.push(score(g));
                args.push(member(g));
            }
            args
        }
        4 => vec!["ZINCRBY".into(), k, score(g), member(g)],
        5 => vec!["ZREM".into(), k, member(g), member(g)],
        6 => vec!["ZCARD".into(), k],
        7 => vec!["ZSCORE".into(), k, member(g)],
        8 => vec!["ZMSCORE".into(), k, member(g), member(g)],
        // WITHSCORE is Redis 7.2's, which the 7.0.15 reference lacks.
        9 => vec![g.pick(&["ZRANK", "ZREVRANK"]).into(), k, member(g)],
        10 | 11 => {
            let mut args = vec!["ZRANGE".into(), k];
            match g.rng.random_range(0..3) {
                0 => args.extend([g.int(-5, 5), g.int(-5, 10)]),
                _ => {
                    args.extend([score_bound(g), score_bound(g), "BYSCORE".into()]);
                }
            }
            if g.chance(30) {
                args.push("REV".into());
            }
            let by = args.len() > 4;
            range_opts(g, &mut args, true);
            if !by && args.contains(&"LIMIT".to_string()) && g.chance(70) {
                args.retain(|a| a != "LIMIT");
                args.truncate(4);
            }
            args
        }
        12 => {
            let name = g.pick(&["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]);
            let mut args = vec![name.into(), k, score_bound(g), score_bound(g)];
            range_opts(g, &mut args, true);
            args
        }
        13 | 14 => vec!["ZCOUNT".into(), k, score_bound(g), score_bound(g)],
        15 => vec!["ZCARD".into(), k],
        16 => {
            let mut args = vec![g.pick(&["ZPOPMIN", "ZPOPMAX"]).into(), k];
            if g.chance(50) {
                args.push(g.int(-1, 4));
            }
            args
        }
        17 => vec!["ZREMRANGEBYRANK".into(), k, g.int(-4, 2), g.int(-2, 4)],
        18 => vec!["ZREMRANGEBYSCORE".into(), k, score_bound(g), score_bound(g)],
        19 => vec!["ZSCORE".into(), k, member(g)],
        20 => {
            let name = g.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]);
            let mut args = vec![name.into(), k, "2".into(), g.key(), g.key()];
            if name != "ZDIFFSTORE" && g.chance(50) {
                args.extend(["WEIGHTS".into(), g.int(-2, 3), score(g)]);
            }
            if name != "ZDIFFSTORE" && g.chance(50) {
                args.extend(["AGGREGATE".into(), g.pick(&["SUM", "MIN", "MAX"]).into()]);
            }
            args
        }
        21 => {
            let name = g.pick(&["ZUNION", "ZINTER", "ZDIFF"]);
            vec![name.into(), "2".into(), k, g.key(), "WITHSCORES".into()]
        }
        22 => vec!["ZINTERCARD".into(), "2".into(), k, g.key(), "LIMIT".into(), g.int(0, 3)],
        _ => {
            let mut args = vec!["ZRANGESTORE".into(), g.key(), k, g.int(-3, 3), g.int(-3, 5)];
            if g.chance(30) {
                args.push("REV".into());
            }
            args
        }
    };
    ordered(args)
}

/// Lexicographic commands on sorted sets whose scores are all 0.
fn lex_zsets(g: &mut Gen) -> Command {
    let k = lex_key(g);
    let args: Vec<String> = match g.rng.random_range(0..7) {
        0 | 1 => vec!["ZADD".into(), k, "0".into(), member(g), "0".into(), member(g)],
        2 => {
            let name = g.pick(&["ZRANGEBYLEX", "ZREVRANGEBYLEX"]);
            let mut args = vec![name.into(), k, lex_bound(g), lex_bound(g)];
            if g.chance(30) {
                args.extend(["LIMIT".into(), g.int(-1, 3), g.int(-2, 5)]);
            }
            args
        }
        3 => {
            let mut args = vec!["ZRANGE".into(), k, lex_bound(g), lex_bound(g), "BYLEX".into()];
            if g.chance(30) {
                args.push("REV".into());
            }
            args
        }
        4 => vec!["ZLEXCOUNT".into(), k, lex_bound(g), lex_bound(g)],
        5 => vec!["ZREMRANGEBYLEX".into(), k, lex_bound(g), lex_bound(g)],
        _ => vec!["ZREM".into(), k, member(g)],
    };
    ordered(args)
}

/// A hash field: few, so they collide; one long enough to leave the listpack encoding.
fn field(g: &mut Gen) -> String {
    match g.rng.random_range(0..15) {
        0 => "f".repeat(70),
        1..=3 => g.int(0, 9),
        _ => format!("f{}", g.rng.random_range(0..12)),
    }
}

fn hashes(g: &mut Gen) -> Command {
    let k = g.key();
    let args: Vec<String> = match g.rng.random_range(0..16) {
        0..=2 => {
            let mut args = vec![g.pick(&["HSET", "HMSET"]).into(), k];
            for _ in 0..g.rng.random_range(1..4) {
                args.push(field(g));
                args.push(g.value());
            }
            args
        }
        3 => vec!["HSETNX".into(), k, field(g), g.value()],
        4 => vec!["HGET".into(), k, field(g)],
        5 => vec!["HMGET".into(), k, field(g), field(g)],
        6 => vec!["HDEL".into(), k, field(g), field(g)],
        7 => vec!["HEXISTS".into(), k, field(g)],
        8 => vec!["HLEN".into(), k],
        9 => vec!["HSTRLEN".into(), k, field(g)],
        10 => return Command { args: vec!["HKEYS".into(), k], unordered: true },
        11 => return Command { args: vec!["HVALS".into(), k], unordered: true },
        12 => return Command { args: vec!["HGETALL".into(), k], unordered: true },
        13 => vec!["HINCRBY".into(), k, field(g), g.int(-10, 10)],
        14 => vec!["HINCRBYFLOAT".into(), k, field(g), g.pick(&["1.5", "-2", "x", "1e2"]).into()],
        _ => vec!["OBJECT".into(), "ENCODING".into(), k],
    };
    ordered(args)
}

fn sets(g: &mut Gen) -> Command {
    let k = g.key();
    let unordered = |args: Vec<String>| Command { args, unordered: true };
    let args: Vec<String> = match g.rng.random_range(0..17) {
        0..=2 => {
            let mut args = vec!["SADD".into(), k];
            for _ in 0..g.rng.random_range(1..4) {
                args.push(member(g));
            }
            args
        }
        3 => vec!["SREM".into(), k, member(g), member(g)],
        4 => vec!["SCARD".into(), k],
        5 => vec!["SISMEMBER".into(), k, member(g)],
        6 => vec!["SMISMEMBER".into(), k, member(g), member(g)],
        7 => return unordered(vec!["SMEMBERS".into(), k]),
        8 => vec!["SMOVE".into(), k, g.key(), member(g)],
        9 => return unordered(vec!["SINTER".into(), k, g.key()]),
        10 => return unordered(vec!["SUNION".into(), k, g.key()]),
        11 => return unordered(vec!["SDIFF".into(), k, g.key()]),
        12 => {
            vec![g.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]).into(), g.key(), k, g.key()]
        }
        13 => vec!["SINTERCARD".into(), "2".into(), k, g.key(), "LIMIT".into(), g.int(0, 3)],
        14 => vec!["OBJECT".into(), "ENCODING".into(), k],
        // Which members a pop takes is random; how many is not.
        15 => vec!["SCARD".into(), g.key()],
        _ => {
            let name = g.pick(&["ZUNIONSTORE", "ZINTERSTORE"]);
            vec![name.into(), g.key(), "2".into(), k, g.key()]
        }
    };
    ordered(args)
}

fn lists(g: &mut Gen) -> Command {
    let k = g.key();
    let args: Vec<String> = match g.rng.random_range(0..20) {
        0..=2 => {
            let mut args = vec![g.pick(&["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]).into(), k];
            for _ in 0..g.rng.random_range(1..4) {
                args.push(g.value());
            }
            args
        }
        3 => {
            let mut args = vec![g.pick(&["LPOP", "RPOP"]).into(), k];
            if g.chance(40) {
                args.push(g.int(-1, 4));
            }
            args
        }
        4 => vec!["LLEN".into(), k],
        5 | 6 => vec!["LRANGE".into(), k, g.int(-6, 3), g.int(-3, 8)],
        7 => vec!["LINDEX".into(), k, g.int(-6, 6)],
        8 => vec!["LSET".into(), k, g.int(-4, 4), g.value()],
        9 => vec![
            "LINSERT".into(),
            k,
            g.pick(&["BEFORE", "AFTER", "MIDDLE"]).into(),
            g.value(),
            g.value(),
        ],
        10 => vec!["LREM".into(), k, g.int(-2, 2), g.value()],
        11 => vec!["LTRIM".into(), k, g.int(-5, 3), g.int(-3, 6)],
        12 => {
            let mut args = vec!["LPOS".into(), k, g.value()];
            if g.chance(40) {
                args.extend(["RANK".into(), g.int(-2, 2)]);
            }
            if g.chance(40) {
                args.extend(["COUNT".into(), g.int(0, 3)]);
            }
            if g.chance(20) {
                args.extend(["MAXLEN".into(), g.int(0, 5)]);
            }
            args
        }
        13 => vec![
            "LMOVE".into(),
            k,
            g.key(),
            g.pick(&["LEFT", "RIGHT"]).into(),
            g.pick(&["LEFT", "RIGHT"]).into(),
        ],
        14 => vec!["RPOPLPUSH".into(), k, g.key()],
        15 => {
            let mut args =
                vec!["LMPOP".into(), "2".into(), k, g.key(), g.pick(&["LEFT", "RIGHT"]).into()];
            if g.chance(50) {
                args.extend(["COUNT".into(), g.int(0, 3)]);
            }
            args
        }
        // Data is there or it is not: with a tiny timeout neither server waits long.
        16 => vec![g.pick(&["BLPOP", "BRPOP"]).into(), k, g.key(), "0.01".into()],
        17 => vec!["BLMOVE".into(), k, g.key(), "LEFT".into(), "RIGHT".into(), "0.01".into()],
        18 => vec!["OBJECT".into(), "ENCODING".into(), k],
        _ => vec!["LLEN".into(), g.key()],
    };
    ordered(args)
}

fn geo(g: &mut Gen) -> Command {
    let k = if g.chance(70) { format!("geo{}", g.rng.random_range(0..2)) } else { g.key() };
    let lon = |g: &mut Gen| format!("{}.{}", g.int(-180, 179), g.int(0, 999_999));
    let lat = |g: &mut Gen| format!("{}.{}", g.int(-85, 84), g.int(0, 999_999));
    let place = |g: &mut Gen| format!("p{}", g.rng.random_range(0..8));
    let args: Vec<String> = match g.rng.random_range(0..8) {
        0 | 1 => {
            let mut args = vec!["GEOADD".into(), k];
            if g.chance(20) {
                args.push(g.pick(&["NX", "XX", "CH"]).into());
            }
            args.extend([lon(g), lat(g), place(g)]);
            args
        }
        2 => vec!["GEOPOS".into(), k, place(g), place(g)],
        3 => vec!["GEODIST".into(), k, place(g), place(g), g.pick(&["m", "km", "mi", "ft"]).into()],
        4 => vec!["GEOHASH".into(), k, place(g), place(g)],
        5 => vec![
            "GEOSEARCH".into(),
            k,
            "FROMLONLAT".into(),
            lon(g),
            lat(g),
            "BYRADIUS".into(),
            g.int(1, 20000),
            "km".into(),
            "ASC".into(),
            "WITHCOORD".into(),
            "WITHDIST".into(),
            "WITHHASH".into(),
        ],
        6 => vec![
            "GEOSEARCH".into(),
            k,
            "FROMMEMBER".into(),
            place(g),
            "BYBOX".into(),
            g.int(1, 20000),
            g.int(1, 20000),
            "km".into(),
            "DESC".into(),
            "COUNT".into(),
            g.int(1, 3),
        ],
        _ => vec![
            "GEORADIUS".into(),
            k,
            lon(g),
            lat(g),
            g.int(1, 5000),
            "km".into(),
            "WITHDIST".into(),
            "ASC".into(),
        ],
    };
    ordered(args)
}

/// A transaction of a few commands from the other generators, sometimes doomed by a
/// queuing error, sometimes discarded.
fn transaction(g: &mut Gen) -> Vec<Command> {
    let mut cmds = vec![ordered(vec!["MULTI".into()])];
    for _ in 0..g.rng.random_range(0..4) {
        let family = FAMILIES[g.rng.random_range(0..FAMILIES.len())];
        let c = family(g);
        // EXEC's reply is compared as a whole: leave out replies of unspecified order.
        if !c.unordered {
            cmds.push(c);
        }
    }
    if g.chance(10) {
        cmds.push(ordered(vec!["SET".into()]));
    }
    let end = if g.chance(15) { "DISCARD" } else { "EXEC" };
    cmds.push(ordered(vec![end.into()]));
    cmds
}

/// The family generators run by the test.
const FAMILIES: &[fn(&mut Gen) -> Command] = &[strings, keyspace, zsets, hashes, sets, lists, geo];

/// Encoding limits set at the start of a run.
const SMALL_LIMITS: &[(&str, &str)] = &[
    ("zset-max-listpack-entries", "8"),
    ("hash-max-listpack-entries", "8"),
    ("set-max-intset-entries", "8"),
];

/// Sends one command and reads exactly one reply frame.
fn call(s: &mut TcpStream, buf: &mut BytesMut, args: &[String]) -> Frame {
    let frame = Frame::command(args.iter().map(|a| bytes::Bytes::from(a.clone())));
    s.write_all(&frame.to_bytes()).expect("write");
    let limits = FrameLimits::default();
    loop {
        if let Some(f) = Frame::parse(buf, &limits).expect("valid RESP") {
            return f;
        }
        let mut chunk = [0u8; 65536];
        let n = s.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed after {args:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sorts the elements of a collection reply (pairs stay together for maps).
fn normalize(frame: Frame) -> Frame {
    match frame {
        Frame::Array(mut items) | Frame::Set(mut items) => {
            items.sort_by_key(|f| f.to_bytes().to_vec());
            Frame::Array(items)
        }
        Frame::Map(mut pairs) => {
            pairs.sort_by_key(|(k, _)| k.to_bytes().to_vec());
            Frame::Map(pairs)
        }
        other => other,
    }
}

fn run(seed: u64, commands: usize, resp3: bool) {
    let reference = start_reference_redis();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ours = runtime.block_on(start_server());
    let mut a = TcpStream::connect(("127.0.0.1", reference.port)).unwrap();
    let mut b = TcpStream::connect(ours.addr).unwrap();
    for s in [&a, &b] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    let (mut abuf, mut bbuf) = (BytesMut::new(), BytesMut::new());
    if resp3 {
        call(&mut a, &mut abuf, &["HELLO".into(), "3".into()]);
        call(&mut b, &mut bbuf, &["HELLO".into(), "3".into()]);
    }
    // Small compact-encoding limits, so that conversions happen on small keys too.
    for (name, value) in SMALL_LIMITS {
        let args = ["CONFIG".to_string(), "SET".into(), name.to_string(), value.to_string()];
        call(&mut a, &mut abuf, &args);
        call(&mut b, &mut bbuf, &args);
    }
    let mut g = Gen { rng: StdRng::seed_from_u64(seed) };
    let started = Instant::now();
    let mut sent = 0;
    while sent < commands && started.elapsed() < TIME_LIMIT {
        let batch = if g.chance(5) {
            transaction(&mut g)
        } else {
            let family = FAMILIES[g.rng.random_range(0..FAMILIES.len())];
            vec![family(&mut g)]
        };
        for c in batch {
            sent += 1;
            let (mut want, mut got) =
                (call(&mut a, &mut abuf, &c.args), call(&mut b, &mut bbuf, &c.args));
            if c.unordered {
                want = normalize(want);
                got = normalize(got);
            }
            assert!(
                want.to_bytes() == got.to_bytes(),
                "replies differ (seed {seed}, resp3 {resp3}, command #{sent}): {:?}\nredis: {:?}\nours:  {:?}\nreplay with DIFF_SEED={seed}",
                c.args,
                String::from_utf8_lossy(&want.to_bytes()),
                String::from_utf8_lossy(&got.to_bytes()),
            );
        }
    }
    assert!(sent > 100, "only {sent} commands ran in the time limit");
}

fn seed() -> u64 {
    std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random())
}

fn command_count() -> usize {
    std::env::var("DIFF_COMMANDS").ok().and_then(|s| s.parse().ok()).unwrap_or(4000)
}

#[test]
fn random_commands_reply_as_redis_does_resp2() {
    let seed = seed();
    eprintln!("differential test seed: {seed} (DIFF_SEED={seed} replays it)");
    run(seed, command_count(), false);
}

#[test]
fn random_commands_reply_as_redis_does_resp3() {
    let seed = seed();
    eprintln!("differential test seed: {seed} (DIFF_SEED={seed} replays it)");
    run(seed, command_count(), true);
}

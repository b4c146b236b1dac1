//! Read-only aggregates across slots (SINTER, SUNION, SDIFF, SINTERCARD, ZUNION, ZINTER, ZDIFF,
//! ZINTERCARD, PFCOUNT) computed by the proxy, compared with redis-server holding the same data.

use std::time::Duration;

use protocol::Frame;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::util::*;

/// Sorts the elements of a set reply (the order of a set's members is unspecified).
fn normalized(name: &str, f: Frame) -> Frame {
    let set_reply = matches!(name, "SINTER" | "SUNION" | "SDIFF");
    match f {
        Frame::Array(mut v) | Frame::Set(mut v) if set_reply => {
            v.sort_by_key(|e| format!("{e:?}"));
            Frame::Array(v)
        }
        f => f,
    }
}

/// The same command on the proxy and on redis-server, in both protocols.
struct Pair {
    proxy: [TcpStream; 2],
    model: [TcpStream; 2],
}

impl Pair {
    async fn new(proxy: &TestProxy, model: &RedisServer) -> Pair {
        let mut p3 = proxy.raw().await;
        let mut m3 = TcpStream::connect(model.addr).await.unwrap();
        for s in [&mut p3, &mut m3] {
            assert!(matches!(must_frame(s, &[b"HELLO", b"3"]).await, Frame::Map(_)));
        }
        Pair {
            proxy: [proxy.raw().await, p3],
            model: [TcpStream::connect(model.addr).await.unwrap(), m3],
        }
    }

    /// Runs a write on both (RESP2 connections).
    async fn write(&mut self, args: &[String]) {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let p = must_frame(&mut self.proxy[0], &a).await;
        let m = must_frame(&mut self.model[0], &a).await;
        assert_eq!(p, m, "{args:?}");
    }

    /// Runs a read on both, in both protocols; the replies must agree. Whether the reply has
    /// content (not an error, not empty, not 0).
    async fn compare(&mut self, args: &[String], seed: u64) -> bool {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let mut content = false;
        for v in 0..2 {
            let p = normalized(&args[0], must_frame(&mut self.proxy[v], &a).await);
            let m = normalized(&args[0], must_frame(&mut self.model[v], &a).await);
            assert_eq!(p, m, "RESP{}: {args:?} (seed {seed})", v + 2);
            content = match p {
                Frame::Array(v) => !v.is_empty(),
                Frame::Integer(n) => n > 0,
                _ => false,
            };
        }
        content
    }
}

const KEYS: usize = 10;

/// Random sets and sorted sets on keys spread over the three shards (plus two that share a
/// slot, so the single-slot path is compared too), a string and a missing key.
async fn fill(pair: &mut Pair, rng: &mut StdRng) {
    pair.write(&["FLUSHALL".into()]).await;
    for k in 0..KEYS {
        let key = key_name(k);
        let members: Vec<String> =
            (0..rng.random_range(1..9)).map(|_| format!("m{}", rng.random_range(0..12))).collect();
        match k % 5 {
            0 | 1 => {
                let mut cmd = vec!["SADD".to_string(), key];
                cmd.extend(members);
                pair.write(&cmd).await;
            }
            2 | 3 => {
                let mut cmd = vec!["ZADD".to_string(), key];
                for m in members {
                    // Halves: every sum is exact, whatever order Redis adds in. Never 0, and
                    // no weight 0 below: the partition server orders -0 before 0 where Redis
                    // takes them as equal (the proxy does as Redis).
                    let half = [-6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6][rng.random_range(0..12)];
                    cmd.push(format!("{}", half as f64 / 2.0));
                    cmd.push(m);
                }
                pair.write(&cmd).await;
            }
            _ if k == 4 => pair.write(&["SET".into(), key, "x".into()]).await,
            _ => {} // missing
        }
    }
    // HyperLogLogs, sparse and (past 3000 bytes of sparse encoding) dense.
    for h in 0..4 {
        let mut cmd = vec!["PFADD".to_string(), format!("h{h}")];
        let n = if rng.random_bool(0.3) { 4000 } else { rng.random_range(1..60) };
        let base = rng.random_range(0..5000);
        cmd.extend((0..n).map(|i| format!("e{}", base + i)));
        pair.write(&cmd).await;
    }
}

fn key_name(k: usize) -> String {
    match k {
        // Same slot: forwarded as they are.
        8 | 9 => format!("{{tag}}k{k}"),
        _ => format!("k{k}"),
    }
}

fn random_keys(rng: &mut StdRng) -> Vec<String> {
    (0..rng.random_range(1..5)).map(|_| key_name(rng.random_range(0..KEYS))).collect()
}

fn random_command(rng: &mut StdRng) -> Vec<String> {
    if rng.random_bool(0.1) {
        let mut cmd = vec!["PFCOUNT".to_string()];
        for _ in 0..rng.random_range(1..5) {
            // Now and then a set or a string: WRONGTYPE.
            cmd.push(match rng.random_range(0..12) {
                0 => key_name(0),
                1 => key_name(4),
                n => format!("h{}", n % 5),
            });
        }
        return cmd;
    }
    let keys = random_keys(rng);
    let n = keys.len().to_string();
    let mut cmd: Vec<String> = Vec::new();
    let name =
        ["SINTER", "SUNION", "SDIFF", "SINTERCARD", "ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"]
            [rng.random_range(0..8)];
    cmd.push(name.into());
    match name {
        "SINTER" | "SUNION" | "SDIFF" => cmd.extend(keys),
        "SINTERCARD" | "ZINTERCARD" => {
            cmd.push(n);
            cmd.extend(keys);
            if rng.random_bool(0.5) {
                cmd.extend(["LIMIT".into(), rng.random_range(0..4).to_string()]);
            }
        }
        _ => {
            cmd.push(n);
            let count = keys.len();
            cmd.extend(keys);
            if name != "ZDIFF" && rng.random_bool(0.4) {
                cmd.push("WEIGHTS".into());
                for _ in 0..count {
                    cmd.push(["1", "2", "0.5", "-1", "3"][rng.random_range(0..5)].into());
                }
            }
            if name != "ZDIFF" && rng.random_bool(0.4) {
                cmd.extend([
                    "AGGREGATE".into(),
                    ["SUM", "MIN", "max"][rng.random_range(0..3)].into(),
                ]);
            }
            if rng.random_bool(0.6) {
                cmd.push("WITHSCORES".into());
            }
        }
    }
    cmd
}

#[tokio::test]
async fn random_aggregates_across_slots_answer_as_redis_server() {
    let c = start_cluster().await;
    let model = start_redis_server().await;
    let mut pair = Pair::new(&c.proxy, &model).await;
    let seed: u64 = std::env::var("AGG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("aggregate model seed {seed} (AGG_SEED={seed} repeats it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut commands, mut with_content) = (0, 0);
    for _round in 0..12 {
        if Instant::now() > deadline {
            break;
        }
        fill(&mut pair, &mut rng).await;
        for _ in 0..40 {
            let cmd = random_command(&mut rng);
            with_content += usize::from(pair.compare(&cmd, seed).await);
            commands += 1;
        }
    }
    assert!(commands >= 40, "only {commands} commands ran before the deadline");
    // Not only errors and empty replies were compared.
    assert!(with_content * 4 >= commands, "{with_content} of {commands} replies had content");
}

#[tokio::test]
async fn edge_cases_answer_as_redis_server() {
    let c = start_cluster().await;
    let model = start_redis_server().await;
    let mut pair = Pair::new(&c.proxy, &model).await;
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for w in [
        &["ZADD", "za", "inf", "a", "-inf", "b", "1", "c"][..],
        &["ZADD", "zb", "-inf", "a", "inf", "b", "2", "d"],
        &["SADD", "sa", "a", "c", "e"],
        &["SET", "str", "x"],
        &["RPUSH", "list", "x"],
        &["PFADD", "h1", "a", "b", "c"],
        &["PFADD", "h2", "c", "d", "e", "f"],
    ] {
        pair.write(&s(w)).await;
    }
    // Big enough to be dense on both.
    let mut big = vec!["PFADD".to_string(), "h3".into()];
    big.extend((0..3000).map(|i| format!("e{i}")));
    pair.write(&big).await;
    for cmd in [
        // +inf + -inf is 0; sets are scored 1; a set among sorted sets.
        &["ZUNION", "2", "za", "zb", "WITHSCORES"][..],
        &["ZUNION", "3", "za", "zb", "sa", "WITHSCORES"],
        &["ZINTER", "2", "za", "sa", "WITHSCORES"],
        &["ZINTER", "2", "za", "zb", "WEIGHTS", "0", "1", "WITHSCORES"],
        &["ZDIFF", "2", "sa", "za", "WITHSCORES"],
        &["ZINTERCARD", "2", "za", "zb", "LIMIT", "1"],
        // Errors, and their order: WRONGTYPE before a bad option.
        &["ZUNION", "2", "za", "str", "WEIGHTS", "x", "1"],
        &["ZUNION", "2", "za", "zb", "WEIGHTS", "x", "1"],
        &["ZUNION", "2", "za", "zb", "AGGREGATE", "avg"],
        &["ZUNION", "0", "za"],
        &["ZDIFF", "2", "za", "zb", "WEIGHTS", "1", "1"],
        &["ZINTERCARD", "2", "za", "zb", "LIMIT", "-1"],
        &["SINTERCARD", "2", "sa", "za"],
        &["SINTERCARD", "5", "sa", "za"],
        &["SINTERCARD", "2", "sa", "missing", "LIMIT", "x"],
        &["SUNION", "sa", "list"],
        &["SINTER", "missing", "list"],
        &["SDIFF", "missing", "sa"],
        // HyperLogLogs: sparse and dense merged, missing keys, not a sketch, not a string.
        &["PFCOUNT", "h1", "h2"],
        &["PFCOUNT", "h1", "h2", "h3", "missing"],
        &["PFCOUNT", "h1", "str"],
        &["PFCOUNT", "h1", "list"],
        &["PFCOUNT", "missing", "nothing"],
    ] {
        pair.compare(&s(cmd), 0).await;
    }
    // These really went across slots.
    let slots: std::collections::HashSet<u16> = ["za", "zb", "sa", "h1", "h2", "h3"]
        .iter()
        .map(|k| protocol::key_hash_slot(k.as_bytes()))
        .collect();
    assert!(slots.len() > 1);
}

#[tokio::test]
async fn a_pipeline_sees_its_own_writes_and_the_cap_is_enforced() {
    let c = start_cluster().await;
    let (a, b) = ("k1", "k2");
    assert_ne!(even_owner(a.as_bytes(), 3), even_owner(b.as_bytes(), 3));
    let mut s = c.proxy.raw().await;
    let mut pipeline = resp(&["SADD", a, "x"]);
    pipeline.extend(resp(&["SADD", b, "y"]));
    pipeline.extend(resp(&["SINTERCARD", "2", a, b]));
    pipeline.extend(resp(&["SADD", b, "x"]));
    pipeline.extend(resp(&["SINTER", a, b]));
    let want = b":1\r\n:1\r\n:0\r\n:1\r\n*1\r\n$1\r\nx\r\n";
    let got = must_exchange(&mut s, &pipeline, want.len()).await;
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));

    // A cap of 100 bytes: a small union fits, a big one is refused with a clear error.
    let limited = start_proxy(
        &even_table(1, &c.partitions.iter().map(|p| p.addr).collect::<Vec<_>>()),
        |cfg| cfg.aggregate_max_bytes = 100,
    )
    .await;
    let mut s = limited.raw().await;
    must_send(&mut s, &["SCARD", a], b":1\r\n").await;
    let got = must_exchange(&mut s, &resp(&["SUNION", a, b]), 18).await;
    assert!(got.starts_with(b"*2\r\n"), "{}", String::from_utf8_lossy(&got));
    let mut sadd = vec!["SADD".to_string(), a.to_string()];
    sadd.extend((0..50).map(|i| format!("member-{i}")));
    let sadd: Vec<&str> = sadd.iter().map(String::as_str).collect();
    must_send(&mut s, &sadd, b":50\r\n").await;
    let got = String::from_utf8(must_exchange(&mut s, &resp(&["SUNION", a, b]), 60).await).unwrap();
    assert!(
        got.starts_with("-ERR the keys of 'sunion' hold more than 100 bytes")
            && got.contains("--aggregate-max-bytes"),
        "{got}"
    );
    // The connection still works.
    must_send(&mut s, &["SCARD", b], b":2\r\n").await;
}

#[tokio::test]
async fn fetches_follow_redirections() {
    // The proxy's table puts every slot on A; A owns only 0-8191 and redirects the rest to B.
    let (a, b) = start_fenced_pair().await;
    let proxy = start_proxy(&even_table(1, &[a.addr]), |_| {}).await;
    let (low, high) = ("k2", "k1");
    assert!(protocol::key_hash_slot(low.as_bytes()) <= 8191);
    assert!(protocol::key_hash_slot(high.as_bytes()) > 8191);
    let mut ca = a.client().await;
    let mut cb = b.client().await;
    let _: () = cmd(&mut ca, &["ZADD", low, "1", "x", "2", "y"]).await.unwrap();
    let _: () = cmd(&mut cb, &["ZADD", high, "5", "y"]).await.unwrap();
    let mut s = proxy.raw().await;
    must_send(
        &mut s,
        &["ZUNION", "2", low, high, "WITHSCORES"],
        b"*4\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n7\r\n",
    )
    .await;
}

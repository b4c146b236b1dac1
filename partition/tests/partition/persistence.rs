//! Persistence: the AOF survives a restart with every kind of write (including the ones that
//! are propagated in another form), rewrites lose nothing, torn tails are cut and corruption
//! refuses to start, a failing disk refuses writes with -MISCONF, and snapshots load.

use std::path::Path;
use std::time::Duration;

use crate::util::*;

/// INFO persistence as name → value.
async fn persistence_info(con: &mut redis::aio::MultiplexedConnection) -> Vec<(String, String)> {
    let text: String = cmd(con, &["INFO", "persistence"]).await.unwrap();
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

async fn info_field(con: &mut redis::aio::MultiplexedConnection, name: &str) -> String {
    persistence_info(con)
        .await
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("INFO persistence has no {name}"))
}

/// Waits until INFO persistence shows `name:value`.
async fn must_see_info(con: &mut redis::aio::MultiplexedConnection, name: &str, value: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if info_field(con, name).await == value {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "INFO never showed {name}:{value}: {:?}",
            persistence_info(con).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn aof_args(dir: &Path, fsync: &str) -> Vec<String> {
    vec![
        "--dir".into(),
        dir.display().to_string(),
        "--appendonly".into(),
        "yes".into(),
        "--appendfsync".into(),
        fsync.into(),
    ]
}

async fn start_in(args: &[String]) -> TestServer {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    start_server_with(&args).await
}

/// A dump of everything observable about the dataset: every key with its type, value and
/// whether it has a TTL. Two servers with equal dumps hold the same data.
async fn dump(con: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
    let mut keys: Vec<String> = cmd(con, &["KEYS", "*"]).await.unwrap();
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let t: String = cmd(con, &["TYPE", &k]).await.unwrap();
        let v = match t.as_str() {
            "string" => format!("{:?}", cmd::<Vec<u8>>(con, &["GET", &k]).await.unwrap()),
            "list" => {
                format!("{:?}", cmd::<Vec<String>>(con, &["LRANGE", &k, "0", "-1"]).await.unwrap())
            }
            "set" => {
                let mut m: Vec<String> = cmd(con, &["SMEMBERS", &k]).await.unwrap();
                m.sort();
                format!("{m:?}")
            }
            "zset" => format!(
                "{:?}",
                cmd::<Vec<String>>(con, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]).await.unwrap()
            ),
            "hash" => {
                let mut m: Vec<(String, String)> = cmd(con, &["HGETALL", &k]).await.unwrap();
                m.sort();
                format!("{m:?}")
            }
            other => panic!("unexpected type {other}"),
        };
        let ttl: i64 = cmd(con, &["PTTL", &k]).await.unwrap();
        out.push(format!("{k} {t} {v} ttl={}", ttl > 0));
    }
    out
}

/// Writes of every kind the AOF must replay faithfully, including those propagated in
/// another form (relative TTLs, random pops, float increments, served blocking pops, EXEC).
async fn write_everything(srv: &TestServer) {
    let mut con = srv.client().await;
    let mut s = srv.raw().await;
    for args in [
        &["SET", "str", "hello"][..],
        &["APPEND", "str", " world"],
        &["SET", "ttl", "x", "EX", "1000"],
        &["SETEX", "setex", "1000", "y"],
        &["SET", "gone", "z", "PX", "1"],
        &["INCR", "counter"],
        &["INCRBY", "counter", "41"],
        &["INCRBYFLOAT", "float", "1.1"],
        &["INCRBYFLOAT", "float", "2.2"],
        &["EXPIRE", "counter", "5000"],
        &["PERSIST", "counter"],
        &["RPUSH", "list", "a", "b", "c", "d"],
        &["LPOP", "list"],
        &["SADD", "set", "1", "2", "3", "4", "5", "6"],
        &["SPOP", "set"],
        &["SPOP", "set", "2"],
        &["HSET", "hash", "f1", "v1", "f2", "v2"],
        &["HINCRBYFLOAT", "hash", "n", "0.5"],
        &["ZADD", "zset", "1", "a", "2", "b", "3.5", "c"],
        &["ZINCRBY", "zset", "0.25", "a"],
        &["ZPOPMIN", "zset"],
        &["PFADD", "hll", "a", "b", "c"],
        &["SETBIT", "bits", "7", "1"],
        &["DEL", "nothing"],
        &["COPY", "str", "str2"],
        &["RENAME", "str2", "str3"],
    ] {
        let _: redis::Value = cmd(&mut con, args).await.unwrap();
    }
    // A transaction.
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["INCR", "tx"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["RPUSH", "txlist", "x"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["EXEC"], b"*2\r\n:1\r\n:1\r\n").await;
    // A blocking pop served by a later push.
    let mut waiter = srv.raw().await;
    waiter.write_all(&resp(&["BLPOP", "queue", "0"])).await.unwrap();
    must_wait_for(
        Duration::from_secs(5),
        || srv.server.lock().blocked.len() == 1,
        "BLPOP to block",
    )
    .await;
    let _: i64 = cmd(&mut con, &["RPUSH", "queue", "first", "second"]).await.unwrap();
    let got = must_read(&mut waiter, 26).await;
    assert_eq!(got, b"*2\r\n$5\r\nqueue\r\n$5\r\nfirst\r\n");
    // BLMOVE served at once.
    let _: String =
        cmd(&mut con, &["BLMOVE", "queue", "moved", "LEFT", "RIGHT", "0"]).await.unwrap();
    // The PX 1 key has expired by now; reading it deletes it (propagated as DEL).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let gone: Option<String> = cmd(&mut con, &["GET", "gone"]).await.unwrap();
    assert_eq!(gone, None);
}

use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn the_aof_brings_back_every_kind_of_write() {
    let dir = test_dir();
    let srv = start_in(&aof_args(&dir, "everysec")).await;
    write_everything(&srv).await;
    let mut con = srv.client().await;
    let before = dump(&mut con).await;
    assert_eq!(before.len(), 15, "{before:?}");
    drop(con);
    srv.stop().await.unwrap();

    let srv = start_in(&aof_args(&dir, "everysec")).await;
    let mut con = srv.client().await;
    assert_eq!(dump(&mut con).await, before);
    // Relative TTLs were stored as deadlines: still in the future, not restarted.
    let ttl: i64 = cmd(&mut con, &["PTTL", "ttl"]).await.unwrap();
    assert!(ttl > 990_000 && ttl <= 1_000_000, "{ttl}");
}

#[tokio::test]
async fn relative_expiries_are_stored_as_deadlines() {
    let dir = test_dir();
    let srv = start_in(&aof_args(&dir, "always")).await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "k", "v", "EX", "100"]).await.unwrap();
    let _: i64 = cmd(&mut con, &["EXPIRE", "k", "200"]).await.unwrap();
    let _: i64 = cmd(&mut con, &["SADD", "s", "only"]).await.unwrap();
    let _: String = cmd(&mut con, &["SPOP", "s"]).await.unwrap();
    let text =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    assert!(!text.contains("EX\r\n") && !text.contains("EXPIRE\r\n"), "{text:?}");
    assert!(text.contains("PXAT") && text.contains("PEXPIREAT"), "{text:?}");
    assert!(text.contains("SREM") && !text.contains("SPOP"), "{text:?}");
}

#[tokio::test]
async fn a_torn_last_command_is_cut_off_and_the_rest_loads() {
    let dir = test_dir();
    let srv = start_in(&aof_args(&dir, "always")).await;
    let mut con = srv.client().await;
    for i in 0..100 {
        let _: () = cmd(&mut con, &["SET", &format!("k{i}"), &i.to_string()]).await.unwrap();
    }
    drop(con);
    srv.stop().await.unwrap();
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let valid = std::fs::metadata(&incr).unwrap().len();
    // A power cut in the middle of the next command, and one inside an unfinished MULTI.
    for tail in [
        &b"*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$2\r\nv"[..],
        b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nx\r\n",
    ] {
        let mut f = std::fs::OpenOptions::new().append(true).open(&incr).unwrap();
        std::io::Write::write_all(&mut f, tail).unwrap();
        drop(f);
        let srv = start_in(&aof_args(&dir, "always")).await;
        let mut con = srv.client().await;
        let n: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
        assert_eq!(n, 100);
        let v: String = cmd(&mut con, &["GET", "k99"]).await.unwrap();
        assert_eq!(v, "99");
        drop(con);
        srv.stop().await.unwrap();
        assert_eq!(std::fs::metadata(&incr).unwrap().len(), valid, "the tail was cut off");
    }
}

#[tokio::test]
async fn corruption_before_the_tail_refuses_to_start_and_says_where() {
    let dir = test_dir();
    let srv = start_in(&aof_args(&dir, "always")).await;
    let mut con = srv.client().await;
    for i in 0..10 {
        let _: () = cmd(&mut con, &["SET", &format!("k{i}"), "v"]).await.unwrap();
    }
    drop(con);
    srv.stop().await.unwrap();
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    let one = resp(&["SET", "k0", "v"]).len();
    // Garbage where the third command begins.
    bytes[2 * one] = b'?';
    std::fs::write(&incr, &bytes).unwrap();
    let args = aof_args(&dir, "always");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let config = test_config(&args);
    let server = partition::Server::new(config, 0);
    let err = partition::serve(server, vec![], std::future::pending()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("appendonly.aof.1.incr.aof"), "{text}");
    assert!(text.contains(&format!("at offset {}", 2 * one)), "{text}");
    // Nothing was cut off: the file is as it was.
    assert_eq!(std::fs::read(&incr).unwrap(), bytes);
}

#[tokio::test]
async fn a_rewrite_loses_no_write_made_while_it_runs() {
    let dir = test_dir();
    let srv = start_in(&aof_args(&dir, "everysec")).await;
    let mut con = srv.client().await;
    let mut pipe = redis::pipe();
    for i in 0..20_000 {
        pipe.cmd("SET").arg(format!("before:{i}")).arg(i).ignore();
    }
    let _: () = pipe.query_async(&mut con).await.unwrap();
    let reply: String = cmd(&mut con, &["BGREWRITEAOF"]).await.unwrap();
    assert_eq!(reply, "Background append only file rewriting started");
    // Writes while the child writes the new base.
    let mut during = 0;
    while info_field(&mut con, "aof_rewrite_in_progress").await == "1" || during < 100 {
        let _: i64 = cmd(&mut con, &["INCR", "during"]).await.unwrap();
        let _: () = cmd(&mut con, &["SET", &format!("during:{during}"), "x"]).await.unwrap();
        during += 1;
    }
    must_see_info(&mut con, "aof_rewrites", "1").await;
    assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status").await, "ok");
    let _: () = cmd(&mut con, &["SET", "after", "1"]).await.unwrap();
    drop(con);
    srv.stop().await.unwrap();
    // The old base and incremental files are gone; the manifest names the new ones.
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.2.base.snap seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!dir.join("appendonlydir/appendonly.aof.1.incr.aof").exists());

    let srv = start_in(&aof_args(&dir, "everysec")).await;
    let mut con = srv.client().await;
    let n: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    assert_eq!(n, 20_000 + during as i64 + 2);
    let counted: i64 = cmd(&mut con, &["GET", "during"]).await.unwrap();
    assert_eq!(counted, during as i64);
    let v: String = cmd(&mut con, &["GET", "before:19999"]).await.unwrap();
    assert_eq!(v, "19999");
}

#[tokio::test]
async fn the_aof_is_rewritten_automatically_once_it_grows() {
    let dir = test_dir();
    let mut args = aof_args(&dir, "no");
    args.extend(["--auto-aof-rewrite-min-size".into(), "100000".into()]);
    args.extend(["--auto-aof-rewrite-percentage".into(), "100".into()]);
    let srv = start_in(&args).await;
    let mut con = srv.client().await;
    // Overwriting one key grows the AOF but not the data: a rewrite shrinks it.
    for _ in 0..5_000 {
        let _: () =
            cmd(&mut con, &["SET", "k", "0123456789012345678901234567890123456789"]).await.unwrap();
    }
    // Once the writes stop, a rewrite brings the AOF down to about one key.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rewrites: u64 = info_field(&mut con, "aof_rewrites").await.parse().unwrap();
        let size: u64 = info_field(&mut con, "aof_current_size").await.parse().unwrap();
        if rewrites > 0 && size < 100_000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no rewrite shrank the AOF: {size}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let v: String = cmd(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(v.len(), 40);
}

/// A data directory whose AOF's incremental file is /dev/full: every write to it fails with
/// ENOSPC, as on a full disk (and it reads as empty, so the server starts).
fn full_disk_dir() -> std::path::PathBuf {
    let dir = test_dir();
    let aof_dir = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof_dir).unwrap();
    std::fs::write(aof_dir.join("appendonly.aof.manifest"), "file full.aof seq 1 type i\n")
        .unwrap();
    std::os::unix::fs::symlink("/dev/full", aof_dir.join("full.aof")).unwrap();
    dir
}

#[tokio::test]
async fn a_failing_disk_refuses_writes_with_misconf() {
    let dir = full_disk_dir();
    let srv = start_in(&aof_args(&dir, "everysec")).await;
    let mut con = srv.client().await;
    // everysec acknowledges at once; the write that then fails turns writes off.
    let _: () = cmd(&mut con, &["SET", "k", "v"]).await.unwrap();
    must_see_info(&mut con, "aof_last_write_status", "err").await;
    let err = cmd::<()>(&mut con, &["SET", "k2", "v"]).await.unwrap_err();
    assert_eq!(err.code(), Some("MISCONF"));
    assert_eq!(err.detail(), Some("Errors writing to the AOF file: No space left on device"));
    // PING too, as in Redis; reads still work.
    let err = cmd::<String>(&mut con, &["PING"]).await.unwrap_err();
    assert_eq!(err.code(), Some("MISCONF"));
    let v: String = cmd(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v");

    // Under `always` a write that cannot be synced is never acknowledged: the client is
    // disconnected without a reply.
    let dir = full_disk_dir();
    let srv = start_in(&aof_args(&dir, "always")).await;
    let mut s = srv.raw().await;
    s.write_all(&resp(&["SET", "k", "v"])).await.unwrap();
    assert!(closed_by_peer(&mut s).await, "no reply, the connection closes");
}

#[tokio::test]
async fn save_and_bgsave_write_a_snapshot_that_loads() {
    let dir = test_dir();
    let args = vec!["--dir".to_string(), dir.display().to_string()];
    let srv = start_in(&args).await;
    let mut con = srv.client().await;
    for i in 0..1000 {
        let _: () = cmd(&mut con, &["SET", &format!("k{i}"), &i.to_string()]).await.unwrap();
    }
    let before: i64 = cmd(&mut con, &["LASTSAVE"]).await.unwrap();
    let ok: String = cmd(&mut con, &["SAVE"]).await.unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(info_field(&mut con, "rdb_changes_since_last_save").await, "0");
    let _: () = cmd(&mut con, &["SET", "late", "1"]).await.unwrap();
    let started: String = cmd(&mut con, &["BGSAVE"]).await.unwrap();
    assert_eq!(started, "Background saving started");
    must_see_info(&mut con, "rdb_saves", "2").await;
    let stats: String = cmd(&mut con, &["INFO", "stats"]).await.unwrap();
    assert!(stats.contains("total_forks:1\r\n"), "{stats}");
    assert!(!stats.contains("latest_fork_usec:0\r\n"), "the fork's pause is measured");
    assert_eq!(info_field(&mut con, "rdb_last_bgsave_status").await, "ok");
    let after: i64 = cmd(&mut con, &["LASTSAVE"]).await.unwrap();
    assert!(after >= before);
    drop(con);
    srv.stop().await.unwrap();
    let srv = start_in(&args).await;
    let mut con = srv.client().await;
    let n: i64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    assert_eq!(n, 1001);
    let v: String = cmd(&mut con, &["GET", "k999"]).await.unwrap();
    assert_eq!(v, "999");
}

#[tokio::test]
async fn shutdown_saves_when_save_points_are_configured() {
    let dir = test_dir();
    let args =
        vec!["--dir".to_string(), dir.display().to_string(), "--save".into(), "3600 1".into()];
    let srv = start_in(&args).await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "k", "kept"]).await.unwrap();
    drop(con);
    srv.stop().await.unwrap();
    assert!(dir.join("dump.rdb").exists());
    let srv = start_in(&args).await;
    let mut con = srv.client().await;
    let v: String = cmd(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "kept");
}

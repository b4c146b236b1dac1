//! Replication: a replica made with REPLICAOF holds exactly its master's data (DEBUG DIGEST)
//! after a random workload of every type, is read-only, hides expired keys until its master's
//! DEL, resyncs partially after a short cut and fully once the backlog no longer covers the
//! gap, catches up after a restart; WAIT counts acknowledgements.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::util::*;

pub type Con = redis::aio::MultiplexedConnection;

pub async fn info_field(con: &mut Con, section: &str, name: &str) -> String {
    let text: String = cmd(con, &["INFO", section]).await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {name}: {text}"))
        .trim()
        .to_string()
}

pub async fn offset(con: &mut Con) -> u64 {
    info_field(con, "replication", "master_repl_offset").await.parse().unwrap()
}

/// Waits until the replica has applied everything the master wrote.
pub async fn must_catch_up(master: &mut Con, replica: &mut Con) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (m, r) = (offset(master).await, offset(replica).await);
        let up = info_field(replica, "replication", "master_link_status").await == "up";
        if up && m == r {
            return;
        }
        assert!(Instant::now() < deadline, "the replica did not catch up: master {m}, replica {r}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn digest(con: &mut Con) -> String {
    cmd(con, &["DEBUG", "DIGEST"]).await.unwrap()
}

pub async fn start_master(extra: &[&str]) -> TestServer {
    let mut args = vec!["--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    start_server_with(&args).await
}

/// A replica of `master_port` (started with `--replicaof`).
pub async fn start_replica(master_port: u16, extra: &[&str]) -> TestServer {
    let port = master_port.to_string();
    let mut args = vec!["--enable-debug-command", "yes", "--replicaof", "127.0.0.1", &port];
    args.extend_from_slice(extra);
    start_server_with(&args).await
}

/// A seeded random workload over every data type, expiries and transactions.
pub async fn random_writes(con: &mut Con, seed: u64, n: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..n {
        let k = format!("k{}", rng.random_range(0..50));
        let m = format!("m{}", rng.random_range(0..20));
        let v = rng.random_range(0..1000).to_string();
        let args: Vec<String> = match rng.random_range(0..22) {
            0 => vec!["SET".into(), format!("s{k}"), v],
            1 => vec!["INCRBY".into(), format!("n{k}"), v],
            2 => vec!["INCRBYFLOAT".into(), format!("f{k}"), "0.1".into()],
            3 => vec!["APPEND".into(), format!("s{k}"), v],
            4 => vec!["RPUSH".into(), format!("l{k}"), v, m],
            5 => vec!["LPOP".into(), format!("l{k}")],
            6 => vec!["LTRIM".into(), format!("l{k}"), "0".into(), "5".into()],
            7 => vec!["SADD".into(), format!("t{k}"), m, v],
            8 => vec!["SPOP".into(), format!("t{k}")],
            9 => vec!["SREM".into(), format!("t{k}"), m],
            10 => vec!["HSET".into(), format!("h{k}"), m, v],
            11 => vec!["HINCRBYFLOAT".into(), format!("h{k}"), "x".into(), "1.5".into()],
            12 => vec!["HDEL".into(), format!("h{k}"), m],
            13 => vec!["ZADD".into(), format!("z{k}"), v, m],
            14 => vec!["ZINCRBY".into(), format!("z{k}"), "2.5".into(), m],
            15 => vec!["ZPOPMAX".into(), format!("z{k}")],
            16 => vec!["PFADD".into(), format!("p{k}"), m, v],
            17 => vec!["EXPIRE".into(), format!("s{k}"), "1000".into()],
            18 => vec!["SET".into(), format!("e{i}"), v, "PX".into(), "1".into()],
            19 => vec!["DEL".into(), format!("l{k}")],
            20 => vec!["SINTERSTORE".into(), format!("t{k}"), format!("t{k}"), "tk1".into()],
            _ => vec!["SETBIT".into(), format!("b{k}"), v, "1".into()],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Type errors are part of the workload: they change nothing on either side.
        let _: redis::RedisResult<redis::Value> = cmd(con, &args).await;
    }
    let mut pipe = redis::pipe();
    pipe.cmd("MULTI").cmd("INCR").arg("tx").cmd("LPUSH").arg("txl").arg("a").cmd("EXEC");
    let _: redis::Value = pipe.query_async(con).await.unwrap();
    // Touch the keys that expired, so the master deletes them and says so.
    for i in 0..n {
        let _: Option<String> = cmd(con, &["GET", &format!("e{i}")]).await.unwrap();
    }
}

#[tokio::test]
async fn a_replica_holds_exactly_its_masters_data() {
    let master = start_master(&[]).await;
    let mut m = master.client().await;
    // Data from before the replica existed comes in the snapshot of a full resync.
    random_writes(&mut m, 1, 300).await;
    let replica = start_replica(master.port(), &[]).await;
    let mut r = replica.client().await;
    must_catch_up(&mut m, &mut r).await;
    assert_eq!(digest(&mut r).await, digest(&mut m).await);
    // Then the stream.
    random_writes(&mut m, 2, 1000).await;
    must_catch_up(&mut m, &mut r).await;
    let d = digest(&mut m).await;
    assert_ne!(d, "0".repeat(40));
    assert_eq!(digest(&mut r).await, d);
    assert_eq!(info_field(&mut r, "replication", "role").await, "slave");
    assert_eq!(info_field(&mut m, "replication", "connected_slaves").await, "1");
    assert_eq!(info_field(&mut m, "stats", "sync_full").await, "1");
    let slave0 = info_field(&mut m, "replication", "slave0").await;
    assert!(slave0.contains(&format!("port={},state=online", replica.port())), "{slave0}");
    let role: redis::Value = cmd(&mut r, &["ROLE"]).await.unwrap();
    assert!(format!("{role:?}").contains("connected"), "{role:?}");
}

#[tokio::test]
async fn replicas_are_read_only_and_serve_reads() {
    let master = start_master(&[]).await;
    let replica = start_replica(master.port(), &[]).await;
    let (mut m, mut r) = (master.client().await, replica.client().await);
    let _: () = cmd(&mut m, &["SET", "k", "v"]).await.unwrap();
    must_catch_up(&mut m, &mut r).await;
    let v: String = cmd(&mut r, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v");
    let err = cmd::<()>(&mut r, &["SET", "k", "w"]).await.unwrap_err();
    assert_eq!(err.code(), Some("READONLY"));
    assert_eq!(err.detail(), Some("You can't write against a read only replica."));
    let err = cmd::<i64>(&mut r, &["WAIT", "1", "10"]).await.unwrap_err();
    assert!(err.to_string().contains("WAIT cannot be used with replica instances"), "{err}");
}

#[tokio::test]
async fn a_replica_hides_expired_keys_until_its_master_deletes_them() {
    let master = start_master(&[]).await;
    let replica = start_replica(master.port(), &[]).await;
    let (mut m, mut r) = (master.client().await, replica.client().await);
    let _: () = cmd(&mut m, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]).await.unwrap();
    // Synced first, so that the key arrives through the stream.
    must_catch_up(&mut m, &mut r).await;
    let _: () = cmd(&mut m, &["SET", "k", "v", "PX", "100"]).await.unwrap();
    must_catch_up(&mut m, &mut r).await;
    let deadline = Instant::now() + Duration::from_millis(150);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Past its deadline: absent for readers, but still held, since the master has not
    // deleted it yet.
    let v: Option<String> = cmd(&mut r, &["GET", "k"]).await.unwrap();
    assert_eq!(v, None);
    let n: i64 = cmd(&mut r, &["DBSIZE"]).await.unwrap();
    assert_eq!(n, 1);
    // The master's lazy expiry deletes it and the DEL reaches the replica.
    let v: Option<String> = cmd(&mut m, &["GET", "k"]).await.unwrap();
    assert_eq!(v, None);
    must_catch_up(&mut m, &mut r).await;
    let n: i64 = cmd(&mut r, &["DBSIZE"]).await.unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn wait_counts_replicas_that_acknowledged() {
    let master = start_master(&[]).await;
    let mut m = master.client().await;
    let n: i64 = cmd(&mut m, &["WAIT", "1", "50"]).await.unwrap();
    assert_eq!(n, 0, "no replica yet: times out with 0");
    let replica = start_replica(master.port(), &[]).await;
    let mut r = replica.client().await;
    must_catch_up(&mut m, &mut r).await;
    let _: () = cmd(&mut m, &["SET", "k", "v"]).await.unwrap();
    let n: i64 = cmd(&mut m, &["WAIT", "1", "5000"]).await.unwrap();
    assert_eq!(n, 1);
    let v: String = cmd(&mut r, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v", "WAIT returned after the replica applied the write");
    // Replies after WAIT in the same pipeline come after WAIT's.
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("a").arg("1").cmd("WAIT").arg(1).arg(5000).cmd("GET").arg("a");
    let (ok, acked, a): (String, i64, String) = pipe.query_async(&mut m).await.unwrap();
    assert_eq!((ok.as_str(), acked, a.as_str()), ("OK", 1, "1"));
}

#[tokio::test]
async fn replicaof_no_one_promotes_and_keeps_the_history() {
    let master = start_master(&[]).await;
    let replica = start_replica(master.port(), &[]).await;
    let (mut m, mut r) = (master.client().await, replica.client().await);
    random_writes(&mut m, 3, 200).await;
    must_catch_up(&mut m, &mut r).await;
    let old_id = info_field(&mut m, "replication", "master_replid").await;
    let at = offset(&mut r).await;
    let ok: String = cmd(&mut r, &["REPLICAOF", "NO", "ONE"]).await.unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(info_field(&mut r, "replication", "role").await, "master");
    assert_eq!(info_field(&mut r, "replication", "master_replid2").await, old_id);
    assert_eq!(info_field(&mut r, "replication", "second_repl_offset").await, (at + 1).to_string());
    let _: () = cmd(&mut r, &["SET", "promoted", "yes"]).await.unwrap();
    // The old master follows the new one and continues its history with a partial resync.
    let ok: String =
        cmd(&mut m, &["REPLICAOF", "127.0.0.1", &replica.port().to_string()]).await.unwrap();
    assert_eq!(ok, "OK");
    must_catch_up(&mut r, &mut m).await;
    let v: String = cmd(&mut m, &["GET", "promoted"]).await.unwrap();
    assert_eq!(v, "yes");
    assert_eq!(info_field(&mut r, "stats", "sync_partial_ok").await, "1");
    assert_eq!(digest(&mut m).await, digest(&mut r).await);
}

#[tokio::test]
async fn a_short_cut_is_healed_with_a_partial_resync() {
    let master = start_master(&[]).await;
    let relay = crate::relay::Relay::start(master.addr).await;
    let replica = start_replica(relay.port(), &[]).await;
    let (mut m, mut r) = (master.client().await, replica.client().await);
    random_writes(&mut m, 4, 200).await;
    must_catch_up(&mut m, &mut r).await;
    relay.sever();
    // Writes while the link is down stay in the backlog (1 MB by default).
    random_writes(&mut m, 5, 300).await;
    relay.restore();
    must_catch_up(&mut m, &mut r).await;
    assert_eq!(digest(&mut r).await, digest(&mut m).await);
    assert_eq!(info_field(&mut m, "stats", "sync_full").await, "1");
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok").await, "1");
    assert!(relay.connections() >= 2, "the replica reconnected");
}

#[tokio::test]
async fn a_gap_beyond_the_backlog_needs_a_full_resync() {
    let master = start_master(&["--repl-backlog-size", "16384"]).await;
    let relay = crate::relay::Relay::start(master.addr).await;
    let replica = start_replica(relay.port(), &[]).await;
    let (mut m, mut r) = (master.client().await, replica.client().await);
    random_writes(&mut m, 6, 100).await;
    must_catch_up(&mut m, &mut r).await;
    relay.sever();
    let before = offset(&mut m).await;
    let big = "x".repeat(1000);
    for i in 0..100 {
        let _: () = cmd(&mut m, &["SET", &format!("big{i}"), &big]).await.unwrap();
    }
    assert!(offset(&mut m).await - before > 16384, "the gap outgrew the backlog");
    relay.restore();
    must_catch_up(&mut m, &mut r).await;
    assert_eq!(digest(&mut r).await, digest(&mut m).await);
    assert_eq!(info_field(&mut m, "stats", "sync_full").await, "2");
    assert_eq!(info_field(&mut m, "stats", "sync_partial_err").await, "1");
}

#[tokio::test]
async fn a_restarted_replica_catches_up() {
    let master = start_master(&[]).await;
    let dir = test_dir();
    let d = dir.display().to_string();
    let replica = start_replica(master.port(), &["--dir", &d, "--appendonly", "yes"]).await;
    let (mut m, mut r) = (master.client().await, replica.client().await);
    random_writes(&mut m, 7, 300).await;
    must_catch_up(&mut m, &mut r).await;
    drop(r);
    replica.stop().await.unwrap();
    random_writes(&mut m, 8, 300).await;
    let replica = start_replica(master.port(), &["--dir", &d, "--appendonly", "yes"]).await;
    let mut r = replica.client().await;
    must_catch_up(&mut m, &mut r).await;
    assert_eq!(digest(&mut r).await, digest(&mut m).await);
}

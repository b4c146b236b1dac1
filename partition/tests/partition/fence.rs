//! Fenced roles (RCLUSTER): the lease, MOVED, stale instructions, the role across restarts,
//! sync replication on the in-sync set (a paused in-sync replica holds writes until it resumes
//! or leaves the set; async mode never waits), and a demoted master discarding what no in-sync
//! replica acknowledged.

use std::time::{Duration, Instant};

use protocol::slot::key_hash_slot;

use crate::relay::Relay;
use crate::replication::{digest, info_field, must_catch_up, offset, start_master, Con};
use crate::util::*;

const SECRET: &str = "s3cret";

/// A connection that authenticated as the control plane.
async fn control(srv: &TestServer) -> Con {
    let mut con = srv.client().await;
    let ok: String = cmd(&mut con, &["RCLUSTER", "AUTH", SECRET]).await.unwrap();
    assert_eq!(ok, "OK");
    con
}

async fn state(con: &mut Con) -> std::collections::HashMap<String, String> {
    cmd(con, &["RCLUSTER", "STATE"]).await.unwrap()
}

async fn start_fenced(extra: &[&str]) -> TestServer {
    let mut args = vec!["--rcluster-secret", SECRET];
    args.extend_from_slice(extra);
    start_master(&args).await
}

/// Waits until `cond` holds of RCLUSTER STATE.
async fn must_see_state(
    con: &mut Con,
    what: &str,
    cond: impl Fn(&std::collections::HashMap<String, String>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = state(con).await;
        if cond(&s) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {what}: {s:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn rcluster_needs_the_secret() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let err = cmd::<String>(&mut con, &["RCLUSTER", "STATE"]).await.unwrap_err();
    assert!(err.to_string().contains("no rcluster-secret is configured"), "{err}");
    let srv = start_fenced(&[]).await;
    let mut con = srv.client().await;
    let err = cmd::<String>(&mut con, &["RCLUSTER", "STATE"]).await.unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"));
    let err = cmd::<String>(&mut con, &["RCLUSTER", "AUTH", "wrong"]).await.unwrap_err();
    assert!(err.to_string().contains("invalid rcluster secret"), "{err}");
    // Unfenced: it serves like redis-server.
    let _: () = cmd(&mut con, &["SET", "k", "v"]).await.unwrap();
    let mut ctl = control(&srv).await;
    assert_eq!(state(&mut ctl).await["role"], "unfenced");
}

#[tokio::test]
async fn without_a_valid_lease_a_master_refuses_reads_and_writes() {
    let srv = start_fenced(&[]).await;
    let mut ctl = control(&srv).await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "k", "v"]).await.unwrap();
    let ok: String = cmd(
        &mut ctl,
        &["RCLUSTER", "ROLE", "MASTER", "1", "5", "LEASE", "1500", "SLOTS", "0-16383"],
    )
    .await
    .unwrap();
    assert_eq!(ok, "OK");
    let v: String = cmd(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v");
    // The lease runs out: reads and writes stop, PING and INFO still answer.
    must_see_state(&mut ctl, "the lease to expire", |s| s["lease_ms_left"] == "0").await;
    for args in [&["GET", "k"][..], &["SET", "k", "w"], &["DBSIZE"]] {
        let err = cmd::<redis::Value>(&mut con, args).await.unwrap_err();
        assert_eq!(err.code(), Some("TRYAGAIN"), "{args:?}");
    }
    let pong: String = cmd(&mut con, &["PING"]).await.unwrap();
    assert_eq!(pong, "PONG");
    // A transaction queued before the lease ran out does not run after it.
    // Long enough for the transaction to be queued on a loaded machine.
    let ok: String = cmd(&mut ctl, &["RCLUSTER", "LEASE", "5", "1500"]).await.unwrap();
    assert_eq!(ok, "OK");
    let mut s = srv.raw().await;
    must_send(&mut s, &["MULTI"], b"+OK\r\n").await;
    must_send(&mut s, &["SET", "k", "in-tx"], b"+QUEUED\r\n").await;
    must_see_state(&mut ctl, "the lease to expire", |s| s["lease_ms_left"] == "0").await;
    let got = must_exchange(&mut s, &resp(&["EXEC"]), 9).await;
    assert!(got.starts_with(b"-TRYAGAIN"), "{}", String::from_utf8_lossy(&got));
    // A renewal for an older decision does not revive it; the current one does.
    let err = cmd::<String>(&mut ctl, &["RCLUSTER", "LEASE", "4", "10000"]).await.unwrap_err();
    assert_eq!(err.code(), Some("STALE"));
    let _: String = cmd(&mut ctl, &["RCLUSTER", "LEASE", "5", "10000"]).await.unwrap();
    let v: String = cmd(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v", "the refused SET and the refused transaction changed nothing");
}

#[tokio::test]
async fn keys_of_other_shards_are_moved_and_old_instructions_ignored() {
    let srv = start_fenced(&[]).await;
    let mut ctl = control(&srv).await;
    let mut con = srv.client().await;
    let foo = key_hash_slot(b"foo");
    let bar = key_hash_slot(b"bar");
    let owned = format!("{foo}");
    let _: String =
        cmd(&mut ctl, &["RCLUSTER", "ROLE", "MASTER", "2", "7", "LEASE", "60000", "SLOTS", &owned])
            .await
            .unwrap();
    let _: () = cmd(&mut con, &["SET", "foo", "1"]).await.unwrap();
    let err = cmd::<Option<String>>(&mut con, &["GET", "bar"]).await.unwrap_err();
    assert_eq!(err.code(), Some("CLUSTERDOWN"));
    let _: String =
        cmd(&mut ctl, &["RCLUSTER", "ROUTES", "3", "0-16383=10.1.2.3:7001"]).await.unwrap();
    let err = cmd::<Option<String>>(&mut con, &["GET", "bar"]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("An error was signalled by the server - Moved: {bar} 10.1.2.3:7001")
    );
    // An instruction with a lower shard_epoch is ignored.
    let err =
        cmd::<String>(&mut ctl, &["RCLUSTER", "ROLE", "MASTER", "2", "6", "SLOTS", "0-16383"])
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("STALE"));
    let s = state(&mut ctl).await;
    assert_eq!(
        (s["shard_epoch"].as_str(), s["slots"].as_str()),
        ("7", format!("{foo}-{foo}").as_str())
    );
}

#[tokio::test]
async fn the_role_survives_a_restart_without_its_lease() {
    let dir = test_dir();
    let d = dir.display().to_string();
    let args = ["--dir", d.as_str(), "--appendonly", "yes"];
    let srv = start_fenced(&args).await;
    let mut ctl = control(&srv).await;
    let _: String = cmd(
        &mut ctl,
        &["RCLUSTER", "ROLE", "MASTER", "1", "3", "LEASE", "60000", "SLOTS", "0-16383"],
    )
    .await
    .unwrap();
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "k", "v"]).await.unwrap();
    drop((ctl, con));
    srv.stop().await.unwrap();
    let srv = start_fenced(&args).await;
    let mut con = srv.client().await;
    let err = cmd::<String>(&mut con, &["GET", "k"]).await.unwrap_err();
    assert_eq!(err.code(), Some("TRYAGAIN"), "restarted masters wait for a new lease");
    let mut ctl = control(&srv).await;
    assert_eq!(state(&mut ctl).await["shard_epoch"], "3");
    let _: String = cmd(&mut ctl, &["RCLUSTER", "LEASE", "3", "60000"]).await.unwrap();
    let v: String = cmd(&mut con, &["GET", "k"]).await.unwrap();
    assert_eq!(v, "v");
}

/// A master and a replica linked through a relay the test can stall or cut; the master is
/// fenced with the replica in its in-sync set.
async fn fenced_pair(mode: &str) -> (TestServer, TestServer, Relay, Con, Con) {
    let master = start_fenced(&["--replication", mode, "--isr-timeout-ms", "200"]).await;
    let relay = Relay::start(master.addr).await;
    let rport = relay.port().to_string();
    let replica = start_master(&["--replicaof", "127.0.0.1", &rport]).await;
    let (mut m, mut r) = (master.client().await, replica.client().await);
    must_catch_up(&mut m, &mut r).await;
    let member = format!("127.0.0.1:{}", replica.port());
    let mut ctl = control(&master).await;
    let _: String = cmd(
        &mut ctl,
        &[
            "RCLUSTER", "ROLE", "MASTER", "1", "1", "LEASE", "600000", "SLOTS", "0-16383", "ISR",
            &member,
        ],
    )
    .await
    .unwrap();
    assert_eq!(info_field(&mut m, "replication", "rcluster_in_sync").await, member);
    (master, replica, relay, m, ctl)
}

#[tokio::test]
async fn sync_mode_holds_writes_while_the_in_sync_replica_is_paused() {
    let (master, replica, relay, mut m, mut ctl) = fenced_pair("sync").await;
    let _: () = cmd(&mut m, &["SET", "a", "1"]).await.unwrap();
    let mut r = replica.client().await;
    let v: String = cmd(&mut r, &["GET", "a"]).await.unwrap();
    assert_eq!(v, "1", "acknowledged only once the replica had it");
    // The replica stops acknowledging: the write waits, then completes when it resumes.
    relay.stall();
    let mut writer = master.client().await;
    let pending = tokio::spawn(async move { cmd::<()>(&mut writer, &["SET", "b", "2"]).await });
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        assert!(!pending.is_finished(), "a write was acknowledged without the in-sync replica");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    relay.restore();
    tokio::time::timeout(Duration::from_secs(10), pending).await.unwrap().unwrap().unwrap();
    // Paused again past isr-timeout-ms: the master reports it, still waits, and the write
    // completes once the control plane takes the replica out of the set.
    relay.stall();
    let mut writer = master.client().await;
    let pending = tokio::spawn(async move { cmd::<()>(&mut writer, &["SET", "c", "3"]).await });
    must_see_state(&mut ctl, "the laggard reported", |s| !s["lagging"].is_empty()).await;
    assert!(!pending.is_finished());
    let _: String = cmd(&mut ctl, &["RCLUSTER", "ISR", "1", "-"]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), pending).await.unwrap().unwrap().unwrap();
    // Reads were never held by the paused replica once it left the set.
    let v: String = cmd(&mut m, &["GET", "c"]).await.unwrap();
    assert_eq!(v, "3");
}

#[tokio::test]
async fn async_mode_does_not_wait_for_replicas() {
    let (_master, _replica, relay, mut m, _ctl) = fenced_pair("async").await;
    relay.stall();
    let started = Instant::now();
    for i in 0..100 {
        let _: () = cmd(&mut m, &["SET", &format!("k{i}"), "v"]).await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    relay.restore();
}

#[tokio::test]
async fn a_demoted_master_discards_what_no_in_sync_replica_acknowledged() {
    let (master, replica, relay, mut m, mut ctl) = fenced_pair("sync").await;
    let mut r = replica.client().await;
    for i in 0..50 {
        let _: () = cmd(&mut m, &["SET", &format!("k{i}"), "v"]).await.unwrap();
    }
    must_catch_up(&mut m, &mut r).await;
    // The link breaks; the master takes writes nobody acknowledges (they wait: a client
    // gives up on them), and the replica is promoted at a higher shard_epoch.
    relay.sever();
    let mut writer = master.client().await;
    let lost = tokio::spawn(async move { cmd::<()>(&mut writer, &["SET", "unacked", "x"]).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while offset(&mut m).await <= offset(&mut r).await {
        assert!(Instant::now() < deadline, "the unacknowledged write never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Reads of other keys are not held by it; a read of its key is.
    let v: String = cmd(&mut m, &["GET", "k1"]).await.unwrap();
    assert_eq!(v, "v");
    let mut rctl = r.clone();
    let _: String = cmd(&mut rctl, &["REPLICAOF", "NO", "ONE"]).await.unwrap();
    // The old master follows the new one at shard_epoch 2.
    let port = replica.port().to_string();
    let _: String = cmd(
        &mut ctl,
        &["RCLUSTER", "ROLE", "REPLICA", "1", "2", "127.0.0.1", &port, "SLOTS", "0-16383"],
    )
    .await
    .unwrap();
    must_catch_up(&mut r, &mut m).await;
    let _: () = cmd(&mut m, &["READONLY"]).await.unwrap();
    let gone: Option<String> = cmd(&mut m, &["GET", "unacked"]).await.unwrap();
    assert_eq!(gone, None, "the write no in-sync replica acknowledged is discarded");
    let discarded: u64 =
        info_field(&mut m, "replication", "rcluster_discarded_bytes").await.parse().unwrap();
    assert!(discarded > 0);
    assert_eq!(digest(&mut m).await, digest(&mut r).await);
    // The client of the lost write never got an acknowledgement.
    assert!(!lost.is_finished() || lost.await.unwrap().is_err());
    drop(relay);
}

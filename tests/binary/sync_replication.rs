//! Sync replication against a replica that is really stopped (SIGSTOP): a write is not
//! acknowledged while its in-sync replica is paused, and is once the replica resumes or the
//! control plane takes it out of the in-sync set; in async mode nothing waits.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{free_port, must_connect};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped process must be resumed to die of anything but SIGKILL; SIGKILL it is.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(port: u16, args: &[&str]) -> Proc {
    let dir = std::env::temp_dir().join(format!("rcluster-sync-{}-{port}", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_rcluster"))
        .args(["partition", "--port", &port.to_string(), "--dir", dir.to_str().unwrap()])
        .args(["--save", "", "--loglevel", "warning", "--rcluster-secret", "s"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rcluster");
    must_connect(port);
    Proc(child)
}

fn signal(p: &Proc, sig: &str) {
    let ok = Command::new("kill").args([sig, &p.0.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

fn con(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    c.get_connection().unwrap()
}

fn query<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Starts a master in `mode` with a replica, the replica in the master's in-sync set.
fn pair(mode: &str) -> (Proc, Proc, u16, u16) {
    let (mport, rport) = (free_port(), free_port());
    let master = start(mport, &["--replication", mode, "--isr-timeout-ms", "300"]);
    let replica = start(rport, &["--replicaof", "127.0.0.1", &mport.to_string()]);
    let mut r = con(rport);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !query::<String>(&mut r, &["INFO", "replication"]).contains("master_link_status:up") {
        assert!(Instant::now() < deadline, "the replica never synced");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut ctl = con(mport);
    let _: String = query(&mut ctl, &["RCLUSTER", "AUTH", "s"]);
    let member = format!("127.0.0.1:{rport}");
    let _: String = query(
        &mut ctl,
        &[
            "RCLUSTER", "ROLE", "MASTER", "1", "1", "LEASE", "600000", "SLOTS", "0-16383", "ISR",
            &member,
        ],
    );
    (master, replica, mport, rport)
}

/// Runs `SET key 1` on its own connection; the receiver gets the reply when it comes.
fn set_in_background(port: u16, key: &str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let key = key.to_string();
    std::thread::spawn(move || {
        let mut c = con(port);
        let reply: redis::RedisResult<String> = redis::cmd("SET").arg(&key).arg(1).query(&mut c);
        let _ = tx.send(reply.unwrap_or_else(|e| e.to_string()));
    });
    rx
}

#[test]
fn a_write_waits_for_a_stopped_in_sync_replica() {
    let (_master, replica, mport, rport) = pair("sync");
    let mut m = con(mport);
    let _: String = query(&mut m, &["SET", "a", "1"]);
    signal(&replica, "-STOP");
    let pending = set_in_background(mport, "b");
    assert!(
        pending.recv_timeout(Duration::from_millis(700)).is_err(),
        "acknowledged while the in-sync replica was stopped"
    );
    // Reads of other keys are not held.
    let a: String = query(&mut m, &["GET", "a"]);
    assert_eq!(a, "1");
    signal(&replica, "-CONT");
    assert_eq!(pending.recv_timeout(Duration::from_secs(10)).unwrap(), "OK");
    let mut r = con(rport);
    let b: String = query(&mut r, &["GET", "b"]);
    assert_eq!(b, "1", "acknowledged only once the replica had it");

    // Stopped again: the write completes when the control plane empties the in-sync set.
    signal(&replica, "-STOP");
    let pending = set_in_background(mport, "c");
    assert!(pending.recv_timeout(Duration::from_millis(700)).is_err());
    let mut ctl = con(mport);
    let _: String = query(&mut ctl, &["RCLUSTER", "AUTH", "s"]);
    // Reported once isr-timeout-ms has passed.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state: std::collections::HashMap<String, String> =
            query(&mut ctl, &["RCLUSTER", "STATE"]);
        if state["lagging"] == format!("127.0.0.1:{rport}") {
            break;
        }
        assert!(Instant::now() < deadline, "the stopped replica was never reported: {state:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _: String = query(&mut ctl, &["RCLUSTER", "ISR", "1", "-"]);
    assert_eq!(pending.recv_timeout(Duration::from_secs(10)).unwrap(), "OK");
    signal(&replica, "-CONT");
}

#[test]
fn async_mode_does_not_wait_for_a_stopped_replica() {
    let (_master, replica, mport, _rport) = pair("async");
    signal(&replica, "-STOP");
    let pending = set_in_background(mport, "b");
    assert_eq!(pending.recv_timeout(Duration::from_secs(5)).unwrap(), "OK");
    signal(&replica, "-CONT");
}

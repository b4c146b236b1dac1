//! Acknowledged writes survive `kill -9`: a writer streams pipelined `RPUSH log <seq>` to a real
//! `rcluster partition` process with the AOF on, the process is killed at a random moment
//! (seeded), restarted on the same directory, and the list must hold every acknowledged value,
//! in order, without holes or duplicates.
//!
//! `kill -9` loses what the process had not yet handed to the kernel; a power cut would also
//! lose what the kernel had not written to the disk, which `always` syncs before replying and
//! this test cannot cut (the page cache survives a killed process).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::{free_port, must_connect};

/// The server process; killed when dropped, so a failed assertion leaves no process behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, port: u16, fsync: &str) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_rcluster"))
            .args(["partition", "--port", &port.to_string(), "--dir", dir.to_str().unwrap()])
            .args(["--appendonly", "yes", "--appendfsync", fsync, "--save", ""])
            .args(["--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rcluster"),
    )
}

/// What the writer saw: how many values it sent and when each acknowledgement arrived.
struct Written {
    sent: u64,
    acked_at: Vec<Instant>,
}

/// Streams pipelines of `RPUSH log <seq>` until the connection breaks; `acked` counts the
/// acknowledgements as they come.
fn write_until_broken(port: u16, seed: u64, acked: Arc<AtomicUsize>) -> Written {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let stream = must_connect(port);
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut done = Written { sent: 0, acked_at: Vec::new() };
    let mut line = String::new();
    loop {
        let batch = rng.random_range(1..=32u64);
        let mut request = Vec::new();
        for seq in done.sent..done.sent + batch {
            let v = seq.to_string();
            request.extend_from_slice(
                format!("*3\r\n$5\r\nRPUSH\r\n$3\r\nlog\r\n${}\r\n{v}\r\n", v.len()).as_bytes(),
            );
        }
        if writer.write_all(&request).is_err() {
            return done;
        }
        done.sent += batch;
        for _ in 0..batch {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 && line.starts_with(':') => {
                    done.acked_at.push(Instant::now());
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                // The process died: whatever was not acknowledged has an unknown outcome.
                _ => return done,
            }
        }
    }
}

/// Runs `iterations` seeded crash-restart rounds and returns, per round, (acknowledged
/// values missing after the restart, how long before the kill the oldest missing one was
/// acknowledged).
fn crash_rounds(fsync: &str, iterations: u64) -> Vec<(usize, Duration)> {
    let dir =
        std::env::temp_dir().join(format!("rcluster-durability-{fsync}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut found = Vec::new();
    for seed in 0..iterations {
        // Each round starts from an empty directory of its own.
        let dir = dir.join(seed.to_string());
        let port = free_port();
        let mut child = start(&dir, port, fsync);
        must_connect(port);
        let acked = Arc::new(AtomicUsize::new(0));
        let counter = acked.clone();
        let writer = std::thread::spawn(move || write_until_broken(port, seed, counter));
        // The kill comes at a seeded moment once writes are flowing.
        let deadline = Instant::now() + Duration::from_secs(10);
        while acked.load(Ordering::Relaxed) < 20 {
            assert!(Instant::now() < deadline, "seed {seed}: the writer never got going");
            std::thread::yield_now();
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
        std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        child.0.kill().unwrap();
        let killed_at = Instant::now();
        child.0.wait().unwrap();
        let written = writer.join().unwrap();

        let port = free_port();
        let child = start(&dir, port, fsync);
        must_connect(port);
        let mut con = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let log: Vec<u64> = redis::cmd("LRANGE").arg("log").arg(0).arg(-1).query(&mut con).unwrap();
        if let Some(i) = log.iter().enumerate().position(|(i, &v)| v != i as u64) {
            let around = &log[i..(i + 5).min(log.len())];
            panic!("seed {seed}: holes, duplicates or reordering from index {i}: {around:?}");
        }
        assert!(log.len() as u64 <= written.sent, "seed {seed}: values never sent");
        let missing = written.acked_at.len().saturating_sub(log.len());
        let oldest_missing = written
            .acked_at
            .get(log.len())
            .map_or(Duration::ZERO, |at| killed_at.saturating_duration_since(*at));
        found.push((missing, oldest_missing));
        drop(child);
    }
    let _ = std::fs::remove_dir_all(&dir);
    found
}

#[test]
fn appendfsync_always_loses_no_acknowledged_write_to_kill_9() {
    for (seed, (missing, _)) in crash_rounds("always", 12).into_iter().enumerate() {
        assert_eq!(missing, 0, "seed {seed}: acknowledged values lost");
    }
}

#[test]
fn appendfsync_everysec_loses_at_most_about_a_second() {
    for (seed, (missing, oldest)) in crash_rounds("everysec", 4).into_iter().enumerate() {
        assert!(
            missing == 0 || oldest <= Duration::from_millis(1500),
            "seed {seed}: lost {missing} values acknowledged up to {oldest:?} before the kill"
        );
    }
}

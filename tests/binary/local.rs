//! `rcluster local`: the whole cluster as child processes of one command — up and healthy,
//! a killed master replaced and (with `--respawn`) started again, Ctrl-C stops every child,
//! and a re-run on the same folder comes back with the same data.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A base port with `n` consecutive free ports after it.
fn free_run(n: u16) -> u16 {
    for _ in 0..200 {
        let base = crate::free_port();
        if base > 65535 - n {
            continue;
        }
        if (base..base + n).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no run of {n} free ports")
}

struct Local {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line printed so far.
    seen: Vec<String>,
}

impl Local {
    fn start(dir: &std::path::Path, ports: (u16, u16, u16)) -> Local {
        let (proxy, partition, config) = ports;
        let mut child = Command::new(env!("CARGO_BIN_EXE_rcluster"))
            .args(["local", "--dir", dir.to_str().unwrap(), "--shards", "2", "--proxies", "1"])
            .args(["--proxy-port", &proxy.to_string(), "--partition-port", &partition.to_string()])
            .args(["--config-port", &config.to_string(), "--respawn", "--respawn-delay-ms", "300"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rcluster local");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Local { child, lines, seen: Vec::new() }
    }

    /// Waits for a printed line containing `text`; returns it.
    fn must_print(&mut self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => {
                    panic!("no line with {text:?} within {within:?}; printed: {:#?}", self.seen)
                }
            }
        }
    }

    /// The pid the start-up table printed for `name`.
    fn pid_of(&self, name: &str) -> u32 {
        let line = self.seen.iter().find(|l| l.trim_start().starts_with(name)).expect("listed");
        line.split_whitespace().last().unwrap().parse().unwrap()
    }

    fn pids(&self) -> Vec<u32> {
        self.seen
            .iter()
            .filter(|l| {
                l.trim_start().starts_with("config-")
                    || l.trim_start().starts_with("partition")
                    || l.trim_start().starts_with("proxy")
            })
            .filter_map(|l| l.split_whitespace().last()?.parse().ok())
            .collect()
    }

    /// SIGINT (what Ctrl-C sends) and the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "rcluster local did not stop within 20 s of SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

fn con(port: u16) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let c = c.get_connection_with_timeout(Duration::from_secs(2)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

#[test]
fn local_runs_a_cluster_that_heals_stops_cleanly_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let ports = (free_run(1), free_run(4), free_run(3));
    let mut local = Local::start(dir.path(), ports);
    local.must_print("Ctrl-C stops everything", Duration::from_secs(60));
    let pids = local.pids();
    assert_eq!(pids.len(), 3 + 4 + 1, "{:#?}", local.seen);

    let mut c = con(ports.0);
    let _: () =
        redis::cmd("MSET").arg(&["a", "1", "b", "2", "c", "3", "d", "4"]).query(&mut c).unwrap();

    // kill -9 the master of the shard that holds "a": writes through the proxy resume.
    let slot = protocol::key_hash_slot(b"a");
    let shards: Vec<admin_api::types::ShardView> = {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let admin = admin_api::AdminClient::new(vec![format!("127.0.0.1:{}", ports.2)]);
        rt.block_on(admin.shards()).unwrap()
    };
    let shard = shards.iter().find(|s| s.slots.iter().any(|r| r.contains(slot))).unwrap();
    let master_port: u16 = shard.master.addr.rsplit(':').next().unwrap().parse().unwrap();
    let victim = local.pid_of(&format!("partition :{master_port}"));
    unsafe { libc::kill(victim as i32, libc::SIGKILL) };
    let killed = Instant::now();
    // The first attempt may meet the dead master's connection: the proxy then says the outcome
    // is unknown rather than retry a write. SET is idempotent, so the client retries.
    loop {
        match redis::cmd("SET").arg("a").arg("after").query::<()>(&mut c) {
            Ok(()) => break,
            Err(e) => {
                assert!(e.to_string().contains("outcome is unknown"), "{e}");
                assert!(killed.elapsed() < Duration::from_secs(5), "writes did not resume: {e}");
            }
        }
    }
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "writes resumed only after {:?}",
        killed.elapsed()
    );
    local.must_print(
        &format!("partition :{master_port} (pid {victim}) exited: killed (SIGKILL)"),
        Duration::from_secs(5),
    );
    local.must_print(&format!("partition :{master_port} restarted"), Duration::from_secs(5));

    let status = local.interrupt();
    assert!(status.success(), "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "children left behind: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Again on the same folder: the same data.
    let mut local = Local::start(dir.path(), ports);
    local.must_print("Ctrl-C stops everything", Duration::from_secs(60));
    let mut c = con(ports.0);
    let got: Vec<String> = redis::cmd("MGET").arg(&["a", "b", "c", "d"]).query(&mut c).unwrap();
    assert_eq!(got, ["after", "2", "3", "4"]);
    assert!(local.interrupt().success());
}

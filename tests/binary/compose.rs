//! The docker-compose deployment end to end (issue 7): the images built from this workspace
//! with no registry (`docker/build.sh`), `docker compose up` forming the cluster by itself,
//! clients on the one host port, a shard master's container killed, a proxy container stopped.
//! Every acknowledged write must survive. The project is torn down (`down -v`) even when the
//! test fails.
//!
//! Needs Docker (CI has it). On a machine without it, set `RCLUSTER_SKIP_DOCKER=1` to skip
//! this one test knowingly; without the variable a missing Docker is a failure.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `docker compose` (v2) when present, else the standalone `docker-compose`.
fn compose_command() -> Vec<String> {
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if v2.is_ok_and(|s| s.success()) {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    }
}

/// A compose project, torn down with its volumes when dropped.
struct Project {
    name: String,
    compose: Vec<String>,
    root: String,
    port: u16,
    admin_port: u16,
    /// The host ports of proxy-1's and proxy-2's `/metrics`.
    metrics_ports: [u16; 2],
}

impl Project {
    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..])
            .args(["-p", &self.name, "-f", &format!("{}/docker-compose.yml", self.root)])
            .args(args)
            .env("RCLUSTER_PORT", self.port.to_string())
            .env("RCLUSTER_ADMIN_PORT", self.admin_port.to_string())
            .env("RCLUSTER_PROXY1_METRICS_PORT", self.metrics_ports[0].to_string())
            .env("RCLUSTER_PROXY2_METRICS_PORT", self.metrics_ports[1].to_string());
        cmd.output().expect("run docker compose")
    }

    fn must(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "compose {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The container id of `service`.
    fn container(&self, service: &str) -> String {
        self.must(&["ps", "-q", service]).trim().to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Leave the evidence in the test's output.
            let logs = self.run(&["logs", "--no-color", "--tail", "40"]);
            eprintln!("{}", String::from_utf8_lossy(&logs.stdout));
        }
        let _ = self.run(&["down", "-v", "--remove-orphans", "-t", "5"]);
    }
}

fn con(port: u16) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let c = client.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    Some(c)
}

fn wait_until(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < within, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// SET through the endpoint, retrying while the outcome is unknown or the cluster is failing
/// over (SET is idempotent); the time it took.
fn set_retrying(port: u16, key: &str, value: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if let Some(mut c) = con(port) {
            match redis::cmd("SET").arg(key).arg(value).query::<String>(&mut c) {
                Ok(_) => return start.elapsed(),
                Err(e) => assert!(
                    start.elapsed() < within,
                    "no write acknowledged within {within:?}: {e}"
                ),
            }
        }
        assert!(start.elapsed() < within, "the endpoint did not answer within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn compose_up_forms_a_cluster_that_survives_a_master_and_a_proxy_dying() {
    if std::env::var_os("RCLUSTER_SKIP_DOCKER").is_some() {
        eprintln!("RCLUSTER_SKIP_DOCKER is set: the docker compose test is skipped");
        return;
    }
    let docker =
        Command::new("docker").args(["info"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    assert!(docker.is_ok_and(|s| s.success()), "Docker is needed (or set RCLUSTER_SKIP_DOCKER=1)");
    let started = Instant::now();
    let root = env!("CARGO_MANIFEST_DIR").to_string();
    let built = Command::new("bash").arg(format!("{root}/docker/build.sh")).status().unwrap();
    assert!(built.success(), "docker/build.sh failed");

    let project = Project {
        name: format!("rcluster-e2e-{}", std::process::id()),
        compose: compose_command(),
        root,
        port: crate::free_port(),
        admin_port: crate::free_port(),
        metrics_ports: [crate::free_port(), crate::free_port()],
    };
    project.must(&["up", "-d"]);
    let admin = admin_api::AdminClient::new(vec![format!("127.0.0.1:{}", project.admin_port)])
        .timeout(Duration::from_secs(3));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    wait_until("a healthy cluster", Duration::from_secs(180), || {
        rt.block_on(admin.cluster())
            .is_ok_and(|v| v.state == admin_api::types::ClusterState::Healthy)
    });
    wait_until("the endpoint", Duration::from_secs(60), || {
        con(project.port).is_some_and(|mut c| redis::cmd("PING").query::<String>(&mut c).is_ok())
    });

    // One endpoint for the whole keyspace.
    let mut c = con(project.port).unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let keys: Vec<String> = (0..300).map(|i| format!("key:{i}")).collect();
    for key in &keys {
        let _: String = redis::cmd("SET").arg(key).arg(key).query(&mut c).unwrap();
    }
    let got: Vec<String> = redis::cmd("MGET").arg(&keys).query(&mut c).unwrap();
    assert_eq!(got, keys);
    let v: String = redis::cmd("GET").arg("key:7").query(&mut c).unwrap();
    assert_eq!(v, "key:7");

    // Kill the master container of the shard holding key:0.
    let slot = protocol::key_hash_slot(b"key:0");
    let shards = rt.block_on(admin.shards()).unwrap();
    let shard = shards.iter().find(|s| s.slots.iter().any(|r| r.contains(slot))).unwrap();
    let service = shard.master.addr.split(':').next().unwrap().to_string();
    let victim = project.container(&service);
    let killed = Instant::now();
    let out = Command::new("docker").args(["kill", &victim]).output().unwrap();
    assert!(out.status.success(), "docker kill: {}", String::from_utf8_lossy(&out.stderr));
    let took = set_retrying(project.port, "key:0", "after", Duration::from_secs(10));
    eprintln!("writes resumed {took:?} after docker kill of {service}");
    assert!(
        killed.elapsed() <= Duration::from_secs(5),
        "writes resumed only after {:?}",
        killed.elapsed()
    );
    let mut c = con(project.port).unwrap();
    let got: Vec<String> = redis::cmd("MGET").arg(&keys[1..]).query(&mut c).unwrap();
    assert_eq!(got, keys[1..], "acknowledged writes lost in the failover");
    let v: String = redis::cmd("GET").arg("key:0").query(&mut c).unwrap();
    assert_eq!(v, "after");

    // proxy-1's metrics are published on the host (HAProxy's PING checks alone count commands).
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{}/metrics", project.metrics_ports[0]);
    wait_until("proxy-1's /metrics", Duration::from_secs(10), || {
        rt.block_on(async { http.get(&url).send().await?.error_for_status()?.text().await })
            .is_ok_and(|text| text.contains("rcluster_proxy_commands_total{"))
    });

    // Stop one proxy: the endpoint still answers (HAProxy sends new connections to the other).
    project.must(&["stop", "-t", "2", "proxy-1"]);
    let took = wait_until("the endpoint without proxy-1", Duration::from_secs(10), || {
        con(project.port).is_some_and(|mut c| {
            redis::cmd("SET").arg("key:1").arg("again").query::<String>(&mut c).is_ok()
        })
    });
    eprintln!("the endpoint answered {took:?} after proxy-1 stopped");
    for _ in 0..20 {
        let mut c = con(project.port).expect("a connection through the endpoint");
        let v: String = redis::cmd("GET").arg("key:1").query(&mut c).unwrap();
        assert_eq!(v, "again");
    }
    assert!(started.elapsed() < Duration::from_secs(600), "the test took {:?}", started.elapsed());
}

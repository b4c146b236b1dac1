//! The tools users already have, pointed at our server: redis-cli, redis-benchmark and redis-py.
//! CI installs them (`.ci/run`); a missing tool fails the test rather than skipping it.

use tokio::process::Command;

use crate::util::*;

async fn must_run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed (see .ci/run): {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).await.expect("write stdin");
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("tool finished within 60 s")
        .expect("tool ran");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_commands_and_pipe_mode() {
    let s = start_server().await;
    let port = s.port().to_string();
    assert_eq!(must_run("redis-cli", &["-p", &port, "ping"], None).await.trim(), "PONG");
    assert_eq!(
        must_run("redis-cli", &["-p", &port, "set", "cli:k", "hello world"], None).await.trim(),
        "OK"
    );
    assert_eq!(
        must_run("redis-cli", &["-p", &port, "get", "cli:k"], None).await.trim(),
        "hello world"
    );
    // --pipe sends a raw RESP stream and counts replies and errors.
    let mut stream = Vec::new();
    for i in 0..1000 {
        let (k, v) = (format!("pipe:{i}"), format!("{i}"));
        stream.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n", k.len(), v.len()).as_bytes(),
        );
    }
    let out = must_run("redis-cli", &["-p", &port, "--pipe"], Some(&stream)).await;
    assert!(out.contains("errors: 0, replies: 1000"), "{out}");
    let mut con = s.client().await;
    let v: String = cmd(&mut con, &["GET", "pipe:999"]).await.unwrap();
    assert_eq!(v, "999");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_benchmark_runs_without_errors() {
    let s = start_server().await;
    let port = s.port().to_string();
    let out = must_run(
        "redis-benchmark",
        &[
            "-p",
            &port,
            "-n",
            "2000",
            "-c",
            "10",
            "-r",
            "1000",
            "-t",
            "set,get,incr,mset",
            "-P",
            "4",
            "--csv",
            "-q",
        ],
        None,
    )
    .await;
    for test in ["\"SET\"", "\"GET\"", "\"INCR\"", "\"MSET (10 keys)\""] {
        assert!(out.contains(test), "{test} missing from {out}");
    }
    // Every INCR landed on a counter key: the counters add up to the requests made.
    let mut con = s.client().await;
    let keys: Vec<String> = cmd(&mut con, &["KEYS", "counter:*"]).await.unwrap();
    let mut total = 0;
    for k in keys {
        let n: i64 = cmd(&mut con, &["GET", &k]).await.unwrap();
        total += n;
    }
    assert_eq!(total, 2000);
}

const REDIS_PY: &str = r#"
import sys, redis
port = int(sys.argv[1])
r = redis.Redis(port=port, decode_responses=True)
assert r.ping()
assert r.set("py:k", "v") and r.get("py:k") == "v"
assert r.incr("py:n") == 1 and r.incrby("py:n", 5) == 6
p = r.pipeline(transaction=False)
for i in range(100):
    p.set(f"py:p{i}", i)
assert all(p.execute())
assert r.mget([f"py:p{i}" for i in range(100)]) == [str(i) for i in range(100)]
assert r.set("py:e", "x", px=100000) and 0 < r.pttl("py:e") <= 100000
assert set(r.scan_iter("py:p*", count=10)) == {f"py:p{i}" for i in range(100)}
assert r.delete("py:p0", "py:p1", "nope") == 2
assert r.exists("py:p2") == 1 and r.type("py:p2") == "string"
r.client_setname("pyclient")
assert r.client_getname() == "pyclient"
info = r.info()
assert info["redis_version"] and info["connected_clients"] >= 1
assert r.config_get("maxclients")["maxclients"] == "10000"
r3 = redis.Redis(port=port, protocol=3, decode_responses=True)
assert r3.get("py:k") == "v"
assert r3.execute_command("HELLO", "3")["proto"] == 3
try:
    r.execute_command("INCR", "py:k")
    raise SystemExit("INCR of a non-integer must fail")
except redis.ResponseError as e:
    assert str(e) == "value is not an integer or out of range", str(e)
print("ok")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_py_works_unchanged() {
    let s = start_server().await;
    let port = s.port().to_string();
    let out = must_run("python3", &["-c", REDIS_PY, &port], None).await;
    assert_eq!(out.trim(), "ok");
}

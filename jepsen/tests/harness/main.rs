//! The harness's client side against real servers: every workload operation run on Debian's
//! `redis-server` (the reference the partition servers match), and how outcomes are classified
//! when a server does not answer.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jepsen::client::Conn;
use jepsen::workload::{apply, Completion, Invocation, WorkloadKind};
use jepsen::{Value, F};

/// A redis-server on a free port, killed when dropped.
struct Redis {
    child: Child,
    addr: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Redis {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (apt-get install redis-server)");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Redis { child, addr }
}

async fn must_connect(addr: &str) -> Conn {
    Conn::connect(addr, Duration::from_secs(2)).await.unwrap()
}

fn inv(f: F, key: &str, value: Value) -> Invocation {
    Invocation { f, key: key.to_string(), value }
}

#[tokio::test]
async fn register_reads_writes_and_compare_and_set_on_redis() {
    let redis = start_redis();
    let mut conn = must_connect(&redis.addr).await;
    let k = "jepsen:register:0";
    let reg = WorkloadKind::Register;
    assert_eq!(
        apply(reg, &mut conn, &inv(F::Read, k, Value::Null)).await,
        Completion::Ok(Value::Null)
    );
    // A cas on an absent key expecting nil sets it.
    let cas = Value::Cas { old: None, new: 1 };
    assert_eq!(apply(reg, &mut conn, &inv(F::Cas, k, cas.clone())).await, Completion::Ok(cas));
    assert_eq!(
        apply(reg, &mut conn, &inv(F::Read, k, Value::Null)).await,
        Completion::Ok(Value::Int(1))
    );
    assert_eq!(
        apply(reg, &mut conn, &inv(F::Write, k, Value::Int(7))).await,
        Completion::Ok(Value::Int(7))
    );
    // A cas expecting the wrong value fails and writes nothing.
    let wrong = Value::Cas { old: Some(1), new: 2 };
    assert!(matches!(apply(reg, &mut conn, &inv(F::Cas, k, wrong)).await, Completion::Fail(_)));
    assert_eq!(
        apply(reg, &mut conn, &inv(F::Read, k, Value::Null)).await,
        Completion::Ok(Value::Int(7))
    );
    let right = Value::Cas { old: Some(7), new: 8 };
    assert_eq!(apply(reg, &mut conn, &inv(F::Cas, k, right.clone())).await, Completion::Ok(right));
    assert_eq!(
        apply(reg, &mut conn, &inv(F::Read, k, Value::Null)).await,
        Completion::Ok(Value::Int(8))
    );
    // The connection is left clean: no WATCH or MULTI state leaks into the next operation.
    assert_eq!(
        apply(reg, &mut conn, &inv(F::Write, k, Value::Int(9))).await,
        Completion::Ok(Value::Int(9))
    );
}

#[tokio::test]
async fn set_append_and_counter_operations_on_redis() {
    let redis = start_redis();
    let mut conn = must_connect(&redis.addr).await;
    for e in [3, 1, 2] {
        let add = inv(F::Add, "jepsen:set:0", Value::Int(e));
        assert_eq!(apply(WorkloadKind::Set, &mut conn, &add).await, Completion::Ok(Value::Int(e)));
    }
    let read = inv(F::Read, "jepsen:set:0", Value::Null);
    assert_eq!(
        apply(WorkloadKind::Set, &mut conn, &read).await,
        Completion::Ok(Value::List(vec![1, 2, 3])),
        "set reads come back sorted"
    );

    let read = inv(F::Read, "jepsen:append:0", Value::Null);
    assert_eq!(
        apply(WorkloadKind::Append, &mut conn, &read).await,
        Completion::Ok(Value::List(vec![]))
    );
    for v in [5, 4] {
        let append = inv(F::Append, "jepsen:append:0", Value::Int(v));
        assert_eq!(
            apply(WorkloadKind::Append, &mut conn, &append).await,
            Completion::Ok(Value::Int(v))
        );
    }
    assert_eq!(
        apply(WorkloadKind::Append, &mut conn, &read).await,
        Completion::Ok(Value::List(vec![5, 4])),
        "list reads keep the server's order"
    );

    let incr = inv(F::Incr, "jepsen:counter:0", Value::Int(5));
    assert_eq!(apply(WorkloadKind::Counter, &mut conn, &incr).await, Completion::Ok(Value::Int(5)));
    assert_eq!(
        apply(WorkloadKind::Counter, &mut conn, &incr).await,
        Completion::Ok(Value::Int(10))
    );
    let read = inv(F::Read, "jepsen:counter:0", Value::Null);
    assert_eq!(
        apply(WorkloadKind::Counter, &mut conn, &read).await,
        Completion::Ok(Value::Int(10))
    );

    // A definite error reply: the write certainly did not happen.
    let wrongtype = inv(F::Add, "jepsen:counter:0", Value::Int(1));
    match apply(WorkloadKind::Set, &mut conn, &wrongtype).await {
        // WRONGTYPE is not in the definite list: only errors returned instead of running count.
        Completion::Info(why) => assert!(why.starts_with("WRONGTYPE"), "{why}"),
        other => panic!("expected info, got {other:?}"),
    }
}

#[tokio::test]
async fn a_write_nobody_answers_is_unknown_not_failed() {
    // Accepts connections and never answers: a master cut off after the request was sent.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let mut conn = Conn::connect(&addr, Duration::from_millis(300)).await.unwrap();
    let write = inv(F::Write, "k", Value::Int(1));
    let started = Instant::now();
    match apply(WorkloadKind::Register, &mut conn, &write).await {
        Completion::Info(why) => assert_eq!(why, "timeout"),
        other => panic!("expected info, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A read nobody answers changed nothing, but the connection still has to go: info too.
    let mut conn = Conn::connect(&addr, Duration::from_millis(100)).await.unwrap();
    let read = inv(F::Read, "k", Value::Null);
    assert!(matches!(apply(WorkloadKind::Register, &mut conn, &read).await, Completion::Info(_)));
    drop(silent);
}

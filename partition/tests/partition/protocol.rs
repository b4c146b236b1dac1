//! Protocol-level tests through raw TCP sockets: big pipelines, commands split at every byte,
//! inline commands, and garbage answered with redis-server 7.0.15's exact protocol errors
//! (checked against it) and a closed connection, while other clients keep being served.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use protocol::frame::FrameLimits;
use protocol::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::*;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn simple(s: &str) -> Frame {
    Frame::Simple(Bytes::copy_from_slice(s.as_bytes()))
}

fn command(args: &[&str]) -> BytesMut {
    Frame::command(args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes()))).to_bytes()
}

/// Reads until `n` whole replies arrived; fails the test after 10 s or on EOF.
async fn must_read_frames(stream: &mut TcpStream, n: usize) -> Vec<Frame> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let limits = FrameLimits::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::with_capacity(n);
    while frames.len() < n {
        while frames.len() < n {
            match Frame::parse(&mut buf, &limits).expect("server sent valid RESP") {
                Some(f) => frames.push(f),
                None => break,
            }
        }
        if frames.len() == n {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let read = tokio::time::timeout(left, stream.read_buf(&mut buf)).await;
        let got = read.expect("timed out waiting for replies").expect("read");
        assert!(got > 0, "connection closed after {} of {n} replies", frames.len());
    }
    assert!(buf.is_empty(), "unexpected extra bytes: {buf:?}");
    frames
}

/// Sends `bytes` and expects exactly `reply` followed by the server closing the connection.
async fn must_refuse(server: &TestServer, bytes: &[u8], reply: &str) {
    let mut s = server.raw().await;
    s.write_all(bytes).await.expect("write");
    let got = must_read(&mut s, reply.len()).await;
    assert_eq!(String::from_utf8_lossy(&got), reply, "reply to {:?}", clip(bytes));
    assert!(closed_by_peer(&mut s).await, "connection left open after {:?}", clip(bytes));
}

fn clip(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(40)]).into_owned()
}

#[tokio::test]
async fn a_10000_command_pipeline_in_one_write_gets_every_reply_in_order() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let mut req = BytesMut::new();
    let mut expected = Vec::new();
    for i in 0..2000 {
        let (k, v) = (format!("key:{i}"), format!("value-{i}"));
        req.extend(command(&["SET", &k, &v]));
        expected.push(simple("OK"));
        req.extend(command(&["GET", &k]));
        expected.push(bulk(&v));
        req.extend(command(&["INCR", "counter"]));
        expected.push(Frame::Integer(i + 1));
        req.extend(command(&["ECHO", &format!("echo {i}")]));
        expected.push(bulk(&format!("echo {i}")));
        req.extend(command(&["PING"]));
        expected.push(simple("PONG"));
    }
    assert_eq!(expected.len(), 10_000);
    s.write_all(&req).await.expect("write");
    let got = must_read_frames(&mut s, expected.len()).await;
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "reply {i}");
    }
}

#[tokio::test]
async fn a_pipeline_split_at_every_byte_gets_the_same_replies() {
    let server = start_server().await;
    let mut req = BytesMut::new();
    req.extend(command(&["SET", "split", "0123456789"]));
    req.extend_from_slice(b"GET split\r\n");
    req.extend(command(&["ECHO", "a\r\nb"]));
    req.extend_from_slice(b"ECHO \"x y\"\r\n");
    req.extend(command(&["INCR", "n"]));
    req.extend(command(&["PING"]));
    let replies = 6;
    let mut whole_conn = server.raw().await;
    whole_conn.write_all(&req).await.expect("write");
    let whole = must_read_frames(&mut whole_conn, replies).await;
    assert_eq!(whole[1], bulk("0123456789"));
    assert_eq!(whole[2], bulk("a\r\nb"));
    assert_eq!(whole[3], bulk("x y"));
    for cut in 1..req.len() {
        reset_counter(&server).await;
        let mut s = server.raw().await;
        s.set_nodelay(true).expect("nodelay");
        s.write_all(&req[..cut]).await.expect("write");
        // Wait for the replies to the commands complete in the first part, so the server
        // surely parsed that part on its own before the rest arrives.
        let complete = complete_commands(&req[..cut]);
        let mut got = must_read_frames(&mut s, complete).await;
        s.write_all(&req[cut..]).await.expect("write");
        got.extend(must_read_frames(&mut s, replies - complete).await);
        assert_eq!(got, whole, "split at byte {cut}");
    }
}

/// Resets the counter the split test increments, so every run replies the same.
async fn reset_counter(server: &TestServer) {
    let mut s = server.raw().await;
    s.write_all(&command(&["SET", "n", "0"])).await.expect("write");
    assert_eq!(must_read_frames(&mut s, 1).await, vec![simple("OK")]);
}

/// How many whole commands (multibulk or inline) `prefix` holds.
fn complete_commands(prefix: &[u8]) -> usize {
    let mut parser = protocol::RequestParser::default();
    let mut buf = BytesMut::from(prefix);
    let mut n = 0;
    while let Ok(Some(_)) = parser.parse(&mut buf, true) {
        n += 1;
    }
    n
}

#[tokio::test]
async fn inline_commands_follow_redis_quoting() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let req = b"SET k \"a b\\x41\\n\"\r\nGET k\r\nECHO 'it\\'s'\r\n\r\n   PING   \r\nECHO \"tab\\there\"\nSET  e  ''\r\nGET e\r\n";
    s.write_all(req).await.expect("write");
    let got = must_read_frames(&mut s, 7).await;
    assert_eq!(
        got,
        vec![
            simple("OK"),
            bulk("a bA\n"),
            bulk("it's"),
            simple("PONG"),
            bulk("tab\there"),
            simple("OK"),
            bulk(""),
        ]
    );
}

#[tokio::test]
async fn an_inline_line_starting_with_a_dollar_is_just_an_unknown_command() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let got = must_exchange(&mut s, b"$-5\r\nPING\r\n", 64).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        "-ERR unknown command '$-5', with args beginning with: \r\n+PONG\r\n"
    );
}

#[tokio::test]
async fn empty_and_null_multibulks_are_skipped() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let got = must_exchange(&mut s, b"\r\n*0\r\n*-1\r\n*-5\r\nPING\r\n", 7).await;
    assert_eq!(got, b"+PONG\r\n");
}

#[tokio::test]
async fn garbage_gets_redis_protocol_errors_and_the_connection_closes() {
    let server = start_server().await;
    let mut bystander = server.raw().await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"*abc\r\n".to_vec(), "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*+1\r\n".to_vec(), "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*2147483648\r\n".to_vec(), "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$-5\r\n".to_vec(), "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$x\r\n".to_vec(), "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$536870913\r\n".to_vec(), "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n+x\r\n".to_vec(), "-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"SET k \"abc\r\n".to_vec(), "-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"SET k 'abc\r\n".to_vec(), "-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"ECHO \"a\"b\r\n".to_vec(), "-ERR Protocol error: unbalanced quotes in request\r\n"),
        (vec![b'a'; 70 * 1024], "-ERR Protocol error: too big inline request\r\n"),
        (
            [&b"*"[..], &vec![b'1'; 70 * 1024]].concat(),
            "-ERR Protocol error: too big mbulk count string\r\n",
        ),
        (
            [&b"*1\r\n$"[..], &vec![b'1'; 70 * 1024]].concat(),
            "-ERR Protocol error: too big bulk count string\r\n",
        ),
        // Commands before the garbage in the same write are still answered.
        (
            b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n+x\r\n".to_vec(),
            "+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n",
        ),
    ];
    for (bytes, reply) in &cases {
        must_refuse(&server, bytes, reply).await;
    }
    // The server still serves its other clients, old and new.
    assert_eq!(must_exchange(&mut bystander, b"PING\r\n", 7).await, b"+PONG\r\n");
    let mut fresh = server.raw().await;
    assert_eq!(must_exchange(&mut fresh, b"PING\r\n", 7).await, b"+PONG\r\n");
}

fn redis_cli(port: u16, args: &[&str], stdin: Option<Vec<u8>>) -> (bool, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(&stdin.unwrap_or_default()).expect("write stdin");
    drop(input);
    let out = child.wait_with_output().expect("redis-cli");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn redis_cli_talks_to_the_server() {
    let server = start_server().await;
    let port = server.port();
    let (ok, out) =
        tokio::task::spawn_blocking(move || redis_cli(port, &["ping"], None)).await.unwrap();
    assert!(ok);
    assert_eq!(out, "PONG\n");
    let (ok, out) = tokio::task::spawn_blocking(move || {
        redis_cli(port, &["set", "cli key", "a \"quoted\" value"], None)
    })
    .await
    .unwrap();
    assert!(ok);
    assert_eq!(out, "OK\n");
    let mut con = server.client().await;
    let v: String = cmd(&mut con, &["GET", "cli key"]).await.unwrap();
    assert_eq!(v, "a \"quoted\" value");
}

#[tokio::test]
async fn redis_cli_pipe_mode_loads_1000_sets() {
    let server = start_server().await;
    let port = server.port();
    let mut load = Vec::new();
    for i in 0..1000 {
        load.extend(command(&["SET", &format!("pipe:{i}"), &format!("v{i}")]));
    }
    let (ok, out) = tokio::task::spawn_blocking(move || redis_cli(port, &["--pipe"], Some(load)))
        .await
        .unwrap();
    assert!(ok, "redis-cli --pipe failed: {out}");
    assert!(out.contains("errors: 0, replies: 1000"), "{out}");
    let mut con = server.client().await;
    let v: String = cmd(&mut con, &["GET", "pipe:999"]).await.unwrap();
    assert_eq!(v, "v999");
    let v: String = cmd(&mut con, &["GET", "pipe:0"]).await.unwrap();
    assert_eq!(v, "v0");
}

//! COMMAND tests: replies compared byte for byte with redis-server 7.0.15's (captured from it),
//! in RESP2 and RESP3, for commands every build of the server has (GET, SET, PING, COMMAND),
//! and the shape and consistency of the listing replies.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use protocol::frame::{check, Check, FrameLimits};
use protocol::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::*;

/// A raw connection, switched to RESP3 when asked.
async fn connect(server: &TestServer, resp3: bool) -> TcpStream {
    let mut s = server.raw().await;
    if resp3 {
        call(&mut s, &["HELLO", "3"]).await;
    }
    s
}

/// Sends one command and returns the exact bytes of its reply.
async fn call(s: &mut TcpStream, args: &[&str]) -> Vec<u8> {
    let req = Frame::command(args.iter().map(|a| bytes::Bytes::copy_from_slice(a.as_bytes())));
    s.write_all(&req.to_bytes()).await.expect("write");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = BytesMut::new();
    loop {
        if let Check::Complete(len) = check(&buf, &FrameLimits::default()).expect("valid RESP") {
            assert_eq!(len, buf.len(), "more than one reply");
            return buf.to_vec();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, s.read_buf(&mut buf)).await.expect("reply").unwrap();
        assert!(n > 0, "connection closed");
    }
}

async fn call_frame(s: &mut TcpStream, args: &[&str]) -> Frame {
    let mut bytes = BytesMut::from(&call(s, args).await[..]);
    Frame::parse(&mut bytes, &FrameLimits::default()).unwrap().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn names(f: &Frame) -> Vec<String> {
    match f {
        Frame::Array(items) => items
            .iter()
            .map(|i| match i {
                Frame::Bulk(b) => text(b),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

const INFO_GET_RESP2: &str = "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";

const INFO_SET_NOSUCH_RESP3: &str = "*2\r\n*10\r\n$3\r\nset\r\n:-3\r\n~2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@write\r\n+@string\r\n+@slow\r\n~0\r\n~1\r\n%4\r\n$5\r\nnotes\r\n$48\r\nRW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n~4\r\n+RW\r\n+access\r\n+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n~0\r\n_\r\n";

const DOCS_GET_RESP2: &str = "*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n";

const DOCS_SET_RESP3: &str = "%1\r\n$3\r\nset\r\n%6\r\n$7\r\nsummary\r\n$29\r\nSet the string value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$7\r\nhistory\r\n~4\r\n*2\r\n$6\r\n2.6.12\r\n$44\r\nAdded the `EX`, `PX`, `NX` and `XX` options.\r\n*2\r\n$5\r\n6.0.0\r\n$27\r\nAdded the `KEEPTTL` option.\r\n*2\r\n$5\r\n6.2.0\r\n$42\r\nAdded the `GET`, `EXAT` and `PXAT` option.\r\n*2\r\n$5\r\n7.0.0\r\n$55\r\nAllowed the `NX` and `GET` options to be used together.\r\n$9\r\narguments\r\n*5\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n%2\r\n$4\r\nname\r\n$5\r\nvalue\r\n$4\r\ntype\r\n$6\r\nstring\r\n%5\r\n$4\r\nname\r\n$9\r\ncondition\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*2\r\n%3\r\n$4\r\nname\r\n$2\r\nnx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nNX\r\n%3\r\n$4\r\nname\r\n$2\r\nxx\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$2\r\nXX\r\n%5\r\n$4\r\nname\r\n$3\r\nget\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$3\r\nGET\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n$5\r\nflags\r\n~1\r\n+optional\r\n%4\r\n$4\r\nname\r\n$10\r\nexpiration\r\n$4\r\ntype\r\n$5\r\noneof\r\n$5\r\nflags\r\n~1\r\n+optional\r\n$9\r\narguments\r\n*5\r\n%4\r\n$4\r\nname\r\n$7\r\nseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\nEX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n%4\r\n$4\r\nname\r\n$12\r\nmilliseconds\r\n$4\r\ntype\r\n$7\r\ninteger\r\n$5\r\ntoken\r\n$2\r\nPX\r\n$5\r\nsince\r\n$6\r\n2.6.12\r\n%4\r\n$4\r\nname\r\n$17\r\nunix-time-seconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$5\r\ntoken\r\n$4\r\nEXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%4\r\n$4\r\nname\r\n$22\r\nunix-time-milliseconds\r\n$4\r\ntype\r\n$9\r\nunix-time\r\n$5\r\ntoken\r\n$4\r\nPXAT\r\n$5\r\nsince\r\n$5\r\n6.2.0\r\n%4\r\n$4\r\nname\r\n$7\r\nkeepttl\r\n$4\r\ntype\r\n$10\r\npure-token\r\n$5\r\ntoken\r\n$7\r\nKEEPTTL\r\n$5\r\nsince\r\n$5\r\n6.0.0\r\n";

#[tokio::test]
async fn info_and_docs_are_byte_identical_to_redis() {
    let server = start_server().await;
    let mut s2 = connect(&server, false).await;
    let mut s3 = connect(&server, true).await;
    assert_eq!(text(&call(&mut s2, &["COMMAND", "INFO", "get"]).await), INFO_GET_RESP2);
    assert_eq!(text(&call(&mut s2, &["command", "info", "GET"]).await), INFO_GET_RESP2);
    assert_eq!(
        text(&call(&mut s3, &["COMMAND", "INFO", "set", "nosuch"]).await),
        INFO_SET_NOSUCH_RESP3
    );
    assert_eq!(text(&call(&mut s2, &["COMMAND", "DOCS", "get", "nosuch"]).await), DOCS_GET_RESP2);
    assert_eq!(text(&call(&mut s3, &["COMMAND", "DOCS", "set"]).await), DOCS_SET_RESP3);
}

#[tokio::test]
async fn unknown_names_are_nil_in_info_and_absent_from_docs() {
    let server = start_server().await;
    let mut s2 = connect(&server, false).await;
    let mut s3 = connect(&server, true).await;
    assert_eq!(
        call(&mut s2, &["COMMAND", "INFO", "nosuch", "get|x"]).await,
        b"*2\r\n$-1\r\n$-1\r\n"
    );
    assert_eq!(call(&mut s3, &["COMMAND", "INFO", "nosuch"]).await, b"*1\r\n_\r\n");
    assert_eq!(call(&mut s2, &["COMMAND", "DOCS", "nosuch"]).await, b"*0\r\n");
    assert_eq!(call(&mut s3, &["COMMAND", "DOCS", "nosuch"]).await, b"%0\r\n");
}

#[tokio::test]
async fn subcommands_are_described_by_full_name() {
    let server = start_server().await;
    let mut s = connect(&server, false).await;
    let info = call(&mut s, &["COMMAND", "INFO", "command|getkeys"]).await;
    assert_eq!(
        text(&info),
        "*1\r\n*10\r\n$15\r\ncommand|getkeys\r\n:-4\r\n*2\r\n+loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@slow\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n"
    );
    // A container lists its subcommands inside its own entry.
    let Frame::Array(entries) = call_frame(&mut s, &["COMMAND", "INFO", "command"]).await else {
        panic!("not an array");
    };
    let Frame::Array(fields) = &entries[0] else { panic!("not an entry") };
    let Frame::Array(subs) = &fields[9] else { panic!("no subcommands") };
    assert_eq!(subs.len(), 7);
}

#[tokio::test]
async fn count_list_and_the_full_listing_agree() {
    let server = start_server().await;
    let mut s = connect(&server, false).await;
    let count = match call_frame(&mut s, &["COMMAND", "COUNT"]).await {
        Frame::Integer(n) => n as usize,
        other => panic!("{other:?}"),
    };
    let listed = names(&call_frame(&mut s, &["COMMAND", "LIST"]).await);
    let top: Vec<_> = listed.iter().filter(|n| !n.contains('|')).collect();
    assert_eq!(top.len(), count);
    for must in ["get", "set", "ping", "command", "command|info", "command|getkeysandflags"] {
        assert!(listed.iter().any(|n| n == must), "{must} not listed");
    }
    let Frame::Array(all) = call_frame(&mut s, &["COMMAND"]).await else { panic!() };
    assert_eq!(all.len(), count);
    let Frame::Array(all_info) = call_frame(&mut s, &["COMMAND", "INFO"]).await else { panic!() };
    assert_eq!(all_info, all);
    let Frame::Array(all_docs) = call_frame(&mut s, &["COMMAND", "DOCS"]).await else { panic!() };
    assert_eq!(all_docs.len(), 2 * count);
    // Everything listed is described.
    for name in &listed {
        let Frame::Array(e) = call_frame(&mut s, &["COMMAND", "INFO", name]).await else {
            panic!()
        };
        assert!(matches!(e[0], Frame::Array(_)), "COMMAND INFO {name} is nil");
    }
}

#[tokio::test]
async fn list_filters() {
    let server = start_server().await;
    let mut s = connect(&server, false).await;
    let by_pattern =
        names(&call_frame(&mut s, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "G?T"]).await);
    assert!(by_pattern.contains(&"get".to_string()));
    assert!(by_pattern.iter().all(|n| n.len() == 3 && n.starts_with('g') && n.ends_with('t')));
    let subs =
        names(&call_frame(&mut s, &["COMMAND", "LIST", "FILTERBY", "pattern", "command|*"]).await);
    assert_eq!(subs.len(), 7);
    let string =
        names(&call_frame(&mut s, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "String"]).await);
    assert!(string.contains(&"get".to_string()) && string.contains(&"set".to_string()));
    assert!(!string.contains(&"ping".to_string()));
    assert_eq!(call(&mut s, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"]).await, b"*0\r\n");
    assert_eq!(call(&mut s, &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]).await, b"*0\r\n");
    for bad in [
        &["COMMAND", "LIST", "x"][..],
        &["COMMAND", "LIST", "FILTERBY"],
        &["COMMAND", "LIST", "FILTERBY", "x", "y"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "a", "b"],
    ] {
        assert_eq!(call(&mut s, bad).await, b"-ERR syntax error\r\n", "{bad:?}");
    }
}

#[tokio::test]
async fn getkeys_and_flags() {
    let server = start_server().await;
    let mut s2 = connect(&server, false).await;
    let mut s3 = connect(&server, true).await;
    assert_eq!(call(&mut s2, &["COMMAND", "GETKEYS", "SET", "k", "v"]).await, b"*1\r\n$1\r\nk\r\n");
    assert_eq!(
        call(&mut s2, &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"]).await,
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        call(&mut s3, &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "get"]).await,
        b"*1\r\n*2\r\n$1\r\nk\r\n~3\r\n+RW\r\n+access\r\n+update\r\n"
    );
    assert_eq!(
        call(&mut s2, &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"]).await,
        b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n"
    );
    let errors: &[(&[&str], &str)] = &[
        (&["COMMAND", "GETKEYS", "ping", "x"], "-ERR The command has no key arguments\r\n"),
        (&["COMMAND", "GETKEYS", "command", "info"], "-ERR The command has no key arguments\r\n"),
        (&["COMMAND", "GETKEYS", "command", "nosuch"], "-ERR Invalid command specified\r\n"),
        (&["COMMAND", "GETKEYS", "nosuch", "x"], "-ERR Invalid command specified\r\n"),
        (
            &["COMMAND", "GETKEYS", "get", "a", "b"],
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "get"],
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS"],
            "-ERR wrong number of arguments for 'command|getkeysandflags' command\r\n",
        ),
    ];
    for (args, reply) in errors {
        assert_eq!(text(&call(&mut s2, args).await), *reply, "{args:?}");
    }
}

#[tokio::test]
async fn help_and_errors() {
    let server = start_server().await;
    let mut s = connect(&server, false).await;
    let Frame::Array(lines) = call_frame(&mut s, &["COMMAND", "help"]).await else { panic!() };
    assert_eq!(lines.len(), 21);
    assert_eq!(
        lines[0],
        Frame::Simple("COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into())
    );
    assert_eq!(lines[20], Frame::Simple("    Prints this help.".into()));
    assert_eq!(
        text(&call(&mut s, &["COMMAND", "nosuch"]).await),
        "-ERR unknown subcommand 'nosuch'. Try COMMAND HELP.\r\n"
    );
    assert_eq!(
        text(&call(&mut s, &["COMMAND", "COUNT", "x"]).await),
        "-ERR wrong number of arguments for 'command|count' command\r\n"
    );
}

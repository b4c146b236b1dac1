//! CLIENT subcommands against a real server: introspection (ID, INFO, LIST), control (KILL,
//! REPLY, SETNAME, NO-EVICT) and Redis 7.0.15's error texts.
use std::collections::HashMap;

use tokio::io::AsyncWriteExt;

use crate::util::*;

/// Parses one CLIENT LIST line into its fields, in order.
fn fields(line: &str) -> Vec<(String, String)> {
    line.trim_end()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field_map(line: &str) -> HashMap<String, String> {
    fields(line).into_iter().collect()
}

#[tokio::test]
async fn id_name_and_info() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let id: i64 = cmd(&mut con, &["CLIENT", "ID"]).await.unwrap();
    let name: Option<String> = cmd(&mut con, &["CLIENT", "GETNAME"]).await.unwrap();
    assert_eq!(name, None);
    let ok: String = cmd(&mut con, &["CLIENT", "SETNAME", "worker-1"]).await.unwrap();
    assert_eq!(ok, "OK");
    let name: String = cmd(&mut con, &["CLIENT", "GETNAME"]).await.unwrap();
    assert_eq!(name, "worker-1");
    let err = cmd::<String>(&mut con, &["CLIENT", "SETNAME", "a b"]).await.unwrap_err();
    assert!(err.to_string().contains("Client names cannot contain spaces"), "{err}");

    let info: String = cmd(&mut con, &["CLIENT", "INFO"]).await.unwrap();
    assert!(info.ends_with('\n'));
    let f = field_map(&info);
    assert_eq!(f["id"], id.to_string());
    assert_eq!(f["name"], "worker-1");
    assert_eq!(f["laddr"], srv.addr.to_string());
    assert_eq!(f["cmd"], "client|info");
    assert_eq!(f["flags"], "N");
    assert_eq!(f["user"], "default");
    assert_eq!(f["resp"], "2");
    assert!(f["fd"].parse::<i64>().unwrap() > 2, "fd={}", f["fd"]);

    // An empty name removes it.
    let _: String = cmd(&mut con, &["CLIENT", "SETNAME", ""]).await.unwrap();
    let name: Option<String> = cmd(&mut con, &["CLIENT", "GETNAME"]).await.unwrap();
    assert_eq!(name, None);
}

#[tokio::test]
async fn list_has_redis_fields_in_order_and_filters() {
    let srv = start_server().await;
    let mut a = srv.client().await;
    let mut b = srv.raw().await;
    must_send(&mut b, &["CLIENT", "SETNAME", "bee"], b"+OK\r\n").await;
    must_send(&mut b, &["GET", "x"], b"$-1\r\n").await;

    let list: String = cmd(&mut a, &["CLIENT", "LIST"]).await.unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    let keys: Vec<String> = fields(lines[0]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys.join(" "),
        "id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem \
         multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp lib-name lib-ver"
    );
    let bee = lines.iter().map(|l| field_map(l)).find(|f| f["name"] == "bee").expect("b listed");
    assert_eq!(bee["cmd"], "get");
    assert_eq!(bee["addr"], b.local_addr().unwrap().to_string());

    let normal: String = cmd(&mut a, &["CLIENT", "LIST", "TYPE", "normal"]).await.unwrap();
    assert_eq!(normal.lines().count(), 2);
    let pubsub: String = cmd(&mut a, &["CLIENT", "LIST", "TYPE", "pubsub"]).await.unwrap();
    assert_eq!(pubsub, "");
    let by_id: String = cmd(&mut a, &["CLIENT", "LIST", "ID", &bee["id"], "999999"]).await.unwrap();
    assert_eq!(by_id.lines().count(), 1);
    assert!(by_id.contains("name=bee "));

    let err = |e: redis::RedisError| e.to_string();
    let e = cmd::<String>(&mut a, &["CLIENT", "LIST", "TYPE", "foo"]).await.unwrap_err();
    assert!(err(e).contains("Unknown client type 'foo'"));
    let e = cmd::<String>(&mut a, &["CLIENT", "LIST", "ID", "1", "x"]).await.unwrap_err();
    assert!(err(e).contains("Invalid client ID"));
    let e = cmd::<String>(&mut a, &["CLIENT", "LIST", "foo"]).await.unwrap_err();
    assert!(err(e).contains("syntax error"));
}

#[tokio::test]
async fn kill_by_id_closes_the_other_connection() {
    let srv = start_server().await;
    let mut victim = srv.raw().await;
    must_send(&mut victim, &["PING"], b"+PONG\r\n").await;
    let victim_id = srv.server.clients.all().last().unwrap().id.to_string();
    let mut killer = srv.raw().await;
    must_send(&mut killer, &["CLIENT", "KILL", "ID", &victim_id], b":1\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut victim)).await, "killed client still open");
    must_send(&mut killer, &["CLIENT", "KILL", "ID", &victim_id], b":0\r\n").await;
    // SKIPME (default yes) spares the caller.
    let me = srv.server.clients.all().last().unwrap().id.to_string();
    must_send(&mut killer, &["CLIENT", "KILL", "ID", &me], b":0\r\n").await;
    must_send(&mut killer, &["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn kill_by_address_old_and_new_forms() {
    let srv = start_server().await;
    let mut victim = srv.raw().await;
    must_send(&mut victim, &["PING"], b"+PONG\r\n").await;
    let victim_addr = victim.local_addr().unwrap().to_string();
    let mut killer = srv.raw().await;
    must_send(&mut killer, &["CLIENT", "KILL", &victim_addr], b"+OK\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut victim)).await);
    must_send(&mut killer, &["CLIENT", "KILL", &victim_addr], b"-ERR No such client\r\n").await;

    let mut v2 = srv.raw().await;
    must_send(&mut v2, &["PING"], b"+PONG\r\n").await;
    let v2_addr = v2.local_addr().unwrap().to_string();
    let laddr = srv.addr.to_string();
    must_send(&mut killer, &["CLIENT", "KILL", "ADDR", &v2_addr, "LADDR", &laddr], b":1\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut v2)).await);

    // The old form may kill the caller itself: the reply comes first, then the close.
    let me = killer.local_addr().unwrap().to_string();
    must_send(&mut killer, &["CLIENT", "KILL", &me], b"+OK\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut killer)).await);
}

#[tokio::test]
async fn kill_by_type_and_user_with_skipme() {
    let srv = start_server().await;
    let mut others = vec![srv.raw().await, srv.raw().await];
    for o in &mut others {
        must_send(o, &["PING"], b"+PONG\r\n").await;
    }
    let mut me = srv.raw().await;
    must_send(&mut me, &["CLIENT", "KILL", "TYPE", "normal", "USER", "default"], b":2\r\n").await;
    for o in &mut others {
        assert!(Box::pin(closed_by_peer(o)).await);
    }
    must_send(&mut me, &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"], b":1\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut me)).await);
}

#[tokio::test]
async fn kill_errors_match_redis() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(
        &mut s,
        &["CLIENT", "KILL"],
        b"-ERR wrong number of arguments for 'client|kill' command\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CLIENT", "KILL", "ID", "x"],
        b"-ERR client-id should be greater than 0\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CLIENT", "KILL", "ID", "-1"],
        b"-ERR client-id should be greater than 0\r\n",
    )
    .await;
    must_send(&mut s, &["CLIENT", "KILL", "TYPE", "foo"], b"-ERR Unknown client type 'foo'\r\n")
        .await;
    must_send(&mut s, &["CLIENT", "KILL", "USER", "nobody"], b"-ERR No such user 'nobody'\r\n")
        .await;
    must_send(&mut s, &["CLIENT", "KILL", "SKIPME", "x"], b"-ERR syntax error\r\n").await;
    must_send(&mut s, &["CLIENT", "KILL", "MAXAGE", "1"], b"-ERR syntax error\r\n").await;
    must_send(&mut s, &["CLIENT", "KILL", "ID", "1", "TYPE"], b"-ERR syntax error\r\n").await;
}

#[tokio::test]
async fn reply_off_and_skip() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    // OFF silences everything, including itself, until ON (whose +OK is sent).
    let mut batch = resp(&["CLIENT", "REPLY", "OFF"]);
    batch.extend(resp(&["PING"]));
    batch.extend(resp(&["SET", "k", "v"]));
    batch.extend(resp(&["CLIENT", "REPLY", "ON"]));
    batch.extend(resp(&["GET", "k"]));
    let got = Box::pin(must_exchange(&mut s, &batch, 12)).await;
    assert_eq!(got, b"+OK\r\n$1\r\nv\r\n");

    // SKIP drops the reply of the next command only.
    let mut batch = resp(&["CLIENT", "REPLY", "SKIP"]);
    batch.extend(resp(&["ECHO", "a"]));
    batch.extend(resp(&["ECHO", "b"]));
    let got = Box::pin(must_exchange(&mut s, &batch, 7)).await;
    assert_eq!(got, b"$1\r\nb\r\n");

    must_send(&mut s, &["CLIENT", "REPLY", "MAYBE"], b"-ERR syntax error\r\n").await;
}

#[tokio::test]
async fn no_evict_shows_in_flags() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["CLIENT", "NO-EVICT", "on"], b"+OK\r\n").await;
    must_send(&mut s, &["CLIENT", "NO-EVICT", "x"], b"-ERR syntax error\r\n").await;
    let info = Box::pin(must_exchange(&mut s, &resp(&["CLIENT", "INFO"]), 200)).await;
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains(" flags=e "), "{info}");
    must_send(&mut s, &["CLIENT", "NO-EVICT", "off"], b"+OK\r\n").await;
}

#[tokio::test]
async fn help_and_unknown_subcommands() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let help: Vec<String> = cmd(&mut con, &["CLIENT", "HELP"]).await.unwrap();
    assert_eq!(help.len(), 54);
    assert_eq!(help[0], "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(help[53], "    Prints this help.");
    let mut s = srv.raw().await;
    must_send(&mut s, &["CLIENT", "FOO"], b"-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n")
        .await;
    must_send(&mut s, &["CLIENT", "GETREDIR"], b":-1\r\n").await;
}

/// CLIENT SETINFO and NO-TOUCH as Redis 7.2 has them (Debian's 7.0.15 predates them).
#[tokio::test]
async fn setinfo_and_no_touch() {
    let srv = start_server_with(&["--maxmemory-policy", "allkeys-lru"]).await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"], b"+OK\r\n").await;
    must_send(&mut s, &["CLIENT", "SETINFO", "lib-ver", "5.0.1"], b"+OK\r\n").await;
    must_send(
        &mut s,
        &["CLIENT", "SETINFO", "LIB-NAME", "a b"],
        b"-ERR LIB-NAME cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    must_send(&mut s, &["CLIENT", "SETINFO", "foo", "x"], b"-ERR Unrecognized option 'foo'\r\n")
        .await;
    must_send(
        &mut s,
        &["CLIENT", "SETINFO", "LIB-NAME"],
        b"-ERR wrong number of arguments for 'client|setinfo' command\r\n",
    )
    .await;
    must_send(&mut s, &["CLIENT", "NO-TOUCH", "maybe"], b"-ERR syntax error\r\n").await;
    must_send(&mut s, &["CLIENT", "NO-TOUCH", "on"], b"+OK\r\n").await;
    s.write_all(&resp(&["CLIENT", "INFO"])).await.unwrap();
    let info = String::from_utf8(Box::pin(must_read(&mut s, 1)).await).unwrap();
    assert!(info.contains(" flags=T "), "{info}");
    assert!(info.contains(" lib-name=redis-py lib-ver=5.0.1"), "{info}");

    // With NO-TOUCH on, reads leave the key's idle time alone; TOUCH still touches.
    let mut other = srv.raw().await;
    must_send(&mut other, &["SET", "k", "v"], b"+OK\r\n").await;
    {
        let mut state = srv.server.lock();
        let entry = state.keyspace.get(b"k", partition::time::unix_ms()).unwrap();
        entry.lru = entry.lru.wrapping_sub(100) & ((1 << 24) - 1);
    }
    must_send(&mut s, &["GET", "k"], b"$1\r\nv\r\n").await;
    s.write_all(&resp(&["OBJECT", "IDLETIME", "k"])).await.unwrap();
    let idle = String::from_utf8(Box::pin(must_read(&mut s, 1)).await).unwrap();
    let idle: i64 = idle.trim_start_matches(':').trim_end().parse().unwrap();
    assert!(idle >= 99, "GET under NO-TOUCH touched the key (idle {idle})");
    must_send(&mut s, &["CLIENT", "NO-TOUCH", "off"], b"+OK\r\n").await;
    must_send(&mut s, &["GET", "k"], b"$1\r\nv\r\n").await;
    must_send(&mut s, &["OBJECT", "IDLETIME", "k"], b":0\r\n").await;
}

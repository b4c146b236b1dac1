//! Connection commands (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET) and connection handling
//! (maxclients, idle timeout, many idle clients, shutdown), byte for byte where it matters.
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::util::*;

fn hello_reply(proto: u8, id: u64) -> Vec<u8> {
    let head = if proto == 3 { "%7\r\n".to_string() } else { "*14\r\n".to_string() };
    let id = id.to_string();
    format!(
        "{head}$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
    .into_bytes()
}

async fn client_id(s: &mut TcpStream) -> u64 {
    let got = Box::pin(must_exchange(s, &resp(&["CLIENT", "ID"]), 4)).await;
    let text = String::from_utf8(got).unwrap();
    text.trim_start_matches(':').trim_end().parse().unwrap()
}

#[tokio::test]
async fn ping_and_echo() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["PING"], b"+PONG\r\n").await;
    must_send(&mut s, &["PING", "hi"], b"$2\r\nhi\r\n").await;
    must_send(
        &mut s,
        &["PING", "a", "b"],
        b"-ERR wrong number of arguments for 'ping' command\r\n",
    )
    .await;
    must_send(&mut s, &["ECHO", "x y"], b"$3\r\nx y\r\n").await;
    must_send(&mut s, &["ECHO"], b"-ERR wrong number of arguments for 'echo' command\r\n").await;
}

#[tokio::test]
async fn hello_switches_protocol_and_reports_the_connection() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    let id = client_id(&mut s).await;
    must_send(&mut s, &["HELLO"], &hello_reply(2, id)).await;
    must_send(&mut s, &["HELLO", "3"], &hello_reply(3, id)).await;
    // RESP3 from now on: PING is still a simple string, a missing name a RESP3 null.
    must_send(&mut s, &["PING"], b"+PONG\r\n").await;
    must_send(&mut s, &["CLIENT", "GETNAME"], b"_\r\n").await;
    must_send(&mut s, &["HELLO", "4"], b"-NOPROTO unsupported protocol version\r\n").await;
    must_send(
        &mut s,
        &["HELLO", "x"],
        b"-ERR Protocol version is not an integer or out of range\r\n",
    )
    .await;
    must_send(&mut s, &["HELLO", "3", "foo"], b"-ERR Syntax error in HELLO option 'foo'\r\n").await;
    must_send(
        &mut s,
        &["HELLO", "3", "AUTH", "a"],
        b"-ERR Syntax error in HELLO option 'AUTH'\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["HELLO", "2", "SETNAME", "a b"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    )
    .await;
    must_send(&mut s, &["HELLO", "2", "SETNAME", "app"], &hello_reply(2, id)).await;
    must_send(&mut s, &["CLIENT", "GETNAME"], b"$3\r\napp\r\n").await;
}

#[tokio::test]
async fn requirepass_gates_commands_until_auth() {
    let srv = start_server_with(&["--requirepass", "secret"]).await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["GET", "k"], b"-NOAUTH Authentication required.\r\n").await;
    must_send(&mut s, &["PING"], b"-NOAUTH Authentication required.\r\n").await;
    must_send(
        &mut s,
        &["HELLO", "3"],
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["AUTH", "wrong"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["AUTH", "nobody", "secret"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    must_send(&mut s, &["AUTH", "secret"], b"+OK\r\n").await;
    must_send(&mut s, &["PING"], b"+PONG\r\n").await;

    // HELLO AUTH authenticates and switches protocol in one step.
    let mut t = srv.raw().await;
    must_send(
        &mut t,
        &["HELLO", "3", "AUTH", "default", "wrong"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    )
    .await;
    let t_id = srv.server.clients.all().last().unwrap().id;
    must_send(
        &mut t,
        &["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "svc"],
        &hello_reply(3, t_id),
    )
    .await;
    must_send(&mut t, &["CLIENT", "GETNAME"], b"$3\r\nsvc\r\n").await;
}

#[tokio::test]
async fn auth_without_a_password_configured() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(
        &mut s,
        &["AUTH", "x"],
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    )
    .await;
    must_send(&mut s, &["AUTH", "default", "anything"], b"+OK\r\n").await;
    must_send(&mut s, &["AUTH", "a", "b", "c"], b"-ERR syntax error\r\n").await;
}

#[tokio::test]
async fn select_only_database_zero() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["SELECT", "0"], b"+OK\r\n").await;
    must_send(&mut s, &["SELECT", "1"], b"-ERR DB index is out of range\r\n").await;
    must_send(&mut s, &["SELECT", "x"], b"-ERR value is not an integer or out of range\r\n").await;
}

#[tokio::test]
async fn quit_replies_then_closes() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["QUIT"], b"+OK\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut s)).await);
}

#[tokio::test]
async fn reset_restores_a_fresh_connection() {
    let srv = start_server_with(&["--requirepass", "pw"]).await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["AUTH", "pw"], b"+OK\r\n").await;
    let id = client_id(&mut s).await;
    must_send(&mut s, &["HELLO", "3", "SETNAME", "n"], &hello_reply(3, id)).await;
    // RESET is answered even while replies are off, and turns them back on.
    s.write_all(&resp(&["CLIENT", "REPLY", "OFF"])).await.unwrap();
    must_send(&mut s, &["RESET"], b"+RESET\r\n").await;
    must_send(&mut s, &["PING"], b"-NOAUTH Authentication required.\r\n").await;
    must_send(&mut s, &["AUTH", "pw"], b"+OK\r\n").await;
    // Back to RESP2 (null is $-1) and no name; same connection id.
    must_send(&mut s, &["CLIENT", "GETNAME"], b"$-1\r\n").await;
    assert_eq!(client_id(&mut s).await, id);
}

#[tokio::test]
async fn maxclients_refuses_extra_connections() {
    let srv = start_server_with(&["--maxclients", "2"]).await;
    let mut a = srv.raw().await;
    let mut b = srv.raw().await;
    must_send(&mut a, &["PING"], b"+PONG\r\n").await;
    must_send(&mut b, &["PING"], b"+PONG\r\n").await;
    let mut c = srv.raw().await;
    let got = Box::pin(must_read(&mut c, 100)).await;
    assert_eq!(got, b"-ERR max number of clients reached\r\n");
    assert!(Box::pin(closed_by_peer(&mut c)).await);
    let info = Box::pin(must_exchange(&mut a, &resp(&["INFO", "stats"]), 1000)).await;
    assert!(String::from_utf8_lossy(&info).contains("rejected_connections:1\r\n"));
    // A slot frees up when a client leaves.
    drop(b);
    must_wait_for(Duration::from_secs(5), || srv.server.clients.len() == 1, "b to leave").await;
    let mut d = srv.raw().await;
    must_send(&mut d, &["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn idle_clients_are_closed_after_timeout() {
    // Real time: the timeout is in whole seconds, so this takes about one second.
    let srv = start_server_with(&["--timeout", "1"]).await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["PING"], b"+PONG\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut s)).await, "idle client not closed");
}

#[tokio::test]
async fn config_set_timeout_applies_to_connected_clients() {
    let srv = start_server().await;
    let mut idle = srv.raw().await;
    must_send(&mut idle, &["PING"], b"+PONG\r\n").await;
    let mut admin = srv.raw().await;
    must_send(&mut admin, &["CONFIG", "SET", "timeout", "1"], b"+OK\r\n").await;
    assert!(Box::pin(closed_by_peer(&mut idle)).await, "already connected idle client not closed");
}

#[tokio::test]
async fn thousands_of_idle_clients() {
    let srv = start_server().await;
    let mut conns = Vec::new();
    for _ in 0..2000 {
        conns.push(srv.raw().await);
    }
    must_wait_for(Duration::from_secs(10), || srv.server.clients.len() == 2000, "all registered")
        .await;
    // Every one of them is still served.
    for s in conns.iter_mut().step_by(97) {
        must_send(s, &["PING"], b"+PONG\r\n").await;
    }
    let mut con = srv.client().await;
    let info: String = cmd(&mut con, &["INFO", "clients"]).await.unwrap();
    assert!(info.contains("connected_clients:2001\r\n"), "{info}");
}

#[tokio::test]
async fn shutdown_closes_clients_and_stops_serving() {
    let config = crate::util::test_config(&[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = partition::Server::new(config, addr.port());
    let serving =
        tokio::spawn(partition::serve(server.clone(), vec![listener], std::future::pending()));
    let mut other = TcpStream::connect(addr).await.unwrap();
    must_send(&mut other, &["PING"], b"+PONG\r\n").await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    must_send(&mut s, &["SHUTDOWN", "foo"], b"-ERR syntax error\r\n").await;
    must_send(&mut s, &["SHUTDOWN", "ABORT"], b"-ERR No shutdown in progress.\r\n").await;
    must_send(&mut s, &["SHUTDOWN", "SAVE", "NOSAVE"], b"-ERR syntax error\r\n").await;
    s.write_all(&resp(&["SHUTDOWN", "NOSAVE"])).await.unwrap();
    // No reply, just the connection closing; the other client is closed too.
    assert!(Box::pin(must_read(&mut s, 1)).await.is_empty());
    assert!(Box::pin(closed_by_peer(&mut other)).await);
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .expect("serve returns after SHUTDOWN")
        .unwrap()
        .unwrap();
    assert!(server.clients.is_empty());
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}

//! A TCP relay for tests that cut and restore a link (a replica and its master): clients
//! connect to the relay's own loopback port and every connection is forwarded to `target`,
//! until the test severs or stalls the link.
//!
//! - **sever**: every forwarded connection is closed at once, both halves (each side sees
//!   EOF, or a reset when it had unread bytes in flight). While severed, new connections are
//!   *accepted and closed at once*, not refused by an absent listener: the relay keeps its
//!   port, so `restore` can never fail to get it back, and a client sees what a dead peer
//!   looks like (connect succeeds, the first read returns EOF). They are not counted in
//!   [`Relay::connections`].
//! - **stall**: nothing is read or written any more, in either direction, and nothing is
//!   closed — a network that silently drops packets. Bytes sent meanwhile wait in the
//!   kernel's socket buffers (and in at most one [`CHUNK`] per direction here), so a sender
//!   that keeps writing is eventually blocked by TCP flow control; memory does not grow.
//!   Connections accepted while stalled are held the same way: the upstream connection is
//!   only opened on `restore`.
//! - **restore**: forwarding resumes; held bytes are delivered in order.
//!
//! Every connection task watches one `watch` channel holding the link's [`Mode`]; a change
//! wakes each task's pending read or write at once (reads and `write` on a `TcpStream` are
//! cancel-safe, so dropping them on a change loses nothing). Dropping the [`Relay`] drops the
//! channel's sender, which every task sees as the end.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The most bytes one direction of one connection holds between a read and its write.
pub const CHUNK: usize = 64 * 1024;

/// What the link does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Stalled,
    Severed,
}

/// Forwards TCP connections from its own 127.0.0.1 port to `target`, until cut.
pub struct Relay {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    connections: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl Relay {
    /// Listens on an ephemeral loopback port and forwards what arrives there to `target`.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let addr = listener.local_addr().expect("relay address");
        let (mode, _) = watch::channel(Mode::Forward);
        let connections = Arc::new(AtomicUsize::new(0));
        let accept =
            tokio::spawn(accept_loop(listener, target, mode.subscribe(), connections.clone()));
        Relay { addr, mode, connections, accept }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Closes every forwarded connection now (both directions) and closes new ones as soon
    /// as they are accepted, until [`Relay::restore`].
    pub fn sever(&self) {
        self.mode.send_replace(Mode::Severed);
    }

    /// Accepts and forwards again; bytes held by a stall are delivered.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }

    /// Stops forwarding without closing: bytes are held (a network that silently drops),
    /// until [`Relay::restore`] (or [`Relay::sever`], which closes them).
    pub fn stall(&self) {
        self.mode.send_replace(Mode::Stalled);
    }

    /// Connections forwarded so far (the upstream connection was opened), to assert that a
    /// client reconnected.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Connection tasks see the sender go away when `self.mode` is dropped after this.
        self.mode.send_replace(Mode::Severed);
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    // Only a receiver: the `Relay` owns the one sender, so dropping the relay ends every
    // connection task (they see the sender gone) even before this task is aborted.
    rx: watch::Receiver<Mode>,
    connections: Arc<AtomicUsize>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        if *rx.borrow() == Mode::Severed {
            drop(client);
            continue;
        }
        tokio::spawn(connection(client, target, rx.clone(), connections.clone()));
    }
}

/// Waits until the link forwards. Returns false when it is severed or the relay is gone.
async fn until_forwarding(mode: &mut watch::Receiver<Mode>) -> bool {
    loop {
        match *mode.borrow_and_update() {
            Mode::Forward => return true,
            Mode::Severed => return false,
            Mode::Stalled => {}
        }
        if mode.changed().await.is_err() {
            return false;
        }
    }
}

/// One forwarded connection: waits out a stall, connects upstream, pumps both directions
/// until both are done or the link is severed. Returning drops (closes) both sockets.
async fn connection(
    client: TcpStream,
    target: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    connections: Arc<AtomicUsize>,
) {
    if !until_forwarding(&mut mode).await {
        return;
    }
    let upstream = tokio::select! {
        biased;
        _ = mode.wait_for(|m| *m == Mode::Severed) => return,
        r = TcpStream::connect(target) => match r {
            Ok(s) => s,
            Err(_) => return,
        },
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    connections.fetch_add(1, Ordering::SeqCst);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let up = pump(client_read, upstream_write, mode.clone());
    let down = pump(upstream_read, client_write, mode);
    // Severed ends both pumps; an EOF ends one direction only (a half-close is passed on).
    tokio::join!(up, down);
}

/// Copies `from` to `to` through one bounded buffer, obeying the link's mode: nothing moves
/// while stalled, and a sever ends it (the halves are dropped by the caller).
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; CHUNK];
    let (mut start, mut end) = (0, 0);
    loop {
        if !until_forwarding(&mut mode).await {
            return;
        }
        if start < end {
            tokio::select! {
                biased;
                changed = mode.changed() => if changed.is_err() { return },
                r = to.write(&buf[start..end]) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => start += n,
                },
            }
        } else {
            tokio::select! {
                biased;
                changed = mode.changed() => if changed.is_err() { return },
                r = from.read(&mut buf) => match r {
                    Ok(0) | Err(_) => {
                        // Pass the half-close on; the other direction may still have bytes.
                        let _ = to.shutdown().await;
                        return;
                    }
                    Ok(n) => (start, end) = (0, n),
                },
            }
        }
    }
}

// These run inside the partition integration-test binary, which is always a test build.

use std::time::Duration;

/// How long a test waits for something that should happen at once.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long a test watches for something that must not happen (bytes during a stall).
const QUIET: Duration = Duration::from_millis(300);

/// A target that accepts connections and hands their server-side sockets to the test.
async fn start_target() -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind target");
    let addr = listener.local_addr().expect("target address");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            if tx.send(s).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

/// Connects a client through the relay and returns it with the target's side of it.
async fn must_connect(
    relay: &Relay,
    accepted: &mut tokio::sync::mpsc::UnboundedReceiver<TcpStream>,
) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(relay.addr()).await.expect("connect to the relay");
    let server = tokio::time::timeout(DEADLINE, accepted.recv())
        .await
        .expect("the relay connects upstream")
        .expect("target running");
    (client, server)
}

async fn must_read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(DEADLINE, s.read_exact(&mut buf))
        .await
        .expect("bytes in time")
        .expect("read");
    buf
}

/// The peer closed: EOF or a reset, within the deadline.
async fn must_be_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(DEADLINE, s.read(&mut buf)).await.expect("closed in time") {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected the connection closed, read {n} bytes"),
    }
}

/// Nothing arrives for a while (and the connection stays open).
async fn must_stay_quiet(s: &mut TcpStream) {
    let mut buf = [0u8; 64];
    if let Ok(r) = tokio::time::timeout(QUIET, s.read(&mut buf)).await {
        panic!("expected nothing while stalled, got {r:?}");
    }
}

#[tokio::test]
async fn relay_forwards_bytes_both_ways_and_counts_connections() {
    let (target, mut accepted) = start_target().await;
    let relay = Relay::start(target).await;
    assert_eq!(relay.port(), relay.addr().port());
    let (mut client, mut server) = must_connect(&relay, &mut accepted).await;
    client.write_all(b"PING\r\n").await.unwrap();
    assert_eq!(must_read_exact(&mut server, 6).await, b"PING\r\n");
    server.write_all(b"+PONG\r\n").await.unwrap();
    assert_eq!(must_read_exact(&mut client, 7).await, b"+PONG\r\n");
    // More than a chunk in one go, in both directions at once.
    let big: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let mut up = vec![0u8; big.len()];
    let mut down = vec![0u8; big.len()];
    let (a, b, c, d) = tokio::join!(
        cw.write_all(&big),
        sw.write_all(&big),
        sr.read_exact(&mut up),
        cr.read_exact(&mut down)
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    d.unwrap();
    assert!(up == big && down == big);
    let (_c2, _s2) = must_connect(&relay, &mut accepted).await;
    assert_eq!(relay.connections(), 2);
}

#[tokio::test]
async fn relay_half_close_is_passed_on() {
    let (target, mut accepted) = start_target().await;
    let relay = Relay::start(target).await;
    let (mut client, mut server) = must_connect(&relay, &mut accepted).await;
    client.write_all(b"last words").await.unwrap();
    client.shutdown().await.unwrap();
    assert_eq!(must_read_exact(&mut server, 10).await, b"last words");
    must_be_closed(&mut server).await;
    // The other direction still works.
    server.write_all(b"reply").await.unwrap();
    assert_eq!(must_read_exact(&mut client, 5).await, b"reply");
}

#[tokio::test]
async fn relay_sever_closes_both_sides_and_restore_forwards_again() {
    let (target, mut accepted) = start_target().await;
    let relay = Relay::start(target).await;
    let (mut client, mut server) = must_connect(&relay, &mut accepted).await;
    client.write_all(b"x").await.unwrap();
    assert_eq!(must_read_exact(&mut server, 1).await, b"x");

    relay.sever();
    must_be_closed(&mut client).await;
    must_be_closed(&mut server).await;

    // While severed a new connection is closed at once and never reaches the target.
    let mut refused = TcpStream::connect(relay.addr()).await.expect("connect while severed");
    must_be_closed(&mut refused).await;
    assert!(accepted.try_recv().is_err(), "nothing reached the target while severed");
    assert_eq!(relay.connections(), 1);

    relay.restore();
    let (mut client, mut server) = must_connect(&relay, &mut accepted).await;
    client.write_all(b"again").await.unwrap();
    assert_eq!(must_read_exact(&mut server, 5).await, b"again");
    server.write_all(b"ok").await.unwrap();
    assert_eq!(must_read_exact(&mut client, 2).await, b"ok");
    assert_eq!(relay.connections(), 2);
}

#[tokio::test]
async fn relay_stall_holds_bytes_and_restore_delivers_them() {
    let (target, mut accepted) = start_target().await;
    let relay = Relay::start(target).await;
    let (mut client, mut server) = must_connect(&relay, &mut accepted).await;

    relay.stall();
    client.write_all(b"held up").await.unwrap();
    server.write_all(b"held down").await.unwrap();
    must_stay_quiet(&mut server).await;
    must_stay_quiet(&mut client).await;
    // A connection made during the stall is held too: not forwarded yet.
    let mut late = TcpStream::connect(relay.addr()).await.expect("connect while stalled");
    late.write_all(b"late").await.unwrap();
    must_stay_quiet(&mut late).await;
    assert!(accepted.try_recv().is_err(), "no upstream connection while stalled");

    relay.restore();
    assert_eq!(must_read_exact(&mut server, 7).await, b"held up");
    assert_eq!(must_read_exact(&mut client, 9).await, b"held down");
    let mut late_server = tokio::time::timeout(DEADLINE, accepted.recv())
        .await
        .expect("the held connection is forwarded")
        .expect("target running");
    assert_eq!(must_read_exact(&mut late_server, 4).await, b"late");
    assert_eq!(relay.connections(), 2);
}

#[tokio::test]
async fn relay_stall_is_bounded_and_loses_nothing() {
    let (target, mut accepted) = start_target().await;
    let relay = Relay::start(target).await;
    let (client, mut server) = must_connect(&relay, &mut accepted).await;

    relay.stall();
    // A writer that keeps going is blocked by flow control, not buffered without bound.
    let total = 64 << 20;
    let writer = tokio::spawn(async move {
        let mut client = client;
        let block: Vec<u8> = (0..CHUNK).map(|i| (i % 253) as u8).collect();
        let mut sent = 0usize;
        while sent < total {
            client.write_all(&block).await.unwrap();
            sent += block.len();
        }
        client
    });
    must_stay_quiet(&mut server).await;
    assert!(!writer.is_finished(), "64 MB went into a stalled link without blocking");

    relay.restore();
    let mut got = 0usize;
    let mut buf = vec![0u8; CHUNK];
    while got < total {
        let n = tokio::time::timeout(DEADLINE, server.read(&mut buf))
            .await
            .expect("bytes flow after restore")
            .expect("read");
        assert!(n > 0, "closed early at {got}");
        for (i, b) in buf[..n].iter().enumerate() {
            assert_eq!(*b, ((got + i) % CHUNK % 253) as u8, "byte {}", got + i);
        }
        got += n;
    }
    tokio::time::timeout(DEADLINE, writer).await.expect("writer done").unwrap();
}

#[tokio::test]
async fn relay_sever_during_a_stall_closes_held_connections() {
    let (target, mut accepted) = start_target().await;
    let relay = Relay::start(target).await;
    let (mut client, mut server) = must_connect(&relay, &mut accepted).await;
    relay.stall();
    let mut late = TcpStream::connect(relay.addr()).await.expect("connect while stalled");
    must_stay_quiet(&mut late).await;
    relay.sever();
    must_be_closed(&mut client).await;
    must_be_closed(&mut server).await;
    must_be_closed(&mut late).await;
    assert_eq!(relay.connections(), 1);
}

#[tokio::test]
async fn relay_dropped_closes_everything() {
    let (target, mut accepted) = start_target().await;
    let relay = Relay::start(target).await;
    let addr = relay.addr();
    let (mut client, mut server) = must_connect(&relay, &mut accepted).await;
    drop(relay);
    must_be_closed(&mut client).await;
    must_be_closed(&mut server).await;
    // The listener is gone with the accept task (it may take a moment for the abort to run).
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match TcpStream::connect(addr).await {
            Err(_) => break,
            Ok(mut s) => {
                must_be_closed(&mut s).await;
                assert!(tokio::time::Instant::now() < deadline, "the relay still listens");
                tokio::task::yield_now().await;
            }
        }
    }
}

//! `--read-from master|replica|replica-preferred`: where read-only commands go; writes always
//! go to the master.
//!
//! To see which server answered, the "replica" of most tests is a server that does not
//! replicate at all and holds different values for the same keys: a value read through the
//! proxy then says where the read went.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::routing::{RoutingTable, ShardRoute, SlotRange};
use tokio::net::TcpStream;

use crate::util::*;

/// One shard owning every slot: `master`, with `replicas`.
fn table(master: SocketAddr, replicas: &[SocketAddr]) -> RoutingTable {
    RoutingTable {
        epoch: 1,
        shards: vec![ShardRoute {
            id: 0,
            shard_epoch: 1,
            master: master.to_string(),
            replicas: replicas.iter().map(|r| r.to_string()).collect(),
            slots: vec![SlotRange::new(0, 16383)],
        }],
    }
}

/// A master and a look-alike replica holding `k` = `on-master` / `on-replica`.
async fn start_pair() -> (TestPartition, TestPartition) {
    let master = start_partition(&[]).await;
    let replica = start_partition(&[]).await;
    let mut m = master.client().await;
    let mut r = replica.client().await;
    let _: () = cmd(&mut m, &["SET", "k", "on-master"]).await.unwrap();
    let _: () = cmd(&mut r, &["SET", "k", "on-replica"]).await.unwrap();
    (master, replica)
}

async fn get(s: &mut TcpStream, key: &str) -> protocol::Frame {
    must_frame(s, &[b"GET", key.as_bytes()]).await
}

fn bulk(v: &str) -> protocol::Frame {
    protocol::Frame::Bulk(bytes::Bytes::copy_from_slice(v.as_bytes()))
}

#[tokio::test]
async fn reads_go_to_the_master_by_default() {
    let (master, replica) = start_pair().await;
    let proxy = start_proxy(&table(master.addr, &[replica.addr]), |_| {}).await;
    let mut s = proxy.raw().await;
    assert_eq!(get(&mut s, "k").await, bulk("on-master"));
}

#[tokio::test]
async fn with_replica_reads_reach_the_replica_and_writes_the_master() {
    let (master, replica) = start_pair().await;
    let proxy = start_proxy(&table(master.addr, &[replica.addr]), |c| {
        c.read_from = proxy::ReadFrom::Replica;
    })
    .await;
    let mut s = proxy.raw().await;
    assert_eq!(get(&mut s, "k").await, bulk("on-replica"));
    must_send(&mut s, &["MGET", "k", "nope"], b"*2\r\n$10\r\non-replica\r\n$-1\r\n").await;
    must_send(&mut s, &["STRLEN", "k"], b":10\r\n").await;
    // A write goes to the master, and a read right after it may be stale: here the "replica"
    // never gets it.
    must_send(&mut s, &["SET", "w", "new"], b"+OK\r\n").await;
    assert_eq!(get(&mut s, "w").await, protocol::Frame::NullBulk);
    let mut m = master.client().await;
    let mut r = replica.client().await;
    assert_eq!(cmd::<Option<String>>(&mut m, &["GET", "w"]).await.unwrap().as_deref(), Some("new"));
    assert_eq!(cmd::<Option<String>>(&mut r, &["GET", "w"]).await.unwrap(), None);
    // Read-modify-write commands are writes.
    must_send(&mut s, &["INCR", "n"], b":1\r\n").await;
    assert_eq!(cmd::<Option<String>>(&mut m, &["GET", "n"]).await.unwrap().as_deref(), Some("1"));
    // Aggregates across slots fetch from the replica too.
    assert_ne!(protocol::key_hash_slot(b"s1"), protocol::key_hash_slot(b"s2"));
    let _: () = cmd(&mut r, &["SADD", "s1", "a"]).await.unwrap();
    let _: () = cmd(&mut r, &["SADD", "s2", "a", "b"]).await.unwrap();
    let _: () = cmd(&mut m, &["SADD", "s1", "x"]).await.unwrap();
    must_send(&mut s, &["SINTER", "s1", "s2"], b"*1\r\n$1\r\na\r\n").await;
    // RESP3 clients too.
    let mut s3 = proxy.raw().await;
    assert!(matches!(must_frame(&mut s3, &[b"HELLO", b"3"]).await, protocol::Frame::Map(_)));
    assert_eq!(get(&mut s3, "k").await, bulk("on-replica"));
}

#[tokio::test]
async fn replica_preferred_falls_back_to_the_master_when_the_replica_is_down() {
    let (master, replica) = start_pair().await;
    let proxy = start_proxy(&table(master.addr, &[replica.addr]), |c| {
        c.read_from = proxy::ReadFrom::ReplicaPreferred;
    })
    .await;
    let mut s = proxy.raw().await;
    assert_eq!(get(&mut s, "k").await, bulk("on-replica"));
    replica.stop().await;
    // The read that finds the replica gone is retried on the master, and so are the next ones
    // while the replica stays down.
    for _ in 0..3 {
        assert_eq!(get(&mut s, "k").await, bulk("on-master"));
    }
}

#[tokio::test]
async fn a_shard_without_replicas_is_read_from_its_master() {
    let (master, _replica) = start_pair().await;
    let proxy = start_proxy(&table(master.addr, &[]), |c| {
        c.read_from = proxy::ReadFrom::Replica;
    })
    .await;
    let mut s = proxy.raw().await;
    assert_eq!(get(&mut s, "k").await, bulk("on-master"));
}

/// The `calls=` of `cmdstat_get` in a server's INFO commandstats (0 when absent).
async fn get_calls(addr: SocketAddr) -> u64 {
    let mut c = connect(addr).await;
    let info: String = cmd(&mut c, &["INFO", "commandstats"]).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn with_a_real_replica_a_write_becomes_readable_from_it() {
    let master = start_partition(&[]).await;
    let replica = start_partition(&[]).await;
    let mut r = replica.client().await;
    let port = master.addr.port().to_string();
    let _: () = cmd(&mut r, &["REPLICAOF", "127.0.0.1", &port]).await.unwrap();
    let proxy = start_proxy(&table(master.addr, &[replica.addr]), |c| {
        c.read_from = proxy::ReadFrom::Replica;
    })
    .await;
    let mut s = proxy.raw().await;
    must_send(&mut s, &["SET", "x", "1"], b"+OK\r\n").await;
    // Replication is asynchronous: the replica has it after a while.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while get(&mut s, "x").await != bulk("1") {
        assert!(tokio::time::Instant::now() < deadline, "the replica never served the write");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every GET went to the replica, none to the master.
    assert!(get_calls(replica.addr).await >= 1);
    assert_eq!(get_calls(master.addr).await, 0);
}

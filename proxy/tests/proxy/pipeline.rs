//! Pipelines whose commands go to different shards get their replies in command order.

use crate::util::{spread_keys, start_cluster};

#[tokio::test]
async fn a_pipeline_over_all_shards_keeps_its_order() {
    let cluster = start_cluster().await;
    let keys = spread_keys(300);
    // Every shard gets some keys.
    for p in &cluster.partitions {
        assert!(keys.iter().any(|k| std::ptr::eq(cluster.owner_of(k), p)));
    }
    let mut con = cluster.proxy.client().await;
    let mut pipe = redis::pipe();
    for (i, k) in keys.iter().enumerate() {
        pipe.cmd("set").arg(k).arg(i).ignore();
        pipe.cmd("incr").arg(k);
        pipe.cmd("ping");
    }
    let got: Vec<redis::Value> = pipe.query_async(&mut con).await.unwrap();
    assert_eq!(got.len(), 2 * keys.len());
    for (i, pair) in got.chunks(2).enumerate() {
        assert_eq!(pair[0], redis::Value::Int(i as i64 + 1), "incr of key {i}");
        assert_eq!(pair[1], redis::Value::SimpleString("PONG".into()));
    }
    // The writes are where the routing table puts them.
    for (i, k) in keys.iter().enumerate().step_by(37) {
        let mut direct = cluster.owner_of(k).client().await;
        let v: i64 = crate::util::cmd(&mut direct, &["get", k]).await.unwrap();
        assert_eq!(v, i as i64 + 1);
    }
}

#[tokio::test]
async fn many_clients_share_the_backend_connections() {
    let cluster = start_cluster().await;
    let mut tasks = Vec::new();
    for c in 0..20 {
        let addr = cluster.proxy.addr;
        tasks.push(tokio::spawn(async move {
            let mut con = crate::util::connect(addr).await;
            for i in 0..50 {
                let key = format!("c{c}:{i}");
                let mut pipe = redis::pipe();
                pipe.cmd("set").arg(&key).arg(i).ignore().cmd("get").arg(&key);
                let (v,): (i64,) = pipe.query_async(&mut con).await.unwrap();
                assert_eq!(v, i);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

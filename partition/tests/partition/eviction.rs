//! `maxmemory`: eviction policies and the OOM error, measured with the counting allocator the
//! binary uses.
use crate::util::*;

/// INFO memory's `used_memory`.
async fn used_memory(con: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = cmd(con, &["INFO", "memory"]).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

async fn info_field(con: &mut redis::aio::MultiplexedConnection, field: &str) -> u64 {
    let info: String = cmd(con, &["INFO", "stats"]).await.unwrap();
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .expect("field in INFO")
}

/// Sets `maxmemory` to what the server holds now plus `headroom` bytes.
async fn limit_to_current_plus(con: &mut redis::aio::MultiplexedConnection, headroom: u64) -> u64 {
    let limit = used_memory(con).await + headroom;
    let _: () = cmd(con, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).await.unwrap();
    limit
}

#[tokio::test]
async fn noeviction_refuses_writes_and_serves_reads() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "kept", "v"]).await.unwrap();
    limit_to_current_plus(&mut con, 256 * 1024).await;
    let value = "x".repeat(1024);
    let mut refused = None;
    for i in 0..2000 {
        if let Err(e) = cmd::<()>(&mut con, &["SET", &format!("k{i}"), &value]).await {
            refused = Some(e.to_string());
            break;
        }
    }
    let refused = refused.expect("writes past maxmemory must be refused");
    assert!(refused.contains("command not allowed when used memory > 'maxmemory'"), "{refused}");
    // Reads and deletes still work; nothing was evicted.
    let v: String = cmd(&mut con, &["GET", "kept"]).await.unwrap();
    assert_eq!(v, "v");
    assert_eq!(info_field(&mut con, "evicted_keys").await, 0);
    let deleted: i64 = cmd(&mut con, &["DEL", "k0"]).await.unwrap();
    assert_eq!(deleted, 1);
    // A transaction that would queue a write is refused too, and EXEC then aborts.
    let mut raw = srv.raw().await;
    let _: () = cmd(&mut con, &["SET", "fill", &"y".repeat(512 * 1024)]).await.unwrap_or(());
    must_send(&mut raw, &["MULTI"], b"+OK\r\n").await;
    must_send(
        &mut raw,
        &["SET", "a", "1"],
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    )
    .await;
    must_send(
        &mut raw,
        &["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n",
    )
    .await;
}

#[tokio::test]
async fn allkeys_lru_keeps_memory_under_the_limit() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]).await.unwrap();
    let _: () = cmd(&mut con, &["CONFIG", "SET", "maxmemory-samples", "10"]).await.unwrap();
    let limit = limit_to_current_plus(&mut con, 2 * 1024 * 1024).await;
    let value = "x".repeat(1024);
    let total = 8000;
    for i in 0..total {
        let _: () = cmd(&mut con, &["SET", &format!("k{i}"), &value]).await.unwrap();
    }
    let evicted = info_field(&mut con, "evicted_keys").await;
    let size: u64 = cmd(&mut con, &["DBSIZE"]).await.unwrap();
    assert!(evicted > 0, "nothing evicted");
    assert_eq!(size + evicted, total as u64);
    let used = used_memory(&mut con).await;
    // Within the limit, up to what one command and the allocator's per-thread batching add.
    assert!(used <= limit + 256 * 1024, "used {used} > limit {limit}");
}

#[tokio::test]
async fn volatile_policies_evict_only_keys_with_a_ttl() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let _: () =
        cmd(&mut con, &["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]).await.unwrap();
    for i in 0..200 {
        let _: () = cmd(&mut con, &["SET", &format!("p{i}"), "persistent"]).await.unwrap();
    }
    limit_to_current_plus(&mut con, 1024 * 1024).await;
    let value = "x".repeat(1024);
    let mut refused = false;
    for i in 0..4000 {
        let key = format!("v{i}");
        match cmd::<()>(&mut con, &["SET", &key, &value, "EX", &(100_000 + i).to_string()]).await {
            Ok(()) => {}
            Err(e) => {
                assert!(e.to_string().contains("OOM"), "{e}");
                refused = true;
                break;
            }
        }
    }
    assert!(!refused, "volatile keys could have been evicted");
    assert!(info_field(&mut con, "evicted_keys").await > 0);
    for i in 0..200 {
        let v: Option<String> = cmd(&mut con, &["GET", &format!("p{i}")]).await.unwrap();
        assert_eq!(v.as_deref(), Some("persistent"), "a key without TTL was evicted");
    }
    // volatile-ttl evicts the nearest deadlines first: the latest keys survive.
    let last: Option<String> = cmd(&mut con, &["GET", "v3999"]).await.unwrap();
    assert!(last.is_some());
    // Once no key with a TTL is left, a volatile policy has to refuse writes.
    let _: () =
        cmd(&mut con, &["CONFIG", "SET", "maxmemory-policy", "volatile-lru"]).await.unwrap();
    let _: () = cmd(&mut con, &["CONFIG", "SET", "maxmemory", "1"]).await.unwrap();
    let mut refused = None;
    for i in 0..1000 {
        if let Err(e) = cmd::<()>(&mut con, &["SET", &format!("new{i}"), "1"]).await {
            refused = Some(e.to_string());
            break;
        }
    }
    assert!(refused.expect("never refused").contains("OOM"));
    // It refused only after every key with a TTL was gone.
    let volatile_left: Vec<String> = cmd(&mut con, &["KEYS", "v*"]).await.unwrap();
    assert!(volatile_left.is_empty(), "{} volatile keys left", volatile_left.len());
    for i in 0..200 {
        let v: Option<String> = cmd(&mut con, &["GET", &format!("p{i}")]).await.unwrap();
        assert_eq!(v.as_deref(), Some("persistent"), "a key without TTL was evicted");
    }
}

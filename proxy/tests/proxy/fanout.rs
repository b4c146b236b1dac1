//! Keyspace-wide commands through the proxy: SCAN over every shard (also under concurrent
//! writes), KEYS, DBSIZE, RANDOMKEY, FLUSHDB/FLUSHALL, INFO, SLOWLOG, CONFIG GET.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::util::{cmd, even_owner, must_send, start_cluster, Cluster};

/// Writes `keys` through the proxy and checks they landed on every shard.
async fn must_fill(cluster: &Cluster, keys: &[String]) {
    let mut con = cluster.proxy.client().await;
    let mut c = redis::cmd("mset");
    for k in keys {
        c.arg(k).arg("v");
    }
    let _: () = c.query_async(&mut con).await.unwrap();
    let shards: HashSet<usize> = keys.iter().map(|k| even_owner(k.as_bytes(), 3)).collect();
    assert_eq!(shards.len(), 3, "the keys cover every shard");
}

/// A full SCAN through the proxy with `extra` options; every key returned.
async fn full_scan(con: &mut redis::aio::MultiplexedConnection, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    let mut rounds = 0;
    loop {
        let mut args = vec!["scan", cursor.as_str()];
        args.extend_from_slice(extra);
        let (next, keys): (String, Vec<String>) = cmd(con, &args).await.unwrap();
        all.extend(keys);
        rounds += 1;
        assert!(rounds < 100_000, "the scan does not end");
        if next == "0" {
            return all;
        }
        cursor = next;
    }
}

#[tokio::test]
async fn scan_returns_every_key_of_every_shard_with_options_pushed_down() {
    let cluster = start_cluster().await;
    let keys: Vec<String> = (0..300).map(|i| format!("s:{i}")).collect();
    must_fill(&cluster, &keys).await;
    let mut con = cluster.proxy.client().await;
    let _: i64 = cmd(&mut con, &["sadd", "aset", "m"]).await.unwrap();
    let got: HashSet<String> = full_scan(&mut con, &["count", "7"]).await.into_iter().collect();
    let mut want: HashSet<String> = keys.iter().cloned().collect();
    want.insert("aset".into());
    assert_eq!(got, want);
    let got: HashSet<String> = full_scan(&mut con, &["match", "s:1*"]).await.into_iter().collect();
    let want: HashSet<String> = keys.iter().filter(|k| k.starts_with("s:1")).cloned().collect();
    assert_eq!(got, want);
    let got = full_scan(&mut con, &["type", "set"]).await;
    assert_eq!(got, vec!["aset".to_string()]);
    let mut s = cluster.proxy.raw().await;
    must_send(&mut s, &["scan", "abc"], b"-ERR invalid cursor\r\n").await;
    must_send(&mut s, &["scan", "0", "count", "0"], b"-ERR syntax error\r\n").await;
    // A cursor naming a shard the table does not have ends the scan.
    must_send(&mut s, &["scan", "1023"], b"*2\r\n$1\r\n0\r\n*0\r\n").await;
}

#[tokio::test]
async fn a_full_scan_under_concurrent_writes_returns_every_key_present_throughout() {
    let cluster = start_cluster().await;
    let stable: Vec<String> = (0..500).map(|i| format!("stable:{i}")).collect();
    must_fill(&cluster, &stable).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writer = cluster.proxy.client().await;
    let writing = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            let mut writes = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let k = format!("churn:{}", i % 400);
                if i % 3 == 2 {
                    let _: i64 = cmd(&mut writer, &["del", &k]).await.unwrap();
                } else {
                    let _: () = cmd(&mut writer, &["set", &k, "x"]).await.unwrap();
                }
                i += 1;
                writes += 1;
            }
            writes
        })
    };
    let mut con = cluster.proxy.client().await;
    for _ in 0..3 {
        let got: HashSet<String> =
            full_scan(&mut con, &["count", "20"]).await.into_iter().collect();
        let missing: Vec<&String> = stable.iter().filter(|k| !got.contains(*k)).collect();
        assert!(missing.is_empty(), "keys present throughout but not returned: {missing:?}");
        assert!(got.iter().all(|k| k.starts_with("stable:") || k.starts_with("churn:")));
    }
    stop.store(true, Ordering::Relaxed);
    let writes = writing.await.unwrap();
    assert!(writes > 0, "the writer ran during the scans");
}

#[tokio::test]
async fn keys_dbsize_randomkey_and_flushes_cover_every_shard() {
    let cluster = start_cluster().await;
    let mut con = cluster.proxy.client().await;
    let r: Option<String> = cmd(&mut con, &["randomkey"]).await.unwrap();
    assert_eq!(r, None, "an empty cluster has no random key");
    let n: i64 = cmd(&mut con, &["dbsize"]).await.unwrap();
    assert_eq!(n, 0);
    let keys: Vec<String> = (0..60).map(|i| format!("k:{i}")).collect();
    must_fill(&cluster, &keys).await;
    let n: i64 = cmd(&mut con, &["dbsize"]).await.unwrap();
    assert_eq!(n, 60);
    let mut got: Vec<String> = cmd(&mut con, &["keys", "k:*"]).await.unwrap();
    got.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(got, want);
    let got: Vec<String> = cmd(&mut con, &["keys", "k:1?"]).await.unwrap();
    assert_eq!(got.len(), 10);
    let mut seen = HashSet::new();
    for _ in 0..60 {
        let r: String = cmd(&mut con, &["randomkey"]).await.unwrap();
        assert!(keys.contains(&r), "{r}");
        seen.insert(even_owner(r.as_bytes(), 3));
    }
    assert!(seen.len() > 1, "random keys come from more than one shard");
    let ok: String = cmd(&mut con, &["flushdb"]).await.unwrap();
    assert_eq!(ok, "OK");
    for p in &cluster.partitions {
        let n: i64 = cmd(&mut p.client().await, &["dbsize"]).await.unwrap();
        assert_eq!(n, 0, "FLUSHDB reached {}", p.addr);
    }
    must_fill(&cluster, &keys).await;
    let ok: String = cmd(&mut con, &["flushall", "sync"]).await.unwrap();
    assert_eq!(ok, "OK");
    let n: i64 = cmd(&mut con, &["dbsize"]).await.unwrap();
    assert_eq!(n, 0);
    let mut s = cluster.proxy.raw().await;
    must_send(&mut s, &["flushdb", "foo"], b"-ERR syntax error\r\n").await;
    must_send(&mut s, &["keys"], b"-ERR wrong number of arguments for 'keys' command\r\n").await;
}

/// The `field` of an INFO text.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| l.trim_end().strip_prefix(&format!("{name}:")).map(str::to_string))
}

#[tokio::test]
async fn info_has_a_proxy_section_and_sums_keyspace_and_stats_over_shards() {
    let cluster = start_cluster().await;
    let keys: Vec<String> = (0..30).map(|i| format!("i:{i}")).collect();
    must_fill(&cluster, &keys).await;
    let mut con = cluster.proxy.client().await;
    for k in &keys {
        let _: String = cmd(&mut con, &["get", k]).await.unwrap();
    }
    let _: Option<String> = cmd(&mut con, &["get", "missing"]).await.unwrap();
    let info: String = cmd(&mut con, &["info"]).await.unwrap();
    for section in ["# Server", "# Clients", "# Stats", "# Proxy", "# Keyspace"] {
        assert!(info.contains(section), "{section} in {info}");
    }
    assert_eq!(field(&info, "db0").as_deref(), Some("keys=30,expires=0,avg_ttl=0"), "{info}");
    assert_eq!(field(&info, "shards").as_deref(), Some("3"));
    assert_eq!(field(&info, "redis_version").as_deref(), Some(protocol::redis_text::REDIS_VERSION));
    // The shards' own counters, summed.
    let mut hits = 0;
    let mut misses = 0;
    for p in &cluster.partitions {
        let text: String = cmd(&mut p.client().await, &["info", "stats"]).await.unwrap();
        hits += field(&text, "keyspace_hits").unwrap().parse::<i64>().unwrap();
        misses += field(&text, "keyspace_misses").unwrap().parse::<i64>().unwrap();
    }
    assert_eq!(hits, 30);
    let stats: String = cmd(&mut con, &["info", "stats"]).await.unwrap();
    assert!(stats.starts_with("# Stats\r\n"), "{stats}");
    assert!(!stats.contains("# Keyspace") && !stats.contains("# Proxy"), "{stats}");
    assert_eq!(field(&stats, "keyspace_hits"), Some(hits.to_string()));
    assert_eq!(field(&stats, "keyspace_misses"), Some(misses.to_string()));
    let ks: String = cmd(&mut con, &["info", "keyspace"]).await.unwrap();
    assert_eq!(ks, "# Keyspace\r\ndb0:keys=30,expires=0,avg_ttl=0\r\n");
    let proxy: String = cmd(&mut con, &["info", "proxy", "clients"]).await.unwrap();
    assert!(proxy.starts_with("# Clients\r\n"), "{proxy}");
    assert!(proxy.contains("\r\n\r\n# Proxy\r\n"), "{proxy}");
    assert_eq!(field(&proxy, "connected_clients").as_deref(), Some("1"));
    let nothing: String = cmd(&mut con, &["info", "nosuchsection"]).await.unwrap();
    assert_eq!(nothing, "");
    // RESP3: the shards answer verbatim strings, and so does the proxy.
    let mut s = cluster.proxy.raw().await;
    let _ = crate::util::must_exchange(&mut s, &crate::util::resp(&["hello", "3"]), 100).await;
    let want = "# Keyspace\r\ndb0:keys=30,expires=0,avg_ttl=0\r\n";
    let reply = format!("={}\r\ntxt:{want}\r\n", want.len() + 4);
    must_send(&mut s, &["info", "keyspace"], reply.as_bytes()).await;
}

#[tokio::test]
async fn slowlog_merges_newest_first_and_config_get_answers_from_one_shard() {
    let cluster = start_cluster().await;
    for p in &cluster.partitions {
        let _: () = cmd(&mut p.client().await, &["config", "set", "slowlog-log-slower-than", "0"])
            .await
            .unwrap();
    }
    let mut con = cluster.proxy.client().await;
    let keys: Vec<String> = (0..12).map(|i| format!("sl:{i}")).collect();
    for k in &keys {
        let _: () = cmd(&mut con, &["set", k, "v"]).await.unwrap();
    }
    let mut total = 0;
    for p in &cluster.partitions {
        let n: i64 = cmd(&mut p.client().await, &["slowlog", "len"]).await.unwrap();
        total += n;
    }
    let len: i64 = cmd(&mut con, &["slowlog", "len"]).await.unwrap();
    assert!(len >= total, "{len} < {total}");
    // Entries: [id, unix time, duration, [args…], client addr, client name].
    type Entry = (i64, i64, i64, Vec<String>, String, String);
    let got: Vec<Entry> = cmd(&mut con, &["slowlog", "get", "5"]).await.unwrap();
    assert_eq!(got.len(), 5);
    assert!(got.windows(2).all(|w| (w[0].1, w[0].0) >= (w[1].1, w[1].0)), "newest first: {got:?}");
    let all: Vec<Entry> = cmd(&mut con, &["slowlog", "get", "-1"]).await.unwrap();
    let sets: HashSet<String> = all
        .iter()
        .filter(|e| e.3.first().map(String::as_str) == Some("set"))
        .map(|e| e.3[1].clone())
        .collect();
    assert_eq!(sets, keys.iter().cloned().collect::<HashSet<_>>(), "every shard's entries");
    for p in &cluster.partitions {
        let _: () =
            cmd(&mut p.client().await, &["config", "set", "slowlog-log-slower-than", "1000000"])
                .await
                .unwrap();
    }
    let ok: String = cmd(&mut con, &["slowlog", "reset"]).await.unwrap();
    assert_eq!(ok, "OK");
    let len: i64 = cmd(&mut con, &["slowlog", "len"]).await.unwrap();
    assert_eq!(len, 0);
    let mut s = cluster.proxy.raw().await;
    must_send(
        &mut s,
        &["slowlog", "get", "-2"],
        b"-ERR count should be greater than or equal to -1\r\n",
    )
    .await;
    let cfg: Vec<String> =
        cmd(&mut con, &["config", "get", "slowlog-log-slower-than"]).await.unwrap();
    assert_eq!(cfg, vec!["slowlog-log-slower-than".to_string(), "1000000".to_string()]);
}

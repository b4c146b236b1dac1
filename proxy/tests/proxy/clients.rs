//! Connection commands answered by the proxy for its own clients (CLIENT LIST/INFO/KILL, RESET)
//! and cluster-mode clients working through it unchanged (redis-py's `RedisCluster`).

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use crate::util::{
    cmd, even_table, must_exchange, must_send, resp, start_cluster, start_partition, start_proxy,
    test_dir,
};

/// The fields of one CLIENT LIST line.
fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key}"))
}

/// Reads until the peer closes the connection, within 5 s.
async fn must_be_closed(s: &mut tokio::net::TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => {}
            Err(_) => panic!("the connection is still open"),
        }
    }
}

#[tokio::test]
async fn client_list_info_and_kill_cover_the_proxys_clients() {
    let cluster = start_cluster().await;
    let mut me = cluster.proxy.client().await;
    let _: () = cmd(&mut me, &["client", "setname", "me"]).await.unwrap();
    let my_id: i64 = cmd(&mut me, &["client", "id"]).await.unwrap();
    let mut other = cluster.proxy.raw().await;
    must_send(&mut other, &["client", "setname", "other"], b"+OK\r\n").await;
    must_send(&mut other, &["set", "k", "v"], b"+OK\r\n").await;
    let list: String = cmd(&mut me, &["client", "list"]).await.unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    let mine = fields(lines.iter().find(|l| l.contains(" name=me ")).expect("my line"));
    let theirs =
        fields(lines.iter().find(|l| l.contains(" name=other ")).expect("the other's line"));
    assert_eq!(get(&mine, "id"), my_id.to_string());
    assert_eq!(get(&mine, "cmd"), "client|list");
    assert_eq!(get(&theirs, "cmd"), "set");
    assert_eq!(get(&theirs, "laddr"), cluster.proxy.addr.to_string());
    assert_eq!(get(&theirs, "addr"), other.local_addr().unwrap().to_string());
    for (k, want) in
        [("db", "0"), ("flags", "N"), ("multi", "-1"), ("resp", "2"), ("user", "default")]
    {
        assert_eq!(get(&theirs, k), want, "{k}");
    }
    let keys: Vec<&str> = theirs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(&keys[..8], ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags"]);
    let info: String = cmd(&mut me, &["client", "info"]).await.unwrap();
    assert_eq!(get(&fields(info.trim_end()), "id"), my_id.to_string());
    assert_eq!(get(&fields(info.trim_end()), "cmd"), "client|info");
    // A client in MULTI shows it.
    must_send(&mut other, &["multi"], b"+OK\r\n").await;
    must_send(&mut other, &["get", "k"], b"+QUEUED\r\n").await;
    let list: String = cmd(&mut me, &["client", "list", "id", get(&theirs, "id")]).await.unwrap();
    assert_eq!(get(&fields(list.trim_end()), "multi"), "1", "{list}");
    assert_eq!(get(&fields(list.trim_end()), "flags"), "x", "{list}");
    let none: String = cmd(&mut me, &["client", "list", "type", "pubsub"]).await.unwrap();
    assert_eq!(none, "");
    // KILL by id closes the other connection.
    let n: i64 = cmd(&mut me, &["client", "kill", "id", get(&theirs, "id")]).await.unwrap();
    assert_eq!(n, 1);
    must_be_closed(&mut other).await;
    let n: i64 = cmd(&mut me, &["client", "kill", "id", "999999"]).await.unwrap();
    assert_eq!(n, 0);
    // The old form, by address; errors as Redis gives them.
    let mut third = cluster.proxy.raw().await;
    must_send(&mut third, &["ping"], b"+PONG\r\n").await;
    let addr = third.local_addr().unwrap().to_string();
    let ok: String = cmd(&mut me, &["client", "kill", &addr]).await.unwrap();
    assert_eq!(ok, "OK");
    must_be_closed(&mut third).await;
    let mut s = cluster.proxy.raw().await;
    must_send(&mut s, &["client", "kill", "1.2.3.4:5"], b"-ERR No such client\r\n").await;
    must_send(
        &mut s,
        &["client", "kill", "id", "0"],
        b"-ERR client-id should be greater than 0\r\n",
    )
    .await;
    must_send(&mut s, &["client", "kill", "foo", "bar"], b"-ERR syntax error\r\n").await;
    // Killing itself: the reply, then the connection closes.
    let id = {
        let got = must_exchange(&mut s, &resp(&["client", "id"]), 4).await;
        String::from_utf8_lossy(&got[1..got.len() - 2]).into_owned()
    };
    must_send(&mut s, &["client", "kill", "id", &id, "skipme", "no"], b":1\r\n").await;
    must_be_closed(&mut s).await;
}

#[tokio::test]
async fn killing_a_blocked_client_releases_its_backend_connection() {
    let cluster = start_cluster().await;
    let mut blocked = cluster.proxy.raw().await;
    tokio::io::AsyncWriteExt::write_all(&mut blocked, &resp(&["blpop", "kq", "0"])).await.unwrap();
    let mut me = cluster.proxy.client().await;
    let mut owner = cluster.owner_of("kq").client().await;
    let blocked_on_owner = |text: String| -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list: String = cmd(&mut me, &["client", "list"]).await.unwrap();
        if list.contains(" flags=b ") {
            break;
        }
        assert!(Instant::now() < deadline, "the client never showed as blocked: {list}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n: i64 =
        cmd(&mut me, &["client", "kill", "addr", &blocked.local_addr().unwrap().to_string()])
            .await
            .unwrap();
    assert_eq!(n, 1);
    must_be_closed(&mut blocked).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info: String = cmd(&mut owner, &["info", "clients"]).await.unwrap();
        if blocked_on_owner(info) == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the backend still has the blocked client");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn reset_discards_the_transaction_name_and_protocol_and_authentication() {
    let p = start_partition(&[]).await;
    let proxy = start_proxy(&even_table(1, &[p.addr]), |c| c.requirepass = "pw".into()).await;
    let mut s = proxy.raw().await;
    must_send(&mut s, &["auth", "pw"], b"+OK\r\n").await;
    must_send(&mut s, &["client", "setname", "n"], b"+OK\r\n").await;
    let _ = must_exchange(&mut s, &resp(&["hello", "3"]), 100).await;
    must_send(&mut s, &["watch", "w"], b"+OK\r\n").await;
    must_send(&mut s, &["multi"], b"+OK\r\n").await;
    must_send(&mut s, &["set", "w", "1"], b"+QUEUED\r\n").await;
    must_send(&mut s, &["reset"], b"+RESET\r\n").await;
    must_send(&mut s, &["get", "w"], b"-NOAUTH Authentication required.\r\n").await;
    must_send(&mut s, &["auth", "pw"], b"+OK\r\n").await;
    must_send(&mut s, &["get", "w"], b"$-1\r\n").await;
    must_send(&mut s, &["client", "getname"], b"$-1\r\n").await;
    must_send(&mut s, &["exec"], b"-ERR EXEC without MULTI\r\n").await;
}

const REDIS_PY_SCRIPT: &str = r#"
import sys
from redis.cluster import RedisCluster
rc = RedisCluster(host="127.0.0.1", port=int(sys.argv[1]))
keys = [f"py:{i}" for i in range(50)]
for i, k in enumerate(keys):
    assert rc.set(k, str(i)) is True
got = [rc.get(k) for k in keys]
assert got == [str(i).encode() for i in range(50)], got
assert rc.mget_nonatomic(keys) == [str(i).encode() for i in range(50)]
assert rc.mset({"{t}a": "1", "{t}b": "2"}) is True
assert rc.mget(["{t}a", "{t}b", "{t}c"]) == [b"1", b"2", None]
print("ok")
"#;

#[tokio::test]
async fn redis_py_cluster_client_works_through_the_proxy() {
    let cluster = start_cluster().await;
    let script = test_dir().join("cluster_client.py");
    std::fs::write(&script, REDIS_PY_SCRIPT).unwrap();
    let run = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(cluster.proxy.addr.port().to_string())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("redis-py finished within 60 s")
        .expect("python3 runs (.ci/run installs it with `pip install redis`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.trim() == "ok", "redis-py failed:\n{stdout}\n{stderr}");
    // What it wrote is in the cluster, spread over the shards.
    let mut con = cluster.proxy.client().await;
    let n: i64 = cmd(&mut con, &["dbsize"]).await.unwrap();
    assert_eq!(n, 52);
}

#[tokio::test]
async fn the_redis_crates_cluster_client_works_through_the_proxy() {
    let cluster = start_cluster().await;
    let client =
        redis::cluster::ClusterClient::new(vec![format!("redis://{}/", cluster.proxy.addr)])
            .expect("cluster client");
    let mut con = tokio::time::timeout(Duration::from_secs(10), client.get_async_connection())
        .await
        .expect("connected within 10 s")
        .expect("cluster connection");
    for i in 0..30 {
        let _: () =
            redis::cmd("set").arg(format!("rs:{i}")).arg(i).query_async(&mut con).await.unwrap();
    }
    for i in 0..30 {
        let v: i64 = redis::cmd("get").arg(format!("rs:{i}")).query_async(&mut con).await.unwrap();
        assert_eq!(v, i);
    }
    // The client routes MGET itself per slot; every slot is the proxy's.
    let vals: Vec<Option<i64>> =
        redis::cmd("mget").arg("{rs}a").arg("{rs}b").query_async(&mut con).await.unwrap();
    assert_eq!(vals, vec![None, None]);
    let _: () = redis::cmd("mset")
        .arg("{rs}a")
        .arg(1)
        .arg("{rs}b")
        .arg(2)
        .query_async(&mut con)
        .await
        .unwrap();
    let vals: Vec<Option<i64>> =
        redis::cmd("mget").arg("{rs}a").arg("{rs}b").query_async(&mut con).await.unwrap();
    assert_eq!(vals, vec![Some(1), Some(2)]);
    let mut proxy = cluster.proxy.client().await;
    let n: i64 = cmd(&mut proxy, &["dbsize"]).await.unwrap();
    assert_eq!(n, 32);
}

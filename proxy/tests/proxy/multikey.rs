//! Multi-key commands across shards, checked against a model; other multi-key commands work
//! within one slot and are refused across slots.

use std::collections::HashMap;

use rand::Rng;

use crate::util::{cmd, start_cluster};

#[tokio::test]
async fn mget_mset_del_exists_across_shards_match_a_model() {
    let cluster = start_cluster().await;
    let mut con = cluster.proxy.client().await;
    let mut model: HashMap<String, String> = HashMap::new();
    let mut rng = rand::rng();
    let key = |rng: &mut rand::rngs::ThreadRng| format!("k{}", rng.random_range(0..40));
    for round in 0..300 {
        let n = rng.random_range(1..8);
        let keys: Vec<String> = (0..n).map(|_| key(&mut rng)).collect();
        match rng.random_range(0..5) {
            0 | 1 => {
                let mut c = redis::cmd("mset");
                for k in &keys {
                    let v = format!("v{round}-{k}");
                    c.arg(k).arg(&v);
                    model.insert(k.clone(), v);
                }
                let ok: String = c.query_async(&mut con).await.unwrap();
                assert_eq!(ok, "OK");
            }
            2 => {
                let got: Vec<Option<String>> =
                    redis::cmd("mget").arg(&keys).query_async(&mut con).await.unwrap();
                let want: Vec<Option<String>> =
                    keys.iter().map(|k| model.get(k).cloned()).collect();
                assert_eq!(got, want, "MGET {keys:?}");
            }
            3 => {
                let got: i64 = redis::cmd("exists").arg(&keys).query_async(&mut con).await.unwrap();
                let want = keys.iter().filter(|k| model.contains_key(*k)).count() as i64;
                assert_eq!(got, want, "EXISTS {keys:?}");
            }
            _ => {
                let name = if rng.random_bool(0.5) { "del" } else { "unlink" };
                let got: i64 = redis::cmd(name).arg(&keys).query_async(&mut con).await.unwrap();
                let mut want = 0;
                for k in &keys {
                    want += model.remove(k).is_some() as i64;
                }
                assert_eq!(got, want, "{name} {keys:?}");
            }
        }
    }
    let all: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let touched: i64 = redis::cmd("touch").arg(&all).query_async(&mut con).await.unwrap();
    assert_eq!(touched, model.len() as i64);
}

#[tokio::test]
async fn other_multi_key_commands_need_one_slot() {
    let cluster = start_cluster().await;
    let mut con = cluster.proxy.client().await;
    let _: () = cmd(&mut con, &["set", "a", "1"]).await.unwrap();
    let err = cmd::<()>(&mut con, &["rename", "a", "b"]).await.unwrap_err();
    assert_eq!(err.code(), Some("CROSSSLOT"), "{err}");
    assert!(err.to_string().contains("Keys in request don't hash to the same slot"));
    let _: () = cmd(&mut con, &["set", "{u}a", "1"]).await.unwrap();
    let _: () = cmd(&mut con, &["rename", "{u}a", "{u}b"]).await.unwrap();
    let v: String = cmd(&mut con, &["get", "{u}b"]).await.unwrap();
    assert_eq!(v, "1");
    let err = cmd::<()>(&mut con, &["sunionstore", "d", "x", "y"]).await.unwrap_err();
    assert_eq!(err.code(), Some("CROSSSLOT"));
    // A split command with every key on one shard goes as it is.
    let vals: Vec<Option<String>> =
        redis::cmd("mget").arg("{u}b").arg("{u}c").query_async(&mut con).await.unwrap();
    assert_eq!(vals, vec![Some("1".to_string()), None]);
    let err = cmd::<()>(&mut con, &["mset", "a", "1", "b"]).await.unwrap_err();
    assert!(err.to_string().contains("wrong number of arguments for 'mset'"), "{err}");
}

//! `/metrics` and `/healthz` on the metrics port: commands, latencies, errors by kind and
//! retries move by exactly what the clients did; the routing gauges and the backend
//! connection states match the proxy's state.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::util::{
    even_owner, even_table, must_send, routing_file_config, start_fenced_pair, start_partition,
    start_proxy_with, start_proxy_with_metrics,
};

/// `GET http://addr/path`, retried while the endpoint is not listening yet (5 s at most):
/// status, content type, body.
async fn must_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let http = reqwest::Client::builder().no_proxy().build().expect("http client");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match http.get(format!("http://{addr}{path}")).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let ctype = resp
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().expect("ascii").to_string())
                    .unwrap_or_default();
                return (status, ctype, resp.text().await.expect("body"));
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "GET {path} on {addr}: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// The value of one series (`name{labels}` exactly as exposed) in a scrape.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes until `cond` holds (5 s at most); the scrape that satisfied it.
async fn must_scrape_until(addr: SocketAddr, cond: impl Fn(&str) -> bool, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, text) = must_get(addr, "/metrics").await;
        assert_eq!(status, 200);
        if cond(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn assert_series(text: &str, expected: &[(&str, f64)]) {
    for (series, want) in expected {
        assert_eq!(value(text, series), Some(*want), "{series} in\n{text}");
    }
}

#[tokio::test]
async fn commands_errors_and_routing_are_counted() {
    let mut partitions = Vec::new();
    for _ in 0..3 {
        partitions.push(start_partition(&[]).await);
    }
    let addrs: Vec<SocketAddr> = partitions.iter().map(|p| p.addr).collect();
    let (proxy, metrics) =
        start_proxy_with_metrics(routing_file_config(&even_table(5, &addrs))).await;

    let (status, ctype, health) = must_get(metrics, "/healthz").await;
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["epoch"], 5);
    assert!(ctype.starts_with("application/json"), "{ctype}");

    let mut s = proxy.raw().await;
    must_send(&mut s, &["GET", "k"], b"$-1\r\n").await;
    must_send(&mut s, &["SET", "k", "v"], b"+OK\r\n").await;
    must_send(&mut s, &["get", "k"], b"$1\r\nv\r\n").await;
    must_send(
        &mut s,
        &["MONITOR"],
        b"-ERR 'monitor' is not supported through the proxy: it concerns one server, and the \
          proxy fronts many\r\n",
    )
    .await;
    assert_ne!(protocol::key_hash_slot(b"a"), protocol::key_hash_slot(b"b"));
    must_send(
        &mut s,
        &["RENAME", "a", "b"],
        b"-CROSSSLOT Keys in request don't hash to the same slot\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["NOSUCH"],
        b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
    )
    .await;

    // Both connections of k's backend are opened together; the second may still be connecting.
    let connected = "rcluster_proxy_backend_connections{state=\"connected\"}";
    let text =
        must_scrape_until(metrics, |t| value(t, connected) == Some(2.0), "2 connections").await;
    let (_, ctype, _) = must_get(metrics, "/metrics").await;
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let owner = addrs[even_owner(b"k", 3)];
    let in_flight = format!("rcluster_proxy_backend_in_flight{{backend=\"{owner}\"}}");
    assert_series(
        &text,
        &[
            ("rcluster_proxy_commands_total{command=\"get\"}", 2.0),
            ("rcluster_proxy_commands_total{command=\"set\"}", 1.0),
            ("rcluster_proxy_commands_total{command=\"monitor\"}", 1.0),
            ("rcluster_proxy_commands_total{command=\"rename\"}", 1.0),
            ("rcluster_proxy_commands_total{command=\"other\"}", 1.0),
            ("rcluster_proxy_command_duration_seconds_count{command=\"get\"}", 2.0),
            ("rcluster_proxy_command_duration_seconds_count{command=\"set\"}", 1.0),
            ("rcluster_proxy_command_duration_seconds_bucket{le=\"+Inf\",command=\"get\"}", 2.0),
            ("rcluster_proxy_errors_total{kind=\"unsupported\"}", 1.0),
            ("rcluster_proxy_errors_total{kind=\"crossslot\"}", 1.0),
            ("rcluster_proxy_errors_total{kind=\"other\"}", 1.0),
            ("rcluster_proxy_errors_total{kind=\"moved\"}", 0.0),
            ("rcluster_proxy_errors_total{kind=\"backend_unreachable\"}", 0.0),
            ("rcluster_proxy_retries_total", 0.0),
            ("rcluster_proxy_clients", 1.0),
            ("rcluster_proxy_backend_connections{state=\"connecting\"}", 0.0),
            ("rcluster_proxy_backend_connections{state=\"down\"}", 0.0),
            (&in_flight, 0.0),
            ("rcluster_proxy_routing_epoch", 5.0),
        ],
    );
    let sum = value(&text, "rcluster_proxy_command_duration_seconds_sum{command=\"get\"}");
    assert!(sum.is_some_and(|s| s > 0.0 && s < 5.0), "{sum:?}");
    let age = value(&text, "rcluster_proxy_routing_age_seconds").expect("age");
    assert!((0.0..60.0).contains(&age), "{age}");
    assert!(!text.contains("command=\"del\""), "commands never used have no series");
    drop(s);
    must_scrape_until(metrics, |t| value(t, "rcluster_proxy_clients") == Some(0.0), "0 clients")
        .await;
}

#[tokio::test]
async fn moved_and_retries_are_counted() {
    // As in retry.rs: A owns 0-8191 and redirects the rest to B; the proxy's table says A.
    let upper = "foo"; // slot 12182
    let (a, _b) = start_fenced_pair().await;
    let (proxy, metrics) =
        start_proxy_with_metrics(routing_file_config(&even_table(1, &[a.addr]))).await;
    let mut s = proxy.raw().await;
    must_send(&mut s, &["SET", upper, "v"], b"+OK\r\n").await;
    let (_, _, text) = must_get(metrics, "/metrics").await;
    assert_series(
        &text,
        &[
            ("rcluster_proxy_commands_total{command=\"set\"}", 1.0),
            ("rcluster_proxy_errors_total{kind=\"moved\"}", 1.0),
            ("rcluster_proxy_errors_total{kind=\"tryagain\"}", 0.0),
            ("rcluster_proxy_retries_total", 1.0),
        ],
    );
}

#[tokio::test]
async fn healthz_is_503_without_a_routing_table_and_the_port_comes_from_the_config() {
    // A free port for --metrics-port: bound, read, released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = proxy::Config {
        // Nothing listens there: the proxy never gets a table.
        config_endpoints: vec!["http://127.0.0.1:1".into()],
        metrics_port: port,
        metrics_bind: Some("127.0.0.1".into()),
        ..proxy::Config::default()
    };
    let _proxy = start_proxy_with(config).await;
    let metrics: SocketAddr = ([127, 0, 0, 1], port).into();
    let (status, _, body) = must_get(metrics, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["epoch"], 0);
    assert_eq!(body["routing_age_seconds"], serde_json::Value::Null);
    let (_, _, text) = must_get(metrics, "/metrics").await;
    assert_series(
        &text,
        &[("rcluster_proxy_routing_epoch", 0.0), ("rcluster_proxy_routing_age_seconds", -1.0)],
    );
}

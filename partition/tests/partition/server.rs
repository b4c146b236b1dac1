//! Server commands against a real server: INFO, CONFIG, SLOWLOG, MEMORY, TIME, LASTSAVE,
//! DEBUG, and the effects of CONFIG SET on running connections.
use std::collections::HashMap;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::util::*;

/// Sends a command whose reply is a bulk string and returns that string.
async fn must_bulk(s: &mut TcpStream, args: &[&str]) -> String {
    let mut got = Box::pin(must_exchange(s, &resp(args), 4)).await;
    let header_end = loop {
        if let Some(i) = got.windows(2).position(|w| w == b"\r\n") {
            break i;
        }
        got.extend(Box::pin(must_read(s, 1)).await);
    };
    assert_eq!(got[0], b'$', "{}", String::from_utf8_lossy(&got));
    let len: usize = std::str::from_utf8(&got[1..header_end]).unwrap().parse().unwrap();
    let total = header_end + 2 + len + 2;
    while got.len() < total {
        let more = Box::pin(must_read(s, total - got.len())).await;
        assert!(!more.is_empty(), "connection closed");
        got.extend(more);
    }
    String::from_utf8(got[header_end + 2..header_end + 2 + len].to_vec()).unwrap()
}

/// INFO's `name:value` lines.
fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn headers(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("# ")).collect()
}

async fn info(con: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> String {
    let mut c = vec!["INFO"];
    c.extend_from_slice(args);
    cmd(con, &c).await.unwrap()
}

#[tokio::test]
async fn info_reports_the_fields_clients_parse() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "a", "1"]).await.unwrap();
    let _: () = cmd(&mut con, &["SET", "b", "2", "PX", "100000"]).await.unwrap();
    let _: Option<String> = cmd(&mut con, &["GET", "a"]).await.unwrap();
    let text = info(&mut con, &[]).await;
    assert!(text.starts_with("# Server\r\nredis_version:7.0.15\r\n"), "{text}");
    assert_eq!(
        headers(&text),
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    let f = parse_info(&text);
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["tcp_port"], srv.port().to_string());
    assert_eq!(f["process_id"], std::process::id().to_string());
    assert_eq!(f["run_id"].len(), 40);
    assert_eq!(f["arch_bits"], "64");
    assert!(f["os"].starts_with("Linux "));
    assert_eq!(f["connected_clients"], "1");
    assert_eq!(f["maxclients"], "10000");
    assert!(f["used_memory"].parse::<u64>().unwrap() > 0);
    assert!(f["used_memory_rss"].parse::<u64>().unwrap() > 0);
    assert!(f.contains_key("used_memory_human"));
    assert!(f.contains_key("mem_fragmentation_ratio"));
    assert_eq!(f["maxmemory"], "0");
    assert_eq!(f["maxmemory_policy"], "noeviction");
    assert_eq!(f["loading"], "0");
    assert_eq!(f["aof_enabled"], "0");
    assert!(f.contains_key("rdb_changes_since_last_save"));
    assert!(f.contains_key("rdb_last_save_time"));
    assert!(f["total_connections_received"].parse::<u64>().unwrap() >= 1);
    assert!(f["total_commands_processed"].parse::<u64>().unwrap() >= 3);
    assert!(f.contains_key("instantaneous_ops_per_sec"));
    assert!(f["total_net_input_bytes"].parse::<u64>().unwrap() > 0);
    assert_eq!(f["rejected_connections"], "0");
    assert_eq!(f["role"], "master");
    assert_eq!(f["connected_slaves"], "0");
    assert_eq!(f["master_replid"].len(), 40);
    assert_eq!(f["master_repl_offset"], "0");
    assert!(f["used_cpu_user"].contains('.'));
    assert!(f["used_cpu_sys"].contains('.'));
    assert_eq!(f["cluster_enabled"], "0");
    assert_eq!(f["db0"], "keys=2,expires=1,avg_ttl=0");
    assert!(!text.contains("cmdstat_"), "commandstats is not a default section");
}

#[tokio::test]
async fn info_section_selection() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "a", "1"]).await.unwrap();
    let text = info(&mut con, &["server", "CLIENTS"]).await;
    assert_eq!(headers(&text), ["# Server", "# Clients"]);
    assert!(text.ends_with("\r\n") && !text.ends_with("\r\n\r\n"));
    let text = info(&mut con, &["commandstats"]).await;
    let f = parse_info(&text);
    let set = &f["cmdstat_set"];
    assert!(set.starts_with("calls=1,usec="), "{set}");
    assert!(set.contains(",usec_per_call=") && set.ends_with(",rejected_calls=0,failed_calls=0"));
    let all = info(&mut con, &["all"]).await;
    assert!(headers(&all).contains(&"# Commandstats"));
    let everything = info(&mut con, &["everything"]).await;
    assert!(headers(&everything).contains(&"# Latencystats"));
    let default_and_more = info(&mut con, &["default", "commandstats"]).await;
    assert_eq!(headers(&default_and_more).len(), 12);
    assert_eq!(info(&mut con, &["nosuchsection"]).await, "");
}

#[tokio::test]
async fn errorstats_count_error_replies_by_code() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(
        &mut s,
        &["NOSUCHCMD"],
        b"-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n",
    )
    .await;
    must_send(&mut s, &["SELECT", "1"], b"-ERR DB index is out of range\r\n").await;
    let f = parse_info(&must_bulk(&mut s, &["INFO", "errorstats", "stats"]).await);
    assert_eq!(f["errorstat_ERR"], "count=2");
    assert_eq!(f["total_error_replies"], "2");
}

#[tokio::test]
async fn config_get_set_and_errors() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(
        &mut s,
        &["CONFIG", "GET", "maxclients"],
        b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CONFIG", "GET", "MAXCLIENTS", "timeout", "maxclients"],
        b"*6\r\n$10\r\nMAXCLIENTS\r\n$5\r\n10000\r\n$7\r\ntimeout\r\n$1\r\n0\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    )
    .await;
    must_send(&mut s, &["CONFIG", "GET", "nosuch*"], b"*0\r\n").await;
    must_send(
        &mut s,
        &["CONFIG", "SET", "maxmemory", "1gb", "maxmemory-policy", "allkeys-lru"],
        b"+OK\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$10\r\n1073741824\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CONFIG", "SET", "foo", "bar"],
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n",
    )
    .await;
    must_send(&mut s, &["CONFIG", "SET", "maxclients", "1", "timeout"], b"-ERR syntax error\r\n")
        .await;
    must_send(
        &mut s,
        &["CONFIG", "SET", "maxclients", "5", "timeout", "-1"],
        b"-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n",
    )
    .await;
    // All or nothing: maxclients was not changed by the failed call.
    must_send(
        &mut s,
        &["CONFIG", "GET", "maxclients"],
        b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CONFIG", "SET", "loglevel", "loud"],
        b"-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CONFIG", "SET", "daemonize", "yes"],
        b"-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["CONFIG", "REWRITE"],
        b"-ERR The server is running without a config file\r\n",
    )
    .await;
    must_send(&mut s, &["CONFIG", "FOO"], b"-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n")
        .await;
}

#[tokio::test]
async fn config_help_and_get_all() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let _: String =
        cmd(&mut con, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]).await.unwrap();
    let help: Vec<String> = cmd(&mut con, &["CONFIG", "HELP"]).await.unwrap();
    assert_eq!(help.len(), 11);
    let all: HashMap<String, String> = cmd(&mut con, &["CONFIG", "GET", "*"]).await.unwrap();
    // Redis 7.0.15's 192, and rcluster's replication, isr-timeout-ms, rcluster-secret,
    // config-endpoints, announce-addr and heartbeat-ms.
    assert_eq!(all.len(), 198);
    assert_eq!(all["replication"], "sync");
    assert_eq!(all["slave-read-only"], "yes");
    assert_eq!(all["maxmemory-policy"], "allkeys-lru");
}

#[tokio::test]
async fn config_set_requirepass_applies_to_new_connections() {
    let srv = start_server().await;
    let mut admin = srv.raw().await;
    must_send(&mut admin, &["CONFIG", "SET", "requirepass", "pw"], b"+OK\r\n").await;
    // Already connected clients stay authenticated, as in Redis.
    must_send(&mut admin, &["PING"], b"+PONG\r\n").await;
    let mut fresh = srv.raw().await;
    must_send(&mut fresh, &["PING"], b"-NOAUTH Authentication required.\r\n").await;
    must_send(&mut fresh, &["AUTH", "pw"], b"+OK\r\n").await;
    must_send(&mut fresh, &["PING"], b"+PONG\r\n").await;
}

#[tokio::test]
async fn config_set_maxclients_refuses_new_connections() {
    let srv = start_server().await;
    let mut admin = srv.raw().await;
    must_send(&mut admin, &["CONFIG", "SET", "maxclients", "1"], b"+OK\r\n").await;
    let mut extra = srv.raw().await;
    assert_eq!(
        Box::pin(must_read(&mut extra, 100)).await,
        b"-ERR max number of clients reached\r\n"
    );
}

#[tokio::test]
async fn config_set_proto_max_bulk_len_applies_to_connected_clients() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"], b"+OK\r\n").await;
    must_wait_for(
        Duration::from_secs(5),
        || srv.server.config().proto_max_bulk_len == 1 << 20,
        "set",
    )
    .await;
    let too_big = format!("*2\r\n$4\r\nECHO\r\n${}\r\n", (1 << 20) + 1);
    let got = Box::pin(must_exchange(&mut s, too_big.as_bytes(), 40)).await;
    assert_eq!(got, b"-ERR Protocol error: invalid bulk length\r\n");
}

#[tokio::test]
async fn config_rewrite_updates_the_config_file() {
    let dir = std::env::temp_dir().join(format!("rcluster-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("partition.conf");
    std::fs::write(&file, "# my settings\nmaxclients 100\n").unwrap();
    let srv = start_server_with(&[file.to_str().unwrap()]).await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["CONFIG", "SET", "maxclients", "200", "hz", "20"], b"+OK\r\n").await;
    must_send(&mut s, &["CONFIG", "REWRITE"], b"+OK\r\n").await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# my settings\nmaxclients 200\n"), "{text}");
    assert!(text.contains("\nhz 20\n"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn config_resetstat_clears_counters() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let _: () = cmd(&mut con, &["SET", "a", "1"]).await.unwrap();
    let _: String = cmd(&mut con, &["CONFIG", "RESETSTAT"]).await.unwrap();
    let f = parse_info(&info(&mut con, &["stats", "commandstats"]).await);
    assert!(!f.contains_key("cmdstat_set"));
    assert_eq!(f["total_commands_processed"], "1", "only CONFIG RESETSTAT itself");
    assert_eq!(f["total_connections_received"], "0");
}

#[tokio::test]
async fn slowlog_records_commands_over_the_threshold() {
    let srv = start_server_with(&["--slowlog-log-slower-than", "0"]).await;
    // Connected first: the redis crate's own set-up commands are logged before ours.
    let mut con = srv.client().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["SLOWLOG", "RESET"], b"+OK\r\n").await;
    must_send(&mut s, &["CLIENT", "SETNAME", "slowpoke"], b"+OK\r\n").await;
    must_send(&mut s, &["SET", "k", "v"], b"+OK\r\n").await;
    let entries: Vec<redis::Value> = cmd(&mut con, &["SLOWLOG", "GET", "1"]).await.unwrap();
    assert_eq!(entries.len(), 1);
    let redis::Value::Array(e) = &entries[0] else { panic!("entry {:?}", entries[0]) };
    assert_eq!(e.len(), 6);
    assert!(matches!(e[0], redis::Value::Int(_)));
    let redis::Value::Int(ts) = e[1] else { panic!() };
    assert!((ts - (partition::time::unix_ms() / 1000) as i64).abs() < 60);
    assert!(matches!(e[2], redis::Value::Int(us) if us >= 0));
    let args: Vec<String> = redis::from_redis_value(&e[3]).unwrap();
    assert_eq!(args, ["SET", "k", "v"]);
    let peer: String = redis::from_redis_value(&e[4]).unwrap();
    assert_eq!(peer, s.local_addr().unwrap().to_string());
    let name: String = redis::from_redis_value(&e[5]).unwrap();
    assert_eq!(name, "slowpoke");
    let len: i64 = cmd(&mut con, &["SLOWLOG", "LEN"]).await.unwrap();
    assert!(len >= 3, "{len}");
    let all: Vec<redis::Value> = cmd(&mut con, &["SLOWLOG", "GET", "-1"]).await.unwrap();
    assert!(all.len() as i64 >= len);
    must_send(
        &mut s,
        &["SLOWLOG", "GET", "-2"],
        b"-ERR count should be greater than or equal to -1\r\n",
    )
    .await;
    // Shrinking the log takes effect at once.
    must_send(&mut s, &["CONFIG", "SET", "slowlog-max-len", "1"], b"+OK\r\n").await;
    must_send(&mut s, &["SLOWLOG", "LEN"], b":1\r\n").await;
    must_send(&mut s, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"], b"+OK\r\n").await;
    must_send(&mut s, &["SLOWLOG", "RESET"], b"+OK\r\n").await;
    must_send(&mut s, &["PING"], b"+PONG\r\n").await;
    must_send(&mut s, &["SLOWLOG", "LEN"], b":0\r\n").await;
}

#[tokio::test]
async fn memory_usage_like_redis() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["SET", "foo", "bar"], b"+OK\r\n").await;
    must_send(&mut s, &["MEMORY", "USAGE", "foo"], b":64\r\n").await;
    must_send(&mut s, &["MEMORY", "USAGE", "foo", "SAMPLES", "0"], b":64\r\n").await;
    must_send(&mut s, &["MEMORY", "USAGE", "nokey"], b"$-1\r\n").await;
    must_send(&mut s, &["MEMORY", "USAGE", "foo", "SAMPLES", "-1"], b"-ERR syntax error\r\n").await;
    must_send(&mut s, &["MEMORY", "USAGE", "foo", "SAMPLES"], b"-ERR syntax error\r\n").await;
    must_send(
        &mut s,
        &["MEMORY", "USAGE", "foo", "SAMPLES", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    )
    .await;
    must_send(&mut s, &["MEMORY", "PURGE"], b"+OK\r\n").await;
    let mut con = srv.client().await;
    let help: Vec<String> = cmd(&mut con, &["MEMORY", "HELP"]).await.unwrap();
    assert_eq!(help.len(), 14);
    let stats: HashMap<String, redis::Value> = cmd(&mut con, &["MEMORY", "STATS"]).await.unwrap();
    assert_eq!(stats.len(), 28);
    assert!(stats.contains_key("db.0") && stats.contains_key("keys.count"));
    let doctor: String = cmd(&mut con, &["MEMORY", "DOCTOR"]).await.unwrap();
    assert!(doctor.starts_with("Hi Sam"));
}

#[tokio::test]
async fn time_and_lastsave() {
    let srv = start_server().await;
    let mut con = srv.client().await;
    let t: Vec<String> = cmd(&mut con, &["TIME"]).await.unwrap();
    let secs: u64 = t[0].parse().unwrap();
    let micros: u64 = t[1].parse().unwrap();
    let now = partition::time::unix_ms() / 1000;
    assert!(secs.abs_diff(now) <= 2);
    assert!(micros < 1_000_000);
    let lastsave: u64 = cmd(&mut con, &["LASTSAVE"]).await.unwrap();
    assert!(lastsave <= now + 1 && lastsave + 60 > now);
}

#[tokio::test]
async fn debug_is_off_by_default_like_redis() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    must_send(
        &mut s,
        &["DEBUG", "SLEEP", "0"],
        b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n",
    )
    .await;
}

#[tokio::test]
async fn debug_sleep_and_active_expire() {
    let srv = start_server_with(&["--enable-debug-command", "local"]).await;
    let mut s = srv.raw().await;
    must_send(&mut s, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"], b"+OK\r\n").await;
    assert!(!srv.server.config().active_expire);
    must_send(&mut s, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"], b"+OK\r\n").await;
    assert!(srv.server.config().active_expire);
    let started = std::time::Instant::now();
    must_send(&mut s, &["DEBUG", "SLEEP", "0.05"], b"+OK\r\n").await;
    assert!(started.elapsed() >= Duration::from_millis(50));
    must_send(
        &mut s,
        &["DEBUG", "NOSUCH"],
        b"-ERR unknown subcommand or wrong number of arguments for 'NOSUCH'. Try DEBUG HELP.\r\n",
    )
    .await;
    must_send(
        &mut s,
        &["DEBUG", "SLEEP"],
        b"-ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.\r\n",
    )
    .await;
    must_send(&mut s, &["DEBUG", "ERROR", "oops"], b"-oops\r\n").await;
    let mut con = srv.client().await;
    let help: Vec<String> = cmd(&mut con, &["DEBUG", "HELP"]).await.unwrap();
    assert_eq!(help.len(), 106);
}

#[tokio::test]
async fn info_in_resp3_is_a_verbatim_string() {
    let srv = start_server().await;
    let mut s = srv.raw().await;
    let hello = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    must_send(&mut s, &["HELLO", "3"], hello.as_bytes()).await;
    let got = Box::pin(must_exchange(&mut s, &resp(&["INFO", "cluster"]), 40)).await;
    assert_eq!(got, b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

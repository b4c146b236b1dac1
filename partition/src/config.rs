//! Server parameters. As with `redis-server`, every parameter can be given as `--name value` on
//! the command line, as a `name value` line in a config file (the first argument, when it does
//! not start with `--`), or at run time with CONFIG SET.
//!
//! [`PARAMS`] is Redis 7.0.15's table of parameters (names, aliases, types, bounds, defaults as
//! `CONFIG GET *` shows them on a fresh `redis-server`), so CONFIG GET reports every one and
//! CONFIG SET validates values exactly as Redis does. The parameters rcluster honours are typed
//! fields of [`Config`]; the others are kept as validated text in [`Config::other`] so CONFIG
//! GET/SET/REWRITE round-trip them and later subsystems can read them with [`Config::get`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Value types of Redis parameters (Redis's `createXxxConfig` families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// Free text.
    Str,
    /// One of the listed words (several, space separated, for `MULTI_ARG` parameters).
    Enum(&'static [&'static str]),
    /// An integer within `min..=max`; `format` says which notations are accepted (memory
    /// units, percentages, octal). `unsigned` parameters check bounds on the unsigned value,
    /// as Redis does for its unsigned C types (so `-1` is "out of range", not a parse error).
    Num { min: i128, max: i128, unsigned: bool, format: u8 },
    /// Parameters with their own syntax (`save`, `bind`, `dir`, ...).
    Special,
}

/// `Kind::Num` format: memory units (`1gb`, `100mb`) accepted.
pub const MEMORY: u8 = 1;
/// `Kind::Num` format: `N%` accepted (stored as `-N`, as Redis does).
pub const PERCENT: u8 = 2;
/// `Kind::Num` format: octal.
pub const OCTAL: u8 = 4;

/// Parameter flag: only settable at start-up.
pub const IMMUTABLE: u8 = 1;
/// Parameter flag: CONFIG GET patterns skip it (exact name only).
pub const HIDDEN: u8 = 2;
/// Parameter flag: CONFIG SET refused unless `enable-protected-configs` allows it.
pub const PROTECTED: u8 = 4;
/// Parameter flag: the value is a secret (not logged).
pub const SENSITIVE: u8 = 8;
/// Parameter flag: the value is several words (`save 3600 1 300 100`).
pub const MULTI_ARG: u8 = 16;

/// One Redis parameter.
#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    /// The old name Redis still accepts (`slave-read-only` for `replica-read-only`).
    pub alias: Option<&'static str>,
    pub flags: u8,
    pub kind: Kind,
    /// The value `CONFIG GET` shows on a fresh server.
    pub default: &'static str,
}

impl Param {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

const fn param(
    name: &'static str,
    alias: Option<&'static str>,
    flags: u8,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param { name, alias, flags, kind, default }
}

/// Redis 7.0.15's parameters, in the order of its `static_configs` table (transcribed from
/// `src/config.c`; defaults from `CONFIG GET *` of Debian's redis-server 7.0.15, except `bind`,
/// `port` and `dir`, whose defaults are rcluster's).
#[rustfmt::skip]
pub const PARAMS: &[Param] = &[
    param("rdbchecksum", None, IMMUTABLE, Kind::Bool, "yes"),
    param("daemonize", None, IMMUTABLE, Kind::Bool, "no"),
    param("io-threads-do-reads", None, IMMUTABLE, Kind::Bool, "no"),
    param("always-show-logo", None, IMMUTABLE, Kind::Bool, "no"),
    param("protected-mode", None, 0, Kind::Bool, "yes"),
    param("rdbcompression", None, 0, Kind::Bool, "yes"),
    param("rdb-del-sync-files", None, 0, Kind::Bool, "no"),
    param("activerehashing", None, 0, Kind::Bool, "yes"),
    param("stop-writes-on-bgsave-error", None, 0, Kind::Bool, "yes"),
    param("set-proc-title", None, IMMUTABLE, Kind::Bool, "yes"),
    param("dynamic-hz", None, 0, Kind::Bool, "yes"),
    param("lazyfree-lazy-eviction", None, 0, Kind::Bool, "no"),
    param("lazyfree-lazy-expire", None, 0, Kind::Bool, "no"),
    param("lazyfree-lazy-server-del", None, 0, Kind::Bool, "no"),
    param("lazyfree-lazy-user-del", None, 0, Kind::Bool, "no"),
    param("lazyfree-lazy-user-flush", None, 0, Kind::Bool, "no"),
    param("repl-disable-tcp-nodelay", None, 0, Kind::Bool, "no"),
    param("repl-diskless-sync", None, 0, Kind::Bool, "yes"),
    param("aof-rewrite-incremental-fsync", None, 0, Kind::Bool, "yes"),
    param("no-appendfsync-on-rewrite", None, 0, Kind::Bool, "no"),
    param("cluster-require-full-coverage", None, 0, Kind::Bool, "yes"),
    param("rdb-save-incremental-fsync", None, 0, Kind::Bool, "yes"),
    param("aof-load-truncated", None, 0, Kind::Bool, "yes"),
    param("aof-use-rdb-preamble", None, 0, Kind::Bool, "yes"),
    param("aof-timestamp-enabled", None, 0, Kind::Bool, "no"),
    param("cluster-replica-no-failover", Some("cluster-slave-no-failover"), 0, Kind::Bool, "no"),
    param("replica-lazy-flush", Some("slave-lazy-flush"), 0, Kind::Bool, "no"),
    param("replica-serve-stale-data", Some("slave-serve-stale-data"), 0, Kind::Bool, "yes"),
    param("replica-read-only", Some("slave-read-only"), 0, Kind::Bool, "yes"),
    param("replica-ignore-maxmemory", Some("slave-ignore-maxmemory"), 0, Kind::Bool, "yes"),
    param("jemalloc-bg-thread", None, 0, Kind::Bool, "yes"),
    param("activedefrag", None, 0, Kind::Bool, "no"),
    param("syslog-enabled", None, IMMUTABLE, Kind::Bool, "no"),
    param("cluster-enabled", None, IMMUTABLE, Kind::Bool, "no"),
    param("appendonly", None, 0, Kind::Bool, "no"),
    param("cluster-allow-reads-when-down", None, 0, Kind::Bool, "no"),
    param("cluster-allow-pubsubshard-when-down", None, 0, Kind::Bool, "yes"),
    param("crash-log-enabled", None, 0, Kind::Bool, "yes"),
    param("crash-memcheck-enabled", None, 0, Kind::Bool, "yes"),
    param("use-exit-on-panic", None, HIDDEN, Kind::Bool, "no"),
    param("disable-thp", None, IMMUTABLE, Kind::Bool, "yes"),
    param("cluster-allow-replica-migration", None, 0, Kind::Bool, "yes"),
    param("replica-announced", None, 0, Kind::Bool, "yes"),
    param("latency-tracking", None, 0, Kind::Bool, "yes"),
    param("aof-disable-auto-gc", None, 0, Kind::Bool, "no"),
    param("replica-ignore-disk-write-errors", None, 0, Kind::Bool, "no"),
    param("aclfile", None, IMMUTABLE, Kind::Str, ""),
    param("unixsocket", None, IMMUTABLE, Kind::Str, ""),
    param("pidfile", None, IMMUTABLE, Kind::Str, ""),
    param("replica-announce-ip", Some("slave-announce-ip"), 0, Kind::Str, ""),
    param("masteruser", None, SENSITIVE, Kind::Str, ""),
    param("cluster-announce-ip", None, 0, Kind::Str, ""),
    param("cluster-config-file", None, IMMUTABLE, Kind::Str, "nodes.conf"),
    param("cluster-announce-hostname", None, 0, Kind::Str, ""),
    param("syslog-ident", None, IMMUTABLE, Kind::Str, "redis"),
    param("dbfilename", None, PROTECTED, Kind::Str, "dump.rdb"),
    param("appendfilename", None, IMMUTABLE, Kind::Str, "appendonly.aof"),
    param("appenddirname", None, IMMUTABLE, Kind::Str, "appendonlydir"),
    param("server_cpulist", None, IMMUTABLE, Kind::Str, ""),
    param("bio_cpulist", None, IMMUTABLE, Kind::Str, ""),
    param("aof_rewrite_cpulist", None, IMMUTABLE, Kind::Str, ""),
    param("bgsave_cpulist", None, IMMUTABLE, Kind::Str, ""),
    param("ignore-warnings", None, 0, Kind::Str, ""),
    param("proc-title-template", None, 0, Kind::Str, "{title} {listen-addr} {server-mode}"),
    param("bind-source-addr", None, 0, Kind::Str, ""),
    param("logfile", None, IMMUTABLE, Kind::Str, ""),
    param("masterauth", None, SENSITIVE, Kind::Str, ""),
    param("requirepass", None, SENSITIVE, Kind::Str, ""),
    param("supervised", None, IMMUTABLE, Kind::Enum(&["upstart", "systemd", "auto", "no"]), "no"),
    param("syslog-facility", None, IMMUTABLE, Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), "local0"),
    param("repl-diskless-load", None, 0, Kind::Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled"),
    param("loglevel", None, 0, Kind::Enum(&["debug", "verbose", "notice", "warning"]), "notice"),
    param("maxmemory-policy", None, 0, Kind::Enum(&["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]), "noeviction"),
    param("appendfsync", None, 0, Kind::Enum(&["everysec", "always", "no"]), "everysec"),
    param("oom-score-adj", None, 0, Kind::Enum(&["no", "yes", "relative", "absolute"]), "no"),
    param("acl-pubsub-default", None, 0, Kind::Enum(&["allchannels", "resetchannels"]), "resetchannels"),
    param("sanitize-dump-payload", None, 0, Kind::Enum(&["no", "yes", "clients"]), "no"),
    param("enable-protected-configs", None, IMMUTABLE, Kind::Enum(&["no", "yes", "local"]), "no"),
    param("enable-debug-command", None, IMMUTABLE, Kind::Enum(&["no", "yes", "local"]), "no"),
    param("enable-module-command", None, IMMUTABLE, Kind::Enum(&["no", "yes", "local"]), "no"),
    param("cluster-preferred-endpoint-type", None, 0, Kind::Enum(&["ip", "hostname", "unknown-endpoint"]), "ip"),
    param("propagation-error-behavior", None, 0, Kind::Enum(&["ignore", "panic", "panic-on-replicas"]), "ignore"),
    param("shutdown-on-sigint", None, MULTI_ARG, Kind::Enum(&["default", "save", "nosave", "now", "force"]), "default"),
    param("shutdown-on-sigterm", None, MULTI_ARG, Kind::Enum(&["default", "save", "nosave", "now", "force"]), "default"),
    param("databases", None, IMMUTABLE, Kind::Num { min: 1, max: 2147483647, unsigned: false, format: 0 }, "16"),
    param("port", None, 0, Kind::Num { min: 0, max: 65535, unsigned: false, format: 0 }, "7000"),
    param("io-threads", None, IMMUTABLE, Kind::Num { min: 1, max: 128, unsigned: false, format: 0 }, "1"),
    param("auto-aof-rewrite-percentage", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "100"),
    param("cluster-replica-validity-factor", Some("cluster-slave-validity-factor"), 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "10"),
    param("list-max-listpack-size", Some("list-max-ziplist-size"), 0, Kind::Num { min: -2147483648, max: 2147483647, unsigned: false, format: 0 }, "-2"),
    param("tcp-keepalive", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "300"),
    param("cluster-migration-barrier", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "1"),
    param("active-defrag-cycle-min", None, 0, Kind::Num { min: 1, max: 99, unsigned: false, format: 0 }, "1"),
    param("active-defrag-cycle-max", None, 0, Kind::Num { min: 1, max: 99, unsigned: false, format: 0 }, "25"),
    param("active-defrag-threshold-lower", None, 0, Kind::Num { min: 0, max: 1000, unsigned: false, format: 0 }, "10"),
    param("active-defrag-threshold-upper", None, 0, Kind::Num { min: 0, max: 1000, unsigned: false, format: 0 }, "100"),
    param("lfu-log-factor", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "10"),
    param("lfu-decay-time", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "1"),
    param("replica-priority", Some("slave-priority"), 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "100"),
    param("repl-diskless-sync-delay", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "5"),
    param("maxmemory-samples", None, 0, Kind::Num { min: 1, max: 2147483647, unsigned: false, format: 0 }, "5"),
    param("maxmemory-eviction-tenacity", None, 0, Kind::Num { min: 0, max: 100, unsigned: false, format: 0 }, "10"),
    param("timeout", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "0"),
    param("replica-announce-port", Some("slave-announce-port"), 0, Kind::Num { min: 0, max: 65535, unsigned: false, format: 0 }, "0"),
    param("tcp-backlog", None, IMMUTABLE, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "511"),
    param("cluster-port", None, IMMUTABLE, Kind::Num { min: 0, max: 65535, unsigned: false, format: 0 }, "0"),
    param("cluster-announce-bus-port", None, 0, Kind::Num { min: 0, max: 65535, unsigned: false, format: 0 }, "0"),
    param("cluster-announce-port", None, 0, Kind::Num { min: 0, max: 65535, unsigned: false, format: 0 }, "0"),
    param("cluster-announce-tls-port", None, 0, Kind::Num { min: 0, max: 65535, unsigned: false, format: 0 }, "0"),
    param("repl-timeout", None, 0, Kind::Num { min: 1, max: 2147483647, unsigned: false, format: 0 }, "60"),
    param("repl-ping-replica-period", Some("repl-ping-slave-period"), 0, Kind::Num { min: 1, max: 2147483647, unsigned: false, format: 0 }, "10"),
    param("list-compress-depth", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "0"),
    param("rdb-key-save-delay", None, HIDDEN, Kind::Num { min: -2147483648, max: 2147483647, unsigned: false, format: 0 }, "0"),
    param("key-load-delay", None, HIDDEN, Kind::Num { min: -2147483648, max: 2147483647, unsigned: false, format: 0 }, "0"),
    param("active-expire-effort", None, 0, Kind::Num { min: 1, max: 10, unsigned: false, format: 0 }, "1"),
    param("hz", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "10"),
    param("min-replicas-to-write", Some("min-slaves-to-write"), 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "0"),
    param("min-replicas-max-lag", Some("min-slaves-max-lag"), 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "10"),
    param("watchdog-period", None, HIDDEN, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "0"),
    param("shutdown-timeout", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "10"),
    param("repl-diskless-sync-max-replicas", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "0"),
    param("maxclients", None, 0, Kind::Num { min: 1, max: 4294967295, unsigned: true, format: 0 }, "10000"),
    param("unixsocketperm", None, IMMUTABLE, Kind::Num { min: 0, max: 511, unsigned: true, format: OCTAL }, "0"),
    param("socket-mark-id", None, IMMUTABLE, Kind::Num { min: 0, max: 4294967295, unsigned: true, format: 0 }, "0"),
    param("active-defrag-max-scan-fields", None, 0, Kind::Num { min: 1, max: 9223372036854775807, unsigned: true, format: 0 }, "1000"),
    param("slowlog-max-len", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: 0 }, "128"),
    param("acllog-max-len", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: 0 }, "128"),
    param("busy-reply-threshold", Some("lua-time-limit"), 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: false, format: 0 }, "5000"),
    param("cluster-node-timeout", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: false, format: 0 }, "15000"),
    param("slowlog-log-slower-than", None, 0, Kind::Num { min: -1, max: 9223372036854775807, unsigned: false, format: 0 }, "10000"),
    param("latency-monitor-threshold", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: false, format: 0 }, "0"),
    param("proto-max-bulk-len", None, 0, Kind::Num { min: 1048576, max: 9223372036854775807, unsigned: false, format: MEMORY }, "536870912"),
    param("stream-node-max-entries", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: false, format: 0 }, "100"),
    param("repl-backlog-size", None, 0, Kind::Num { min: 1, max: 9223372036854775807, unsigned: false, format: MEMORY }, "1048576"),
    param("maxmemory", None, 0, Kind::Num { min: 0, max: 18446744073709551615, unsigned: true, format: MEMORY }, "0"),
    param("cluster-link-sendbuf-limit", None, 0, Kind::Num { min: 0, max: 18446744073709551615, unsigned: true, format: MEMORY }, "0"),
    param("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: 0 }, "512"),
    param("set-max-intset-entries", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: 0 }, "512"),
    param("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: 0 }, "128"),
    param("active-defrag-ignore-bytes", None, 0, Kind::Num { min: 1, max: 9223372036854775807, unsigned: true, format: MEMORY }, "104857600"),
    param("hash-max-listpack-value", Some("hash-max-ziplist-value"), 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: MEMORY }, "64"),
    param("stream-node-max-bytes", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: MEMORY }, "4096"),
    param("zset-max-listpack-value", Some("zset-max-ziplist-value"), 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: MEMORY }, "64"),
    param("hll-sparse-max-bytes", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: MEMORY }, "3000"),
    param("tracking-table-max-keys", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: true, format: 0 }, "1000000"),
    param("client-query-buffer-limit", None, 0, Kind::Num { min: 1048576, max: 9223372036854775807, unsigned: true, format: MEMORY }, "1073741824"),
    param("maxmemory-clients", None, 0, Kind::Num { min: -100, max: 9223372036854775807, unsigned: false, format: MEMORY | PERCENT }, "0"),
    param("repl-backlog-ttl", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: false, format: 0 }, "3600"),
    param("auto-aof-rewrite-min-size", None, 0, Kind::Num { min: 0, max: 9223372036854775807, unsigned: false, format: MEMORY }, "67108864"),
    param("loading-process-events-interval-bytes", None, HIDDEN, Kind::Num { min: 1024, max: 2147483647, unsigned: false, format: 0 }, "2097152"),
    param("tls-port", None, 0, Kind::Num { min: 0, max: 65535, unsigned: false, format: 0 }, "0"),
    param("tls-session-cache-size", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "20480"),
    param("tls-session-cache-timeout", None, 0, Kind::Num { min: 0, max: 2147483647, unsigned: false, format: 0 }, "300"),
    param("tls-cluster", None, 0, Kind::Bool, "no"),
    param("tls-replication", None, 0, Kind::Bool, "no"),
    param("tls-auth-clients", None, 0, Kind::Enum(&["no", "yes", "optional"]), "yes"),
    param("tls-prefer-server-ciphers", None, 0, Kind::Bool, "no"),
    param("tls-session-caching", None, 0, Kind::Bool, "yes"),
    param("tls-cert-file", None, 0, Kind::Str, ""),
    param("tls-key-file", None, 0, Kind::Str, ""),
    param("tls-key-file-pass", None, 0, Kind::Str, ""),
    param("tls-client-cert-file", None, 0, Kind::Str, ""),
    param("tls-client-key-file", None, 0, Kind::Str, ""),
    param("tls-client-key-file-pass", None, 0, Kind::Str, ""),
    param("tls-dh-params-file", None, 0, Kind::Str, ""),
    param("tls-ca-cert-file", None, 0, Kind::Str, ""),
    param("tls-ca-cert-dir", None, 0, Kind::Str, ""),
    param("tls-protocols", None, 0, Kind::Str, ""),
    param("tls-ciphers", None, 0, Kind::Str, ""),
    param("tls-ciphersuites", None, 0, Kind::Str, ""),
    param("dir", None, PROTECTED, Kind::Special, "."),
    param("save", None, MULTI_ARG, Kind::Special, "3600 1 300 100 60 10000"),
    param("client-output-buffer-limit", None, MULTI_ARG, Kind::Special, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
    param("oom-score-adj-values", None, MULTI_ARG, Kind::Special, "0 200 800"),
    param("notify-keyspace-events", None, 0, Kind::Special, ""),
    param("bind", None, MULTI_ARG, Kind::Special, "127.0.0.1"),
    param("replicaof", Some("slaveof"), IMMUTABLE | MULTI_ARG, Kind::Special, ""),
    param("latency-tracking-info-percentiles", None, MULTI_ARG, Kind::Special, "50 99 99.9"),
    // rcluster's own parameters (not in Redis).
    param("replication", None, 0, Kind::Enum(&["sync", "async"]), "sync"),
    param("isr-timeout-ms", None, 0, Kind::Num { min: 1, max: 2147483647, unsigned: false, format: 0 }, "1000"),
    param("rcluster-secret", None, SENSITIVE, Kind::Str, ""),
    param("config-endpoints", None, IMMUTABLE, Kind::Str, ""),
    param("announce-addr", None, IMMUTABLE, Kind::Str, ""),
    param("heartbeat-ms", None, 0, Kind::Num { min: 10, max: 60000, unsigned: false, format: 0 }, "100"),
];

/// Finds a parameter by name or alias (any case). Returns it with the name it was found by,
/// lower-cased: Redis names that one in CONFIG SET errors.
pub fn lookup(name: &str) -> Option<(&'static Param, &'static str)> {
    PARAMS.iter().find_map(|p| {
        if p.name.eq_ignore_ascii_case(name) {
            Some((p, p.name))
        } else {
            p.alias.filter(|a| a.eq_ignore_ascii_case(name)).map(|a| (p, a))
        }
    })
}

/// The partition server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on (`bind`).
    pub bind: Vec<String>,
    pub port: u16,
    /// Working directory for data files (`dir`).
    pub dir: PathBuf,
    /// Password clients must give with AUTH/HELLO (`requirepass`); empty = none.
    pub requirepass: String,
    pub maxclients: usize,
    /// Close clients idle for this many seconds; 0 = never (`timeout`).
    pub timeout: u64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: usize,
    /// Background task frequency (`hz`), used by active expiry; kept within 1..=500 as Redis
    /// does (CONFIG GET shows the clamped value).
    pub hz: u32,
    /// Whether the active expiry cycle runs (`DEBUG SET-ACTIVE-EXPIRE`; not a parameter).
    pub active_expire: bool,
    /// `slowlog-log-slower-than` in microseconds; negative disables the slow log.
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`.
    pub slowlog_max_len: usize,
    pub loglevel: String,
    /// The config file the server was started with, absolute (CONFIG REWRITE, INFO).
    pub config_file: Option<PathBuf>,
    /// Every other parameter whose value differs from its default, by canonical name, in the
    /// text form CONFIG GET shows.
    pub other: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 7000,
            dir: PathBuf::from("."),
            requirepass: String::new(),
            maxclients: 10000,
            timeout: 0,
            proto_max_bulk_len: 512 * 1024 * 1024,
            hz: 10,
            active_expire: true,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            loglevel: "notice".into(),
            config_file: None,
            other: BTreeMap::new(),
        }
    }
}

/// What CONFIG SET refused, already worded as Redis's error reply (without the `-`).
pub type SetError = String;

impl Config {
    /// Builds a config from `redis-server`-style arguments: `[config-file] [--name value ...]`.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Config> {
        let mut config = Config::default();
        let mut args = args.iter().map(AsRef::as_ref).peekable();
        if let Some(first) = args.peek() {
            if !first.starts_with("--") {
                let path = args.next().expect("peeked");
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("can't read config file '{path}': {e}")))?;
                config.apply_file(&text)?;
                let path = Path::new(path);
                config.config_file =
                    Some(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
            }
        }
        while let Some(arg) = args.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| Error::Config(format!("expected --name, got '{arg}'")))?;
            let mut values = Vec::new();
            while let Some(v) = args.peek() {
                if v.starts_with("--") {
                    break;
                }
                values.push(args.next().expect("peeked").to_string());
            }
            config
                .set_at_startup(name, &values.join(" "))
                .map_err(|e| Error::Config(format!("'{name}': {e}")))?;
        }
        Ok(config)
    }

    /// [`Config::set`] for values given at start-up. Unlike redis-server, a data directory that
    /// does not exist yet is created, so `rcluster partition --dir ./data/p0` works on a fresh
    /// machine; CONFIG SET `dir` still requires an existing directory, as in Redis.
    fn set_at_startup(&mut self, name: &str, value: &str) -> std::result::Result<(), String> {
        if name.eq_ignore_ascii_case("dir") && !value.is_empty() {
            std::fs::create_dir_all(value)
                .map_err(|e| format!("can't create directory '{value}': {e}"))?;
        }
        self.set(name, value)
    }

    /// Applies `name value...` lines as Redis reads a config file: arguments split with
    /// Redis's quoting rules, `#` starts a comment, several `save` lines add up.
    pub fn apply_file(&mut self, text: &str) -> Result<()> {
        let mut save_lines: Option<Vec<String>> = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |e: String| Error::Config(format!("config file line {}: {e}", n + 1));
            let words = protocol::request::split_args(line.as_bytes())
                .ok_or_else(|| fail("Unbalanced quotes in configuration line".into()))?;
            let words: Vec<String> =
                words.iter().map(|w| String::from_utf8_lossy(w).into_owned()).collect();
            let Some((name, values)) = words.split_first() else { continue };
            if name.eq_ignore_ascii_case("save") {
                let acc = save_lines.get_or_insert_with(Vec::new);
                acc.extend(values.iter().filter(|v| !v.is_empty()).cloned());
                continue;
            }
            self.set_at_startup(name, &values.join(" ")).map_err(fail)?;
        }
        if let Some(save) = save_lines {
            self.set("save", &save.join(" ")).map_err(Error::Config)?;
        }
        Ok(())
    }

    /// Sets one parameter by its Redis name, as a config file or the command line does (no
    /// immutability check). The error is Redis's reason text.
    pub fn set(&mut self, name: &str, value: &str) -> std::result::Result<(), String> {
        let (param, _) =
            lookup(name).ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        self.set_param(param, value)
    }

    /// CONFIG SET: several `name value` pairs, all applied or none, with Redis 7.0's checks
    /// and error texts. `local` says whether the client connected over loopback (for
    /// `enable-protected-configs local`).
    pub fn set_many(&mut self, pairs: &[(&str, &str)], local: bool) -> Result<(), SetError> {
        let protected_ok = match self.get("enable-protected-configs").as_deref() {
            Some("yes") => true,
            Some("local") => local,
            _ => false,
        };
        let mut found: Vec<(&'static Param, &'static str)> = Vec::with_capacity(pairs.len());
        let mut error: Option<(String, &str)> = None;
        for &(name, _) in pairs {
            let Some((param, by)) = lookup(name) else {
                // Like Redis, an unknown name wins only when nothing was wrong before it.
                if error.is_none() {
                    return Err(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    ));
                }
                continue;
            };
            if error.is_none() {
                if param.has(IMMUTABLE) {
                    error = Some((name.to_string(), "can't set immutable config"));
                } else if param.has(PROTECTED) && !protected_ok {
                    error = Some((name.to_string(), "can't set protected config"));
                } else if found.iter().any(|(p, _)| std::ptr::eq(*p, param)) {
                    error = Some((name.to_string(), "duplicate parameter"));
                }
            }
            found.push((param, by));
        }
        if let Some((name, why)) = error {
            return Err(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ));
        }
        let failed = |by: &str, why: &str| {
            format!("ERR CONFIG SET failed (possibly related to argument '{by}') - {why}")
        };
        let mut next = self.clone();
        for (&(param, by), &(_, value)) in found.iter().zip(pairs) {
            next.set_param(param, value).map_err(|why| failed(by, &why))?;
        }
        // The "apply" step: listeners are bound once at start-up, so a new address or port
        // fails the way Redis fails when it cannot bind.
        if next.port != self.port {
            return Err(failed("port", "Unable to listen on this port. Check server logs."));
        }
        if next.bind != self.bind {
            return Err(failed("bind", "Failed to bind to specified addresses."));
        }
        *self = next;
        Ok(())
    }

    /// The value of a parameter as CONFIG GET shows it, by name or alias.
    pub fn get(&self, name: &str) -> Option<String> {
        lookup(name).map(|(p, _)| self.value_of(p))
    }

    /// A parameter's value as a number (for parameters of kind `Num` that rcluster's
    /// subsystems read from [`Config::other`], e.g. `maxmemory`).
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        self.get(name)?.parse().ok()
    }

    /// The config service's URLs (`config-endpoints`, comma-separated); empty: no control
    /// plane (a standalone server).
    pub fn config_endpoints(&self) -> Vec<String> {
        let text = self.get("config-endpoints").unwrap_or_default();
        text.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect()
    }

    /// The `host:port` the cluster reaches this server at (`announce-addr`): by default the
    /// first bind address that is not a wildcard (127.0.0.1 when there is none) with
    /// `port`, the port actually bound.
    pub fn announce_addr(&self, port: u16) -> String {
        let given = self.get("announce-addr").unwrap_or_default();
        if !given.is_empty() {
            return given;
        }
        let host = self
            .bind
            .iter()
            .map(|b| b.trim_start_matches('-'))
            .find(|b| !matches!(*b, "*" | "::*" | "0.0.0.0" | "::" | ""))
            .unwrap_or("127.0.0.1");
        protocol::addr::join_host_port(host, port)
    }

    /// CONFIG GET: every parameter matching any of `patterns` (glob, case-insensitive), each
    /// once, with its value. A pattern without glob characters is an exact lookup and is
    /// reported under the name as given; hidden parameters need an exact name.
    pub fn matching(&self, patterns: &[&str]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for &pattern in patterns {
            if !pattern.contains(['*', '?', '[']) {
                if out.iter().any(|(n, _)| n == pattern) {
                    continue;
                }
                if let Some((p, _)) = lookup(pattern) {
                    out.push((pattern.to_string(), self.value_of(p)));
                }
                continue;
            }
            for p in PARAMS.iter().filter(|p| !p.has(HIDDEN)) {
                for name in std::iter::once(p.name).chain(p.alias) {
                    if seen.contains(&name) || out.iter().any(|(n, _)| n == name) {
                        continue;
                    }
                    if glob_match(pattern.as_bytes(), name.as_bytes(), true) {
                        seen.push(name);
                        out.push((name.to_string(), self.value_of(p)));
                    }
                }
            }
        }
        out
    }

    fn value_of(&self, p: &Param) -> String {
        match p.name {
            "bind" => self.bind.join(" "),
            "port" => self.port.to_string(),
            "dir" => std::fs::canonicalize(&self.dir)
                .unwrap_or_else(|_| self.dir.clone())
                .display()
                .to_string(),
            "requirepass" => self.requirepass.clone(),
            "maxclients" => self.maxclients.to_string(),
            "timeout" => self.timeout.to_string(),
            "proto-max-bulk-len" => self.proto_max_bulk_len.to_string(),
            "hz" => self.hz.to_string(),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than.to_string(),
            "slowlog-max-len" => self.slowlog_max_len.to_string(),
            "loglevel" => self.loglevel.clone(),
            name => self.other.get(name).cloned().unwrap_or_else(|| p.default.to_string()),
        }
    }

    /// Validates `value` for `p` and stores it.
    fn set_param(&mut self, p: &Param, value: &str) -> std::result::Result<(), String> {
        let text = validate(p, value, self.other.get(p.name).map(String::as_str))?;
        let int = || text.parse::<i64>().map_err(|_| "argument couldn't be parsed into an integer");
        match p.name {
            "bind" => self.bind = text.split_whitespace().map(String::from).collect(),
            "port" => self.port = int()? as u16,
            "dir" => self.dir = PathBuf::from(&text),
            "requirepass" => self.requirepass = text,
            "maxclients" => self.maxclients = int()? as usize,
            "timeout" => self.timeout = int()? as u64,
            "proto-max-bulk-len" => self.proto_max_bulk_len = int()? as usize,
            "hz" => self.hz = int()?.clamp(1, 500) as u32,
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = int()?,
            "slowlog-max-len" => self.slowlog_max_len = int()? as usize,
            "loglevel" => self.loglevel = text,
            name if text == p.default => {
                self.other.remove(name);
            }
            name => {
                self.other.insert(name.to_string(), text);
            }
        }
        Ok(())
    }

    /// CONFIG REWRITE: rewrites the config file the server was started with so it holds the
    /// current configuration. Lines of parameters keep their place (a parameter given on
    /// several lines, like `save`, is written once, where it first appeared); comments and
    /// unknown lines stay; parameters not in the file that differ from their defaults are
    /// appended. The new file replaces the old one atomically (write, then rename).
    pub fn rewrite(&self) -> std::result::Result<(), String> {
        let Some(path) = &self.config_file else {
            return Err("ERR The server is running without a config file".into());
        };
        let old = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("ERR Rewriting config file: {e}")),
        };
        let mut written: Vec<&'static str> = Vec::new();
        let mut out = String::with_capacity(old.len() + 256);
        for line in old.lines() {
            let trimmed = line.trim();
            let param = (!trimmed.is_empty() && !trimmed.starts_with('#'))
                .then(|| protocol::request::split_args(trimmed.as_bytes()))
                .flatten()
                .and_then(|w| w.first().and_then(|n| lookup(&String::from_utf8_lossy(n))))
                .map(|(p, _)| p);
            match param {
                Some(p) if written.contains(&p.name) => {}
                Some(p) => {
                    written.push(p.name);
                    out.push_str(&self.config_line(p));
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        let cwd = std::fs::canonicalize(".").ok();
        let mut header = false;
        for p in PARAMS.iter().filter(|p| !p.has(HIDDEN) && !written.contains(&p.name)) {
            let value = self.value_of(p);
            let default = match p.name {
                "dir" => cwd.as_ref().map_or(String::new(), |c| c.display().to_string()),
                _ => p.default.to_string(),
            };
            if value == default {
                continue;
            }
            if !header {
                out.push_str("# Generated by CONFIG REWRITE\n");
                header = true;
            }
            out.push_str(&self.config_line(p));
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, out).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("ERR Rewriting config file: {e}")
        })
    }

    /// One `name value` line of a config file, quoted so [`Config::apply_file`] reads it back.
    fn config_line(&self, p: &Param) -> String {
        let value = self.value_of(p);
        let multi = p.has(MULTI_ARG) || p.name == "save";
        let text = if multi && !value.is_empty() { value } else { quote(&value) };
        format!("{} {}\n", p.name, text)
    }
}

/// Quotes a config value when it needs it (empty, spaces, quotes, control characters).
fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value.bytes().all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\'' && c != b'\\');
    if plain {
        return value.to_string();
    }
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.bytes() {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// Checks `value` against `p`'s type as Redis does and returns the text CONFIG GET will show.
/// `current` is the stored text of an untyped parameter (some special ones merge into it).
fn validate(p: &Param, value: &str, current: Option<&str>) -> std::result::Result<String, String> {
    match p.kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            v @ ("yes" | "no") => Ok(v.to_string()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Str => {
            if p.name == "dbfilename" && value.contains('/') {
                return Err("dbfilename can't be a path, just a filename".into());
            }
            Ok(value.to_string())
        }
        Kind::Enum(names) => {
            let words: Vec<String> = if p.has(MULTI_ARG) {
                value.split_whitespace().map(str::to_ascii_lowercase).collect()
            } else {
                vec![value.to_ascii_lowercase()]
            };
            if words.is_empty() || words.iter().any(|w| !names.contains(&w.as_str())) {
                return Err(format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                ));
            }
            if words.iter().any(|w| w == "save") && words.iter().any(|w| w == "nosave") {
                return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
            }
            Ok(words.join(" "))
        }
        Kind::Num { min, max, unsigned, format } => {
            let v = parse_number(value, format)?;
            let out_of_range = if unsigned {
                let u = v as u64 as i128;
                u < min || u > max
            } else if format & PERCENT != 0 && v < 0 {
                if (v as i128) < min {
                    return Err(format!("percentage argument must be less or equal to {}", -min));
                }
                false
            } else {
                (v as i128) < min || (v as i128) > max
            };
            if out_of_range {
                return Err(if format & OCTAL != 0 {
                    format!("argument must be between {min:o} and {max:o} inclusive")
                } else {
                    format!("argument must be between {min} and {max} inclusive")
                });
            }
            Ok(if format & PERCENT != 0 && v < 0 {
                format!("{}%", -v)
            } else if format & MEMORY != 0 {
                (v as u64).to_string()
            } else if format & OCTAL != 0 {
                format!("{v:o}")
            } else {
                v.to_string()
            })
        }
        Kind::Special => validate_special(p.name, value, current),
    }
}

/// Parses a number the way Redis's `numericParseString` does for the given `format`.
fn parse_number(value: &str, format: u8) -> std::result::Result<i64, String> {
    if format & MEMORY != 0 {
        if let Ok(v) = parse_memory(value) {
            return Ok(v as i64);
        }
    }
    if format & PERCENT != 0 && value.len() > 1 {
        if let Some(n) =
            value.strip_suffix('%').and_then(|n| protocol::number::parse_i64(n.as_bytes()))
        {
            if n >= 0 {
                return Ok(-n);
            }
        }
    }
    if format & OCTAL != 0 {
        if let Ok(v) = i64::from_str_radix(value, 8) {
            return Ok(v);
        }
    }
    if format == 0 {
        if let Some(v) = protocol::number::parse_i64(value.as_bytes()) {
            return Ok(v);
        }
    }
    Err(if format & MEMORY != 0 && format & PERCENT != 0 {
        "argument must be a memory or percent value"
    } else if format & MEMORY != 0 {
        "argument must be a memory value"
    } else if format & OCTAL != 0 {
        "argument couldn't be parsed as an octal number"
    } else {
        "argument couldn't be parsed into an integer"
    }
    .into())
}

fn validate_special(
    name: &str,
    value: &str,
    current: Option<&str>,
) -> std::result::Result<String, String> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match name {
        "dir" => {
            let meta = std::fs::metadata(value).map_err(|e| io_reason(&e))?;
            if !meta.is_dir() {
                return Err("Not a directory".into());
            }
            Ok(std::fs::canonicalize(value).map_err(|e| io_reason(&e))?.display().to_string())
        }
        "save" => {
            if words.len() % 2 == 1 {
                return Err("Invalid save parameters".into());
            }
            for (i, w) in words.iter().enumerate() {
                let min = if i % 2 == 0 { 1 } else { 0 };
                match w.parse::<i64>() {
                    Ok(v) if v >= min => {}
                    _ => return Err("Invalid save parameters".into()),
                }
            }
            Ok(words.join(" "))
        }
        "bind" => {
            if words.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            Ok(words.join(" "))
        }
        "notify-keyspace-events" => notify_flags(value),
        "client-output-buffer-limit" => output_buffer_limits(&words, current),
        "oom-score-adj-values" => {
            if words.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            if words.iter().any(|w| !matches!(w.parse::<i64>(), Ok(-2000..=2000))) {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                );
            }
            Ok(words.join(" "))
        }
        "replicaof" => {
            if words.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if words[0].eq_ignore_ascii_case("no") && words[1].eq_ignore_ascii_case("one") {
                return Ok(String::new());
            }
            match words[1].parse::<u16>() {
                Ok(port) if port > 0 => Ok(format!("{} {}", words[0], port)),
                _ => Err("Invalid master port".into()),
            }
        }
        "latency-tracking-info-percentiles" => {
            let mut out = Vec::new();
            for w in &words {
                let v: f64 = protocol::number::parse_f64(w.as_bytes())
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&v) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                out.push(format!("{v}"));
            }
            Ok(out.join(" "))
        }
        _ => Ok(value.to_string()),
    }
}

/// The `strerror` text Redis reports for a failed `chdir`.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

/// Validates and normalises `notify-keyspace-events` as Redis does (flags, then re-printed in
/// Redis's canonical order, `A` standing for all the type classes).
fn notify_flags(value: &str) -> std::result::Result<String, String> {
    const CLASSES: &str = "g$lshzxetdn";
    const ALL: &str = "g$lshzxetd";
    let mut set = std::collections::BTreeSet::new();
    for c in value.chars() {
        match c {
            'A' => set.extend(ALL.chars()),
            c if CLASSES.contains(c) || "KEm".contains(c) => {
                set.insert(c);
            }
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
        if set.contains(&'n') {
            out.push('n');
        }
    } else {
        out.extend(CLASSES.chars().filter(|c| set.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| set.contains(c)));
    Ok(out)
}

/// Validates `client-output-buffer-limit` and merges it into the current limits of the three
/// client classes (a class not mentioned keeps its limits), printed as Redis prints them.
fn output_buffer_limits(
    words: &[&str],
    current: Option<&str>,
) -> std::result::Result<String, String> {
    const DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits: Vec<(String, u64, u64, i64)> = current
        .unwrap_or(DEFAULT)
        .split_whitespace()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| {
            (
                c[0].to_string(),
                c[1].parse().unwrap_or(0),
                c[2].parse().unwrap_or(0),
                c[3].parse().unwrap_or(0),
            )
        })
        .collect();
    let mut updates = Vec::new();
    for c in words.chunks(4) {
        let class = match c[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
        };
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(c[1]).map_err(|_| bad())?;
        let soft = parse_memory(c[2]).map_err(|_| bad())?;
        let secs = c[3].parse::<i64>().ok().filter(|s| *s >= 0).ok_or_else(bad)?;
        updates.push((class, hard, soft, secs));
    }
    for (class, hard, soft, secs) in updates {
        if let Some(l) = limits.iter_mut().find(|l| l.0 == class) {
            *l = (class.to_string(), hard, soft, secs);
        }
    }
    Ok(limits.iter().map(|(c, h, s, t)| format!("{c} {h} {s} {t}")).collect::<Vec<_>>().join(" "))
}

/// Parses a memory size as Redis's `memtoull` does: digits with an optional unit (`b`; `k`,
/// `m`, `g` powers of 1000; `kb`, `mb`, `gb` powers of 1024), case-insensitive, no sign.
pub fn parse_memory(value: &str) -> std::result::Result<u64, String> {
    let err = || "argument must be a memory value".to_string();
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = value.split_at(digits);
    let mul = protocol::number::memory_unit(unit).ok_or_else(err)?;
    if num.is_empty() {
        // strtoull("") is 0 without an error in Redis, so "" and "kb" mean 0.
        return Ok(0);
    }
    let n: u64 = num.parse().map_err(|_| err())?;
    Ok(n.wrapping_mul(mul))
}

/// Glob matching, shared with KEYS and SCAN: see [`crate::glob`].
pub use crate::glob::matches as glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_like_redis_server() {
        let c = Config::from_args(&["--port", "7001", "--requirepass", "pw", "--save", "900", "1"])
            .unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.requirepass, "pw");
        assert_eq!(c.other.get("save").map(String::as_str), Some("900 1"));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("2gb").unwrap(), 2 << 30);
        assert_eq!(parse_memory("1k").unwrap(), 1000);
        assert_eq!(parse_memory("100").unwrap(), 100);
        assert_eq!(parse_memory("1GB").unwrap(), 1 << 30);
        assert!(parse_memory("x").is_err());
        assert!(parse_memory("-1").is_err());
        assert!(parse_memory("1x").is_err());
    }

    #[test]
    fn config_get_star_lists_what_redis_lists() {
        // Redis 7.0.15 shows 192 names for `CONFIG GET *` (hidden ones excluded, aliases in);
        // rcluster adds its own six (replication, isr-timeout-ms, rcluster-secret,
        // config-endpoints, announce-addr, heartbeat-ms).
        assert_eq!(Config::default().matching(&["*"]).len(), 198);
        let c = Config::default();
        let m = c.matching(&["maxmemory*", "MAXMEMORY"]);
        let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"maxmemory-policy"));
        assert!(names.contains(&"MAXMEMORY"));
        assert_eq!(c.get("slave-read-only").as_deref(), Some("yes"));
        assert_eq!(c.matching(&["use-exit-on-panic"]).len(), 1);
        assert!(c.matching(&["use-exit-*"]).is_empty());
    }

    #[test]
    fn set_validates_like_redis() {
        let mut c = Config::default();
        let err = |c: &mut Config, pairs: &[(&str, &str)]| c.set_many(pairs, true).unwrap_err();
        assert_eq!(
            err(&mut c, &[("maxclients", "0")]),
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            err(&mut c, &[("maxclients", "10"), ("foo", "1")]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            err(&mut c, &[("SLAVE-READ-ONLY", "x")]),
            "ERR CONFIG SET failed (possibly related to argument 'slave-read-only') - argument must be 'yes' or 'no'"
        );
        assert_eq!(
            err(&mut c, &[("hz", "5"), ("hz", "6")]),
            "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"
        );
        assert_eq!(
            err(&mut c, &[("daemonize", "yes")]),
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
        );
        assert_eq!(
            err(&mut c, &[("maxmemory-clients", "200%")]),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
        );
        // All or nothing: the valid first pair is not applied.
        assert!(c.set_many(&[("maxclients", "5"), ("timeout", "-1")], true).is_err());
        assert_eq!(c.maxclients, 10000);
        c.set_many(&[("maxmemory", "1GB"), ("hz", "1000"), ("loglevel", "WARNING")], true).unwrap();
        assert_eq!(c.get("maxmemory").as_deref(), Some("1073741824"));
        assert_eq!(c.hz, 500);
        assert_eq!(c.loglevel, "warning");
        c.set_many(&[("maxmemory-clients", "10%")], true).unwrap();
        assert_eq!(c.get("maxmemory-clients").as_deref(), Some("10%"));
    }

    #[test]
    fn special_parameters() {
        let mut c = Config::default();
        c.set("notify-keyspace-events", "KEA").unwrap();
        assert_eq!(c.get("notify-keyspace-events").as_deref(), Some("AKE"));
        c.set("notify-keyspace-events", "Ex$").unwrap();
        assert_eq!(c.get("notify-keyspace-events").as_deref(), Some("$xE"));
        assert!(c.set("save", "1 2 3").is_err());
        c.set("client-output-buffer-limit", "pubsub 1mb 2mb 3").unwrap();
        assert_eq!(
            c.get("client-output-buffer-limit").as_deref(),
            Some("normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 2097152 3")
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[a-e]llo", b"hello", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"H*O", b"hello", true));
        assert!(!glob_match(b"H*O", b"hello", false));
        assert!(glob_match(b"a\\*b", b"a*b", false));
    }

    #[test]
    fn rewrite_round_trips() {
        let dir = std::env::temp_dir().join(format!("rcluster-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("redis.conf");
        std::fs::write(&file, "# comment\nport 7001\nsave 900 1\nsave 300 10\n\n# end\n").unwrap();
        let mut c = Config::from_args(&[file.to_str().unwrap()]).unwrap();
        assert_eq!(c.get("save").as_deref(), Some("900 1 300 10"));
        c.set_many(&[("maxclients", "77"), ("requirepass", "a b")], true).unwrap();
        c.rewrite().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("# comment\nport 7001\nsave 900 1 300 10\n\n# end\n"));
        assert!(text.contains("maxclients 77\n"));
        assert!(text.contains("requirepass \"a b\"\n"));
        let again = Config::from_args(&[file.to_str().unwrap()]).unwrap();
        assert_eq!(again.maxclients, 77);
        assert_eq!(again.requirepass, "a b");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

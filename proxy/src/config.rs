//! The proxy's settings: command-line flags (clap) and their checks.

use std::path::PathBuf;
use std::time::Duration;

use crate::output_limit::Limit;

/// Where read-only commands go (`--read-from`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadFrom {
    /// The slot's master, as writes (linearizable in sync mode).
    #[default]
    Master,
    /// A replica of the slot's shard (the master when the table lists none); may be stale.
    Replica,
    /// A replica not known to be down, else the master; may be stale.
    ReplicaPreferred,
}

/// `rcluster proxy …`
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// The RESP port clients connect to.
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// The address clients and the config service know this proxy by (`host:port`), for
    /// CLUSTER SLOTS/NODES and heartbeats. Default: the listening address.
    #[arg(long)]
    pub announce: Option<String>,
    /// The config service's endpoints (`http://host:port`, comma-separated): the routing
    /// table is long-polled from them and heartbeats go to them.
    #[arg(long, value_delimiter = ',', conflicts_with = "routing_file")]
    pub config_endpoints: Vec<String>,
    /// A static routing table (JSON, the format of `GET /v1/routing`), for fronting servers
    /// no config service manages.
    #[arg(long)]
    pub routing_file: Option<PathBuf>,
    /// How long a request may be retried (MOVED, TRYAGAIN, CLUSTERDOWN, refused connections)
    /// before the client gets the error.
    #[arg(long, default_value_t = 5000)]
    pub retry_deadline_ms: u64,
    /// The password clients must give with AUTH (empty: none).
    #[arg(long, default_value = "")]
    pub requirepass: String,
    /// The password every backend connection gives with AUTH before anything else (the
    /// partition servers' `requirepass`; never the clients'). Prefer the environment variable:
    /// a flag shows in `ps`.
    #[arg(long, env = "RCLUSTER_BACKEND_PASSWORD", hide_env_values = true)]
    pub backend_password: Option<String>,
    /// Where read-only commands go: `master`, `replica` or `replica-preferred`. Reads from
    /// replicas may miss recent writes, the client's own included.
    #[arg(long, value_enum, default_value_t = ReadFrom::Master)]
    pub read_from: ReadFrom,
    /// Pipelined connections per backend (and protocol version); clients are spread over them.
    #[arg(long, default_value_t = 2)]
    pub backend_connections: usize,
    /// The most requests in flight on one backend connection; senders wait beyond it.
    #[arg(long, default_value_t = 4096)]
    pub backend_max_in_flight: usize,
    /// The most dedicated backend connections for blocking commands (BLPOP …) open at once;
    /// a blocking command beyond it gets an error.
    #[arg(long, default_value_t = 1024)]
    pub max_blocking_connections: usize,
    /// The most bytes of commands one client may queue inside MULTI; beyond it the command
    /// gets an error and EXEC answers EXECABORT.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub multi_max_bytes: usize,
    /// The most bytes the proxy fetches from the shards for one read-only aggregate across
    /// slots (SUNION, ZINTER, PFCOUNT …); beyond it the command gets an error.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub aggregate_max_bytes: usize,
    /// Output-buffer limit of ordinary clients: `<hard> <soft> <soft seconds>` (Redis's
    /// `client-output-buffer-limit normal`; `0 0 0`: none).
    #[arg(long, default_value = "0 0 0")]
    pub client_output_buffer_limit_normal: Limit,
    /// Output-buffer limit of subscribers (Redis's `client-output-buffer-limit pubsub`).
    #[arg(long, default_value = "32mb 8mb 60")]
    pub client_output_buffer_limit_pubsub: Limit,
    /// The most client connections; more are refused with Redis's error.
    #[arg(long, default_value_t = 10000)]
    pub maxclients: usize,
    /// Close client connections idle for this many seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,
    /// How often to heartbeat the config service.
    #[arg(long, default_value_t = 1000)]
    pub heartbeat_ms: u64,
    /// Worker threads of the proxy's runtime (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// The HTTP port of `/metrics` (Prometheus text) and `/healthz` (0: not served).
    #[arg(long, default_value_t = 0)]
    pub metrics_port: u16,
    /// The address `/metrics` listens on. Default: `--bind`.
    #[arg(long)]
    pub metrics_bind: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: "127.0.0.1".into(),
            announce: None,
            config_endpoints: Vec::new(),
            routing_file: None,
            retry_deadline_ms: 5000,
            requirepass: String::new(),
            backend_password: None,
            read_from: ReadFrom::Master,
            backend_connections: 2,
            backend_max_in_flight: 4096,
            max_blocking_connections: 1024,
            multi_max_bytes: 64 * 1024 * 1024,
            aggregate_max_bytes: 64 * 1024 * 1024,
            client_output_buffer_limit_normal: Limit::NONE,
            client_output_buffer_limit_pubsub: Limit::PUBSUB,
            maxclients: 10000,
            timeout: 0,
            heartbeat_ms: 1000,
            threads: 0,
            metrics_port: 0,
            metrics_bind: None,
        }
    }
}

impl Config {
    /// Checks the settings that clap cannot.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.routing_file, self.config_endpoints.is_empty()) {
            (None, true) => {
                return Err("one of --config-endpoints or --routing-file is needed".into())
            }
            (Some(_), false) => {
                return Err("--config-endpoints and --routing-file exclude each other".into())
            }
            _ => {}
        }
        for e in &self.config_endpoints {
            if !e.starts_with("http://") {
                return Err(format!("config endpoint {e:?} is not an http:// URL"));
            }
        }
        if self.backend_connections == 0 {
            return Err("--backend-connections must be at least 1".into());
        }
        if self.backend_max_in_flight == 0 {
            return Err("--backend-max-in-flight must be at least 1".into());
        }
        if self.max_blocking_connections == 0 {
            return Err("--max-blocking-connections must be at least 1".into());
        }
        if self.multi_max_bytes == 0 {
            return Err("--multi-max-bytes must be at least 1".into());
        }
        if self.aggregate_max_bytes == 0 {
            return Err("--aggregate-max-bytes must be at least 1".into());
        }
        if self.maxclients == 0 {
            return Err("--maxclients must be at least 1".into());
        }
        if self.retry_deadline_ms == 0 {
            return Err("--retry-deadline-ms must be at least 1".into());
        }
        if self.heartbeat_ms == 0 {
            return Err("--heartbeat-ms must be at least 1".into());
        }
        if let Some(a) = &self.announce {
            if protocol::addr::split_host_port(a).is_none() {
                return Err(format!("--announce {a:?} is not host:port"));
            }
        }
        Ok(())
    }

    /// Where `/metrics` listens, if it is served.
    pub fn metrics_addr(&self) -> Option<(&str, u16)> {
        let host = self.metrics_bind.as_deref().unwrap_or(&self.bind);
        (self.metrics_port != 0).then_some((host, self.metrics_port))
    }

    pub fn retry_deadline(&self) -> Duration {
        Duration::from_millis(self.retry_deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_exactly_one_routing_source() {
        let mut c = Config::default();
        assert!(c.validate().is_err());
        c.routing_file = Some("r.json".into());
        assert!(c.validate().is_ok());
        c.config_endpoints = vec!["http://a:1".into()];
        assert!(c.validate().is_err());
        c.routing_file = None;
        assert!(c.validate().is_ok());
        c.config_endpoints = vec!["a:1".into()];
        assert!(c.validate().is_err());
    }

    #[test]
    fn limits_must_be_positive() {
        let c =
            Config { routing_file: Some("r".into()), backend_connections: 0, ..Config::default() };
        assert!(c.validate().is_err());
        let c = Config {
            routing_file: Some("r".into()),
            announce: Some("x".into()),
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn the_backend_password_comes_from_a_flag_or_the_environment() {
        use clap::{CommandFactory, Parser};
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let cli = Cli::try_parse_from(["proxy", "--backend-password", "p"]).unwrap();
        assert_eq!(cli.config.backend_password.as_deref(), Some("p"));
        let command = Cli::command();
        let arg = command.get_arguments().find(|a| a.get_id() == "backend_password").unwrap();
        assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new("RCLUSTER_BACKEND_PASSWORD")));
    }

    #[test]
    fn output_buffer_limits_parse_from_flags_with_redis_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            config: Config,
        }
        let cli = Cli::try_parse_from(["proxy"]).unwrap();
        assert_eq!(cli.config.client_output_buffer_limit_normal, Limit::NONE);
        assert_eq!(cli.config.client_output_buffer_limit_pubsub, Limit::PUBSUB);
        assert_eq!(Config::default().client_output_buffer_limit_pubsub, Limit::PUBSUB);
        let cli = Cli::try_parse_from([
            "proxy",
            "--client-output-buffer-limit-pubsub",
            "1mb 256kb 5",
            "--client-output-buffer-limit-normal",
            "64mb 0 0",
        ])
        .unwrap();
        assert_eq!(
            cli.config.client_output_buffer_limit_pubsub,
            Limit { hard: 1 << 20, soft: 256 << 10, soft_secs: 5 }
        );
        assert_eq!(cli.config.client_output_buffer_limit_normal.hard, 64 << 20);
        assert!(
            Cli::try_parse_from(["proxy", "--client-output-buffer-limit-pubsub", "1mb"]).is_err()
        );
    }

    #[test]
    fn metrics_listen_on_bind_unless_told_otherwise() {
        let mut c = Config { bind: "0.0.0.0".into(), ..Config::default() };
        assert_eq!(c.metrics_addr(), None);
        c.metrics_port = 9100;
        assert_eq!(c.metrics_addr(), Some(("0.0.0.0", 9100)));
        c.metrics_bind = Some("127.0.0.1".into());
        assert_eq!(c.metrics_addr(), Some(("127.0.0.1", 9100)));
    }
}

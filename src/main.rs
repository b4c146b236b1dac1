//! The `rcluster` binary: parses the command line and dispatches to a component.

use clap::{Parser, Subcommand};

mod local;
mod ping;

/// Counts allocations so that `used_memory` and `maxmemory` see what the process really holds.
#[global_allocator]
static ALLOCATOR: partition::alloc::Counting = partition::alloc::Counting;

#[derive(Parser)]
#[command(name = "rcluster", version, about = "A Redis-compatible cluster")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a partition server (a Redis-compatible data server). Takes redis-server style
    /// arguments: an optional config file, then `--name value` for any parameter.
    Partition {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a proxy: one Redis endpoint that routes by hash slot to the shard masters.
    Proxy(proxy::Config),
    /// Run a config service node (the Raft-replicated cluster map and failover controller).
    ConfigService(config_service::Config),
    /// Operate a cluster through the config service's admin API.
    Admin(admin_api::cli::AdminArgs),
    /// Run a whole cluster on 127.0.0.1 (3 config servers, shards of master + replica,
    /// proxies), each a child process, until Ctrl-C.
    Local(local::LocalArgs),
    /// PING a partition server or proxy; exit 0 on PONG (a container healthcheck).
    Ping(ping::PingArgs),
}

fn main() -> anyhow::Result<()> {
    ALLOCATOR.activate();
    let cli = Cli::parse();
    match cli.command {
        Command::Partition { args } => run_partition(args),
        Command::Proxy(config) => run_proxy(config),
        Command::ConfigService(config) => run_config_service(config),
        Command::Admin(args) => run_admin(args),
        Command::Local(args) => local::run(args),
        Command::Ping(args) => ping::run(args),
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run_partition(args: Vec<String>) -> anyhow::Result<()> {
    let mut config = partition::Config::from_args(&args)?;
    init_logging(match config.loglevel.as_str() {
        "debug" | "verbose" => "debug",
        "warning" => "warn",
        _ => "info",
    });
    config.maxclients = fit_maxclients_to_fd_limit(config.maxclients);
    let runtime = runtime_for(config.get_i64("io-threads").unwrap_or(1))?;
    runtime.block_on(async move {
        let mut listeners = Vec::new();
        for addr in &config.bind {
            let addr = addr.trim_start_matches('-');
            listeners.push(tokio::net::TcpListener::bind((addr, config.port)).await?);
        }
        partition::run(listeners, config, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

fn run_config_service(config: config_service::Config) -> anyhow::Result<()> {
    init_logging("info");
    config.validate().map_err(anyhow::Error::msg)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.listen).await?;
        config_service::run(listener, config, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

fn run_proxy(config: proxy::Config) -> anyhow::Result<()> {
    init_logging("info");
    config.validate().map_err(anyhow::Error::msg)?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.threads > 0 {
        builder.worker_threads(config.threads);
    }
    let runtime = builder.enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((config.bind.as_str(), config.port)).await?;
        proxy::run(listener, config, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

fn run_admin(args: admin_api::cli::AdminArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if let Err(err) = runtime.block_on(admin_api::cli::run(args)) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
    Ok(())
}

/// Descriptors kept for everything but clients (listeners, logs, data files), as Redis's
/// `CONFIG_MIN_RESERVED_FDS`.
const RESERVED_FDS: u64 = 32;

/// Raises the open-files limit to what `maxclients` needs, as redis-server does at start-up;
/// when the hard limit does not allow it, lowers `maxclients` to what fits and says so, so that
/// clients beyond it get "max number of clients reached" instead of failed accepts.
fn fit_maxclients_to_fd_limit(maxclients: usize) -> usize {
    let wanted = maxclients as u64 + RESERVED_FDS;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return maxclients;
    }
    if limit.rlim_cur >= wanted {
        return maxclients;
    }
    let raised = libc::rlimit { rlim_cur: wanted.min(limit.rlim_max), rlim_max: limit.rlim_max };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        limit.rlim_cur = raised.rlim_cur;
    }
    if limit.rlim_cur >= wanted {
        return maxclients;
    }
    let fitted = limit.rlim_cur.saturating_sub(RESERVED_FDS).max(1) as usize;
    tracing::warn!(
        requested = maxclients,
        max_open_files = limit.rlim_cur,
        maxclients = fitted,
        "the open-files limit is too low for maxclients; maxclients has been reduced"
    );
    fitted
}

/// The runtime for `io-threads` threads. With one thread (Redis's default) everything runs on
/// a single-threaded runtime, as in redis-server: the command lock is never contended and no
/// task migrates between cores. More threads spread parsing and socket I/O over cores while
/// commands still run one at a time under the command lock.
fn runtime_for(threads: i64) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads as usize)
            .enable_all()
            .build()
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

//! `jepsen`: runs a Jepsen-style test against the docker-compose cluster, or re-checks the
//! history of an earlier run.
//!
//! ```text
//! cargo run -p jepsen --release -- test --workload register --nemesis partition-master --time-limit 60
//! cargo run -p jepsen --release -- check target/jepsen/register-partition-master-sync-1764600000
//! cargo run -p jepsen --release -- table target/jepsen
//! ```
//! The last line on stdout is `valid=true|false|unknown …`; the exit code is 0 only for
//! `valid=true` (1 for an invalid or undecided history, 2 when the harness itself failed).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jepsen::nemesis::{NemesisKind, Target};
use jepsen::runner::{self, RunOptions, RunResults};
use jepsen::workload::{self, WorkloadKind};
use jepsen::{History, Validity};

#[derive(Parser)]
#[command(name = "jepsen", about = "Jepsen-style fault tests for rcluster")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a fresh compose cluster, run a workload under a nemesis, check the history.
    Test(TestArgs),
    /// Check the history of an earlier run's folder again.
    Check {
        /// The run's folder (holding history.jsonl).
        dir: PathBuf,
        /// The workload the history comes from.
        #[arg(long, default_value = "register")]
        workload: WorkloadKind,
    },
    /// Print the results matrix of every run folder under a directory (Markdown).
    Table {
        /// The directory holding run folders (the `--out` of `test`).
        #[arg(default_value = "target/jepsen")]
        dir: PathBuf,
    },
}

#[derive(Args)]
struct TestArgs {
    /// register, set, append or counter.
    #[arg(long, default_value = "register")]
    workload: WorkloadKind,
    /// none, partition-master, partition-config-leader, partition-halves, bridge, kill, pause,
    /// mix.
    #[arg(long, default_value = "partition-master")]
    nemesis: NemesisKind,
    /// What kill and pause act on: master, replica, config, proxy.
    #[arg(long, default_value = "master")]
    target: Target,
    /// The cluster's replication mode: sync (no acknowledged write lost) or async (Redis's
    /// behaviour, the canary).
    #[arg(long, default_value = "sync", value_parser = ["sync", "async"])]
    replication: String,
    /// Seconds of workload under the nemesis.
    #[arg(long, default_value_t = 60)]
    time_limit: u64,
    /// Concurrent logical clients, each with its own connection.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Operations per second over all clients.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Per-operation timeout, in milliseconds (a timed-out operation's outcome is unknown).
    #[arg(long, default_value_t = 3000)]
    op_timeout_ms: u64,
    /// Keys in use at a time.
    #[arg(long, default_value_t = 4)]
    keys: usize,
    /// Healthy seconds before each fault.
    #[arg(long, default_value_t = 10)]
    quiet: u64,
    /// Seconds each fault lasts.
    #[arg(long, default_value_t = 10)]
    fault: u64,
    /// Seconds clients continue after the last heal.
    #[arg(long, default_value_t = 10)]
    recovery: u64,
    /// Where run folders go.
    #[arg(long, default_value = "target/jepsen")]
    out: PathBuf,
    /// The compose file (default: the repository's docker-compose.yml).
    #[arg(long)]
    compose_file: Option<PathBuf>,
    /// Seed of every random choice (clients and nemesis).
    #[arg(long)]
    seed: Option<u64>,
    /// Leave the cluster running afterwards.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Test(args) => test(args).await,
        Command::Check { dir, workload } => check(dir, workload),
        Command::Table { dir } => match jepsen::table::read_results(&dir) {
            Ok(results) => {
                print!("{}", jepsen::table::markdown(&results));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}

async fn test(args: TestArgs) -> ExitCode {
    let compose_file = args
        .compose_file
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml"));
    let seed = args.seed.unwrap_or_else(rand::random);
    let opts = RunOptions {
        workload: args.workload,
        nemesis: args.nemesis,
        target: args.target,
        replication: args.replication,
        time_limit: Duration::from_secs(args.time_limit),
        concurrency: args.concurrency.max(1),
        rate: args.rate,
        op_timeout: Duration::from_millis(args.op_timeout_ms),
        keys: args.keys,
        quiet: Duration::from_secs(args.quiet),
        fault: Duration::from_secs(args.fault),
        recovery: Duration::from_secs(args.recovery),
        out: args.out,
        compose_file,
        seed,
        keep: args.keep,
    };
    match runner::run(opts).await {
        Ok(outcome) => {
            let r = &outcome.results;
            println!("{}", serde_json::to_string(&r.check.anomalies).unwrap_or_default());
            println!("{} dir={}", summary(r), outcome.dir.display());
            exit_code(r.valid)
        }
        Err(e) => {
            eprintln!("the harness failed: {e}");
            println!("valid=unknown error={e:?}");
            ExitCode::from(2)
        }
    }
}

fn summary(r: &RunResults) -> String {
    format!(
        "valid={} workload={} nemesis={} replication={} seed={} ops={} ok={} fail={} info={} \
         faults={} anomalies={} recovered={} final_reads_missing={}",
        r.valid,
        r.workload,
        r.nemesis,
        r.replication,
        r.seed,
        r.operations,
        r.counts.ok,
        r.counts.fail,
        r.counts.info,
        r.faults.installed,
        r.check.anomalies.len(),
        r.recovered,
        r.final_reads_missing
    )
}

fn check(dir: PathBuf, kind: WorkloadKind) -> ExitCode {
    let result = History::read_jsonl(&dir.join("history.jsonl"))
        .and_then(|h| workload::checker(kind).check_history(&h));
    match result {
        Ok(r) => {
            for a in &r.anomalies {
                println!("{:?} {:?}: {}", a.kind, a.key, a.explanation);
            }
            println!(
                "valid={} ok={} fail={} info={} anomalies={}",
                r.valid,
                r.counts.ok,
                r.counts.fail,
                r.counts.info,
                r.anomalies.len()
            );
            exit_code(r.valid)
        }
        Err(e) => {
            println!("valid=unknown error={e}");
            ExitCode::from(2)
        }
    }
}

fn exit_code(valid: Validity) -> ExitCode {
    if valid == Validity::Valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

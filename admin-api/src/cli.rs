//! `rcluster admin …`: operate a cluster through the config service's admin API.
//!
//! Every command prints an aligned table (see [`crate::render`]) or, with `--json`, the
//! answer's JSON. Errors are returned as [`CliError`], whose message is the server's `error`
//! text with its status; the binary prints it and exits 1.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::client::AdminClient;
use crate::error::CliError;
use crate::render;
use crate::types::{CreateClusterRequest, FailoverRequest, MembersRequest, NewMember};

/// `rcluster admin`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Config service endpoints (`http://host:port` or `host:port`), tried in order; a follower
    /// redirects to the leader.
    #[arg(
        long,
        env = "RCLUSTER_ENDPOINTS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:9000"
    )]
    pub endpoints: Vec<String>,
    /// Print the answer as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Per-request timeout, in seconds.
    #[arg(long, global = true, default_value_t = 10.0)]
    pub timeout: f64,
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The `rcluster admin` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Cluster state, epoch and plan, the shards (replicas marked in-sync/lagging/down), the
    /// proxies and the Raft leader.
    Status,
    /// The registered partition servers.
    Nodes,
    /// The shards.
    Shards,
    /// Which shard and master serve each slot range.
    Slots,
    /// Make a replica the master of SHARD.
    Failover {
        shard: u32,
        /// The replica (node id) to promote; default: the best in-sync replica.
        #[arg(long)]
        to: Option<u64>,
        /// Promote even a replica that is not in sync (may lose acknowledged writes).
        #[arg(long)]
        force: bool,
    },
    /// The config service's Raft group: leader, term, members.
    Raft,
    /// Add or remove config servers (Raft members).
    Members {
        /// A member to add, as ID=HOST:PORT (repeatable).
        #[arg(long, value_name = "ID=HOST:PORT")]
        add: Vec<String>,
        /// The Raft id of a member to remove (repeatable).
        #[arg(long, value_name = "ID")]
        remove: Vec<u64>,
    },
    /// Create the cluster from a plan, over the registered partition servers.
    Init {
        /// The plan: 16GB, 32GB, 64GB, 128GB or 256GB.
        #[arg(long, default_value = "16GB")]
        plan: String,
        /// The number of shards instead of the plan's.
        #[arg(long)]
        shards: Option<u32>,
        /// `maxmemory` per partition server in bytes instead of the plan's.
        #[arg(long)]
        maxmemory: Option<u64>,
    },
    /// Exit 0 if the config server answers /healthz with 200, 1 otherwise (a Docker
    /// healthcheck: `rcluster admin --endpoints 127.0.0.1:9000 health`).
    Health,
}

/// Runs one `rcluster admin` command, printing its answer on stdout.
pub async fn run(args: AdminArgs) -> Result<(), CliError> {
    let text = execute(&args).await?;
    print!("{text}");
    Ok(())
}

/// Runs one command and returns what [`run`] prints.
pub async fn execute(args: &AdminArgs) -> Result<String, CliError> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(CliError::Usage(format!(
            "--timeout must be a positive number of seconds, not {}",
            args.timeout
        )));
    }
    let client = AdminClient::new(args.endpoints.clone())
        .timeout(std::time::Duration::from_secs_f64(args.timeout));
    let json = args.json;
    match &args.command {
        AdminCommand::Status => output(json, &client.cluster().await?, render::render_status),
        AdminCommand::Nodes => output(json, &client.nodes().await?, |n| render::render_nodes(n)),
        AdminCommand::Shards => output(json, &client.shards().await?, |s| render::render_shards(s)),
        AdminCommand::Slots => output(json, &client.shards().await?, |s| render::render_slots(s)),
        AdminCommand::Failover { shard, to, force } => {
            let req = FailoverRequest { to: *to, force: *force };
            output(json, &client.failover(*shard, &req).await?, render::render_failover)
        }
        AdminCommand::Raft => output(json, &client.raft().await?, render::render_raft),
        AdminCommand::Members { add, remove } => {
            let add = add.iter().map(|a| parse_member(a)).collect::<Result<Vec<_>, _>>()?;
            let req = MembersRequest { add, remove: remove.clone() };
            output(json, &client.change_members(&req).await?, render::render_raft)
        }
        AdminCommand::Init { plan, shards, maxmemory } => {
            let req = CreateClusterRequest {
                plan: Some(plan.clone()),
                shards: *shards,
                maxmemory: *maxmemory,
                layout: None,
            };
            // The server checks too; checking here gives the same message without a round trip.
            req.validate().map_err(|e| CliError::Usage(e.body.error))?;
            output(json, &client.create_cluster(&req).await?, render::render_created)
        }
        AdminCommand::Health => match client.healthz().await {
            Ok(text) if json => {
                Ok(format!("{}\n", serde_json::json!({"healthy": true, "body": text})))
            }
            Ok(text) if text.is_empty() => Ok("ok\n".to_string()),
            Ok(text) => Ok(format!("{text}\n")),
            Err(err) => Err(CliError::Unhealthy(err.to_string())),
        },
    }
}

fn output<T: Serialize + ?Sized>(
    json: bool,
    value: &T,
    render: impl FnOnce(&T) -> String,
) -> Result<String, CliError> {
    if json {
        let mut text = serde_json::to_string_pretty(value)?;
        text.push('\n');
        Ok(text)
    } else {
        Ok(render(value))
    }
}

/// `ID=HOST:PORT`.
fn parse_member(arg: &str) -> Result<NewMember, CliError> {
    let bad = || CliError::Usage(format!("--add wants ID=HOST:PORT, not {arg:?}"));
    let (id, addr) = arg.split_once('=').ok_or_else(bad)?;
    let id = id.trim().parse().map_err(|_| bad())?;
    let addr = addr.trim();
    if addr.is_empty() {
        return Err(bad());
    }
    Ok(NewMember { id, addr: addr.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        admin: AdminArgs,
    }

    fn must_parse(args: &[&str]) -> AdminArgs {
        let argv = std::iter::once("admin").chain(args.iter().copied());
        Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}")).admin
    }

    #[test]
    fn arguments() {
        let args = must_parse(&["--endpoints", "a:1,b:2", "failover", "3", "--to", "7", "--json"]);
        assert_eq!(args.endpoints, ["a:1", "b:2"]);
        assert!(args.json);
        assert!(matches!(
            args.command,
            AdminCommand::Failover { shard: 3, to: Some(7), force: false }
        ));
        let args = must_parse(&["init"]);
        assert!(
            matches!(args.command, AdminCommand::Init { ref plan, shards: None, .. } if plan == "16GB")
        );
        let args = must_parse(&["members", "--add", "4=h:9003", "--remove", "1"]);
        assert!(matches!(args.command, AdminCommand::Members { .. }));
    }

    #[test]
    fn members_are_id_equals_addr() {
        assert_eq!(parse_member("4=h:9003").unwrap(), NewMember { id: 4, addr: "h:9003".into() });
        assert!(parse_member("h:9003").is_err());
        assert!(parse_member("x=h:9003").is_err());
        assert!(parse_member("4=").is_err());
    }

    #[tokio::test]
    async fn init_checks_the_plan_before_calling() {
        // An endpoint nothing listens on: the command must fail before any request.
        let args = must_parse(&["--endpoints", "127.0.0.1:1", "init", "--plan", "3GB"]);
        let err = execute(&args).await.unwrap_err();
        assert!(matches!(err, CliError::Usage(ref m) if m.contains("unknown plan")), "{err}");
    }
}

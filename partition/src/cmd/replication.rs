//! Replication commands: REPLICAOF (SLAVEOF), REPLCONF, PSYNC, SYNC, WAIT, ROLE.
//!
//! PSYNC turns the connection into a replica's stream: the handler only records the request,
//! and the connection hands its socket to [`crate::replication::master`] once the batch is
//! done. WAIT parks the connection (not the command lock) until enough replicas acknowledged
//! what was written before it.

use bytes::Bytes;

use super::{is, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::replication::master::PsyncRequest;
use crate::replication::{LinkState, Role, WaitRequest};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("replicaof", replicaof),
    ("slaveof", replicaof),
    ("replconf", replconf),
    ("psync", psync),
    ("sync", sync),
    ("wait", wait),
    ("role", role),
];

fn replicaof(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if is(&args[1], "no") && is(&args[2], "one") {
        if crate::replication::replica::stop(ctx.server, ctx.state) {
            tracing::info!("MASTER MODE enabled (user request)");
        }
        ctx.out.ok();
        return Ok(());
    }
    let port = parse_int(&args[2])?;
    let port = u16::try_from(port).map_err(|_| CmdError::err("Invalid master port"))?;
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    if let Role::Replica(up) = ctx.server.replication.role() {
        if up.host.eq_ignore_ascii_case(&host) && up.port == port {
            ctx.out.simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    tracing::info!(master = %format!("{host}:{port}"), "REPLICAOF: connecting to the master");
    crate::replication::replica::start(ctx.server, ctx.state, host, port);
    ctx.out.ok();
    Ok(())
}

fn replconf(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    for pair in args[1..].chunks(2) {
        let (option, value) = (&pair[0], &pair[1]);
        if is(option, "listening-port") {
            let port = parse_int(value)?;
            ctx.client.repl_listening_port = u16::try_from(port).ok();
        } else if is(option, "ip-address") {
            // Redis's replica-announce-ip: the replica's name in INFO and the in-sync set.
            let ip = String::from_utf8_lossy(value).into_owned();
            ctx.client.repl_ip_address = Some(ip).filter(|ip| !ip.is_empty());
        } else if is(option, "ack") || is(option, "getack") {
            // Only meaningful on a replication stream, where the link reads them.
            return Ok(());
        } else if is(option, "capa") || is(option, "rdb-only") {
            // Every replica of ours speaks PSYNC 2 with EOF-marked transfers.
        } else {
            return Err(CmdError::err(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn psync(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.server.replication.is_replica() {
        return Err(CmdError::err(
            "rcluster replicas do not serve replicas of their own (no replica chains)",
        ));
    }
    let offset = parse_int(&args[2])?;
    ctx.client.psync = Some(PsyncRequest {
        replid: String::from_utf8_lossy(&args[1]).into_owned(),
        offset,
        listening_port: ctx.client.repl_listening_port,
        ip_address: ctx.client.repl_ip_address.clone(),
    });
    Ok(())
}

fn sync(_ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::err(
        "SYNC is not supported: rcluster replicas use PSYNC, and its snapshots are not RDB files",
    ))
}

fn wait(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.server.replication.is_replica() {
        return Err(CmdError::err("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let replicas = parse_int(&args[1])?;
    let timeout = parse_int(&args[2])
        .map_err(|_| CmdError::err("timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    // Everything written before WAIT, this batch's writes included.
    let offset = ctx.server.publish(ctx.state).unwrap_or_else(|| ctx.server.write_log.end());
    let acked = ctx.server.replication.acked_count(offset);
    if replicas <= 0 || acked >= replicas as usize || ctx.client.in_exec {
        ctx.out.integer(acked as i64);
        return Ok(());
    }
    ctx.client.wait = Some(WaitRequest {
        offset,
        replicas: replicas as usize,
        deadline_ms: (timeout > 0).then(|| ctx.now_ms.saturating_add(timeout as u64)),
    });
    Ok(())
}

fn role(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let offset = ctx.server.write_log.end() as i64;
    match ctx.server.replication.role() {
        Role::Master => {
            let replicas = ctx.server.replication.replicas();
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.integer(offset);
            ctx.out.array(replicas.len());
            for r in replicas {
                ctx.out.array(3);
                ctx.out.bulk(r.ip().as_bytes());
                ctx.out.bulk(r.listening_port.to_string().as_bytes());
                ctx.out.bulk(r.acked.to_string().as_bytes());
            }
        }
        Role::Replica(up) => {
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(up.host.as_bytes());
            ctx.out.integer(up.port as i64);
            let state: &[u8] = match up.link {
                LinkState::Connecting => b"connecting",
                LinkState::Sync => b"sync",
                LinkState::Connected => b"connected",
            };
            ctx.out.bulk(state);
            ctx.out.integer(offset);
        }
    }
    Ok(())
}

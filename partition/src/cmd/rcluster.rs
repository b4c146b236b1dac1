//! RCLUSTER: the control plane's commands (the fenced-role mechanism, [`crate::fence`]).
//! Internal: not listed by COMMAND, refused unless the connection authenticated with the
//! cluster's secret (`rcluster-secret`; with none configured, RCLUSTER is off).
//!
//! ```text
//! RCLUSTER AUTH <secret>
//! RCLUSTER ROLE MASTER <shard> <shard_epoch> [LEASE <ms>] [SLOTS <ranges>] [ISR <ip:port,…|->]
//! RCLUSTER ROLE REPLICA <shard> <shard_epoch> <host> <port> [SLOTS <ranges>]
//! RCLUSTER LEASE <shard_epoch> <ms>
//! RCLUSTER ISR <shard_epoch> <ip:port,…|->
//! RCLUSTER ROUTES <epoch> [<ranges>=<host:port> …]
//! RCLUSTER STATE
//! ```
//! The decisions are applied by [`crate::role`], as the heartbeat loop's are.
//! Slot ranges are written `0-5460,6000`. A lease runs from when the command arrives.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{is, parse_int, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::fence::{parse_slots, Applied, Assigned, Decision, Routes};

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn list(arg: &[u8]) -> Vec<String> {
    let t = text(arg);
    if t == "-" || t.is_empty() {
        Vec::new()
    } else {
        t.split(',').map(str::to_string).collect()
    }
}

fn number(arg: &[u8]) -> Result<u64, CmdError> {
    u64::try_from(parse_int(arg)?).map_err(|_| CmdError::NotInteger)
}

/// Compares without leaking through timing how much of the secret matched.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RCLUSTER, dispatched before the command table (it is not a Redis command).
pub fn rcluster(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let secret = ctx.server.config().get("rcluster-secret").unwrap_or_default();
    if secret.is_empty() {
        return Err(CmdError::err("RCLUSTER is disabled: no rcluster-secret is configured"));
    }
    let Some(sub) = args.get(1) else {
        return Err(CmdError::WrongArity("rcluster".into()));
    };
    if is(sub, "auth") {
        if args.len() != 3 {
            return Err(CmdError::WrongArity("rcluster|auth".into()));
        }
        if !same_secret(&args[2], secret.as_bytes()) {
            return Err(CmdError::err("invalid rcluster secret"));
        }
        ctx.client.internal = true;
        ctx.client.authenticated = true;
        ctx.out.ok();
        return Ok(());
    }
    if !ctx.client.internal {
        return Err(CmdError::Other("NOPERM RCLUSTER needs RCLUSTER AUTH first".into()));
    }
    if is(sub, "role") && args.len() >= 5 {
        role(ctx, args)
    } else if is(sub, "lease") && args.len() == 4 {
        let epoch = number(&args[2])?;
        let until = Instant::now() + Duration::from_millis(number(&args[3])?);
        if !ctx.state.fence.renew(epoch, until) {
            return Err(stale(ctx));
        }
        ctx.out.ok();
        Ok(())
    } else if is(sub, "isr") && args.len() == 4 {
        let epoch = number(&args[2])?;
        let members = list(&args[3]);
        if !crate::role::set_in_sync(ctx.server, ctx.state, epoch, members)
            .map_err(CmdError::err)?
        {
            return Err(stale(ctx));
        }
        ctx.out.ok();
        Ok(())
    } else if is(sub, "routes") && args.len() >= 3 {
        let epoch = number(&args[2])?;
        let mut ranges = Vec::new();
        for arg in &args[3..] {
            let t = text(arg);
            let (slots, addr) = t.split_once('=').ok_or(CmdError::Syntax)?;
            for (lo, hi) in parse_slots(slots).map_err(CmdError::err)? {
                ranges.push((lo, hi, addr.to_string()));
            }
        }
        if !ctx.state.fence.set_routes(Routes { epoch, ranges }) {
            return Err(CmdError::Other("STALE routes older than the ones held".into()));
        }
        ctx.out.ok();
        Ok(())
    } else if is(sub, "state") && args.len() == 2 {
        state(ctx);
        Ok(())
    } else {
        Err(CmdError::err(format!(
            "unknown RCLUSTER subcommand or wrong number of arguments for '{}'",
            text(sub)
        )))
    }
}

fn stale(ctx: &Ctx) -> CmdError {
    let current = ctx.state.fence.decision().map_or(0, |d| d.shard_epoch);
    CmdError::Other(format!("STALE the shard_epoch in force is {current}"))
}

fn role(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let shard = u32::try_from(number(&args[3])?).map_err(|_| CmdError::NotInteger)?;
    let shard_epoch = number(&args[4])?;
    let (role, mut i) = if is(&args[2], "master") {
        (Assigned::Master, 5)
    } else if is(&args[2], "replica") && args.len() >= 7 {
        let port = u16::try_from(number(&args[6])?).map_err(|_| CmdError::err("invalid port"))?;
        (Assigned::Replica { host: text(&args[5]), port }, 7)
    } else {
        return Err(CmdError::Syntax);
    };
    let (mut lease, mut slots, mut in_sync) = (None, Vec::new(), Vec::new());
    while i < args.len() {
        let value = args.get(i + 1).ok_or(CmdError::Syntax)?;
        if is(&args[i], "lease") && role == Assigned::Master {
            lease = Some(Instant::now() + Duration::from_millis(number(value)?));
        } else if is(&args[i], "slots") {
            slots = parse_slots(&text(value)).map_err(CmdError::err)?;
        } else if is(&args[i], "isr") && role == Assigned::Master {
            in_sync = list(value);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let decision = Decision { shard, shard_epoch, role, slots, in_sync };
    match crate::role::apply(ctx.server, ctx.state, decision, lease).map_err(CmdError::err)? {
        Applied::Stale { .. } => Err(stale(ctx)),
        Applied::Taken { .. } => {
            ctx.out.ok();
            Ok(())
        }
    }
}

/// RCLUSTER STATE: what is in force, as field/value pairs.
fn state(ctx: &mut Ctx) {
    let fence = &ctx.state.fence;
    let mut fields: Vec<(&str, String)> = Vec::new();
    match fence.decision() {
        None => fields.push(("role", "unfenced".into())),
        Some(d) => {
            let role = match &d.role {
                Assigned::Master => "master".to_string(),
                Assigned::Replica { host, port } => format!("replica {host}:{port}"),
            };
            fields.push(("role", role));
            fields.push(("shard", d.shard.to_string()));
            fields.push(("shard_epoch", d.shard_epoch.to_string()));
            let slots: Vec<String> = d.slots.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            fields.push(("slots", slots.join(",")));
        }
    }
    // Rounded up: 0 means expired, never "less than a millisecond left".
    let lease = fence.lease_left().map_or(-1, |d| d.as_nanos().div_ceil(1_000_000) as i64);
    fields.push(("lease_ms_left", lease.to_string()));
    fields.push(("routes_epoch", fence.routes().epoch.to_string()));
    let repl = &ctx.server.replication;
    fields.push(("in_sync", repl.committed_in_sync().join(",")));
    fields.push(("joining", repl.joining().join(",")));
    fields.push(("lagging", repl.reported_lagging().join(",")));
    fields.push(("offset", ctx.server.write_log.end().to_string()));
    fields.push(("discarded_bytes", repl.discarded_bytes().to_string()));
    ctx.out.map(fields.len());
    for (k, v) in fields {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
}

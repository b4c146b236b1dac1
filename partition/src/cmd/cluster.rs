//! CLUSTER subcommands that describe this server's own keyspace by hash slot: KEYSLOT,
//! COUNTKEYSINSLOT and GETKEYSINSLOT. They work on a standalone server too, because keys are
//! always indexed by slot; the proxy and slot migration use them. Other CLUSTER subcommands
//! describe a Redis Cluster bus this server does not run, and answer as unknown subcommands.
//!
//! READONLY / READWRITE, as in Redis Cluster: on a server the control plane manages, a replica
//! redirects keyed commands to its master (`-MOVED`) unless the connection said READONLY, and
//! then it serves reads (which may be stale). A standalone server answers them as a Redis
//! server without cluster support does.

use bytes::Bytes;
use protocol::slot::{key_hash_slot, SLOT_COUNT};

use super::{parse_int, subcommand, unknown_subcommand, Ctx, Handler};
use crate::error::{CmdError, CmdResult};

pub const COMMANDS: &[(&str, Handler)] =
    &[("cluster", cluster), ("readonly", readonly), ("readwrite", readwrite)];

/// Redis's reply to READONLY / READWRITE without cluster mode.
const NO_CLUSTER: &str = "This instance has cluster support disabled";

fn readonly(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    set_readonly(ctx, true)
}

fn readwrite(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    set_readonly(ctx, false)
}

fn set_readonly(ctx: &mut Ctx, on: bool) -> CmdResult {
    if !ctx.state.fence.is_fenced() {
        return Err(CmdError::err(NO_CLUSTER));
    }
    ctx.client.readonly = on;
    ctx.client.handle.info().readonly = on;
    ctx.out.ok();
    Ok(())
}

fn cluster(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let spec = super::spec("cluster");
    let sub = subcommand(spec, args)?;
    match sub.name {
        "cluster|keyslot" => {
            ctx.out.integer(key_hash_slot(&args[2]) as i64);
        }
        "cluster|countkeysinslot" => {
            let slot = parse_int(&args[2])?;
            let slot = valid_slot(slot).ok_or_else(|| CmdError::err("Invalid slot"))?;
            ctx.out.integer(ctx.state.keyspace.count_in_slot(slot) as i64);
        }
        "cluster|getkeysinslot" => {
            let slot = parse_int(&args[2])?;
            let max = parse_int(&args[3])?;
            let slot = valid_slot(slot)
                .filter(|_| max >= 0)
                .ok_or_else(|| CmdError::err("Invalid slot or number of keys"))?;
            let ks = &ctx.state.keyspace;
            // Like Redis, the slot index lists keys whose deadline passed but that no one has
            // deleted yet; `max` is client input, so the reply is sized by the slot, not by it.
            let n = ks.count_in_slot(slot).min(usize::try_from(max).unwrap_or(usize::MAX));
            ctx.out.array(n);
            for key in ks.slot_keys(slot).take(n) {
                ctx.out.bulk(key);
            }
        }
        _ => return Err(unknown_subcommand("cluster", &args[1])),
    }
    Ok(())
}

fn valid_slot(slot: i64) -> Option<u16> {
    (0..SLOT_COUNT as i64).contains(&slot).then_some(slot as u16)
}

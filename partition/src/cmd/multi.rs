//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! While a transaction is open, dispatch queues every command except these (and QUIT/RESET)
//! and answers `+QUEUED`; a command refused while queuing (unknown, wrong arity, not allowed)
//! makes EXEC answer EXECABORT. EXEC runs the queue under the command lock it already holds,
//! so nothing interleaves. WATCH is optimistic locking: any write to a watched key (signalled
//! through `Ctx::signal_modified`), its expiry, or a flush while it exists makes EXEC fail with
//! a null reply.

use std::time::Instant;

use bytes::Bytes;

use super::{dispatch, Ctx, Handler};
use crate::client::{Client, Multi};
use crate::error::{CmdError, CmdResult};
use crate::state::{State, Watcher};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

/// Commands that run at once inside MULTI instead of being queued.
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.client.handle.info().multi = 0;
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let Some(multi) = ctx.client.multi.take() else {
        return Err(CmdError::err("EXEC without MULTI"));
    };
    ctx.client.handle.info().multi = -1;
    let id = ctx.client.id();
    let touched = ctx.state.watch_touched.contains(&id) || watched_key_expired(ctx);
    unwatch_all(ctx.state, ctx.client);
    if multi.failed {
        return Err(CmdError::Other(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    if touched {
        ctx.out.null_array();
        return Ok(());
    }
    // The lease, or a slot's owner, may have changed since the commands were queued: the
    // transaction runs whole or not at all.
    if !ctx.client.obey && ctx.state.fence.is_fenced() {
        for args in &multi.queue {
            let Some(cmd) = super::lookup(&args[0]) else { continue };
            if let Some(refusal) = ctx.state.fence.check(cmd.spec, args, ctx.client.readonly) {
                return Err(CmdError::Other(refusal.text()));
            }
        }
    }
    ctx.out.array(multi.queue.len());
    ctx.client.in_exec = true;
    ctx.state.propagation.begin_exec();
    let mut started = Instant::now();
    for args in &multi.queue {
        started = dispatch(ctx, args, started).finished;
    }
    ctx.state.propagation.end_exec();
    ctx.client.in_exec = false;
    Ok(())
}

/// True when a key watched while alive is now logically expired (Redis's
/// `isWatchedKeyExpired`): it changed, though nobody has deleted it yet.
fn watched_key_expired(ctx: &Ctx) -> bool {
    let id = ctx.client.id();
    ctx.client.watching.iter().any(|key| {
        let alive_at_watch = ctx
            .state
            .watched
            .get(key)
            .and_then(|ws| ws.iter().find(|w| w.client == id))
            .is_some_and(|w| !w.expired_at_watch);
        alive_at_watch && ctx.state.keyspace.is_expired(key, ctx.now_ms)
    })
}

fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    ctx.client.handle.info().multi = -1;
    unwatch_all(ctx.state, ctx.client);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    let id = ctx.client.id();
    for key in &args[1..] {
        if ctx.client.watching.iter().any(|k| k[..] == key[..]) {
            continue;
        }
        let expired_at_watch = ctx.state.keyspace.is_expired(key, ctx.now_ms);
        ctx.state
            .watched
            .entry(key.to_vec())
            .or_default()
            .push(Watcher { client: id, expired_at_watch });
        ctx.client.watching.push(key.to_vec());
    }
    ctx.state.refresh_expiry_log();
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    unwatch_all(ctx.state, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Forgets every key `client` watches and whether they were touched (EXEC, DISCARD, UNWATCH,
/// RESET, disconnection).
pub fn unwatch_all(state: &mut State, client: &mut Client) {
    let id = client.id();
    for key in client.watching.drain(..) {
        if let Some(watchers) = state.watched.get_mut(&key) {
            watchers.retain(|w| w.client != id);
            if watchers.is_empty() {
                state.watched.remove(&key);
            }
        }
    }
    state.watch_touched.remove(&id);
    state.refresh_expiry_log();
}

/// Leaves any open transaction (RESET).
pub fn discard_transaction(state: &mut State, client: &mut Client) {
    client.multi = None;
    client.handle.info().multi = -1;
    unwatch_all(state, client);
}

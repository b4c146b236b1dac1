//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB.
//!
//! Subscriptions are recorded twice: in the client (what UNSUBSCRIBE without arguments leaves,
//! and the counts in confirmations) and in the server-wide registry
//! ([`crate::pubsub::PubSub`]) that PUBLISH walks. Confirmations are push messages: `>3` in
//! RESP3, plain arrays in RESP2, one per channel, as Redis sends them.

use bytes::Bytes;

use super::{subcommand, Ctx, Handler};
use crate::client::{Client, Subscriptions};
use crate::error::{CmdError, CmdResult};
use crate::pubsub::Kind;
use crate::state::State;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("ssubscribe", ssubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub", pubsub),
];

/// Commands a RESP2 client in Pub/Sub mode may still send.
pub fn allowed_in_subscribed_mode(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

fn set_of(
    subs: &mut Subscriptions,
    kind: Kind,
) -> &mut std::collections::HashSet<Bytes, ahash::RandomState> {
    match kind {
        Kind::Channel => &mut subs.channels,
        Kind::Pattern => &mut subs.patterns,
        Kind::Shard => &mut subs.shard,
    }
}

/// The count a confirmation carries: channels + patterns, or shard channels alone.
fn count(subs: &Subscriptions, kind: Kind) -> usize {
    match kind {
        Kind::Shard => subs.shard.len(),
        _ => subs.channels.len() + subs.patterns.len(),
    }
}

/// Publishes the client's subscription counts for CLIENT LIST.
fn publish_counts(client: &Client) {
    let mut info = client.handle.info();
    info.sub = client.subscriptions.channels.len();
    info.psub = client.subscriptions.patterns.len();
    info.ssub = client.subscriptions.shard.len();
}

fn subscribe_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind, reply: &str) -> CmdResult {
    for name in &args[1..] {
        if set_of(&mut ctx.client.subscriptions, kind).insert(name.clone()) {
            ctx.state.pubsub.subscribe(kind, name, &ctx.client.handle);
        }
        ctx.out.push(3);
        ctx.out.bulk(reply.as_bytes());
        ctx.out.bulk(name);
        ctx.out.integer(count(&ctx.client.subscriptions, kind) as i64);
    }
    publish_counts(ctx.client);
    Ok(())
}

fn subscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel, "subscribe")
}

fn psubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern, "psubscribe")
}

fn ssubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client.in_exec {
        return Err(CmdError::err("SSUBSCRIBE isn't allowed for a DENY BLOCKING client"));
    }
    subscribe_generic(ctx, args, Kind::Shard, "ssubscribe")
}

/// Removes one subscription and writes its confirmation.
fn unsubscribe_one(ctx: &mut Ctx, kind: Kind, name: &Bytes, reply: &str) {
    if set_of(&mut ctx.client.subscriptions, kind).remove(name) {
        ctx.state.pubsub.unsubscribe(kind, name, ctx.client.id());
    }
    ctx.out.push(3);
    ctx.out.bulk(reply.as_bytes());
    ctx.out.bulk(name);
    ctx.out.integer(count(&ctx.client.subscriptions, kind) as i64);
}

fn unsubscribe_generic(ctx: &mut Ctx, args: &[Bytes], kind: Kind, reply: &str) -> CmdResult {
    if args.len() > 1 {
        for name in &args[1..] {
            unsubscribe_one(ctx, kind, name, reply);
        }
    } else {
        let names: Vec<Bytes> =
            set_of(&mut ctx.client.subscriptions, kind).iter().cloned().collect();
        if names.is_empty() {
            ctx.out.push(3);
            ctx.out.bulk(reply.as_bytes());
            ctx.out.null();
            ctx.out.integer(count(&ctx.client.subscriptions, kind) as i64);
        }
        for name in &names {
            unsubscribe_one(ctx, kind, name, reply);
        }
    }
    publish_counts(ctx.client);
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel, "unsubscribe")
}

fn punsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern, "punsubscribe")
}

fn sunsubscribe(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard, "sunsubscribe")
}

/// Drops every subscription of `client` (RESET, disconnection).
pub fn unsubscribe_all(state: &mut State, client: &mut Client) {
    let id = client.id();
    let subs = std::mem::take(&mut client.subscriptions);
    for (kind, names) in
        [(Kind::Channel, subs.channels), (Kind::Pattern, subs.patterns), (Kind::Shard, subs.shard)]
    {
        for name in names {
            state.pubsub.unsubscribe(kind, &name, id);
        }
    }
    publish_counts(client);
}

fn publish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let receivers = ctx.state.pubsub.publish(false, &args[1], &args[2]);
    ctx.out.integer(receivers as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let receivers = ctx.state.pubsub.publish(true, &args[1], &args[2]);
    ctx.out.integer(receivers as i64);
    Ok(())
}

fn pubsub(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = subcommand(super::spec("pubsub"), args)?;
    match sub.name {
        "pubsub|help" => {
            let lines = [
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ];
            ctx.out.array(lines.len());
            for l in lines {
                ctx.out.simple(l);
            }
        }
        "pubsub|channels" | "pubsub|shardchannels" => {
            let kind = if sub.name == "pubsub|channels" { Kind::Channel } else { Kind::Shard };
            let channels = ctx.state.pubsub.channels(kind, args.get(2).map(|p| &p[..]));
            ctx.out.array(channels.len());
            for c in &channels {
                ctx.out.bulk(c);
            }
        }
        "pubsub|numsub" | "pubsub|shardnumsub" => {
            let kind = if sub.name == "pubsub|numsub" { Kind::Channel } else { Kind::Shard };
            ctx.out.array((args.len() - 2) * 2);
            for c in &args[2..] {
                ctx.out.bulk(c);
                ctx.out.integer(ctx.state.pubsub.subscriber_count(kind, c) as i64);
            }
        }
        "pubsub|numpat" => ctx.out.integer(ctx.state.pubsub.pattern_count() as i64),
        _ => return Err(super::unknown_subcommand("pubsub", &args[1])),
    }
    Ok(())
}

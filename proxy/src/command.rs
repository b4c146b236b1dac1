//! What the proxy does with one command: answer it itself (connection and CLUSTER commands),
//! route it by the hash slot of its keys, split it over shards (MGET, MSET, DEL …), fan it out
//! to every shard (SCAN, KEYS, INFO …), run it on a connection of its own (EXEC and WATCH,
//! blocking pops), or refuse it with an error naming the command and the reason — never route
//! it somewhere it may not belong.

use std::sync::Arc;

use bytes::Bytes;
use protocol::command::{self as table, flags, CommandSpec};
use protocol::key_hash_slot;
use protocol::ReplyWriter;

use crate::clients::ClientHandle;
use crate::fanout;
use crate::metrics::{CommandId, ErrorKind};
use crate::server::Shared;
use crate::split::Kind;
use crate::transaction::Transaction;

/// The state of one client connection that commands change.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub authenticated: bool,
    pub resp3: bool,
    pub name: Option<Bytes>,
    /// QUIT was received: close after the replies so far.
    pub quit: bool,
    /// MULTI's queue and the connection WATCH pinned.
    pub tx: Transaction,
    /// What CLIENT LIST shows of this client.
    pub handle: Arc<ClientHandle>,
    /// Its channels, patterns and shard channels.
    pub pubsub: crate::pubsub::Subscriptions,
}

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Answered by the proxy; the reply has been written.
    Local,
    /// To the master of `slot`.
    Slot { slot: u16, readonly: bool },
    /// To any master (the command reads nothing of the keyspace).
    Any { readonly: bool },
    /// Split over the shards of its keys.
    Split(Kind),
    /// To every shard master (or, for SCAN, the one its cursor names), replies merged.
    Fanout(fanout::Kind),
    /// EXEC of an open transaction: the queue goes to its backend on a dedicated connection.
    Exec,
    /// WATCH of keys in `slot`, on the connection pinned for the transaction.
    Watch { slot: u16 },
    /// A blocking command on a dedicated connection to the master of `slot`.
    Blocking { slot: u16 },
    /// A read-only aggregate over keys in several slots, computed in the proxy.
    Aggregate(crate::aggregate::Kind),
    /// (P|S)(UN)SUBSCRIBE or PUBSUB introspection, by [`crate::pubsub::run`].
    PubSub,
}

/// Decides where `args` goes; a local reply or an error is written to `out` (then the plan is
/// [`Plan::Local`]). Also names the command for metrics, and counts the proxy's own errors.
pub fn plan(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> (Plan, CommandId) {
    let top = table::lookup(&args[0]);
    let id = top.map_or(CommandId::OTHER, CommandId::of);
    let plan = match route(shared, session, top, args, out) {
        Ok(plan) => plan,
        Err((kind, text)) => {
            shared.metrics.error(kind);
            out.error(&text);
            Plan::Local
        }
    };
    (plan, id)
}

/// An error reply of the proxy, and its kind for metrics.
pub type Refusal = (ErrorKind, String);

fn other(text: String) -> Refusal {
    (ErrorKind::Other, text)
}

/// The spec that runs `args` (its subcommand's, for a container), after the checks every
/// command gets first, inside MULTI too: known, authenticated, right arity.
pub fn resolve(
    session: &Session,
    top: Option<&'static CommandSpec>,
    args: &[Bytes],
) -> Result<&'static CommandSpec, Refusal> {
    let Some(top) = top else {
        return Err(other(protocol::redis_text::unknown_command(args)));
    };
    if !session.authenticated && !top.has(flags::NO_AUTH) {
        return Err(other("NOAUTH Authentication required.".into()));
    }
    if !top.arity_ok(args.len()) {
        return Err(other(wrong_arity(top.name)));
    }
    let spec = if top.subcommands.is_empty() || args.len() < 2 {
        top
    } else {
        let sub = top
            .subcommand(&args[1])
            .ok_or_else(|| other(protocol::redis_text::unknown_subcommand(top.name, &args[1])))?;
        if !sub.arity_ok(args.len()) {
            return Err(other(wrong_arity(sub.name)));
        }
        sub
    };
    Ok(spec)
}

fn route(
    shared: &Shared,
    session: &mut Session,
    top: Option<&'static CommandSpec>,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<Plan, Refusal> {
    // Inside MULTI only the commands that run at once get here; failing these checks still
    // aborts the transaction, as in Redis (`EXEC x` inside MULTI).
    let spec = resolve(session, top, args).inspect_err(|_| session.tx.flag())?;
    session.handle.ran(spec.name);
    if let Some(plan) = crate::pubsub::intercept(shared, session, spec, args, out)? {
        return Ok(plan);
    }
    if let Some(plan) = crate::transaction::control(session, spec, args, out)? {
        return Ok(plan);
    }
    if let Some(plan) = crate::local::run(shared, session, spec, args, out).map_err(other)? {
        return Ok(plan);
    }
    refuse_unsupported(spec).map_err(|text| (ErrorKind::Unsupported, text))?;
    if let Some(kind) = fanout::Kind::of(spec, args).map_err(other)? {
        return Ok(Plan::Fanout(kind));
    }
    if is_blocking(spec, args) {
        return match key_slot(spec, args).map_err(|text| (ErrorKind::CrossSlot, text))? {
            Some(slot) => Ok(Plan::Blocking { slot }),
            None => Err(unsupported(spec, "it names no key to route by")),
        };
    }
    let readonly = spec.has(flags::READONLY);
    if let Some(kind) = Kind::of(spec) {
        if kind == Kind::Mset && args.len() & 1 == 0 {
            return Err(other(wrong_arity(spec.name)));
        }
        return Ok(Plan::Split(kind));
    }
    let slot = key_slot(spec, args);
    // Keys in several slots (or a numkeys naming none): the read-only aggregates are computed
    // (or refused with Redis's error) in the proxy.
    if let (Err(_) | Ok(None), Some(kind)) = (&slot, crate::aggregate::Kind::of(spec)) {
        return Ok(Plan::Aggregate(kind));
    }
    match slot.map_err(|text| (ErrorKind::CrossSlot, text))? {
        Some(slot) => Ok(Plan::Slot { slot, readonly }),
        None => Err(unsupported(spec, "it names no key to route by")),
    }
}

/// The refusal of a command the proxy cannot run, with the reason.
pub fn unsupported(spec: &CommandSpec, why: &str) -> Refusal {
    (
        ErrorKind::Unsupported,
        format!("ERR '{}' is not supported through the proxy: {why}", spec.name),
    )
}

/// Whether the command may block: the blocking pops always, XREAD/XREADGROUP only with BLOCK
/// (without it they answer at once and go the ordinary way).
fn is_blocking(spec: &CommandSpec, args: &[Bytes]) -> bool {
    match spec.name {
        "xread" | "xreadgroup" => args.iter().any(|a| a.eq_ignore_ascii_case(b"block")),
        _ => spec.has(flags::BLOCKING),
    }
}

/// The one slot of the command's keys; `None` when it has none; CROSSSLOT when they differ.
pub fn key_slot(spec: &CommandSpec, args: &[Bytes]) -> Result<Option<u16>, String> {
    let mut slot = None;
    let mut take = |i: usize| -> Result<(), String> {
        let s = key_hash_slot(&args[i]);
        match slot {
            Some(prev) if prev != s => Err(CROSSSLOT.to_string()),
            _ => {
                slot = Some(s);
                Ok(())
            }
        }
    };
    match spec.fixed_key_range(args.len()) {
        Some(range) => range.into_iter().try_for_each(&mut take)?,
        None => spec.key_indices(args).into_iter().try_for_each(&mut take)?,
    }
    Ok(slot)
}

/// Redis Cluster's error for keys in different slots.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// Commands the proxy cannot run (yet): a clear error rather than a wrong answer.
pub fn refuse_unsupported(spec: &CommandSpec) -> Result<(), String> {
    let why = match spec.name {
        "wait" | "waitaof" => Some("it waits for one server's replicas, and the proxy fronts many"),
        "monitor" | "sync" | "psync" | "replicaof" | "slaveof" | "shutdown" | "failover" => {
            Some("it concerns one server, and the proxy fronts many")
        }
        _ => None,
    };
    match why {
        Some(why) => Err(format!("ERR '{}' is not supported through the proxy: {why}", spec.name)),
        None => Ok(()),
    }
}

pub fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot_of(args: &[&str]) -> Result<Option<u16>, String> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let spec = table::resolve(&args).unwrap();
        key_slot(spec, &args)
    }

    #[test]
    fn keys_give_one_slot_or_crossslot() {
        assert_eq!(slot_of(&["get", "foo"]), Ok(Some(key_hash_slot(b"foo"))));
        assert_eq!(slot_of(&["rename", "{a}1", "{a}2"]), Ok(Some(key_hash_slot(b"a"))));
        assert_eq!(slot_of(&["rename", "a", "b"]), Err(CROSSSLOT.to_string()));
        // Movable keys: ZUNIONSTORE's destination and numkeys-counted sources.
        assert_eq!(
            slot_of(&["zunionstore", "{x}d", "2", "{x}a", "{x}b"]),
            Ok(Some(key_hash_slot(b"x")))
        );
        assert_eq!(slot_of(&["zunionstore", "d", "2", "a", "b"]), Err(CROSSSLOT.to_string()));
        assert_eq!(slot_of(&["ping"]), Ok(None));
    }
}
